"""The app against hostile or careless input: crafted run files, clashing and malicious run names,
and training that must survive a reload and be visible to every session."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.run_choice import SELECTION_KEY
from mnist_core.evaluation import evaluation_from_logits
from mnist_core.models import build_model
from mnist_core.runs import RUN_FILE, save_run
from tests.support import PROJECT_ROOT
from tests.support.apptest import open_page, press_train, sidebar_text, switch_to, texts
from tests.support.hostile_files import crafted_run_files
from tests.support.run_mutations import mutated_run_files

PAGES = (None, "pages/draw.py", "pages/compare.py", "pages/train.py")


def untrained_run(folder, key="lenet5"):
    torch.manual_seed(0)
    history = [{"epoch": 1, "train_loss": 2.0, "train_accuracy": 0.1, "test_loss": 2.0, "test_accuracy": 0.1,
                "seconds": 1.0}]
    return save_run(folder, key, build_model(key), {"recipe": "tutorial"}, history,
                    evaluation_from_logits(torch.eye(10), torch.arange(10)), 1.0, 100)


def test_crafted_run_files_are_listed_as_damaged_and_every_page_keeps_working(user_runs, real_data_root,
                                                                             monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    valid = json.loads((PROJECT_ROOT / "checkpoints" / "lenet5" / RUN_FILE).read_text())
    weights = (PROJECT_ROOT / "checkpoints" / "lenet5" / "weights.safetensors").read_bytes()
    crafted = crafted_run_files(valid)
    for name, (text, _) in crafted.items():
        (user_runs / name).mkdir(parents=True)
        (user_runs / name / RUN_FILE).write_text(text)
        (user_runs / name / "weights.safetensors").write_bytes(weights)
    for page in PAGES:
        at = open_page(page)
        expander = [e for e in at.sidebar.expander if "damaged run" in e.label]
        assert expander and expander[0].label.startswith(f"{len(crafted)} damaged run(s)"), page
    compare = open_page("pages/compare.py")
    assert len(compare.get("plotly_chart")) == 6  # the three shipped runs still compare


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_mutated_run_in_use_never_breaks_overview_or_compare(tmp_path_factory, real_data_root, monkeypatch, data):
    """The fuzzer's mutations, put where the app uses them: as the shipped LeNet-5 checkpoint."""
    checkpoints = tmp_path_factory.mktemp("checkpoints")
    for key in ("mlp", "cnn", "lenet5"):
        shutil.copytree(PROJECT_ROOT / "checkpoints" / key, checkpoints / key)
    record = json.loads((checkpoints / "lenet5" / RUN_FILE).read_text())
    (checkpoints / "lenet5" / RUN_FILE).write_bytes(data.draw(mutated_run_files(record)))
    monkeypatch.setenv("MNIST_CHECKPOINTS_DIR", str(checkpoints))
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path_factory.mktemp("runs")))
    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    for page in (None, "pages/compare.py"):
        open_page(page)  # asserts that no exception reached the page


def test_a_user_run_named_like_a_shipped_one_compares_beside_it(user_runs, real_data_root, monkeypatch):
    """The README's own `--name '{model}'` makes runs/mlp next to checkpoints/mlp: keys must not clash."""
    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    mine = untrained_run(user_runs / "mlp", "mlp")
    at = open_page("pages/compare.py")
    at.multiselect(key="compare.runs").set_value([*at.multiselect(key="compare.runs").value, str(mine.path)]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("plotly_chart")) == 7  # B − A, curves, four confusion matrices, per-class


@pytest.mark.slow
def test_run_names_are_shown_as_text_never_as_html(user_runs):
    evil = "x`<img src=x onerror=alert(1)>"
    untrained_run(user_runs / evil)
    (user_runs / f"{evil}-damaged").mkdir()
    (user_runs / f"{evil}-damaged" / RUN_FILE).write_text("{ not json")
    at = open_page("pages/draw.py")
    at.session_state[SELECTION_KEY] = {"lenet5": str(user_runs / evil)}
    at.run()
    assert not at.exception
    shown = sidebar_text(at)
    assert "img" in shown and "<img" not in shown.replace("\\<img", "")  # escaped: text, not a tag
    assert "`<" not in shown


