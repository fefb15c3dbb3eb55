import time

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_core.data import MNIST_MEAN, MNIST_STD
from mnist_core.preprocess import ImageReadError, NoDigitError, open_image, prepare_digit
from tests.support.hostile_files import hostile_files, special_paths
from tests.support.images import aligned, draw_seven, png_bytes


def correlation(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def centre_of_mass(pixels):
    ys, xs = np.indices(pixels.shape)
    return (ys * pixels).sum() / pixels.sum(), (xs * pixels).sum() / pixels.sum()


def test_small_in_a_corner_and_large_in_the_middle_look_the_same():
    large = prepare_digit(draw_seven(box=(60, 40, 220, 240))).pixels
    small = aligned(prepare_digit(draw_seven(box=(8, 10, 48, 60))).pixels, large)
    assert correlation(large, small) > 0.9
    assert np.abs(large - small).mean() < 0.08


def test_output_is_mnist_like():
    digit = prepare_digit(draw_seven())
    assert digit.pixels.shape == (28, 28) and digit.pixels.dtype == np.float32
    assert digit.pixels.max() == pytest.approx(1.0)
    assert digit.image.dtype == np.uint8 and digit.image.max() == 255
    rows = np.flatnonzero(digit.pixels.max(axis=1) > 0.05)
    cols = np.flatnonzero(digit.pixels.max(axis=0) > 0.05)
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (20, 21, 22)  # fits the 20x20 box
    cy, cx = centre_of_mass(digit.pixels)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    assert digit.tensor.shape == (1, 1, 28, 28)
    assert digit.tensor.min().item() == pytest.approx(-MNIST_MEAN / MNIST_STD, abs=1e-5)


def test_dark_ink_on_light_paper_matches_white_on_black():
    white_on_black = prepare_digit(draw_seven()).pixels
    dark_on_light = prepare_digit(draw_seven(ink=(20, 20, 40), paper=(235, 230, 220), mode="RGB")).pixels
    assert np.abs(white_on_black - dark_on_light).max() < 0.05


def test_transparent_backgrounds_agree_with_opaque_ones():
    reference = prepare_digit(draw_seven()).pixels
    white_strokes = draw_seven(ink=(255, 255, 255, 255), paper=(0, 0, 0, 0), mode="RGBA")
    black_strokes = draw_seven(ink=(0, 0, 0, 255), paper=(255, 255, 255, 0), mode="RGBA")
    for variant in (white_strokes, black_strokes, np.asarray(white_strokes)):  # PIL and the canvas's array
        assert np.abs(prepare_digit(variant).pixels - reference).max() < 0.05


def test_canvas_rgba_array_on_an_opaque_black_background():
    canvas = np.zeros((280, 280, 4), dtype=np.uint8)
    canvas[..., 3] = 255
    canvas[40:240, 130:150, :3] = 255  # a vertical stroke: a 1
    digit = prepare_digit(canvas)
    assert digit.pixels[4:24, 13:16].mean() > 0.6 and digit.pixels[:, :8].max() == 0


@pytest.mark.parametrize(
    "image, reason",
    [
        (np.zeros((280, 280, 4), dtype=np.uint8), "blank"),
        (np.full((280, 280), 255, dtype=np.uint8), "blank"),  # filled with ink = blank paper
        (np.zeros((5, 1), dtype=np.uint8), "too small"),
    ],
)
def test_blank_images_are_no_digit(image, reason):
    with pytest.raises(NoDigitError, match=reason):
        prepare_digit(image)


def test_a_single_dot_is_no_digit():
    canvas = np.zeros((280, 280), dtype=np.uint8)
    canvas[131:149, 131:149] = 255  # one touch of an 18-pixel brush
    with pytest.raises(NoDigitError, match="dot"):
        prepare_digit(canvas)


def test_a_canvas_almost_entirely_inked_is_no_digit():
    canvas = np.full((280, 280), 255, dtype=np.uint8)
    canvas[:, :30] = 0  # dark border on one side makes the ink read as ink
    canvas[:30, :] = 0
    with pytest.raises(NoDigitError, match="entirely ink"):
        prepare_digit(canvas)


def test_real_mnist_digits_survive_the_round_trip(real_mnist):
    for index in range(20):
        original = real_mnist.test_images[index].numpy()
        enlarged = Image.fromarray(original).resize((280, 280), Image.Resampling.NEAREST)
        assert correlation(original / 255.0, prepare_digit(enlarged, normalise_width=False).pixels) > 0.95, index
        # Redrawn at MNIST's median stroke width, a thin or bold digit changes width, not shape.
        assert correlation(original / 255.0, prepare_digit(enlarged).pixels) > 0.7, index


@pytest.mark.parametrize("name", list(hostile_files()))
def test_every_file_of_the_hostile_matrix_is_read_or_refused_with_its_reason(tmp_path, name):
    content, refusal = hostile_files()[name]
    path = tmp_path / name
    path.write_bytes(content)
    started = time.monotonic()
    if refusal is None:
        reference = prepare_digit(draw_seven()).pixels
        read = aligned(prepare_digit(open_image(path)).pixels, reference)
        assert np.abs(read - reference).max() < 0.1
    else:
        with pytest.raises((ImageReadError, NoDigitError), match=refusal):
            prepare_digit(open_image(path))
    assert time.monotonic() - started < 1.0


def test_postscript_never_starts_ghostscript(tmp_path, monkeypatch):
    """Whatever its name, a PostScript file is refused before any program could run."""
    import subprocess

    def no_child_processes(*args, **kwargs):
        raise AssertionError(f"a child process was started: {args}")

    monkeypatch.setattr(subprocess, "Popen", no_child_processes)
    for name in ("postscript.png", "endless.eps"):
        with pytest.raises(ImageReadError, match="Not a readable image"):
            open_image(hostile_files()[name][0])


def test_only_regular_files_are_read(tmp_path):
    for name, (path, refusal) in special_paths(tmp_path).items():
        started = time.monotonic()
        with pytest.raises(ImageReadError, match=refusal):
            open_image(path)
        assert time.monotonic() - started < 1.0, name


def test_a_file_over_the_limit_is_refused_without_reading_it_all(tmp_path, monkeypatch):
    import mnist_core.preprocess as preprocess

    monkeypatch.setattr(preprocess, "MAX_FILE_BYTES", 1000)
    big = tmp_path / "big.png"
    big.write_bytes(png_bytes(draw_seven()) + b"\0" * 5000)
    with pytest.raises(ImageReadError, match="over 0 MB|limit"):
        open_image(big)


def test_every_colour_mode_is_read_or_refused_with_a_reason():
    seven = draw_seven()
    for mode in ("1", "L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "I", "F", "LA", "PA", "RGBX",
                 "RGBa", "La", "I;16"):
        try:
            image = seven.convert(mode)
        except ValueError:
            continue  # Pillow cannot make this mode from grey; nothing to read
        try:
            prepare_digit(image)
        except ImageReadError as reason:
            assert "colour mode" in str(reason), mode


def test_a_scribble_still_gives_an_mnist_like_image():
    rng = np.random.default_rng(0)
    canvas = Image.new("L", (280, 280))
    ImageDraw.Draw(canvas).line([tuple(p) for p in rng.integers(20, 260, size=(30, 2))], fill=255, width=18)
    digit = prepare_digit(canvas)
    assert digit.pixels.shape == (28, 28) and 0 < digit.pixels.mean() < 1


def test_a_digit_touching_the_border_is_handled():
    canvas = np.zeros((280, 280), dtype=np.uint8)
    canvas[:, 120:140] = 255  # a 1 from the top edge to the bottom edge
    digit = prepare_digit(canvas)
    rows = np.flatnonzero(digit.pixels.max(axis=1) > 0.5)
    assert rows[-1] - rows[0] + 1 == 20  # scaled into the 20-pixel box, not cut off


def test_a_tiny_image_with_a_digit_is_read():
    tiny = np.zeros((5, 5), dtype=np.uint8)
    tiny[1:4, 2] = 255
    assert prepare_digit(tiny).pixels.max() == pytest.approx(1.0)
