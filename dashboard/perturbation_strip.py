"""One digit at every level of a perturbation, with each model's answer under each image.

Drawn as one HTML grid with the images inline (as the Compare galleries are): one element
for the browser instead of dozens of images.
"""

from __future__ import annotations

import html

import numpy as np
import streamlit as st

from dashboard.gallery import png_data_url
from dashboard.presenter import model_text_color
from mnist_core.data import normalize_pixels
from mnist_core.models import MODELS
from mnist_core.predict import ModelSet
from mnist_core.robustness import every_level, get_perturbation

_GRID = ("display:grid;grid-template-columns:repeat({columns},minmax(0,1fr));gap:0.8rem 0.6rem;"
         "margin:0.25rem 0 1rem 0;font-size:1rem;line-height:1.3;text-align:center")
_IMAGE = ("width:100%;max-width:120px;aspect-ratio:1;image-rendering:pixelated;border-radius:6px;"
          "display:block;margin:0 auto 0.2rem auto")
_UNCHANGED = "outline:3px dotted #888;outline-offset:2px"


def show_strip(pixels: np.ndarray, perturbation_name: str, models: ModelSet, truth: int | None = None,
               seed: int = 0) -> None:
    """``pixels`` (28x28 in [0, 1]) at every level of the perturbation, and every model's answer.

    With ``truth`` (a test image's label) a right answer is in the model's colour and a wrong
    one is crossed out; without it (a drawing) the answers are shown as they are.
    """
    perturbation = get_perturbation(perturbation_name)
    images = every_level(pixels, perturbation_name, seed)
    probabilities = models.predict_batch(normalize_pixels(images))
    cells = []
    for index, level in enumerate(perturbation.levels):
        unchanged = level == perturbation.identity
        picture = png_data_url(np.round(images[index].numpy() * 255))
        lines = [f"<b>{html.escape(perturbation.short(level))}</b>{' (as is)' if unchanged else ''}"]
        for key, probs in probabilities.items():
            digit, color, name = int(probs[index].argmax()), model_text_color(key), MODELS[key].name
            if truth is not None and digit != truth:
                lines.append(f"<s style='color:{color}'>{name} {digit}</s> ✗")  # not faded: text keeps 4.5:1
            else:
                lines.append(f"<span style='color:{color};font-weight:700'>{name} {digit}</span>")
        outline = f";{_UNCHANGED}" if unchanged else ""
        alt = "unchanged" if unchanged else perturbation.describe(level)
        cells.append(f"<div><img src='{picture}' alt='{html.escape(alt)}' "
                     f"style='{_IMAGE}{outline}'><div>{'<br>'.join(lines)}</div></div>")
    # Everything in the markup is ours: model names, numbers and escaped level labels.
    st.html(f"<div style='{_GRID.format(columns=len(cells))}'>{''.join(cells)}</div>")
