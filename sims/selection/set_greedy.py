"""Greedy maximisation of the set function behind greedy-opt, and its two fast approximations.

For a set S of neurons let

    F(S) = L(0) - min { L(sum_j w_j phi_j) : w in the probability simplex on S },   F(empty) = 0,

the loss reduction of the best re-weighted subnetwork on S (docs/THEORY.md section 8). The engine's
``greedy-opt`` is the plain greedy algorithm on F. This module adds, with the signature of the
engine's methods (``method(problem, n, seed, **options) -> (indices, losses, weights)``):

- ``greedi`` (Mirzasoleiman, Karbasi, Sarkar, Krause, NIPS 2013): split the N neurons into
  ``parts`` groups by a seeded random permutation (:func:`greedi_partition`), run greedy on F in
  each group (min(n, group size) picks), then greedy on F over the union of the groups' picks.
- ``stochastic-greedy-opt`` (Mirzasoleiman, Badanidiyuru, Karbasi, Vondrak, Krause, AAAI 2015,
  "lazier than lazy greedy"): each step scores only a uniform random sample, without replacement,
  of s = min(|V \\ S|, ceil((N / n) ln(1 / eps))) of the neurons not chosen yet.

Both pick n distinct neurons (n <= N). ``indices[k-1]`` is the k-th pick of the final greedy,
``losses[k-1]`` the exact simplex-optimal loss on the first k picks, and ``weights`` the optimal
weights on all n. Each candidate is scored by the exact simplex QP on S + {i}
(:func:`sims.selection.simplex_qp.min_norm_point`, warm-started); a candidate whose directional derivative
<f - Y, phi_i - f> is >= 0 cannot lower the loss and scores the current loss without a solve
(the rule greedy-opt uses). Ties, scores within 16 float64 epsilons of the scale, go to the lowest
neuron index.

``problem`` is any object with ``phi`` (N, D) torch tensor (neuron-major features, the engine's
layout), ``target`` (D,) float64 tensor and ``m`` (int, the number of samples; losses are
0.5 * sum of squared residuals / m). :func:`as_problem` builds one from (m, N[, K]) features;
the engine's own validated problem record has these three attributes.

This module does not import ``sims.select``, so the engine can import it for its registry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from sims.foundations.errors import InputError
from sims.selection.simplex_qp import min_norm_point
from sims.selection.ties import first_min

__all__ = ["SetProblem", "as_problem", "greedi_partition", "stochastic_sample_size", "greedy_on_f", "greedi",
           "stochastic_greedy_opt", "SET_METHODS", "run_set_method"]



@dataclass(frozen=True, eq=False)
class SetProblem:
    """phi (N, D) features neuron-major, target (D,) float64, m samples (D = m * K)."""

    phi: torch.Tensor
    target: torch.Tensor
    m: int


def as_problem(features, target) -> SetProblem:
    """A :class:`SetProblem` from features (m, N) or (m, N, K) and a target (m,) or (m, K)."""
    features = torch.as_tensor(np.asarray(features) if not isinstance(features, torch.Tensor) else features)
    if features.ndim == 2:
        features = features.unsqueeze(2)
    if features.ndim != 3 or 0 in features.shape:
        raise InputError(f"features must have shape (m, N) or (m, N, K), got {tuple(features.shape)}")
    m, width, outputs = features.shape
    target = torch.as_tensor(np.asarray(target, dtype=np.float64)).reshape(-1)
    if target.shape[0] != m * outputs:
        raise InputError(f"target must have m*K = {m * outputs} entries to match features {tuple(features.shape)}, "
                         f"got {target.shape[0]}")
    if features.dtype not in (torch.float32, torch.float64):
        features = features.to(torch.float64)
    phi = features.permute(1, 0, 2).reshape(width, m * outputs)
    return SetProblem(phi=phi, target=target, m=m)


def greedi_partition(width: int, parts: int, seed: int | None) -> list[np.ndarray]:
    """GreeDi's groups: ``numpy.random.default_rng(seed).permutation(N)`` (seed None means 0) cut
    into ``parts`` consecutive pieces of near-equal size (``numpy.array_split``), each sorted."""
    if isinstance(parts, bool) or not isinstance(parts, (int, np.integer)) or not 1 <= parts <= width:
        raise InputError(f"option parts must be an integer in [1, N = {width}], got {parts!r}")
    order = np.random.default_rng(0 if seed is None else seed).permutation(width)
    return [np.sort(piece).astype(np.int64) for piece in np.array_split(order, parts)]


def stochastic_sample_size(width: int, n: int, eps: float) -> int:
    """ceil((N / n) ln(1 / eps)), at least 1: candidates scored per step (capped by those left)."""
    return max(1, math.ceil(width / n * math.log(1 / eps)))


class _Oracle:
    """Exact values of F on growing sets, from inner products of the centred vectors q_i = phi_i - Y."""

    def __init__(self, problem):
        self.phi, self.target, self.m = problem.phi, problem.target.to(torch.float64), int(problem.m)
        self.width = self.phi.shape[0]
        self.zero_loss = 0.5 * float(self.target @ self.target) / self.m
        self._columns: dict[int, np.ndarray] = {}
        block = max(1, (1 << 22) // max(1, self.phi.shape[1]))
        parts = []
        for rows in torch.arange(self.width).split(block):
            centred = self.phi[rows].to(torch.float64) - self.target
            parts.append((centred * centred).sum(1))
        self.sq = torch.cat(parts).numpy()  # ||q_i||^2

    def row(self, i: int) -> torch.Tensor:
        return self.phi[i].to(torch.float64)

    def column(self, j: int) -> np.ndarray:
        """<q_i, q_j> for every i (N,), cached: one pass over the features per chosen neuron."""
        if j not in self._columns:
            q = self.row(j) - self.target
            block = max(1, (1 << 22) // max(1, self.phi.shape[1]))
            parts = [(self.phi[rows].to(torch.float64) - self.target) @ q
                     for rows in torch.arange(self.width).split(block)]
            self._columns[j] = torch.cat(parts).numpy()
        return self._columns[j]

    def loss_of(self, support: list[int], weights: np.ndarray) -> float:
        """Loss of sum_j w_j phi_{S_j}, from the explicit residual."""
        rows = self.phi[torch.as_tensor(support, dtype=torch.long)].to(torch.float64)
        residual = torch.as_tensor(weights) @ rows - self.target
        return 0.5 * float(residual @ residual) / self.m


def greedy_on_f(problem, n: int, ground=None, *, sampler=None, on_step=None):
    """Greedy on F over ``ground`` (an index array; default all neurons) for min(n, |ground|) steps.

    ``sampler(step, remaining) -> candidates`` (a sorted index array, a subset of ``remaining``)
    restricts each step's candidates (stochastic greedy); default: all remaining.
    ``on_step(k, support, support_weights)``, if given, is called after step k (1-based).
    Returns (indices (k,), losses (k,), support list, support weights).
    """
    oracle = problem if isinstance(problem, _Oracle) else _Oracle(problem)
    ground = np.arange(oracle.width) if ground is None else np.asarray(ground, dtype=np.int64)
    steps = min(n, ground.size)
    chosen: list[int] = []
    weights = np.zeros(0)
    gram = np.zeros((0, 0))
    output = torch.zeros_like(oracle.target)
    indices, losses = np.empty(steps, dtype=np.int64), np.empty(steps)
    current = oracle.zero_loss
    scale = max(float(oracle.sq[ground].max()), np.finfo(np.float64).tiny)
    for step in range(steps):
        remaining = np.setdiff1d(ground, chosen)
        candidates = remaining if sampler is None else sampler(step, remaining)
        if not chosen:  # F({i}) = L(0) - ||q_i||^2 / 2m: the smallest centred norm
            values = oracle.sq[candidates] / 2.0
            solutions = {int(i): np.ones(1) for i in candidates}
        else:
            residual = output - oracle.target
            dots = (oracle.phi[torch.as_tensor(candidates, dtype=torch.long)].to(torch.float64) @ residual).numpy()
            derivative = dots - float(residual @ output)  # <f - Y, phi_i - f>
            values = np.full(candidates.size, current * oracle.m)  # 0.5 * ||residual||^2 in sum form
            solutions = {}
            start = np.append(weights, 0.0)
            cross = np.stack([oracle.column(j) for j in chosen], axis=1)  # (N, |S|)
            for position in np.flatnonzero(derivative < 0):
                i = int(candidates[position])
                extended = np.empty((len(chosen) + 1, len(chosen) + 1))
                extended[:-1, :-1], extended[:-1, -1], extended[-1, :-1] = gram, cross[i], cross[i]
                extended[-1, -1] = oracle.sq[i]
                solved = min_norm_point(extended, start)
                values[position] = 0.5 * float(solved @ extended @ solved)
                solutions[i] = (solved, extended)
        position = first_min(values, scale, float(np.finfo(np.float64).eps))
        pick = int(candidates[position])
        if not chosen:
            chosen, weights, gram = [pick], np.ones(1), np.array([[oracle.sq[pick]]])
        elif pick in solutions:
            solved, extended = solutions[pick]
            chosen, weights, gram = chosen + [pick], solved, extended
        else:  # no improvement possible: the new neuron gets weight 0
            extended = np.empty((len(chosen) + 1, len(chosen) + 1))
            column = oracle.column(pick)
            extended[:-1, :-1], extended[:-1, -1], extended[-1, :-1] = gram, column[chosen], column[chosen]
            extended[-1, -1] = oracle.sq[pick]
            chosen, weights, gram = chosen + [pick], np.append(weights, 0.0), extended
        output = torch.as_tensor(weights) @ oracle.phi[torch.as_tensor(chosen, dtype=torch.long)].to(torch.float64)
        indices[step] = pick
        losses[step] = current = oracle.loss_of(chosen, weights)
        if on_step is not None:
            on_step(step + 1, chosen, weights)
    return indices, losses, chosen, weights


def _result(width: int, indices, losses, support, weights):
    full = np.zeros(width)
    full[np.asarray(support, dtype=np.int64)] = weights
    return indices, losses, full


def _require_distinct(n: int, width: int, method: str) -> None:
    if n > width:
        raise InputError(f"n = {n} exceeds the number of neurons N = {width}; method {method!r} picks each "
                         "neuron at most once, so n must be <= N")


def greedi(problem, n, seed, *, parts=2):
    """GreeDi on F: greedy on F in each of ``parts`` random groups (:func:`greedi_partition`),
    then greedy on F over the union of their picks. n distinct neurons."""
    oracle = _Oracle(problem)
    _require_distinct(n, oracle.width, "greedi")
    groups = greedi_partition(oracle.width, parts, seed)
    union = np.sort(np.concatenate([greedy_on_f(oracle, n, group)[0] for group in groups]))
    indices, losses, support, weights = greedy_on_f(oracle, n, union, on_step=getattr(problem, "record", None))
    return _result(oracle.width, indices, losses, support, weights)


def stochastic_greedy_opt(problem, n, seed, *, eps=0.1):
    """Stochastic greedy on F: step k scores a uniform sample of min(left, s) of the neurons not
    chosen yet, s = :func:`stochastic_sample_size`; samples are
    ``numpy.random.default_rng(seed).choice(remaining, size, replace=False)`` sorted, one call
    per step (seed None means 0). n distinct neurons."""
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < 1:
        raise InputError(f"option eps must be a number in (0, 1), got {eps!r}")
    oracle = _Oracle(problem)
    _require_distinct(n, oracle.width, "stochastic-greedy-opt")
    size = stochastic_sample_size(oracle.width, n, eps)
    rng = np.random.default_rng(0 if seed is None else seed)

    def sampler(step, remaining):
        return np.sort(rng.choice(remaining, size=min(size, remaining.size), replace=False))

    indices, losses, support, weights = greedy_on_f(oracle, n, sampler=sampler, on_step=getattr(problem, "record", None))
    return _result(oracle.width, indices, losses, support, weights)


#: The methods of this module under their registry names.
SET_METHODS = {"greedi": greedi, "stochastic-greedy-opt": stochastic_greedy_opt}


def run_set_method(features, target, n: int, method: str, *, seed: int | None = None, **options):
    """Run one of :data:`SET_METHODS` on (m, N[, K]) features without the engine's registry.
    Returns (indices (n,), losses (n,), weights (N,))."""
    if method not in SET_METHODS:
        raise InputError(f"unknown method {method!r}; valid: {', '.join(SET_METHODS)}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"n must be a positive integer, got {n!r}")
    return SET_METHODS[method](as_problem(features, target), int(n), seed, **options)
