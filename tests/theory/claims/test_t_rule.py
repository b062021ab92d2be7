"""theory.claims.t_rule: the effects of interest are fixed constants, and the t rule's calibrated
error rates and power match the analytic ones under normal noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from theory import inference
from theory.claims.comparisons import pruned_beats_direct_training
from theory.claims.t_rule import EFFECTS

from tests.theory.claims.helpers import paired_rows


def test_effects_of_interest_are_fixed_constants():
    assert EFFECTS == {"comparison": pytest.approx(math.log(0.9)), "slope": -2.0,
                              "exponential": pytest.approx(math.log(0.5))}
    verdict = pruned_beats_direct_training(paired_rows({10: [0.0] * 5, 100: [-0.3, -0.2, -0.25, -0.1, -0.3]},
                                                              5))
    assert verdict.effect_of_interest == pytest.approx(math.log(0.9))  # not the measured -0.23
    assert verdict.calibration_replicates == inference.MEAN_RULE_REPLICATES == 4000
    assert verdict.groups_tested == verdict.groups_total == 1


def test_t_rule_rates_match_the_analytic_ones_under_normal_noise():
    """With symmetric per-seed values (sample skewness 0) only the normal family is simulated: the
    false held and false did not hold rates at the boundary are each 2.5% (within 4 simulation
    SE), and the power at ln 0.9 with sd 0.1 and 5 seeds is the noncentral-t probability."""
    gaps = [-0.2, -0.1, 0.0, 0.1, 0.2]  # sd 0.158, skewness 0
    verdict = pruned_beats_direct_training(paired_rows({10: [0.0] * 5, 100: gaps}, 5))
    se = math.sqrt(0.025 * 0.975 / 4000)
    assert abs(verdict.false_held_rate - 0.025) < 4 * se and abs(verdict.false_not_held_rate - 0.025) < 4 * se
    sd = float(np.std(gaps, ddof=1))
    power = float(stats.nct.sf(stats.t.ppf(0.975, 4), 4, -math.log(0.9) / sd * math.sqrt(5)))
    assert abs(verdict.power - power) < 4 * math.sqrt(power * (1 - power) / 4000)
