"""Seed groups: runs of one recipe that differ only in their seed, compared as groups (issue 25)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy import stats

from mnist_core.cli import main
from mnist_core.evaluation import evaluation_from_logits
from mnist_core.models import build_model
from mnist_core.runs import find_runs, save_run
from mnist_core.seeds import compare_groups, group_runs, holm, seed_ranking_sentence, with_ensembles
from tests.support import PROJECT_ROOT


def run_with_accuracy(folder, key, seed, accuracy, recipe="best", config=None):
    """An untrained run whose recorded test accuracy is ``accuracy`` (of 10,000 images); ``config``:
    the settings it records (default: the recipe's name alone), its seed set to ``seed``."""
    labels = torch.arange(10_000) % 10
    right = round(accuracy * 10_000)
    predicted = torch.where(torch.arange(10_000) < right, labels, (labels + 1) % 10)
    torch.manual_seed(seed)
    return save_run(folder / f"{key}-{recipe}-seed{seed}", key, build_model(key),
                    {**(config or {"recipe": recipe}), "seed": seed}, [],
                    evaluation_from_logits(torch.nn.functional.one_hot(predicted, 10).float(), labels), 1.0, 100)


def four_seeds_each(folder):
    """MLP clearly behind; the CNN and LeNet-5 level within their seeds' spread."""
    for seed, (mlp, cnn, lenet) in enumerate([(0.980, 0.9910, 0.9915), (0.981, 0.9920, 0.9905),
                                              (0.979, 0.9915, 0.9920), (0.980, 0.9905, 0.9910)]):
        run_with_accuracy(folder, "mlp", seed, mlp)
        run_with_accuracy(folder, "cnn", seed, cnn)
        run_with_accuracy(folder, "lenet5", seed, lenet)
    return group_runs(find_runs(folder)[0])


@pytest.mark.slow
def test_runs_group_by_model_and_recipe_in_seed_order(tmp_path):
    for seed, accuracy in ((2, 0.991), (0, 0.990), (1, 0.992)):
        run_with_accuracy(tmp_path, "cnn", seed, accuracy)
    run_with_accuracy(tmp_path, "mlp", 0, 0.98)
    run_with_accuracy(tmp_path, "mlp", 0, 0.97, recipe="tutorial")
    groups = group_runs(find_runs(tmp_path)[0])
    assert [(g.model, g.recipe, g.seeds) for g in groups] == [("mlp", "best", [0]), ("mlp", "tutorial", [0]),
                                                              ("cnn", "best", [0, 1, 2])]
    cnn = groups[2]
    assert cnn.accuracies == [0.99, 0.992, 0.991] and cnn.mean == pytest.approx(0.991)
    assert cnn.sd == pytest.approx(np.std([0.99, 0.992, 0.991], ddof=1)) and groups[0].sd is None


@pytest.mark.slow
def test_groups_are_compared_with_welch_and_holm(tmp_path):
    groups = four_seeds_each(tmp_path)
    pairs = compare_groups(groups)
    assert [(p.a.model, p.b.model) for p in pairs] == [("mlp", "cnn"), ("mlp", "lenet5"), ("cnn", "lenet5")]
    mlp_cnn = pairs[0]
    expected = stats.ttest_ind(groups[1].accuracies, groups[0].accuracies, equal_var=False)
    assert mlp_cnn.p == pytest.approx(expected.pvalue)
    assert mlp_cnn.ci95 == pytest.approx((expected.confidence_interval(0.95).low,
                                          expected.confidence_interval(0.95).high))
    assert mlp_cnn.mean_difference == pytest.approx(groups[1].mean - groups[0].mean)
    assert [p.p_holm for p in pairs] == pytest.approx(holm([p.p for p in pairs]))
    assert [p.verdict for p in pairs] == ["b better", "b better", "within seed noise"]
    assert "LeNet-5 vs CNN: +0.00 points (95 % CI" in pairs[2].sentence() and "within seed noise" in pairs[2].sentence()
    assert set(pairs[0].to_dict()) == {"a", "b", "mean_difference", "ci95", "p", "p_holm", "verdict"}


def test_holm_multiplies_the_smallest_p_by_the_number_of_tests_and_never_decreases():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0]) and holm([]) == []


