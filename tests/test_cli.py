import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_core.cli import main
from mnist_core.evaluation import evaluation_from_logits
from mnist_core.models import MODEL_KEYS, build_model, default_model_keys
from mnist_core.runs import RUN_FILE, WEIGHTS_FILE, read_run, save_run
from tests.support import PROJECT_ROOT
from tests.support.hostile_files import hostile_files, special_paths
from tests.support.images import draw_seven


@pytest.fixture
def runs_dir(tmp_path):
    """One untrained run of each model: enough to check the CLI's shapes and error paths."""
    folder = tmp_path / "runs"
    labels = torch.arange(10)
    for key in MODEL_KEYS:
        torch.manual_seed(0)
        save_run(folder / key, key, build_model(key), {"recipe": "best"}, [], evaluation_from_logits(
            torch.eye(10), labels), training_seconds=1.0, train_images=100)
    return folder


def run_cli(capsys, *argv):
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_evaluate_json_has_exactly_the_documented_shape(capsys, runs_dir, fake_mnist_root):
    code, out, err = run_cli(capsys, "evaluate", "--runs", runs_dir, "--json", "--data-dir", fake_mnist_root)
    report = json.loads(out)
    assert code == 0 and set(report) == {"models", "errors"} and report["errors"] == []
    assert [row["model"] for row in report["models"]] == ["cnn", "lenet5", "lenet5_relu", "mlp"]
    for row in report["models"]:
        assert set(row) == {"model", "name", "run", "accuracy", "loss", "parameters"}
        assert 0 <= row["accuracy"] <= 1 and isinstance(row["parameters"], int)
    assert {row["name"] for row in report["models"]} == {"MLP", "CNN", "LeNet-5", "LeNet-5 (ReLU)"}


@pytest.mark.slow
def test_evaluate_reports_a_damaged_run_and_evaluates_the_rest(capsys, runs_dir, fake_mnist_root):
    (runs_dir / "cnn" / WEIGHTS_FILE).write_bytes(b"garbage")
    (runs_dir / "orphan").mkdir()
    (runs_dir / "orphan" / WEIGHTS_FILE).write_bytes(b"weights without a description")
    code, out, err = run_cli(capsys, "evaluate", "--runs", runs_dir, "--json", "--data-dir", fake_mnist_root)
    report = json.loads(out)
    assert code == 1
    assert [row["model"] for row in report["models"]] == ["lenet5", "lenet5_relu", "mlp"]
    assert {error["run"].split("/")[-1] for error in report["errors"]} == {"cnn", "orphan"}
    assert all(set(error) == {"run", "error"} and error["error"] for error in report["errors"])


@pytest.mark.slow
def test_evaluate_table_and_missing_data(capsys, runs_dir, fake_mnist_root, tmp_path):
    code, out, _ = run_cli(capsys, "evaluate", "--runs", runs_dir, "--data-dir", fake_mnist_root)
    assert code == 0 and "LeNet-5" in out and "61,706" in out
    code, out, err = run_cli(capsys, "evaluate", "--runs", runs_dir, "--data-dir", tmp_path / "empty")
    assert code == 1 and "MNIST not found" in err and "Traceback" not in err


def write_image(path, image):
    image.save(path)
    return path


@pytest.mark.slow
def test_predict_json_shape_with_good_and_bad_files(capsys, runs_dir, tmp_path):
    good = write_image(tmp_path / "seven.png", draw_seven())
    blank = write_image(tmp_path / "blank.png", Image.new("L", (100, 100)))
    text = tmp_path / "notes.png"
    text.write_text("hello")
    missing = tmp_path / "missing.png"
    code, out, err = run_cli(capsys, "predict", good, blank, text, missing, "--runs", runs_dir, "--json")
    report = json.loads(out)
    assert code == 1 and set(report) == {"results"}
    first, *bad = report["results"]
    assert first["file"] == str(good) and set(first["models"]) == {"mlp", "cnn", "lenet5"}
    for answer in first["models"].values():
        assert set(answer) == {"digit", "probabilities"} and len(answer["probabilities"]) == 10
        assert 0 <= answer["digit"] <= 9 and abs(sum(answer["probabilities"]) - 1) < 1e-4
    assert [set(row) for row in bad] == [{"file", "error"}] * 3
    assert "blank" in bad[0]["error"] and "does not exist" in bad[2]["error"]


