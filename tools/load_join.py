"""Load test of /join: a class of phones on one server, each loading the page once and then labelling a
drawing every few seconds, at the protocol level (HTTP, as a phone's page speaks it; its drawing and
models run on the phone, so the server sees only these requests).

    MNIST_DATA_DIR=../shared/mnist .venv/bin/python -m tools.load_join            # 60 phones, 60 s
    .venv/bin/python -m tools.load_join --browsers 4                               # 4 of them real Chromium pages
    .venv/bin/python -m tools.load_join --phones 5 --seconds 10 --json             # the suite's quick run
    .venv/bin/python -m tools.load_join --servers 2 --audience-db postgresql://…   # 2 app servers, one PostgreSQL
    .venv/bin/python -m tools.load_join --game                                     # a round of Fool the models

Starts its own `streamlit run app.py` on 127.0.0.1 (never another host), with a fresh audience store, and
stops it; --servers 2 starts two, each with a runs folder of its own as on two machines, the phones split
between them, on the store --audience-db names (the drawings it adds stay there: give it a database of its
own). Then each server's Audience page is opened in Chromium, where installed, and must show every drawing
(when the store was empty before).
Bounded: at most --phones phones (≤ 200) for --seconds (≤ 600) on --servers (≤ 4), then every phone stops.
Reports each phone's first load (page, models list, scripts, ONNX Runtime's WebAssembly, the three models,
compressed as a browser asks), the label → stored latency (p50, p95, max), errors, the server's CPU time,
and whether every stored press is in the store (nothing lost). Exit code 1 when a goal is missed: p95 ≤ 1 s,
no error, nothing lost, every Audience page showing what the store holds.

--game plays a round of Fool the models (mnist_core.game) meanwhile: every other drawing is labelled as a digit
it is not (the models then read it "wrong"), and after each label a phone asks for a classmate's drawing to
check (GET /join/check) and answers it (POST /join/check), and every few seconds asks for its points
(GET /join/game), as the page does. Its goals: check → stored p95 ≤ 1 s too, and every answer acknowledged is in
the store.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mnist_core.canvas import CANVAS_SIDE
from tools.browser import streamlit_server
from tools.digit_strokes import DIGITS, render

MAX_PHONES, MAX_SECONDS = 200, 600
MAX_SERVERS = 4  # app servers on this one machine, each a Streamlit process
GOAL_P95_SECONDS = 1.0
GAME_POLL_SECONDS = 4  # how often a phone's page asks for its points in a round (join.js: setInterval(pollGame))


@dataclass
class Report:
    phones: int
    seconds: float
    every_seconds: float
    first_load_p50: float = 0.0
    first_load_p95: float = 0.0
    first_load_bytes: int = 0  # one phone's download
    labels: int = 0
    stored: int = 0  # in the store afterwards
    label_p50: float = 0.0
    label_p95: float = 0.0
    label_max: float = 0.0
    errors: list[str] = field(default_factory=list)
    server_cpu_seconds: float = 0.0
    browsers: int = 0  # of the phones, how many were Chromium pages drawing with the mouse
    browser_labels: int = 0
    browser_label_p95: float = 0.0  # pressing the digit → "Stored as" on that page
    browser_right: float = 0.0  # the share of the browser phones' answers that were the digit drawn
    servers: int = 1
    audience_db: str = ""  # the store, as shown (no password)
    pages_shown: list[int] | None = None  # the drawings each server's Audience page shows (None: no Chromium)
    game: bool = False  # a round of Fool the models was played (--game)
    checks: int = 0  # classmates' answers acknowledged
    checks_stored: int = 0  # of them, in the store afterwards
    check_p50: float = 0.0
    check_p95: float = 0.0
    game_polls: int = 0  # the phones' "my points" requests meanwhile
    game_poll_p95: float = 0.0

    @property
    def met(self) -> bool:
        pages_agree = self.pages_shown is None or all(shown == self.stored for shown in self.pages_shown)
        game = not self.game or (self.check_p95 <= GOAL_P95_SECONDS and self.checks_stored == self.checks)
        return self.label_p95 <= GOAL_P95_SECONDS and not self.errors and self.stored == self.labels and pages_agree \
            and game


def percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))] if ordered else 0.0


def fetch(url: str, data: bytes | None = None, phone: int | None = None) -> tuple[int, bytes, int]:
    """GET (compressed, as a browser asks) or POST ``url``: the status, the body and the bytes that came.

    ``phone``: the phone's own network address, as a classroom's Wi-Fi gives each phone one. Every phone of
    the test reaches the server from this machine; the server takes X-Forwarded-For from loopback alone (a
    proxy on the same machine), so this counts each against its own address's limits, not all against one."""
    headers = {"Accept-Encoding": "gzip"} if data is None else {"Content-Type": "application/json"}
    if phone is not None:
        headers["X-Forwarded-For"] = f"10.77.{phone // 250}.{phone % 250 + 1}"
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            status, body, encoding = reply.status, reply.read(), reply.headers.get("Content-Encoding")
    except urllib.error.HTTPError as error:
        status, body, encoding = error.code, error.read(), error.headers.get("Content-Encoding")
    return status, gzip.decompress(body) if encoding == "gzip" else body, len(body)


