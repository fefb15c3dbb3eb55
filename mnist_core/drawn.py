"""MNIST digits re-drawn as people draw them on the canvas: the check set for stroke width.

Each digit's centre line (the skeleton of its ink) is traced with a round brush of fixed width
on a black canvas the Draw page's size (:mod:`mnist_core.canvas`), the pen's path spanning 25-90 %
of the canvas height, at a random place, anti-aliased as a browser draws. The canvas then goes through the app's own
preprocessing (:func:`mnist_core.preprocess.prepare_digit`), exactly as a drawing does.

Two brush ranges: the canvas's kind (14-30 px, so a small digit becomes a blob) and very thin
pens (2-6 px, a hairline once scaled into the 20x20 box). ``python -m mnist_core drawn``
reports each model's accuracy on both, for test digits (what is reported) or for the training
images the ``best`` recipe holds out (what settings are chosen on).

:func:`as_drawn` is the cheap version the ``best`` recipe trains on: a training digit as the
app would hand a canvas drawing of it to the models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw

from .canvas import CANVAS_SIDE
from .strokes import LOOPS_FILL_IN, MNIST_STROKE_WIDTH

if TYPE_CHECKING:
    import torch

    from .predict import ModelSet

BRUSHES = {"brush 14-30 px": (14, 30), "brush 2-6 px": (2, 6)}
HEIGHTS = (0.25, 0.90)  # the pen's path, as a fraction of the canvas height
DEFAULT_IMAGES = 2000  # drawings per brush range
_SUPERSAMPLE = 4  # drawn 4x larger, then averaged down: anti-aliased edges, as in a browser
_TRACE_SCALE = 10  # the 28x28 digit is enlarged 10x before its centre line is found
_AS_DRAWN_SIDE = 80  # as_drawn finds the centre line with the digit's longer side this long: 4x the box


@dataclass(frozen=True)
class Drawing:
    """One re-drawn digit."""

    index: int  # in the images it was drawn from (a split of MNIST)
    label: int
    brush: float  # pixels on the canvas
    height: float  # the pen's path, as a fraction of the canvas height
    canvas: np.ndarray  # (CANVAS_SIDE, CANVAS_SIDE) uint8, white ink on black


def centre_line(image: np.ndarray) -> np.ndarray:
    """The centre line of a 28x28 digit: ``(K, 2)`` points (row, column) in 28x28 pixel units."""
    from skimage.morphology import skeletonize

    enlarged = Image.fromarray(np.asarray(image, dtype=np.float32), mode="F").resize(
        (28 * _TRACE_SCALE, 28 * _TRACE_SCALE), Image.Resampling.BICUBIC)
    pixels = np.asarray(enlarged)
    rows, columns = np.nonzero(skeletonize(pixels >= 0.5 * float(pixels.max())))
    return (np.stack([rows, columns], axis=1) + 0.5) / _TRACE_SCALE


def as_drawn(image: np.ndarray, pen: float = 0.0, target: float = MNIST_STROKE_WIDTH) -> np.ndarray:
    """A 28x28 MNIST digit as the app hands a canvas drawing of it to the models: ``(28, 28)`` in [0, 1].

    Its centre line is traced with a round pen ``pen`` times as wide as the digit is tall (at
    least the final width), then thinned to ``target`` pixels once the digit fills the 20x20
    box, as :func:`~mnist_core.preprocess.prepare_digit` thins any brush: a pen over about a
    sixth of the height fills small loops in, and they stay filled, as on the canvas. Fitted
    and centred as a drawing is. A cheap stand-in for :func:`redraw` + ``prepare_digit`` (1-2
    ms, not twenty): the ``best`` recipe trains on these, so the models have seen the canvas's
    even strokes, round ends, filled junctions and blobs.
    """
    from scipy.ndimage import distance_transform_edt
    from skimage.morphology import skeletonize

    from .preprocess import center_by_mass, fit_to_box, trim_to_ink

    pixels = np.asarray(image, dtype=np.float32)
    top = float(pixels.max())
    if top <= 0:
        return pixels
    ink = trim_to_ink(pixels / top)
    scale = _AS_DRAWN_SIDE / max(ink.shape)
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    enlarged = np.asarray(Image.fromarray(ink, mode="F").resize(size, Image.Resampling.BICUBIC))
    path = skeletonize(np.pad(enlarged >= 0.5 * float(enlarged.max()), 1))
    rows, columns = np.nonzero(path)
    if len(rows) == 0:
        return pixels / top
    extent = max(rows.max() - rows.min(), columns.max() - columns.min()) + 1
    wanted = target * extent / (20 - target) / 2  # radius: the path fills the box less the stroke's width
    radius = max(wanted, pen * (rows.max() - rows.min() + 1) / 2)
    distance = distance_transform_edt(~np.pad(path, int(np.ceil(radius)) + 2))
    if radius > wanted:  # a blob first, then its edge moved in to the wanted width: filled loops stay filled
        traced = np.clip(distance_transform_edt(distance <= radius) - (radius - wanted), 0.0, 1.0)
    else:
        traced = np.clip(radius + 0.5 - distance, 0.0, 1.0)  # anti-aliased edge
    return center_by_mass(fit_to_box(trim_to_ink(traced.astype(np.float32))))


def as_drawn_batch(images: torch.Tensor, pens: np.ndarray | None = None) -> torch.Tensor:
    """:func:`as_drawn` for every image of a ``(N, 28, 28)`` uint8 batch (each with its own pen), as uint8."""
    import torch

    return torch.from_numpy(as_drawn_pixels(images.cpu().numpy(), pens))


def as_drawn_pixels(images: np.ndarray, pens: np.ndarray | None = None) -> np.ndarray:
    """:func:`as_drawn_batch` on numpy arrays: what worker processes run (they need no PyTorch)."""
    pens = np.zeros(len(images)) if pens is None else np.asarray(pens, dtype=float)
    out = np.empty(images.shape, dtype=np.uint8)
    for number, (image, pen) in enumerate(zip(images, pens)):
        out[number] = np.round(as_drawn(image, float(pen)) * 255)
    return out


def redraw(points: np.ndarray, brush: float, height: float, rng: np.random.Generator,
           canvas: int = CANVAS_SIDE) -> np.ndarray:
    """Trace ``points`` (from :func:`centre_line`) with a round ``brush`` on a black canvas.

    The path is scaled so it spans ``height`` of the canvas (less if its width would not fit)
    and placed at a random position where the whole stroke fits.
    """
    top_left, bottom_right = points.min(axis=0), points.max(axis=0)
    extent = np.maximum(bottom_right - top_left, 1e-6)
    room = canvas - brush - 2  # the stroke's edges stay on the canvas
    scale = min(height * canvas / extent[0], room / extent[0], room / extent[1])
    lowest = 1 + brush / 2
    offset = np.array([rng.uniform(lowest, max(lowest, canvas - 1 - brush / 2 - extent[i] * scale)) for i in (0, 1)])
    placed = (points - top_left) * scale + offset
    big = Image.new("L", (canvas * _SUPERSAMPLE, canvas * _SUPERSAMPLE), 0)
    pen = ImageDraw.Draw(big)
    radius = brush * _SUPERSAMPLE / 2
    for row, column in placed * _SUPERSAMPLE:
        pen.ellipse((column - radius, row - radius, column + radius, row + radius), fill=255)
    return np.asarray(big.resize((canvas, canvas), Image.Resampling.BOX))


def check_set(images: np.ndarray, labels: np.ndarray, brushes: tuple[float, float], count: int,
              seed: int = 0) -> list[Drawing]:
    """``count`` random digits of ``images``, each re-drawn with a random brush in ``brushes`` at a random
    size and place.

    The same ``seed`` gives the same drawings.
    """
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(labels), size=min(count, len(labels)), replace=False)
    drawings = []
    for index in chosen:
        brush = float(rng.uniform(*brushes))
        height = float(rng.uniform(*HEIGHTS))
        canvas = redraw(centre_line(images[index]), brush, height, rng)
        drawings.append(Drawing(int(index), int(labels[index]), brush, height, canvas))
    return drawings


@dataclass(frozen=True)
class Score:
    """How many of ``images`` drawings each model read right."""

    images: int
    correct: dict[str, int]  # model key → drawings read right

    @property
    def accuracy(self) -> dict[str, float | None]:
        return {key: count / self.images if self.images else None for key, count in self.correct.items()}

    def to_dict(self) -> dict:
        return {"images": self.images,
                "accuracy": {key: None if v is None else round(v, 6) for key, v in self.accuracy.items()}}


@dataclass(frozen=True)
class CheckResult:
    """Each model's accuracy on one set of drawings, and where its mistakes come from."""

    name: str  # a key of BRUSHES
    brushes: tuple[float, float]
    drawn: Score  # all the drawings (refused ones count as wrong)
    unreadable: int  # drawings the preprocessing refused
    blobs: Score  # the drawings whose brush is over LOOPS_FILL_IN of the digit's height: loops fill in
    as_written: Score  # the same digits as MNIST has them, through the same preprocessing
    drawn_small: Score | None = None  # the drawings the app tells "drawn small" (PreparedDigit.drawn_small) ...
    not_drawn_small: Score | None = None  # ... and the rest it reads (None: stroke width kept, nothing measured)

    @property
    def images(self) -> int:
        return self.drawn.images

    @property
    def accuracy(self) -> dict[str, float | None]:
        return self.drawn.accuracy

    def to_dict(self) -> dict:
        small = {} if self.drawn_small is None else {"drawn_small": self.drawn_small.to_dict(),
                                                     "not_drawn_small": self.not_drawn_small.to_dict()}
        return {"name": self.name, "brush_px": list(self.brushes), **self.drawn.to_dict(),
                "unreadable": self.unreadable, "brush_over_a_quarter_of_the_height": self.blobs.to_dict(),
                "as_written": self.as_written.to_dict(), **small}


