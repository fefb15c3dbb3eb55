"""McNemar's test, Wilson intervals, the difference matrix, doubtful labels and `compare --json`."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_core.cli import main
from mnist_core.comparison import (
    Standing,
    accuracy_interval,
    compare_predictions,
    difference_matrix,
    mcnemar_exact_p,
    ranking_sentence,
    significance_sentence,
)
from mnist_core.evaluation import confusion_matrix, evaluation_from_logits
from mnist_core.label_issues import accuracy_without_doubtful_labels, label_issues
from mnist_core.models import build_model
from mnist_core.runs import save_run
from tests.support import PROJECT_ROOT


def wilson(correct, total, z=1.959963984540054):
    p = correct / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return centre - half, centre + half


def test_mcnemar_against_hand_computed_binomial_tails():
    assert mcnemar_exact_p(5, 0) == pytest.approx(2 * 0.5**5)  # all five discordant pairs favour A
    assert mcnemar_exact_p(3, 1) == pytest.approx((1 + 4 + 4 + 1) / 16)  # n=4: P(X<=1) + P(X>=3)
    assert mcnemar_exact_p(1, 3) == pytest.approx(mcnemar_exact_p(3, 1))  # symmetric
    assert mcnemar_exact_p(10, 10) == pytest.approx(1.0)
    assert mcnemar_exact_p(0, 0) == 1.0  # no discordant pairs: no evidence at all


def test_identical_runs_are_not_significantly_different():
    truth = np.arange(100) % 10
    predicted = truth.copy()
    predicted[:7] = (predicted[:7] + 1) % 10
    paired = compare_predictions(truth, predicted, predicted)
    assert (paired.both_right, paired.only_a_right, paired.only_b_right, paired.both_wrong) == (93, 0, 0, 7)
    assert paired.mcnemar_p == 1.0 and not paired.significant and paired.images == 100
    assert "same number of mistakes" in significance_sentence("A", "B", paired)


def test_paired_counts_add_up_and_a_lopsided_split_is_significant():
    truth = np.zeros(1000, dtype=int)
    a = np.zeros(1000, dtype=int)
    b = np.zeros(1000, dtype=int)
    a[:40] = 1  # A wrong on 40 images, B on 5 others: 40 vs 5 discordant pairs
    b[900:905] = 1
    paired = compare_predictions(truth, a, b)
    assert paired.images == 1000 and paired.only_b_right == 40 and paired.only_a_right == 5
    assert paired.significant and paired.a_errors == 40 and paired.b_errors == 5
    sentence = significance_sentence("MLP", "LeNet-5", paired)
    assert sentence.startswith("LeNet-5 makes 35 fewer mistakes than MLP") and "a significant difference" in sentence


def test_wilson_interval_against_the_formula():
    for correct, total in [(9932, 10000), (50, 100), (0, 20), (20, 20)]:
        low, high = accuracy_interval(correct, total)
        expected = wilson(correct, total)
        assert low == pytest.approx(max(0.0, expected[0]), abs=1e-9) and high == pytest.approx(min(1.0, expected[1]),
                                                                                                 abs=1e-9)
    with pytest.raises(ValueError):
        accuracy_interval(0, 0)


def test_difference_matrix_rows_sum_to_zero_on_the_same_images():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 10, 500)
    a, b = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    difference = difference_matrix(confusion_matrix(truth, a), confusion_matrix(truth, b))
    assert difference.shape == (10, 10) and (difference.sum(axis=1) == 0).all()


def test_doubtful_labels_are_the_audited_test_images():
    issues = label_issues()
    assert 947 in issues.blatant and 2130 in issues.less_blatant and len(issues.indices) == 12
    assert issues.note(947) and issues.note(2130) and issues.note(0) is None
    assert "Northcutt" in issues.source
    truth = np.zeros(10_000, dtype=int)
    predicted = truth.copy()
    predicted[sorted(issues.indices)] = 1  # wrong exactly on the doubtful images
    assert accuracy_without_doubtful_labels(truth, predicted) == 1.0


@pytest.mark.slow
def test_compare_json_has_exactly_the_documented_shape(capsys, tmp_path, fake_mnist_root):
    for key in ("mlp", "lenet5"):
        torch.manual_seed(0)
        save_run(tmp_path / key, key, build_model(key), {"recipe": "best"}, [],
                 evaluation_from_logits(torch.eye(10), torch.arange(10)), 1.0, 100)
    code = main(["compare", str(tmp_path / "mlp"), str(tmp_path / "lenet5"), "--json",
                 "--data-dir", str(fake_mnist_root)])
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert code == 0, err
    assert list(report) == ["a", "b", "both_right", "only_a_right", "only_b_right", "both_wrong", "mcnemar_p",
                            "significant"]
    for side, key in (("a", "mlp"), ("b", "lenet5")):
        assert list(report[side]) == ["run", "model", "accuracy", "ci95", "errors"]
        assert report[side]["model"] == key and report[side]["run"].endswith(key)
        assert report[side]["ci95"][0] <= report[side]["accuracy"] <= report[side]["ci95"][1]
    total = report["both_right"] + report["only_a_right"] + report["only_b_right"] + report["both_wrong"]
    assert total == 40  # the fake test split
    assert report["a"]["errors"] == report["only_b_right"] + report["both_wrong"]
    assert isinstance(report["significant"], bool) and 0 <= report["mcnemar_p"] <= 1


def test_compare_agrees_with_evaluate_on_the_shipped_runs(capsys, real_data_root, tmp_path):
    assert main(["compare", "checkpoints/cnn", "checkpoints/lenet5", "--json", "--data-dir", str(real_data_root)]) == 0
    report = json.loads(capsys.readouterr().out)
    runs = tmp_path / "runs"  # the two shipped runs alone: evaluate reads every run of its folder (17 in checkpoints/)
    runs.mkdir()
    for name in ("cnn", "lenet5"):
        (runs / name).symlink_to(PROJECT_ROOT / "checkpoints" / name)
    assert main(["evaluate", "--json", "--runs", str(runs), "--data-dir", str(real_data_root)]) == 0
    evaluated = {Path(row["run"]).name: row["accuracy"] for row in json.loads(capsys.readouterr().out)["models"]}
    assert report["a"]["accuracy"] == evaluated["cnn"]  # seed 0 (checkpoints/ holds seeds 1-4 too)
    assert report["b"]["accuracy"] == evaluated["lenet5"]
    assert report["a"]["errors"] == round((1 - evaluated["cnn"]) * 10_000)
    assert sum(report[k] for k in ("both_right", "only_a_right", "only_b_right", "both_wrong")) == 10_000


def test_ranking_sentence_names_the_leader_its_margin_and_the_weakest():
    ranked = [Standing("LeNet-5", 99.37, 63, 61_706), Standing("CNN", 99.28, 72, 934_798),
              Standing("MLP", 99.18, 82, 623_290)]
    assert ranking_sentence(ranked) == (
        "**LeNet-5** is the most accurate at **99.37%**, 0.09 points ahead of CNN, with 15x fewer parameters. "
        "The weakest, MLP, still gets 99.18% right: on MNIST the differences live in the last percent.")


def test_ranking_sentence_says_level_when_the_errors_are_equal_and_notes_a_larger_leader():
    level = [Standing("LeNet-5", 99.28, 72, 61_706), Standing("CNN", 99.28, 72, 934_798)]
    assert ranking_sentence(level) == ("**LeNet-5** and **CNN** are level at **99.28%**, "
                                       "LeNet-5 with 15x fewer parameters.")
    larger = [Standing("CNN", 99.30, 70, 934_798), Standing("LeNet-5", 99.20, 80, 61_706)]
    assert ranking_sentence(larger).endswith("0.10 points ahead of LeNet-5, with 15x more parameters.")
    alike = [Standing("MLP", 99.30, 70, 623_290), Standing("CNN", 99.20, 80, 934_798)]
    assert ranking_sentence(alike) == "**MLP** is the most accurate at **99.30%**, 0.10 points ahead of CNN."


def test_with_three_runs_a_pairs_verdict_is_holm_corrected():
    """McNemar p = 0.04 beside three runs is three tests: 0.04 alone would be called significant."""
    from mnist_core.comparison import holm_for_pair

    truth = np.zeros(1000, dtype=int)
    a = truth.copy()
    b = truth.copy()
    b[:20] = 1  # b wrong on 20 images a gets right: McNemar p ~ 2e-6
    c = truth.copy()
    c[:5] = 1
    adjusted, pairs = holm_for_pair(truth, [a, b, c], 0, 2)
    alone = compare_predictions(truth, a, c)
    assert pairs == 3 and adjusted >= alone.mcnemar_p
    sentence = significance_sentence("A", "C", alone, (adjusted, pairs))
    assert "after Holm's correction for the 3 pairs of the chosen runs" in sentence
    assert "not a significant difference" in sentence  # 5 discordant images: p 0.06 alone, more after Holm
