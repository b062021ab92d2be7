"""Choose n of a dense two-layer network's N neurons: greedy forward selection and friends.

Every method works on the neuron contribution vectors phi_1..phi_N (the dense network is
their plain mean) and returns a :class:`Selection`. The algorithms are the exact
definitions of docs/THEORY.md section 2; ties go to the lowest neuron index (scores within a few
rounding errors of the minimum count as tied).

Speed. The features are held neuron-major as an (N, D) matrix, D = m*K, and each step of
gfs, herding and fw reads it once: all N candidate scores come from one matrix-vector
product Phi r plus the precomputed squared norms ||phi_i||^2, because for every method the
candidate loss is a constant plus a linear function of phi_i plus (for gfs) its norm.
Reported losses are computed directly from the explicit float64 residual of the chosen
subnetwork (O(D) per step), never by expanding the square, so tiny losses stay accurate.

fcfw and greedy-opt also need float64 products over the chosen rows (a Gram column, the
output): they go through scratch blocks of a few MiB allocated once per run (:class:`_Scratch`),
never a temporary of |S| x D, with the bits of the unblocked formulas.

Threads. Only the pass over all N features uses the caller's torch threads; everything else
in a step (vectors of length D, products over the support, simplex solves) runs on one
thread, torch's and numpy's BLAS alike, so results do not depend on the thread count and a
busy core elsewhere does not stall the small operations.

Internally inner products are plain sums over the m*K entries; the (1/m) of docs/THEORY.md only
scales every score by the same factor, and losses divide by m at the end.

Adding a method: write ``def _name(problem, n, seed, *, option=default) -> (indices, losses,
weights)`` and add one :class:`SelectionMethod` line to ``METHODS`` (its facts: re-weighted or
not, P4's exponential rate or not, plot style); its keyword-only parameters are its options. A
re-weighted method is a :class:`_Reweighting` rule run by :func:`_reweighted_greedy`; one with its
own loop calls ``problem.record(k, support, support_weights)`` after every step k (what
``select(..., record_steps=...)`` returns).
"""

from __future__ import annotations

import inspect
import math
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
import torch

from sims.foundations.errors import InputError
from sims.selection.set_greedy import greedi, stochastic_greedy_opt
from sims.selection.simplex_qp import min_norm_point

__all__ = [
    "Selection", "SelectionRun", "SelectionMethod", "METHODS", "REWEIGHTED_METHODS", "UNIFORM_PREFIX_METHODS", "method_options",
    "SelectionConfig", "select", "subnetwork_output", "dense_loss"
]

# Rows per BLAS call of the float64 products over a set of rows: 2**22 // D (at least 1). The
# last bits of a product depend on these call boundaries (MKL's dgemv treats the rows of a call in
# groups of four and the last one to three rows with other kernels), so they are fixed; the rows
# of a call are fed through the reused scratch blocks of :class:`_Scratch`.
_BLOCK_ELEMENTS = 1 << 22
# Size of each float64 scratch block of fcfw and greedy-opt (2 MiB: in cache, allocated once a run).
_SCRATCH_BYTES = 1 << 21
# A scratch block holds a multiple of this many rows, so every row keeps its place in its group
# of four within its BLAS call (eight leaves room for a BLAS that groups by eight).
_ROW_GROUP = 8


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
    """

    indices: np.ndarray
    losses: np.ndarray
    weights: np.ndarray
    method: str
    seed: int | None = None
    options: dict = field(default_factory=dict)
    path_weights: dict = field(default_factory=dict)

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


@dataclass(frozen=True, eq=False)
class _Problem:
    """Validated input: phi (N, D) neuron-major (possibly a transposed view), target (D,) float64.

    threads: torch's intra-op thread count of the caller, used for the passes over all N
    features; everything else of a method runs on one thread (see :func:`select`).
    """

    phi: torch.Tensor
    target: torch.Tensor
    m: int
    sq_norms: torch.Tensor  # (N,) float64, ||phi_i||^2 as plain sums
    threads: int = 1
    # steps whose weights a re-weighted method keeps (see :meth:`record`), and what it kept
    record_steps: frozenset = frozenset()
    recorded: dict = field(default_factory=dict)

    @property
    def width(self) -> int:
        return self.phi.shape[0]

    @property
    def eps(self) -> float:
        return torch.finfo(self.phi.dtype).eps

    def row(self, i: int) -> torch.Tensor:
        """phi_i as a float64 vector (D,)."""
        return self.phi[i].to(torch.float64)

    def pass_over(self, matrix: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
        """matrix @ vector in the matrix's dtype, returned as float64: a GEMV over (a subset
        of) the (., D) features, the one large operation of a step, on the caller's threads."""
        with _torch_threads(self.threads):
            return torch.mv(matrix, vector.to(matrix.dtype)).to(torch.float64)

    def dots(self, vector: torch.Tensor) -> torch.Tensor:
        """<phi_i, vector> for every i, (N,) float64: ONE pass over the features."""
        return self.pass_over(self.phi, vector)

    def record(self, step: int, support: list[int], support_weights: np.ndarray) -> None:
        """Keep the (N,) weights after ``step`` (1-based) when that step was asked for. Methods
        whose weights are not a uniform average of their picks call this after every step."""
        if step in self.record_steps:
            self.recorded[step] = _full_weights(self.width, support, support_weights)

    def loss(self, output: torch.Tensor) -> float:
        """0.5 * mean over samples of ||output - target||^2, from the explicit residual."""
        residual = output - self.target
        return 0.5 * float(residual @ residual) / self.m


