"""The audience store: what is kept, label corrections, concurrent writers, export, the CLI.

A test taking ``store`` (or ``store_location``, ``open_store``) runs on both engines: a SQLite file and a
PostgreSQL schema (tests/support/postgres.py)."""

from __future__ import annotations

import csv
import json
import multiprocessing
import sqlite3
import threading

import numpy as np
import psycopg
import pytest

from mnist_core import audience
from mnist_core.audience import (
    SCHEMA_VERSION,
    AudienceStore,
    AudienceStoreError,
    AudienceStoreFull,
    audience_db,
    encode_png,
    open_audience_store,
)
from mnist_core.cli import main
from tests.support import PROJECT_ROOT
from tests.support.images import draw_seven

RUNS = {"mlp": "checkpoints/mlp", "cnn": "checkpoints/cnn", "lenet5": "checkpoints/lenet5"}


def answers_for(digits: dict[str, int]) -> dict[str, list[float]]:
    return {key: list(np.eye(10)[digit] * 0.9 + 0.01) for key, digit in digits.items()}


def add(store: AudienceStore, label: int, png: bytes, session: str = "s1", said=None) -> int:
    said = said or {"mlp": label, "cnn": label, "lenet5": label}
    return store.add(label=label, canvas_png=png, pixels=np.zeros((28, 28), np.uint8), answers=answers_for(said),
                     runs=RUNS, session=session)


@pytest.mark.slow
def test_a_drawing_is_stored_with_its_label_answers_and_runs(store):
    assert store.count() == 0
    assert store.path is None or not store.path.exists()  # reading an absent file creates nothing
    pixels = np.linspace(0, 1, 784, dtype=np.float32).reshape(28, 28)
    store.add(label=7, canvas_png=b"png-1", pixels=pixels, answers=answers_for({"mlp": 1, "cnn": 7, "lenet5": 7}),
              runs=RUNS, session="abc")
    (drawing,) = store.drawings(with_canvas=True)
    assert drawing.label == 7 and drawing.answers == {"mlp": 1, "cnn": 7, "lenet5": 7}
    assert drawing.session == "abc" and drawing.runs == RUNS and drawing.canvas_png == b"png-1"
    assert drawing.pixels.dtype == np.uint8 and drawing.pixels[27, 27] == 255 and drawing.pixels[0, 0] == 0
    assert len(drawing.probabilities["cnn"]) == 10 and drawing.created.endswith("+00:00")
    stats = store.stats()
    assert stats.drawings == 1 and stats.accuracy("mlp") == 0 and stats.accuracy("lenet5") == 1


@pytest.mark.slow
def test_pressing_another_label_for_the_same_drawing_corrects_it(store):
    first = add(store, 1, b"same canvas")
    assert add(store, 7, b"same canvas") == first  # same session, same drawing: one row, new label
    assert [d.label for d in store.drawings()] == [7]
    add(store, 7, b"same canvas", session="another person")
    add(store, 7, b"another canvas")
    assert store.count() == 3


def test_bad_labels_and_shapes_are_refused(store):
    for label in (-1, 10, "7", 7.0, None):
        with pytest.raises(ValueError, match="digit from 0 to 9"):
            add(store, label, b"x", said={"mlp": 1, "cnn": 1, "lenet5": 1})
    with pytest.raises(ValueError, match="28x28"):
        store.add(label=1, canvas_png=b"x", pixels=np.zeros((27, 28)), answers={}, runs={}, session="s")
    assert store.count() == 0


def test_the_schema_is_versioned_and_wal_is_on(tmp_path):
    store = AudienceStore(tmp_path / "a.sqlite3")
    add(store, 3, b"x")
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(AudienceStoreError, match="newer version"):
        AudienceStore(store.path).count()


def test_a_store_locked_for_too_long_says_try_again_and_keeps_nothing_half_written(tmp_path):
    store = AudienceStore(tmp_path / "a.sqlite3", wait_seconds=0.2)
    add(store, 1, b"first")
    with sqlite3.connect(store.path, isolation_level=None) as other:
        other.execute("BEGIN EXCLUSIVE")  # another writer holding the lock
        with pytest.raises(AudienceStoreError, match="busy or cannot be written.*Try again"):
            add(store, 2, b"second")
        other.execute("ROLLBACK")
    assert [d.label for d in store.drawings()] == [1]


def test_a_postgresql_store_locked_for_too_long_says_try_again_and_keeps_nothing_half_written(open_store,
                                                                                                  postgres_url):
    store = open_store(postgres_url, wait_seconds=0.2)
    add(store, 1, b"first")
    with psycopg.connect(postgres_url) as other:
        other.execute("SELECT * FROM audience_meta FOR UPDATE")  # another writer holding the lock
        with pytest.raises(AudienceStoreError, match="busy or cannot be written.*Try again"):
            add(store, 2, b"second")
        other.rollback()
    assert [d.label for d in store.drawings()] == [1]


