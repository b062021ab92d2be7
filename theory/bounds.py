"""The propositions P1-P8 of docs/THEORY.md as functions of numbers.

Every bound is a function of the subnetwork size ``n`` (P1-P4), of the number of
pre-training steps ``T`` (P5), or returns the required ``T`` (P6). ``n`` and ``T`` may be
scalars or arrays; a scalar input gives a float, an array input an array of floats.

Losses follow docs/THEORY.md: ``L(f) = 0.5 * (1/m) sum_j ||f(x_j) - y_j||^2`` and V, D, D_g, r
use the matching norm (see ``theory.geometry``). The bounds are upper bounds on the
*excess* loss ``L(f_n) - L(g)`` unless stated otherwise.

Sources: P1-P3 follow the averaging argument of Ye et al. (ICML 2020, arXiv 2003.01794)
and the herding analysis of Chen, Welling, Smola (2010) / Bach et al. (2012); P4 the
re-weighted greedy analysis of Ye, Wu, Liu (NeurIPS 2020, arXiv 2010.15969); P5 Du et al.
(ICLR 2019, arXiv 1810.02054); P6 composes P5 and P2 in the spirit of Wolfe et al.
(TMLR 2024, arXiv 2108.00259). Proofs are in docs/THEORY.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "gfs_realisable_bound",
    "gfs_excess_bound",
    "gfs_interior_bound",
    "reweighted_greedy_bound",
    "reweighted_contraction",
    "ntk_residual_bound",
    "pruning_margin",
    "required_pretraining_steps",
    "bound_violations",
    "pretraining_certificate",
    "certificate_steps",
    "RandomFeaturesSpectrum",
    "random_features_spectrum",
    "random_features_loss",
    "random_features_trajectory",
]


def _nonneg(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real number, got {value!r}") from exc
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite non-negative number, got {value!r}")
    return v


def _positive(value, name: str) -> float:
    v = _nonneg(value, name)
    if v == 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return v


def _sizes(n, name: str = "n", minimum: float = 1):
    """Validate a scalar or array of sizes; return (float array, was_scalar)."""
    arr = np.asarray(n, dtype=np.float64)
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(arr)) or np.any(arr < minimum):
        raise ValueError(f"{name} must be >= {minimum:g} (got min {np.nanmin(arr)!r})")
    return arr, arr.ndim == 0


def _out(arr: np.ndarray, scalar: bool):
    return float(arr) if scalar else arr


def gfs_realisable_bound(n, variance):
    """P1: ``L(f_n) <= V / (2 n)`` for GFS (with replacement) when the target is g.

    Assumptions: the target Y equals a hull point ``g = sum_i p_i phi_i`` and
    ``variance = V = sum_i p_i ||phi_i - g||^2`` for the same p (so L(g) = 0). Holds for
    every n >= 1. The bound is on L(f_n) itself.
    """
    v = _nonneg(variance, "variance")
    arr, scalar = _sizes(n)
    return _out(v / (2.0 * arr), scalar)


def gfs_excess_bound(n, variance):
    """P2: ``L(f_n) - L(g) <= V (1 + ln n) / (2 n)`` for GFS (with replacement).

    Assumptions: any target Y; g any hull point with weights p and ``variance`` its V.
    Holds for every n >= 1.

    Parameters
    ----------
    n : int or array of int, each >= 1
        Subnetwork sizes.
    variance : float >= 0
        V, the neuron variance about g.

    Returns
    -------
    float or ndarray
        The bound at each n (a float for a scalar n).

    Examples
    --------
    >>> round(gfs_excess_bound(4, 2.0), 6)
    0.596574
    >>> gfs_excess_bound([1, 2, 4], 2.0).round(4).tolist()
    [1.0, 0.8466, 0.5966]
    """
    v = _nonneg(variance, "variance")
    arr, scalar = _sizes(n)
    return _out(v * (1.0 + np.log(arr)) / (2.0 * arr), scalar)


def gfs_interior_bound(n, max_distance, radius):
    """P3: ``L(f_n) - L(g) <= (D_g^2 + D_g^4 / (4 r^2)) / (2 n^2)`` for GFS and herding.

    Assumptions: g is the projection of the target onto the affine hull of the neurons,
    g lies in M with interior radius ``radius = r > 0`` (a lower bound on r also works),
    ``max_distance = D_g = max_i ||phi_i - g||``. Holds for every n >= 1.

    Parameters
    ----------
    n : int or array of int, each >= 1
        Subnetwork sizes.
    max_distance : float >= 0
        D_g.
    radius : float > 0
        r, or a lower bound of it.

    Returns
    -------
    float or ndarray
        The bound at each n (a float for a scalar n).

    Examples
    --------
    >>> gfs_interior_bound(2, 1.0, 0.5)
    0.25
    """
    dg = _nonneg(max_distance, "max_distance")
    r = _positive(radius, "radius")
    arr, scalar = _sizes(n)
    const = dg**2 + dg**4 / (4.0 * r**2)
    return _out(const / (2.0 * arr**2), scalar)


def reweighted_contraction(radius, diameter) -> float:
    """The per-step contraction factor ``1 - r^2 / D^2`` of P4 (in [0, 1))."""
    r = _positive(radius, "radius")
    d = _positive(diameter, "diameter")
    if r > d:
        raise ValueError(f"radius ({r!r}) cannot exceed the diameter ({d!r})")
    return 1.0 - (r / d) ** 2


def reweighted_greedy_bound(n, first_excess, radius, diameter):
    """P4: ``L(f_n) - L(g) <= (L(f_1) - L(g)) (1 - r^2/D^2)^(n-1)`` for FW, FCFW, greedy-opt.

    Assumptions: as P3 (g the projection of the target onto aff(M), interior radius
    ``radius = r > 0`` or a lower bound of it), ``diameter = D = diam(M)`` (or an upper
    bound), ``first_excess = L(f_1) - L(g)`` of the same algorithm, whose first pick is the
    best single neuron. Holds for every n >= 1.

    Parameters
    ----------
    n : int or array of int, each >= 1
        Subnetwork sizes.
    first_excess : float >= 0
        L(f_1) - L(g).
    radius : float > 0
        r, or a lower bound of it.
    diameter : float > 0
        D, or an upper bound of it.

    Returns
    -------
    float or ndarray
        The bound at each n (a float for a scalar n).

    Examples
    --------
    >>> reweighted_greedy_bound([1, 2, 3], 0.5, 0.5, 2.0).tolist()
    [0.5, 0.46875, 0.439453125]
    """
    h1 = _nonneg(first_excess, "first_excess")
    q = reweighted_contraction(radius, diameter)
    arr, scalar = _sizes(n)
    return _out(h1 * q ** (arr - 1.0), scalar)


def _ntk_rate(eta, lambda_0) -> float:
    e = _positive(eta, "eta")
    lam = _positive(lambda_0, "lambda_0")
    rate = e * lam / 2.0
    if rate >= 1.0:
        raise ValueError(
            f"eta * lambda_0 / 2 must be < 1 for a contraction, got {rate!r} "
            f"(eta={e!r}, lambda_0={lam!r})"
        )
    return rate


def ntk_residual_bound(t, eta, lambda_0, initial_residual):
    """P5: ``||u(t) - y||^2 <= (1 - eta lambda_0 / 2)^t ||u(0) - y||^2`` (Du et al. 2019).

    ``initial_residual`` is ``||u(0) - y||^2`` (a plain sum of squares over samples, or any
    quantity proportional to it, e.g. a loss). Assumptions: network
    ``f(x) = N^(-1/2) sum_r a_r relu(w_r.x)`` with fixed a_r = +-1, w_r ~ N(0, I),
    unit-norm inputs, full-batch GD with step ``eta`` on ``0.5 sum_j (f(x_j) - y_j)^2``
    over W, ``lambda_0 = lambda_min(H) > 0`` for the closed-form Gram H, width N large
    enough and eta small enough; then it holds with high probability for all t >= 0.
    """
    rate = _ntk_rate(eta, lambda_0)
    r0 = _nonneg(initial_residual, "initial_residual")
    arr, scalar = _sizes(t, "t", minimum=0)
    # exp(t log1p(-rate)) rather than (1 - rate)**t: 1 - rate loses digits when rate is tiny.
    return _out(r0 * np.exp(arr * math.log1p(-rate)), scalar)


def pruning_margin(n, variance):
    """The pruning term ``V (1 + ln n) / (2 n)`` of P2 and P6 (same as :func:`gfs_excess_bound`)."""
    return gfs_excess_bound(n, variance)


def required_pretraining_steps(initial_loss, eps, variance, n, eta, lambda_0) -> float:
    """P6: pre-training steps after which a GFS subnetwork of size n has loss <= eps.

    ``T = log(L(u_0) / (eps - V (1 + ln n)/(2n))) / (-log(1 - eta lambda_0 / 2))``,
    clipped at 0 (no pre-training needed when L(u_0) already meets the reduced target).
    Returns ``math.inf`` when ``eps <= V (1 + ln n)/(2n)``: pruning alone cannot reach eps
    with n neurons, however long the pre-training.

    The result is real-valued; the number of steps is ``math.ceil`` of it.
    Assumptions: the dense loss contracts as in P5, ``L(u_T) <= (1 - eta lambda_0/2)^T L(u_0)``,
    and the neuron variance after T steps is at most ``variance`` (V_T). ``initial_loss``,
    ``eps`` and ``variance`` must use one loss convention (all mean-normalised as in
    docs/THEORY.md, or all summed over the m samples, in which case V is m times the
    mean-normalised V); with the summed convention L(u_0) = Theta(m), hence T ~ log m.
    """
    l0 = _nonneg(initial_loss, "initial_loss")
    e = _positive(eps, "eps")
    v = _nonneg(variance, "variance")
    if np.ndim(n) != 0:
        raise ValueError("n must be a scalar for required_pretraining_steps")
    margin = gfs_excess_bound(n, v)
    rate = _ntk_rate(eta, lambda_0)
    budget = e - margin
    if budget <= 0:
        return math.inf
    if l0 <= budget:
        return 0.0
    return math.log(l0 / budget) / (-math.log1p(-rate))


def bound_violations(observed, bound, rtol: float = 1e-12, atol: float = 0.0) -> np.ndarray:
    """Indices where ``observed > bound + rtol * |bound| + atol``.

    The slack is for floating-point roundoff only; ``atol`` should be a tiny multiple of
    the loss scale of the problem (e.g. ``1e-12 * L(f_1)``), never tuned to make a test
    pass. ``observed`` and ``bound`` must have the same shape.
    """
    obs = np.asarray(observed, dtype=np.float64)
    bnd = np.asarray(bound, dtype=np.float64)
    if obs.shape != bnd.shape:
        raise ValueError(f"observed has shape {obs.shape} but bound has shape {bnd.shape}")
    if rtol < 0 or atol < 0:
        raise ValueError("rtol and atol must be non-negative")
    return np.flatnonzero(obs > bnd + rtol * np.abs(bnd) + atol)


# ---------------------------------------------------------------- P7: the pre-training certificate


def pretraining_certificate(dense_loss, variance, n):
    """P7: ``B_n(T) = L(u_T) + V_T (1 + ln n) / (2 n)`` for every recorded T.

    ``dense_loss`` (T+1,) the dense network's loss L(u_t) (mean form) and ``variance`` (T+1,)
    its neuron variance V_t, both at t = 0..T; n the subnetwork size. GFS of size n at step t
    has loss <= B_n(t) (P2 with g = u_t). Returns an array of shape (T+1,).
    """
    loss = np.asarray(dense_loss, dtype=np.float64)
    v = np.asarray(variance, dtype=np.float64)
    if loss.shape != v.shape or loss.ndim != 1:
        raise ValueError(f"dense_loss and variance must be 1-d of one length, got {loss.shape} and {v.shape}")
    if np.any(v < 0) or np.any(loss < 0):
        raise ValueError("dense_loss and variance must be non-negative")
    if np.ndim(n) != 0 or n < 1:
        raise ValueError(f"n must be a scalar >= 1, got {n!r}")
    return loss + v * (1.0 + math.log(n)) / (2.0 * n)


def certificate_steps(certificate, eps):
    """P7: ``T_B(eps) = min{t : B_n(t) <= eps}`` over the recorded steps t = 0..len-1, as a float
    (``math.inf`` when B never reaches eps). ``eps`` scalar or array (then an array)."""
    b = np.asarray(certificate, dtype=np.float64)
    e = np.asarray(eps, dtype=np.float64)
    # running minimum: the first t with B(t) <= eps is the first t whose prefix minimum is <= eps
    prefix = np.minimum.accumulate(b)
    index = np.searchsorted(-prefix, -e, side="left")  # -prefix is non-decreasing
    out = np.where(index < b.size, index.astype(np.float64), math.inf)
    return float(out) if e.ndim == 0 else out


# ---------------------------------------------------------------- P8: random features


@dataclass(frozen=True)
class RandomFeaturesSpectrum:
    """The spectrum of ``A = Psi Psi^T / (N m)`` restricted to the column space of Psi.

    mu (r,): eigenvalues, decreasing (r = rank of Psi, at most min(m, N)); basis (m, r): the
    eigenvectors v_j = U_j; right (N, r) and singular (r,): Psi = basis diag(singular) right^T;
    coefficients (r, K): c_j = v_j . (u_0 - y) per output column; rest (K,): the squared norm
    of the part of u_0 - y outside span(Psi) (it never moves: mu = 0 there); width N; m.
    """

    mu: np.ndarray
    basis: np.ndarray
    right: np.ndarray
    singular: np.ndarray
    coefficients: np.ndarray
    rest: np.ndarray
    width: int
    m: int


def random_features_spectrum(hidden, initial_residual, rtol: float = 1e-12) -> RandomFeaturesSpectrum:
    """P8's spectrum at initialisation from ``hidden`` = Psi (m, N), Psi_ji = act(a_i.x_j + c_i),
    and ``initial_residual`` = u_0 - y (m, K) or (m,). Singular values below ``rtol`` times the
    largest count as zero (their directions join ``rest``)."""
    psi = np.asarray(hidden, dtype=np.float64)
    residual = np.asarray(initial_residual, dtype=np.float64).reshape(psi.shape[0], -1)
    m, width = psi.shape
    u, singular, vt = np.linalg.svd(psi, full_matrices=False)
    keep = singular > rtol * (singular[0] if singular.size else 0.0)
    u, singular, right = u[:, keep], singular[keep], vt[keep].T
    coefficients = u.T @ residual
    outside = residual - u @ coefficients
    return RandomFeaturesSpectrum(mu=singular ** 2 / (width * m), basis=u, right=right, singular=singular,
                                  coefficients=coefficients, rest=np.sum(outside ** 2, axis=0), width=width, m=m)


def _contraction(spectrum: RandomFeaturesSpectrum, eta: float) -> np.ndarray:
    e = _positive(eta, "eta")
    q = 1.0 - e * spectrum.mu
    if np.any(np.abs(q) > 1.0):
        raise ValueError(f"eta * mu_max = {e * spectrum.mu.max():.4g} > 2: gradient descent diverges")
    return q


def random_features_loss(t, eta, spectrum: RandomFeaturesSpectrum):
    """P8: the dense loss after t steps, ``L(u_t) = (1/(2m)) [sum_j (1 - eta mu_j)^(2t) ||c_j||^2 + rest]``
    (mean form; summed over the K output columns). t scalar or array of steps >= 0."""
    q = _contraction(spectrum, eta)
    steps, scalar = _sizes(t, "t", minimum=0)
    energy = np.sum(spectrum.coefficients ** 2, axis=1)  # (r,)
    decay = np.power(q[None, :] ** 2, steps.reshape(-1, 1))  # (T, r)
    out = (decay @ energy + np.sum(spectrum.rest)) / (2.0 * spectrum.m)
    return _out(out.reshape(steps.shape), scalar)


def random_features_trajectory(hidden, second_weight, targets, eta, iterations: int):
    """P8 with P7's ingredients: (loss (T+1,), variance (T+1,)) of the random-features network
    at t = 0..iterations, predicted from the initialisation alone.

    Network u = Psi b / N (mean-field, first layer fixed), hidden = Psi (m, N), second_weight
    = b_0 (N, K), targets y (m, K); GD on the mean loss with per-neuron step eta N, i.e.
    ``b_{t+1} = b_t - (eta/m) Psi^T (u_t - y)``. In the eigenbasis of A the residual of
    direction j after t steps is q_j^t c_j (q_j = 1 - eta mu_j), so
    ``b_t = b_0 - N W diag((1 - q_j^t) / s_j) c`` (Psi = U S W^T), and the neuron variance is
    ``V_t = (1/(m N)) sum_i ||Psi_i||^2 ||b_{t,i}||^2 - (1/m) ||u_t||^2``.
    """
    psi = np.asarray(hidden, dtype=np.float64)
    b0 = np.asarray(second_weight, dtype=np.float64).reshape(psi.shape[1], -1)
    y = np.asarray(targets, dtype=np.float64).reshape(psi.shape[0], -1)
    m, width = psi.shape
    residual0 = psi @ b0 / width - y
    spectrum = random_features_spectrum(psi, residual0)
    q = _contraction(spectrum, eta)
    steps = np.arange(int(iterations) + 1, dtype=np.float64)
    loss = random_features_loss(steps, eta, spectrum)
    log_q = np.where(q > 0, np.log1p(-float(eta) * spectrum.mu), np.log(np.maximum(np.abs(q), 1e-300)))
    powers = np.exp(steps[:, None] * log_q[None, :]) * np.where(q < 0, -1.0, 1.0) ** steps[:, None]  # q^t (T+1, r)
    one_minus = np.where(q > 0, -np.expm1(steps[:, None] * log_q[None, :]), 1.0 - powers)
    column_norms = np.sum(psi ** 2, axis=0)  # (N,)
    # u_t = y + r_t with r_t = U (q^t * c) + r_perp, r_perp = residual0 - U c
    outside = residual0 - spectrum.basis @ spectrum.coefficients
    y_basis = spectrum.basis.T @ y  # (r, K)
    y_norm = np.sum(y ** 2)
    y_outside = np.sum(y * outside)
    c = spectrum.coefficients
    variance = np.empty(steps.size)
    for index in range(steps.size):
        decayed = powers[index][:, None] * c  # (r, K)
        b_t = b0 - width * spectrum.right @ (one_minus[index][:, None] / spectrum.singular[:, None] * c)
        outputs_norm = y_norm + 2 * (np.sum(y_basis * decayed) + y_outside) + np.sum(decayed ** 2) + np.sum(spectrum.rest)
        variance[index] = (column_norms @ np.sum(b_t ** 2, axis=1)) / (m * width) - outputs_norm / m
    return loss, variance
