"""ONNX export: every registered model as a file ONNX Runtime runs like PyTorch, with a manifest."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mnist_core.cli import main
from mnist_core.evaluation import evaluation_from_logits
from mnist_core.models import MODEL_KEYS, MODELS, build_model
from mnist_core.onnx_export import MANIFEST_FILE, OnnxExportError, check_onnx, export_onnx, read_manifest
from mnist_core.runs import find_runs, load_model, read_run, save_run


@pytest.fixture
def runs_dir(tmp_path):
    """One untrained run of every registered model (random weights: parity does not need training)."""
    folder = tmp_path / "runs"
    for key in MODEL_KEYS:
        torch.manual_seed(0)
        save_run(folder / key, key, build_model(key), {"recipe": "best"}, [],
                 evaluation_from_logits(torch.eye(10), torch.arange(10)), training_seconds=1.0, train_images=100)
    return folder


def digits(count: int, seed: int = 0) -> np.ndarray:
    """Digit-like pixels in [0, 1]: mostly black, a few bright strokes."""
    generator = np.random.default_rng(seed)
    return np.clip(generator.random((count, 28, 28)) * 3 - 2, 0, 1).astype(np.float32)


@pytest.mark.slow
def test_every_registered_model_exports_and_runs_in_onnx_runtime_as_in_pytorch(runs_dir, tmp_path):
    runs = {run.model_key: run for run in find_runs(runs_dir)[0]}
    exported = export_onnx(runs, tmp_path / "onnx")
    assert [model.key for model in exported] == list(runs) and set(runs) == set(MODEL_KEYS)
    pixels = digits(64)
    for model in exported:
        largest, answers = check_onnx(tmp_path / "onnx" / model.file, load_model(runs[model.key]), pixels)
        assert largest <= 1e-4, (model.key, largest)
        assert answers.shape == (64,)
        assert (model.name, model.colour, model.run) == (MODELS[model.key].name, MODELS[model.key].color, model.key)
    assert read_manifest(tmp_path / "onnx") == exported
    manifest = json.loads((tmp_path / "onnx" / MANIFEST_FILE).read_text())
    assert manifest["input"]["name"] == "pixels" and manifest["output"]["shape"] == ["N", 10]
    assert not [path for path in (tmp_path / "onnx").iterdir() if path.name.startswith(".")]  # no temporaries


@pytest.mark.slow
def test_the_graph_normalises_and_answers_probabilities(runs_dir, tmp_path):
    """Pixels in [0, 1] in, probabilities out (each row sums to 1): no normalisation or softmax by the caller."""
    import onnxruntime

    run = read_run(runs_dir / "lenet5")
    (model,) = export_onnx({"lenet5": run}, tmp_path)
    session = onnxruntime.InferenceSession(str(tmp_path / model.file), providers=["CPUExecutionProvider"])
    pixels = digits(5)[:, None]
    probabilities = session.run(None, {"pixels": pixels})[0]
    assert probabilities.shape == (5, 10) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    network = load_model(run).eval()
    with torch.no_grad():
        normalised = torch.softmax(network((torch.from_numpy(pixels) - 0.1307) / 0.3081), 1).numpy()
        raw = torch.softmax(network(torch.from_numpy(pixels)), 1).numpy()
    assert np.allclose(probabilities, normalised, atol=1e-5) and not np.allclose(probabilities, raw, atol=1e-3)


def test_a_changed_or_missing_file_or_manifest_is_told_with_what_to_do(runs_dir, tmp_path):
    folder = tmp_path / "onnx"
    with pytest.raises(OnnxExportError, match="export --onnx"):
        read_manifest(folder)
    export_onnx({"mlp": read_run(runs_dir / "mlp")}, folder)
    with open(folder / "mlp.onnx", "r+b") as file:
        file.seek(100)
        file.write(b"\x00\x01\x02")
    with pytest.raises(OnnxExportError, match="changed since it was exported"):
        read_manifest(folder)
    (folder / "mlp.onnx").unlink()
    with pytest.raises(OnnxExportError, match="missing"):
        read_manifest(folder)
    (folder / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(OnnxExportError, match="damaged"):
        read_manifest(folder)


@pytest.mark.slow
def test_export_cli_writes_the_files_and_says_where_and_refuses_a_file_as_folder(runs_dir, tmp_path, capsys):
    code = main(["export", "--onnx", str(tmp_path / "out"), "--runs", str(runs_dir), "--models", "mlp,cnn",
                 "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    record = json.loads(out)
    assert [row["model"] for row in record["models"]] == ["mlp", "cnn"]
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["cnn.onnx", "manifest.json", "mlp.onnx"]
    (tmp_path / "a-file").write_text("")
    code = main(["export", "--onnx", str(tmp_path / "a-file"), "--runs", str(runs_dir)])
    out, err = capsys.readouterr()
    assert code == 1 and err.startswith("error: cannot create") and "Traceback" not in err


@pytest.mark.parametrize("half", [False, True], ids=["float32", "float16 weights (as /join serves them)"])
def test_the_shipped_models_score_the_same_on_the_test_set_in_onnx_runtime(real_mnist, tmp_path, half):
    """The 10,000 test images through the exported shipped checkpoints: the same accuracy as the runs
    record and not one answer other than PyTorch's; probabilities within 1e-4 (float16 weights: 2e-3)."""
    from mnist_core.predict import shipped_run_dirs

    runs = {key: read_run(folder) for key, folder in shipped_run_dirs().items()}
    exported = export_onnx(runs, tmp_path, half=half)
    pixels = real_mnist.test_images.numpy().astype(np.float32) / 255
    labels = real_mnist.test_labels.numpy()
    for model in exported:
        network = load_model(runs[model.key]).eval()
        largest, answers = check_onnx(tmp_path / model.file, network, pixels)
        assert largest <= (2e-3 if half else 1e-4), (model.key, largest)
        assert float((answers == labels).mean()) == pytest.approx(runs[model.key].accuracy, abs=1e-9), model.key
        with torch.no_grad():
            pytorch = network((torch.from_numpy(pixels)[:, None] - 0.1307) / 0.3081).argmax(1).numpy()
        assert (answers == pytorch).all(), model.key