def test_the_postgresql_schema_is_versioned(open_store, postgres_url):
    add(open_store(postgres_url), 3, b"x")
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        assert connection.execute("SELECT schema_version FROM audience_meta").fetchone()[0] == SCHEMA_VERSION == 3
        assert connection.execute("SELECT to_regclass('hidden_sessions') IS NOT NULL").fetchone()[0]
        assert connection.execute("SELECT to_regclass('checks') IS NOT NULL").fetchone()[0]
        connection.execute("UPDATE audience_meta SET schema_version = 99")
    with pytest.raises(AudienceStoreError, match="newer version"):
        open_store(postgres_url).count()


def test_a_database_holding_another_programs_drawings_is_refused(open_store, postgres_url):
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("CREATE TABLE drawings (id INTEGER)")
    with pytest.raises(AudienceStoreError, match="table 'drawings' of another program.*a database of the"):
        open_store(postgres_url).count()


def test_postgresql_skips_damaged_answers_by_the_same_rule(open_store, postgres_url):
    """Rows written past the store (by hand, by another program) are read as SQLite's are
    (tests/test_audience_hostile.py): counted as damaged, skipped, never fatal."""
    store = open_store(postgres_url)
    add(store, 4, b"good", said={"mlp": 4, "cnn": 4, "lenet5": 4})
    damaged = ['[1, 2]', '"text"', '{"mlp": {"p": 1}}', '{"mlp": 7}', '{"mlp": {"digit": 7.0}}',
               '{"mlp": {"digit": "7"}}', '{"mlp": {"digit": true}}', '{"mlp": {"digit": 10}}']
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        for index, answers in enumerate(damaged):
            connection.execute("INSERT INTO drawings (created, session, drawing_sha, label, canvas_png, pixels, "
                               "answers, runs) VALUES ('2026-01-01', 'attacker', %s, 3, '\\x89', %s, %s, '{}')",
                               (str(index), bytes(784), answers))
    summary = store.summary()
    assert (summary.drawings, summary.damaged, summary.sessions) == (1, len(damaged), 1)
    assert [d.label for d in store.drawings()] == [4] and store.count() == 1 + len(damaged)
    assert [name for name, _ in store.export_files()].count(None) == len(damaged)


def test_a_file_that_is_not_a_store_gets_a_clear_message(tmp_path):
    path = tmp_path / "a.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(AudienceStoreError, match="cannot be used.*Move the file away"):
        AudienceStore(path).count()


@pytest.mark.slow
def test_many_threads_writing_at_once_lose_nothing(store):
    errors = []

    def write(worker: int) -> None:
        try:
            for index in range(25):
                add(store, (worker + index) % 10, f"{worker}-{index}".encode(), session=f"worker {worker}")
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    drawings = store.drawings()
    assert len(drawings) == 200 and len({d.id for d in drawings}) == 200


def _write_from_a_process(location: str, worker: int) -> None:
    store = open_audience_store(location)
    for index in range(20):
        add(store, index % 10, f"process {worker}, drawing {index}".encode(), session=f"process {worker}")
    store.close()


@pytest.mark.slow
def test_many_processes_writing_at_once_lose_nothing(store_location, open_store):
    """Separate programs, as two app servers on one PostgreSQL (or one machine's SQLite file) are."""
    location = str(store_location)
    context = multiprocessing.get_context("spawn")  # fresh interpreters, as separate programs would be
    processes = [context.Process(target=_write_from_a_process, args=(location, worker)) for worker in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0, 0, 0, 0]
    assert open_store(store_location).count() == 80


def test_clear_empties_the_store(store):
    add(store, 1, b"a")
    add(store, 2, b"b")
    assert store.clear() == 2 and store.count() == 0 and store.stats().accuracy("mlp") is None


def test_the_store_lives_beside_the_users_runs_unless_told(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_AUDIENCE_DB", raising=False)
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "runs"))
    assert audience_db() == tmp_path / "runs" / "audience.sqlite3"
    monkeypatch.setenv("MNIST_AUDIENCE_DB", str(tmp_path / "elsewhere.db"))
    assert audience_db() == tmp_path / "elsewhere.db"
    url = "postgresql://room:secret@db.example:5432/lessons?sslmode=require"
    monkeypatch.setenv("MNIST_AUDIENCE_DB", url)
    assert audience_db() == url  # a server's address, as given
    assert open_audience_store(tmp_path / "a.sqlite3").path == tmp_path / "a.sqlite3"
    assert open_audience_store(url).path is None  # nothing is opened until first used


