"""The class's hard set (mnist_core.game) as a test set beside MNIST test, for Compare and Robustness: its drawings,
read once per change of the audience store, each run's answers on them, and Compare's choice of test set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from dashboard.loading import cached_model
from dashboard.markdown import counted
from dashboard.workspace import workspace
from mnist_core.audience import AudienceStoreError, Drawing
from mnist_core.game import Game, evaluate_hard_set, hard_set_arrays
from mnist_core.runs import RunInfo

TEST_SET_KEY = "compare.test_set"
MNIST_TEST, HARD_SET = "mnist", "hard"
# Why its accuracies are low, and why a gap of a drawing or two is no verdict: said wherever they are shown.
CAVEAT = ("Each drawing was kept because a model in use during its round misread it and a classmate read it as "
          "drawn, so every model scores low here, and lowest those that played; with this few drawings, only a "
          "large gap is more than chance.")


@dataclass(frozen=True)
class HardSet:
    """The hard set as the store held it at ``version`` (empty, with ``problem``, when the store cannot be read)."""

    location: str
    version: tuple
    drawings: tuple[Drawing, ...]
    problem: str | None = None

    def __len__(self) -> int:
        return len(self.drawings)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The drawings' ids ``(N,)``, digits ``(N, 28, 28)`` uint8 and labels ``(N,)``."""
        images, labels = hard_set_arrays(self.drawings)
        return np.array([drawing.id for drawing in self.drawings], np.int64), images, labels


def hard_set() -> HardSet:
    """The class's hard set now."""
    location = str(workspace().audience_location)
    try:
        version = workspace().audience_store().version()
        return HardSet(location, version, _drawings(location, version))
    except AudienceStoreError as error:
        return HardSet(location, (), (), str(error))


@st.cache_data(max_entries=4, show_spinner=False)
def _drawings(location: str, version: tuple) -> tuple[Drawing, ...]:
    """Read once per change of the store (``version``) for every viewer."""
    return tuple(Game(workspace().audience_store()).hard_set())


@st.cache_data(show_spinner="Evaluating on the class's hard set…", max_entries=32)
def _predictions(run_path: str, weights_sha256: str, location: str, version: tuple,
                 _drawings_at_version: tuple[Drawing, ...]) -> tuple[np.ndarray, np.ndarray]:
    # The drawings themselves come with the call (unhashed: the version stands for them), never read again: a
    # store that changed meanwhile cannot give predictions of another length than the drawings shown.
    result = evaluate_hard_set(cached_model(run_path, weights_sha256), _drawings_at_version)
    return result.predictions, result.confidences


def predictions(hard: HardSet, run: RunInfo) -> tuple[np.ndarray, np.ndarray]:
    """``run``'s digit and confidence for each drawing of ``hard`` (not empty), as ``test_predictions`` gives
    them for the MNIST test images."""
    return _predictions(str(run.path), run.weights_sha256, hard.location, hard.version, hard.drawings)


def choose_test_set(hard: HardSet, mnist_images: int) -> str:
    """Compare's test set: MNIST test, or the class's hard set while it has drawings.

    Kept in the URL by hand, as ``hard`` (not by ``bind``, which would keep the option's label, and the label's
    count of drawings changes with every round)."""
    if not len(hard):
        return MNIST_TEST
    names = {MNIST_TEST: f"MNIST test ({mnist_images:,})",
             HARD_SET: f"The class's hard set ({counted(len(hard), 'drawing')})"}
    if TEST_SET_KEY not in st.session_state:  # the first visit: the link's choice
        st.session_state[TEST_SET_KEY] = st.query_params.get(TEST_SET_KEY) if \
            st.query_params.get(TEST_SET_KEY) in names else MNIST_TEST
    chosen = st.segmented_control("Test set", list(names), format_func=names.get, key=TEST_SET_KEY, required=True,
                                  help="The class's hard set: the drawings that fooled a model in a round of the "
                                       "game and that a classmate read as drawn (the Audience page).") or MNIST_TEST
    if chosen == MNIST_TEST:
        st.query_params.pop(TEST_SET_KEY, None)
    else:
        st.query_params[TEST_SET_KEY] = chosen
    return chosen
