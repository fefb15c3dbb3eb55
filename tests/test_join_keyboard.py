"""/join for every student: Clear and Undo below the canvas, and the way to the models' answers without drawing
(a keyboard, a screen reader): one of MNIST's test digits (GET /join/digit) or a photo, the answers said in a live
region, nothing of either stored; axe-core finds nothing on the page. Routes in this process, the page in Chromium."""

from __future__ import annotations

import html
import json
import re

import pytest

from mnist_core.audience import AudienceStore
from mnist_core.canvas import CANVAS_SIDE
from mnist_core.data import RAW_FILES, raw_folder
from mnist_core.models import contrast_ratio
from tests.support.axe import axe_violations, describe
from tests.support.images import draw_seven, png_bytes
from tests.support.join_phone import answers, join_server_with_test_digits, open_join, pick_a_test_digit
from tests.support.mnist_files import synthetic_digits, write_fake_mnist
from tools.browser import stroke, wait_for

MODELS = ("MLP", "CNN", "LeNet-5")


def config_of(join_app) -> dict:
    page = join_app.client.get("/join").text
    return json.loads(html.unescape(re.search(r'data-config="([^"]*)"', page).group(1)))


def test_a_test_digit_is_one_of_mnists_test_images_at_random(join_app, monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DATA_DIR", str(write_fake_mnist(tmp_path / "mnist")))
    assert config_of(join_app)["digit"] == "/join/digit"
    images, labels = synthetic_digits(40, seed=2)  # write_fake_mnist's 40 test digits
    seen = set()
    for _ in range(20):
        reply = join_app.client.get("/join/digit")
        digit = reply.json()
        assert reply.status_code == 200 and reply.headers["cache-control"] == "no-store"
        assert set(digit) == {"index", "label", "pixels"} and len(digit["pixels"]) == 784
        assert digit["pixels"] == images[digit["index"]].ravel().tolist() and digit["label"] == labels[digit["index"]]
        seen.add(digit["index"])
    assert len(seen) > 5  # chosen at random, not the same one each time
    assert join_app.client.post("/join/digit").status_code == 405


def test_without_mnist_the_page_offers_only_a_photo_and_the_route_says_so(join_app, monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "nowhere"))
    assert config_of(join_app)["digit"] is None  # join.js hides "Pick a test digit" and says why
    reply = join_app.client.get("/join/digit")
    assert reply.status_code == 503 and "upload a photo" in reply.json()["error"]
    assert str(tmp_path) not in reply.text  # the server's folders are not the phone's business
    root = write_fake_mnist(tmp_path / "damaged")
    images = raw_folder(root) / RAW_FILES[2]
    images.write_bytes(images.read_bytes()[:-10])  # a truncated file
    monkeypatch.setenv("MNIST_DATA_DIR", str(root))
    assert join_app.client.get("/join/digit").status_code == 503


# --- in Chromium --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with join_server_with_test_digits(tmp_path_factory.mktemp("join")) as running:
        yield running


def picture(page) -> str:
    return page.evaluate("document.getElementById('canvas').toDataURL('image/png')")


def answered(page) -> int:
    return page.evaluate("Number(document.body.dataset.answered || 0)")


def assert_answers_read_4_5_to_1(page) -> None:
    """Each model's answer digit, in its own colour, reads 4.5:1 on the page (WCAG AA): axe reports coloured large
    text as "incomplete", not as a violation, so it is measured here."""
    shown = page.evaluate("""() => ({ page: getComputedStyle(document.body).backgroundColor,
        digits: [...document.querySelectorAll('.answer .digit')].map((digit) => getComputedStyle(digit).color) })""")
    assert len(set(shown["digits"])) == 3, shown  # each model's own colour, not the page's ink
    for colour in shown["digits"]:
        assert contrast_ratio(colour, shown["page"]) >= 4.5, (colour, shown["page"])


def draw_and_wait(page, points) -> None:
    before = answered(page)
    stroke(page, points)
    wait_for(lambda: answered(page) > before and not page.evaluate("window.joinLastDigit() === null"),
             what="the answers to the stroke")