def test_a_database_address_is_shown_without_its_password():
    for url, shown in [
        ("postgresql://room:secret@db.example:5432/lessons?sslmode=require",
         "postgresql://room@db.example:5432/lessons?sslmode=require"),
        ("postgres://db.example/lessons?user=room&password=secret&sslmode=require",
         "postgres://db.example/lessons?user=room&sslmode=require"),
        ("postgresql://room@/lessons?host=/run/postgresql", "postgresql://room@/lessons?host=/run/postgresql"),
        ("postgresql:///lessons?password=secret", "postgresql:///lessons"),
    ]:
        store = open_audience_store(url)
        assert store.describe() == shown and "secret" not in repr(store)


def test_a_database_that_is_not_running_gets_a_clear_message(tmp_path):
    store = open_audience_store(f"postgresql://room:secret@/lessons?host={tmp_path}&port=1", wait_seconds=2)
    for call in (store.count, store.version, lambda: add(store, 1, b"x")):
        with pytest.raises(AudienceStoreError, match="Cannot reach the audience store.*Start PostgreSQL") as raised:
            call()
        assert "secret" not in str(raised.value)


def test_the_room_cap_holds_with_writers_at_once(store, monkeypatch):
    """Eight writers race for the last places: exactly the cap is stored, and a correction still is."""
    monkeypatch.setattr(audience, "MAX_DRAWINGS", 20)
    stored, refused = [], []

    def write(worker: int) -> None:
        for index in range(5):
            try:
                add(store, 1, f"{worker}-{index}".encode(), session=f"worker {worker}")
                stored.append((worker, index))
            except AudienceStoreFull:
                refused.append(worker)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stored) == 20 and len(refused) == 20 and store.count() == 20
    worker, index = stored[0]
    add(store, 7, f"{worker}-{index}".encode(), session=f"worker {worker}")  # a correction is not refused
    assert store.count() == 20


def test_a_second_server_sees_each_change_in_the_version(store, store_location, open_store):
    """What the Audience page polls: a write through one store object (one app server) changes what another
    reads, so each server's page shows the same drawings."""
    other = open_store(store_location)
    before = other.version()
    first = add(store, 3, b"x")
    assert other.version() != before and other.count() == 1
    seen = other.version()
    store.hide(ids=[first])
    assert other.version() != seen and other.summary().hidden == 1


def test_cli_stats_json_has_exactly_the_documented_shape(tmp_path, capsys):
    store = AudienceStore(tmp_path / "a.sqlite3")
    add(store, 4, b"a", said={"mlp": 4, "cnn": 4, "lenet5": 4})
    add(store, 9, b"b", said={"mlp": 4, "cnn": 9, "lenet5": 9})
    assert main(["audience", "stats", "--json", "--db", str(store.path)]) == 0
    assert json.loads(capsys.readouterr().out) == {"drawings": 2, "accuracy": {"mlp": 0.5, "cnn": 1.0, "lenet5": 1.0},
                                                   "damaged": 0, "hidden": 0}  # hidden: schema 2's moderation
    assert main(["audience", "stats", "--db", str(store.path)]) == 0
    assert "2 labelled drawing(s)" in capsys.readouterr().out


@pytest.mark.slow
def test_cli_export_writes_pngs_and_labels_that_predict_reads_back(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)  # predict's default runs: the shipped checkpoints
    store = AudienceStore(tmp_path / "a.sqlite3")
    canvas = encode_png(np.asarray(draw_seven()))
    add(store, 7, canvas)
    add(store, 1, encode_png(np.rot90(np.asarray(draw_seven()))), session="s2")
    out = tmp_path / "export"
    assert main(["audience", "export", str(out), "--db", str(store.path)]) == 0
    assert "Wrote 2 drawing(s)" in capsys.readouterr().out
    rows = list(csv.DictReader((out / "labels.csv").open()))
    assert [row["file"] for row in rows] == ["drawing-000001.png", "drawing-000002.png"]
    assert [row["label"] for row in rows] == ["7", "1"] and rows[0]["lenet5_answer"] == "7"
    assert (out / "drawing-000001.png").read_bytes() == canvas
    assert main(["predict", "--json", *(str(out / row["file"]) for row in rows)]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert results[0]["models"]["lenet5"]["digit"] == 7
    (tmp_path / "a file").write_text("x")
    assert main(["audience", "export", str(tmp_path / "a file"), "--db", str(store.path)]) == 1
    assert "is a file" in capsys.readouterr().err
