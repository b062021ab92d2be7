"""ShrinkBench-style trade-off of every registered pruning method on one checkpoint: the tidy rows
(the bench of E5 and of ``gfs compare``, :mod:`sims.pruning.compare`; its table and figure:
:mod:`sims.pruning.tradeoff_report`).

For a dense two-layer network of width N and each compression c (default 2, 4, 8, 16, 32), each
method of :data:`sims.baselines.methods.PRUNING_METHODS` keeps n = floor(N / c) neurons. Each pruned
network is reported as tidy rows (one per method, n, seed and metric):

- ``width``: hidden units of the pruned network (<= n; GFS with replacement may merge repeats);
- ``compression``: N / width; ``param_compression``: parameters of the dense network / of the
  pruned one (Blalock et al. 2020's compression ratio); ``params``: the pruned network's
  parameter count; ``flops``: exact FLOPs of its forward pass on one example
  (:func:`sims.metrics.cost.forward_flops`); ``speedup``: the dense network's FLOPs / the pruned one's (the
  theoretical speed-up);
- ``train_loss``, ``test_loss`` (mean form ``0.5 mean_j ||f(x_j) - y_j||^2``) and, for labelled
  data, ``train_accuracy``, ``test_accuracy``;
- ``train_steps``, ``train_flops``: GD steps run after the checkpoint and their exact FLOPs at
  the width each step runs at (:func:`sims.metrics.cost.gd_step_flops`; 0 for a one-shot criterion);
- ``cost_<counter>``: the method's other deterministic cost counters (``cost_candidate_scores``:
  candidate-example loss evaluations of a greedy selection; ``cost_regrown``: neurons RigL
  regrew; ``cost_dense_steps``: a dense run IMP made itself);
- with ``finetune``: the same rows for ``<method>+ft``, each one-shot method's pruned network
  fine-tuned for F = T GD steps (:mod:`sims.baselines.finetune_stage`), so every procedure that trains has
  the same steps after the checkpoint; and ``<name>@flops`` rows where the equal-FLOPs view
  differs from the equal-steps one (IMP's wider rounds; a ``+ft`` narrower than n);
- ``n_eps`` (with ``eps``): the smallest measured n whose criterion metric (test accuracy for
  labelled data, ``>= (1 - eps)`` times the dense network's; test loss otherwise, ``<= dense + eps``)
  is met; the dense width N when no compression meets it (censored: the dense network itself
  meets it). For the greedy methods (``gfs``, ``gfs-norep``, ``gfs-published``) also
  ``n_eps_path``: the same rule at every n = 1 .. floor(N/2) along the selection path.

The dense network's rows have method ``dense`` and n = N. A procedure whose GD fails, diverging
or ending its training at width n with a higher training loss than it started from, is run again
at half the learning rate, at most LR_HALVINGS times, the same rule for every procedure that trains
(a one-shot network averages neurons that need not cancel, so its fine-tuning may start from a loss
thousands of times the dense one's, and IMP's rewound rounds alike; a user's network, whose output
weights are large in mean-field form, needs a far smaller rate than a fresh one);
``train_lr`` is the learning rate of the run reported (the FLOPs of failed attempts are not
counted). A procedure that fails at every rate gives one ``diverged_lr`` row for that n.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch

from sims.baselines.finetune_stage import equal_flops_steps, finetune as finetuned, finetuned_name, flops_name, is_one_shot
from sims.baselines.methods import PRUNING_METHODS, PruningProblem, prune_with, training_flops
from sims.metrics.cost import forward_flops, parameter_count
from sims.metrics.quality import accuracy, half_mean_squared_error
from sims.nets.model import TwoLayerNet, forward, neuron_features
from sims.nets.train import TrainingDiverged
from sims.results.schema import tidy_row
from sims.selection.published_gfs import path_outputs

__all__ = ["COMPRESSIONS", "LR_HALVINGS", "GREEDY_PATH_METHODS", "Split", "criterion_of", "meets", "tradeoff_rows"]

COMPRESSIONS = (2, 4, 8, 16, 32)
#: A procedure whose GD failed is run again at half the learning rate at most this many times (to lr / 64).
LR_HALVINGS = 6
#: Methods whose size-n network is the prefix of one selection path (n(eps) is read at every n).
GREEDY_PATH_METHODS = {"gfs": "gfs", "gfs-norep": "gfs-norep", "gfs-published": "gfs-published"}


@dataclass(frozen=True, eq=False)
class Split:
    """Evaluation data: inputs (m, d) tensor in the networks' dtype, targets (m, K) float64 numpy,
    labels (m,) int or None."""

    inputs: torch.Tensor
    targets: np.ndarray
    labels: np.ndarray | None = None


def criterion_of(labelled: bool) -> tuple[str, bool]:
    """(metric, higher is better) of n(eps): test accuracy for labelled data, else test loss."""
    return ("test_accuracy", True) if labelled else ("test_loss", False)


def meets(value: float, dense: float, eps: float, higher: bool) -> bool:
    """Whether ``value`` is within eps of the dense network's: >= (1 - eps) dense when higher is
    better, else <= dense + eps (the rule of n(eps))."""
    return value >= (1 - eps) * dense if higher else value <= dense + eps


def _evaluate(network: TwoLayerNet, splits: dict, output_bias) -> dict[str, float]:
    metrics = {}
    with torch.no_grad():
        for name, split in splits.items():
            if split.inputs.shape[0] == 0:
                continue
            outputs = forward(network, split.inputs).double().cpu().numpy() + output_bias
            metrics[f"{name}_loss"] = half_mean_squared_error(outputs, split.targets)
            if split.labels is not None:
                metrics[f"{name}_accuracy"] = accuracy(outputs, split.labels)
    return metrics


def _path_metric(problem: PruningProblem, method: str, n_max: int, split: Split, output_bias, metric: str) -> np.ndarray:
    """The criterion metric of the size-1 .. n_max subnetworks along a greedy method's path."""
    indices = prune_with(method, problem, n_max).path
    with torch.no_grad():
        features = neuron_features(problem.dense, split.inputs).double().cpu().numpy()
    outputs = path_outputs(features, indices) + output_bias
    if metric.endswith("accuracy"):
        return np.array([accuracy(output, split.labels) for output in outputs])
    return np.array([half_mean_squared_error(output, split.targets) for output in outputs])


