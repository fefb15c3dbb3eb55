"""The app's start-up, measured in a real browser: ``python -m tools.bench_app [--quick] [--json]``.

Starts ``streamlit run app.py``, opens /draw in headless Chromium and reports the seconds
until the canvas and its prompt are on screen, then draws a few times and reads the
server time of each prediction update that the Draw page shows; then opens the Overview on a
fresh server, with nothing in its cache folder and started again. ``make bench`` runs this
after ``python -m mnist_core bench`` (which measures the library). ``--quick`` draws once,
so the test suite keeps this script working; its numbers are not meaningful.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

from tools.browser import (
    canvas_box,
    chromium,
    chromium_path,
    metric_values,
    streamlit_server,
    stroke,
    vertical_stroke,
    wait_for,
    wait_until_idle,
)


@dataclass
class AppTiming:
    start_to_draw_seconds: float  # `streamlit run app.py` → Draw page with its canvas in Chromium
    first_prediction_ms: float  # server time of the first prediction update (cold caches)
    prediction_rerun_ms: float | None  # median server time of the later ones (None in quick mode)
    nudge_rerun_ms: float  # median server time of an update after moving a "Nudge it" slider
    compare_first_seconds: float  # Compare clicked → all its charts drawn, evaluating the three runs first
    compare_cached_seconds: float  # the same once the evaluations are cached
    first_why_seconds: float  # "Why?" opened on a drawing, the server up 30 s → three models' nearest images shown
    overview_first_seconds: float  # a fresh server, nothing in its cache folder: the Overview opened → drawn
    overview_restarted_seconds: float | None  # the same, the server started again (None in quick mode)
    overview_first_server_cpu_seconds: float | None  # the server's CPU from its start to that page drawn (Linux)
    overview_restarted_server_cpu_seconds: float | None
    quick: bool


def measure_app(strokes: int = 3, timeout: float = 120) -> AppTiming:
    """Start the app, open /draw, draw ``strokes`` times and read the server times the page shows."""
    executable = chromium_path()
    if executable is None:
        raise RuntimeError("Chromium is not installed (apt-get install -y chromium).")
    server_times = []
    with tempfile.TemporaryDirectory() as runs, chromium(executable) as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        started = time.perf_counter()
        # A cache folder of its own, empty: Compare's first visit evaluates, whatever an earlier server stored
        with tempfile.TemporaryDirectory() as cache, \
                streamlit_server({"MNIST_RUNS_DIR": runs, "MNIST_CACHE_DIR": cache}, timeout=timeout) as server:
            page.goto(f"{server.url}/draw")
            box = canvas_box(page, timeout_ms=timeout * 1000)
            page.get_by_text("Draw a digit (0–9)").wait_for(timeout=timeout * 1000)
            start_seconds = time.perf_counter() - started
            first_why = _time_first_why(page, box, up_since=started, settle=5 if strokes < 3 else 30)
            for _ in range(strokes):
                stroke(page, vertical_stroke(box))
                wait_for(lambda: len(metric_values(page)) == 3, timeout=60, what="three predictions")
                server_times.append(wait_for(lambda: _server_time(page), timeout=10, what="the server time"))
                time.sleep(1)  # let the browser finish drawing: it shares the CPU with the server here
                page.get_by_role("button", name="Reset canvas & history").click()
                wait_for(lambda: not metric_values(page), timeout=30, what="the cleared canvas")
                time.sleep(1)
            nudge_times = _time_nudges(page, box, moves=strokes + 1)
            compare = [_time_compare(page, server.url, timeout) for _ in range(2)]
        with tempfile.TemporaryDirectory() as cache:
            overview = [_time_first_overview(browser, {"MNIST_RUNS_DIR": runs, "MNIST_CACHE_DIR": cache}, timeout)
                        for _ in range(1 if strokes < 3 else 2)]
    later = statistics.median(server_times[1:]) if len(server_times) > 1 else None
    restarted = overview[1] if len(overview) > 1 else (None, None)
    return AppTiming(start_seconds, server_times[0], later, statistics.median(nudge_times), compare[0], compare[1],
                     first_why, overview[0][0], restarted[0], overview[0][1], restarted[1], quick=strokes < 3)


def _time_first_overview(browser, env: dict[str, str], timeout: float) -> tuple[float, float | None]:
    """Start a server with ``env``, open the Overview at 1280x720 (a projector): seconds until the page is whole
    (its ranking sentence and seed groups measured: the runs in use and each seed group's ensemble answered the
    test set, or their stored answers read from the cache folder) and no rerun runs; and the server's CPU seconds
    from its start until then (None where /proc cannot tell)."""
    with streamlit_server(env, timeout=timeout) as server:
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        started = time.perf_counter()
        page.goto(server.url)
        page.get_by_text("Runs in use").first.wait_for(timeout=timeout * 1000)
        wait_until_idle(page, timeout=timeout, quiet=0.5)
        seconds = time.perf_counter() - started - 0.5  # less the quiet half second that says it has finished
        cpu = _cpu_seconds(server.process.pid)
        page.close()
    return seconds, cpu


def _cpu_seconds(pid: int) -> float | None:
    """A process's user and system CPU time so far, from Linux's /proc; None elsewhere."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _time_first_why(page, box: dict, up_since: float, settle: float) -> float:
    """Seconds from opening "Why?" on a drawn 1 until each model's five nearest training images show, once
    the server has been up ``settle`` seconds (the first Why? of a presenter who starts the app before
    the lesson); the panel is closed and the canvas cleared afterwards."""
    time.sleep(max(0.0, settle - (time.perf_counter() - up_since)))
    stroke(page, vertical_stroke(box))
    wait_for(lambda: len(metric_values(page)) == 3, timeout=60, what="three predictions")
    wait_until_idle(page, timeout=60)  # a click while the page reruns can be lost (the quick test waited 180 s once)
    started = time.perf_counter()
    page.get_by_text("Why? What the models look at").click()
    wait_for(lambda: page.locator("img[alt^='a '][alt*=' · ']").count() >= 15, timeout=180,
             what="five nearest training images for each model")
    seconds = time.perf_counter() - started
    page.get_by_text("Why? What the models look at").click()  # closed: the later strokes do not explain
    page.get_by_role("button", name="Reset canvas & history").click()
    wait_for(lambda: not metric_values(page), timeout=30, what="the cleared canvas")
    time.sleep(1)
    return seconds


