"""Who is who in the room (mnist_core.room) and the door in front of every route (join/door.py)."""

from __future__ import annotations

import asyncio
import os
import stat
import threading

import pytest

from mnist_core import room
from mnist_core.room import PARTICIPANT, PRESENTER, Door, RoomError, RoomSettings
from mnist_core.workspace import Workspace

KEY = "k" * 24


@pytest.mark.parametrize(("peer", "forwarded", "cookie", "local_presenter", "role"), [
    (None, False, None, True, PRESENTER),  # Streamlit reports no address for a browser on this machine
    ("127.0.0.1", False, None, True, PRESENTER),
    ("::1", False, None, True, PRESENTER),
    ("::ffff:127.0.0.1", False, None, True, PRESENTER),
    ("127.0.0.1", True, None, True, PARTICIPANT),  # a proxy on this machine: every visitor would look local
    ("127.0.0.1", False, None, False, PARTICIPANT),  # MNIST_PRESENTER=key
    ("192.0.2.7", False, None, True, PARTICIPANT),
    ("192.0.2.7", False, "guess", True, PARTICIPANT),
    ("192.0.2.7", False, KEY[:-1], True, PARTICIPANT),
    ("192.0.2.7", False, KEY, True, PRESENTER),
    ("192.0.2.7", True, KEY, False, PRESENTER),  # the key works from anywhere, through a proxy too
    ("not an address", False, None, True, PARTICIPANT),
    ("192.0.2.7", False, "\ud800", True, PARTICIPANT),  # a cookie that is not text does not raise
])
def test_the_role_of_a_request(peer, forwarded, cookie, local_presenter, role):
    assert Door(KEY, local_presenter).role(peer, forwarded, cookie) == role


def test_forwarding_headers_are_recognised_in_any_case():
    assert room.is_forwarded({"X-Forwarded-For": "10.0.0.1"}) and room.is_forwarded({"forwarded": "for=x"})
    assert not room.is_forwarded({"Host": "example", "Origin": "http://example"})


def test_a_key_is_made_once_private_and_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv(room.PRESENTER_KEY_ENV, raising=False)
    keys = []
    threads = [threading.Thread(target=lambda: keys.append(room.presenter_key())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1 and len(keys[0]) >= room.MIN_KEY_LENGTH  # servers starting at once agree
    path = room.key_file()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and room.presenter_key() == keys[0]
    assert [name for name in os.listdir(path.parent) if name != room.KEY_FILE] == []  # no temporary file left


def test_a_key_from_the_environment_wins_and_a_short_one_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv(room.PRESENTER_KEY_ENV, KEY)
    assert room.presenter_key() == KEY and not room.key_file().exists()
    monkeypatch.setenv(room.PRESENTER_KEY_ENV, "1234")
    with pytest.raises(RoomError, match="at least 16"):
        room.presenter_key()
    monkeypatch.delenv(room.PRESENTER_KEY_ENV)
    room.key_file().parent.mkdir(parents=True)
    room.key_file().write_text("short\n")
    with pytest.raises(RoomError, match="delete the file and restart"):
        room.presenter_key()


def test_the_presenter_mode_is_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv(room.PRESENTER_MODE_ENV, "key")
    assert room.door().local_presenter is False
    monkeypatch.setenv(room.PRESENTER_MODE_ENV, "maybe")
    with pytest.raises(RoomError, match="set it to 'key'"):
        room.door()


@pytest.mark.parametrize("content", ["", "not json", "[1, 2]", '{"participants_train": "yes"}', '{"review_first": 1}'])
def test_damaged_room_settings_are_the_closed_defaults(tmp_path, monkeypatch, content):
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path))
    room.settings_file(tmp_path).parent.mkdir(parents=True, exist_ok=True)
    room.settings_file(tmp_path).write_text(content)
    assert room.load_settings(tmp_path) == RoomSettings()


def test_room_settings_are_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path))
    room.save_settings(RoomSettings(participants_train=True))
    assert room.load_settings() == RoomSettings(participants_train=True, review_first=False)


def test_nicknames_are_two_words_the_same_each_time_and_sessions_are_digests():
    assert room.nickname("abc") == room.nickname("abc") and len(room.nickname("abc").split()) == 2
    assert len({room.nickname(f"phone {n}") for n in range(30)}) >= 25  # a class mostly tells itself apart
    assert room.phone_session("secret") == room.phone_session("secret") != room.phone_session("secret2")
    assert "secret" not in room.phone_session("secret") and room.phone_session("secret").startswith("join-")


