"""theory.claims.slopes: the 1/n^2 rate (every outcome, the threshold pinned from both sides, the
fit window, the false-"held" rate, real runs), the fast regime past (D/r)^2, and a slope equal
to a target within a margin."""

from __future__ import annotations

import numpy as np
import pytest

from theory.claims.slopes import fast_beyond_boundary, gfs_inverse_square_rate, slope_verdict

from tests.theory.claims.helpers import phase_rows, rate_rows


def test_inverse_square_every_outcome():
    assert gfs_inverse_square_rate(rate_rows([-2.0, -2.1, -1.95])).outcome == "held"
    slow = gfs_inverse_square_rate(rate_rows([-1.0, -1.05, -0.98]))
    assert slow.outcome == "did not hold" and "condition was reached" in slow.summary
    assert gfs_inverse_square_rate(rate_rows([-2.5, -1.0, -1.4])).outcome == "indistinguishable"
    assert gfs_inverse_square_rate(rate_rows([-2.0, -2.0])).outcome == "not testable"
    assert gfs_inverse_square_rate(rate_rows([-2.0] * 3, r=0.0)).outcome == "not testable"


def test_slow_rate_before_the_sufficient_size_is_reported_as_such():
    """(D/r)^2 = (2/0.01)^2 = 40000 > n_max: the fast rate is not observed, and the evidence
    says the theorem's condition was not reached (the outcome is not turned into 'not testable')."""
    verdict = gfs_inverse_square_rate(rate_rows([-1.0, -1.02, -0.99], r=0.01))
    assert verdict.outcome == "did not hold"
    assert "sufficient size was not reached" in verdict.summary
    assert verdict.numbers["D_over_r_squared (group 1)"] == pytest.approx(40000)


def test_inverse_square_threshold_pinned_from_both_sides():
    assert gfs_inverse_square_rate(rate_rows([-1.55, -1.56, -1.54])).outcome == "held"
    assert gfs_inverse_square_rate(rate_rows([-1.45, -1.46, -1.44])).outcome == "did not hold"


def test_inverse_square_fit_window_is_the_last_quarter_of_n():
    """Slope -1 up to n_max/4, then -2: the verdict reads the tail only (held); the reverse
    curve (-2 then -1) does not hold."""
    ns = np.arange(10, 1001, 10)
    knee = ns.max() / 4.0

    def bent(first, second):
        return lambda n, _: np.where(n <= knee, n**first, knee ** (first - second) * n**second)

    tail = gfs_inverse_square_rate(rate_rows([0, 0, 0], ns=ns, make=bent(-1.0, -2.0)))
    assert tail.outcome == "held" and "fit on n in [250, 1000]" in tail.summary
    assert gfs_inverse_square_rate(rate_rows([0, 0, 0], ns=ns, make=bent(-2.0, -1.0))
                                   ).outcome == "did not hold"


def test_inverse_square_false_held_rate_at_the_threshold():
    rng = np.random.default_rng(3)
    held = sum(gfs_inverse_square_rate(rate_rows(rng.normal(-1.5, 0.15, 3))).outcome == "held"
               for _ in range(200))
    assert held / 200 <= 0.05


def test_inverse_square_on_real_runs(interior_runs):
    """Three real GFS runs: the slope's 95% Student-t interval lies below -1.5, but their sample
    skewness is large enough that the skew-adjusted rule does not call it (3 seeds cannot tell a
    skewed noise from a fast rate); both error rates stay below 5%."""
    verdict = gfs_inverse_square_rate(interior_runs)
    assert verdict.numbers["slope_high (group 1)"] < -1.5
    skew = verdict.numbers["seed_skewness (group 1)"]
    assert abs(skew) > 0.5
    assert verdict.outcome == "indistinguishable", verdict.summary
    assert verdict.false_held_rate <= 0.05 and verdict.false_not_held_rate <= 0.05 and verdict.power is not None


def test_fast_beyond_boundary_every_outcome():
    held = fast_beyond_boundary(phase_rows({4: [-2.0, -2.1, -1.9], 8: [-2.0, -1.9, -2.1]}, {4: 300, 8: 700}))
    assert held.outcome == "held" and held.numbers["fast_before_boundary"] == 0
    lost = fast_beyond_boundary(phase_rows({4: [-1.0, -1.1, -0.9]}, {4: 300}))
    assert lost.outcome == "did not hold"
    mixed = fast_beyond_boundary(phase_rows({4: [-2.5, -1.0, -1.4]}, {4: 300}))
    assert mixed.outcome == "indistinguishable"
    early = fast_beyond_boundary(phase_rows({4: [-2.0, -2.1, -1.9], 16: [-2.0, -2.0, -2.05]},
                                            {4: 300, 16: 1e6}))
    assert early.numbers["fast_before_boundary"] == 1
    assert fast_beyond_boundary(phase_rows({16: [-2.0] * 3}, {16: 1e6})).outcome == "not testable"


def test_slope_verdict_every_outcome_and_margin():
    x = [np.arange(1.0, 8.0)] * 3

    def ys(slopes):
        return [s * xi for s, xi in zip(slopes, x)]

    assert slope_verdict("c", x, ys([1.0, 1.02, 0.98])).outcome == "held"
    assert slope_verdict("c", x, ys([1.2, 1.22, 1.18])).outcome == "held"  # inside the 0.25 margin
    assert slope_verdict("c", x, ys([1.27, 1.29, 1.25])).outcome == "indistinguishable"
    assert slope_verdict("c", x, ys([1.5, 1.52, 1.48])).outcome == "did not hold"
    assert slope_verdict("c", x, ys([0.5, 1.5, 1.0])).outcome == "indistinguishable"
    assert slope_verdict("c", x[:2], ys([1.0, 1.0])).outcome == "not testable"
    verdict = slope_verdict("c", x, ys([1.0, 1.02, 0.98]))
    assert verdict.false_held_rate <= 0.05 and verdict.power > 0.9
