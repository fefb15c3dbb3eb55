"""Load test: ten browser sessions draw at once on one server, on loopback, bounded in time.

Run with ``-s`` to see the latency report (p50/p95, from the stroke's end until all three
predictions show, and the server time each page reports).
"""

from __future__ import annotations

import statistics
import time

import pytest

from mnist_core.browser import canvas_box, chromium, metric_values, streamlit_server, stroke, vertical_stroke
from tests.test_browser import require_chromium

pytestmark = pytest.mark.browser
SESSIONS = 10
TIME_LIMIT = 120  # seconds for all sessions to get their predictions


def percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))]


def test_ten_sessions_draw_at_once_and_all_get_predictions(tmp_path):
    executable = require_chromium()
    with streamlit_server({"MNIST_RUNS_DIR": str(tmp_path / "runs")}) as url, chromium(executable) as browser:
        pages = []
        for _ in range(SESSIONS):  # separate contexts: separate Streamlit sessions
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(f"{url}/draw")
            pages.append(page)
        boxes = [canvas_box(page) for page in pages]
        for page in pages:
            page.get_by_text("Loading the models").wait_for(state="detached", timeout=60_000)

        finished_stroke = {}
        for index, (page, box) in enumerate(zip(pages, boxes)):
            stroke(page, vertical_stroke(box, steps=10))
            finished_stroke[index] = time.perf_counter()

        latencies: dict[int, float] = {}
        deadline = time.monotonic() + TIME_LIMIT
        while len(latencies) < SESSIONS and time.monotonic() < deadline:
            for index, page in enumerate(pages):
                if index not in latencies and len(metric_values(page)) == 3:
                    latencies[index] = time.perf_counter() - finished_stroke[index]
            time.sleep(0.02)
        assert len(latencies) == SESSIONS, f"only {len(latencies)} of {SESSIONS} sessions got predictions"

        server_ms = []
        for page in pages:
            assert metric_values(page) == ["1", "1", "1"]
            assert page.locator('[data-testid="stException"]').count() == 0
            caption = page.get_by_text("Server time for this update").first.inner_text()
            server_ms.append(float(caption.rsplit(":", 1)[1].split("ms")[0]))

    seconds = list(latencies.values())
    print(f"\n{SESSIONS} concurrent sessions: stroke → predictions shown "
          f"p50 {1000 * statistics.median(seconds):.0f} ms, p95 {1000 * percentile(seconds, 95):.0f} ms; "
          f"server time per update p50 "
          f"{statistics.median(server_ms):.0f} ms, p95 {percentile(server_ms, 95):.0f} ms")
