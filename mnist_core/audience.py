"""The audience's digits: drawings labelled by the people who drew them, kept in SQLite or PostgreSQL.

Everyone in the room draws; pressing "What did you draw? 7" stores the drawing with its label
and each model's answer, so the three models are scored live on the audience's handwriting.

Where (``$MNIST_AUDIENCE_DB``): a file, else ``audience.sqlite3`` in the user's runs folder, is a SQLite
store (mnist_core.audience_sqlite: one server); a ``postgresql://`` URL is a PostgreSQL one
(mnist_core.audience_postgres: several app servers behind one address share it). The queries are here,
in the SQL both speak; an engine adds its connections, its schema and how it reads JSON. A drawing is
stored once per session and canvas: pressing another label for the same drawing corrects the label
instead of adding a row.

The rows are treated as untrusted: rows whose label or answers cannot be read are skipped and counted,
and the scores are summed in SQL, so that a page refresh reads a few numbers and the gallery's rows,
not every drawing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import numpy as np

from . import paths
from .fileio import write_atomically
from .models import MODEL_KEYS, default_model_keys
from .room import nickname

SCHEMA_VERSION = 3  # 2: drawings and phones the presenter hid, drawings approved for the projector; 3: the game
AUDIENCE_DB_ENV = "MNIST_AUDIENCE_DB"
DEFAULT_FILE = "audience.sqlite3"
LABELS_FILE = "labels.csv"
MAX_DRAWINGS = 50_000  # a room's store: an hour of 60 phones labelling every 10 s is 21,600; at 5-30 kB a
# drawing the file stays under 1.5 GB, and the Audience page is measured fast to 200,000
AUDIENCE_KEEP_ENV = "MNIST_AUDIENCE_KEEP"
DEFAULT_KEEP = timedelta(days=7)  # a week of lessons; then the class's drawings are deleted
_KEEP_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
LONGEST_KEEP = timedelta(days=3650)  # ten years: longer is 'forever' (past a date's range no clean-up could run)
MISREAD_SHOWN = 18  # the newest misread drawings the Audience page shows
_EXPORT_NAME = re.compile(r"drawing-\d+\.png", re.IGNORECASE)  # the PNGs' names, as a case-blind disk sees them
_WAIT_SECONDS = 30  # how long a writer waits for another, and the longest any one call may run

# The table of drawings as schema 1 made it, in an engine's types: {id} the row's number, {blob} bytes, {json} JSON
_SCHEMA = """
CREATE TABLE drawings (
    id          {id},
    created     TEXT    NOT NULL,               -- UTC, ISO 8601
    session     TEXT    NOT NULL,               -- an anonymous id, one per browser session
    drawing_sha TEXT    NOT NULL,               -- SHA-256 of the canvas PNG
    label       INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    canvas_png  {blob}  NOT NULL,               -- what was drawn, as the canvas sent it
    pixels      {blob}  NOT NULL,               -- the 28x28 digit the models saw, uint8, row by row
    answers     {json}  NOT NULL,               -- JSON: {{model key: {{"digit": d, "probabilities": [10]}}}}
    runs        TEXT    NOT NULL,               -- JSON: {{model key: run folder}}
    UNIQUE (session, drawing_sha)
);
CREATE INDEX drawings_by_time ON drawings (created)
"""
# Each schema version's changes from the one before, applied in order to a new or older store (so a new
# store and an upgraded one are made by the same statements, and have the same table), in either engine: in
# SQL both speak, with {id}, {blob} and {json} for the column types that differ (other braces doubled).
MIGRATIONS = {
    2: [  # moderation: the presenter hides a drawing, or every drawing of one phone (new ones too), and undoes it
        "ALTER TABLE drawings ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE drawings ADD COLUMN approved INTEGER NOT NULL DEFAULT 0",  # shown under "review first"
        "CREATE TABLE hidden_sessions (session TEXT PRIMARY KEY, hidden TEXT NOT NULL)",  # when, UTC
        "DROP INDEX IF EXISTS drawings_scores",  # SQLite's, made again with the column that hides a drawing
    ],
    3: [  # the game (mnist_core.game): its rounds, the round a drawing was drawn in, and the classmates' checks
        "CREATE TABLE rounds (id INTEGER PRIMARY KEY, started TEXT NOT NULL, ends TEXT NOT NULL, stopped TEXT)",
        "ALTER TABLE drawings ADD COLUMN game_round INTEGER",  # NULL: drawn outside a round
        # 1: some model in use read it wrong (a candidate for a classmate's check), set as it enters its round
        "ALTER TABLE drawings ADD COLUMN game_fooled INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX drawings_by_round ON drawings (game_round)",
        # One classmate per drawing: who was offered it, when, and the digit they read (NULL: not yet, or never)
        "CREATE TABLE checks (drawing INTEGER PRIMARY KEY, checker TEXT NOT NULL, offered TEXT NOT NULL, "
        "digit INTEGER, answered TEXT)",
        "CREATE INDEX checks_by_checker ON checks (checker)",
    ],
}
_COLUMNS = ("id", "created", "session", "drawing_sha", "label", "canvas_png", "pixels", "answers", "runs", "hidden",
            "approved")
# Which drawings count (scores, gallery, export): not hidden, and not from a phone the presenter hid.
_VISIBLE = "hidden = 0 AND session NOT IN (SELECT session FROM hidden_sessions)"
VISIBLE = _VISIBLE  # for the game's queries (mnist_core.game), on the drawings table
# A drawing of a game round that a classmate has not read yet (mnist_core.game): its label and answers stay off
# every screen until then.
_NOT_AWAITING_CHECK = ("(game_round IS NULL OR game_fooled = 0 OR id IN (SELECT drawing FROM checks "
                       "WHERE digit IS NOT NULL))")
_DATABASE_SCHEMES = ("postgresql://", "postgres://")  # what libpq reads as a server's address

# Which rows can be scored, decided in SQL (one rule for every reader, summed without Python per
# row): the label is a digit, the answers are a JSON object, and each model's entry in it is
# absent (NOT_ANSWERED) or has a "digit" that is exactly one of 0-9. Probabilities are not part of
# the rule (they are not scored): where they cannot be read, the answer keeps no confidence.
NOT_ANSWERED, UNREADABLE = -1, -2


class AudienceStoreError(RuntimeError):
    """The store cannot be opened or written; the message says what to do."""


class LabelLocked(ValueError):
    """A corrected label for a drawing a classmate has been shown (the game): refused; the message says why."""


class AudienceStoreFull(AudienceStoreError):
    """The store holds :data:`MAX_DRAWINGS`: a new drawing is refused (a correction of a stored one is not)."""


def audience_db(base: str | os.PathLike = ".") -> Path | str:
    """Where the store is: ``$MNIST_AUDIENCE_DB`` (a file, or a ``postgresql://`` URL, kept as given), else
    ``audience.sqlite3`` in the user's runs folder."""
    explicit = os.environ.get(AUDIENCE_DB_ENV, "").strip()
    if is_database_url(explicit):
        return explicit
    return Path(explicit).expanduser() if explicit else paths.user_runs_dir(base) / DEFAULT_FILE


def is_database_url(location: str | os.PathLike) -> bool:
    """Whether ``location`` names a PostgreSQL database (``postgresql://…`` or ``postgres://…``), not a file."""
    return isinstance(location, str) and location.lower().startswith(_DATABASE_SCHEMES)


def open_audience_store(location: str | os.PathLike, wait_seconds: float = _WAIT_SECONDS) -> AudienceStore:
    """The store at ``location``: a PostgreSQL database (a ``postgresql://`` URL, e.g.
    ``postgresql://user:password@host:5432/database``) or a SQLite file. Nothing is opened until first used.

    Args:
        location: what :func:`audience_db` returns.
        wait_seconds: how long a writer waits for another, and the longest any one call may run.
    """
    return AudienceStore(location, wait_seconds)


def schema_statements(version: int, **types: str) -> list[str]:
    """What brings a store at schema ``version`` (0: a new one) to :data:`SCHEMA_VERSION`, in an engine's
    column ``types`` (``id``, ``blob``, ``json``)."""
    statements = [statement.strip() for statement in _SCHEMA.split(";")] if version == 0 else []
    for upgrade in range(max(version, 1) + 1, SCHEMA_VERSION + 1):  # an older store keeps its drawings
        statements += MIGRATIONS[upgrade]
    return [statement.format(**types) for statement in statements]


def retention(value: str | None = None) -> timedelta | None:
    """How long drawings are kept: ``value``, else ``$MNIST_AUDIENCE_KEEP``, else 7 days; None: for ever.

    ``4h``, ``90m``, ``7d``, ``2w`` or a number of days; ``forever`` keeps them (a research store)."""
    text = (os.environ.get(AUDIENCE_KEEP_ENV, "") if value is None else value).strip().lower()
    if not text:
        return DEFAULT_KEEP
    if text in ("forever", "never"):
        return None
    match = re.fullmatch(r"(\d{1,9}(?:\.\d{1,6})?)\s*([mhdw]?)", text)
    keep = timedelta(**{_KEEP_UNITS[match.group(2) or "d"]: float(match.group(1))}) if match else None
    if keep is None or not timedelta(0) < keep <= LONGEST_KEEP:
        raise ValueError(f"{AUDIENCE_KEEP_ENV}={text!r}: say how long drawings are kept, e.g. 4h, 7d or 2w (a "
                         f"number alone is days; at most {LONGEST_KEEP.days:,} days), or 'forever'.")
    return keep


def describe_retention(keep: timedelta | None) -> str:
    """E.g. "4 hours", "7 days", or "until the presenter deletes them"."""
    if keep is None:
        return "until the presenter deletes them"
    hours = keep.total_seconds() / 3600
    if hours < 1:
        return f"{round(hours * 60)} minutes"
    if hours < 48:
        return f"{hours:g} hour{'s' if hours != 1 else ''}"
    return f"{hours / 24:g} days"


@dataclass(frozen=True)
class Drawing:
    """One labelled drawing and what each model answered."""

    id: int
    created: str
    session: str
    label: int
    answers: dict[str, int]  # model key -> digit
    probabilities: dict[str, list[float]]  # model key -> 10 probabilities (NaN where the stored ones are unreadable)
    runs: dict[str, str]  # model key -> run folder (a seed ensemble: its folders joined by " + ")
    pixels: np.ndarray  # (28, 28) uint8
    canvas_png: bytes
    hidden: bool = False  # by the presenter: this drawing, or every drawing of its phone
    approved: bool = False  # for the projector's gallery, when the room reviews misread drawings first

    @property
    def nickname(self) -> str:
        """The two words its phone (or browser session) is known by in the room."""
        return nickname(self.session)


@dataclass(frozen=True)
class AudienceStats:
    """How the models do on the audience's drawings."""

    drawings: int  # readable drawings
    correct: dict[str, int]  # model key -> drawings it read right (over the drawings it answered)
    answered: dict[str, int]  # model key -> drawings it answered
    damaged: int = 0  # rows whose label or answers cannot be read: skipped
    hidden: int = 0  # drawings the presenter hid: not scored

    def accuracy(self, key: str) -> float | None:
        answered = self.answered.get(key, 0)
        return self.correct[key] / answered if answered else None


@dataclass(frozen=True)
class AudienceSummary:
    """Everything the Audience page shows but the misread drawings themselves, summed in SQL."""

    drawings: int  # readable drawings
    damaged: int  # rows whose label or answers cannot be read: skipped
    sessions: int  # browser sessions the readable drawings came from
    answered: dict[str, int]  # model key -> drawings it answered
    confusion: dict[str, np.ndarray]  # model key -> (10, 10) counts, true label by answer
    groups: tuple[tuple[int, tuple[int, ...], int], ...]  # (label, each scored model's answer, drawings)
    hidden: int = 0  # drawings the presenter hid (one by one, or with their phone): not scored, shown or exported

    @property
    def models_answering_all(self) -> list[str]:
        """The scored models that answered every readable drawing (the page shows these: a drawing
        stores the answers of the models in use when it was labelled)."""
        return [key for key, answered in self.answered.items() if self.drawings and answered == self.drawings]

    @property
    def misread(self) -> int:
        """Drawings that every one of :attr:`models_answering_all` answered and one of them read wrong."""
        shown = [index for index, key in enumerate(self.answered) if key in self.models_answering_all]
        return sum(count for label, said, count in self.groups
                   if shown and any(said[index] != label for index in shown))

    def to_stats(self) -> AudienceStats:
        correct = {key: int(np.trace(matrix)) for key, matrix in self.confusion.items()}
        return AudienceStats(self.drawings, correct, dict(self.answered), self.damaged, self.hidden)


@dataclass(frozen=True)
class Phone:
    """A browser session that stored drawings: a phone on /join, or a browser on the Draw page."""

    session: str
    nickname: str
    drawings: int
    last: str  # when it last stored one, UTC, ISO 8601
    hidden: bool  # the presenter hid it: its drawings, and any it sends, count nowhere


@dataclass(frozen=True)
class AudienceExport:
    """What :meth:`AudienceStore.export` wrote."""

    labels: Path  # the CSV
    drawings: int  # PNGs written
    damaged: int  # rows skipped: label, answers or canvas unreadable


class StoreEngine(Protocol):
    """What an engine adds to :class:`AudienceStore`'s queries (mnist_core.audience_sqlite, audience_postgres)."""

    path: Path | None  # the SQLite file; None for a database server
    label_ok: str  # SQL: true where the row's label is a digit
    answers_kind: str  # SQL: the answers' JSON type, 'object' where they can be read
    fence: str  # SQL after a subquery that keeps it from being merged into the query around it
    count_rows: str  # SQL: how many rows the store holds, read without reading them all (the cap, per label)

    def answer(self, key: str) -> tuple[str, str, list[str]]:
        """SQL for model ``key``'s entry in the answers (NULL: absent) and its digit (NULL unless exactly
        one of 0-9), with the parameters they bind."""

    def transaction(self, write: bool = True) -> AbstractContextManager:
        """One transaction, offering ``execute(sql, parameters)`` and ``stream(sql, parameters)`` (the rows as
        fetched); writers queue. Failures are raised as :class:`AudienceStoreError`."""

    def exists(self) -> bool:
        """False where nothing was ever stored: a read then answers without creating the store."""

    def version(self) -> tuple:
        """Changes whenever the store does; cheap."""

    def describe(self) -> str:
        """Where the store is, safe to show: no password."""

    def protected_files(self) -> set[tuple[int, int]]:
        """The (device, inode) of the store's own files, never to be written over by an export."""

    def close(self) -> None:
        """Let go of the connections kept open."""


class AudienceStore:
    """The audience's labelled drawings in a SQLite file or a PostgreSQL database. Safe to share between
    threads; processes, and app servers on one PostgreSQL, may share the store."""

    def __init__(self, location: str | os.PathLike, wait_seconds: float = _WAIT_SECONDS) -> None:
        """``location``: a SQLite file or a ``postgresql://`` URL (as :func:`open_audience_store`)."""
        if is_database_url(location):
            try:
                from .audience_postgres import PostgresEngine
            except ImportError as error:  # psycopg: in requirements.txt, perhaps not in an older environment
                raise AudienceStoreError(f"A PostgreSQL audience store needs psycopg ({error}): pip install -r "
                                         "requirements.txt") from None
            self._engine: StoreEngine = PostgresEngine(location, wait_seconds)
        else:
            from .audience_sqlite import SqliteEngine

            self._engine = SqliteEngine(Path(location), wait_seconds)
        self.path = self._engine.path  # the SQLite file; None for a database server
        self.wait_seconds = wait_seconds  # how long a writer waits for another, and a call's time limit

    def __repr__(self) -> str:
        return f"AudienceStore({self.describe()!r})"

    def describe(self) -> str:
        """Where the store is, safe to show: the file, or the database's URL without its password."""
        return self._engine.describe()

    def close(self) -> None:
        """Close the connections a PostgreSQL store keeps open (used again, it opens new ones)."""
        self._engine.close()

    # --- writing -------------------------------------------------------------------------

    def add(self, *, label: int, canvas_png: bytes, pixels: np.ndarray, answers: Mapping[str, Sequence[float]],
            runs: Mapping[str, str], session: str) -> int:
        """Store one drawing with its ``label`` and every model's probabilities; return its id.

        The same ``canvas_png`` from the same ``session`` is one drawing: storing it again
        replaces its label (the person pressed the wrong digit first) and keeps one row.
        """
        if not (isinstance(label, int | np.integer) and 0 <= int(label) <= 9):
            raise ValueError(f"A label is a digit from 0 to 9, not {label!r}.")
        pixels = np.asarray(pixels)
        if pixels.shape != (28, 28):
            raise ValueError(f"The digit the models saw must be 28x28, not {pixels.shape}.")
        if np.issubdtype(pixels.dtype, np.floating):  # [0, 1], as the models saw it
            pixels = np.round(np.clip(np.nan_to_num(pixels), 0, 1) * 255)
        pixels = np.clip(pixels, 0, 255).astype(np.uint8)
        probabilities = {key: _probabilities(probs) for key, probs in answers.items()}
        record = {key: {"digit": int(np.argmax(probs)), "probabilities": probs}
                  for key, probs in probabilities.items()}
        row = (_now(), str(session), hashlib.sha256(canvas_png).hexdigest(), int(label), bytes(canvas_png),
               pixels.tobytes(), json.dumps(record, allow_nan=False),
               json.dumps({k: str(v) for k, v in runs.items()}))
        with self._engine.transaction() as connection:
            if connection.execute(self._engine.count_rows).fetchone()[0] >= MAX_DRAWINGS and \
                    connection.execute("SELECT 1 FROM drawings WHERE session = ? AND drawing_sha = ?",
                                       (row[1], row[2])).fetchone() is None:
                raise AudienceStoreFull(f"The room's test set is full ({MAX_DRAWINGS:,} drawings): the presenter "
                                        "exports it and starts a new one (End the lesson). Thank you for drawing!")
            cursor = connection.execute(
                "INSERT INTO drawings (created, session, drawing_sha, label, canvas_png, pixels, answers, runs) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                # A label is corrected until a classmate has been shown the drawing (mnist_core.game): then the
                # label the check is scored against stays.
                "ON CONFLICT (session, drawing_sha) DO UPDATE SET label = excluded.label "
                "WHERE drawings.id NOT IN (SELECT drawing FROM checks) RETURNING id",
                row,
            )
            stored = cursor.fetchone()
            if stored is None:
                raise LabelLocked("A classmate is reading this drawing already, so its label stays: clear the "
                                  "canvas and draw a new one.")
            return int(stored[0])

    def clear(self) -> int:
        """Delete every drawing (and the game's rounds and checks); return how many there were."""
        with self._engine.transaction() as connection:
            connection.execute("DELETE FROM hidden_sessions")
            connection.execute("DELETE FROM checks")
            connection.execute("DELETE FROM rounds")
            return connection.execute("DELETE FROM drawings").rowcount

    def delete_older_than(self, age: timedelta, now: datetime | None = None) -> int:
        """Delete the drawings stored more than ``age`` ago (the room's retention); return how many went."""
        if not self._engine.exists():
            return 0
        cutoff = ((now or datetime.now(UTC)) - age).isoformat(timespec="milliseconds")
        with self._engine.transaction() as connection:
            deleted = connection.execute("DELETE FROM drawings WHERE created < ?", (cutoff,)).rowcount
            connection.execute("DELETE FROM hidden_sessions WHERE session NOT IN (SELECT session FROM drawings)")
            connection.execute("DELETE FROM checks WHERE drawing NOT IN (SELECT id FROM drawings)")
            connection.execute("DELETE FROM rounds WHERE ends < ?", (cutoff,))
            return deleted

    def hide(self, *, ids: Sequence[int] = (), session: str | None = None, undo: bool = False) -> int:
        """Hide drawings (by ``ids``) or a phone (``session``: every drawing it sent, and every one it sends
        later) from the scores, the gallery and the export, or show them again (``undo``); the rows stay.
        Returns how many drawings changed."""
        ids = [int(i) for i in ids]
        with self._engine.transaction() as connection:
            changed = 0
            if ids:
                marks = ", ".join("?" * len(ids))
                changed += connection.execute(f"UPDATE drawings SET hidden = ? WHERE id IN ({marks}) "
                                              "AND hidden != ?", (int(not undo), *ids, int(not undo))).rowcount
            if session is not None:
                drawings = connection.execute("SELECT COUNT(*) FROM drawings WHERE session = ?",
                                              (session,)).fetchone()[0]
                if undo:
                    if connection.execute("DELETE FROM hidden_sessions WHERE session = ?", (session,)).rowcount:
                        changed += drawings
                elif connection.execute("INSERT INTO hidden_sessions (session, hidden) VALUES (?, ?) "
                                        "ON CONFLICT (session) DO NOTHING", (session, _now())).rowcount:
                    changed += drawings
            return changed

    def approve(self, ids: Sequence[int], undo: bool = False) -> int:
        """Let misread drawings reach the projector's gallery when the room reviews them first (or take
        them off it again); return how many changed."""
        ids = [int(i) for i in ids]
        if not ids:
            return 0
        with self._engine.transaction() as connection:
            return connection.execute(f"UPDATE drawings SET approved = ? WHERE id IN ({', '.join('?' * len(ids))})",
                                      (int(not undo), *ids)).rowcount

    # --- reading -------------------------------------------------------------------------

    def recent(self, limit: int = 60, session: str | None = None) -> list[Drawing]:
        """The newest ``limit`` readable drawings (of one ``session``, if given), hidden ones too, each
        marked: what the presenter moderates."""
        if not self._engine.exists():
            return []
        where = "TRUE" if session is None else "session = ?"
        extra = [column for column in _COLUMNS if column not in ("id", "label", "canvas_png")]  # 28x28 is enough
        scored, parameters = _scored(self._engine, MODEL_KEYS, extra, order="ORDER BY id DESC", where=where)
        names = ["id", "label", *extra]
        with self._engine.transaction(write=False) as connection:
            hidden_sessions = {row[0] for row in connection.execute("SELECT session FROM hidden_sessions")}
            rows = connection.execute(f"SELECT {', '.join(names)} FROM ({scored}) AS scored "
                                      f"WHERE {_readable(MODEL_KEYS)} LIMIT ?",
                                      [*parameters, *(() if session is None else (session,)), limit])
            drawings = [_drawing({"canvas_png": None, **dict(zip(names, row, strict=True))}) for row in rows]
        return [replace(drawing, hidden=drawing.hidden or drawing.session in hidden_sessions)
                for drawing in drawings if drawing is not None]

    def known_ids(self, ids: Sequence[int]) -> set[int]:
        """Which of ``ids`` the store holds."""
        ids = [int(i) for i in ids]
        if not ids or not self._engine.exists():
            return set()
        with self._engine.transaction(write=False) as connection:
            return {row[0] for row in connection.execute(
                f"SELECT id FROM drawings WHERE id IN ({', '.join('?' * len(ids))})", ids)}

    def phones(self) -> list[Phone]:
        """Every session that stored a drawing, newest first, with its nickname and whether it is hidden."""
        if not self._engine.exists():
            return []
        with self._engine.transaction(write=False) as connection:
            rows = connection.execute(
                "SELECT session, COUNT(*), MAX(created), session IN (SELECT session FROM hidden_sessions) "
                "FROM drawings GROUP BY session ORDER BY MAX(id) DESC").fetchall()
        return [Phone(str(session), nickname(str(session)), int(count), str(last), bool(hidden))
                for session, count, last, hidden in rows]

    def count(self) -> int:
        """How many rows the store holds (damaged ones too)."""
        if not self._engine.exists():
            return 0
        with self._engine.transaction(write=False) as connection:
            return int(connection.execute(self._engine.count_rows).fetchone()[0])

    def version(self) -> tuple:
        """Changes whenever the store does (a drawing added, a label corrected, the file replaced).

        Costs two ``stat`` calls (SQLite) or one small query (PostgreSQL): what a page polls before it
        asks for anything more.
        """
        return self._engine.version()

    def summary(self, keys: Sequence[str] = MODEL_KEYS) -> AudienceSummary:
        """Counts, sessions and each model's confusion matrix over the readable drawings, summed in SQL.

        ``keys`` are the models scored; the summary also counts the drawings the page's gallery
        (:meth:`misread`) draws from.
        """
        keys = tuple(keys)
        answered = {key: 0 for key in keys}
        confusion = {key: np.zeros((10, 10), dtype=np.int64) for key in keys}
        drawings = damaged = sessions = hidden = 0
        readable = []
        if self._engine.exists():
            scored, parameters = _scored(self._engine, keys)
            with self._engine.transaction(write=False) as connection:
                groups = connection.execute(
                    f"SELECT label_ok, label, {_answer_columns(keys)}, COUNT(*) FROM ({scored}) AS scored "
                    f"GROUP BY label_ok, label, {_answer_columns(keys)}", parameters).fetchall()
                sessions = connection.execute(f"SELECT COUNT(DISTINCT session) FROM drawings WHERE {_VISIBLE}"
                                              ).fetchone()[0]
                hidden = connection.execute(f"SELECT COUNT(*) FROM drawings WHERE NOT ({_VISIBLE})").fetchone()[0]
                if any(not label_ok or UNREADABLE in said for label_ok, _, *said, _ in groups):
                    # Rare: only then is a second pass needed, for the sessions of the readable rows alone.
                    with_sessions, parameters = _scored(self._engine, keys, extra=["session"])
                    sessions = connection.execute(f"SELECT COUNT(DISTINCT session) FROM ({with_sessions}) AS scored "
                                                  f"WHERE {_readable(keys)}", parameters).fetchone()[0]
            for label_ok, label, *said, count in groups:
                if not label_ok or UNREADABLE in said:
                    damaged += count
                    continue
                drawings += count
                readable.append((label, tuple(said), count))
                for key, digit in zip(keys, said, strict=True):
                    if digit != NOT_ANSWERED:
                        answered[key] += count
                        confusion[key][label, digit] += count
        return AudienceSummary(drawings, damaged, sessions, answered, confusion, tuple(readable), hidden)

    def stats(self) -> AudienceStats:
        """How many drawings, and how many each model read right."""
        return self.summary().to_stats()

    def misread(self, keys: Sequence[str] | None = None, limit: int = MISREAD_SHOWN,
                approved: bool | None = None) -> list[Drawing]:
        """The newest ``limit`` readable drawings, not hidden, that every one of ``keys`` (default: the models
        shown by default) answered and at least one read wrong, newest first. ``approved``: only those the
        presenter approved for the projector (True), or only those waiting for it (False)."""
        keys = default_model_keys() if keys is None else keys
        if not self._engine.exists() or not keys:
            return []
        where = _VISIBLE if approved is None else f"{_VISIBLE} AND approved = {int(approved)}"
        where += f" AND {_NOT_AWAITING_CHECK}"  # the game's check is blind: no label on the projector before it
        scored, parameters = _scored(self._engine, keys, order="ORDER BY id DESC", where=where)
        answered = " AND ".join(f"answer_{index} >= 0" for index in range(len(keys)))
        wrong = " OR ".join(f"answer_{index} != label" for index in range(len(keys)))
        with self._engine.transaction(write=False) as connection:
            ids = [row[0] for row in connection.execute(
                f"SELECT id FROM ({scored}) AS scored WHERE label_ok AND {answered} AND ({wrong}) LIMIT ?",
                (*parameters, limit))]
            rows = [] if not ids else connection.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM drawings WHERE id IN ({', '.join('?' * len(ids))}) "
                "ORDER BY id DESC", ids).fetchall()
        return [drawing for row in rows if (drawing := _drawing(dict(zip(_COLUMNS, row, strict=True)))) is not None]

    def drawings(self, with_canvas: bool = False) -> list[Drawing]:
        """Every readable drawing, oldest first (the canvas PNGs only when asked: they are the bulk).

        Holds them all in memory: for a large store, :meth:`summary` and :meth:`misread` read less.
        """
        return [drawing for drawing in self._each_row(with_canvas) if drawing is not None]

    def export(self, folder: str | os.PathLike) -> AudienceExport:
        """Write every readable drawing as a PNG, and ``labels.csv``, into ``folder``.

        The PNGs are the canvases as drawn, so ``python -m mnist_core predict folder/*.png``
        reads them back; the CSV has one row per PNG: file, label, each model's answer, time.
        Each file is written to a new temporary file in ``folder`` and renamed over its name,
        so a planted symbolic link is replaced, never written through, and a failed write
        (a full disk) leaves no partial file; ``labels.csv`` comes last. The store itself is
        never written over.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        store = self._engine.protected_files()
        for entry in os.scandir(folder):  # refused before anything is written
            export_name = entry.name.lower() == LABELS_FILE or _EXPORT_NAME.fullmatch(entry.name)
            if export_name and (entry.inode(), entry.stat(follow_symlinks=False).st_dev) in {
                    (inode, device) for device, inode in store}:
                raise AudienceStoreError(f"{folder / entry.name} is the audience store itself: export into another "
                                         "folder, or give the store a name of its own first.")
        drawings = damaged = 0
        for name, data in self.export_files():
            if name is None:
                damaged += 1
                continue
            _write_atomically(folder, name, data, keep=store)
            drawings += name != LABELS_FILE
        return AudienceExport(folder / LABELS_FILE, drawings, damaged)

    def export_files(self) -> Iterator[tuple[str | None, bytes]]:
        """``(file name, bytes)`` of every PNG, then of ``labels.csv`` (for a ZIP or a folder).

        A damaged row yields ``(None, b"")``, so that callers can count what was skipped. The CSV
        has an answer column for each model shown by default and each other model that answered.
        """
        answered = self.summary(MODEL_KEYS).answered if self._engine.exists() else {}
        keys = [key for key in MODEL_KEYS if key in default_model_keys() or answered.get(key)]
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(["file", "label", *(f"{key}_answer" for key in keys), "created", "session", "nickname"])
        for drawing in self._each_row(with_canvas=True):
            if drawing is None or not drawing.canvas_png:
                yield None, b""
                continue
            name = f"drawing-{drawing.id:06d}.png"
            yield name, drawing.canvas_png
            writer.writerow([name, drawing.label, *(drawing.answers.get(key, "") for key in keys),
                             drawing.created, drawing.session, drawing.nickname])
        yield LABELS_FILE, text.getvalue().encode()

    # --- rows ----------------------------------------------------------------------------

    def by_ids(self, ids: Sequence[int], with_canvas: bool = False) -> list[Drawing]:
        """The readable drawings of ``ids``, hidden ones too, in the order of ``ids``."""
        ids = [int(i) for i in ids]
        if not ids or not self._engine.exists():
            return []
        columns = [column for column in _COLUMNS if with_canvas or column != "canvas_png"]
        found: dict[int, Drawing] = {}
        with self._engine.transaction(write=False) as connection:
            for start in range(0, len(ids), 500):  # a bounded statement, whatever the number of ids
                chunk = ids[start:start + 500]
                for row in connection.execute(f"SELECT {', '.join(columns)} FROM drawings WHERE id IN "
                                              f"({', '.join('?' * len(chunk))})", chunk).fetchall():
                    drawing = _drawing({"canvas_png": None, **dict(zip(columns, row, strict=True))})
                    if drawing is not None:
                        found[drawing.id] = drawing
        return [found[i] for i in ids if i in found]

    def exists(self) -> bool:
        """Whether the store has been made (a SQLite file, or the tables in a database)."""
        return self._engine.exists()

    def transaction(self, write: bool = True):
        """A transaction of the store's own engine, for the queries of the store's other parts (the game):
        ``with store.transaction() as connection: connection.execute(sql, parameters)``, SQL both engines
        speak, ``?`` for parameters."""
        return self._engine.transaction(write)

    def _each_row(self, with_canvas: bool) -> Iterator[Drawing | None]:
        """Every row oldest first, read as it is fetched (a large store never sits in memory whole)."""
        if not self._engine.exists():
            return
        extra = [column for column in _COLUMNS if column not in ("id", "label")
                 and (with_canvas or column != "canvas_png")]
        scored, parameters = _scored(self._engine, MODEL_KEYS, extra, order="ORDER BY id")
        names = ["id", "label", *extra]
        with self._engine.transaction(write=False) as connection:
            for row in connection.stream(f"SELECT {', '.join(names)}, {_readable(MODEL_KEYS)} "
                                         f"FROM ({scored}) AS scored", parameters):
                yield _drawing({"canvas_png": None, **dict(zip(names, row[:-1], strict=True))}) if row[-1] else None

def damaged_skipped(count: int, export: bool = False) -> str:
    """What to tell of the rows skipped, e.g. "4 damaged drawings skipped: their label or answers cannot
    be read (the store still holds them)". An export also skips rows without a readable canvas."""
    what = "label, answers or drawing" if export else "label or answers"
    return (f"{count:,} damaged drawing{'s' if count != 1 else ''} skipped: their {what} cannot be read "
            "(the store still holds them)")


