"""MNIST files for tests: tiny fake IDX files written anywhere, and the real data set when present."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from mnist_core import paths
from mnist_core.data import RAW_FILES, raw_folder
from tests.support import PROJECT_ROOT

SHARED_MNIST = PROJECT_ROOT.parent / "shared" / "mnist"


def write_idx_images(path: Path, images: np.ndarray) -> None:
    """IDX3 file: magic 0x00000803, count, rows, cols, then uint8 pixels."""
    count, rows, cols = images.shape
    path.write_bytes(struct.pack(">IIII", 0x803, count, rows, cols) + images.astype(np.uint8).tobytes())


def write_idx_labels(path: Path, labels: np.ndarray) -> None:
    """IDX1 file: magic 0x00000801, count, then uint8 labels."""
    path.write_bytes(struct.pack(">II", 0x801, len(labels)) + labels.astype(np.uint8).tobytes())


def synthetic_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images whose label is visible: a bright bar whose row position encodes the digit."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=count)
    images = rng.integers(0, 30, size=(count, 28, 28)).astype(np.uint8)
    for image, label in zip(images, labels):
        row = 4 + 2 * int(label)
        image[row : row + 2, 6:22] = 255
    return images, labels


def write_fake_mnist(root: Path, train: int = 120, test: int = 40) -> Path:
    folder = raw_folder(root)
    folder.mkdir(parents=True, exist_ok=True)
    train_images, train_labels = synthetic_digits(train, seed=1)
    test_images, test_labels = synthetic_digits(test, seed=2)
    write_idx_images(folder / RAW_FILES[0], train_images)
    write_idx_labels(folder / RAW_FILES[1], train_labels)
    write_idx_images(folder / RAW_FILES[2], test_images)
    write_idx_labels(folder / RAW_FILES[3], test_labels)
    return root


def real_data_root_or_none() -> Path | None:
    for candidate in (os.environ.get("MNIST_DATA_DIR"), str(SHARED_MNIST), str(paths.data_dir())):
        if candidate and (Path(candidate) / "MNIST" / "raw" / RAW_FILES[0]).is_file():
            return Path(candidate)
    return None
