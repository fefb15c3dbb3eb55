"""AppTest: the presenter and the participants on the Audience and Train pages.

AppTest runs a page with no connection, which the door treats as a browser on the server machine: the
presenter. ``MNIST_PRESENTER=key`` makes even that browser need the key, so without the cookie the same
page is a participant's. A participant's browser can send any widget event; the tests that switch the
setting between showing a button and pressing it check that the code behind the button refuses too.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from mnist_core.audience import AudienceStore
from mnist_core.room import load_settings
from tests.support.apptest import open_page, texts


@pytest.fixture
def audience(tmp_path, monkeypatch):
    path = tmp_path / "audience.sqlite3"
    monkeypatch.setenv("MNIST_AUDIENCE_DB", str(path))
    store = AudienceStore(path)
    for index, (label, said, session) in enumerate([(8, 0, "prankster"), (8, 0, "prankster"), (3, 3, "student")]):
        store.add(label=label, canvas_png=f"drawing {index}".encode(), pixels=np.zeros((28, 28), np.uint8),
                  answers={key: np.eye(10)[said] for key in ("mlp", "cnn", "lenet5")}, runs={}, session=session)
    return store


def as_participant(monkeypatch) -> None:
    monkeypatch.setenv("MNIST_PRESENTER", "key")


def keys(at) -> set[str]:
    return {element.key for element in (*at.button, *at.toggle) if element.key}


@pytest.mark.slow
def test_a_participant_sees_the_scores_but_no_control_of_the_rooms_drawings(user_runs, audience, monkeypatch):
    as_participant(monkeypatch)
    at = open_page("pages/audience.py")
    assert "3 drawings from 2 sessions" in texts(at) and "the presenter's" in texts(at) and "/join" in texts(at)
    assert not {key for key in keys(at) if key.startswith(("audience.", "room."))}
    assert not at.get("link_button")  # no Export


@pytest.mark.slow
def test_the_presenter_hides_a_phone_and_shows_it_again(user_runs, audience):
    at = open_page("pages/audience.py")
    assert [m.value for m in at.metric] == ["33.3%"] * 3
    prankster = next(phone for phone in audience.phones() if phone.session == "prankster")
    assert prankster.nickname in texts(at)
    at.button(key="audience.hide_phone.prankster").click().run()
    assert [m.value for m in at.metric] == ["100.0%"] * 3 and "2 drawings hidden by the presenter" in texts(at)
    at.button(key="audience.hide_phone.prankster").click().run()  # now "Show again"
    assert [m.value for m in at.metric] == ["33.3%"] * 3


@pytest.mark.slow
def test_the_presenter_hides_one_drawing(user_runs, audience):
    at = open_page("pages/audience.py")
    at.button(key="audience.hide.1").click().run()
    assert audience.summary().hidden == 1 and "1 drawing hidden by the presenter" in texts(at)


@pytest.mark.slow
def test_a_participants_event_on_a_presenters_button_is_refused(user_runs, audience, monkeypatch):
    at = open_page("pages/audience.py")  # shown as the presenter's page …
    as_participant(monkeypatch)  # … but the press comes from a participant
    at.button(key="audience.hide_phone.prankster").click().run()
    assert audience.summary().hidden == 0 and "audience.clear" not in keys(at)
    monkeypatch.delenv("MNIST_PRESENTER")
    at.run()
    at.button(key="audience.clear").click().run()
    as_participant(monkeypatch)
    at.button(key="audience.clear.confirm").click().run()
    assert audience.count() == 3


@pytest.mark.slow
def test_review_first_holds_misread_drawings_off_the_projector_until_approved(user_runs, audience):
    at = open_page("pages/audience.py")
    at.toggle(key="room.review_first").set_value(True).run()
    assert load_settings().review_first  # in the runs folder: every session and a restart see it
    assert "None approved yet" in texts(at)
    at.button(key="audience.approve.2").click().run()
    assert "drawing 2" in "\n".join(block.proto.body for block in at.get("html"))
    assert [d.id for d in audience.misread(approved=True)] == [2]


@pytest.mark.slow
def test_ending_the_lesson_offers_the_export_then_deletes_after_confirmation(user_runs, audience):
    at = open_page("pages/audience.py")
    assert "Drawings are kept 7 days and then deleted" in texts(at)
    at.button(key="audience.end").click().run()
    assert "End the lesson" in texts(at) and audience.count() == 3
    assert [link.proto.url for link in at.get("link_button")] == ["/audience/export.zip"] * 2
    at.button(key="audience.end.confirm").click().run()
    assert audience.count() == 0


@pytest.fixture
def fake_data(fake_mnist_root, monkeypatch):
    """The tiny fake MNIST, and trainings that run until they are stopped (then fail: nothing is saved)."""
    import mnist_core.jobs
    from mnist_core.data import load_mnist

    def train_until_stopped(key, data, config, on_progress, should_stop):
        while not should_stop():
            time.sleep(0.02)
        raise RuntimeError("stopped by the test")

    monkeypatch.setattr(mnist_core.jobs, "train_model", train_until_stopped)
    monkeypatch.setenv("MNIST_DATA_DIR", str(fake_mnist_root))
    return load_mnist(fake_mnist_root, download=False)


def a_job(data, owner: str, folder):
    from mnist_core.jobs import TrainingJob, save_to_folder
    from mnist_core.models import recipe_config

    return TrainingJob({"mlp": recipe_config("mlp", "tutorial", epochs=1)}, data, save_to_folder(folder), owner=owner)


@pytest.mark.slow
def test_a_participant_sees_the_trainings_but_cannot_train_stop_or_cancel(user_runs, fake_data, job_board,
                                                                            monkeypatch):
    running, waiting = a_job(fake_data, "teacher", user_runs), a_job(fake_data, "teacher-2", user_runs)
    job_board.submit(running)
    job_board.submit(waiting)
    as_participant(monkeypatch)
    at = open_page("pages/train.py")
    assert "training is the presenter's" in texts(at) and "/join" in texts(at)
    assert "Training now" in texts(at) and "Waiting, 1st in line" in texts(at)
    assert not any(key.startswith(("train.stop.", "train.dequeue.")) for key in keys(at))
    assert not at.get("form") and not running.stopping and job_board.place(waiting) == 1


@pytest.mark.slow
def test_the_presenter_stops_and_cancels_anyones_training(user_runs, fake_data, job_board):
    running = a_job(fake_data, "participant-192.0.2.9", user_runs)
    waiting = a_job(fake_data, "participant-192.0.2.8", user_runs)
    job_board.submit(running)
    job_board.submit(waiting)
    at = open_page("pages/train.py")
    at.button(key=f"train.dequeue.{waiting.id}").click().run()
    assert job_board.place(waiting) is None
    at.button(key=f"train.stop.{running.id}").click().run()
    assert running.stopping


@pytest.mark.slow
def test_in_a_computer_lab_a_participant_trains_one_job_at_a_time(user_runs, fake_data, job_board, monkeypatch):
    from mnist_core.room import RoomSettings, save_settings
    from tests.support.apptest import press_train

    save_settings(RoomSettings(participants_train=True))
    as_participant(monkeypatch)
    at = open_page("pages/train.py")
    at.session_state["train.recipe"] = "tutorial"
    at = press_train(at, ["mlp"], epochs=1, subset=1_000)
    (job,) = job_board.jobs()
    assert job.owner.startswith("participant-")
    at = press_train(at, ["cnn"], epochs=1, subset=1_000)
    assert "one at a time each" in texts(at) and len(job_board.jobs()) == 1
    assert f"train.stop.{job.id}" in keys(at)  # their own: they may stop it


@pytest.mark.slow
def test_after_a_restart_the_train_page_says_which_trainings_were_lost(user_runs, fake_data, job_board):
    from dashboard.job_view import job_board as the_board
    from mnist_core.jobs import JOBS_RECORD_FILE, JobBoard

    before_restart = JobBoard(slots=1, record=user_runs / JOBS_RECORD_FILE)
    running = a_job(fake_data, "teacher", user_runs)
    before_restart.submit(running)
    before_restart.submit(a_job(fake_data, "teacher", user_runs))
    try:
        the_board.clear()  # the server restarts: a new board reads what the old one left
        at = open_page("pages/train.py")
        assert "2 trainings were interrupted by a restart of the server: MLP · tutorial recipe · training since" \
            in texts(at)
        assert "waiting since" in texts(at)
    finally:
        for job in before_restart.jobs():
            job.stop()
            job.wait(timeout=60)


@pytest.mark.slow
def test_the_overview_links_to_train_only_those_who_may_train(user_runs, monkeypatch):
    def links(at) -> list[str]:
        return [element.proto.label for element in at.get("page_link")]

    assert "Train new runs" in links(open_page())
    as_participant(monkeypatch)
    assert "Train new runs" not in links(open_page()) and "Draw your own digits" in links(open_page())
