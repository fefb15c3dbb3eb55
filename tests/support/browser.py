"""What only a browser test adds to ``tools/browser.py``: Chromium is required in CI."""

from __future__ import annotations

import os

from tools.browser import chromium_path


def require_chromium() -> str:
    """Chromium's path for a test. In CI a missing browser fails the test; elsewhere it skips."""
    import pytest

    path = chromium_path()
    if path is None:
        message = "Chromium is not installed (apt-get install -y chromium)."
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path
