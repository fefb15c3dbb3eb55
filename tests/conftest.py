"""Shared fixtures: tiny IDX files written into tmp_path, and the real MNIST when present."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_core.data import RAW_FILES, load_mnist, raw_folder, resolve_data_dir

PROJECT_ROOT = Path(__file__).resolve().parent.parent
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


@pytest.fixture
def fake_mnist_root(tmp_path: Path) -> Path:
    """A data root holding tiny, valid IDX files (120 training and 40 test images)."""
    return write_fake_mnist(tmp_path / "mnist")


def real_data_root_or_none() -> Path | None:
    for candidate in (os.environ.get("MNIST_DATA_DIR"), str(SHARED_MNIST), str(resolve_data_dir())):
        if candidate and (Path(candidate) / "MNIST" / "raw" / RAW_FILES[0]).is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def real_mnist():
    """The real MNIST in memory. In CI it must be there; elsewhere tests skip without it."""
    root = real_data_root_or_none()
    if root is None:
        if os.environ.get("CI"):
            pytest.fail("MNIST is missing in CI: set MNIST_DATA_DIR to the folder holding MNIST/raw/.")
        pytest.skip("real MNIST not found (set MNIST_DATA_DIR)")
    return load_mnist(root, download=False)


@pytest.fixture(scope="session")
def real_data_root(real_mnist) -> Path:
    return real_mnist.root


@pytest.fixture(autouse=True)
def _fixed_threads():
    """Tests may change torch's thread count; put it back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
