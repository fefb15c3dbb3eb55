"""One workspace: the folders, the runs (read again only when a run folder changes), the runs in use, the
door, the lesson and the audience store, as the pages, /join and the command line all reach them."""

from __future__ import annotations

import shutil
import threading

import pytest

from mnist_core import room
from mnist_core.runs import default_runs, find_runs
from mnist_core.workspace import Workspace
from tests.test_seeds import run_with_accuracy


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Workspace:
    for name in ("MNIST_RUNS_DIR", "MNIST_CHECKPOINTS_DIR", "MNIST_AUDIENCE_DB"):
        monkeypatch.delenv(name, raising=False)
    return Workspace(tmp_path)


def test_the_folders_default_inside_the_root_and_follow_the_environment(workspace, tmp_path, monkeypatch):
    assert (workspace.checkpoints, workspace.runs) == (tmp_path / "checkpoints", tmp_path / "runs")
    assert workspace.audience_location == str(tmp_path / "runs" / "audience.sqlite3")
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "elsewhere"))
    assert workspace.runs == tmp_path / "elsewhere"  # read on every call: no restart for a new setting
    assert workspace.audience_location == str(tmp_path / "elsewhere" / "audience.sqlite3")
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "mnist"))
    assert workspace.data() == tmp_path / "mnist" and workspace.data(tmp_path / "x") == tmp_path / "x"


def test_the_runs_are_read_again_only_when_a_run_folder_changes(workspace, monkeypatch):
    first = run_with_accuracy(workspace.runs, "cnn", 0, 0.99)
    reads = []
    real = find_runs

    def counting(*folders):
        reads.append(folders)
        return real(*folders)

    monkeypatch.setattr("mnist_core.workspace.find_runs", counting)
    runs, errors = workspace.find_runs()
    assert [run.path for run in runs] == [first.path] and errors == [] and len(reads) == 1
    workspace.find_runs()
    assert len(reads) == 1  # the same folders: the listing kept
    second = run_with_accuracy(workspace.runs, "cnn", 1, 0.98)
    assert {run.path for run in workspace.find_runs()[0]} == {first.path, second.path} and len(reads) == 2
    shutil.rmtree(first.path)
    assert [run.path for run in workspace.find_runs()[0]] == [second.path] and len(reads) == 3


def test_the_runs_in_use_are_the_one_rule_of_default_runs(workspace):
    older = run_with_accuracy(workspace.runs, "cnn", 0, 0.99)
    newer = run_with_accuracy(workspace.runs, "cnn", 1, 0.98)
    shipped = run_with_accuracy(workspace.checkpoints, "mlp", 0, 0.97).path.rename(workspace.checkpoints / "mlp")

    def folders(runs):
        return {key: run.path for key, run in runs.items()}

    runs = find_runs(workspace.checkpoints, workspace.runs)[0]
    assert folders(workspace.runs_in_use()) == folders(default_runs(runs, workspace.checkpoints))
    assert folders(workspace.runs_in_use()) == {"mlp": shipped, "cnn": newer.path}
    assert workspace.runs_in_use({"cnn": str(older.path)})["cnn"].path == older.path
    assert workspace.is_shipped(workspace.runs_in_use()["mlp"]) and not workspace.is_shipped(older)


def test_one_store_object_per_location(workspace, tmp_path, monkeypatch):
    store = workspace.audience_store()
    assert workspace.audience_store() is store
    monkeypatch.setenv("MNIST_AUDIENCE_DB", str(tmp_path / "other.sqlite3"))
    other = workspace.audience_store()
    assert other is not store and workspace.audience_store() is other


def test_the_door_is_read_once_per_setting_and_two_first_callers_share_its_key(workspace, monkeypatch):
    monkeypatch.delenv(room.PRESENTER_KEY_ENV, raising=False)
    doors = []
    callers = [threading.Thread(target=lambda: doors.append(workspace.door())) for _ in range(8)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert len({door.key for door in doors}) == 1 and workspace.door() is doors[0]
    assert (workspace.runs / room.KEY_FILE).read_text().strip() == doors[0].key
    monkeypatch.setenv(room.PRESENTER_KEY_ENV, "another-key-of-sixteen")
    assert workspace.door().key == "another-key-of-sixteen"


def test_ending_a_lesson_counts_up(workspace):
    assert workspace.lesson == 0
    workspace.new_lesson()
    workspace.new_lesson()
    assert workspace.lesson == 2
