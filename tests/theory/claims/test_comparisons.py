"""theory.claims.comparisons: pruned vs direct training, one method vs a baseline, and the pruned
network vs its strongest competitor: every outcome, Student-t intervals, Holm and Bonferroni over
the competitors, and the false-"held" and false-"did not hold" rates on simulated data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from theory import inference
from theory.claims.comparisons import (paired_improvement, pruned_beats_direct_training,
                                       pruned_beats_strongest_competitor)

from tests.theory.claims.helpers import paired_rows, row


def test_pruned_vs_direct_every_outcome():
    held = pruned_beats_direct_training(paired_rows({10: [0.5, 0.4, 0.6], 100: [-0.3, -0.25, -0.35]}, 3))
    assert held.outcome == "held" and held.seeds == 3
    assert (held.numbers["crossover_low"], held.numbers["crossover_high"]) == (10, 100)
    assert held.numbers["significantly_better_from"] == 100
    lost = pruned_beats_direct_training(paired_rows({10: [0.1, 0.2, 0.3], 100: [0.3, 0.25, 0.35]}, 3))
    assert lost.outcome == "did not hold"
    noisy = pruned_beats_direct_training(paired_rows({10: [0.1, 0.2, 0.3], 100: [-0.3, 0.2, -0.1]}, 3))
    assert noisy.outcome == "indistinguishable"
    two_seeds = pruned_beats_direct_training(paired_rows({10: [0.1, 0.2], 100: [-0.3, -0.3]}, 2))
    assert two_seeds.outcome == "not testable"
    assert pruned_beats_direct_training([row("gfs", 10, "train_loss", 1.0)]).outcome == "not testable"


def test_pruned_vs_direct_uses_student_t_with_seeds_minus_one_degrees_of_freedom():
    """Three gaps with t statistic 3: a normal 95% interval (1.96) would exclude 0, Student's t with
    2 degrees of freedom (4.30) does not. With t statistic 5 both exclude it."""
    base = np.array([-1.0, 0.0, 1.0])  # sd 1
    for t_stat, outcome in ((3.0, "indistinguishable"), (5.0, "held")):
        gaps = base - t_stat / math.sqrt(3)
        verdict = pruned_beats_direct_training(paired_rows({50: [0.0] * 3, 100: list(gaps)}, 3))
        assert verdict.outcome == outcome, verdict.summary
        half = stats.t.ppf(0.975, 2) / math.sqrt(3)
        assert verdict.numbers["log_gap_high"] == pytest.approx(gaps.mean() + half)


def test_pruned_vs_direct_compares_only_sizes_both_measured():
    rows = paired_rows({10: [0.3] * 3, 100: [-0.3, -0.31, -0.29]}, 3)
    rows += [row("gfs", 50, "train_loss", 1e-9, seed=s) for s in range(3)]  # only the pruned curve has n=50
    verdict = pruned_beats_direct_training(rows)
    assert verdict.numbers["sizes_compared"] == 2
    assert (verdict.numbers["crossover_low"], verdict.numbers["crossover_high"]) == (10, 100)


def test_pruned_vs_direct_false_held_rate_at_zero_gap():
    """200 experiments of 3 seeds whose true gap is 0 (noise sd 0.2): "held" at most 5% of the time,
    and the verdict's own calibration agrees."""
    rng = np.random.default_rng(7)
    held, reported = 0, []
    for _ in range(200):
        verdict = pruned_beats_direct_training(paired_rows({10: [0.0] * 3, 100: rng.normal(0, 0.2, 3)}, 3))
        held += verdict.outcome == "held"
        reported.append(verdict.false_held_rate)
    assert held / 200 <= 0.05
    assert max(reported) <= 0.05


def test_paired_improvement_every_outcome():
    def rows_for(gaps):
        out = []
        for seed, gap in enumerate(gaps):
            for n in (5, 50):
                out.append(row("reinit", n, "final_test_loss", 0.2, seed=seed))
                out.append(row("finetune", n, "final_test_loss", 0.2 * math.exp(gap), seed=seed))
        return out

    kw = dict(method="finetune", baseline="reinit", metric="final_test_loss", claim="c")
    assert paired_improvement(rows_for([-0.3, -0.2, -0.25]), **kw).outcome == "held"
    assert paired_improvement(rows_for([0.3, 0.2, 0.25]), **kw).outcome == "did not hold"
    assert paired_improvement(rows_for([0.3, -0.2, 0.05]), **kw).outcome == "indistinguishable"
    assert paired_improvement(rows_for([-0.3, -0.2]), **kw).outcome == "not testable"


def competitor_rows(gaps_by_method, seeds=3, n=100, metric="test_loss"):
    """Rows whose per-seed log-gap ln(gfs) - ln(competitor) is gaps_by_method[competitor][seed]."""
    rows = [row("gfs", n, metric, 1.0, seed=seed) for seed in range(seeds)]
    for method, gaps in gaps_by_method.items():
        rows += [row(method, n, metric, math.exp(-gap), seed=seed) for seed, gap in enumerate(gaps)]
    return rows