def first_load(base: str) -> tuple[int, dict]:
    """What a phone downloads when it opens /join: returns the bytes and the models' listing."""
    status, page, total = fetch(f"{base}/join")
    assets = page.decode().split('src="')[1].split("/join.js")[0]
    for name in ("join.css", "join.js", "prepare.js", "vendor/onnxruntime-web/ort.wasm.min.mjs",
                 "vendor/onnxruntime-web/ort-wasm-simd-threaded.mjs",
                 "vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm"):
        status, _, size = fetch(f"{base}{assets}/{name}")
        if status != 200:
            raise RuntimeError(f"{name}: HTTP {status}")
        total += size
    status, body, size = fetch(f"{base}/join/models")
    if status != 200:
        raise RuntimeError(f"the models: HTTP {status} {body[:200]!r}")
    listing = json.loads(body)
    total += size
    for model in listing["models"]:
        status, _, size = fetch(base + model["url"])
        total += size
    return total, listing


def drawings(listing: dict) -> list[bytes]:
    """The ten digits as a phone sends them: the canvas as PNG, the 28x28 digit, the models' answers."""
    import base64
    import io

    from PIL import Image

    from mnist_core.preprocess import prepare_digit

    bodies = []
    for digit, strokes in DIGITS.items():
        canvas = render(strokes)
        prepared = prepare_digit(canvas)
        buffer = io.BytesIO()
        Image.fromarray(canvas).save(buffer, format="PNG")
        answers = {model["key"]: list(np.eye(10)[digit] * 0.9 + 0.01) for model in listing["models"]}
        png = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
        bodies.append(json.dumps({"label": digit, "models": listing["version"], "answers": answers, "canvas": png,
                                  "pixels": prepared.image.flatten().tolist()}).encode())
    return bodies


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def browser_phones(url: str, count: int, deadline: float, every: float, report: Report,
                   lock: threading.Lock) -> list[float]:
    """``count`` Chromium pages at 390x844, in turn: clear, draw the next digit with the mouse, wait for the
    three answers, press the digit; the seconds from the press to the page's "Stored as"."""
    from playwright.sync_api import sync_playwright

    from tools.browser import CHROMIUM_ARGS, chromium_path, stroke

    latencies, right, answers = [], 0, 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        pages = [browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True).new_page()
                 for _ in range(count)]
        for page in pages:
            page.goto(f"{url}/join")
        for page in pages:
            page.wait_for_selector("body[data-ready=true]", timeout=120_000)
        turn = 0
        while time.monotonic() < deadline:
            page, digit = pages[turn % count], turn % 10
            started = time.monotonic()
            try:
                page.locator('[data-action="clear"]').click()
                box = page.locator("canvas").bounding_box()
                scale = box["width"] / CANVAS_SIDE
                for points in DIGITS[digit]:
                    stroke(page, [(box["x"] + x * scale, box["y"] + y * scale) for x, y in points])
                page.wait_for_function("window.joinLastDigit() !== null", timeout=30_000)
                shown = page.locator(".answer").evaluate_all("boxes => boxes.map(box => box.dataset.digit)")
                right, answers = right + shown.count(str(digit)), answers + len(shown)
                pressed = time.monotonic()
                page.locator(f'[data-label="{digit}"]').click()
                page.wait_for_function(f"document.getElementById('stored').textContent.includes('Stored as a {digit}')",
                                       timeout=30_000)
                latencies.append(time.monotonic() - pressed)
            except Exception as error:  # noqa: BLE001  (reported with the others)
                with lock:
                    report.errors.append(f"browser phone {turn % count}: {str(error).splitlines()[0]}")
            turn += 1
            time.sleep(max(0.0, every / count - (time.monotonic() - started)))  # each page every `every` s
        browser.close()
    report.browser_right = round(right / answers, 3) if answers else 0.0
    return latencies


