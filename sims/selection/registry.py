"""The selection methods, one registry: name -> :class:`SelectionMethod` (its ``run`` and its facts).

Every method is ``run(problem, n, seed, **options) -> (indices, losses, weights)`` over a
:class:`sims.selection.backend.Problem`. The greedy methods and the baselines ``random`` and
``magnitude`` only send requests to the problem's backend (:mod:`sims.selection.backend`), so
they run on every backend (an array in memory, a network's factored features, streamed chunks,
Dask shards): ``SelectionMethod.any_backend``. ``backward`` and the set-function methods read the
(N, D) features in memory (``problem.arrays``).

Adding a method: write ``def _name(problem, n, seed, *, option=default) -> (indices, losses,
weights)`` and add one :class:`SelectionMethod` line to ``METHODS``; its keyword-only parameters
are its options (defaults read off the signature, :func:`method_options`), checked for every
backend by :func:`check_request`. A re-weighted method is a rule of
:func:`sims.selection.loops.reweighted_greedy`; one with its own loop calls
``problem.record(k, support, support_weights)`` after every step k.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from sims.foundations.errors import InputError
from sims.selection.arrays import BLOCK_ELEMENTS
from sims.selection.loops import (ExhaustiveCorrective, FullyCorrective, LineSearch, averaging_greedy,
                                  reweighted_greedy, uniform_weights)
from sims.selection.set_greedy import greedi, stochastic_greedy_opt
from sims.selection.ties import first_min

__all__ = ["SelectionRun", "SelectionMethod", "METHODS", "REWEIGHTED_METHODS", "UNIFORM_PREFIX_METHODS",
           "EXACT_METHODS", "method_options", "check_request"]


def _require_distinct(n: int, width: int, method: str) -> None:
    if n > width:
        raise InputError(f"n = {n} exceeds the number of neurons N = {width}; method {method!r} picks each neuron at most once, so n must be <= N")


def _prefix_losses(problem, indices: np.ndarray) -> np.ndarray:
    """Loss of the uniform average of indices[:k], for k = 1..n, in O(n D): one message per pick."""
    return np.array([0.5 * problem.session.ask(("add", int(i), k))[0] / problem.m
                     for k, i in enumerate(indices, start=1)])


# ---------------------------------------------------------------------------------------
# Uniform-averaging greedy methods: gfs, gfs-norep, herding, stochastic-gfs


def _gfs(problem, n, seed):
    """Greedy forward selection with replacement (ICML 2020, theory version)."""
    return averaging_greedy(problem, n, linearised=False, repeats=True)


def _gfs_norep(problem, n, seed):
    """Greedy forward selection over the not-yet-chosen neurons (the published code's variant)."""
    _require_distinct(n, problem.width, "gfs-norep")
    return averaging_greedy(problem, n, linearised=False, repeats=False)


def _herding(problem, n, seed):
    """GFS with the linearised score <f_{k-1} - Y, phi_i> and step 1/k."""
    return averaging_greedy(problem, n, linearised=True, repeats=True)


def _stochastic_gfs(problem, n, seed, *, eps=0.01):
    """GFS where step k scores only a random subset of ceil((N/n) log(1/eps)) neurons.

    The subsets are ``numpy.random.default_rng(seed).choice(N, size, replace=False)``, one
    call per step, sorted (so ties still go to the lowest index); seed None means 0.
    """
    if not (isinstance(eps, (int, float)) and 0 < eps < 1):
        raise InputError(f"option eps must be a number in (0, 1), got {eps!r}")
    width = problem.width
    size = min(width, max(1, math.ceil(width / n * math.log(1 / eps))))
    rng = np.random.default_rng(0 if seed is None else seed)
    sampler = lambda: np.sort(rng.choice(width, size=size, replace=False))  # noqa: E731
    return averaging_greedy(problem, n, linearised=False, repeats=True, candidate_sampler=sampler)

# ---------------------------------------------------------------------------------------
# Re-weighted greedy methods: fw, fcfw, greedy-opt, rules of the one re-weighted loop


def _fw(problem, n, seed):
    """Frank-Wolfe with exact line search; f_1 is the best single neuron.

    If rounding makes the line-search step worse than not moving, the step is 0 (so losses
    never increase); the vertex is still recorded in ``indices``.
    """
    return reweighted_greedy(problem, n, LineSearch(problem))


def _fcfw(problem, n, seed, *, tol=1e-12):
    """Fully corrective Frank-Wolfe: after adding the linear minimiser s to the chosen set S,
    re-solve min over the simplex on S exactly (Wolfe's min-norm point on the |S| x |S| Gram
    matrix of phi_j - Y, warm-started from the previous weights).

    Per step: one pass over all features (the linear minimiser) and, when s is new, two passes
    over the float64 copy of the |S| chosen rows (the Gram column, the output) plus the
    O(|S|^3) solve. Memory beyond the features: that copy, |S| x D x 8 bytes, and the Gram
    matrix. ``tol``: relative stopping tolerance of the inner solve.
    """
    return reweighted_greedy(problem, n, FullyCorrective(problem, tol))


def _greedy_opt(problem, n, seed, *, tol=1e-12):
    """Exhaustive re-weighted greedy: add the neuron i giving the lowest loss after the exact
    simplex re-solve on S + {i}. Candidates with <f - Y, phi_i - f> >= 0 are skipped (the
    optimum cannot move, so their loss is the current one). If no candidate improves, every
    neuron ties and the lowest index (0) is recorded; weights do not change.

    Cost per step: one pass plus one small warm-started solve per improving candidate, and a
    float64 pass over all features when a neuron enters; memory N x n float64 for the
    candidates' inner products with the chosen set. Meant for small N.
    """
    return reweighted_greedy(problem, n, ExhaustiveCorrective(problem, n, tol))


def _random(problem, n, seed):
    """n distinct neurons drawn by ``numpy.random.default_rng(seed).choice(N, n, replace=False)``
    (seed None means 0), uniform weights."""
    _require_distinct(n, problem.width, "random")
    indices = np.random.default_rng(0 if seed is None else seed).choice(problem.width, size=n, replace=False)
    indices = indices.astype(np.int64)
    return indices, _prefix_losses(problem, indices), uniform_weights(indices, problem.width)


def _magnitude(problem, n, seed):
    """The n neurons with the largest contribution norm ||phi_i|| (ties: lowest index), uniform weights."""
    _require_distinct(n, problem.width, "magnitude")
    indices = np.argsort(-problem.session.ask(("norms",))[0], kind="stable")[:n].astype(np.int64)
    return indices, _prefix_losses(problem, indices), uniform_weights(indices, problem.width)


def _backward(problem, n, seed):
    """Backward elimination with uniform weights: from all N neurons, repeatedly remove the one
    whose removal raises the loss least, down to n survivors (weights: 1/n on them); then
    continue on the survivors down to 1, so indices[:k] is the surviving set of size k and
    losses[k-1] its loss (nested sets).

    Removing i from a set T of size t gives output (S_T - phi_i)/(t-1), whose loss is
    ||phi_i||^2 - 2 <phi_i, S_T - (t-1) Y> + const: one pass per removal, N - 1 passes in all.
    """
    _require_distinct(n, problem.width, "backward")
    problem = problem.arrays  # the (N, D) features in memory
    width = problem.width
    device = problem.phi.device
    alive = torch.ones(width, dtype=torch.bool, device=device)
    total = torch.zeros_like(problem.target)
    for chunk in torch.arange(width, device=device).split(max(1, BLOCK_ELEMENTS // max(1, problem.phi.shape[1]))):
        total += problem.phi[chunk].to(torch.float64).sum(0)
    phi, sq_norms, labels = problem.phi, problem.sq_norms, torch.arange(width, device=device)
    indices = np.empty(n, dtype=np.int64)
    losses = np.empty(n)
    survivors = None
    for size in range(width, 0, -1):
        if size <= n:
            losses[size - 1] = problem.loss(total / size)
        if size == n:
            survivors = labels[alive].cpu().numpy()
            phi, sq_norms, labels = phi[alive], sq_norms[alive], labels[alive]  # compact copy of n rows
            alive = torch.ones(n, dtype=torch.bool, device=device)
        if size == 1:
            indices[0] = int(labels[alive][0])
            break
        dots = problem.pass_over(phi, total - (size - 1) * problem.target)
        scores = (sq_norms - 2 * dots).masked_fill(~alive, math.inf)
        scale = float(sq_norms.max()) + 2 * float(dots.abs().max())
        position = first_min(scores, scale, problem.eps)
        alive[position] = False
        removed = int(labels[position])
        total -= problem.row(removed)
        if size <= n:
            indices[size - 1] = removed
    return indices, losses, uniform_weights(survivors, width)


# ---------------------------------------------------------------------------------------
# Registry and the checks of a request

class SelectionRun(Protocol):
    """What a selection method's ``run`` is: called as ``run(problem, n, seed, **options)``.

    ``problem`` is the validated input (neuron-major features, the target, the loss; see the
    module docstring), ``n`` the number of steps, ``seed`` the seed of randomised methods (None
    means 0). The method's options are its keyword-only parameters, each with a default
    (``method_options`` reads them off the signature). It returns ``(indices, losses,
    weights)``: the pick of each step (n,), the loss after each step (n,) and the final (N,)
    mixing weights, non-negative and summing to 1.
    """

    def __call__(self, problem, n: int, seed: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class SelectionMethod:
    """A selection method and what the rest of the toolkit needs to know about it, in one place.

    run: ``(problem, n, seed, **options) -> (indices (n,), losses (n,), weights (N,))``; its
        keyword-only parameters are the method's options.
    reweighted: each step re-optimises the weights over the simplex, so the size-k subnetwork is
        not the uniform average of ``indices[:k]`` (with repeats) and must be selected anew for
        each k; False means that uniform-prefix property holds.
    exponential: P4 (docs/THEORY.md) predicts an exponential rate inside the hull (the
        Frank-Wolfe family); the experiments check P4 and the exponential claim for these.
    depends_on_n: the choice at step k depends on the run's length n (a sample size or a
        partition set from n), so step k of a run to n need not be the size-k subnetwork of a
        run to k; False means it is, bit for bit.
    any_backend: the method only sends requests to the backend, so it runs on every backend
        (factored features, chunks, Dask shards); False: it reads the (N, D) features in memory.
    greedy: a greedy selection method (False: a baseline, ``random``, ``magnitude``, ``backward``).
    """

    run: SelectionRun
    reweighted: bool = False
    exponential: bool = False
    depends_on_n: bool = False
    any_backend: bool = True
    greedy: bool = True


METHODS = {
    "gfs": SelectionMethod(_gfs),
    "gfs-norep": SelectionMethod(_gfs_norep),
    "herding": SelectionMethod(_herding),
    "fw": SelectionMethod(_fw, reweighted=True, exponential=True),
    "fcfw": SelectionMethod(_fcfw, reweighted=True, exponential=True),
    "greedy-opt": SelectionMethod(_greedy_opt, reweighted=True, exponential=True),
    "stochastic-gfs": SelectionMethod(_stochastic_gfs, depends_on_n=True),
    "random": SelectionMethod(_random, depends_on_n=True, greedy=False),
    "magnitude": SelectionMethod(_magnitude, greedy=False),
    "backward": SelectionMethod(_backward, any_backend=False, greedy=False),
    # greedy on F, the set function greedy-opt maximises (docs/THEORY.md section 8)
    "greedi": SelectionMethod(greedi, reweighted=True, depends_on_n=True, any_backend=False),
    "stochastic-greedy-opt": SelectionMethod(stochastic_greedy_opt, reweighted=True,
                                             depends_on_n=True, any_backend=False),
}
"""The selection methods: name -> :class:`SelectionMethod` (its ``run`` and its facts). Adding a
method is one line here (see the module docstring); everything else reads this table."""

#: The methods P4 covers (the Frank-Wolfe family): exponential rate inside the hull.
REWEIGHTED_METHODS = tuple(name for name, spec in METHODS.items() if spec.exponential)
#: The methods whose size-k subnetwork is the uniform average of their first k picks.
UNIFORM_PREFIX_METHODS = tuple(name for name, spec in METHODS.items() if not spec.reweighted)
#: The greedy methods that run on every backend (factored features, chunks, Dask shards), not only in
#: memory; the baselines random and magnitude do too.
EXACT_METHODS = tuple(name for name, spec in METHODS.items() if spec.any_backend and spec.greedy)


def method_options(method: str) -> dict:
    """The options a method accepts, with their defaults: {name: default}."""
    parameters = inspect.signature(METHODS[method].run).parameters.values()
    return {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


def check_request(n, method: str, options: dict, seed, *, in_memory: bool = True) -> dict:
    """Check a selection request against the registry; return the method's options with their
    defaults filled in. InputError (one line naming the parameter and what is accepted) for an
    unknown method, a method that needs the features in memory when they are not
    (``in_memory`` False), an unknown option, a bad n or a bad seed."""
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    if not in_memory and not METHODS[method].any_backend:
        valid = [name for name, spec in METHODS.items() if spec.any_backend]
        raise InputError(f"method {method!r} cannot run on sharded features (it reads the whole feature array); "
                         f"valid: {', '.join(valid)}")
    accepted = method_options(method)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise InputError(
            f"method {method!r} does not take option(s) {', '.join(unknown)}; "
            f"it accepts: {', '.join(accepted) if accepted else 'no options'}"
        )
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"n must be a positive integer (the subnetwork size), got {n!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise InputError(f"seed must be an integer or None, got {seed!r}")
    return {**accepted, **options}
