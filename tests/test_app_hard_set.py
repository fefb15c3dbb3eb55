"""AppTests of the class's hard set as a test set: Compare's choice of test set, and Robustness's section on it."""

from __future__ import annotations

import pytest

from mnist_core.audience import AudienceStore
from mnist_core.game import Game
from tests.support.apptest import html_blocks, open_page, texts
from tests.test_app_presenter import open_with


@pytest.fixture(scope="module")
def hard_set_db(tmp_path_factory):
    """A store holding a played round (tests/support/hard_set.py), and its hard set's drawings."""
    from tests.support.hard_set import seeded_store

    location = tmp_path_factory.mktemp("audience") / "audience.sqlite3"
    store = seeded_store(location)
    drawings = Game(store).hard_set()
    store.close()
    return location, drawings


@pytest.fixture
def with_hard_set(hard_set_db, monkeypatch, user_runs):
    location, drawings = hard_set_db
    monkeypatch.setenv("MNIST_AUDIENCE_DB", str(location))
    return drawings


def errors_on(drawings, key: str) -> int:
    return sum(drawing.answers[key] != drawing.label for drawing in drawings)


@pytest.mark.slow
def test_compare_tests_the_runs_on_the_hard_set_without_mnist(with_hard_set, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "nowhere"))
    drawings, n = with_hard_set, len(with_hard_set)
    at = open_page("pages/compare.py")
    choice = at.segmented_control(key="compare.test_set")
    assert choice.value == "mnist" and choice.options == ["MNIST test (10,000)", f"The class's hard set ({n} drawings)"]
    assert "need the data set" in texts(at)
    choice.set_value("hard").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.query_params["compare.test_set"] == "hard"  # a lesson link can name it (not by its label's count)
    table = next(frame.value for frame in at.dataframe if "Run" in frame.value)
    assert list(table["Run"]) == ["MLP", "CNN", "LeNet-5"] and "Without doubtful labels (%)" not in table
    # The server scored these drawings with these very runs: re-evaluated, each makes the mistakes it made then.
    assert list(table["Errors"]) == [errors_on(drawings, key) for key in ("mlp", "cnn", "lenet5")]
    assert list(table["Accuracy (%)"]) == pytest.approx([100 * (n - e) / n for e in table["Errors"]])
    assert f"on {n} drawings:" in texts(at) and "McNemar p =" in texts(at)
    assert sum(int(m.value.replace(",", "")) for m in at.metric) == n  # the paired counts
    assert "a model in use during its round misread it" in texts(at)
    gallery = html_blocks(at)[0]
    assert "alt='drawing " in gallery and any(f"<b>#{drawing.id}</b>" in gallery for drawing in drawings)
    assert not [w for w in at.number_input if w.key == "compare.explain"]  # a drawing is no test image #
    assert "Showing the mistaken images needs the data set" in texts(at)  # the mistakes below are MNIST's


def test_compare_opened_on_the_hard_set_by_its_link_keeps_the_mnist_mistakes(with_hard_set, real_data_root,
                                                                           monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    at = open_with({"compare.test_set": "hard"}, "pages/compare.py")
    assert at.segmented_control(key="compare.test_set").value == "hard"
    assert f"on {len(with_hard_set)} drawings:" in texts(at)
    at.selectbox(key="compare.true").set_value(4)
    at.selectbox(key="compare.predicted").set_value(9)
    at.run()
    assert not at.exception and "test images of a **4** were predicted as **9**" in texts(at)
    at.segmented_control(key="compare.test_set").set_value("mnist").run()
    assert "on 10,000 test images" in texts(at)
    table = next(frame.value for frame in at.dataframe if "Run" in frame.value)
    assert "Without doubtful labels (%)" in table and "compare.test_set" not in at.query_params


@pytest.mark.slow
def test_compare_without_a_hard_set_offers_no_choice(user_runs, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("MNIST_AUDIENCE_DB", str(tmp_path / "empty.sqlite3"))
    at = open_page("pages/compare.py")
    assert not [w for w in at.segmented_control if w.key == "compare.test_set"]
    assert not AudienceStore(tmp_path / "empty.sqlite3").exists()  # looking made no store


def test_robustness_shows_each_run_in_use_on_the_hard_set(with_hard_set, real_data_root, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    drawings, n = with_hard_set, len(with_hard_set)
    at = open_page("pages/robustness.py")
    assert at.main.header[-1].value == "On the class's hard set"
    right = {name: n - errors_on(drawings, key) for name, key in (("MLP", "mlp"), ("CNN", "cnn"),
                                                                  ("LeNet-5", "lenet5"))}
    assert [(m.label, m.value) for m in at.metric] == [(name, f"{100 * r / n:.0f}%") for name, r in right.items()]
    assert f"the class's {n} hard drawings" in texts(at) and "a model in use during its round misread it" in texts(at)
    at.selectbox(key="robustness.perturbation").set_value("rotation").run()  # one perturbation: still shown
    assert [s.value for s in at.main.header] == ["Rotation", "On the class's hard set"]
