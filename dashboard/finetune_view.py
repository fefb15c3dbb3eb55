"""Teach the models with the class's drawings, on the Audience page: the presenter's button, the job's progress,
and what changed, in words (mnist_core.finetune does the work; the job runs on the server's training board).

Everyone sees the progress and the result; the button, and making the new runs the room's, are the presenter's,
and each callback asks again (:func:`dashboard.access.presenter_only`).
"""

from __future__ import annotations

import streamlit as st

from dashboard.access import is_presenter, owner_id, presenter_only
from dashboard.audience import audience_store
from dashboard.job_view import job_board, show_job
from dashboard.loading import mnist_or_none
from dashboard.markdown import literal
from dashboard.run_choice import all_runs, selected_runs
from dashboard.workspace import workspace
from mnist_core.audience import AudienceStoreError
from mnist_core.finetune import (
    HELD_OUT_SHARE,
    MAX_MNIST_DROP,
    MIN_HELD_OUT,
    FinetuneJob,
    FinetuneReport,
    NotEnoughDrawings,
    finetune_job,
    latest_class_runs,
)
from mnist_core.jobs import JobBoard

TEACH_KEY = "audience.teach"
USE_KEY = "audience.teach.use"
UNDO_KEY = "audience.teach.undo"
MESSAGE_KEY = "audience.teach.message"  # session state: why the last press started nothing


def teaching_section() -> None:
    """The button (presenter), the job while it runs, then each model's before and after."""
    st.header("Teach the models")
    board = job_board()
    job = latest_job(board)
    running = job is not None and not job.snapshot().finished
    if is_presenter():
        st.button("Teach the models with the class's drawings", key=TEACH_KEY, on_click=_teach, type="primary",
                  icon=":material/school:", disabled=running)
        st.caption(f"Each model in use learns from the class's drawings (not the hidden ones, nor a Fool-the-models "
                   f"drawing that fooled a model until a classmate has read it as its label), mixed with MNIST "
                   f"training images so that it forgets nothing. About {HELD_OUT_SHARE:.0%} of the phones (at least "
                   f"{MIN_HELD_OUT}) are kept aside and never learnt from: the models are tested on their drawings, "
                   f"before and after. A run whose MNIST test accuracy drops more than {MAX_MNIST_DROP} points is "
                   "not kept.")
        if st.session_state.get(MESSAGE_KEY):
            st.info(literal(st.session_state[MESSAGE_KEY]), icon=":material/info:")
    if running:
        live_progress(board, job.id)
        return
    reports = list(job.reports.values()) if job is not None and job.reports else latest_class_runs(all_runs()[0])
    if reports:
        show_reports(reports)


def latest_job(board: JobBoard) -> FinetuneJob | None:
    """The newest fine-tuning on the board (running, waiting or among the last finished), if any."""
    return next((job for job in board.jobs() if isinstance(job, FinetuneJob)), None)


@st.fragment(run_every=1.0)
def live_progress(board: JobBoard, job_id: str) -> None:
    job = next((job for job in board.jobs() if job.id == job_id), None)
    if job is None or job.snapshot().finished:
        st.rerun()  # done: the whole section shows the result
        return
    place = board.place(job)
    if place:
        st.caption(f"Waiting for the training slot: {place} in line.")
    show_job(job, live=True)


def show_reports(reports: list[FinetuneReport]) -> None:
    """Each model's before and after in one sentence, the runs kept, and (presenter) make them the room's."""
    st.markdown("\n".join(f"- {literal(report.sentence())}" for report in reports))
    significant = [report for report in reports if report.mcnemar_p < 0.05 and not report.refused]
    st.caption("On the held-out phones' drawings, McNemar's test between the run before and the run after: "
               + ", ".join(f"p = {report.mcnemar_p:.3g}" for report in reports)
               + (" (a real difference where below 0.05)." if significant else
                  " (none below 0.05: the difference could be chance)."))
    kept = {report.model_key: str(report.run) for report in reports if report.run is not None}
    if not kept or not is_presenter():
        return
    in_use = workspace().room_runs()
    row = st.container(horizontal=True)
    if any(in_use.get(key) != path for key, path in kept.items()):
        row.button("Use them on Draw and /join", key=USE_KEY, on_click=_use, args=(kept,),
                   icon=":material/published_with_changes:",
                   help="The new runs become the room's models: the phones on /join and every page use them")
    if in_use:
        row.button("Back to the models before", key=UNDO_KEY, on_click=_use, args=({},), icon=":material/undo:")


def _teach() -> None:
    if not presenter_only("teach the models"):
        return
    st.session_state[MESSAGE_KEY] = ""
    try:
        from mnist_core.finetune import class_drawings, split_by_session

        drawings, unconfirmed = class_drawings(audience_store())
        split = split_by_session(drawings, unconfirmed=unconfirmed)
    except (NotEnoughDrawings, AudienceStoreError) as error:
        st.session_state[MESSAGE_KEY] = str(error)
        return
    data, note = mnist_or_none()
    if data is None:
        st.session_state[MESSAGE_KEY] = f"Teaching needs MNIST's training images: {note}"
        return
    job = finetune_job(selected_runs(), split, data, workspace().runs, owner=owner_id())
    try:
        place = job_board().submit(job)
    except ValueError as error:
        st.session_state[MESSAGE_KEY] = str(error)
        return
    if place:
        st.toast(f"Waiting for the training slot: {place} in line.", icon=":material/hourglass_empty:")


def _use(runs: dict[str, str]) -> None:
    if not presenter_only("choose the room's models"):
        return
    workspace().use_for_room({**workspace().room_runs(), **runs} if runs else {})
    st.toast("The class's runs are the room's models now." if runs else "Back to the models before.",
             icon=":material/check:")
