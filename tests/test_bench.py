"""The benchmarks' quick modes: every part runs and reports sane numbers (the speed goals
themselves are checked by running the full benchmarks, not here)."""

import json
import subprocess
import sys

import pytest

from mnist_core.bench import format_markdown, run_bench
from mnist_core.cli import build_parser, main
from tests.support import PROJECT_ROOT
from tests.support.browser import require_chromium

pytestmark = pytest.mark.bench


def test_quick_bench_runs_every_part(real_data_root, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root.resolve()))
    report = run_bench(str(real_data_root), quick=True)
    assert [row.model_key for row in report.throughput] == ["mlp", "cnn", "lenet5"]
    assert all(row.tutorial_images_per_second > 0 and row.ours_images_per_second > 0 for row in report.throughput)
    assert [row.model_key for row in report.time_to_accuracy] == ["mlp", "cnn", "lenet5"]
    assert 0 < report.latency.single_median_ms <= report.latency.single_p95_ms
    assert report.compare.images == 500 and report.compare.first_evaluation_seconds > 0
    assert report.robustness.images == 100 and report.robustness.levels == 57
    timing = report.robustness
    assert timing.sweep_seconds > 0 and 0 < timing.nudge_median_ms <= timing.nudge_p95_ms
    explained = report.explain
    assert explained.occlusion_median_ms > 0 and explained.integrated_gradients_median_ms > 0
    assert set(explained.feature_pass_seconds) == set(explained.nearest_median_ms) == {"mlp", "cnn", "lenet5"}
    seeds = report.seed_group
    assert seeds.runs == 2 and seeds.one_after_another_seconds > 0 and seeds.ray_seconds > 0  # Ray trained both
    text = format_markdown(report)
    assert "a seed group: 2 runs of LeNet-5" in text and "QUICK MODE" in text and "speed-up" in text
    assert "one canvas image" in text and "default sweep" in text


def test_bench_json_and_parts(capsys):
    assert main(["bench", "--quick", "--only", "latency", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["quick"] and report["latency"]["single_median_ms"] > 0 and report["throughput"] == []


def test_bench_refuses_unknown_parts(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--only", "everything"])
    assert "choose from" in capsys.readouterr().err


@pytest.mark.parametrize("phones", ["4", "many", "2501"])
def test_bench_refuses_a_class_it_cannot_split_or_store(capsys, phones):
    with pytest.raises(SystemExit):
        main(["bench", "--only", "finetune", "--class-phones", phones])
    assert "a whole number of phones from 5 to 2,500 (an audience store holds 50,000" in capsys.readouterr().err


@pytest.mark.parametrize("phones", [5, 2500])
def test_bench_takes_any_class_from_five_phones_to_a_full_store(phones):
    assert build_parser().parse_args(["bench", "--class-phones", str(phones)]).class_phones == phones


@pytest.mark.browser
def test_quick_app_bench_starts_the_app_and_draws(tmp_path):
    require_chromium()
    done = subprocess.run([sys.executable, "-m", "tools.bench_app", "--quick", "--json"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    timing = json.loads(done.stdout)
    assert timing["quick"] and timing["start_to_draw_seconds"] > 0 and timing["first_prediction_ms"] > 0
    assert timing["compare_first_seconds"] > 0 and timing["compare_cached_seconds"] > 0
    assert timing["nudge_rerun_ms"] > 0 and timing["first_why_seconds"] > 0
    assert timing["overview_first_seconds"] > 0 and timing["overview_restarted_seconds"] is None
    assert timing["overview_first_server_cpu_seconds"] > 1 and timing["overview_restarted_server_cpu_seconds"] is None


def test_quick_audience_bench_builds_and_scores_stores(capsys):
    assert main(["bench", "--quick", "--only", "audience", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["audience"]
    assert [row["drawings"] for row in rows] == [200, 1000]
    assert all(row["stats_seconds"] > 0 and row["refresh_seconds"] > 0 and row["unchanged_refresh_ms"] > 0
               for row in rows)


def test_quick_finetune_bench_teaches_the_shipped_models(real_data_root, capsys):
    assert main(["bench", "--quick", "--only", "finetune", "--json", "--data-dir", str(real_data_root)]) == 0
    rows = json.loads(capsys.readouterr().out)["finetune"]
    assert [row["model_key"] for row in rows] == ["mlp", "cnn", "lenet5"]
    assert all(row["drawings"] == 100 and row["held_out_sessions"] == 3 and row["held_out"] == 60
               and row["unseen"] == 40 and row["seconds"] > 0 for row in rows)
    assert all(0.9 < row["mnist_before"] and 0.5 < row["unseen_before"] <= 1 for row in rows)


@pytest.mark.browser
def test_quick_join_bench_loads_the_phone_page_throttled():
    """tools/bench_join.py once at 10 Mbit/s on 127.0.0.1 (the 1 and 10 Mbit/s figures: docs/PERFORMANCE.md)."""
    require_chromium()
    done = subprocess.run([sys.executable, "-m", "tools.bench_join", "--quick", "--json"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    (load,) = report["loads"]
    assert report["quick"] and load["mbit"] == 10 and load["coding"] == "br"
    assert 0 < load["first_answer_seconds"] <= load["all_seconds"] and 0 < load["first_answer_mb"] < load["all_mb"]
    assert {size["file"] for size in report["files"]} >= {"vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm"}
