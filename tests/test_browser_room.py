"""In Chromium, against the real server listening on every interface: a browser reaching it by the
machine's network address is a participant, as a student's laptop in the room is; the presenter link
makes it the presenter; a browser on the machine itself is the presenter without the key."""

from __future__ import annotations

import urllib.error
import urllib.request

import numpy as np
import pytest

from mnist_core.audience import AudienceStore
from mnist_core.room import network_address
from tools.browser import streamlit_server, wait_until_idle

pytestmark = pytest.mark.browser

PARTICIPANT_NOTE = "You are looking at the presenter's screen"


@pytest.fixture(scope="module")
def room_server(tmp_path_factory):
    address = network_address()
    if address is None:
        pytest.skip("This machine has no network address other than loopback: no participant can reach it.")
    folder = tmp_path_factory.mktemp("room")
    store = AudienceStore(folder / "audience.sqlite3")
    for index in range(2):
        store.add(label=3, canvas_png=f"drawing {index}".encode(), pixels=np.zeros((28, 28), np.uint8),
                  answers={key: np.eye(10)[3] for key in ("mlp", "cnn", "lenet5")}, runs={}, session=f"s{index}")
    env = {"MNIST_RUNS_DIR": str(folder / "runs"), "MNIST_AUDIENCE_DB": str(store.path),
           "MNIST_CACHE_DIR": str(folder / "cache"), "MNIST_PRESENTER_KEY": "a-key-for-the-tests-0123456789"}
    with streamlit_server(env, address="0.0.0.0") as running:
        yield running, running.url.replace("127.0.0.1", address), store


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            return reply.status
    except urllib.error.HTTPError as error:
        return error.code


def open_audience(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_text("2 drawings from 2 sessions").wait_for(timeout=90_000)
    wait_until_idle(page, timeout=60)
    return page


def test_a_participant_reads_the_audience_page_and_the_presenter_link_opens_the_door(room_server, browser):
    server, remote, store = room_server
    assert "Presenter link" in server.output() and "?key=a-key-for-the-tests-0123456789" in server.output()
    participant = open_audience(browser, f"{remote}/audience")
    # Drawn with the page's controls, which a busy server may send after the first idle moment (CI, once)
    participant.get_by_text(PARTICIPANT_NOTE).wait_for(timeout=60_000)
    assert participant.get_by_text(PARTICIPANT_NOTE).count() == 1
    assert participant.get_by_role("button", name="Clear…").count() == 0
    assert participant.get_by_text("Moderate:").count() == 0
    assert status(f"{remote}/audience/export.zip") == 403
    participant.goto(f"{remote}/train", wait_until="domcontentloaded")
    participant.get_by_text("training is the presenter's").wait_for(timeout=60_000)
    assert participant.get_by_role("button", name="Train").count() == 0
    participant.close()

    presenter = open_audience(browser, f"{remote}/audience?key=a-key-for-the-tests-0123456789")
    assert "key=" not in presenter.url  # the key left the address bar for a cookie
    cookie = next(c for c in presenter.context.cookies() if c["name"] == "mnist_presenter")
    assert cookie["httpOnly"]
    presenter.get_by_role("button", name="Clear…").wait_for(timeout=30_000)
    assert presenter.get_by_text(PARTICIPANT_NOTE).count() == 0
    reply = presenter.request.get(f"{remote}/audience/export.zip")
    assert reply.status == 200 and reply.body()[:2] == b"PK"
    presenter.close()

    wrong = open_audience(browser, f"{remote}/audience?key=guess")
    wrong.get_by_text(PARTICIPANT_NOTE).wait_for(timeout=60_000)
    assert wrong.get_by_text(PARTICIPANT_NOTE).count() == 1
    wrong.close()

    local = open_audience(browser, f"{server.url}/audience")  # on the server machine itself
    local.get_by_role("button", name="Clear…").wait_for(timeout=30_000)
    local.close()
    assert store.count() == 2


def test_a_phone_over_the_rooms_plain_http_decodes_the_webassemblys_brotli_itself(room_server, browser):
    """By the network address over http:// Chromium accepts no brotli (only from HTTPS or localhost), so /join sends
    ONNX Runtime's WebAssembly as its .br file (2.45 MB, not gzip's 3.81) and the page decodes it in a worker with
    the vendored decoder: the decoded bytes are the file's, the three models load, the bar counts what was sent."""
    from join.compression import accepted
    from join.routes import RUNTIME_WASM, STATIC

    _, remote, _ = room_server
    page = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True).new_page()
    requests, workers = [], []
    page.on("request", lambda request: requests.append(request))
    page.on("worker", lambda worker: workers.append(worker))
    page.goto(f"{remote}/join")
    page.wait_for_selector("body[data-ready=true]", timeout=120_000)
    wasm = next(request for request in requests if request.url.endswith((".wasm", ".wasm.br")))
    assert "br" not in accepted(wasm.all_headers().get("accept-encoding", "")), wasm.all_headers()
    assert wasm.url.endswith(".wasm.br") and wasm.response().all_headers()["content-encoding"] == "identity"
    assert int(wasm.response().all_headers()["content-length"]) == (STATIC / (RUNTIME_WASM + ".br")).stat().st_size
    assert [worker.url.rsplit("/", 1)[1] for worker in workers] == ["brotli_worker.js"]
    listing = page.evaluate("fetch('/join/models').then((reply) => reply.json())")
    runtime = listing["runtime"]
    assert page.evaluate("Number(document.body.dataset.downloaded)") == \
        runtime["download"] + runtime["decode"]["download"] + sum(model["download"] for model in listing["models"])
    decoded = page.evaluate("""async ([decoder, url]) => {  // (no crypto.subtle over http://: compared by byte)
        const { BrotliDecode } = await import(decoder);
        const body = new Int8Array(await (await fetch(url)).arrayBuffer());
        const started = performance.now();
        const decoded = BrotliDecode(body);
        const seconds = (performance.now() - started) / 1000;
        const original = new Int8Array(await (await fetch(url.slice(0, -3))).arrayBuffer());  // the .wasm, gzipped
        return { seconds, length: decoded.length, same: original.length === decoded.length
                 && original.every((byte, index) => byte === decoded[index]) };
    }""", [runtime["decode"]["url"], runtime["url"]])
    assert decoded["length"] == (STATIC / RUNTIME_WASM).stat().st_size and decoded["same"]
    print(f"the WebAssembly's brotli decoded in the page in {decoded['seconds']:.2f} s (a second time)")
    page.context.close()
