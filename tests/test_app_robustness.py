"""AppTest for the Robustness page."""

from __future__ import annotations

import pytest

from tests.support.apptest import html_blocks, open_page, texts


def test_robustness_page_shows_every_perturbation_from_the_stored_sweep(user_runs, real_data_root, monkeypatch):
    import mnist_core.robustness

    def must_not_sweep(*args, **kwargs):
        raise AssertionError("the shipped runs' default sweep is stored: nothing should be computed")

    monkeypatch.setattr(mnist_core.robustness, "sweep", must_not_sweep)
    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    at = open_page("pages/robustness.py")
    assert len(at.get("plotly_chart")) == 7
    shown = texts(at)
    assert "Accuracy on 2,000 test images (seed 0)" in shown
    assert "MLP falls to 48 %, LeNet-5 only to 78 %" in shown and "every model falls" in shown
    assert [s.value for s in at.main.header] == ["Horizontal shift", "Vertical shift", "Rotation", "Scale",
                                               "Stroke thickness", "Gaussian noise", "Occlusion"]
    strips = html_blocks(at)
    assert len(strips) == 7 and "LeNet-5" in strips[0]


def test_robustness_page_focuses_one_perturbation_and_sweeps_new_settings(user_runs, real_data_root, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    at = open_page("pages/robustness.py")
    at.selectbox(key="robustness.perturbation").set_value("rotation").run()
    assert [s.value for s in at.main.header] == ["Rotation"] and len(at.get("plotly_chart")) == 1
    at.selectbox(key="robustness.images").set_value(500).run()  # not stored: computed now, with progress
    assert not at.exception and "Accuracy on 500 test images (seed 0)" in texts(at)
    at.number_input(key="robustness.example").set_value(7).run()
    assert not at.exception and "Test image #7, a 9" in texts(at)
    at.button(key="robustness.random_example").click().run()
    assert not at.exception and "Test image #" in texts(at)


@pytest.mark.slow
def test_robustness_page_without_data_says_what_to_do(user_runs, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "nowhere"))
    at = open_page("pages/robustness.py")
    assert "needs the test images" in texts(at) and "MNIST_DATA_DIR" in texts(at)
