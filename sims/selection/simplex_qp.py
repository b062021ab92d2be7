"""Exact least squares over the probability simplex, from a small Gram matrix.

The fully corrective and exhaustive re-weighted greedy methods need, for a chosen set S of
neurons, the weights w on the simplex that minimise ||sum_j w_j phi_j - Y||^2. Because the
weights sum to one this is the minimum-norm point of the convex hull of q_j = phi_j - Y, and
it depends only on the Gram matrix G_ij = <q_i, q_j> (|S| x |S|). Wolfe's min-norm-point
algorithm (1976) solves it exactly with an active set ("corral") of affinely independent
points, and it warm-starts from any feasible w, which is what the greedy methods need when
S grows by one neuron per step.
"""

from __future__ import annotations

import numpy as np


def affine_minimizer(gram: np.ndarray) -> np.ndarray:
    """Coefficients v (sum v = 1) of the minimum-norm point of the affine hull of the points.

    gram: (p, p) Gram matrix of p affinely independent points. Solves the KKT system
    [[G, 1], [1^T, 0]] [v, mu] = [0, 1]; falls back to least squares if it is singular.
    """
    p = gram.shape[0]
    scale = max(float(np.max(np.abs(np.diag(gram)))), np.finfo(np.float64).tiny)
    kkt = np.zeros((p + 1, p + 1))
    kkt[:p, :p] = gram / scale
    kkt[:p, p] = 1.0
    kkt[p, :p] = 1.0
    rhs = np.zeros(p + 1)
    rhs[p] = 1.0
    try:
        solution = np.linalg.solve(kkt, rhs)
        if not np.all(np.isfinite(solution)):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        solution = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
    coefficients = solution[:p]
    return coefficients / coefficients.sum()


def min_norm_point(gram: np.ndarray, weights: np.ndarray, *, tol: float = 1e-12,
                   max_iterations: int | None = None) -> np.ndarray:
    """Weights w on the simplex minimising w^T G w, by Wolfe's algorithm warm-started at ``weights``.

    gram: (p, p) positive semi-definite Gram matrix of points q_1..q_p (float64).
    weights: (p,) a feasible start (non-negative, sums to 1); its support is the initial corral,
    which must be affinely independent (one point, or a previous answer of this function).
    tol: stop when no point improves the linearised objective by more than tol * max_j G_jj.
    Returns (p,) float64 weights, non-negative, summing to 1, never worse than the start
    (in the computed objective).
    """
    gram = np.asarray(gram, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64).copy()
    p = gram.shape[0]
    scale = max(float(np.max(np.diag(gram))), np.finfo(np.float64).tiny)
    max_iterations = max_iterations or 20 * p + 50
    corral = [int(j) for j in np.flatnonzero(weights > 0)]
    objective = float(weights @ gram @ weights)
    for _ in range(max_iterations):
        inner = gram @ weights  # <x, q_j> with x = sum_j w_j q_j
        entering = int(np.argmin(inner))
        if inner[entering] >= objective - tol * scale or entering in corral:
            break
        trial_corral = corral + [entering]
        trial = weights.copy()
        while True:  # minor cycle: move towards the affine minimiser of the corral
            sub = np.ix_(trial_corral, trial_corral)
            target = affine_minimizer(gram[sub])
            if np.all(target >= 0):
                trial[:] = 0.0
                trial[trial_corral] = target
                break
            current = trial[trial_corral]
            blocking = target < 0
            ratios = current[blocking] / (current[blocking] - target[blocking])
            step = float(np.min(ratios))
            moved = current + step * (target - current)
            moved[np.flatnonzero(blocking)[np.argmin(ratios)]] = 0.0  # the blocking point leaves exactly
            moved[moved < 0] = 0.0
            trial[:] = 0.0
            trial[trial_corral] = moved
            trial_corral = [j for j, w in zip(trial_corral, moved) if w > 0]
            if len(trial_corral) <= 1:
                trial[trial_corral] = 1.0
                break
        trial /= trial.sum()
        trial_objective = float(trial @ gram @ trial)
        if not trial_objective < objective:  # rounding-level progress only: keep the last answer
            break
        weights, objective = trial, trial_objective
        corral = [int(j) for j in np.flatnonzero(weights > 0)]
    return weights
