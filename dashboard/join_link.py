"""Where the phones join (/join, join/routes.py), as a link and a QR code for the projector."""

from __future__ import annotations

import io
import os
from urllib.parse import urlsplit

import streamlit as st

from mnist_core.room import PUBLIC_URL_ENV, network_address

_LOCAL = ("localhost", "127.0.0.1", "::1", "0.0.0.0")


def join_url() -> str:
    """The /join address for phones: ``$MNIST_PUBLIC_URL``; else the address this browser used, when other
    machines can reach it; else this machine's network address (:func:`mnist_core.room.network_address`)."""
    public = os.environ.get(PUBLIC_URL_ENV, "").strip()
    if public:
        return public.rstrip("/") + "/join"
    seen = urlsplit(st.context.url or "")
    if seen.hostname and seen.hostname not in _LOCAL:
        return f"{seen.scheme}://{seen.netloc}/join"
    address = network_address() or "localhost"
    port = st.get_option("server.port")
    return f"http://{address}:{port}/join"


@st.cache_data(max_entries=4, show_spinner=False)  # drawn once per address, not on every rerun of the page
def qr_png(url: str) -> bytes:
    """``url`` as a QR code: black on white, large modules, a quiet zone, as a PNG."""
    import segno

    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=12, border=3, dark="#000000", light="#FFFFFF")
    return buffer.getvalue()


def join_panel(present: bool) -> None:
    """The QR code of the join address with the address in large type (projector mode: beside each other,
    at the top, the code a quarter of the width: 250 px at 1280x720, scanned across a room, with the scores
    under it on the first screen; else folded away under "Let the room join from their phones")."""
    url = join_url()
    container = st.container(border=True) if present else st.expander("Let the room join from their phones",
                                                                      icon=":material/qr_code_2:")
    with container:
        code, words = st.columns([1, 3], vertical_alignment="center")
        code.image(qr_png(url), width="stretch", alt=f"QR code of the address {url}")
        size = "2.4rem" if present else "1.4rem"
        words.markdown("**Draw on your phone:** scan the code, or open")
        words.html(f"<p style='font-size:{size};font-weight:700;word-break:break-all;margin:0'>{_escape(url)}</p>")
        words.caption("Your phone runs the three models itself; pressing a digit adds your drawing here. "
                      f"Wrong address? Start the app with {PUBLIC_URL_ENV} set to the address phones reach it at.")


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)
