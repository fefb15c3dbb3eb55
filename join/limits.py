"""How much one phone and one network may send to POST /join/label, with the reason beside each limit.

Pure: no HTTP and no clock of its own (one is passed in), so each limit is tested at and past it without
a server (tests/test_join_hostile.py). The routes (routes.py) ask :meth:`LabelLimits.admit` before a label
costs the server anything more than reading it.

- A phone is its page's ``session`` id (join.js keeps one per browser, in localStorage).
- A network is the request's client address. Uvicorn, which Streamlit runs, replaces it with the last
  address of ``X-Forwarded-For`` only when the request comes from the machine itself (its default
  ``FORWARDED_ALLOW_IPS=127.0.0.1,::1``): a proxy on the same machine tells each phone's address, and a
  phone on the Wi-Fi cannot choose its own. A proxy that sends no ``X-Forwarded-For`` makes the whole
  room one network (docs/PROXY.md sends it).
- A lesson lasts until the presenter ends it (the Audience page's End the lesson, or Clear), or the server
  restarts.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

SESSION_BURST = 5  # presses in a row: a label, then a correction or two straight after it
SESSION_PER_SECOND = 1.0  # then one a second: drawing a digit and pressing it takes longer than that
SESSION_LABELS_PER_LESSON = 200  # an hour's lesson at one label every 20 s is 180
ADDRESS_NEW_SESSIONS_PER_MINUTE = 30  # a class of 30 behind one school router opening the page together;
# a script making up session ids to get round the limits above gets 30 more phones a minute
ADDRESS_BURST = 30  # a class of 30 behind one router pressing in the same second
ADDRESS_PER_SECOND = 10.0  # then ten a second: 30 phones labelling every 3 s; a script at this rate needs
# 80 minutes to fill the store (mnist_core.audience.MAX_DRAWINGS)
REMEMBERED = 20_000  # phones and networks kept in memory (a few MB); the longest unused is forgotten first


class LabelRefused(Exception):
    """A label the server will not take now: ``status`` (HTTP), a message the phone shows, after how many
    seconds asking again may succeed (``Retry-After``; None: none is said), and whether pressing the digit
    again soon may store it (``retry``)."""

    def __init__(self, status: int, message: str, retry_after: int | None = None, retry: bool = False) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after, self.retry = status, message, retry_after, retry


@dataclass
class _Bucket:
    """A token bucket: ``burst`` tokens at most, refilled at ``rate`` a second; a label takes one."""

    burst: float
    rate: float
    tokens: float
    updated: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.updated) * self.rate)
        self.updated = now

    def wait(self) -> int:
        """Whole seconds until a token is there (0: one is there now)."""
        return 0 if self.tokens >= 1 else math.ceil((1 - self.tokens) / self.rate)


@dataclass
class _Phone:
    bucket: _Bucket
    labels: int = 0


@dataclass
class _Network:
    bucket: _Bucket
    new_phones: deque = field(default_factory=deque)  # when each phone first labelled, the last minute's


class LabelLimits:
    """The limits of one lesson: who has labelled how much, by session and by address. Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._phones: OrderedDict[str, _Phone] = OrderedDict()
        self._networks: OrderedDict[str, _Network] = OrderedDict()
        self._lock = threading.Lock()

    def admit(self, session: str, address: str) -> None:
        """Count one label from phone ``session`` on network ``address``.

        Raises:
            LabelRefused: 429, past a limit; nothing is counted then.
        """
        with self._lock:
            now = self._clock()
            phone, network = self._phones.get(session), self._network(address, now)
            if phone is None:
                while network.new_phones and network.new_phones[0] <= now - 60:
                    network.new_phones.popleft()
                if len(network.new_phones) >= ADDRESS_NEW_SESSIONS_PER_MINUTE:
                    raise LabelRefused(429, "Too many new phones joined from this network in the last minute: "
                                       "wait a minute.", math.ceil(network.new_phones[0] + 60 - now), retry=True)
                phone = _Phone(_Bucket(SESSION_BURST, SESSION_PER_SECOND, SESSION_BURST, now))
            if phone.labels >= SESSION_LABELS_PER_LESSON:
                raise LabelRefused(429, f"This phone has labelled {SESSION_LABELS_PER_LESSON} drawings this lesson, "
                                   "as many as one phone may: thank you! It can label again when the presenter "
                                   "starts a new lesson.")  # no Retry-After: no time lifts it
            phone.bucket.refill(now)
            network.bucket.refill(now)
            if phone.bucket.wait():
                raise LabelRefused(429, "You are pressing faster than the room can keep up: wait a second.",
                                   phone.bucket.wait(), retry=True)
            if network.bucket.wait():
                raise LabelRefused(429, "Your network is sending more drawings than the room can keep up with: "
                                   "wait a second.", network.bucket.wait(), retry=True)
            if session not in self._phones:
                network.new_phones.append(now)
            phone.bucket.tokens -= 1
            network.bucket.tokens -= 1
            phone.labels += 1
            self._remember(self._phones, session, phone)

    def new_lesson(self) -> None:
        """Start counting each phone's labels afresh (the presenter ended the lesson)."""
        with self._lock:
            for phone in self._phones.values():
                phone.labels = 0

    def _network(self, address: str, now: float) -> _Network:
        network = self._networks.get(address)
        if network is None:
            network = _Network(_Bucket(ADDRESS_BURST, ADDRESS_PER_SECOND, ADDRESS_BURST, now))
        self._remember(self._networks, address, network)
        return network

    @staticmethod
    def _remember(table: OrderedDict, key: str, value) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > REMEMBERED:
            table.popitem(last=False)
