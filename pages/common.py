"""What the pages share: cached loading of runs, models and data, and the sidebar.

Models are loaded through ``st.cache_resource`` and never changed afterwards (every
session shares them); arrays and tables go through ``st.cache_data``.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import streamlit as st

from mnist_core.data import MnistData, MnistDataError, data_available, load_mnist, resolve_data_dir
from mnist_core.models import MODEL_KEYS, MODELS
from mnist_core.predict import ModelSet
from mnist_core.runs import SHIPPED_RUNS_DIR, RunError, RunInfo, find_runs, load_model, user_runs_dir

SELECTION_KEY = "draw.runs"  # session state: model key → run folder used on the Draw page


_pytorch_import: threading.Thread | None = None
_pytorch_import_lock = threading.Lock()


def _import_pytorch(delay: float) -> None:
    time.sleep(delay)
    import mnist_core.networks  # noqa: F401  (torch, and the networks the models are built from)


def import_pytorch_soon(delay: float = 1.5) -> threading.Thread:
    """Import PyTorch in a background thread, ``delay`` seconds from now (once per process).

    Importing PyTorch takes 2-3 s here and holds the interpreter while it loads its
    libraries, so the server cannot answer the browser meanwhile. Done right after the Draw
    page's script had sent the canvas, it delayed the canvas's appearance by up to 1.5 s
    (the browser was still fetching the canvas component); 1.5 s later, the canvas appears
    as fast as with no import at all. ``join()`` the returned thread to wait for it without
    holding the interpreter.
    """
    global _pytorch_import
    with _pytorch_import_lock:
        if _pytorch_import is None:
            _pytorch_import = threading.Thread(target=_import_pytorch, args=(delay,), name="import-pytorch",
                                               daemon=True)
            _pytorch_import.start()
    return _pytorch_import


def run_folders() -> tuple[Path, Path]:
    return SHIPPED_RUNS_DIR, user_runs_dir()


def ensure_frame() -> None:
    """Run the page inside ``app.py``'s frame, even for the first visitor of a fresh server.

    Streamlit treats a ``pages/`` folder as a legacy multipage app until some session has
    called ``st.navigation``: the very first visitor of ``/draw`` would get
    ``pages/draw.py`` run bare (no page config, no sidebar). Leave that mode and rerun,
    which runs ``app.py`` and then this page.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a future Streamlit without the legacy mode
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def _runs_signature() -> tuple:
    """Changes whenever a run folder appears, disappears or is rewritten (cheap: no file reads)."""
    entries = []
    for folder in run_folders():
        if folder.is_dir():
            for entry in os.scandir(folder):
                try:
                    entries.append((entry.path, entry.stat().st_mtime_ns))
                except OSError:
                    continue
    return tuple(sorted(entries))


@st.cache_data(show_spinner=False, max_entries=8)
def _find_runs_cached(signature: tuple, folders: tuple[Path, ...]) -> tuple[list[RunInfo], list[tuple[str, str]]]:
    runs, errors = find_runs(*folders)
    return runs, [(str(error.path), error.reason) for error in errors]


def all_runs() -> tuple[list[RunInfo], list[tuple[str, str]]]:
    """Every readable run (shipped first, then the user's, newest last) and the damaged ones."""
    return _find_runs_cached(_runs_signature(), run_folders())


def runs_by_path() -> dict[str, RunInfo]:
    return {str(run.path): run for run in all_runs()[0]}


def run_label(run: RunInfo) -> str:
    origin = "shipped" if run.shipped else run.run_id
    stopped = ", stopped early" if run.stopped_early else ""
    return f"{run.name} · {origin} · {100 * run.accuracy:.2f}%{stopped}"


@st.cache_resource(show_spinner="Loading model…", max_entries=32)
def cached_model(run_path: str, weights_sha256: str):
    """A run's model in eval mode, shared by every session (keyed by checksum: a retrained run reloads)."""
    return load_model(Path(run_path))


@st.cache_resource(show_spinner=False, max_entries=16)
def _cached_model_set(choice: tuple[tuple[str, str, str], ...]) -> ModelSet:
    return ModelSet({key: cached_model(path, checksum) for key, path, checksum in choice})


def model_set_for(runs: dict[str, RunInfo]) -> ModelSet:
    """The models of ``runs`` as one shared, never-changed :class:`ModelSet` (built once per choice)."""
    return _cached_model_set(tuple((key, str(run.path), run.weights_sha256) for key, run in runs.items()))


