"""The audience store against crafted and careless files (issue 23): damaged rows, altered schemas,
a store moved away while the app runs, exports through planted links, over the store itself, and
onto a full disk. Every store is a real SQLite file in tmp_path."""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnist_core.audience import AudienceStore, AudienceStoreError
from mnist_core.cli import main
from tests.support import PROJECT_ROOT
from tests.test_audience import add

DAMAGED_ANSWERS = ["[1, 2]", '{"mlp": {"p": 1}}',
                   '{"mlp": {"digit": 1e999, "probabilities": [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]}}',
                   "this is not JSON"]


def store_with_damaged_rows(tmp_path) -> AudienceStore:
    """Two good drawings, then one row for each kind of damage the probe found."""
    store = AudienceStore(tmp_path / "a.sqlite3")
    add(store, 4, b"good 1", said={"mlp": 4, "cnn": 4, "lenet5": 4})
    add(store, 9, b"good 2", said={"mlp": 4, "cnn": 9, "lenet5": 9})
    with sqlite3.connect(store.path) as connection:
        for index, answers in enumerate(DAMAGED_ANSWERS):
            connection.execute(
                "INSERT INTO drawings (created, session, drawing_sha, label, canvas_png, pixels, answers, runs) "
                "VALUES ('2026-01-01', 'attacker', ?, 3, x'89504e47', zeroblob(784), ?, '{}')", (str(index), answers))
    return store


def test_damaged_rows_are_skipped_and_counted_everywhere(tmp_path, capsys):
    store = store_with_damaged_rows(tmp_path)
    stats = store.stats()
    assert (stats.drawings, stats.damaged) == (2, 4) and stats.accuracy("mlp") == 0.5 and stats.accuracy("cnn") == 1
    assert [d.label for d in store.drawings()] == [4, 9]
    summary = store.summary()
    assert summary.misread == 1 and summary.confusion["mlp"][9, 4] == 1 and summary.models_answering_all == [
        "mlp", "cnn", "lenet5"]
    assert [d.label for d in store.misread()] == [9]

    assert main(["audience", "stats", "--json", "--db", str(store.path)]) == 0
    assert json.loads(capsys.readouterr().out) == {"drawings": 2, "accuracy": {"mlp": 0.5, "cnn": 1.0, "lenet5": 1.0},
                                                   "damaged": 4, "hidden": 0}
    assert main(["audience", "stats", "--db", str(store.path)]) == 0
    assert "4 damaged drawings skipped" in capsys.readouterr().out
    assert main(["audience", "export", str(tmp_path / "out"), "--db", str(store.path)]) == 0
    out = capsys.readouterr().out
    assert "Wrote 2 drawing(s)" in out and "4 damaged drawings skipped" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["drawing-000001.png", "drawing-000002.png",
                                                                    "labels.csv"]
    assert store.count() == 6  # nothing was deleted


def test_probabilities_that_cannot_be_read_keep_the_answer_but_lose_the_confidence(tmp_path):
    store = AudienceStore(tmp_path / "a.sqlite3")
    add(store, 2, b"x", said={"mlp": 3, "cnn": 2, "lenet5": 2})
    with sqlite3.connect(store.path) as connection:
        record = json.loads(connection.execute("SELECT answers FROM drawings").fetchone()[0])
        record["mlp"]["probabilities"][0] = "1e999"
        connection.execute("UPDATE drawings SET answers = ?", (json.dumps(record).replace('"1e999"', "1e999"),))
    (drawing,) = store.misread()
    assert drawing.answers["mlp"] == 3 and all(np.isnan(drawing.probabilities["mlp"]))
    assert store.stats().damaged == 0


_ANSWER = st.one_of(
    st.fixed_dictionaries({"digit": st.integers(0, 9),
                           "probabilities": st.lists(st.floats(0, 1), min_size=10, max_size=10)}),
    st.fixed_dictionaries({"digit": st.one_of(st.integers(-3, 12), st.floats(allow_nan=False), st.text(max_size=2),
                                              st.none(), st.booleans()),
                           "probabilities": st.lists(st.floats(0, 1), min_size=0, max_size=12)}),
    st.one_of(st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=3)),
)
_ROW = st.tuples(st.one_of(st.integers(0, 9), st.integers(-2, 12), st.just("7")),
                 st.one_of(st.dictionaries(st.sampled_from(["mlp", "cnn", "lenet5", "other"]), _ANSWER).map(json.dumps),
                           st.sampled_from(DAMAGED_ANSWERS), st.just('{"mlp": 1e999}')))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=st.lists(_ROW, max_size=12))
