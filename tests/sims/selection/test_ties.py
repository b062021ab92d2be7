"""The one tie rule: the lowest index within TIE_EPSILONS * eps * scale (+ slack) of the minimum."""

import numpy as np
import pytest
import torch

from sims.selection.ties import TIE_EPSILONS, dot_scale, first_min, tie_tolerance

EPS = float(np.finfo(np.float64).eps)


def test_the_lowest_index_within_the_tolerance_wins():
    scores = np.array([3.0, 1.0 + 10 * EPS, 1.0, 1.0 + 40 * EPS])
    assert first_min(scores, 1.0, EPS) == 1  # within 16 eps of the minimum: tied, lowest index
    assert first_min(scores, 0.1, EPS) == 2  # a smaller scale: no longer tied
    assert first_min(scores, 0.1, EPS, slack=20 * EPS) == 1  # a solver's slack widens the tie
    assert first_min(torch.from_numpy(scores), 1.0, EPS) == 1  # tensors alike


def test_excluded_candidates_and_the_tolerance_formula():
    assert first_min(np.array([np.inf, 2.0, 2.0]), 2.0, EPS) == 1
    assert tie_tolerance(3.0, EPS) == TIE_EPSILONS * EPS * 3.0 == 16 * EPS * 3.0


def test_dot_scale_bounds_the_inner_products_and_the_rounding_of_f():
    rng = np.random.default_rng(0)
    phi, r, f = rng.standard_normal((20, 7)), rng.standard_normal(7), rng.standard_normal(7)
    scale = dot_scale(float((phi * phi).sum(1).max()), float(r @ r), float(f @ f))
    assert np.all(np.abs(phi @ r) <= scale)
    assert scale == pytest.approx(np.sqrt((phi * phi).sum(1).max()) * (np.linalg.norm(r) + np.linalg.norm(f)))
    assert dot_scale(4.0, 9.0) == 6.0


def test_converged_noise_ties_instead_of_picking():
    """Linear scores of a rounding-level residual, measured against dot_scale, all tie: the
    lowest index is picked whatever the noise (against their own size, the noise picks)."""
    rng = np.random.default_rng(1)
    noise = rng.standard_normal(10) * 1e-16
    scale = dot_scale(1.0, 1e-32, 1.0)
    assert first_min(noise, scale, EPS) == 0
    assert first_min(noise, float(np.abs(noise).max()), EPS) == int(np.argmin(noise)) != 0
