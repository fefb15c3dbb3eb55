"""The app's server-wide results: computed once per key, even when many sessions ask at once."""

from __future__ import annotations

import threading
import time

import pytest

from dashboard.loading import SharedResults


def test_sessions_asking_at_once_share_one_computation():
    results = SharedResults(kept=4)
    calls = []

    def compute():
        calls.append(1)
        time.sleep(0.2)  # long enough for every thread to ask while it runs
        return object()

    answers = []
    threads = [threading.Thread(target=lambda: answers.append(results.get("sweep", compute))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(answers) == 8 and all(answer is answers[0] for answer in answers)


def test_a_failed_computation_is_tried_again_and_old_results_make_room():
    results = SharedResults(kept=2)
    with pytest.raises(RuntimeError):
        results.get("a", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    assert results.get("a", lambda: 1) == 1  # not stuck waiting for the failed one
    results.get("b", lambda: 2)
    results.get("c", lambda: 3)
    assert results.get("a", lambda: "again") == "again"  # the oldest was dropped
