"""Take the screenshots of the README and docs/: one per page, in headless Chromium, on the real app.

    MNIST_DATA_DIR=../shared/mnist .venv/bin/python -m tools.take_screenshots   (or: make screenshots)

Starts `streamlit run app.py` on a free port (user runs go to a temporary folder), then
saves docs/overview.png, docs/train.png, docs/compare.png, docs/robustness.png,
docs/draw.png, docs/why.png and docs/audience.png, and at 1280x720 and 1920x1080 the confusion
and difference matrices, the Robustness page and the Draw page in projector mode
(docs/confusion_*.png, docs/difference_*.png, docs/robustness_*.png, docs/present_*.png, with "Nudge it"
open and in the dark theme), the Audience page's QR code in projector mode and /join on a phone
(docs/audience_present_1280x720.png, docs/join_390x844.png), and a round of Fool the models: a phone with its
points and the projector's scores (docs/join_game_390x844.png, docs/game_projector_1280x720.png and _1920x1080).

    … -m tools.take_screenshots --only game      # the game's screenshots alone (a minute)
    … -m tools.take_screenshots --only join      # /join on a phone alone (docs/join_390x844.png, join_de_390x844.png)
"""

from __future__ import annotations

import sys
import tempfile
import time

from mnist_core.canvas import CANVAS_SIDE
from tools.browser import PROJECT_ROOT, canvas_box, chromium, chromium_path, streamlit_server, stroke
from tools.digit_strokes import DIGITS

OUT = PROJECT_ROOT / "docs"
VIEWPORT = {"width": 1440, "height": 900}


def settle(page, seconds: float = 2.0) -> None:
    page.wait_for_load_state("networkidle")
    time.sleep(seconds)


def screens(browser):
    """A fresh page at a projector's 1280x720, then at 1920x1080, with its size as "1280x720"."""
    for width, height in ((1280, 720), (1920, 1080)):
        context = browser.new_context(viewport={"width": width, "height": height})
        yield context.new_page(), f"{width}x{height}"
        context.close()


def draw_seven(page) -> None:
    box = canvas_box(page)
    left, top, scale = box["x"], box["y"], box["width"] / CANVAS_SIDE  # the canvas grows on a tall projector screen
    corners = [(left + scale * x, top + scale * y) for x, y in ((70, 60), (210, 60), (150, 150), (115, 235))]
    points = [corners[0]] + [
        (x0 + (x1 - x0) * step / 12, y0 + (y1 - y0) * step / 12)
        for (x0, y0), (x1, y1) in zip(corners, corners[1:]) for step in range(1, 13)
    ]
    stroke(page, points)


def game(browser, url: str, store_path: str) -> None:
    """A round of Fool the models: three phones each draw a digit and label it as another (the models read what
    was drawn), classmates confirm them; then the drawer's phone and the projector's scores."""
    from mnist_core.audience import AudienceStore
    from mnist_core.game import Game

    Game(AudienceStore(store_path)).start(minutes=5)
    phones: list = []
    for number, (drawn, said) in enumerate(((7, 1), (4, 9), (0, 6))):  # a 7 said to be a 1: read as a 1, it fools
        context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, device_scale_factor=2)
        context.add_init_script(f"localStorage.setItem('mnist-join-session', 'screenshot-phone-{number}')")
        phone = context.new_page()
        phone.goto(f"{url}/join")
        phone.wait_for_selector("body[data-round=running]", timeout=90_000)
        box = phone.locator("canvas").bounding_box()
        scale = box["width"] / CANVAS_SIDE
        for points in DIGITS[drawn]:
            stroke(phone, [(box["x"] + x * scale, box["y"] + y * scale) for x, y in points])
        phone.wait_for_selector(f'.answer[data-digit="{drawn}"]', timeout=30_000)
        phone.locator(f'#labels [data-label="{said}"]').click()
        phone.get_by_text(f"Stored as a {said}").wait_for(timeout=30_000)
        phones.append(phone)
    # Each drawing is offered to one classmate (a phone has one at a time): read each as its drawer said, until
    # all three are read.
    labels = {drawing.id: drawing.label for drawing in AudienceStore(store_path).drawings()}
    read: set[int] = set()
    deadline = time.monotonic() + 60
    while len(read) < len(labels) and time.monotonic() < deadline:
        for phone in phones:
            offered = phone.evaluate("document.body.dataset.checking")
            if offered and int(offered) not in read:
                phone.locator(f'#check-digits button[data-check="{labels[int(offered)]}"]').click()
                read.add(int(offered))
        time.sleep(0.5)
    drawer = phones[0]
    drawer.wait_for_function("Number(document.body.dataset.points || 0) > 0", timeout=30_000)
    drawer.locator('[data-action="clear"]').click()
    settle(drawer, 1)
    drawer.screenshot(path=str(OUT / "join_game_390x844.png"))
    for sized, size in screens(browser):
        sized.goto(f"{url}/audience?present=1")
        sized.get_by_text("Fool the models").first.wait_for(timeout=60_000)
        settle(sized, 6)  # the scores refresh every few seconds
        sized.screenshot(path=str(OUT / f"game_projector_{size}.png"))
    for phone in phones:
        phone.context.close()


