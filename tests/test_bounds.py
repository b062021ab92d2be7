"""Unit tests for theory.bounds: values, array/scalar handling, P6 edge cases, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from theory import bounds


def test_values_at_known_points():
    assert bounds.gfs_realisable_bound(4, 2.0) == pytest.approx(0.25)
    assert bounds.gfs_excess_bound(1, 2.0) == pytest.approx(1.0)
    assert bounds.gfs_excess_bound(math.e, 2.0) == pytest.approx(2.0 / math.e)
    assert bounds.gfs_interior_bound(2, 2.0, 1.0) == pytest.approx((4 + 16 / 4) / 8)
    assert bounds.reweighted_contraction(1.0, 2.0) == pytest.approx(0.75)
    assert bounds.reweighted_greedy_bound(3, 1.0, 1.0, 2.0) == pytest.approx(0.75**2)
    assert bounds.ntk_residual_bound(0, 0.1, 0.2, 5.0) == pytest.approx(5.0)
    assert bounds.ntk_residual_bound(10, 0.1, 0.2, 5.0) == pytest.approx(5.0 * 0.99**10, rel=1e-14)


def test_scalar_in_scalar_out_array_in_array_out():
    assert isinstance(bounds.gfs_excess_bound(3, 1.0), float)
    n = np.arange(1, 6)
    out = bounds.gfs_excess_bound(n, 1.0)
    assert isinstance(out, np.ndarray) and out.shape == (5,)
    np.testing.assert_allclose(out, [bounds.gfs_excess_bound(int(k), 1.0) for k in n])
    assert bounds.reweighted_greedy_bound(np.array([1, 2]), 1.0, 1.0, 2.0).shape == (2,)


def test_bounds_decrease_in_n():
    n = np.arange(1, 200)
    for b in (
        bounds.gfs_realisable_bound(n, 1.0),
        bounds.gfs_excess_bound(n, 1.0),
        bounds.gfs_interior_bound(n, 1.0, 0.1),
        bounds.reweighted_greedy_bound(n, 1.0, 0.5, 1.0),
    ):
        assert np.all(np.diff(b) <= 0)


def test_required_steps_edge_cases():
    # the pruning margin alone exceeds eps: unreachable
    assert bounds.required_pretraining_steps(1.0, 0.1, 1.0, 1, 0.1, 0.1) == math.inf
    assert bounds.required_pretraining_steps(1.0, 0.5, 1.0, 1, 0.1, 0.1) == math.inf  # eps == margin
    # already good enough at initialisation
    assert bounds.required_pretraining_steps(0.01, 1.0, 0.0, 5, 0.1, 0.1) == 0.0
    # no pruning term (V = 0): log(L0/eps) / -log(1 - q)
    t = bounds.required_pretraining_steps(10.0, 0.1, 0.0, 7, 0.2, 0.5)
    assert t == pytest.approx(math.log(100.0) / -math.log(1 - 0.05))


def test_required_steps_grow_like_log_m_with_summed_loss():
    """With a summed loss L(u_0) = c*m and V, eps also summed (proportional to m), T grows
    like log m only through L(u_0) when eps is a fixed absolute target."""
    ts = [bounds.required_pretraining_steps(0.5 * m, 1.0, 0.0, 10, 0.1, 0.5) for m in (10, 100, 1000)]
    diffs = np.diff(ts)
    assert diffs[0] == pytest.approx(diffs[1])
    assert diffs[0] == pytest.approx(math.log(10) / -math.log(1 - 0.025))


def test_bound_violations():
    np.testing.assert_array_equal(bounds.bound_violations([1.0, 2.0, 3.0], [1.0, 1.9, 3.1]), [1])
    assert bounds.bound_violations([1.0 + 1e-13], [1.0]).size == 0  # roundoff slack only
    assert bounds.bound_violations([1.0 + 1e-9], [1.0]).size == 1


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: bounds.gfs_realisable_bound(0, 1.0), "n must be >= 1"),
        (lambda: bounds.gfs_excess_bound([1, -2], 1.0), "n must be >= 1"),
        (lambda: bounds.gfs_excess_bound([], 1.0), "n must not be empty"),
        (lambda: bounds.gfs_realisable_bound(1, -1.0), "variance"),
        (lambda: bounds.gfs_excess_bound(1, float("nan")), "variance"),
        (lambda: bounds.gfs_interior_bound(1, 1.0, 0.0), "radius must be positive"),
        (lambda: bounds.gfs_interior_bound(1, -1.0, 1.0), "max_distance"),
        (lambda: bounds.reweighted_greedy_bound(1, 1.0, 2.0, 1.0), "cannot exceed the diameter"),
        (lambda: bounds.reweighted_greedy_bound(1, 1.0, 1.0, 0.0), "diameter must be positive"),
        (lambda: bounds.reweighted_greedy_bound(1, -1.0, 1.0, 2.0), "first_excess"),
        (lambda: bounds.ntk_residual_bound(-1, 0.1, 0.1, 1.0), "t must be >= 0"),
        (lambda: bounds.ntk_residual_bound(1, 0.0, 0.1, 1.0), "eta must be positive"),
        (lambda: bounds.ntk_residual_bound(1, 100.0, 0.1, 1.0), "contraction"),
        (lambda: bounds.required_pretraining_steps(1.0, 0.0, 1.0, 1, 0.1, 0.1), "eps must be positive"),
        (lambda: bounds.required_pretraining_steps(1.0, 1.0, 1.0, [1, 2], 0.1, 0.1), "scalar"),
        (lambda: bounds.required_pretraining_steps(1.0, 1.0, 1.0, 0, 0.1, 0.1), "n must be >= 1"),
        (lambda: bounds.required_pretraining_steps(1.0, 1.0, 1.0, 1, 0.1, -0.1), "lambda_0"),
        (lambda: bounds.gfs_excess_bound(1, "a lot"), "variance must be a real number"),
        (lambda: bounds.bound_violations([1.0, 2.0], [1.0]), "shape"),
    ],
)
def test_bad_input_names_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()
