"""Seed groups when things go wrong: a wrong cluster address, a cluster left on this machine, seeds that all
scored the same, two groups saving at once, damaged member runs, absurd seed counts."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mnist_core.cli import main
from mnist_core.models import MODEL_KEYS, build_model
from mnist_core.runs import find_runs, save_run
from mnist_core.seed_groups import check_reachable
from mnist_core.seeds import compare_groups, group_runs, seed_ranking_sentence
from tests.support import PROJECT_ROOT
from tests.test_seeds import run_with_accuracy

QUICK_GROUP = ["train", "--model", "mlp", "--recipe", "tutorial", "--epochs", "1", "--batch-size", "40"]


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.mark.slow
def test_an_address_where_a_web_server_answers_is_one_message_within_seconds(tmp_path, fake_mnist_root):
    """RAY_ADDRESS naming a web server: Ray alone retried for about ten minutes without a word."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"127.0.0.1:{server.server_port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_")} | {"RAY_ADDRESS": address}
    command = [sys.executable, "-m", "mnist_core", *QUICK_GROUP, "--seeds", "2", "--data-dir", str(fake_mnist_root),
               "--out", str(tmp_path / "runs")]
    started = time.monotonic()
    try:
        done = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=90)
    finally:
        server.shutdown()
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert f"error: {address} answers as a web server: it is not a Ray cluster" in done.stderr
    assert "unset RAY_ADDRESS" in done.stderr and done.stderr.strip().count("\n") == 0  # that line alone
    assert time.monotonic() - started < 60 and find_runs(tmp_path / "runs") == ([], [])


@pytest.mark.slow
def test_a_silent_server_or_a_dashboard_address_is_refused_by_name():
    with socket.socket() as silent:  # accepts connections (the backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(ValueError, match=f"{address} says nothing in 0.5 s: it is not a Ray cluster"):
            check_reachable(address, seconds=0.5)
        assert time.monotonic() - started < 5
    with pytest.raises(ValueError, match="is a web address .Ray's dashboard.*HOST:6379"):
        check_reachable("http://127.0.0.1:8265")


@pytest.mark.ray
def test_a_cluster_left_on_this_machine_does_not_stop_a_local_seed_group(tmp_path, fake_mnist_root, monkeypatch,
                                                                         capsys):
    """`ray start --head` leaves its address where ray.init(address=None) looks (<temp>/ray/ray_current_cluster):
    it joined that cluster and refused num_cpus. Without RAY_ADDRESS, a seed group starts a Ray of its own."""
    temp = Path(tempfile.mkdtemp(prefix="rt-", dir="/tmp"))  # short: the local Ray's sockets live under it
    (temp / "ray").mkdir()
    (temp / "ray" / "ray_current_cluster").write_text("127.0.0.1:1")  # as `ray start` writes it
    monkeypatch.setenv("RAY_TMPDIR", str(temp))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    try:
        assert main([*QUICK_GROUP, "--seeds", "1", "--data-dir", str(fake_mnist_root),
                     "--out", str(tmp_path / "runs")]) == 0, capsys.readouterr().err
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    assert "1 of 1 runs saved" in capsys.readouterr().out


@pytest.mark.slow
def test_seeds_that_all_scored_the_same_cannot_be_tested(tmp_path, fake_mnist_root, capsys):
    """Welch's t on groups without spread is infinite: p = 0 named a winner that one more seed could overturn."""
    for seed in range(3):
        run_with_accuracy(tmp_path, "mlp", seed, 0.98)
        run_with_accuracy(tmp_path, "lenet5", seed, 0.99)
    groups = group_runs(find_runs(tmp_path)[0])
    (pair,) = compare_groups(groups)
    assert (pair.verdict, pair.p, pair.ci95) == ("no spread: cannot test", None, None) and pair.winner is None
    assert pair.sentence().endswith("every seed of each scoring the same — no spread: cannot test")
    ranking = seed_ranking_sentence(groups, [pair])
    assert ranking.startswith("LeNet-5 and MLP cannot be ranked (no spread: cannot test)")
    assert "better" not in ranking and "level" not in ranking and "beat" not in ranking
    assert main(["seeds", "--json", "--runs", str(tmp_path), "--data-dir", str(fake_mnist_root)]) == 0
    (reported,) = json.loads(capsys.readouterr().out)["pairs"]
    assert reported["verdict"] == "no spread: cannot test" and reported["p"] is None and reported["p_holm"] is None