def audience_pages(urls: list[str]) -> list[int] | None:
    """The drawings each server's Audience page shows ("1,234 drawings from 60 sessions"), read in Chromium;
    None where Chromium is not installed."""
    from tools.browser import chromium, chromium_path

    if chromium_path() is None:
        return None
    shown = []
    with chromium(chromium_path()) as browser:
        for url in urls:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(f"{url}/audience")
            heading = page.locator("h2").filter(has_text=re.compile(r"[\d,]+ drawings? from [\d,]+ sessions?"))
            heading.first.wait_for(timeout=120_000)
            shown.append(int(heading.first.inner_text().split()[0].replace(",", "")))
            page.context.close()
    return shown


def run(phones: int, seconds: float, every: float, browsers: int = 0, servers: int = 1,
        audience_db: str | None = None, game: bool = False) -> Report:
    from mnist_core.audience import open_audience_store
    from mnist_core.game import Game

    phones, seconds, servers = min(phones, MAX_PHONES), min(seconds, MAX_SECONDS), min(servers, MAX_SERVERS)
    browsers = min(browsers, phones)
    report = Report(phones, seconds, every, browsers=browsers, servers=servers, game=game)
    with tempfile.TemporaryDirectory() as folder, ExitStack() as running:
        store = open_audience_store(audience_db or Path(folder) / "audience.sqlite3")
        running.callback(store.close)
        report.audience_db = store.describe()
        before = store.count()  # a database given may hold drawings already
        env = {"MNIST_AUDIENCE_DB": str(audience_db or store.path)}
        apps = [running.enter_context(streamlit_server({**env, "MNIST_RUNS_DIR": f"{folder}/runs-{number}"}))
                for number in range(servers)]
        for app in apps:
            report.first_load_bytes, listing = first_load(app.url)  # exports the models before the clock starts
        bodies = drawings(listing)
        loads, latencies, checks, polls, lock = [], [], [], [], threading.Lock()
        if game:
            Game(store).start(minutes=seconds / 60 + 5)  # the whole test and the phones' last checks
            answered_before = _answered(store)
        start_cpu = sum(cpu_seconds(app.process.pid) for app in apps)
        deadline = time.monotonic() + seconds

        def phone(number: int) -> None:
            generator = random.Random(number)
            url = apps[number % servers].url  # the phones split between the servers, as a proxy would
            try:
                started = time.monotonic()
                first_load(url)
                with lock:
                    loads.append(time.monotonic() - started)
            except Exception as error:  # noqa: BLE001  (reported, not raised: the other phones go on)
                with lock:
                    report.errors.append(f"phone {number} first load: {error}")
                return
            time.sleep(generator.uniform(0, every))  # a class does not press in step
            count = 0
            while time.monotonic() < deadline:
                body = json.loads(bodies[count % len(bodies)])
                # The same canvas twice from one phone is one drawing (a corrected label): each press another.
                label = (body["label"] + 1) % 10 if game and count % 2 else body["label"]  # a try at fooling
                payload = json.dumps({**body, "session": f"load-{number}", "label": label,
                                      "canvas": _with_count(body["canvas"], count)}).encode()
                sent = time.monotonic()
                timed(f"{url}/join/label", payload, number, latencies, "")
                if game:
                    check(number, url, generator)
                count += 1
                next_label = sent + every
                while game and time.monotonic() + GAME_POLL_SECONDS < next_label:  # the page's poll (join.js)
                    time.sleep(GAME_POLL_SECONDS)
                    timed(f"{url}/join/game?session=load-{number}", None, number, polls, " game")
                time.sleep(max(0.0, next_label - time.monotonic()))
            if game:  # the bell: a last look at a classmate's drawing (on a slow server a phone labels only twice)
                check(number, url, generator)

        def check(number: int, url: str, generator: random.Random) -> None:
            """Between its drawings a phone reads a classmate's, when it is offered one."""
            status, reply, _ = fetch(f"{url}/join/check?session=load-{number}", phone=number)
            if status == 204:
                return
            if status != 200:
                with lock:
                    report.errors.append(f"phone {number} check: HTTP {status} {reply[:200]!r}")
                return
            answer = json.dumps({"session": f"load-{number}", "id": json.loads(reply)["id"],
                                 "digit": generator.randrange(10)}).encode()
            timed(f"{url}/join/check", answer, number, checks, " check")

        def timed(url: str, data: bytes | None, number: int, seconds: list[float], what: str) -> None:
            """One request of phone ``number``: its time into ``seconds`` when it succeeds, else an error."""
            sent = time.monotonic()
            status, reply, _ = fetch(url, data, phone=number)
            with lock:
                if status == 200:
                    seconds.append(time.monotonic() - sent)
                else:
                    report.errors.append(f"phone {number}{what}: HTTP {status} {reply[:200]!r}")

        threads = [threading.Thread(target=phone, args=(number,), daemon=True)
                   for number in range(phones - browsers)]
        for thread in threads:
            thread.start()
        browser_latencies = (browser_phones(apps[0].url, browsers, deadline, every, report, lock)
                             if browsers else [])
        for thread in threads:
            thread.join(timeout=seconds + 120)
        report.server_cpu_seconds = round(sum(cpu_seconds(app.process.pid) for app in apps) - start_cpu, 2)
        report.stored = store.count() - before
        if game:
            report.checks_stored = _answered(store) - answered_before
        if servers > 1 and before == 0:  # do the servers' Audience pages all show what the store holds?
            report.pages_shown = audience_pages([app.url for app in apps])
    report.labels = len(latencies)
    report.first_load_p50, report.first_load_p95 = (round(percentile(loads, p), 3) for p in (50, 95))
    report.label_p50, report.label_p95 = (round(percentile(latencies, p), 3) for p in (50, 95))
    report.label_max = round(max(latencies, default=0.0), 3)
    report.browser_labels = len(browser_latencies)
    report.browser_label_p95 = round(percentile(browser_latencies, 95), 3)
    report.labels += report.browser_labels  # every press, from either kind of phone, must be in the store
    report.checks = len(checks)
    report.check_p50, report.check_p95 = (round(percentile(checks, p), 3) for p in (50, 95))
    report.game_polls, report.game_poll_p95 = len(polls), round(percentile(polls, 95), 3)
    return report


