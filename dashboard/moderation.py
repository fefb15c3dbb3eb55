"""The presenter's controls on the Audience page: moderation, the room's settings, the end of the lesson.

Each control is offered to the presenter only (the page stops before them for a participant), and each
callback checks again (:func:`dashboard.access.presenter_only`): a participant's browser can send any
widget event it likes.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from dashboard.access import presenter_only
from dashboard.audience import audience_store
from dashboard.gallery import png_data_url
from dashboard.markdown import counted, literal
from dashboard.workspace import workspace
from mnist_core.audience import AudienceStore, AudienceStoreError, Drawing, describe_retention, retention
from mnist_core.models import MODELS
from mnist_core.room import RoomError

EXPORT_URL = "/audience/export.zip"  # join/presenter_routes.py: streamed, the presenter only
CONFIRM_KEY = "audience.confirm_clear"
CONFIRM_END_KEY = "audience.confirm_end"
RECENT_SHOWN = 24  # the newest drawings the presenter moderates one by one
PHONES_SHOWN = 40
_PER_ROW = 6
_PHONES_PER_ROW = 3


def moderation_panel(store: AudienceStore) -> None:
    """Each phone with its nickname (hide all its drawings, or show them again), and the newest drawings
    one by one (hide or show; under "review first", approve a misread one for the projector)."""
    try:
        phones = store.phones()
        recent = store.recent(RECENT_SHOWN)
    except AudienceStoreError as error:
        st.error(literal(error))
        return
    hidden_phones = sum(phone.hidden for phone in phones)
    # Nicknames and thumbnails are the presenter's: folded away, so a projected page does not name anyone. The
    # title stays the same (a changed title is a new panel, which closed under the presenter's hand).
    with st.expander("Moderate: phones and drawings", icon=":material/shield_person:", key="audience.moderate"):
        st.markdown(f"**{counted(len(phones), 'phone')}**" + (f", {hidden_phones} hidden" if hidden_phones else ""))
        st.caption("Each phone is known by two random words it shows too (nobody types a name). Hiding takes "
                   "drawings out of the scores, the gallery and the export; the store keeps them until they "
                   "are deleted, and **Show** undoes it. Hiding a phone also hides what it sends later.")
        shown = phones[:PHONES_SHOWN]
        for start in range(0, len(shown), _PHONES_PER_ROW):
            for column, phone in zip(st.columns(_PHONES_PER_ROW), shown[start:start + _PHONES_PER_ROW]):
                with column.container(border=True, horizontal=True, vertical_alignment="center"):
                    st.markdown(f"**{literal(phone.nickname)}** · {counted(phone.drawings, 'drawing')}"
                                + (" · *hidden*" if phone.hidden else ""), width="stretch")
                    st.button("Show" if phone.hidden else "Hide", key=f"audience.hide_phone.{phone.session}",
                              icon=":material/visibility:" if phone.hidden else ":material/visibility_off:",
                              on_click=_hide, kwargs={"session": phone.session, "undo": phone.hidden},
                              help="Show this phone's drawings again" if phone.hidden else
                              "Hide every drawing of this phone, and those it sends later")
        if len(phones) > PHONES_SHOWN:
            st.caption(f"The {PHONES_SHOWN} phones that drew last are shown "
                       "(`python -m mnist_core audience hide --session …` reaches every one).")
        if recent:
            st.markdown(f"**The newest {counted(len(recent), 'drawing')}**")
            review_first = workspace().room_settings().review_first
            for start in range(0, len(recent), _PER_ROW):
                for column, drawing in zip(st.columns(_PER_ROW), recent[start:start + _PER_ROW]):
                    _drawing_cell(column, drawing, review_first)


def _drawing_cell(column, drawing: Drawing, review_first: bool) -> None:
    wrong = any(digit != drawing.label for digit in drawing.answers.values())
    faded = "opacity:0.35;" if drawing.hidden else ""
    column.html(f"<img src='{png_data_url(drawing.pixels)}' alt='drawing {drawing.id}, labelled {drawing.label}' "
                f"style='{faded}width:100%;max-width:96px;aspect-ratio:1;image-rendering:pixelated;border-radius:4px'>")
    said = ", ".join(f"{MODELS[key].name} {digit}" for key, digit in drawing.answers.items()
                     if key in MODELS and digit != drawing.label)
    column.caption(f"#{drawing.id} · label {drawing.label} · {literal(drawing.nickname)}"
                   + (f" · read as: {said}" if said else "") + (" · hidden" if drawing.hidden else ""))
    column.button("Show" if drawing.hidden else "Hide", key=f"audience.hide.{drawing.id}",
                  on_click=_hide, kwargs={"ids": [drawing.id], "undo": drawing.hidden})
    if review_first and wrong and not drawing.hidden:
        column.button("Unapprove" if drawing.approved else "Approve", key=f"audience.approve.{drawing.id}",
                      on_click=_approve, args=(drawing.id, drawing.approved), type="primary")


def _hide(ids=(), session: str | None = None, undo: bool = False) -> None:
    if not presenter_only("hide drawings"):
        return
    try:
        changed = audience_store().hide(ids=ids, session=session, undo=undo)
    except AudienceStoreError as error:
        st.toast(f"Nothing changed: {error}", icon=":material/error:")
        return
    st.toast(f"{'Shown again' if undo else 'Hidden'}: {counted(changed, 'drawing')}.",
             icon=":material/visibility:" if undo else ":material/visibility_off:")


def _approve(drawing_id: int, undo: bool) -> None:
    if not presenter_only("approve drawings"):
        return
    try:
        audience_store().approve([drawing_id], undo=undo)
    except AudienceStoreError as error:
        st.toast(f"Nothing changed: {error}", icon=":material/error:")


def room_settings_panel() -> None:
    """The presenter's switches for the whole room (kept on disk: a restart keeps them)."""
    settings = workspace().room_settings()
    with st.expander("Room settings", icon=":material/tune:"):
        st.toggle("Participants may train (a computer lab: one training each at a time)",
                  value=settings.participants_train, key="room.participants_train", on_change=_save_setting,
                  args=("participants_train",))
        st.toggle("Review misread drawings before the projector shows them", value=settings.review_first,
                  key="room.review_first", on_change=_save_setting, args=("review_first",))


