"""The browser window's size, told to the server by a few lines of JavaScript (a Streamlit v2
component with no HTML of its own), so that projector mode can size the Draw canvas and the
Compare matrices to the screen.

None until the browser has told it (the first run of a page); then a rerun brings it, and every
resize of the window (after it settles) brings the new size.
"""

from __future__ import annotations

from typing import NamedTuple

import streamlit as st

_JS = """
export default function (component) {
  const { setStateValue } = component;
  let timer = null;
  const report = () => setStateValue("size", [window.innerWidth, window.innerHeight]);
  const settled = () => { clearTimeout(timer); timer = setTimeout(report, 400); };
  window.addEventListener("resize", settled);
  report();
  return () => { clearTimeout(timer); window.removeEventListener("resize", settled); };
}
"""

_window = st.components.v2.component("mnist_dashboard.window_size", js=_JS)


class WindowSize(NamedTuple):
    width: int  # CSS pixels
    height: int


def window_size(key: str) -> WindowSize | None:
    """The size of the browser window showing this session, or None before it is known.

    ``key`` names this page's reporter (its block is hidden by the frame's CSS, ``.st-key-<key>``)."""
    result = _window(key=key, on_size_change=lambda: None)
    size = getattr(result, "size", None)
    if not isinstance(size, (list, tuple)) or len(size) != 2:
        return None
    width, height = size
    if not all(isinstance(side, (int, float)) and side > 0 for side in (width, height)):
        return None
    return WindowSize(int(width), int(height))
