"""The machine's resources this process may use: its cores, shared by training jobs, seed groups and
the benchmark."""

from __future__ import annotations

import os


def available_cores() -> int:
    """The cores this process may run on (a container's limit, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1
