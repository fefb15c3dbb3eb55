"""The class's hard set as a test set (mnist_core.game): the shipped runs evaluated on it as on MNIST test, and
McNemar's test between two of them on it."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core.comparison import compare_predictions, significance_sentence
from mnist_core.game import compare_on_hard_set, evaluate_hard_set, hard_set_sentence
from tests.support.hard_set import MODELS_PLAYING, seeded_store, shipped_models


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """A round of the ten hand-made digits, upright and turned, answered by the shipped models; and the models."""
    store = seeded_store(tmp_path_factory.mktemp("hard_set") / "audience.sqlite3")
    from mnist_core.game import Game

    yield Game(store).hard_set(), shipped_models()
    store.close()


@pytest.mark.slow
def test_the_hard_set_holds_the_confirmed_drawings_some_model_misread(played):
    drawings, _ = played
    assert 5 <= len(drawings) < 40  # the turned digits some model misread, none of those every model read right
    for drawing in drawings:
        assert any(drawing.answers[key] != drawing.label for key in MODELS_PLAYING)


def test_each_shipped_run_on_the_hard_set_answers_as_the_server_scored_the_drawing(played):
    drawings, models = played
    labels = np.array([drawing.label for drawing in drawings])
    errors = 0
    for key in MODELS_PLAYING:
        result = evaluate_hard_set(models[key], drawings)
        # The same normalisation as the MNIST test set's (and the server's): the very answers stored.
        assert result.predictions.tolist() == [drawing.answers[key] for drawing in drawings]
        assert result.labels.tolist() == labels.tolist() and result.confusion.sum() == len(drawings)
        assert result.accuracy == pytest.approx(np.mean(result.predictions == labels))
        errors += int((result.predictions != labels).sum())
    assert errors >= len(drawings)  # each drawing fooled at least one of them


@pytest.mark.slow
def test_mcnemar_between_two_runs_on_the_hard_set(played):
    drawings, models = played
    mlp, lenet5 = models["mlp"], models["lenet5"]
    paired = compare_on_hard_set(mlp, lenet5, drawings)
    truth = np.array([drawing.label for drawing in drawings])
    stored = {key: np.array([drawing.answers[key] for drawing in drawings]) for key in ("mlp", "lenet5")}
    assert paired == compare_predictions(truth, stored["mlp"], stored["lenet5"])
    assert paired.images == len(drawings) and 0 < paired.mcnemar_p <= 1
    assert f"on {len(drawings)} drawings:" in significance_sentence("MLP", "LeNet-5", paired, items="drawings")
    itself = compare_on_hard_set(mlp, mlp, drawings)
    assert itself.mcnemar_p == 1.0 and itself.only_a_right == itself.only_b_right == 0


def test_an_empty_hard_set_says_so(played):
    _, models = played
    with pytest.raises(ValueError, match="empty"):
        evaluate_hard_set(models["mlp"], [])


@pytest.mark.parametrize(("correct", "total", "sentence"), [
    ({"MLP": 3}, 12, "MLP reads 3 (25 %) of the class's 12 hard drawings right."),
    ({"MLP": 1, "CNN": 1}, 1, "MLP and CNN each read 1 (100 %) of the class's 1 hard drawing right."),
    ({"MLP": 2, "CNN": 5, "LeNet-5": 8}, 12,
     "Of the class's 12 hard drawings, LeNet-5 reads the most right, 8 (67 %); MLP the fewest, 2 (17 %)."),
    ({"MLP": 2, "CNN": 8, "LeNet-5": 8}, 12,
     "Of the class's 12 hard drawings, CNN and LeNet-5 read the most right, 8 (67 %) each; MLP the fewest, 2 (17 %)."),
])
def test_the_hard_set_sentence(correct, total, sentence):
    assert hard_set_sentence(correct, total) == sentence