def check(models: ModelSet, images: np.ndarray, labels: np.ndarray, count: int, seed: int = 0,
          normalise_width: bool = True, on_progress: Callable[[int, int], None] | None = None) -> list[CheckResult]:
    """Each model's accuracy on ``count`` drawings (at most one per image) per brush range of :data:`BRUSHES`.

    The drawings go through the app's preprocessing (``normalise_width`` as the app has it
    unless False), then every model reads the same batch; so do the digits they were drawn
    from, as MNIST has them. ``on_progress(done, total)`` after each drawing. A drawing the
    preprocessing refuses counts as wrong for every model.
    """
    import torch

    from .preprocess import NoDigitError, prepare_digit

    if len(labels) == 0:
        raise ValueError("No images to re-draw.")
    count = min(count, len(labels))
    results, total = [], count * len(BRUSHES)
    for number, (name, brushes) in enumerate(BRUSHES.items()):
        inputs, originals, truth, blob, small, unreadable = [], [], [], [], [], 0
        drawings = check_set(images, labels, brushes, count, seed + number)
        for done, drawing in enumerate(drawings, start=1):
            originals.append(prepare_digit(images[drawing.index], normalise_width=normalise_width).tensor)
            try:
                digit = prepare_digit(drawing.canvas, normalise_width=normalise_width)
                inputs.append(digit.tensor)
                small.append(digit.drawn_small)
                truth.append(drawing.label)
                blob.append(drawing.brush > LOOPS_FILL_IN * drawing.height * CANVAS_SIDE)
            except NoDigitError:
                unreadable += 1
            if on_progress is not None:
                on_progress(number * count + done, total)
        truth_array, blob_array, small_array = np.asarray(truth), np.asarray(blob, dtype=bool), np.asarray(small, bool)
        right = {key: np.zeros(len(truth), bool) for key in models.keys}
        if inputs:
            for key, probabilities in models.predict_batch(torch.cat(inputs)).items():
                right[key] = probabilities.argmax(axis=1) == truth_array
        written = models.predict_batch(torch.cat(originals))
        every_label = np.asarray([drawing.label for drawing in drawings])
        results.append(CheckResult(
            name, brushes,
            drawn=Score(count, {key: int(r.sum()) for key, r in right.items()}),
            unreadable=unreadable,
            blobs=_score(right, blob_array),
            as_written=Score(count, {key: int((p.argmax(axis=1) == every_label).sum()) for key, p in written.items()}),
            drawn_small=_score(right, small_array) if normalise_width else None,
            not_drawn_small=_score(right, ~small_array) if normalise_width else None,
        ))
    return results


def _score(right: dict[str, np.ndarray], chosen: np.ndarray) -> Score:
    """How many of the ``chosen`` drawings each model read right (``right``: model key → one bool a drawing)."""
    return Score(int(chosen.sum()), {key: int(r[chosen].sum()) for key, r in right.items()})
