"""/join against a careless or hostile client: what POST /join/label refuses and how (405, 415, 403, 400, 408,
429, 507), its limits at and past each one, the exported models checked before they are served, and the
reverse proxy recipe (docs/PROXY.md) that bounds what Streamlit's own server cannot.

The limits are tested as a pure class with a clock of the test's own; the routes in this process, on the app
they form (``join_app``); a body trickled over a socket and the proxy recipe on one real server for the
module. Every request goes to 127.0.0.1, from which uvicorn takes ``X-Forwarded-For`` as the client's
address: each test speaks from networks of its own (10.x.y.z), so the per-network limits of one test do not
reach another's.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import os
import shutil
import socket
import sqlite3
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from join import limits
from join.limits import LabelLimits, LabelRefused
from join.routes import BODY_SECONDS, MAX_CANVAS_SIDE
from mnist_core.audience import MAX_DRAWINGS as MAX_STORED_DRAWINGS
from mnist_core.audience import AudienceStore
from mnist_core.canvas import CANVAS_SIDE
from tests.support.join_app import JoinApp
from tests.support.join_server import join_server
from tools.browser import PROJECT_ROOT, free_port

_addresses = (f"10.{n // 250}.{n % 250}.1" for n in itertools.count(1))  # a network of its own per use


# --- the limits, without a server ------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refused(admit) -> LabelRefused:
    with pytest.raises(LabelRefused) as caught:
        admit()
    return caught.value


def test_a_phone_presses_five_times_in_a_row_then_once_a_second():
    clock = Clock()
    room = LabelLimits(clock)
    for _ in range(limits.SESSION_BURST):
        room.admit("phone", "10.0.0.1")
    past = refused(lambda: room.admit("phone", "10.0.0.1"))
    assert past.status == 429 and past.retry_after == 1 and "faster than the room can keep up" in past.message
    room.admit("other", "10.0.0.1")  # another phone on the same network is not held up
    clock.now += 1 / limits.SESSION_PER_SECOND
    room.admit("phone", "10.0.0.1")  # a second later: one more
    assert refused(lambda: room.admit("phone", "10.0.0.1")).retry_after == 1
    clock.now += 0.5
    assert refused(lambda: room.admit("phone", "10.0.0.1")).retry_after == 1  # half a token: still wait


def test_a_phone_labels_at_most_200_drawings_a_lesson():
    clock = Clock()
    room = LabelLimits(clock)
    for _ in range(limits.SESSION_LABELS_PER_LESSON):
        room.admit("keen", "10.0.0.1")
        clock.now += 1
    past = refused(lambda: room.admit("keen", "10.0.0.1"))
    assert past.status == 429 and past.retry_after is None and not past.retry  # no time lifts it…
    assert f"{limits.SESSION_LABELS_PER_LESSON} drawings this lesson" in past.message
    clock.now += 3600
    assert refused(lambda: room.admit("keen", "10.0.0.1")).status == 429
    room.admit("next", "10.0.0.1")
    room.new_lesson()  # … the presenter's End the lesson does
    assert room.admit("keen", "10.0.0.1") is None
    assert LabelLimits(clock).admit("keen", "10.0.0.1") is None  # a new server, a new lesson too


def test_a_network_brings_at_most_30_new_phones_a_minute():
    clock = Clock()
    room = LabelLimits(clock)
    for phone in range(limits.ADDRESS_NEW_SESSIONS_PER_MINUTE):
        room.admit(f"phone-{phone}", "10.0.0.1")
        clock.now += 1  # one a second: the network's own rate stays out of it
    past = refused(lambda: room.admit("one-more", "10.0.0.1"))
    assert past.status == 429 and "new phones" in past.message
    assert past.retry_after == 60 - limits.ADDRESS_NEW_SESSIONS_PER_MINUTE  # when the first phone's minute ends
    room.admit("phone-0", "10.0.0.1")  # the phones it has keep labelling
    room.admit("one-more", "10.0.0.2")  # another network is another count
    clock.now += past.retry_after
    room.admit("one-more", "10.0.0.1")  # the first phone's minute is over


def test_a_network_sends_30_labels_at_once_then_ten_a_second():
    clock = Clock()
    room = LabelLimits(clock)
    for press in range(limits.ADDRESS_BURST):
        room.admit(f"phone-{press // limits.SESSION_BURST}", "10.0.0.1")
    past = refused(lambda: room.admit("phone-new", "10.0.0.1"))
    assert past.status == 429 and past.retry_after == 1 and "Your network" in past.message
    clock.now += 1 / limits.ADDRESS_PER_SECOND
    room.admit("phone-new", "10.0.0.1")
    assert refused(lambda: room.admit("phone-new", "10.0.0.1")).retry_after == 1


def test_a_refused_label_counts_nothing_and_the_longest_unused_are_forgotten_past_the_memory(monkeypatch):
    clock = Clock()
    room = LabelLimits(clock)
    for _ in range(limits.SESSION_BURST):
        room.admit("phone", "10.0.0.1")
    for _ in range(50):  # pressing on while refused does not push the wait further
        refused(lambda: room.admit("phone", "10.0.0.1"))
    clock.now += 1
    room.admit("phone", "10.0.0.1")
    monkeypatch.setattr(limits, "REMEMBERED", 3)
    room = LabelLimits(clock)
    for phone in ("a", "b", "c", "a"):
        room.admit(phone, f"network-{phone}")
    assert list(room._phones) == ["b", "c", "a"] and len(room._networks) == 3  # at the limit
    room.admit("d", "network-d")
    assert list(room._phones) == ["c", "a", "d"]  # past it: the longest unused forgotten
    assert list(room._networks) == ["network-c", "network-a", "network-d"]


# --- the canvas's PNG header, without a server ------------------------------------------------------

def png(width: int, height: int, *, crc: int | None = None, first: bytes = b"IHDR") -> bytes:
    """A greyscale PNG whose header says ``width`` x ``height`` (its pixels, black, only for sizes that fit)."""
    def chunk(kind: bytes, data: bytes, checksum: int | None = None) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data)
                                                                       if checksum is None else checksum)
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0), crc)
    rows = zlib.compress(b"\0" * (width + 1) * height) if width * height <= 2_000_000 else b""
    chunks = [header, chunk(b"IDAT", rows)] if first == b"IHDR" else [chunk(first, b"x"), header, chunk(b"IDAT", rows)]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks) + chunk(b"IEND", b"")


def as_sent(data: bytes) -> str:
    """A PNG as the page's canvas sends it."""
    return "data:image/png;base64," + base64.b64encode(data).decode()


