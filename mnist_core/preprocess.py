"""Turning a drawn or photographed digit into model input, the way MNIST digits were made.

MNIST's recipe (LeCun et al.): scale the digit to fit a 20x20 box keeping its aspect
ratio, with anti-aliasing (hence grey levels), then place it in a 28x28 field so that
its centre of mass sits at the centre. Background 0, ink up to 255 (white on black).
Before the 20x20 fit, the strokes are redrawn at MNIST's typical width
(:mod:`mnist_core.strokes`): a digit drawn small with a thick brush, or large with a thin
one, looks like an MNIST digit too.
"""

from __future__ import annotations

import io
import os
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .data import MNIST_MEAN, MNIST_STD
from .strokes import BOX, LOOPS_FILL_IN, normalise_stroke_width

if TYPE_CHECKING:
    import torch

# Ink weaker than this (after background removal, in [0, 1]) is paper texture or noise.
INK_THRESHOLD = 0.2
# Ink must stand this far above the background (in [0, 1]) to be read; a mark that stands out
# less, but more than MIN_VISIBLE_CONTRAST, is a digit too faint to read rather than a blank.
MIN_CONTRAST = 0.15
MIN_VISIBLE_CONTRAST = 0.03
# Fewer ink pixels than this fraction of the image (or a smaller ink box) is "no digit".
MIN_INK_FRACTION = 0.0005
MIN_INK_BOX_FRACTION = 0.1
# More ink than this fraction of the image is a filled canvas, not a digit.
MAX_INK_FRACTION = 0.6
# Images bigger than this are refused before decoding (decompression bombs).
MAX_IMAGE_PIXELS = 40_000_000
MAX_IMAGE_SIDE = 20_000
MAX_FILE_BYTES = 25 * 1024 * 1024
# Decoders for raster images only. Pillow also opens PostScript (it runs Ghostscript for it)
# and many rarely used formats by their content, whatever a file's name says.
RASTER_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")  # JPEG includes multi-picture (MPO) files
_FORMAT_NAMES = "PNG, JPEG, GIF, BMP, WebP or TIFF"

_TOO_LARGE = f"too large to be a digit (limit {MAX_IMAGE_PIXELS // 1_000_000} megapixels). Crop or shrink it."
FIELD = 28  # MNIST digits fit a 20x20 box (strokes.BOX), centred by mass in a 28x28 field


class NoDigitError(ValueError):
    """The image holds no recognisable digit (blank, a dot, or filled with ink)."""


class ImageReadError(ValueError):
    """The file is not an image this program can read; the message says why."""


@dataclass(frozen=True)
class PreparedDigit:
    """A digit ready for the models, and what they will see."""

    pixels: np.ndarray  # (28, 28) float32 in [0, 1], white ink on black, as in MNIST
    tensor: torch.Tensor  # (1, 1, 28, 28) normalised model input
    pen: float | None = None  # the pen's width against the height of its path, as drawn (None: not measured)

    @property
    def drawn_small(self) -> bool:
        """Drawn so small for its pen that loops may have filled in (a 70 px 8 with a 22 px brush)."""
        return self.pen is not None and self.pen > LOOPS_FILL_IN

    @property
    def image(self) -> np.ndarray:
        """The 28x28 digit as uint8, for display."""
        return np.round(self.pixels * 255).astype(np.uint8)


def prepare_digit(image: np.ndarray | Image.Image, normalise_width: bool = True) -> PreparedDigit:
    """Find the digit in ``image`` and turn it into MNIST-style model input.

    Args:
        image: the RGBA array streamlit-drawable-canvas returns, any 2-D (grey) or 3-D
            (RGB/RGBA) array, or a PIL image of any mode and size: white ink on black or
            dark ink on light paper, with or without transparency.
        normalise_width: redraw the strokes at MNIST's typical width (False: keep them as drawn).

    Returns:
        The 28x28 digit for display and the normalised ``(1, 1, 28, 28)`` tensor; with
        ``normalise_width``, also how wide the pen was for the digit's size (``drawn_small``).

    Raises:
        NoDigitError: the image is blank, too faint, holds only a dot, or is filled with ink.
        ImageReadError: a PIL image in a colour mode that cannot be read.
    """
    digit = crop_to_ink(ink_map(image))
    if not normalise_width:
        return prepared_from_pixels(center_by_mass(fit_to_box(digit)))
    redrawn = normalise_stroke_width(digit)
    return prepared_from_pixels(center_by_mass(fit_to_box(trim_to_ink(redrawn.ink))), pen=redrawn.pen)


def prepared_from_pixels(pixels: np.ndarray, pen: float | None = None) -> PreparedDigit:
    """Wrap a finished 28x28 [0, 1] image with its normalised tensor (and the pen it was drawn with)."""
    import torch  # here, not at the top: the Draw page paints before PyTorch has loaded

    pixels = pixels.astype(np.float32)
    tensor = (torch.from_numpy(pixels) - MNIST_MEAN) / MNIST_STD
    return PreparedDigit(pixels, tensor.reshape(1, 1, FIELD, FIELD), pen)


