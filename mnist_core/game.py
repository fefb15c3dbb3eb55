"""Fool the models: a classroom round in which phones draw digits the models read wrong.

The presenter starts a round (a few minutes). Every drawing a phone labels during it takes part. A drawing
*scores* when at least one model in use read it wrong (the server's own answers, run on the stored digit: a
phone's claims are never trusted) **and** a classmate, shown it without its label or answers, reads it as the
drawer said: the human check that stops scribbles from winning (Bad Flamingo's rule).

- Each candidate (a drawing some model misread) is offered to one classmate: the first phone that asks for a
  check and did not draw it. A phone checks at most one drawing more than it drew itself, so the checks
  spread over the class. An offer not answered within :data:`CHECK_SECONDS` stays unconfirmed: no points.
- A confirmed drawing earns its drawer one point per model it fooled. The confirmed fooling drawings of every
  round are the class's **hard set**: a test set the dashboard evaluates every run on.

Everything lives in the audience store (both engines: the rounds table and the checks table, schema 3), so two
app servers on one PostgreSQL play one round, and a phone that reloads keeps its points.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from .audience import VISIBLE, AudienceStore, Drawing, encode_png
from .room import nickname

if TYPE_CHECKING:
    from torch import nn

    from .comparison import PairedComparison
    from .evaluation import Evaluation

ROUND_MINUTES = 5  # the default round
MAX_ROUND_MINUTES = 120  # a lesson
# A round's drawing is confirmed when the classmate who checked it read it as its label (SQL on drawings joined
# with checks, one row per checked drawing): the points, the hard set and what teaching may use all rest on it.
CONFIRMED = "checks.digit = drawings.label"
CHECK_SECONDS = 60  # a classmate's time to answer a check; then the drawing stays unconfirmed
LEADERS_SHOWN = 10  # the projector's leaderboard


class GameError(ValueError):
    """A request the game cannot take (no round, a check that is not this phone's); the message says why."""


@dataclass(frozen=True)
class Round:
    id: int
    started: datetime
    ends: datetime  # when it runs out, unless stopped before
    stopped: datetime | None = None  # the presenter stopped it early

    def running(self, now: datetime) -> bool:
        return self.stopped is None and now < self.ends

    def seconds_left(self, now: datetime) -> int:
        # Rounded up: "0:00 left" only once the round is over, never while a phone may still play.
        return max(0, int((self.ends - now).total_seconds() + 0.999)) if self.running(now) else 0

    def to_json(self, now: datetime) -> dict:
        return {"id": self.id, "started": _iso(self.started), "ends": _iso(self.ends),
                "stopped": None if self.stopped is None else _iso(self.stopped), "running": self.running(now),
                "seconds_left": self.seconds_left(now)}


@dataclass(frozen=True)
class Player:
    nickname: str
    session: str  # the stored digest of the phone's session (mnist_core.room.phone_session), never its secret
    points: int
    fooled: dict[str, int] = field(default_factory=dict)  # model key -> confirmed drawings that fooled it


@dataclass(frozen=True)
class Standings:
    """A round's scores: the players by points, how often each model was fooled, and the hard set's size."""

    round: Round | None
    players: list[Player]
    models: dict[str, int]  # model key -> times fooled (confirmed), in the registry's order
    hard_set: int  # confirmed fooling drawings, every round
    candidates: int = 0  # this round's drawings some model misread
    confirmed: int = 0  # of them, confirmed by a classmate
    rejected: int = 0  # read otherwise by the classmate

    def player(self, session: str) -> Player | None:
        return next((player for player in self.players if player.session == session), None)

    def to_json(self, now: datetime) -> dict:
        """``python -m mnist_core audience game --json``: its shape is documented in docs/CLI.md."""
        return {"round": None if self.round is None else self.round.to_json(now),
                "players": [{"nickname": p.nickname, "session": p.session, "points": p.points}
                            for p in self.players],
                "models": [{"key": key, "fooled": count} for key, count in self.models.items()],
                "hard_set": self.hard_set}


@dataclass(frozen=True)
class CheckOffer:
    """A classmate's drawing to read: its id and its digit, nothing else (not its label, not the answers)."""

    id: int
    digit_png: bytes  # the 28x28 digit the models read, as a PNG (not the canvas the phone sent)


class Game:
    """The rounds of one audience store. ``clock``: the time now, in UTC (tests move it)."""

    def __init__(self, store: AudienceStore, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.clock = clock

    # --- rounds --------------------------------------------------------------------------------

    def start(self, minutes: float = ROUND_MINUTES) -> Round:
        """Start a round of ``minutes`` (a running one ends first)."""
        if isinstance(minutes, bool) or not (isinstance(minutes, int | float) and 0 < minutes <= MAX_ROUND_MINUTES):
            raise GameError(f"A round lasts more than 0 and at most {MAX_ROUND_MINUTES} minutes, not {minutes!r}.")
        now = self.clock()
        with self.store.transaction() as connection:
            connection.execute("UPDATE rounds SET stopped = ? WHERE stopped IS NULL AND ends > ?",
                               (_iso(now), _iso(now)))
            number = int(connection.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM rounds").fetchone()[0])
            ends = now + timedelta(minutes=minutes)
            connection.execute("INSERT INTO rounds (id, started, ends) VALUES (?, ?, ?)",
                               (number, _iso(now), _iso(ends)))
        return Round(number, now, ends)

    def stop(self) -> Round | None:
        """End the running round now; the round ended, or None when none was running."""
        running = self.running()
        if running is None:
            return None
        now = self.clock()
        with self.store.transaction() as connection:
            connection.execute("UPDATE rounds SET stopped = ? WHERE id = ? AND stopped IS NULL",
                               (_iso(now), running.id))
        return Round(running.id, running.started, running.ends, now)

    def latest(self) -> Round | None:
        """The newest round, running or over; None before the first."""
        if not self.store.exists():
            return None
        with self.store.transaction(write=False) as connection:
            row = connection.execute("SELECT id, started, ends, stopped FROM rounds ORDER BY id DESC LIMIT 1"
                                     ).fetchone()
        return None if row is None else Round(int(row[0]), _time(row[1]), _time(row[2]),
                                              None if row[3] is None else _time(row[3]))

    def running(self) -> Round | None:
        latest = self.latest()
        return latest if latest is not None and latest.running(self.clock()) else None

    # --- drawings and checks -------------------------------------------------------------------

    def enter(self, drawing_id: int) -> Round | None:
        """Enter a drawing just stored (or its label just corrected) into the running round, and note whether
        it fooled a model: the candidates for a classmate's check. A corrected label keeps the round the
        drawing was drawn in. Returns the running round, or None."""
        running = self.running()
        found = self.store.by_ids([int(drawing_id)])
        if not found:
            return running
        fooled, drawing = int(_fooled(found[0])), found[0].id
        with self.store.transaction() as connection:
            if running is None:  # a label corrected after its round: still one of that round's drawings
                connection.execute("UPDATE drawings SET game_fooled = ? WHERE id = ? AND game_round IS NOT NULL",
                                   (fooled, drawing))
            else:
                connection.execute("UPDATE drawings SET game_round = COALESCE(game_round, ?), game_fooled = ? "
                                   "WHERE id = ?", (running.id, fooled, drawing))
        return running

    def offer_check(self, session: str) -> CheckOffer | None:
        """A classmate's drawing for phone ``session`` to read, or None (no round, nothing to check, or this
        phone has checked one more than it drew). The same offer again until it is answered or expires, so a
        reload does not skip it."""
        running = self.running()
        if running is None:
            return None
        now = self.clock()
        fresh = _iso(now - timedelta(seconds=CHECK_SECONDS))
        # Read first, write only to take a candidate: a phone polling between drawings writes nothing (on
        # PostgreSQL every write transaction counts as a change that the pages' caches see).
        with self.store.transaction(write=False) as connection:
            pending = connection.execute(
                "SELECT drawing FROM checks WHERE checker = ? AND digit IS NULL AND offered > ?",
                (session, fresh)).fetchone()
            if pending is None:
                checked = connection.execute(
                    "SELECT COUNT(*) FROM checks JOIN drawings ON drawings.id = checks.drawing "
                    "WHERE checks.checker = ? AND drawings.game_round = ?", (session, running.id)).fetchone()[0]
                drawn = connection.execute("SELECT COUNT(*) FROM drawings WHERE session = ? AND game_round = ?",
                                           (session, running.id)).fetchone()[0]
                if checked > drawn:
                    return None
                candidates = [row[0] for row in connection.execute(
                    f"SELECT id FROM drawings WHERE game_round = ? AND game_fooled = 1 AND session != ? AND {VISIBLE} "
                    "AND id NOT IN (SELECT drawing FROM checks) ORDER BY id LIMIT 5", (running.id, session))]
        if pending is None:
            for candidate in candidates:  # the oldest first; another phone may take one meanwhile
                with self.store.transaction() as connection:
                    if connection.execute("INSERT INTO checks (drawing, checker, offered) VALUES (?, ?, ?) "
                                          "ON CONFLICT (drawing) DO NOTHING",
                                          (candidate, session, _iso(now))).rowcount:
                        pending = (candidate,)
                        break
        if pending is None:
            return None
        found = self.store.by_ids([int(pending[0])])
        # The digit the models read, not the canvas the phone sent: the classmate checks what was scored.
        return CheckOffer(found[0].id, encode_png(found[0].pixels)) if found else None

    def answer_check(self, session: str, drawing_id: int, digit: int) -> None:
        """Phone ``session`` read drawing ``drawing_id`` as ``digit``.

        Raises:
            GameError: the drawing was not offered to this phone, was answered already, or its minute is up.
        """
        if type(digit) is not int or not 0 <= digit <= 9:
            raise GameError("A digit is 0 to 9.")
        now = self.clock()
        with self.store.transaction() as connection:
            answered = connection.execute(
                "UPDATE checks SET digit = ?, answered = ? WHERE drawing = ? AND checker = ? AND digit IS NULL "
                "AND offered > ?", (digit, _iso(now), int(drawing_id), session,
                                    _iso(now - timedelta(seconds=CHECK_SECONDS)))).rowcount
        if not answered:
            raise GameError("That drawing is no longer yours to check (its minute is up, or it was answered): draw "
                            "your next digit, and another will come.")

    # --- scores --------------------------------------------------------------------------------

    def standings(self, keys: Sequence[str] | None = None, round_id: int | None = None) -> Standings:
        """The scores of round ``round_id`` (default: the newest), each model of ``keys`` (default: every model
        that answered) with how often it was fooled, and the hard set's size."""
        latest = self.latest()
        chosen = latest if round_id is None or (latest is not None and latest.id == round_id) else \
            self._round(round_id)
        points: Counter[str] = Counter()
        fooled_by: dict[str, Counter[str]] = {}
        models: Counter[str] = Counter()
        candidates = confirmed = rejected = 0
        if chosen is not None:
            for drawing, checked in self._round_drawings(chosen.id):
                wrong = [key for key, digit in drawing.answers.items() if digit != drawing.label]
                if not wrong:
                    continue
                candidates += 1
                if checked is None:
                    continue
                if checked != drawing.label:
                    rejected += 1
                    continue
                confirmed += 1
                points[drawing.session] += len(wrong)
                fooled_by.setdefault(drawing.session, Counter()).update(wrong)
                models.update(wrong)
        players = sorted((Player(nickname(session), session, count, dict(fooled_by[session]))
                          for session, count in points.items()), key=lambda player: (-player.points, player.nickname))
        keys = list(keys) if keys is not None else sorted(models, key=_registry_order)
        return Standings(chosen, players, {key: models.get(key, 0) for key in keys}, len(self.hard_set_ids()),
                         candidates, confirmed, rejected)

    def score_of(self, session: str) -> Player:
        """Phone ``session``'s points and the models it fooled in the newest round (what its phone polls: its own
        drawings only, not the whole round)."""
        latest = self.latest()
        points: Counter[str] = Counter()
        if latest is not None:
            with self.store.transaction(write=False) as connection:
                ids = [int(row[0]) for row in connection.execute(
                    f"SELECT drawings.id FROM drawings JOIN checks ON checks.drawing = drawings.id "
                    f"WHERE drawings.session = ? AND drawings.game_round = ? AND {CONFIRMED} "
                    f"AND drawings.game_fooled = 1 AND {VISIBLE}", (session, latest.id))]
            for drawing in self.store.by_ids(ids):
                points.update(key for key, digit in drawing.answers.items() if digit != drawing.label)
        return Player(nickname(session), session, sum(points.values()), dict(points))

    def hard_set_ids(self) -> list[int]:
        """The ids of the class's hard set: confirmed drawings that fooled some model, every round, oldest
        first (hidden ones left out)."""
        if not self.store.exists():
            return []
        with self.store.transaction(write=False) as connection:
            rows = connection.execute(
                "SELECT drawings.id FROM drawings JOIN checks ON checks.drawing = drawings.id "
                f"WHERE {CONFIRMED} AND drawings.game_round IS NOT NULL AND {VISIBLE} "
                "ORDER BY drawings.id").fetchall()
        ids = [int(row[0]) for row in rows]
        return [drawing.id for drawing in self.store.by_ids(ids) if _fooled(drawing)]

    def unconfirmed_fooling_ids(self) -> set[int]:
        """The ids of the rounds' drawings that fooled a model but that no classmate read as their label (not
        checked yet, the check's minute up, or read as another digit): their label is the drawer's word alone,
        on a drawing made to be misread, so teaching the models with them could teach a scribble as a digit."""
        if not self.store.exists():
            return set()
        with self.store.transaction(write=False) as connection:
            rows = connection.execute(
                "SELECT drawings.id FROM drawings LEFT JOIN checks ON checks.drawing = drawings.id "
                "WHERE drawings.game_round IS NOT NULL AND drawings.game_fooled = 1 "
                f"AND (checks.digit IS NULL OR NOT ({CONFIRMED}))").fetchall()
        return {int(row[0]) for row in rows}

    def hard_set(self, with_canvas: bool = False) -> list[Drawing]:
        """The hard set's drawings (:meth:`hard_set_ids`), oldest first."""
        return self.store.by_ids(self.hard_set_ids(), with_canvas=with_canvas)

    # --- inside ----------------------------------------------------------------------------------

    def _round(self, round_id: int) -> Round | None:
        with self.store.transaction(write=False) as connection:
            row = connection.execute("SELECT id, started, ends, stopped FROM rounds WHERE id = ?",
                                     (int(round_id),)).fetchone()
        return None if row is None else Round(int(row[0]), _time(row[1]), _time(row[2]),
                                              None if row[3] is None else _time(row[3]))

    def _round_drawings(self, round_id: int) -> list[tuple[Drawing, int | None]]:
        with self.store.transaction(write=False) as connection:
            rows = connection.execute(
                "SELECT drawings.id, checks.digit FROM drawings LEFT JOIN checks ON checks.drawing = drawings.id "
                f"WHERE drawings.game_round = ? AND {VISIBLE} ORDER BY drawings.id",
                (int(round_id),)).fetchall()
        checked = {int(row[0]): None if row[1] is None else int(row[1]) for row in rows}
        return [(drawing, checked[drawing.id]) for drawing in self.store.by_ids(list(checked))]



def _fooled(drawing: Drawing) -> bool:
    """The game's one rule: some model in use read the drawing as another digit than its label."""
    return any(digit != drawing.label for digit in drawing.answers.values())


def _registry_order(key: str) -> tuple[int, str]:
    from .models import MODEL_KEYS

    return (MODEL_KEYS.index(key), key) if key in MODEL_KEYS else (len(MODEL_KEYS), key)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _time(text) -> datetime:
    return datetime.fromisoformat(str(text))


def hard_set_arrays(drawings: Sequence[Drawing]) -> tuple[np.ndarray, np.ndarray]:
    """The hard set as a test set: images ``(N, 28, 28)`` uint8 and labels ``(N,)`` int64."""
    if not drawings:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64)
    return np.stack([drawing.pixels for drawing in drawings]), np.array([d.label for d in drawings], np.int64)


def evaluate_hard_set(model: nn.Module, drawings: Sequence[Drawing]) -> Evaluation:
    """``model`` on the hard set's drawings, evaluated as the MNIST test set is: their uint8 digits (ink 255, as
    the server scored them) normalised alike by :func:`mnist_core.evaluation.evaluate`.

    Raises:
        ValueError: the hard set is empty.
    """
    import torch  # here: the game's routes run without PyTorch until a model answers

    from .evaluation import evaluate

    images, labels = hard_set_arrays(drawings)
    return evaluate(model, torch.from_numpy(images), torch.from_numpy(labels))


def compare_on_hard_set(model_a: nn.Module, model_b: nn.Module, drawings: Sequence[Drawing]) -> PairedComparison:
    """Two models' paired counts and McNemar's test on the hard set, as between runs on the MNIST test set."""
    from .comparison import compare_predictions

    a, b = evaluate_hard_set(model_a, drawings), evaluate_hard_set(model_b, drawings)
    return compare_predictions(a.labels, a.predictions, b.predictions)


def hard_set_sentence(correct: Mapping[str, int], total: int) -> str:
    """How many of the hard set's ``total`` drawings each model (``correct``: name -> drawings read right)
    reads right, in one sentence: the most and the fewest."""
    def share(count: int) -> str:
        return f"{count} ({100 * count / total:.0f} %)"

    def who(count: int) -> tuple[str, str]:  # the models with ``count`` right, and the verb's -s
        named = [name for name, right in correct.items() if right == count]
        return (", ".join(named[:-1]) + f" and {named[-1]}" if len(named) > 1 else named[0],
                "" if len(named) > 1 else "s")

    drawings = f"the class's {total} hard drawing{'s' if total != 1 else ''}"
    most, fewest = max(correct.values()), min(correct.values())
    (best, s), (worst, t) = who(most), who(fewest)
    if most == fewest:
        return f"{best} {'each read' if len(correct) > 1 else 'reads'} {share(most)} of {drawings} right."
    return (f"Of {drawings}, {best} read{s} the most right, {share(most)}{'' if s else ' each'}; {worst} the "
            f"fewest, {share(fewest)}{'' if t else ' each'}.")
