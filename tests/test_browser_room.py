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
    assert wrong.get_by_text(PARTICIPANT_NOTE).count() == 1
    wrong.close()

    local = open_audience(browser, f"{server.url}/audience")  # on the server machine itself
    local.get_by_role("button", name="Clear…").wait_for(timeout=30_000)
    local.close()
    assert store.count() == 2