def shipped_runs() -> dict[str, RunInfo]:
    runs = runs_by_path()
    return {key: runs[str(SHIPPED_RUNS_DIR / key)] for key in MODEL_KEYS if str(SHIPPED_RUNS_DIR / key) in runs}


def selected_runs() -> dict[str, RunInfo]:
    """The run each model uses on the Draw page: the session's choice, else the shipped
    checkpoint, else (no checkpoint) that model's newest run of the user's."""
    runs = runs_by_path()
    chosen = st.session_state.setdefault(SELECTION_KEY, {})
    shipped = shipped_runs()
    result = {}
    for key in MODEL_KEYS:
        picked = runs.get(chosen.get(key, ""))
        own = [run for run in runs.values() if run.model == key]
        if picked is not None and picked.model == key:
            result[key] = picked
        elif key in shipped:
            result[key] = shipped[key]
        elif own:
            result[key] = own[-1]
    return result


@st.cache_resource(show_spinner="Loading MNIST…")
def _load_data_cached(root: str) -> MnistData:
    return load_mnist(root, download=False)


def mnist_or_none() -> tuple[MnistData | None, str]:
    """MNIST if it can be loaded (else ``None``), and a sentence on where it is or what to do."""
    root = resolve_data_dir()
    if not data_available(root):
        return None, (f"MNIST is not in `{root.resolve()}/MNIST/raw/`. Set `MNIST_DATA_DIR` to the folder that "
                      "holds `MNIST/raw/` and restart, or run `python -m mnist_core train` once with internet "
                      "to download it.")
    try:
        return _load_data_cached(str(root)), f"MNIST loaded from `{root}`."
    except MnistDataError as error:
        return None, str(error)


@st.cache_data(show_spinner="Evaluating on the test set…", max_entries=32)
def test_predictions(run_path: str, weights_sha256: str, data_root: str) -> tuple[np.ndarray, np.ndarray]:
    """A run's predicted digit and confidence for every test image."""
    from mnist_core.evaluation import evaluate

    data = _load_data_cached(data_root)
    result = evaluate(cached_model(run_path, weights_sha256), data.test_images, data.test_labels)
    return result.predictions, result.confidences


@st.cache_data(show_spinner=False, max_entries=32)
def prediction_latency_ms(run_path: str, weights_sha256: str, repeats: int = 50) -> float:
    """Median milliseconds for one 28x28 image through the model (measured once per run)."""
    import torch

    model = cached_model(run_path, weights_sha256)
    image = torch.zeros(1, 1, 28, 28)
    timings = []
    with torch.inference_mode():
        for _ in range(repeats + 5):
            started = time.perf_counter()
            model(image)
            timings.append(time.perf_counter() - started)
    return 1000 * float(np.median(timings[5:]))


def upscale(pixels: np.ndarray, factor: int = 8) -> np.ndarray:
    """Nearest-neighbour enlargement, so a 28x28 digit is crisp on a projector."""
    return np.kron(pixels, np.ones((factor, factor), dtype=pixels.dtype))


def sidebar() -> None:
    """The shared sidebar: which runs the Draw page uses, and whether MNIST is there."""
    with st.sidebar:
        st.subheader("Runs in use")
        runs = selected_runs()
        if not runs:
            st.warning("No usable runs: the checkpoints folder is empty. Train models on the Train page.")
        for key, run in runs.items():
            origin = "shipped checkpoint" if run.shipped else f"`{run.run_id}`"
            st.markdown(
                f"<span style='color:{MODELS[key].color};font-weight:700'>■ {MODELS[key].name}</span> "
                f"{100 * run.accuracy:.2f}% — {origin}",
                unsafe_allow_html=True,
            )
        damaged = all_runs()[1]
        if damaged:
            with st.expander(f"{len(damaged)} damaged run(s)", icon=":material/warning:"):
                for path, reason in damaged:
                    st.caption(f"`{Path(path).name}`: {reason}")
        st.subheader("Data")
        root = resolve_data_dir()
        if data_available(root):
            st.caption(f"MNIST found in `{root}`.")
        else:
            st.caption("MNIST not found: drawing and the stored curves work; training and test-image "
                       "galleries need it (set `MNIST_DATA_DIR`).")


def require_runs() -> dict[str, RunInfo]:
    """The runs in use, or a friendly stop when there are none."""
    runs = selected_runs()
    if not runs:
        st.info("No trained models yet. Train some on the **Train** page, or restore `checkpoints/`.")
        st.stop()
    return runs


def report_run_error(error: RunError) -> None:
    st.error(f"Cannot load the run `{error.path}`: {error.reason}")
