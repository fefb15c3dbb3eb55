"""The runs on disk, how they are labelled, and which run each model uses.

The listing is cached per state of the run folders (a cheap directory scan decides), so a
run trained or deleted meanwhile shows up on the next rerun without rereading every file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import streamlit as st

from dashboard.navigation import page_link
from dashboard.workspace import workspace
from mnist_core.runs import RunError, RunInfo
from mnist_core.seeds import SeedGroup, group_runs

SELECTION_KEY = "draw.runs"  # session state: model key → run folder chosen on the Draw page
# Session state: the models whose seed group answers as one model on the Draw page (its seeds'
# probabilities averaged): the group of the run in use, which every other page uses alone.
ENSEMBLES_KEY = "draw.ensembles"
ENSEMBLE = "ensemble"  # the "Models in use" option that adds a model to ENSEMBLES_KEY


def all_runs() -> tuple[list[RunInfo], list[RunError]]:
    """Every readable run (shipped first, then the user's by folder name) and the damaged ones (the workspace
    reads them again only when a run folder changes)."""
    return workspace().find_runs()


def is_shipped(run: RunInfo) -> bool:
    return workspace().is_shipped(run)


def run_label(run: RunInfo) -> str:
    """How a run is named in choosers: model, origin, accuracy."""
    origin = "shipped" if is_shipped(run) else run.run_id
    stopped = ", stopped early" if run.stopped_early else ""
    return f"{run.name} · {origin} · {100 * run.accuracy:.2f}%{stopped}"


def short_label(run: RunInfo) -> str:
    """How a run is named on charts: the model, and the folder unless it is the shipped one."""
    return run.name if is_shipped(run) else f"{run.name} · {run.run_id}"


def path_key(path: str | os.PathLike) -> str:
    """A short widget-key part unique to a run folder (folder names alone can repeat across folders)."""
    return hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:12]


def selected_runs() -> dict[str, RunInfo]:
    """The run each model uses: this session's choice on the Draw page, else the default
    (:func:`mnist_core.runs.default_runs`)."""
    return workspace().runs_in_use(st.session_state.setdefault(SELECTION_KEY, {}))


def remember_choice(model_key: str, choice: str) -> None:
    """``choice``: a run folder for ``model_key``, or :data:`ENSEMBLE` for its run's seed group as one model
    (the run chosen before stays the run in use)."""
    ensembles = st.session_state.setdefault(ENSEMBLES_KEY, set())
    if choice == ENSEMBLE:
        ensembles.add(model_key)
        return
    ensembles.discard(model_key)
    st.session_state.setdefault(SELECTION_KEY, {})[model_key] = choice


def seed_group_of(run: RunInfo) -> SeedGroup:
    """The seed group ``run`` belongs to: every run on disk of its model and settings but the seed."""
    return next(group for group in group_runs(all_runs()[0] + [run]) if group.holds(run))


def ensembles_in_use(runs: dict[str, RunInfo]) -> dict[str, SeedGroup]:
    """The models this session chose as the ensemble of their seeds (on the Draw page), each its group;
    a group of one run is the run itself, not an ensemble."""
    chosen = st.session_state.get(ENSEMBLES_KEY, set())
    groups = {key: seed_group_of(run) for key, run in runs.items() if key in chosen}
    return {key: group for key, group in groups.items() if len(group.runs) > 1}


def require_runs() -> dict[str, RunInfo]:
    """The runs in use, or a friendly stop when there are none."""
    runs = selected_runs()
    if not runs:
        st.info("No trained models yet. Train some on the Train page, or restore `checkpoints/`.")
        page_link("train", "Train models")
        st.stop()
    return runs