@pytest.mark.slow
def test_the_cached_export_is_reused_and_made_again_when_damaged(runs_dir, tmp_path):
    from mnist_core.onnx_export import exported_runs

    runs = {"lenet5": read_run(runs_dir / "lenet5")}
    folder, first = exported_runs(runs, tmp_path)
    written = (folder / "lenet5.onnx").stat().st_mtime_ns
    assert exported_runs(runs, tmp_path) == (folder, first) and (folder / "lenet5.onnx").stat().st_mtime_ns == written
    (folder / "lenet5.onnx").write_bytes(b"not a model")  # damaged on disk: exported again, not served
    again_folder, again = exported_runs(runs, tmp_path)
    assert again_folder == folder and again == first and (folder / "lenet5.onnx").read_bytes() != b"not a model"
    other = {"cnn": read_run(runs_dir / "cnn")}
    assert exported_runs(other, tmp_path)[0] != folder  # other weights, another folder


@pytest.mark.slow
def test_float16_weights_halve_the_file_and_keep_float32_in_and_out(runs_dir, tmp_path):
    import onnx

    run = read_run(runs_dir / "cnn")
    (full,) = export_onnx({"cnn": run}, tmp_path / "full")
    (half,) = export_onnx({"cnn": run}, tmp_path / "half", half=True)
    assert half.bytes < 0.55 * full.bytes
    graph = onnx.load(tmp_path / "half" / "cnn.onnx").graph
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    largest, _ = check_onnx(tmp_path / "half" / "cnn.onnx", load_model(run), digits(32))
    assert largest <= 5e-3


def test_int8_weights_keep_the_shipped_models_answers_on_the_test_set(real_mnist, tmp_path, capsys):
    """`export --onnx DIR --int8 --check`, as /join serves the models: each model's fully connected weights int8,
    at most 0.05 points of accuracy lost on the 10,000 test images (measured: 2, 1 and 0 answers differ from
    PyTorch's), and a quarter to a half of the float16 download."""
    folder = tmp_path / "int8"
    assert main(["export", "--onnx", str(folder), "--int8", "--check", "--json",
                 "--data-dir", str(real_mnist.root)]) == 0
    rows = {row["model"]: row for row in json.loads(capsys.readouterr().out)["models"]}
    assert set(rows) == {"mlp", "cnn", "lenet5"}
    for key, row in rows.items():
        assert row["weights"] == "int8" and row["int8_refused"] is None, row
        assert row["torch_accuracy"] - row["onnx_accuracy"] <= 0.0005 + 1e-9, row
        assert row["differing_answers"] <= 5, row
    assert rows["mlp"]["bytes"] < 0.55 * 1_247_964 and rows["cnn"]["bytes"] < 0.55 * 1_874_088  # float16's sizes
    listed = {model.key: model for model in read_manifest(folder)}
    assert listed["cnn"].weights == "int8" and listed["cnn"].int8.images == 10_000