def _answered(store) -> int:
    """The classmates' answers the store holds (every round)."""
    with store.transaction(write=False) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM checks WHERE digit IS NOT NULL").fetchone()[0])


def _with_count(canvas: str, count: int) -> str:
    """The canvas PNG with a count in a text chunk: another drawing to the store (one per canvas and phone)."""
    import base64
    import struct
    import zlib

    png = base64.b64decode(canvas.split(",", 1)[1])
    text = b"tEXt" + b"press\x00" + str(count).encode()
    chunk = struct.pack(">I", len(text) - 4) + text + struct.pack(">I", zlib.crc32(text))
    return "data:image/png;base64," + base64.b64encode(png[:33] + chunk + png[33:]).decode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=60, help=f"phones at once (default 60, at most {MAX_PHONES})")
    parser.add_argument("--seconds", type=float, default=60,
                        help=f"how long they label (default 60, at most {MAX_SECONDS})")
    parser.add_argument("--every", type=float, default=10, help="seconds between a phone's labels (default 10)")
    parser.add_argument("--browsers", type=int, default=0,
                        help="how many of the phones are real Chromium pages drawing with the mouse (default 0)")
    parser.add_argument("--servers", type=int, default=1,
                        help=f"app servers, the phones split between them (default 1, at most {MAX_SERVERS})")
    parser.add_argument("--audience-db", metavar="URL",
                        help="the audience store they share, e.g. postgresql://user@host/database (default: a new "
                             "SQLite file)")
    parser.add_argument("--game", action="store_true",
                        help="play a round of Fool the models meanwhile: labels that try to fool, and checks")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.phones < 1 or args.seconds <= 0 or args.every <= 0 or args.servers < 1:
        print("error: --phones, --seconds, --every and --servers must be positive", file=sys.stderr)
        return 2
    report = run(args.phones, args.seconds, args.every, max(0, args.browsers), args.servers, args.audience_db,
                 args.game)
    if args.json:
        print(json.dumps({**asdict(report), "met": report.met}, indent=2))
    else:
        print(f"{report.phones} phones, a label every {report.every_seconds:g} s each, for {report.seconds:g} s "
              f"(127.0.0.1), on {report.servers} server{'s' if report.servers != 1 else ''} and {report.audience_db}")
        print(f"first load per phone: {report.first_load_bytes / 1e6:.1f} MB compressed; "
              f"p50 {report.first_load_p50:.2f} s, p95 {report.first_load_p95:.2f} s (all phones at once)")
        print(f"labels: {report.labels} sent, {report.stored} in the store; label → stored p50 "
              f"{1000 * report.label_p50:.0f} ms, p95 {1000 * report.label_p95:.0f} ms, "
              f"max {1000 * report.label_max:.0f} ms")
        if report.browsers:
            print(f"of them {report.browsers} Chromium phones drawing: {report.browser_labels} labels, press → "
                  f"\"Stored as\" p95 {1000 * report.browser_label_p95:.0f} ms; "
                  f"{100 * report.browser_right:.0f}% of their answers the digit drawn")
        if report.pages_shown is not None:
            print(f"the Audience page of each server shows {', '.join(map(str, report.pages_shown))} drawings")
        if report.game:
            print(f"the game: {report.checks} checks answered, {report.checks_stored} in the store; check → stored "
                  f"p50 {1000 * report.check_p50:.0f} ms, p95 {1000 * report.check_p95:.0f} ms; {report.game_polls} "
                  f"polls of a phone's points every {GAME_POLL_SECONDS} s, p95 {1000 * report.game_poll_p95:.0f} ms")
        print(f"server CPU: {report.server_cpu_seconds:.1f} s; errors: {len(report.errors)}")
        for error in report.errors[:5]:
            print(f"  {error}")
        print("goal (p95 ≤ 1 s, no error, nothing lost, the pages agree): " + ("met" if report.met else "MISSED"))
    return 0 if report.met else 1


if __name__ == "__main__":
    sys.exit(main())