def test_a_single_run_cannot_separate_architecture_from_luck(tmp_path):
    run_with_accuracy(tmp_path, "mlp", 0, 0.98)
    run_with_accuracy(tmp_path, "cnn", 0, 0.99)
    (pair,) = compare_groups(group_runs(find_runs(tmp_path)[0]))
    assert pair.p is None and pair.ci95 is None and pair.verdict == "one seed: cannot tell"
    assert "a single run cannot separate the architecture from the luck of its seed" in pair.sentence()
    assert "a verdict needs at least 2 seeds of each" in pair.sentence()


def test_an_ensemble_averages_its_seeds_probabilities(tmp_path):
    labels = np.array([0, 1, 2])
    for seed in range(3):
        run_with_accuracy(tmp_path, "mlp", seed, 0.98)
    (group,) = group_runs(find_runs(tmp_path)[0])
    votes = {0: [[0.6, 0.4, 0], [0, 0.4, 0.6], [0, 0, 1]],  # each seed wrong on one image, the mean right
             1: [[0.4, 0.6, 0], [0, 0.6, 0.4], [0, 0, 1]],
             2: [[0.6, 0.4, 0], [0, 0.6, 0.4], [0.6, 0, 0.4]]}
    (measured,) = with_ensembles([group], lambda run: np.array(votes[run.config["seed"]]), labels)
    assert measured.ensemble_accuracy == 1.0 and measured.seeds == [0, 1, 2]


