"""Background training jobs: progress, Stop, failures, and the line of jobs waiting for a slot."""

import threading

import pytest

from mnist_core.data import load_mnist
from mnist_core.jobs import (
    FAILED,
    SAVED,
    STOPPED,
    TRAINING_SLOTS_ENV,
    JobBoard,
    TrainingJob,
    default_training_slots,
    save_to_folder,
)
from mnist_core.models import recipe_config
from mnist_core.runs import find_runs, read_run


def tiny_configs(*keys, epochs=2):
    return {key: recipe_config(key, "tutorial", epochs=epochs, batch_size=40) for key in keys}


@pytest.mark.slow
def test_a_job_trains_each_model_and_saves_a_run(fake_mnist_root, tmp_path):
    data = load_mnist(fake_mnist_root, download=False)
    job = TrainingJob(tiny_configs("mlp", "lenet5"), data, save_to_folder(tmp_path)).start()
    assert job.wait(timeout=120)
    snapshot = job.snapshot()
    assert snapshot.finished and [s.state for s in snapshot.statuses] == [SAVED, SAVED]
    assert all(s.fraction == 1.0 and len(s.history) == 2 for s in snapshot.statuses)
    assert sorted(read_run(path).model_key for path in snapshot.saved_runs) == ["lenet5", "mlp"]


def test_stop_keeps_finished_epochs_and_skips_the_rest(fake_mnist_root, tmp_path):
    data = load_mnist(fake_mnist_root, download=False)
    saves = []

    def save_then_stop(key, result):
        saves.append((key, len(result.history), result.stopped))
        return save_to_folder(tmp_path)(key, result)

    job = TrainingJob(tiny_configs("mlp", "cnn", epochs=50), data, save_then_stop)
    original = job._update

    def stop_after_two_epochs(key, **changes):  # press Stop once the MLP has two epochs
        original(key, **changes)
        if len(changes.get("history", ())) == 2:
            job.stop()

    job._update = stop_after_two_epochs
    job.start()
    assert job.wait(timeout=120)
    mlp, cnn = job.snapshot().statuses
    assert mlp.state == STOPPED and "2 of 50 epochs" in mlp.message and mlp.run_path is not None
    assert read_run(mlp.run_path).stopped_early
    assert cnn.state == STOPPED and cnn.run_path is None
    assert saves == [("mlp", 2, True)]


def test_stop_during_the_first_epoch_saves_nothing(fake_mnist_root, tmp_path):
    data = load_mnist(fake_mnist_root, download=False)
    job = TrainingJob(tiny_configs("mlp"), data, save_to_folder(tmp_path))
    job.stop()
    job.start()
    assert job.wait(timeout=60)
    (status,) = job.snapshot().statuses
    assert status.state == STOPPED and status.run_path is None
    assert find_runs(tmp_path) == ([], [])


def test_a_failing_save_is_reported_not_raised(fake_mnist_root, tmp_path):
    data = load_mnist(fake_mnist_root, download=False)

    def disk_full(key, result):
        raise OSError(28, "No space left on device")

    job = TrainingJob(tiny_configs("mlp", "lenet5", epochs=1), data, disk_full).start()
    assert job.wait(timeout=60)
    statuses = job.snapshot().statuses
    assert [s.state for s in statuses] == [FAILED, FAILED]
    assert "No space left" in statuses[0].message


def test_two_jobs_at_once_get_their_own_runs(fake_mnist_root, tmp_path):
    data = load_mnist(fake_mnist_root, download=False)
    jobs = [TrainingJob(tiny_configs("mlp", epochs=1), data, save_to_folder(tmp_path)) for _ in range(2)]
    barrier = threading.Barrier(2)
    for job in jobs:
        barrier_wait = job.save

        def save(key, result, inner=barrier_wait):
            barrier.wait(timeout=30)  # both save in the same second: same default folder name
            return inner(key, result)

        job.save = save
        job.start()
    assert all(job.wait(timeout=120) for job in jobs)
    paths = [job.snapshot().saved_runs[0] for job in jobs]
    assert paths[0] != paths[1]
    runs, damaged = find_runs(tmp_path)
    assert len(runs) == 2 and damaged == []


