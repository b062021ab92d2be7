"""theory.claims.growth: the growth-law verdict on T*(m): every outcome and its reason, the floor
T* = 0, censoring at the budget, the bootstrap gate, the calibration (T* simulated as measured,
both error rates at the boundaries) and the rows wrapper; and its steps one by one: which sizes
enter, the points with censoring, the numbers and the sentence."""

from __future__ import annotations

import math

import numpy as np
import pytest

from theory import inference
from theory.claims import growth as growth_module
from theory.claims.growth import (GROWTH_CALIBRATION_RESAMPLES, GROWTH_CHANGE_GRID, growth_decisions, growth_design,
                                  growth_evidence, growth_law_verdict, growth_sizes, pretraining_grows_logarithmically)

from tests.theory.claims.helpers import row


MS = np.array([100, 250, 630, 1600, 4000, 10000, 32000])


def growth(law, noise=0.5, seeds=8, rng_seed=0, ms=MS):
    rng = np.random.default_rng(rng_seed)
    return [list(law(m) + rng.normal(0, noise, seeds)) for m in ms]


def test_growth_law_every_outcome():
    held = growth_law_verdict("c", MS, growth(lambda m: 10 + 5 * np.log(m)))
    assert held.outcome == "held", held.summary
    assert held.numbers["log_b"] == pytest.approx(5.0, abs=0.2)
    assert held.false_held_rate <= 0.05 and held.power > 0.5
    for law, reason in ((lambda m: 10 + 0.3 * np.sqrt(m), "grows faster than log m"),
                        (lambda m: 10 + 0.005 * m, "grows faster than log m"),
                        (lambda m: 60 - 5 * np.log(m), "falls with more data (b < 0)"),
                        (lambda m: 12.0 + 0 * m, "hardly changes (flat)")):
        verdict = growth_law_verdict("c", MS, growth(law, noise=0.3))
        assert verdict.outcome == "did not hold", verdict.summary
        assert f"did not hold because T* {reason}" in verdict.summary  # the evidence names the rule
        assert "because" not in held.summary
    noisy = growth_law_verdict("c", MS, growth(lambda m: 10 + 1 * np.log(m), noise=6.0))
    assert noisy.outcome == "indistinguishable", noisy.summary
    assert "because" not in noisy.summary
    assert growth_law_verdict("c", MS[:3], growth(lambda m: np.log(m), ms=MS[:3])).outcome == "not testable"
    assert growth_law_verdict("c", MS, growth(lambda m: np.log(m), seeds=2)).outcome == "not testable"


def test_growth_law_evidence_says_when_a_shape_test_fired_on_a_falling_curve():
    """Censored data (never reached at the smallest sizes, entered at the budget) that then fall:
    the only rule allowed under censoring is "faster than log", a shape test, and a steep fall
    passes it; the evidence must not call that growth."""
    rng = np.random.default_rng(3)
    budget = 30.0
    t_star = [[math.inf] * 8, [math.inf] * 8] + [list(30 - 0.0027 * m + rng.normal(0, 0.5, 8)) for m in MS[2:6]]
    verdict = growth_law_verdict("c", MS[:6], t_star, censor_at=budget)
    assert verdict.outcome == "did not hold", verdict.summary
    assert "did not hold because T* falls more steeply than log m would (b < 0)" in verdict.summary
    assert "grows faster" not in verdict.summary


def test_growth_law_with_t_star_zero_everywhere_is_not_testable_but_a_flat_positive_law_did_not_hold():
    """T* = 0 at every point means the criterion is met at initialisation: there is nothing to
    grow, so no verdict (before, the 'flat' rule said 'did not hold' with power 0). One non-zero
    point, or a constant positive T*, is a measurement again."""
    zeros = [[0.0] * 8 for _ in MS]
    verdict = growth_law_verdict("c", MS, zeros)
    assert verdict.outcome == "not testable" and "met before any training" in verdict.summary
    one_step = [row[:] for row in zeros]
    one_step[0][0] = 1.0  # at the smallest size: the zeros after it are measurements (after leading floor sizes: next test)
    assert growth_law_verdict("c", MS, one_step).outcome != "not testable"
    assert growth_law_verdict("c", MS, growth(lambda m: 12.0 + 0 * m, noise=0.3)).outcome == "did not hold"


