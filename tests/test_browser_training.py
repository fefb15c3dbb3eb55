"""Training from the browser when things go wrong: the tab closed mid-epoch, the server killed.

No half-written run may appear, no existing run may change, and the next training works.
"""

from __future__ import annotations

import signal

import pytest

from mnist_core.runs import find_runs
from tests.support.hostile_files import hostile_files
from tests.support.mnist_files import real_data_root_or_none
from tools.browser import streamlit_server, wait_for, wait_until_idle

pytestmark = pytest.mark.browser


def start_training(page, url: str, epochs: int) -> None:
    """LeNet-5 only, 1,000 training images, ``epochs`` epochs: press Train."""
    page.goto(f"{url}/train")
    page.get_by_role("heading", name="Train models").wait_for(timeout=60_000)
    for name in ("MLP", "CNN"):  # leave only LeNet-5 selected
        page.get_by_role("button", name=name, exact=True).click()
    page.get_by_label("Epochs").fill(str(epochs))
    slider = page.get_by_role("slider")
    slider.focus()
    slider.press("Home")  # 1,000 training images
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("LeNet-5 — epoch").wait_for(timeout=60_000)


def test_closing_the_tab_or_killing_the_server_loses_nothing(tmp_path, real_mnist, browser):
    runs_dir = tmp_path / "runs"
    env = {"MNIST_RUNS_DIR": str(runs_dir), "MNIST_DATA_DIR": str(real_data_root_or_none().resolve())}
    with streamlit_server(env) as server:
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        start_training(page, server.url, epochs=3)
        page.reload()  # a reload still shows the training, with its Stop button
        page.get_by_text("Training now").wait_for(timeout=60_000)
        # In the page, not the header's Stop that Streamlit shows while a script runs.
        page.locator('[data-testid="stMain"]').get_by_role("button", name="Stop").wait_for(timeout=30_000)
        page.close()  # the tab closes mid-epoch: training goes on and saves a complete run
        (run,) = wait_for(lambda: find_runs(runs_dir)[0], timeout=120, what="the run of the closed tab")
        assert run.model_key == "lenet5" and len(run.history) == 3 and not run.stopped_early
        before = {path.name: path.read_bytes() for path in run.path.iterdir()}

        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        start_training(page, server.url, epochs=50)
        server.process.send_signal(signal.SIGKILL)  # the server dies mid-training
        server.process.wait(timeout=30)
        page.close()

    runs, damaged = find_runs(runs_dir)
    assert [r.path for r in runs] == [run.path] and damaged == []
    assert {path.name: path.read_bytes() for path in run.path.iterdir()} == before

    with streamlit_server(env) as server:  # a fresh server trains again and lists both runs
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        start_training(page, server.url, epochs=1)
        wait_for(lambda: len(find_runs(runs_dir)[0]) == 2, timeout=120, what="the next run")
        page.get_by_text("Saved 1 run(s)").wait_for(timeout=30_000)
        assert page.locator('[data-testid="stException"]').count() == 0


def test_every_hostile_file_uploaded_gets_its_reason_or_predictions_and_names_stay_text(tmp_path, browser):
    """The whole hostile-file matrix through the Draw page's upload, and markup in names shown as text."""
    matrix = hostile_files()
    evil = "x<img src=x onerror=window.__pwned=1>"
    runs = tmp_path / "runs"
    (runs / evil).mkdir(parents=True)  # a damaged run whose name is markup: listed in the sidebar
    (runs / evil / "run.json").write_text("{ not json")
    files = tmp_path / "uploads"
    files.mkdir()
    with streamlit_server({"MNIST_RUNS_DIR": str(runs)}) as server:
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(f"{server.url}/draw")
        page.get_by_text("1 damaged run(s)").click()  # open the sidebar's list of damaged runs
        page.get_by_text("not valid JSON").wait_for(timeout=30_000)
        page.get_by_role("tab", name="Upload a photo").click()
        upload = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
        main = page.locator('[data-testid="stMain"]')  # not the sidebar, which lists the damaged run
        for name, (content, refusal) in [*matrix.items(), (f"{evil}.png", (b"junk", "Not a readable image"))]:
            # The uploader itself refuses unlisted extensions; the content is what is under test.
            path = files / (name if name.endswith((".png", ".jpg", ".gif", ".tif")) else f"{name}.png")
            path.write_bytes(content)
            upload.set_input_files(str(path))
            wait_for(lambda: page.locator('[data-testid="stFileChip"]').count() == 1, timeout=30,
                     what=f"the upload of {name}")
            if refusal is None:
                wait_for(lambda: page.locator('[data-testid="stMetricValue"]').all_inner_texts() == ["7", "7", "7"],
                         timeout=60, what=f"three 7s for {name}")
            else:
                wait_for(lambda: main.get_by_text(refusal).count(), timeout=30, what=f"the reason for {name}")
            assert page.locator('[data-testid="stException"]').count() == 0, name
            page.locator('[data-testid="stFileChipDeleteBtn"] button').first.click()  # start clean for the next
            wait_for(lambda: page.locator('[data-testid="stMetricValue"]').count() == 0
                     and main.get_by_text(refusal or "no such text").count() == 0
                     and page.locator('[data-testid="stFileChip"]').count() == 0,
                     timeout=30, what=f"a clean page after {name}")
            # The removal's rerun must end first: a file set while it runs can be dropped by the frontend.
            wait_until_idle(page)
        assert page.locator('img[src="x"]').count() == 0 and page.evaluate("window.__pwned") is None
        assert page.get_by_text(evil).count() >= 1  # shown, as text
