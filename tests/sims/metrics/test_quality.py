"""sims.metrics.quality: the half-MSE, accuracy and cross-entropy of outputs against hand values
and torch's own loss functions."""

import numpy as np
import pytest
import torch

from sims.metrics.quality import accuracy, cross_entropy, half_mean_squared_error, predicted_classes


def test_half_mean_squared_error_is_half_the_mean_squared_norm():
    outputs, targets = np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 2.0]])
    assert half_mean_squared_error(outputs, targets) == pytest.approx(0.5 * (1.0 + 4.0) / 2)
    assert half_mean_squared_error(np.ones(3), np.ones((3, 1))) == 0.0


def test_half_mean_squared_error_is_torchs_mse_times_half_k():
    rng = np.random.default_rng(0)
    outputs, targets = rng.standard_normal((9, 3)), rng.standard_normal((9, 3))
    torch_mse = torch.nn.functional.mse_loss(torch.tensor(outputs), torch.tensor(targets)).item()  # mean over m K
    assert half_mean_squared_error(outputs, targets) == pytest.approx(0.5 * 3 * torch_mse, rel=1e-12)


def test_accuracy_by_argmax_and_by_sign():
    assert accuracy(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 1])) == 0.5
    assert accuracy(np.array([-1.0, 2.0, 0.5]), np.array([3, 8, 3]), classes=(3, 8)) == pytest.approx(2 / 3)
    assert accuracy(np.array([[-1.0], [0.0], [0.5]]), np.array([0, 1, 1])) == pytest.approx(2 / 3)  # 0 is not > 0


def test_predicted_classes_take_the_sign_for_one_output_and_the_argmax_otherwise():
    assert predicted_classes(np.array([[-0.5], [0.5]]), (3, 8)).tolist() == [3, 8]
    assert predicted_classes(np.array([[0.0, 1.0, 0.5], [2.0, 1.0, 0.0]])).tolist() == [1, 0]


def test_cross_entropy_is_torchs_and_stable_for_large_logits():
    rng = np.random.default_rng(1)
    logits, labels = rng.standard_normal((11, 4)), rng.integers(0, 4, 11)
    expected = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(labels)).item()
    assert cross_entropy(logits, labels) == pytest.approx(expected, rel=1e-12)
    assert cross_entropy(logits + 1e4, labels) == pytest.approx(expected, rel=1e-9)
    assert cross_entropy(np.array([[1000.0, 0.0]]), np.array([1])) == pytest.approx(1000.0)
