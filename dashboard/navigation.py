"""The dashboard's six pages in one table: the frame's navigation and every link between pages read it.

The page scripts live in the project's ``pages/`` folder, which is deliberately not beside the frame
(dashboard/frame.py): Streamlit treats a ``pages/`` folder next to its main script as a legacy multipage
app until some session calls ``st.navigation``, and the first visitor of a fresh server would get a bare
page. Page paths here are absolute, which ``st.Page`` and ``st.page_link`` both accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

PAGES_FOLDER = Path(__file__).resolve().parents[1] / "pages"


@dataclass(frozen=True)
class PageEntry:
    script: str  # the file in pages/
    title: str
    icon: str
    url_path: str | None  # None: the default page, at the app's root


PAGES: dict[str, PageEntry] = {
    "overview": PageEntry("overview.py", "Overview", ":material/leaderboard:", None),
    "train": PageEntry("train.py", "Train", ":material/model_training:", "train"),
    "compare": PageEntry("compare.py", "Compare", ":material/compare:", "compare"),
    "robustness": PageEntry("robustness.py", "Robustness", ":material/blur_on:", "robustness"),
    "draw": PageEntry("draw.py", "Draw", ":material/draw:", "draw"),
    "audience": PageEntry("audience.py", "Audience", ":material/groups:", "audience"),
}


def page_script(name: str) -> str:
    """The absolute path of page ``name``'s script."""
    return str(PAGES_FOLDER / PAGES[name].script)


def navigation_pages() -> list[st.Page]:
    """Every page as an ``st.Page``, the Overview the default."""
    return [
        st.Page(page_script(name), title=entry.title, icon=entry.icon,
                **({"url_path": entry.url_path} if entry.url_path else {"default": True}))
        for name, entry in PAGES.items()
    ]


def page_link(name: str, label: str) -> None:
    """A link to page ``name``, with the page's own icon."""
    st.page_link(page_script(name), label=label, icon=PAGES[name].icon)