def encode_png(pixels: np.ndarray) -> bytes:
    """An image array (grey, RGB or RGBA, uint8) as PNG bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


# --- reading rows that may have been tampered with ------------------------------------------

def _scored(engine: StoreEngine, keys: Sequence[str], extra: Sequence[str] = (), order: str = "",
            where: str = _VISIBLE) -> tuple[str, list[str]]:
    """A subquery of the ``where`` rows' (default: those not hidden) ``id, label``, the ``extra`` columns,
    ``label_ok`` and one column per model key (``answer_0``, … in the order of ``keys``): its digit,
    NOT_ANSWERED or UNREADABLE. Returns it with the parameters it binds (so a model key is never SQL).

    The engine reads the JSON its way; the rule is the same: an absent entry is NOT_ANSWERED, an entry
    whose digit is not exactly one of 0-9 (7.0, true, "7") UNREADABLE, and so is every answer of a row
    whose answers are not a JSON object."""
    base = ", ".join(("id", "label", *extra))
    # Each fence keeps its query a subquery that runs once per row, so that every JSON function
    # runs once per row however often the next query names its result.
    answers = "" if "answers" in extra else "answers, "
    checked = (f"SELECT {base}, {answers}{engine.label_ok} AS label_ok, {engine.answers_kind} AS kind "
               f"FROM drawings WHERE {where} {order} {engine.fence}")
    read, codes, parameters = [], [], []
    for index, key in enumerate(keys):
        entry, digit, bound = engine.answer(key)
        read += [f"CASE WHEN kind = 'object' THEN {entry} END AS entry_{index}",
                 f"CASE WHEN kind = 'object' THEN {digit} END AS digit_{index}"]
        codes.append(f"CASE WHEN digit_{index} BETWEEN 0 AND 9 THEN digit_{index} "
                     f"WHEN kind = 'object' AND entry_{index} IS NULL THEN {NOT_ANSWERED} "
                     f"ELSE {UNREADABLE} END AS answer_{index}")
        parameters += bound
    return (f"SELECT {', '.join([base, 'label_ok', *codes])} FROM "
            f"(SELECT {', '.join([base, 'label_ok', 'kind', *read])} FROM ({checked}) AS checked {engine.fence}) "
            f"AS parsed {engine.fence}"), parameters


def _readable(keys: Sequence[str]) -> str:
    """Over ``_scored``'s columns: the label is a digit and every model's answer can be read."""
    return " AND ".join(["label_ok", *(f"answer_{index} <> {UNREADABLE}" for index in range(len(keys)))])


def _answer_columns(keys: Sequence[str]) -> str:
    return ", ".join(f"answer_{index}" for index in range(len(keys)))


def _drawing(row: dict) -> Drawing | None:
    """A row as a :class:`Drawing`, or None when its label or an answer cannot be read.

    The rows come checked by ``_scored``; this checks again what it parses, by the same rule.
    Probabilities that cannot be read become NaN, pixels that cannot be read a blank digit.
    """
    label, answers_text = row["label"], row["answers"]
    if type(row["id"]) is not int or type(label) is not int or not 0 <= label <= 9 or not isinstance(answers_text, str):
        return None
    try:  # the first of two equal keys wins, as in SQLite's JSON functions
        record = json.loads(answers_text, parse_constant=_no_constant, object_pairs_hook=_first_key_wins)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict):
        return None
    digits, probabilities = {}, {}
    registered = list(MODEL_KEYS)  # the answers in its order (PostgreSQL's JSONB keeps keys in an order of its own)
    for key, answer in sorted(record.items(), key=lambda item: registered.index(item[0]) if item[0] in registered
                              else len(registered)):
        digit = answer.get("digit") if isinstance(answer, dict) else None
        if type(digit) is not int or not 0 <= digit <= 9:
            if key in MODEL_KEYS:
                return None
            continue
        digits[key] = digit
        probabilities[key] = _readable_probabilities(answer.get("probabilities"))
    pixels = row["pixels"]
    pixels = (np.frombuffer(pixels, dtype=np.uint8).reshape(28, 28) if isinstance(pixels, bytes) and len(pixels) == 784
              else np.zeros((28, 28), np.uint8))
    try:
        runs = json.loads(row["runs"]) if isinstance(row["runs"], str) else {}
    except (ValueError, RecursionError):
        runs = {}
    canvas = row["canvas_png"]
    return Drawing(id=int(row["id"]), created=str(row["created"]), session=str(row["session"]), label=label,
                   answers=digits, probabilities=probabilities,
                   runs={str(k): str(v) for k, v in runs.items()} if isinstance(runs, dict) else {},
                   pixels=pixels, canvas_png=bytes(canvas) if isinstance(canvas, bytes) else b"",
                   hidden=row.get("hidden") == 1, approved=row.get("approved") == 1)


def _first_key_wins(pairs: list[tuple[str, object]]) -> dict:
    record: dict = {}
    for key, value in pairs:
        record.setdefault(key, value)
    return record


def _readable_probabilities(values: object) -> list[float]:
    """Ten numbers in [0, 1], else ten NaNs (the gallery then shows no confidence)."""
    if not isinstance(values, list) or len(values) != 10:
        return [math.nan] * 10
    readable = [float(v) if type(v) in (int, float) and 0 <= v <= 1 else math.nan for v in values]
    return readable if not any(math.isnan(v) for v in readable) else [math.nan] * 10


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _probabilities(values: Sequence[float]) -> list[float]:
    """Ten probabilities as stored: finite numbers in [0, 1], six decimals."""
    stored = [round(float(p), 6) for p in values]
    if len(stored) != 10 or not all(0 <= p <= 1 for p in stored):
        raise ValueError(f"A model's answer is 10 probabilities between 0 and 1, not {list(values)!r}.")
    return stored


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _write_atomically(folder: Path, name: str, data: bytes, keep: set[tuple[int, int]] = frozenset()) -> None:
    """Write ``folder/name`` through a new temporary file (``O_EXCL``: never an existing file or link),
    unless ``folder/name`` is one of the files in ``keep`` (by identity: a case-insensitive disk or a
    hard link cannot hide it)."""
    target = folder / name
    with suppress(OSError):
        info = os.lstat(target)
        if (info.st_dev, info.st_ino) in keep:
            raise AudienceStoreError(f"{target} is the audience store itself: export into another folder.")
    write_atomically(target, data)

