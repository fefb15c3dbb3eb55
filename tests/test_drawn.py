import json

import numpy as np
import pytest

from mnist_core.canvas import BRUSH_WIDTH, CANVAS_SIDE
from mnist_core.cli import main
from mnist_core.drawn import BRUSHES, as_drawn, as_drawn_batch, centre_line, check_set, redraw
from mnist_core.preprocess import prepare_digit
from mnist_core.strokes import stroke_width


def correlation(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_the_check_set_is_the_same_for_the_same_seed_and_within_its_ranges(real_mnist):
    images, labels = real_mnist.test_images[:200].numpy(), real_mnist.test_labels[:200].numpy()
    first = check_set(images, labels, (14, 30), 12, seed=3)
    again = check_set(images, labels, (14, 30), 12, seed=3)
    other = check_set(images, labels, (14, 30), 12, seed=4)
    assert [d.index for d in first] == [d.index for d in again] != [d.index for d in other]
    assert all(np.array_equal(a.canvas, b.canvas) for a, b in zip(first, again))
    for drawing in first:
        assert drawing.canvas.shape == (CANVAS_SIDE, CANVAS_SIDE) and drawing.canvas.dtype == np.uint8
        assert 14 <= drawing.brush <= 30 and 0.25 <= drawing.height <= 0.9
        assert drawing.label == labels[drawing.index]
        rows = np.flatnonzero(drawing.canvas.max(axis=1) > 127)
        assert rows[0] > 0 and rows[-1] < CANVAS_SIDE - 1  # the whole stroke is on the canvas
        # The pen's path spans the chosen height (less only when the digit is wider than tall).
        assert rows[-1] - rows[0] + 1 <= drawing.height * CANVAS_SIDE + drawing.brush + 2


@pytest.mark.parametrize("brush", [3, BRUSH_WIDTH])
def test_a_re_drawn_digit_is_read_as_the_same_shape(real_mnist, brush):
    for index in range(10):
        original = real_mnist.test_images[index].numpy()
        canvas = redraw(centre_line(original), brush, 0.6, np.random.default_rng(index))
        assert correlation(prepare_digit(canvas).pixels, prepare_digit(original).pixels) > 0.6, index


def test_as_drawn_gives_every_digit_the_same_even_stroke(real_mnist):
    images = real_mnist.test_images[:40].numpy()
    drawn = [as_drawn(image) for image in images]
    for image, digit in zip(images, drawn):
        assert digit.shape == (28, 28) and digit.dtype == np.float32
        assert 0 <= digit.min() and digit.max() == pytest.approx(1.0)
        assert correlation(digit, image) > 0.5  # the same digit
    before = np.std([stroke_width(image / 255) for image in images])
    after = np.std([stroke_width(digit) for digit in drawn])
    assert after < 0.5 * before  # thin and bold digits converge


def test_as_drawn_looks_like_a_canvas_drawing_read_by_the_app(real_mnist):
    # The cheap stand-in the best recipe trains on, against the real thing: the canvas's brush.
    images = real_mnist.test_images[:30].numpy()
    drawn = [prepare_digit(redraw(centre_line(image), BRUSH_WIDTH, 0.6, np.random.default_rng(i))).pixels
             for i, image in enumerate(images)]
    likeness = [correlation(as_drawn(image), on_canvas) for image, on_canvas in zip(images, drawn)]
    widths = [stroke_width(as_drawn(image)) for image in images]
    canvas_widths = [stroke_width(on_canvas) for on_canvas in drawn]
    assert np.median(likeness) > 0.85
    assert np.median(widths) == pytest.approx(np.median(canvas_widths), abs=0.3)


def test_as_drawn_batch_keeps_the_layout_and_a_blank_stays_blank():
    import torch

    images = torch.zeros(3, 28, 28, dtype=torch.uint8)
    images[1, 6:22, 12:16] = 255  # a bold "1"
    images[2, 6:22, 13] = 255  # a hairline "1"
    drawn = as_drawn_batch(images)
    assert drawn.shape == images.shape and drawn.dtype == torch.uint8
    assert int(drawn[0].max()) == 0
    assert stroke_width(drawn[1].numpy() / 255) == pytest.approx(stroke_width(drawn[2].numpy() / 255), abs=0.5)


def test_as_drawn_with_a_wide_pen_fills_loops_in_as_the_canvas_does():
    from scipy.ndimage import label

    rows, columns = np.indices((28, 28))
    radius = np.hypot(rows - 14, columns - 14)
    ring = (np.clip(1.5 - abs(radius - 6), 0, 1) * 255).astype(np.uint8)  # a "0" with a 9-px hole
    holes = lambda digit: label(digit < 0.5)[1] - 1  # noqa: E731  background parts besides the outside
    assert holes(as_drawn(ring)) == 1 and holes(as_drawn(ring, pen=0.1)) == 1
    # A pen as wide as the digit is tall covers the whole hole (a narrower one leaves part of it, and
    # moving the edge in then opens it again, as prepare_digit does with a canvas drawing).
    wide = as_drawn(ring, pen=1.1)
    assert holes(wide) == 0
    assert (wide > 0.5).sum() > 2 * (as_drawn(ring) > 0.5).sum()  # a filled disc: the blob a person sees


def test_the_brush_ranges_are_the_canvas_brush_and_very_thin_pens():
    assert list(BRUSHES.values()) == [(14, 30), (2, 6)]


def test_drawn_command_reports_each_model_on_both_brush_ranges(capsys, real_data_root):
    code = main(["drawn", "--images", "6", "--json", "--data-dir", str(real_data_root)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["images"] == 6 and report["seed"] == 0 and report["stroke_width"] == "normalised"
    assert report["split"] == "test"
    assert set(report["runs"]) == {"mlp", "cnn", "lenet5"}
    assert [s["name"] for s in report["sets"]] == list(BRUSHES)
    for result in report["sets"]:
        assert result["images"] == 6 and result["unreadable"] == 0
        assert set(result["accuracy"]) == {"mlp", "cnn", "lenet5"}
        assert all(0 <= value <= 1 for value in result["accuracy"].values())
        assert result["as_written"]["images"] == 6 and set(result["as_written"]["accuracy"]) == {"mlp", "cnn", "lenet5"}
        assert 0 <= result["brush_over_a_quarter_of_the_height"]["images"] <= 6
        # What the Draw page tells "drawn small", and the rest: every readable drawing is one or the other.
        small, blobs = result["drawn_small"]["images"], result["brush_over_a_quarter_of_the_height"]["images"]
        assert small + result["not_drawn_small"]["images"] == 6
        assert abs(small - blobs) <= 1  # the app's measure agrees with the true brush (these six: 2 blobs, 1 told)
    assert report["sets"][0]["brush_over_a_quarter_of_the_height"]["images"] >= 2  # so the line above can fail
    assert report["sets"][1]["drawn_small"]["images"] == 0  # a 2-6 px pen is never a blob


def test_the_validation_split_is_refused_for_runs_trained_on_those_images(capsys, real_data_root, tmp_path):
    import torch

    from mnist_core.evaluation import evaluation_from_logits
    from mnist_core.models import build_model
    from mnist_core.runs import save_run

    save_run(tmp_path / "lenet5", "lenet5", build_model("lenet5"), {"recipe": "tutorial"}, [],
             evaluation_from_logits(torch.eye(10), torch.arange(10)), 1.0, 60_000)
    code = main(["drawn", "--split", "validation", "--runs", str(tmp_path), "--images", "2",
                 "--data-dir", str(real_data_root)])
    err = capsys.readouterr().err
    assert code == 1 and "did not hold out" in err and "lenet5" in err
