"""How close a network's outputs are to what they should be: plain functions of arrays, in float64.

Outputs are (m, K) (or (m,) for K = 1): one row per example. The loss is the mean form of
docs/THEORY.md, ``0.5 mean_j ||f(x_j) - y_j||^2``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["half_mean_squared_error", "predicted_classes", "accuracy", "cross_entropy"]


def half_mean_squared_error(outputs, targets) -> float:
    """0.5 * mean_j ||outputs_j - targets_j||^2 in float64; outputs and targets (m, K) or (m,)."""
    outputs = np.asarray(outputs, dtype=np.float64).reshape(len(targets), -1)
    targets = np.asarray(targets, dtype=np.float64).reshape(len(targets), -1)
    return float(0.5 * np.mean(np.sum((outputs - targets) ** 2, axis=1)))


def predicted_classes(outputs, classes=None) -> np.ndarray:
    """The class each row of outputs (m, K) predicts: the argmax for K > 1; for K = 1 the sign,
    ``classes[1]`` where the output is > 0 and ``classes[0]`` otherwise (default classes (0, 1))."""
    outputs = np.asarray(outputs, dtype=np.float64)
    outputs = outputs.reshape(outputs.shape[0], -1)
    if outputs.shape[1] == 1:
        classes = classes or (0, 1)
        return np.where(outputs[:, 0] > 0, classes[1], classes[0])
    return outputs.argmax(1)


def accuracy(outputs, labels, classes=None) -> float:
    """Share of correct predictions (:func:`predicted_classes`) against labels (m,)."""
    return float(np.mean(predicted_classes(outputs, classes) == np.asarray(labels)))


def cross_entropy(outputs, labels) -> float:
    """Mean softmax cross-entropy of logits (m, K), K > 1, against integer labels (m,) in [0, K)."""
    outputs = np.asarray(outputs, dtype=np.float64).reshape(len(labels), -1)
    shifted = outputs - outputs.max(1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    return float(-np.mean(log_probabilities[np.arange(len(labels)), np.asarray(labels)]))
