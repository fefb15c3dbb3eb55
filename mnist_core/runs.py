"""Run folders: a trained model's weights (safetensors) beside a JSON file that describes it.

A run folder holds everything needed to rebuild the model and to show the run
without retraining::

    lenet5-best-20261121-104500/
        run.json              model key, config, history, metrics, confusion matrix, versions, checksum
        weights.safetensors   the state dict (never pickled: loading runs no code)

Writes are atomic: a run is written into a hidden temporary folder and renamed into
place only when complete, so a crash never leaves a half-written run behind.
Listing and reading runs needs no PyTorch; saving and loading weights import it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .models import MODELS, build_model, count_parameters
from .run_schema import MAX_RUN_FILE_BYTES, MAX_WEIGHTS_BYTES, RUN_FORMAT, RUN_FORMAT_VERSION, parse_run_record

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .evaluation import Evaluation

RUN_FILE = "run.json"
WEIGHTS_FILE = "weights.safetensors"


class RunError(Exception):
    """A run folder is missing, damaged or does not fit its model; ``path`` names it."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason

    @property
    def run_dir(self) -> Path:
        """The run folder the error is about (``path`` may name a file inside it)."""
        return self.path.parent if self.path.name in (RUN_FILE, WEIGHTS_FILE) else self.path

    @property
    def problem(self) -> str:
        """What is wrong, naming the file inside the run folder: "run.json is not valid JSON (...)"."""
        return f"{self.path.name} {self.reason}" if self.path != self.run_dir else self.reason


@dataclass(frozen=True)
class RunInfo:
    """What ``run.json`` says about a run (the weights are loaded separately)."""

    path: Path
    model_key: str  # a key of MODELS
    config: dict[str, Any]
    history: list[dict[str, float]]
    metrics: dict[str, Any]  # accuracy, loss, per-class precision/recall/f1/support
    confusion: np.ndarray  # (10, 10) counts on the test split
    training_seconds: float
    parameters: int
    created: str
    versions: dict[str, str]
    weights_sha256: str
    weights_bytes: int
    stopped_early: bool
    test_images: int  # size of the test split the metrics were measured on
    train_images: int
    validation_images: int = 0  # training images held out to choose settings on (0: none, or an older run)

    @property
    def name(self) -> str:
        """The model's display name."""
        return MODELS[self.model_key].name

    @property
    def accuracy(self) -> float:
        return float(self.metrics["accuracy"])

    @property
    def validation_accuracy(self) -> float | None:
        """The last epoch's accuracy on the held-out validation images (None: none were held out)."""
        value = self.history[-1].get("validation_accuracy") if self.history else None
        return float(value) if value is not None else None

    @property
    def recipe(self) -> str:
        return str(self.config.get("recipe", "?"))

    @property
    def run_id(self) -> str:
        """The folder name, which is unique within its runs folder."""
        return self.path.name

    def is_shipped(self, checkpoints: str | os.PathLike) -> bool:
        """Whether this is the shipped checkpoint of its model: ``<checkpoints>/<model key>``."""
        return self.path.name == self.model_key and self.path.parent.resolve() == Path(checkpoints).resolve()


