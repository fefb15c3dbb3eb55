"""A grid of test images, each with every chosen run's answer in that run's colour."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from mnist_core.label_issues import label_issues
from mnist_core.models import MODELS
from pages.shared.images import upscale
from pages.shared.markdown import literal


@dataclass(frozen=True)
class Answers:
    """One run's answers for every test image."""

    label: str  # how the run is named on this page
    model_key: str  # picks the colour
    predictions: np.ndarray  # (N,) digits
    confidences: np.ndarray  # (N,) probability of the predicted digit


def show_gallery(indices: np.ndarray, images, truth: np.ndarray, answers: list[Answers], limit: int = 24,
                 per_row: int = 6) -> None:
    """``images[index]`` for the first ``limit`` indices, each captioned with its true label, every
    run's answer (✓ right, ✗ wrong) and confidence, and a warning where the label itself is doubtful."""
    issues = label_issues()
    columns = st.columns(per_row)
    for slot, index in enumerate(indices[:limit]):
        index = int(index)
        lines = [f"**#{index}** · label {int(truth[index])}"]
        if (note := issues.note(index)) is not None:
            lines.append(f"⚠ *{note}*")
        for run in answers:
            digit, right = int(run.predictions[index]), run.predictions[index] == truth[index]
            lines.append(f"<span style='color:{MODELS[run.model_key].color};font-weight:600'>"
                         f"{literal(run.label)}</span> {'✓' if right else '✗'} {digit} "
                         f"({100 * float(run.confidences[index]):.0f}%)")
        with columns[slot % per_row]:
            st.image(upscale(images[index].numpy(), 4), width="stretch")
            # The only HTML is the registry's colour; run labels are escaped.
            st.markdown("<br>".join(lines), unsafe_allow_html=True)
    if len(indices) > limit:
        st.caption(f"The first {limit} of {len(indices)} are shown.")