@pytest.mark.parametrize("lost, refused", [(5, False), (6, True)], ids=["0.05 points: int8", "0.06: float16"])
@pytest.mark.slow
def test_int8_is_refused_past_a_drop_of_005_points_and_the_model_stays_float16(runs_dir, tmp_path, monkeypatch,
                                                                               caplog, lost, refused):
    """At and past MAX_INT8_ACCURACY_DROP: the answers of the int8 file are made to lose ``lost`` of 10,000."""
    import onnx

    from mnist_core import onnx_export

    labels = np.zeros(10_000, dtype=np.int64)
    answers = labels.copy()
    answers[:lost] = 1

    def compare(path, model, pixels, batch=1000):
        return 0.0, answers, labels  # PyTorch right on all 10,000, the int8 file wrong on ``lost``

    monkeypatch.setattr(onnx_export, "compare_onnx", compare)
    run = read_run(runs_dir / "mlp")
    with caplog.at_level("WARNING", logger="mnist_core.onnx_export"):
        (model,) = export_onnx({"mlp": run}, tmp_path, int8_on=(digits(8), labels))  # (compare is faked)
    assert model.int8.differing == lost and model.int8.torch_accuracy == 1.0
    initializers = {init.data_type for init in onnx.load(tmp_path / model.file).graph.initializer}
    if refused:
        assert model.weights == "float16" and "0.06 points" in model.int8.refused
        assert onnx.TensorProto.INT8 not in initializers and onnx.TensorProto.FLOAT16 in initializers
        assert "int8 weights refused" in caplog.text
    else:
        assert model.weights == "int8" and model.int8.refused is None
        assert onnx.TensorProto.INT8 in initializers
    assert read_manifest(tmp_path) == [model]  # the check is kept in the manifest, and read back
    largest, _ = check_onnx(tmp_path / model.file, load_model(run), digits(16))  # a model either way
    assert largest <= 0.05


def _fake_compare(calls: list, lost: int = 0):
    """compare_onnx as if PyTorch were right on every image and the int8 file wrong on ``lost``; counts its calls."""
    def compare(path, model, pixels, batch=1000):
        calls.append(path)
        labels = np.zeros(len(pixels), dtype=np.int64)
        answers = labels.copy()
        answers[:lost] = 1
        return 0.0, answers, labels
    return compare


def _no_test_set():
    raise AssertionError("the test set was read: the stored int8 check was not used")


@pytest.mark.slow
def test_a_stored_int8_check_is_read_instead_of_checking_and_a_stale_one_is_ignored(runs_dir, tmp_path, monkeypatch):
    """`export --int8 --check --save` stores each check beside its run (int8_check.json); an export reads it for the
    same weights and int8 file (no test set read, nothing run), and checks anew when either has changed."""
    from mnist_core import onnx_export
    from mnist_core.onnx_export import INT8_CHECK_FILE, read_int8_check, write_int8_check

    calls = []
    monkeypatch.setattr(onnx_export, "compare_onnx", _fake_compare(calls))
    run = read_run(runs_dir / "lenet5")
    test_set = (digits(100), np.zeros(100, dtype=np.int64))
    (checked,) = export_onnx({"lenet5": run}, tmp_path / "a", int8_on=test_set)
    assert len(calls) == 1 and checked.weights == "int8" and checked.int8.checked_sha256
    stored = json.loads(write_int8_check(run, checked.int8).read_text())
    assert stored["weights_sha256"] == run.weights_sha256 and stored["images"] == 100

    (again,) = export_onnx({"lenet5": run}, tmp_path / "b", int8_on=_no_test_set)
    assert len(calls) == 1 and again.int8 == checked.int8 and again.sha256 == checked.sha256
    (anew,) = export_onnx({"lenet5": run}, tmp_path / "c", int8_on=test_set, stored=False)  # export --int8 --check
    assert len(calls) == 2 and anew.int8 == checked.int8

    assert read_int8_check(run, "0" * 64) is None  # another int8 file (another exporter, quantizer, settings)
    path = runs_dir / "lenet5" / INT8_CHECK_FILE
    for stale in ({**stored, "weights_sha256": "0" * 64}, {**stored, "differing": 101}, {**stored, "format": "x"}):
        path.write_text(json.dumps(stale))  # another checkpoint's, a damaged one
        assert read_int8_check(run, checked.int8.checked_sha256) is None
    path.write_text("{not json")
    assert read_int8_check(run, checked.int8.checked_sha256) is None
    path.write_text(json.dumps({**stored, "weights_sha256": "0" * 64}))
    (stale,) = export_onnx({"lenet5": run}, tmp_path / "d", int8_on=lambda: test_set)
    assert len(calls) == 3 and stale.int8 == checked.int8