def test_the_canvas_is_a_png_whose_header_is_right_and_at_most_1000_pixels_a_side():
    from join.routes import LabelError, _canvas_png

    for width, height in ((1, 1), (CANVAS_SIDE, CANVAS_SIDE), (MAX_CANVAS_SIDE, MAX_CANVAS_SIDE)):  # at the limits
        assert _canvas_png(as_sent(png(width, height))) == png(width, height)
    damaged = {"wider than the limit": png(MAX_CANVAS_SIDE + 1, 1), "taller": png(1, MAX_CANVAS_SIDE + 1),
               "no pixels": png(0, 0), "2^31 a side": png(2**31 - 1, 2**31 - 1),
               "a wrong checksum": png(1, 1, crc=0), "another chunk first": png(1, 1, first=b"tEXt"),
               "the signature only": png(1, 1)[:8], "cut in the header": png(1, 1)[:30]}
    for name, data in damaged.items():
        try:
            _canvas_png(as_sent(data))
        except LabelError as error:
            assert "damaged or too large" in str(error), name
        else:
            pytest.fail(f"{name}: taken")


# --- over HTTP: the routes in this process, and the server itself where it is under test -------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with join_server(tmp_path_factory.mktemp("join-hostile")) as running:
        yield running


@pytest.fixture
def listing(join_app) -> dict:
    return ask(join_app, "/join/models")[2]


