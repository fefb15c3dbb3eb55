"""The shipped checkpoints: present, loadable, as accurate as recorded and as promised."""

import pytest

from mnist_core.evaluation import evaluate
from mnist_core.models import MODEL_KEYS, MODELS
from mnist_core.predict import load_model_set, shipped_run_dirs
from mnist_core.runs import load_model, read_run
from tests.support import PROJECT_ROOT

CHECKPOINTS = PROJECT_ROOT / "checkpoints"


@pytest.mark.parametrize("key", MODEL_KEYS)
def test_shipped_run_is_complete_and_trained_with_best(key):
    run = read_run(CHECKPOINTS / key)
    assert run.model_key == key and run.recipe == "best" and not run.stopped_early
    assert run.test_images == 10_000 and (run.train_images, run.validation_images) == (55_000, 5_000)
    assert run.validation_accuracy is not None and run.validation_accuracy > 0.99
    assert len(run.history) == run.config["epochs"]
    assert MODELS[key].shipped_accuracy is not None and run.accuracy >= MODELS[key].shipped_accuracy


@pytest.mark.parametrize("key", MODEL_KEYS)
def test_shipped_run_reproduces_its_recorded_accuracy(real_mnist, key):
    run = read_run(CHECKPOINTS / key)
    result = evaluate(load_model(run), real_mnist.test_images, real_mnist.test_labels)
    assert result.accuracy == pytest.approx(run.accuracy, abs=0.0005)  # ±0.05 points
    assert (result.confusion == run.confusion).mean() > 0.95


def test_all_three_read_real_test_digits(real_mnist):
    from mnist_core.data import normalize

    models = load_model_set(shipped_run_dirs(CHECKPOINTS))
    images, labels = real_mnist.test_images[:500], real_mnist.test_labels[:500].numpy()
    for key, probabilities in models.predict_batch(normalize(images)).items():
        assert (probabilities.argmax(axis=1) == labels).mean() > 0.97, key


SEEDS = sorted(path.name for path in CHECKPOINTS.glob("*-seed*"))


def test_five_seeds_of_each_compared_model_ship():
    assert SEEDS == [f"{key}-seed{seed}" for key in ("cnn", "lenet5", "mlp") for seed in (1, 2, 3, 4)]
    assert sum(path.stat().st_size for path in CHECKPOINTS.rglob("*") if path.is_file()) < 40e6


@pytest.mark.parametrize("name", SEEDS)
def test_each_shipped_seed_is_its_recipe_and_reproduces_its_accuracy(real_mnist, name):
    run = read_run(CHECKPOINTS / name)
    seed0 = read_run(CHECKPOINTS / run.model_key)
    assert name == f"{run.model_key}-seed{run.config['seed']}" and run.recipe == "best"
    assert {k: v for k, v in run.config.items() if k not in ("seed", "group")} == {
        k: v for k, v in seed0.config.items() if k not in ("seed", "group")}  # only the seed differs
    result = evaluate(load_model(run), real_mnist.test_images, real_mnist.test_labels)
    assert result.accuracy == pytest.approx(run.accuracy, abs=0.0005)
