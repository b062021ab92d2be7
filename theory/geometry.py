"""Geometry of the neuron hull M = conv{phi_1, ..., phi_N} (docs/THEORY.md sections 1, 3, 4).

Conventions shared by every function here:

* ``features`` is an array of shape ``(m, N)`` (one output) or ``(m, N, K)`` (K outputs):
  ``features[j, i]`` is neuron i's contribution on sample j. Numpy arrays, array-likes
  and CPU torch tensors are accepted; everything is computed in float64.
* A *function on the data* (a target ``Y``, a network's outputs, a point ``g`` of the
  hull) is an array of shape ``(m,)`` or ``(m, K)``, matching the features.
* The inner product is ``<u, v> = (1/m) sum_j u_j . v_j`` and ``||u||^2 = <u, u>``; the
  loss is ``L(f) = 0.5 ||f - Y||^2``. Internally functions are flattened to vectors in
  R^(mK) scaled by 1/sqrt(m), so that the plain Euclidean norm is the norm above.
* ``weights`` are a probability vector of length N (non-negative, summing to 1); the
  dense network is the uniform weighting, i.e. the plain mean of the neurons.

Nothing here imports the simulators; all inputs are numbers and arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.spatial import ConvexHull, QhullError

from theory.arrays import as_float_array
# The NTK Gram matrix H and lambda_0 live in theory.ntk; re-exported here for the callers that
# still name them theory.geometry.ntk_gram (sims/experiments/pretraining/cells.py).
from theory.ntk import min_eigenvalue, ntk_gram, ntk_gram_empirical, ntk_gram_monte_carlo

__all__ = [
    "PointOutsideHull",
    "DegenerateHull",
    "AffineHull",
    "feature_vectors",
    "function_vector",
    "vector_to_function",
    "squared_norm",
    "loss",
    "dense_mean",
    "hull_point",
    "neuron_variance",
    "diameter",
    "max_distance_to",
    "affine_hull",
    "project_onto_affine_hull",
    "interior_radius",
    "interior_radius_lower_bound",
    "ntk_gram",
    "ntk_gram_empirical",
    "ntk_gram_monte_carlo",
    "min_eigenvalue",
]

#: Largest affine-hull dimension for which ``interior_radius`` enumerates facets (Qhull).
MAX_EXACT_DIM = 8


class PointOutsideHull(ValueError):
    """The point g lies outside the hull M of the neurons (or off their affine hull)."""


class DegenerateHull(ValueError):
    """The neurons do not span a hull with an interior radius to compute: they all coincide,
    are too few for their dimension, or Qhull cannot build their hull."""


# ----------------------------------------------------------------------------- conversion


def _checked_features(features) -> np.ndarray:
    """The features as a float64 array of shape (m, N) or (m, N, K) with positive sizes and
    finite entries; a ValueError names what is wrong. Public functions call this once; the
    private kernels below take its result and trust it."""
    arr = as_float_array(features, "features")
    if arr.ndim not in (2, 3):
        raise ValueError(f"features must have shape (m, N) or (m, N, K), got shape {arr.shape}")
    if min(arr.shape) < 1:
        raise ValueError(f"features must have positive sizes, got shape {arr.shape}")
    return arr


def _vectors(arr: np.ndarray) -> np.ndarray:
    """Rows of checked features as scaled vectors, shape (N, m*K) (see feature_vectors)."""
    rows = np.moveaxis(arr, 1, 0).reshape(arr.shape[1], -1)
    return rows / math.sqrt(arr.shape[0])


def feature_vectors(features) -> np.ndarray:
    """Neuron contribution vectors as the rows of an ``(N, m*K)`` float64 array.

    Row i is ``features[:, i]`` flattened and divided by sqrt(m), so Euclidean distances
    between rows are distances in the norm of docs/THEORY.md.
    """
    return _vectors(_checked_features(features))


def function_vector(u, features_shape: tuple[int, ...], name: str = "point") -> np.ndarray:
    """Flatten a function on the data (shape ``(m,)`` or ``(m, K)``) to a scaled vector.

    ``features_shape`` is the shape of the feature array the function must match.
    """
    arr = as_float_array(u, name)
    m = features_shape[0]
    expected = (m,) if len(features_shape) == 2 else (m, features_shape[2])
    if arr.shape != expected:
        if len(features_shape) == 3 and features_shape[2] == 1 and arr.shape == (m,):
            pass
        elif len(features_shape) == 2 and arr.shape == (m, 1):
            pass
        else:
            raise ValueError(
                f"{name} must have shape {expected} to match features of shape "
                f"{tuple(features_shape)}, got shape {arr.shape}"
            )
    return arr.reshape(-1) / math.sqrt(m)


def vector_to_function(vec: np.ndarray, features_shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`function_vector`: a scaled vector back to shape ``(m,)``/``(m, K)``."""
    m = features_shape[0]
    out = np.asarray(vec, dtype=np.float64) * math.sqrt(m)
    return out.reshape((m,) if len(features_shape) == 2 else (m, features_shape[2]))


