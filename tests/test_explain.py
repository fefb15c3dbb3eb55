"""Attribution maps, the sanity check, the networks' insides and nearest training images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from mnist_core.data import normalize
from mnist_core.explain import (
    METHODS,
    attributions,
    completeness_gap,
    features,
    inside,
    randomised_copy,
    training_features,
)
from mnist_core.runs import load_model
from tests.support import PROJECT_ROOT

KEYS = ("mlp", "cnn", "lenet5")


@pytest.fixture(scope="module")
def models():
    return {key: load_model(PROJECT_ROOT / "checkpoints" / key) for key in KEYS}


@pytest.fixture(scope="module")
def digits(real_mnist):
    """Five test digits the models read right, as normalised inputs, with their ink masks."""
    indices = [0, 1, 2, 3, 4]
    images = real_mnist.test_images[indices]
    return normalize(images), images > 50, real_mnist.test_labels[indices]


def near_ink(ink: torch.Tensor, pixels: int = 2) -> np.ndarray:
    grown = F.max_pool2d(ink.float()[None, None], 2 * pixels + 1, stride=1, padding=pixels)[0, 0]
    return grown.bool().numpy()


@pytest.mark.parametrize("method", METHODS)
def test_most_positive_attribution_lies_on_or_next_to_the_ink(models, digits, method):
    inputs, inks, labels = digits
    for index in range(len(inputs)):
        result = attributions(models, inputs[index : index + 1], method)
        for key, attribution in result.items():
            assert attribution.digit == int(labels[index]) and attribution.map.shape == (28, 28)
            positive = np.clip(attribution.map, 0, None)
            top = positive >= np.quantile(positive, 0.95)  # the strongest 5 % of the map
            share = (positive * near_ink(inks[index])).sum() / positive.sum()
            assert share > 0.8, (key, method, index, share)
            # The strongest pixels too (occlusion's 5x5 patch spreads credit up to 2 px off the ink).
            assert near_ink(inks[index], 3)[top & (positive > 0)].mean() > 0.7


def test_the_randomised_model_gives_a_clearly_different_map(models, digits):
    inputs = digits[0][:3]
    for index in range(len(inputs)):
        trained = attributions(models, inputs[index : index + 1], "integrated-gradients")
        for key, model in models.items():
            random = attributions({key: randomised_copy(model, seed=1)}, inputs[index : index + 1],
                                  "integrated-gradients", targets={key: trained[key].digit})[key]
            correlation = np.corrcoef(trained[key].map.ravel(), random.map.ravel())[0, 1]
            assert correlation < 0.6, (key, index, correlation)


def test_the_randomised_copy_leaves_the_model_alone(models):
    before = {name: value.clone() for name, value in models["lenet5"].state_dict().items()}
    random = randomised_copy(models["lenet5"], seed=3)
    assert all(torch.equal(value, models["lenet5"].state_dict()[name]) for name, value in before.items())
    assert not torch.equal(random.conv1.weight, models["lenet5"].conv1.weight)
    assert torch.equal(random.conv1.weight, randomised_copy(models["lenet5"], seed=3).conv1.weight)


def test_integrated_gradients_are_complete(models, digits):
    inputs = digits[0]
    for key, model in models.items():
        for index in range(3):
            total, difference = completeness_gap(model, inputs[index : index + 1], int(digits[2][index]))
            assert total == pytest.approx(difference, rel=0.05, abs=0.1), key  # 64 steps: a few percent


def test_unknown_method_is_refused(models, digits):
    with pytest.raises(ValueError, match="choose from occlusion"):
        attributions(models, digits[0][:1], "guided-backprop")


def test_inside_shows_filters_feature_maps_and_the_mlps_units(models, digits):
    x = digits[0][:1]
    cnn, lenet, mlp = (inside(key, models[key], x) for key in ("cnn", "lenet5", "mlp"))
    assert cnn.kind == "filters" and cnn.kernels.shape == (10, 5, 5) and cnn.responses.shape == (10, 28, 28)
    assert lenet.kernels.shape == (6, 5, 5) and lenet.responses.shape == (6, 28, 28)
    assert mlp.kind == "units" and mlp.kernels.shape == (6, 28, 28) and mlp.responses.shape == (6,)
    assert list(mlp.responses) == sorted(mlp.responses, reverse=True) and mlp.responses[0] > 0
    # The fourth model's view comes from its registry entry alone: conv1 on the digit resized to 32x32.
    relu = inside("lenet5_relu", load_model(PROJECT_ROOT / "checkpoints" / "lenet5_relu"), x)
    assert relu.kind == "filters" and relu.kernels.shape == (6, 5, 5) and relu.responses.shape == (6, 28, 28)
    assert (relu.responses >= 0).all() and (lenet.responses < 0).any()  # after ReLU, and after tanh


def test_the_nearest_training_images_of_a_training_image_include_itself(models, real_mnist):
    images = real_mnist.train_images[:600]
    for key, model in models.items():
        bank = training_features(model, images)
        assert bank.values.shape == (600, {"mlp": 784, "cnn": 128, "lenet5": 84}[key])
        for index in (5, 123, 599):
            query = features(model, normalize(images[index : index + 1]))[0]
            found, distances = bank.nearest(query)
            assert found[0] == index and distances[0] == pytest.approx(0, abs=0.05)  # float rounding
            assert len(found) == 5 and list(distances) == sorted(distances)