def join(browser, url: str) -> None:
    """/join on a phone: a 7 drawn and labelled (docs/join_390x844.png); and a German phone that picked one of
    MNIST's test digits with the keyboard instead of drawing (docs/join_de_390x844.png, MNIST needed)."""
    phone = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True).new_page()
    phone.goto(f"{url}/join")
    phone.wait_for_selector("body[data-ready=true]", timeout=90_000)
    box = phone.locator("canvas").bounding_box()
    scale = box["width"] / CANVAS_SIDE
    for points in DIGITS[7]:
        stroke(phone, [(box["x"] + x * scale, box["y"] + y * scale) for x, y in points])
    phone.wait_for_selector('.answer[data-digit="7"]', timeout=30_000)
    phone.locator('[data-label="7"]').click()
    phone.get_by_text("Stored as a 7").wait_for(timeout=30_000)
    phone.screenshot(path=str(OUT / "join_390x844.png"), full_page=True)
    phone.context.close()
    german = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, locale="de-DE").new_page()
    german.goto(f"{url}/join")
    german.wait_for_selector("body[data-ready=true]", timeout=90_000)
    if german.locator('[data-action="pick"]').is_visible():
        german.locator('[data-action="pick"]').focus()
        german.keyboard.press("Enter")
        german.wait_for_function("document.getElementById('said').textContent.length > 0", timeout=30_000)
        german.screenshot(path=str(OUT / "join_de_390x844.png"), full_page=True)
    german.context.close()


