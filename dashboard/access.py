"""Whether this browser is the presenter (mnist_core.room decides; the door is join/door.py).

Every page asks :func:`is_presenter` where an action happens — to offer a button, and again in the
button's callback, since a button a participant cannot use must also be refused by the code behind it.
"""

from __future__ import annotations

import streamlit as st

from dashboard.session import session_id
from dashboard.workspace import workspace
from mnist_core import room


def role() -> str:
    """:data:`room.PRESENTER` or :data:`room.PARTICIPANT`, from this session's connection: its address, its
    headers (a proxy's) and the presenter's cookie."""
    context = st.context
    # None for a browser on this machine (Streamlit reports no loopback address); not text at all where the
    # page runs with no connection (AppTest): the presenter's seat, as a local browser.
    peer = context.ip_address if isinstance(context.ip_address, str) else None
    headers = {name.lower(): value for name, value in dict(context.headers or {}).items()}
    try:
        door = workspace().door()
    except room.RoomError:  # a setting the server refused at start (it does not serve then): nobody presents
        return room.PARTICIPANT
    return door.role(peer, room.is_forwarded(headers), (context.cookies or {}).get(room.COOKIE),
                           headers.get("host"))


def is_presenter() -> bool:
    return role() == room.PRESENTER


def may_train() -> bool:
    """The presenter, or any participant once the presenter lets the room train (Audience → Room settings)."""
    return is_presenter() or workspace().room_settings().participants_train


def owner_id() -> str:
    """Whose a training is: the presenter's browser session; a participant's address, so that a participant
    with several tabs still has one training at a time."""
    if is_presenter():
        return session_id()
    peer = st.context.ip_address
    return f"participant-{peer if isinstance(peer, str) else 'local'}"


def presenter_only(action: str) -> bool:
    """True for the presenter; else a toast saying ``action`` is the presenter's (for a callback, which a
    participant's browser could call whatever the page showed)."""
    if is_presenter():
        return True
    st.toast(f"Only the presenter can {action}.", icon=":material/lock:")
    return False


def participant_note(what: str) -> None:
    """The line a participant sees on a page whose controls are the presenter's: ``what`` they cannot do,
    and where they can take part."""
    st.info(f"You are looking at the presenter's screen: {what} is the presenter's. To take part, draw on the "
            "Draw page, or on your phone at [/join](/join).", icon=":material/visibility:")
