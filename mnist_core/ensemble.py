"""A seed group as one model: its runs' softmax probabilities averaged.

The ensemble returns the logarithm of the averaged probabilities, so that everything that reads a
model's output through a softmax (predictions, the probability chart, the audience store,
attributions) reads the average itself: softmax(log p) = p when p sums to 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class SeedEnsemble(nn.Module):
    """``members`` (models of one architecture, one per seed) as one model: the mean of their softmax."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("An ensemble needs at least one model.")
        self.members = nn.ModuleList(members)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        probabilities = torch.stack([member(inputs).softmax(dim=1) for member in self.members]).mean(dim=0)
        # Never log(0): a probability every member rounds to 0 becomes the smallest float instead.
        return probabilities.clamp_min(torch.finfo(probabilities.dtype).tiny).log()
