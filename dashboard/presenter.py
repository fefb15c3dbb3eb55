"""Projector mode: ``?present=1`` or the sidebar's toggle.

Hides the sidebar, enlarges the type for the back of a room, and lets the Draw page fit its
canvas, the three answers and the probabilities on one 1280x720 screen. The mode lives in
the session and is mirrored into the URL, so a prepared link opens in it and it survives
moving between pages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from mnist_core.models import MODELS

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

PRESENT_KEY = "present"
ROOM_KEY = "room"  # projector mode's theme, "light" or "dark", kept in the URL as ?room=dark
ROOMS = {"light": "Light", "dark": "Dark room"}
_CHART_SCALE = 1.25  # chart type in projector mode: the charts' 16 px as the mode's 20 px body text
_ON = ("1", "true", "yes", "on")

# Light room only: Streamlit's grey captions (its text at 60 % opacity: #828180, 3.9:1 on white) a darker grey at
# full opacity, 4.5:1 on the sidebar's grey too.
_LIGHT_CAPTIONS = '[data-testid="stCaptionContainer"]{color:#6B6A68;opacity:1}'
# Dark room only: the primary colour (.streamlit/config.toml: the MLP's blue, light enough as text on the dark
# page) behind text takes the page's dark colour as that text: white on it read 2.9:1.
_ON_DARK_PRIMARY = ('[data-testid^="stBaseButton-primary"],[data-testid^="stBaseButton-primary"] p,'
                    '[data-testid="stMultiSelectTagsContainer"]>span>span,'
                    '[data-testid="stMultiSelectTagsContainer"]>span>span *{color:#171614}')
# The ten "What did you draw?" buttons share one row: at 1280x720 a button is 30 px wide, and
# Streamlit's side padding left no room for its digit.
_DIGIT_BUTTONS = "[class*='st-key-audience_label_'] button{padding-left:0;padding-right:0;min-width:0}"
# The canvas's toolbar floats 35 px above its top edge: without room it covered the tabs' labels.
_CANVAS_TOOLBAR = ".st-key-draw-canvas{margin-top:24px}"
# The window-size reporters (dashboard/screen.py) and the announcers (dashboard/accessibility.py, which write into
# a live region of their own in <body>) draw nothing; without this their empty blocks took a row gap.
_HIDDEN = ".st-key-draw-window,.st-key-compare-window,.st-key-room-switch,[class*='st-key-live-']{display:none}"
_PROJECTOR = """
html { font-size: 20px; }
[data-testid="stMainBlockContainer"] { padding-top: 3.6rem; padding-bottom: 1rem; max-width: 100%; }
[data-testid="stMain"] h1 { font-size: 2.2rem; padding-top: 0; padding-bottom: 0.3rem; }
[data-testid="stMetricValue"] { font-size: max(4.2rem, 11vh); line-height: 1.05; }  /* grows on a 1080p screen */
[data-testid="stMetricLabel"] p { font-size: 1.15rem; font-weight: 700; color: TEXT; }
[data-testid="stCaptionContainer"] { color: CAPTION; font-size: 1rem; }
[data-testid="stExpander"] summary p { font-size: max(1rem, 2.43vh); }
[data-testid="stTableStyledTable"] { font-size: 1rem; }
[data-baseweb="tag"] span { font-size: 1rem; }  /* the chosen runs' chips, readable from the back */
/* The page bar, the tabs and the widgets' labels and values: Streamlit's 0.875rem (17.5 px) on a 720-px screen, in
   proportion on a taller one (26 px at 1080; they stayed 17.5) */
[data-testid="stTopNavLink"] p, [data-testid="stTab"] p, [data-testid="stWidgetLabel"] p,
[data-testid="stSliderThumbValue"], [data-testid^="stBaseButton"] p { font-size: max(0.875rem, 2.43vh); }
[data-testid="stTopNavLink"] [data-testid="stIconMaterial"] { font-size: max(1rem, 2.78vh); }
/* a slider's value sits above its thumb, in room made for 17.5 px: the label makes room for the rest */
[data-testid="stSlider"] [data-testid="stWidgetLabel"] { margin-bottom: max(0.25rem, calc(2.43vh - 0.625rem)); }
/* "What did you draw?": digits the back of a room reads (they were 17.5 px), still ten in one row at 1280 px,
   where Nudge it open leaves a button 32 px */
[class*='st-key-audience_label_'] button p { font-size: max(1.6rem, 4.4vh); font-weight: 600; line-height: 1.2; }
/* Nudge it open beside the canvas (pages/draw.py): its five sliders and Reset nudges on a 720-px screen (with
   Streamlit's 20-px gaps the button's top was 17 px below the screen's edge) */
.st-key-draw-nudge [data-testid="stExpanderDetails"] { padding-top: 0.25rem; }
.st-key-draw-nudge [data-testid="stVerticalBlock"] { gap: 0.25rem; }
"""


def projector_mode() -> bool:
    """Whether this session is in projector mode: first from the URL, then from the toggle."""
    if PRESENT_KEY not in st.session_state:
        st.session_state[PRESENT_KEY] = st.query_params.get(PRESENT_KEY, "").lower() in _ON
    present = bool(st.session_state[PRESENT_KEY])
    if present:
        st.query_params[PRESENT_KEY] = "1"
    elif PRESENT_KEY in st.query_params:
        del st.query_params[PRESENT_KEY]
    return present


def room() -> str:
    """Projector mode's theme, "light" or "dark": first from the URL (``?room=dark``), then from the choice."""
    if not st.session_state.get(ROOM_KEY):  # unset, or the widget's state dropped while projector mode was off
        st.session_state[ROOM_KEY] = "dark" if st.query_params.get(ROOM_KEY, "").lower() == "dark" else "light"
    chosen = st.session_state[ROOM_KEY]
    if chosen == "dark":
        st.query_params[ROOM_KEY] = "dark"
    elif ROOM_KEY in st.query_params:
        del st.query_params[ROOM_KEY]
    return chosen