def request(url: str, body: bytes | None = None, headers: dict | None = None,
            method: str | None = None) -> tuple[int, dict, dict | bytes]:
    """(status, headers, the reply: JSON as a dict, else its bytes)."""
    sent = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(sent, timeout=60) as reply:
            status, answered, data = reply.status, reply.headers, reply.read()
    except urllib.error.HTTPError as error:
        status, answered, data = error.code, error.headers, error.read()
    if data and answered.get("content-type", "").startswith("application/json"):
        return status, dict(answered), json.loads(data)
    return status, dict(answered), data


def ask(join: JoinApp, path: str, body: bytes | None = None, headers: dict | None = None,
        method: str | None = None) -> tuple[int, Mapping[str, str], dict | bytes]:
    """:func:`request` of the app in this process."""
    reply = join.client.request(method or ("GET" if body is None else "POST"), path, content=body, headers=headers)
    if reply.content and reply.headers.get("content-type", "").startswith("application/json"):
        return reply.status_code, reply.headers, reply.json()
    return reply.status_code, reply.headers, reply.content


def a_label(listing: dict, **changes) -> bytes:
    record = {"session": "hostile-test", "label": 3, "models": listing["version"],
              "canvas": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"
                        "60e6kgAAAABJRU5ErkJggg==",
              "pixels": [0] * 300 + [255] * 184 + [0] * 300,
              "answers": {model["key"]: [0.01] * 3 + [0.91] + [0.01] * 6 for model in listing["models"]}}
    return json.dumps({**record, **changes}).encode()


def post(join: JoinApp, body: bytes, address: str | None = None, **headers) -> tuple[int, dict, dict | bytes]:
    sent = {"Content-Type": "application/json", "X-Forwarded-For": address or next(_addresses)}
    sent.update({name.replace("_", "-"): value for name, value in headers.items()})
    return ask(join, "/join/label", body, sent, "POST")


def stored(join: JoinApp) -> int:
    return AudienceStore(join.audience).count()


def test_label_answers_every_method_but_post_with_405_allow_post(join_app):
    for method in ("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"):
        status, headers, _ = ask(join_app, "/join/label", b"{}" if method in ("PUT", "PATCH") else None,
                                     method=method)
        assert (status, headers.get("allow")) == (405, "POST"), method  # not the dashboard's page, nor GET, HEAD


@pytest.mark.slow
def test_label_is_json_from_the_servers_own_origin(join_app, listing):
    before = stored(join_app)
    # What a page of another origin could send without a preflight: text/plain, a form.
    for media_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""):
        status, _, reply = post(join_app, a_label(listing, session="cross-site"), Content_Type=media_type)
        assert status == 415 and "as JSON" in reply["error"], media_type
    port = join_app.port
    for origin in ("http://evil.example", "null", f"http://localhost:{port}", f"https://127.0.0.1:{port}",
                   f"http://127.0.0.1:{port + 1}", "http://127.0.0.1", f"http://127.0.0.1:{port}x"):
        status, _, reply = post(join_app, a_label(listing, session="cross-site"), Origin=origin)
        assert status == 403 and "own /join page" in reply["error"], origin
    assert stored(join_app) == before
    status, _, _ = post(join_app, a_label(listing, session="same-site"), Origin=f"http://127.0.0.1:{port}")
    assert status == 200  # the page's own origin
    status, _, _ = post(join_app, a_label(listing, session="same-site", label=4),
                        Content_Type="Application/JSON; charset=utf-8")
    assert status == 200  # no Origin (a script, curl): the other checks still apply


