"""What /join sends compressed: brotli where the browser accepts it, gzip otherwise, each made once.

A browser says what it can decode in ``Accept-Encoding``. Chromium, Firefox and Safari accept brotli (``br``)
only from HTTPS or localhost: a phone on the classroom's plain ``http://<address>:8501/join`` asks for gzip
(measured: Chromium 156 sends ``gzip, deflate`` there, ``gzip, deflate, br, zstd`` to 127.0.0.1). Such a phone
gets the WebAssembly's ``.br`` as a plain file and decodes it in the page (routes.py's /join/models, join.js).

ONNX Runtime Web's 15 MB WebAssembly takes 90 s to brotli at quality 11, so the vendored files are
compressed when they are vendored (``make vendor-ort`` runs ``python -m join.compression FILE...``) and their
``<file>.br`` sits beside them; anything else (the page's own scripts, the exported models) is compressed on
its first request and kept in memory per version.
"""

from __future__ import annotations

import gzip
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import brotli

from join.headers import weighted

BROTLI_QUALITY = 11  # the smallest: WebAssembly 2.45 MB (gzip 3.81); for files compressed once, ahead of time
BROTLI_QUALITY_ON_REQUEST = 5  # a model compressed on its first request: the MLP's int8 file in 0.4 s to 413 kB
# (quality 11: 392 kB in 8 s, quality 9: 417 kB) while the first phones wait
GZIP_LEVEL = 6  # zlib's default; level 9 saves 0.4 % of the WebAssembly
KEPT = 32  # compressed bodies kept in memory: the page's files and two exports' models, a few MB


def accepted(header: str) -> set[str]:
    """The content codings an ``Accept-Encoding`` header accepts (``q=0`` refuses one), lower-cased."""
    return {coding.lower() for coding, weight in weighted(header) if weight > 0}


def precompressed(path: Path) -> Path:
    """Where the brotli of a static file is kept, compressed ahead of time: ``<file>.br`` beside it."""
    return path.with_name(path.name + ".br")


def encoded(coding: str, version: tuple, read: Callable[[], bytes], ready: Path | None = None) -> bytes:
    """``read()`` compressed with ``coding`` ("br" or "gzip"), once per ``version`` (kept in memory).
    ``ready``: a file holding its brotli already (a vendored file's ``.br``), read instead for "br"."""
    key = (coding, *version)
    with _lock:  # sixty phones asking at once compress it once
        if key not in _kept:
            if coding == "br" and ready is not None and ready.is_file():
                _kept[key] = ready.read_bytes()
            elif coding == "br":
                _kept[key] = brotli.compress(read(), quality=BROTLI_QUALITY_ON_REQUEST)
            else:
                _kept[key] = gzip.compress(read(), compresslevel=GZIP_LEVEL, mtime=0)
            while len(_kept) > KEPT:
                _kept.popitem(last=False)
        _kept.move_to_end(key)
        return _kept[key]


_lock = threading.Lock()
_kept: OrderedDict[tuple, bytes] = OrderedDict()


def write_brotli(path: Path) -> Path:
    """Write ``<path>.br``: ``path`` compressed at :data:`BROTLI_QUALITY` (atomically: a name, then a rename)."""
    target = precompressed(path)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_bytes(brotli.compress(path.read_bytes(), quality=BROTLI_QUALITY))
    os.replace(temporary, target)
    return target


def main(argv: list[str]) -> int:
    """``python -m join.compression FILE...``: each file's ``.br`` beside it, and their sizes."""
    if not argv:
        print("usage: python -m join.compression FILE...", file=sys.stderr)
        return 2
    for name in argv:
        path = Path(name)
        target = write_brotli(path)
        raw = path.read_bytes()
        print(f"{path}: {len(raw):,} bytes, brotli {target.stat().st_size:,}, "
              f"gzip {len(gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0)):,}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
