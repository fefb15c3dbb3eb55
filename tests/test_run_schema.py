"""A crafted or damaged run.json is a damaged run with a reason, never a crash.

The fuzzer mutates a valid run.json (any value anywhere replaced by anything JSON can hold,
NaN and Infinity included, keys removed, deep nesting, the bytes cut or flipped); every
result must either be refused with a reason or be a run that everything downstream (the
charts, the labels, the per-class scores, ``evaluate``) can use.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnist_core.charts import METRIC_LABELS, Curve, confusion_heatmap, history_chart
from mnist_core.cli import main
from mnist_core.evaluation import evaluation_from_logits, per_class_metrics
from mnist_core.models import build_model
from mnist_core.run_schema import MAX_DEPTH, json_depth, parse_run_record
from mnist_core.runs import RUN_FILE, RunError, find_runs, read_run, save_run
from tests.support import PROJECT_ROOT
from tests.support.hostile_files import crafted_run_files
from tests.support.run_mutations import mutated_run_files

VALID_EXAMPLE = json.loads((PROJECT_ROOT / "checkpoints" / "lenet5" / RUN_FILE).read_text())  # only for the names

@pytest.fixture(scope="module")
def valid_run(tmp_path_factory):
    """A real run folder (weights and run.json) to mutate."""
    folder = tmp_path_factory.mktemp("valid") / "lenet5-valid"
    torch.manual_seed(0)
    labels = torch.arange(10).repeat(3)
    evaluation = evaluation_from_logits(torch.nn.functional.one_hot(labels, 10).float() * 4, labels)
    history = [{"epoch": epoch, "train_loss": 0.5 / epoch, "train_accuracy": 0.8, "test_loss": 0.4,
                "test_accuracy": 0.9, "seconds": 1.0} for epoch in (1, 2)]
    save_run(folder, "lenet5", build_model("lenet5"), {"recipe": "best", "epochs": 2}, history, evaluation,
             training_seconds=2.0, train_images=1000)
    return folder


def use_like_the_app(run) -> None:
    """What the pages and the CLI do with a run they listed."""
    assert 0 <= run.accuracy <= 1 and run.confusion.shape == (10, 10) and run.test_images > 0
    int(round((1 - run.accuracy) * run.test_images))
    f"{run.name} {100 * run.accuracy:.2f}% {run.training_seconds:.0f} {run.parameters:,} {run.recipe}"  # noqa: B018
    if run.history:
        for metric in METRIC_LABELS:
            history_chart([Curve(run.name, run.model_key, run.history)], metric)
    for normalise in (False, True):
        confusion_heatmap(run.confusion, run.name, normalise=normalise, model_key=run.model_key)
    scores = per_class_metrics(run.confusion)
    assert all(math.isfinite(value) for values in scores.values() for value in values)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
@pytest.mark.slow
def test_every_mutation_of_a_run_file_is_refused_with_a_reason_or_usable(valid_run, tmp_path, data):
    record = json.loads((valid_run / RUN_FILE).read_text())
    content = data.draw(mutated_run_files(record))
    folder = tmp_path / "runs" / "lenet5-mutated"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RUN_FILE).write_bytes(content)
    (folder / "weights.safetensors").write_bytes((valid_run / "weights.safetensors").read_bytes())
    try:
        run = read_run(folder)
    except RunError as error:
        assert error.reason and "Traceback" not in error.reason
        runs, damaged = find_runs(folder.parent)
        assert runs == [] and [e.path.parent.name for e in damaged] == ["lenet5-mutated"]
    else:
        use_like_the_app(run)


@pytest.mark.parametrize("name", list(crafted_run_files(VALID_EXAMPLE)))
def test_the_crafted_run_files_that_once_crashed_every_page(valid_run, tmp_path, name):
    text, reason = crafted_run_files(json.loads((valid_run / RUN_FILE).read_text()))[name]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / RUN_FILE).write_text(text)
    (tmp_path / "run" / "weights.safetensors").write_bytes((valid_run / "weights.safetensors").read_bytes())
    with pytest.raises(RunError, match=reason):
        read_run(tmp_path / "run")


def test_a_200000_deep_file_and_a_1e999_are_refused_before_parsing(valid_run):
    record = json.loads((valid_run / RUN_FILE).read_text())
    deep = json.dumps({**record, "x": "@"}).replace('"@"', "[" * 200_000 + "]" * 200_000).encode()
    with pytest.raises(ValueError, match="levels deep"):
        parse_run_record(deep)
    huge = json.dumps({**record, "parameters": 1}).replace('"parameters": 1', '"parameters": 1e999').encode()
    with pytest.raises(ValueError, match="too large to be finite"):  # Python would read 1e999 as inf
        parse_run_record(huge)
    assert json_depth(b'{"a": "[[[[[[[[[[[[", "b": [[1]]}') == 3 < MAX_DEPTH  # brackets in strings do not count


def test_evaluate_lists_a_crafted_run_as_damaged_and_evaluates_the_rest(valid_run, tmp_path, capsys,
                                                                        fake_mnist_root):
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(valid_run, runs / "good")
    shutil.copytree(valid_run, runs / "deep")
    record = json.loads((valid_run / RUN_FILE).read_text())
    deep = json.dumps({**record, "x": "@"}).replace('"@"', "[" * 200_000 + "]" * 200_000)
    (runs / "deep" / RUN_FILE).write_text(deep)
    code = main(["evaluate", "--runs", str(runs), "--json", "--data-dir", str(fake_mnist_root)])
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert code == 1 and "Traceback" not in err
    assert [row["run"].rsplit("/", 1)[-1] for row in report["models"]] == ["good"]
    assert [row["run"].rsplit("/", 1)[-1] for row in report["errors"]] == ["deep"]
    assert "levels deep" in report["errors"][0]["error"]
