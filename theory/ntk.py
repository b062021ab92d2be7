"""The neural tangent kernel's Gram matrix H of a two-layer ReLU network and its smallest
eigenvalue lambda_0 (docs/THEORY.md, P5): the closed-form infinite-width H of Du et al.
(ICLR 2019), the finite-width H at given first-layer weights, its Monte-Carlo estimate at
initialisation, and lambda_0 of a symmetric matrix.

``x`` is an input matrix of shape (m, d) with non-zero rows (the propositions take unit rows);
numpy arrays, array-likes and CPU torch tensors are accepted, computed in float64.
"""

from __future__ import annotations

import math

import numpy as np

from theory.arrays import as_float_array

__all__ = ["ntk_gram", "ntk_gram_empirical", "ntk_gram_monte_carlo", "min_eigenvalue"]


def _check_inputs(x) -> np.ndarray:
    arr = as_float_array(x, "x")
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"x must have shape (m, d) with m, d >= 1, got {arr.shape}")
    if np.any(np.linalg.norm(arr, axis=1) == 0):
        raise ValueError("x has a zero row; the NTK Gram matrix needs non-zero inputs")
    return arr


#: Above this |cos|, the angle is taken from the half-angle form instead of arccos (see ntk_gram).
_NEAR_PARALLEL_COS = 0.99


def ntk_gram(x) -> np.ndarray:
    """Closed-form infinite-width Gram matrix of Du et al. (ICLR 2019), shape (m, m).

    ``H_ij = E_w[x_i.x_j 1{w.x_i >= 0, w.x_j >= 0}] = x_i.x_j (pi - theta_ij) / (2 pi)``
    with w ~ N(0, I) and theta_ij the angle between x_i and x_j. The propositions assume
    unit-norm rows; the formula is valid for any non-zero rows.

    The angle keeps full float64 precision everywhere: ``arccos`` of the cosine where
    |cos| <= 0.99 (there its condition number is below 8), and for (anti)parallel pairs and
    the diagonal the half-angle form ``theta = 2 atan2(|u_i - u_j|, |u_i + u_j|)`` of the unit
    rows u (arccos of a cosine that rounds to 1 - 2^-53 would be off by 1.5e-8). The result is
    exactly symmetric, with ``H_ii`` exactly half the computed ``x_i.x_i``.
    """
    arr = _check_inputs(x)
    dots = arr @ arr.T
    dots = 0.5 * (dots + dots.T)  # BLAS need not return a bitwise-symmetric product
    norms = np.linalg.norm(arr, axis=1)
    cos = np.clip(dots / np.outer(norms, norms), -1.0, 1.0)
    theta = np.arccos(cos)
    rows, cols = np.nonzero(np.triu(np.abs(cos) > _NEAR_PARALLEL_COS))
    unit = arr / norms[:, None]
    pairs_per_block = max(1, (1 << 20) // arr.shape[1])
    for start in range(0, len(rows), pairs_per_block):
        i, j = rows[start:start + pairs_per_block], cols[start:start + pairs_per_block]
        difference = np.linalg.norm(unit[i] - unit[j], axis=1)
        total = np.linalg.norm(unit[i] + unit[j], axis=1)
        theta[i, j] = theta[j, i] = 2.0 * np.arctan2(difference, total)
    return dots * ((math.pi - theta) / (2.0 * math.pi))


def ntk_gram_empirical(x, w, chunk_size: int = 4096) -> np.ndarray:
    """Finite-width Gram matrix at first-layer weights ``w`` (shape (N, d)).

    ``H_ij = (1/N) sum_r x_i.x_j 1{w_r.x_i >= 0, w_r.x_j >= 0}``: the Gram matrix of the
    gradients of ``f(x) = N^(-1/2) sum_r a_r relu(w_r.x)`` with respect to W (a_r = +-1).
    Accumulated over chunks of neurons so memory stays O(m * chunk_size).
    """
    arr = _check_inputs(x)
    wa = as_float_array(w, "w")
    if wa.ndim != 2 or wa.shape[1] != arr.shape[1] or wa.shape[0] < 1:
        raise ValueError(f"w must have shape (N, {arr.shape[1]}) with N >= 1, got {wa.shape}")
    counts = np.zeros((arr.shape[0], arr.shape[0]))
    for start in range(0, wa.shape[0], chunk_size):
        act = (arr @ wa[start : start + chunk_size].T >= 0).astype(np.float64)
        counts += act @ act.T
    return (arr @ arr.T) * counts / wa.shape[0]


def ntk_gram_monte_carlo(x, width: int, seed: int = 0) -> np.ndarray:
    """Monte-Carlo estimate of :func:`ntk_gram` from a width-``width`` network at init.

    Draws w_r ~ N(0, I) with ``numpy.random.default_rng(seed)``; each entry is a mean of
    ``width`` terms bounded by |x_i.x_j|, so its error is O(width^(-1/2)).
    """
    if int(width) != width or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    arr = _check_inputs(x)
    w = np.random.default_rng(seed).standard_normal((int(width), arr.shape[1]))
    return ntk_gram_empirical(arr, w)


def min_eigenvalue(h) -> float:
    """lambda_0 = smallest eigenvalue of a symmetric matrix (e.g. ``ntk_gram(x)``)."""
    arr = as_float_array(h, "h")
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] < 1:
        raise ValueError(f"h must be a square matrix, got shape {arr.shape}")
    return float(np.linalg.eigvalsh(0.5 * (arr + arr.T))[0])
