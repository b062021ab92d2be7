"""Choose n of a dense two-layer network's N neurons: greedy forward selection and friends.

Every method works on the neuron contribution vectors phi_1..phi_N (the dense network is
their plain mean) and returns a :class:`Selection`. The algorithms are the exact
definitions of docs/THEORY.md section 2; ties go to the lowest neuron index (scores within a few
rounding errors of the minimum count as tied: :mod:`sims.selection.ties`, the one rule).

The engine is four parts, each written once:

- the **registry** (:mod:`sims.selection.registry`): the methods, their options and defaults, and
  the checks of a request;
- the **loops** (:mod:`sims.selection.loops`): the averaging loop (gfs, gfs-norep, herding,
  stochastic-gfs) and the re-weighted loop with its rules (fw, fcfw, greedy-opt), on the driver,
  with O(N) state;
- the **backends**, which hold the data-sized state and answer the loops' requests with sums over
  data rows (:mod:`sims.selection.backend`): an array in memory (:mod:`sims.selection.arrays`), a
  network's factored features and streamed chunks (:mod:`sims.selection.shards`), Dask shards
  (:mod:`sims.selection.sharded`);
- the **entries**: :func:`select` here (an array or :class:`~sims.selection.sources.Factored`
  features in memory), ``chunked_select`` and ``sharded_select`` in :mod:`sims.selection.sharded`,
  all through :func:`run_selection`.

Speed. A step of gfs, herding and fw reads the features once: all N candidate scores come from
one pass <phi_i, r> plus the precomputed squared norms ||phi_i||^2, because for every method the
candidate loss is a constant plus a linear function of phi_i plus (for gfs) its norm. On a
network's factored features, gfs's pass is the pick's Gram column, one matrix-vector product over
the hidden activations H, not the K-wide product H^T R; the linear scores of the other methods
take the K-wide product (:mod:`sims.selection.shards` says why). Reported
losses are computed from the explicit float64 residual of the chosen subnetwork (O(D) per step),
never by expanding the square, so tiny losses stay accurate.

Threads. Only the passes over all N features use the caller's torch threads; everything else
in a step (vectors of length D, products over the support, simplex solves) runs on one
thread, torch's and numpy's BLAS alike, so results do not depend on the thread count and a
busy core elsewhere does not stall the small operations.

Internally inner products are plain sums over the m*K entries; the (1/m) of docs/THEORY.md only
scales every score by the same factor, and losses divide by m at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from sims.foundations.errors import InputError
from sims.selection.arrays import BLOCK_ELEMENTS, array_rows, as_tensor
from sims.selection.backend import Local, Problem, Session
from sims.selection.loops import uniform_weights
from sims.selection.registry import (EXACT_METHODS, METHODS, REWEIGHTED_METHODS, UNIFORM_PREFIX_METHODS,
                                     SelectionMethod, SelectionRun, check_request, method_options)
from sims.selection.shards import FeatureShard, LocalShards
from sims.selection.sources import Factored
from sims.selection.threads import one_thread, resolve_threads

__all__ = [
    "Selection", "SelectionRun", "SelectionMethod", "METHODS", "REWEIGHTED_METHODS", "UNIFORM_PREFIX_METHODS",
    "EXACT_METHODS", "Factored", "method_options", "SelectionConfig", "select", "run_selection", "subnetwork_output", "dense_loss"
]


@dataclass(frozen=True, eq=False)
class Selection:
    """The result of a selection run.

    indices: (n,) int64, the neuron chosen at step k (repeats where the method allows them;
        for ``backward``, indices[:k] is the surviving set of size k).
    losses: (n,) float64, 0.5 * mean_j ||f_k(x_j) - y_j||^2 after step k.
    weights: (N,) float64 final mixing weights: ``features @ weights`` over the neuron axis is
        the selected subnetwork's output (non-negative and summing to 1 for every method).
    method, seed, options: how it was produced.
    path_weights: {k: (N,) float64} the weights of the subnetwork after step k of this run
        (its loss is losses[k-1]), for each k asked for with ``select(..., record_steps=...)``.
    messages: how many messages the driver sent to its backend(s) (one per round trip to each
        Dask shard; in memory, the same count of batched requests).
    """

    indices: np.ndarray
    losses: np.ndarray
    weights: np.ndarray
    method: str
    seed: int | None = None
    options: dict = field(default_factory=dict)
    path_weights: dict = field(default_factory=dict)
    messages: int = field(default=0, compare=False)

    @property
    def support_size(self) -> int:
        """Number of neurons with non-zero weight: the width of the pruned network."""
        return int(np.count_nonzero(self.weights))

    def support(self) -> tuple[np.ndarray, np.ndarray]:
        """The subnetwork as (indices, weights), both of length ``support_size``: the neurons
        with non-zero weight in increasing order (int64) and their weights (float64, summing
        to 1), the form ``sims.nets.model.subnetwork(model, indices, weights)`` takes.

        ``indices`` lists each pick in order with repeats and ``weights`` has one entry per
        neuron of the dense network (N), so the two do not pair up; this method pairs them.
        """
        indices = np.flatnonzero(self.weights)
        return indices, self.weights[indices]

    def to_dict(self) -> dict:
        """JSON-ready plain data (lists and numbers)."""
        return {
            "method": self.method,
            "seed": self.seed,
            "options": dict(self.options),
            "indices": self.indices.tolist(),
            "losses": self.losses.tolist(),
            "weights": self.weights.tolist(),
            "support_size": self.support_size,
        }


@dataclass(frozen=True)
class SelectionConfig:
    """What ``gfs select`` and ``gfs prune`` ask of :func:`select`: the subnetwork size n (no
    default), the method and the seed of randomised methods. :func:`select` checks the values
    (its messages name the accepted methods), so this record does not check them again."""

    n: int = field(metadata={"help": "subnetwork size (selection steps)", "range": "positive"})
    method: str = field(default="gfs", metadata={"help": "selection method", "choices": lambda: METHODS})
    seed: int | None = field(default=None, metadata={"help": "seed of randomised methods", "range": "non-negative"})


def select(features, target, n, method: str = "gfs", *, seed: int | None = None, record_steps=(),
           threads: int | None = None, **options) -> Selection:
    """Choose n neurons of a two-layer network by ``method``.

    Parameters
    ----------
    features : numpy array, torch tensor or memory map of shape (m, N) or (m, N, K); or Factored
        phi_i evaluated on m samples, scaled so that the dense network's output is
        ``features.mean(1)``. float32 and float64 are used as given (other real dtypes are
        converted to float64: one copy), on the tensor's device. Used without copying: an (m, N)
        array in C or Fortran order, and an (m, N, K) tensor that is a permuted view of an
        (N, m, K)-contiguous buffer (what ``sims.nets.model.neuron_features`` returns); any other
        (m, N, K) layout is copied once into neuron-major order.
        A :class:`~sims.selection.sources.Factored` (a network's hidden activations H (m, N),
        second layer B (N, K) and scale c; ``sims.nets.features.neuron_factors``) is used in
        factored form, H without a copy: a step reads H once, never an (m, N, K) array, for
        every method of ``EXACT_METHODS``; the others get the (m, N, K) array formed once, as
        does a small single-output network (K = 1, m*N <= 2**22: the array is H's size, and
        the array engine's step is lighter).
    target : array, shape (m,) or (m, K) (also (m, 1) when K = 1)
    n : int
        Number of steps (>= 1); methods that pick each neuron at most once need n <= N.
    method : str
        One of ``METHODS``.
    seed : int or None
        Seed of ``random`` and ``stochastic-gfs`` (None means 0).
    record_steps : iterable of int
        Steps k in [1, n] whose subnetwork weights to keep in ``Selection.path_weights``: one run
        gives the size-k subnetworks of its path (for gfs, fw, fcfw and the other methods whose
        steps do not depend on n, the same weights as a run to k). Uniform-prefix methods read
        them off ``indices[:k]``; re-weighted ones keep them as they go.
    threads : int or None
        torch's threads for the passes over all features (everything else runs on one thread);
        None: the count that reads fastest on this machine
        (:func:`sims.selection.threads.pass_threads`, measured once and cached).
    **options
        Method-specific keywords (see ``method_options(method)``).

    Returns
    -------
    Selection
        The picks in order, the loss after each step and the weights of the size-n subnetwork.

    Raises
    ------
    InputError
        (a ValueError) for an unknown method or option, a bad n, mismatched shapes, or NaN/inf
        in the inputs.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> features = rng.standard_normal((20, 50))
    >>> target = features[:, :5].mean(1)
    >>> selection = select(features, target, 5, "gfs")
    >>> selection.indices.tolist()
    [6, 1, 15, 35, 9]
    >>> bool(np.all(np.diff(selection.losses) < 0)), float(selection.weights.sum())
    (True, 1.0)
    """
    chosen = check_request(n, method, options, seed)
    steps = _checked_steps(record_steps, int(n))
    threads = resolve_threads(threads)
    if isinstance(features, Factored) and METHODS[method].any_backend and not _small_single_output(features):
        group = LocalShards([FeatureShard(features.with_targets(target), cache=True, threads=threads)])
        with one_thread():  # only the passes over all features use more threads
            return run_selection(group, int(n), method, seed=seed, record_steps=steps, options=chosen)
    if isinstance(features, Factored):
        features = features.materialised()
    rows = array_rows(features, target, threads=threads)
    with one_thread():  # only the passes over all features use more threads
        return run_selection(Local(rows), int(n), method, seed=seed, record_steps=steps, arrays=rows,
                             options=chosen)


# A Factored with K = 1 and at most this many entries in H goes the array way (see select).
_SMALL_SINGLE_OUTPUT = 1 << 22


def _small_single_output(features: Factored) -> bool:
    """K = 1 and H small: the (m, N) features are H's size, so the factored form saves no memory,
    and on small problems the array engine's lighter step is faster (~75 us a step less)."""
    return features.outputs == 1 and features.rows * features.width <= _SMALL_SINGLE_OUTPUT


def run_selection(group, n: int, method: str, *, seed: int | None = None, record_steps: frozenset = frozenset(),
                  arrays=None, options: dict | None = None) -> Selection:
    """Run a checked request (:func:`sims.selection.registry.check_request`) on a group of backends
    (:mod:`sims.selection.backend`): the one driver of every entry (select, chunked, sharded).
    ``arrays``: the in-memory :class:`~sims.selection.arrays.ArrayRows`, for the methods that read
    the features directly (None elsewhere). ``options``: the method's options, defaults filled in."""
    options = method_options(method) if options is None else options
    session = Session(group)
    m, width, eps = group.call([("info",)])[0]
    problem = Problem(session, m, width, eps, arrays=arrays)
    reweighted = METHODS[method].reweighted
    if reweighted:
        problem.record_steps = record_steps
    indices, losses, weights = METHODS[method].run(problem, n, seed, **options)
    indices = np.asarray(indices, dtype=np.int64)
    if reweighted:
        missing = sorted(record_steps - problem.recorded.keys())
        if missing:
            raise RuntimeError(f"method {method!r} did not record its weights at steps {missing} "
                               "(a re-weighted method calls problem.record after every step)")
        path_weights = {k: problem.recorded[k] for k in sorted(record_steps)}
    else:
        path_weights = {k: uniform_weights(indices[:k], width) for k in sorted(record_steps)}
    return Selection(
        indices=indices,
        losses=np.asarray(losses, dtype=np.float64),
        weights=np.asarray(weights, dtype=np.float64),
        method=method,
        seed=seed,
        options=options,
        path_weights=path_weights,
        messages=session.messages,
    )


def _checked_steps(record_steps, n: int) -> frozenset:
    """``record_steps`` as a set of ints in [1, n]; an InputError for anything else."""
    try:
        steps = list(record_steps)
    except TypeError:
        steps = None
    if steps is None or not all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) and 1 <= k <= n
                                for k in steps):
        raise InputError(f"record_steps must be integers in [1, n = {n}], got {record_steps!r}")
    return frozenset(int(k) for k in steps)


