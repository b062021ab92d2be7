"""theory.claims.verdict: the verdict record refuses an outcome of the other kind, and a claim over
several groups combines its groups' verdicts (outcome, error rates, power, how many were testable)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from theory.claims.slopes import fast_beyond_boundary, gfs_inverse_square_rate, tail_slopes
from theory.claims.t_rule import t_verdict
from theory.claims.verdict import Verdict, combine_groups, not_testable
from theory.inference import Calibration

from tests.theory.claims.helpers import phase_rows, rate_rows


def test_verdict_refuses_an_outcome_of_the_other_kind():
    with pytest.raises(ValueError, match="outcome"):
        Verdict("x", "violated", "s")  # empirical claims do not "violate"
    with pytest.raises(ValueError, match="outcome"):
        Verdict("x", "indistinguishable", "s", kind="theorem")
    assert Verdict("x", "violated", "s", kind="theorem").held is False
    assert Verdict("x", "indistinguishable", "s").held is None


def test_groups_combine_with_any_failure_deciding():
    """Two (dataset, m) groups: one fast, one slow gives "did not hold"; one fast and one
    indistinguishable gives "indistinguishable"; the calibration keeps the worst false-held rate."""
    fast = rate_rows([-2.0, -2.1, -1.95], dataset="a")
    slow = rate_rows([-1.0, -1.05, -0.98], dataset="b")
    unclear = rate_rows([-2.5, -1.0, -1.4], dataset="c")
    assert gfs_inverse_square_rate(fast + slow).outcome == "did not hold"
    mixed = gfs_inverse_square_rate(fast + unclear)
    assert mixed.outcome == "indistinguishable"
    assert mixed.false_held_rate == max(gfs_inverse_square_rate(fast).false_held_rate,
                                        gfs_inverse_square_rate(unclear).false_held_rate)


def test_a_claim_over_groups_is_not_testable_unless_every_group_is():
    """'fast wherever n exceeds (D/r)^2': m = 4 testable (5 seeds past), m = 6 with one seed past:
    not testable, naming 1 of 2 groups (before, 'held' on m = 4 alone)."""
    rows = phase_rows({4: [-2.0, -2.05, -1.98, -2.02, -2.01]}, {4: 100.0})
    alone = fast_beyond_boundary(rows)
    assert alone.outcome == "held" and (alone.groups_tested, alone.groups_total) == (1, 1)
    rows += phase_rows({6: [-2.0]}, {6: 100.0})
    both = fast_beyond_boundary(rows)
    assert both.outcome == "not testable" and (both.groups_tested, both.groups_total) == (1, 2)
    assert "1 of 2 groups testable" in both.summary


def test_groups_combine_rates_and_bonferroni_did_not_hold():
    """Two groups: false held is the larger of the groups', false did not hold 1 - prod(1 - r),
    power the product; each group's 'did not hold' is at 2.5%/2, so a slope whose one-sided p lies
    between 0.0125 and 0.025 fails alone but not in a pair."""
    a = rate_rows([-2.0, -2.1, -1.95, -2.05, -1.9], dataset="a")
    b = rate_rows([-1.0, -1.05, -0.98, -1.02, -1.01], dataset="b")
    pair = gfs_inverse_square_rate(a + b)
    one, two = gfs_inverse_square_rate(a), gfs_inverse_square_rate(b)
    assert pair.false_held_rate == pytest.approx(max(one.false_held_rate, two.false_held_rate), abs=0.01)
    assert pair.false_not_held_rate == pytest.approx(
        1 - (1 - pair_part(a + b, 1).false_not_held_rate) * (1 - pair_part(a + b, 2).false_not_held_rate))
    assert (pair.groups_tested, pair.groups_total) == (2, 2)
    # t statistic 3.2 above -1.5 with 5 seeds: one-sided p = 0.0165
    base = np.array([-0.2, -0.1, 0.0, 0.1, 0.2])
    slopes = -1.5 + base - base.mean() + 3.2 * base.std(ddof=1) / math.sqrt(5)
    p = stats.ttest_1samp(slopes, -1.5, alternative="greater").pvalue
    assert 0.0125 < p < 0.025
    borderline = rate_rows(list(slopes), dataset="b")
    assert gfs_inverse_square_rate(borderline).outcome == "did not hold"
    assert gfs_inverse_square_rate(a + borderline).outcome == "indistinguishable"


def pair_part(rows, group):
    """The group-level verdict of gfs_inverse_square_rate inside a two-group call (its 'did not
    hold' at 2.5%/2), rebuilt from that group's slopes."""
    verdict = gfs_inverse_square_rate(rows)
    slopes = [s for s in tail_slopes(rows, method="gfs").items() if s[0][0] == "ab"[group - 1]]
    values = [s[1][0] for s in slopes]
    return t_verdict("x", values, -1.5, "", {}, effect=-2.0, null="", alternative="", groups=2) \
        if verdict else None


def test_not_testable_is_one_group_none_of_it_tested():
    verdict = not_testable("c", "2 seeds; need 3", 2, {"x": 1.0})
    assert (verdict.outcome, verdict.summary, verdict.seeds, verdict.numbers, verdict.kind) == (
        "not testable", "2 seeds; need 3", 2, {"x": 1.0}, "empirical")
    assert (verdict.groups_tested, verdict.groups_total) == (0, 1) and verdict.false_held_rate is None
    assert not_testable("c", "why").numbers == {} and not_testable("c", "why").seeds == 0


def test_with_calibration_carries_both_rates_the_power_and_the_design():
    calibration = Calibration(0.02, 0.8, 100, "the truth at 0", "it is -1", false_not_held_rate=0.01,
                              effect_of_interest=-1.0)
    verdict = Verdict("c", "held", "s", {"a": 1.0}, seeds=3).with_calibration(calibration)
    assert (verdict.false_held_rate, verdict.false_not_held_rate, verdict.power) == (0.02, 0.01, 0.8)
    assert verdict.effect_of_interest == -1.0 and verdict.calibration_replicates == 100
    assert verdict.numbers == {"a": 1.0, "calibration_replicates": 100.0}
    assert verdict.calibration_null == "the truth at 0" and (verdict.groups_tested, verdict.groups_total) == (1, 1)
    assert verdict.calibration_note == ("false held 2.0%; false did not hold 1.0% if the truth at 0; power 80% if "
                                        "it is -1 (100 simulations each)")
    no_rate = Verdict("c", "held", "s").with_calibration(Calibration(0.02, 0.8, 100, "t", "e"))
    assert "did not hold" not in no_rate.calibration_note and no_rate.false_not_held_rate is None


def _part(outcome, false_held, false_not_held, power, seeds=3):
    return Verdict("c", outcome, outcome, {"x": 1.0}, seeds=seeds, false_held_rate=false_held,
                   false_not_held_rate=false_not_held, power=power, effect_of_interest=-2.0,
                   calibration_null="the truth at -1.5", calibration_replicates=50, calibration_note=outcome)


def test_combine_groups_on_constructed_verdicts():
    """Outcome: did not hold if any group did not, held if all held, else indistinguishable; false
    held the largest, false did not hold 1 - prod(1 - r), power the product; numbers per group."""
    held = combine_groups("c", [_part("held", 0.01, 0.02, 0.9), _part("held", 0.03, 0.01, 0.8, seeds=5)])
    assert held.outcome == "held" and held.seeds == 3 and held.summary == "held | held"
    assert held.false_held_rate == 0.03 and held.false_not_held_rate == pytest.approx(1 - 0.98 * 0.99)
    assert held.power == pytest.approx(0.72) and held.effect_of_interest == -2.0
    assert held.numbers == {"x (group 1)": 1.0, "x (group 2)": 1.0} and (held.groups_tested, held.groups_total) == (2, 2)
    assert held.calibration_null == "each of 2 groups at its boundary: the truth at -1.5"
    assert held.calibration_replicates == 50 and held.calibration_note == "held | held"
    assert combine_groups("c", [_part("held", 0.01, 0.02, 0.9)]).calibration_null == "the truth at -1.5"
    assert combine_groups("c", [_part("held", 0, 0, 1), _part("indistinguishable", 0, 0, 1)]).outcome == \
        "indistinguishable"
    assert combine_groups("c", [_part("indistinguishable", 0, 0, 1), _part("did not hold", 0, 0, 1),
                                _part("held", 0, 0, 1)]).outcome == "did not hold"
    partly = combine_groups("c", [_part("held", 0.01, 0.02, 0.9), not_testable("c", "m=6: 1 seed")])
    assert partly.outcome == "not testable" and (partly.groups_tested, partly.groups_total) == (1, 2)
    assert partly.summary == "1 of 2 groups testable, and the claim names all: held; m=6: 1 seed"
    assert partly.seeds == 3 and partly.false_held_rate is None
    empty = combine_groups("c", [])
    assert empty.outcome == "not testable" and empty.summary.endswith("no matching rows") and empty.seeds == 0
