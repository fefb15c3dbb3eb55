"""Training one model from an explicit config, reporting progress through a callback.

The whole training split lives in memory as one normalised tensor; each batch is an
index into it, augmented batch-wise on tensors (no per-sample Python work).
"""

from __future__ import annotations

import copy
import hashlib
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import paths
from .data import MNIST_MEAN, MNIST_STD, MnistData, normalize
from .drawn import as_drawn_pixels
from .evaluation import Evaluation, evaluation_from_logits, predict_logits
from .fileio import write_atomically
from .models import build_model
from .networks import preferred_memory_format
from .recipes import TrainConfig, check_config
from .strokes import vary_thickness


@dataclass(frozen=True)
class EpochStats:
    """One row of a training history."""

    epoch: int  # 1-based
    train_loss: float  # mean over the epoch's (augmented) batches
    train_accuracy: float  # on the epoch's (augmented) batches, as seen while training
    test_loss: float
    test_accuracy: float  # on the whole test split
    seconds: float  # training time of this epoch, evaluation excluded
    validation_loss: float | None = None  # on the held-out training images (None: none held out)
    validation_accuracy: float | None = None

    def to_dict(self) -> dict:
        return {name: value for name, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class TrainingProgress:
    """What a progress callback receives after every batch."""

    model_key: str
    epoch: int  # 1-based epoch in progress
    epochs: int
    batch: int  # batches finished in this epoch
    batches: int  # batches per epoch
    loss: float  # mean training loss of this epoch so far
    history: tuple[EpochStats, ...]  # finished epochs
    epoch_finished: bool  # True once per epoch, after its test evaluation
    preparing: float | None = None  # before the first batch: the fraction of the canvas-style images made

    @property
    def fraction(self) -> float:
        """Fraction of the whole training done, in [0, 1]."""
        return ((self.epoch - 1) * self.batches + self.batch) / max(1, self.epochs * self.batches)


@dataclass
class TrainResult:
    model_key: str
    model: nn.Module  # trained, in eval mode
    config: TrainConfig
    history: list[EpochStats] = field(default_factory=list)
    evaluation: Evaluation | None = None  # on the test split after the last finished epoch
    training_seconds: float = 0.0
    preparation_seconds: float = 0.0  # making the canvas-style digits before the first epoch (0 when kept from before)
    stopped: bool = False  # True when should_stop ended training early
    diverged_at: int | None = None  # the epoch whose loss became NaN or infinite: the model is useless
    train_images: int = 0  # how many training images were used
    validation_images: int = 0  # how many were held out for validation

    def run_fields(self) -> dict:
        """What :func:`mnist_core.runs.save_run` stores of this result, by its parameter names."""
        return {"model_key": self.model_key, "model": self.model, "config": self.config.to_dict(),
                "history": [row.to_dict() for row in self.history], "evaluation": self.evaluation,
                "training_seconds": self.training_seconds, "train_images": self.train_images,
                "validation_images": self.validation_images, "stopped_early": self.stopped}


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU.

    Raises:
        ValueError: ``name`` is no device, or one this machine does not have.
    """
    if name != "auto":
        try:
            device = torch.device(name)
        except (RuntimeError, TypeError):
            raise ValueError(f"Unknown device {name!r}: use auto, cpu, cuda or mps.") from None
        available = {"cpu": True, "cuda": torch.cuda.is_available(),
                     "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()}
        if not available.get(device.type, False):
            raise ValueError(f"This machine has no {device.type} device; use --device auto or cpu.")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"There is no {device}: this machine has {torch.cuda.device_count()} CUDA device(s).")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def train_model(
    model_key: str,
    data: MnistData,
    config: TrainConfig,
    on_progress: Callable[[TrainingProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train a fresh ``model_key`` model on ``data`` and evaluate it after each epoch.

    The test split is only ever reported. With ``config.validation`` images held out of the
    training split, each epoch is also evaluated on them: that is what settings are chosen on.
    With ``config.average``, the moving average of the weights is what is evaluated and returned.

    Args:
        model_key: a key of :data:`mnist_core.models.MODELS`.
        data: MNIST in memory; ``config.validation`` images of its training split are held out,
            then ``config.train_subset`` picks a random part of the rest.
        config: every training setting (see :func:`mnist_core.models.recipe_config`).
        on_progress: called after every batch, and once more at the end of each epoch.
        should_stop: polled before every batch; returning True ends training cleanly after
            the finished epochs (``result.stopped`` is then True).

    Returns:
        The trained model (in eval mode), its per-epoch history and its final test evaluation.
    """
    check_config(config)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)  # model initialisation and dropout
    model = build_model(model_key).to(device)
    memory_format = preferred_memory_format(model, device)
    model = model.to(memory_format=memory_format)
    generator = torch.Generator().manual_seed(config.seed)  # shuffling and augmentation

    data, validation = data.validation_split(config.validation)
    if config.train_subset is not None and config.train_subset >= len(data.train_labels):
        config = replace(config, train_subset=None)  # "more than there are" is all of them
    data = data.training_subset(config.train_subset, seed=config.seed)
    as_input = lambda images: normalize(images).to(device).contiguous(memory_format=memory_format)  # noqa: E731
    train_inputs, train_labels = as_input(data.train_images), data.train_labels.to(device)
    test_inputs = as_input(data.test_images)
    validation_inputs = as_input(validation.images) if len(validation) else None

    batches = math.ceil(len(train_labels) / config.batch_size)
    optimizer = _make_optimizer(model, config)
    scheduler = _make_scheduler(optimizer, config, batches)
    average = WeightAverage(model, config.average) if config.average else None
    evaluated = average.model if average is not None else model
    result = TrainResult(model_key, evaluated, config, train_images=len(train_labels),
                         validation_images=len(validation))
    drawn_inputs = None
    if config.as_drawn:
        def preparing(done: int, total: int) -> None:
            if on_progress is not None:
                on_progress(TrainingProgress(model_key, 1, config.epochs, 0, batches, math.nan, (), False,
                                             preparing=done / total))

        # Each image its own pen, from the final width to a blob (three tenths of the digit's height).
        pens = np.random.default_rng(config.seed).uniform(0.0, MAX_PEN, len(train_labels))
        started = time.perf_counter()
        drawn = drawn_images(data.train_images, pens, preparing, should_stop)
        result.preparation_seconds = time.perf_counter() - started
        if drawn is None:
            result.stopped = True
            return result  # nothing trained: no history, no evaluation
        drawn_inputs = as_input(drawn)

    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(len(train_labels), generator=generator).to(device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.long, device=device)
        seen = 0
        for batch in range(batches):
            if should_stop is not None and should_stop():
                result.stopped = True
                break
            index = order[batch * config.batch_size : (batch + 1) * config.batch_size]
            inputs, labels = train_inputs[index], train_labels[index]
            if drawn_inputs is not None:
                shown_drawn = (torch.rand(len(index), generator=generator) < config.as_drawn).to(device)
                inputs[shown_drawn] = drawn_inputs[index[shown_drawn]]  # ``inputs`` is a copy: indexed
            if config.thinner or config.thicker:
                inputs = random_thickness(inputs, generator, config.thinner, config.thicker)
            if config.augment:
                inputs = random_affine(inputs, generator)
            logits = model(inputs)
            loss = F.cross_entropy(logits, labels, label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            if average is not None:
                average.update(model)
            # Accumulated on the device: no per-batch synchronisation except for the callback.
            loss_sum += loss.detach() * len(labels)
            correct += (logits.detach().argmax(dim=1) == labels).sum()
            seen += len(labels)
            if on_progress is not None:
                on_progress(
                    TrainingProgress(model_key, epoch, config.epochs, batch + 1, batches,
                                     float(loss_sum) / seen, tuple(result.history), False)
                )
        if result.stopped:
            break
        seconds = time.perf_counter() - started
        result.training_seconds += seconds
        evaluation = evaluation_from_logits(predict_logits(evaluated, test_inputs), data.test_labels)
        if not (math.isfinite(float(loss_sum)) and math.isfinite(evaluation.loss)):
            # The weights are NaN or infinite now: no use continuing, nothing worth keeping.
            result.diverged_at = epoch
            break
        checked = (evaluation_from_logits(predict_logits(evaluated, validation_inputs), validation.labels)
                   if validation_inputs is not None else None)
        result.evaluation = evaluation
        result.history.append(
            EpochStats(epoch, float(loss_sum) / seen, int(correct) / seen,
                       evaluation.loss, evaluation.accuracy, seconds,
                       checked.loss if checked else None, checked.accuracy if checked else None)
        )
        if on_progress is not None:
            on_progress(
                TrainingProgress(model_key, epoch, config.epochs, batches, batches,
                                 float(loss_sum) / seen, tuple(result.history), True)
            )

    model.eval()
    evaluated.eval()
    return result


def drawn_images(images: torch.Tensor, pens: np.ndarray | None = None,
                 on_progress: Callable[[int, int], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> torch.Tensor | None:
    """``images`` as the canvas would give them, drawn with ``pens``
    (:func:`mnist_core.drawn.as_drawn_batch`), uint8.

    Seconds of work for the training split (docs/PERFORMANCE.md), shared among the cores'
    worker processes, so the last answer is kept: ``train --model all`` and a session's later runs on the same
    images pay once. ``on_progress(done, total)`` after every
    thousand images; ``should_stop`` is polled as often, and None is returned when it says stop.
    """
    pens = np.zeros(len(images)) if pens is None else np.asarray(pens, dtype=np.float64)
    fingerprint = hashlib.blake2b(images.cpu().numpy().tobytes(), digest_size=16)
    fingerprint.update(pens.tobytes())
    fingerprint.update(_DRAWN_CODE)  # another way of drawing makes other digits
    key = (tuple(images.shape), fingerprint.digest())
    with _drawn_lock:
        if _drawn_cache.get("key") == key:
            return _drawn_cache["images"]
    stored = _read_drawn(key)
    if stored is not None:
        with _drawn_lock:
            _drawn_cache.clear()
            _drawn_cache.update(key=key, images=stored)
        return stored
    source = images.cpu().numpy()
    chunks = [(source[start : start + _DRAWN_CHUNK], pens[start : start + _DRAWN_CHUNK])
              for start in range(0, len(source), _DRAWN_CHUNK)]
    # Processes worth starting (~1 s each), at most one per core this training may use (torch's
    # threads): a seed group's Ray task has one, and a pool per task only fought the other tasks.
    workers = min(torch.get_num_threads(), len(chunks) // 4)
    parts: list[np.ndarray] = []
    pool = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            if workers > 1 else None)
    try:
        made_parts = (pool.map(as_drawn_pixels, *zip(*chunks)) if pool is not None
                      else (as_drawn_pixels(*chunk) for chunk in chunks))
        for part in made_parts:
            if should_stop is not None and should_stop():
                return None
            parts.append(part)
            if on_progress is not None:
                on_progress(sum(len(p) for p in parts), len(source))
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    made = torch.from_numpy(np.concatenate(parts)) if parts else images.clone()
    with _drawn_lock:
        _drawn_cache.clear()
        _drawn_cache.update(key=key, images=made)
    _write_drawn(key, made)
    return made


def _drawn_file(key: tuple) -> Path:
    return paths.cache_dir() / "drawn" / f"{key[1].hex()}.npy"


def _read_drawn(key: tuple) -> torch.Tensor | None:
    """The canvas-style digits made for ``key`` by an earlier run on this machine, or None (absent,
    unreadable or of another shape: then they are made again)."""
    try:
        stored = np.load(_drawn_file(key), allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if stored.shape != key[0] or stored.dtype != np.uint8:
        return None
    os.utime(_drawn_file(key))  # recently used: kept when the folder is trimmed
    return torch.from_numpy(stored)


def _write_drawn(key: tuple, made: torch.Tensor) -> None:
    """Keep ``made`` on disk for the next run (written whole, then renamed), the newest few only.
    A cache that cannot be written costs the next run the wait, nothing else."""
    target = _drawn_file(key)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, lambda file: np.save(file, made.numpy(), allow_pickle=False))
        kept = sorted(target.parent.glob("*.npy"), key=lambda file: file.stat().st_mtime, reverse=True)
        for old in kept[_DRAWN_KEPT:]:
            old.unlink(missing_ok=True)
    except OSError:
        return


_DRAWN_CHUNK = 1000
# The widest pen drawn_images draws the training digits with, as a fraction of their height.
MAX_PEN = 0.3
_drawn_lock = threading.Lock()  # the app trains in threads
_drawn_cache: dict = {}
_DRAWN_KEPT = 8  # canvas-style sets kept on disk, ~43 MB each for the training split (one per seed)
# The code that draws them (drawn.py and the stroke widths it takes from strokes.py): changed code,
# other digits, so a cached set from before is not used.
_DRAWN_CODE = hashlib.blake2b(b"".join(resources.files(__package__).joinpath(name).read_bytes()
                                       for name in ("drawn.py", "strokes.py")), digest_size=8).digest()


class WeightAverage:
    """An exponential moving average of a model's weights (Polyak averaging), kept in a copy.

    The average is smoother than the weights that training moves: it reads better mid-training,
    at a high learning rate, and a little better at the end. Early on the decay is lowered (as
    in TensorFlow's ``ExponentialMovingAverage``), so the random initial weights fade quickly.
    Buffers (batch normalisation's running statistics, in a model of the user's own) are not
    averaged but copied: they describe the current weights.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(model).eval()
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for averaged, current in zip(self.model.parameters(), model.parameters()):
            averaged.lerp_(current, 1 - decay)
        for kept, current in zip(self.model.buffers(), model.buffers()):
            kept.copy_(current)


def random_thickness(inputs: torch.Tensor, generator: torch.Generator, thinner: float,
                     thicker: float) -> torch.Tensor:
    """Thin or thicken the strokes of each image in a normalised batch ``(B, 1, 28, 28)``.

    Each image gets its own level, uniform in [-``thinner``, ``thicker``], in pixel steps of
    grey-level erosion or dilation (see :func:`mnist_core.strokes.vary_thickness`).
    """
    draws = torch.rand(len(inputs), generator=generator).to(inputs.device)
    levels = draws * (thinner + thicker) - thinner
    pixels = inputs.squeeze(1) * MNIST_STD + MNIST_MEAN
    varied = vary_thickness(pixels, levels, steps=math.ceil(max(thinner, thicker)))
    return ((varied - MNIST_MEAN) / MNIST_STD).unsqueeze(1)


# The blank background of a normalised image: pixel value 0 after normalisation.
_BACKGROUND = -MNIST_MEAN / MNIST_STD


def random_affine(
    inputs: torch.Tensor,
    generator: torch.Generator,
    degrees: float = 10.0,
    scale: tuple[float, float] = (0.9, 1.1),
    shear: float = 0.15,
    shift: float = 2.0 / 14.0,
) -> torch.Tensor:
    """Random rotation, scale, shear and shift of each image in a normalised batch ``(B, 1, 28, 28)``.

    One affine grid for the whole batch: a few tensor operations, no per-image Python.
    ``shift`` is in units of half the image (2/14 is two pixels).
    """
    count = len(inputs)
    draws = torch.rand(count, 5, generator=generator).to(inputs.device) * 2 - 1  # uniform in [-1, 1]
    angle = draws[:, 0] * math.radians(degrees)
    zoom = 1 / (scale[0] + (draws[:, 1] + 1) / 2 * (scale[1] - scale[0]))  # grid coords shrink as the image grows
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    shear_x, shift_x, shift_y = draws[:, 2] * shear, draws[:, 3] * shift, draws[:, 4] * shift
    # The sampling grid of each output pixel, written out rather than F.affine_grid:
    # its batched matrix product cost more than the sampling itself.
    height, width = inputs.shape[-2:]
    ys = (torch.arange(height, device=inputs.device) * 2 + 1) / height - 1  # pixel centres in [-1, 1]
    xs = (torch.arange(width, device=inputs.device) * 2 + 1) / width - 1
    y, x = ys.view(1, height, 1), xs.view(1, 1, width)
    column = lambda values: values.view(count, 1, 1)  # noqa: E731
    grid_x = column(cos) * x + column(shear_x - sin) * y + column(shift_x)
    grid_y = column(sin) * x + column(cos) * y + column(shift_y)
    grid = torch.stack([grid_x, grid_y], dim=-1)  # (B, H, W, 2)
    moved = F.grid_sample(inputs - _BACKGROUND, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return moved + _BACKGROUND


def _make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    # The fused implementations update all parameters in one kernel, several times faster
    # on the CPU than one kernel per parameter. Same algorithm, same results (to rounding).
    settings = {"lr": config.learning_rate, "weight_decay": config.weight_decay, "fused": True}
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), momentum=config.momentum, **settings)
    optimizer_class = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return optimizer_class(model.parameters(), **settings)


def _make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, batches: int):
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.learning_rate, epochs=config.epochs, steps_per_epoch=batches,
            pct_start=min(config.warmup_epochs / config.epochs, 0.3) if config.warmup_epochs else 0.2,
        )
    return None
