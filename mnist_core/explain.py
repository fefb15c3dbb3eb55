"""Why did it answer that? Attribution maps, the networks' insides, and nearest training images.

- Attribution maps with Captum, the same method for all three models: **occlusion** (a black
  5x5 patch slid over the digit; how much the answer's probability drops — model-agnostic, the
  default) and **integrated gradients** (from a black image to the digit, 64 steps). A black
  baseline cannot credit *missing* strokes: integrated gradients only says which ink mattered.
- A sanity check (Adebayo et al. 2018): the same map for a copy of the model with its weights
  re-initialised. A method whose map does not change has not looked at what the model learned
  (guided backpropagation and guided Grad-CAM fail this test; they are not offered).
- Inside the networks: the first convolution's filters and their feature maps (CNN, LeNet-5);
  for the MLP, the input weights of its most active hidden units.
- The nearest training images in each model's last hidden layer (MLP 784, CNN 128, LeNet-5 84
  values): what the digit reminds the model of. The training set's features are computed once
  per model and kept by the caller (a :class:`FeatureBank`).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .data import MNIST_MEAN, MNIST_STD, normalize
from .models import get_spec

if TYPE_CHECKING:
    import torch
    from torch import nn

METHODS = ("occlusion", "integrated-gradients")
METHOD_TITLES = {"occlusion": "Occlusion", "integrated-gradients": "Integrated gradients"}
BASELINE_HELP = ("Integrated gradients start from a black image (no ink): they credit the ink that is there and "
                 "cannot credit a stroke that is missing.")
PATCH, STRIDE = 5, 2  # occlusion: a 5x5 patch every 2 pixels (144 positions), one batch per model
_HOOKS = threading.Lock()
_ACTIVATIONS = {"relu": lambda x: x.relu(), "tanh": lambda x: x.tanh(), "none": lambda x: x}
STEPS = 64  # integrated gradients: 32 left a 6-13 % completeness gap for LeNet-5 on some digits
_BACKGROUND = -MNIST_MEAN / MNIST_STD  # a black pixel, normalised

@dataclass(frozen=True)
class Attribution:
    """One model's answer for a digit and the map of what made it."""

    digit: int
    probability: float
    map: np.ndarray  # (28, 28): positive where the pixels supported the answer


def attributions(models: Mapping[str, nn.Module], inputs: torch.Tensor, method: str = "occlusion",
                 targets: Mapping[str, int] | None = None) -> dict[str, Attribution]:
    """Each model's attribution map for one normalised digit ``(1, 1, 28, 28)``.

    The models must be in eval mode (as loaded runs are); they are not changed, so models shared
    between sessions can be explained at once. ``targets`` names the digit to explain per model
    (default: the model's own answer).
    """
    import torch

    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; choose from {', '.join(METHODS)}.")
    result = {}
    for key, model in models.items():
        with torch.no_grad():
            probabilities = model(inputs).softmax(dim=1)[0]
        digit = int(targets[key]) if targets and key in targets else int(probabilities.argmax())
        if method == "occlusion":
            values = _occlusion(model, inputs, digit)
        else:
            values = _integrated_gradients(model, inputs, digit)
        result[key] = Attribution(digit, float(probabilities[digit]), values)
    return result


def _occlusion(model: nn.Module, inputs: torch.Tensor, digit: int) -> np.ndarray:
    from captum.attr import Occlusion

    def probability(batch):
        return model(batch).softmax(dim=1)

    explainer = Occlusion(probability)
    # All 144 patch positions in one forward pass: a batch is far faster than 144 calls.
    values = explainer.attribute(inputs, target=digit, sliding_window_shapes=(1, PATCH, PATCH),
                                 strides=(1, STRIDE, STRIDE), baselines=_BACKGROUND, perturbations_per_eval=144)
    return values[0, 0].detach().numpy()


def _integrated_gradients(model: nn.Module, inputs: torch.Tensor, digit: int) -> np.ndarray:
    import torch
    from captum.attr import IntegratedGradients

    explainer = IntegratedGradients(model)
    baseline = torch.full_like(inputs, _BACKGROUND)
    values = explainer.attribute(inputs, baselines=baseline, target=digit, n_steps=STEPS, method="gausslegendre",
                                 internal_batch_size=STEPS)
    return values[0, 0].detach().numpy()


def completeness_gap(model: nn.Module, inputs: torch.Tensor, digit: int) -> tuple[float, float]:
    """(sum of the integrated-gradients map, logit difference to the black baseline): equal when complete."""
    import torch

    values = _integrated_gradients(model, inputs, digit)
    with torch.no_grad():
        difference = model(inputs)[0, digit] - model(torch.full_like(inputs, _BACKGROUND))[0, digit]
    return float(values.sum()), float(difference)


