"""Reading the process's umask without changing it.

``os.umask`` can only read the mask by setting a new one and putting the old one back; between the
two calls every file another thread creates gets the temporary mask (``os.umask(0)``: world-writable
files). Linux shows the mask in ``/proc/self/status`` (since 4.7); elsewhere the pair of calls runs
under a lock, which keeps this module's callers from racing each other, though not other code.
"""

from __future__ import annotations

import os
import threading

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's file mode creation mask, e.g. ``0o022``, read without changing it where the system
    allows (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split(":", 1)[1].strip(), 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o077)  # the strictest mask for the moment it is set, not 0: no world-writable files
        os.umask(mask)
    return mask
