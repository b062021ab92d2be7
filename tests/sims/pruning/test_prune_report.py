"""sims.pruning.prune_report: the metrics of a user's network's outputs against hand values and
torch's losses, the near-chance rule, the report lines and the useless-result warning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sims.pruning.prune_report import (NEAR_CHANCE, NO_BETTER_MARGIN, PruneReport, describe_metrics, near_chance,
                                       network_metrics, useless_warning)


def test_network_metrics_by_argmax_with_cross_entropy_and_both_losses():
    rng = np.random.default_rng(0)
    outputs, labels = rng.standard_normal((8, 3)), rng.integers(0, 3, 8)
    targets, reference = np.eye(3)[labels], rng.standard_normal((8, 3))
    metrics = network_metrics(outputs, labels, targets, reference)
    assert metrics["accuracy"] == np.mean(outputs.argmax(1) == labels)
    expected = torch.nn.functional.cross_entropy(torch.tensor(outputs), torch.tensor(labels)).item()
    assert metrics["cross_entropy"] == pytest.approx(expected, rel=1e-12)
    assert metrics["labels_loss"] == pytest.approx(0.5 * np.mean(np.sum((outputs - targets) ** 2, 1)), rel=1e-14)
    assert metrics["target_loss"] == pytest.approx(0.5 * np.mean(np.sum((outputs - reference) ** 2, 1)), rel=1e-14)
    assert network_metrics(outputs) == {}


def test_one_output_predicts_the_smallest_label_below_zero_and_the_largest_above():
    metrics = network_metrics(np.array([[-1.0], [0.5], [0.0], [2.0]]), np.array([3, 8, 8, 3]))
    assert metrics == {"accuracy": 0.5}  # predicts 3, 8, 3 (0 is not above zero), 8


def test_near_chance_is_below_chance_plus_a_share_of_the_rest():
    labels = np.array([0] * 6 + [1] * 2 + [2] * 2)  # chance 0.6
    boundary = 0.6 + NEAR_CHANCE * 0.4
    assert near_chance(boundary - 1e-9, labels) == (True, 0.6)
    assert near_chance(boundary + 1e-9, labels) == (False, 0.6)


def test_useless_warning_names_the_evidence_and_the_likely_cause():
    trivial = {"train_accuracy": 0.5}
    assert useless_warning({"train_accuracy": 0.5 + NO_BETTER_MARGIN + 0.01}, trivial, (4,), (4,), "dense") is None
    text = useless_warning({"train_accuracy": 0.5 + NO_BETTER_MARGIN}, trivial, (4,), (4,), "labels")
    assert text.startswith("the pruned network is no better than its output bias alone: train accuracy 0.550")
    assert "target 'labels'" in text
    single = useless_warning({"train_accuracy": 0.9}, trivial, (1, 3), (2, 3), "dense")
    assert "a single unit (hidden layer 1 kept 1 unit of n = 2 asked)" in single and "too few units" in single
    losses = useless_warning({"train_target_loss": 0.3}, {"train_target_loss": 0.3}, (4,), (4,), "dense")
    assert "loss against the target 0.3, the output bias alone 0.3" in losses


def test_report_lines_say_the_dense_network_the_pruned_one_and_the_refit():
    dense = {"train_accuracy": 0.9, "train_labels_loss": 0.2}
    pruned = {"train_accuracy": 0.45, "train_labels_loss": 0.3, "train_target_loss": 0.1}
    assert describe_metrics(pruned, dense) == ("train accuracy 0.450 (50.0% of dense); squared loss against the "
                                               "labels 0.3; against the target 0.1")
    report = PruneReport("dense", (2,), (8,), (2,), dense, pruned, None, {})
    lines = report.lines("gfs")
    assert lines == ["dense network (hidden widths 8): train accuracy 0.900; squared loss against the labels 0.2",
                     "gfs, target dense (n = 2): kept 2 of 8 hidden units; " + describe_metrics(pruned, dense)]
    with_refit = PruneReport("dense", (2,), (8,), (2,), dense, pruned, pruned, {}, "ridge")
    assert with_refit.lines()[-1].startswith("after the ridge refit of the output layer: train accuracy 0.450")
