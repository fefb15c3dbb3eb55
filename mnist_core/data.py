"""Loading MNIST into memory once, as tensors.

Training and evaluation work on whole in-memory tensors (no per-sample PIL
transforms, no per-sample DataLoader work): 60,000 uint8 images are 47 MB.
Finding the files needs no PyTorch: the app's sidebar asks without loading it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import paths

if TYPE_CHECKING:
    import numpy as np
    import torch

# The usual MNIST statistics of [0, 1] pixels (training split). Inputs are normalised
# exactly once, with these, everywhere: training, evaluation and drawn digits.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
# The held-out validation images are drawn with this seed, whatever the training seed: every
# run and every model that holds out N images holds out the same N, so their validation
# accuracies compare.
VALIDATION_SEED = 20_240_531

RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class MnistDataError(RuntimeError):
    """MNIST is missing, incomplete or damaged; the message says what to do."""


@dataclass(frozen=True)
class Split:
    """Images ``(N, 28, 28)`` uint8 and their labels ``(N,)`` int64."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class MnistData:
    """The two splits as tensors: images ``(N, 28, 28)`` uint8, labels ``(N,)`` int64."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    root: Path

    def training_subset(self, size: int | None, seed: int = 0) -> MnistData:
        """The same data with a random ``size`` training images (all of them for ``None``).

        The test split is kept whole: accuracy is always measured on all of it.
        """
        if size is None or size >= len(self.train_labels):
            return self
        if size < 1:
            raise ValueError(f"A training subset needs at least one image, not {size}.")
        import torch

        order = torch.randperm(len(self.train_labels), generator=torch.Generator().manual_seed(seed))
        chosen = order[:size]
        return MnistData(
            self.train_images[chosen], self.train_labels[chosen], self.test_images, self.test_labels, self.root
        )

    def validation_split(self, size: int, seed: int = VALIDATION_SEED) -> tuple[MnistData, Split]:
        """Hold out ``size`` random training images for validation (none for 0).

        Returns the data without them (test split unchanged) and the held-out images. The
        choice depends only on ``size`` and ``seed``: the same images every time.
        """
        self.check_validation_size(size)
        if size == 0:
            return self, Split(self.train_images[:0], self.train_labels[:0])
        import torch

        order = torch.randperm(len(self.train_labels), generator=torch.Generator().manual_seed(seed))
        held_out, kept = order[:size].sort().values, order[size:].sort().values
        remaining = MnistData(self.train_images[kept], self.train_labels[kept],
                              self.test_images, self.test_labels, self.root)
        return remaining, Split(self.train_images[held_out], self.train_labels[held_out])

    def check_validation_size(self, size: int) -> None:
        """Raises ValueError unless ``size`` training images can be held out (and some left to train on)."""
        if not 0 <= size < len(self.train_labels):
            raise ValueError(f"Cannot hold out {size:,} of the {len(self.train_labels):,} training images for "
                             f"validation: choose 0 (none) to {len(self.train_labels) - 1:,}.")

    def test_subset(self, size: int | None) -> MnistData:
        """The same data with only the first ``size`` test images (for quick checks)."""
        if size is None or size >= len(self.test_labels):
            return self
        return MnistData(
            self.train_images, self.train_labels, self.test_images[:size], self.test_labels[:size], self.root
        )


def raw_folder(root: Path) -> Path:
    """Where torchvision keeps (and looks for) the four uncompressed IDX files."""
    return root / "MNIST" / "raw"


def missing_files(root: Path) -> list[str]:
    """Names of the IDX files not present under ``root`` (an empty list when complete)."""
    folder = raw_folder(root)
    return [name for name in RAW_FILES if not (folder / name).is_file()]


def data_available(data_dir: str | os.PathLike | None = None) -> bool:
    """Whether the four files are on disk (cheap: looks, never reads or downloads)."""
    return not missing_files(paths.data_dir(data_dir))


def load_mnist(data_dir: str | os.PathLike | None = None, download: bool = True) -> MnistData:
    """Load both MNIST splits into memory.

    Args:
        data_dir: root folder holding ``MNIST/raw/*-ubyte``; see :func:`mnist_core.paths.data_dir`.
        download: fetch missing files with torchvision (needs internet).

    Returns:
        The train and test splits as tensors.

    Raises:
        MnistDataError: files missing and not downloadable, or a file is damaged.
    """
    root = paths.data_dir(data_dir)
    if missing_files(root):
        if download:
            from torchvision.datasets import MNIST  # imported only here: it costs about 1.5 s

            try:
                MNIST(str(root), train=True, download=True)
                MNIST(str(root), train=False, download=True)
            except Exception as error:  # torchvision raises several kinds for a failed download
                raise _not_found(root, f" Downloading it failed too ({_first_line(error)}).") from None
        if missing_files(root):
            raise _not_found(root, "")

    import torch

    # Read with numpy, not torchvision's MNIST class: the same bytes, without importing torchvision's datasets
    # (about 1.5 s here, and more of a fresh server's first page, with its other imports going on beside it).
    splits = [tuple(torch.from_numpy(array) for array in _read_idx_pair(root, names))
              for names in (RAW_FILES[:2], RAW_FILES[2:])]
    (train_images, train_labels), (test_images, test_labels) = splits
    _check_split("training", train_images, train_labels, root)
    _check_split("test", test_images, test_labels, root)
    return MnistData(train_images, train_labels.long(), test_images, test_labels.long(), root)


def read_test_split(data_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 test images ``(N, 28, 28)`` uint8 and labels ``(N,)`` as numpy arrays, read straight from the
    IDX files: no torchvision, no training split (/join's test digits need 8 MB, not 55).

    Raises:
        MnistDataError: the test files are missing or damaged (never downloads).
    """
    root = paths.data_dir(data_dir)
    images, labels = _read_idx_pair(root, RAW_FILES[2:])
    if labels.max() > 9:
        raise MnistDataError(f"MNIST files in {raw_folder(root)} are damaged ({RAW_FILES[3]}): labels past 9. "
                             "Delete them and download MNIST again (or copy intact files there).")
    return images, labels


def _read_idx_pair(root: Path, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """One split's images ``(N, 28, 28)`` uint8 and labels ``(N,)`` int64 from its two IDX files under ``root``
    (``names``: the images' file, then the labels'), as writable arrays; the labels' range is the caller's check.

    Raises:
        MnistDataError: a file is missing, or is not an intact IDX file of 28x28 images and their labels.
    """
    import numpy as np

    images_file, labels_file = (raw_folder(root) / name for name in names)
    if not images_file.is_file() or not labels_file.is_file():
        raise _not_found(root, "")
    try:  # read into arrays of their own (writable, as torchvision gave them), without a second copy
        images_bytes, labels_bytes = np.fromfile(images_file, dtype=np.uint8), np.fromfile(labels_file, dtype=np.uint8)
    except OSError as error:
        raise MnistDataError(f"MNIST files in {raw_folder(root)} cannot be read ({error.strerror or error}): check "
                             "that this user may read them, or copy them there again.") from None
    images_header = images_bytes[:16].view(">i4") if len(images_bytes) >= 16 else None
    labels_header = labels_bytes[:8].view(">i4") if len(labels_bytes) >= 8 else None
    count = 0 if images_header is None else int(images_header[1])
    if images_header is None or labels_header is None or tuple(images_header) != (2051, count, 28, 28) \
            or tuple(labels_header) != (2049, count) or count == 0 \
            or len(images_bytes) != 16 + count * 784 or len(labels_bytes) != 8 + count:
        raise MnistDataError(f"MNIST files in {raw_folder(root)} are damaged ({', '.join(names)}): not "
                             "one split's IDX files of 28x28 images and their labels. Delete them and download "
                             "MNIST again (or copy intact files there).")
    return images_bytes[16:].reshape(count, 28, 28), labels_bytes[8:].astype(np.int64)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, 28, 28)`` pixels → normalised float ``(N, 1, 28, 28)`` model input."""
    return normalize_pixels(images.float() / 255.0)


def normalize_pixels(pixels: torch.Tensor) -> torch.Tensor:
    """Float ``(N, 28, 28)`` pixels in ``[0, 1]`` → normalised ``(N, 1, 28, 28)`` model input."""
    return ((pixels - MNIST_MEAN) / MNIST_STD).unsqueeze(1)


def _check_split(split: str, images: torch.Tensor, labels: torch.Tensor, root: Path) -> None:
    import torch

    problem = None
    if images.dtype != torch.uint8 or images.dim() != 3 or tuple(images.shape[1:]) != (28, 28):
        problem = f"images have shape {tuple(images.shape)} and type {images.dtype}, not (N, 28, 28) uint8"
    elif labels.dim() != 1 or len(labels) != len(images):
        problem = f"{len(images)} images but labels of shape {tuple(labels.shape)}"
    elif len(labels) == 0:
        problem = "the split is empty"
    elif int(labels.min()) < 0 or int(labels.max()) > 9:
        problem = f"labels range from {int(labels.min())} to {int(labels.max())}, not 0 to 9"
    if problem:
        raise MnistDataError(
            f"The MNIST {split} split in {raw_folder(root)} is damaged: {problem}. "
            "Delete the files and download MNIST again (or copy intact files there)."
        )


def _not_found(root: Path, detail: str) -> MnistDataError:
    return MnistDataError(
        f"MNIST not found in {raw_folder(root)}.{detail} Put the four uncompressed files "
        f"{', '.join(RAW_FILES)} in that folder, or point ${paths.DATA_DIR_ENV} (or --data-dir) at the "
        "folder that contains MNIST/raw/."
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