def test_strongest_competitor_every_outcome():
    beats_all = competitor_rows({"snip": [-0.5, -0.6, -0.55], "rigl": [-0.2, -0.22, -0.19]})
    verdict = pruned_beats_strongest_competitor(beats_all, competitors=("snip", "rigl"), metric="test_loss")
    assert verdict.outcome == "held" and verdict.summary.startswith("strongest competitor rigl")
    assert verdict.numbers["competitors_beaten"] == 2 and verdict.false_held_rate is not None
    # beating the weak one does not carry over to the strong one
    mixed = competitor_rows({"snip": [-0.5, -0.6, -0.55], "rigl": [-0.1, 0.1, 0.02]})
    verdict = pruned_beats_strongest_competitor(mixed, competitors=("snip", "rigl"), metric="test_loss")
    assert verdict.outcome == "indistinguishable" and "strongest competitor rigl" in verdict.summary
    worse = competitor_rows({"snip": [-0.5, -0.6, -0.55], "rigl": [0.3, 0.32, 0.29]})
    verdict = pruned_beats_strongest_competitor(worse, competitors=("snip", "rigl"), metric="test_loss")
    assert verdict.outcome == "did not hold"
    two_seeds = competitor_rows({"snip": [-0.5, -0.6]}, seeds=2)
    assert pruned_beats_strongest_competitor(two_seeds, competitors=("snip",),
                                             metric="test_loss").outcome == "not testable"
    assert pruned_beats_strongest_competitor(beats_all, competitors=("grasp",),
                                             metric="test_loss").outcome == "not testable"


def test_strongest_competitor_at_a_given_size():
    rows = competitor_rows({"rigl": [-0.2, -0.22, -0.19]}, n=100) + competitor_rows({"rigl": [0.3, 0.31, 0.29]}, n=50)
    at_100 = pruned_beats_strongest_competitor(rows, competitors=("rigl",), metric="test_loss", n=100)
    at_50 = pruned_beats_strongest_competitor(rows, competitors=("rigl",), metric="test_loss", n=50)
    assert (at_100.outcome, at_50.outcome) == ("held", "did not hold")
    assert at_50.numbers["n_max"] == 50 and "n=50" in at_50.claim


def test_strongest_competitor_never_drops_a_competitor_without_rows():
    """A competitor that diverged on every seed (only diverged_lr rows) or is misspelt makes the
    claim not testable, named in the evidence, instead of "held" against the others."""
    rows = competitor_rows({"snip": [-0.5, -0.6, -0.55]})
    rows += [row("rigl", 100, "diverged_lr", 1.0, seed=seed) for seed in range(3)]
    verdict = pruned_beats_strongest_competitor(rows, competitors=("snip", "rigl"), metric="test_loss")
    assert verdict.outcome == "not testable" and "rigl" in verdict.summary


def test_strongest_competitor_without_n_compares_one_width():
    """Without n, every competitor is compared at the largest size measured for all of them."""
    rows = (competitor_rows({"snip": [-0.5, -0.6, -0.55]}, n=64) + competitor_rows({"rigl": [0.3, 0.31, 0.29]}, n=8)
            + competitor_rows({"snip": [0.4, 0.45, 0.42]}, n=8))
    verdict = pruned_beats_strongest_competitor(rows, competitors=("snip", "rigl"), metric="test_loss")
    assert verdict.numbers["n_max"] == 8 and verdict.outcome == "did not hold"


def test_strongest_competitor_interval_is_bonferroni_over_k_and_did_not_hold_is_holm():
    """Three competitors: the strongest's quoted interval is the 1 - 0.05/3 Student-t interval
    (scipy); a competitor better than GFS with one-sided p between 0.025/3 and 0.025 no longer
    makes "did not hold" (it did with the uncorrected union)."""
    gaps = {"snip": [-0.5, -0.6, -0.55, -0.52, -0.58], "rigl": [0.05, 0.12, -0.01, 0.08, 0.1],
            "grasp": [-0.3, -0.31, -0.29, -0.33, -0.3]}
    verdict = pruned_beats_strongest_competitor(competitor_rows(gaps, seeds=5),
                                                competitors=tuple(gaps), metric="test_loss")
    rigl = np.array(gaps["rigl"])
    low, high = stats.t.interval(1 - 0.05 / 3, 4, loc=rigl.mean(), scale=stats.sem(rigl))
    assert verdict.numbers["interval_level"] == pytest.approx(1 - 0.05 / 3)
    assert (verdict.numbers["log_gap_low"], verdict.numbers["log_gap_high"]) == (pytest.approx(low),
                                                                                   pytest.approx(high))
    p = stats.ttest_1samp(rigl, 0.0, alternative="greater").pvalue
    assert 0.025 / 3 < p < 0.025
    assert verdict.outcome == "indistinguishable"
    assert str(inference.t_outcomes(rigl, 0.0, "below")) == "did not hold"  # the uncorrected single test
    assert verdict.groups_tested == verdict.groups_total == 3


@pytest.mark.slow
def test_strongest_competitor_ties_every_competitor_did_not_hold_at_most_4_percent():
    """E5's design: 9 competitors, 5 seeds, GFS tied with every one (true log-ratio 0), the
    competitors' gaps correlated through GFS's own per-seed loss: 'did not hold' at most 4% over
    600 simulated experiments (the uncorrected union said so 19.5% of the time), and the
    verdict's own false-did-not-hold rate (the worse of its two noise families) stays at most 5%."""
    rng = np.random.default_rng(20)
    names = [f"c{j}" for j in range(9)]
    outcomes, reported = [], []
    for _ in range(600):
        shared = rng.normal(0, 0.05, 5)
        gaps = {name: list(shared + rng.normal(0, 0.05, 5)) for name in names}
        verdict = pruned_beats_strongest_competitor(competitor_rows(gaps, seeds=5), competitors=tuple(names),
                                                    metric="test_loss")
        outcomes.append(verdict.outcome)
        reported.append(verdict.false_not_held_rate)
    assert outcomes.count("did not hold") / 600 <= 0.04
    assert max(reported) <= 0.05
