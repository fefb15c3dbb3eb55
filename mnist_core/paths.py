"""Where things live: the MNIST data, the shipped checkpoints and the user's runs.

Each folder comes from an environment variable, else a folder of that name in ``base``
(the working directory unless the caller says otherwise). The library never looks for the
repository it came from: the app, which knows where it lives, passes its own folder as
``base``; the command line runs from the project folder. Nothing here touches the disk or
imports PyTorch.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "MNIST_DATA_DIR"
RUNS_DIR_ENV = "MNIST_RUNS_DIR"
CHECKPOINTS_DIR_ENV = "MNIST_CHECKPOINTS_DIR"
CACHE_DIR_ENV = "MNIST_CACHE_DIR"


def data_dir(explicit: str | os.PathLike | None = None, base: str | os.PathLike = ".") -> Path:
    """The MNIST root (it holds ``MNIST/raw/``): ``explicit``, else ``$MNIST_DATA_DIR``, else ``<base>/data``."""
    return Path(explicit or os.environ.get(DATA_DIR_ENV) or Path(base) / "data").expanduser()


def user_runs_dir(base: str | os.PathLike = ".") -> Path:
    """Where runs trained by users go: ``$MNIST_RUNS_DIR``, else ``<base>/runs``."""
    return Path(os.environ.get(RUNS_DIR_ENV) or Path(base) / "runs").expanduser()


def checkpoints_dir(base: str | os.PathLike = ".") -> Path:
    """The shipped runs, one folder per model key: ``$MNIST_CHECKPOINTS_DIR``, else ``<base>/checkpoints``."""
    return Path(os.environ.get(CHECKPOINTS_DIR_ENV) or Path(base) / "checkpoints").expanduser()


def cache_dir() -> Path:
    """Work kept between runs that can always be made again (canvas-style training digits, /join's ONNX files,
    the models' answers on the test set):
    ``$MNIST_CACHE_DIR``, else ``$XDG_CACHE_HOME/mnist-dashboard``, else ``~/.cache/mnist-dashboard``."""
    explicit = os.environ.get(CACHE_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "mnist-dashboard"
