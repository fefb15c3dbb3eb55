"""Every hostile or unusual input the project has met, in one place: image files, paths that
are no files, and crafted run files.

Each row: a name, the content, and what must happen: ``None`` when the input is used like
any other, else a fragment of the one-line reason it is refused with. The tests run the
image table through ``open_image``, ``python -m mnist_core predict`` and the Draw page's
upload in Chromium; the run files through ``read_run``, ``evaluate`` and every page. To add
a case, add a row.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

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


def special_paths(folder: Path) -> dict[str, tuple[Path, str]]:
    """Paths that are not image files at all, made in ``folder``: name → (path, a fragment of its error)."""
    folder.mkdir(parents=True, exist_ok=True)
    fifo = folder / "pipe.png"
    if not fifo.exists():
        os.mkfifo(fifo)  # nobody writes to it: opening it for reading the usual way would hang
    return {
        "missing.png": (folder / "missing.png", "does not exist"),
        "a folder": (folder, "folder"),
        "pipe.png": (fifo, "not a regular file"),
        "/dev/zero": (Path("/dev/zero"), "not a regular file"),  # endless: read without a bound, it fills memory
    }


def crafted_run_files(valid: dict) -> dict[str, tuple[str, str]]:
    """``run.json`` texts made from a valid record: name → (text, a fragment of the reason it is refused).

    Each of these once took down every page, or made ``evaluate`` print a traceback.
    """
    deep = "[" * 200_000 + "]" * 200_000
    row = {key: value for key, value in valid["history"][0].items() if key != "test_accuracy"}
    return {
        "deep": (json.dumps({**valid, "x": "@"}).replace('"@"', deep), "levels deep"),
        "overflow": (json.dumps({**valid, "parameters": 1}).replace('"parameters": 1', '"parameters": 1e999'),
                     "too large to be finite"),
        "infinite": (json.dumps({**valid, "test_images": float("inf")}), "not a number JSON allows"),
        "huge-counts": (json.dumps({**valid, "confusion_matrix": [[10**30] * 10] * 10}), "confusion_matrix"),
        "no-test-accuracy": (json.dumps({**valid, "history": [row]}), "test_accuracy"),
        "loss-1e999": (json.dumps({**valid, "metrics": {**valid["metrics"], "loss": 1}}).replace(
            '"loss": 1', '"loss": 1e999'), "too large to be finite"),
        "wrong-total": (json.dumps({**valid, "test_images": 29}), "says it was measured on 29"),
        "accuracy-above-1": (json.dumps({**valid, "metrics": {**valid["metrics"], "accuracy": 1.5}}),
                             "metrics.accuracy"),
        "no-parameters": (json.dumps({key: value for key, value in valid.items() if key != "parameters"}),
                          "parameters"),
    }
