"""Load test: ten browser sessions draw at once on one server, on loopback, bounded in time.

Run with ``-s`` to see the latency report (p50/p95, from the stroke's end until all three
predictions show, and the server time each page reports).
"""

from __future__ import annotations

import statistics
import time

import pytest

from tests.support.browser import (
    canvas_box,
    chromium,
    metric_values,
    require_chromium,
    streamlit_server,
    stroke,
    vertical_stroke,
)

pytestmark = pytest.mark.browser
SESSIONS = 10
TIME_LIMIT = 120  # seconds for all sessions to get their predictions


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


def test_ten_sessions_draw_at_once_and_all_get_predictions(tmp_path):
    executable = require_chromium()
    with streamlit_server({"MNIST_RUNS_DIR": str(tmp_path / "runs")}) as server, chromium(executable) as browser:
        pages = []
        for _ in range(SESSIONS):  # separate contexts: separate Streamlit sessions
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(f"{server.url}/draw")
            pages.append(page)
        boxes = [canvas_box(page) for page in pages]
        for page in pages:
            page.get_by_text("Loading the models").wait_for(state="detached", timeout=60_000)
            page.evaluate(TIMER)

        for page, box in zip(pages, boxes):  # ten strokes, one after another, within a second or two
            stroke(page, vertical_stroke(box, steps=10))

        deadline = time.monotonic() + TIME_LIMIT
        waiting = set(range(SESSIONS))
        while waiting and time.monotonic() < deadline:
            waiting = {index for index in waiting if len(metric_values(pages[index])) != 3}
            time.sleep(0.1)
        assert not waiting, f"{len(waiting)} of {SESSIONS} sessions got no predictions in {TIME_LIMIT} s"

        latencies, server_ms = [], []
        for page in pages:
            assert metric_values(page) == ["1", "1", "1"]
            assert page.locator('[data-testid="stException"]').count() == 0
            latencies.append(page.evaluate("window.__shown - window.__strokeEnd"))
            caption = page.get_by_text("Server time for this update").first.inner_text()
            server_ms.append(float(caption.rsplit(":", 1)[1].split("ms")[0]))

    print(f"\n{SESSIONS} concurrent sessions (browsers and server on the same machine): stroke → predictions "
          f"shown p50 {statistics.median(latencies):.0f} ms, p95 {percentile(latencies, 95):.0f} ms; "
          f"server time per update p50 {statistics.median(server_ms):.0f} ms, p95 {percentile(server_ms, 95):.0f} ms")