def save_run(
    run_dir: str | os.PathLike,
    model_key: str,
    model: nn.Module,
    config: dict[str, Any],
    history: list[dict[str, float]],
    evaluation: Evaluation,
    training_seconds: float,
    train_images: int,
    stopped_early: bool = False,
    overwrite: bool = False,
    validation_images: int = 0,
) -> RunInfo:
    """Write a complete run folder atomically.

    Args:
        run_dir: the folder to create. If it exists, ``overwrite=True`` replaces it
            (the old folder stays intact until the new one is complete), otherwise a
            :class:`RunError` is raised.
        model_key, model: the architecture key and the trained model.
        config: the training settings (``TrainConfig.to_dict()``).
        history: one dict per epoch (``EpochStats.to_dict()``).
        evaluation: the final evaluation on the test split.
        training_seconds: training time, evaluation excluded.
        train_images: how many training images were used.
        validation_images: how many training images were held out to choose settings on.

    Returns:
        The saved run, as :func:`read_run` would return it.
    """
    from safetensors.torch import save as save_safetensors

    from .evaluation import per_class_metrics

    run_dir = Path(run_dir)
    if run_dir.exists() and not overwrite:
        raise RunError(run_dir, "already exists; choose another name or allow overwriting.")
    run_dir.parent.mkdir(parents=True, exist_ok=True)

    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    weights = save_safetensors(state, metadata={"model": model_key, "format": RUN_FORMAT})
    per_class = per_class_metrics(evaluation.confusion)
    record = {
        "format": RUN_FORMAT,
        "format_version": RUN_FORMAT_VERSION,
        "model": model_key,
        "name": MODELS[model_key].name,
        "parameters": count_parameters(model),
        "config": config,
        "history": history,
        "metrics": {
            "accuracy": evaluation.accuracy,
            "loss": evaluation.loss if math.isfinite(evaluation.loss) else None,  # strict JSON has no NaN
            "precision": per_class["precision"].round(6).tolist(),
            "recall": per_class["recall"].round(6).tolist(),
            "f1": per_class["f1"].round(6).tolist(),
            "support": per_class["support"].tolist(),
        },
        "confusion_matrix": evaluation.confusion.tolist(),
        "test_images": int(evaluation.confusion.sum()),
        "train_images": int(train_images),
        "validation_images": int(validation_images),
        "training_seconds": round(float(training_seconds), 3),
        "stopped_early": bool(stopped_early),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": library_versions(),
        "weights": {
            "file": WEIGHTS_FILE,
            "sha256": hashlib.sha256(weights).hexdigest(),
            "bytes": len(weights),
        },
    }

    try:  # what is written must read back: strict JSON that passes the run schema
        description = json.dumps(record, indent=1, allow_nan=False).encode()
        parse_run_record(description)
    except ValueError as error:
        raise RunError(run_dir, f"cannot be saved: the run's description {error}.") from None

    _remove_stale_debris(run_dir.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{run_dir.name}-", dir=run_dir.parent))
    try:
        _write_synced(staging / WEIGHTS_FILE, weights)
        _write_synced(staging / RUN_FILE, description)
        os.chmod(staging, 0o755)
        if overwrite and run_dir.exists():
            # Move the old run aside, put the new one in place, then delete the old one.
            retired = run_dir.parent / f".old-{run_dir.name}-{uuid.uuid4().hex[:8]}"
            os.rename(run_dir, retired)
            os.rename(staging, run_dir)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            # Fails if another writer took the name meanwhile: a run folder is never empty.
            os.rename(staging, run_dir)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        if not overwrite and run_dir.exists():
            raise RunError(run_dir, "already exists; choose another name or allow overwriting.") from None
        raise error
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return read_run(run_dir)


def save_new_run(parent: str | os.PathLike, name: str, first: str | os.PathLike | None = None, **fields) -> RunInfo:
    """:func:`save_run_or_rescue` of ``fields`` (:func:`save_run`'s) into a fresh folder,
    ``new_run_dir(parent, fields["model_key"], name)`` (or ``first``, a name chosen before training); a name
    another writer took meanwhile (two trainings ending in the same second) is retried with the next free one.

    Raises:
        RunError: as :func:`save_run_or_rescue`.
    """
    target = Path(first) if first is not None else new_run_dir(parent, fields["model_key"], name)
    for _ in range(5):
        try:
            return save_run(target, **fields)
        except (RunError, OSError):
            if not target.exists():
                break  # not a name collision: the folder cannot take the run
        target = new_run_dir(parent, fields["model_key"], name)
    return save_run_or_rescue(target, **fields)


def save_run_or_rescue(run_dir: str | os.PathLike, *args, **kwargs) -> RunInfo:
    """:func:`save_run`, and if that fails, the same run saved where it can be: minutes of
    training are not lost to a full disk or a folder that went away.

    Raises:
        RunError: the run could not be saved in ``run_dir``; its message names the folder in
            the system's temporary folder that holds it instead (or says that failed too).
    """
    run_dir = Path(run_dir)
    try:
        return save_run(run_dir, *args, **kwargs)
    except (RunError, OSError) as error:
        reason = error.reason if isinstance(error, RunError) else (error.strerror or str(error))
    rescue, number = Path(tempfile.gettempdir()) / "mnist-rescued-runs" / run_dir.name, 1
    while rescue.exists():
        number += 1
        rescue = rescue.parent / f"{run_dir.name}-{number}"
    try:
        saved = save_run(rescue, *args, **{**kwargs, "overwrite": False})
    except (RunError, OSError) as error:
        raise RunError(run_dir, f"could not be saved ({reason}), nor in {rescue.parent} ({error}).") from None
    raise RunError(run_dir, f"could not be saved ({reason}). The trained model is kept in {saved.path} "
                            "instead: move that folder into your runs folder.")


def prepare_runs_folder(folder: str | os.PathLike) -> Path:
    """Create ``folder`` if needed and make sure runs can be written into it, before any training.

    Raises:
        RunError: it is a file, lies under a file, or cannot be written to; the reason says which.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise RunError(folder, "is a file, not a folder: choose a folder for the runs.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = tempfile.mkdtemp(prefix=".tmp-probe-", dir=folder)
        os.rmdir(probe)
    except OSError as error:
        raise RunError(folder, f"cannot hold runs ({error.strerror or error}): choose a folder you can "
                               "write to.") from None
    return folder


def new_run_dir(parent: str | os.PathLike, model_key: str, recipe: str) -> Path:
    """A fresh, not yet existing folder name: ``<model>-<recipe>-<UTC time>[-n]``."""
    parent = Path(parent)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    base = f"{model_key}-{recipe}-{stamp}"
    candidate, number = parent / base, 1
    while candidate.exists():
        number += 1
        candidate = parent / f"{base}-{number}"
    return candidate


def read_run(run_dir: str | os.PathLike) -> RunInfo:
    """Read and check ``run.json`` of a run folder (without loading the weights).

    Raises:
        RunError: the folder, its JSON or its weights file is missing or damaged.
    """
    run_dir = Path(run_dir)
    run_file, weights_file = run_dir / RUN_FILE, run_dir / WEIGHTS_FILE
    if not run_dir.is_dir():
        raise RunError(run_dir, "no such run folder.")
    if not run_file.is_file():
        raise RunError(run_file, "missing: the run has weights but no description; retrain or delete it.")
    try:
        with open(run_file, "rb") as handle:
            data = handle.read(MAX_RUN_FILE_BYTES + 1)
        record = parse_run_record(data)
    except OSError as error:
        raise RunError(run_file, f"cannot be read ({error.strerror or error}).") from None
    except ValueError as error:
        raise RunError(run_file, f"{error}; retrain or delete the run.") from None
    model_key = record["model"]
    if model_key not in MODELS:
        raise RunError(run_file, f"names an unknown model {model_key[:50]!r} (known: {', '.join(MODELS)}).")
    if not weights_file.is_file():
        raise RunError(weights_file, "missing: the run has a description but no weights; retrain or delete it.")
    confusion = np.asarray(record["confusion_matrix"], dtype=np.int64)
    info = RunInfo(
        path=run_dir,
        model_key=model_key,
        config=dict(record["config"]),
        history=[dict(row) for row in record["history"]],
        metrics=dict(record["metrics"]),
        confusion=confusion,
        training_seconds=float(record.get("training_seconds", 0.0)),
        parameters=int(record.get("parameters", 0)),
        created=str(record.get("created", "")),
        versions=dict(record.get("versions", {})),
        weights_sha256=record["weights"]["sha256"],
        weights_bytes=int(record["weights"]["bytes"]),
        stopped_early=bool(record.get("stopped_early", False)),
        test_images=int(record.get("test_images", confusion.sum())),
        train_images=int(record.get("train_images", 0)),
        validation_images=int(record.get("validation_images", 0)),
    )
    actual_size = weights_file.stat().st_size
    if actual_size != info.weights_bytes:
        raise RunError(weights_file, f"has {actual_size} bytes but the run expects {info.weights_bytes}: "
                                     "the file is truncated or was replaced. Retrain or delete the run.")
    return info


def load_model(run: RunInfo | str | os.PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a run's model from its weights, in eval mode.

    The checksum is verified and the tensors are read with safetensors: no pickle, no code runs.

    Raises:
        RunError: weights missing, damaged, or not of the run's architecture.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as load_safetensors

    from .networks import preferred_memory_format

    info = run if isinstance(run, RunInfo) else read_run(run)
    weights_file = info.path / WEIGHTS_FILE
    if info.weights_bytes > MAX_WEIGHTS_BYTES:
        raise RunError(weights_file, f"is {info.weights_bytes} bytes, larger than any model here.")
    try:
        data = weights_file.read_bytes()
    except OSError as error:
        raise RunError(weights_file, f"cannot be read ({error.strerror or error}).") from None
    if hashlib.sha256(data).hexdigest() != info.weights_sha256:
        raise RunError(weights_file, "does not match its checksum in run.json: the file is damaged or was "
                                     "replaced. Retrain or delete the run.")
    try:
        state = load_safetensors(data)
    except (SafetensorError, ValueError, RuntimeError) as error:
        raise RunError(weights_file, f"is not a valid safetensors file ({error}).") from None
    model = build_model(info.model_key)
    expected = model.state_dict()
    for name, tensor in state.items():
        if name in expected and tensor.dtype != expected[name].dtype and not (
                tensor.is_floating_point() and expected[name].is_floating_point()):
            # complex64 would load with its imaginary part silently dropped: the answers of a crafted file
            raise RunError(weights_file, f"holds {_dtype_name(tensor)} numbers in {name}, where the model has "
                                         f"{_dtype_name(expected[name])}: the file was crafted or damaged. Retrain or "
                                         "delete the run.")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        detail = str(error).splitlines()[0]
        raise RunError(weights_file, f"does not fit the {info.name} architecture ({detail}).") from None
    # Checked as loaded: float64 weights of 1e300 are finite in the file and infinite in the model.
    if not all(bool(tensor.isfinite().all()) for tensor in model.state_dict().values() if tensor.is_floating_point()):
        raise RunError(weights_file, "holds NaN or infinite weights (its training diverged): retrain or delete it.")
    model = model.to(device)
    return model.to(memory_format=preferred_memory_format(model, device)).eval().requires_grad_(False)


def _dtype_name(tensor: torch.Tensor) -> str:
    return str(tensor.dtype).removeprefix("torch.")


def find_runs(*folders: str | os.PathLike) -> tuple[list[RunInfo], list[RunError]]:
    """Every run folder directly inside ``folders``: the readable runs and the damaged ones.

    Hidden folders (temporary writes in progress) are skipped. Runs are sorted by folder.
    """
    runs: list[RunInfo] = []
    errors: list[RunError] = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            if not (entry / RUN_FILE).exists() and not (entry / WEIGHTS_FILE).exists():
                continue  # not a run folder at all
            try:
                runs.append(read_run(entry))
            except RunError as error:
                errors.append(error)
    return runs, errors


def runs_signature(*folders: str | os.PathLike) -> tuple:
    """Changes whenever a run folder in ``folders`` appears, disappears or is rewritten, or a model is
    registered (a run of an unknown model then reads): a cache key for :func:`find_runs` that reads no file."""
    entries: list[tuple] = [tuple(MODELS)]
    for folder in folders:
        if os.path.isdir(folder):
            for entry in os.scandir(folder):
                try:
                    entries.append((entry.path, entry.stat().st_mtime_ns))
                except OSError:
                    continue
    return tuple(sorted(entries))


def shipped_runs(runs: Iterable[RunInfo], checkpoints: str | os.PathLike) -> dict[str, RunInfo]:
    """The shipped checkpoint of each model among ``runs``, in the registry's order."""
    shipped = {run.model_key: run for run in runs if run.is_shipped(checkpoints)}
    return {key: shipped[key] for key in MODELS if key in shipped}


def default_runs(
    runs: Iterable[RunInfo], checkpoints: str | os.PathLike, chosen: Mapping[str, str] | None = None,
    include: Iterable[str] = (),
) -> dict[str, RunInfo]:
    """The run each model uses when a person has not said otherwise, in the registry's order.

    For each model: the run ``chosen`` names (model key → run folder) if it is among ``runs``
    and holds that model; else its shipped checkpoint; else its newest run by creation time.
    A model not shown by default (its registry entry says so) takes part only when ``chosen``
    names a run of it, or ``include`` names it. The app and the command line both choose with this.
    """
    runs = list(runs)
    chosen, include = chosen or {}, set(include)
    by_path = {str(run.path): run for run in runs}
    shipped = shipped_runs(runs, checkpoints)
    result = {}
    for key, spec in MODELS.items():
        if not spec.shown_by_default and not chosen.get(key) and key not in include:
            continue
        picked = by_path.get(chosen.get(key, ""))
        own = sorted((run for run in runs if run.model_key == key), key=lambda run: (run.created, str(run.path)))
        if picked is not None and picked.model_key == key:
            result[key] = picked
        elif key in shipped:
            result[key] = shipped[key]
        elif own:
            result[key] = own[-1]
    return result


def library_versions() -> dict[str, str]:
    import torch
    import torchvision

    from . import __version__

    return {
        "mnist_core": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
    }


def safe_run_name(name: str) -> str:
    """``name`` if it is usable as a folder name, else a :class:`ValueError` that says why."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name):
        raise ValueError(f"Run name {name!r} must be letters, digits, '.', '_' or '-' (not starting with '.').")
    return name


STALE_DEBRIS_SECONDS = 3600  # a save takes seconds; an older hidden folder is left by a crash


def _remove_stale_debris(folder: Path) -> None:
    """Delete hidden staging (``.tmp-*``) and retired (``.old-*``) folders a crash left behind."""
    now = time.time()
    for entry in folder.iterdir():
        if entry.name.startswith((".tmp-", ".old-")) and entry.is_dir():
            try:
                if now - entry.stat().st_mtime > STALE_DEBRIS_SECONDS:
                    shutil.rmtree(entry, ignore_errors=True)
            except OSError:
                continue


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
