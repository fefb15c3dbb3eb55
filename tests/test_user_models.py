"""Models of the user's own (issue 24): a file named in MNIST_MODELS registers them, and they train,
evaluate, predict, explain and show on the pages like the built-in ones."""

from __future__ import annotations

import json
import os

import pytest
import torch

from mnist_core import models as registry
from mnist_core.cli import main
from mnist_core.evaluation import evaluation_from_logits
from mnist_core.explain import attributions, inside
from mnist_core.models import MODELS, ModelFileError, build_model, load_user_models, register_model
from mnist_core.runs import RunError, load_model, read_run, save_run
from tests.support import PROJECT_ROOT
from tests.support.apptest import open_page, sidebar_text, texts
from tests.support.images import draw_seven, png_bytes

EXAMPLE = PROJECT_ROOT / "docs" / "examples" / "logreg.py"


@pytest.fixture
def clean_registry(monkeypatch):
    """The registry as shipped, before and after the test (registering is process-wide)."""
    saved = dict(MODELS), dict(registry._loaded_files), dict(registry._failed_files)
    monkeypatch.delenv("MNIST_MODELS", raising=False)
    yield registry
    for mapping, before in zip((MODELS, registry._loaded_files, registry._failed_files), saved):
        mapping.clear()
        mapping.update(before)


def untrained_logreg_run(folder):
    torch.manual_seed(0)
    return save_run(folder, "logreg", build_model("logreg"), {"recipe": "tutorial"}, [],
                    evaluation_from_logits(torch.eye(10), torch.arange(10)), 1.0, 100)


def test_the_readme_example_registers_a_model_that_trains_evaluates_predicts_and_explains(
        clean_registry, monkeypatch, tmp_path, real_data_root, capsys):
    assert EXAMPLE.read_text() in (PROJECT_ROOT / "docs" / "OWN_MODEL.md").read_text()  # it shows this very file
    monkeypatch.setenv("MNIST_MODELS", str(EXAMPLE))
    runs = tmp_path / "runs"
    assert main(["train", "--model", "logreg", "--recipe", "tutorial", "--epochs", "1", "--subset", "3000",
                 "--out", str(runs), "--name", "{model}", "--data-dir", str(real_data_root)]) == 0
    assert "LogReg: test accuracy" in capsys.readouterr().out
    spec = MODELS["logreg"]
    assert spec.name == "LogReg" and spec.source == str(EXAMPLE) and spec.color not in {
        other.color for key, other in MODELS.items() if key != "logreg"}
    assert main(["evaluate", "--runs", str(runs), "--json", "--data-dir", str(real_data_root)]) == 0
    (row,) = json.loads(capsys.readouterr().out)["models"]
    assert row["model"] == "logreg" and row["name"] == "LogReg" and row["accuracy"] > 0.7 and row["parameters"] == 7850

    image = tmp_path / "seven.png"
    image.write_bytes(png_bytes(draw_seven()))
    assert main(["predict", "--runs", str(runs), "--models", "logreg", "--json", str(image)]) == 0
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert set(result["models"]) == {"logreg"}

    model = load_model(runs / "logreg")
    digit = torch.randn(1, 1, 28, 28)
    maps = attributions({"logreg": model}, digit, "integrated-gradients")
    assert maps["logreg"].map.shape == (28, 28)
    assert inside("logreg", model, digit).kind == "units"  # its first layer reads the 784 pixels


def test_a_model_without_recipes_trains_with_the_generic_ones(clean_registry):
    from mnist_core.models import recipe_config

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(784, 10)

        def forward(self, x):
            return self.linear(x.flatten(1))

    register_model("tiny", "Tiny", Tiny)
    assert recipe_config("tiny", "best") == registry.GENERIC_RECIPES["best"]
    assert recipe_config("tiny", "tutorial").optimizer == "adam"
    assert inside("tiny", Tiny().eval(), torch.zeros(1, 1, 28, 28)) is None  # no first layer named: said so


