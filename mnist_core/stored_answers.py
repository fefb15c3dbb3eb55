"""A model's answers on the test set, kept on disk between server starts.

The answers depend only on the model's weights, the code that runs them and the test images, so they are kept in
the cache folder (``$MNIST_CACHE_DIR``) under a name made of those, and a server started again reads them instead of
passing the test set through every run in use and every seed of each ensemble (docs/PERFORMANCE.md: "A fresh
server's first Overview").

A stored file that is missing, damaged or of another shape is computed again and rewritten; a cache folder that
cannot be written costs the next start its wait, nothing else.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import zipfile
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import paths
from .fileio import write_atomically

if TYPE_CHECKING:
    from torch import nn

FORMAT = 1  # part of each file's name: raise it when what is stored changes meaning (the normalisation, the fields)
KEPT_FILES = 256  # about 50 kB each: the newest 256 (13 MB) are kept, the others deleted when one is written

Answers = tuple[np.ndarray, np.ndarray]  # each test image's predicted digit and its probability, as evaluate() gives


def labelled_set_key(images: np.ndarray, labels: np.ndarray) -> str:
    """A name for one test set: its images' and labels' bytes hashed (20 ms for MNIST's 10,000)."""
    digest = hashlib.sha256()
    for array in (images, labels):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()[:32]


def model_name(weights: Sequence[str], model: nn.Module) -> str:
    """A name for ``model``'s answers: the checksums of its weight files (one run's, or each seed's of an ensemble)
    and the code that turns them into answers: the source of each class among its layers (this library's networks
    and ensemble, a ``$MNIST_MODELS`` file's), PyTorch's version for its own layers, and this library's reading and
    evaluation of the test set. An edited network is evaluated again, not read."""
    import torch

    from . import data, evaluation

    digest = hashlib.sha256("+".join(weights).encode())
    digest.update(torch.__version__.encode())
    classes = {type(layer) for layer in model.modules()}
    for cls in sorted(classes, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}"):
        digest.update(f"{cls.__module__}.{cls.__qualname__}".encode())
        if not cls.__module__.startswith("torch."):
            digest.update(_source(cls).encode())
    for module in (data, evaluation):
        digest.update(_source(module).encode())
    return digest.hexdigest()[:32]


def _source(code) -> str:
    try:
        return inspect.getsource(code)
    except (OSError, TypeError):  # defined where no source file is kept: its name alone
        return ""


def stored_answers(model: str, test_key: str, count: int, compute: Callable[[], Answers],
                   folder: Path | None = None) -> Answers:
    """A model's answers on a test set, read from the cache folder, else computed and stored there.

    Args:
        model: the model's name, :func:`model_name`.
        test_key: the test set's name, :func:`labelled_set_key`.
        count: how many images the test set holds (a stored file of another length is computed again).
        compute: what gives the answers when none are stored: each image's predicted digit and its probability.
        folder: where the files are; default: the cache folder's ``answers/``.

    Returns:
        The predicted digits (int64) and their probabilities (float32), as :func:`~mnist_core.evaluation.evaluate`
        gives them.
    """
    path = (folder or paths.cache_dir() / "answers") / f"v{FORMAT}-{model}-{test_key}.npz"
    answers = _read(path, count)
    if answers is None:
        predictions, confidences = (np.asarray(part) for part in compute())
        if predictions.shape != (count,) or confidences.shape != (count,) or predictions.min(initial=0) < 0 \
                or predictions.max(initial=0) > 9:
            raise ValueError(f"Answers for {count} test images must be {count} digits 0-9 and their probabilities, "
                             f"not arrays of shapes {predictions.shape} and {confidences.shape}.")
        answers = (predictions.astype(np.uint8), confidences.astype(np.float32))
        _write(path, answers)
    return answers[0].astype(np.int64), answers[1]  # digits stored in a byte each, given back as evaluate()'s


def _read(path: Path, count: int) -> Answers | None:
    try:
        stored = np.load(path, allow_pickle=False)
        if not isinstance(stored, np.lib.npyio.NpzFile):  # an .npy file under our name
            return None
        with stored:
            predictions, confidences = stored["predictions"], stored["confidences"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # absent, cut short, or not ours
        return None
    if predictions.shape != (count,) or confidences.shape != (count,) or predictions.dtype != np.uint8 \
            or confidences.dtype != np.float32 or predictions.size and predictions.max() > 9:
        return None
    with suppress(OSError):
        os.utime(path)  # recently used: kept when the folder is trimmed
    return predictions, confidences


def _write(path: Path, answers: Answers) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda file: np.savez(file, predictions=answers[0], confidences=answers[1]))
        _trim(path.parent)
    except OSError:
        pass


def _trim(folder: Path) -> None:
    """Delete all but the newest :data:`KEPT_FILES` files (by last use)."""
    files = []
    for path in folder.glob("v*-*.npz"):
        with suppress(OSError):
            files.append((path.stat().st_mtime, path))
    for _, path in sorted(files, reverse=True)[KEPT_FILES:]:
        with suppress(OSError):
            path.unlink()
