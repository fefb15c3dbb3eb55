"""Every hostile or unusual image file the project has met, in one table.

Each row: a file name, its bytes, and what must happen: ``None`` when the file is read and
predicted like any other, else a fragment of the one-line reason it is refused with. The
upload on the Draw page and ``python -m mnist_core predict`` both go through
:func:`mnist_core.preprocess.open_image`, so the tests run the whole table through both.
To add a case, add a row.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from tests.support.images import draw_seven, huge_png_header, png_bytes

POSTSCRIPT = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\nnewpath 4 4 moveto 24 24 lineto stroke\nshowpage\n"
ENDLESS_POSTSCRIPT = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\n{ 1 pop } loop\n"


def _tiff(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="TIFF")
    return buffer.getvalue()


def hostile_files() -> dict[str, tuple[bytes, str | None]]:
    """File name → (content, ``None`` if it must be predicted, else a fragment of its error)."""
    seven = draw_seven()
    return {
        "good.png": (png_bytes(seven), None),
        "cmyk.jpg": (png_bytes(seven.convert("CMYK"), format="JPEG"), None),
        "sixteen.png": (png_bytes(Image.fromarray(np.asarray(seven).astype(np.uint16) * 257)), None),
        "palette.png": (png_bytes(seven.convert("P")), None),
        "animated.gif": (png_bytes(seven, format="GIF", save_all=True, append_images=[Image.new("L", seven.size)]),
                         None),
        "lab.tif": (_tiff(Image.merge("LAB", (seven, *[Image.new("L", seven.size, 128)] * 2))), None),
        "empty.png": (b"", "empty"),
        "text.png": (b"not an image", "Not a readable image"),
        "truncated.png": (png_bytes(seven)[:300], "damaged"),
        "bomb.png": (huge_png_header(40_000, 40_000), "too large"),
        "postscript.png": (POSTSCRIPT, "Not a readable image"),  # Pillow would run Ghostscript on it
        "endless.eps": (ENDLESS_POSTSCRIPT, "Not a readable image"),  # and Ghostscript would spin forever
        "five.png": (png_bytes(Image.new("L", (5, 5))), "blank"),
        "faint.png": (png_bytes(draw_seven(ink=220, paper=235)), "too faint"),
    }