def test_cli_seeds_json_has_exactly_the_documented_shape(capsys, real_data_root):
    checkpoints = PROJECT_ROOT / "checkpoints"
    assert main(["seeds", "--json", "--runs", str(checkpoints), "--data-dir", str(real_data_root)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"groups", "pairs", "errors"} and report["errors"] == []
    for group in report["groups"]:
        assert set(group) == {"model", "name", "seeds", "accuracies", "mean", "sd", "ensemble_accuracy"}
        assert 0.99 <= group["ensemble_accuracy"] <= 1 and len(group["seeds"]) == len(group["accuracies"])
    assert [g["model"] for g in report["groups"]][:3] == ["mlp", "cnn", "lenet5"]
    for pair in report["pairs"]:
        assert set(pair) == {"a", "b", "mean_difference", "ci95", "p", "p_holm", "verdict"}
        assert pair["verdict"] in ("b better", "a better", "within seed noise", "no spread: cannot test",
                                   "one seed: cannot tell")


@pytest.mark.ray
def test_a_seed_group_trains_on_ray_and_compares(tmp_path, fake_mnist_root, capsys):
    """Each (model, seed) run is one Ray task on this machine; the driver saves them as they finish."""
    out = tmp_path / "runs"
    assert main(["train", "--model", "mlp", "--recipe", "tutorial", "--seeds", "0,3", "--epochs", "1",
                 "--batch-size", "40", "--workers", "2", "--data-dir", str(fake_mnist_root), "--out", str(out),
                 "--name", "{model}-s{seed}"]) == 0
    assert "2 of 2 runs saved" in capsys.readouterr().out
    runs = find_runs(out)[0]
    assert sorted(run.path.name for run in runs) == ["mlp-s0", "mlp-s3"]
    assert sorted(run.config["seed"] for run in runs) == [0, 3] and len({run.config["group"] for run in runs}) == 1
    assert main(["seeds", "--json", "--runs", str(out), "--data-dir", str(fake_mnist_root)]) == 0
    (group,) = json.loads(capsys.readouterr().out)["groups"]
    assert group["seeds"] == [0, 3] and group["sd"] is not None


@pytest.mark.parametrize(("seeds", "said"), [("0", "0 seeds: train at least 1"), ("-1", "-1 seeds: train at least 1"),
                                             ("a,b", "'a': a seed is a whole number"),
                                             ("a", "'a': give a number of seeds"), ("0,-1", "'-1': a seed is")])
def test_bad_seeds_are_one_line_that_says_what_to_give(seeds, said, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--seeds", seeds])
    err = capsys.readouterr().err
    assert f"argument --seeds: {said}" in err and "Traceback" not in err


def test_seed_group_arguments_are_checked_before_ray_starts(tmp_path, capsys):
    assert main(["train", "--model", "mlp", "--seeds", "3", "--name", "same-folder", "--out", str(tmp_path)]) == 1
    assert "--name must contain {seed}" in capsys.readouterr().err
    assert main(["train", "--model", "mlp", "--workers", "2", "--out", str(tmp_path)]) == 1
    assert "go with --seeds" in capsys.readouterr().err


@pytest.mark.slow
def test_a_single_run_never_imports_ray(tmp_path, fake_mnist_root):
    import subprocess
    import sys

    code = ("import sys; from mnist_core.cli import main; "
            f"code = main(['train', '--model', 'mlp', '--recipe', 'tutorial', '--epochs', '1', '--batch-size', '40', "
            f"'--data-dir', {str(fake_mnist_root)!r}, '--out', {str(tmp_path)!r}]); "
            "sys.exit(10 + code if 'ray' in sys.modules else code)")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.slow
def test_the_ranking_sentence_rests_on_the_groups(tmp_path):
    groups = four_seeds_each(tmp_path)
    sentence = seed_ranking_sentence(groups, compare_groups(groups))
    assert sentence.startswith(("CNN and LeNet-5 are level", "LeNet-5 and CNN are level"))  # means equal to 1e-16
    assert "within seed noise; both beat MLP (4 seeds each;" in sentence
    single = group_runs([run_with_accuracy(tmp_path / "one", key, 0, 0.99) for key in ("mlp", "cnn")])
    assert "a single run cannot separate the architecture" in seed_ranking_sentence(single, compare_groups(single))


def test_the_strip_chart_shows_every_seed_and_the_mean(tmp_path):
    from mnist_core.charts import seed_strip_chart

    for seed, accuracy in enumerate((0.990, 0.992, 0.991)):
        run_with_accuracy(tmp_path, "cnn", seed, accuracy)
    figure = seed_strip_chart(group_runs(find_runs(tmp_path)[0]))
    dots, mean = figure.data[0], figure.data[1]
    assert list(dots.y) == pytest.approx([99.0, 99.2, 99.1]) and list(dots.customdata) == [0, 1, 2]
    assert mean.y[0] == pytest.approx(99.1) and mean.error_y.array[0] == pytest.approx(0.1)
    assert figure.layout.yaxis.title.text == "test accuracy (%)"


@pytest.mark.slow
def test_the_overview_ranks_architectures_from_seed_groups(user_runs, tmp_path, monkeypatch):
    import shutil

    from tests.support.apptest import open_page, texts

    checkpoints = tmp_path / "checkpoints"  # seed 0 of each model alone
    for key in ("mlp", "cnn", "lenet5"):
        shutil.copytree(PROJECT_ROOT / "checkpoints" / key, checkpoints / key)
    monkeypatch.setenv("MNIST_CHECKPOINTS_DIR", str(checkpoints))
    before = open_page("pages/overview.py")
    assert "a single run cannot separate the architecture" in texts(before)
    for seed in range(1, 4):
        for key, accuracy in (("mlp", 0.981), ("cnn", 0.9925), ("lenet5", 0.9935)):
            shipped = json.loads((checkpoints / key / "run.json").read_text())["config"]
            run_with_accuracy(user_runs, key, seed, accuracy + seed / 10_000, config=shipped)
    run_with_accuracy(user_runs, "cnn", 7, 0.95, config={"recipe": "best", "epochs": 1})  # not one of the group
    at = open_page("pages/overview.py")
    assert not at.exception and "4 seeds each" in texts(at)
    assert any(chart.key == "overview.seeds" for chart in at.get("plotly_chart"))


def test_an_unreachable_cluster_is_one_clear_message_at_once(tmp_path, fake_mnist_root, capsys, monkeypatch):
    import time

    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")  # nothing listens on port 1
    started = time.monotonic()
    assert main(["train", "--model", "mlp", "--seeds", "2", "--epochs", "1", "--recipe", "tutorial",
                 "--data-dir", str(fake_mnist_root), "--out", str(tmp_path / "runs")]) == 1
    err = capsys.readouterr().err
    assert "Cannot reach the Ray cluster at 127.0.0.1:1" in err and "ray start --head" in err
    assert time.monotonic() - started < 30 and find_runs(tmp_path / "runs") == ([], [])  # nothing half-saved


def test_a_run_with_other_settings_is_not_a_seed_of_the_group(tmp_path):
    """A quick run of the same recipe (fewer epochs) must not replace the shipped seed 0 in its group."""
    for seed in range(3):
        run_with_accuracy(tmp_path, "cnn", seed, 0.991)
    quick = tmp_path / "quick"
    quick.mkdir()
    labels = torch.arange(10_000) % 10
    save_run(quick / "cnn-best-1-epoch", "cnn", build_model("cnn"), {"recipe": "best", "seed": 0, "epochs": 1},
             [], evaluation_from_logits(torch.nn.functional.one_hot(labels, 10).float(), labels), 1.0, 100)
    groups = group_runs(find_runs(tmp_path, quick)[0])
    assert [(g.model, g.recipe, g.seeds, len(g.runs)) for g in groups] == [("cnn", "best", [0, 1, 2], 3),
                                                                           ("cnn", "best", [0], 1)]
    assert groups[0].accuracies == [0.991] * 3  # the shipped seed 0 kept, not the newer 1-epoch run
    assert groups[1].holds(find_runs(quick)[0][0]) and not groups[0].holds(find_runs(quick)[0][0])


def test_a_seed_ensemble_answers_with_its_seeds_mean_probabilities():
    from mnist_core.ensemble import SeedEnsemble

    torch.manual_seed(0)
    members = [build_model("lenet5").eval() for _ in range(3)]
    inputs = torch.randn(4, 1, 28, 28)
    with torch.inference_mode():
        expected = torch.stack([member(inputs).softmax(dim=1) for member in members]).mean(dim=0)
        got = SeedEnsemble(members).eval()(inputs).softmax(dim=1)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    assert torch.isfinite(SeedEnsemble(members)(inputs)).all()
    with pytest.raises(ValueError, match="at least one"):
        SeedEnsemble([])


def test_draw_answers_with_a_seed_ensemble_while_other_pages_use_seed_0(user_runs, real_data_root, monkeypatch):
    """"Models in use" → "ensemble of 5 seeds": the CNN's answer is the mean of its 5 seeds' probabilities."""
    from mnist_core.data import load_mnist
    from mnist_core.preprocess import prepare_digit
    from mnist_core.runs import load_model
    from tests.support.apptest import switch_to, texts
    from tests.test_app_presenter import open_with

    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    index = 1014  # a hard 6 (as the page prepares it): seed 0 says 5, three seeds 0, one 8; the ensemble 0
    at = open_with({"draw.tab": "Test image", "draw.test_index": str(index)}, "pages/draw.py")
    chooser = at.selectbox(key="draw.run.cnn")
    assert "ensemble" in chooser.options[-1] and "5 seeds" in chooser.options[-1]
    chooser.set_value("ensemble").run()
    assert not at.exception
    assert [m.label for m in at.metric] == ["MLP", "CNN × 5 seeds", "LeNet-5"]
    image = prepare_digit(load_mnist(real_data_root).test_images[index].numpy()).tensor  # as the page reads it
    folders = ["cnn", *(f"cnn-seed{seed}" for seed in range(1, 5))]
    with torch.inference_mode():
        mean = torch.stack([load_model(PROJECT_ROOT / "checkpoints" / folder)(image).softmax(dim=1)
                            for folder in folders]).mean(dim=0)[0]
    assert at.metric[1].value == str(int(mean.argmax()))
    assert f"{100 * float(mean.max()):.1f}% sure" in [c.value for c in at.caption]
    assert "on this page only; the other pages use the run chosen before it" in texts(at)
    switch_to(at, "pages/compare.py").run()  # Compare compares runs: the CNN's is its seed 0
    assert not at.exception and str(PROJECT_ROOT / "checkpoints" / "cnn") in at.multiselect(key="compare.runs").value


def test_the_train_page_trains_a_seed_group_and_shows_each_seed(user_runs, real_data_root, monkeypatch, job_board):
    from dashboard.job_view import describe
    from tests.support.apptest import open_page, press_train, texts

    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    at = open_page("pages/train.py")
    at.session_state["train.recipe"] = "tutorial"
    at.session_state["train.seeds"] = 2
    at = press_train(at, ["lenet5"], epochs=1)
    assert not at.exception, [e.value for e in at.exception]
    (job,) = job_board.jobs()
    assert describe(job).startswith("LeNet-5 × 2 seeds")
    assert job.wait(timeout=180)
    snapshot = job.snapshot()
    assert [(s.seed, s.state) for s in snapshot.statuses] == [(0, "saved"), (1, "saved")], snapshot
    records = [json.loads((path / "run.json").read_text()) for path in snapshot.saved_runs]
    assert [record["config"]["seed"] for record in records] == [0, 1]
    assert records[0]["config"]["group"] == records[1]["config"]["group"] != ""
    assert all(path.name.startswith(f"lenet5-tutorial-seed{seed}-") for seed, path in enumerate(snapshot.saved_runs))
    at.run()
    assert "LeNet-5 · seed 1" in "\n".join(p.proto.text for p in at.get("progress")) and "Saved 2 run(s)" in texts(at)
    (group,) = [g for g in group_runs(find_runs(user_runs)[0])]
    assert group.seeds == [0, 1]  # one group: the same settings, two seeds


@pytest.fixture
def ray_cluster():
    """A Ray cluster started as a user starts one (``ray start --head``), on 127.0.0.1, asking for its own
    token (Ray's default since 2.60); yields its address and token, and stops it afterwards."""
    import os
    import secrets
    import shutil
    import tempfile

    from tests.support.ray_cluster import free_port, start_head, stop_head

    port, token = free_port(), secrets.token_hex(16)
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's sockets live under it
    try:
        start_head(temp, port, {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token})
        yield f"127.0.0.1:{port}", token
    finally:
        stop_head(temp)  # this cluster's processes only: `ray stop` would stop every Ray of the user
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.ray
def test_a_seed_group_trains_on_a_ray_cluster(ray_cluster, tmp_path, real_data_root):
    """RAY_ADDRESS: the same command runs its tasks on a cluster; without the cluster's token, one clear
    message. Each command in its own process, as a user runs it (Ray reads its settings once per process)."""
    import os
    import subprocess
    import sys
    import time

    address, token = ray_cluster
    command = [sys.executable, "-m", "mnist_core", "train", "--model", "mlp", "--recipe", "tutorial", "--seeds", "2",
               "--epochs", "1", "--subset", "2000", "--data-dir", str(real_data_root), "--out", str(tmp_path / "runs")]
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_")} | {"RAY_ADDRESS": address}
    started = time.monotonic()
    refused = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"error: Ray could not join the cluster at {address}" in refused.stderr
    assert "RAY_AUTH_MODE=token" in refused.stderr
    assert time.monotonic() - started < 60 and find_runs(tmp_path / "runs") == ([], [])  # nothing half-saved
    env |= {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    done = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 of 2 runs saved" in done.stdout
    runs = find_runs(tmp_path / "runs")[0]
    assert sorted(run.config["seed"] for run in runs) == [0, 1]
    assert all(run.train_images == 2000 for run in runs)


@pytest.mark.slow
def test_the_ensemble_of_a_chosen_run_is_its_own_group_and_the_run_stays_in_use(user_runs):
    """Choose your own run on Draw, then "ensemble": the ensemble is your run's group; other pages keep your run."""
    from tests.support.apptest import open_page, switch_to

    mine = [run_with_accuracy(user_runs, "cnn", seed, 0.5, config={"recipe": "best", "epochs": 2})
            for seed in (0, 1)]
    at = open_page("pages/draw.py")
    at.selectbox(key="draw.run.cnn").set_value(str(mine[1].path)).run()
    chooser = at.selectbox(key="draw.run.cnn")
    assert chooser.options[-1] == "CNN · ensemble of 2 seeds"  # the chosen run's group, not the shipped one's
    chooser.set_value("ensemble").run()
    assert not at.exception and at.selectbox(key="draw.run.cnn").value == "ensemble"
    switch_to(at, "pages/compare.py").run()
    assert str(mine[1].path) in at.multiselect(key="compare.runs").value  # the run chosen before the ensemble
    switch_to(at, "pages/draw.py").run()
    assert at.selectbox(key="draw.run.cnn").value == "ensemble"  # kept across pages
    at.selectbox(key="draw.run.cnn").set_value(str(mine[0].path)).run()  # a run again: no ensemble
    assert at.selectbox(key="draw.run.cnn").value == str(mine[0].path)
