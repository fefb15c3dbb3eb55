"""The registry of models: everything the app, the command line, explanations and benchmarks
know about an architecture lives in its entry (:class:`ModelSpec`), and nowhere else.

Four built-in entries (the three the product compares, and the tutorials' modified LeNet-5,
shown only when a person chooses it); more come from the operator's own files, named in
``$MNIST_MODELS``, which call :func:`register_model` (see the README, "Compare your own model").

Importing this module does not import PyTorch, so the app's first page paints without waiting
for it: built-in networks are named and loaded from :mod:`mnist_core.networks` on demand.
"""

from __future__ import annotations

import colorsys
import importlib.util
import os
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .recipes import BEST_VALIDATION, RECIPES, TrainConfig

if TYPE_CHECKING:
    from torch import nn

MODELS_ENV = "MNIST_MODELS"
# Okabe-Ito: safe for colour blindness. The built-ins take the first four; models registered
# without a colour take the next one free (yellow is left out: unreadable on white).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000", "#999999")
# A model's colour keeps its hue in marks (lines, bars, dots); as text (its answers, its name) it takes a variant
# that reads 4.5:1 (WCAG AA) on both backgrounds of each room: Streamlit's page and its widgets' and sidebar's.
# No one colour can for both rooms (white against #171614 is 18:1, under 4.5 squared).
ROOM_BACKGROUNDS = {"light": ("#FFFFFF", "#F1F0EE"), "dark": ("#171614", "#2D2B27")}
TEXT_CONTRAST = 4.5
ACTIVATIONS = ("relu", "tanh", "none")  # what follows the first layer, for its view

# The tutorials' settings with their bugs fixed (the real test split, inputs normalised once).
_TUTORIAL_ADAM = TrainConfig("tutorial", epochs=10, batch_size=100, optimizer="adam", learning_rate=1e-3)
# Our recipe for the built-in layers, chosen on 5,000 held-out validation images, never on the test
# split (docs/RESULTS.md, "The recipes"): AdamW with a one-cycle schedule, random affine and stroke-thickness
# augmentation, 30 % of each batch re-drawn as on the canvas, a moving average of the weights.
_BEST = TrainConfig("best", epochs=20, batch_size=128, optimizer="adamw", learning_rate=2e-3, weight_decay=0.05,
                    schedule="onecycle", warmup_epochs=1.5, augment=True, thinner=0.5, thicker=0.5, average=0.999,
                    label_smoothing=0.05, validation=BEST_VALIDATION, as_drawn=0.3)
_LENET_BEST = replace(_BEST, epochs=30, learning_rate=4e-3, weight_decay=0.01)  # both LeNet-5s
# A model registered without recipes: the CNN's, a sound start for a small network on MNIST.
GENERIC_RECIPES: Mapping[str, TrainConfig] = {"tutorial": _TUTORIAL_ADAM, "best": _BEST}


class TextColors(NamedTuple):
    """A model's colour as text in each room, each 4.5:1 on that room's backgrounds (:data:`ROOM_BACKGROUNDS`)."""

    light: str
    dark: str