def ink_map(image: np.ndarray | Image.Image) -> np.ndarray:
    """Ink strength in [0, 1] per pixel, whatever the polarity, background or transparency."""
    grey, alpha = _grey_and_alpha(image)
    if grey.size == 0 or grey.shape[0] < 2 or grey.shape[1] < 2:
        raise NoDigitError("The image is too small to hold a digit.")
    if alpha is not None and alpha.min() < 0.98:
        # Transparent pixels are background. Composite onto the colour that contrasts with
        # the visible strokes, so white-on-transparent and black-on-transparent both work.
        visible = alpha > 0.5
        strokes_are_light = visible.any() and float(np.median(grey[visible])) > 0.5
        backdrop = 0.0 if strokes_are_light else 1.0
        grey = grey * alpha + backdrop * (1 - alpha)
    # The border is mostly background: light border → dark ink on light paper, so invert.
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if float(np.median(border)) > 0.5:
        grey = 1.0 - grey
        border = 1.0 - border
    background = float(np.median(border))
    candidates = grey[grey > background + MIN_CONTRAST]
    if candidates.size == 0:
        if float(grey.max()) > background + MIN_VISIBLE_CONTRAST:
            raise NoDigitError("The digit is too faint to read: photograph it with more light and contrast, "
                               "or go over it with a darker pen.")
        raise NoDigitError("No digit found: the image is blank. Draw or photograph a digit.")
    # The ink's own bright end, robust to a few hot pixels in a photo.
    peak = float(np.percentile(candidates, 99))
    ink = np.clip((grey - background) / (peak - background), 0.0, 1.0)
    ink[ink < INK_THRESHOLD] = 0.0
    return ink


def crop_to_ink(ink: np.ndarray) -> np.ndarray:
    """The smallest rectangle holding all ink; refuses blanks, dots and filled images."""
    inked = ink > INK_THRESHOLD
    count = int(inked.sum())
    if count < max(1, MIN_INK_FRACTION * ink.size):
        raise NoDigitError("No digit found: the image is (nearly) blank. Draw a digit.")
    if count > MAX_INK_FRACTION * ink.size:
        raise NoDigitError("No digit found: the image is almost entirely ink. Clear it and draw a digit.")
    cropped = trim_to_ink(ink)
    if max(cropped.shape) < max(3, MIN_INK_BOX_FRACTION * max(ink.shape)):
        raise NoDigitError("That is only a dot, or a digit too small to read: draw it bigger.")
    return cropped


def trim_to_ink(ink: np.ndarray) -> np.ndarray:
    """The smallest rectangle holding all ink (no checks: ``ink`` holds some)."""
    inked = ink > INK_THRESHOLD
    rows = np.flatnonzero(inked.any(axis=1))
    cols = np.flatnonzero(inked.any(axis=0))
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def fit_to_box(ink: np.ndarray, box: int = BOX) -> np.ndarray:
    """Scale so the longer side is ``box`` pixels, keeping the aspect ratio, with anti-aliasing."""
    height, width = ink.shape
    scale = box / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Box filter when shrinking (area averaging: no aliasing of thin strokes), bicubic when enlarging.
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC
    scaled = np.asarray(Image.fromarray(ink.astype(np.float32), mode="F").resize(size, resample))
    scaled = np.clip(scaled, 0.0, None)
    top = scaled.max()
    return scaled / top if top > 0 else scaled  # MNIST strokes reach full intensity


def center_by_mass(digit: np.ndarray, field: int = FIELD) -> np.ndarray:
    """Place ``digit`` in a ``field`` x ``field`` image with its centre of mass at the centre."""
    height, width = digit.shape
    mass = digit.sum()
    ys, xs = np.indices(digit.shape)
    centre_y = (ys * digit).sum() / mass
    centre_x = (xs * digit).sum() / mass
    # Whole-pixel shifts to index 14, as in MNIST: its training digits' centres of mass
    # average (13.99, 14.00) with a spread of 0.29, that of rounding.
    top = int(round(field / 2 - centre_y))
    left = int(round(field / 2 - centre_x))
    out = np.zeros((field, field), dtype=np.float32)
    # Paste with clipping: a very lopsided digit may lose a sliver at the edge, as in MNIST.
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + height, field), min(left + width, field)
    out[y0:y1, x0:x1] = digit[y0 - top : y1 - top, x0 - left : x1 - left]
    return out


