"""Vectorised evaluation on the whole test split: accuracy, loss, confusion matrix, per-class scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .data import normalize
from .networks import preferred_memory_format

NUM_CLASSES = 10


@dataclass(frozen=True)
class Evaluation:
    """A model's results on one labelled set of images."""

    accuracy: float  # fraction in [0, 1]
    loss: float  # mean cross-entropy
    confusion: np.ndarray  # (10, 10) counts; rows are true digits, columns predictions
    labels: np.ndarray  # (N,) true digits
    predictions: np.ndarray  # (N,) predicted digits
    confidences: np.ndarray  # (N,) probability of the predicted digit


def predict_logits(model: nn.Module, inputs: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Logits ``(N, 10)`` for normalised inputs ``(N, 1, 28, 28)``, in eval mode, without gradients.

    The model's own mode is restored afterwards, so this is safe inside a training loop.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    memory_format = preferred_memory_format(model, device)
    try:
        with torch.inference_mode():
            # Batches of 500 stay in the CPU cache: much faster than one big batch.
            chunks = [
                model(inputs[i : i + batch_size].to(device).contiguous(memory_format=memory_format))
                .detach().float().cpu()
                for i in range(0, len(inputs), batch_size)
            ]
    finally:
        model.train(was_training)
    return torch.cat(chunks) if chunks else torch.empty(0, NUM_CLASSES)


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> Evaluation:
    """Evaluate ``model`` on uint8 images ``(N, 28, 28)`` (or normalised ``(N, 1, 28, 28)``) and labels."""
    inputs = normalize(images) if images.dtype == torch.uint8 else images
    return evaluation_from_logits(predict_logits(model, inputs, batch_size), labels)


def evaluation_from_logits(logits: torch.Tensor, labels: torch.Tensor) -> Evaluation:
    """Accuracy, loss and confusion matrix of precomputed logits ``(N, 10)``."""
    if len(logits) == 0:
        raise ValueError("Cannot evaluate on an empty set of images.")
    labels = labels.long().cpu()
    loss = float(F.cross_entropy(logits, labels))
    probabilities = logits.softmax(dim=1)
    confidences, predictions = probabilities.max(dim=1)
    truth, predicted = labels.numpy(), predictions.numpy()
    return Evaluation(
        accuracy=float((predicted == truth).mean()),
        loss=loss,
        confusion=confusion_matrix(truth, predicted),
        labels=truth,
        predictions=predicted,
        confidences=confidences.numpy(),
    )


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """``(C, C)`` counts: entry ``[t, p]`` is how often true class ``t`` was predicted as ``p``."""
    flat = np.asarray(truth, dtype=np.int64) * num_classes + np.asarray(predicted, dtype=np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_metrics(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support of each class, from a confusion matrix alone.

    A class never predicted (or never present) gets 0 rather than a division by zero.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    hits = np.diag(confusion)
    predicted = confusion.sum(axis=0)
    actual = confusion.sum(axis=1)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, actual, out=np.zeros_like(hits), where=actual > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(hits), where=both > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": actual.astype(np.int64)}
