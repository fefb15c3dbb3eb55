"""AppTest: Fool the models on the Audience page (dashboard/game_view.py): the presenter's Start and Stop, the
participant's read-only view, the leaderboard, each model's count and the class's hard set; and the hard set in the
presenter's export.

A participant is a browser without the presenter's key (``MNIST_PRESENTER=key``, as in test_app_room.py).
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dashboard.game_view import FINAL_SCORES_MINUTES
from mnist_core.audience import AudienceStore
from mnist_core.game import Game
from mnist_core.room import nickname
from tests.support.apptest import html_blocks, open_page, texts

MLP_AND_CNN_WRONG = {"mlp": 1, "cnn": 1, "lenet5": 7}
MLP_WRONG = {"mlp": 1, "cnn": 7, "lenet5": 7}


@pytest.fixture
def audience(tmp_path, monkeypatch):
    path = tmp_path / "audience.sqlite3"
    monkeypatch.setenv("MNIST_AUDIENCE_DB", str(path))
    return AudienceStore(path)


def as_participant(monkeypatch) -> None:
    monkeypatch.setenv("MNIST_PRESENTER", "key")


def play(store: AudienceStore, game: Game, drawer: str, label: int, read_as: dict[str, int], read_by: str,
         classmate_reads: int | None = None, shade: int = 0) -> int:
    """A drawing of ``drawer`` in the running round (the server's answers ``read_as``), read by the classmate
    ``read_by`` as ``classmate_reads`` (default: as labelled)."""
    drawing = store.add(label=label, canvas_png=f"{drawer}{shade}".encode(),
                        pixels=np.full((28, 28), shade, np.uint8),
                        answers={key: np.eye(10)[digit] for key, digit in read_as.items()}, runs={}, session=drawer)
    game.enter(drawing)
    assert game.offer_check(read_by).id == drawing
    game.answer_check(read_by, drawing, label if classmate_reads is None else classmate_reads)
    return drawing


@pytest.fixture
def round_played(audience):
    """A running round: ``join-ada`` fooled MLP and CNN, then MLP; ``join-bo`` fooled MLP; ``join-cy`` labelled a
    clear 7 as a 1, which the classmate read as a 7 (no points)."""
    game = Game(audience)
    game.start(minutes=5)
    ids = [play(audience, game, "join-ada", 7, MLP_AND_CNN_WRONG, read_by="join-bo"),
           play(audience, game, "join-bo", 7, MLP_WRONG, read_by="join-ada", shade=1),
           play(audience, game, "join-ada", 3, {"mlp": 5, "cnn": 3, "lenet5": 3}, read_by="join-cy", shade=2)]
    play(audience, game, "join-cy", 1, {"mlp": 7, "cnn": 7, "lenet5": 7}, read_by="join-ada", classmate_reads=7,
         shade=3)
    return ids


def buttons(at) -> set[str]:
    return {button.key for button in at.button if button.key}


@pytest.mark.slow
def test_the_presenter_starts_and_stops_a_round(user_runs, audience):
    at = open_page("pages/audience.py")
    assert "No round yet." in texts(at) and "game.stop" not in buttons(at)
    at.number_input(key="game.minutes").set_value(3).run()
    at.button(key="game.start").click().run()
    running = Game(audience).running()
    assert running is not None and running.ends - running.started == timedelta(minutes=3)
    assert any(line.endswith(" left") for line in texts(at).splitlines()) and "game.start" not in buttons(at)
    at.button(key="game.stop").click().run()
    assert Game(audience).running() is None and Game(audience).latest().stopped is not None
    assert "Round over" in texts(at) and "game.start" in buttons(at)
    assert not at.exception


@pytest.mark.slow
def test_a_participant_sees_the_scores_but_cannot_start_or_stop_a_round(user_runs, audience, round_played,
                                                                        monkeypatch):
    as_participant(monkeypatch)
    at = open_page("pages/audience.py")
    assert not {key for key in buttons(at) if key.startswith("game.")} and not at.number_input
    assert nickname("join-ada") in texts(at) and "Hardest to fool: LeNet-5" in texts(at)


@pytest.mark.slow
def test_a_participants_press_on_start_or_stop_is_refused(user_runs, audience, monkeypatch):
    at = open_page("pages/audience.py")  # shown as the presenter's page …
    as_participant(monkeypatch)  # … but the press comes from a participant
    at.button(key="game.start").click().run()
    assert Game(audience).latest() is None
    monkeypatch.delenv("MNIST_PRESENTER")
    at.run()
    at.button(key="game.start").click().run()
    assert "game.stop" in buttons(at)
    as_participant(monkeypatch)
    at.button(key="game.stop").click().run()
    assert Game(audience).running() is not None


@pytest.mark.slow
def test_the_leaderboard_and_each_models_count_are_the_games(user_runs, audience, round_played):
    at = open_page("pages/audience.py")
    shown = texts(at)
    # join-ada: 2 + 1 points; join-bo: 1; join-cy's false label scored nothing.
    ada, bo = shown.index(f"| 1 | {nickname('join-ada')} | 3 |"), shown.index(f"| 2 | {nickname('join-bo')} | 1 |")
    assert ada < bo and f"| {nickname('join-cy')} |" not in shown
    assert "Hardest to fool: LeNet-5 (fooled 0 times)" in shown
    counts = [line for line in shown.splitlines() if " fooled **" in line]
    assert [("LeNet-5" in line, "MLP" in line, "CNN" in line) for line in counts] == \
        [(True, False, False), (False, False, True), (False, True, False)]  # the model fooled least first
    assert counts[2].endswith("fooled **3** times") and "#0072B2" in counts[2]  # MLP, in its colour
    assert "1 read otherwise" in shown and "4 drawings fooled a model" in shown


@pytest.mark.slow
def test_in_projector_mode_the_game_comes_first_during_a_round(user_runs, audience, round_played):
    at = open_page("pages/audience.py")
    at.toggle(key="present").set_value(True).run()
    assert not at.exception
    shown = [markdown.value for markdown in at.markdown]
    join = next(index for index, text in enumerate(shown) if text.startswith("**Draw on your phone"))
    clock = next(index for index, text in enumerate(shown) if text.endswith(" left"))
    assert clock < join and at.header[0].value == "Fool the models"  # above the join panel and the results
    Game(audience).stop()
    at.run()
    shown = [markdown.value for markdown in at.markdown]
    assert shown.index("Round over") < shown.index("**Draw on your phone:** scan the code, or open")  # its final scores
    # A newer round that ended more than FINAL_SCORES_MINUTES ago:
    Game(audience, clock=lambda: datetime.now(UTC) - timedelta(minutes=FINAL_SCORES_MINUTES + 6)).start(minutes=5)
    at.run()
    shown = [markdown.value for markdown in at.markdown]
    assert shown.index("Round over") > shown.index("**Draw on your phone:** scan the code, or open")  # back below


@pytest.mark.slow
def test_the_hard_set_gallery_shows_its_drawings(user_runs, audience, round_played):
    at = open_page("pages/audience.py")
    assert "The class's hard set: 3 drawings" in texts(at)
    (gallery,) = [block for block in html_blocks(at) if "fooled:" in block]
    first, second, third = round_played
    assert gallery.count("<img") == 3 and gallery.index(f"#{third}") < gallery.index(f"#{first}")  # newest first
    cell = gallery[gallery.index(f"#{first}"):gallery.index(f"#{first}") + 400]
    assert "label 7" in cell and "MLP</span> read 1" in cell and "CNN</span> read 1" in cell and "LeNet-5" not in cell


@pytest.mark.slow
def test_review_first_keeps_the_hard_sets_unapproved_drawings_off_the_projector(user_runs, audience,
                                                                                 round_played):
    from mnist_core.room import RoomSettings, save_settings

    save_settings(RoomSettings(review_first=True), user_runs)
    at = open_page("pages/audience.py")
    assert not [block for block in html_blocks(at) if "fooled:" in block and "<img" in block]
    assert "3 drawings of the newest wait for the presenter's review" in texts(at)
    audience.approve([round_played[0]])
    at = open_page("pages/audience.py")
    (gallery,) = [block for block in html_blocks(at) if "fooled:" in block]
    assert gallery.count("<img") == 1 and f"#{round_played[0]}" in gallery


@pytest.mark.slow
def test_a_round_that_ran_out_is_over(user_runs, audience):
    Game(audience, clock=lambda: datetime.now(UTC) - timedelta(minutes=6)).start(minutes=5)
    at = open_page("pages/audience.py")
    assert "Round over" in texts(at) and "No points yet" in texts(at) and "game.start" in buttons(at)


def test_the_presenters_export_holds_the_hard_set(user_runs, audience, round_played):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from join.presenter_routes import presenter_routes
    from mnist_core.workspace import Workspace
    from tests.support import PROJECT_ROOT

    app = Starlette(routes=presenter_routes(Workspace(PROJECT_ROOT)))
    with TestClient(app, base_url="http://127.0.0.1:8501", client=("127.0.0.1", 50000)) as client:
        reply = client.get("/audience/export.zip")
    assert reply.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(reply.content))
    rows = list(csv.reader(io.StringIO(archive.read("hard-set/labels.csv").decode())))
    assert rows[0] == ["file", "label", "mlp_answer", "cnn_answer", "lenet5_answer"]
    assert [row[:3] for row in rows[1:]] == [[f"drawing-{i:06d}.png", label, "1" if label == "7" else "5"]
                                             for i, label in zip(round_played, ("7", "7", "3"))]
    assert all(f"hard-set/{row[0]}" in archive.namelist() for row in rows[1:])
    assert len([name for name in archive.namelist() if name.startswith("audience/drawing-")]) == 4
