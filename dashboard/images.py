"""Showing 28x28 digits large."""

from __future__ import annotations

import numpy as np


def upscale(pixels: np.ndarray, factor: int = 8) -> np.ndarray:
    """Nearest-neighbour enlargement, so a 28x28 digit is crisp on a projector."""
    return np.kron(pixels, np.ones((factor, factor), dtype=pixels.dtype))
