import math
import os
import sys

import numpy as np
import pytest
import torch

from mnist_core.data import VALIDATION_SEED, load_mnist, normalize
from mnist_core.evaluation import evaluate
from mnist_core.models import MODEL_KEYS, build_model, recipe_config
from mnist_core.recipes import TrainConfig, check_config
from mnist_core.training import WeightAverage, drawn_images, random_affine, random_thickness, train_model
from tests.support import PROJECT_ROOT


def test_tutorial_recipe_is_the_tutorials_settings():
    mlp, cnn = recipe_config("mlp", "tutorial"), recipe_config("cnn", "tutorial")
    assert (mlp.batch_size, mlp.epochs, mlp.optimizer, mlp.learning_rate) == (100, 10, "sgd", 0.01)
    assert (cnn.optimizer, cnn.learning_rate, cnn.schedule, cnn.augment) == ("adam", 1e-3, "constant", False)
    assert recipe_config("lenet5", "tutorial").optimizer == "adam"


def test_best_recipe_uses_augmentation_and_a_schedule():
    for key in MODEL_KEYS:
        config = recipe_config(key, "best")
        assert config.augment and config.schedule == "onecycle" and config.optimizer == "adamw"
        assert config.thinner > 0 and config.thicker > 0 and config.average > 0


def test_best_holds_out_5000_validation_images_and_the_tutorial_none():
    for key in MODEL_KEYS:
        assert recipe_config(key, "best").validation == 5000
        assert recipe_config(key, "tutorial").validation == 0
        assert recipe_config(key, "best", validation=0).validation == 0


def test_the_tutorial_recipe_trains_on_every_training_image(fake_mnist_root):
    data = load_mnist(fake_mnist_root, download=False)
    result = train_model("mlp", data, recipe_config("mlp", "tutorial", epochs=1, batch_size=40))
    assert (result.train_images, result.validation_images) == (120, 0)
    assert "validation_accuracy" not in result.history[0].to_dict()


@pytest.mark.slow
def test_validation_accuracy_is_reported_per_epoch_beside_the_test_accuracy(fake_mnist_root):
    data = load_mnist(fake_mnist_root, download=False)
    result = train_model("lenet5", data, recipe_config("lenet5", "best", epochs=2, batch_size=30, validation=40))
    assert (result.train_images, result.validation_images) == (80, 40)
    for row in result.history:
        assert 0 <= row.validation_accuracy <= 1 and row.validation_loss > 0
        assert {"validation_accuracy", "validation_loss", "test_accuracy"} <= row.to_dict().keys()
    _, held_out = data.validation_split(40, seed=VALIDATION_SEED)
    again = evaluate(result.model, held_out.images, held_out.labels)
    assert again.accuracy == pytest.approx(result.history[-1].validation_accuracy)


def test_overrides_apply_and_none_is_ignored():
    config = recipe_config("mlp", "best", epochs=3, batch_size=None)
    assert config.epochs == 3 and config.batch_size == recipe_config("mlp", "best").batch_size


def test_config_round_trips_through_a_dict():
    config = recipe_config("cnn", "best", train_subset=500)
    assert TrainConfig.from_dict({**config.to_dict(), "unknown": 1}) == config


@pytest.mark.parametrize(
    "override, message",
    [({"epochs": 0}, "epochs"), ({"batch_size": 0}, "batch size"), ({"learning_rate": -1.0}, "learning rate"),
     ({"optimizer": "lbfgs"}, "optimizer"), ({"validation": -5}, "validation"), ({"validation": 200}, "hold out"),
     ({"average": 1.0}, "average"), ({"thicker": -1.0}, "thickening")],
)
def test_bad_settings_are_refused_with_a_reason(fake_mnist_root, override, message):
    data = load_mnist(fake_mnist_root, download=False)
    with pytest.raises(ValueError, match=message):
        train_model("mlp", data, recipe_config("mlp", "tutorial", **override))


def test_unknown_recipe_is_refused():
    with pytest.raises(ValueError, match="best, tutorial"):
        recipe_config("mlp", "fastest")


def test_progress_is_reported_per_batch_and_per_epoch(fake_mnist_root):
    data = load_mnist(fake_mnist_root, download=False)
    events = []
    result = train_model("lenet5", data, recipe_config("lenet5", "tutorial", epochs=2, batch_size=50),
                         on_progress=events.append)
    batch_events = [e for e in events if not e.epoch_finished]
    epoch_events = [e for e in events if e.epoch_finished]
    assert len(batch_events) == 2 * math.ceil(120 / 50) and len(epoch_events) == 2
    assert epoch_events[-1].fraction == 1.0 and len(epoch_events[-1].history) == 2
    assert [row.epoch for row in result.history] == [1, 2]
    assert all(row.seconds > 0 and 0 <= row.test_accuracy <= 1 for row in result.history)
    assert not result.model.training and not result.stopped


