"""Running a page inside ``app.py``'s frame."""

from __future__ import annotations

import streamlit as st


def ensure_frame() -> None:
    """Run the page inside ``app.py``'s frame, even for the first visitor of a fresh server.

    Streamlit treats a ``pages/`` folder as a legacy multipage app until some session has
    called ``st.navigation``: the very first visitor of ``/draw`` would get
    ``pages/draw.py`` run bare (no page config, no sidebar). Leave that mode and rerun,
    which runs ``app.py`` and then this page.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a future Streamlit without the legacy mode
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
