"""The propositions P1-P6 of THEORY.md as functions of numbers.

Every bound is a function of the subnetwork size ``n`` (P1-P4), of the number of
pre-training steps ``T`` (P5), or returns the required ``T`` (P6). ``n`` and ``T`` may be
scalars or arrays; a scalar input gives a float, an array input an array of floats.

Losses follow THEORY.md: ``L(f) = 0.5 * (1/m) sum_j ||f(x_j) - y_j||^2`` and V, D, D_g, r
use the matching norm (see ``theory.geometry``). The bounds are upper bounds on the
*excess* loss ``L(f_n) - L(g)`` unless stated otherwise.

Sources: P1-P3 follow the averaging argument of Ye et al. (ICML 2020, arXiv 2003.01794)
and the herding analysis of Chen, Welling, Smola (2010) / Bach et al. (2012); P4 the
re-weighted greedy analysis of Ye, Wu, Liu (NeurIPS 2020, arXiv 2010.15969); P5 Du et al.
(ICLR 2019, arXiv 1810.02054); P6 composes P5 and P2 in the spirit of Wolfe et al.
(TMLR 2024, arXiv 2108.00259). Proofs are in THEORY.md.
"""

from __future__ import annotations

import math

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
    """
    v = _nonneg(variance, "variance")
    arr, scalar = _sizes(n)
    return _out(v * (1.0 + np.log(arr)) / (2.0 * arr), scalar)


def gfs_interior_bound(n, max_distance, radius):
    """P3: ``L(f_n) - L(g) <= (D_g^2 + D_g^4 / (4 r^2)) / (2 n^2)`` for GFS and herding.

    Assumptions: g is the projection of the target onto the affine hull of the neurons,
    g lies in M with interior radius ``radius = r > 0`` (a lower bound on r also works),
    ``max_distance = D_g = max_i ||phi_i - g||``. Holds for every n >= 1.
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
    THEORY.md, or all summed over the m samples, in which case V is m times the
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
