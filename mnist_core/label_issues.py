"""MNIST test images whose official label is itself doubtful, as published label audits found.

The list ships with the library (``label_issues.json``, with its source). It marks images in
galleries and gives a second accuracy without them; the official accuracy stays the plain one
on all 10,000 test images.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np


@dataclass(frozen=True)
class LabelIssues:
    """Test-set indices with a doubtful label, and where that judgement comes from."""

    blatant: frozenset[int]  # the label is plainly wrong
    less_blatant: frozenset[int]  # the image is ambiguous; the label may be wrong
    source: str

    @property
    def indices(self) -> frozenset[int]:
        return self.blatant | self.less_blatant

    def note(self, index: int) -> str | None:
        """A short warning for a gallery caption, or None for an image with a trusted label."""
        if index in self.blatant:
            return "the label itself is wrong, audits say"
        if index in self.less_blatant:
            return "the label itself may be wrong"
        return None

    def mask(self, size: int) -> np.ndarray:
        """A boolean array over ``size`` test images: True where the label is doubtful."""
        flags = np.zeros(size, dtype=bool)
        flags[[index for index in self.indices if index < size]] = True
        return flags


@cache
def label_issues() -> LabelIssues:
    data = json.loads(resources.files(__package__).joinpath("label_issues.json").read_text(encoding="utf-8"))
    return LabelIssues(frozenset(data["blatant"]), frozenset(data["less_blatant"]), data["source"])


def accuracy_without_doubtful_labels(truth: np.ndarray, predictions: np.ndarray) -> float:
    """Accuracy on the test images whose label no audit doubts."""
    trusted = ~label_issues().mask(len(truth))
    return float((np.asarray(predictions)[trusted] == np.asarray(truth)[trusted]).mean())
