"""Models, MNIST and test-set predictions, loaded once and shared by every session.

Models go through ``st.cache_resource`` and are never changed afterwards (every session
shares them); arrays and tables go through ``st.cache_data``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from dashboard.markdown import literal
from dashboard.workspace import workspace
from mnist_core.data import MnistData, MnistDataError, data_available, load_mnist
from mnist_core.predict import ModelSet
from mnist_core.runs import RunError, RunInfo, load_model
from mnist_core.seeds import SeedGroup

if TYPE_CHECKING:
    from mnist_core.robustness import Sweep


@st.cache_resource(show_spinner="Loading model…", max_entries=32)
def cached_model(run_path: str, weights_sha256: str):
    """A run's model in eval mode, shared by every session (keyed by checksum: a retrained run reloads)."""
    return load_model(Path(run_path))


Members = tuple[tuple[str, str], ...]  # the (run folder, weights checksum) of each run of one model


@st.cache_resource(show_spinner="Loading the seeds…", max_entries=8)
def cached_ensemble(members: Members):
    """A seed group's runs as one model (their probabilities averaged), shared by every session."""
    from mnist_core.ensemble import SeedEnsemble

    return SeedEnsemble([cached_model(path, checksum) for path, checksum in members]).eval()


def members_of(run: RunInfo, group: SeedGroup | None = None) -> Members:
    """What a model is made of: ``group``'s runs when it answers as their ensemble, else ``run`` alone."""
    return tuple((str(member.path), member.weights_sha256) for member in (group.runs if group else (run,)))


def model_of(members: Members):
    return cached_model(*members[0]) if len(members) == 1 else cached_ensemble(members)


@st.cache_resource(show_spinner=False, max_entries=16)
def _cached_model_set(choice: tuple[tuple[str, Members], ...]) -> ModelSet:
    return ModelSet({key: model_of(members) for key, members in choice})


def model_set_for(runs: dict[str, RunInfo], ensembles: dict[str, SeedGroup] | None = None) -> ModelSet:
    """The models of ``runs`` as one shared, never-changed :class:`ModelSet` (built once per choice);
    a model in ``ensembles`` answers as the ensemble of its seed group."""
    ensembles = ensembles or {}
    return _cached_model_set(tuple((key, members_of(run, ensembles.get(key))) for key, run in runs.items()))


@st.cache_data(show_spinner=False, max_entries=16)
def ensemble_accuracy(members: Members, data_root: str) -> float:
    """The accuracy on the 10,000 test images of ``members``' probabilities averaged (seconds the first time on
    this machine, then read from the cache folder)."""
    predictions, _ = _answers_on_test_set(members, data_root)
    return float((predictions == _load_data_cached(data_root).test_labels.numpy()).mean())


@st.cache_resource(show_spinner="Loading MNIST…")
def _load_data_cached(root: str) -> MnistData:
    return load_mnist(root, download=False)


def mnist_or_none() -> tuple[MnistData | None, str]:
    """MNIST if it can be loaded (else ``None``), and a sentence on where it is or what to do."""
    root = workspace().data()
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
    return _answers_on_test_set(((run_path, weights_sha256),), data_root)


def _answers_on_test_set(members: Members, data_root: str) -> tuple[np.ndarray, np.ndarray]:
    """The predicted digit and confidence for every test image of the model made of ``members``, kept on disk
    (mnist_core/stored_answers.py): a server started again reads them instead of evaluating."""
    from mnist_core.evaluation import evaluate
    from mnist_core.stored_answers import model_name, stored_answers

    data = _load_data_cached(data_root)
    model = model_of(members)  # loaded first, as before: a weights file that no longer matches its checksum fails

    def evaluated() -> tuple[np.ndarray, np.ndarray]:
        result = evaluate(model, data.test_images, data.test_labels)
        return result.predictions, result.confidences

    return stored_answers(model_name([checksum for _, checksum in members], model), _labelled_set_key(data_root),
                          len(data.test_labels), evaluated)


@st.cache_resource(show_spinner=False)
def _labelled_set_key(data_root: str) -> str:
    from mnist_core.stored_answers import labelled_set_key

    data = _load_data_cached(data_root)
    return labelled_set_key(data.test_images.numpy(), data.test_labels.numpy())


@st.cache_data(show_spinner=False, max_entries=32)
def prediction_latency_ms(run_path: str, weights_sha256: str, repeats: int = 50) -> float:
    """Median milliseconds for one 28x28 image through the model, as the Draw page runs it (measured once per run)."""
    from mnist_core.predict import latency_ms

    return latency_ms(cached_model(run_path, weights_sha256), repeats)


def report_run_error(error: RunError) -> None:
    st.error(f"Cannot load the run {literal(error.run_dir.name)}: {literal(error.problem)}")


class SharedResults:
    """Results shared by every session, each computed once: a session that asks for a result
    another session is computing waits for it instead of computing it again (a classroom
    opening the same page at once starts one computation, not thirty).

    Not ``st.cache_resource`` on the computing function: the computation reports progress to
    the asking session's progress bar, which a cached function's replay would not do.
    """

    def __init__(self, kept: int) -> None:
        self._kept = kept
        self._results: dict = {}
        self._pending: dict[object, threading.Event] = {}
        self._lock = threading.Lock()

    def get(self, key, compute: Callable[[], object]):
        while True:
            with self._lock:
                if key in self._results:
                    return self._results[key]
                waiting = self._pending.get(key)
                if waiting is None:
                    done = self._pending[key] = threading.Event()
            if waiting is None:
                break
            waiting.wait()  # then look again: the other session's result, or its turn failed
        try:
            result = compute()
            with self._lock:
                while len(self._results) >= self._kept:
                    self._results.pop(next(iter(self._results)))  # the oldest
                self._results[key] = result
            return result
        finally:
            with self._lock:
                del self._pending[key]
            done.set()


@st.cache_resource(show_spinner=False)
def _sweeps() -> SharedResults:
    """Finished robustness sweeps: (run checksums, images, seed, data) → Sweep."""
    return SharedResults(kept=16)


def robustness_sweep(runs: dict[str, RunInfo], data: MnistData, count: int | None, seed: int,
                     on_progress: Callable[[int, int], None] | None = None) -> Sweep:
    """The robustness sweep of ``runs``: stored beside the runs, computed once per server, or computed now."""
    from mnist_core.robustness import sweep_runs

    key = (tuple((k, str(run.path), run.weights_sha256) for k, run in runs.items()), count, seed, str(data.root))
    return _sweeps().get(key, lambda: sweep_runs(
        runs, data.test_images, data.test_labels, count, seed,
        load=lambda run: cached_model(str(run.path), run.weights_sha256), on_progress=on_progress))