def _save_setting(name: str) -> None:
    if not presenter_only("change the room's settings"):
        return
    try:
        workspace().save_room_settings(replace(workspace().room_settings(),
                                               **{name: bool(st.session_state[f"room.{name}"])}))
    except RoomError as error:
        st.toast(str(error), icon=":material/error:")


def lesson_controls(store: AudienceStore) -> None:
    """Export, End the lesson (export, then delete), and Clear; and when drawings are deleted anyway."""
    try:
        keep = retention()
    except ValueError as error:
        st.warning(str(error), icon=":material/warning:")
        keep = None
    st.caption(f"Drawings are kept {describe_retention(keep)}" + (" and then deleted" if keep else "")
               + " (MNIST_AUDIENCE_KEEP). Phones are told so on /join.")
    row = st.container(horizontal=True)
    row.link_button("Export (ZIP)", EXPORT_URL, icon=":material/download:", key="audience.export")
    row.button("End the lesson…", on_click=_ask, args=(CONFIRM_END_KEY,), icon=":material/door_open:",
                      key="audience.end")
    row.button("Clear…", on_click=_ask, args=(CONFIRM_KEY,), icon=":material/delete:", key="audience.clear")
    if st.session_state.get(CONFIRM_END_KEY) and (count := _stored(store)) is not None:
        st.warning(f"End the lesson: **1.** export the {count:,} drawings, **2.** delete them all from this server. "
                   "Deleting cannot be undone.")
        row = st.container(horizontal=True)
        row.link_button("1. Export (ZIP)", EXPORT_URL, icon=":material/download:", key="audience.end.export")
        row.button("2. Delete them all", type="primary", on_click=_clear, args=(CONFIRM_END_KEY, True),
                   key="audience.end.confirm")
        row.button("Cancel", on_click=_clear, args=(CONFIRM_END_KEY, False), key="audience.end.cancel")
    if st.session_state.get(CONFIRM_KEY) and (count := _stored(store)) is not None:
        st.warning(f"Delete all {count:,} labelled drawings? This cannot be undone (export them first).")
        row = st.container(horizontal=True)
        row.button("Delete them all", type="primary", on_click=_clear, args=(CONFIRM_KEY, True),
                   key="audience.clear.confirm")
        row.button("Cancel", on_click=_clear, args=(CONFIRM_KEY, False), key="audience.clear.cancel")


def _ask(key: str) -> None:
    st.session_state[key] = True


def _clear(key: str, confirmed: bool) -> None:
    st.session_state[key] = False
    if not confirmed or not presenter_only("delete the room's drawings"):
        return
    try:
        st.toast(f"Deleted {counted(audience_store().clear(), 'drawing')}. A new lesson starts: each phone may "
                 "label again.", icon=":material/delete:")
    except AudienceStoreError as error:
        st.toast(f"Nothing was deleted: {error}", icon=":material/error:")
        return
    workspace().new_lesson()


def _stored(store: AudienceStore) -> int | None:
    try:
        return store.count()
    except AudienceStoreError:
        return None  # the live section above says what is wrong