def test_bad_labels_are_400_with_the_pages_message_and_nothing_is_stored(join_app, listing):
    before = stored(join_app)
    keys = [model["key"] for model in listing["models"]]
    surrogate = a_label(listing).replace(b'"hostile-test"', b'"\\ud800"')
    assert b"\\ud800" in surrogate
    bad = {
        "1,000 brackets deep": b"[" * 1000 + b"]" * 1000,
        "50,000 deep": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        "a label of 5,000 digits": a_label(listing, label=1).replace(b'"label": 1', b'"label": ' + b"9" * 5000),
        "pixels of 400 digits": a_label(listing, pixels=[10**400] * 784),
        "answers: 5": a_label(listing, answers=5),
        "answers: null": a_label(listing, answers=None),
        "answers: [[0.1]]": a_label(listing, answers=[[0.1]]),
        "answers: empty": a_label(listing, answers={}),
        "answers of text": a_label(listing, answers={key: "0.1" * 10 for key in keys}),
        "answers of nulls": a_label(listing, answers={key: [None] * 10 for key in keys}),
        "answers of lists": a_label(listing, answers={key: [[0.1]] * 10 for key in keys}),
        "answers of 9": a_label(listing, answers={key: [0.1] * 9 for key in keys}),
        "answers of true": a_label(listing, answers={key: [True] * 10 for key in keys}),
        "answers of 1e999": a_label(listing, answers={key: [0.1] * 9 + [1e999] for key in keys}),
        "answers of -0.1": a_label(listing, answers={key: [0.1] * 9 + [-0.1] for key in keys}),
    }
    for name, body in bad.items():
        status, _, reply = post(join_app, body)
        assert status == 400 and "Traceback" not in reply["error"], (name, status, reply)
        expected = "answers are damaged" if name.startswith("answers") else "not a drawing" if "deep" in name \
            or "label" in name else "28x28 values"
        assert expected in reply["error"], (name, reply)
    sessions = {"a lone surrogate": surrogate, "none": a_label(listing, session=None),
                "a number": a_label(listing, session=5), "empty": a_label(listing, session=""),
                "65 characters": a_label(listing, session="s" * 65), "a space": a_label(listing, session="a b"),
                "markup": a_label(listing, session="<b>")}
    for name, session in sessions.items():
        status, _, reply = post(join_app, session)
        assert status == 400 and reply["error"] == "This page's session id is damaged: reload the page.", name
    for name, canvas in {"a wrong checksum": png(1, 1, crc=0), "1001 pixels wide": png(1001, 1),
                         "another chunk first": png(1, 1, first=b"tEXt")}.items():
        status, _, reply = post(join_app, a_label(listing, canvas=as_sent(canvas)))
        assert status == 400 and "damaged or too large" in reply["error"], name
    assert stored(join_app) == before


def test_labels_at_the_limits_of_what_is_valid_are_stored(join_app, listing):
    before = stored(join_app)
    uuid_like = "0b7e3a4c-31c2-4c8e-9a4f-8f6a3c2b1d0e"  # crypto.randomUUID(), as join.js makes it
    fallback = "1712345678901-0.123456789012345678"  # join.js without crypto.randomUUID
    for session in (uuid_like, fallback[:36], "s" * 64, "a"):
        assert post(join_app, a_label(listing, session=session))[0] == 200, session
    largest = as_sent(png(MAX_CANVAS_SIDE, MAX_CANVAS_SIDE))
    assert post(join_app, a_label(listing, session="largest-canvas", canvas=largest))[0] == 200
    assert stored(join_app) == before + 5


