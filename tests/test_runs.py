import json
import os

import pytest
import torch

from mnist_core.evaluation import evaluation_from_logits
from mnist_core.models import build_model
from mnist_core.runs import (
    RUN_FILE,
    WEIGHTS_FILE,
    RunError,
    default_runs,
    find_runs,
    load_model,
    new_run_dir,
    read_run,
    safe_run_name,
    save_run,
    shipped_runs,
)


def fake_evaluation():
    torch.manual_seed(0)
    labels = torch.arange(10).repeat(5)
    logits = torch.nn.functional.one_hot(labels, 10).float() * 3 + torch.randn(50, 10)
    return evaluation_from_logits(logits, labels)


def save(path, key="lenet5", **options):
    torch.manual_seed(1)
    model = build_model(key)
    history = [{"epoch": 1, "train_loss": 0.5, "train_accuracy": 0.8, "test_loss": 0.4,
                "test_accuracy": 0.85, "seconds": 1.5}]
    info = save_run(path, key, model, {"recipe": "best", "epochs": 1}, history, fake_evaluation(),
                    training_seconds=1.5, train_images=1000, **options)
    return info, model


def test_a_run_round_trips(tmp_path):
    info, model = save(tmp_path / "run")
    assert sorted(os.listdir(tmp_path / "run")) == [RUN_FILE, WEIGHTS_FILE]
    again = read_run(tmp_path / "run")
    assert again.model_key == "lenet5" and again.name == "LeNet-5" and again.parameters == 61706
    assert again.history[0]["test_accuracy"] == 0.85 and again.config["recipe"] == "best"
    assert again.confusion.shape == (10, 10) and again.confusion.sum() == 50 == again.test_images
    assert again.accuracy == pytest.approx(fake_evaluation().accuracy)
    assert len(again.metrics["f1"]) == 10 and again.versions["torch"] == torch.__version__
    loaded = load_model(again)
    assert not loaded.training
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name


def test_run_json_is_plain_json_with_a_checksum(tmp_path):
    save(tmp_path / "run")
    record = json.loads((tmp_path / "run" / RUN_FILE).read_text())
    assert {"model", "config", "history", "metrics", "confusion_matrix", "training_seconds", "versions",
            "created", "weights"} <= set(record)
    assert len(record["weights"]["sha256"]) == 64


def test_existing_run_is_never_overwritten_by_default(tmp_path):
    save(tmp_path / "run")
    before = (tmp_path / "run" / WEIGHTS_FILE).read_bytes()
    with pytest.raises(RunError, match="already exists"):
        save(tmp_path / "run", key="mlp")
    assert (tmp_path / "run" / WEIGHTS_FILE).read_bytes() == before


def test_overwrite_replaces_the_run_and_leaves_no_debris(tmp_path):
    save(tmp_path / "run")
    save(tmp_path / "run", key="mlp", overwrite=True)
    assert read_run(tmp_path / "run").model_key == "mlp"
    assert sorted(os.listdir(tmp_path)) == ["run"]


def test_a_crash_while_saving_leaves_nothing_half_written(tmp_path, monkeypatch):
    save(tmp_path / "old")
    real_rename = os.rename

    def crash(source, target):
        raise OSError("disk pulled out")

    monkeypatch.setattr(os, "rename", crash)
    with pytest.raises(OSError):
        save(tmp_path / "new")
    with pytest.raises(OSError):
        save(tmp_path / "old", key="mlp", overwrite=True)
    monkeypatch.setattr(os, "rename", real_rename)
    assert sorted(os.listdir(tmp_path)) == ["old"]
    assert read_run(tmp_path / "old").model_key == "lenet5"


def test_new_run_dirs_are_unique(tmp_path):
    first = new_run_dir(tmp_path, "cnn", "best")
    first.mkdir()
    second = new_run_dir(tmp_path, "cnn", "best")
    assert second != first and second.name.startswith("cnn-best-")


def test_run_names_are_checked():
    assert safe_run_name("lenet5") == "lenet5"
    for bad in ("../escape", ".hidden", "a/b", ""):
        with pytest.raises(ValueError):
            safe_run_name(bad)


def damage(run, how):
    weights, described = run / WEIGHTS_FILE, run / RUN_FILE
    record = json.loads(described.read_text())
    if how == "truncated weights":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif how == "garbage weights":
        weights.write_bytes(os.urandom(weights.stat().st_size))
    elif how == "garbage json":
        described.write_text("{ not json")
    elif how == "foreign json":
        described.write_text(json.dumps({"name": "something else"}))
    elif how == "missing field":
        del record["history"]
        described.write_text(json.dumps(record))
    elif how == "unknown model":
        record["model"] = "resnet"
        described.write_text(json.dumps(record))
    elif how == "no json":
        described.unlink()
    elif how == "no weights":
        weights.unlink()
    elif how == "other architecture":
        record["model"] = "cnn"  # checksum and size still match: only the shapes tell
        described.write_text(json.dumps(record))


@pytest.mark.parametrize(
    "how, reason",
    [
        ("truncated weights", "truncated"),
        ("garbage weights", "checksum"),
        ("garbage json", "not valid JSON"),
        ("foreign json", "not a run description"),
        ("missing field", "lacks the field"),
        ("unknown model", "unknown model"),
        ("no json", "no description"),
        ("no weights", "no weights"),
        ("other architecture", "does not fit the CNN architecture"),
    ],
)
def test_damaged_runs_are_clear_errors_naming_the_file(tmp_path, how, reason):
    save(tmp_path / "run")
    damage(tmp_path / "run", how)
    with pytest.raises(RunError, match=reason) as error:
        load_model(tmp_path / "run")
    assert str(tmp_path / "run") in str(error.value)