def open_image(source: str | os.PathLike | bytes) -> Image.Image:
    """Open and decode an image file (or its bytes) safely.

    Only raster formats are read (:data:`RASTER_FORMATS`): Pillow would otherwise hand
    PostScript, whatever the file's name, to Ghostscript. Refuses before decoding anything
    larger than :data:`MAX_IMAGE_PIXELS`; reads only the first frame of animations; reads
    only regular files, at most :data:`MAX_FILE_BYTES` of them. The image comes back in a
    mode :func:`prepare_digit` reads (``L``, ``LA``, ``RGBA`` or ``F``), so a colour mode
    that cannot be converted is this file's error, found here.

    Raises:
        ImageReadError: with a reason a person can act on.
    """
    data = source if isinstance(source, bytes) else _read_regular_file(source)
    if not data:
        raise ImageReadError("The file is empty.")
    if len(data) > MAX_FILE_BYTES:
        raise ImageReadError(f"The file is over {MAX_FILE_BYTES // 2**20} MB, the limit.")
    try:
        image = Image.open(io.BytesIO(data), formats=RASTER_FORMATS)
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS or max(width, height) > MAX_IMAGE_SIDE:
            raise ImageReadError(f"The image is {width}x{height} pixels, {_TOO_LARGE}")
        image.seek(0)  # the first frame of an animated image
        image.load()
        return _readable_mode(image)
    except ImageReadError:
        raise
    except Image.DecompressionBombError:
        raise ImageReadError(f"The image is {_TOO_LARGE}") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"Not a readable image: use {_FORMAT_NAMES}.") from None
    except Exception as error:  # noqa: BLE001  (a damaged file fails inside Pillow in many ways)
        raise ImageReadError(f"The image is damaged or in a form this program cannot read ({error}).") from None


def _read_regular_file(source: str | os.PathLike) -> bytes:
    """The bytes of a regular file, read with the size limit enforced while reading.

    Opened without blocking, so a FIFO cannot hang the caller; devices such as /dev/zero
    and folders are refused by type, before any read.
    """
    path = os.fspath(source)
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ImageReadError(f"{path} does not exist.") from None
    except IsADirectoryError:
        raise ImageReadError(f"{path} is a folder, not an image file.") from None
    except OSError as error:
        raise ImageReadError(f"Cannot read the file: {error.strerror or error}.") from None
    try:
        kind = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(kind):
            raise ImageReadError(f"{path} is a folder, not an image file.")
        if not stat.S_ISREG(kind):
            raise ImageReadError(f"{path} is not a regular file (a device, pipe or socket).")
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ImageReadError(f"Cannot read the file: {error.strerror or error}.") from None
    finally:
        os.close(descriptor)
    if len(data) > MAX_FILE_BYTES:
        raise ImageReadError(f"The file is over {MAX_FILE_BYTES // 2**20} MB, the limit.")
    return data


def _readable_mode(image: Image.Image) -> Image.Image:
    """The image as ``L``, ``LA``, ``RGBA`` (transparency kept) or ``F`` (more than 8 bits a pixel)."""
    if image.format == "JPEG" or image.format == "MPO":
        image = ImageOps.exif_transpose(image)  # phone photos are stored sideways with a rotation tag
    if image.mode in ("L", "LA", "RGBA", "F"):
        return image
    if image.mode.startswith("I"):  # 16- and 32-bit grey
        return image.convert("F")
    has_alpha = "A" in image.mode or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "L")


def _grey_and_alpha(image: np.ndarray | Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Luminance and (if any) alpha, both float32 in [0, 1]."""
    if isinstance(image, Image.Image):
        return _pil_grey_and_alpha(image)
    array = np.asarray(image)
    # Values are scaled to [0, 1] only after the channels are combined: one full-size float
    # copy of a canvas instead of three.
    if array.dtype == np.uint8:
        values, scale = array.astype(np.float32), np.float32(1 / 255)
    elif array.dtype == np.uint16:
        values, scale = array.astype(np.float32), np.float32(1 / 65535)
    elif np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer):
        values = np.nan_to_num(array.astype(np.float32))
        top = float(values.max()) if values.size else 0.0
        scale = np.float32(1 / 255 if top > 1.0 else 1.0)
    else:
        raise NoDigitError(f"Cannot read an image from an array of type {array.dtype}.")
    if values.ndim == 2:
        return values * scale, None
    if values.ndim == 3 and values.shape[2] in (1, 2, 3, 4):
        channels = values.shape[2]
        pixels = values.reshape(-1, channels)  # rows of a 2-D array: one matrix-vector product
        if channels >= 3:
            grey = pixels[:, :3] @ (np.array([0.299, 0.587, 0.114], dtype=np.float32) * scale)
        else:
            grey = pixels[:, 0] * scale
        alpha = pixels[:, -1] * scale if channels in (2, 4) else None
        shape = values.shape[:2]
        return grey.reshape(shape), None if alpha is None else alpha.reshape(shape)
    raise NoDigitError(f"Cannot read an image from an array of shape {array.shape}.")


def _pil_grey_and_alpha(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        image = _readable_mode(image)
    except Exception as error:  # noqa: BLE001  (e.g. "conversion from LAB to RGB not supported")
        raise ImageReadError(f"The image's colour mode {image.mode} cannot be read ({error}).") from None
    if image.mode == "F":
        array = np.asarray(image, dtype=np.float32)
        top = float(array.max()) if array.size else 0.0
        return (array / (65535.0 if top > 255 else 255.0)), None
    if image.mode in ("LA", "RGBA"):
        return _grey_and_alpha(np.asarray(image))
    return np.asarray(image, dtype=np.float32) / 255.0, None
