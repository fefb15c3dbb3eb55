"""Fool the models in real Chromium: two phones on /join and the projector's Audience page, one server."""

from __future__ import annotations

import pytest

from mnist_core.audience import AudienceStore
from mnist_core.game import Game
from mnist_core.room import nickname, phone_session
from tests.support.mnist_files import real_data_root_or_none
from tests.test_join import draw
from tools.browser import streamlit_server, wait_for
from tools.digit_strokes import DIGITS

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def phone_page(browser, url: str, secret: str):
    """A phone on /join whose session (kept in its localStorage) is ``secret``."""
    context = browser.new_context(**PHONE)
    context.add_init_script(f"localStorage.setItem('mnist-join-session', '{secret}')")
    page = context.new_page()
    page.goto(f"{url}/join")
    wait_for(lambda: page.evaluate("document.body.dataset.ready") == "true", timeout=90, what="the models loaded")
    return page


def test_two_phones_play_a_round_and_the_projector_shows_the_scores(tmp_path, browser):
    store_path = tmp_path / "audience.sqlite3"
    env = {"MNIST_RUNS_DIR": str(tmp_path / "runs"), "MNIST_AUDIENCE_DB": str(store_path)}
    if (root := real_data_root_or_none()) is not None:
        env["MNIST_DATA_DIR"] = str(root.resolve())
    with streamlit_server(env) as server:
        drawer = phone_page(browser, server.url, "drawer-phone")
        reader = phone_page(browser, server.url, "reader-phone")
        assert drawer.locator("#game").is_hidden()  # no round yet
        Game(AudienceStore(store_path)).start(minutes=5)  # as the presenter's button does
        for phone in (drawer, reader):
            wait_for(lambda phone=phone: phone.evaluate("document.body.dataset.round") == "running", timeout=20,
                     what="the round on the phone")
            assert "Fool the models!" in phone.locator("#game").inner_text()
        # The drawer draws a 7 and says it is a 1: the models read the 7, so all of them are "wrong".
        draw(drawer, DIGITS[7])
        wait_for(lambda: drawer.locator('.answer[data-model="mlp"] .digit').inner_text() == "7", timeout=30,
                 what="the drawer's answers")
        drawer.locator('#labels button[data-label="1"]').click()
        wait_for(lambda: "Stored as a 1" in drawer.locator("#stored").inner_text(), timeout=30, what="stored")
        # The reader is offered it (without its label) and reads a 1, as the drawer meant: confirmed.
        wait_for(lambda: reader.evaluate("document.body.dataset.checking"), timeout=30, what="the check card")
        assert reader.locator("#check").is_visible() and "1" not in reader.locator("#check h2").inner_text()
        reader.locator('#check-digits button[data-check="1"]').click()
        wait_for(lambda: reader.locator("#check").is_hidden(), timeout=20, what="the check answered")
        wait_for(lambda: int(drawer.evaluate("document.body.dataset.points || '0'")) == 3, timeout=20,
                 what="three points on the drawer's phone")
        assert "3 points" in drawer.locator("#game-score").inner_text()
        drawer.reload()  # a phone that reloads keeps its nickname and points (its session is in localStorage)
        wait_for(lambda: drawer.evaluate("document.body.dataset.points") == "3", timeout=90, what="points kept")
        late = phone_page(browser, server.url, "late-phone")  # a late joiner plays at once
        wait_for(lambda: late.evaluate("document.body.dataset.round") == "running", timeout=20, what="late joiner")
        # The projector: the drawer's nickname on the leaderboard.
        projector = browser.new_page(viewport={"width": 1280, "height": 720})
        projector.goto(f"{server.url}/audience?present=1")
        name = nickname(phone_session("drawer-phone"))
        wait_for(lambda: projector.get_by_text("Hardest to fool").count(), timeout=90, what="the game's scores")
        wait_for(lambda: projector.locator("table").get_by_text(name).count(), timeout=30, what="the leaderboard")
        assert projector.locator('[data-testid="stException"]').count() == 0
