"""The audience's digits: drawings labelled by the people who drew them, kept in SQLite.

Everyone in the room draws; pressing "What did you draw? 7" stores the drawing with its label
and each model's answer, so the three models are scored live on the audience's handwriting.

One SQLite file (``$MNIST_AUDIENCE_DB``, else ``audience.sqlite3`` in the user's runs folder)
in WAL mode: many sessions (threads of the app's server, or separate processes such as the
command line) read and write it at once; a writer waits for another instead of failing. The
schema is versioned with ``PRAGMA user_version``. A drawing is stored once per session and
canvas: pressing another label for the same drawing corrects the label instead of adding a row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from . import paths
from .models import MODEL_KEYS

SCHEMA_VERSION = 1
AUDIENCE_DB_ENV = "MNIST_AUDIENCE_DB"
DEFAULT_FILE = "audience.sqlite3"
_WAIT_SECONDS = 30  # how long a writer waits for another before giving up

_SCHEMA = """
CREATE TABLE drawings (
    id          INTEGER PRIMARY KEY,
    created     TEXT    NOT NULL,               -- UTC, ISO 8601
    session     TEXT    NOT NULL,               -- an anonymous id, one per browser session
    drawing_sha TEXT    NOT NULL,               -- SHA-256 of the canvas PNG
    label       INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    canvas_png  BLOB    NOT NULL,               -- what was drawn, as the canvas sent it
    pixels      BLOB    NOT NULL,               -- the 28x28 digit the models saw, uint8, row by row
    answers     TEXT    NOT NULL,               -- JSON: {model key: {"digit": d, "probabilities": [10]}}
    runs        TEXT    NOT NULL,               -- JSON: {model key: run folder}
    UNIQUE (session, drawing_sha)
);
CREATE INDEX drawings_by_time ON drawings (created);
"""


class AudienceStoreError(RuntimeError):
    """The store cannot be opened or written; the message says what to do."""


def audience_db(base: str | os.PathLike = ".") -> Path:
    """The store's file: ``$MNIST_AUDIENCE_DB``, else ``audience.sqlite3`` in the user's runs folder."""
    explicit = os.environ.get(AUDIENCE_DB_ENV)
    return Path(explicit).expanduser() if explicit else paths.user_runs_dir(base) / DEFAULT_FILE


@dataclass(frozen=True)
class Drawing:
    """One labelled drawing and what each model answered."""

    id: int
    created: str
    session: str
    label: int
    answers: dict[str, int]  # model key -> digit
    probabilities: dict[str, list[float]]  # model key -> 10 probabilities
    runs: dict[str, str]
    pixels: np.ndarray  # (28, 28) uint8
    canvas_png: bytes


@dataclass(frozen=True)
class AudienceStats:
    """How the models do on the audience's drawings."""

    drawings: int
    correct: dict[str, int]  # model key -> drawings it read right (over the drawings it answered)
    answered: dict[str, int]  # model key -> drawings it answered

    def accuracy(self, key: str) -> float | None:
        answered = self.answered.get(key, 0)
        return self.correct[key] / answered if answered else None