def projector_toggle() -> None:
    st.toggle("Projector mode", key=PRESENT_KEY, help="Large type, no sidebar, the Draw page on one screen. "
                                                      "A link with ?present=1 opens in it; open the sidebar "
                                                      "(top left) to leave it.")
    if presenting():
        st.segmented_control("Room", list(ROOMS), format_func=ROOMS.get, key=ROOM_KEY, required=True,
                             help="Dark: Streamlit's dark theme, the charts with it, for a dark room. The page "
                                  "reloads once to switch; a link with ?present=1&room=dark opens in it. Outside "
                                  "projector mode the menu's Settings choose the theme.")


def page_style(present: bool, dark: bool = False) -> None:
    """The dashboard's extra CSS: model colours on the answers, room for the digit buttons, and
    projector mode's type, spacing and high-contrast text (``dark``: light text for the dark theme)."""
    text, caption = ("#f5f5f5", "#e0e0e0") if dark else ("#111", "#222")
    projector = _PROJECTOR.replace("TEXT", text).replace("CAPTION", caption)
    # Each model's answer (an st.metric inside a container keyed answer_<model>_<source>) in its colour as text.
    answers = "".join(f"[class*='st-key-answer_{key}_'] [data-testid='stMetricValue']"
                      f"{{color:{model_text_color(key, dark)};font-weight:700}}" for key in MODELS)
    room = _ON_DARK_PRIMARY if dark else _LIGHT_CAPTIONS
    st.html(f"<style>{answers}{room}{_DIGIT_BUTTONS}{_CANVAS_TOOLBAR}{_HIDDEN}"
            f"{projector if present else ''}</style>")


def model_text_color(key: str, dark: bool | None = None) -> str:
    """Model ``key``'s colour as text (its registry entry's ``text_colors``) in the room this browser shows
    (``dark``: in that one); its own colour stays for marks. ``inherit`` for a model no longer registered."""
    if key not in MODELS:
        return "inherit"
    colors = MODELS[key].text_colors
    return colors.dark if (dark_theme() if dark is None else dark) else colors.light


def dark_theme() -> bool:
    """Whether the browser shows Streamlit's dark theme (projector mode's dark room, or the viewer's own
    setting): the charts and the frame's text colours follow it. False where it cannot tell (AppTest).

    In projector mode the dark room counts as dark at once: a fresh page's first run hears of no theme yet (the
    browser reports it with a later rerun), and it had the light room's CSS (white on the dark room's primary
    blue: 3.1:1) under the dark theme. The light room follows the browser, whose Settings may still choose dark.
    ``room()`` has put the room into the session before the frame styles the page or a page draws a chart."""
    if presenting() and st.session_state.get(ROOM_KEY) == "dark":
        return True
    return st.context.theme.type == "dark"


def presenting() -> bool:
    """Whether this session is in projector mode (set by the frame, ``app.py``)."""
    return bool(st.session_state.get(PRESENT_KEY, False))


def matrix_layout(window_height: int | None = None) -> tuple[int, int]:
    """A 10x10 matrix's figure height and the type of its counts, in px: in projector mode taller, so that
    counts of 18 px (four digits) fit its cells from the back of a room, and still under a 720-px screen;
    on a taller screen (``window_height``, once the browser has told it) 80 % of it, the counts in proportion."""
    if not presenting():
        return 470, 13
    height = max(600, min(880, round(0.8 * (window_height or 0))))
    return height, round(18 * height / 600)


def for_the_room(figure: go.Figure) -> go.Figure:
    """``figure`` with its type as large as the mode's body text in projector mode (20 px against 16),
    and drawn for the dark theme when the browser shows it."""
    from mnist_core.charts import enlarge, on_dark  # Plotly loads with the first chart, not with the frame

    if presenting():
        enlarge(figure, _CHART_SCALE)
    return on_dark(figure) if dark_theme() else figure


def show_table(frame: pd.DataFrame, column_config: dict | None = None, hide_index: bool = True, target=None,
               presented: list[str] | None = None) -> None:
    """``frame`` as an interactive ``st.dataframe``, or in projector mode as a static table in the
    mode's large type: the data grid draws on a canvas at its own ~13 px, which no CSS reaches.

    ``column_config``'s number formats apply to both; ``target`` is where it goes (default: here);
    ``presented``: the columns worth the room in projector mode (default: all of them).
    """
    target = target if target is not None else st
    if not presenting():
        target.dataframe(frame, hide_index=hide_index, width="stretch", column_config=column_config)
        return
    formats = {}
    for name, config in (column_config or {}).items():
        number_format = config.get("type_config", {}).get("format")
        if number_format == "localized":
            formats[name] = "{:,.0f}"
        elif number_format:  # printf style, as the data grid takes it: "%.2f" → "{:.2f}"
            formats[name] = "{:" + number_format.removeprefix("%") + "}"
    if presented is not None:
        frame = frame[presented]
    formats = {name: text for name, text in formats.items() if name in frame.columns}
    # Other numbers at most to two decimals, without trailing zeros ("75", "66.67", "1,234,567"),
    # not with pandas' six decimals.
    shortest = {name: _short_number for name in frame.select_dtypes("float").columns if name not in formats}
    target.table(frame.style.format({**shortest, **formats}, na_rep="–"), hide_index=hide_index)


def _short_number(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".")
