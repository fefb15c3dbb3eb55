"""Numbers that a link sets: read from the URL only when they are numbers at all.

Streamlit seeds a widget bound to the URL (``bind="query-params"``) from it, and turns a number
too large for a float (``?draw.test_index=1e999``, or 400 nines) into an error box instead of
ignoring it. It stays in the URL, so every reload fails again.
"""

from __future__ import annotations

import math

import streamlit as st
from streamlit.errors import StreamlitAPIException


def drop_unreadable_number(key: str) -> None:
    """Before a widget bound to the URL as ``key`` reads it: drop a value that is not a finite
    number, and rerun, so the widget starts from its default and the page works.

    A readable number out of the widget's range is the widget's to handle (it resets it).
    """
    values = st.query_params.get_all(key)
    if not values or all(_finite(value) for value in values):
        return
    try:
        del st.query_params[key]
    except (KeyError, StreamlitAPIException):  # already bound: the widget holds a value of its own
        return
    st.rerun()  # the widget is seeded from the URL of the run that starts, now without it


def _finite(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except (ValueError, OverflowError):
        return text.strip() == ""  # empty: Streamlit clears the widget itself