# --- the door: ?key= traded for the cookie -----------------------------------------------------------

def call(middleware, path: str, query: str, method: str = "GET") -> tuple[int, dict[str, str], bool]:
    """Run one HTTP request through ``middleware``: its status, headers, and whether the app behind it ran."""
    reached, sent = [], []

    async def app(scope, receive, send):
        reached.append(scope["path"])

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "query_string": query.encode(), "headers": [],
             "scheme": "http", "root_path": ""}
    asyncio.run(middleware(app, workspace=Workspace())(scope, receive, send))
    start = next((m for m in sent if m["type"] == "http.response.start"), {"status": 0, "headers": []})
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, bool(reached)


def test_the_key_link_sets_an_httponly_cookie_and_leaves_the_address_bar(tmp_path, monkeypatch):
    from join.door import PresenterKeyMiddleware

    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv(room.PRESENTER_KEY_ENV, KEY)
    status, headers, reached = call(PresenterKeyMiddleware, "/draw", f"present=1&key={KEY}")
    assert status == 303 and headers["location"] == "/draw?present=1" and not reached
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"{room.COOKIE}={KEY};") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    status, headers, reached = call(PresenterKeyMiddleware, "/", "key=guess")
    assert status == 303 and headers["location"] == "/" and "set-cookie" not in headers
    assert call(PresenterKeyMiddleware, "/join/label", f"key={KEY}", method="POST")[2]  # only GET links
    assert call(PresenterKeyMiddleware, "/draw", "present=1")[2]


def test_a_bad_setting_stops_the_server_at_start_with_one_line(tmp_path, monkeypatch, capsys):
    from join.door import door_lifespan

    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("MNIST_AUDIENCE_KEEP", "soon")

    async def start():
        async with door_lifespan(Workspace())(None):
            pass

    with pytest.raises(SystemExit):
        asyncio.run(start())
    assert "MNIST_AUDIENCE_KEEP='soon'" in capsys.readouterr().err


@pytest.mark.parametrize(("host", "role"), [("localhost:8501", PRESENTER), ("127.0.0.1:8501", PRESENTER),
                                            ("[::1]:8501", PRESENTER), (None, PRESENTER),
                                            ("evil.example", PARTICIPANT), ("evil.example:8501", PARTICIPANT),
                                            ("192.0.2.2:8501", PARTICIPANT), ("", PARTICIPANT)])
def test_a_local_browser_must_ask_for_a_local_name(host, role):
    # A page of another site whose DNS name was rebound to 127.0.0.1 reaches the server from loopback too.
    assert Door(KEY).role("127.0.0.1", False, None, host) == role


def test_the_key_never_shows_in_a_repr_or_reaches_a_ray_worker(monkeypatch):
    from mnist_core.seed_groups import worker_environment

    assert KEY not in repr(Door(KEY))
    monkeypatch.setenv(room.PRESENTER_KEY_ENV, KEY)
    monkeypatch.setenv("MNIST_DATA_DIR", "/data")
    assert worker_environment()["MNIST_DATA_DIR"] == "/data" and room.PRESENTER_KEY_ENV not in worker_environment()


@pytest.mark.parametrize(("length", "accepted"), [(room.MIN_KEY_LENGTH - 1, False), (room.MIN_KEY_LENGTH, True)])
def test_a_key_at_and_below_the_shortest_length(tmp_path, monkeypatch, length, accepted):
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv(room.PRESENTER_KEY_ENV, "k" * length)
    if accepted:
        assert room.presenter_key() == "k" * length
    else:
        with pytest.raises(RoomError):
            room.presenter_key()


def test_the_key_link_never_leaves_this_server(tmp_path, monkeypatch):
    from join.door import PresenterKeyMiddleware

    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path))

    status, headers, _ = call(PresenterKeyMiddleware, "//evil.example/x", "key=guess")
    assert status == 303 and headers["location"] == "/evil.example/x"


def test_a_key_that_cannot_be_kept_lasts_until_the_server_stops(tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "a-file" / "runs"))
    monkeypatch.delenv(room.PRESENTER_KEY_ENV, raising=False)
    first, again = room.door(), room.door()
    assert first.key == again.key and len(first.key) >= room.MIN_KEY_LENGTH
    assert "Not a directory" in first.not_kept and "MNIST_PRESENTER_KEY" in first.not_kept