def test_growth_law_leaves_out_the_smallest_sizes_at_the_floor():
    """A log law clipped at T* = 0: where it would be negative every seed meets the criterion at
    initialisation. Entered at 0, those sizes bent the fit into "faster than log" (did not hold);
    they are left out, and with fewer than 4 sizes above them the claim is not testable."""
    law = lambda m: np.maximum(0.0, 6.0 * np.log(m / 700.0))  # noqa: E731; 0 at m = 100, 250, 630
    values = [list(np.where(law(m) > 0, law(m) + np.random.default_rng(int(m)).normal(0, 0.5, 8), 0.0))
              for m in MS]
    assert all(np.all(np.asarray(v) == 0) for v in values[:3]) and all(np.all(np.asarray(v) > 0) for v in values[3:])
    verdict = growth_law_verdict("c", MS, values)
    assert verdict.outcome == "held", verdict.summary  # before: "did not hold" (c = 0.30 [0.25, ...])
    assert verdict.numbers["floor_sizes"] == 3 and verdict.numbers["sizes"] == 4 and "100, 250, 630" in verdict.summary
    few = growth_law_verdict("c", MS[:6], [[0.0] * 8] * 3 + values[3:6])
    assert few.outcome == "not testable" and "3 size(s) above the floor" in few.summary
    # zeros after a positive size are measurements (T* fell to the floor), not left out
    falling = [[5.0 + 0.1 * s for s in range(8)]] + [[0.0] * 8] * 6
    assert growth_law_verdict("c", MS, falling).numbers["floor_sizes"] == 0


def test_growth_law_exponent_threshold_pinned_from_both_sides():
    """Exact Box-Cox laws with tiny noise (the exponent's interval is then ±0.01): c = 0.15 and
    0.21 count as logarithmic, c = 0.29 and 0.35 as faster: the margin is 0.25."""
    def box_cox(c):
        return lambda m: 10 + 4 * (m**c - 1) / c

    for c in (0.15, 0.21):
        assert growth_law_verdict("c", MS, growth(box_cox(c), noise=0.02)).outcome == "held", c
    for c in (0.29, 0.35):
        faster = growth_law_verdict("c", MS, growth(box_cox(c), noise=0.02))
        assert faster.outcome == "did not hold" and faster.numbers["exponent_low"] > 0.25, c


def test_growth_law_with_unreached_sizes():
    """Infinite T* enter at the budget as lower bounds: never "held"; a clearly faster growth
    still "did not hold"."""
    values = growth(lambda m: 10 + 5 * np.log(m))
    values[-1][0] = math.inf
    censored = growth_law_verdict("c", MS, values, censor_at=70.0)
    assert censored.outcome == "indistinguishable" and censored.numbers["censored_points"] == 1
    fast = growth(lambda m: 10 + 0.01 * m, noise=0.5)
    fast[-1] = [math.inf] * 8
    assert growth_law_verdict("c", MS, fast, censor_at=200.0).outcome == "did not hold"


def test_growth_law_bootstrap_gate():
    """A decisive fit outcome that recurs in fewer than 90% of seed resamples is downgraded."""
    rng = np.random.default_rng(0)
    m_points = np.repeat(MS, 4).astype(float)
    groups = [np.arange(i * 4, i * 4 + 4) for i in range(MS.size)]
    found = 0
    for trial in range(300):
        values = 10 + 1.0 * np.log(m_points) + rng.normal(0, 0.6, m_points.size)
        base = inference.growth_outcomes(inference.growth_fits(m_points, values[:, None]))[0]
        final, agreement = growth_decisions(m_points, values[:, None], groups, False, 200,
                                            np.random.default_rng(trial))
        if base == "held" and 0.5 < agreement[0] < inference.BOOTSTRAP_AGREEMENT:
            assert final[0] == "indistinguishable"
            found += 1
        if base == "held" and agreement[0] >= inference.BOOTSTRAP_AGREEMENT:
            assert final[0] == "held"
        if found >= 2:
            break
    assert found, "no unstable 'held' instance found"
    assert inference.BOOTSTRAP_AGREEMENT == 0.9


