"""Fool the models (mnist_core.game): rounds, the classmate's check, points and the hard set, on both stores."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from PIL import Image

from mnist_core.audience import LabelLocked
from mnist_core.game import CHECK_SECONDS, Game, GameError, hard_set_arrays
from mnist_core.room import nickname


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def one_hot(digit: int) -> list[float]:
    return [1.0 if index == digit else 0.0 for index in range(10)]


def draw(store, game, session: str, label: int, read_as: dict[str, int], shade: int = 0) -> int:
    """Store a drawing labelled ``label`` that the models read as ``read_as`` (the server's answers), and enter it
    into the running round, as /join/label does."""
    pixels = np.full((28, 28), shade % 256, np.uint8)
    stored = store.add(label=label, canvas_png=b"png" + bytes([shade % 256, label]) + session.encode(),
                       pixels=pixels, answers={key: one_hot(digit) for key, digit in read_as.items()},
                       runs={key: f"runs/{key}" for key in read_as}, session=session)
    game.enter(stored)
    return stored


ALL_RIGHT = {"mlp": 7, "cnn": 7, "lenet5": 7}
MLP_WRONG = {"mlp": 1, "cnn": 7, "lenet5": 7}
TWO_WRONG = {"mlp": 1, "cnn": 1, "lenet5": 7}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def game(store, clock) -> Game:
    return Game(store, clock)


def test_a_round_runs_for_its_minutes_and_stops_early_when_told(game, clock):
    assert game.latest() is None and game.running() is None and game.stop() is None
    started = game.start(minutes=5)
    assert game.running() == started and started.seconds_left(clock()) == 300
    clock.advance(301)
    assert game.running() is None and game.latest() == started  # ran out: over, still the newest
    again = game.start(minutes=2)
    assert again.id == started.id + 1
    clock.advance(30)
    stopped = game.stop()
    assert stopped.id == again.id and stopped.stopped == clock() and game.running() is None
    with pytest.raises(GameError):
        game.start(minutes=0)


def test_only_drawings_of_a_running_round_take_part(store, game, clock):
    before = draw(store, game, "join-a", 7, MLP_WRONG)  # no round yet
    game.start(minutes=5)
    during = draw(store, game, "join-a", 7, MLP_WRONG, shade=1)
    assert game.offer_check("join-b").id == during != before


def test_a_confirmed_drawing_scores_one_point_per_model_fooled(store, game, clock):
    game.start(minutes=5)
    fooling = draw(store, game, "join-drawer", 7, TWO_WRONG)
    draw(store, game, "join-drawer", 7, ALL_RIGHT, shade=1)  # read right by all: never offered, no points
    offer = game.offer_check("join-reader")
    assert offer.id == fooling
    shown = np.asarray(Image.open(io.BytesIO(offer.digit_png)))
    assert np.array_equal(shown, store.by_ids([fooling])[0].pixels)  # the digit the models read, not the canvas
    assert game.offer_check("join-reader").id == fooling  # asked again (a reload): the same drawing
    assert game.standings().players == []  # unconfirmed: nothing yet
    game.answer_check("join-reader", fooling, 7)
    standings = game.standings(["mlp", "cnn", "lenet5"])
    assert [(p.nickname, p.points) for p in standings.players] == [(nickname("join-drawer"), 2)]
    assert standings.models == {"mlp": 1, "cnn": 1, "lenet5": 0} and standings.hard_set == 1
    assert standings.player("join-drawer").fooled == {"mlp": 1, "cnn": 1}
    assert (standings.candidates, standings.confirmed, standings.rejected) == (1, 1, 0)
    images, labels = hard_set_arrays(game.hard_set())
    assert images.shape == (1, 28, 28) and labels.tolist() == [7]


def test_a_false_label_the_classmate_reads_otherwise_scores_nothing(store, game):
    game.start(minutes=5)
    # A clear 7 labelled 3: every model "wrong", but the classmate reads the 7.
    lie = draw(store, game, "join-liar", 3, ALL_RIGHT)
    assert game.offer_check("join-reader").id == lie
    game.answer_check("join-reader", lie, 7)
    standings = game.standings()
    assert standings.players == [] and standings.hard_set == 0 and standings.rejected == 1


def test_a_phone_never_checks_its_own_drawing_nor_more_than_one_beyond_its_own(store, game):
    game.start(minutes=5)
    mine = draw(store, game, "join-a", 7, MLP_WRONG)
    assert game.offer_check("join-a") is None  # its own: never
    others = [draw(store, game, f"join-{name}", 7, MLP_WRONG, shade=n) for n, name in enumerate("bcd", 1)]
    first = game.offer_check("join-a")
    assert first.id in others
    game.answer_check("join-a", first.id, 7)
    second = game.offer_check("join-a")  # one drawing of its own: two checks at most
    assert second is not None and second.id != first.id
    game.answer_check("join-a", second.id, 7)
    assert game.offer_check("join-a") is None
    assert game.offer_check("join-b").id == mine  # each candidate to one classmate, the oldest first


def test_an_offer_not_answered_within_the_minute_stays_unconfirmed(store, game, clock):
    game.start(minutes=5)
    drawing = draw(store, game, "join-a", 7, MLP_WRONG)
    assert game.offer_check("join-b").id == drawing
    clock.advance(CHECK_SECONDS + 1)
    with pytest.raises(GameError):
        game.answer_check("join-b", drawing, 7)
    assert game.offer_check("join-c") is None  # never offered again
    assert game.standings().players == []


def test_a_check_that_is_not_yours_or_a_bad_digit_is_refused(store, game):
    game.start(minutes=5)
    drawing = draw(store, game, "join-a", 7, MLP_WRONG)
    game.offer_check("join-b")
    for session, digit in (("join-c", 7), ("join-a", 7), ("join-b", 10), ("join-b", True)):
        with pytest.raises(GameError):
            game.answer_check(session, drawing, digit)
    game.answer_check("join-b", drawing, 7)
    with pytest.raises(GameError):  # once
        game.answer_check("join-b", drawing, 1)


def test_hidden_drawings_and_phones_leave_the_scores_and_the_hard_set(store, game):
    game.start(minutes=5)
    drawing = draw(store, game, "join-a", 7, MLP_WRONG)
    game.offer_check("join-b")
    game.answer_check("join-b", drawing, 7)
    assert game.standings().hard_set == 1
    store.hide(session="join-a")
    assert game.standings().players == [] and game.standings().hard_set == 0
    store.hide(session="join-a", undo=True)
    store.hide(ids=[drawing])
    assert game.standings().hard_set == 0


def test_the_json_shape(store, game, clock):
    game.start(minutes=5)
    drawing = draw(store, game, "join-a", 7, MLP_WRONG)
    game.offer_check("join-b")
    game.answer_check("join-b", drawing, 7)
    shape = game.standings(["mlp", "cnn", "lenet5"]).to_json(clock())
    assert set(shape) == {"round", "players", "models", "hard_set"}
    assert set(shape["round"]) >= {"id", "running", "seconds_left"} and shape["round"]["running"] is True
    assert shape["players"] == [{"nickname": nickname("join-a"), "session": "join-a", "points": 1}]
    assert shape["models"] == [{"key": "mlp", "fooled": 1}, {"key": "cnn", "fooled": 0},
                               {"key": "lenet5", "fooled": 0}] and shape["hard_set"] == 1


@pytest.mark.slow
def test_correctly_read_drawings_never_crowd_out_a_candidate(store, game):
    """However many drawings the models read right come first in a round, the one that fooled them is offered."""
    game.start(minutes=5)
    for shade in range(60):
        draw(store, game, "join-a", 7, ALL_RIGHT, shade=shade)
    fooling = draw(store, game, "join-a", 7, MLP_WRONG, shade=200)
    assert game.offer_check("join-b").id == fooling


def test_a_label_stays_once_a_classmate_is_shown_the_drawing(store, game):
    game.start(minutes=5)
    drawing = draw(store, game, "join-a", 3, ALL_RIGHT)  # a 7 called a 3: every model "fooled"
    assert game.offer_check("join-b").id == drawing
    canvas = store.by_ids([drawing], with_canvas=True)[0].canvas_png
    with pytest.raises(LabelLocked, match="draw a new one"):  # the same canvas, its label corrected afterwards
        store.add(label=7, canvas_png=canvas, pixels=np.zeros((28, 28), np.uint8),
                  answers={key: one_hot(digit) for key, digit in ALL_RIGHT.items()}, runs={}, session="join-a")
    assert store.by_ids([drawing])[0].label == 3


def test_the_projectors_gallery_shows_no_drawing_before_its_classmate_reads_it(store, game):
    """The check is blind: a candidate's label and answers stay off the Audience page's gallery until then."""
    game.start(minutes=5)
    before_round = store.add(label=7, canvas_png=b"outside", pixels=np.zeros((28, 28), np.uint8),
                             answers={key: one_hot(digit) for key, digit in MLP_WRONG.items()},
                             runs={}, session="join-z")
    drawing = draw(store, game, "join-a", 7, MLP_WRONG)
    assert [d.id for d in store.misread(["mlp", "cnn", "lenet5"])] == [before_round]
    game.offer_check("join-b")
    game.answer_check("join-b", drawing, 7)
    assert [d.id for d in store.misread(["mlp", "cnn", "lenet5"])] == [drawing, before_round]


def test_a_phone_reads_its_own_score(store, game):
    game.start(minutes=5)
    drawing = draw(store, game, "join-a", 7, TWO_WRONG)
    assert game.score_of("join-a").points == 0
    game.offer_check("join-b")
    game.answer_check("join-b", drawing, 7)
    mine = game.score_of("join-a")
    assert (mine.points, mine.fooled, mine.nickname) == (2, {"mlp": 1, "cnn": 1}, nickname("join-a"))
    assert game.standings().player("join-a").points == mine.points