@pytest.mark.slow
def test_a_phone_past_its_rate_gets_429_with_retry_after_and_is_taken_a_second_later(join_app, listing):
    address, started, taken = next(_addresses), time.monotonic(), 0
    for press in range(limits.SESSION_BURST + 20):  # as fast as the server answers: the burst, what refilled
        status, headers, reply = post(join_app, a_label(listing, session="quick-phone", label=press % 10), address)
        if status != 200:
            break
        taken += 1
    allowed = limits.SESSION_BURST + (time.monotonic() - started) * limits.SESSION_PER_SECOND
    assert limits.SESSION_BURST <= taken <= allowed, (taken, allowed)  # at the limit
    assert status == 429 and headers["retry-after"] == "1"  # past it
    assert reply == {"error": "You are pressing faster than the room can keep up: wait a second.", "retry": True}
    time.sleep(1.05)
    assert post(join_app, a_label(listing, session="quick-phone"), address)[0] == 200


@pytest.mark.slow
def test_a_network_past_its_new_phones_a_minute_gets_429_and_another_network_does_not(join_app, listing):
    address = next(_addresses)
    for phone in range(limits.ADDRESS_NEW_SESSIONS_PER_MINUTE):
        assert post(join_app, a_label(listing, session=f"class-{phone}"), address)[0] == 200, phone
    status, headers, reply = post(join_app, a_label(listing, session="one-too-many"), address)
    assert status == 429 and 1 <= int(headers["retry-after"]) <= 60 and "new phones" in reply["error"]
    assert post(join_app, a_label(listing, session="one-too-many"), next(_addresses))[0] == 200


@pytest.mark.slow
def test_a_full_store_refuses_a_label_with_507_and_says_so(join_app, listing, tmp_path):
    """The store at MAX_STORED_DRAWINGS - 1: one more is stored; at the limit the next is refused."""
    full = tmp_path / "full.sqlite3"
    AudienceStore(full).add(label=1, canvas_png=b"x", pixels=np.zeros((28, 28)), answers={}, runs={}, session="seed")
    with closing(sqlite3.connect(full)) as connection, connection:  # closed: its WAL written into the file
        connection.execute(
            "INSERT INTO drawings (created, session, drawing_sha, label, canvas_png, pixels, answers, runs) "
            "SELECT created, session || n, drawing_sha, label, canvas_png, pixels, answers, runs FROM drawings, "
            "(WITH RECURSIVE n(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM n WHERE n < ?) SELECT n FROM n)",
            (MAX_STORED_DRAWINGS - 2,))
    assert AudienceStore(full).count() == MAX_STORED_DRAWINGS - 1 and not full.with_name("full.sqlite3-wal").exists()
    kept = join_app.audience.with_name("kept.sqlite3")
    post(join_app, a_label(listing, session="before-the-full-store"))  # the server's own store exists
    os.replace(join_app.audience, kept)
    os.replace(full, join_app.audience)
    try:
        assert post(join_app, a_label(listing, session="last-in"))[0] == 200  # at the limit
        status, headers, reply = post(join_app, a_label(listing, session="one-more"))
        assert status == 507 and f"full ({MAX_STORED_DRAWINGS:,} drawings)" in reply["error"]  # past it
        assert reply["retry"] is False
        assert AudienceStore(join_app.audience).count() == MAX_STORED_DRAWINGS
    finally:
        os.replace(kept, join_app.audience)