def test_a_diverging_model_fails_with_a_reason_and_saves_nothing(fake_mnist_root, tmp_path):
    data = load_mnist(fake_mnist_root, download=False)
    configs = {"mlp": recipe_config("mlp", "tutorial", epochs=2, batch_size=40, learning_rate=1e30)}
    job = TrainingJob(configs, data, save_to_folder(tmp_path)).start()
    assert job.wait(timeout=60)
    (status,) = job.snapshot().statuses
    assert status.state == FAILED and "Diverged" in status.message and status.run_path is None
    assert find_runs(tmp_path) == ([], [])


def test_the_board_lists_every_job_newest_first_and_forgets_old_finished_ones(fake_mnist_root, tmp_path):
    data = load_mnist(fake_mnist_root, download=False)
    board = JobBoard(slots=1, keep_finished=2)
    jobs = []
    for _ in range(3):
        jobs.append(TrainingJob(tiny_configs("mlp", epochs=1), data, save_to_folder(tmp_path)))
        assert board.submit(jobs[-1]) == 0 and jobs[-1].wait(timeout=60)
    assert board.jobs() == [jobs[2], jobs[1]] and board.running() == []


def test_jobs_beyond_the_slots_wait_in_line_and_start_in_turn(fake_mnist_root, tmp_path):
    data = load_mnist(fake_mnist_root, download=False)
    board = JobBoard(slots=1)
    slow = TrainingJob(tiny_configs("mlp", epochs=500), data, save_to_folder(tmp_path), owner="a")
    second, third, fourth, again = (TrainingJob(tiny_configs("lenet5", epochs=1), data, save_to_folder(tmp_path),
                                                owner=owner) for owner in ("b", "c", "d", "b"))
    try:
        assert board.submit(slow) == 0 and board.running() == [slow]
        assert [board.submit(job) for job in (second, third, fourth)] == [1, 2, 3]
        with pytest.raises(ValueError, match=r"already have a training waiting \(1st in line\): cancel it first"):
            board.submit(again)  # one waiting job per session keeps the line fair
        assert board.queued() == [second, third, fourth] and board.running() == [slow]
        assert second.snapshot().queued and not second.snapshot().finished and second.started_at is None
        assert not board.cancel(fourth, owner="b")  # only the session that queued it
        assert board.cancel(fourth, owner="d") and fourth not in board.jobs() and board.place(fourth) is None
        assert board.place(third) == 2 and board.place(slow) == 0
        slow.stop()
        assert slow.wait(timeout=60) and second.wait(timeout=60) and third.wait(timeout=60)
        # One at a time: each started after the one before it had ended.
        assert slow._ended <= second._started and second._ended <= third._started
        assert [job.snapshot().statuses[0].state for job in (second, third)] == [SAVED, SAVED]
        assert fourth.started_at is None and board.queued() == []
    finally:
        for job in (slow, second, third, fourth):
            job.stop()
            job.wait(timeout=60)


def test_a_job_whose_thread_cannot_start_fails_and_frees_its_slot(fake_mnist_root, tmp_path, monkeypatch):
    data = load_mnist(fake_mnist_root, download=False)
    board = JobBoard(slots=1)
    refused = TrainingJob(tiny_configs("mlp", epochs=1), data, save_to_folder(tmp_path))
    original = threading.Thread.start

    def start_once_refused(thread):
        monkeypatch.setattr(threading.Thread, "start", original)
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", start_once_refused)
    assert board.submit(refused) == 0 and refused.wait(timeout=1)
    (status,) = refused.snapshot().statuses
    assert status.state == FAILED and "can't start new thread" in status.message
    after = TrainingJob(tiny_configs("mlp", epochs=1), data, save_to_folder(tmp_path))
    assert board.submit(after) == 0 and after.wait(timeout=60)  # the slot was not held


def test_each_job_trains_on_its_share_of_the_cores(fake_mnist_root, tmp_path, monkeypatch):
    monkeypatch.setattr("mnist_core.jobs.available_cores", lambda: 8)
    data = load_mnist(fake_mnist_root, download=False)
    board = JobBoard(slots=2)
    job = TrainingJob(tiny_configs("mlp", epochs=1), data, save_to_folder(tmp_path))
    assert board.submit(job) == 0 and job.wait(timeout=60) and job.threads == 4