def test_growth_law_false_held_rate_under_the_nearest_power_law():
    held = 0
    for trial in range(20):
        values = growth(lambda m: 10 + 4 * (m**0.25 - 1) / 0.25, noise=1.0, rng_seed=100 + trial)
        held += growth_law_verdict("c", MS, values, calibration_replicates=20).outcome == "held"
    assert held / 20 <= 0.05


def _spy_growth_decisions(monkeypatch):
    """Record every (values, censored) batch the growth rule decides."""
    seen = []
    original = growth_module.growth_decisions

    def spy(m_points, values, groups, censored, resamples, rng):
        seen.append((np.array(values), censored, resamples))
        return original(m_points, values, groups, censored, resamples, rng)

    monkeypatch.setattr(growth_module, "growth_decisions", spy)
    return seen


def test_growth_calibration_simulates_t_star_as_measured(monkeypatch):
    """Inside the calibration T* is a whole step, clipped at 0 and censored at the budget (entered
    there, and decided by the censored rule): a log law near 0 at the smallest size and near the
    budget 45 at the largest. Scenarios: c = +0.25 and -0.25 over the change grid (2, 8, 32 noise
    sd, raised to the flat boundary, lowered to stay >= 0), the flat boundary and the power law:
    each batch has calibration_replicates columns and 50 seed resamples."""
    seen = _spy_growth_decisions(monkeypatch)
    values = [[math.inf if t >= 45 else max(t, 0.0) for t in ts] for ts in growth(lambda m: -33 + 7.5 * np.log(m),
                                                                                    noise=2.0)]
    verdict = growth_law_verdict("c", MS, values, censor_at=45.0, calibration_replicates=40)
    batches = seen[1:]  # the first is the verdict itself
    simulated = np.concatenate([b[0] for b in batches], axis=1)
    assert np.all(simulated == np.rint(simulated)) and simulated.min() == 0.0 and simulated.max() == 45.0
    assert {censored for _, censored, _ in batches} == {True, False}
    for batch, censored, resamples in batches:
        assert resamples == GROWTH_CALIBRATION_RESAMPLES == 50
        assert np.all(np.any(batch >= 45.0, axis=0)) if censored else not np.any(batch >= 45.0)
    assert sum(b[0].shape[1] for b in batches) % 40 == 0
    assert GROWTH_CHANGE_GRID == (2.0, 8.0, 32.0)
    assert "censored at 45" in verdict.calibration_null and "clipped at 0" in verdict.calibration_null
    assert verdict.calibration_replicates == 40


def test_growth_calibration_rates_at_the_boundaries(monkeypatch):
    """At an 8-seed, 7-size design with a log law: both error rates at most 5% (c = ±0.25 and the
    flat boundary are the truths), power at the design's own b; the outcome is the flat boundary's
    when the held rule only asked for 'not significantly flat' (59.5% held there before)."""
    verdict = growth_law_verdict("c", MS, growth(lambda m: 10 + 5 * np.log(m)))
    assert verdict.outcome == "held"
    assert verdict.false_held_rate <= 0.05 and verdict.false_not_held_rate <= 0.05
    assert verdict.power >= 0.9 and verdict.effect_of_interest == pytest.approx(verdict.numbers["log_b"])
    # a log law changing by exactly 10% of its mean over the sizes: held at most 5%
    level = 48.0
    flat = lambda m: level + 0.1 * level * (np.log(m) - np.log(MS).mean()) / np.log(MS[-1] / MS[0])  # noqa: E731
    held = sum(growth_law_verdict("c", MS, growth(flat, rng_seed=s), calibration_replicates=2).outcome
               == "held" for s in range(40))
    assert held / 40 <= 0.05