@pytest.mark.slow
def test_the_sql_scores_agree_with_reading_each_row(tmp_path_factory, rows):
    """The two readers of one rule: the sums in SQL (summary) and the rows parsed in Python (drawings)."""
    path = tmp_path_factory.mktemp("store") / "a.sqlite3"
    store = AudienceStore(path)
    store.count()
    add(store, 0, b"create the schema")
    with sqlite3.connect(path) as connection:
        connection.execute("DELETE FROM drawings")
        connection.execute("PRAGMA ignore_check_constraints = ON")  # a crafted file has no CHECK to pass
        for index, (label, answers) in enumerate(rows):
            connection.execute(
                "INSERT INTO drawings (created, session, drawing_sha, label, canvas_png, pixels, answers, runs) "
                "VALUES ('t', 's', ?, ?, x'00', zeroblob(784), ?, '{}')", (str(index), label, answers))
    readable = store.drawings()
    summary = store.summary()
    assert summary.drawings == len(readable) and summary.damaged == len(rows) - len(readable)
    for key in ("mlp", "cnn", "lenet5"):
        said = [(d.label, d.answers[key]) for d in readable if key in d.answers]
        assert summary.answered[key] == len(said)
        assert int(np.trace(summary.confusion[key])) == sum(label == digit for label, digit in said)


@pytest.mark.parametrize("alteration, why", [
    ("DROP TABLE drawings; CREATE TABLE d AS SELECT * FROM sqlite_master WHERE 0; "
     "CREATE VIEW drawings AS WITH RECURSIVE r(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM r) "
     "SELECT id, '' AS created, '' AS session, '' AS drawing_sha, 1 AS label, x'' AS canvas_png, x'' AS pixels, "
     "'{}' AS answers, '{}' AS runs FROM r", "drawings are a view"),
    ("CREATE TRIGGER endless AFTER INSERT ON drawings BEGIN "
     "INSERT INTO drawings (created, session, drawing_sha, label, canvas_png, pixels, answers, runs) "
     "SELECT created, session, drawing_sha || 'x', label, canvas_png, pixels, answers, runs FROM drawings "
     "WHERE id = new.id; END", "trigger 'endless'"),
    ("DROP TABLE drawings", "no table of drawings"),
    ("DROP TABLE drawings; CREATE TABLE drawings (id, created, session, drawing_sha, label, canvas_png, pixels, "
     "answers, runs)", "not the one this program makes"),
])
def test_an_altered_store_is_refused_at_once_instead_of_hanging(tmp_path, alteration, why):
    store = AudienceStore(tmp_path / "a.sqlite3", wait_seconds=5)
    add(store, 1, b"first")
    with sqlite3.connect(store.path) as connection:
        connection.executescript(alteration)
    started = time.monotonic()
    for call in (store.stats, store.count, lambda: add(store, 2, b"second"), lambda: store.export(tmp_path / "x")):
        with pytest.raises(AudienceStoreError, match=f"is not an audience store.*{why}.*Move the file away"):
            call()
    assert time.monotonic() - started < 5


def test_a_statement_that_runs_too_long_is_stopped_after_the_stores_wait(tmp_path):
    store = AudienceStore(tmp_path / "a.sqlite3")
    add(store, 1, b"first")
    with sqlite3.connect(store.path) as connection:  # enough rows for SQLite to call the watchdog
        connection.executemany(
            "INSERT INTO drawings (created, session, drawing_sha, label, canvas_png, pixels, answers, runs) "
            "SELECT created, session, drawing_sha || ?, label, canvas_png, pixels, answers, runs FROM drawings "
            "WHERE id = 1", [(str(index),) for index in range(3000)])
    impatient = AudienceStore(store.path, wait_seconds=1e-6)
    with pytest.raises(AudienceStoreError, match="took longer than"):
        impatient.summary()
    assert store.summary().drawings == 3001


