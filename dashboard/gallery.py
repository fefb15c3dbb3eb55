"""A grid of test images, each with every chosen run's answer in that run's colour.

The grid is one HTML block with the 28x28 images inline (PNG data URLs, enlarged by the
browser with crisp pixels): one element instead of dozens of images for the browser to
fetch and lay out, which keeps the Compare page quick.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass

import numpy as np
import streamlit as st
from PIL import Image

from dashboard.presenter import model_text_color
from mnist_core.label_issues import label_issues

_GRID = ("display:grid;grid-template-columns:repeat({columns},minmax(0,1fr));gap:1.2rem 1rem;"
         "margin:0.5rem 0 1rem 0;font-size:0.95rem;line-height:1.35")
_IMAGE = "width:100%;max-width:150px;aspect-ratio:1;image-rendering:pixelated;border-radius:6px;display:block"


@dataclass(frozen=True)
class Answers:
    """One run's answers for every test image."""

    label: str  # how the run is named on this page
    model_key: str  # picks the colour
    predictions: np.ndarray  # (N,) digits
    confidences: np.ndarray  # (N,) probability of the predicted digit


def png_data_url(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def show_gallery(indices: np.ndarray, images, truth: np.ndarray, answers: list[Answers], limit: int = 24,
                 per_row: int = 6, test_images: bool = True, numbers=None) -> None:
    """``images[index]`` for the first ``limit`` indices, each captioned with its number
    (``numbers[index]``, default the index itself), true label, every run's answer (✓ right,
    ✗ wrong) and confidence, and — for MNIST test images — a warning where the label itself is
    doubtful."""
    issues = label_issues() if test_images else None
    cells = []
    for index in (int(i) for i in indices[:limit]):
        number = index if numbers is None else numbers[index]
        lines = [f"<b>#{number}</b> · label {int(truth[index])}"]
        for run in answers:
            digit, right = int(run.predictions[index]), run.predictions[index] == truth[index]
            confidence = float(run.confidences[index])  # NaN where a stored answer lost its probabilities
            lines.append(f"<span style='color:{model_text_color(run.model_key)};font-weight:600'>"
                         f"{html.escape(run.label)}</span> {'✓' if right else '✗'} {digit}"
                         + (f" ({100 * confidence:.0f}%)" if np.isfinite(confidence) else ""))
        # Last: the note wraps onto several lines, and above the answers it pushed them out of line with the row's.
        if issues is not None and (note := issues.note(index)) is not None:
            lines.append(f"<i>⚠ {html.escape(note)}</i>")
        what = "test image" if test_images else "drawing"
        cells.append(f"<div><img src='{png_data_url(np.asarray(images[index]))}' alt='{what} {number}' "
                     f"style='{_IMAGE}'><div>{'<br>'.join(lines)}</div></div>")
    # The only markup is ours: run labels and notes are escaped.
    st.html(f"<div style='{_GRID.format(columns=per_row)}'>{''.join(cells)}</div>")
    if len(indices) > limit:
        st.caption(f"The first {limit} of {len(indices)} are shown.")
