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

Internally inner products are plain sums over the m*K entries; the (1/m) of docs/THEORY.md only
scales every score by the same factor, and losses divide by m at the end.

Adding a method: write ``def _name(problem, n, seed, *, option=default) -> (indices, losses,
weights)`` and add one line to ``METHODS``; its keyword-only parameters are its options.
"""

from __future__ import annotations

import inspect
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from sims.errors import InputError
from sims.simplex_qp import min_norm_point

__all__ = [
    "Selection", "METHODS", "REWEIGHTED_METHODS", "method_options", "SelectionConfig", "select",
    "subnetwork_output"
]

# Rows per block when a float64 temporary of (rows, D) is needed; keeps temporaries ~32 MB.
_BLOCK_ELEMENTS = 1 << 22


@dataclass(frozen=True, eq=False)
class Selection:
    """The result of a selection run.

    indices: (n,) int64, the neuron chosen at step k (repeats where the method allows them;
        for ``backward``, indices[:k] is the surviving set of size k).
    losses: (n,) float64, 0.5 * mean_j ||f_k(x_j) - y_j||^2 after step k.
    weights: (N,) float64 final mixing weights: ``features @ weights`` over the neuron axis is
        the selected subnetwork's output (non-negative and summing to 1 for every method).
    method, seed, options: how it was produced.
    """

    indices: np.ndarray
    losses: np.ndarray
    weights: np.ndarray
    method: str
    seed: int | None = None
    options: dict = field(default_factory=dict)

    @property
    def support_size(self) -> int:
        """Number of neurons with non-zero weight: the width of the pruned network."""
        return int(np.count_nonzero(self.weights))

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
    """Validated input: phi (N, D) neuron-major (possibly a transposed view), target (D,) float64."""

    phi: torch.Tensor
    target: torch.Tensor
    m: int
    sq_norms: torch.Tensor  # (N,) float64, ||phi_i||^2 as plain sums

    @property
    def width(self) -> int:
        return self.phi.shape[0]

    @property
    def eps(self) -> float:
        return torch.finfo(self.phi.dtype).eps

    def row(self, i: int) -> torch.Tensor:
        """phi_i as a float64 vector (D,)."""
        return self.phi[i].to(torch.float64)

    def dots(self, vector: torch.Tensor) -> torch.Tensor:
        """<phi_i, vector> for every i: ONE pass over the features (a GEMV in their dtype)."""
        return torch.mv(self.phi, vector.to(self.phi.dtype)).to(torch.float64)

    def loss(self, output: torch.Tensor) -> float:
        """0.5 * mean over samples of ||output - target||^2, from the explicit residual."""
        residual = output - self.target
        return 0.5 * float(residual @ residual) / self.m

    def centered_products(self, vector: torch.Tensor, rows=None) -> torch.Tensor:
        """<phi_i - Y, vector> in float64 for i in ``rows`` (default all), in blocks."""
        device = self.phi.device
        rows = torch.arange(self.width, device=device) if rows is None else torch.as_tensor(rows, dtype=torch.long, device=device)
        block = max(1, _BLOCK_ELEMENTS // max(1, self.phi.shape[1]))
        parts = [(self.phi[chunk].to(torch.float64) - self.target) @ vector for chunk in rows.split(block)]
        return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)

    def centered_sq_norms(self) -> torch.Tensor:
        """||phi_i - Y||^2 in float64 for every i, computed explicitly in blocks."""
        block = max(1, _BLOCK_ELEMENTS // max(1, self.phi.shape[1]))
        parts = []
        for chunk in torch.arange(self.width, device=self.phi.device).split(block):
            centered = self.phi[chunk].to(torch.float64) - self.target
            parts.append((centered * centered).sum(1))
        return torch.cat(parts)


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


def _problem(features, target) -> _Problem:
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
    return _Problem(phi=phi, target=target, m=m, sq_norms=norms.to(torch.float64) ** 2)


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
            direction = previous - problem.target
            dots = torch.mv(phi, direction.to(phi.dtype)).to(torch.float64)
            scores, scale = dots, float(dots.abs().max())
        else:
            direction = (k - 1) / k * previous - problem.target
            dots = torch.mv(phi, direction.to(phi.dtype)).to(torch.float64)
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
# Re-weighted greedy methods: fw, fcfw, greedy-opt


def _best_single(problem: _Problem) -> int:
    """argmin_i ||phi_i - Y||^2: GFS step 1."""
    dots = problem.dots(-problem.target)
    scale = float(problem.sq_norms.max()) + 2 * float(dots.abs().max())
    return _first_min(problem.sq_norms + 2 * dots, scale, problem.eps)


def _linear_minimiser(problem: _Problem, output: torch.Tensor) -> int:
    """argmin_i <f - Y, phi_i> (one pass)."""
    dots = problem.dots(output - problem.target)
    return _first_min(dots, float(dots.abs().max()), problem.eps)


def _fw(problem, n, seed):
    """Frank-Wolfe with exact line search; f_1 is the best single neuron.

    If rounding makes the line-search step worse than not moving, the step is 0 (so losses
    never increase); the vertex is still recorded in ``indices``.
    """
    width = problem.width
    indices = np.empty(n, dtype=np.int64)
    losses = np.empty(n)
    weights = np.zeros(width)
    first = _best_single(problem)
    indices[0], weights[first] = first, 1.0
    output = problem.row(first)
    losses[0] = problem.loss(output)
    for k in range(1, n):
        vertex = _linear_minimiser(problem, output)
        direction = problem.row(vertex) - output
        sq_length = float(direction @ direction)
        step = 0.0
        if sq_length > 0:
            step = min(1.0, max(0.0, -float((output - problem.target) @ direction) / sq_length))
        candidate = output + step * direction
        candidate_loss = problem.loss(candidate)
        if candidate_loss <= losses[k - 1]:
            output, losses[k] = candidate, candidate_loss
            weights *= 1 - step
            weights[vertex] += step
        else:
            losses[k] = losses[k - 1]
        indices[k] = vertex
    return indices, losses, weights


def _output_of(problem: _Problem, support: list[int], support_weights: np.ndarray) -> torch.Tensor:
    """sum_j w_j phi_{S_j} in float64, O(|S| D)."""
    rows = problem.phi[torch.as_tensor(support, dtype=torch.long, device=problem.phi.device)].to(torch.float64)
    return torch.as_tensor(support_weights, device=rows.device) @ rows


def _extend_gram(gram: np.ndarray, column: np.ndarray, diagonal: float) -> np.ndarray:
    size = gram.shape[0]
    extended = np.empty((size + 1, size + 1))
    extended[:size, :size] = gram
    extended[:size, size] = column
    extended[size, :size] = column
    extended[size, size] = diagonal
    return extended


def _fcfw(problem, n, seed, *, tol=1e-12):
    """Fully corrective Frank-Wolfe: after adding the linear minimiser s to the chosen set S,
    re-solve min over the simplex on S exactly (Wolfe's min-norm point on the |S| x |S| Gram
    matrix of phi_j - Y, warm-started from the previous weights).

    Per step: one pass over all features (the linear minimiser) plus O(|S| D + |S|^3).
    ``tol``: relative stopping tolerance of the inner solve.
    """
    width = problem.width
    indices = np.empty(n, dtype=np.int64)
    losses = np.empty(n)
    first = _best_single(problem)
    support = [first]
    support_weights = np.ones(1)
    centered_first = problem.row(first) - problem.target
    gram = np.array([[float(centered_first @ centered_first)]])
    output = problem.row(first)
    indices[0], losses[0] = first, problem.loss(output)
    for k in range(1, n):
        vertex = _linear_minimiser(problem, output)
        indices[k] = vertex
        losses[k] = losses[k - 1]
        if vertex in support:
            continue  # f is already optimal on S, which contains the best vertex: nothing changes
        centered = problem.row(vertex) - problem.target
        column = problem.centered_products(centered, rows=support).cpu().numpy()
        gram = _extend_gram(gram, column, float(centered @ centered))
        support.append(vertex)
        support_weights = np.append(support_weights, 0.0)
        solved = min_norm_point(gram, support_weights, tol=tol)
        solved_output = _output_of(problem, support, solved)
        solved_loss = problem.loss(solved_output)
        if solved_loss <= losses[k - 1]:
            support_weights, output, losses[k] = solved, solved_output, solved_loss
    weights = np.zeros(width)
    weights[support] = support_weights
    return indices, losses, weights


def _greedy_opt(problem, n, seed, *, tol=1e-12):
    """Exhaustive re-weighted greedy: add the neuron i giving the lowest loss after the exact
    simplex re-solve on S + {i}. Candidates with <f - Y, phi_i - f> >= 0 are skipped (the
    optimum cannot move, so their loss is the current one). If no candidate improves, every
    neuron ties and the lowest index (0) is recorded; weights do not change.

    Cost per step: one pass plus one small warm-started solve per improving candidate; memory
    N x n float64 for the candidates' inner products with the chosen set. Meant for small N.
    """
    width = problem.width
    indices = np.empty(n, dtype=np.int64)
    losses = np.empty(n)
    centered_sq = problem.centered_sq_norms().cpu().numpy()  # ||phi_i - Y||^2, explicit
    first = _first_min(torch.from_numpy(centered_sq), float(centered_sq.max()), problem.eps)
    support = [first]
    support_weights = np.ones(1)
    cross = [problem.centered_products(problem.row(first) - problem.target).cpu().numpy()]  # columns <q_i, q_s>
    gram = np.array([[centered_sq[first]]])
    output = problem.row(first)
    indices[0], losses[0] = first, problem.loss(output)
    for k in range(1, n):
        residual = output - problem.target
        derivative = problem.dots(residual) - float(residual @ output)  # <f - Y, phi_i - f>
        derivative[support] = 0.0
        improving = torch.nonzero(derivative < 0).flatten().cpu().tolist()
        cross_matrix = np.stack(cross, axis=1)  # (N, |S|)
        start = np.append(support_weights, 0.0)
        values = np.full(width, math.inf)
        solutions = {}
        for candidate in improving:
            extended = _extend_gram(gram, cross_matrix[candidate], centered_sq[candidate])
            solved = min_norm_point(extended, start, tol=tol)
            values[candidate] = float(solved @ extended @ solved)
            solutions[candidate] = solved
        indices[k], losses[k] = 0, losses[k - 1]
        if not improving:
            continue
        best = _first_min(torch.from_numpy(values), float(centered_sq.max()), 2.2e-16)
        indices[k] = best
        if best in support:
            continue
        candidate_support = support + [best]
        solved_output = _output_of(problem, candidate_support, solutions[best])
        solved_loss = problem.loss(solved_output)
        if solved_loss <= losses[k - 1]:
            gram = _extend_gram(gram, cross_matrix[best], centered_sq[best])
            support, support_weights = candidate_support, solutions[best]
            output, losses[k] = solved_output, solved_loss
            cross.append(problem.centered_products(problem.row(best) - problem.target).cpu().numpy())
    weights = np.zeros(width)
    weights[support] = support_weights
    return indices, losses, weights


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
        shifted = total - (size - 1) * problem.target
        dots = torch.mv(phi, shifted.to(phi.dtype)).to(torch.float64)
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

METHODS = {
    "gfs": _gfs,
    "gfs-norep": _gfs_norep,
    "herding": _herding,
    "fw": _fw,
    "fcfw": _fcfw,
    "greedy-opt": _greedy_opt,
    "stochastic-gfs": _stochastic_gfs,
    "random": _random,
    "magnitude": _magnitude,
    "backward": _backward,
}

#: The re-weighted greedy methods (the Frank-Wolfe family): each step re-optimises the weights
#: over the simplex, so the step-k subnetwork is not the uniform average of the first k picks,
#: and P4 predicts an exponential rate for them. Every other method's step-k subnetwork is the
#: uniform average of ``indices[:k]`` (with repeats).
REWEIGHTED_METHODS = ("fw", "fcfw", "greedy-opt")


def method_options(method: str) -> dict:
    """The options a method accepts, with their defaults: {name: default}."""
    parameters = inspect.signature(METHODS[method]).parameters.values()
    return {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


@dataclass(frozen=True)
class SelectionConfig:
    """What ``gfs select`` and ``gfs prune`` ask of :func:`select`: the subnetwork size n (no
    default), the method and the seed of randomised methods. :func:`select` checks the values
    (its messages name the accepted methods), so this record does not check them again."""

    n: int = field(metadata={"help": "subnetwork size (selection steps)", "range": "positive"})
    method: str = field(default="gfs", metadata={"help": "selection method", "choices": lambda: METHODS})
    seed: int | None = field(default=None, metadata={"help": "seed of randomised methods", "range": "non-negative"})


def select(features, target, n, method: str = "gfs", *, seed: int | None = None, **options) -> Selection:
    """Choose n neurons of a two-layer network by ``method``.

    Parameters
    ----------
    features : numpy array or torch tensor, shape (m, N) or (m, N, K)
        phi_i evaluated on m samples, scaled so that the dense network's output is
        ``features.mean(1)``. float32 and float64 are used as given (other real dtypes become
        float64), on the tensor's device. An (m, N, K) tensor that is a permuted view of an
        (N, m, K)-contiguous buffer (what ``sims.model.neuron_features`` returns) and an (m, N)
        array in either memory order are used without copying; other layouts are copied once
        into neuron-major order.
    target : array, shape (m,) or (m, K) (also (m, 1) when K = 1)
    n : int
        Number of steps (>= 1); methods that pick each neuron at most once need n <= N.
    method : str
        One of ``METHODS``.
    seed : int or None
        Seed of ``random`` and ``stochastic-gfs`` (None means 0).
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
    problem = _problem(features, target)
    indices, losses, weights = METHODS[method](problem, int(n), seed, **options)
    return Selection(
        indices=np.asarray(indices, dtype=np.int64),
        losses=np.asarray(losses, dtype=np.float64),
        weights=np.asarray(weights, dtype=np.float64),
        method=method,
        seed=seed,
        options={**accepted, **options},
    )


def subnetwork_output(features, weights) -> np.ndarray:
    """features @ weights over the neuron axis, in float64: (m,) or (m, K)."""
    features = _as_tensor("features", features).to(torch.float64)
    weights = torch.as_tensor(np.asarray(weights, dtype=np.float64), device=features.device)
    if features.ndim == 2:
        return (features @ weights).cpu().numpy()
    return torch.einsum("mnk,n->mk", features, weights).cpu().numpy()