class AudienceStore:
    """The audience's labelled drawings in one SQLite file. Safe to share between threads."""

    def __init__(self, path: str | os.PathLike, wait_seconds: float = _WAIT_SECONDS) -> None:
        self.path = Path(path)
        self.wait_seconds = wait_seconds  # how long a writer waits for another before giving up
        self._ready = False

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
            pixels = np.round(np.clip(pixels, 0, 1) * 255)
        pixels = np.clip(pixels, 0, 255).astype(np.uint8)
        probabilities = {key: [round(float(p), 6) for p in probs] for key, probs in answers.items()}
        record = {key: {"digit": int(np.argmax(probs)), "probabilities": probs}
                  for key, probs in probabilities.items()}
        row = (_now(), str(session), hashlib.sha256(canvas_png).hexdigest(), int(label), sqlite3.Binary(canvas_png),
               sqlite3.Binary(pixels.tobytes()), json.dumps(record), json.dumps({k: str(v) for k, v in runs.items()}))
        with self._connection() as connection:
            cursor = connection.execute(
                "INSERT INTO drawings (created, session, drawing_sha, label, canvas_png, pixels, answers, runs) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (session, drawing_sha) DO UPDATE SET label = excluded.label RETURNING id",
                row,
            )
            return int(cursor.fetchone()[0])

    def clear(self) -> int:
        """Delete every drawing; return how many there were."""
        with self._connection() as connection:
            return connection.execute("DELETE FROM drawings").rowcount

    # --- reading -------------------------------------------------------------------------

    def count(self) -> int:
        if not self.path.exists():
            return 0
        with self._connection(write=False) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM drawings").fetchone()[0])

    def drawings(self, with_canvas: bool = False) -> list[Drawing]:
        """Every drawing, oldest first (the canvas PNGs only when asked: they are the bulk)."""
        if not self.path.exists():
            return []
        canvas = "canvas_png" if with_canvas else "NULL"
        with self._connection(write=False) as connection:
            rows = connection.execute(
                f"SELECT id, created, session, label, answers, runs, pixels, {canvas} FROM drawings ORDER BY id"
            ).fetchall()
        result = []
        for id_, created, session, label, answers, runs, pixels, png in rows:
            record = json.loads(answers)
            result.append(Drawing(
                id=id_, created=created, session=session, label=label,
                answers={key: int(value["digit"]) for key, value in record.items()},
                probabilities={key: list(value["probabilities"]) for key, value in record.items()},
                runs=json.loads(runs), pixels=np.frombuffer(pixels, dtype=np.uint8).reshape(28, 28),
                canvas_png=bytes(png) if png is not None else b"",
            ))
        return result

    def stats(self) -> AudienceStats:
        """How many drawings, and how many each model read right."""
        drawings = self.drawings()
        correct = {key: 0 for key in MODEL_KEYS}
        answered = {key: 0 for key in MODEL_KEYS}
        for drawing in drawings:
            for key, digit in drawing.answers.items():
                answered[key] = answered.get(key, 0) + 1
                correct[key] = correct.get(key, 0) + int(digit == drawing.label)
        return AudienceStats(len(drawings), correct, answered)

    def export(self, folder: str | os.PathLike) -> Path:
        """Write every drawing as a PNG and ``labels.csv`` into ``folder``; return the CSV's path.

        The PNGs are the canvases as drawn, so ``python -m mnist_core predict folder/*.png``
        reads them back; the CSV has one row per PNG: file, label, each model's answer, time.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in self.export_files():
            _write_atomically(folder / name, data)
        return folder / "labels.csv"

    def export_files(self) -> Iterator[tuple[str, bytes]]:
        """``(file name, bytes)`` of every PNG, then of ``labels.csv`` (for a ZIP or a folder)."""
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(["file", "label", *(f"{key}_answer" for key in MODEL_KEYS), "created", "session"])
        for drawing in self.drawings(with_canvas=True):
            name = f"drawing-{drawing.id:06d}.png"
            yield name, drawing.canvas_png
            writer.writerow([name, drawing.label, *(drawing.answers.get(key, "") for key in MODEL_KEYS),
                             drawing.created, drawing.session])
        yield "labels.csv", text.getvalue().encode()

    # --- the connection ------------------------------------------------------------------

    @contextmanager
    def _connection(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """A fresh connection per call (SQLite connections must not cross threads), in one transaction.

        A write transaction takes the write lock at once (``BEGIN IMMEDIATE``), so two writers
        queue instead of one failing halfway; readers never wait for writers (WAL).
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=self.wait_seconds, isolation_level=None)
        except (OSError, sqlite3.Error) as error:
            raise AudienceStoreError(f"Cannot open the audience store {self.path}: {error}. "
                                     f"Set {AUDIENCE_DB_ENV} to a writable file.") from None
        try:
            if not self._ready:
                self._prepare(connection)
            connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        except sqlite3.OperationalError as error:  # locked for longer than the wait, read-only, disk full…
            raise AudienceStoreError(f"The audience store {self.path} is busy or cannot be written ({error}). "
                                     "Try again in a moment.") from None
        except sqlite3.DatabaseError as error:  # not a database, or damaged
            raise AudienceStoreError(f"The audience store {self.path} cannot be used: {error}. "
                                     "Move the file away to start a new one.") from None
        finally:
            connection.close()

    def _prepare(self, connection: sqlite3.Connection) -> None:
        """WAL mode, and the schema created or checked (once per store object)."""
        connection.execute(f"PRAGMA busy_timeout = {round(self.wait_seconds * 1000)}")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")  # a stored label survives a power cut
        connection.execute("BEGIN IMMEDIATE")  # two processes creating the schema at once: one waits
        try:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                for statement in _SCHEMA.split(";"):  # not executescript: it would commit first
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            elif version > SCHEMA_VERSION:
                raise AudienceStoreError(f"The audience store {self.path} was made by a newer version of this "
                                         f"program (schema {version}; this one knows {SCHEMA_VERSION}).")
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        self._ready = True


def encode_png(pixels: np.ndarray) -> bytes:
    """An image array (grey, RGB or RGBA, uint8) as PNG bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