@pytest.mark.slow
def test_a_body_that_does_not_arrive_in_time_is_408_and_its_connection_dropped(server):
    """One client sends 1 kB of a 100 kB body and stops; another trickles a whole label over 7 s."""
    listing = request(f"{server.url}/join/models")[2]

    def connect(length: int, address: str) -> socket.socket:
        client = socket.create_connection(("127.0.0.1", server.port), timeout=BODY_SECONDS + 10)
        client.sendall(f"POST /join/label HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: "
                       f"application/json\r\nX-Forwarded-For: {address}\r\nContent-Length: {length}\r\n\r\n".encode())
        return client

    def reply_of(client: socket.socket) -> bytes:
        """All the server sends until it closes the connection (a kept-alive one: 5 s after the reply)."""
        data = b""
        while chunk := client.recv(65536):
            data += chunk
        return data

    body = a_label(listing, session="slow-but-there")
    slow = connect(len(body), next(_addresses))
    trickled: list[bytes] = []

    def trickle() -> None:
        for start in range(0, len(body), len(body) // 7 + 1):
            slow.sendall(body[start:start + len(body) // 7 + 1])
            time.sleep(1)
        trickled.append(reply_of(slow))

    thread = threading.Thread(target=trickle)
    thread.start()
    stalled = connect(100_000, next(_addresses))
    stalled.sendall(b"{" + b" " * 1000)
    started = time.monotonic()
    reply = reply_of(stalled)  # read until the server closes the connection
    waited = time.monotonic() - started
    thread.join()
    stalled.close()
    slow.close()
    assert reply.startswith(b"HTTP/1.1 408") and b"too long to arrive" in reply, reply[:300]
    assert BODY_SECONDS - 0.5 <= waited <= BODY_SECONDS + 3, waited  # and the connection closed at once
    assert trickled and trickled[0].startswith(b"HTTP/1.1 200"), trickled  # 7 s: slow, yet in time


def test_a_tampered_model_file_is_not_served_and_is_exported_again(join_app, listing):
    model = listing["models"][2]
    file = join_app.folder / "cache" / "onnx" / listing["version"] / model["url"].rsplit("/", 1)[1]

    def recorded() -> str:
        return {entry["file"]: entry["sha256"]
                for entry in json.loads((file.parent / "manifest.json").read_text())["models"]}[file.name]

    status, _, served = ask(join_app, model["url"])
    assert status == 200 and hashlib.sha256(served).hexdigest() == recorded()
    data, times = bytearray(file.read_bytes()), file.stat()
    data[len(data) // 2] ^= 0xFF  # one byte changed, the size and modification time kept
    file.write_bytes(bytes(data))
    os.utime(file, ns=(times.st_atime_ns, times.st_mtime_ns))
    for encoding in ("gzip", "identity"):
        status, headers, reply = ask(join_app, model["url"], headers={"Accept-Encoding": encoding})
        assert status == 503 and b"reload the page" in reply and "immutable" not in headers.get("cache-control", "")
    assert ask(join_app, "/join/models")[0] == 200  # the page reloaded: exported again
    status, _, served = ask(join_app, model["url"])
    assert status == 200 and hashlib.sha256(served).hexdigest() == recorded()


# --- the models' cache folder, in this process ---------------------------------------------------------

def models_reply(monkeypatch, cache: Path) -> tuple[int, dict]:
    from starlette.requests import Request

    from join import routes
    from mnist_core.workspace import Workspace

    monkeypatch.setenv("MNIST_CACHE_DIR", str(cache))
    monkeypatch.setenv("MNIST_RUNS_DIR", str(cache.parent / "runs"))
    scope = {"type": "http", "method": "GET", "path": "/join/models", "headers": [], "query_string": b""}
    response = asyncio.run(routes.models(Workspace(PROJECT_ROOT), Request(scope)))  # the shipped checkpoints
    return response.status_code, json.loads(response.body)


def test_models_when_the_cache_folder_cannot_be_written_is_a_503_that_says_so(monkeypatch, tmp_path):
    import tempfile

    real = tempfile.mkstemp

    def refused_under_cache(*args, dir=None, **kwargs):  # what chmod 0500 does to anyone but root
        if dir is not None and str(dir).startswith(str(tmp_path / "readonly")):
            raise PermissionError(13, "Permission denied", str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", refused_under_cache)
    status, reply = models_reply(monkeypatch, tmp_path / "readonly")
    assert status == 503 and "cannot write the models' files" in reply["error"]
    assert "Permission denied" in reply["error"]
    (tmp_path / "file").write_text("a file where the cache folder should be")
    status, reply = models_reply(monkeypatch, tmp_path / "file")
    assert status == 503 and "Not a directory" in reply["error"]


# --- the reverse proxy recipe (docs/PROXY.md), when nginx is here ------------------------------------

def nginx() -> str:
    found = os.environ.get("NGINX") or shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(path)), None)
    if not found:
        message = "nginx is not installed (or set NGINX=/path/to/nginx): the proxy recipe is not tried"
        if os.environ.get("CI"):  # .ci/run installs it: there, a missing nginx is a failure, not a skip
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.mark.slow
def test_behind_the_proxy_recipe_300_idle_connections_hold_up_nothing_and_are_closed(server, tmp_path):
    executable, port, listing = nginx(), free_port(), request(f"{server.url}/join/models")[2]
    recipe = (PROJECT_ROOT / "docs" / "nginx-mnist.conf").read_text()
    assert "listen 80;" in recipe and "server 127.0.0.1:8501" in recipe
    (tmp_path / "mnist.conf").write_text(recipe.replace("listen 80;", f"listen 127.0.0.1:{port};")
                                         .replace("server 127.0.0.1:8501", f"server 127.0.0.1:{server.port}"))
    temporary = " ".join(f"{kind}_temp_path {tmp_path / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                             "uwsgi", "scgi"))
    (tmp_path / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "") + "worker_processes 1; daemon off; "
        f"pid {tmp_path / 'nginx.pid'}; error_log {tmp_path / 'error.log'};\n"
        "events { worker_connections 1024; }\n"
        f"http {{ access_log off; {temporary} include {tmp_path / 'mnist.conf'}; }}\n")
    process = subprocess.Popen([executable, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                                "-c", str(tmp_path / "nginx.conf")], stderr=subprocess.PIPE)
    idle: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, process.stderr.read().decode()
                time.sleep(0.1)
        proxied = f"http://127.0.0.1:{port}"
        for _ in range(300):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=30))
        opened = time.monotonic()
        started = time.monotonic()
        assert request(f"{proxied}/_stcore/health")[0] == 200
        assert time.monotonic() - started < 2
        # A label through the proxy: Host and the scheme passed on (its Origin check), the phone's address too.
        status, _, reply = request(f"{proxied}/join/label", a_label(listing, session="through-the-proxy"),
                                   {"Content-Type": "application/json", "Origin": proxied}, "POST")
        assert status == 200, reply
        # The dashboard's websocket is passed on (101 Switching Protocols).
        with socket.create_connection(("127.0.0.1", port), timeout=10) as stream:
            stream.sendall(f"GET /_stcore/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           f"Sec-WebSocket-Version: 13\r\nOrigin: {proxied}\r\n\r\n".encode())
            assert stream.recv(4096).startswith(b"HTTP/1.1 101"), "the websocket was not passed on"
        # The idle connections are closed after client_header_timeout (10 s), not kept for ever.
        idle[0].settimeout(20)
        while idle[0].recv(4096):
            pass
        assert 9 <= time.monotonic() - opened <= 20
    finally:
        for connection in idle:
            connection.close()
        process.terminate()
        process.wait(timeout=10)


def test_the_proxy_recipe_says_the_servers_own_limits():
    """docs/nginx-mnist.conf repeats a few of the server's numbers (nginx cannot read Python): they must agree."""
    import re

    recipe = (PROJECT_ROOT / "docs" / "nginx-mnist.conf").read_text()
    from join.routes import MAX_LABEL_BYTES

    assert re.search(r"zone=mnist_labels:\S+ rate=(\d+)r/s", recipe).group(1) == f"{limits.ADDRESS_PER_SECOND:g}"
    assert re.search(r"limit_req zone=mnist_labels burst=(\d+)", recipe).group(1) == str(limits.ADDRESS_BURST)
    assert re.search(r"client_body_timeout (\d+)s", recipe).group(1) == str(BODY_SECONDS)
    assert int(re.search(r"location = /join/label \{\s*client_max_body_size (\d+)k", recipe).group(1)) * 1000 \
        == MAX_LABEL_BYTES