def text_colors_for(color: str) -> TextColors:
    """``color`` as text in each room: itself where it reads 4.5:1 on that room's backgrounds, else the same hue
    and saturation made darker (light room) or lighter (dark room) until it does."""
    hue, lightness, saturation = colorsys.rgb_to_hls(*_rgb(color))
    variants = []
    for room, step in (("light", -0.01), ("dark", 0.01)):
        level = lightness
        while not all(contrast_ratio(_hex(colorsys.hls_to_rgb(hue, level, saturation)), background) >= TEXT_CONTRAST
                      for background in ROOM_BACKGROUNDS[room]):
            level = min(1.0, max(0.0, level + step))  # black and white pass in their rooms: this ends
        variants.append(_hex(colorsys.hls_to_rgb(hue, level, saturation)))
    return TextColors(*variants)


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG's contrast ratio of two colours, from 1 (the same) to 21 (black on white)."""
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _luminance(color: str) -> float:
    """WCAG's relative luminance of a colour."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in _rgb(color)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _rgb(color: str) -> tuple[float, float, float]:
    """A CSS colour ("#0072B2", "#07B", "teal", "rgb(0, 114, 178)") as red, green, blue from 0 to 1."""
    text = color.strip()
    if text.startswith("#") and len(text) in (4, 7):
        digits = text[1:] if len(text) == 7 else "".join(2 * c for c in text[1:])
        return tuple(int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4))
    from PIL import ImageColor  # names and rgb(): rare, and Pillow is imported lazily

    try:
        return tuple(c / 255 for c in ImageColor.getrgb(text)[:3])
    except ValueError:
        raise ValueError(f"A model's colour is a CSS colour such as '#0072B2', not {color!r}.") from None


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(255 * c):02X}" for c in rgb)


@dataclass(frozen=True)
class ModelSpec:
    """Everything the app, the command line, explanations and benchmarks know about one architecture."""

    key: str  # in run.json, URLs, widget keys and file names
    name: str  # display name, used as the label of every chart and metric
    network: str | type[nn.Module]  # the nn.Module, or its name in mnist_core.networks (loaded on demand)
    description: str = ""
    color: str = PALETTE[-1]  # one colour per model on every chart
    text_colors: TextColors | None = None  # the colour as text in each room; None: derived from color (its hue)
    recipes: Mapping[str, TrainConfig] = field(default_factory=lambda: dict(GENERIC_RECIPES))
    # The submodule the "first layer" view shows (a one-channel convolution, or a dense layer over
    # the 784 pixels), and the activation that follows it (one of ACTIVATIONS).
    first_layer: str | None = None
    first_activation: str = "relu"
    target_accuracy: float = 0.99  # the benchmark's time-to-accuracy target (test accuracy)
    shipped_accuracy: float | None = None  # the least test accuracy its shipped checkpoint reaches (tested)
    tutorial_layers: Mapping[str, object] = field(default_factory=dict)  # constructor options: the stock layers
    shown_by_default: bool = True  # False: a page shows it only once a person chooses it (Draw, "Models in use")
    source: str | None = None  # the $MNIST_MODELS file that registered it; None: built in

    def __post_init__(self) -> None:
        if self.text_colors is None:
            object.__setattr__(self, "text_colors", text_colors_for(self.color))
        else:
            object.__setattr__(self, "text_colors", TextColors(*self.text_colors))

    @property
    def model_class(self) -> type[nn.Module]:
        if not isinstance(self.network, str):
            return self.network
        from . import networks  # PyTorch loads only when a model is built

        return getattr(networks, self.network)

    def recipe(self, name: str) -> TrainConfig:
        try:
            return self.recipes[name]
        except KeyError:
            raise ValueError(f"{self.name} has no recipe {name!r}: choose one of {', '.join(self.recipes)}.") from None


MODELS: dict[str, ModelSpec] = {
    spec.key: spec
    for spec in (
        ModelSpec(
            "mlp", "MLP", "MLP",
            "Multilayer perceptron: one hidden layer of 784 ReLU units, no convolution.",
            PALETTE[0],
            recipes={"tutorial": replace(_TUTORIAL_ADAM, optimizer="sgd", learning_rate=0.01),
                     "best": replace(_BEST, epochs=30)},
            first_layer="hidden", first_activation="relu", target_accuracy=0.98, shipped_accuracy=0.988,
        ),
        ModelSpec(
            "cnn", "CNN", "SimpleCNN",
            "One 5x5 convolution (10 filters), stride-1 max-pool, dropout and a 128-unit layer.",
            PALETTE[1],
            recipes={"tutorial": _TUTORIAL_ADAM, "best": _BEST},
            first_layer="conv", first_activation="relu", tutorial_layers={"fused_cpu_training": False},
            shipped_accuracy=0.992,
        ),
        ModelSpec(
            "lenet5", "LeNet-5", "LeNet5",
            "LeCun's 1998 network: three tanh convolutions, average pooling, 84-unit layer.",
            PALETTE[2],
            recipes={"tutorial": _TUTORIAL_ADAM, "best": _LENET_BEST},
            first_layer="conv1", first_activation="tanh", tutorial_layers={"conv3_as_linear": False},
            shipped_accuracy=0.992,
        ),
        ModelSpec(
            "lenet5_relu", "LeNet-5 (ReLU)", "LeNet5ReLU",
            "The tutorials' modified LeNet-5: ReLU, max-pooling, the digit resized to 32x32, no padding.",
            PALETTE[3],
            # The tutorial's own settings: Adam, batch 64, cross-entropy (10 epochs, as the others).
            recipes={"tutorial": replace(_TUTORIAL_ADAM, batch_size=64), "best": _LENET_BEST},
            first_layer="conv1", first_activation="relu", tutorial_layers={"conv3_as_linear": False},
            shown_by_default=False, shipped_accuracy=0.99,
        ),
    )
}


class _RegisteredKeys(Sequence[str]):
    """The registered models' keys, in registration order, read live from :data:`MODELS`: modules
    import this name before the operator's models are registered, and must still see them."""

    def __getitem__(self, index):
        return tuple(MODELS)[index]

    def __len__(self) -> int:
        return len(MODELS)

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(MODELS))

    def __contains__(self, key: object) -> bool:
        return key in MODELS

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))


