"""sims.experiments.pretraining.tables: E3's tables over rows, on built rows."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from sims.experiments.pretraining import quick
from sims.experiments.pretraining.tables import (eps_values, informative_ratios, mean_interval, paired, per_m,
                                                 setups_with, t_star_text)


def _row(metric, value, m=100, seed=0, eps=0.1, setup="mf-teacher"):
    return dict(dataset=setup, method="gfs", m=m, n=None, seed=seed, metric=metric, value=value, step=None, eps=eps)


def test_mean_interval_is_students_t_and_none_with_an_infinite_value():
    mean, low, high = mean_interval([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) / math.sqrt(3)  # sd 1
    assert mean == 2.0 and (low, high) == pytest.approx((2.0 - half, 2.0 + half), rel=1e-12)
    assert mean_interval([5.0]) == (5.0, 5.0, 5.0)
    assert mean_interval([1.0, math.inf]) is None and mean_interval([]) is None


def test_rows_per_m_and_criteria_and_set_ups_present():
    rows = [_row("pretrain_steps", 3.0, m=300), _row("pretrain_steps", 2.0, m=100, seed=1),
            _row("pretrain_steps", 4.0, m=100, eps=0.05), _row("identity_z", 0.3, setup="ntk-teacher")]
    assert per_m(rows, "mf-teacher", "pretrain_steps", 0.1) == {100: [2.0], 300: [3.0]}
    assert list(per_m(rows, "mf-teacher", "pretrain_steps", 0.1)) == [100, 300]  # sorted by m
    assert eps_values(rows, "mf-teacher", "pretrain_steps") == [0.1, 0.05]
    assert setups_with(rows, quick(), "identity_z") == ["ntk-teacher"]


def test_paired_matches_by_m_seed_and_eps_and_informative_points_exclude_the_vacuous():
    rows = [_row("pretrain_steps", 4.0), _row("certificate_steps", 8.0),
            _row("pretrain_steps", 0.0, seed=1), _row("certificate_steps", 5.0, seed=1),
            _row("pretrain_steps", 6.0, seed=2), _row("certificate_steps", math.inf, seed=2),
            _row("pretrain_steps", 7.0, seed=3)]  # no bound: left out
    pairs = paired(rows, "mf-teacher", "pretrain_steps", "certificate_steps")
    assert [(t, b) for t, b, _ in pairs] == [(4.0, 8.0), (0.0, 5.0), (6.0, math.inf)]
    assert pairs[0][2] == "m=100 seed=0 eps=0.1"
    assert informative_ratios(pairs).tolist() == [2.0]


def test_t_star_text_gives_intervals_and_unreached_seeds():
    rows = [_row("pretrain_steps", 2.0), _row("pretrain_steps", 4.0, seed=1),
            _row("pretrain_steps", 5.0, m=300), _row("pretrain_steps", math.inf, m=300, seed=1)]
    text = t_star_text(rows, "mf-teacher", "pretrain_steps", 0.1)
    half = stats.t.ppf(0.975, 1) * math.sqrt(2) / math.sqrt(2)
    assert text == f"m=100: 3.0 [{3 - half:.1f}, {3 + half:.1f}]; m=300: not reached by 1 of 2 seeds"
