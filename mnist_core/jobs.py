"""Training several models one after another in a background thread.

A user interface starts a :class:`TrainingJob`, polls :meth:`TrainingJob.snapshot` to
draw progress, and may call :meth:`TrainingJob.stop`. The job saves each finished model
as a run folder (atomically, see :mod:`mnist_core.runs`), so a stopped or crashed job
never leaves a half-written run behind. A :class:`JobBoard` holds the jobs of one server,
so every viewer (and a reloaded page) sees and can stop every running job. The board trains at
most ``slots`` jobs at a time (``$MNIST_TRAINING_SLOTS``, else one per four cores); the others
wait in line, in order, and the session that queued one may cancel it. Given a file, the board keeps
in it the jobs running and waiting, so that the next server process can say which a restart interrupted.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .cores import available_cores
from .data import MnistData
from .fileio import write_atomically
from .models import MODELS
from .recipes import TrainConfig
from .runs import RunError, save_new_run
from .training import EpochStats, TrainingProgress, TrainResult, train_model

# What a model's training can be doing.
WAITING, RUNNING, SAVED, STOPPED, FAILED = "waiting", "running", "saved", "stopped", "failed"


@dataclass(frozen=True)
class ModelStatus:
    """One run of a job (a model, or one seed of it), as last reported."""

    model_key: str
    seed: int | None = None  # in a seed group, which seed this run is
    state: str = WAITING  # WAITING, RUNNING, SAVED, STOPPED or FAILED
    fraction: float = 0.0  # of this model's training, in [0, 1]
    epoch: int = 0
    epochs: int = 0
    loss: float | None = None  # running training loss of the current epoch
    history: tuple[EpochStats, ...] = ()
    run_path: Path | None = None  # the saved run folder
    message: str = ""  # why it stopped or failed
    preparing: float | None = None  # while its canvas-style digits are made: the fraction made
    phase_started: float | None = None  # time.monotonic() when the current phase (preparing, training) began

    def timing(self, now: float) -> tuple[float, float | None] | None:
        """(seconds in the current phase, an estimate of the seconds left in it) while it runs; the
        estimate is None until a little of the phase is done."""
        if self.state != RUNNING or self.phase_started is None:
            return None
        elapsed = max(0.0, now - self.phase_started)
        done = self.preparing if self.preparing is not None else self.fraction
        return elapsed, (elapsed * (1 - done) / done if done >= 0.02 else None)


@dataclass(frozen=True)
class JobSnapshot:
    statuses: tuple[ModelStatus, ...]
    finished: bool
    seconds: float  # since the start (until the end, once finished); 0 while queued
    queued: bool = False  # waiting for a free slot on its board

    @property
    def saved_runs(self) -> list[Path]:
        return [s.run_path for s in self.statuses if s.run_path is not None]


@dataclass(eq=False)  # a job is itself: compared by identity, never field by field
class TrainingJob:
    """Train ``configs`` (model key → settings) in order and save each as a run in ``runs_dir``.

    With ``seeds``, each model is a seed group: one run per seed (its settings' seed replaced, all
    of them marked with one group name), model by model, seed by seed. ``save`` receives
    ``(model key, TrainResult)`` and returns the saved folder; it is given so that where and how
    runs are written stays the caller's choice.
    """

    configs: dict[str, TrainConfig]
    data: MnistData
    save: Callable[[str, TrainResult], Path]
    threads: int = field(default_factory=lambda: available_cores())  # intra-op threads for training
    owner: str | None = None  # the session that asked for it: the one that may cancel it while queued
    seeds: tuple[int, ...] | None = None  # a seed group of each model: these seeds
    _on_end: Callable[[TrainingJob], None] | None = field(default=None, init=False)  # its board's, once it ends
    _statuses: dict[str, ModelStatus] = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _started: float = field(default=0.0, init=False)
    _ended: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.seeds is None:
            self._parts = {key: (key, config) for key, config in self.configs.items()}
        else:
            if not self.seeds:
                raise ValueError("A seed group needs at least one seed.")
            group = f"{next(iter(self.configs.values())).recipe}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
            self._parts = {f"{key}:{seed}": (key, replace(config, seed=seed, group=group))
                           for key, config in self.configs.items() for seed in self.seeds}
        self._statuses = {part: ModelStatus(key, seed=None if self.seeds is None else config.seed,
                                            epochs=config.epochs)
                          for part, (key, config) in self._parts.items()}
        self.id = uuid.uuid4().hex[:8]
        self.started_at: float | None = None  # wall-clock time of start(), for "started at 10:42"
        self.queued_at: float | None = None  # wall-clock time a board took it

    def start(self) -> TrainingJob:
        self.started_at = time.time()
        self._started = time.monotonic()
        thread = threading.Thread(target=self._run, name="mnist-training", daemon=True)
        try:
            thread.start()
        except RuntimeError as error:  # the system would start no more threads: the job ends, failed
            for part in self._parts:
                self._update(part, state=FAILED, message=f"Could not start training: {error}.")
            with self._lock:
                self._ended = time.monotonic()
            return self
        self._thread = thread
        return self

    def stop(self) -> None:
        """Ask the job to end after the current batch; finished epochs are still saved."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (or ``timeout`` seconds); True if it ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._ended is not None

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            statuses = tuple(self._statuses.values())
            ended = self._ended
        if self.started_at is None:
            return JobSnapshot(statuses, False, 0.0, queued=True)
        now = ended if ended is not None else time.monotonic()
        return JobSnapshot(statuses, ended is not None, now - self._started)

    def _update(self, key: str, **changes) -> None:
        with self._lock:
            self._statuses[key] = replace(self._statuses[key], **changes)

    def _run(self) -> None:
        import torch

        # A new thread takes PyTorch's last global thread count, which a prediction may
        # just have lowered to one; training wants every core.
        torch.set_num_threads(self.threads)
        try:
            for part, (key, config) in self._parts.items():
                if self._stop.is_set():
                    self._update(part, state=STOPPED, message="Stopped before it started.")
                    continue
                self._train_one(part, key, config)
        finally:
            with self._lock:
                self._ended = time.monotonic()
            if self._on_end is not None:
                self._on_end(self)

    def _train_one(self, part: str, key: str, config: TrainConfig) -> None:
        self._update(part, state=RUNNING, phase_started=time.monotonic())

        def report(progress: TrainingProgress) -> None:
            if progress.preparing is not None:
                self._update(part, preparing=progress.preparing,
                             message=f"Preparing the canvas-style training images: {progress.preparing:.0%} "
                                     "(once on this machine; kept on disk for later runs).")
                return
            with self._lock:
                phase_started = (time.monotonic() if self._statuses[part].preparing is not None
                                 else self._statuses[part].phase_started)  # training begins: a new phase
            self._update(part, fraction=progress.fraction, epoch=progress.epoch, loss=progress.loss,
                         history=progress.history, message="", preparing=None, phase_started=phase_started)

        try:
            result = train_model(key, self.data, config, on_progress=report, should_stop=self._stop.is_set)
            if result.diverged_at is not None:
                self._update(part, state=FAILED, message=f"Diverged in epoch {result.diverged_at} (the loss became NaN "
                                                        "or infinite): nothing was saved. Try a lower learning rate.")
                return
            if not result.history:
                self._update(part, state=STOPPED, message="Stopped during the first epoch: nothing to save.")
                return
            path = self.save(key, result)
        except RunError as error:  # could not be saved; the message says where the model went instead
            self._update(part, state=FAILED, message=f"The run {error.reason}")
            return
        except Exception as error:  # reported to the user; the thread must not die silently
            self._update(part, state=FAILED, message=f"{type(error).__name__}: {error}")
            return
        if result.stopped:
            self._update(part, state=STOPPED, run_path=path, history=tuple(result.history),
                         message=f"Stopped after {len(result.history)} of {config.epochs} epochs; those were saved.")
        else:
            self._update(part, state=SAVED, run_path=path, fraction=1.0, history=tuple(result.history))