MODEL_KEYS: Sequence[str] = _RegisteredKeys()


def default_model_keys(built_in: bool = False) -> list[str]:
    """The models a page shows until a person chooses others: the product's three, and models of the
    operator's own unless registered with ``shown_by_default=False`` (``built_in``: the three alone,
    which ship checkpoints: what the benchmark measures)."""
    return [key for key, spec in MODELS.items() if spec.shown_by_default and not (built_in and spec.source)]


def get_spec(key: str) -> ModelSpec:
    """Return the registry entry for ``key``, or say which keys exist."""
    try:
        return MODELS[key]
    except KeyError:
        raise ValueError(f"Unknown model {key!r}: choose one of {', '.join(MODEL_KEYS)}.") from None


def recipe_config(model_key: str, recipe: str = "best", **overrides) -> TrainConfig:
    """The settings of ``recipe`` for ``model_key`` (from its registry entry), with ``overrides``
    applied (``None`` values ignored).

    ``tutorial``: the tutorials' settings with their bugs fixed (the real test split, inputs
    normalised once). ``best``: our recipe for these exact layers: AdamW with a one-cycle
    schedule, random affine and stroke-thickness augmentation, 30 % of each batch re-drawn as
    on the canvas (:func:`mnist_core.drawn.as_drawn`) and a moving average of the weights;
    5,000 training images are held out to choose settings on. It trains the shipped checkpoints.
    """
    if recipe not in RECIPES:
        raise ValueError(f"Unknown recipe {recipe!r}: choose one of {', '.join(RECIPES)}.")
    config = get_spec(model_key).recipe(recipe)
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})


def build_model(key: str, **options) -> nn.Module:
    """A freshly initialised model of the architecture ``key``.

    ``options`` go to the network's constructor (for example an entry's ``tutorial_layers``).
    """
    return get_spec(key).model_class(**options)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def register_model(key: str, name: str, network_class: type[nn.Module], description: str = "",
                   color: str | None = None, **entry) -> ModelSpec:
    """Add a model to the registry: it then trains, evaluates, predicts, explains and shows on
    every page like the built-in ones.

    Args:
        key: a short identifier (letters, digits, ``_``), unique among the registered models.
        name: its display name.
        network_class: an ``nn.Module`` class whose ``network_class()`` maps a normalised
            ``(N, 1, 28, 28)`` batch to ``(N, 10)`` logits.
        description: one line for the model tables.
        color: a CSS colour; default: the next free one of the palette.
        text_colors (in ``entry``): ``(light, dark)``, the colour as text in each room, each 4.5:1 on that
            room's backgrounds (:data:`ROOM_BACKGROUNDS`); default: derived from ``color``, its hue kept.
        entry: any other :class:`ModelSpec` field (``recipes``, ``first_layer``, ``first_activation``,
            ``target_accuracy``, ``shown_by_default``). Without ``recipes`` it trains with
            :data:`GENERIC_RECIPES`.

    Raises:
        ValueError: the key is taken or malformed, or the network does not map (N, 1, 28, 28) to (N, 10).
    """
    if not (isinstance(key, str) and key.isidentifier() and key.isascii() and key == key.lower() and len(key) <= 40):
        raise ValueError(f"A model key is lower-case letters, digits and _ (at most 40), not {key!r}.")
    if key in MODELS:
        by = MODELS[key].source or "the built-in models"
        raise ValueError(f"The model key {key!r} is registered already (by {by}): choose another.")
    unknown = set(entry) - set(ModelSpec.__dataclass_fields__) - {"source"}
    if unknown:
        raise ValueError(f"register_model got unknown options {', '.join(sorted(unknown))}.")
    _check_network(name, network_class, entry.get("first_layer"))
    if entry.get("first_activation", "relu") not in ACTIVATIONS:
        raise ValueError(f"first_activation must be one of {', '.join(ACTIVATIONS)}.")
    recipes = entry.get("recipes", {})
    if not isinstance(recipes, Mapping) or not all(
            name in RECIPES and isinstance(config, TrainConfig) for name, config in recipes.items()):
        raise ValueError(f"recipes must map recipe names ({', '.join(RECIPES)}) to TrainConfig settings.")
    used = {spec.color for spec in MODELS.values()}
    color = color or next((colour for colour in PALETTE if colour not in used), PALETTE[-1])
    if entry.get("text_colors") is not None:
        _check_text_colors(name, TextColors(*entry["text_colors"]))
    entry["recipes"] = {**GENERIC_RECIPES, **entry.get("recipes", {})}  # both recipes, whichever it names
    entry.setdefault("source", _registering_from)
    spec = ModelSpec(key, str(name), network_class, str(description), color, **entry)
    MODELS[key] = spec
    return spec