@pytest.mark.browser
def test_clear_and_undo_sit_below_the_canvas_and_a_stroke_from_its_top_right_corner_draws(server, browser):
    page = open_join(browser, server)
    box = page.locator("#canvas").bounding_box()
    for action in ("undo", "clear"):
        button = page.locator(f'[data-action="{action}"]').bounding_box()
        assert button["y"] >= box["y"] + box["height"] and button["height"] >= 44, (action, button, box)
    undo = page.locator('[data-action="undo"]')
    assert undo.is_disabled()  # nothing to undo yet
    blank = picture(page)
    # A 7's top bar, from the canvas's top-right corner (under the old Clear button) to the left.
    corner = (box["x"] + box["width"] - 10, box["y"] + 10)
    assert page.evaluate("([x, y]) => document.elementFromPoint(x, y).id", list(corner)) == "canvas"
    draw_and_wait(page, [(corner[0] - box["width"] * 0.6 * step / 10, corner[1]) for step in range(11)])
    scale = CANVAS_SIDE / box["width"]
    ink = page.evaluate("""([x, y]) => document.getElementById('canvas').getContext('2d')
        .getImageData(x, y, 1, 1).data[0]""", [round((box["width"] - 10) * scale), round(10 * scale)])
    assert ink > 200 and not undo.is_disabled()  # drawn where it started
    bar = picture(page)
    draw_and_wait(page, [(corner[0] - box["width"] * (0.05 + 0.3 * step / 10),
                          corner[1] + box["height"] * 0.8 * step / 10) for step in range(11)])
    assert all(answers(page).values())
    said = page.locator("#said")
    assert said.get_attribute("aria-live") == "polite" and all(f"{name} says" in said.inner_text() for name in MODELS)
    page.locator('[data-label="7"]').click()
    wait_for(lambda: "Stored as a 7" in page.locator("#stored").inner_text(), what="the label stored")
    # Undo takes the last stroke away: the canvas is the bar again, answered again, and no longer the one stored.
    before = answered(page)
    undo.click()
    wait_for(lambda: answered(page) > before, what="the answers after Undo")
    assert picture(page) == bar and page.locator("#stored").inner_text() == ""
    undo.click()  # the last stroke: an empty canvas, nothing to undo
    assert picture(page) == blank and undo.is_disabled() and not any(answers(page).values())
    assert page.locator("#labelling").is_hidden()
    draw_and_wait(page, [(corner[0] - box["width"] * 0.6 * step / 10, corner[1]) for step in range(11)])
    page.locator('[data-action="clear"]').click()
    assert picture(page) == blank and undo.is_disabled() and page.locator("#status").inner_text() == "Draw a digit."
    page.context.close()


@pytest.mark.browser
def test_a_keyboard_gets_the_three_answers_from_a_test_digit_or_a_photo_and_nothing_is_stored(server, browser):
    page = open_join(browser, server)
    # Listened for from the start: Playwright asks Chromium to intercept file dialogs when the first listener comes,
    # and a dialog opened before that is a native one (no event). Events arrive during Playwright calls only.
    choosers = []
    page.on("filechooser", lambda chooser: choosers.append(chooser))
    store = AudienceStore(server.audience)
    stored_before = store.count()
    pick_a_test_digit(page)  # Tab, Tab, …, Enter
    said = page.locator("#said").inner_text()
    assert said.count(" says ") == 3 and all(f"{name} says {answers(page)[key]}" in said
                                            for name, key in zip(MODELS, ("mlp", "cnn", "lenet5"))), said
    assert "MNIST test image" in page.locator("#status").inner_text()
    assert page.locator("#labelling").is_hidden()  # MNIST's digit: never offered as the class's drawing
    assert page.evaluate("window.joinLastDigit()") is None
    assert_answers_read_4_5_to_1(page)
    # The digit is on the canvas as the models see it.
    assert picture(page) != page.evaluate("""(() => { const c = document.createElement('canvas');
        c.width = c.height = document.getElementById('canvas').width; const p = c.getContext('2d');
        p.fillStyle = '#000'; p.fillRect(0, 0, c.width, c.height); return c.toDataURL('image/png'); })()""")
    # A photo of a 7, dark ink on light paper, chosen with the keyboard too.
    before = answered(page)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.action") == "upload"
    page.keyboard.press("Enter")
    wait_for(lambda: page.evaluate("true") and choosers, what="the file chooser")
    choosers[0].set_files(files=[{"name": "seven.jpg", "mimeType": "image/jpeg",
                                    "buffer": png_bytes(draw_seven(size=400, box=(90, 60, 310, 340), ink=30,
                                                                   paper=235), format="JPEG")}])
    wait_for(lambda: answered(page) > before and "Your photo" in page.locator("#status").inner_text(),
             what="the answers to the photo")
    assert answers(page)["lenet5"] == "7" and page.locator("#said").inner_text().count(" says ") == 3
    assert page.locator("#labelling").is_hidden() and store.count() == stored_before
    found = axe_violations(page)
    assert not found, describe([violation for group in found.values() for violation in group])
    # A stroke on the photo starts a drawing of one's own, which may be labelled.
    box = page.locator("#canvas").bounding_box()
    draw_and_wait(page, [(box["x"] + box["width"] / 2, box["y"] + box["height"] * (0.15 + 0.07 * step))
                         for step in range(11)])
    assert page.locator("#labelling").is_visible()
    page.context.close()


@pytest.mark.browser
def test_axe_finds_nothing_on_join_in_the_dark_with_a_drawing(server, browser):
    page = open_join(browser, server, color_scheme="dark")
    box = page.locator("#canvas").bounding_box()
    draw_and_wait(page, [(box["x"] + box["width"] / 2, box["y"] + box["height"] * (0.15 + 0.07 * step))
                         for step in range(11)])
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    assert_answers_read_4_5_to_1(page)
    found = axe_violations(page)
    assert not found, describe([violation for group in found.values() for violation in group])
    page.context.close()
