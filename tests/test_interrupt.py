"""A training process killed mid-way leaves no run behind and touches no existing run."""

import signal
import subprocess
import sys
import time

from mnist_core.runs import find_runs, read_run
from tests.conftest import PROJECT_ROOT, write_fake_mnist


def train_command(data_root, out, epochs):
    return [sys.executable, "-m", "mnist_core", "train", "--model", "mlp", "--recipe", "tutorial",
            "--epochs", str(epochs), "--batch-size", "10", "--data-dir", str(data_root), "--out", str(out)]


def test_killing_training_leaves_no_half_written_run(tmp_path):
    data_root = write_fake_mnist(tmp_path / "mnist", train=2000, test=100)
    out = tmp_path / "runs"
    subprocess.run(train_command(data_root, out, 1), check=True, capture_output=True, timeout=120, cwd=PROJECT_ROOT)
    (existing,) = find_runs(out)[0]
    before = {path.name: path.read_bytes() for path in existing.path.iterdir()}

    process = subprocess.Popen(train_command(data_root, out, 500), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=PROJECT_ROOT)
    time.sleep(6)  # well into training
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    runs, damaged = find_runs(out)
    assert [run.path for run in runs] == [existing.path] and damaged == []
    assert {path.name: path.read_bytes() for path in existing.path.iterdir()} == before

    again = subprocess.run(train_command(data_root, out, 1), capture_output=True, text=True, timeout=120,
                           cwd=PROJECT_ROOT)
    assert again.returncode == 0, again.stderr
    assert len(find_runs(out)[0]) == 2 and read_run(existing.path).model == "mlp"


def test_ctrl_c_says_nothing_was_saved(tmp_path):
    data_root = write_fake_mnist(tmp_path / "mnist", train=2000, test=100)
    process = subprocess.Popen(train_command(data_root, tmp_path / "runs", 500), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
    time.sleep(6)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130 and "Interrupted" in err and "Traceback" not in err
    assert find_runs(tmp_path / "runs") == ([], [])
