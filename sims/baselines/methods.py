"""Neuron-level pruning methods run on one pre-trained checkpoint, in ONE registry.

Every method keeps n of the N hidden neurons of a two-layer network (docs/THEORY.md section 1,
``f(x) = (c/N) sum_i b_i act(a_i . x + beta_i)``) and returns a :class:`PruningResult`: the kept
neuron indices and the width-n network the method ends with (its second-layer weights are the
output weights the method defines). The methods and their definitions (scores summed over the
parameters of a neuron: a_i (d,), beta_i if present, b_i (K,)):

- ``snip`` (Lee et al. 2019, at initialisation): s_i = sum_theta |theta * dL/dtheta| on the
  training data at the initial network; keep the n largest, then train the width-n network from
  those neurons' initial values for the GD budget.
- ``grasp`` (Wang et al. 2020, at initialisation): s_i = -sum_theta theta * (H g)_theta, H the
  Hessian and g the gradient of L at initialisation; keep the n SMALLEST (GraSP removes the
  largest scores, whose removal reduces gradient flow least), then train as ``snip``.
- ``snip-checkpoint``, ``grasp-checkpoint``: the same scores computed on the checkpoint instead of
  the initialisation, keeping the n largest (smallest) with their trained weights, one shot (the
  pruning criteria of SNIP and GraSP applied to a trained network, as ShrinkBench's baselines).
- ``taylor`` (Molchanov et al. 2019, after training): the first-order Taylor importance of a
  gate on the neuron's output, s_i = mean over the mini-batches of one epoch of
  (dL_batch/dgate_i)^2 = (sum_k b_ik dL_batch/db_ik)^2; keep the n largest.
- ``activation`` (after training): s_i = mean_j |act(a_i . x_j + beta_i)|; keep the n largest.
- ``imp-rewind`` (Frankle et al. 2020; open_lth's iterative magnitude pruning with rewinding, at
  neuron level): train the dense network from its initialisation for T steps, remembering its
  weights at step k (the rewind point); then, for each of ``levels`` levels with widths falling
  geometrically from N to n, keep the neurons of largest magnitude ||(a_i, beta_i, b_i)|| of the
  current network, reset them to their step-k values and train them. The rounds SHARE the budget
  T after the checkpoint (round l gets T // levels steps, the first T % levels rounds one more),
  so IMP trains as many steps as direct GD at width n; with ``flops_budget=B`` each round gets
  the most steps whose training FLOPs at its width fit in an equal share of what is left of B
  instead (equal FLOPs: its wider rounds cost more per step than width n).
- ``rigl`` (Evci et al. 2020, at neuron level): n neurons active from the start (a seeded random
  set of the initial network); full-batch GD for T steps, the budget of direct training at width
  n; every ``update_interval`` steps until ``end_fraction`` T, drop the k active neurons of
  smallest magnitude and grow the k inactive ones whose output weight has the largest gradient
  norm ||dL/db_i|| at b_i = 0 (first layer at its initial values), with k = round(alpha_t n),
  alpha_t = drop_fraction/2 (1 + cos(pi t / (end_fraction T))). Grown neurons start from their
  initial first layer and b_i = 0.
- ``direct-gd``: a fresh width-n network (seed 10000 + seed) trained for the GD budget.
- ``gfs``, ``gfs-norep``, ``magnitude``, ``random``: :func:`sims.selection.engine.select` on the trained
  network's neuron features; ``gfs-published``: :func:`sims.selection.published_gfs.published_gfs` with the
  published options (50 candidates per step, mini-batches of 128, cross-entropy on one-hot targets).

One-shot criteria after training keep the kept neurons' parameters, so (mean-field) the pruned
network is the mean of the kept neurons' contributions, the same convention as
:func:`sims.selection.engine.select`'s baselines. Training uses :func:`sims.nets.train.train` with the
problem's budget (learning rate, T = budget.iterations, loss form).

Training cost: every result carries ``train_steps`` (GD steps after the checkpoint) and
``train_flops`` (their FLOPs, :func:`sims.metrics.cost.gd_step_flops` at the width each step runs at); one-shot
criteria carry 0 and 0 (their scoring is in ``cost``, not in the training FLOPs).

The scores of the criteria are :mod:`sims.baselines.scores`.

Adding a method: one function ``(problem, n, **options) -> PruningResult`` and one line in
:data:`PRUNING_METHODS`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping

import numpy as np
import torch

from sims.foundations.errors import InputError
from sims.baselines.scores import (activation_scores, grasp_scores, neuron_magnitude, snip_scores, taylor_scores,
                                   top_indices)
from sims.metrics.cost import gd_step_flops
from sims.nets.features import neuron_factors
from sims.nets.model import ACTIVATIONS, TwoLayerNet, init_network, neuron_features, preactivations, subnetwork
from sims.nets.train import TrainConfig, train
from sims.selection.engine import select
from sims.selection.published_gfs import PUBLISHED, published_gfs

__all__ = [
    "PruningProblem", "PruningResult", "PruningMethod", "PRUNING_METHODS", "REWIND_FRACTION", "neurons_of", "prune_with", "training_flops",
    "snip", "grasp", "snip_checkpoint", "grasp_checkpoint", "taylor", "activation", "imp_rewind", "rigl", "direct_gd",
]


@dataclass(frozen=True, eq=False)
class PruningProblem:
    """One pre-trained checkpoint and what the methods may use.

    dense_init: the network before training (N neurons); dense: the checkpoint (N neurons, the
    same order). inputs (m, d) and targets (m, K): the training data, as tensors of the networks'
    dtype. budget: the GD budget of direct training at width n (lr, iterations T, loss form);
    methods that train use it. seed: seeds the randomised methods. checkpoints: {step t: the
    network after t steps of ``budget`` from ``dense_init``} when ``dense`` is that trajectory's
    end (``imp-rewind`` takes its rewind point from here instead of re-training); empty otherwise.
    labels: (m,) class labels of the training examples for ``gfs-published``'s cross-entropy
    (default: the argmax of the targets). output_bias: (K,) a plain model's output bias b2 when the
    targets are the training targets minus it (``gfs-published`` adds it to its logits).
    """

    dense_init: TwoLayerNet
    dense: TwoLayerNet
    inputs: torch.Tensor
    targets: torch.Tensor
    budget: TrainConfig
    seed: int = 0
    checkpoints: Mapping[int, TwoLayerNet] = field(default_factory=dict)
    labels: np.ndarray | None = None
    output_bias: np.ndarray | None = None

    def __post_init__(self):
        if self.dense.width != self.dense_init.width:
            raise InputError(f"dense ({self.dense.width} neurons) and dense_init ({self.dense_init.width}) differ in width")
        if self.inputs.ndim != 2 or self.targets.ndim != 2 or self.inputs.shape[0] != self.targets.shape[0]:
            raise InputError(f"inputs must be (m, d) and targets (m, K), got {tuple(self.inputs.shape)} and "
                             f"{tuple(self.targets.shape)}")

    @property
    def width(self) -> int:
        return self.dense.width


@dataclass(frozen=True, eq=False)
class PruningResult:
    """indices: (n',) int64, the dense network's neurons kept, in the order of the network's
    hidden units (repeats merged). network: the width-n' (n' <= n) TwoLayerNet the method ends
    with. cost: deterministic cost counters of the method (candidate-example scores computed,
    neurons regrown, GD steps of a dense run it had to make itself). path: for greedy selection,
    the n picks in order (the size-k subnetwork is the uniform mean of path[:k]); None otherwise.
    train_steps: GD steps run after the checkpoint (0 for a one-shot criterion); train_flops:
    their exact FLOPs (:func:`sims.metrics.cost.gd_step_flops` at the width each step ran at; NaN for a budget
    that is not full-batch GD on both layers). train_losses: the training loss where the
    training at width n started and where it ended (IMP: its last round; RigL: its whole run),
    None for a one-shot criterion."""

    indices: np.ndarray
    network: TwoLayerNet
    cost: dict = field(default_factory=dict)
    path: np.ndarray | None = None
    train_steps: int = 0
    train_flops: float = 0.0
    train_losses: tuple[float, float] | None = None


@dataclass(frozen=True)
class PruningMethod:
    """A registered method: ``function(problem, n, **options) -> PruningResult`` and its facts."""

    function: Callable[..., PruningResult]
    summary: str
    reference: str
    needs_data: bool = True
    at_initialisation: bool = False
    trains: bool = False
    budget: str = "none (one shot on the checkpoint)"
    flops_budget: bool = False  # accepts the option flops_budget=B (at most B training FLOPs)


#: imp-rewind's default rewind point, as a share of the budget T (k = round(REWIND_FRACTION T)).
REWIND_FRACTION = 0.1

def neurons_of(model: TwoLayerNet, indices) -> TwoLayerNet:
    """The network of the given neurons with their parameters unchanged (in mean-field scaling the
    mean of their contributions), hidden units in the order of ``indices``."""
    index = torch.as_tensor(np.asarray(indices, dtype=np.int64), device=model.device)
    return TwoLayerNet(first_weight=model.first_weight[index].clone(), second_weight=model.second_weight[index].clone(),
                       first_bias=None if model.first_bias is None else model.first_bias[index].clone(),
                       activation=model.activation, scaling=model.scaling)


def _check_n(problem: PruningProblem, n: int, method: str) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= problem.width:
        raise InputError(f"n must be an integer in [1, N={problem.width}] for method {method!r}, got {n!r}")


def _steps(budget: TrainConfig, iterations: int) -> TrainConfig:
    return replace(budget, iterations=int(iterations), checkpoints=(), target_loss=None)


def training_flops(problem: PruningProblem, width: int, steps: int) -> float:
    """FLOPs of ``steps`` GD steps of ``problem.budget`` at hidden width ``width`` on the problem's
    training data (:func:`sims.metrics.cost.gd_step_flops`); NaN when the budget is not full-batch GD on both layers."""
    budget = problem.budget
    if budget.mode != "both" or budget.batch_size is not None:
        return math.nan
    m, d = problem.inputs.shape
    step = gd_step_flops(m, d, width, problem.targets.shape[1], first_bias=problem.dense.first_bias is not None,
                         loss_form=budget.loss_form)
    return float(step * int(steps))


def _trained(kept: np.ndarray, result, problem: PruningProblem, cost: dict | None = None) -> PruningResult:
    """A PruningResult of a method that trained ``result.model`` (its width throughout) after the checkpoint."""
    return PruningResult(kept, result.model, cost or {}, train_steps=result.steps,
                         train_flops=training_flops(problem, result.model.width, result.steps),
                         train_losses=(float(result.losses[0]), float(result.losses[-1])))


# ---------------------------------------------------------------------------------------
# Methods


def snip(problem: PruningProblem, n: int) -> PruningResult:
    """SNIP at initialisation, then GD for the budget on the kept neurons (see the module docstring)."""
    _check_n(problem, n, "snip")
    kept = np.sort(top_indices(snip_scores(problem.dense_init, problem.inputs, problem.targets), n))
    result = train(neurons_of(problem.dense_init, kept), problem.inputs, problem.targets, problem.budget)
    return _trained(kept, result, problem)


def grasp(problem: PruningProblem, n: int) -> PruningResult:
    """GraSP at initialisation (keep the n smallest scores), then GD for the budget."""
    _check_n(problem, n, "grasp")
    kept = np.sort(top_indices(grasp_scores(problem.dense_init, problem.inputs, problem.targets), n, largest=False))
    result = train(neurons_of(problem.dense_init, kept), problem.inputs, problem.targets, problem.budget)
    return _trained(kept, result, problem)


def snip_checkpoint(problem: PruningProblem, n: int) -> PruningResult:
    """SNIP's connection sensitivity on the checkpoint; the n largest kept with their weights."""
    _check_n(problem, n, "snip-checkpoint")
    kept = np.sort(top_indices(snip_scores(problem.dense, problem.inputs, problem.targets), n))
    return PruningResult(kept, neurons_of(problem.dense, kept))


