"""The registry of the three models: key, display name, network class, description, colour.

Importing it does not import PyTorch, so the app's first page paints without waiting for
it; :func:`build_model` loads the networks from :mod:`mnist_core.networks` on demand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    """Everything the app and the CLI need to know about one architecture."""

    key: str
    name: str  # display name, used as the label of every chart and metric
    class_name: str  # the nn.Module in mnist_core.networks
    description: str
    color: str  # one colour per model on every chart (Okabe-Ito palette: safe for colour blindness)

    @property
    def model_class(self) -> type[nn.Module]:
        from . import networks  # PyTorch loads only when a model is built

        return getattr(networks, self.class_name)


MODELS: dict[str, ModelSpec] = {
    spec.key: spec
    for spec in (
        ModelSpec(
            "mlp",
            "MLP",
            "MLP",
            "Multilayer perceptron: one hidden layer of 784 ReLU units, no convolution.",
            "#0072B2",
        ),
        ModelSpec(
            "cnn",
            "CNN",
            "SimpleCNN",
            "One 5x5 convolution (10 filters), stride-1 max-pool, dropout and a 128-unit layer.",
            "#E69F00",
        ),
        ModelSpec(
            "lenet5",
            "LeNet-5",
            "LeNet5",
            "LeCun's 1998 network: three tanh convolutions, average pooling, 84-unit layer.",
            "#009E73",
        ),
    )
}

MODEL_KEYS: tuple[str, ...] = tuple(MODELS)


def get_spec(key: str) -> ModelSpec:
    """Return the registry entry for ``key``, or say which keys exist."""
    try:
        return MODELS[key]
    except KeyError:
        raise ValueError(f"Unknown model {key!r}: choose one of {', '.join(MODEL_KEYS)}.") from None


def build_model(key: str, **options) -> nn.Module:
    """A freshly initialised model of the architecture ``key``.

    ``options`` go to the network's constructor (the CNN takes ``fused_cpu_training``, LeNet-5 ``conv3_as_linear``).
    """
    return get_spec(key).model_class(**options)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
