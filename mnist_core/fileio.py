"""Files written whole, and the process's umask read without changing it.

``write_atomically`` is the one way this library writes a file that a crash must not leave half-written
(a run's records, the room's settings, the jobs' record, exported models, stored sweeps, export files).

``os.umask`` can only read the mask by setting a new one and putting the old one back; between the
two calls every file another thread creates gets the temporary mask (``os.umask(0)``: world-writable
files). Linux shows the mask in ``/proc/self/status`` (since 4.7); elsewhere the pair of calls runs
under a lock, which keeps this module's callers from racing each other, though not other code.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import IO

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


def write_atomically(path: str | os.PathLike, data: bytes | str | Callable[[IO[bytes]], object],
                     mode: int | None = None) -> Path:
    """Write ``path`` whole or not at all: into a new temporary file beside it (``O_EXCL``: never an existing
    file or a planted link), then renamed over it (``rename`` replaces a link at the name, never its target).
    A crash, a full disk or a second writer leaves either the old file or the new one, and no temporary file.

    Args:
        data: the bytes (text is written as UTF-8), or a function that writes them into the open file.
        mode: the new file's permissions; default: what ``open()`` would give (0o666 less the umask), where
            ``mkstemp`` alone would make it readable by its owner only.

    Raises:
        OSError: it cannot be written (the old file, if any, is unchanged).
    """
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(descriptor, 0o666 & ~current_umask() if mode is None else mode)
        with os.fdopen(descriptor, "wb") as file:
            if callable(data):
                data(file)
            else:
                file.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise
    return path
