"""Shared fixtures: tiny IDX files written into tmp_path, and the real MNIST when present.

Helpers that tests call directly live in ``tests/support/``."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest
import torch

from mnist_core.data import load_mnist
from tests.support.mnist_files import real_data_root_or_none, write_fake_mnist

pytest_plugins = ["tests.support.postgres"]  # a throwaway PostgreSQL, and the audience store on either engine
REAL_DATA_FIXTURES = {"real_mnist", "real_data_root"}


@pytest.hookimpl(tryfirst=True)  # before pytest's -m deselects by the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that reads the real MNIST (through its fixtures, however indirectly) is marked
    ``real_data``: ``make test-fast`` leaves those and the browser tests out.

    (``make test`` runs two pytest-xdist workers, ``--dist loadfile``: each takes a whole file at a time, so a
    module's server, browser pages or trained model are made once, and a module's tests that follow one another,
    as the accessibility test's rooms visiting the pages in order, stay in order.)"""
    for item in items:
        if REAL_DATA_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.real_data)


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for a module's browser tests (each test opens its own context). A missing Chromium
    fails the test in CI and skips it elsewhere. Not one per session: Playwright's sync API leaves its event loop
    marked running in this thread until it stops, and a later test's asyncio.run() would refuse to start; so a
    module that drives a browser holds browser tests only."""
    from tests.support.browser import require_chromium
    from tools.browser import chromium

    with chromium(require_chromium()) as launched:
        yield launched


@pytest.fixture
def fake_mnist_root(tmp_path: Path) -> Path:
    """A data root holding tiny, valid IDX files (120 training and 40 test images)."""
    return write_fake_mnist(tmp_path / "mnist")


@pytest.fixture(scope="session")
def real_mnist():
    """The real MNIST in memory. In CI it must be there; elsewhere tests skip without it."""
    root = real_data_root_or_none()
    if root is None:
        if os.environ.get("CI"):
            pytest.fail("MNIST is missing in CI: set MNIST_DATA_DIR to the folder holding MNIST/raw/.")
        pytest.skip("real MNIST not found (set MNIST_DATA_DIR)")
    return load_mnist(root, download=False)


@pytest.fixture(scope="session")
def real_data_root(real_mnist) -> Path:
    return real_mnist.root


@pytest.fixture(scope="session", autouse=True)
def _installed_components_scanned_once():
    """Each new AppTest scans every installed package's metadata for Streamlit components (0.2-0.4 s, a third
    of a short page test); the installed packages do not change while the tests run, so they are scanned once."""
    try:
        from streamlit.components.v2 import manifest_scanner
    except ImportError:  # a Streamlit without that scan: nothing to save
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(manifest_scanner, "scan_component_manifests",
                      functools.cache(manifest_scanner.scan_component_manifests))
        yield


@pytest.fixture(scope="session", autouse=True)
def _a_cache_of_the_sessions_own(tmp_path_factory):
    """What the app keeps in its cache folder (the test set's answers, canvas-style training digits) goes to this
    session's temporary folder, never the user's ~/.cache, from before any module's server starts; the servers
    a worker starts share it, as a presenter's server started again reads what the last one stored."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MNIST_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(autouse=True)
def _a_cache_of_the_tests_own(monkeypatch, tmp_path):
    """Each test's own cache folder: what one test stores (canvas-style digits, answers) no other test reads."""
    monkeypatch.setenv("MNIST_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(autouse=True)
def _a_presenter_key_of_the_tests_own(monkeypatch):
    """The door's key from the environment: a test that opens a page without a runs folder of its own never
    makes runs/presenter.key in the project (the tests of the key file unset it)."""
    monkeypatch.setenv("MNIST_PRESENTER_KEY", "the-tests-own-presenter-key")


@pytest.fixture(scope="session", autouse=True)
def _no_warm_up():
    """No warm-up thread (dashboard/warm_up.py: the training set through each model, about 10 s of CPU), set
    before any module's server starts: AppTests run the frame in this process and would read the training set
    beside every test, and each browser test's server would spend it on a Why? panel it never opens. The one
    server that opens it, tests/test_browser.py's, warms up as a presenter's does."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MNIST_WARM_UP", "0")
        yield


@pytest.fixture(autouse=True)
def _no_models_of_the_developers_own(monkeypatch):
    """A $MNIST_MODELS exported in the shell must not change what the tests see."""
    monkeypatch.delenv("MNIST_MODELS", raising=False)


@pytest.fixture(autouse=True)
def _fixed_threads():
    """Tests may change torch's thread count; put it back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def user_runs(tmp_path, monkeypatch):
    """Keep the runs a test trains out of the project's runs/ folder."""
    folder = tmp_path / "runs"
    monkeypatch.setenv("MNIST_RUNS_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def _join_of_the_module(tmp_path_factory):
    from tests.support.join_app import in_process_join

    with in_process_join(tmp_path_factory.mktemp("join")) as app:
        yield app


@pytest.fixture
def join_app(_join_of_the_module, monkeypatch):
    """/join's routes in this process (tests/support/join_app.py), one app and folder per test module, as a
    module's server had: its runs, audience store and ONNX cache."""
    from tests.support.join_app import folder_env

    for name, value in folder_env(_join_of_the_module.folder).items():
        monkeypatch.setenv(name, value)
    return _join_of_the_module


@pytest.fixture
def job_board(monkeypatch):
    """The app's server-wide board of training jobs, empty at the start of the test; one
    training at a time, as on a 2-core machine whatever this one has."""
    from dashboard.job_view import job_board as board

    monkeypatch.setenv("MNIST_TRAINING_SLOTS", "1")
    board.clear()
    yield board()
    for job in board().jobs():  # nothing keeps training into the next test
        job.stop()
        job.wait(timeout=120)
