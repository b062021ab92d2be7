"""sims.pruning.tradeoff: the trade-off bench's rows: the n(eps) rule, the retry at half the learning
rate of a procedure whose GD fails, and the rows of a small bench against the metrics computed
directly."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from sims.baselines import methods as baselines
from sims.baselines.methods import PruningProblem, PruningResult, neurons_of, prune_with
from sims.metrics.cost import forward_flops, parameter_count
from sims.metrics.quality import half_mean_squared_error
from sims.nets.model import forward, init_network
from sims.nets.train import TrainConfig, TrainingDiverged
from sims.pruning.tradeoff import LR_HALVINGS, Split, criterion_of, meets, tradeoff_rows

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_n_eps_criterion_and_rule():
    assert criterion_of(True) == ("test_accuracy", True) and criterion_of(False) == ("test_loss", False)
    assert meets(0.98, 1.0, 0.02, True) and not meets(0.9799, 1.0, 0.02, True)
    assert meets(0.12, 0.1, 0.02, False) and not meets(0.1201, 0.1, 0.02, False)


def test_rows_of_a_one_shot_method_are_its_pruned_networks_metrics():
    X = torch.randn(20, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    Y = torch.randn(20, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    dense = init_network(3, 8, 2, seed=0)
    problem = PruningProblem(dense, dense, X, Y, TrainConfig(lr=1.0, iterations=5))
    splits = {"train": Split(X, Y.numpy()), "test": Split(X[:0], Y.numpy()[:0])}
    rows = tradeoff_rows(problem, ["magnitude"], [2, 4], splits, dataset="d", seed=0, tolerances=(0.5,))
    of = {(r["method"], r["n"], r["metric"]): r["value"] for r in rows}
    for n in (4, 2):
        network = prune_with("magnitude", problem, n).network
        assert of["magnitude", n, "width"] == network.width
        assert of["magnitude", n, "flops"] == forward_flops(3, network.width, 2, first_bias=False, output_bias=False)
        assert of["magnitude", n, "params"] == parameter_count(3, network.width, 2, first_bias=False,
                                                               output_bias=False)
        with torch.no_grad():
            assert of["magnitude", n, "train_loss"] == half_mean_squared_error(forward(network, X).numpy(), Y.numpy())
    assert of["dense", 8, "compression"] == 1.0 and ("magnitude", 4, "test_loss") not in of  # empty test split
    met = [n for n in (4, 2) if meets(of["magnitude", n, "train_loss"], of["dense", 8, "train_loss"], 0.5, False)]
    assert of["magnitude", None, "n_eps"] == (min(met) if met else 8)


def test_a_procedure_that_diverges_is_run_again_at_half_the_learning_rate(monkeypatch):
    """The same rule for every procedure that trains: halve lr while GD fails (diverges, or ends
    above the loss it started from), at most LR_HALVINGS times, and report the rate used
    (train_lr); after that one diverged_lr row."""
    tried = []

    def fragile(problem, n, below, ascend=False):
        tried.append(problem.budget.lr)
        if problem.budget.lr > below and not ascend:
            raise TrainingDiverged("diverged")
        end = 2.0 if problem.budget.lr > below else 0.5  # above (failed) or below the start's 1.0
        return PruningResult(np.arange(n), neurons_of(problem.dense, np.arange(n)), train_steps=problem.budget.iterations,
                             train_losses=(1.0, end))

    X = torch.randn(12, 3, dtype=torch.float64)
    Y = torch.randn(12, 2, dtype=torch.float64)
    net = init_network(3, 8, 2, seed=0)
    problem = PruningProblem(net, net, X, Y, TrainConfig(lr=1.0, iterations=5))
    splits = {"train": Split(X, Y.numpy()), "test": Split(X, Y.numpy())}
    every = [2.0 ** -k for k in range(LR_HALVINGS + 1)]
    for below, ascend, expected in ((0.3, False, [1.0, 0.5, 0.25]), (0.3, True, [1.0, 0.5, 0.25]),
                                    (1e-3, False, every), (1e-3, True, every)):
        tried.clear()
        spec = replace(baselines.PRUNING_METHODS["direct-gd"], function=lambda p, n: fragile(p, n, below, ascend))
        monkeypatch.setitem(baselines.PRUNING_METHODS, "direct-gd", spec)
        rows = tradeoff_rows(problem, ["direct-gd"], [2], splits, dataset="d", seed=0)
        assert tried == expected
        lr = [r["value"] for r in rows if r["metric"] == "train_lr"]
        diverged = [r["value"] for r in rows if r["metric"] == "diverged_lr"]
        assert (lr, diverged) == (([0.25], []) if below == 0.3 else ([], [1.0]))
