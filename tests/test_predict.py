"""Predictions with the shipped checkpoints, and the shared ModelSet staying untouched."""

import threading

import numpy as np
import torch

from mnist_core.predict import agreement, latency_ms, load_model_set, shipped_run_dirs
from mnist_core.preprocess import prepare_digit
from mnist_core.runs import load_model
from tests.support.images import draw_seven


def test_one_call_gives_each_model_probabilities_and_a_digit():
    models = load_model_set(shipped_run_dirs())
    predictions = models.predict(prepare_digit(draw_seven()).tensor)
    assert set(predictions) == {"mlp", "cnn", "lenet5"}
    for prediction in predictions.values():
        assert prediction.probabilities.shape == (10,) and abs(prediction.probabilities.sum() - 1) < 1e-5
        assert prediction.digit == int(np.argmax(prediction.probabilities)) == 7
    assert agreement(predictions) == 7


def test_predictions_never_change_the_shared_models():
    models = load_model_set(shipped_run_dirs())
    before = {key: {name: t.clone() for name, t in model.state_dict().items()}
              for key, model in models._models.items()}
    inputs = prepare_digit(draw_seven()).tensor
    results = []

    def predict_many():
        for _ in range(20):
            results.append({key: p.digit for key, p in models.predict(inputs).items()})

    threads = [threading.Thread(target=predict_many) for _ in range(4)]  # like four browser sessions
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 80 and all(result == results[0] for result in results)
    for key, model in models._models.items():
        assert not model.training and not any(p.requires_grad for p in model.parameters())
        for name, tensor in model.state_dict().items():
            assert torch.equal(tensor, before[key][name]), (key, name)


def test_prediction_does_not_change_the_callers_thread_count():
    models = load_model_set(shipped_run_dirs())
    threads = torch.get_num_threads()
    models.predict(prepare_digit(draw_seven()).tensor)
    assert torch.get_num_threads() == threads


def test_latency_is_measured_on_one_thread_and_leaves_the_callers_setting():
    model = load_model(shipped_run_dirs()["lenet5"])
    threads = torch.get_num_threads()
    seen = []
    model.register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    assert 0 < latency_ms(model, repeats=5) < 1000
    assert seen == [1] * 10 and torch.get_num_threads() == threads
