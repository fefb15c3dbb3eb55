"""Draw's "Nudge it" sliders and "Sweep my drawing" strip: the robustness lab on one's own digit."""

from __future__ import annotations

import streamlit as st

from dashboard.perturbation_strip import show_strip
from mnist_core.predict import ModelSet
from mnist_core.preprocess import PreparedDigit
from mnist_core.robustness import PERTURBATION_NAMES, get_perturbation

# name: (label, lowest, highest, default, step, format), as mnist_core.robustness.nudge takes them
NUDGE_SLIDERS = {
    "shift_x": ("Shift right (px)", -6, 6, 0, 1, "%+d"),
    "shift_y": ("Shift down (px)", -6, 6, 0, 1, "%+d"),
    "rotation": ("Turn anticlockwise (°)", -60, 60, 0, 5, "%+d°"),
    "scale": ("Scale (%)", 50, 150, 100, 5, "%d %%"),
    "thickness": ("Thicker strokes (px)", -2.0, 2.0, 0.0, 0.5, "%+.1f"),
}
NUDGE_DEFAULTS = {name: slider[3] for name, slider in NUDGE_SLIDERS.items()}
NUDGE_KEY = "draw.nudge"  # the expander: open or closed, kept in the session


def nudging() -> bool:
    """Whether "Nudge it" is open (the Draw page's projector layout gives its sliders a column)."""
    return bool(st.session_state.get(NUDGE_KEY))


def nudge_controls() -> dict[str, float]:
    """The "Nudge it" sliders (keys ``draw.nudge.<name>``, kept in the URL): how to move, turn,
    scale and thicken the drawing before the models see it."""
    with st.expander("Nudge it", icon=":material/open_with:", key=NUDGE_KEY, on_change="rerun"):
        values = {name: st.slider(label, low, high, default, step, key=f"draw.nudge.{name}", format=fmt,
                                  bind="query-params")
                  for name, (label, low, high, default, step, fmt) in NUDGE_SLIDERS.items()}
        st.button("Reset nudges", on_click=reset_nudges, key="draw.nudge.reset", icon=":material/restart_alt:")
    return values


def reset_nudges() -> None:
    for name, (_, _, _, default, _, _) in NUDGE_SLIDERS.items():
        st.session_state[f"draw.nudge.{name}"] = default


def sweep_my_drawing(digit: PreparedDigit, models: ModelSet) -> None:
    """Small multiples of the drawing under one perturbation, with the three answers under each."""
    panel = st.expander("Sweep my drawing", icon=":material/view_week:", key="draw.sweep", on_change="rerun")
    if not panel.open:  # tracked, so a closed panel costs nothing on each stroke
        return
    with panel:
        name = st.selectbox("Perturbation", PERTURBATION_NAMES, format_func=lambda n: get_perturbation(n).title,
                            key="draw.sweep.perturbation", bind="query-params")
        st.caption(get_perturbation(name).explanation)
        show_strip(digit.pixels, name, models)
