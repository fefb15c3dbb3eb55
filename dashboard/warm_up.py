"""Work a fresh server does once, in the background, so that nobody in front of an audience waits for it.

The first "Why?" reads the whole training set through each model's last hidden layer (2–4 s a
model here, a minute on a busy machine). A thread started with the server does it for the runs
in use a few seconds after the first page is drawn, at low priority, so the first Why? a presenter
opens finds the nearest training images ready. Heavy imports happen inside the thread: the
frame (``app.py``) stays light.
"""

from __future__ import annotations

import os
import threading
import time

WARM_UP_ENV = "MNIST_WARM_UP"  # "0": skip (the test suite's AppTests, which start no server)
DELAY_SECONDS = 3.0  # let the first page draw before the thread takes a core

_lock = threading.Lock()
_started = False


def start_warm_up() -> None:
    """Start the server's warm-up thread, once per process; a no-op afterwards or when switched off."""
    global _started
    if os.environ.get(WARM_UP_ENV, "1").strip() == "0":
        return
    with _lock:
        if _started:
            return
        _started = True
    threading.Thread(target=_warm_up, name="mnist-warm-up", daemon=True).start()


def _warm_up() -> None:
    time.sleep(DELAY_SECONDS)
    try:
        os.nice(5)  # Linux: this thread only; the pages keep their priority
    except (AttributeError, OSError):
        pass
    try:
        from dashboard.loading import mnist_or_none
        from dashboard.why import prepare_feature_banks
        from dashboard.workspace import workspace

        data = mnist_or_none()[0]
        if data is None:
            return
        prepare_feature_banks(workspace().runs_in_use(), data)
    except Exception:  # a warm-up that fails costs the first Why? its wait, nothing else
        return
