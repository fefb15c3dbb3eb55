"""Stroke width: measuring it, bringing a drawing to MNIST's, and varying it batch-wise on tensors.

People draw small with a thick brush and large with a thin one; once scaled into MNIST's 20x20
box, the first is a blob with closed loops and the second a hairline. :func:`normalise_stroke_width`
measures the width of a digit's strokes (twice the distance from its centre line to the edge)
and redraws it at MNIST's typical width. :func:`vary_thickness` thins and thickens training
batches so the models also tolerate what is left over.

PyTorch, SciPy and scikit-image are imported when called: the app's pages import this module
before they have loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    import torch

# MNIST's typical stroke width, in pixels of its 20x20 box: the median over training digits of
# :func:`stroke_width` (2.17 over the first 3,000; 10 % of them are under 1.6, 10 % over 3.1;
# ``tests/test_strokes.py`` measures it again).
MNIST_STROKE_WIDTH = 2.2
# MNIST's digits fit a 20x20 box (mnist_core.preprocess.fit_to_box): widths here are in its pixels.
BOX = 20
# Widths are measured and changed with the digit's longer side at this size: fine enough for a
# 2-px canvas stroke, small enough to take about a millisecond.
WORK_SIDE = 160
# Ink at or above half of its peak is stroke; the width is measured at half height, as for a grey MNIST stroke.
STROKE_LEVEL = 0.5
# A pen wider than this fraction of the height of its path fills a digit's loops in: an 8 drawn
# 70 px tall with a 22 px brush is a blob before any preprocessing sees it. (MNIST's own digits:
# about 0.12, 2.2 px strokes on a 17.8 px path.)
LOOPS_FILL_IN = 0.25


def stroke_width(ink: np.ndarray) -> float:
    """The typical width of the strokes in ``ink`` (2-D, [0, 1]), in its own pixels.

    Twice the typical distance from the centre line (the skeleton) to the edge of the ink;
    0 when there is no ink.
    """
    from scipy.ndimage import distance_transform_edt

    mask = _ink_mask(ink)
    return _width(distance_transform_edt(mask), mask)


@dataclass(frozen=True)
class Redrawn:
    """A digit redrawn at MNIST's stroke width, and what its pen was like."""

    ink: np.ndarray  # at the working size, peak 1 (see normalise_stroke_width)
    pen: float  # the pen's width as a fraction of the height of its path, as drawn (0: no ink)


def normalise_stroke_width(ink: np.ndarray, target: float = MNIST_STROKE_WIDTH) -> Redrawn:
    """Redraw the digit in ``ink`` (cropped to its ink, [0, 1]) with strokes ``target`` pixels wide
    once its longer side is scaled to MNIST's 20-pixel box.

    The digit is first brought to a working size (its longer side 160 px), where its edge is
    moved in or out along the distance to the edge (anti-aliased) by half the difference
    between the measured and the wanted width. A canvas brush draws every stroke equally wide,
    so all of them end up at the wanted width. (Redrawing the centre line instead would also
    keep a stroke much thinner than the rest, but the skeleton of a thick stroke has spurs
    into its corners, which then show.) Returns the redrawn digit at the working size with
    a margin where strokes grew, peak 1: :func:`mnist_core.preprocess.trim_to_ink` and
    :func:`~mnist_core.preprocess.fit_to_box` then scale it into the box. With it comes the pen
    it measured against the digit's height: over :data:`LOOPS_FILL_IN`, the digit was drawn small.
    """
    from scipy.ndimage import distance_transform_edt

    work = _to_working_size(ink)
    mask = _ink_mask(work)
    inside = distance_transform_edt(mask)  # to the nearest background pixel's centre
    width = _width(inside, mask)
    if width <= 0:
        return Redrawn(work, 0.0)
    # The ink reaches half a stroke beyond the pen's path on every side, and so will the redrawn
    # ink: the wanted width is ``target`` / 20 of the path's extent plus that width.
    path = max(max(work.shape) - width, 1.0)
    pen = width / max(work.shape[0] - width, 1.0)  # the check set's measure: a pen against its path's height
    wanted = target * path / (BOX - target)
    change = (width - wanted) / 2  # > 0: move the edge inwards by this much
    # The edge lies half a pixel inside the last background pixel: ``inside - 0.5`` from it in the
    # ink, ``0.5 - outside`` beyond it. Pixels at least half a pixel inside the new edge are ink.
    if change >= 0:
        return Redrawn(np.clip(inside - change, 0.0, 1.0).astype(np.float32), pen)
    grown = np.pad(mask, int(np.ceil(-change)) + 1)  # room for the strokes to grow
    outside = distance_transform_edt(~grown)
    return Redrawn(np.where(grown, 1.0, np.clip(1.0 - outside - change, 0.0, 1.0)).astype(np.float32), pen)