def save_to_folder(runs_dir: Path) -> Callable[[str, TrainResult], Path]:
    """A ``save`` for :class:`TrainingJob`: a fresh run folder in ``runs_dir`` per model.

    Two sessions finishing the same model in the same second get different folders. A run
    that cannot be saved there is saved in the system's temporary folder, and the
    :class:`~mnist_core.runs.RunError` says where.
    """

    def save(key: str, result: TrainResult) -> Path:
        config = result.config
        name = f"{config.recipe}-seed{config.seed}" if config.group else config.recipe  # as train --seeds names them
        return save_new_run(runs_dir, name, **result.run_fields()).path

    return save


TRAINING_SLOTS_ENV = "MNIST_TRAINING_SLOTS"


def default_training_slots() -> int:
    """How many jobs one server trains at once: ``$MNIST_TRAINING_SLOTS``, else one per four cores.

    Each job uses its share of the cores; on a 2-core machine a second job at once made both
    slower and left the pages no core to answer with.
    """
    text = os.environ.get(TRAINING_SLOTS_ENV, "").strip()
    if not text:
        return max(1, available_cores() // 4)
    try:
        slots = int(text)
    except ValueError:
        slots = 0
    if slots < 1:
        raise ValueError(f"{TRAINING_SLOTS_ENV} must be a whole number of at least 1 (how many trainings run at "
                         f"once), not {text!r}.")
    return slots


JOBS_RECORD_FILE = ".training-jobs.json"  # a board's record, e.g. in the runs folder (hidden: not a run)
MAX_RECORD_BYTES = 1_000_000  # a job's entry is ~150 bytes; a larger file is not this module's


@dataclass(frozen=True)
class InterruptedJob:
    """A job a previous server process was training, or had waiting, when it stopped: its runs were lost
    (finished ones of a job are saved; the one in training is not)."""

    models: tuple[str, ...]  # the models' names, e.g. ("CNN", "LeNet-5")
    recipe: str
    seeds: tuple[int, ...] | None  # a seed group's seeds; None: one run of each model
    state: str  # RUNNING or WAITING
    since: float  # wall-clock time it started (running) or joined the line (waiting)

    @property
    def description(self) -> str:
        """E.g. "CNN, LeNet-5 × 3 seeds · best recipe · training since 10:42" (the date too if not today)."""
        names = ", ".join(self.models)
        if self.seeds is not None:
            names += f" × {len(self.seeds)} seed{'s' if len(self.seeds) != 1 else ''}"
        when = time.localtime(self.since)
        shown = time.strftime("%H:%M" if when[:3] == time.localtime()[:3] else "%d %b %H:%M", when)
        return f"{names} · {self.recipe} recipe · {'training' if self.state == RUNNING else 'waiting'} since {shown}"

    def to_dict(self) -> dict:
        return {"models": list(self.models), "recipe": self.recipe,
                "seeds": list(self.seeds) if self.seeds is not None else None, "state": self.state, "since": self.since}

    @classmethod
    def from_dict(cls, entry: object) -> InterruptedJob | None:
        """The entry as written by :meth:`to_dict`, or None if it is not one."""
        try:
            models, recipe, seeds = entry["models"], entry["recipe"], entry["seeds"]
            state, since = entry["state"], float(entry["since"])
        except (TypeError, KeyError, ValueError):
            return None
        if (not isinstance(models, list) or not all(isinstance(m, str) for m in models) or not isinstance(recipe, str)
                or not (seeds is None or isinstance(seeds, list) and all(type(x) is int for x in seeds))
                or state not in (RUNNING, WAITING) or not 0 <= since < 1e11):  # (a NaN fails too)
            return None
        return cls(tuple(models), recipe, tuple(seeds) if seeds is not None else None, state, since)

    @classmethod
    def of(cls, job: TrainingJob, state: str) -> InterruptedJob:
        since = (job.started_at if state == RUNNING else job.queued_at) or time.time()
        return cls(tuple(MODELS[key].name for key in job.configs), next(iter(job.configs.values())).recipe,
                   job.seeds, state, since)


def read_jobs_record(path: Path) -> list[InterruptedJob]:
    """The jobs recorded in ``path``; none if it is missing, damaged or too large."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_RECORD_BYTES + 1)
        entries = json.loads(data) if len(data) <= MAX_RECORD_BYTES else []
    except (OSError, ValueError, RecursionError):  # RecursionError: nested too deep to be this module's
        return []
    found = [InterruptedJob.from_dict(entry) for entry in entries] if isinstance(entries, list) else []
    return [job for job in found if job is not None]


def write_jobs_record(path: Path, jobs: list[InterruptedJob]) -> None:
    """Record ``jobs`` in ``path`` (whole: a temporary file renamed into place), or remove it when there are none.

    Raises:
        OSError: it cannot be written.
    """
    if not jobs:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps([job.to_dict() for job in jobs]))


@dataclass(frozen=True)
class BoardView:
    """The board's jobs at one moment, each list newest first (the line: first in line first)."""

    running: list[TrainingJob]
    queued: list[TrainingJob]
    finished: list[TrainingJob]


class JobBoard:
    """The training jobs of one server: every session sees and can stop all of them.

    At most ``slots`` jobs train at once; the others wait in line, first come first served, one
    per session, and start as jobs end. Keeps the running and queued jobs and the last
    ``keep_finished`` finished ones.

    With ``record`` (a file), the board keeps its running and waiting jobs there as they change; a new
    board reads what a previous process left in it into :attr:`interrupted` (the jobs a restart
    interrupted), then clears it.
    """

    def __init__(self, slots: int | None = None, keep_finished: int = 3,
                 record: str | os.PathLike | None = None) -> None:
        self.slots = slots if slots is not None else default_training_slots()
        self.keep_finished = keep_finished
        self._jobs: list[TrainingJob] = []  # newest first: running, queued and finished ones
        self._queue: list[TrainingJob] = []  # waiting, first in line first
        self._lock = threading.Lock()
        self.record = Path(record) if record is not None else None
        self.interrupted: list[InterruptedJob] = read_jobs_record(self.record) if self.record is not None else []
        self._write_record()  # told once: the next process starts afresh

    def submit(self, job: TrainingJob, one_at_a_time: bool = False) -> int:
        """Start ``job`` now if a slot is free, else put it in line; return its place (0: started).

        Checked and started under one lock, so that sessions pressing Train at once never run
        more than ``slots`` jobs. ``one_at_a_time``: the owner may have no other job running or
        waiting (a participant in a computer lab; two tabs pressing Train at once get one job).

        Raises:
            ValueError: the job's owner already has a job waiting (one each keeps the line fair),
                or, ``one_at_a_time``, one running.
        """
        with self._lock:
            unfinished = [other for other in self._jobs if other in self._queue or self._is_running(other)]
            if one_at_a_time and job.owner is not None and any(other.owner == job.owner for other in unfinished):
                raise ValueError("You have a training running or waiting already: one at a time each, so that "
                                 "the room's trainings all get their turn.")
            waiting = [other for other in self._queue if job.owner is not None and other.owner == job.owner]
            if waiting:
                raise ValueError(f"You already have a training waiting ({ordinal(self._queue.index(waiting[0]) + 1)} "
                                 "in line): cancel it first to queue other settings.")
            self._jobs.insert(0, job)
            job._on_end = self._job_ended
            job.queued_at = time.time()
            if self._running_count() < self.slots:
                self._launch(job)
                self._write_record()
                return 0
            self._queue.append(job)
            self._write_record()
            return len(self._queue)

    def cancel(self, job: TrainingJob, owner: str | None) -> bool:
        """Take ``job`` out of the line if it is still waiting and ``owner`` queued it; True if it was."""
        with self._lock:
            if job not in self._queue or job.owner != owner:
                return False
            self._queue.remove(job)
            self._jobs.remove(job)
            self._write_record()
            return True

    def place(self, job: TrainingJob) -> int | None:
        """``job``'s place in line (1 is next), 0 once it has started, None if it is not on the board."""
        with self._lock:
            if job in self._queue:
                return self._queue.index(job) + 1
            return 0 if job in self._jobs else None

    def view(self) -> BoardView:
        """Running, queued and the last ``keep_finished`` finished jobs, read under one lock."""
        with self._lock:
            finished = [job for job in self._jobs if job.snapshot().finished]
            for old in finished[self.keep_finished :]:
                self._jobs.remove(old)
            running = [job for job in self._jobs if self._is_running(job)]
            return BoardView(running, list(self._queue), finished[: self.keep_finished])

    def jobs(self) -> list[TrainingJob]:
        """The running, queued and last ``keep_finished`` finished jobs, newest first."""
        self.view()  # forgets the older finished jobs
        with self._lock:
            return list(self._jobs)

    def running(self) -> list[TrainingJob]:
        return self.view().running

    def queued(self) -> list[TrainingJob]:
        """The waiting jobs, first in line first."""
        return self.view().queued

    def _job_ended(self, job: TrainingJob) -> None:
        with self._lock:
            while self._queue and self._running_count() < self.slots:
                self._launch(self._queue.pop(0))  # a job that cannot start ends at once: the next one goes
            self._write_record()

    def _launch(self, job: TrainingJob) -> None:
        job.threads = max(1, available_cores() // self.slots)  # each job trains on its share of the cores
        job.start()

    def _write_record(self) -> None:
        """Record the running and waiting jobs in :attr:`record` (called under the lock, or before any job)."""
        if self.record is None:
            return
        jobs = ([InterruptedJob.of(job, RUNNING) for job in self._jobs if self._is_running(job)]
                + [InterruptedJob.of(job, WAITING) for job in self._queue])
        try:
            write_jobs_record(self.record, jobs)
        except OSError:
            pass  # a courtesy to the next process: training goes on without it

    def _running_count(self) -> int:
        return sum(self._is_running(job) for job in self._jobs)

    @staticmethod
    def _is_running(job: TrainingJob) -> bool:
        snapshot = job.snapshot()
        return not snapshot.queued and not snapshot.finished


def ordinal(place: int) -> str:
    """1st, 2nd, 3rd, 4th … 11th, 12th, 13th … 21st."""
    suffix = "th" if 10 <= place % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(place % 10, "th")
    return f"{place}{suffix}"