def test_find_runs_separates_good_from_damaged(tmp_path):
    save(tmp_path / "good")
    save(tmp_path / "bad")
    damage(tmp_path / "bad", "garbage json")
    (tmp_path / ".tmp-in-progress").mkdir()
    (tmp_path / "unrelated").mkdir()
    runs, errors = find_runs(tmp_path, tmp_path / "does-not-exist")
    assert [run.run_id for run in runs] == ["good"]
    assert len(errors) == 1 and "bad" in str(errors[0].path)


def test_two_writers_racing_for_one_name_never_lose_a_run(tmp_path):
    import threading

    barrier, outcomes = threading.Barrier(2), []

    def write(key):
        barrier.wait()
        try:
            outcomes.append(save(tmp_path / "same", key=key)[0].model_key)
        except RunError as error:
            outcomes.append(error.reason)

    threads = [threading.Thread(target=write, args=(key,)) for key in ("mlp", "lenet5")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winner = read_run(tmp_path / "same").model_key
    assert sorted(outcomes) == sorted([winner, "already exists; choose another name or allow overwriting."])
    assert sorted(os.listdir(tmp_path)) == ["same"]  # no staging debris


def test_debris_of_an_old_crash_is_cleaned_but_fresh_staging_is_left(tmp_path):
    import time

    old, fresh = tmp_path / ".tmp-run-crashed", tmp_path / ".tmp-run-in-progress"
    for folder in (old, fresh):
        folder.mkdir()
        (folder / WEIGHTS_FILE).write_bytes(b"partial")
    an_hour_and_more = time.time() - 4000
    os.utime(old, (an_hour_and_more, an_hour_and_more))
    save(tmp_path / "run")
    assert sorted(os.listdir(tmp_path)) == [".tmp-run-in-progress", "run"]


def with_created(run, created):
    """The same run, as if it had been made at ``created`` (an ISO time)."""
    from dataclasses import replace

    return replace(run, created=created)


def test_default_runs_prefer_the_choice_then_the_shipped_run_then_the_newest(tmp_path):
    checkpoints, mine = tmp_path / "checkpoints", tmp_path / "runs"
    shipped_lenet = save(checkpoints / "lenet5")[0]
    older = with_created(save(mine / "z-lenet5-older")[0], "2026-01-02T00:00:00+00:00")
    newer = with_created(save(mine / "a-lenet5-newer")[0], "2026-03-04T00:00:00+00:00")
    mlp_old = with_created(save(mine / "mlp-2", key="mlp")[0], "2026-01-01T00:00:00+00:00")
    mlp_new = with_created(save(mine / "mlp-1", key="mlp")[0], "2026-05-01T00:00:00+00:00")
    runs = [shipped_lenet, older, newer, mlp_old, mlp_new]

    # No choice: LeNet-5's shipped checkpoint; the MLP's newest run by creation time, not by name.
    assert default_runs(runs, checkpoints) == {"mlp": mlp_new, "lenet5": shipped_lenet}
    # A choice wins; one that names a missing run or another model's run is ignored.
    chosen = {"lenet5": str(older.path), "mlp": str(newer.path), "cnn": str(tmp_path / "gone")}
    assert default_runs(runs, checkpoints, chosen) == {"mlp": mlp_new, "lenet5": older}
    # Without the shipped run: the newest of the user's.
    assert default_runs([older, newer], checkpoints)["lenet5"] == newer


def test_shipped_means_the_model_folder_inside_the_checkpoints_folder(tmp_path):
    shipped = save(tmp_path / "checkpoints" / "lenet5")[0]
    same_name_elsewhere = save(tmp_path / "runs" / "lenet5")[0]
    wrong_name = save(tmp_path / "checkpoints" / "cnn")[0]  # holds a LeNet-5
    assert shipped.is_shipped(tmp_path / "checkpoints")
    assert not same_name_elsewhere.is_shipped(tmp_path / "checkpoints")
    assert not wrong_name.is_shipped(tmp_path / "checkpoints")
    assert shipped_runs([same_name_elsewhere, wrong_name, shipped], tmp_path / "checkpoints") == {"lenet5": shipped}


def test_nan_weights_are_refused_when_the_model_is_loaded(tmp_path):
    info, model = save(tmp_path / "diverged")
    with torch.no_grad():
        model.fc.weight[0, 0] = float("nan")
    broken = save_run(tmp_path / "nan", "lenet5", model, {"recipe": "best"}, [], fake_evaluation(), 1.0, 100)
    with pytest.raises(RunError, match="NaN or infinite weights"):
        load_model(broken)


@pytest.mark.parametrize("crafted, message", [
    (lambda shape: torch.full(shape, complex(float("nan"), 1.0), dtype=torch.complex64),
     r"holds complex64 numbers in .* where the model has float32: the file was crafted"),
    (lambda shape: torch.full(shape, 1e300, dtype=torch.float64), "NaN or infinite weights"),
    (lambda shape: torch.ones(shape, dtype=torch.int64), "holds int64 numbers in .* where the model has float32"),
])
def test_crafted_weights_with_a_matching_checksum_are_refused(tmp_path, crafted, message):
    """complex64 NaN loaded with the imaginary part dropped and answered '0 (nan%)'; float64 1e300 is
    finite in the file and infinite in the model."""
    import hashlib
    import json

    from safetensors.torch import save as save_safetensors

    info, model = save(tmp_path / "crafted")
    data = save_safetensors({name: crafted(tensor.shape) for name, tensor in model.state_dict().items()})
    (info.path / "weights.safetensors").write_bytes(data)
    record = json.loads((info.path / "run.json").read_text())
    record["weights"].update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    (info.path / "run.json").write_text(json.dumps(record))
    with pytest.raises(RunError, match=message):
        load_model(info.path)
