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