def randomised_copy(model: nn.Module, seed: int = 0) -> nn.Module:
    """A copy of ``model`` with every layer's weights re-initialised (the sanity check's model)."""
    import torch

    copied = copy.deepcopy(model)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for module in copied.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return copied.eval().requires_grad_(False)


# --- Inside the networks ------------------------------------------------------------------


@dataclass(frozen=True)
class Inside:
    """What the first layer does with a digit."""

    kind: str  # "filters" (convolutional models) or "units" (the MLP)
    kernels: np.ndarray  # (K, h, w): the filters, or the chosen units' input weights as 28x28
    responses: np.ndarray  # (K, H, W): the feature maps after the activation, or (K,) unit activations
    labels: list[str]  # one per kernel


def inside(model_key: str, model: nn.Module, inputs: torch.Tensor, units: int = 6) -> Inside | None:
    """The first layer named in the model's registry entry: a one-channel convolution's filters and
    feature maps, or a dense layer's most active units over the 784 pixels. None where the entry
    names no such layer (a model of the user's own may not): the caller says so."""
    import torch
    from torch import nn

    spec = get_spec(model_key)
    if spec.first_layer is None:
        return None
    try:
        layer = model.get_submodule(spec.first_layer)
    except AttributeError:
        return None
    is_filters = isinstance(layer, nn.Conv2d) and layer.in_channels == 1
    is_units = isinstance(layer, nn.Linear) and layer.in_features == 28 * 28
    if not (is_filters or is_units):
        return None
    seen = {}
    with _HOOKS:  # the model is shared by every session: one hook on it at a time
        hook = layer.register_forward_hook(lambda module, args, output: seen.update(output=output))
        try:
            with torch.no_grad():
                model(inputs.contiguous())  # the layer's output as the network computes it (after any resizing)
        finally:
            hook.remove()
    if "output" not in seen:  # the named layer is not used in forward
        return None
    responses = _ACTIVATIONS[spec.first_activation](seen["output"])[0]
    if is_filters:
        kernels = layer.weight[:, 0]
        return Inside("filters", kernels.detach().numpy().copy(), responses.detach().numpy().copy(),
                      [f"filter {i + 1}" for i in range(len(kernels))])
    chosen = responses.argsort(descending=True)[:units]
    weights = layer.weight[chosen].reshape(-1, 28, 28)
    return Inside("units", weights.detach().numpy().copy(), responses[chosen].detach().numpy().copy(),
                  [f"unit {int(i)}" for i in chosen])


# --- Nearest training images --------------------------------------------------------------


def has_features(model: nn.Module) -> bool:
    """Whether the network names the values its output layer reads (``hidden_features``): the
    nearest-training-images view needs them; a model of the user's own may not have them."""
    return callable(getattr(model, "hidden_features", None))


def features(model: nn.Module, inputs: torch.Tensor, batch_size: int = 1000,
             on_progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """The last hidden layer's values (``model.hidden_features``) for normalised ``inputs``
    ``(N, 1, 28, 28)``: ``(N, F)`` float32. The model must be in eval mode; it is not changed."""
    import torch

    chunks = []
    with torch.inference_mode():
        for start in range(0, len(inputs), batch_size):
            chunks.append(model.hidden_features(inputs[start : start + batch_size].contiguous()))
            if on_progress is not None:
                on_progress(min(start + batch_size, len(inputs)), len(inputs))
    return torch.cat(chunks)


@dataclass(frozen=True)
class FeatureBank:
    """The last hidden layer's values for every training image, ready for nearest-neighbour search.

    Float32 with each row's squared norm: a search is then one matrix-vector product (half
    precision would halve the memory, 94 instead of 188 MB for the MLP's 784 values, but
    converting it back costs more than the 50 ms a search may take).
    """

    values: torch.Tensor  # (N, F) float32
    squared_norms: torch.Tensor  # (N,)

    def nearest(self, query: torch.Tensor, count: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Indices and Euclidean distances of the ``count`` training images closest to ``query`` ``(F,)``."""
        import torch

        query = query.float().flatten()
        # |b − q|² = |b|² − 2 b·q + |q|², in one pass over the bank
        distances = torch.addmv(self.squared_norms, self.values, query, alpha=-2.0) + query.dot(query)
        values, indices = distances.topk(count, largest=False)
        return indices.numpy(), values.clamp_min(0).sqrt().numpy()


def training_features(model: nn.Module, images: torch.Tensor,
                      on_progress: Callable[[int, int], None] | None = None) -> FeatureBank:
    """The :class:`FeatureBank` of uint8 training images ``(N, 28, 28)``, a chunk at a time (bounded memory)."""
    import torch

    chunks = []
    for start in range(0, len(images), 10_000):
        chunk = normalize(images[start : start + 10_000])
        chunks.append(features(model, chunk))
        if on_progress is not None:
            on_progress(min(start + 10_000, len(images)), len(images))
    values = torch.cat(chunks)
    return FeatureBank(values, (values * values).sum(dim=1))
