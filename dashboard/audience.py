"""The audience's digits: "What did you draw?" on the Draw page, and the store every page shares."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from dashboard.loading import model_set_for
from dashboard.markdown import counted
from dashboard.presenter import presenting
from dashboard.session import session_id
from dashboard.workspace import workspace
from mnist_core.audience import AudienceStore, AudienceStoreError, encode_png
from mnist_core.preprocess import NoDigitError, prepare_digit
from mnist_core.room import nickname
from mnist_core.runs import RunInfo
from mnist_core.seeds import SeedGroup

PENDING_KEY = "audience.canvas"  # the canvas image the label buttons would store
LAST_KEY = "audience.last"  # what this session stored last: (label, total, canvas fingerprint)


def audience_store() -> AudienceStore:
    """The store (``$MNIST_AUDIENCE_DB``, else ``audience.sqlite3`` in the user's runs folder)."""
    return workspace().audience_store()


def label_buttons(canvas_image: np.ndarray, runs: dict[str, RunInfo],
                  ensembles: dict[str, SeedGroup] | None = None) -> None:
    """"What did you draw?" with the digits 0–9 (keys ``audience_label_0`` … ``audience_label_9``).

    Nothing is stored until a digit is pressed; then the drawing as drawn (not nudged), its
    28x28 digit, each model's probabilities and the runs used (an ensemble: its seeds' folders,
    joined by " + ") go into the store.
    """
    st.session_state[PENDING_KEY] = canvas_image
    last = st.session_state.get(LAST_KEY)
    stored = last is not None and last[2] == _fingerprint(canvas_image)  # only for the drawing on the canvas
    # One line in projector mode, so that the buttons stay on a 1280x720 screen with the answers; there the
    # thanks take that line (under the buttons it was below the screen's edge).
    if presenting():
        st.markdown(f"**Stored as a {last[0]}**, thank you ({counted(last[1], 'drawing')} so far)." if stored else
                    "**What did you draw?** Add it to the room's test set:")
    else:
        st.markdown("**What did you draw?** Press the digit to add your drawing to the audience's test set.")
    for digit, column in enumerate(st.columns(10, gap="small")):
        column.button(str(digit), key=f"audience_label_{digit}", on_click=_store_drawing,
                      args=(digit, runs, ensembles or {}),
                      width="stretch")
    if stored and not presenting():
        st.caption(f"Stored as a **{last[0]}**, thank you ({counted(last[1], 'drawing')} so far; press another digit "
                   f"to correct it). In this room you are **{nickname(session_id())}**.")


def _store_drawing(label: int, runs: dict[str, RunInfo], ensembles: dict[str, SeedGroup]) -> None:
    image = st.session_state.get(PENDING_KEY)
    if image is None:
        return
    try:
        digit = prepare_digit(image)
    except NoDigitError:
        return
    probabilities = model_set_for(runs, ensembles).predict_batch(digit.tensor)
    store = audience_store()
    try:
        store.add(label=label, canvas_png=encode_png(image), pixels=digit.image,
                  answers={key: probs[0] for key, probs in probabilities.items()},
                  runs={key: " + ".join(str(member.path) for member in (ensembles[key].runs if key in ensembles
                                                                        else (run,)))
                        for key, run in runs.items()}, session=session_id())
        st.session_state[LAST_KEY] = (label, store.count(), _fingerprint(image))
    except (AudienceStoreError, ValueError) as error:  # ValueError: answers that are not probabilities
        st.session_state[LAST_KEY] = None
        st.toast(f"Could not store the drawing: {error}", icon=":material/error:")


def _fingerprint(image: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()
