"""/join/models without the int8 check's wait: the shipped checkpoints' check is read from beside them, a user's run
is checked once, in a worker thread, however many phones ask at once (served float16, unchecked, where the server's
MNIST test files are missing or damaged)."""

from __future__ import annotations

import json
import shutil
import threading
import time

import numpy as np
import pytest

from mnist_core import onnx_export
from mnist_core.onnx_export import INT8_CHECK_FILE
from tests.support import PROJECT_ROOT
from tests.support.join_app import folder_env, in_process_join


def _never_checked(*args, **kwargs):
    raise AssertionError("the int8 check ran: a shipped checkpoint's is stored beside it (make int8-checks)")


def test_the_shipped_runs_are_served_int8_at_once_without_the_check(join_app, monkeypatch):
    """The first phone of a room on the shipped checkpoints waits for an export (about a second), not for 10,000
    test images through two runtimes (10-30 s): no test image is read, nothing is compared."""
    from join import routes

    monkeypatch.setattr(onnx_export, "compare_onnx", _never_checked)
    monkeypatch.setattr(routes, "_test_set", lambda root: _never_checked)
    started = time.perf_counter()
    listing = join_app.client.get("/join/models").json()
    print(f"/join/models, first request: {time.perf_counter() - started:.1f} s")
    assert {model["key"]: model["weights"] for model in listing["models"]} == {"mlp": "int8", "cnn": "int8",
                                                                               "lenet5": "int8"}


@pytest.mark.slow
def test_two_phones_at_once_check_a_users_run_once_while_the_server_answers_others(tmp_path, monkeypatch):
    """A run the user trained (here a copy of LeNet-5's checkpoint, its int8_check.json made for other weights, so
    stale) is checked on /join/models' first request: once for two phones asking together, in a worker thread, so
    the page is answered meanwhile (one event loop serves the three requests, as uvicorn's would)."""
    from join import routes
    from mnist_core.workspace import Workspace

    for name, value in folder_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    mine = tmp_path / "runs" / "lenet5-mine"
    shutil.copytree(PROJECT_ROOT / "checkpoints" / "lenet5", mine)
    stored = json.loads((mine / INT8_CHECK_FILE).read_text())
    (mine / INT8_CHECK_FILE).write_text(json.dumps({**stored, "weights_sha256": "0" * 64}))  # another checkpoint's
    Workspace(PROJECT_ROOT).use_for_room({"lenet5": mine})

    checked, release = [], threading.Event()

    def compare(path, model, pixels, batch=1000):
        checked.append(path)
        assert release.wait(60), "the page was not answered while the check ran"
        labels = np.zeros(len(pixels), dtype=np.int64)
        return 0.0, labels, labels

    monkeypatch.setattr(onnx_export, "compare_onnx", compare)
    monkeypatch.setattr(routes, "_test_set", lambda root: lambda: (np.zeros((8, 28, 28), np.float32),
                                                                   np.zeros(8, np.int64)))
    answers = {}

    def ask(name: str, path: str) -> None:
        answers[name] = join.client.get(path)

    with in_process_join(tmp_path) as join:
        phones = [threading.Thread(target=ask, args=(name, "/join/models")) for name in ("first", "second")]
        try:
            for phone in phones:
                phone.start()
            deadline = time.monotonic() + 120  # the check starts after the export of the three (a few seconds)
            while not checked and time.monotonic() < deadline:
                time.sleep(0.05)
            assert checked, "the user's run was never checked"
            page = threading.Thread(target=ask, args=("page", "/join"))
            page.start()
            page.join(10)
            assert not page.is_alive(), "/join was not answered while the check ran: the event loop is blocked"
        finally:
            release.set()
            for phone in phones:
                phone.join(120)
    assert answers["page"].status_code == 200
    assert [answers[name].status_code for name in ("first", "second")] == [200, 200]
    assert answers["first"].json() == answers["second"].json() and len(checked) == 1
    weights = {model["key"]: model["weights"] for model in answers["first"].json()["models"]}
    assert weights == {"mlp": "int8", "cnn": "int8", "lenet5": "int8"}


@pytest.mark.slow
def test_the_vendored_brotli_decoder_gives_back_the_webassembly_byte_for_byte(tmp_path):
    """Google's decoder (join/static/vendor/brotli/), as the page runs it over plain http://, on the WebAssembly's
    .br, in Node (the browser does the same in tests/test_browser_room.py)."""
    import hashlib
    import shutil as shell
    import subprocess

    import pytest

    from join.routes import BROTLI_DECODER, RUNTIME_WASM, STATIC

    node = shell.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    decoder = tmp_path / "decode.mjs"  # .mjs: an ES module to Node, as to the browser
    shutil.copyfile(STATIC / BROTLI_DECODER, decoder)
    script = ("import { readFileSync } from 'node:fs'; import { createHash } from 'node:crypto';"
              f"import {{ BrotliDecode }} from {json.dumps(decoder.as_uri())};"
              f"const out = BrotliDecode(new Int8Array(readFileSync({json.dumps(str(STATIC / RUNTIME_WASM))}"
              " + '.br'))); console.log(out.length, createHash('sha256').update(out).digest('hex'));")
    result = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True,
                            timeout=120, check=True)
    wasm = (STATIC / RUNTIME_WASM).read_bytes()
    assert result.stdout.split() == [str(len(wasm)), hashlib.sha256(wasm).hexdigest()]


@pytest.mark.slow
def test_damaged_test_files_serve_a_users_run_float16_unchecked_and_tell_only_the_server_log(
        tmp_path, monkeypatch, caplog):
    """A run of the user's with no int8 check stored beside it, on a server whose MNIST test files are truncated:
    as without MNIST, /join/models serves it float16, unchecked; the presenter reads why in the server's log, and
    the phone's reply names none of the server's folders."""
    from mnist_core.data import RAW_FILES, raw_folder
    from mnist_core.workspace import Workspace
    from tests.support.mnist_files import write_fake_mnist

    for name, value in folder_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    mine = tmp_path / "runs" / "lenet5-mine"
    shutil.copytree(PROJECT_ROOT / "checkpoints" / "lenet5", mine)
    (mine / INT8_CHECK_FILE).unlink()
    Workspace(PROJECT_ROOT).use_for_room({"lenet5": mine})
    root = write_fake_mnist(tmp_path / "mnist")
    images = raw_folder(root) / RAW_FILES[2]
    images.write_bytes(images.read_bytes()[:-10])
    monkeypatch.setenv("MNIST_DATA_DIR", str(root))
    monkeypatch.setattr(onnx_export, "compare_onnx", _never_checked)

    with in_process_join(tmp_path) as join, caplog.at_level("WARNING", logger="join.routes"):
        reply = join.client.get("/join/models")
    assert reply.status_code == 200, reply.text
    lenet5 = {model["key"]: model for model in reply.json()["models"]}["lenet5"]
    assert lenet5["weights"] == "float16" and lenet5["int8_refused"] is None
    assert str(tmp_path) not in reply.text and "float16" in caplog.text and str(root) in caplog.text
