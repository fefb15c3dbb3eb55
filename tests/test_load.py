"""Load test: a classroom of browser sessions (10 in the suite, ``MNIST_LOAD_SESSIONS`` to choose; 30 for
docs/PERFORMANCE.md) draw and label at once on one server, on loopback, bounded in time; and a class of phones
on two app servers sharing one PostgreSQL.

Run with ``-s`` to see the latency report (p50/p95, from the stroke's end until all three
predictions show, the server time each page reports, and from pressing a label until the page
confirms it was stored).
"""

from __future__ import annotations

import os
import statistics
import time

import pytest

from tests.support.browser import require_chromium
from tools.browser import canvas_box, chromium, metric_values, streamlit_server, stroke, vertical_stroke

pytestmark = pytest.mark.browser
# The suite runs a small class (it keeps the test working in minutes); the classroom measurement in
# docs/PERFORMANCE.md is MNIST_LOAD_SESSIONS=30 pytest -s tests/test_load.py.
SESSIONS = int(os.environ.get("MNIST_LOAD_SESSIONS", "10"))
TIME_LIMIT = 180  # seconds for all sessions to get their predictions, and again to store their labels


def percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))]


# Timed inside each page, so Playwright's own round trips (slow with ten pages on two cores)
# do not count: from the stroke's mouseup to the moment three predictions are on the page.
TIMER = """
window.__strokeEnd = null;
window.__shown = null;
document.addEventListener("mouseup", () => { window.__strokeEnd = performance.now(); window.__shown = null; }, true);
new MutationObserver(() => {
  if (window.__strokeEnd !== null && window.__shown === null
      && document.querySelectorAll('[data-testid="stMetricValue"]').length === 3) {
    window.__shown = performance.now();
  }
}).observe(document.body, {childList: true, subtree: true, characterData: true});
"""


def wait_for_all(pages: list, ready, what: str) -> None:
    deadline = time.monotonic() + TIME_LIMIT
    waiting = set(range(len(pages)))
    while waiting and time.monotonic() < deadline:
        waiting = {index for index in waiting if not ready(pages[index])}
        time.sleep(0.1)
    assert not waiting, f"{len(waiting)} of {len(pages)} sessions: no {what} in {TIME_LIMIT} s"


def test_a_classroom_draws_and_labels_at_once_and_every_label_is_stored_once(tmp_path):
    from mnist_core.audience import AudienceStore

    executable = require_chromium()
    store = AudienceStore(tmp_path / "audience.sqlite3")
    env = {"MNIST_RUNS_DIR": str(tmp_path / "runs"), "MNIST_AUDIENCE_DB": str(store.path)}
    # A Chromium of its own, stopped at the end, not the module's `browser`: the next test's tools.load_join starts
    # Playwright in this thread, which refuses while another Playwright runs here.
    with streamlit_server(env) as server, chromium(executable) as browser:
        pages = []
        for _ in range(SESSIONS):  # separate contexts: separate Streamlit sessions
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(f"{server.url}/draw")
            pages.append(page)
        boxes = [canvas_box(page) for page in pages]
        for page in pages:
            page.get_by_text("Loading the models").wait_for(state="detached", timeout=60_000)
            page.evaluate(TIMER)

        for page, box in zip(pages, boxes):  # the strokes, one after another, within a few seconds
            stroke(page, vertical_stroke(box, steps=10))
        wait_for_all(pages, lambda page: len(metric_values(page)) == 3, "predictions")

        latencies, server_ms = [], []
        for page in pages:
            assert metric_values(page) == ["1", "1", "1"]
            assert page.locator('[data-testid="stException"]').count() == 0
            latencies.append(page.evaluate("window.__shown - window.__strokeEnd"))
            caption = page.get_by_text("Server time for this update").first.inner_text()
            server_ms.append(float(caption.rsplit(":", 1)[1].split("ms")[0]))

        label_started = []
        for page in pages:  # everyone presses "1" at (nearly) the same time
            label_started.append(time.monotonic())
            page.locator(".st-key-audience_label_1 button").click(no_wait_after=True)
        wait_for_all(pages, lambda page: page.get_by_text("Stored as a 1").count() > 0, "stored label")
        label_seconds = time.monotonic() - min(label_started)
        drawings = store.drawings()
        assert len(drawings) == SESSIONS and len({d.session for d in drawings}) == SESSIONS
        assert all(d.label == 1 and d.answers == {"mlp": 1, "cnn": 1, "lenet5": 1} for d in drawings)

    print(f"\n{SESSIONS} concurrent sessions (browsers and server on the same machine): stroke → predictions "
          f"shown p50 {statistics.median(latencies):.0f} ms, p95 {percentile(latencies, 95):.0f} ms; "
          f"server time per update p50 {statistics.median(server_ms):.0f} ms, p95 {percentile(server_ms, 95):.0f} ms; "
          f"all {SESSIONS} labels pressed → all stored and confirmed on every page in {label_seconds:.1f} s")


def test_two_servers_on_one_postgresql_lose_no_label_and_their_audience_pages_agree(postgres_url):
    """60 phones (HTTP, as tools/load_join.py speaks /join) split between two app servers on one PostgreSQL,
    each labelling every 2 s for 20 s: every acknowledged label is in the database once, and each server's
    Audience page, opened in Chromium, shows them all."""
    from tools.load_join import run

    require_chromium()
    report = run(phones=60, seconds=20, every=2, servers=2, audience_db=postgres_url)
    assert not report.errors, report.errors[:5]
    assert report.labels >= 2 * 60 and report.stored == report.labels, report
    assert report.pages_shown == [report.stored, report.stored]
    print(f"\n60 phones on 2 servers and one PostgreSQL: {report.labels} labels, all stored; label → stored "
          f"p50 {1000 * report.label_p50:.0f} ms, p95 {1000 * report.label_p95:.0f} ms; both Audience pages show "
          f"{report.stored}")


@pytest.mark.slow
def test_the_load_test_runs_a_small_class_and_loses_nothing():
    """tools/load_join.py once in a quick mode (5 phones, 5 s, a round of the game): it keeps working; the 60-phone
    figures are in docs/CLASSROOM.md (python -m tools.load_join [--game]). Here, not beside /join's other tests: it
    starts Playwright in this thread, which refuses while a module's `browser` runs."""
    from tools.load_join import run

    report = run(phones=5, seconds=5, every=1, game=True)
    assert report.labels >= 5 and report.stored == report.labels and not report.errors, report
    assert report.checks > 0 and report.checks_stored == report.checks, report  # every answer in the store
    assert report.first_load_bytes > 1_000_000 and report.label_p95 > 0
