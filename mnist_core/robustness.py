"""Robustness: how each model's accuracy falls as test digits are shifted, rotated, scaled,
thickened, made noisy or partly hidden.

On clean MNIST the three models are within a few tenths of a percent; their real difference
is structural (the MLP has no notion of locality, the convolutional models share weights
across positions). A sweep shows it: every model sees the *same* perturbed test images, level
by level, and the accuracy per level is compared.

Perturbations work on batches of ``[0, 1]`` pixels ``(N, 28, 28)`` with white ink on black.
Geometric ones use torchvision's tensor transforms; the rest (stroke thickness by grey-level
erosion/dilation, seeded Gaussian noise, a square patch at a random place per image) are a
few tensor operations that torchvision does not offer in this form (its noise and erasing
transforms take no random generator, and it has no morphology).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .data import normalize_pixels
from .fileio import write_atomically
from .strokes import change_thickness

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .runs import RunInfo

DEFAULT_IMAGES = 2000
TEST_IMAGES = 10_000


@dataclass(frozen=True)
class Perturbation:
    """One way of changing a digit, with the severity levels a sweep visits."""

    name: str  # as in the CLI's JSON: shift_x, shift_y, rotation, scale, thickness, noise, occlusion
    title: str  # for people: "Horizontal shift"
    unit: str  # of the levels: "px", "°", "%", "σ"
    levels: tuple[float, ...]
    identity: float  # the level that leaves the digit unchanged (0; 100 for scale)
    explanation: str  # one line of help

    def describe(self, level: float) -> str:
        """The level in words, to start a sentence: "Shifted 3 px right"."""
        size = abs(level)
        amount = f"{size:g}"
        match self.name:
            case "shift_x":
                return f"Shifted {amount} px {'right' if level > 0 else 'left'}"
            case "shift_y":
                return f"Shifted {amount} px {'down' if level > 0 else 'up'}"
            case "rotation":
                return f"Rotated {amount}° {'anticlockwise' if level > 0 else 'clockwise'}"
            case "scale":
                return f"Scaled to {amount} %"
            case "thickness":
                return f"With strokes {amount} px {'thicker' if level > 0 else 'thinner'}"
            case "noise":
                return f"With noise of σ = {amount}"
            case "occlusion":
                return f"With a {amount} px square hidden"
        return f"At {self.name} {amount} {self.unit}"

    def short(self, level: float) -> str:
        """The level as a short label under an example: "+3 px", "60 %"."""
        if self.name in ("shift_x", "shift_y", "rotation", "thickness"):
            sign = "+" if level > 0 else ("−" if level < 0 else "±")
            return f"{sign}{abs(level):g}{'°' if self.unit == '°' else ' ' + self.unit}"
        if self.name == "noise":
            return f"σ {level:g}"
        return f"{level:g} {self.unit}"


PERTURBATIONS: tuple[Perturbation, ...] = (
    # Shifts skip ±1 and ±5 px: every model holds at ±1, and nine levels keep the default sweep within 20 s.
    Perturbation("shift_x", "Horizontal shift", "px", (-6, -4, -3, -2, 0, 2, 3, 4, 6), 0,
                 "The digit moved left (−) or right (+), in pixels of the 28x28 image."),
    Perturbation("shift_y", "Vertical shift", "px", (-6, -4, -3, -2, 0, 2, 3, 4, 6), 0,
                 "The digit moved up (−) or down (+), in pixels of the 28x28 image."),
    Perturbation("rotation", "Rotation", "°", tuple(range(-60, 61, 15)), 0,
                 "The digit turned about the image centre: + is anticlockwise."),
    Perturbation("scale", "Scale", "%", (50, 62.5, 75, 87.5, 100, 112.5, 125, 137.5, 150), 100,
                 "The digit shrunk or enlarged about the image centre (100 % is MNIST's 20-pixel box)."),
    Perturbation("thickness", "Stroke thickness", "px", (-2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2), 0,
                 "Strokes eroded (−) or dilated (+) by a cross-shaped element per pixel, in grey levels."),
    Perturbation("noise", "Gaussian noise", "σ", (0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0), 0,
                 "Random noise of this standard deviation added to every pixel (ink is 1), then clipped to 0–1."),
    Perturbation("occlusion", "Occlusion", "px", (0, 4, 6, 8, 10, 12, 14, 16, 18), 0,
                 "A black square of this side hides part of the digit, at a random place on its 20x20 box."),
)
PERTURBATION_NAMES = tuple(p.name for p in PERTURBATIONS)
_BY_NAME = {p.name: p for p in PERTURBATIONS}

def get_perturbation(name: str) -> Perturbation:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"Unknown perturbation {name!r}; choose from {', '.join(PERTURBATION_NAMES)}.") from None


def perturb(pixels: torch.Tensor, name: str, level: float, seed: int = 0) -> torch.Tensor:
    """``pixels`` ``(N, 28, 28)`` in ``[0, 1]`` under perturbation ``name`` at ``level``.

    The identity level returns the pixels unchanged (the same values, exactly). Random
    perturbations (noise, occlusion) draw from a generator seeded with ``seed`` and the
    perturbation, so every model in a sweep sees the same images.
    """
    perturbation = get_perturbation(name)
    if level == perturbation.identity:
        return pixels.clone()
    if name in ("shift_x", "shift_y", "rotation", "scale"):
        return _affine(pixels, **{name: level})
    if name == "thickness":
        return change_thickness(pixels, level)
    generator = _generator(seed, name, level)
    if name == "noise":
        import torch

        noise = torch.randn(pixels.shape, generator=generator) * level
        return (pixels + noise).clamp_(0, 1)
    return _occlude(pixels, int(level), generator)


def nudge(pixels: np.ndarray, shift_x: float = 0, shift_y: float = 0, rotation: float = 0, scale: float = 100,
          thickness: float = 0) -> np.ndarray:
    """One ``(28, 28)`` digit in ``[0, 1]`` moved, turned, scaled and thickened at once (Draw's "Nudge it")."""
    import torch

    image = torch.as_tensor(np.asarray(pixels, dtype=np.float32)).unsqueeze(0)
    if (shift_x, shift_y, rotation, scale) != (0, 0, 0, 100):
        image = _affine(image, shift_x=shift_x, shift_y=shift_y, rotation=rotation, scale=scale)
    if thickness:
        image = change_thickness(image, thickness)
    return image[0].numpy()


def every_level(pixels: np.ndarray, name: str, seed: int = 0) -> torch.Tensor:
    """One ``(28, 28)`` digit in ``[0, 1]`` at every level of perturbation ``name``: ``(levels, 28, 28)``."""
    import torch

    image = torch.as_tensor(np.asarray(pixels, dtype=np.float32)).unsqueeze(0)
    return torch.cat([perturb(image, name, level, seed) for level in get_perturbation(name).levels])


def _affine(pixels: torch.Tensor, shift_x: float = 0, shift_y: float = 0, rotation: float = 0,
            scale: float = 100) -> torch.Tensor:
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    # torchvision's affine turns clockwise for a positive angle; our levels count anticlockwise, as in maths.
    moved = TF.affine(pixels.unsqueeze(1), angle=-float(rotation), translate=[float(shift_x), float(shift_y)],
                      scale=float(scale) / 100, shear=[0.0, 0.0], interpolation=InterpolationMode.BILINEAR, fill=0.0)
    return moved.squeeze(1)


def _occlude(pixels: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """A black ``size`` x ``size`` square on each image, its centre uniform over the central 20x20 box."""
    import torch

    count, height, width = pixels.shape
    centres = torch.randint(4, 24, (count, 2), generator=generator)  # MNIST's digit box is rows/columns 4-23
    top = (centres[:, 0] - size // 2).view(count, 1, 1)
    left = (centres[:, 1] - size // 2).view(count, 1, 1)
    rows = torch.arange(height).view(1, height, 1)
    columns = torch.arange(width).view(1, 1, width)
    hidden = (rows >= top) & (rows < top + size) & (columns >= left) & (columns < left + size)
    return pixels.masked_fill(hidden, 0.0)


def _generator(seed: int, name: str, level: float) -> torch.Generator:
    import torch

    # A stable seed per (seed, perturbation, level): a level's images do not depend on which
    # other levels or perturbations were computed, or in what order.
    digest = hashlib.sha256(f"{seed}:{name}:{level:g}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little"))


# --- Sweeps -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PerturbationResult:
    """Accuracy of each model at every level of one perturbation."""

    perturbation: Perturbation
    accuracy: dict[str, list[float]]  # model key -> fraction right at each level

    def to_dict(self) -> dict:
        return {"name": self.perturbation.name, "unit": self.perturbation.unit,
                "levels": [_plain_number(level) for level in self.perturbation.levels],
                "accuracy": {key: [round(value, 6) for value in values] for key, values in self.accuracy.items()}}


@dataclass(frozen=True)
class Sweep:
    """A sweep's settings and results."""

    images: int
    seed: int
    results: tuple[PerturbationResult, ...]

    def result(self, name: str) -> PerturbationResult:
        return next(result for result in self.results if result.perturbation.name == name)


def sample_indices(count: int | None, seed: int = 0, total: int = TEST_IMAGES) -> np.ndarray:
    """Which test images a sweep uses: ``count`` of them drawn without replacement (all for ``None``), sorted.

    A random sample rather than the first ``count``: MNIST's test file holds its two writer
    groups one after the other, so the first images are not typical of the whole.
    """
    if count is None or count >= total:
        return np.arange(total)
    if count < 1:
        raise ValueError(f"A sweep needs at least one test image, not {count}.")
    order = np.random.default_rng(seed).permutation(total)
    return np.sort(order[:count])


def sweep(
    models: Mapping[str, nn.Module],
    images: torch.Tensor,
    labels: torch.Tensor,
    perturbations: Sequence[Perturbation] = PERTURBATIONS,
    seed: int = 0,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, dict[str, list[float]]]:
    """Accuracy of each model at every level of every perturbation, on the same perturbed images.

    Args:
        models: model key -> model (any mode; evaluated in eval mode without gradients).
        images: uint8 ``(N, 28, 28)`` test images; labels: ``(N,)``.
        on_progress: called with (levels done, levels in all) after each level.

    Returns:
        perturbation name -> model key -> accuracy (fraction) per level.
    """
    from .evaluation import predict_logits

    pixels = images.float() / 255.0
    truth = labels.long().numpy()
    total = sum(len(p.levels) for p in perturbations)
    unchanged: dict[str, float] | None = None  # the identity level, the same for every perturbation
    results: dict[str, dict[str, list[float]]] = {}
    done = 0

    def accuracy_of(batch: torch.Tensor) -> dict[str, float]:
        inputs = normalize_pixels(batch)
        # Batches of 250: the CNN's 7290-wide activations then stay in the CPU cache (a sweep
        # makes thousands of forward passes; 10-20 % faster than evaluation's 500).
        return {key: float((predict_logits(model, inputs, 250).argmax(1).numpy() == truth).mean())
                for key, model in models.items()}

    for perturbation in perturbations:
        per_model: dict[str, list[float]] = {key: [] for key in models}
        for level in perturbation.levels:
            if level == perturbation.identity:
                unchanged = unchanged or accuracy_of(pixels)
                scores = unchanged
            else:
                scores = accuracy_of(perturb(pixels, perturbation.name, level, seed))
            for key, value in scores.items():
                per_model[key].append(value)
            done += 1
            if on_progress is not None:
                on_progress(done, total)
        results[perturbation.name] = per_model
    return results


def build_sweep(accuracy: Mapping[str, Mapping[str, Sequence[float]]], images: int, seed: int) -> Sweep:
    """A :class:`Sweep` from :func:`sweep`'s (or stored) accuracies, in the order of :data:`PERTURBATIONS`."""
    results = tuple(
        PerturbationResult(p, {key: list(values) for key, values in accuracy[p.name].items()})
        for p in PERTURBATIONS if p.name in accuracy
    )
    return Sweep(images, seed, results)


_STILL_HOLDS = 0.10  # within 10 points of its unchanged accuracy, the best model "keeps" it
_FAR_APART = 0.15  # a gap of 15 points between the best and the worst is more than "every model falls"


def summary_sentence(result: PerturbationResult, names: Mapping[str, str]) -> str:
    """What the numbers say, in one sentence: "Shifted 3 px right, MLP falls to 71 % while LeNet-5 keeps 96 %".

    The level chosen is the mildest one where the gap between the best and the worst model
    is at least four fifths of its largest value, so the sentence shows the difference early
    rather than where every model has already failed. The best model "keeps" its accuracy only
    within :data:`_STILL_HOLDS` of its unchanged one; further down it falls "only to" so much
    when the gap is at least :data:`_FAR_APART`, and otherwise every model (or both) "falls".
    """
    perturbation, accuracy = result.perturbation, result.accuracy
    if len(accuracy) < 2:
        key, values = next(iter(accuracy.items()))
        worst = int(np.argmin(values))
        return (f"{perturbation.describe(perturbation.levels[worst])}, {names[key]} gets "
                f"{_percent(values[worst])} right (unchanged: {_percent(_identity_value(result, key))}).")
    table = np.array([accuracy[key] for key in accuracy])  # (models, levels)
    gaps = table.max(axis=0) - table.min(axis=0)
    if gaps.max() < 0.02:
        harshest = int(np.argmax([abs(level - perturbation.identity) for level in perturbation.levels]))
        scores = ", ".join(f"{names[key]} {_percent(accuracy[key][harshest])}" for key in accuracy)
        return (f"The models stay within 2 points of each other at every level "
                f"({perturbation.describe(perturbation.levels[harshest]).lower()}: {scores}).")
    distance = [abs(level - perturbation.identity) for level in perturbation.levels]
    telling = [i for i in range(len(gaps)) if gaps[i] >= 0.8 * gaps.max()]
    chosen = min(telling, key=lambda i: (distance[i], -gaps[i]))
    keys = list(accuracy)
    best, worst = keys[int(table[:, chosen].argmax())], keys[int(table[:, chosen].argmin())]
    level = perturbation.describe(perturbation.levels[chosen])
    low, high = _percent(accuracy[worst][chosen]), _percent(accuracy[best][chosen])
    if _identity_value(result, best) - accuracy[best][chosen] <= _STILL_HOLDS:
        return f"{level}, {names[worst]} falls to {low} while {names[best]} keeps {high}."
    if gaps[chosen] >= _FAR_APART:
        return f"{level}, {names[worst]} falls to {low}, {names[best]} only to {high}."
    everyone = "both fall" if len(keys) == 2 else "every model falls"
    return f"{level}, {everyone}: {names[worst]} to {low}, {names[best]} to {high}."


def headline(sweep_result: Sweep, names: Mapping[str, str]) -> str:
    """The most telling sentence of a whole sweep: that of the perturbation with the largest gap."""
    def largest_gap(result: PerturbationResult) -> float:
        table = np.array(list(result.accuracy.values()))
        return float((table.max(axis=0) - table.min(axis=0)).max()) if len(table) else 0.0

    return summary_sentence(max(sweep_result.results, key=largest_gap), names)


def _identity_value(result: PerturbationResult, key: str) -> float:
    return result.accuracy[key][result.perturbation.levels.index(result.perturbation.identity)]


def _percent(fraction: float) -> str:
    value = 100 * fraction
    return f"{value:.0f} %" if value < 99.5 else f"{value:.1f} %"


def _plain_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


# --- Stored sweeps ------------------------------------------------------------------------

STORED_FILE = "robustness.json"


def definition_fingerprint() -> str:
    """A hash of what each perturbation computes (name, unit, levels, identity; not its help text):
    a stored sweep made under other definitions is ignored."""
    text = json.dumps([[p.name, p.unit, list(p.levels), p.identity] for p in PERTURBATIONS]) + "|v1"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stored_accuracy(record: object, weights_sha256: str, images: int, seed: int) -> dict[str, list[float]] | None:
    """One model's accuracies from a stored record, if it holds exactly this sweep (else ``None``).

    Anything unexpected (another checksum, other settings or definitions, a malformed or
    non-finite value) makes it ``None``: the sweep is then computed instead.
    """
    if not isinstance(record, dict):
        return None
    if (record.get("weights_sha256"), record.get("images"), record.get("seed"), record.get("definition")) != (
        weights_sha256, images, seed, definition_fingerprint()
    ):
        return None
    accuracy = record.get("accuracy")
    if not isinstance(accuracy, dict):
        return None
    result = {}
    for perturbation in PERTURBATIONS:
        values = accuracy.get(perturbation.name)
        if not (isinstance(values, list) and len(values) == len(perturbation.levels)):
            return None
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v <= 1
                   for v in values):
            return None
        result[perturbation.name] = [float(v) for v in values]
    return result


def stored_record(weights_sha256: str, images: int, seed: int, accuracy: Mapping[str, Sequence[float]]) -> dict:
    """What :func:`stored_accuracy` reads back: one model's default sweep, saved beside its run."""
    return {"weights_sha256": weights_sha256, "images": images, "seed": seed, "definition": definition_fingerprint(),
            "accuracy": {name: [round(float(v), 6) for v in values] for name, values in accuracy.items()}}

_MAX_STORED_BYTES = 1_000_000


def read_stored(run: RunInfo, images: int, seed: int) -> dict[str, list[float]] | None:
    """The run's stored sweep with these settings, if its ``robustness.json`` holds one that still applies."""
    path = Path(run.path) / STORED_FILE
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MAX_STORED_BYTES + 1)
        record = json.loads(data) if len(data) <= _MAX_STORED_BYTES else None
    except (OSError, ValueError, RecursionError):
        return None
    return stored_accuracy(record, run.weights_sha256, images, seed)


def write_stored(run: RunInfo, images: int, seed: int, accuracy: Mapping[str, Sequence[float]]) -> Path:
    """Save one model's sweep beside its run (whole: two writers at once leave one whole file, not a mix)."""
    record = stored_record(run.weights_sha256, images, seed, accuracy)
    return write_atomically(Path(run.path) / STORED_FILE, json.dumps(record, indent=1) + "\n")


def sweep_runs(
    runs: Mapping[str, RunInfo],
    images: torch.Tensor,
    labels: torch.Tensor,
    count: int | None = DEFAULT_IMAGES,
    seed: int = 0,
    load: Callable[[RunInfo], nn.Module] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    use_stored: bool = True,
) -> Sweep:
    """The sweep of ``runs`` (model key -> run) on ``count`` of the test ``images`` (all for ``None``).

    A run whose folder holds this sweep already (``robustness.json``, same weights and
    settings) is read, not recomputed (unless ``use_stored`` is false); the others are computed
    together, on the same images.
    ``load`` turns a run into its model (default: :func:`mnist_core.runs.load_model`).
    """
    from .runs import load_model

    chosen = sample_indices(count, seed, total=len(labels))
    used = len(chosen)
    accuracy: dict[str, dict[str, list[float]]] = {p.name: {} for p in PERTURBATIONS}
    stored = {key: read_stored(run, used, seed) if use_stored else None for key, run in runs.items()}
    missing = {key: (load or load_model)(run) for key, run in runs.items() if stored[key] is None}
    computed = sweep(missing, images[chosen], labels[chosen], seed=seed, on_progress=on_progress) if missing else {}
    for key in runs:
        own = stored[key] or {name: per_model[key] for name, per_model in computed.items()}
        for perturbation in PERTURBATIONS:
            accuracy[perturbation.name][key] = own[perturbation.name]
    return build_sweep(accuracy, used, seed)
