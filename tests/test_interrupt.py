"""A training process killed mid-way leaves no run behind and touches no existing run."""

import signal
import subprocess
import sys
import threading
import time

import pytest

from mnist_core.runs import find_runs, read_run
from tests.support import PROJECT_ROOT
from tests.support.mnist_files import write_fake_mnist

pytestmark = pytest.mark.slow  # each test starts training processes and waits on them

# ``python -m mnist_core``, with Ctrl-C handled as in a terminal even when the tests themselves run in
# the background (a shell starts background jobs with SIGINT ignored, and their children inherit that).
_CLI_WITH_CTRL_C = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
                    "runpy.run_module('mnist_core', run_name='__main__', alter_sys=True)")


def train_command(data_root, out, epochs):
    return [sys.executable, "-c", _CLI_WITH_CTRL_C, "train", "--model", "mlp", "--recipe", "tutorial",
            "--epochs", str(epochs), "--batch-size", "10", "--data-dir", str(data_root), "--out", str(out)]


def start_and_wait_for_training(command, timeout=120) -> tuple[subprocess.Popen, bytearray, threading.Thread]:
    """Start ``command`` and return once its progress bar shows a training loss (batches are running).

    Also returns the buffer its standard error is collected into, and the thread that collects it."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=PROJECT_ROOT)
    stderr = bytearray()

    def collect():
        while chunk := process.stderr.read1(4096):
            stderr.extend(chunk)

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while b"loss" not in stderr:  # the bar's postfix appears after the first batches
        assert process.poll() is None, f"training ended early: {bytes(stderr).decode(errors='replace')}"
        assert time.monotonic() < deadline, "training did not start"
        time.sleep(0.05)
    return process, stderr, reader


def test_killing_training_leaves_no_half_written_run(tmp_path):
    data_root = write_fake_mnist(tmp_path / "mnist", train=2000, test=100)
    out = tmp_path / "runs"
    subprocess.run(train_command(data_root, out, 1), check=True, capture_output=True, timeout=120, cwd=PROJECT_ROOT)
    (existing,) = find_runs(out)[0]
    before = {path.name: path.read_bytes() for path in existing.path.iterdir()}

    process, _, _ = start_and_wait_for_training(train_command(data_root, out, 500))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    runs, damaged = find_runs(out)
    assert [run.path for run in runs] == [existing.path] and damaged == []
    assert {path.name: path.read_bytes() for path in existing.path.iterdir()} == before

    again = subprocess.run(train_command(data_root, out, 1), capture_output=True, text=True, timeout=120,
                           cwd=PROJECT_ROOT)
    assert again.returncode == 0, again.stderr
    assert len(find_runs(out)[0]) == 2 and read_run(existing.path).model_key == "mlp"


def test_ctrl_c_says_nothing_was_saved(tmp_path):
    data_root = write_fake_mnist(tmp_path / "mnist", train=2000, test=100)
    process, stderr, reader = start_and_wait_for_training(train_command(data_root, tmp_path / "runs", 500))
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    finally:
        process.kill()  # never left training 500 epochs behind the suite
    reader.join(timeout=10)  # it ends at the end of the stream
    err = bytes(stderr).decode(errors="replace")
    assert process.returncode == 130 and "Interrupted" in err and "Traceback" not in err
    assert find_runs(tmp_path / "runs") == ([], [])
