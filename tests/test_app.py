"""AppTest for every page: each renders with the shipped checkpoints, and Train → Compare works."""

from __future__ import annotations

import json

import pytest

from tests.support import PROJECT_ROOT
from tests.support.apptest import html_blocks, open_page, press_train, sidebar_text, switch_to, texts


def test_overview_lists_the_three_shipped_models(user_runs, real_data_root, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    at = open_page()
    table = at.dataframe[0].value
    assert sorted(table["Model"]) == ["CNN", "LeNet-5", "MLP"]
    assert table["Test accuracy (%)"].min() > 98.5
    # The verdict rests on the shipped seed groups; the runs in the table (seed 0) come after it.
    verdict = next(block.value for block in at.markdown if block.value.startswith("**"))
    assert verdict.startswith("**LeNet-5 and CNN are level within seed noise; both beat MLP** (5 seeds each;")
    assert "◆ their ensemble" in texts(at) and "LeNet-5 99.51%" in texts(at)
    assert "Each dot is one training run from a different random start; where dots overlap, the winner could be " \
           "luck." in texts(at)  # the plain words beside the statistics
    lesson = at.expander(key="overview.lesson")
    assert lesson.label.startswith("Teaching with it") and "Show the QR code" in texts(lesson)
    # The shipped LeNet-5 makes 63 mistakes, the CNN 72 (the sentence itself: tests/test_comparison.py).
    assert "The runs in the table, one of each: **LeNet-5** is the most accurate at **99.37%**, 0.09 points ahead " \
           "of CNN" in texts(at)
    assert "The weakest, MLP, still gets 99.18% right" in texts(at)
    assert "LeNet-5 makes 9 fewer mistakes than CNN" in texts(at) and "(McNemar p = 0.34" in texts(at)
    assert list(table.sort_values("Model")["95% interval (%)"]) == ["99.09–99.43", "99.19–99.51", "98.98–99.34"]
    assert len(at.get("image")) == 30  # the gallery: three test digits of each class
    assert table["Validation accuracy (%)"].min() > 98.5  # the shipped runs held out 5,000 training images
    assert "Runs in use" in sidebar_text(at) and "MNIST found" in sidebar_text(at)


@pytest.mark.slow
def test_overview_without_data_still_works(user_runs, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "nowhere"))
    at = open_page()
    assert "MNIST is not in" in texts(at) and "needs the test images" in texts(at)
    assert len(at.dataframe[0].value) == 3


@pytest.mark.slow
def test_draw_page_prompts_on_an_empty_canvas(user_runs):
    at = open_page("pages/draw.py")
    assert "Draw a digit" in texts(at)
    assert len(at.metric) == 0  # no prediction without a digit
    assert len(at.selectbox) == 4  # which run each model uses; the fourth "not shown" until chosen
    assert at.selectbox(key="draw.run.lenet5_relu").value == ""