def test_should_stop_ends_training_cleanly(fake_mnist_root):
    data = load_mnist(fake_mnist_root, download=False)
    calls = []

    def stop_in_second_epoch():
        calls.append(1)
        return len(calls) > 4  # 3 batches per epoch: stops during epoch 2

    result = train_model("mlp", data, recipe_config("mlp", "tutorial", epochs=5, batch_size=40),
                         should_stop=stop_in_second_epoch)
    assert result.stopped and len(result.history) == 1 and result.evaluation is not None


@pytest.mark.slow
def test_the_weight_average_follows_the_weights_and_forgets_the_start_quickly():
    torch.manual_seed(0)
    model = build_model("lenet5")
    average = WeightAverage(model, decay=0.999)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(1.0)
    for _ in range(2000):
        average.update(model)
    for mine, theirs in zip(average.model.parameters(), model.parameters()):
        # The start's weight after 2,000 updates: the product of the warm-up decays (t+1)/(t+10), < 0.001.
        assert torch.allclose(mine, theirs, atol=1e-3)
    assert not average.model.training


@pytest.mark.slow
def test_trained_with_an_average_the_returned_model_is_what_was_evaluated(fake_mnist_root):
    data = load_mnist(fake_mnist_root, download=False)
    result = train_model("mlp", data, recipe_config("mlp", "best", epochs=2, batch_size=30, validation=0))
    again = evaluate(result.model, data.test_images, data.test_labels)
    assert again.accuracy == result.evaluation.accuracy and not result.model.training


def test_random_thickness_thins_and_thickens_each_image_reproducibly(real_mnist):
    inputs = normalize(real_mnist.test_images[:64])
    varied = random_thickness(inputs, torch.Generator().manual_seed(0), 0.5, 1.5)
    again = random_thickness(inputs, torch.Generator().manual_seed(0), 0.5, 1.5)
    assert torch.equal(varied, again) and varied.shape == inputs.shape
    change = (varied - inputs).flatten(1).sum(dim=1)
    assert (change > 0).any() and (change < 0).any()  # some thicker, some thinner
    background = normalize(torch.zeros(1, 28, 28, dtype=torch.uint8))[0, 0, 0, 0]
    assert torch.allclose(varied[:, :, 0, 0], background.expand(64, 1))  # the blank border stays blank
    assert torch.allclose(random_thickness(inputs, torch.Generator().manual_seed(0), 0.0, 0.0), inputs, atol=1e-5)


@pytest.mark.slow
def test_as_drawn_trains_on_the_canvas_version_of_that_fraction_of_each_batch(fake_mnist_root):
    data = load_mnist(fake_mnist_root, download=False)
    history = lambda fraction: [row.train_loss for row in train_model(  # noqa: E731
        "mlp", data, recipe_config("mlp", "tutorial", epochs=2, batch_size=30, as_drawn=fraction)).history]
    assert history(0.0) == history(0.0) != history(1.0) == history(1.0)
    with pytest.raises(ValueError, match="shown as drawn"):
        check_config(recipe_config("mlp", "best", as_drawn=1.5))


def test_making_the_canvas_versions_reports_progress_and_can_be_stopped(fake_mnist_root, monkeypatch):
    from mnist_core import training

    monkeypatch.setattr(training, "_drawn_cache", {})  # made afresh, whatever other tests left
    monkeypatch.setattr(training, "_DRAWN_CHUNK", 25)
    data = load_mnist(fake_mnist_root, download=False)
    config = recipe_config("mlp", "tutorial", epochs=1, batch_size=30, as_drawn=0.5)
    stopped = train_model("mlp", data, config, should_stop=lambda: True)
    assert stopped.stopped and stopped.history == [] and stopped.evaluation is None
    reports = []
    train_model("mlp", data, config, on_progress=reports.append)
    preparing = [report.preparing for report in reports if report.preparing is not None]
    assert preparing == [25 / 120, 50 / 120, 75 / 120, 100 / 120, 1.0]  # 120 images, in chunks of 25
    assert reports[0].preparing is not None and reports[-1].epoch_finished


@pytest.mark.slow
def test_the_canvas_versions_made_by_several_processes_are_the_same(fake_mnist_root, monkeypatch):
    from mnist_core import training
    from mnist_core.drawn import as_drawn_batch

    images = load_mnist(fake_mnist_root, download=False).train_images
    pens = torch.linspace(0, 0.3, len(images)).numpy()
    monkeypatch.setattr(training, "_drawn_cache", {})
    monkeypatch.setattr(training, "_DRAWN_CHUNK", 10)  # 12 chunks: worth two processes
    monkeypatch.setattr(training.torch, "get_num_threads", lambda: 2)  # a training with two cores
    assert torch.equal(drawn_images(images, pens), as_drawn_batch(images, pens))