def subnetwork_output(features, weights) -> np.ndarray:
    """features @ weights over the neuron axis, in float64: (m,) or (m, K). ``weights`` has one
    entry per neuron (N,), as ``Selection.weights``."""
    features = as_tensor("features", features).to(torch.float64)
    weights = torch.as_tensor(np.asarray(weights, dtype=np.float64), device=features.device)
    if features.ndim == 2:
        return (features @ weights).cpu().numpy()
    return torch.einsum("mnk,n->mk", features, weights).cpu().numpy()


def dense_loss(features, target) -> float:
    """The loss of the dense network, ``0.5 * mean_j ||features[j].mean(over neurons) - target[j]||^2``.

    The dense network is the plain mean of its N neurons, so this is the loss every selection
    approaches as it grows, the baseline of the excess loss and of P2's bound. ``features`` and
    ``target`` are as for :func:`select` (shapes (m, N) or (m, N, K), and (m,) or (m, K));
    the mean and the loss are computed in float64, with the same residual formula as
    ``Selection.losses``.

    Examples
    --------
    >>> import numpy as np
    >>> features = np.array([[1.0, 3.0], [0.0, 2.0]])   # m = 2 samples, N = 2 neurons
    >>> dense_loss(features, np.array([2.0, 0.0]))      # dense outputs (2, 1): 0.5 * (0 + 1) / 2
    0.25
    """
    problem = array_rows(features, target)
    total = torch.zeros(problem.phi.shape[1], dtype=torch.float64, device=problem.phi.device)
    rows = max(1, BLOCK_ELEMENTS // max(1, problem.phi.shape[1]))
    for start in range(0, problem.width, rows):
        total += problem.phi[start:start + rows].to(torch.float64).sum(0)
    return problem.loss(total / problem.width)
