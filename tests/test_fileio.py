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