def test_training_belongs_to_the_server_survives_a_reload_and_queues_a_second_job(user_runs, real_data_root,
                                                                                   monkeypatch, job_board):
    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    assert job_board.slots == 1  # on this 2-core machine, as on a teacher's laptop
    press_train(open_page("pages/train.py"), ["lenet5"], epochs=100)
    (job,) = job_board.jobs()
    # A reload (a new session) shows the running job with its Stop button.
    reloaded = open_page("pages/train.py")
    assert "Training now" in texts(reloaded) and "LeNet-5" in texts(reloaded)
    assert reloaded.button(key=f"train.stop.{job.id}") is not None

    # Ten sessions pressing Train: one trains, the others wait in a visible line, in order.
    sessions = [open_page("pages/train.py") for _ in range(3)]
    for session in sessions:
        press_train(session, ["mlp"], epochs=1)
    assert len(job_board.running()) == 1 and len(job_board.queued()) == 3
    first, second, third = job_board.queued()
    shown = texts(sessions[1].run())
    assert "Waiting, 1st in line" in shown and "Waiting, 2nd in line" in shown and "3rd in line" in shown
    assert shown.count("· yours") == 1  # only its own job is marked; these are the presenter's sessions (a
    # browser on the server machine), which may cancel any job: a participant cancels only their own (test_app_room)
    assert [b.key for b in sessions[1].button if b.key and b.key.startswith("train.dequeue.")] == [
        f"train.dequeue.{queued.id}" for queued in (first, second, third)]
    sessions[1].button(key=f"train.dequeue.{second.id}").click().run()
    assert job_board.queued() == [first, third] and not sessions[1].exception

    # The other session's Stop button stops the running job; the line moves up, one at a time.
    reloaded.run()
    reloaded.button(key=f"train.stop.{job.id}").click().run()
    assert job.wait(timeout=120)
    (status,) = job.snapshot().statuses
    assert status.state in ("stopped", "saved") and status.epoch < 100
    assert first.wait(timeout=120) and third.wait(timeout=120) and second.started_at is None
    assert job._ended <= first._started and first._ended <= third._started


def test_a_runs_folder_that_cannot_hold_runs_is_reported_before_training(tmp_path, real_data_root, monkeypatch,
                                                                          job_board):
    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MNIST_RUNS_DIR", str(blocker / "runs"))
    at = open_page("pages/train.py")
    at.session_state["train.models"] = ["lenet5"]
    at.button[0].click().run()
    assert not at.exception and "Cannot save runs" in texts(at)
    assert job_board.jobs() == []
    shutil.rmtree(tmp_path / "a-file", ignore_errors=True)


@pytest.mark.parametrize("page, key, extra", [
    ("pages/draw.py", "draw.test_index", {"draw.tab": "Test image"}),
    ("pages/robustness.py", "robustness.example", {}),
    ("pages/compare.py", "compare.explain", {}),
])
@pytest.mark.parametrize("number", ["1e999", "9" * 400, "-inf"])
def test_a_number_too_large_for_a_float_in_the_url_is_dropped(real_data_root, monkeypatch, page, key, extra, number):
    from streamlit.testing.v1 import AppTest

    from tests.support.apptest import APP

    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    at = AppTest.from_file(APP, default_timeout=120)
    for name, value in {key: number, **extra}.items():
        at.query_params[name] = value
    at.run()
    switch_to(at, page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert 0 <= at.number_input(key=key).value < 10_000 and key not in at.query_params  # the page's default


@pytest.mark.slow
def test_reset_nudges_logs_no_warning(monkeypatch):
    import logging

    import streamlit.elements.lib.policies as policies

    monkeypatch.setattr(policies, "_shown_default_value_warning", False)  # Streamlit warns once per process
    logged = []
    handler = logging.Handler()
    handler.emit = lambda record: logged.append(record.getMessage())
    logger = logging.getLogger(policies.__name__)
    logger.addHandler(handler)
    try:
        at = open_page("pages/draw.py")
        at.slider(key="draw.nudge.shift_x").set_value(4).run()
        at.button(key="draw.nudge.reset").click().run()
    finally:
        logger.removeHandler(handler)
    assert at.slider(key="draw.nudge.shift_x").value == 0 and not at.exception
    assert not [message for message in logged if "default value" in message], logged