def squared_norm(u) -> float:
    """``||u||^2 = (1/m) sum_j ||u_j||^2`` for a function on the data, shape (m,) or (m, K)."""
    arr = as_float_array(u, "u")
    if arr.ndim not in (1, 2) or arr.shape[0] < 1:
        raise ValueError(f"u must have shape (m,) or (m, K) with m >= 1, got {arr.shape}")
    return float(np.sum(arr * arr) / arr.shape[0])


def loss(f, target) -> float:
    """``L(f) = 0.5 * (1/m) sum_j ||f(x_j) - y_j||^2`` (the loss of docs/THEORY.md)."""
    f_arr = as_float_array(f, "f")
    y_arr = as_float_array(target, "target")
    if f_arr.shape != y_arr.shape:
        raise ValueError(f"f has shape {f_arr.shape} but target has shape {y_arr.shape}")
    return 0.5 * squared_norm(f_arr - y_arr)


def _check_weights(weights, n_neurons: int) -> np.ndarray:
    p = as_float_array(weights, "weights")
    if p.shape != (n_neurons,):
        raise ValueError(f"weights must have shape ({n_neurons},), got {p.shape}")
    if np.any(p < -1e-12):
        raise ValueError("weights must be non-negative")
    total = p.sum()
    if abs(total - 1.0) > 1e-9:
        raise ValueError(f"weights must sum to 1, they sum to {total!r}")
    return np.clip(p, 0.0, None) / total


# ----------------------------------------------------------------------------- V, D, D_g


def dense_mean(features) -> np.ndarray:
    """The dense network: the plain mean of the neurons, shape (m,) or (m, K)."""
    return _checked_features(features).mean(axis=1)


def hull_point(features, weights) -> np.ndarray:
    """``g = sum_i p_i phi_i`` for a probability vector p, shape (m,) or (m, K)."""
    arr = _checked_features(features)
    return np.tensordot(arr, _check_weights(weights, arr.shape[1]), axes=([1], [0]))


def neuron_variance(features, weights=None) -> float:
    """``V = sum_i p_i ||phi_i - g||^2`` with ``g = sum_i p_i phi_i``.

    ``weights`` is the probability vector p (length N); ``None`` means uniform, i.e. the
    variance about the dense network. V is in squared output units (same norm as the
    loss, without the factor 1/2).
    """
    phi = feature_vectors(features)
    p = np.full(phi.shape[0], 1.0 / phi.shape[0]) if weights is None else _check_weights(
        weights, phi.shape[0]
    )
    g = p @ phi
    diff = phi - g
    return float(p @ np.einsum("ij,ij->i", diff, diff))