def _check_text_colors(name: str, colors: TextColors) -> None:
    for room, text in colors._asdict().items():
        for background in ROOM_BACKGROUNDS[room]:
            if (ratio := contrast_ratio(text, background)) < TEXT_CONTRAST:
                raise ValueError(f"{name}: its {room} room's text colour {text} reads {ratio:.1f}:1 on {background}: "
                                 f"give one of {TEXT_CONTRAST}:1 or more, or leave text_colors out to have it derived.")


def _check_network(name: str, network_class: object, first_layer: str | None) -> None:
    import torch
    from torch import nn

    if not (isinstance(network_class, type) and issubclass(network_class, nn.Module)):
        raise ValueError(f"{name}: the network must be an nn.Module class, not {network_class!r}.")
    try:
        network = network_class().eval()
        if first_layer is not None:
            network.get_submodule(first_layer)
        with torch.no_grad():
            outputs = network(torch.zeros(2, 1, 28, 28))
    except Exception as error:  # noqa: BLE001 - any failure of the operator's code is reported, with its kind
        raise ValueError(f"{name}: {network_class.__name__}() on a (2, 1, 28, 28) batch failed: "
                         f"{type(error).__name__}: {error}") from None
    if not isinstance(outputs, torch.Tensor) or tuple(outputs.shape) != (2, 10):
        shape = tuple(outputs.shape) if isinstance(outputs, torch.Tensor) else type(outputs).__name__
        raise ValueError(f"{name}: {network_class.__name__} must map (N, 1, 28, 28) to (N, 10) logits; "
                         f"it gave {shape} for N = 2.")


class ModelFileError(ValueError):
    """A file named in ``$MNIST_MODELS`` could not be used; the message names it."""


_loaded_files: dict[str, list[str]] = {}  # file → the keys it registered (each file runs once per process)
_failed_files: dict[str, str] = {}  # file → why it could not be used (said again, not run again)
_loading = threading.Lock()  # sessions of the app start at once: each file is imported by one of them
_registering_from: str | None = None  # the file being imported: its models' ``source``


def load_user_models(value: str | None = None) -> list[str]:
    """Import each file named in ``$MNIST_MODELS`` (or ``value``), separated by the platform's path
    separator, once per process; return the keys registered by them.

    Code runs only from the files the operator names here: never from a run folder, an upload
    or a URL. A file that fails registers nothing; the others are still imported.

    Raises:
        ModelFileError: a file is missing, fails to import, registers a key twice or a network
            that does not map (N, 1, 28, 28) to (N, 10); the message names every such file.
    """
    value = os.environ.get(MODELS_ENV, "") if value is None else value
    keys, problems = [], []
    with _loading:
        for text in (part.strip() for part in value.split(os.pathsep)):
            if not text:
                continue
            path = str(Path(text).expanduser().resolve())
            if path not in _loaded_files and path not in _failed_files:
                try:
                    _loaded_files[path] = _import_model_file(Path(path))
                except ModelFileError as error:
                    _failed_files[path] = str(error)
            if path in _failed_files:
                problems.append(_failed_files[path])
            else:
                keys += _loaded_files[path]
    if problems:
        raise ModelFileError(" ".join(problems))
    return keys


def _import_model_file(path: Path) -> list[str]:
    """Run one file (under ``_loading``); on any failure, take back what it registered."""
    global _registering_from

    if not path.is_file():
        raise ModelFileError(f"{path} (named in ${MODELS_ENV}) is not a file: name Python files that call "
                             f"register_model, separated by {os.pathsep!r}.")
    before = set(MODELS)
    name = f"mnist_user_models_{len(_loaded_files) + len(_failed_files)}_{path.stem}"
    _registering_from = str(path)
    try:
        module_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
    except BaseException as error:
        for key in set(MODELS) - before:  # a file that fails registers nothing
            del MODELS[key]
        sys.modules.pop(name, None)
        if isinstance(error, KeyboardInterrupt | SystemExit):
            raise
        detail = f"{type(error).__name__}: {error}" if not isinstance(error, ValueError) else str(error)
        raise ModelFileError(f"{path} (named in ${MODELS_ENV}) could not be used: {detail}") from None
    finally:
        _registering_from = None
    return [key for key in MODELS if key not in before]
