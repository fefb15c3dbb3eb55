"""Text for the page: text from outside (run folder names, file names, error reasons) put into
Markdown safely, and counts said as a person says them."""

from __future__ import annotations

import re

# What Markdown, Streamlit's extensions (:colour[...], :emoji:, $math$) or HTML would read anywhere
# in a line; list and heading markers matter only where the text starts a line.
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#|~:$<>&])")
_LINE_START = re.compile(r"^(\s*)(\d+)?([-+.!])", flags=re.MULTILINE)


def literal(text: object) -> str:
    """``text`` escaped so that ``st.markdown`` shows it exactly as it is, never as markup.

    Backslash-escaped ``<`` and ``&`` are text in Markdown, so this is safe inside Markdown
    rendered with ``unsafe_allow_html`` too: no tag or entity survives.
    """
    escaped = _SPECIAL.sub(r"\\\1", str(text))
    return _LINE_START.sub(lambda m: f"{m.group(1)}{m.group(2) or ''}\\{m.group(3)}", escaped)


def counted(number: int, noun: str) -> str:
    """``3 drawings``, ``1 drawing``: what an audience reads, rather than ``1 drawing(s)``."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"
