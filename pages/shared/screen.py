"""The browser window's height, told to the server by a few lines of JavaScript (a Streamlit v2
component with no HTML of its own), so that projector mode can size the Draw canvas to the screen.

None until the browser has told it (the first run of a page); then a rerun brings it, and every
resize of the window (after it settles) brings the new height.
"""

from __future__ import annotations

import streamlit as st

_JS = """
export default function (component) {
  const { setStateValue } = component;
  let timer = null;
  const report = () => setStateValue("height", window.innerHeight);
  const settled = () => { clearTimeout(timer); timer = setTimeout(report, 400); };
  window.addEventListener("resize", settled);
  report();
  return () => { clearTimeout(timer); window.removeEventListener("resize", settled); };
}
"""

_window = st.components.v2.component("mnist_dashboard.window_height", js=_JS)


def window_height(key: str) -> int | None:
    """The height in CSS pixels of the browser window showing this session, or None before it is known."""
    result = _window(key=key, on_height_change=lambda: None)
    height = getattr(result, "height", None)
    return int(height) if isinstance(height, (int, float)) and height > 0 else None
