import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from scipy.ndimage import grey_dilation, grey_erosion

from mnist_core.preprocess import crop_to_ink, ink_map, prepare_digit, trim_to_ink
from mnist_core.strokes import (
    MNIST_STROKE_WIDTH,
    change_thickness,
    cross_step,
    normalise_stroke_width,
    stroke_width,
    vary_thickness,
)

# A '2'-like path: a bar, a hook and a base, as a person would draw it.
PATH = ((0.2, 0.15), (0.75, 0.15), (0.8, 0.45), (0.25, 0.85), (0.8, 0.85))


def draw(brush, box=(40, 40, 240, 240), size=280):
    """``PATH`` drawn with a round brush of ``brush`` pixels, scaled into ``box`` on a black canvas."""
    left, top, right, bottom = box
    points = [(left + x * (right - left), top + y * (bottom - top)) for x, y in PATH]
    canvas = Image.new("L", (size, size), 0)
    pen = ImageDraw.Draw(canvas)
    pen.line(points, fill=255, width=round(brush), joint="curve")
    for x, y in points[:: len(points) - 1]:  # round caps
        pen.ellipse((x - brush / 2, y - brush / 2, x + brush / 2, y + brush / 2), fill=255)
    return np.asarray(canvas)


def difference(a, b):
    return float(np.abs(a - b).mean())


def correlation(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.mark.parametrize("brush", [3, 5, 9, 15, 23, 31])
def test_stroke_width_measures_the_brush(brush):
    assert stroke_width(ink_map(draw(brush))) == pytest.approx(brush, abs=1.0)


def test_stroke_width_of_nothing_is_zero():
    assert stroke_width(np.zeros((10, 10), np.float32)) == 0


def test_a_small_thick_digit_and_a_large_thin_one_give_nearly_the_same_image():
    small_thick = draw(30, box=(90, 90, 190, 190))  # 100 px tall, brush 30: strokes a third of its height
    large_thin = draw(4, box=(20, 20, 260, 260))  # 240 px tall, brush 4: a hairline
    normalised = [prepare_digit(image).pixels for image in (small_thick, large_thin)]
    kept = [prepare_digit(image, normalise_width=False).pixels for image in (small_thick, large_thin)]
    assert correlation(*normalised) > 0.9 and difference(*normalised) < 0.06
    assert correlation(*kept) < 0.7 and difference(*kept) > 3 * difference(*normalised)


def test_thin_and_thick_strokes_of_one_digit_converge_to_mnist_width():
    for brush in (2, 6, 14, 22, 30):
        redrawn = trim_to_ink(normalise_stroke_width(crop_to_ink(ink_map(draw(brush)))).ink)
        width_in_the_box = stroke_width(redrawn) * 20 / max(redrawn.shape)
        assert width_in_the_box == pytest.approx(MNIST_STROKE_WIDTH, abs=0.35), brush
    images = [prepare_digit(draw(brush)).pixels for brush in (2, 30)]
    assert difference(*images) < 0.05


@pytest.mark.parametrize("brush, box, small", [
    (22, (40, 40, 240, 240), False),  # the canvas brush, the path 140 px tall: a pen 0.16 of its height
    (22, (70, 60, 210, 203), False),  # a path of 100 px: 0.22
    (22, (80, 80, 200, 194), True),  # 80 px: 0.275, the loops close
    (30, (90, 90, 190, 190), True),  # 0.43
    (4, (20, 20, 260, 260), False),  # a hairline, 0.02
])
def test_a_digit_drawn_small_for_its_pen_is_told_apart(brush, box, small):
    """The pen against the height of its path: the measure the check set calls a blob by (over a quarter)."""
    digit = prepare_digit(draw(brush, box=box))
    path_height = (box[3] - box[1]) * (PATH[-1][1] - PATH[0][1])
    assert digit.pen == pytest.approx(brush / path_height, rel=0.15)
    assert digit.drawn_small is small


def test_the_pen_is_not_measured_when_the_strokes_are_kept_as_drawn():
    digit = prepare_digit(draw(30, box=(90, 90, 190, 190)), normalise_width=False)
    assert digit.pen is None and not digit.drawn_small


def test_mnist_stroke_width_is_the_median_of_real_training_digits(real_mnist):
    from mnist_core.strokes import _to_working_size

    widths = []
    for image in real_mnist.train_images[:400].numpy():
        work = _to_working_size(crop_to_ink(ink_map(image)))
        widths.append(stroke_width(work) * 20 / max(work.shape))
    assert np.median(widths) == pytest.approx(MNIST_STROKE_WIDTH, rel=0.08)


def test_cross_step_is_grey_dilation_and_erosion_with_a_cross():
    pixels = torch.rand(3, 28, 28)
    cross = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)
    dilated = grey_dilation(pixels.numpy(), footprint=cross[None], mode="constant", cval=0.0)
    eroded = grey_erosion(pixels.numpy(), footprint=cross[None], mode="constant", cval=1.0)
    assert np.array_equal(cross_step(pixels, True).numpy(), dilated)
    assert np.array_equal(cross_step(pixels, False).numpy(), eroded)


def test_each_image_gets_its_own_thickness_level():
    pixels = torch.from_numpy(np.stack([prepare_digit(draw(22)).pixels] * 7))
    levels = torch.tensor([-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5])
    varied = vary_thickness(pixels, levels)
    assert torch.equal(varied[3], pixels[3])
    for image, level in zip(varied, levels.tolist()):
        assert torch.allclose(image, change_thickness(pixels[:1], level)[0], atol=1e-6), level
    ink = varied.sum(dim=(1, 2))
    assert bool((ink[1:] > ink[:-1]).all())  # more ink with every level
