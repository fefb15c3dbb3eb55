"""AppTest: "Teach the models with the class's drawings" on the Audience page (the presenter's button, the job, the
table in words, the new runs made the room's) and a class run chosen under the Draw page's "Models in use"."""

from __future__ import annotations

import pytest

from mnist_core import finetune
from mnist_core.audience import AudienceStore
from mnist_core.workspace import Workspace
from tests.support import PROJECT_ROOT
from tests.support.apptest import open_page, sidebar_text, texts
from tests.test_finetune import class_run, fill_store

TEACH = "audience.teach"


@pytest.fixture
def store(tmp_path, monkeypatch, fake_mnist_root):
    path = tmp_path / "audience.sqlite3"
    monkeypatch.setenv("MNIST_AUDIENCE_DB", str(path))
    monkeypatch.setenv("MNIST_DATA_DIR", str(fake_mnist_root))
    monkeypatch.setattr(finetune, "MAX_MNIST_DROP", 100.0)  # 40 fake test images: one is 2.5 points
    return AudienceStore(path)


def unescaped(text: str) -> str:
    return text.replace("\\", "")


def keys(at) -> set[str]:
    return {element.key for element in at.button if element.key}


@pytest.mark.slow
def test_the_presenter_teaches_the_models_and_reads_what_changed(user_runs, store, job_board):
    fill_store(store, 5)
    at = open_page("pages/audience.py")
    assert TEACH in keys(at) and "Teach the models" in [s.value for s in at.header]
    at.button(key=TEACH).click().run()
    assert not at.exception, [e.value for e in at.exception]
    (job,) = job_board.jobs()
    assert isinstance(job, finetune.FinetuneJob) and list(job.starts) == ["mlp", "cnn", "lenet5"]
    assert job.wait(timeout=300)
    at.run()
    shown = unescaped(texts(at))
    for name in ("MLP", "CNN", "LeNet-5"):
        assert f"- {name}: " in shown
    assert shown.count("on the drawings of 3 phones it never saw; MNIST test") == 3 and "McNemar" in shown
    assert len(job.reports) == 3 and all(report.run.name.split("-")[1] == "class" for report in job.reports.values())
    at.button(key="audience.teach.use").click().run()
    assert Workspace(PROJECT_ROOT).room_runs() == {key: str(report.run) for key, report in job.reports.items()}
    draw = open_page("pages/draw.py")
    assert unescaped(sidebar_text(draw)).count("-class-") == 3  # the runs in use, on every page and /join
    at.button(key="audience.teach.undo").click().run()
    assert Workspace(PROJECT_ROOT).room_runs() == {}


@pytest.mark.slow
def test_too_few_drawings_start_nothing_and_say_why(user_runs, store, job_board):
    fill_store(store, 3)
    at = open_page("pages/audience.py")
    at.button(key=TEACH).click().run()
    assert "Too few drawings to teach the models" in unescaped(texts(at)) and not job_board.jobs()


@pytest.mark.slow
def test_only_the_presenter_teaches(user_runs, store, job_board, monkeypatch):
    fill_store(store, 5)
    at = open_page("pages/audience.py")
    monkeypatch.setenv("MNIST_PRESENTER", "key")  # a participant's browser sends the press it was never shown
    at.button(key=TEACH).click().run()
    assert not job_board.jobs() and TEACH not in keys(at)
    assert "Teach the models" in [s.value for s in at.header]  # the results are everyone's, the button is not


@pytest.mark.slow
def test_a_class_run_is_chosen_under_models_in_use(user_runs):
    report = class_run(user_runs)
    at = open_page("pages/draw.py")
    assert "cnn-class-" not in unescaped(sidebar_text(at))
    at.selectbox(key="draw.run.cnn").set_value(str(report.run)).run()
    assert not at.exception and report.run.name in unescaped(sidebar_text(at))
