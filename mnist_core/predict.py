"""Running the three models side by side on drawn or uploaded digits."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import paths
from .models import default_model_keys
from .runs import RunError, RunInfo, load_model, read_run

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class Prediction:
    """One model's answer for one image."""

    digit: int
    probabilities: np.ndarray  # (10,) summing to 1

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.digit])


class ModelSet:
    """Models keyed by architecture, put in eval mode once and only ever run under inference mode.

    A ``ModelSet`` is never changed after construction, so one instance can be shared by
    every session of the app.
    """

    def __init__(self, models: Mapping[str, nn.Module]) -> None:
        self._models = {key: model.eval() for key, model in models.items()}
        for model in self._models.values():
            model.requires_grad_(False)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self._models)

    def predict(self, inputs: torch.Tensor) -> dict[str, Prediction]:
        """Each model's prediction for one normalised image ``(1, 1, 28, 28)``.

        Runs on one CPU thread: one image is too small to share, and a second thread makes
        the call wait whenever another program (the browser, on a laptop) has the other
        core (docs/PERFORMANCE.md).
        """
        with _one_thread():
            batch = self.predict_batch(inputs)
        return {key: Prediction(int(probs[0].argmax()), probs[0]) for key, probs in batch.items()}

    def predict_digit(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        """Each model's 10 probabilities for a finished 28x28 digit of uint8 values (ink 255), as the audience
        store keeps it: how the server scores a drawing a phone sent, whatever the phone said its models saw."""
        from .preprocess import prepared_from_pixels

        digit = prepared_from_pixels(np.asarray(pixels, dtype=np.float32).reshape(28, 28) / 255)
        with _one_thread():
            return {key: probs[0] for key, probs in self.predict_batch(digit.tensor).items()}

    def predict_batch(self, inputs: torch.Tensor) -> dict[str, np.ndarray]:
        """Probabilities ``(N, 10)`` of each model for normalised images ``(N, 1, 28, 28)``."""
        import torch

        with torch.inference_mode():
            return {key: model(inputs).softmax(dim=1).numpy() for key, model in self._models.items()}


def latency_ms(model: nn.Module, repeats: int = 50) -> float:
    """Median milliseconds for one 28x28 image through ``model``, on one thread as
    :meth:`ModelSet.predict` runs it (with two, a busy second core made LeNet-5's 0.7 ms 66)."""
    import torch

    image = torch.zeros(1, 1, 28, 28)
    timings = []
    with _one_thread(), torch.inference_mode():
        for _ in range(repeats + 5):  # the first calls set oneDNN up
            started = time.perf_counter()
            model(image)
            timings.append(time.perf_counter() - started)
    return 1000 * float(np.median(timings[5:]))


@contextmanager
def _one_thread():
    """Use one intra-op thread in the calling thread, then restore its setting.

    PyTorch's thread count is per calling thread (OpenMP), so a training job in another
    thread keeps its own.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def shipped_run_dirs(checkpoints: str | os.PathLike | None = None) -> dict[str, os.PathLike]:
    """The shipped checkpoint folder of each model shown by default: ``<checkpoints>/<key>``
    (default: :func:`paths.checkpoints_dir`)."""
    root = checkpoints if checkpoints is not None else paths.checkpoints_dir()
    return {key: os.path.join(root, key) for key in default_model_keys(built_in=True)}


def load_model_set(runs: Mapping[str, RunInfo | str | os.PathLike]) -> ModelSet:
    """Load one run per model key (model key → a run or its folder, as :func:`shipped_run_dirs` gives).

    Raises:
        RunError: a run is missing, damaged, or holds another architecture than its key.
    """
    models = {}
    for key, run in runs.items():
        info = run if isinstance(run, RunInfo) else read_run(run)
        if info.model_key != key:
            raise RunError(info.path, f"holds a {info.name} model, not {key}.")
        models[key] = load_model(info)
    return ModelSet(models)


def agreement(predictions: Mapping[str, Prediction]) -> int | None:
    """The digit all models predict, or ``None`` if they disagree."""
    digits = {p.digit for p in predictions.values()}
    return digits.pop() if len(digits) == 1 else None