def test_a_group_of_one_seed_cannot_tell(tmp_path):
    run_with_accuracy(tmp_path, "mlp", 0, 0.95)
    for seed, accuracy in enumerate((0.990, 0.991, 0.992)):
        run_with_accuracy(tmp_path, "cnn", seed, accuracy)
    groups = group_runs(find_runs(tmp_path)[0])
    (pair,) = compare_groups(groups)
    assert pair.verdict == "one seed: cannot tell" and pair.to_dict()["verdict"] == "one seed: cannot tell"
    assert "from one run of MLP" in pair.sentence() and "within seed noise" not in pair.sentence()
    ranking = seed_ranking_sentence(groups, [pair])
    assert ranking.startswith("CNN and MLP cannot be ranked (one seed: cannot tell)")
    assert "within seed noise" not in ranking


def test_two_seed_groups_saving_into_one_folder_in_the_same_second_keep_both(tmp_path, fake_mnist_root, capsys,
                                                                              monkeypatch):
    """The run folder's name is chosen at the start (model, recipe, seed, second); another `train --seeds`
    started in the same second chose it too and saved first: the second run takes the next free name."""
    import mnist_core.seed_groups as seed_groups

    def another_group_saved_first(tasks, data_dir, save, on_finished, **_):
        for task in tasks:
            fields = seed_groups.train_run(task.model_key, task.config.to_dict(), data_dir, threads=1)
            model = build_model(task.model_key)
            model.load_state_dict(fields["model"])
            save_run(task.target, **{**fields, "model": model})  # the other group's run of this seed
            on_finished(task, save(task, fields))

    monkeypatch.setattr(seed_groups, "train_seed_group", another_group_saved_first)
    out = tmp_path / "runs"
    assert main([*QUICK_GROUP, "--seeds", "1", "--data-dir", str(fake_mnist_root), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "1 of 1 runs saved" in captured.out and "could not be saved" not in captured.err
    names = sorted(run.path.name for run in find_runs(out)[0])
    assert len(names) == 2 and all(name.startswith("mlp-tutorial-seed0-") for name in names)


@pytest.mark.slow
def test_a_damaged_member_run_is_listed_and_the_other_seeds_are_compared(tmp_path, fake_mnist_root, capsys):
    for seed, (mlp, lenet) in enumerate([(0.980, 0.990), (0.981, 0.992), (0.979, 0.991)]):
        run_with_accuracy(tmp_path, "mlp", seed, mlp)
        run_with_accuracy(tmp_path, "lenet5", seed, lenet)
    weights = tmp_path / "mlp-best-seed2" / "weights.safetensors"
    weights.write_bytes(bytes(len(weights.read_bytes())))  # garbage of the right size: found, fails to load
    (tmp_path / "lenet5-best-seed2" / "run.json").write_text("{not json")  # not even found
    assert main(["seeds", "--json", "--runs", str(tmp_path), "--data-dir", str(fake_mnist_root)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"groups", "pairs", "errors"}
    assert [(group["model"], group["seeds"]) for group in report["groups"]] == [("mlp", [0, 1]), ("lenet5", [0, 1])]
    assert len(report["pairs"]) == 1
    damaged = {Path(error["run"]).name: error["error"] for error in report["errors"]}
    assert set(damaged) == {"mlp-best-seed2", "lenet5-best-seed2"} and "checksum" in damaged["mlp-best-seed2"]
    assert main(["seeds", "--runs", str(tmp_path), "--data-dir", str(fake_mnist_root)]) == 1
    captured = capsys.readouterr()
    assert "LeNet-5 vs MLP" in captured.out and "Traceback" not in captured.err
    assert captured.err.count("damaged: ") == 2 and "mlp-best-seed2" in captured.err


@pytest.fixture
def no_training(monkeypatch):
    """Should the limit fail, nothing trains: the test fails instead."""
    def refuse(*args, **kwargs):
        raise AssertionError("the seed group was started")

    monkeypatch.setattr("mnist_core.seed_groups.train_seed_group", refuse)


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize("seeds", ["100000000", "1001", ",".join(str(seed) for seed in range(1001))])
def test_a_seed_group_of_more_than_1000_runs_is_refused_before_anything_starts(seeds, tmp_path, fake_mnist_root,
                                                                               capsys):
    with pytest.raises(SystemExit) as exited:  # the argument parser's refusal (a MemoryError's traceback before)
        main(["train", "--model", "mlp", "--seeds", seeds, "--data-dir", str(fake_mnist_root),
              "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "a seed group trains at most 1,000 runs; give fewer" in err
    assert "Traceback" not in err and not (tmp_path / "runs").exists()


@pytest.mark.usefixtures("no_training")
def test_models_times_seeds_over_1000_runs_is_refused_before_anything_starts(tmp_path, fake_mnist_root, capsys):
    seeds = 1000 // len(MODEL_KEYS) + 1
    assert main(["train", "--model", "all", "--seeds", str(seeds), "--data-dir", str(fake_mnist_root),
                 "--out", str(tmp_path / "runs")]) == 1
    err = capsys.readouterr().err
    assert f"is {len(MODEL_KEYS) * seeds:,} runs: one seed group trains at most 1,000" in err
    assert not (tmp_path / "runs").exists()
