"""The room's drawings under the presenter's hand: hiding a drawing or a phone, review first, retention,
and stores made by the previous schema. A test taking ``store`` runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from mnist_core.audience import SCHEMA_VERSION, AudienceStore, describe_retention, retention
from mnist_core.game import Game
from mnist_core.room import nickname
from tests.test_audience import RUNS, add, answers_for


def scores(store: AudienceStore) -> tuple[int, int, int]:
    summary = store.summary()
    return summary.drawings, summary.hidden, summary.sessions


def test_hiding_a_drawing_takes_it_out_of_scores_gallery_and_export_and_undo_brings_it_back(store):
    smiley = add(store, 8, b"smiley", session="prankster", said={"mlp": 0, "cnn": 0, "lenet5": 0})
    add(store, 3, b"three", session="student")
    assert store.stats().accuracy("mlp") == 0.5 and [d.id for d in store.misread()] == [smiley]
    assert store.hide(ids=[smiley]) == 1
    assert scores(store) == (1, 1, 1) and store.stats().accuracy("mlp") == 1.0
    assert store.misread() == [] and [d.label for d in store.drawings()] == [3]
    assert [name for name, _ in store.export_files()] == ["drawing-000002.png", "labels.csv"]
    assert store.hide(ids=[smiley]) == 0  # already hidden: nothing changes
    assert {d.id: d.hidden for d in store.recent()} == {smiley: True, smiley + 1: False}  # the presenter still sees it
    assert store.hide(ids=[smiley], undo=True) == 1
    assert scores(store) == (2, 0, 2) and store.stats().accuracy("mlp") == 0.5


def test_hiding_a_phone_hides_its_drawings_and_those_it_sends_later(store):
    for index in range(3):
        add(store, 1, f"junk {index}".encode(), session="prankster", said={"mlp": 7, "cnn": 7, "lenet5": 7})
    add(store, 3, b"three", session="student")
    assert store.hide(session="prankster") == 3
    add(store, 1, b"junk after", session="prankster")  # the phone goes on sending: hidden too
    assert scores(store) == (1, 4, 1)
    phones = {phone.nickname: phone for phone in store.phones()}
    assert phones[nickname("prankster")].hidden and phones[nickname("prankster")].drawings == 4
    assert not phones[nickname("student")].hidden
    assert store.hide(session="prankster", undo=True) == 4
    assert scores(store) == (5, 0, 2)
    assert [d.session for d in store.recent(session="student")] == ["student"]


def test_review_first_shows_only_approved_misread_drawings(store):
    first = add(store, 2, b"a", said={"mlp": 7, "cnn": 2, "lenet5": 2})
    second = add(store, 4, b"b", said={"mlp": 9, "cnn": 4, "lenet5": 4})
    assert [d.id for d in store.misread(approved=False)] == [second, first]
    assert store.misread(approved=True) == []
    assert store.approve([first]) == 1
    assert [d.id for d in store.misread(approved=True)] == [first]
    assert [d.id for d in store.misread(approved=False)] == [second]
    store.approve([first], undo=True)
    assert store.misread(approved=True) == []


def test_old_drawings_are_deleted_and_the_rest_kept(store, tmp_path):
    add(store, 1, b"old", session="old phone")
    store.hide(session="old phone")
    later = datetime.now(UTC) + timedelta(days=8)
    add(store, 2, b"new", session="new phone")
    assert store.delete_older_than(timedelta(days=7)) == 0  # nothing is a week old yet
    assert store.delete_older_than(timedelta(days=7), now=later + timedelta(seconds=-1)) == 2
    assert store.count() == 0 and store.phones() == []
    assert AudienceStore(tmp_path / "absent.sqlite3").delete_older_than(timedelta(hours=1)) == 0


@pytest.mark.parametrize(("text", "kept", "said"), [
    ("", timedelta(days=7), "7 days"), ("4h", timedelta(hours=4), "4 hours"),
    ("90m", timedelta(minutes=90), "1.5 hours"),
    ("2", timedelta(days=2), "2 days"), ("2w", timedelta(weeks=2), "14 days"),
    ("forever", None, "until the presenter deletes them")])
def test_retention_is_read_from_the_environment(monkeypatch, text, kept, said):
    monkeypatch.setenv("MNIST_AUDIENCE_KEEP", text)
    assert retention() == kept and describe_retention(kept) == said


@pytest.mark.parametrize("text", ["0", "-1", "soon", "4 hours", "1e9"])
def test_a_retention_that_cannot_be_read_says_how_to_write_it(text):
    with pytest.raises(ValueError, match="e.g. 4h, 7d or 2w"):
        retention(text)


def test_the_export_names_each_phone_by_its_nickname(store):
    add(store, 5, b"five", session="join-0123456789abcdef01234567")
    labels = dict(store.export_files())["labels.csv"].decode()
    (row,) = csv.DictReader(io.StringIO(labels))
    assert row["nickname"] == nickname("join-0123456789abcdef01234567") and " " in row["nickname"]


def test_a_store_of_the_previous_schema_is_upgraded_and_keeps_its_drawings(tmp_path):
    path = tmp_path / "v1.sqlite3"
    with sqlite3.connect(path) as connection:  # as schema 1 made it
        connection.executescript("""
            CREATE TABLE drawings (id INTEGER PRIMARY KEY, created TEXT NOT NULL, session TEXT NOT NULL,
                drawing_sha TEXT NOT NULL, label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
                canvas_png BLOB NOT NULL, pixels BLOB NOT NULL, answers TEXT NOT NULL, runs TEXT NOT NULL,
                UNIQUE (session, drawing_sha));
            CREATE INDEX drawings_by_time ON drawings (created);
            CREATE INDEX drawings_scores ON drawings (label, session, answers);
            PRAGMA user_version = 1;""")
        connection.execute("INSERT INTO drawings (created, session, drawing_sha, label, canvas_png, pixels, answers, "
                           "runs) VALUES ('2026-01-01T00:00:00.000+00:00', 's', 'x', 4, x'00', ?, ?, '{}')",
                           (np.zeros(784, np.uint8).tobytes(), '{"mlp": {"digit": 4, "probabilities": []}}'))
    store = AudienceStore(path)
    assert store.count() == 1 and store.summary(["mlp"]).drawings == 1
    store.add(label=1, canvas_png=b"new", pixels=np.zeros((28, 28)), answers=answers_for({"mlp": 1}), runs=RUNS,
              session="t")
    assert store.hide(session="s") == 1 and store.summary(["mlp"]).hidden == 1
    assert Game(store).start(minutes=1).id == 1  # schema 3 too: the game's tables
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        (columns,) = connection.execute("SELECT sql FROM sqlite_master WHERE name = 'drawings_scores'").fetchone()
        assert "hidden" in columns  # the scores still read the index alone


def test_a_postgresql_store_of_the_previous_schema_is_upgraded_and_keeps_its_drawings(open_store, postgres_url):
    add(open_store(postgres_url), 4, b"old", session="s", said={"mlp": 4})
    with psycopg.connect(postgres_url, autocommit=True) as connection:  # back to schema 1: no moderation
        connection.execute("ALTER TABLE drawings DROP COLUMN hidden, DROP COLUMN approved, DROP COLUMN game_round, "
                           "DROP COLUMN game_fooled; "
                           "DROP TABLE hidden_sessions, rounds, checks; UPDATE audience_meta SET schema_version = 1")
    store = open_store(postgres_url)  # as another server started afterwards: it looks at the tables again
    assert store.count() == 1 and store.summary(["mlp"]).drawings == 1
    store.add(label=1, canvas_png=b"new", pixels=np.zeros((28, 28)), answers=answers_for({"mlp": 1}), runs=RUNS,
              session="t")
    assert store.hide(session="s") == 1 and store.summary(["mlp"]).hidden == 1
    assert Game(store).start(minutes=1).id == 1  # schema 3 too: the game's tables
    with psycopg.connect(postgres_url) as connection:
        assert connection.execute("SELECT schema_version FROM audience_meta").fetchone() == (SCHEMA_VERSION,) == (3,)


def test_the_command_line_hides_a_phone_by_nickname_or_session_and_stats_count_it(tmp_path, capsys):
    from mnist_core.cli import main

    store = AudienceStore(tmp_path / "a.sqlite3")
    add(store, 8, b"smiley", session="prankster", said={"mlp": 0, "cnn": 0, "lenet5": 0})
    add(store, 3, b"three", session="student")
    db = ["--db", str(store.path)]
    assert main(["audience", "hide", "--session", nickname("prankster").upper(), *db]) == 0
    assert "Hidden: 1" in capsys.readouterr().out
    assert main(["audience", "stats", "--json", *db]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats == {"drawings": 1, "accuracy": {"mlp": 1.0, "cnn": 1.0, "lenet5": 1.0}, "damaged": 0, "hidden": 1}
    assert main(["audience", "hide", "--session", "prankster", "--undo", *db]) == 0
    assert main(["audience", "hide", "--id", "2", *db]) == 0
    assert main(["audience", "phones", "--json", *db]) == 0
    phones = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert [(phone["session"], phone["hidden"]) for phone in phones] == [("student", False), ("prankster", False)]
    assert store.summary().hidden == 1
    assert main(["audience", "hide", "--session", "nobody", *db]) == 1
    assert "audience phones` lists" in capsys.readouterr().err
    assert main(["audience", "hide", "--id", "2", "--id", "999", *db]) == 1
    assert "No drawing #999" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "accepted"), [("3650d", True), ("3651d", False), ("1000000d", False),
                                                ("521w", True), ("522w", False)])
def test_retention_at_and_past_the_longest(text, accepted):
    from mnist_core.audience import LONGEST_KEEP

    if accepted:
        assert retention(text) <= LONGEST_KEEP
    else:
        with pytest.raises(ValueError, match="at most 3,650 days"):
            retention(text)


@pytest.mark.slow
def test_a_slow_reader_of_the_export_is_not_taken_for_a_hung_store(open_store, store_location):
    import time

    store = open_store(store_location, wait_seconds=0.2)
    for index in range(4):
        add(store, index, f"drawing {index}".encode())
    names = []
    for name, _ in store.export_files():  # a download reading slower than the store's time limit per row
        names.append(name)
        time.sleep(0.3)
    assert names[-1] == "labels.csv" and len(names) == 5