def test_the_number_of_slots_is_a_setting(monkeypatch):
    monkeypatch.setattr("mnist_core.jobs.available_cores", lambda: 2)
    monkeypatch.delenv(TRAINING_SLOTS_ENV, raising=False)
    assert default_training_slots() == 1 and JobBoard().slots == 1
    monkeypatch.setattr("mnist_core.jobs.available_cores", lambda: 16)
    assert default_training_slots() == 4
    monkeypatch.setenv(TRAINING_SLOTS_ENV, "3")
    assert JobBoard().slots == 3
    for bad in ("0", "x", "-1", "1e9"):
        monkeypatch.setenv(TRAINING_SLOTS_ENV, bad)
        with pytest.raises(ValueError, match=f"{TRAINING_SLOTS_ENV} must be a whole number of at least 1"):
            default_training_slots()


def test_sessions_pressing_train_at_once_start_only_as_many_jobs_as_there_are_slots(fake_mnist_root, tmp_path):
    data = load_mnist(fake_mnist_root, download=False)
    board = JobBoard(slots=2)
    jobs = [TrainingJob(tiny_configs("mlp", epochs=500), data, save_to_folder(tmp_path)) for _ in range(8)]
    barrier = threading.Barrier(len(jobs))
    places = []

    def press_train(job):
        barrier.wait(timeout=30)
        places.append(board.submit(job))

    threads = [threading.Thread(target=press_train, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert sorted(places) == [0, 0, 1, 2, 3, 4, 5, 6] and len(board.running()) == 2
    finally:
        for job in board.queued():
            board.cancel(job, owner=None)
        for job in board.jobs():
            job.stop()
            job.wait(timeout=60)


def test_the_canvas_style_digits_are_announced_while_they_are_made(fake_mnist_root, tmp_path, monkeypatch):
    from mnist_core import training

    monkeypatch.setattr(training, "_drawn_cache", {})
    monkeypatch.setattr(training, "_DRAWN_CHUNK", 40)
    data = load_mnist(fake_mnist_root, download=False)
    configs = {"mlp": recipe_config("mlp", "tutorial", epochs=1, batch_size=40, as_drawn=0.5)}
    job = TrainingJob(configs, data, save_to_folder(tmp_path))
    messages = []
    original = job._update

    def record(key, **changes):
        if "message" in changes:
            messages.append(changes["message"])
        original(key, **changes)

    job._update = record
    assert job.start().wait(timeout=120)
    announced = [m for m in messages if m.startswith("Preparing the canvas-style training images")]
    assert [m.split(": ")[1].split(" ")[0] for m in announced] == ["33%", "67%", "100%"]  # 120 images, 40 at a time
    status = job.snapshot().statuses[0]
    assert status.state == SAVED and status.message == ""  # the announcement ends when training begins


def test_a_running_model_says_how_long_it_has_run_and_about_how_long_is_left():
    from dashboard.job_view import elapsed_and_left
    from mnist_core.jobs import RUNNING, ModelStatus

    assert ModelStatus("mlp").timing(100.0) is None  # waiting: nothing to say
    just_started = ModelStatus("mlp", state=RUNNING, fraction=0.01, phase_started=90.0)
    assert just_started.timing(100.0) == (10.0, None)
    assert elapsed_and_left(10.0, None) == "10 s so far, estimating what is left"
    training = ModelStatus("mlp", state=RUNNING, fraction=0.25, phase_started=40.0)
    assert training.timing(100.0) == (60.0, 180.0)
    assert elapsed_and_left(60.0, 180.0) == "1 min 00 s so far, about 3 min 00 s left"
    preparing = ModelStatus("mlp", state=RUNNING, fraction=0.0, preparing=0.5, phase_started=80.0)
    assert preparing.timing(100.0) == (20.0, 20.0)  # the preparation's own progress


def test_a_server_restart_tells_which_trainings_it_interrupted(fake_mnist_root, tmp_path):
    """The board keeps its running and waiting jobs in a file; the next process's board reads them, once."""
    import time

    from mnist_core.jobs import JOBS_RECORD_FILE, RUNNING, WAITING, InterruptedJob

    data = load_mnist(fake_mnist_root, download=False)
    record = tmp_path / JOBS_RECORD_FILE
    board = JobBoard(slots=1, record=record)
    assert board.interrupted == [] and not record.exists()
    slow = TrainingJob(tiny_configs("mlp", epochs=500), data, save_to_folder(tmp_path), owner="a")
    group = TrainingJob(tiny_configs("lenet5", "cnn", epochs=1), data, save_to_folder(tmp_path), owner="b",
                        seeds=(0, 1, 2))
    try:
        assert board.submit(slow) == 0 and board.submit(group) == 1
        restarted = JobBoard(slots=1, record=record)  # as the next server process would, the old one gone
    finally:
        group.stop()
        slow.stop()
        assert slow.wait(timeout=60) and group.wait(timeout=60)
    now = time.time()
    running, waiting = restarted.interrupted
    assert running == InterruptedJob(("MLP",), "tutorial", None, RUNNING, slow.started_at)
    assert waiting == InterruptedJob(("LeNet-5", "CNN"), "tutorial", (0, 1, 2), WAITING, group.queued_at)
    assert now - 60 < waiting.since <= now
    clock = time.strftime("%H:%M", time.localtime(slow.started_at))
    assert running.description == f"MLP · tutorial recipe · training since {clock}"
    assert waiting.description.startswith("LeNet-5, CNN × 3 seeds · tutorial recipe · waiting since ")
    assert JobBoard(record=record).interrupted == []  # said once: the record was cleared
    assert not record.exists()  # every job ended: nothing left to tell


@pytest.mark.parametrize("content", [b"{not json", b"[1, {}, {\"models\": \"MLP\"}]", b"{}", b"[" * 100_000,
                                     b'[{"models": ["MLP"], "recipe": "best", "seeds": null, "state": "running", '
                                     b'"since": NaN}]', b" " * 1_000_001])
def test_a_damaged_jobs_record_is_ignored_and_cleared(content, tmp_path):
    record = tmp_path / "jobs.json"
    record.write_bytes(content)
    assert JobBoard(record=record).interrupted == [] and not record.exists()


def test_a_jobs_record_that_cannot_be_written_does_not_stop_training(fake_mnist_root, tmp_path):
    (tmp_path / "a-file").write_text("")
    board = JobBoard(slots=1, record=tmp_path / "a-file" / "jobs.json")  # under a file: never writable
    job = TrainingJob(tiny_configs("mlp", epochs=1), load_mnist(fake_mnist_root, download=False),
                      save_to_folder(tmp_path))
    assert board.submit(job) == 0 and job.wait(timeout=60)
    assert job.snapshot().statuses[0].state == SAVED


def test_one_at_a_time_holds_when_two_tabs_press_train_together(fake_mnist_root, tmp_path, monkeypatch):
    import mnist_core.jobs

    release = threading.Event()

    def train_until_released(key, data, config, on_progress, should_stop):
        release.wait(60)
        raise RuntimeError("released by the test")

    monkeypatch.setattr(mnist_core.jobs, "train_model", train_until_released)
    data = load_mnist(fake_mnist_root, download=False)
    board = JobBoard(slots=4)
    outcomes, start = [], threading.Barrier(2)

    def press():
        start.wait()
        try:
            outcomes.append(board.submit(TrainingJob(tiny_configs("mlp"), data, save_to_folder(tmp_path),
                                                     owner="participant-192.0.2.9"), one_at_a_time=True))
        except ValueError as error:
            outcomes.append(str(error))

    tabs = [threading.Thread(target=press) for _ in range(2)]
    for tab in tabs:
        tab.start()
    for tab in tabs:
        tab.join()
    release.set()
    assert sorted(map(str, outcomes))[0] == "0" and "one at a time each" in sorted(map(str, outcomes))[1]
    assert len(board.jobs()) == 1
    for job in board.jobs():
        job.wait(timeout=60)