@pytest.mark.slow
def test_a_stored_check_that_loses_too_much_keeps_the_model_float16_and_no_test_set_means_float16(
        runs_dir, tmp_path, monkeypatch):
    """The limit is applied when a stored check is read (today's MAX_INT8_ACCURACY_DROP); without a stored check or
    a test set (a server without MNIST) a model is stored as float16, unchecked."""
    from mnist_core import onnx_export
    from mnist_core.onnx_export import write_int8_check

    calls = []
    monkeypatch.setattr(onnx_export, "compare_onnx", _fake_compare(calls, lost=6))
    run = read_run(runs_dir / "mlp")
    (refused,) = export_onnx({"mlp": run}, tmp_path / "a", int8_on=(digits(10_000), np.zeros(10_000, np.int64)))
    assert refused.weights == "float16" and "0.06 points" in refused.int8.refused
    write_int8_check(run, refused.int8)
    (again,) = export_onnx({"mlp": run}, tmp_path / "b", int8_on=_no_test_set)
    assert len(calls) == 1 and again.weights == "float16" and again.int8 == refused.int8
    other = read_run(runs_dir / "cnn")
    (unchecked,) = export_onnx({"cnn": other}, tmp_path / "c", int8_on=lambda: None)
    assert unchecked.weights == "float16" and unchecked.int8 is None and len(calls) == 1


@pytest.mark.slow
def test_the_shipped_checkpoints_carry_their_int8_check(tmp_path, monkeypatch):
    """Each model's shipped checkpoint (what /join serves by default) has int8_check.json for its weights and for
    the int8 file this exporter makes, so /join serves int8 without running the check. Failing after a change to the
    checkpoints, the exporter or its pinned libraries: run `make int8-checks`."""
    from mnist_core import onnx_export
    from mnist_core.runs import default_runs
    from mnist_core.workspace import Workspace

    monkeypatch.setattr(onnx_export, "compare_onnx", lambda *args, **kwargs: pytest.fail("the check ran"))
    shipped = Workspace().checkpoints
    runs = default_runs(find_runs(shipped)[0], shipped, include=MODEL_KEYS)
    assert {"mlp", "cnn", "lenet5"} <= set(runs)
    for key, run in runs.items():
        (model,) = export_onnx({key: run}, tmp_path / key, half=True, int8_on=_no_test_set)
        assert model.weights == "int8" and model.int8.images == 10_000 and model.int8.differing <= 5, key


def test_the_quantizers_advice_is_dropped_by_a_filter_and_the_root_loggers_level_is_left_alone(
        runs_dir, tmp_path, monkeypatch, caplog):
    """onnxruntime.quantization advises pre-processing with ``logging.warning`` (the root logger): a filter drops its
    warnings for the call. The root's level is never changed (every thread of a server shares it: two exports at
    once could leave it at ERROR), and what anything else logs meanwhile still comes through."""
    import logging

    import onnxruntime.quantization

    from mnist_core import onnx_export

    root = logging.getLogger()
    quantize, levels = onnxruntime.quantization.quantize_dynamic, []

    def quantize_beside_others(*args, **kwargs):
        levels.append(root.level)
        logging.warning("another thread's warning")  # (from this file: not the quantizer's)
        return quantize(*args, **kwargs)

    monkeypatch.setattr(onnxruntime.quantization, "quantize_dynamic", quantize_beside_others)
    monkeypatch.setattr(onnx_export, "compare_onnx", _fake_compare([]))
    filters = list(root.filters)
    with caplog.at_level(logging.WARNING):
        level = root.level
        (model,) = export_onnx({"mlp": read_run(runs_dir / "mlp")}, tmp_path, int8_on=(digits(8), np.zeros(8, int)))
        assert model.weights == "int8" and levels == [level] and root.level == level
    assert "another thread's warning" in caplog.text and "pre-processing" not in caplog.text
    assert root.filters == filters  # taken off after the call
