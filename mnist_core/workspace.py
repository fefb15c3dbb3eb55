"""One installation's places and shared state: the folders, the runs in use and the audience store.

The dashboard's pages, /join and the command line all go through a :class:`Workspace`. Each folder is
read from the environment on every call (:mod:`mnist_core.paths`), so a change of ``MNIST_RUNS_DIR`` or
``MNIST_AUDIENCE_DB`` is seen at once; what is costly is cached here, keyed by what decides it:

- the runs on disk, per run-folder signature (a directory scan, no file read: :func:`runs.runs_signature`);
- the audience store, one object per store location (a PostgreSQL store holds its connections);
- the door (who is the presenter), per setting of its environment variables: its key is read or made once.

The app makes one workspace at its own folder (app.py); the command line makes one at the working directory.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

from mnist_core import audience, paths, room
from mnist_core.fileio import write_atomically
from mnist_core.runs import RunError, RunInfo, default_runs, find_runs, runs_signature

_RUN_LISTINGS_KEPT = 4  # a few states of the run folders: pages rerun with the newest one
ROOM_RUNS_FILE = "room-runs.json"  # in the user's runs folder: the runs the presenter chose for the room


class Workspace:
    """The places of one installation whose defaults lie in ``root``. Safe to share between threads."""

    def __init__(self, root: str | os.PathLike = ".") -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._listings: dict[tuple, tuple[list[RunInfo], list[RunError]]] = {}
        self._stores: dict[str, audience.AudienceStore] = {}
        self._doors: dict[tuple, room.Door] = {}
        self._lesson = 0

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    # --- folders -----------------------------------------------------------------------------

    @property
    def checkpoints(self) -> Path:
        """The shipped runs (``$MNIST_CHECKPOINTS_DIR``, else ``checkpoints/``)."""
        return paths.checkpoints_dir(self.root)

    @property
    def runs(self) -> Path:
        """The user's runs (``$MNIST_RUNS_DIR``, else ``runs/``): trainings, the room's key and settings."""
        return paths.user_runs_dir(self.root)

    @property
    def cache(self) -> Path:
        """Work that can always be made again (``$MNIST_CACHE_DIR``, else the user's cache folder)."""
        return paths.cache_dir()

    def data(self, explicit: str | os.PathLike | None = None) -> Path:
        """The MNIST root: ``explicit``, else ``$MNIST_DATA_DIR``, else ``data/``."""
        return paths.data_dir(explicit, self.root)

    # --- runs --------------------------------------------------------------------------------

    def find_runs(self) -> tuple[list[RunInfo], list[RunError]]:
        """Every readable run (shipped first, then the user's) and the damaged ones, read again only when a run
        folder appears, disappears or is rewritten."""
        folders = (self.checkpoints, self.runs)
        signature = (folders, runs_signature(*folders))
        with self._lock:
            known = self._listings.get(signature)
        if known is None:
            known = find_runs(*folders)
            with self._lock:
                self._listings[signature] = known
                while len(self._listings) > _RUN_LISTINGS_KEPT:
                    self._listings.pop(next(iter(self._listings)))
        runs, errors = known
        return list(runs), list(errors)

    def runs_signature(self) -> tuple:
        """Changes whenever :meth:`find_runs` would read something new."""
        return runs_signature(self.checkpoints, self.runs)

    def runs_in_use(self, chosen: Mapping[str, str] | None = None, include: Iterable[str] = ()) -> dict[str, RunInfo]:
        """The run each model uses (:func:`mnist_core.runs.default_runs`): ``chosen``'s (model key → run folder),
        else the room's (:meth:`room_runs`), else the shipped checkpoint, else the newest run."""
        return default_runs(self.find_runs()[0], self.checkpoints, {**self.room_runs(), **(chosen or {})}, include)

    def room_runs(self) -> dict[str, str]:
        """The runs the presenter chose for the whole room (model key → run folder): what /join serves and every
        page uses unless a session chose otherwise on the Draw page. None chosen (or an unreadable file): {}."""
        try:
            record = json.loads((self.runs / ROOM_RUNS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(record, dict):
            return {}
        return {key: value for key, value in record.items() if isinstance(key, str) and isinstance(value, str)}

    def use_for_room(self, runs: Mapping[str, str | os.PathLike]) -> None:
        """Make ``runs`` (model key → run folder) the room's (:meth:`room_runs`); an empty mapping goes back to the
        shipped checkpoints. Written whole, in the runs folder: /join sees the change at once (a run folder's
        signature)."""
        path = self.runs / ROOM_RUNS_FILE
        if not runs:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps({key: str(value) for key, value in runs.items()}))

    def is_shipped(self, run: RunInfo) -> bool:
        return run.is_shipped(self.checkpoints)

    # --- the room and its drawings -----------------------------------------------------------

    @property
    def audience_location(self) -> str:
        """Where the audience's drawings are: a SQLite file, or a ``postgresql://`` address."""
        return str(audience.audience_db(self.root))

    def audience_store(self) -> audience.AudienceStore:
        """The audience store at :attr:`audience_location`, one object per location."""
        location = self.audience_location
        with self._lock:
            store = self._stores.get(location)
            if store is None:
                store = self._stores[location] = audience.open_audience_store(location)
            return store

    def door(self) -> room.Door:
        """Who is the presenter: the key, and whether a browser on this machine needs it (:func:`room.door`;
        raises :class:`room.RoomError` for a setting that cannot be used)."""
        settings = tuple(os.environ.get(name) for name in (room.PRESENTER_KEY_ENV, room.PRESENTER_MODE_ENV,
                                                            paths.RUNS_DIR_ENV))
        with self._lock:
            door = self._doors.get(settings)
        if door is None:
            door = room.door(self.root)
            with self._lock:
                door = self._doors.setdefault(settings, door)  # two first callers: one key for both
        return door

    @property
    def lesson(self) -> int:
        """Which lesson this server is in: 0 at start, one more each time the presenter ends one."""
        return self._lesson

    def new_lesson(self) -> None:
        """The presenter ended the lesson: /join lets each phone label its fill again."""
        with self._lock:
            self._lesson += 1

    def room_settings(self) -> room.RoomSettings:
        return room.load_settings(self.root)

    def save_room_settings(self, settings: room.RoomSettings) -> None:
        room.save_settings(settings, self.root)
