"""The sidebar every page shows: which runs are in use, damaged runs, and whether MNIST is there."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.markdown import literal
from dashboard.presenter import projector_toggle
from dashboard.run_choice import all_runs, is_shipped, selected_runs
from dashboard.workspace import workspace
from mnist_core.data import data_available
from mnist_core.models import MODELS


def sidebar() -> None:
    with st.sidebar:
        projector_toggle()
        st.subheader("Runs in use")
        runs = selected_runs()
        if not runs:
            st.warning("No usable runs: the checkpoints folder is empty. Train models on the Train page.")
        for key, run in runs.items():
            origin = "shipped checkpoint" if is_shipped(run) else literal(run.run_id)
            # The only HTML here is the registry's colour and name; the run's name is escaped.
            st.markdown(
                f"<span style='color:{MODELS[key].color};font-weight:700'>■ {MODELS[key].name}</span> "
                f"{100 * run.accuracy:.2f}% — {origin}",
                unsafe_allow_html=True,
            )
        damaged = all_runs()[1]
        if damaged:
            with st.expander(f"{len(damaged)} damaged run(s)", icon=":material/warning:"):
                for error in damaged:
                    st.caption(f"**{literal(Path(error.run_dir).name)}**: {literal(error.problem)}")
        st.subheader("Data")
        root = workspace().data()
        if data_available(root):
            st.caption(f"MNIST found in {literal(root)}.")
        else:
            st.caption("MNIST not found: drawing and the stored curves work; training and test-image "
                       "galleries need it (set `MNIST_DATA_DIR`).")