@pytest.mark.parametrize("source, message", [
    ("def (:", "could not be used: SyntaxError"),
    ("raise RuntimeError('boom')", "could not be used: RuntimeError: boom"),
    ("from torch import nn\nfrom mnist_core.models import register_model\n"
     "class M(nn.Module):\n    def forward(self, x):\n        return x\n"
     "register_model('m', 'M', M)", r"must map \(N, 1, 28, 28\) to \(N, 10\) logits; it gave \(2, 1, 28, 28\)"),
    ("from torch import nn\nfrom mnist_core.models import register_model\n"
     "class M(nn.Module):\n    def forward(self, x):\n        return x.flatten(1)[:, :10]\n"
     "register_model('mlp', 'M', M)", "'mlp' is registered already"),
    ("from mnist_core.models import register_model\nregister_model('bad key', 'M', int)", "lower-case letters"),
])
def test_a_file_that_cannot_be_used_gets_one_message_naming_it(clean_registry, tmp_path, capsys, monkeypatch,
                                                               source, message):
    path = tmp_path / "mine.py"
    path.write_text(source)
    before = dict(MODELS)
    with pytest.raises(ModelFileError, match=message) as caught:
        load_user_models(str(path))
    assert str(path) in str(caught.value) and MODELS == before  # a failing file registers nothing
    monkeypatch.setenv("MNIST_MODELS", str(path))
    assert main(["evaluate", "--help"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(path) in err and "Traceback" not in err


def test_a_file_registering_two_models_where_the_second_fails_registers_neither(clean_registry, tmp_path):
    path = tmp_path / "two.py"
    path.write_text((EXAMPLE.read_text() + "\nregister_model('logreg', 'Again', LogisticRegression)\n"))
    with pytest.raises(ModelFileError, match="registered already"):
        load_user_models(str(path))
    assert "logreg" not in MODELS
    with pytest.raises(ModelFileError):  # reported again on the next start of a page, not run again
        load_user_models(str(path))


def test_a_missing_file_and_a_run_of_an_unregistered_model(clean_registry, tmp_path):
    with pytest.raises(ModelFileError, match="is not a file"):
        load_user_models(str(tmp_path / "nowhere.py"))
    load_user_models(str(EXAMPLE))
    untrained_logreg_run(tmp_path / "logreg")
    del MODELS["logreg"]  # the next start without MNIST_MODELS
    with pytest.raises(RunError, match="names an unknown model 'logreg'"):
        read_run(tmp_path / "logreg")


def test_draw_and_compare_show_a_registered_model(clean_registry, monkeypatch, user_runs, real_data_root):
    monkeypatch.setenv("MNIST_MODELS", str(EXAMPLE))
    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    load_user_models()
    untrained_logreg_run(user_runs / "logreg-mine")
    draw = open_page("pages/draw.py")
    assert "LogReg" in sidebar_text(draw)
    assert draw.selectbox(key="draw.run.logreg").value.endswith("logreg-mine")
    compare = open_page("pages/compare.py")
    assert not compare.exception and "LogReg" in texts(compare) + sidebar_text(compare)
    assert any("LogReg" in option for option in compare.multiselect(key="compare.runs").options)


def test_sessions_starting_at_once_register_each_file_once(clean_registry):
    import threading

    errors = []

    def start_a_session():
        try:
            load_user_models(str(EXAMPLE))
        except ModelFileError as error:
            errors.append(error)

    threads = [threading.Thread(target=start_a_session) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and "logreg" in MODELS and load_user_models(str(EXAMPLE)) == ["logreg"]


def test_one_bad_file_does_not_keep_the_others_out(clean_registry, tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("raise RuntimeError('boom')")
    with pytest.raises(ModelFileError, match=f"{bad}.*boom") as caught:
        load_user_models(f"{bad}{os.pathsep}{EXAMPLE}")
    assert str(EXAMPLE) not in str(caught.value) and "logreg" in MODELS


CONVOLUTIONAL = """
import torch
from torch import nn
from mnist_core.models import register_model

class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.norm = nn.BatchNorm2d(4)
        self.output = nn.Linear(4 * 26 * 26, 10)

    def forward(self, x):
        x = torch.relu(self.norm(self.conv(x)))
        return self.output(x.view(x.size(0), -1))  # fails on a channels-last tensor

register_model("small_cnn", "Small CNN", SmallCNN, first_layer="conv")
"""


def test_a_convolutional_model_with_view_and_batch_norm_trains_and_loads(clean_registry, tmp_path,
                                                                        fake_mnist_root):
    from mnist_core.data import load_mnist
    from mnist_core.jobs import TrainingJob, save_to_folder
    from mnist_core.models import recipe_config

    path = tmp_path / "small_cnn.py"
    path.write_text(CONVOLUTIONAL)
    load_user_models(str(path))
    data = load_mnist(fake_mnist_root, download=False)
    config = recipe_config("small_cnn", "best", epochs=2, batch_size=40, validation=0, as_drawn=0)
    job = TrainingJob({"small_cnn": config}, data, save_to_folder(tmp_path / "runs")).start()
    assert job.wait(timeout=120)
    (status,) = job.snapshot().statuses
    assert status.state == "saved", status.message
    model = load_model(status.run_path)
    averaged = [buffer for name, buffer in model.named_buffers() if name == "norm.running_var"][0]
    assert not torch.allclose(averaged, torch.ones(4))  # the statistics of training, not the initial ones
    assert inside("small_cnn", model, torch.zeros(1, 1, 28, 28)).kind == "filters"
