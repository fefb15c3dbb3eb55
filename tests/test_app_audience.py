"""AppTest for the Audience page (the Draw page's label buttons are tested in a real browser:
``test_browser.py`` and the load test)."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from mnist_core.audience import AudienceStore
from tests.support.apptest import html_blocks, open_page, texts


@pytest.fixture
def audience(tmp_path, monkeypatch):
    path = tmp_path / "audience.sqlite3"
    monkeypatch.setenv("MNIST_AUDIENCE_DB", str(path))
    return AudienceStore(path)


def store_drawing(store, label, said, session="s"):
    answers = {key: np.eye(10)[digit] for key, digit in said.items()}
    store.add(label=label, canvas_png=f"{label}{said}{session}".encode(), pixels=np.zeros((28, 28), np.uint8),
              answers=answers, runs={}, session=session)


@pytest.mark.slow
def test_audience_page_without_drawings_says_how_to_add_them(user_runs, audience):
    at = open_page("pages/audience.py")
    assert "No labelled drawings yet" in texts(at)


@pytest.mark.slow
def test_audience_page_scores_the_models_and_clears_after_confirmation(user_runs, audience):
    store_drawing(audience, 7, {"mlp": 1, "cnn": 7, "lenet5": 7}, session="a")
    store_drawing(audience, 3, {"mlp": 3, "cnn": 3, "lenet5": 8}, session="b")
    at = open_page("pages/audience.py")
    assert "2 drawings from 2 sessions" in texts(at)
    assert [m.value for m in at.metric] == ["50.0%", "100.0%", "50.0%"]
    assert len(at.get("plotly_chart")) == 3
    (gallery,) = [block for block in html_blocks(at) if "grid-template-columns" in block]  # the misread ones
    # Numbered as the export names them (drawing-000001.png …), newest first; no MNIST label notes.
    assert "drawing 2" in gallery and "drawing 1" in gallery and "label itself" not in gallery
    assert gallery.index("#2") < gallery.index("#1")
    at.button(key="audience.clear").click().run()
    assert "Delete all 2 labelled drawings?" in texts(at) and audience.count() == 2
    at.button(key="audience.clear.cancel").click().run()
    assert audience.count() == 2
    at.button(key="audience.clear").click().run()
    at.button(key="audience.clear.confirm").click().run()
    assert audience.count() == 0 and "No labelled drawings yet" in texts(at)


@pytest.mark.slow
def test_in_projector_mode_the_scores_are_a_table_with_short_numbers(user_runs, audience):
    for label, said in ((7, 7), (3, 3), (1, 7)):
        store_drawing(audience, label, {"mlp": said, "cnn": said, "lenet5": said})
    at = open_page("pages/audience.py")
    at.toggle(key="present").set_value(True).run()
    shown = at.table[0].proto.arrow_data.styler.display_values
    assert b"66.7" in shown and b"66.700000" not in shown  # as the data grid shows 66.7, not pandas' six decimals


@pytest.mark.slow
def test_damaged_rows_are_skipped_and_counted_on_the_page(user_runs, audience):
    from tests.test_audience_hostile import DAMAGED_ANSWERS

    store_drawing(audience, 7, {"mlp": 1, "cnn": 7, "lenet5": 7}, session="a")
    store_drawing(audience, 3, {"mlp": 3, "cnn": 3, "lenet5": 8}, session="b")
    with sqlite3.connect(audience.path) as connection:
        for index, answers in enumerate(DAMAGED_ANSWERS):
            connection.execute(
                "INSERT INTO drawings (created, session, drawing_sha, label, canvas_png, pixels, answers, runs) "
                "VALUES ('t', 'c', ?, 3, x'00', zeroblob(784), ?, '{}')", (str(index), answers))
    at = open_page("pages/audience.py")
    assert "4 damaged drawings skipped" in texts(at) and "2 drawings from 2 sessions" in texts(at)
    assert [m.value for m in at.metric] == ["50.0%", "100.0%", "50.0%"]


@pytest.mark.slow
def test_an_altered_store_gets_a_clear_message_on_the_page(user_runs, audience):
    store_drawing(audience, 7, {"mlp": 7, "cnn": 7, "lenet5": 7})
    with sqlite3.connect(audience.path) as connection:
        connection.execute("CREATE TRIGGER t AFTER INSERT ON drawings BEGIN DELETE FROM drawings; END")
    at = open_page("pages/audience.py")
    assert "is not an audience store" in "\n".join(e.value for e in at.error)


@pytest.mark.slow
def test_a_model_chosen_later_is_scored_over_the_drawings_it_answered(user_runs, audience, tmp_path):
    store_drawing(audience, 7, {"mlp": 1, "cnn": 7, "lenet5": 7}, session="a")
    store_drawing(audience, 3, {"mlp": 3, "cnn": 3, "lenet5": 8, "lenet5_relu": 3}, session="b")
    at = open_page("pages/audience.py")
    assert [m.value for m in at.metric] == ["50.0%", "100.0%", "50.0%", "100.0%"]
    assert "1 drawing" in texts(at)  # LeNet-5 (ReLU) answered one of the two
    columns = audience.export(tmp_path / "out").labels.read_text().splitlines()[0].split(",")
    assert columns == ["file", "label", "mlp_answer", "cnn_answer", "lenet5_answer", "lenet5_relu_answer",
                       "created", "session", "nickname"]
    audience.clear()
    store_drawing(audience, 7, {"mlp": 7, "cnn": 7, "lenet5": 7})
    assert "lenet5_relu_answer" not in audience.export(tmp_path / "again").labels.read_text()


@pytest.mark.slow
def test_the_audience_page_shows_the_join_address_and_its_qr_code(user_runs, audience, monkeypatch):
    """The address phones reach (MNIST_PUBLIC_URL, else this machine's) in large type, and a QR code of it."""
    from dashboard.join_link import qr_png

    monkeypatch.setenv("MNIST_PUBLIC_URL", "http://10.1.2.3:8501/")
    at = open_page("pages/audience.py")
    assert "http://10.1.2.3:8501/join" in "".join(html_blocks(at))
    images = at.get("image")
    assert images, "no QR code"
    monkeypatch.delenv("MNIST_PUBLIC_URL")
    at = open_page("pages/audience.py")
    shown = "".join(html_blocks(at))
    assert "/join</p>" in shown and "10.1.2.3" not in shown  # this machine's own address
    assert qr_png("http://10.1.2.3:8501/join") != qr_png("http://10.1.2.4:8501/join")  # the code holds the address
