"""Who is who in the room: the presenter, who holds a key, and the participants.

The dashboard invites a class onto the presenter's server (the Audience page's QR code), so the
server must tell the presenter from the class. This module decides it, in one place, from three
facts every request carries: the address it came from, whether a proxy forwarded it, and the
presenter's cookie. The app's door (its HTTP middleware and each page) asks :meth:`Door.role`
where an action happens; nothing here knows Streamlit or HTTP.

- The key is ``$MNIST_PRESENTER_KEY``, else a random one generated once and kept, readable by
  this user alone (0600), in ``presenter.key`` beside the app's data (the user's runs folder).
  The server prints it at start as a link (Jupyter's token convention); opening the link puts the
  key in an HttpOnly cookie.
- A browser on the server machine itself (a loopback address, and no forwarding header: a proxy
  on the same machine would make every visitor look local) is the presenter without the key,
  unless ``MNIST_PRESENTER=key``.
- Everyone else is a participant: they may look, draw and label their own drawings, but not
  change what the room shares (the drawings, the training queue, the room's settings).

Also here, because they are the room's: its settings (whether participants may train; whether a
misread drawing waits for the presenter before the projector shows it), and the nickname a phone
is known by (two random words, never a typed name).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import socket
import tempfile
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from . import paths
from .fileio import write_atomically

PRESENTER_KEY_ENV = "MNIST_PRESENTER_KEY"
PRESENTER_MODE_ENV = "MNIST_PRESENTER"  # "key": even a browser on the server machine needs the key
KEY_FILE = "presenter.key"
SETTINGS_FILE = "room.json"
COOKIE = "mnist_presenter"  # HttpOnly: the page's scripts never see it
KEY_PARAMETER = "key"  # ?key=… in the printed link, as Jupyter's ?token=…
COOKIE_DAYS = 30  # a term of lessons without opening the link again
PUBLIC_URL_ENV = "MNIST_PUBLIC_URL"  # the address phones reach this server at, e.g. http://192.168.1.20:8501
MIN_KEY_LENGTH = 16  # a key a class cannot guess in a lesson's worth of tries
PRESENTER, PARTICIPANT = "presenter", "participant"
# Headers a reverse proxy adds: a request through one comes from the proxy's (often loopback) address.
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip", "x-forwarded-host")


class RoomError(RuntimeError):
    """The presenter's key or the room's settings cannot be read or kept; the message says what to do."""


class KeyNotKept(RoomError):
    """The presenter's key file cannot be read or written (the runs folder is a file, read-only…)."""


@dataclass(frozen=True)
class Door:
    """Tells the presenter from the participants."""

    key: str = field(repr=False)  # never in a log or a test report
    local_presenter: bool = True  # a browser on the server machine is the presenter without the key
    not_kept: str = ""  # why the key lasts only until the server stops ("": it is kept, or set)

    def role(self, peer: str | None, forwarded: bool, cookie: str | None, host: str | None = None) -> str:
        """:data:`PRESENTER` or :data:`PARTICIPANT` for a request from ``peer`` (the TCP peer's address;
        None where the server saw none, as Streamlit reports a local browser), ``forwarded`` (it carries
        a proxy's header), ``cookie`` (the value of :data:`COOKIE`, if any) and ``host`` (its Host header).

        A local browser asks for a local name: a page of another site that a rebound DNS name points at
        this machine (``Host: evil.example``) reaches it from loopback too, and is not the presenter."""
        if self.holds_key(cookie):
            return PRESENTER
        if self.local_presenter and not forwarded and is_loopback(peer) and is_local_name(host):
            return PRESENTER
        return PARTICIPANT

    def holds_key(self, offered: str | None) -> bool:
        """Whether ``offered`` is the key (compared in constant time)."""
        return bool(offered) and hmac.compare_digest(offered.encode("utf-8", "replace"), self.key.encode())