def grasp_checkpoint(problem: PruningProblem, n: int) -> PruningResult:
    """GraSP's scores on the checkpoint; the n smallest kept with their weights."""
    _check_n(problem, n, "grasp-checkpoint")
    kept = np.sort(top_indices(grasp_scores(problem.dense, problem.inputs, problem.targets), n, largest=False))
    return PruningResult(kept, neurons_of(problem.dense, kept))


def taylor(problem: PruningProblem, n: int, *, batch_size: int = 64) -> PruningResult:
    """First-order Taylor importance on the checkpoint; the kept neurons unchanged."""
    _check_n(problem, n, "taylor")
    scores = taylor_scores(problem.dense, problem.inputs, problem.targets, batch_size=batch_size, seed=problem.seed)
    kept = np.sort(top_indices(scores, n))
    return PruningResult(kept, neurons_of(problem.dense, kept))


def activation(problem: PruningProblem, n: int) -> PruningResult:
    """Mean absolute activation on the checkpoint; the kept neurons unchanged."""
    _check_n(problem, n, "activation")
    kept = np.sort(top_indices(activation_scores(problem.dense, problem.inputs), n))
    return PruningResult(kept, neurons_of(problem.dense, kept))


def imp_rewind(problem: PruningProblem, n: int, *, levels: int = 3, rewind_fraction: float = REWIND_FRACTION,
               flops_budget: float | None = None) -> PruningResult:
    """Iterative magnitude pruning with rewinding to step k = round(rewind_fraction T), over
    ``levels`` levels of widths round(N (n/N)^(l/levels)), l = 1..levels (see the module docstring).

    The rounds share T = ``problem.budget.iterations`` GD steps (round l: T // levels, one more for
    the first T % levels rounds). ``flops_budget``: instead, round l runs the most steps whose
    :func:`training_flops` at its width fit in an equal share of what the earlier rounds left of
    flops_budget (so at most flops_budget in all). The dense run to the
    checkpoint (T steps, skipped when ``problem.checkpoints`` holds step k) is before the
    checkpoint: counted in ``cost["dense_steps"]``, not in ``train_steps``."""
    _check_n(problem, n, "imp-rewind")
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
        raise InputError(f"option levels must be a positive integer, got {levels!r}")
    if not 0 <= rewind_fraction < 1:
        raise InputError(f"option rewind_fraction must lie in [0, 1), got {rewind_fraction!r}")
    if flops_budget is not None and not (isinstance(flops_budget, (int, float)) and flops_budget >= 0):
        raise InputError(f"option flops_budget must be a non-negative number of FLOPs, got {flops_budget!r}")
    if flops_budget is not None and not math.isfinite(training_flops(problem, n, 1)):
        raise InputError("option flops_budget needs a full-batch GD budget on both layers (mode 'both', no batch_size)")
    total = problem.budget.iterations
    rewind_step = int(round(rewind_fraction * total))
    dense_steps = 0
    if rewind_step in problem.checkpoints:
        rewound, current = problem.checkpoints[rewind_step], problem.dense
    else:
        run = train(problem.dense_init, problem.inputs, problem.targets,
                    replace(problem.budget, checkpoints=(rewind_step,), target_loss=None))
        rewound, current, dense_steps = run.checkpoints[rewind_step], run.model, run.steps
    width = problem.width
    widths = [max(n, int(round(width * (n / width) ** (level / levels)))) for level in range(1, levels + 1)]
    widths[-1] = n
    alive = np.arange(width)
    steps, flops = 0, 0.0
    for level, level_width in enumerate(widths):
        keep = np.sort(top_indices(neuron_magnitude(current), min(level_width, alive.size)))
        alive = alive[keep]
        if flops_budget is None:
            round_steps = total // levels + (1 if level < total % levels else 0)
        else:
            share = (flops_budget - flops) / (levels - level)  # an equal share of what is left
            round_steps = int(share // training_flops(problem, alive.size, 1))
        result = train(neurons_of(rewound, alive), problem.inputs, problem.targets, _steps(problem.budget, round_steps))
        current, steps = result.model, steps + result.steps
        flops += training_flops(problem, alive.size, result.steps)
    cost = {"dense_steps": dense_steps} if dense_steps else {}
    return PruningResult(alive.astype(np.int64), current, cost, train_steps=steps, train_flops=flops,
                         train_losses=(float(result.losses[0]), float(result.losses[-1])))


def _grow_scores(init: TwoLayerNet, network: TwoLayerNet, candidates: np.ndarray, inputs, targets,
                 scale: float) -> torch.Tensor:
    """||dL/db_i|| at b_i = 0 for each candidate neuron i (first layer as in ``init``), added to
    ``network`` whose output is scale * act(Z) B (mean-form loss)."""
    hidden = ACTIVATIONS[network.activation][0](preactivations(network, inputs))
    residual = scale * (hidden @ network.second_weight) - targets
    candidate_hidden = ACTIVATIONS[init.activation][0](preactivations(neurons_of(init, candidates), inputs))
    gradient = scale * candidate_hidden.T @ residual / inputs.shape[0]
    return torch.linalg.vector_norm(gradient.double(), dim=1)


def rigl(problem: PruningProblem, n: int, *, update_interval: int | None = None, drop_fraction: float = 0.3,
         end_fraction: float = 0.75) -> PruningResult:
    """Neuron-level RigL under the budget of direct GD at width n (see the module docstring).

    ``update_interval`` defaults to max(1, T // 20). Between updates the active network (width n,
    mean-field output scale 1/n) takes plain GD steps; at an update the dropped neurons leave with
    their trained weights, and the output of the remaining ones, still scaled by 1/n, is the
    network against whose residual the candidates' output-weight gradients are computed."""
    _check_n(problem, n, "rigl")
    total = problem.budget.iterations
    interval = max(1, total // 20) if update_interval is None else int(update_interval)
    if interval < 1:
        raise InputError(f"option update_interval must be a positive integer, got {update_interval!r}")
    init = problem.dense_init
    rng = np.random.default_rng(problem.seed)
    active = np.sort(rng.choice(problem.width, size=n, replace=False)).astype(np.int64)
    network = neurons_of(init, active)
    end = end_fraction * total
    updates = [t for t in range(interval, total, interval) if t < end]
    done, grown_total, losses = 0, 0, []
    for t in updates + [total]:
        segment = train(network, problem.inputs, problem.targets, _steps(problem.budget, t - done))
        network, done = segment.model, t
        losses += [float(segment.losses[0]), float(segment.losses[-1])]
        if t == total:
            break
        drop_count = int(round(drop_fraction / 2 * (1 + math.cos(math.pi * t / end)) * n))
        if drop_count == 0:
            continue
        dropped = top_indices(neuron_magnitude(network), drop_count, largest=False)
        keep = np.setdiff1d(np.arange(n), dropped)
        remaining = neurons_of(network, keep)
        candidates = np.setdiff1d(np.arange(problem.width), active[keep])
        scores = _grow_scores(init, remaining, candidates, problem.inputs, problem.targets,
                              network.output_scale)
        grown = candidates[top_indices(scores, drop_count)]
        grown_total += drop_count
        new_active = np.concatenate([active[keep], grown])
        order = np.argsort(new_active, kind="stable")
        newcomers = neurons_of(init, grown)
        newcomers = replace(newcomers, second_weight=torch.zeros_like(newcomers.second_weight))
        merged = TwoLayerNet(
            first_weight=torch.cat([remaining.first_weight, newcomers.first_weight])[order],
            second_weight=torch.cat([remaining.second_weight, newcomers.second_weight])[order],
            first_bias=None if init.first_bias is None else torch.cat([remaining.first_bias, newcomers.first_bias])[order],
            activation=init.activation, scaling=init.scaling)
        active, network = new_active[order], merged
    return PruningResult(active, network, {"regrown": grown_total}, train_steps=total,
                         train_flops=training_flops(problem, n, total), train_losses=(losses[0], losses[-1]))


def direct_gd(problem: PruningProblem, n: int) -> PruningResult:
    """A fresh width-n network (``init_network`` seed 10000 + seed, the dense network's activation,
    scaling and bias) trained for the budget. Keeps no neuron of the dense network: indices empty."""
    _check_n(problem, n, "direct-gd")
    dense = problem.dense
    start = init_network(dense.input_dim, n, dense.output_dim, activation=dense.activation, scaling=dense.scaling,
                         bias=dense.first_bias is not None, seed=10_000 + problem.seed, dtype=dense.dtype,
                         device=dense.device)
    result = train(start, problem.inputs, problem.targets, problem.budget)
    return _trained(np.zeros(0, dtype=np.int64), result, problem)


def _selected(method: str) -> Callable[..., PruningResult]:
    def run(problem: PruningProblem, n: int) -> PruningResult:
        _check_n(problem, n, method)
        factored = neuron_factors(problem.dense, problem.inputs)  # H and the second layer, not (m, N, K)
        selection = select(factored, problem.targets, n, method, seed=problem.seed)
        support = np.flatnonzero(selection.weights)
        path = selection.indices if method.startswith("gfs") else None
        return PruningResult(support.astype(np.int64), subnetwork(problem.dense, support, selection.weights[support]),
                             {"candidate_scores": _scored(method, problem.width, n, problem.inputs.shape[0])}, path)

    run.__doc__ = f"sims.selection.engine.select(..., {method!r}) on the checkpoint's neuron features."
    return run


def _scored(method: str, width: int, n: int, m: int) -> int:
    """Candidate-example evaluations of a greedy selection: N per step over m examples."""
    return width * n * m if method.startswith("gfs") else 0


def _published(problem: PruningProblem, n: int) -> PruningResult:
    """sims.selection.published_gfs with the published options on the checkpoint's neuron features."""
    _check_n(problem, n, "gfs-published")
    with torch.no_grad():
        features = neuron_features(problem.dense, problem.inputs)
    options = PUBLISHED if problem.targets.shape[1] > 1 else replace(PUBLISHED, loss="squared")
    options = replace(options, seed=problem.seed)
    picked = published_gfs(features, problem.targets, n, options, labels=problem.labels,
                           output_offset=problem.output_bias)
    weights = np.full(n, 1.0 / n)
    return PruningResult(np.sort(picked.indices), subnetwork(problem.dense, np.sort(picked.indices), weights),
                         {"candidate_scores": picked.scored}, picked.indices)


PRUNING_METHODS: dict[str, PruningMethod] = {
    "gfs": PruningMethod(_selected("gfs"), "greedy forward selection, exact, with replacement", "Ye et al. 2020 (ICML)"),
    "gfs-norep": PruningMethod(_selected("gfs-norep"), "greedy forward selection without replacement",
                               "Ye et al. 2020 (ICML), published code's variant"),
    "gfs-published": PruningMethod(_published, "GFS as published: 50 sampled candidates, mini-batch 128, "
                                   "cross-entropy (squared loss for regression)", "Ye et al. 2020 (ICML) code"),
    "snip": PruningMethod(snip, "|gradient x weight| summed per neuron at initialisation, then GD",
                          "Lee et al. 2019", at_initialisation=True, trains=True, budget="T steps at width n"),
    "grasp": PruningMethod(grasp, "-weight x (Hessian gradient) summed per neuron at initialisation, then GD",
                           "Wang et al. 2020", at_initialisation=True, trains=True, budget="T steps at width n"),
    "snip-checkpoint": PruningMethod(snip_checkpoint, "|gradient x weight| summed per neuron on the checkpoint",
                                     "Lee et al. 2019, applied after training"),
    "grasp-checkpoint": PruningMethod(grasp_checkpoint, "-weight x (Hessian gradient) summed per neuron on the "
                                      "checkpoint (keep the smallest)", "Wang et al. 2020, applied after training"),
    "taylor": PruningMethod(taylor, "first-order Taylor importance of the neuron's gate, after training",
                            "Molchanov et al. 2019"),
    "activation": PruningMethod(activation, "mean absolute activation, after training", "Hu et al. 2016 (APoZ family)"),
    "magnitude": PruningMethod(_selected("magnitude"), "largest contribution norm ||phi_i||", "sims.selection.engine"),
    "random": PruningMethod(_selected("random"), "n random neurons", "sims.selection.engine", needs_data=False),
    "imp-rewind": PruningMethod(imp_rewind, "iterative magnitude pruning over 3 levels, rewinding to step 0.1 T",
                                "Frankle et al. 2020; open_lth", trains=True, flops_budget=True,
                                budget="T steps shared by its 3 rounds (at widths falling from N to n) after the "
                                       "checkpoint, or T x (a width-n step's FLOPs) with flops_budget"),
    "rigl": PruningMethod(rigl, "n active neurons, drop by magnitude and regrow by output-weight gradient",
                          "Evci et al. 2020", at_initialisation=True, trains=True,
                          budget="T steps at width n (regrowth scoring not in the training FLOPs)"),
    "direct-gd": PruningMethod(direct_gd, "a fresh width-n network trained directly", "Ye et al. 2020 (ICML) baseline",
                               at_initialisation=True, trains=True, budget="T steps at width n"),
}


def prune_with(method: str, problem: PruningProblem, n: int, **options) -> PruningResult:
    """Run the registered ``method`` (a key of PRUNING_METHODS) on ``problem`` for width n."""
    if method not in PRUNING_METHODS:
        raise InputError(f"unknown pruning method {method!r}; valid: {', '.join(PRUNING_METHODS)}")
    return PRUNING_METHODS[method].function(problem, n, **options)