def main(argv: list[str] | None = None) -> int:
    only = argv if argv is not None else sys.argv[1:]
    only_game, only_join = only == ["--only", "game"], only == ["--only", "join"]
    executable = chromium_path()
    if executable is None:
        print("Chromium is needed: apt-get install -y chromium", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as runs, \
            streamlit_server({"MNIST_RUNS_DIR": runs, "MNIST_AUDIENCE_DB": f"{runs}/audience.sqlite3"}) as server, \
            chromium(executable) as browser:
        url = server.url
        if only_game:
            game(browser, url, f"{runs}/audience.sqlite3")
            print(f"Saved the game's screenshots in {OUT}")
            return 0
        if only_join:
            join(browser, url)
            print(f"Saved /join's screenshots in {OUT}")
            return 0
        page = browser.new_context(viewport=VIEWPORT, device_scale_factor=1).new_page()

        page.goto(f"{url}/")
        page.get_by_role("heading", name="MNIST model comparison").wait_for(timeout=60_000)
        page.get_by_role("heading", name="MNIST test digits").wait_for(timeout=60_000)
        page.locator('[data-testid="stImage"]').nth(29).wait_for(timeout=60_000)  # the whole gallery
        settle(page)
        page.screenshot(path=str(OUT / "overview.png"))

        page.goto(f"{url}/draw")
        draw_seven(page)
        page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=30_000)
        settle(page)
        page.screenshot(path=str(OUT / "draw.png"))
        page.get_by_text("Why? What the models look at").click()  # the first time reads the training set
        page.get_by_text("What it reminds each model of").wait_for(timeout=120_000)
        page.locator("img[alt^='a 7 ·']").first.wait_for(timeout=120_000)
        settle(page, 4)
        page.get_by_text("Why? What the models look at").evaluate("e => e.scrollIntoView({block: 'start'})")
        time.sleep(1)
        page.screenshot(path=str(OUT / "why.png"))
        page.get_by_text("Why? What the models look at").click()  # closed again for the pictures below

        page.goto(f"{url}/compare")
        page.get_by_role("heading", name="Compare runs").wait_for(timeout=60_000)
        page.get_by_role("heading", name="Confusion matrices").wait_for(timeout=90_000)
        settle(page, 3)
        page.screenshot(path=str(OUT / "compare.png"))
        # The matrices and where two runs differ, as a projector (1280x720) and a big screen show them.
        for sized, size in screens(browser):
            sized.goto(f"{url}/compare")
            for heading, name in (("Confusion matrices", "confusion"), ("Where A and B differ", "difference")):
                sized.get_by_role("heading", name=heading).wait_for(timeout=90_000)
                settle(sized, 2)
                sized.get_by_role("heading", name=heading).scroll_into_view_if_needed()
                time.sleep(1)
                sized.screenshot(path=str(OUT / f"{name}_{size}.png"))

        def robustness(shown, name: str) -> None:
            shown.goto(f"{url}/robustness")
            shown.get_by_role("heading", name="Occlusion").wait_for(timeout=120_000)
            settle(shown)
            shown.get_by_role("heading", name="Horizontal shift").scroll_into_view_if_needed()
            time.sleep(1)
            shown.screenshot(path=str(OUT / f"{name}.png"))

        robustness(page, "robustness")
        for sized, size in screens(browser):  # each page is used before the next size opens
            robustness(sized, f"robustness_{size}")

        # Projector mode (?present=1): the Draw page on one screen, as a projector and a big screen show it.
        for sized, size in screens(browser):
            sized.goto(f"{url}/draw?present=1")
            canvas_box(sized)
            time.sleep(3)  # on a tall screen the canvas grows once the browser has told the server its height
            draw_seven(sized)
            sized.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=30_000)
            settle(sized)
            sized.evaluate("window.scrollTo(0, 0); document.querySelector('[data-testid=stMain]').scrollTo(0, 0)")
            time.sleep(0.5)
            sized.locator(".st-key-audience_label_7 button").click()  # the audience's first drawing
            sized.get_by_text("Stored as a 7").first.wait_for(timeout=30_000)
            sized.evaluate("window.scrollTo(0, 0); document.querySelector('[data-testid=stMain]').scrollTo(0, 0)")
            time.sleep(0.5)
            sized.screenshot(path=str(OUT / f"present_{size}.png"))
            if size == "1280x720":  # "Nudge it" open: its sliders in a column beside the answers
                sized.get_by_text("Nudge it", exact=True).click()
                sized.locator('[data-testid="stSlider"]').nth(4).wait_for(timeout=30_000)
                settle(sized)
                sized.screenshot(path=str(OUT / f"present_nudge_{size}.png"))
        # A dark room: the same screen in the dark theme (the page reloads into it once).
        dark = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
        dark.goto(f"{url}/draw?present=1&room=dark")
        time.sleep(5)
        canvas_box(dark)
        time.sleep(3)
        draw_seven(dark)
        dark.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=30_000)
        settle(dark)
        dark.screenshot(path=str(OUT / "present_dark_1920x1080.png"))
        dark.context.close()
        # The projector's Audience page: the QR code of /join; and /join on a phone.
        for sized, size in screens(browser):
            if size == "1280x720":
                sized.goto(f"{url}/audience?present=1")
                sized.get_by_text("Draw on your phone").wait_for(timeout=60_000)
                settle(sized)
                sized.screenshot(path=str(OUT / f"audience_present_{size}.png"))
        join(browser, url)
        page.goto(f"{url}/audience")
        page.get_by_role("heading", name="Confusion matrices").wait_for(timeout=60_000)
        settle(page)
        page.screenshot(path=str(OUT / "audience.png"))
        game(browser, url, f"{runs}/audience.sqlite3")

        page.goto(f"{url}/train")
        page.get_by_role("heading", name="Train models").wait_for(timeout=60_000)
        page.get_by_role("button", name="Train", exact=True).click()
        # After the first epoch, which the best recipe precedes by making its canvas-style digits (~1 min).
        page.get_by_text("test accuracy").first.wait_for(timeout=300_000)
        settle(page, 1)
        page.screenshot(path=str(OUT / "train.png"))
        page.get_by_role("button", name="Stop").click()
    print(f"Saved screenshots in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