def test_a_store_moved_away_while_the_app_runs_is_started_anew_and_keeps_the_next_label(tmp_path):
    store = AudienceStore(tmp_path / "a.sqlite3")  # as the app holds it, for the server's life
    add(store, 1, b"before")
    os.rename(store.path, tmp_path / "kept.sqlite3")  # as the app's own message advises
    add(store, 2, b"after")
    assert [d.label for d in store.drawings()] == [2]
    assert [d.label for d in AudienceStore(tmp_path / "kept.sqlite3").drawings()] == [1]


@pytest.mark.parametrize("make, what", [
    (lambda path: path.symlink_to("/dev/null"), "not an audience store: it is a device"),
    (lambda path: path.mkdir(), "not an audience store: it is a folder"),
])
def test_what_is_not_a_file_is_named_as_such(tmp_path, make, what):
    path = tmp_path / "a.sqlite3"
    make(path)
    for call in (AudienceStore(path).stats, lambda: add(AudienceStore(path), 1, b"x")):
        with pytest.raises(AudienceStoreError, match=what):
            call()


def test_another_programs_database_is_not_taken_over(tmp_path):
    path = tmp_path / "notes.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
    with pytest.raises(AudienceStoreError, match="not an audience store.*tables of another program"):
        add(AudienceStore(path), 1, b"x")
    with sqlite3.connect(path) as connection:  # not even its journal mode was changed
        assert [row[0] for row in connection.execute("SELECT name FROM sqlite_master")] == ["notes"]
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_text_that_is_not_utf8_is_read_not_fatal(tmp_path):
    store = AudienceStore(tmp_path / "a.sqlite3")
    add(store, 7, b"the drawing")
    with sqlite3.connect(store.path) as connection:
        connection.execute("UPDATE drawings SET session = CAST(x'ff' AS TEXT), created = CAST(x'fe00' AS TEXT)")
    (drawing,) = store.drawings()
    assert drawing.session == "\ufffd" and store.export(tmp_path / "out").drawings == 1


def test_export_never_writes_through_a_planted_link(tmp_path):
    store = AudienceStore(tmp_path / "a.sqlite3")
    add(store, 7, b"the drawing")
    out = tmp_path / "out"
    out.mkdir()
    victims = {name: tmp_path / f"victim-{index}" for index, name in
               enumerate([".labels.csv.tmp", "labels.csv", "drawing-000001.png", ".drawing-000001.png.tmp"])}
    for name, victim in victims.items():
        victim.write_text("precious")
        (out / name).symlink_to(victim)
    previous = os.umask(0o022)
    try:
        store.export(out)
    finally:
        os.umask(previous)
    assert all(victim.read_text() == "precious" for victim in victims.values())
    assert not (out / "labels.csv").is_symlink() and (out / "drawing-000001.png").read_bytes() == b"the drawing"
    assert {oct(path.stat().st_mode & 0o777) for path in out.iterdir()} == {"0o644"}  # as open() makes files


def test_export_refuses_to_write_over_the_store_itself(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    store = AudienceStore(out / "labels.csv")  # --db DIR/labels.csv
    add(store, 7, b"the drawing")
    assert main(["audience", "export", str(out), "--db", str(store.path)]) == 1
    assert "is the audience store itself" in capsys.readouterr().err
    assert store.count() == 1 and [p.name for p in out.iterdir() if not p.name.startswith("labels.csv")] == []

    elsewhere = AudienceStore(tmp_path / "a.sqlite3")
    add(elsewhere, 7, b"the drawing")
    for name in ("drawing-000001.png", "Labels.CSV"):  # a hard link to the store under an export name, or as
        other = tmp_path / f"other-{name}"  # a case-blind disk would see labels.csv
        other.mkdir()
        os.link(elsewhere.path, other / name)
        with pytest.raises(AudienceStoreError, match="is the audience store itself"):
            elsewhere.export(other)
        assert elsewhere.count() == 1 and sorted(p.name for p in other.iterdir()) == [name]


def _small_files_only() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))  # writes past 100 kB fail, as on a full disk


@pytest.mark.slow
def test_an_export_onto_a_full_disk_leaves_no_debris(tmp_path):
    store = AudienceStore(tmp_path / "a.sqlite3")
    add(store, 7, b"small")
    add(store, 1, os.urandom(300_000))  # larger than the disk has room for
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "mnist_core", "audience", "export", str(out), "--db",
                             str(store.path)], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
                            preexec_fn=_small_files_only)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Cannot write into" in result.stderr and "File too large" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["drawing-000001.png"]  # no .tmp left behind
    assert store.count() == 2
