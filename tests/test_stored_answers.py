"""A model's answers on the test set kept on disk (mnist_core/stored_answers.py), and a fresh server's Overview
reading them instead of evaluating."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from mnist_core import stored_answers as stored
from mnist_core.stored_answers import labelled_set_key, model_name, stored_answers

LABELS = np.array([3, 1, 4, 1, 5])


def answers():
    return np.array([3, 1, 4, 7, 5]), np.array([0.9, 0.8, 0.7, 0.6, 0.5])


def counting(calls: list):
    def compute():
        calls.append(1)
        return answers()
    return compute


def test_answers_are_computed_once_and_read_back_as_evaluate_gives_them(tmp_path):
    calls = []
    first = stored_answers("model-a", "test-set", 5, counting(calls), folder=tmp_path)
    again = stored_answers("model-a", "test-set", 5, counting(calls), folder=tmp_path)
    assert len(calls) == 1
    for got in (first, again):
        assert got[0].tolist() == [3, 1, 4, 7, 5] and got[0].dtype == np.int64
        assert np.allclose(got[1], answers()[1]) and got[1].dtype == np.float32


def test_another_model_or_another_test_set_is_computed_again(tmp_path):
    calls = []
    for model, test in (("a", "t"), ("b", "t"), ("a", "u")):
        stored_answers(model, test, 5, counting(calls), folder=tmp_path)
    assert len(calls) == 3 and len(list(tmp_path.iterdir())) == 3


class Doubling(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 2)

    def forward(self, inputs):
        return 2 * self.layer(inputs)


class Tripling(Doubling):  # the same weights, other code
    def forward(self, inputs):
        return 3 * self.layer(inputs)


def test_a_models_name_follows_its_weights_their_order_and_its_code():
    names = {model_name(["a"], Doubling()), model_name(["b"], Doubling()), model_name(["a", "b"], Doubling()),
             model_name(["b", "a"], Doubling()), model_name(["a"], Tripling())}
    assert len(names) == 5 and model_name(["a"], Doubling()) == model_name(["a"], Doubling())


@pytest.mark.parametrize("damage", ["empty", "not an npz file", "cut short", "a byte changed", "an .npy file",
                                    "answers for 4 images where 5 are asked"])
def test_a_damaged_or_foreign_file_is_computed_again_and_replaced(tmp_path, damage):
    stored_answers("a", "t", 5, counting([]), folder=tmp_path)
    (path,) = tmp_path.iterdir()
    intact = path.read_bytes()
    if damage == "answers for 4 images where 5 are asked":
        with path.open("wb") as file:
            np.savez(file, predictions=np.zeros(4, np.uint8), confidences=np.zeros(4, np.float32))
    elif damage == "an .npy file":
        with path.open("wb") as file:
            np.save(file, np.zeros(5, np.uint8))
    else:
        changed = bytearray(intact)
        changed[100] ^= 0xFF  # inside the first array's data: its CRC no longer matches
        path.write_bytes({"empty": b"", "not an npz file": b"not an npz file", "cut short": intact[:len(intact) // 2],
                          "a byte changed": bytes(changed)}[damage])
    calls = []
    assert stored_answers("a", "t", 5, counting(calls), folder=tmp_path)[0].tolist() == [3, 1, 4, 7, 5]
    assert len(calls) == 1
    assert stored_answers("a", "t", 5, counting(calls), folder=tmp_path)[0].tolist() == [3, 1, 4, 7, 5]
    assert len(calls) == 1  # rewritten whole


def test_a_folder_that_cannot_be_written_costs_only_the_wait(tmp_path):
    blocked = tmp_path / "a file, not a folder"
    blocked.write_text("")
    calls = []
    for _ in range(2):
        assert stored_answers("a", "t", 5, counting(calls), folder=blocked / "answers")[0].tolist() == [3, 1, 4, 7, 5]
    assert len(calls) == 2


def test_the_folder_keeps_the_most_recently_used_files(tmp_path, monkeypatch):
    monkeypatch.setattr(stored, "KEPT_FILES", 2)
    files = {}
    for model, hours_ago in (("a", 2), ("b", 1)):  # a used before b
        stored_answers(model, "t", 5, counting([]), folder=tmp_path)
        (files[model],) = set(tmp_path.iterdir()) - set(files.values())
        os.utime(files[model], (0, files[model].stat().st_mtime - 3600 * hours_ago))
    stored_answers("a", "t", 5, counting([]), folder=tmp_path)  # read: now the most recently used
    stored_answers("c", "t", 5, counting([]), folder=tmp_path)  # written: b, the least recently used, goes
    assert files["a"].exists() and not files["b"].exists() and len(list(tmp_path.iterdir())) == 2


def test_answers_that_are_not_one_digit_an_image_are_refused(tmp_path):
    with pytest.raises(ValueError, match="must be 5 digits 0-9"):
        stored_answers("a", "t", 5, lambda: (np.array([3, 1, 4, 1, 500]), np.ones(5)), folder=tmp_path)
    with pytest.raises(ValueError, match="must be 5 digits 0-9"):
        stored_answers("a", "t", 5, lambda: (np.array([3, 1, 4]), np.ones(3)), folder=tmp_path)
    assert not list(tmp_path.iterdir())


def test_the_key_of_a_test_set_follows_every_image_and_label():
    images = np.zeros((5, 28, 28), np.uint8)
    key = labelled_set_key(images, LABELS)
    changed_image = images.copy()
    changed_image[2, 14, 14] = 1
    assert key == labelled_set_key(images.copy(), LABELS.copy())
    assert len({key, labelled_set_key(changed_image, LABELS), labelled_set_key(images, LABELS[::-1].copy()),
                labelled_set_key(images[:4], LABELS[:4])}) == 4


@pytest.mark.slow
def test_a_fresh_servers_overview_reads_the_answers_the_last_one_stored(real_data_root, monkeypatch, tmp_path):
    """The Overview stores the answers of the runs in use and of each seed group's ensemble; with Streamlit's
    caches emptied (a server started again) and evaluation made to fail, it shows the same page."""
    import streamlit as st

    import mnist_core.evaluation
    from tests.support.apptest import open_page, texts

    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "runs"))
    st.cache_data.clear()  # what an earlier AppTest in this process computed: this one starts as a fresh server
    first = open_page()
    folder = tmp_path / "cache" / "answers"  # conftest's MNIST_CACHE_DIR
    # The two best runs' (the Overview tests them against each other) and the three seed groups' ensembles'
    assert len(list(folder.glob(f"v{stored.FORMAT}-*.npz"))) == 2 + 3
    st.cache_data.clear()

    def no_evaluation(*args, **kwargs):
        raise AssertionError("evaluated again")

    monkeypatch.setattr(mnist_core.evaluation, "evaluate", no_evaluation)
    again = open_page()
    assert texts(again) == texts(first)
