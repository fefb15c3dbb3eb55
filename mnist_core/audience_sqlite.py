"""The audience store in one SQLite file: the default, for one server (mnist_core.audience has the queries).

The file is in WAL mode: many sessions (threads of the app's server, or separate processes such as the
command line) read and write it at once; a writer waits for another instead of failing. The schema is
versioned with ``PRAGMA user_version``.

The file is treated as untrusted: every connection checks that it is an audience store this program made
(its table as made here, no views or triggers), and every statement has a time limit.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from .audience import AUDIENCE_DB_ENV, SCHEMA_VERSION, AudienceStoreError, schema_statements

_COLUMN_TYPES = {"id": "INTEGER PRIMARY KEY", "blob": "BLOB", "json": "TEXT"}  # mnist_core.audience.schema_statements
# What scoring reads, beside the rowid: scanned instead of the table, whose rows are mostly canvas
# PNGs (at 200,000 drawings, 140 MB instead of 850). Added to older stores when first opened.
_SCORES_INDEX = "CREATE INDEX IF NOT EXISTS drawings_scores ON drawings (hidden, label, session, answers)"
# PRAGMA table_info's (name, type, not null, default, primary key) of the table each schema version has
_TABLE_COLUMNS_V1 = [("id", "INTEGER", 0, None, 1), *((name, kind, 1, None, 0) for name, kind in (
    ("created", "TEXT"), ("session", "TEXT"), ("drawing_sha", "TEXT"), ("label", "INTEGER"), ("canvas_png", "BLOB"),
    ("pixels", "BLOB"), ("answers", "TEXT"), ("runs", "TEXT")))]
_TABLE_COLUMNS = {1: _TABLE_COLUMNS_V1,
                  2: [*_TABLE_COLUMNS_V1, ("hidden", "INTEGER", 1, "0", 0), ("approved", "INTEGER", 1, "0", 0)]}
_TABLE_COLUMNS[3] = [*_TABLE_COLUMNS[2], ("game_round", "INTEGER", 0, None, 0), ("game_fooled", "INTEGER", 1, "0", 0)]
# The game's tables (schema 3), checked as the drawings' are
_GAME_TABLES = {
    "rounds": [("id", "INTEGER", 0, None, 1), ("started", "TEXT", 1, None, 0), ("ends", "TEXT", 1, None, 0),
               ("stopped", "TEXT", 0, None, 0)],
    "checks": [("drawing", "INTEGER", 0, None, 1), ("checker", "TEXT", 1, None, 0), ("offered", "TEXT", 1, None, 0),
               ("digit", "INTEGER", 0, None, 0), ("answered", "TEXT", 0, None, 0)],
}
_MOVE_AWAY = (f"Move the file away (with its -wal and -shm files, if any): a new store is started in its place; "
              f"or set {AUDIENCE_DB_ENV} to another file.")


class SqliteEngine:
    """One SQLite file: its connections, its schema, and the SQL that reads JSON the SQLite way."""

    # The dialect (mnist_core.audience._scored): the label is an integer digit; the answers' JSON type
    # ('object' when readable, NULL when not JSON); a model's entry and its digit (NULL unless exactly 0-9).
    label_ok = "typeof(label) IS 'integer' AND label BETWEEN 0 AND 9"
    answers_kind = "CASE WHEN typeof(answers) IS 'text' AND json_valid(answers) THEN json_type(answers) END"
    fence = "LIMIT -1"  # keeps a subquery from being flattened: its JSON functions run once per row
    count_rows = "SELECT COUNT(*) FROM drawings"  # the smallest index: a millisecond or two at 50,000

    def __init__(self, path: Path, wait_seconds: float) -> None:
        self.path = path
        self.wait_seconds = wait_seconds  # how long a writer waits for another, and a call's time limit

    @staticmethod
    def answer(key: str) -> tuple[str, str, list[str]]:
        """SQL for model ``key``'s entry in the answers and its digit, with the JSON paths they bind."""
        path = f'$."{key}"'
        digit = "CASE WHEN json_type(answers, ?) IS 'integer' THEN json_extract(answers, ?) END"
        return "json_type(answers, ?)", digit, [path, f"{path}.digit", f"{path}.digit"]

    def describe(self) -> str:
        return str(self.path)

    def exists(self) -> bool:
        return self.path.exists()

    def close(self) -> None:
        """Nothing to close: every call has a connection of its own."""

    def version(self) -> tuple:
        """Two ``stat`` calls, not a query: the file's and its WAL's identity, size and time."""
        marks = []
        for path in (self.path, self._sibling("-wal")):
            try:
                info = path.stat()
            except OSError:
                marks.append(None)
            else:
                marks.append((info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns))
        return tuple(marks)

    def protected_files(self) -> set[tuple[int, int]]:
        """The (device, inode) of the store and its -wal, -shm and -journal files: never to be replaced."""
        identities = set()
        for path in (self.path, self._sibling("-wal"), self._sibling("-shm"), self._sibling("-journal")):
            with suppress(OSError):
                info = os.stat(path)
                identities.add((info.st_dev, info.st_ino))
        return identities

    def _sibling(self, suffix: str) -> Path:
        return self.path.with_name(self.path.name + suffix)

    # --- the connection ------------------------------------------------------------------

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[_Transaction]:
        """A fresh connection per call (SQLite connections must not cross threads), in one transaction.

        A write transaction takes the write lock at once (``BEGIN IMMEDIATE``), so two writers
        queue instead of one failing halfway; readers never wait for writers (WAL). Every call
        checks the file anew (it may have been moved away or replaced since the last one), and
        is stopped when SQLite works ``wait_seconds`` without the watchdog being reset (once per
        row by a long reader): a crafted store cannot hang a page.
        """
        self._refuse_what_is_not_a_file()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=self.wait_seconds, isolation_level=None)
        except (OSError, sqlite3.Error) as error:
            raise AudienceStoreError(f"Cannot open the audience store {self.path}: {error}. "
                                     f"Set {AUDIENCE_DB_ENV} to a writable file.") from None
        connection.text_factory = _lenient_text  # a crafted row of invalid UTF-8 is read, not fatal
        watchdog = _Watchdog(self.wait_seconds)
        connection.set_progress_handler(watchdog.expired, 10_000)
        try:
            self._prepare(connection)
            connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            watchdog.reset()  # waiting for another writer's lock is not work
            try:
                yield _Transaction(connection, watchdog)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        except sqlite3.ProgrammingError:
            raise  # a mistake in this module, not in the file
        except sqlite3.OperationalError as error:  # interrupted, locked for longer than the wait, disk full…
            if str(error) == "interrupted":
                raise AudienceStoreError(f"The audience store {self.path} took longer than {self.wait_seconds:g} s "
                                         "to answer and was stopped. Try again in a moment; if it happens again, "
                                         f"the file may have been altered: {_MOVE_AWAY}") from None
            raise AudienceStoreError(f"The audience store {self.path} is busy or cannot be written ({error}). "
                                     "Try again in a moment.") from None
        except sqlite3.DatabaseError as error:  # not a database, or damaged
            raise AudienceStoreError(f"The audience store {self.path} cannot be used: {error}. {_MOVE_AWAY}") from None
        finally:
            connection.close()

    def _refuse_what_is_not_a_file(self) -> None:
        try:
            mode = os.stat(self.path).st_mode
        except OSError:
            return  # absent (created on the first write) or unreachable (connect says why)
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "a device or other special file"
            raise AudienceStoreError(f"{self.path} is not an audience store: it is {kind}. "
                                     f"Set {AUDIENCE_DB_ENV} to a file of its own.")

    def _prepare(self, connection: sqlite3.Connection) -> None:
        """Check the file is an audience store this program made; create the schema in a new one.

        Nothing is written to a file that is refused (not even its journal mode).
        """
        connection.execute(f"PRAGMA busy_timeout = {round(self.wait_seconds * 1000)}")
        connection.execute("PRAGMA trusted_schema = OFF")  # no function in a crafted schema runs for us
        connection.execute("BEGIN")  # one snapshot: another process may be creating the schema meanwhile
        try:
            version, objects = self._schema(connection)
        finally:
            connection.execute("COMMIT")
        if version == SCHEMA_VERSION and objects.get("drawings_scores") == "index":
            return  # the common case: nothing to write
        self._use_wal(connection)
        connection.execute("PRAGMA synchronous = FULL")  # a stored label survives a power cut
        connection.execute("BEGIN IMMEDIATE")  # two processes creating the schema at once: one waits
        try:
            version, objects = self._schema(connection)
            for statement in schema_statements(version, **_COLUMN_TYPES):
                connection.execute(statement)  # not executescript: it would commit first
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            connection.execute(_SCORES_INDEX)  # once, for a store made before it (seconds at 200,000)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    def _use_wal(self, connection: sqlite3.Connection) -> None:
        """WAL mode, set once in the file. Changing it needs the file to itself, and SQLite does not
        wait for that (no busy timeout): sessions creating a new store at once try again."""
        deadline = time.monotonic() + self.wait_seconds
        if connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            return
        while True:
            try:
                connection.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _schema(self, connection: sqlite3.Connection) -> tuple[int, dict[str, str]]:
        """The schema version and the store's objects (name → type), refused unless they are ours."""
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        objects = dict(connection.execute("SELECT name, type FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))
        if version > SCHEMA_VERSION:
            raise AudienceStoreError(f"The audience store {self.path} was made by a newer version of this "
                                     f"program (schema {version}; this one knows {SCHEMA_VERSION}).")
        if version == 0:
            if objects:
                raise self._not_a_store("it holds tables of another program")
            return version, objects
        if objects.get("drawings") != "table":
            raise self._not_a_store("it has no table of drawings" if "drawings" not in objects
                                    else f"its drawings are a {objects['drawings']}, not a table")
        columns = [tuple(row[1:6]) for row in connection.execute("PRAGMA table_info(drawings)")]
        unique = [[column[2] for column in connection.execute(f"PRAGMA index_info('{index[1]}')")]
                  for index in connection.execute("PRAGMA index_list(drawings)") if index[2]]
        if columns != _TABLE_COLUMNS[version] or ["session", "drawing_sha"] not in unique:
            raise self._not_a_store("its table of drawings is not the one this program makes")
        if version >= 2:
            hidden = [tuple(row[1:6]) for row in connection.execute("PRAGMA table_info(hidden_sessions)")]
            if objects.get("hidden_sessions") != "table" or hidden != [("session", "TEXT", 0, None, 1),
                                                                      ("hidden", "TEXT", 1, None, 0)]:
                raise self._not_a_store("its table of hidden phones is not the one this program makes")
        if version >= 3:
            for table, expected in _GAME_TABLES.items():
                found = [tuple(row[1:6]) for row in connection.execute(f"PRAGMA table_info({table})")]
                if objects.get(table) != "table" or found != expected:
                    raise self._not_a_store(f"its table of the game's {table} is not the one this program makes")
        foreign = sorted(f"{kind} {name!r}" for name, kind in objects.items() if kind not in ("table", "index"))
        if foreign:
            raise self._not_a_store(f"it holds {', '.join(foreign)}, which this program never makes")
        return version, objects

    def _not_a_store(self, why: str) -> AudienceStoreError:
        return AudienceStoreError(f"{self.path} is not an audience store ({why}). {_MOVE_AWAY}")


class _Transaction:
    """What the store's queries run in: one SQLite connection inside one transaction."""

    def __init__(self, connection: sqlite3.Connection, watchdog: _Watchdog) -> None:
        self._connection, self._watchdog = connection, watchdog

    def execute(self, sql: str, parameters: Sequence = ()) -> sqlite3.Cursor:
        return self._connection.execute(sql, parameters)

    def stream(self, sql: str, parameters: Sequence = ()) -> Iterator[tuple]:
        """The rows as they are read (a large store never sits in memory whole)."""
        for row in self._connection.execute(sql, parameters):
            yield row
            self._watchdog.reset()  # the caller's time with the row (writing files, a slow download) is not SQLite's


class _Watchdog:
    """Tells SQLite's progress handler to stop a statement that has run too long."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.reset()

    def reset(self) -> None:
        self._deadline = time.monotonic() + self.seconds

    def expired(self) -> bool:
        return time.monotonic() > self._deadline


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")
