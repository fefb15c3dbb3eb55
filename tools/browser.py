"""Driving the dashboard in a real browser: `streamlit run app.py` and headless Chromium.

Used by the tools (app start-up benchmark, screenshots) and by the browser tests (through
``tests/support/browser.py``, which adds what only a test needs). The app runs in a subprocess,
so this module imports neither Streamlit nor, until a browser is launched, Playwright.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

PROJECT_ROOT = Path(__file__).resolve().parents[1]  # where app.py lives

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    """The system Chromium (Playwright cannot download its own browser everywhere), or None."""
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class AppServer:
    """A running ``streamlit run app.py``."""

    url: str  # base URL, e.g. http://127.0.0.1:8765
    process: subprocess.Popen  # for tests that kill the server
    log: IO[str]  # what the server printed (its terminal), stdout and stderr together

    def output(self) -> str:
        self.log.flush()
        with open(self.log.name, encoding="utf-8", errors="replace") as copy:
            return copy.read()


@contextmanager
def streamlit_server(env: dict[str, str] | None = None, timeout: float = 90,
                     address: str = "127.0.0.1") -> Iterator[AppServer]:
    """Start ``streamlit run app.py`` on a free port of ``address`` (default: loopback only; "0.0.0.0": every
    interface, as a classroom's server) and wait until it answers on loopback."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.address", address, "--server.headless", "true"]
    log = tempfile.NamedTemporaryFile("w+", prefix="streamlit-", suffix=".log")
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env={**os.environ, **(env or {})},
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"streamlit did not start:\n{log.read()[-3000:]}")
            time.sleep(0.2)
        yield AppServer(url, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@contextmanager
def chromium(executable: str):
    """A headless Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def throttle(page, mbit: float, latency_ms: float = 20) -> None:
    """Slow ``page``'s network to ``mbit`` Mbit/s each way with ``latency_ms`` added to each request (Chromium's
    own network emulation, DevTools' ``Network.emulateNetworkConditions``): a phone on a classroom's Wi-Fi."""
    devtools = page.context.new_cdp_session(page)
    devtools.send("Network.enable")
    throughput = mbit * 1e6 / 8  # bytes per second
    devtools.send("Network.emulateNetworkConditions", {"offline": False, "latency": latency_ms,
                                                       "downloadThroughput": throughput,
                                                       "uploadThroughput": throughput})


def wait_for(condition, timeout: float = 30, what: str = "condition"):
    """Poll ``condition`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def wait_until_idle(page, timeout: float = 30, quiet: float = 0.5) -> None:
    """Wait until the app has shown no "Running…" indicator for ``quiet`` seconds (a rerun finished)."""
    status = page.locator('[data-testid="stStatusWidget"]')
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        if status.count() == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= quiet:
                return
        else:
            quiet_since = None
        time.sleep(0.05)
    raise TimeoutError(f"the app was still running after {timeout:.0f} s")


def canvas_box(page, timeout_ms: float = 60_000) -> dict:
    """The drawing canvas's position on the page (the top Fabric.js layer takes the mouse)."""
    canvas = page.locator("canvas.upper-canvas")
    canvas.wait_for(timeout=timeout_ms)
    return canvas.bounding_box()


def stroke(page, points) -> None:
    """Draw one pen stroke through ``points`` (page coordinates) with the mouse."""
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point)
    page.mouse.up()


def vertical_stroke(box: dict, steps: int = 25) -> list[tuple[float, float]]:
    """A '1': top to bottom through the middle of the canvas."""
    x, top, bottom = box["x"] + box["width"] / 2, box["y"] + 40, box["y"] + box["height"] - 40
    return [(x, top + (bottom - top) * i / steps) for i in range(steps + 1)]


def metric_values(page) -> list[str]:
    return page.locator('[data-testid="stMetricValue"]').all_inner_texts()