def _ink_mask(ink: np.ndarray) -> np.ndarray:
    """Ink at or above half its peak, with a blank border (so every stroke has an edge)."""
    top = float(ink.max()) if ink.size else 0.0
    if top > 0:
        return np.pad(ink >= STROKE_LEVEL * top, 1)
    return np.zeros((ink.shape[0] + 2, ink.shape[1] + 2), bool)


def _width(inside: np.ndarray, mask: np.ndarray) -> float:
    from skimage.morphology import skeletonize

    if not mask.any():
        return 0.0
    # The mean of the middle half of the centre line's distances: robust to the wide junctions and
    # narrow ends, and (unlike the median of these whole-pixel steps) changing smoothly with the ink.
    radii = np.sort(inside[skeletonize(mask)])
    middle = radii[len(radii) // 4 : len(radii) - len(radii) // 4] if len(radii) >= 4 else radii
    # An odd width 2k + 1 has its centre k + 1 from the background, an even one 2k only k: split the difference.
    return float(2 * middle.mean() - 0.5)


def _to_working_size(ink: np.ndarray) -> np.ndarray:
    """``ink`` scaled (keeping its aspect ratio) so its longer side is :data:`WORK_SIDE`; peak 1."""
    longest = max(ink.shape)
    work = ink.astype(np.float32)
    if longest != WORK_SIDE:
        scale = WORK_SIDE / longest
        size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
        resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC
        work = np.clip(np.asarray(Image.fromarray(work, mode="F").resize(size, resample)), 0.0, None)
    top = float(work.max()) if work.size else 0.0
    return work / top if top > 0 else work


def change_thickness(pixels: torch.Tensor, level: float) -> torch.Tensor:
    """Grey-level dilation (``level`` > 0) or erosion (< 0) with a cross-shaped element, ``|level|`` times.

    ``pixels``: ``(B, H, W)`` in [0, 1]. A fractional level blends the last step linearly, so
    the ink mass changes monotonically with the level.
    """
    thicker = level > 0
    steps, fraction = divmod(abs(level), 1.0)
    result = pixels
    for _ in range(int(steps)):
        result = cross_step(result, thicker)
    if fraction:
        result = (1 - fraction) * result + fraction * cross_step(result, thicker)
    return result


def vary_thickness(pixels: torch.Tensor, levels: torch.Tensor, steps: int | None = None) -> torch.Tensor:
    """Each image of ``pixels`` ``(B, H, W)`` thinned or thickened by its own level (as in
    :func:`change_thickness`: + dilates, − erodes, fractions blend).

    The whole batch is dilated and eroded step by step once, up to ``steps`` (at least the
    largest ``|level|``; found from ``levels`` if not given, which waits for a GPU), then each
    image takes its level's blend of two neighbouring steps: no per-image work.
    """
    import torch

    if steps is None:
        steps = int(torch.ceil(levels.abs().max()).item()) if len(levels) else 0
    thicker, thinner = [pixels], [pixels]
    for _ in range(steps):
        thicker.append(cross_step(thicker[-1], True))
        thinner.append(cross_step(thinner[-1], False))
    # Steps from the most eroded to the most dilated: index ``steps`` is the unchanged image.
    ladder = torch.stack([*thinner[:0:-1], *thicker])  # (2 * steps + 1, B, H, W)
    position = levels.clamp(-steps, steps) + steps
    lower = position.floor().long().clamp(max=2 * steps)
    upper = (lower + 1).clamp(max=2 * steps)
    fraction = (position - lower).view(-1, 1, 1)
    batch = torch.arange(len(pixels), device=pixels.device)
    return (1 - fraction) * ladder[lower, batch] + fraction * ladder[upper, batch]


def cross_step(pixels: torch.Tensor, dilate: bool) -> torch.Tensor:
    """Max (dilation) or min (erosion) over each pixel of ``(B, H, W)`` and its four neighbours.

    Written as maxima of shifted slices: 20x faster on the CPU than ``max_pool2d`` with
    1x3 and 3x1 windows, and exactly the same values.
    """
    import torch
    from torch.nn import functional as F

    image = pixels if dilate else -pixels  # erosion is dilation of the negative
    # The border never wins: 0 is below any dilated value, −1 below any negated (eroded) one.
    padded = F.pad(image, (1, 1, 1, 1), value=0.0 if dilate else -1.0)
    left, right = padded[:, 1:-1, :-2], padded[:, 1:-1, 2:]
    up, down = padded[:, :-2, 1:-1], padded[:, 2:, 1:-1]
    result = torch.maximum(torch.maximum(left, right), torch.maximum(torch.maximum(up, down), image))
    return result if dilate else -result
