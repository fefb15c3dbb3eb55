import numpy as np
import pytest
import torch
from torch import nn

from mnist_core.evaluation import confusion_matrix, evaluate, evaluation_from_logits, per_class_metrics


class Constant(nn.Module):
    """Always the same logits: predicts ``digit`` with known confidence."""

    def __init__(self, digit):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(10))
        with torch.no_grad():
            self.bias[digit] = 2.0

    def forward(self, x):
        return self.bias.expand(len(x), 10)


def test_confusion_matrix_counts_pairs():
    matrix = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 2, 0]))
    assert matrix.shape == (10, 10) and matrix.sum() == 6
    assert matrix[0, 0] == 1 and matrix[0, 1] == 1 and matrix[2, 2] == 2 and matrix[2, 0] == 1


def test_per_class_metrics_from_a_confusion_matrix():
    matrix = np.zeros((10, 10), dtype=int)
    matrix[0, 0], matrix[0, 1], matrix[1, 1], matrix[1, 0] = 8, 2, 6, 4
    scores = per_class_metrics(matrix)
    assert scores["precision"][0] == pytest.approx(8 / 12)
    assert scores["recall"][0] == pytest.approx(8 / 10)
    assert scores["f1"][0] == pytest.approx(2 * (8 / 12) * 0.8 / (8 / 12 + 0.8))
    assert scores["support"].tolist()[:3] == [10, 10, 0]
    assert scores["precision"][5] == 0 and scores["f1"][5] == 0  # never predicted, never present


def test_evaluate_reports_accuracy_loss_and_mistakes():
    images = torch.zeros(4, 28, 28, dtype=torch.uint8)
    labels = torch.tensor([3, 3, 1, 7])
    result = evaluate(Constant(3), images, labels)
    assert result.accuracy == pytest.approx(0.5)
    expected_loss = -torch.log_softmax(Constant(3).bias.detach(), 0)[labels].mean().item()
    assert result.loss == pytest.approx(expected_loss, rel=1e-5)
    assert result.predictions.tolist() == [3, 3, 3, 3]
    assert result.confidences[2] == pytest.approx(torch.softmax(Constant(3).bias.detach(), 0)[3].item())
    assert result.confusion[1, 3] == 1 and result.confusion[3, 3] == 2


def test_evaluate_keeps_the_training_mode():
    model = Constant(0).train()
    evaluate(model, torch.zeros(2, 28, 28, dtype=torch.uint8), torch.tensor([0, 1]))
    assert model.training


def test_empty_set_is_refused():
    with pytest.raises(ValueError, match="empty"):
        evaluation_from_logits(torch.empty(0, 10), torch.empty(0, dtype=torch.long))
