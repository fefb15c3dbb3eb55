"""The sidebar every page shows: which runs are in use, damaged runs, and whether MNIST is there."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.markdown import literal
from dashboard.presenter import model_text_color, projector_toggle
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
            # The only HTML here is the registry's colours and name; the run's name is escaped. The square is the
            # model's colour as on the charts (a mark, not text); the name its colour as text (4.5:1 in this room).
            st.markdown(
                f"<span aria-hidden='true' style='display:inline-block;width:0.8em;height:0.8em;margin-right:0.3em;"
                f"background:{MODELS[key].color}'></span><span style='color:{model_text_color(key)};font-weight:700'>"
                f"{MODELS[key].name}</span> "
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