@contextmanager
def _torch_threads(count: int):
    """torch's intra-op thread count set to ``count`` inside the block (then restored)."""
    previous = torch.get_num_threads()
    if count == previous:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


_BLAS = []  # a threadpoolctl.ThreadpoolController, made on first use (it scans the loaded libraries)


@contextmanager
def _one_thread():
    """Torch's intra-op pool and numpy's BLAS on one thread inside the block.

    The small float64 operations of a selection step (vectors of length D, products over the
    support, the simplex solves) gain nothing from a second thread, and when another process
    holds a core each parallel region waits for a descheduled thread (a time slice, ~16 ms,
    against microseconds of work). Thread counts are process-wide: concurrent ``select`` calls
    from several Python threads would see each other's settings.
    """
    if not _BLAS:
        from threadpoolctl import ThreadpoolController

        _BLAS.append(ThreadpoolController())
    with _torch_threads(1), _BLAS[0].limit(limits=1, user_api="blas"):
        yield


class _Scratch:
    """Float64 products over a set of neurons in reused blocks: what fcfw and greedy-opt need.

    Two scratch buffers (float64, and the features' dtype) of about ``_SCRATCH_BYTES`` each, at
    least ``_ROW_GROUP`` rows of D, are allocated once per run, so no step allocates anything
    of size |S| x D. Each result has the bits of the plain formula in its docstring, computed
    with one BLAS call per ``2**22 // D`` rows: row blocks are multiples of ``_ROW_GROUP``
    rows inside those calls, and the weighted sum of rows is split by columns, which leaves
    every entry's sum as it was (tests/sims/selection/test_engine.py checks both).
    """

    def __init__(self, problem: _Problem):
        phi = problem.phi
        dim = phi.shape[1]
        self.problem = problem
        self.call_rows = max(1, _BLOCK_ELEMENTS // dim)
        fitting = _SCRATCH_BYTES // (8 * dim) // _ROW_GROUP * _ROW_GROUP
        self.block_rows = min(self.call_rows, max(_ROW_GROUP, fitting))
        self.capacity = max(self.block_rows * dim, _SCRATCH_BYTES // 8)
        self.wide = torch.empty(self.capacity, dtype=torch.float64, device=phi.device)
        self.narrow = None if phi.dtype == torch.float64 else torch.empty(self.capacity, dtype=phi.dtype, device=phi.device)

    def _rows(self, rows: torch.Tensor, columns: slice = slice(None)) -> torch.Tensor:
        """phi[rows, columns] as a float64 (len(rows), width) view of the scratch buffer."""
        phi = self.problem.phi[:, columns]
        shape = (len(rows), phi.shape[1])
        size = shape[0] * shape[1]
        wide = self.wide[:size].view(shape)
        if self.narrow is None:
            return torch.index_select(phi, 0, rows, out=wide)
        return wide.copy_(torch.index_select(phi, 0, rows, out=self.narrow[:size].view(shape)))

    def _row_blocks(self, rows):
        """(start, block) over ``rows`` (default all neurons): each BLAS call's rows, in blocks."""
        device = self.problem.phi.device
        rows = torch.arange(self.problem.width, device=device) if rows is None else torch.as_tensor(rows, dtype=torch.long, device=device)
        start = 0
        for call in rows.split(self.call_rows):
            for block in call.split(self.block_rows):
                yield start, block
                start += len(block)

    def centered_products(self, vector: torch.Tensor, rows=None) -> torch.Tensor:
        """<phi_i - Y, vector> for i in ``rows`` (default all), (len(rows),) float64; as
        ``(phi[rows].double() - Y) @ vector`` per call of 2**22 // D rows. vector: (D,) float64."""
        count = self.problem.width if rows is None else len(rows)
        result = torch.empty(count, dtype=torch.float64, device=vector.device)
        for start, block in self._row_blocks(rows):
            centered = self._rows(block).sub_(self.problem.target)
            torch.mv(centered, vector, out=result[start:start + len(block)])
        return result

    def stored_centered_products(self, stored: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
        """<q - Y, vector> for every row q of ``stored`` ((p, D) float64, contiguous), (p,)
        float64; as ``(stored - Y) @ vector`` per call of 2**22 // D rows."""
        count, dim = stored.shape
        result = torch.empty(count, dtype=torch.float64, device=vector.device)
        for call in range(0, count, self.call_rows):
            call_end = min(count, call + self.call_rows)
            for start in range(call, call_end, self.block_rows):
                end = min(call_end, start + self.block_rows)
                centered = torch.sub(stored[start:end], self.problem.target, out=self.wide[:(end - start) * dim].view(end - start, dim))
                torch.mv(centered, vector, out=result[start:end])
        return result

    def centered_sq_norms(self) -> torch.Tensor:
        """||phi_i - Y||^2 for every i, (N,) float64, from the explicit differences c = phi_i - Y
        (as ``(c * c).sum(1)`` per call of 2**22 // D rows)."""
        result = torch.empty(self.problem.width, dtype=torch.float64, device=self.problem.phi.device)
        for start, block in self._row_blocks(None):
            centered = self._rows(block).sub_(self.problem.target)
            torch.sum(centered.mul_(centered), 1, out=result[start:start + len(block)])
        return result

    def combination(self, rows: list[int], weights: np.ndarray) -> torch.Tensor:
        """sum_j weights_j phi_{rows_j}, (D,) float64: ``weights @ phi[rows].double()`` by
        column blocks. rows: |S| neuron indices; weights: (|S|,) float64."""
        device = self.problem.phi.device
        rows = torch.as_tensor(rows, dtype=torch.long, device=device)
        weights = torch.as_tensor(weights, device=device)
        dim = self.problem.phi.shape[1]
        columns = max(1, self.capacity // len(rows))
        if len(rows) > self.capacity:  # more rows than one column of scratch holds: grow it
            self.capacity = len(rows)
            self.wide = torch.empty(self.capacity, dtype=torch.float64, device=device)
            self.narrow = None if self.narrow is None else torch.empty(self.capacity, dtype=self.narrow.dtype, device=device)
        output = torch.empty(dim, dtype=torch.float64, device=device)
        for start in range(0, dim, columns):
            output[start:start + columns] = weights @ self._rows(rows, slice(start, start + columns))
        return output


# ---------------------------------------------------------------------------------------
# Input validation and layout


def _as_tensor(name: str, value) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        tensor = value.detach()
    elif isinstance(value, np.ndarray) or np.isscalar(value) or isinstance(value, (list, tuple)):
        array = np.asarray(value)
        if array.dtype.kind not in "fiu":
            raise InputError(f"{name} must hold real numbers, got dtype {array.dtype}")
        if any(stride < 0 for stride in array.strides):
            array = np.ascontiguousarray(array)
        with warnings.catch_warnings():  # read-only (memory-mapped) arrays are only read here
            warnings.simplefilter("ignore", UserWarning)
            tensor = torch.from_numpy(array)
    else:
        raise InputError(f"{name} must be a numpy array or torch tensor, got {type(value).__name__}")
    if tensor.is_complex() or tensor.dtype == torch.bool:
        raise InputError(f"{name} must hold real numbers, got dtype {tensor.dtype}")
    if tensor.dtype not in (torch.float32, torch.float64):
        tensor = tensor.to(torch.float64)
    return tensor


def _neuron_major(features: torch.Tensor) -> torch.Tensor:
    """(m, N) or (m, N, K) -> (N, m*K), a view whenever the memory layout allows it."""
    if features.ndim == 3 and features.shape[2] == 1:
        features = features[:, :, 0]
    if features.ndim == 2:
        matrix = features.t()  # a row-major or column-major view: both are one GEMV
        if matrix.stride(0) == 1 or matrix.stride(1) == 1:
            return matrix
        return matrix.contiguous()
    m, width, k = features.shape
    permuted = features.permute(1, 0, 2)
    if permuted.is_contiguous():
        return permuted.view(width, m * k)
    return permuted.reshape(width, m * k).contiguous()  # one copy, neuron-major


def _problem(features, target, threads: int = 1) -> _Problem:
    features = _as_tensor("features", features)
    if features.ndim not in (2, 3) or 0 in features.shape:
        raise InputError(f"features must have shape (m, N) or (m, N, K) with m, N, K >= 1, got {tuple(features.shape)}")
    m, width = features.shape[0], features.shape[1]
    outputs = features.shape[2] if features.ndim == 3 else 1
    target = _as_tensor("target", target).to(device=features.device)
    if target.ndim == 2 and target.shape[1] == 1 and outputs == 1:
        target = target[:, 0]
    expected = (m,) if outputs == 1 else (m, outputs)
    if tuple(target.shape) != expected:
        accepted = "(m,) or (m, 1)" if outputs == 1 else "(m, K)"
        raise InputError(
            f"target must have shape {accepted} = {expected} to match features {tuple(features.shape)}, "
            f"got {tuple(target.shape)}"
        )
    target = target.to(torch.float64).reshape(-1)
    if not bool(torch.isfinite(target).all()):
        raise InputError("target contains NaN or inf; only finite values are accepted")
    phi = _neuron_major(features)
    norms = torch.linalg.vector_norm(phi, dim=1)  # one pass, no temporary copy
    if not bool(torch.isfinite(norms).all()):
        raise InputError("features contain NaN or inf (or values too large to square); only finite values are accepted")
    return _Problem(phi=phi, target=target, m=m, sq_norms=norms.to(torch.float64) ** 2, threads=threads)


def _full_weights(width: int, support: list[int], support_weights: np.ndarray) -> np.ndarray:
    """(N,) float64 weights: ``support_weights`` on the neurons of ``support``, 0 elsewhere."""
    weights = np.zeros(width)
    weights[support] = support_weights
    return weights


def _first_min(scores: torch.Tensor, scale: float, eps: float) -> int:
    """Lowest index whose score is within a few rounding errors (of size eps*scale) of the minimum."""
    best = scores.min()
    return int(torch.nonzero(scores <= best + 16 * eps * scale)[0, 0])


def _require_distinct(n: int, width: int, method: str) -> None:
    if n > width:
        raise InputError(f"n = {n} exceeds the number of neurons N = {width}; method {method!r} picks each neuron at most once, so n must be <= N")


def _prefix_losses(problem: _Problem, indices: np.ndarray) -> np.ndarray:
    """Loss of the uniform average of indices[:k], for k = 1..n, in O(n D)."""
    total = torch.zeros_like(problem.target)
    losses = np.empty(len(indices))
    for k, i in enumerate(indices, start=1):
        total += problem.row(int(i))
        losses[k - 1] = problem.loss(total / k)
    return losses


def _uniform_weights(indices: np.ndarray, width: int) -> np.ndarray:
    return np.bincount(indices, minlength=width).astype(np.float64) / len(indices)


# ---------------------------------------------------------------------------------------
# Uniform-averaging greedy methods: gfs, gfs-norep, herding, stochastic-gfs


def _averaging_greedy(problem: _Problem, n: int, *, linearised: bool, repeats: bool,
                      candidate_sampler=None):
    """f_k = ((k-1) f_{k-1} + phi_{i_k}) / k, with i_k minimising the (linearised) loss.

    Exact score (gfs): ||(k-1)/k f + phi_i/k - Y||^2 = (||phi_i||^2 + 2k <phi_i, r>)/k^2 + const,
    r = (k-1)/k f - Y. Linearised score (herding): <f - Y, phi_i>.
    """
    width = problem.width
    total = torch.zeros_like(problem.target)  # sum of the chosen contributions, float64
    indices = np.empty(n, dtype=np.int64)
    losses = np.empty(n)
    allowed = torch.ones(width, dtype=torch.bool, device=problem.phi.device)
    for k in range(1, n + 1):
        previous = total / (k - 1) if k > 1 else total
        candidates = None if candidate_sampler is None else candidate_sampler()
        phi = problem.phi if candidates is None else problem.phi[candidates]
        if linearised:
            dots = problem.pass_over(phi, previous - problem.target)
            scores, scale = dots, float(dots.abs().max())
        else:
            dots = problem.pass_over(phi, (k - 1) / k * previous - problem.target)
            sq_norms = problem.sq_norms if candidates is None else problem.sq_norms[candidates]
            scores = sq_norms + 2 * k * dots
            scale = float(sq_norms.max()) + 2 * k * float(dots.abs().max())
        if not repeats:
            scores = scores.masked_fill(~allowed, math.inf)
        position = _first_min(scores, scale, problem.eps)
        chosen = position if candidates is None else int(candidates[position])
        allowed[chosen] = False
        indices[k - 1] = chosen
        total += problem.row(chosen)
        losses[k - 1] = problem.loss(total / k)
    return indices, losses, _uniform_weights(indices, width)


def _gfs(problem, n, seed):
    """Greedy forward selection with replacement (ICML 2020, theory version)."""
    return _averaging_greedy(problem, n, linearised=False, repeats=True)


def _gfs_norep(problem, n, seed):
    """Greedy forward selection over the not-yet-chosen neurons (the published code's variant)."""
    _require_distinct(n, problem.width, "gfs-norep")
    return _averaging_greedy(problem, n, linearised=False, repeats=False)


def _herding(problem, n, seed):
    """GFS with the linearised score <f_{k-1} - Y, phi_i> and step 1/k."""
    return _averaging_greedy(problem, n, linearised=True, repeats=True)


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
    sampler = lambda: torch.from_numpy(np.sort(rng.choice(width, size=size, replace=False))).to(problem.phi.device)  # noqa: E731
    return _averaging_greedy(problem, n, linearised=False, repeats=True, candidate_sampler=sampler)


# ---------------------------------------------------------------------------------------
# Re-weighted greedy methods: fw, fcfw, greedy-opt, as one loop with a pluggable re-weighting


@dataclass(frozen=True, eq=False)
class _Proposal:
    """A re-weighting's candidate next subnetwork: its output (D,) float64, the neuron it moves
    towards, and the rest of what the rule needs to adopt it (fw: the step; fcfw and greedy-opt:
    the (|S|,) weights on the support with that neuron)."""

    output: torch.Tensor
    vertex: int
    step: float = 0.0
    weights: np.ndarray | None = None


class _Reweighting:
    """A re-weighting rule of :func:`_reweighted_greedy`. It keeps the weights of the current
    subnetwork as a support (neurons in order of entry) and their (|S|,) float64 weights.

    ``first()`` picks f_1's neuron (weight 1); ``propose(output)`` picks step k's neuron and
    returns it with a candidate subnetwork, or None when the subnetwork cannot change;
    ``accept(proposal)`` adopts the candidate. This base class picks the linear minimiser
    argmin_i <f - Y, phi_i> and leaves the re-weighting towards it to ``reweight``.
    """

    def __init__(self, problem: _Problem):
        self.problem = problem
        self.support: list[int] = []
        self.position: dict[int, int] = {}  # neuron -> its place in the support
        self.support_weights = np.zeros(0)

    def _enter(self, neuron: int, weight: float) -> None:
        self.position[neuron] = len(self.support)
        self.support.append(neuron)
        self.support_weights = np.append(self.support_weights, weight)

    def first(self) -> int:
        first = _best_single(self.problem)
        self._enter(first, 1.0)
        return first

    def propose(self, output: torch.Tensor) -> tuple[int, _Proposal | None]:
        vertex = _linear_minimiser(self.problem, output)
        return vertex, self.reweight(output, vertex)

    def reweight(self, output: torch.Tensor, vertex: int) -> _Proposal | None:
        raise NotImplementedError

    def accept(self, proposal: _Proposal) -> None:
        raise NotImplementedError

    def weights(self) -> np.ndarray:
        """The (N,) weights of the current subnetwork."""
        return _full_weights(self.problem.width, self.support, self.support_weights)


def _reweighted_greedy(problem: _Problem, n: int, rule: _Reweighting):
    """The loop the re-weighted methods share: f_1 = phi of ``rule.first()``; at step k the rule
    proposes a neuron and a candidate subnetwork, which is adopted when its loss (computed from
    the explicit residual) is not above f_{k-1}'s, so losses never increase. The proposed neuron
    is recorded whether or not the candidate is adopted.

    Returns (indices (n,) int64, losses (n,) float64, weights (N,) float64).
    """
    indices = np.empty(n, dtype=np.int64)
    losses = np.empty(n)
    first = rule.first()
    output = problem.row(first)
    indices[0], losses[0] = first, problem.loss(output)
    problem.record(1, rule.support, rule.support_weights)
    for k in range(1, n):
        indices[k], proposal = rule.propose(output)
        losses[k] = losses[k - 1]
        if proposal is not None:
            loss = problem.loss(proposal.output)
            if loss <= losses[k - 1]:
                rule.accept(proposal)
                output, losses[k] = proposal.output, loss
        problem.record(k + 1, rule.support, rule.support_weights)
    return indices, losses, rule.weights()


def _best_single(problem: _Problem) -> int:
    """argmin_i ||phi_i - Y||^2: GFS step 1."""
    dots = problem.dots(-problem.target)
    scale = float(problem.sq_norms.max()) + 2 * float(dots.abs().max())
    return _first_min(problem.sq_norms + 2 * dots, scale, problem.eps)


def _linear_minimiser(problem: _Problem, output: torch.Tensor) -> int:
    """argmin_i <f - Y, phi_i> (one pass)."""
    dots = problem.dots(output - problem.target)
    return _first_min(dots, float(dots.abs().max()), problem.eps)


def _extend_gram(gram: np.ndarray, column: np.ndarray, diagonal: float) -> np.ndarray:
    """The (p+1, p+1) Gram matrix of p points and one more: ``column`` (p,) its inner products
    with the p points, ``diagonal`` its squared norm."""
    size = gram.shape[0]
    extended = np.empty((size + 1, size + 1))
    extended[:size, :size] = gram
    extended[:size, size] = column
    extended[size, :size] = column
    extended[size, size] = diagonal
    return extended


class _LineSearch(_Reweighting):
    """fw: f <- f + gamma (phi_s - f) with the exact line search gamma in [0, 1]."""

    def reweight(self, output, vertex):
        problem = self.problem
        direction = problem.row(vertex) - output
        sq_length = float(direction @ direction)
        step = 0.0
        if sq_length > 0:
            step = min(1.0, max(0.0, -float((output - problem.target) @ direction) / sq_length))
        return _Proposal(output + step * direction, vertex, step=step)

    def accept(self, proposal):
        self.support_weights *= 1 - proposal.step
        if proposal.vertex not in self.position:
            self._enter(proposal.vertex, 0.0)
        self.support_weights[self.position[proposal.vertex]] += proposal.step


class _FullyCorrective(_Reweighting):
    """fcfw: S grows by the linear minimiser s (when new), and the weights are re-solved exactly
    over the simplex on S: Wolfe's min-norm point of the |S| x |S| Gram matrix of phi_j - Y,
    warm-started from the previous weights (s at 0). S keeps s even if rounding makes the solve
    worse than not moving. ``tol``: relative stopping tolerance of the solve.

    The rows of S are kept in float64 (|S| x D x 8 bytes, in a buffer that doubles when full:
    a few allocations per run, none per step), so a new Gram column is one pass over them
    through the scratch and the output is one product ``weights @ rows``."""

    def __init__(self, problem, tol):
        super().__init__(problem)
        self.tol = tol
        self.scratch = _Scratch(problem)
        self.gram = np.zeros((0, 0))
        # phi_j in float64 for j in S, in order of entry: rows [0, |S|) of a buffer that doubles
        self.stored = torch.empty((1, problem.phi.shape[1]), dtype=torch.float64, device=problem.phi.device)

    def _enter(self, neuron, weight):
        size = len(self.support)
        row = self.problem.row(neuron)
        centered = row - self.problem.target
        column = self.scratch.stored_centered_products(self.stored[:size], centered).cpu().numpy()
        self.gram = _extend_gram(self.gram, column, float(centered @ centered))
        if size == self.stored.shape[0]:
            grown = torch.empty((2 * size, row.shape[0]), dtype=torch.float64, device=row.device)
            grown[:size] = self.stored
            self.stored = grown
        self.stored[size] = row
        super()._enter(neuron, weight)

    def reweight(self, output, vertex):
        if vertex in self.position:
            return None  # f is already optimal on S, which contains the best vertex: nothing changes
        self._enter(vertex, 0.0)
        solved = min_norm_point(self.gram, self.support_weights, tol=self.tol)
        output = torch.as_tensor(solved, device=self.stored.device) @ self.stored[:len(self.support)]
        return _Proposal(output, vertex, weights=solved)

    def accept(self, proposal):
        self.support_weights = proposal.weights


class _ExhaustiveCorrective(_Reweighting):
    """greedy-opt: step k adds the neuron i giving the lowest loss after the exact simplex
    re-solve on S + {i}. Candidates with <f - Y, phi_i - f> >= 0 are skipped (the optimum cannot
    move, so their loss is the current one); if no candidate improves, every neuron ties and
    the lowest index (0) is recorded. f_1 is argmin_i ||phi_i - Y||^2 from the explicit
    differences. Memory: the (N, n) inner products <phi_i - Y, phi_s - Y> with the support."""

    def __init__(self, problem, n, tol):
        super().__init__(problem)
        self.tol = tol
        self.scratch = _Scratch(problem)
        self.centered_sq = self.scratch.centered_sq_norms().cpu().numpy()  # ||phi_i - Y||^2
        self.cross = np.empty((problem.width, n))  # column j: <phi_i - Y, phi_{S_j} - Y> for every i
        self.gram = np.zeros((0, 0))

    def _enter(self, neuron, weight):
        size = len(self.support)
        self.gram = _extend_gram(self.gram, self.cross[neuron, :size], self.centered_sq[neuron])
        centered = self.problem.row(neuron) - self.problem.target
        self.cross[:, size] = self.scratch.centered_products(centered).cpu().numpy()
        super()._enter(neuron, weight)

    def first(self):
        first = _first_min(torch.from_numpy(self.centered_sq), float(self.centered_sq.max()), self.problem.eps)
        self._enter(first, 1.0)
        return first

    def propose(self, output):
        problem, size = self.problem, len(self.support)
        residual = output - problem.target
        derivative = problem.dots(residual) - float(residual @ output)  # <f - Y, phi_i - f>
        derivative[self.support] = 0.0
        improving = torch.nonzero(derivative < 0).flatten().cpu().tolist()
        if not improving:
            return 0, None
        start = np.append(self.support_weights, 0.0)
        values = np.full(problem.width, math.inf)
        solutions = {}
        for candidate in improving:
            extended = _extend_gram(self.gram, self.cross[candidate, :size], self.centered_sq[candidate])
            solved = min_norm_point(extended, start, tol=self.tol)
            values[candidate] = float(solved @ extended @ solved)
            solutions[candidate] = solved
        best = _first_min(torch.from_numpy(values), float(self.centered_sq.max()), 2.2e-16)
        output = self.scratch.combination(self.support + [best], solutions[best])
        return best, _Proposal(output, best, weights=solutions[best])

    def accept(self, proposal):
        self._enter(proposal.vertex, 0.0)
        self.support_weights = proposal.weights


def _fw(problem, n, seed):
    """Frank-Wolfe with exact line search; f_1 is the best single neuron.

    If rounding makes the line-search step worse than not moving, the step is 0 (so losses
    never increase); the vertex is still recorded in ``indices``.
    """
    return _reweighted_greedy(problem, n, _LineSearch(problem))


def _fcfw(problem, n, seed, *, tol=1e-12):
    """Fully corrective Frank-Wolfe: after adding the linear minimiser s to the chosen set S,
    re-solve min over the simplex on S exactly (Wolfe's min-norm point on the |S| x |S| Gram
    matrix of phi_j - Y, warm-started from the previous weights).

    Per step: one pass over all features (the linear minimiser) and, when s is new, two passes
    over the float64 copy of the |S| chosen rows (the Gram column, the output) plus the
    O(|S|^3) solve. Memory beyond the features: that copy, |S| x D x 8 bytes, and the Gram
    matrix. ``tol``: relative stopping tolerance of the inner solve.
    """
    return _reweighted_greedy(problem, n, _FullyCorrective(problem, tol))


def _greedy_opt(problem, n, seed, *, tol=1e-12):
    """Exhaustive re-weighted greedy: add the neuron i giving the lowest loss after the exact
    simplex re-solve on S + {i}. Candidates with <f - Y, phi_i - f> >= 0 are skipped (the
    optimum cannot move, so their loss is the current one). If no candidate improves, every
    neuron ties and the lowest index (0) is recorded; weights do not change.

    Cost per step: one pass plus one small warm-started solve per improving candidate, and a
    float64 pass over all features when a neuron enters; memory N x n float64 for the
    candidates' inner products with the chosen set. Meant for small N.
    """
    return _reweighted_greedy(problem, n, _ExhaustiveCorrective(problem, n, tol))


# ---------------------------------------------------------------------------------------
# Baselines: random, magnitude, backward elimination


def _random(problem, n, seed):
    """n distinct neurons drawn by ``numpy.random.default_rng(seed).choice(N, n, replace=False)``
    (seed None means 0), uniform weights."""
    _require_distinct(n, problem.width, "random")
    indices = np.random.default_rng(0 if seed is None else seed).choice(problem.width, size=n, replace=False)
    indices = indices.astype(np.int64)
    return indices, _prefix_losses(problem, indices), _uniform_weights(indices, problem.width)


def _magnitude(problem, n, seed):
    """The n neurons with the largest contribution norm ||phi_i|| (ties: lowest index), uniform weights."""
    _require_distinct(n, problem.width, "magnitude")
    indices = np.argsort(-problem.sq_norms.cpu().numpy(), kind="stable")[:n].astype(np.int64)
    return indices, _prefix_losses(problem, indices), _uniform_weights(indices, problem.width)


def _backward(problem, n, seed):
    """Backward elimination with uniform weights: from all N neurons, repeatedly remove the one
    whose removal raises the loss least, down to n survivors (weights: 1/n on them); then
    continue on the survivors down to 1, so indices[:k] is the surviving set of size k and
    losses[k-1] its loss (nested sets).

    Removing i from a set T of size t gives output (S_T - phi_i)/(t-1), whose loss is
    ||phi_i||^2 - 2 <phi_i, S_T - (t-1) Y> + const: one pass per removal, N - 1 passes in all.
    """
    _require_distinct(n, problem.width, "backward")
    width = problem.width
    device = problem.phi.device
    alive = torch.ones(width, dtype=torch.bool, device=device)
    total = torch.zeros_like(problem.target)
    for chunk in torch.arange(width, device=device).split(max(1, _BLOCK_ELEMENTS // max(1, problem.phi.shape[1]))):
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
        position = _first_min(scores, scale, problem.eps)
        alive[position] = False
        removed = int(labels[position])
        total -= problem.row(removed)
        if size <= n:
            indices[size - 1] = removed
    return indices, losses, _uniform_weights(survivors, width)


# ---------------------------------------------------------------------------------------
# Registry and entry point

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
    style: (matplotlib colour, line style) of the method's curves in every figure.
    depends_on_n: the choice at step k depends on the run's length n (a sample size or a
        partition set from n), so step k of a run to n need not be the size-k subnetwork of a
        run to k; False means it is, bit for bit.
    """

    run: SelectionRun
    reweighted: bool = False
    exponential: bool = False
    style: tuple = (None, "-")
    depends_on_n: bool = False


METHODS = {
    "gfs": SelectionMethod(_gfs, style=("C0", "-")),
    "gfs-norep": SelectionMethod(_gfs_norep, style=("C9", "-")),
    "herding": SelectionMethod(_herding, style=("C1", "-")),
    "fw": SelectionMethod(_fw, reweighted=True, exponential=True, style=("C2", "-")),
    "fcfw": SelectionMethod(_fcfw, reweighted=True, exponential=True, style=("C3", "-")),
    "greedy-opt": SelectionMethod(_greedy_opt, reweighted=True, exponential=True, style=("C4", "-")),
    "stochastic-gfs": SelectionMethod(_stochastic_gfs, style=("C5", "-"), depends_on_n=True),
    "random": SelectionMethod(_random, style=("0.5", ":"), depends_on_n=True),
    "magnitude": SelectionMethod(_magnitude, style=("C6", ":")),
    "backward": SelectionMethod(_backward, style=("C8", "-.")),
    # greedy on F, the set function greedy-opt maximises (docs/THEORY.md section 8)
    "greedi": SelectionMethod(greedi, reweighted=True, style=("C7", "--"), depends_on_n=True),
    "stochastic-greedy-opt": SelectionMethod(stochastic_greedy_opt, reweighted=True, style=("C4", ":"),
                                             depends_on_n=True),
}
"""The selection methods: name -> :class:`SelectionMethod` (its ``run`` and its facts). Adding a
method is one line here (see the module docstring); everything else reads this table."""

#: The methods P4 covers (the Frank-Wolfe family): exponential rate inside the hull.
REWEIGHTED_METHODS = tuple(name for name, spec in METHODS.items() if spec.exponential)
#: The methods whose size-k subnetwork is the uniform average of their first k picks.
UNIFORM_PREFIX_METHODS = tuple(name for name, spec in METHODS.items() if not spec.reweighted)


def method_options(method: str) -> dict:
    """The options a method accepts, with their defaults: {name: default}."""
    parameters = inspect.signature(METHODS[method].run).parameters.values()
    return {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


@dataclass(frozen=True)
class SelectionConfig:
    """What ``gfs select`` and ``gfs prune`` ask of :func:`select`: the subnetwork size n (no
    default), the method and the seed of randomised methods. :func:`select` checks the values
    (its messages name the accepted methods), so this record does not check them again."""

    n: int = field(metadata={"help": "subnetwork size (selection steps)", "range": "positive"})
    method: str = field(default="gfs", metadata={"help": "selection method", "choices": lambda: METHODS})
    seed: int | None = field(default=None, metadata={"help": "seed of randomised methods", "range": "non-negative"})


def select(features, target, n, method: str = "gfs", *, seed: int | None = None, record_steps=(),
           **options) -> Selection:
    """Choose n neurons of a two-layer network by ``method``.

    Parameters
    ----------
    features : numpy array or torch tensor, shape (m, N) or (m, N, K)
        phi_i evaluated on m samples, scaled so that the dense network's output is
        ``features.mean(1)``. float32 and float64 are used as given (other real dtypes become
        float64), on the tensor's device. An (m, N, K) tensor that is a permuted view of an
        (N, m, K)-contiguous buffer (what ``sims.nets.model.neuron_features`` returns) and an (m, N)
        array in either memory order are used without copying; other layouts are copied once
        into neuron-major order.
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
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
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
    steps = _checked_steps(record_steps, int(n))
    problem = _problem(features, target, threads=torch.get_num_threads())
    reweighted = METHODS[method].reweighted
    if reweighted:
        problem = replace(problem, record_steps=steps)
    with _one_thread():  # only the passes over all features use the caller's threads
        indices, losses, weights = METHODS[method].run(problem, int(n), seed, **options)
    indices = np.asarray(indices, dtype=np.int64)
    if reweighted:
        missing = sorted(steps - problem.recorded.keys())
        if missing:
            raise RuntimeError(f"method {method!r} did not record its weights at steps {missing} "
                               "(a re-weighted method calls problem.record after every step)")
        path_weights = {k: problem.recorded[k] for k in sorted(steps)}
    else:
        path_weights = {k: _uniform_weights(indices[:k], problem.width) for k in sorted(steps)}
    return Selection(
        indices=indices,
        losses=np.asarray(losses, dtype=np.float64),
        weights=np.asarray(weights, dtype=np.float64),
        method=method,
        seed=seed,
        options={**accepted, **options},
        path_weights=path_weights,
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
    features = _as_tensor("features", features).to(torch.float64)
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
    problem = _problem(features, target)
    total = torch.zeros(problem.phi.shape[1], dtype=torch.float64, device=problem.phi.device)
    rows = max(1, _BLOCK_ELEMENTS // max(1, problem.phi.shape[1]))
    for start in range(0, problem.width, rows):
        total += problem.phi[start:start + rows].to(torch.float64).sum(0)
    return problem.loss(total / problem.width)
