"""Ten hand-made digits, 0 to 9, as pen strokes on the canvas of the Draw page and /join
(:mod:`mnist_core.canvas`).

Each digit is a list of strokes, each stroke a list of (x, y) points in the canvas's pixels, drawn as a
person would with the canvas's round brush. Used to draw in a real browser (tools, tests) and, rendered with Pillow, to
check the same strokes through the Python side.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from mnist_core.canvas import BRUSH_WIDTH, CANVAS_SIDE

Stroke = list[tuple[float, float]]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, steps: int = 24) -> Stroke:
    """Points on an ellipse from angle ``start`` to ``end`` (degrees; 0 is right, 90 is down)."""
    return [(cx + rx * math.cos(math.radians(start + (end - start) * i / steps)),
             cy + ry * math.sin(math.radians(start + (end - start) * i / steps))) for i in range(steps + 1)]


def _line(*corners: tuple[float, float], steps: int = 10) -> Stroke:
    points = [corners[0]]
    for (x0, y0), (x1, y1) in zip(corners, corners[1:]):
        points += [(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps) for i in range(1, steps + 1)]
    return points


DIGITS: dict[int, list[Stroke]] = {
    0: [_arc(140, 140, 60, 95, -90, 270, 36)],
    1: [_line((150, 45), (140, 235))],
    2: [_arc(140, 95, 55, 50, 200, 380) + _line((190, 110), (85, 235), (200, 235))[1:]],
    3: [_arc(135, 90, 55, 45, 200, 450) + _arc(135, 180, 60, 52, 270, 500)[1:]],
    4: [_line((160, 40), (80, 170), (210, 170)), _line((170, 110), (170, 240))],
    5: [_line((195, 45), (100, 45), (92, 128)) + _arc(135, 170, 62, 55, 230, 500)[1:]],
    6: [_line((180, 45), (110, 140)) + _arc(140, 180, 55, 50, 200, 560)[1:]],
    7: [_line((75, 50), (205, 50), (120, 240))],
    8: [_arc(140, 90, 45, 45, 90, 450) + _arc(140, 180, 55, 50, -90, 270)[1:]],
    9: [_arc(140, 95, 55, 50, 0, 360) + _line((195, 95), (175, 240))[1:]],
}


def render(strokes: list[Stroke], side: int = CANVAS_SIDE, brush: int = BRUSH_WIDTH) -> np.ndarray:
    """The strokes drawn white on black with a round brush, as an RGBA canvas ``(side, side, 4)`` uint8."""
    image = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(image)
    scale = side / CANVAS_SIDE
    for stroke in strokes:
        points = [(x * scale, y * scale) for x, y in stroke]
        draw.line(points, fill=255, width=round(brush * scale), joint="curve")
        for x, y in points[:1] + points[-1:]:  # round ends, as a canvas's round cap
            r = brush * scale / 2
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    grey = np.asarray(image)
    return np.dstack([grey, grey, grey, np.full_like(grey, 255)])