def is_loopback(peer: str | None) -> bool:
    """Whether ``peer`` is this machine (None: the server saw no address, which Streamlit reports for a
    local browser)."""
    if peer is None:
        return True
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def is_local_name(host: str | None) -> bool:
    """Whether a Host header names this machine by a loopback name (``localhost:8501``, ``127.0.0.1``,
    ``[::1]:8501``); None (no header: HTTP/1.0, or a page run with no connection) counts as local."""
    if host is None:
        return True
    name = host.strip().lower()
    name = name[1:name.index("]")] if name.startswith("[") and "]" in name else name.rsplit(":", 1)[0] \
        if name.count(":") == 1 else name
    return name in ("localhost", "localhost.") or (name != "" and is_loopback(name))


def is_forwarded(headers: Mapping[str, str]) -> bool:
    return any(name in {key.lower() for key in headers} for name in FORWARDING_HEADERS)


def door(base: str | os.PathLike = ".") -> Door:
    """The door as the environment sets it: the key (:func:`presenter_key`), and whether a local browser
    needs it (``MNIST_PRESENTER=key``)."""
    mode = os.environ.get(PRESENTER_MODE_ENV, "").strip().lower()
    if mode not in ("", "local", "key"):
        raise RoomError(f"{PRESENTER_MODE_ENV}={mode!r}: set it to 'key' (the presenter always needs the key) "
                        "or leave it unset (a browser on this machine is the presenter).")
    try:
        return Door(presenter_key(base), local_presenter=mode != "key")
    except KeyNotKept as error:  # the app still works: this server's key is one for this run alone
        return Door(_key_of_this_process(), local_presenter=mode != "key", not_kept=str(error))


def _key_of_this_process() -> str:
    global _PROCESS_KEY
    _PROCESS_KEY = _PROCESS_KEY or secrets.token_urlsafe(24)
    return _PROCESS_KEY


_PROCESS_KEY = ""


def presenter_key(base: str | os.PathLike = ".") -> str:
    """``$MNIST_PRESENTER_KEY``, else the key kept in ``presenter.key`` in the user's runs folder (made,
    0600, the first time)."""
    explicit = os.environ.get(PRESENTER_KEY_ENV, "").strip()
    if explicit:
        if len(explicit) < MIN_KEY_LENGTH:
            raise RoomError(f"{PRESENTER_KEY_ENV} is {len(explicit)} characters: a class could guess it. Use at "
                            f"least {MIN_KEY_LENGTH}, or unset it and a random key is made.")
        return explicit
    path = key_file(base)
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    except OSError as error:
        raise KeyNotKept(f"Cannot read the presenter's key in {path}: {error.strerror or error}. "
                         f"Set {PRESENTER_KEY_ENV}, or make the file readable.") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{KEY_FILE}.", suffix=".tmp")  # 0600
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as file:
                file.write(secrets.token_urlsafe(24) + "\n")
            try:
                os.link(temporary, path)  # never replaces a key another process made meanwhile
            except FileExistsError:
                pass
        finally:
            with suppress(OSError):
                os.unlink(temporary)
        return _read_key(path)
    except OSError as error:
        raise KeyNotKept(f"Cannot keep the presenter's key in {path}: {error.strerror or error}. "
                         f"Set {PRESENTER_KEY_ENV} to a key of your own, or make the folder writable.") from None


def key_file(base: str | os.PathLike = ".") -> Path:
    return paths.user_runs_dir(base) / KEY_FILE


def _read_key(path: Path) -> str:
    key = path.read_text(encoding="ascii", errors="replace").strip()
    if len(key) < MIN_KEY_LENGTH:
        raise RoomError(f"The presenter's key in {path} is too short to keep a class out: delete the file and "
                        "restart the app (a new key is made), or set " + PRESENTER_KEY_ENV + ".")
    return key


def presenter_link(base_url: str, key: str) -> str:
    """The link that makes a browser the presenter, e.g. ``http://192.168.1.20:8501/?key=…``."""
    return f"{base_url.rstrip('/')}/?{KEY_PARAMETER}={key}"


# --- the room's settings ----------------------------------------------------------------------

@dataclass(frozen=True)
class RoomSettings:
    """What the presenter switches for the whole room (kept in ``room.json`` beside the app's data)."""

    participants_train: bool = False  # a computer lab: participants may queue trainings (one each)
    review_first: bool = False  # a misread drawing reaches the projector's gallery once the presenter approves it