def test_the_canvas_versions_are_made_once_for_the_same_images(fake_mnist_root):
    images = load_mnist(fake_mnist_root, download=False).train_images
    first = drawn_images(images)
    assert drawn_images(images.clone()) is first  # the same pixels: kept, not made again
    assert drawn_images(images[:10]) is not first and torch.equal(drawn_images(images[:10]), first[:10])


def test_the_canvas_versions_are_kept_on_disk_for_the_next_run(fake_mnist_root, monkeypatch, tmp_path):
    """Only the first run on a machine pays for them: a later process reads them back (issue 26)."""
    from mnist_core import paths, training

    images = load_mnist(fake_mnist_root, download=False).train_images
    pens = torch.linspace(0, 0.3, len(images)).numpy()
    made = drawn_images(images, pens)
    (stored,) = (paths.cache_dir() / "drawn").glob("*.npy")
    assert str(stored).startswith(str(tmp_path))  # the suite's cache folder (tests/conftest.py), not ~/.cache
    monkeypatch.setattr(training, "_drawn_cache", {})  # as a new process
    draw = training.as_drawn_pixels
    monkeypatch.setattr(training, "as_drawn_pixels", lambda *args: pytest.fail("made again"))
    assert torch.equal(drawn_images(images, pens), made)
    stored.write_bytes(b"half a file")  # damaged: made again, and stored again
    monkeypatch.setattr(training, "as_drawn_pixels", draw)
    monkeypatch.setattr(training, "_drawn_cache", {})
    assert torch.equal(drawn_images(images, pens), made)
    assert stored.stat().st_size > 1000 and not list(stored.parent.glob("*.partial"))
    monkeypatch.setattr(training, "_drawn_cache", {})
    drawn_images(images, pens[::-1].copy())  # other pens (another seed): another set beside it
    assert len(list(stored.parent.glob("*.npy"))) == 2


def test_random_affine_moves_digits_but_keeps_the_background():
    images = torch.zeros(8, 28, 28, dtype=torch.uint8)
    images[:, 10:18, 12:16] = 255
    inputs = normalize(images)
    moved = random_affine(inputs, torch.Generator().manual_seed(0))
    assert moved.shape == inputs.shape
    assert torch.allclose(moved[:, :, :3, :], inputs[:, :, :3, :], atol=1e-5)  # blank border stays blank
    assert not torch.allclose(moved, inputs)
    again = random_affine(inputs, torch.Generator().manual_seed(0))
    assert torch.equal(moved, again)


@pytest.mark.parametrize("key", ["lenet5", "cnn"])  # the CNN: its dropout draws from numpy, seeded by torch
def test_same_seed_gives_the_same_history(real_mnist, key):
    data = real_mnist.test_subset(500)
    config = recipe_config(key, "best", epochs=2, train_subset=600, seed=7, validation=500)
    first, second = train_model(key, data, config), train_model(key, data, config)
    strip = lambda history: [{k: v for k, v in row.to_dict().items() if k != "seconds"} for row in history]  # noqa: E731
    assert strip(first.history) == strip(second.history)
    other = train_model(key, data, recipe_config(key, "best", epochs=2, train_subset=600, seed=8, validation=500))
    assert strip(other.history) != strip(first.history)


@pytest.mark.parametrize("key", MODEL_KEYS)
def test_each_model_learns_from_a_slice_of_real_mnist(real_mnist, key):
    data = real_mnist.test_subset(2000)
    config = recipe_config(key, "best", epochs=1, train_subset=4000, batch_size=50, augment=False,
                           validation=500)
    result = train_model(key, data, config)
    assert result.evaluation.accuracy > 0.85, result.history  # chance is 0.10
    assert result.evaluation.confusion.sum() == 2000


@pytest.mark.slow
def test_worker_processes_started_inside_the_app_do_not_run_the_app(monkeypatch, capfd):
    """Streamlit runs the frame (dashboard/frame.py) as __main__, and spawned workers import __main__: each ran the
    whole app bare and logged 44 "missing ScriptRunContext" warnings into the server's terminal."""
    import types

    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: the canvas-style digits are made without worker processes")
    torch.set_num_threads(2)  # a training with two cores starts two workers (put back by tests/conftest.py)
    app = types.ModuleType("__main__")
    app.__file__ = str(PROJECT_ROOT / "dashboard" / "frame.py")
    monkeypatch.setitem(sys.modules, "__main__", app)  # as while the app's script runs
    made = drawn_images(torch.zeros(8000, 28, 28, dtype=torch.uint8), pens=np.full(8000, 0.0123))
    assert made.shape == (8000, 28, 28)
    err = capfd.readouterr().err
    assert "ScriptRunContext" not in err and "Session State" not in err, err[-2000:]