def tradeoff_rows(problem: PruningProblem, methods, compressions, splits: dict, *, dataset: str, seed: int,
                  tolerances=(0.02,), first_bias: bool | None = None, output_bias=None,
                  progress: Callable[[str], None] | None = None, problem_of: dict | None = None,
                  finetune: bool = False, lr_halvings: int = LR_HALVINGS) -> list[dict]:
    """Tidy rows of every method at every compression (see the module docstring).

    problem: the checkpoint and its budget (targets there are the training targets minus
    ``output_bias``); splits: {"train": Split, "test": Split} with the ORIGINAL targets;
    output_bias: (K,) added to every network's output (a plain model's b2; None: zero; it counts
    as a parameter when given). first_bias: whether the networks have a first-layer bias (default:
    the dense network's). ``progress(text)`` is called after each (method, n). ``problem_of``:
    {method: PruningProblem} for methods that run on another problem than ``problem`` (same data;
    e.g. imp-rewind on a trajectory from ``problem.dense_init`` when ``problem.dense`` is a user's
    checkpoint without one). ``finetune``: also the ``+ft`` and ``@flops`` rows (module docstring),
    F = the method's problem's ``budget.iterations``. ``lr_halvings``: how often a procedure whose GD
    diverged is run again at half the learning rate (module docstring).
    """
    dense = problem.dense
    width, d, k = dense.width, dense.input_dim, dense.output_dim
    first_bias = dense.first_bias is not None if first_bias is None else first_bias
    has_output_bias = output_bias is not None
    bias = np.zeros(k) if output_bias is None else np.asarray(output_bias, dtype=np.float64)
    m = problem.inputs.shape[0]
    shape = dict(first_bias=first_bias, output_bias=has_output_bias)
    dense_flops, dense_params = forward_flops(d, width, k, **shape), parameter_count(d, width, k, **shape)

    def efficiency(n_kept: int) -> dict:
        flops = forward_flops(d, n_kept, k, **shape)
        params = parameter_count(d, n_kept, k, **shape)
        return {"width": n_kept, "compression": width / n_kept, "params": params,
                "param_compression": dense_params / params, "flops": flops, "speedup": dense_flops / flops}

    rows = []
    dense_metrics = {**efficiency(width), **_evaluate(dense, splits, bias)}
    rows += [tidy_row(dataset, "dense", m, width, seed, name, value) for name, value in dense_metrics.items()]
    labelled = splits["test"].labels is not None
    criterion, higher = criterion_of(labelled)
    evaluation = "test" if splits["test"].inputs.shape[0] else "train"
    criterion = criterion.replace("test", evaluation)
    sizes = sorted({max(1, width // c) for c in compressions}, reverse=True)

    def emit(name: str, n: int, run: Callable):
        """Rows of ``run(problem)``'s PruningResult as method ``name`` at size n: ``run`` gets the
        method's problem, and again with half its learning rate each time GD fails (diverges, or
        ends its training at width n above the loss it started from), at most ``lr_halvings``
        times; then one diverged_lr row (the learning rate given)."""
        lr = target.budget.lr
        for halvings in range(lr_halvings + 1):
            try:
                result = run(replace(target, budget=replace(target.budget, lr=lr)) if halvings else target)
            except TrainingDiverged:
                lr /= 2
                continue
            if result.train_losses is None or result.train_losses[1] <= result.train_losses[0]:
                break
            lr /= 2
        else:
            rows.append(tidy_row(dataset, name, m, n, seed, "diverged_lr", target.budget.lr))
            return None
        metrics = {**efficiency(result.network.width), **_evaluate(result.network, splits, bias),
                   "train_steps": result.train_steps, "train_flops": result.train_flops}
        if result.train_steps:
            metrics["train_lr"] = lr
        measured.setdefault(name, {})[n] = metrics[criterion]
        rows.extend(tidy_row(dataset, name, m, n, seed, metric, value) for metric, value in metrics.items())
        rows.extend(tidy_row(dataset, name, m, n, seed, f"cost_{counter}", value) for counter, value in result.cost.items())
        return result

    for method in methods:
        measured: dict[str, dict] = {}
        target = (problem_of or {}).get(method, problem)
        for n in sizes:
            try:
                result = emit(method, n, lambda at: prune_with(method, at, n))
            finally:
                if progress is not None:
                    progress(f"{method} n={n}")
            if result is None or not finetune:
                continue
            flops_budget = training_flops(target, n, target.budget.iterations)  # F steps at width n
            if is_one_shot(method):
                name = finetuned_name(method)
                tuned = emit(name, n, lambda at: finetuned(at, result))
                steps = equal_flops_steps(target, n, result.network.width) if math.isfinite(flops_budget) else None
                if tuned is not None and steps is not None and steps != tuned.train_steps:
                    emit(flops_name(name), n, lambda at: finetuned(at, result, steps))
            elif (PRUNING_METHODS[method].flops_budget and math.isfinite(flops_budget)
                  and result.train_flops != flops_budget):
                emit(flops_name(method), n, lambda at: prune_with(method, at, n, flops_budget=flops_budget))
        for name in (method, finetuned_name(method)):  # n(eps) of the equal-steps view
            if name not in measured and name != method:
                continue
            for eps in tolerances:
                met = [n for n in measured.get(name, {}) if meets(measured[name][n], dense_metrics[criterion], eps, higher)]
                rows.append(tidy_row(dataset, name, m, None, seed, "n_eps", min(met) if met else width, eps=eps))
        if method in GREEDY_PATH_METHODS and sizes:
            path = _path_metric(problem, method, sizes[0], splits[evaluation], bias, criterion)
            for eps in tolerances:
                hits = [i + 1 for i, value in enumerate(path) if meets(value, dense_metrics[criterion], eps, higher)]
                rows.append(tidy_row(dataset, method, m, None, seed, "n_eps_path", hits[0] if hits else width,
                                         eps=eps))
    return rows