def test_compare_page_shows_curves_matrices_and_mistakes(user_runs, real_data_root, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    at = open_page("pages/compare.py")
    assert len(at.multiselect[0].value) == 3
    # B − A, curves, three confusion matrices, per-class bars
    assert len(at.get("plotly_chart")) == 6
    assert "McNemar p =" in texts(at) and "Only A right" in [m.label for m in at.metric]
    table = next(frame.value for frame in at.dataframe if "Run" in frame.value)  # after "Across seeds"
    assert list(table["Run"]) == ["MLP", "CNN", "LeNet-5"] and "Without doubtful labels (%)" in table
    assert "Holm's correction for the 3 pairs of the chosen runs" in texts(at)  # three runs, three pairs
    # Two filters count every chosen run, and say so (under "Only A right" they read as A and B's).
    for kind, caption in (("A right, B wrong", "A right, B wrong"), ("B right, A wrong", "B right, A wrong"),
                          ("all wrong", "all 3 runs wrong"), ("only one right", "only one of the 3 runs right")):
        at.segmented_control(key="compare.filter").set_value(kind).run()
        assert not at.exception and f"test images: {caption}" in texts(at)
    at.selectbox(key="compare.a").set_value(2).run()  # A = B = LeNet-5: no difference at all
    at.selectbox(key="compare.b").set_value(2).run()
    assert "same number of mistakes" in texts(at) and "not a significant difference" in texts(at)
    at.selectbox(key="compare.true").set_value(4)
    at.selectbox(key="compare.predicted").set_value(9)
    at.run()
    assert not at.exception
    assert "test images of a **4** were predicted as **9**" in texts(at) or "No chosen run" in texts(at)
    at.toggle(key="compare.normalise").set_value(True).run()
    assert not at.exception
    curves = next(json.loads(chart.proto.spec) for chart in at.get("plotly_chart") if "per epoch" in chart.proto.spec)
    names = [trace.get("name") for trace in curves["data"]]
    assert "LeNet-5 · mean of 5 seeds" in names and "LeNet-5 · validation, mean" in names  # the shipped seeds
    at.toggle(key="compare.seed_bands").set_value(False).run()
    curves = next(json.loads(chart.proto.spec) for chart in at.get("plotly_chart") if "per epoch" in chart.proto.spec)
    assert "LeNet-5 · validation" in [trace.get("name") for trace in curves["data"]]
    assert "dotted: validation" in curves["layout"]["title"]["text"]


@pytest.mark.slow  # over 1 s here: make test-fast leaves it out
def test_compare_without_data_still_shows_stored_results(user_runs, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "nowhere"))
    at = open_page("pages/compare.py")
    assert len(at.get("plotly_chart")) == 5 and "need the data set" in texts(at)  # curves, matrices, per-class


@pytest.mark.slow
def test_train_page_without_data_says_what_to_do(user_runs, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "nowhere"))
    at = open_page("pages/train.py")
    assert "Training needs the MNIST data set" in texts(at)


def test_training_a_slice_appears_on_compare(user_runs, real_data_root, monkeypatch, job_board):
    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    at = open_page("pages/train.py")
    at.session_state["train.validation"] = 500
    at = press_train(at, ["lenet5"], epochs=1)
    assert not at.exception, [e.value for e in at.exception]
    (job,) = job_board.jobs()
    assert job.wait(timeout=120)
    snapshot = job.snapshot()
    assert [s.state for s in snapshot.statuses] == ["saved"], snapshot
    (saved,) = snapshot.saved_runs
    assert saved.parent == user_runs and saved.name.startswith("lenet5-best-")
    record = json.loads((saved / "run.json").read_text())
    assert record["validation_images"] == 500 and "validation_accuracy" in record["history"][0]
    at.run()
    assert "Saved 1 run(s)" in texts(at)

    compare = open_page("pages/compare.py")
    assert str(saved) in compare.multiselect[0].options or any(
        saved.name in option for option in compare.multiselect[0].options)


def test_a_damaged_run_is_listed_with_its_reason_and_the_rest_works(user_runs, real_data_root, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    broken = user_runs / "lenet5-best-broken"
    broken.mkdir(parents=True)
    (broken / "run.json").write_text("{ half a file")
    (user_runs / "weights-only").mkdir()
    (user_runs / "weights-only" / "weights.safetensors").write_bytes(b"\0" * 100)
    for page in (None, "pages/draw.py", "pages/compare.py", "pages/train.py"):
        at = open_page(page)
        expander = [e for e in at.sidebar.expander if "damaged run" in e.label]
        assert expander and "2 damaged run(s)" in expander[0].label
        reasons = "\n".join(str(c.value) for c in at.sidebar.caption)
        assert "not valid JSON" in reasons and "no description" in reasons


@pytest.mark.slow
def test_corrupt_mnist_is_explained_and_drawing_still_works(user_runs, tmp_path, monkeypatch):
    from tests.support.mnist_files import write_fake_mnist

    root = write_fake_mnist(tmp_path / "mnist")
    images = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:1000])  # truncated
    monkeypatch.setenv("MNIST_DATA_DIR", str(root))
    assert "damaged" in texts(open_page("pages/train.py"))
    assert "damaged" in texts(open_page())  # the gallery says why it is missing
    assert "Draw a digit" in texts(open_page("pages/draw.py"))


