"""Reading the umask without changing it: other threads' files keep their usual permissions."""

import os
import threading

import pytest

from mnist_core import fileio
from mnist_core.fileio import current_umask


@pytest.fixture
def umask():
    """Set the process's umask for a test, and put the old one back afterwards."""
    previous = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002, 0o000, 0o027])
def test_current_umask_agrees_with_os_umask(umask, mask):
    umask(mask)
    assert current_umask() == mask
    assert os.umask(mask) == mask  # unchanged by reading it


def test_without_proc_the_mask_is_read_under_a_lock_and_put_back(umask, monkeypatch):
    umask(0o027)
    real_open = open

    def no_proc(path, *args, **kwargs):
        if str(path).startswith("/proc/"):
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", no_proc)
    assert fileio.current_umask() == 0o027 and os.umask(0o027) == 0o027


@pytest.mark.slow
def test_files_made_by_another_thread_while_the_umask_is_read_keep_their_permissions(umask, tmp_path):
    """An export reads the umask (to give its files open()'s permissions) while a session writes files:
    reading it with os.umask(0) made those files world-writable for that moment."""
    umask(0o022)
    reading = threading.Event()
    done = threading.Event()

    def export():
        reading.set()
        while not done.is_set():
            current_umask()

    reader = threading.Thread(target=export)
    reader.start()
    try:
        reading.wait(5)
        modes = set()
        for number in range(2000):
            path = tmp_path / f"f{number}"
            with open(path, "w"):
                pass
            modes.add(path.stat().st_mode & 0o777)
    finally:
        done.set()
        reader.join(10)
    assert modes == {0o644}


def test_a_file_is_written_whole_with_open_s_permissions_and_a_planted_link_is_replaced(tmp_path):
    from mnist_core.fileio import current_umask, write_atomically

    target, elsewhere = tmp_path / "record.json", tmp_path / "elsewhere.txt"
    elsewhere.write_text("keep me")
    target.symlink_to(elsewhere)
    write_atomically(target, '{"a": 1}')
    assert target.read_text() == '{"a": 1}' and not target.is_symlink() and elsewhere.read_text() == "keep me"
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~current_umask()
    write_atomically(target, b"\x00\x01", mode=0o600)
    assert target.read_bytes() == b"\x00\x01" and os.stat(target).st_mode & 0o777 == 0o600
    assert sorted(path.name for path in tmp_path.iterdir()) == ["elsewhere.txt", "record.json"]


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary_one(tmp_path):
    from mnist_core.fileio import write_atomically

    target = tmp_path / "record.json"
    target.write_text("old")

    def fails(file):
        file.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        write_atomically(target, fails)
    assert target.read_text() == "old" and [path.name for path in tmp_path.iterdir()] == ["record.json"]


@pytest.mark.slow
def test_two_writers_of_one_stored_sweep_leave_one_whole_file(tmp_path):
    import json
    import threading
    from types import SimpleNamespace

    from mnist_core.robustness import STORED_FILE, write_stored

    run = SimpleNamespace(path=tmp_path, weights_sha256="0" * 64)
    errors = []

    def writer(seed: int) -> None:
        try:
            for _ in range(50):
                write_stored(run, 100, seed, {"shift_x": [0.9] * 2000})  # large: a mixed write would show
        except OSError as error:  # the fixed temporary name made one writer rename the other's file away
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and json.loads((tmp_path / STORED_FILE).read_text())["seed"] in (1, 2)
    assert [path.name for path in tmp_path.iterdir()] == [STORED_FILE]
