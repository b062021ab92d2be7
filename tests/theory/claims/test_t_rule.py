"""theory.claims.t_rule: the effects of interest are fixed constants, the t rule's "did not hold" is
split over groups, its verdict carries the p-value and skewness, and its calibrated error rates
and power match the analytic ones under normal noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from theory import inference
from theory.claims.comparisons import pruned_beats_direct_training
from theory.claims.t_rule import EFFECTS, interval_text, t_rule, t_verdict

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


def test_t_rule_splits_did_not_hold_over_groups_and_decides_a_batch():
    """t statistic 3.2 above 0 with 5 seeds (one-sided p 0.0165): "did not hold" alone, not at 2.5%/2;
    the claim "above 0" held; rows of a batch are decided one by one."""
    base = np.array([-0.2, -0.1, 0.0, 0.1, 0.2])
    values = base + 3.2 * base.std(ddof=1) / math.sqrt(5)
    assert 0.0125 < stats.ttest_1samp(values, 0.0, alternative="greater").pvalue < 0.025
    assert t_rule(0.0)(values) == "did not hold"
    assert t_rule(0.0, groups=2)(values) == "indistinguishable"
    assert t_rule(0.0, "above")(values) == "held"
    assert t_rule(0.0)(np.stack([values, -values, base])).tolist() == ["did not hold", "held", "indistinguishable"]


def test_t_verdict_numbers_and_calibration():
    values = [-2.0, -2.1, -1.95]
    verdict = t_verdict("c", values, -1.5, "text", {"slope": -2.0}, effect=-2.0, null="n", alternative="a")
    assert (verdict.outcome, verdict.summary, verdict.seeds) == ("held", "text", 3)
    assert list(verdict.numbers)[:3] == ["slope", "p_did_not_hold", "seed_skewness"]
    assert verdict.numbers["p_did_not_hold"] == pytest.approx(
        stats.ttest_1samp(values, -1.5, alternative="greater").pvalue, rel=1e-9)
    assert verdict.numbers["seed_skewness"] == pytest.approx(stats.skew(values, bias=False))
    assert verdict.calibration_null.startswith("n; ") and verdict.effect_of_interest == -2.0
    assert verdict.false_held_rate <= 0.05 and verdict.power is not None


def test_interval_text_three_significant_digits():
    assert interval_text(inference.MeanInterval(1.23456, 0.5, 2.0, 0.1, 3)) == "1.23 [0.5, 2]"
    assert interval_text(inference.t_interval([5.0])) == "5 [-inf, inf]"