@pytest.mark.slow
def test_predict_all_good_exits_zero_and_prints_a_table(capsys, runs_dir, tmp_path):
    good = write_image(tmp_path / "seven.png", draw_seven())
    code, out, _ = run_cli(capsys, "predict", good, "--runs", runs_dir)
    assert code == 0 and "MLP" in out and "LeNet-5" in out and "seven.png" in out


def test_predict_without_runs_says_what_to_do(capsys, tmp_path):
    image = write_image(tmp_path / "seven.png", draw_seven())
    code, _, err = run_cli(capsys, "predict", image, "--runs", tmp_path / "nothing-here")
    assert code == 1 and "train" in err


@pytest.mark.slow
def test_train_writes_a_run_folder(capsys, fake_mnist_root, tmp_path):
    code, out, err = run_cli(capsys, "train", "--model", "mlp", "--recipe", "tutorial", "--epochs", "1",
                             "--data-dir", fake_mnist_root, "--out", tmp_path / "out")
    assert code == 0, err
    (run,) = (tmp_path / "out").iterdir()
    assert run.name.startswith("mlp-tutorial-") and (run / RUN_FILE).is_file()
    info = read_run(run)
    assert info.config["epochs"] == 1 and len(info.history) == 1 and info.train_images == 120


@pytest.mark.slow
def test_train_holds_out_validation_images_and_records_their_accuracy(capsys, fake_mnist_root, tmp_path):
    code, out, err = run_cli(capsys, "train", "--model", "lenet5", "--epochs", "1", "--validation", "20",
                             "--data-dir", fake_mnist_root, "--out", tmp_path / "out", "--name", "held-out")
    assert code == 0, err
    assert "validation accuracy" in out
    record = json.loads((tmp_path / "out" / "held-out" / RUN_FILE).read_text())
    assert record["config"]["validation"] == 20 and record["validation_images"] == 20
    assert record["train_images"] == 100 and 0 <= record["history"][0]["validation_accuracy"] <= 1


def test_the_best_recipe_on_too_few_images_says_to_pass_validation(capsys, fake_mnist_root, tmp_path):
    code, _, err = run_cli(capsys, "train", "--model", "mlp", "--epochs", "1", "--data-dir", fake_mnist_root,
                           "--out", tmp_path / "out")
    assert code == 1 and "--validation" in err and "5,000" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.slow
def test_train_refuses_to_overwrite_without_permission(capsys, fake_mnist_root, tmp_path):
    args = ["train", "--model", "all", "--epochs", "1", "--subset", "40", "--validation", "0",
            "--data-dir", fake_mnist_root, "--out", tmp_path / "out", "--name", "{model}"]
    assert run_cli(capsys, *args)[0] == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(MODEL_KEYS)
    code, _, err = run_cli(capsys, *args)
    assert code == 1 and "--overwrite" in err
    assert run_cli(capsys, *args, "--overwrite")[0] == 0


def train_args(fake_mnist_root, out, *extra):
    return ["train", "--model", "mlp", "--recipe", "tutorial", "--epochs", "1", "--data-dir", fake_mnist_root,
            "--out", out, *extra]


@pytest.mark.parametrize(
    "where, reason",
    [("a-file", "is a file"), ("a-file/runs", "Not a directory"), ("/sys/mnist-runs", "cannot hold runs")],
)
def test_a_bad_out_folder_is_found_before_training(capsys, fake_mnist_root, tmp_path, monkeypatch, where, reason):
    import mnist_core.training

    def no_training(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(mnist_core.training, "train_model", no_training)
    (tmp_path / "a-file").write_text("not a folder")
    code, _, err = run_cli(capsys, *train_args(fake_mnist_root, tmp_path / where))
    assert code == 1 and reason in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow  # over 1 s here: make test-fast leaves it out
def test_a_save_that_fails_after_training_keeps_the_model_where_the_message_says(capsys, fake_mnist_root, tmp_path,
                                                                                 monkeypatch):
    import mnist_core.runs

    real_save = mnist_core.runs.save_run

    def disk_full_in_out(run_dir, *args, **kwargs):
        if tmp_path / "out" in run_dir.parents:
            raise OSError(28, "No space left on device")
        return real_save(run_dir, *args, **kwargs)

    monkeypatch.setattr(mnist_core.runs, "save_run", disk_full_in_out)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "system-tmp"))  # where the rescue goes
    (tmp_path / "system-tmp").mkdir()
    code, _, err = run_cli(capsys, *train_args(fake_mnist_root, tmp_path / "out"))
    assert code == 1 and "No space left" in err and "Traceback" not in err
    (message,) = [line for line in err.splitlines() if "error:" in line]
    kept = Path(message.split("kept in ", 1)[1].split(" instead", 1)[0])
    assert read_run(kept).model_key == "mlp" and kept.name.startswith("mlp-tutorial-")
    assert kept.parent.parent == tmp_path / "system-tmp"


