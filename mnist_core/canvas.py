"""The drawing canvas: its size and brush, the same for the Draw page, /join's phones, the check set
(:mod:`mnist_core.drawn`) and the tools that draw in a browser. /join's page gets them in its config."""

CANVAS_SIDE = 280  # px, square: ten times MNIST's 28x28, room to draw with a mouse or a finger
BRUSH_WIDTH = 22  # px, about a tenth of the canvas: once shrunk into the 20-px box, strokes 2-3 px wide, as in MNIST