def test_pretraining_rows_wrapper_filters_by_eps():
    rows = []
    values = growth(lambda m: 10 + 5 * np.log(m))
    for m, per_seed in zip(MS, values):
        for seed, t in enumerate(per_seed):
            rows.append(dict(row("gfs", None, "pretrain_steps", t, m=int(m), seed=seed), eps=0.1))
            rows.append(dict(row("gfs", None, "pretrain_steps", 0.001 * m * t, m=int(m), seed=seed), eps=0.01))
    assert pretraining_grows_logarithmically(rows, eps=0.1).outcome == "held"
    assert pretraining_grows_logarithmically(rows, eps=0.01).outcome == "did not hold"


def test_growth_law_no_growth_is_a_verdict():
    """Flat T* (changes of a few % across 2.5 decades, tight seeds): "did not hold", pinned at the
    10% flatness margin from both sides; constant T* (all seeds equal) too."""
    flat = growth_law_verdict("c", MS, growth(lambda m: 20 + 0.1 * np.log(m), noise=0.2))
    assert flat.outcome == "did not hold", flat.summary
    span = math.log(MS.max() / MS.min())
    # b ln(range) about 15% of the mean: growth is small but measurably above the flatness margin
    small = growth_law_verdict("c", MS, growth(lambda m: 20 + 0.15 * 25 / span * np.log(m), noise=0.05))
    assert small.outcome != "did not hold" or small.numbers["exponent_low"] > 0.25, small.summary
    constant = growth_law_verdict("c", MS, [[7.0] * 8 for _ in MS])
    assert constant.outcome == "did not hold"
    assert inference.FLAT_FRACTION == 0.1


# ----------------------------------------------------------------------------- the steps of the verdict


def test_growth_sizes_leaves_out_sizes_with_too_few_seeds_and_the_floor():
    """Kept: >= 3 seeds, above the leading all-zero sizes, in ascending m whatever the given order;
    seeds: the fewest at a kept size."""
    ms = [10, 20, 30, 40, 50, 60, 70]
    t = [[0.0] * 3, [0.0] * 4, [1.0, 2.0], [3.0, 4.0, 5.0], [5.0, 6.0, 7.0], [6.0, 7.0, 8.0, 9.0], [8.0, 0.0, 10.0]]
    for order in (slice(None), slice(None, None, -1)):
        sizes = growth_sizes(ms[order], t[order])
        assert sizes.why_not_testable == "" and sizes.seeds == 3
        assert [m for m, _ in sizes.kept] == [40, 50, 60, 70] and sizes.too_few == [30.0]
        assert sorted(sizes.floor_sizes) == [10.0, 20.0] and sizes.floor_sizes == sorted(sizes.floor_sizes)
    assert growth_sizes(ms, t).kept[-1][1].tolist() == [8.0, 0.0, 10.0]  # a zero above the floor is a measurement


def test_growth_sizes_says_why_not_testable_and_on_how_many_seeds():
    ms = [10, 20, 30, 40, 50]
    t = [[0.0] * 3, [0.0] * 4, [1.0, 2.0], [3.0, 4.0, 5.0], [5.0, 6.0, 7.0]]
    few = growth_sizes(ms[2:], t[2:])
    assert few.why_not_testable == "2 size(s) with >= 3 seeds; need 4 (too few seeds at m = 30)" and few.seeds == 3
    floor = growth_sizes(ms, t)
    assert floor.why_not_testable.startswith("2 size(s) above the floor T* = 0; need 4 (at m = 10, 20 every seed")
    assert floor.seeds == 3 and floor.floor_sizes == [10.0, 20.0]
    zeros = growth_sizes(ms[:4], [[0.0] * 5] * 4)
    assert zeros.why_not_testable.startswith("T* = 0 at every size and seed") and zeros.seeds == 5
    assert growth_sizes([], []).seeds == 0


