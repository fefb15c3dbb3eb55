"""Importing PyTorch in a background thread, so a page paints before it has loaded."""

from __future__ import annotations

import threading
import time

_pytorch_import: threading.Thread | None = None
_pytorch_import_lock = threading.Lock()


def _import_pytorch(delay: float) -> None:
    time.sleep(delay)
    import importlib

    import mnist_core.networks  # noqa: F401  (torch, and the networks the models are built from)

    # Then, in a thread of their own (whoever joins this one, the Draw page to load the models,
    # need not wait): scikit-image's skeletons and SciPy's distance transforms (1 s; every drawing's
    # stroke width is measured with them), then torchvision's transforms (2 s; "Nudge it" and the
    # sweeps move digits with them).
    def import_the_rest() -> None:
        for name in ("scipy.ndimage", "skimage.morphology", "torchvision.transforms.v2.functional"):
            importlib.import_module(name)

    threading.Thread(target=import_the_rest, name="import-image-libraries", daemon=True).start()


def import_pytorch_soon(delay: float = 1.5) -> threading.Thread:
    """Import PyTorch in a background thread, ``delay`` seconds from now (once per process).

    Importing PyTorch takes seconds and holds the interpreter while it loads its libraries,
    so the server cannot answer the browser meanwhile. Done right after the Draw page's
    script had sent the canvas, it delayed the canvas's appearance (the browser was still
    fetching the canvas component); a moment later, the canvas appears as fast as with no
    import at all. ``join()`` the returned thread to wait for it without holding the
    interpreter.
    """
    global _pytorch_import
    with _pytorch_import_lock:
        if _pytorch_import is None:
            _pytorch_import = threading.Thread(target=_import_pytorch, args=(delay,), name="import-pytorch",
                                               daemon=True)
            _pytorch_import.start()
    return _pytorch_import
