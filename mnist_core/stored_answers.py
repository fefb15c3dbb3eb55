"""A model's answers on the test set, kept on disk between server starts.

A fresh server's first Overview evaluated every run in use on the 10,000 test images, and each seed group's
ensemble (3 groups of 5 seeds: 15 passes), about 8 s of CPU: 14-16 s before the first page was whole on this
2-core machine, in front of an audience. The answers depend only on the weights and the test images, so they are
kept in the cache folder (``$MNIST_CACHE_DIR``), named by the weights' checksums and the test set's, and read back
by the next server in milliseconds.

A stored file that is missing, damaged or of another shape is computed again and rewritten; a cache folder that
cannot be written costs the next start its wait, nothing else.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path

import numpy as np

from . import paths
from .fileio import write_atomically

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


def stored_answers(weights: Sequence[str], test_key: str, count: int, compute: Callable[[], Answers],
                   folder: Path | None = None) -> Answers:
    """The answers of the model made of ``weights`` (the checksums of its weight files: one run's, or each seed of
    an ensemble's) on the test set named ``test_key``, of ``count`` images: read from ``folder`` (default: the
    cache folder's ``answers/``), else computed by ``compute`` and stored there."""
    path = _file(weights, test_key, folder)
    answers = _read(path, count)
    if answers is None:
        predictions, confidences = compute()
        answers = (np.asarray(predictions).astype(np.uint8), np.asarray(confidences).astype(np.float32))
        _write(path, answers)
    return answers[0].astype(np.int64), answers[1]  # digits stored in a byte each, given back as evaluate()'s


def _file(weights: Sequence[str], test_key: str, folder: Path | None) -> Path:
    model = hashlib.sha256("+".join(weights).encode()).hexdigest()[:32]
    return (folder or paths.cache_dir() / "answers") / f"v{FORMAT}-{model}-{test_key}.npz"


def _read(path: Path, count: int) -> Answers | None:
    try:
        with np.load(path, allow_pickle=False) as stored:
            predictions, confidences = stored["predictions"], stored["confidences"]
    except (OSError, ValueError, KeyError, EOFError):  # absent, or not an intact file of ours
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