def settings_file(base: str | os.PathLike = ".") -> Path:
    return paths.user_runs_dir(base) / SETTINGS_FILE


def load_settings(base: str | os.PathLike = ".") -> RoomSettings:
    """The room's settings; the defaults where the file is absent or unreadable (nothing is opened up by a
    damaged file: every default is the closed one)."""
    try:
        record = json.loads(settings_file(base).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return RoomSettings()
    if not isinstance(record, dict):
        return RoomSettings()
    return RoomSettings(**{field.name: record[field.name] for field in fields(RoomSettings)
                           if isinstance(record.get(field.name), bool)})


def save_settings(settings: RoomSettings, base: str | os.PathLike = ".") -> None:
    path = settings_file(base)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(asdict(settings)))
    except OSError as error:
        raise RoomError(f"Cannot keep the room's settings in {path}: {error.strerror or error}. Make the folder "
                        f"writable, or set {paths.RUNS_DIR_ENV} to one that is.") from None


# --- phones -------------------------------------------------------------------------------------

def network_address() -> str | None:
    """This machine's own address on its network (not loopback), as a phone in the room reaches it; None
    when it has none."""
    for somewhere in ("10.254.254.254", "192.0.2.1", "8.8.8.8"):  # nothing is sent: UDP's connect only picks a route
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect((somewhere, 9))
            except OSError:
                continue
            address = probe.getsockname()[0]
            if not address.startswith("127.") and address != "0.0.0.0":
                return address
    return None


_ADJECTIVES = (
    "Amber", "Bold", "Brave", "Bright", "Busy", "Calm", "Clever", "Cosy", "Curious", "Daring", "Eager", "Fancy",
    "Fast", "Fuzzy", "Gentle", "Giant", "Glad", "Golden", "Happy", "Jolly", "Keen", "Kind", "Lively", "Lucky",
    "Merry", "Mighty", "Misty", "Nimble", "Noble", "Patient", "Plucky", "Polite", "Proud", "Quick", "Quiet",
    "Rapid", "Rosy", "Rusty", "Shiny", "Silver", "Sleepy", "Smart", "Snowy", "Sunny", "Swift", "Tidy", "Tiny",
    "Witty", "Zesty", "Breezy", "Cheery", "Dandy", "Frosty", "Hearty", "Humble", "Jazzy", "Lofty", "Mellow",
    "Peppy", "Rugged", "Spry", "Stellar", "Velvet", "Wise",
)
_ANIMALS = (
    "Badger", "Beaver", "Bison", "Camel", "Cat", "Cheetah", "Crane", "Crow", "Deer", "Dolphin", "Duck", "Eagle",
    "Falcon", "Ferret", "Finch", "Fox", "Frog", "Gecko", "Goat", "Goose", "Hare", "Hawk", "Hedgehog", "Heron",
    "Ibis", "Koala", "Lemur", "Lion", "Llama", "Lynx", "Marten", "Mole", "Moose", "Newt", "Otter", "Owl",
    "Panda", "Parrot", "Pelican", "Penguin", "Pony", "Puffin", "Quail", "Rabbit", "Raven", "Robin", "Salmon",
    "Seal", "Sparrow", "Squid", "Stork", "Swan", "Tapir", "Tiger", "Toucan", "Turtle", "Walrus", "Whale", "Wolf",
    "Wombat", "Wren", "Yak", "Zebra", "Orca",
)


def phone_session(secret: str) -> str:
    """What the store keeps of a phone's session: a digest, never the secret the phone holds. An export
    then names no session a classmate could post under (only its owner can correct its labels)."""
    return "join-" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:24]


def nickname(session: str) -> str:
    """The two random words a session is known by (e.g. "Brave Otter"), the same for it every time: the
    phone shows it, and the presenter sees it beside each drawing. 4,096 names: two phones of a class of
    30 share one with a chance of about 10 %; the presenter's view also shows a short tag."""
    number = int.from_bytes(hashlib.sha256(session.encode("utf-8", "replace")).digest()[:8], "big")
    return f"{_ADJECTIVES[number % len(_ADJECTIVES)]} {_ANIMALS[number // len(_ADJECTIVES) % len(_ANIMALS)]}"