@pytest.mark.parametrize("device, reason", [("bogus", "Unknown device"), ("cuda", "no cuda device"),
                                            ("cuda:7", "no cuda device")])
def test_a_bad_device_is_one_line(capsys, fake_mnist_root, tmp_path, device, reason):
    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, _, err = run_cli(capsys, *train_args(fake_mnist_root, tmp_path / "out", "--device", device))
    assert code == 1 and reason in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_subset_larger_than_the_data_set_is_the_whole_data_set(capsys, fake_mnist_root, tmp_path):
    code, _, err = run_cli(capsys, *train_args(fake_mnist_root, tmp_path / "out", "--subset", "70000"))
    assert code == 0, err
    (run,) = (tmp_path / "out").iterdir()
    info = read_run(run)
    assert info.train_images == 120 and info.config["train_subset"] is None


@pytest.mark.slow
def test_a_diverging_training_saves_nothing_and_says_why(capsys, fake_mnist_root, tmp_path):
    code, _, err = run_cli(capsys, *train_args(fake_mnist_root, tmp_path / "out", "--lr", "1e30"))
    assert code == 1 and "diverged" in err and "Traceback" not in err
    assert not any((tmp_path / "out").iterdir())


@pytest.mark.slow
def test_json_output_is_strict(capsys, runs_dir, fake_mnist_root):
    """No bare NaN or Infinity: a strict parser reads every JSON the CLI prints, even for a model whose
    outputs overflow (its loss is not finite, so it is null)."""
    model = build_model("mlp")
    with torch.no_grad():
        model.output.weight.fill_(1e38)  # finite weights, infinite logits
    save_run(runs_dir / "overflowing", "mlp", model, {"recipe": "best"}, [],
             evaluation_from_logits(torch.eye(10), torch.arange(10)), 1.0, 100)
    code, out, _ = run_cli(capsys, "evaluate", "--runs", runs_dir, "--json", "--data-dir", fake_mnist_root)
    report = json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    (overflowing,) = [row for row in report["models"] if row["run"].endswith("overflowing")]
    assert overflowing["loss"] is None and code == 0