def _time_nudges(page, box: dict, moves: int) -> list[float]:
    """Draw a 1, open "Nudge it" and move the first slider (shift right) ``moves`` times, one pixel at a
    time; the server time of each update (the first move is not counted: it may load code)."""
    stroke(page, vertical_stroke(box))
    wait_for(lambda: len(metric_values(page)) == 3, timeout=60, what="three predictions")
    page.get_by_text("Nudge it").click()
    slider = page.get_by_role("slider").first
    slider.wait_for(timeout=30_000)
    times = []
    for move in range(1, moves + 2):
        slider.focus()
        page.keyboard.press("ArrowRight")
        wait_for(lambda: page.locator('[data-testid="stSliderThumbValue"]').first.inner_text() == f"+{move}",
                 timeout=30, what="the slider to move")
        time.sleep(1.5)  # the update and the browser's drawing, on the CPU the server shares
        wait_for(lambda: page.get_by_text("What the models see, nudged").count(), timeout=30, what="the update")
        times.append(wait_for(lambda: _server_time(page), timeout=10, what="the server time"))
    page.get_by_role("button", name="Reset nudges").click()
    page.get_by_role("button", name="Reset canvas & history").click()
    wait_for(lambda: not metric_values(page), timeout=30, what="the cleared canvas")
    return times[1:]


def _time_compare(page, url: str, timeout: float) -> float:
    """Seconds from clicking Compare in the sidebar (on the Draw page) until its six charts
    (B − A, curves, three matrices, per-class bars) have drawn their axes."""
    page.get_by_role("link", name="Draw").click()
    page.get_by_text("Draw a digit (0–9)").wait_for(timeout=timeout * 1000)
    started = time.perf_counter()
    page.get_by_role("link", name="Compare").click()
    charts = page.locator('[data-testid="stPlotlyChart"]')
    drawn = page.locator('[data-testid="stPlotlyChart"]:has(g.xtick)')  # a chart with its x axis drawn
    wait_for(lambda: charts.count() == 6 and drawn.count() == 6 and page.get_by_text("Running...").count() == 0,
             timeout=timeout, what="the Compare page's charts")
    return time.perf_counter() - started


def _server_time(page) -> float | None:
    """The milliseconds the Draw page reports for its last update, once it shows predictions."""
    for text in page.get_by_text("Server time for this update").all_inner_texts():
        match = re.search(r"Server time for this update: (\d+) ms", text)
        if match:
            return float(match.group(1))
    return None


def format_markdown(timing: AppTiming) -> str:
    lines = ["| app | time |", "|---|---:|",
             f"| `streamlit run app.py` → Draw page rendered in Chromium | {timing.start_to_draw_seconds:.1f} s |",
             f"| server time of the first prediction rerun | {timing.first_prediction_ms:.0f} ms |"]
    if timing.prediction_rerun_ms is not None:
        lines.append(f"| server time of a later prediction rerun | {timing.prediction_rerun_ms:.0f} ms |")
    lines.append(f"| server time of a \"Nudge it\" update (slider moved) | {timing.nudge_rerun_ms:.0f} ms |")
    lines += [f"| /compare, three runs, first visit (evaluates them) | {timing.compare_first_seconds:.1f} s |",
              f"| /compare again (evaluations cached) | {timing.compare_cached_seconds:.1f} s |",
              f"| first \"Why?\" (server up 30 s): opened → nearest training images of the three models | "
              f"{timing.first_why_seconds:.1f} s |",
              f"| Overview at 1280x720 on a fresh server, nothing stored: opened → drawn | "
              f"{timing.overview_first_seconds:.1f} s |"]
    if timing.overview_restarted_seconds is not None:
        lines.append(f"| the same, the server started again (the test set's answers read from the cache folder) | "
                     f"{timing.overview_restarted_seconds:.1f} s |")
    if timing.overview_first_server_cpu_seconds is not None:
        restarted = timing.overview_restarted_server_cpu_seconds
        lines.append(f"| the server's CPU from its start to that Overview drawn: fresh / started again | "
                     f"{timing.overview_first_server_cpu_seconds:.1f} s / "
                     + (f"{restarted:.1f} s |" if restarted is not None else "– |"))
    if timing.quick:
        lines.insert(0, "QUICK MODE, numbers not meaningful\n")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_app", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="draw once (checks that it works)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    args = parser.parse_args(argv)
    from playwright.sync_api import Error as PlaywrightError

    try:
        timing = measure_app(strokes=1 if args.quick else 3)
    except (RuntimeError, TimeoutError, PlaywrightError) as error:
        print(f"error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1
    print(json.dumps(asdict(timing), indent=2) if args.json else format_markdown(timing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