def test_growth_design_enters_unreached_t_star_at_the_budget_or_the_largest_finite():
    ms = [10, 20, 30, 40]
    sizes = growth_sizes(ms, [[1.0, 2.0, 3.0], [2.0, math.inf, 4.0], [3.0, 4.0, 5.0], [5.0, 6.0, math.inf]])
    design = growth_design(sizes, censor_at=50.0)
    assert design.censored and design.censored_points == 2 and design.cap == 50.0
    assert design.values.tolist() == [1, 2, 3, 2, 50, 4, 3, 4, 5, 5, 6, 50]
    assert design.m_points.tolist() == [10] * 3 + [20] * 3 + [30] * 3 + [40] * 3
    assert [g.tolist() for g in design.groups] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    assert (design.sizes, design.seeds) == (4, 3)
    no_budget = growth_design(sizes)
    assert no_budget.cap == 6.0 and no_budget.values[4] == 6.0 and no_budget.values[-1] == 6.0
    finite = growth_design(growth_sizes(ms, [[1.0, 2.0, 3.0]] * 4), censor_at=50.0)
    assert not finite.censored and finite.censored_points == 0 and finite.cap == 50.0
    assert math.isnan(growth_design(growth_sizes(ms, [[math.inf] * 3] * 4)).cap)


def test_growth_evidence_numbers_in_order_and_the_sentence():
    sizes = growth_sizes(MS, growth(lambda m: 10 + 5 * np.log(m)))
    design = growth_design(sizes)
    fits = inference.growth_fits(design.m_points, design.values[:, None])
    numbers, text = growth_evidence(sizes, design, fits, "held", 0.95, 200)
    assert list(numbers) == ["sizes", "points", "censored_points", "log_a", "log_b", "log_b_low", "log_b_high",
                             "exponent_c", "exponent_low", "exponent_high", "bic_sqrt_minus_log",
                             "bic_linear_minus_log", "bootstrap_agreement", "floor_sizes"]
    assert numbers["log_b"] == float(fits.b["log"][0]) and numbers["points"] == 56 and numbers["sizes"] == 7
    assert numbers["bootstrap_agreement"] == 0.95 and numbers["floor_sizes"] == 0
    assert text.startswith(f"T* ≈ {numbers['log_a']:.3g} + {numbers['log_b']:.3g} ln m (b in [")
    assert text.endswith("95% of 200 seed resamples agree; 7 sizes × ≥8 seeds") and "because" not in text


def test_growth_evidence_says_what_was_left_out_and_why_it_did_not_hold():
    """Clauses in order: censored points, sizes with too few seeds, floor sizes, the rule that fired."""
    t = [[0.0] * 4, [1.0, 2.0]] + [[7.0, 7.0, 7.0, math.inf]] + [[7.0] * 4] * 4
    sizes = growth_sizes(list(MS), t)
    design = growth_design(sizes, censor_at=9.0)
    fits = inference.growth_fits(design.m_points, design.values[:, None])
    numbers, text = growth_evidence(sizes, design, fits, "did not hold", 1.0, 50)
    assert numbers["censored_points"] == 1 and numbers["floor_sizes"] == 1 and numbers["sizes"] == 5
    tail = text.split("5 sizes × ≥4 seeds")[1]
    assert tail == ("; 1 T* beyond the budget entered at 9 (lower bounds); sizes with < 3 seeds left out: 250"
                    "; sizes with T* = 0 at every seed (the floor), left out: 100"
                    + tail[tail.index("; did not hold because T* "):])
    flat_sizes = growth_sizes(MS, [[7.0] * 8 for _ in MS])
    flat_design = growth_design(flat_sizes)
    flat_fits = inference.growth_fits(flat_design.m_points, flat_design.values[:, None])
    _, flat = growth_evidence(flat_sizes, flat_design, flat_fits, "did not hold", 1.0, 200)
    assert flat.endswith("; did not hold because T* hardly changes (flat)")