@pytest.mark.parametrize(
    "argv",
    [["train", "--model", "resnet"], ["train", "--epochs", "zero"], ["train", "--epochs", "-3"],
     ["evaluate", "--bogus"], ["predict"], ["fly"]],
)
def test_bad_arguments_give_usage_not_a_traceback(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    _, err = capsys.readouterr()
    assert exit_info.value.code == 2 and "usage:" in err and "Traceback" not in err


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "train" in capsys.readouterr().err


@pytest.mark.slow
def test_the_module_runs_as_a_program(tmp_path, runs_dir):
    image = tmp_path / "seven.png"
    draw_seven().save(image)
    done = subprocess.run([sys.executable, "-m", "mnist_core", "predict", str(image), "--runs", str(runs_dir),
                           "--json"], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["results"][0]["file"] == str(image)


@pytest.mark.slow
def test_predict_handles_hundreds_of_files(capsys, runs_dir, tmp_path):
    paths = []
    for index in range(300):
        canvas = np.zeros((60, 60), dtype=np.uint8)
        canvas[10:50, 25 + index % 10 : 30 + index % 10] = 255
        paths.append(write_image(tmp_path / f"{index}.png", Image.fromarray(canvas)))
    code, out, _ = run_cli(capsys, "predict", *paths, "--runs", runs_dir, "--json")
    assert code == 0 and len(json.loads(out)["results"]) == 300


@pytest.mark.slow
def test_predict_survives_every_kind_of_bad_file(capsys, runs_dir, tmp_path):
    """Good files still get predictions; each bad one gets its reason; the exit code says so."""
    matrix = hostile_files()
    paths = []
    for name, (content, _) in matrix.items():
        (tmp_path / name).write_bytes(content)
        paths.append(tmp_path / name)
    specials = special_paths(tmp_path / "special")
    paths += [path for path, _ in specials.values()]
    code, out, err = run_cli(capsys, "predict", *paths, "--runs", runs_dir, "--json")
    results = json.loads(out)["results"]
    assert code == 1 and "Traceback" not in err and [row["file"] for row in results] == [str(p) for p in paths]
    expected = [refusal for _, refusal in matrix.values()] + [refusal for _, refusal in specials.values()]
    for row, refusal in zip(results, expected):
        if refusal is None:
            assert "models" in row, row
        else:
            assert refusal in row["error"], row


def test_robustness_json_has_exactly_the_documented_shape(capsys, real_data_root):
    code, out, err = run_cli(capsys, "robustness", "--runs", PROJECT_ROOT / "checkpoints", "--images", 60,
                             "--seed", 3, "--json", "--data-dir", real_data_root)
    report = json.loads(out)
    assert code == 0 and set(report) == {"images", "seed", "runs", "perturbations"}
    assert report["images"] == 60 and report["seed"] == 3
    assert set(report["runs"]) == set(default_model_keys()) and report["runs"]["mlp"].endswith("mlp")
    assert [p["name"] for p in report["perturbations"]] == [
        "shift_x", "shift_y", "rotation", "scale", "thickness", "noise", "occlusion"]
    for perturbation in report["perturbations"]:
        assert set(perturbation) == {"name", "unit", "levels", "accuracy"}
        assert set(perturbation["accuracy"]) == set(default_model_keys())
        for values in perturbation["accuracy"].values():
            assert len(values) == len(perturbation["levels"]) and all(0 <= v <= 1 for v in values)
    shift = report["perturbations"][0]
    assert shift["unit"] == "px" and shift["levels"][0] == -6 and shift["levels"][-1] == 6
    assert isinstance(shift["levels"][0], int)


def test_robustness_table_and_its_errors(capsys, real_data_root, tmp_path):
    code, out, err = run_cli(capsys, "robustness", "--runs", PROJECT_ROOT / "checkpoints", "--images", 30,
                             "--data-dir", real_data_root)
    assert code == 0 and "Horizontal shift (px)" in out and "Occlusion (px)" in out and "LeNet-5" in out
    code, out, err = run_cli(capsys, "robustness", "--runs", tmp_path / "empty", "--data-dir", real_data_root)
    assert code == 1 and "holds no usable run" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["robustness", "--images", "some"])
    assert "is not a whole number" in capsys.readouterr().err


@pytest.mark.slow
def test_explain_json_has_exactly_the_documented_shape(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)  # the shipped checkpoints
    seven = tmp_path / "seven.png"
    draw_seven().save(seven)
    (tmp_path / "empty.png").write_bytes(b"")
    for method in ("occlusion", "integrated-gradients"):
        code, out, err = run_cli(capsys, "explain", seven, tmp_path / "empty.png", "--method", method, "--json")
        (good, bad) = json.loads(out)["results"]
        assert code == 1  # one file had no digit
        assert set(good) == {"file", "models"} and good["file"] == str(seven)
        assert set(bad) == {"file", "error"} and "empty" in bad["error"]
        assert set(good["models"]) == {"mlp", "cnn", "lenet5"}
        for answer in good["models"].values():
            assert set(answer) == {"digit", "attribution"} and answer["digit"] == 7
            grid = np.array(answer["attribution"])
            assert grid.shape == (28, 28) and np.isfinite(grid).all() and grid.max() > 0
    code, out, err = run_cli(capsys, "explain", seven)
    assert code == 0 and "LeNet-5 7 (most credit at row" in out


@pytest.mark.parametrize("command", ["train", "robustness", "drawn"])
@pytest.mark.parametrize("seed", ["-5", "18446744073709551616", "1e3"])
def test_a_seed_out_of_range_is_refused_by_the_parser_at_once(capsys, command, seed):
    started = time.monotonic()
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--seed", seed])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "argument --seed" in err and "0 to 4,294,967,295" in err
    assert time.monotonic() - started < 5  # before any data is loaded
