"""The server's training jobs, shown live to every session: progress, curves, Stop.

Jobs belong to the server (one :class:`~mnist_core.jobs.JobBoard`, cached as a resource),
not to a browser session: a reload, another tab or another viewer sees the same jobs. The
presenter may stop or cancel any of them; a participant only their own.
"""

from __future__ import annotations

import time

import streamlit as st

from dashboard.access import is_presenter, owner_id
from dashboard.markdown import literal
from dashboard.navigation import page_link
from dashboard.presenter import for_the_room
from dashboard.workspace import workspace
from mnist_core.charts import Curve, history_chart
from mnist_core.jobs import (
    FAILED,
    JOBS_RECORD_FILE,
    RUNNING,
    SAVED,
    STOPPED,
    WAITING,
    JobBoard,
    ModelStatus,
    TrainingJob,
    ordinal,
)
from mnist_core.models import MODELS

STATE_ICONS = {WAITING: ":material/hourglass_empty:", RUNNING: ":material/directions_run:",
               SAVED: ":material/check_circle:", STOPPED: ":material/stop_circle:", FAILED: ":material/error:"}


@st.cache_resource
def job_board() -> JobBoard:
    """The one board of this server process (``$MNIST_TRAINING_SLOTS`` trainings at once). It keeps a record of
    its running and waiting jobs beside the runs, so that after a restart the Train page says which it lost."""
    return JobBoard(record=workspace().runs / JOBS_RECORD_FILE)




def describe(job: TrainingJob) -> str:
    """One line about a job, e.g. "LeNet-5, MLP · started 10:42 · best recipe" (no time while it waits);
    a seed group's, e.g. "CNN × 3 seeds · …"."""
    names = ", ".join(MODELS[key].name for key in job.configs)
    if job.seeds is not None:
        names += f" × {len(job.seeds)} seed{'s' if len(job.seeds) != 1 else ''}"
    recipe = next(iter(job.configs.values())).recipe
    if job.started_at is None:  # still in line
        return f"{names} · {recipe} recipe"
    return f"{names} · started {time.strftime('%H:%M', time.localtime(job.started_at))} · {recipe} recipe"


def elapsed_and_left(elapsed: float, left: float | None) -> str:
    """E.g. "1 min 5 s so far, about 40 s left" ("estimating what is left" until it can)."""
    return f"{duration(elapsed)} so far, " + (f"about {duration(left)} left" if left is not None
                                              else "estimating what is left")


def duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"


def run_name(status: ModelStatus) -> str:
    """"CNN", or "CNN · seed 2" in a seed group."""
    return MODELS[status.model_key].name + (f" · seed {status.seed}" if status.seed is not None else "")


def show_job(job: TrainingJob, live: bool) -> None:
    """Progress bars, curves and (when ``live``) a Stop button for ``job``."""
    snapshot = job.snapshot()
    for status in snapshot.statuses:
        name = run_name(status)
        detail = f"epoch {status.epoch}/{status.epochs}" if status.state == RUNNING else status.state
        if status.loss is not None and status.state == RUNNING:
            detail += f" · loss {status.loss:.3f}"
        if status.history:
            detail += f" · test accuracy {100 * status.history[-1].test_accuracy:.2f}%"
        timing = status.timing(time.monotonic())
        if timing is not None and status.preparing is None:
            detail += " · " + elapsed_and_left(*timing)
        shown = status.preparing if status.preparing is not None else status.fraction
        st.progress(min(1.0, shown), text=f"{STATE_ICONS[status.state]} **{name}** — {detail}")
        if status.message:
            preparing = (" " + elapsed_and_left(*timing)) if timing is not None and status.preparing is not None else ""
            (st.error if status.state == FAILED else st.caption)(literal(status.message) + preparing)
    curves = [Curve(run_name(s), s.model_key, [row.to_dict() for row in s.history])
              for s in snapshot.statuses if s.history]
    if curves:
        accuracy_column, loss_column = st.columns(2)
        accuracy_column.plotly_chart(for_the_room(history_chart(curves, "test_accuracy")), width="stretch",
                                     key=f"train.accuracy.{job.id}")
        loss_column.plotly_chart(for_the_room(history_chart(curves, "train_loss")), width="stretch",
                                 key=f"train.loss.{job.id}")
    elif not snapshot.finished:
        st.caption("The curves appear after the first epoch.")
    if live and not snapshot.finished and may_change(job):
        if st.button("Stop", icon=":material/stop:", disabled=job.stopping, key=f"train.stop.{job.id}") \
                and may_change(job):  # asked again: the press may come from a browser that was not shown it
            job.stop()
            st.toast("Stopping after the current batch; finished epochs are saved.")
    if snapshot.finished:
        saved = snapshot.saved_runs
        if saved:
            st.success(f"Finished in {snapshot.seconds:.0f} s. Saved {len(saved)} run(s): "
                       + ", ".join(literal(path.name) for path in saved))
        else:
            st.warning("Nothing was saved.")


def show_board(board: JobBoard) -> None:
    """Every job on the board: running ones first, then the line, then finished ones."""
    view = board.view()  # one moment: a job that starts meanwhile is never shown as finished
    for job in view.running:
        with st.container(border=True):
            st.markdown(f"**Training now:** {describe(job)}")
            show_job(job, live=True)
    for place, job in enumerate(view.queued, start=1):
        show_queued(board, job, place)
    for job in view.finished:
        with st.expander(f"Finished: {describe(job)}", expanded=job is view.finished[0] and not view.running):
            show_job(job, live=False)
    if any(saved for job in view.finished for saved in job.snapshot().saved_runs):
        page_link("compare", "Compare the runs")


def show_queued(board: JobBoard, job: TrainingJob, place: int) -> None:
    """A job waiting for a free slot: its place in line, and Cancel for the session that queued it."""
    mine = job.owner == owner_id()
    slots = "one training runs" if board.slots == 1 else f"{board.slots} trainings run"
    with st.container(border=True):
        text, button = st.columns([5, 1], vertical_alignment="center")
        text.markdown(f":material/hourglass_empty: **Waiting, {ordinal(place)} in line:** {describe(job)}"
                      + (" · yours" if mine else ""))
        text.caption(f"At most {slots} at a time on this server, so that the pages stay quick; it starts "
                     "when a training ends.")
        if may_change(job):
            button.button("Cancel", icon=":material/close:", key=f"train.dequeue.{job.id}", on_click=_cancel,
                          args=(board, job))


def may_change(job: TrainingJob) -> bool:
    """Whether this browser may stop or cancel ``job``: the presenter may stop any; a participant only their own."""
    return is_presenter() or job.owner == owner_id()


def _cancel(board: JobBoard, job: TrainingJob) -> None:
    if may_change(job) and board.cancel(job, job.owner):
        st.toast("Taken out of the line: nothing was trained.", icon=":material/close:")


@st.fragment(run_every=1.0)
def live_board(board: JobBoard, running_ids: tuple[str, ...]) -> None:
    # Polls the jobs once a second, also when none runs (one may start in another session);
    # only this fragment reruns.
    show_board(board)
    if tuple(job.id for job in board.running()) != running_ids:
        st.rerun()  # a job started or ended: rerun the page (the form's state, polling on or off)