def test_uploads_are_limited_and_errors_never_show_tracebacks():
    import tomllib

    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    assert 1 <= config["server"]["maxUploadSize"] <= 10  # megabytes: digit photos, not datasets
    assert config["client"]["showErrorDetails"] == "none"  # a last line of defence in front of an audience


@pytest.mark.slow
def test_choosing_a_run_on_draw_shows_at_once_in_the_sidebar_and_persists(user_runs):
    import torch

    from mnist_core.evaluation import evaluation_from_logits
    from mnist_core.models import build_model
    from mnist_core.runs import save_run

    mine = save_run(user_runs / "lenet5-mine", "lenet5", build_model("lenet5"), {"recipe": "tutorial"}, [],
                    evaluation_from_logits(torch.eye(10), torch.arange(10)), 1.0, 100)
    at = open_page("pages/draw.py")
    assert "lenet5-mine" not in sidebar_text(at)
    at.selectbox(key="draw.run.lenet5").set_value(str(mine.path)).run()
    assert not at.exception and "lenet5-mine" in sidebar_text(at)
    switch_to(at, "pages/compare.py").run()  # the Draw widgets are gone; the choice stays
    assert "lenet5-mine" in sidebar_text(at)


def test_compare_explains_any_test_image(user_runs, real_data_root, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    at = open_page("pages/compare.py")
    at.number_input(key="compare.explain").set_value(7).run()
    assert "Test image #7, labelled **9**" in texts(at)
    at.session_state["compare.why"] = True  # open the collapsed "Why?" panel
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("plotly_chart")) == 7  # the six charts and the three maps (one figure)
    assert "Inside the networks" in texts(at) and "What it reminds each model of" in texts(at)
    at.segmented_control(key="compare.why.method").set_value("integrated-gradients").run()
    assert "cannot credit a stroke that is missing" in texts(at)
    at.toggle(key="compare.why.sanity").set_value(True).run()  # the feature banks are cached: no replay error
    assert not at.exception and "what chance looks like" in texts(at)


def test_gallery_puts_a_doubtful_label_note_under_the_answers():
    # Above them, a note wrapping onto three lines pushed a card's answers out of line with its row's.
    def script():
        import numpy as np

        from dashboard.gallery import Answers, show_gallery

        truth = np.zeros(10_000, dtype=np.int64)
        answers = [Answers("MLP", "mlp", np.zeros(10_000, dtype=np.int64), np.ones(10_000))]
        show_gallery(np.array([947, 0]), np.zeros((10_000, 28, 28), dtype=np.uint8), truth, answers)

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(script).run()
    assert not at.exception
    (gallery,) = html_blocks(at)
    doubtful, plain = gallery.split("alt='test image 0'")  # test image 947's label is doubted, 0's is not
    assert "⚠" in doubtful and doubtful.index("MLP") < doubtful.index("⚠") and "⚠" not in plain


def test_a_fourth_model_appears_only_once_a_person_chooses_it(user_runs, real_data_root, monkeypatch):
    """LeNet-5 (ReLU) ships a checkpoint, but the pages show the three until it is chosen on Draw."""
    from mnist_core.models import MODELS

    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    at = open_page("pages/draw.py")
    relu = MODELS["lenet5_relu"].name
    assert relu not in sidebar_text(at) and at.selectbox(key="draw.run.lenet5_relu").value == ""
    at.selectbox(key="draw.run.lenet5_relu").set_value(str(PROJECT_ROOT / "checkpoints" / "lenet5_relu")).run()
    assert not at.exception and relu in sidebar_text(at)
    switch_to(at, "pages/compare.py").run()
    assert not at.exception and len(at.multiselect(key="compare.runs").value) == 4
    switch_to(at, "pages/robustness.py").run()
    assert not at.exception and relu in texts(at)
