"""Two things only the browser can do, each a few lines of JavaScript (a Streamlit v2 component with
no HTML of its own): tell the window's size, so that projector mode can size the Draw canvas and
the Compare matrices to the screen; and switch Streamlit's light or dark theme for projector mode's
room choice.

The size is None until the browser has told it (the first run of a page); then a rerun brings it,
and every resize of the window (after it settles) brings the new size.
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


# Streamlit takes a theme from the URL at load: ?embed_options=light_theme or dark_theme (its embedding
# options, honoured without ?embed=true). Asked for another theme, the page reloads once with that option;
# a URL that already asks for it is left alone, so a Streamlit that ignored the option could not loop.
_THEME_JS = """
export default function (component) {
  const wanted = component.data.theme + "_theme";
  const url = new URL(window.location.href);
  const options = url.searchParams.getAll("embed_options");
  if (options.includes(wanted)) return;
  url.searchParams.delete("embed_options");
  options.filter(option => !option.endsWith("_theme"))
    .forEach(option => url.searchParams.append("embed_options", option));
  url.searchParams.append("embed_options", wanted);
  window.location.replace(url.toString());
}
"""

_theme_switch = st.components.v2.component("mnist_dashboard.theme_switch", js=_THEME_JS)

THEME_SWITCH_KEY = "room.switch"


def show_theme(theme: str) -> None:
    """Make the browser show Streamlit's ``theme`` ("light" or "dark"): nothing if it does already (or
    cannot tell, as under AppTest), else one reload into it."""
    if st.context.theme.type in (None, theme):
        return
    _theme_switch(key=THEME_SWITCH_KEY, data={"theme": theme})
