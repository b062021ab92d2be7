"""Rate fitting recovers known exponents and laws from noisy synthetic curves."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import rates

FAST = settings(max_examples=25, deadline=None, derandomize=True)


def noisy(values, seed, sigma):
    return values * np.exp(sigma * np.random.default_rng(seed).standard_normal(np.shape(values)))


@FAST
@given(slope=st.floats(-3.0, -0.3), c=st.floats(0.1, 100.0), seed=st.integers(0, 10_000))
def test_power_law_slope_recovered_within_its_interval(slope, c, seed):
    n = np.unique(np.geomspace(10, 1000, 40).round())
    fit = rates.fit_power_law(n, noisy(c * n**slope, seed, 0.05))
    assert abs(fit.slope - slope) < 0.05
    assert fit.slope_ci[0] < fit.slope_ci[1]
    # a 95% interval: allow it to miss slightly (the check is on the estimate above)
    assert fit.slope_ci[0] - 0.02 <= slope <= fit.slope_ci[1] + 0.02


def test_power_law_interval_covers_truth_about_95_percent():
    n = np.arange(10, 200, 10)
    hits = 0
    for seed in range(200):
        fit = rates.fit_power_law(n, noisy(2.0 * n**-2.0, seed, 0.1))
        hits += fit.slope_ci[0] <= -2.0 <= fit.slope_ci[1]
    assert 180 <= hits <= 199


@FAST
@given(q=st.floats(0.5, 0.99), seed=st.integers(0, 10_000))
def test_exponential_contraction_recovered(q, seed):
    n = np.arange(1, 60)
    fit = rates.fit_exponential(n, noisy(3.0 * q**n, seed, 0.05))
    assert fit.contraction == pytest.approx(q, abs=0.01)
    assert fit.contraction_ci[0] <= fit.contraction <= fit.contraction_ci[1]


@pytest.mark.parametrize(
    "law, curve",
    [
        ("inverse", lambda n: 5.0 / n),
        ("inverse_square", lambda n: 5.0 / n**2),
        ("log_over_n", lambda n: 5.0 * np.log(n) / n),
        ("exponential", lambda n: 5.0 * np.exp(-0.05 * n)),
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_compare_laws_picks_the_generating_law(law, curve, seed):
    n = np.arange(5, 300, 5)
    result = rates.compare_laws(n, noisy(curve(n), seed, 0.1))
    assert result.best == law
    assert result.margin > 2.0
    assert {f.name for f in result.fits} == set(rates.CANDIDATE_LAWS)


def test_local_slopes_show_a_regime_change():
    n = np.unique(np.geomspace(2, 5000, 60).round())
    loss = 1.0 / n + 100.0 / n**2  # slope -2 early, -1 late
    loc = rates.local_slopes(n, loss, window=5)
    assert loc.slope[0] < -1.8 and loc.slope[-1] > -1.1
    assert list(loc.n) == sorted(loc.n)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: rates.fit_power_law([1, 2], [1, 2]), "at least 3"),
        (lambda: rates.fit_power_law([1, 2, 3], [1, 0, 2]), "positive"),
        (lambda: rates.fit_power_law([1, 2, 3], [1, 2]), "same length"),
        (lambda: rates.fit_power_law([0, 1, 2], [1, 1, 1]), "x values must be positive"),
        (lambda: rates.fit_power_law([2, 2, 2], [1, 2, 3]), "two distinct"),
        (lambda: rates.compare_laws([1, 2, 3], [1, 1, 1]), "n >= 2"),
        (lambda: rates.compare_laws([2, 3, 4], [1, 1, 1], criterion="r2"), "criterion"),
        (lambda: rates.local_slopes([1, 2, 3], [1, 1, 1], window=1), "window"),
        (lambda: rates.fit_exponential([1, 2, 3], [1, math.nan, 2]), "finite"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