def diameter(features, chunk_size: int = 1024) -> float:
    """Exact diameter ``D = max_{i,k} ||phi_i - phi_k||`` of the hull M.

    The diameter of a polytope is attained at two vertices, so this is the largest
    pairwise distance of the neurons. Computed over blocks of ``chunk_size`` rows, so the
    memory is O(chunk_size * N) and never an N x N matrix. The best pair of each block is
    re-measured directly to avoid cancellation in the Gram-matrix shortcut.

    Parameters
    ----------
    features : array, shape (m, N) or (m, N, K)
        The neurons' contributions on the data (see the module docstring).
    chunk_size : int >= 1
        Rows per block.

    Returns
    -------
    float
        D in the norm ``||u||^2 = (1/m) sum_j ||u_j||^2``.

    Examples
    --------
    The corners of a square and its centre, on m = 2 samples:

    >>> import numpy as np
    >>> square = np.array([[1.0, -1.0, -1.0, 1.0, 0.0], [1.0, 1.0, -1.0, -1.0, 0.0]])
    >>> round(diameter(square), 12)
    2.0
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size}")
    phi = feature_vectors(features)
    sq = np.einsum("ij,ij->i", phi, phi)
    best = 0.0
    n = phi.shape[0]
    for start in range(0, n, chunk_size):
        block = phi[start : start + chunk_size]
        d2 = sq[start : start + chunk_size, None] + sq[None, :] - 2.0 * block @ phi.T
        # Several near-maximal candidates are re-measured exactly.
        flat = d2.ravel()
        k = min(4, flat.size)
        for idx in np.argpartition(flat, -k)[-k:]:
            a, b = divmod(int(idx), n)
            dist = float(np.linalg.norm(block[a] - phi[b]))
            best = max(best, dist)
    return best


def max_distance_to(features, point) -> float:
    """``D_g = max_i ||phi_i - g||`` for a function ``g`` (shape (m,) or (m, K))."""
    arr = _checked_features(features)
    phi = _vectors(arr)
    g = function_vector(point, arr.shape, "point")
    return float(np.sqrt(np.max(np.einsum("ij,ij->i", phi - g, phi - g))))


# ----------------------------------------------------------------------------- affine hull


@dataclass(frozen=True)
class AffineHull:
    """The affine hull of the neurons in scaled coordinates.

    ``origin`` (length m*K) is the mean of the neuron vectors, ``basis`` (dim x m*K) has
    orthonormal rows spanning the directions ``phi_i - phi_k``; ``dim`` may be 0.
    """

    origin: np.ndarray
    basis: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.basis.shape[0])

    def coordinates(self, vectors: np.ndarray) -> np.ndarray:
        """Coordinates of (rows of) scaled vectors in the orthonormal basis."""
        return (np.asarray(vectors) - self.origin) @ self.basis.T


def affine_hull(features, rtol: float = 1e-10) -> AffineHull:
    """Orthonormal description of the affine hull of the neurons (SVD of centred vectors).

    Singular values below ``rtol`` times the largest are treated as zero.
    """
    return _affine_hull(feature_vectors(features), rtol)


def _affine_hull(phi: np.ndarray, rtol: float) -> AffineHull:
    """affine_hull of scaled neuron vectors phi, shape (N, m*K)."""
    origin = phi.mean(axis=0)
    centred = phi - origin
    if phi.shape[0] == 1 or not np.any(centred):
        return AffineHull(origin, np.zeros((0, phi.shape[1])))
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    rank = int(np.sum(s > rtol * s[0]))
    return AffineHull(origin, vt[:rank])


def project_onto_affine_hull(features, target) -> np.ndarray:
    """Orthogonal projection of a target (shape (m,) or (m, K)) onto aff{phi_i}.

    Returns a function of the same shape. For any f in the hull,
    ``L(f) = L(g) + 0.5 ||f - g||^2`` where g is this projection (Pythagoras).
    """
    arr = _checked_features(features)
    hull = _affine_hull(_vectors(arr), 1e-10)
    y = function_vector(target, arr.shape, "target")
    g = hull.origin + hull.coordinates(y) @ hull.basis
    return vector_to_function(g, arr.shape)


# ----------------------------------------------------------------------------- interior radius


def _point_vector(arr: np.ndarray, point, weights) -> np.ndarray:
    """g of checked features ``arr`` as a scaled vector, from exactly one of point and weights."""
    if (point is None) == (weights is None):
        raise ValueError("give exactly one of point (a function on the data) or weights")
    if weights is not None:
        point = np.tensordot(arr, _check_weights(weights, arr.shape[1]), axes=([1], [0]))
    return function_vector(point, arr.shape, "point")


def _hull_coordinates(features, point, weights, rtol):
    """(neuron coordinates (N, dim), g's coordinates (dim,), dim, scale) in an orthonormal basis
    of the affine hull; raises PointOutsideHull when g is not even in the affine hull."""
    arr = _checked_features(features)
    phi = _vectors(arr)
    c_vec = _point_vector(arr, point, weights)
    hull = _affine_hull(phi, rtol)
    scale = max(float(np.max(np.abs(phi))), 1e-300)
    off_hull = c_vec - hull.origin - hull.coordinates(c_vec) @ hull.basis
    if np.linalg.norm(off_hull) > 1e-9 * scale * math.sqrt(phi.shape[1]):
        raise PointOutsideHull(
            "point lies outside the hull of the neurons (it is not even in their affine "
            f"hull: distance {np.linalg.norm(off_hull):.3g})"
        )
    return hull.coordinates(phi), hull.coordinates(c_vec), hull.dim, scale


def interior_radius(
    features,
    point=None,
    *,
    weights=None,
    max_exact_dim: int = MAX_EXACT_DIM,
    rtol: float = 1e-10,
) -> float:
    """Radius r of the largest ball around g, inside aff(M), contained in M.

    ``g`` is given either as ``point`` (a function on the data, shape (m,) or (m, K)) or
    by ``weights`` (a probability vector, g = sum_i p_i phi_i). The features are first
    reduced to their affine hull (dimension ``dim``). For ``dim <= max_exact_dim`` the
    radius is exact: the smallest distance from g to a facet hyperplane of the hull
    (Qhull facets). For larger ``dim`` a certified lower bound is returned instead (see
    :func:`interior_radius_lower_bound`). Returns 0.0 when g lies on the relative
    boundary (within roundoff); raises :class:`PointOutsideHull` when g lies outside M, and
    :class:`DegenerateHull` when the neurons span a single point (there is no ball to speak of),
    are too few for a hull of their dimension, or Qhull cannot build it.

    Parameters
    ----------
    features : array, shape (m, N) or (m, N, K)
        The neurons' contributions on the data (see the module docstring).
    point : array, shape (m,) or (m, K), optional
        g as a function on the data; give exactly one of ``point`` and ``weights``.
    weights : array, shape (N,), optional
        A probability vector p, with g = sum_i p_i phi_i.
    max_exact_dim : int
        Largest affine-hull dimension for which facets are enumerated.
    rtol : float
        Relative tolerance of the affine-hull rank.

    Returns
    -------
    float
        r >= 0 in the norm ``||u||^2 = (1/m) sum_j ||u_j||^2``.

    Examples
    --------
    The centre of a square of half-side 1 on m = 2 samples lies 1/sqrt(2) from each side:

    >>> import numpy as np
    >>> square = np.array([[1.0, -1.0, -1.0, 1.0, 0.0], [1.0, 1.0, -1.0, -1.0, 0.0]])
    >>> round(interior_radius(square, np.array([0.0, 0.0])), 12)
    0.707106781187
    >>> interior_radius(square, np.array([3.0, 0.0]))
    Traceback (most recent call last):
    ...
    theory.geometry.PointOutsideHull: point lies outside the hull of the neurons (by 1.41)
    """
    pts, c, dim, scale = _hull_coordinates(features, point, weights, rtol)
    if dim == 0:
        raise DegenerateHull("too few distinct neurons for a hull: all neurons coincide (dim 0)")
    if dim > max_exact_dim:
        return _radius_lower_bound(pts, c, dim)
    tol = 1e-9 * scale
    if dim == 1:
        lo, hi = float(pts[:, 0].min()), float(pts[:, 0].max())
        slack = min(c[0] - lo, hi - c[0])
    else:
        if pts.shape[0] < dim + 1:
            raise DegenerateHull(f"too few points for a hull: {pts.shape[0]} points in dimension {dim}")
        try:
            hull = ConvexHull(pts)
        except QhullError as exc:
            raise DegenerateHull(f"Qhull could not build the hull in dimension {dim}: {exc}") from exc
        # equations: unit outward normal n and offset b with n.x + b <= 0 inside.
        slack = float(np.min(-(hull.equations[:, :-1] @ c + hull.equations[:, -1])))
    if slack < -tol:
        raise PointOutsideHull(f"point lies outside the hull of the neurons (by {-slack:.3g})")
    return max(float(slack), 0.0)


def interior_radius_lower_bound(features, point=None, *, weights=None, rtol: float = 1e-10) -> float:
    """Certified lower bound on the interior radius by 2*dim linear programs (docs/THEORY.md s.4).

    For each axis e_j of an orthonormal basis of the affine hull's direction space the
    LP ``max t s.t. g +- t e_j = sum_i p_i phi_i, p in the simplex`` is solved (HiGHS).
    With t the smallest optimum, the cross-polytope conv{g +- t e_j} lies in M and
    contains the ball of radius t/sqrt(dim). To make the bound robust to the LP solver's
    tolerances, each returned p is projected back onto the simplex, the actual point
    sum_i p_i phi_i (which is exactly in M) is compared with g +- t e_j, and the largest
    discrepancy delta is subtracted: the result ``max(0, t/sqrt(dim) - delta)`` is a
    radius for which the ball provably lies in M (up to float64 arithmetic).
    Raises :class:`PointOutsideHull` when g is outside M, :class:`DegenerateHull` when the
    neurons all coincide.
    """
    pts, c, dim, _ = _hull_coordinates(features, point, weights, rtol)
    if dim == 0:
        raise DegenerateHull("too few distinct neurons for a hull: all neurons coincide (dim 0)")
    return _radius_lower_bound(pts, c, dim)


def _radius_lower_bound(pts: np.ndarray, c: np.ndarray, dim: int) -> float:
    """The LP bound of interior_radius_lower_bound from hull coordinates: neurons pts (N, dim),
    g at c (dim,), dim >= 1."""
    n = pts.shape[0]
    # Variables (p_1..p_N, t); equality rows: pts^T p - t*sigma*e_j = c, sum p = 1.
    a_eq = np.zeros((dim + 1, n + 1))
    a_eq[:dim, :n] = pts.T
    a_eq[dim, :n] = 1.0
    b_eq = np.concatenate([c, [1.0]])
    cost = np.zeros(n + 1)
    cost[-1] = -1.0
    bounds = [(0.0, None)] * (n + 1)
    t_min = math.inf
    delta = 0.0
    for j in range(dim):
        for sign in (1.0, -1.0):
            a_eq[:dim, -1] = 0.0
            a_eq[j, -1] = -sign
            res = linprog(cost, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
            if res.status == 2:
                raise PointOutsideHull("point lies outside the hull of the neurons (LP infeasible)")
            if res.status != 0:
                raise RuntimeError(f"linear program failed: {res.message}")
            p = np.clip(res.x[:n], 0.0, None)
            p /= p.sum()
            t = max(float(res.x[-1]), 0.0)
            target = c.copy()
            target[j] += sign * t
            delta = max(delta, float(np.linalg.norm(p @ pts - target)))
            t_min = min(t_min, t)
    return max(0.0, t_min / math.sqrt(dim) - delta)
