"""Images for tests: a drawn digit, image files in memory, and a decompression bomb's header."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageDraw


def draw_seven(size=280, box=(60, 40, 220, 240), width=None, ink=255, paper=0, mode="L"):
    """A '7' (a bar and a diagonal) drawn inside ``box`` on a ``size`` x ``size`` image."""
    left, top, right, bottom = box
    width = width or max(2, round((bottom - top) / 11))
    image = Image.new(mode, (size, size), paper)
    pen = ImageDraw.Draw(image)
    pen.line([(left, top), (right, top), (left + (right - left) * 0.35, bottom)], fill=ink, width=width, joint="curve")
    return image


def png_bytes(image, **options):
    buffer = io.BytesIO()
    image.save(buffer, format=options.pop("format", "PNG"), **options)
    return buffer.getvalue()


def huge_png_header(width, height):
    """A tiny PNG file whose header claims ``width`` x ``height`` pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    pixels = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + pixels + chunk(b"IEND", b"")


def aligned(image, reference):
    """``image`` moved by at most one pixel each way to match ``reference`` best.

    Digits are centred by whole pixels, as in MNIST; a centre of mass near half a pixel can
    round either way, so two nearly equal drawings may land one pixel apart.
    """
    import numpy as np

    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    moved = [np.roll(image, shift, axis=(0, 1)) for shift in shifts]
    return min(moved, key=lambda candidate: float(np.abs(candidate - reference).sum()))
