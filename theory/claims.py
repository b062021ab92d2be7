"""The source papers' statements as verdicts over tidy experiment results.

Two kinds of statement are kept apart:

- **Theorem checks** (``kind="theorem"``): a proposition's inequality evaluated at every
  measured point (P2-P4 at every n, P7 at every eps, ...). Outcome "held" or "violated",
  with the worst ratio measured/bound; "not applicable" when the hypothesis is not met
  (for example r = 0 for P3/P4) or there is no point to check. A violation is a bug in the
  code or a broken assumption, never a loose theorem.
- **Empirical claims** (``kind="empirical"``): a rate, a comparison, a growth law. Outcome
  "held", "did not hold" or "indistinguishable", decided by symmetric rules on per-seed
  statistics with Student-t intervals (see ``theory.inference``), or "not testable" when
  there are fewer than ``MIN_SEEDS`` seeds or the regime is absent. Each comes with its
  calibration at the experiment's design: the false-"held" rate with the truth at the claim's
  boundary, the false-"did not hold" rate at its negation's boundary, and the power at an
  effect of interest fixed before the run (``EFFECTS``). A claim over several groups is "not
  testable" unless every group is, and says how many were.

A result set is any iterable of mappings with the columns of ``COLUMNS`` (a CSV read with
``csv.DictReader`` works: strings are converted). Metric names are the constants below;
the experiments write rows under exactly these names.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from theory import bounds, rates
from theory.inference import (
    BOOTSTRAP_AGREEMENT,
    FLAT_FRACTION,
    LOG_LIKE_EXPONENT,
    MIN_SEEDS,
    ONE_SIDED_ALPHA,
    Calibration,
    bootstrap_columns,
    calibrate_mean_rule,
    holm_rejections,
    sample_skewness,
    standard_draws,
    t_outcomes,
    t_p_value,
    growth_fits,
    growth_outcomes,
    growth_reasons,
    side_of,
    t_bounds,
    t_interval,
)

__all__ = [
    "Verdict",
    "THEOREM_OUTCOMES",
    "EMPIRICAL_OUTCOMES",
    "filter_rows",
    "theorem_check",
    "gfs_excess_bound_check",
    "interior_bound_check",
    "reweighted_bound_check",
    "pruned_beats_direct_training",
    "pruned_beats_strongest_competitor",
    "gfs_inverse_square_rate",
    "reweighted_greedy_exponential",
    "fast_beyond_boundary",
    "paired_improvement",
    "growth_law_verdict",
    "pretraining_grows_logarithmically",
    "slope_verdict",
]

COLUMNS = ("experiment", "dataset", "method", "m", "n", "seed", "metric", "value")

# Metric names shared with the experiments.
TRAIN_LOSS = "train_loss"
EXCESS_LOSS = "excess_loss"  # L(f_n) - L(g), g the projection of Y onto the hull's affine span
DENSE_LOSS = "dense_loss"  # L(u) of the dense network (the plain mean of its neurons)
PROJECTION_LOSS = "L_g"  # L(g) of the projection g of Y onto the hull's affine span
VARIANCE = "V"  # neuron variance about the dense mean
RADIUS, DIAMETER, DISTANCE_TO_G = "r", "D", "D_g"
LOCAL_SLOPE = "local_slope"
PREDICTED_BOUNDARY = "predicted_boundary"  # (D/r)^2
PRETRAIN_STEPS = "pretrain_steps"

THEOREM_OUTCOMES = ("held", "violated", "not applicable")
EMPIRICAL_OUTCOMES = ("held", "did not hold", "indistinguishable", "not testable")
FAST_SLOPE = -1.5  # a log-log slope below this is the fast (1/n^2) regime, above it the 1/n one
ROUNDING = 1e-9  # relative slack of a theorem check (float64 rounding of losses near the bound)

# Effects of interest, fixed before any run: each claim kind's power is measured with the truth here.
EFFECT_LOSS_RATIO = 0.9  # comparisons: the better method's loss 0.9 times the other's (log-ratio ln 0.9)
EFFECT_SLOPE = -2.0  # the 1/n^2 rule and "fast beyond (D/r)^2": a log-log slope of -2
EFFECT_CONTRACTION = 0.5  # the exponential rule: h falls by a factor 0.5 per neuron beyond any power of n
EFFECTS = {"comparison": math.log(EFFECT_LOSS_RATIO), "slope": EFFECT_SLOPE,
           "exponential": math.log(EFFECT_CONTRACTION)}


@dataclass(frozen=True)
class Verdict:
    """One statement and what the data say about it.

    outcome: one of THEOREM_OUTCOMES (kind "theorem") or EMPIRICAL_OUTCOMES ("empirical").
    seeds: how many seeds the evidence rests on. The calibration of an empirical rule at this
    design (None for theorem checks and untestable claims): false_held_rate (share of "held"
    with the truth at the claim's boundary), false_not_held_rate (share of "did not hold" at
    its negation's boundary), power (share of "held" at effect_of_interest, in the units of the
    rule's statistic), calibration_null (the truths and noise simulated, a sentence) and
    calibration_replicates. groups_tested / groups_total: how many of the groups a claim names
    were testable (a claim is "not testable" unless all were).
    """

    claim: str
    outcome: str
    summary: str
    numbers: dict[str, float] = field(default_factory=dict)
    kind: str = "empirical"
    seeds: int = 0
    false_held_rate: float | None = None
    power: float | None = None
    calibration_note: str = ""
    false_not_held_rate: float | None = None
    effect_of_interest: float | None = None
    groups_tested: int | None = None
    groups_total: int | None = None
    calibration_null: str = ""
    calibration_replicates: int | None = None

    def __post_init__(self):
        allowed = THEOREM_OUTCOMES if self.kind == "theorem" else EMPIRICAL_OUTCOMES
        if self.kind not in ("theorem", "empirical"):
            raise ValueError(f"kind must be 'theorem' or 'empirical', got {self.kind!r}")
        if self.outcome not in allowed:
            raise ValueError(f"outcome of a {self.kind} statement must be one of {allowed}, got {self.outcome!r}")

    @property
    def held(self) -> bool | None:
        """True for "held", False for "did not hold" / "violated", None otherwise."""
        return {"held": True, "did not hold": False, "violated": False}.get(self.outcome)

    def with_calibration(self, calibration: Calibration) -> "Verdict":
        """This verdict with both error rates and the power of its rule at its design."""
        numbers = dict(self.numbers, calibration_replicates=float(calibration.replicates))
        not_held = ("" if calibration.false_not_held_rate is None else
                    f"; false did not hold {calibration.false_not_held_rate:.1%}")
        note = (f"false held {calibration.false_held_rate:.1%}{not_held} if {calibration.false_scenario}; "
                f"power {calibration.power:.0%} if {calibration.true_scenario} ({calibration.replicates} simulations each)")
        return replace(self, false_held_rate=calibration.false_held_rate, power=calibration.power,
                       false_not_held_rate=calibration.false_not_held_rate,
                       effect_of_interest=calibration.effect_of_interest, calibration_null=calibration.false_scenario,
                       calibration_replicates=calibration.replicates,
                       groups_tested=1 if self.groups_tested is None else self.groups_tested,
                       groups_total=1 if self.groups_total is None else self.groups_total,
                       numbers=numbers, calibration_note=note)


# ------------------------------------------------------------------ rows


def _num(x):
    if x is None or x == "":
        return None
    return float(x)


def _rows(rows: Iterable[Mapping]) -> list[dict]:
    out = []
    for i, row in enumerate(rows):
        missing = [c for c in ("metric", "value") if c not in row]
        if missing:
            raise ValueError(f"row {i} lacks the column(s) {missing}; expected columns {COLUMNS}")
        d = dict(row)
        d["value"] = float(d["value"])
        for c in ("m", "n"):
            d[c] = _num(d.get(c))
        d.setdefault("seed", None)
        out.append(d)
    return out


def filter_rows(rows: Iterable[Mapping], **equal) -> list[dict]:
    """Rows whose columns equal the given values (a value of None matches anything).

    Numeric columns (m, n) compare as numbers, others as strings.
    """
    out = []
    for row in _rows(rows):
        keep = True
        for key, want in equal.items():
            if want is None:
                continue
            have = row.get(key)
            if key in ("m", "n"):
                keep = have is not None and float(have) == float(want)
            else:
                keep = str(have) == str(want)
            if not keep:
                break
        if keep:
            out.append(row)
    return out


def _seed_curves(rows: list[dict], method: str, metric: str) -> dict:
    """{(dataset, m, seed): (n array, value array)} sorted by n, for rows with an n."""
    acc = defaultdict(dict)
    for row in rows:
        if row["metric"] == metric and str(row.get("method")) == method and row["n"] is not None:
            acc[(str(row.get("dataset")), row["m"], str(row.get("seed")))][row["n"]] = row["value"]
    out = {}
    for key, by_n in acc.items():
        ns = np.array(sorted(by_n))
        out[key] = (ns, np.array([by_n[n] for n in ns]))
    return out


def _constants(rows: list[dict]) -> dict:
    """{(dataset, m, seed): {metric: value}} of the rows without an n (geometry, dense loss)."""
    out = defaultdict(dict)
    for row in rows:
        if row["n"] is None:
            out[(str(row.get("dataset")), row["m"], str(row.get("seed")))][row["metric"]] = row["value"]
    return out


def _where(key) -> str:
    dataset, m, seed = key
    return f"{dataset}, m={m:g}, seed {seed}"


def _interval_text(iv) -> str:
    return f"{iv.mean:.3g} [{iv.low:.3g}, {iv.high:.3g}]"


def _not_testable(claim: str, why: str, seeds: int = 0, numbers=None) -> Verdict:
    return Verdict(claim, "not testable", why, numbers or {}, seeds=seeds, groups_tested=0, groups_total=1)


# ------------------------------------------------------------------ theorem checks


def theorem_check(claim: str, measured, bound, *, seeds: int, where=None, absolute_slack: float = 1e-12,
                  floor: float | None = None, censor_at: float | None = None) -> Verdict:
    """Check ``measured <= bound`` at every point (arrays of equal length).

    A point with an infinite bound holds for any measurement, so it is not evidence: it is
    counted apart (``infinite_bound_points``), and with no finite bound at all the outcome is
    "not applicable". Likewise, when the measurement cannot go below ``floor`` (a step count
    T* >= 0), a point measured at the floor holds for every bound >= floor, right or wrong: it
    is counted apart (``floor_points``), and with no other point the outcome is "not
    applicable". With ``censor_at`` (the budget of a step count), a measurement not reached
    within it (inf) whose bound lies beyond the budget is censored: all that is known is
    measured > censor_at, which every bound > censor_at allows, so it is counted apart
    (``censored_points``), never as a violation (an inf measurement with a bound within the
    budget still is one). Slack: ROUNDING relative to the bound plus ``absolute_slack``. ``where``
    (optional, one label per point) names the worst point. Numbers: points (the evidence:
    finite bound, measurement off the floor), infinite_bound_points, floor_points, violations,
    worst_ratio (largest measured/bound over finite positive bounds) and worst_gap (largest
    measured - bound).
    """
    measured = np.asarray(measured, dtype=np.float64).ravel()
    bound = np.asarray(bound, dtype=np.float64).ravel()
    if measured.shape != bound.shape:
        raise ValueError(f"measured and bound must have the same length, got {measured.size} and {bound.size}")
    if measured.size == 0:
        return Verdict(claim, "not applicable", "no point to check", {"points": 0.0}, kind="theorem", seeds=seeds)
    finite = np.isfinite(bound)
    censored = (finite & np.isposinf(measured) & (bound > censor_at)) if censor_at is not None else \
        np.zeros(measured.shape, bool)
    finite = finite & ~censored  # from here on a censored point is treated like an infinite bound: not evidence
    # a measurement at its floor meets every bound >= floor: such a point cannot tell a right bound from a wrong one
    at_floor = (finite & (measured <= floor) & (bound >= floor)) if floor is not None else np.zeros(measured.shape, bool)
    slack = ROUNDING * np.abs(np.where(finite, bound, 0.0)) + absolute_slack
    bad = finite & ~(measured <= bound + slack)
    gap = np.subtract(measured, bound, out=np.full(measured.shape, -np.inf), where=finite & ~at_floor)
    positive = finite & ~at_floor & (bound > 0)
    ratio = np.where(positive, measured / np.where(positive, bound, 1.0), -np.inf)
    worst = int(np.argmax(ratio)) if positive.any() else int(np.argmax(gap))
    numbers = {"points": float(measured.size), "violations": float(bad.sum()),
               "worst_ratio": float(ratio.max()) if positive.any() else math.nan,
               "worst_gap": float(gap.max()) if (finite & ~at_floor).any() else math.nan}
    label = f" at {where[worst]}" if where is not None else ""
    # an infinite bound holds for any measurement: such points are counted apart, never as evidence
    numbers["points"], numbers["infinite_bound_points"] = float(finite.sum()), float((~finite & ~censored).sum())
    if censor_at is not None:
        numbers["censored_points"] = float(censored.sum())
    if floor is not None:
        numbers["points"], numbers["floor_points"] = float((finite & ~at_floor).sum()), float(at_floor.sum())
    censored_text = (f"; {int(censored.sum())} points not reached within the budget {censor_at:g} with a bound "
                     "beyond it (censored) are not counted" if censored.any() else "")
    if not finite.any():
        return Verdict(claim, "not applicable", f"no point with a finite bound and a measurement within the budget "
                       f"(bound infinite at {int((~finite & ~censored).sum())}{censored_text}): nothing to check"
                       if censored.any() else f"the bound is infinite (vacuous) at all {measured.size} points: "
                       "nothing to check", numbers, kind="theorem", seeds=seeds)
    if (at_floor | ~finite).all():
        return Verdict(claim, "not applicable", f"every point is vacuous: the bound is infinite at {int((~finite).sum())} "
                       f"and the measurement is at its floor {floor:g} (which meets any bound >= {floor:g}) at "
                       f"{int(at_floor.sum())} of {measured.size} points: nothing to check", numbers, kind="theorem",
                       seeds=seeds)
    if bad.any():
        first = int(np.argmax(bad))
        text = (f"violated at {int(bad.sum())} of {int(finite.sum())} points; first"
                f"{' at ' + str(where[first]) if where is not None else ''}: measured {measured[first]:.6g} > "
                f"bound {bound[first]:.6g}")
        return Verdict(claim, "violated", text, numbers, kind="theorem", seeds=seeds)
    checked = int((finite & ~at_floor).sum())
    text = (f"held at all {checked} points; tightest{label}: measured/bound = {numbers['worst_ratio']:.3g}"
            if positive.any() else f"held at all {checked} points")
    if (~finite & ~censored).any():
        text += f" with a finite bound ({int((~finite & ~censored).sum())} more points with an infinite bound are not counted)"
    text += censored_text
    if at_floor.any():
        text += (f"; {int(at_floor.sum())} points measured at the floor {floor:g}, which meets any bound, "
                 "are not counted")
    return Verdict(claim, "held", text, numbers, kind="theorem", seeds=seeds)


def _check_groups(claim, rows, method, metric, bound_of, *, experiment=None, dataset=None, m=None):
    """Run ``bound_of(constants, ns, values) -> (bound array) or None (not applicable)`` on
    every (dataset, m, seed) group and check all points together."""
    data = filter_rows(rows, experiment=experiment, dataset=dataset, m=m)
    constants = _constants(data)
    measured, bound, where, skipped, seeds = [], [], [], [], set()
    for key, (ns, values) in sorted(_seed_curves(data, method, metric).items(), key=lambda kv: str(kv[0])):
        b = bound_of(constants.get(key, {}), ns, values)
        if b is None:
            skipped.append(key)
            continue
        measured.append(values)
        bound.append(b)
        where += [f"{_where(key)}, n={n:g}" for n in ns]
        seeds.add(key[2])
    if not measured:
        why = "hypothesis not met or constants missing in every group" if skipped else "no matching rows"
        return Verdict(claim, "not applicable", why, {}, kind="theorem")
    verdict = theorem_check(claim, np.concatenate(measured), np.concatenate(bound), seeds=len(seeds), where=where)
    if skipped:
        verdict = replace(verdict, summary=f"{verdict.summary}; {len(skipped)} group(s) outside the hypothesis")
    return verdict


def gfs_excess_bound_check(rows, *, method: str = "gfs", metric: str = TRAIN_LOSS, experiment=None, dataset=None,
                           m=None) -> Verdict:
    """P2 at every n: ``L(f_n) - L(u) <= V (1 + ln n) / (2n)`` with u the dense network.

    Reads ``metric`` of ``method`` (GFS with replacement) and, per (dataset, m, seed),
    ``dense_loss`` and ``V`` (about the dense mean). ``metric`` is ``train_loss`` (L(f_n)) or
    ``excess_loss`` (L(f_n) - L(g), then ``L_g`` is read too)."""

    def bound_of(constants, ns, values):
        needed = (DENSE_LOSS, VARIANCE) + ((PROJECTION_LOSS,) if metric == EXCESS_LOSS else ())
        if any(name not in constants for name in needed):
            return None
        offset = constants[PROJECTION_LOSS] if metric == EXCESS_LOSS else 0.0
        return constants[DENSE_LOSS] - offset + bounds.gfs_excess_bound(ns, constants[VARIANCE])

    return _check_groups(f"P2: {method} within V(1+ln n)/(2n) of the dense loss at every n", rows, method, metric,
                         bound_of, experiment=experiment, dataset=dataset, m=m)


def interior_bound_check(rows, *, method: str = "gfs", metric: str = EXCESS_LOSS, experiment=None, dataset=None,
                         m=None) -> Verdict:
    """P3 at every n: ``L(f_n) - L(g) <= (D_g^2 + D_g^4/(4 r^2)) / (2 n^2)`` where r > 0.

    Reads ``excess_loss`` of ``method`` (gfs or herding) and ``r``, ``D_g`` per group; groups
    with r = 0 or missing are outside the hypothesis. With a certified lower bound for r the
    inequality still holds (the bound decreases in r)."""

    def bound_of(constants, ns, values):
        r, d_g = constants.get(RADIUS), constants.get(DISTANCE_TO_G)
        if r is None or d_g is None or r <= 0:
            return None
        return bounds.gfs_interior_bound(ns, d_g, r)

    return _check_groups(f"P3: {method} within (D_g²+D_g⁴/4r²)/(2n²) at every n", rows, method, metric, bound_of,
                         experiment=experiment, dataset=dataset, m=m)


def reweighted_bound_check(rows, *, method: str = "fw", metric: str = EXCESS_LOSS, experiment=None, dataset=None,
                           m=None) -> Verdict:
    """P4 at every n: ``h_n <= h_1 (1 - r^2/D^2)^(n-1)``, h = excess loss, where r > 0.

    Reads ``excess_loss`` of ``method`` (fw, fcfw, greedy-opt) including n = 1, and ``r``,
    ``D`` per group."""

    def bound_of(constants, ns, values):
        r, d = constants.get(RADIUS), constants.get(DIAMETER)
        if r is None or d is None or r <= 0 or ns[0] != 1:
            return None
        return values[0] * bounds.reweighted_contraction(r, d) ** (ns - 1)

    return _check_groups(f"P4: {method} within h₁(1-r²/D²)^(n-1) at every n", rows, method, metric, bound_of,
                         experiment=experiment, dataset=dataset, m=m)


# ------------------------------------------------------------------ empirical: comparisons


def _decide(threshold: float, claimed: str = "below", groups: int = 1, skew: float = 0.0):
    """The t rule of :func:`theory.inference.t_outcomes` against ``threshold`` on one data set (a
    string) or a batch of rows (an array of outcomes); with ``groups`` > 1 its "did not hold" is
    at level ONE_SIDED_ALPHA / groups (Bonferroni: a claim over k groups fails when any does);
    ``skew``: the per-seed noise's skewness its critical values allow for."""
    def decide(values):
        outcome = t_outcomes(values, threshold, claimed, not_held_alpha=ONE_SIDED_ALPHA / groups, skew=skew)
        return str(outcome) if outcome.ndim == 0 else outcome

    return decide


def _decide_below(threshold: float):
    """:func:`_decide` for a claim that the true value lies below ``threshold``."""
    return _decide(threshold, "below")


def _t_verdict(claim: str, values, threshold: float, text: str, numbers: dict, *, effect: float, null: str,
               alternative: str, claimed: str = "below", groups: int = 1) -> Verdict:
    """The verdict of the t rule on per-seed ``values`` against ``threshold``, its critical values
    allowing for the values' sample skewness (:func:`theory.inference.t_outcomes`), calibrated at
    the threshold (both error rates) and at ``effect`` (power) by :func:`calibrate_mean_rule`
    (whose simulations are seeded apart from those behind the critical values). ``numbers``
    gains the one-sided Student-t p-value of "did not hold" (p_did_not_hold) and the skewness."""
    values = np.asarray(values, dtype=np.float64)
    skew = sample_skewness(values)
    decide = _decide(threshold, claimed, groups, skew)
    numbers = dict(numbers, p_did_not_hold=t_p_value(values, threshold, claimed), seed_skewness=skew)
    verdict = Verdict(claim, decide(values), text, numbers, seeds=int(values.size))
    return verdict.with_calibration(calibrate_mean_rule(decide, values, [threshold], effect, null=null,
                                                        alternative=alternative))


def pruned_beats_direct_training(
    rows,
    *,
    pruned_method: str = "gfs",
    direct_method: str = "direct-gd",
    metric: str = TRAIN_LOSS,
    experiment=None,
    dataset=None,
    m=None,
) -> Verdict:
    """ICML'20: the pruned network has a lower loss than the same width trained directly.

    Per seed and per size n measured for both methods, the paired log-gap
    ``ln L_pruned - ln L_direct``. The verdict is the t-test of the gap at the largest shared
    n with at least MIN_SEEDS pairs: "held" when its 95% interval is below 0, "did not hold"
    when above, "indistinguishable" otherwise. The crossover is bracketed between two measured
    sizes: the last sign change of the seed-mean gap, and the smallest measured n from which
    the pruned network is significantly better at every larger measured n.
    """
    claim = f"pruned ({pruned_method}) beats direct training ({direct_method}) at the largest width"
    data = filter_rows(rows, experiment=experiment, dataset=dataset, m=m, metric=metric)
    pruned = _seed_curves(data, pruned_method, metric)
    direct = _seed_curves(data, direct_method, metric)
    gaps = defaultdict(list)
    for key, (ns, values) in pruned.items():
        if key not in direct:
            continue
        direct_at = dict(zip(*direct[key]))
        for n, value in zip(ns, values):
            if n in direct_at and value > 0 and direct_at[n] > 0:
                gaps[n].append(math.log(value) - math.log(direct_at[n]))
    sizes = sorted(n for n, g in gaps.items() if len(g) >= MIN_SEEDS)
    if not sizes:
        most = max((len(g) for g in gaps.values()), default=0)
        return _not_testable(claim, f"fewer than {MIN_SEEDS} seeds with both methods at a shared size "
                                    f"(at most {most})", most)
    per_size = {n: t_interval(gaps[n]) for n in sizes}
    outcomes = {n: side_of(iv.low, iv.high, 0.0, "below") for n, iv in per_size.items()}
    n_max = sizes[-1]
    at_end = per_size[n_max]
    outcome = outcomes[n_max]
    numbers = {"n_max": n_max, "log_gap_at_n_max": at_end.mean, "log_gap_low": at_end.low,
               "log_gap_high": at_end.high, "sizes_compared": float(len(sizes))}
    means = [per_size[n].mean for n in sizes]
    changes = [(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1) if (means[i] < 0) != (means[i + 1] < 0)]
    significant_from = None
    for n in reversed(sizes):
        if outcomes[n] != "held":
            break
        significant_from = n
    cross = ""
    if changes:
        lo, hi = changes[-1]
        numbers.update(crossover_low=lo, crossover_high=hi)
        cross = f"; the seed-mean curves last cross between n={lo:g} and n={hi:g}"
    if significant_from is not None:
        numbers["significantly_better_from"] = significant_from
        cross += f"; significantly better at every measured n ≥ {significant_from:g}"
    ratio = math.exp(at_end.mean)
    text = (f"at n={n_max:g}, {pruned_method}/{direct_method} loss ratio {ratio:.3g} "
            f"(log-ratio {_interval_text(at_end)}, {at_end.count} seeds paired){cross}")
    verdict = _t_verdict(claim, gaps[n_max], 0.0, text, numbers, effect=EFFECTS["comparison"],
                         null="the true log-ratio is 0", alternative=f"it is ln {EFFECT_LOSS_RATIO:g}")
    return verdict


def _competitor_outcomes(gaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The intersection-union rule on paired log-gaps ``gaps`` (..., seeds, k competitors): per
    data set, "held" when every competitor's t rule held at ONE_SIDED_ALPHA, "did not hold" when
    Holm's procedure over the k one-sided tests of "worse than a competitor" rejects at least one
    at family-wise ONE_SIDED_ALPHA (for "at least one", Holm decides as Bonferroni: any test at
    ONE_SIDED_ALPHA / k), "indistinguishable" otherwise. Also (..., k) whether each competitor's
    own test held."""
    per = np.swapaxes(np.asarray(gaps, dtype=np.float64), -1, -2)  # (..., k, seeds)
    k = per.shape[-2]
    held_each = t_outcomes(per, 0.0, "below") == "held"
    failed_each = t_outcomes(per, 0.0, "below", not_held_alpha=ONE_SIDED_ALPHA / k) == "did not hold"
    out = np.full(held_each.shape[:-1], "indistinguishable", dtype=object)
    out[np.all(held_each, axis=-1)] = "held"
    out[np.any(failed_each, axis=-1)] = "did not hold"
    return out, held_each


def _calibrate_competitors(gaps: np.ndarray, replicates: int = 4000, seed: int = 0) -> Calibration:
    """Rates of :func:`_competitor_outcomes` at the design of ``gaps`` (seeds, k), keeping the
    dependence between competitors (they share the pruned network's loss per seed). New seeds are
    random combinations sum_j w_j x_j / sqrt(seeds - 1) of the centred seed vectors x_j (so their
    covariance is the seeds' sample covariance), with weights w normal, or a standardised gamma
    with the largest |sample skewness| of a competitor's gaps, of either sign; the worst rate is
    reported. (Resampling the 5 seed vectors with replacement is no noise model: one resample in
    eight has at most two distinct seeds, whose near-zero spread makes some of nine tests
    significant.) False held: one competitor tied (log-gap 0), the rest beaten by far (the
    least favourable point of an intersection-union test), the worst competitor. False did not
    hold: every competitor tied. Power: the pruned loss EFFECT_LOSS_RATIO times every competitor's."""
    seeds, k = gaps.shape
    centred = gaps - gaps.mean(axis=0)
    false_held, false_not_held, power = 0.0, 0.0, 1.0
    skew = max((abs(sample_skewness(gaps[:, j])) for j in range(k)), default=0.0)
    for family, weight_skew in enumerate(sorted({0.0, skew, -skew})):
        rng = np.random.default_rng([seed, family])
        weights = standard_draws(rng, (replicates, seeds, seeds), weight_skew)
        noise = weights @ centred / math.sqrt(max(seeds - 1, 1))
        tied, held_each = _competitor_outcomes(noise)
        false_held = max(false_held, float(held_each.mean(axis=0).max()))
        false_not_held = max(false_not_held, float(np.mean(tied == "did not hold")))
        effect, _ = _competitor_outcomes(noise + EFFECTS["comparison"])
        power = min(power, float(np.mean(effect == "held")))
    return Calibration(false_held, power, replicates,
                       f"one competitor tied (log-ratio 0), the others beaten by far; and every competitor tied "
                       f"(for false did not hold); noise with the seeds' covariance, normal and skewed (skewness "
                       f"±{skew:.2f}), the worst", f"the pruned loss is {EFFECT_LOSS_RATIO:g} times every competitor's",
                       false_not_held_rate=false_not_held, effect_of_interest=EFFECTS["comparison"])


def pruned_beats_strongest_competitor(rows, *, pruned_method: str = "gfs", competitors, metric: str = TRAIN_LOSS,
                                      experiment=None, dataset=None, m=None, n=None) -> Verdict:
    """ICML'20 re-asked: the pruned network beats every same-width competitor, the strongest included.

    Per seed, the paired log-ratio ln L_pruned - ln L_competitor for every competitor in
    ``competitors`` at size ``n``, or without ``n`` at the largest size measured for the pruned
    network and every competitor (one width for all), over the seeds every method has. A
    competitor without rows makes the claim "not testable" (it is named), never silently
    dropped; so do fewer than MIN_SEEDS such seeds. Decision: :func:`_competitor_outcomes` ("held"
    against every competitor at 2.5% each; "did not hold" by Holm over the k competitors). The
    strongest competitor is the one with the largest mean log-ratio (the one the pruned network
    beats by the least); its quoted interval has level 1 - 0.05/k (Bonferroni), so it covers the
    true log-ratio although that competitor was chosen for its estimate. Calibrated by
    :func:`_calibrate_competitors`."""
    claim = f"pruned ({pruned_method}) beats the strongest same-width competitor" + (f" at n={n:g}" if n else "")
    data = filter_rows(rows, experiment=experiment, dataset=dataset, m=m, metric=metric, n=n)
    sizes = {method: {row["n"] for row in data if str(row.get("method")) == method and row.get("n") is not None}
             for method in (pruned_method, *competitors)}
    # a competitor without rows (diverged on every seed, failed, misspelt) is never silently dropped
    missing = [c for c in competitors if not sizes[c]]
    if missing:
        return _not_testable(claim, f"no {metric} rows of the competitor(s) {', '.join(missing)} (diverged, failed or "
                                    f"not run), so 'every competitor' cannot be checked")
    shared = set.intersection(*sizes.values())
    if not shared:
        return _not_testable(claim, f"no size measured for {pruned_method} and every competitor")
    width = max(shared)
    values = defaultdict(dict)  # method -> {seed key: value at the width}
    for key_row in data:
        if key_row.get("n") == width and key_row["value"] > 0:
            values[str(key_row.get("method"))][(str(key_row.get("dataset")), key_row["m"], str(key_row.get("seed")))] = \
                key_row["value"]
    present = list(competitors)
    keys = sorted(set(values[pruned_method]).intersection(*(values[c] for c in present)), key=str)
    if len(keys) < MIN_SEEDS:
        return _not_testable(claim, f"{len(keys)} seed(s) with {pruned_method} and every competitor at n={width:g}; "
                                    f"need {MIN_SEEDS}", len(keys))
    gaps = np.array([[math.log(values[pruned_method][key]) - math.log(values[c][key]) for c in present]
                     for key in keys])  # (seeds, k)
    k = len(present)
    outcome, held_each = _competitor_outcomes(gaps)
    p_values = [t_p_value(gaps[:, j], 0.0, "below") for j in range(k)]
    worse = holm_rejections(p_values)
    strongest = int(np.argmax(gaps.mean(axis=0)))
    level = 1.0 - 2.0 * ONE_SIDED_ALPHA / k
    best = t_interval(gaps[:, strongest], level=level)
    plain = t_interval(gaps[:, strongest])

    def state(j):
        return "beaten" if held_each[j] else ("significantly better than the pruned network (Holm)" if worse[j]
                                              else "not separated")

    others = "; ".join(f"{present[j]}: {state(j)} (log-ratio {gaps[:, j].mean():.3g})" for j in range(k)
                       if j != strongest)
    summary = (f"strongest competitor {present[strongest]}: {state(strongest)}, at n={width:g} loss ratio "
               f"{pruned_method}/{present[strongest]} {math.exp(best.mean):.3g} (log-ratio {_interval_text(best)}, "
               f"{level:.1%} interval for the strongest of {k}, {best.count} seeds paired)"
               + (f" | others: {others}" if others else ""))
    numbers = {"log_gap_at_n_max": best.mean, "log_gap_low": best.low, "log_gap_high": best.high,
               "log_gap_low_unadjusted": plain.low, "log_gap_high_unadjusted": plain.high,
               "interval_level": level, "n_max": width, "competitors": float(k),
               "competitors_beaten": float(held_each.sum()), "competitors_better_holm": float(worse.sum()),
               "p_did_not_hold": float(min(1.0, min(p_values) * k))}
    verdict = Verdict(claim, str(outcome), summary, numbers, seeds=len(keys), groups_tested=k, groups_total=k)
    return verdict.with_calibration(_calibrate_competitors(gaps))


def paired_improvement(rows, *, method: str, baseline: str, metric: str, claim: str, experiment=None, dataset=None,
                       m=None) -> Verdict:
    """``method`` ends with a lower ``metric`` than ``baseline``, paired by seed.

    Per seed, the mean over the sizes n both have of ``ln metric(method) - ln metric(baseline)``;
    t-test of those per-seed means against 0 ("held" when the interval is below 0). The
    per-size seed-mean ratios are listed in the evidence."""
    data = filter_rows(rows, experiment=experiment, dataset=dataset, m=m, metric=metric)
    a, b = _seed_curves(data, method, metric), _seed_curves(data, baseline, metric)
    per_seed, per_size = [], defaultdict(list)
    for key, (ns, values) in a.items():
        if key not in b:
            continue
        other = dict(zip(*b[key]))
        logs = [(n, math.log(v) - math.log(other[n])) for n, v in zip(ns, values) if n in other and v > 0 and other[n] > 0]
        if logs:
            per_seed.append(float(np.mean([g for _, g in logs])))
            for n, g in logs:
                per_size[n].append(g)
    if len(per_seed) < MIN_SEEDS:
        return _not_testable(claim, f"{len(per_seed)} seed(s) with both {method} and {baseline}; "
                                    f"need {MIN_SEEDS}", len(per_seed))
    iv = t_interval(per_seed)
    wins = sum(np.mean(g) < 0 for g in per_size.values())
    detail = "; ".join(f"n={n:g}: ×{math.exp(np.mean(g)):.3g}" for n, g in sorted(per_size.items()))
    text = (f"loss ratio {method}/{baseline} averaged over sizes: ×{math.exp(iv.mean):.3g} "
            f"(mean log-ratio {_interval_text(iv)}, {iv.count} seeds); lower at {wins} of {len(per_size)} "
            f"sizes on the seed mean ({detail})")
    numbers = {"mean_log_ratio": iv.mean, "log_ratio_low": iv.low, "log_ratio_high": iv.high,
               "sizes": float(len(per_size)), "sizes_lower": float(wins)}
    return _t_verdict(claim, per_seed, 0.0, text, numbers, effect=EFFECTS["comparison"],
                      null="the true log-ratio is 0", alternative=f"it is ln {EFFECT_LOSS_RATIO:g}")


# ------------------------------------------------------------------ empirical: rates


RATE_WINDOW = 4.0  # rate fits use n >= n_max / RATE_WINDOW (the last quarter of the sizes, log scale)


def tail_slopes(rows, *, method: str, metric: str = EXCESS_LOSS, floor: float = 0.0, **equal) -> dict:
    """Per-seed log-log slopes of ``metric`` over the rate window n >= n_max / RATE_WINDOW
    (values above ``floor`` only, at least 3 of them): {(dataset, m, seed): (slope, n_low,
    n_high)}. The one definition of "the rate" that claims, tables and figures share."""
    out = {}
    for key, (ns, values) in _seed_curves(filter_rows(rows, **equal), method, metric).items():
        sel = (ns >= ns.max() / RATE_WINDOW) & (values > floor)
        if sel.sum() >= 3:
            out[key] = (rates.fit_power_law(ns[sel], values[sel]).slope, float(ns[sel][0]), float(ns[sel][-1]))
    return out


def _combine(claim: str, parts: list[Verdict]) -> Verdict:
    """One verdict over several groups, which the claim names all: "not testable" unless every
    group is testable (the summary says how many were); then "did not hold" if any group did
    not (each group's "did not hold" is decided at ONE_SIDED_ALPHA / groups by its caller, so
    the union keeps its level), "held" if all held, else "indistinguishable". Calibration: the
    largest false-"held" rate of a group (an intersection-union rule errs only through its
    least favourable group), false "did not hold" 1 - prod(1 - rate) over the groups (all at
    their boundary, independent), and the product of the powers."""
    tested = [v for v in parts if v.outcome != "not testable"]
    total = len(parts)
    if len(tested) < total or not tested:
        why = "; ".join(v.summary for v in parts) or "no matching rows"
        return Verdict(claim, "not testable", f"{len(tested)} of {total} groups testable, and the claim names all: {why}",
                       {}, seeds=min((v.seeds for v in tested), default=0), groups_tested=len(tested),
                       groups_total=total)
    if any(v.outcome == "did not hold" for v in tested):
        outcome = "did not hold"
    elif all(v.outcome == "held" for v in tested):
        outcome = "held"
    else:
        outcome = "indistinguishable"
    numbers = {}
    for i, v in enumerate(tested):
        numbers.update({f"{k} (group {i + 1})": x for k, x in v.numbers.items()})
    rates_false = [v.false_held_rate for v in tested if v.false_held_rate is not None]
    rates_not_held = [v.false_not_held_rate for v in tested if v.false_not_held_rate is not None]
    powers = [v.power for v in tested if v.power is not None]
    notes = [v.calibration_note for v in tested if v.calibration_note]
    effects = {v.effect_of_interest for v in tested}
    return Verdict(claim, outcome, " | ".join(v.summary for v in parts), numbers,
                   seeds=min(v.seeds for v in tested),
                   false_held_rate=max(rates_false) if rates_false else None,
                   false_not_held_rate=float(1.0 - np.prod([1.0 - r for r in rates_not_held])) if rates_not_held else None,
                   power=float(np.prod(powers)) if powers else None,
                   effect_of_interest=effects.pop() if len(effects) == 1 else None,
                   groups_tested=len(tested), groups_total=total,
                   calibration_null=(tested[0].calibration_null if total == 1 else
                                     f"each of {total} groups at its boundary: " + tested[0].calibration_null),
                   calibration_replicates=min(v.calibration_replicates or 0 for v in tested),
                   calibration_note=" | ".join(notes))


def gfs_inverse_square_rate(
    rows,
    *,
    method: str = "gfs",
    metric: str = EXCESS_LOSS,
    threshold: float = FAST_SLOPE,
    experiment=None,
    dataset=None,
    m=None,
) -> Verdict:
    """ICML'20 / P3: in the interior regime GFS's excess loss falls like 1/n^2, not 1/n.

    Per (dataset, m) group and per seed with r > 0: the log-log slope of ``excess_loss`` over
    the fit window n >= n_max/4 (:func:`tail_slopes`). "held" when the t-interval of the per-seed slopes lies below
    ``threshold`` (-1.5, between the slow and the fast law), "did not hold" when above,
    "indistinguishable" otherwise. The evidence says whether n_max reached the theorem's
    sufficient size (D/r)^2: a slow slope before it is a fast rate not observed, not a
    counter-example to P3 (whose inequality is checked by :func:`interior_bound_check`).
    """
    claim = f"{method} falls like 1/n² (log-log slope below {threshold:g}) in the interior regime"
    data = filter_rows(rows, experiment=experiment, dataset=dataset, m=m)
    constants = _constants(data)
    interior = {k for k, c in constants.items() if c.get(RADIUS, 0.0) > 0}
    curves = {k: v for k, v in _seed_curves(data, method, metric).items() if k in interior}
    fitted = tail_slopes(data, method=method, metric=metric)
    if not curves:
        return _not_testable(claim, "no seed with an interior target (r > 0) and an excess-loss curve")
    parts = []
    groups = sorted({k[:2] for k in curves}, key=str)
    for group in groups:
        slopes, windows, boundaries = [], [], []
        for key, (slope, n_low, n_high) in sorted(fitted.items(), key=str):
            if key[:2] != group or key not in interior:
                continue
            slopes.append(slope)
            windows.append((n_low, n_high))
            c = constants[key]
            if DIAMETER in c:
                boundaries.append((c[DIAMETER] / c[RADIUS]) ** 2)
        where = f"{group[0]}, m={group[1]:g}"
        if len(slopes) < MIN_SEEDS:
            parts.append(_not_testable(claim, f"{where}: {len(slopes)} seed(s) with a fit; need {MIN_SEEDS}",
                                       len(slopes)))
            continue
        iv = t_interval(slopes)
        n_low, n_high = min(w[0] for w in windows), max(w[1] for w in windows)
        reach = ""
        numbers = {"slope": iv.mean, "slope_low": iv.low, "slope_high": iv.high, "n_max": n_high}
        if boundaries:
            n_star = float(np.median(boundaries))
            numbers["D_over_r_squared"] = n_star
            reach = (f"; n_max {n_high:g} {'≥' if n_high >= n_star else '<'} (D/r)² = {n_star:.3g} (median), "
                     + ("the theorem's condition was reached" if n_high >= n_star else
                        "the theorem's sufficient size was not reached"))
        text = f"{where}: slope {_interval_text(iv)} over {iv.count} seeds, fit on n in [{n_low:g}, {n_high:g}]{reach}"
        parts.append(_t_verdict(claim, slopes, threshold, text, numbers, effect=EFFECTS["slope"],
                                null=f"the true slope is {threshold:g}",
                                alternative=f"it is {EFFECT_SLOPE:g} (the claimed 1/n²)", groups=len(groups)))
    return _combine(claim, parts)


EXPONENTIAL_MIN_POINTS = 4  # per seed: the three coefficients of the nested law and one residual degree of freedom


def nested_exponential_coefficients(ns, log_values) -> tuple[float, float]:
    """(b, c) of the least-squares fit ln h = a + b n + c ln n of one seed's curve (``ns``, at
    least 3 distinct sizes; ``log_values`` = ln h). A power law h = A n^c has b = 0 exactly and an
    exponential h = A e^(bn) has c = 0, whatever their other coefficients, so each family is a
    point of one coefficient and the least-squares b is unbiased for 0 under every power law."""
    ns = np.asarray(ns, dtype=np.float64)
    design = np.column_stack([np.ones(ns.size), ns, np.log(ns)])
    beta = np.linalg.lstsq(design, np.asarray(log_values, dtype=np.float64), rcond=None)[0]
    return float(beta[1]), float(beta[2])


def reweighted_greedy_exponential(
    rows,
    *,
    method: str = "fw",
    metric: str = EXCESS_LOSS,
    floor: float = 1e-12,
    experiment=None,
    dataset=None,
    m=None,
) -> Verdict:
    """NeurIPS'20 / P4: re-weighted greedy's excess loss falls exponentially in n.

    Per (dataset, m) group and per seed with r > 0: the points with n >= 2 above ``floor``
    times the first excess (the float64 floor), at least EXPONENTIAL_MIN_POINTS of them. Per
    seed, the nested law ln h = a + b n + c ln n (:func:`nested_exponential_coefficients`): b is
    the exponential factor e^b per neuron beyond any power of n. The t rule on the per-seed b
    against 0: "held" when its 95% interval lies below 0 (an exponential factor that no power
    law has), "did not hold" when it lies above 0 (the curve flattens faster than any power law),
    "indistinguishable" otherwise. A power law sits at b = 0 whatever its exponent, so the null
    is never fitted to the curves judged; calibrated by :func:`calibrate_mean_rule` at b = 0 and
    at the effect of interest b = ln EFFECT_CONTRACTION. Over several groups, "did not hold" at
    level 2.5%/groups. The per-seed contraction exp(slope of ln h on n) is reported with its
    t-interval beside P4's bound 1 - r^2/D^2 (checked point by point by
    :func:`reweighted_bound_check`).
    """
    claim = f"{method} falls exponentially in n (semi-log straight line)"
    data = filter_rows(rows, experiment=experiment, dataset=dataset, m=m)
    constants = _constants(data)
    parts = []
    curves_by_group = defaultdict(list)
    for key, (ns, values) in sorted(_seed_curves(data, method, metric).items(), key=str):
        c = constants.get(key, {})
        if c.get(RADIUS, 0.0) <= 0 or values.size == 0 or values[0] <= 0:
            continue
        sel = (ns >= 2) & (values > floor * values[0])
        if sel.sum() >= EXPONENTIAL_MIN_POINTS:
            bound_q = bounds.reweighted_contraction(c[RADIUS], c[DIAMETER]) if DIAMETER in c else math.nan
            curves_by_group[key[:2]].append((ns[sel], np.log(values[sel]), bound_q))
    if not curves_by_group:
        return _not_testable(claim, f"no seed with r > 0 and at least {EXPONENTIAL_MIN_POINTS} points above the "
                                    "float floor")
    for group, entries in sorted(curves_by_group.items(), key=str):
        where = f"{group[0]}, m={group[1]:g}"
        curves = [(ns, lv) for ns, lv, _ in entries]
        if len(curves) < MIN_SEEDS:
            parts.append(_not_testable(claim, f"{where}: {len(curves)} seed(s) with enough points above the float "
                                              f"floor; need {MIN_SEEDS}", len(curves)))
            continue
        nested = np.array([nested_exponential_coefficients(ns, lv) for ns, lv in curves])  # (seeds, 2): b, c
        b_iv, c_iv = t_interval(nested[:, 0]), t_interval(nested[:, 1])
        log_factor = t_interval([np.polyfit(ns, lv, 1)[0] for ns, lv in curves])  # ln(contraction) per seed
        bound_q = float(np.median([q for _, _, q in entries]))
        points = [ns.size for ns, _ in curves]
        text = (f"{where}: in ln h = a + b n + c ln n, the factor e^b per neuron beyond any power of n is "
                f"{math.exp(b_iv.mean):.3g} [{math.exp(b_iv.low):.3g}, {math.exp(b_iv.high):.3g}] and c = "
                f"{_interval_text(c_iv)} ({len(curves)} seeds, {min(points)}-{max(points)} points each); contraction "
                f"per step {math.exp(log_factor.mean):.3g} [{math.exp(log_factor.low):.3g}, "
                f"{math.exp(log_factor.high):.3g}] (geometric mean over seeds) vs P4's bound 1-r²/D² = {bound_q:.4g}")
        numbers = {"exponential_b": b_iv.mean, "exponential_b_low": b_iv.low, "exponential_b_high": b_iv.high,
                   "power_c": c_iv.mean, "power_c_low": c_iv.low, "power_c_high": c_iv.high,
                   "contraction": math.exp(log_factor.mean), "contraction_low": math.exp(log_factor.low),
                   "contraction_high": math.exp(log_factor.high), "bound_contraction": bound_q,
                   "points_min": float(min(points)), "points_max": float(max(points))}
        parts.append(_t_verdict(claim, nested[:, 0], 0.0, text, numbers, effect=EFFECTS["exponential"],
                                null="every seed follows a power law A n^c (b = 0, any A and c)",
                                alternative=f"a factor {EFFECT_CONTRACTION:g} per neuron beyond any power of n "
                                            f"(b = ln {EFFECT_CONTRACTION:g})", groups=len(curves_by_group)))
    return _combine(claim, parts)


def fast_beyond_boundary(rows, *, dataset: str = "phase", method: str = "gfs", threshold: float = FAST_SLOPE,
                         experiment=None) -> Verdict:
    """P3's regime: GFS is fast (local log-log slope below ``threshold``) wherever n exceeds
    the sufficient size (D/r)^2.

    Reads ``local_slope`` rows (per n) and ``predicted_boundary`` = (D/r)^2 per (m, seed).
    For each m, the seeds whose largest n exceeds their own boundary contribute their slope
    at that n; t-test below ``threshold`` per m (at least MIN_SEEDS such seeds). The m that
    are significantly fast before their boundary are counted (the bound is sufficient, not
    necessary)."""
    claim = f"{method} is in the fast regime (local slope < {threshold:g}) wherever n exceeds (D/r)²"
    data = filter_rows(rows, experiment=experiment, dataset=dataset)
    constants = _constants(data)
    beyond, before = defaultdict(list), defaultdict(list)
    for key, (ns, slopes) in _seed_curves(data, method, LOCAL_SLOPE).items():
        boundary = constants.get(key, {}).get(PREDICTED_BOUNDARY, math.inf)
        (beyond if ns[-1] > boundary else before)[key[1]].append(slopes[-1])
    parts = []
    for m_value in sorted(beyond):  # every m where some seed passed its (D/r)^2 is named by the claim
        slopes = beyond[m_value]
        if len(slopes) < MIN_SEEDS:
            parts.append(_not_testable(claim, f"m={m_value:g}: {len(slopes)} seed(s) past (D/r)²; need {MIN_SEEDS}",
                                       len(slopes)))
            continue
        iv = t_interval(slopes)
        parts.append(_t_verdict(claim, slopes, threshold,
                                f"m={m_value:g}: slope {_interval_text(iv)} past (D/r)² ({iv.count} seeds)",
                                {"slope": iv.mean, "m": m_value}, effect=EFFECTS["slope"],
                                null=f"the true slope is {threshold:g}", alternative=f"it is {EFFECT_SLOPE:g}",
                                groups=len(beyond)))
    early = [m_value for m_value, s in before.items()
             if len(s) >= MIN_SEEDS and _decide_below(threshold)(s) == "held"]
    note = (f"; fast before (D/r)² (significantly) at m = {', '.join(f'{x:g}' for x in sorted(early))}"
            if early else "")
    if not parts:
        return _not_testable(claim, "no m has its largest n past (D/r)²" + note)
    verdict = _combine(claim, parts)
    return replace(verdict, summary=verdict.summary + note,
                   numbers=dict(verdict.numbers, fast_before_boundary=float(len(early))))


# ------------------------------------------------------------------ empirical: growth laws


def _growth_decisions(m_points, values, groups, censored, resamples, rng):
    """Decision per column of values (k, R), with the bootstrap gate: a decisive outcome
    stands only if it recurs in >= BOOTSTRAP_AGREEMENT of ``resamples`` seed resamples."""
    base = growth_outcomes(growth_fits(m_points, values), censored=censored)
    if resamples == 0:
        return base, np.ones(base.shape)
    index = bootstrap_columns(groups, resamples, rng)  # (k, B)
    boot = values[index]  # (k, B, R)
    k, b, r = boot.shape
    outcomes = growth_outcomes(growth_fits(m_points, boot.reshape(k, b * r)), censored=censored).reshape(b, r)
    agreement = np.mean(outcomes == base[None, :], axis=0)
    final = np.where((base != "indistinguishable") & (agreement < BOOTSTRAP_AGREEMENT), "indistinguishable", base)
    return final, agreement


def growth_law_verdict(claim: str, m_values, t_by_seed, *, censor_at: float | None = None, resamples: int = 200,
                       calibration_replicates: int = 200, seed: int = 0) -> Verdict:
    """Wolfe et al.: the required pre-training T*(m) grows like log m.

    ``m_values``: the dataset sizes; ``t_by_seed``: for each size, its per-seed T* (inf =
    never reached within the budget ``censor_at``; such values enter at the budget, a lower
    bound, and then only "grows faster than log" can be concluded). All per-seed points are
    fitted to a + b ln m, a + b sqrt m, a + b m (BIC, 2 parameters) and the Box-Cox family
    a + b (m^c - 1)/c (c fitted, with a profile interval). "held": b's interval above 0 with
    growth significantly beyond flat (its lower end times ln(m_max/m_min) above 10% of the mean
    T*), c's interval inside (-0.25, 0.25), log better than sqrt and linear by ΔBIC >= 6, and the
    same outcome in >= 90% of seed-bootstrap resamples; "did not hold": growth decisively faster
    (c's interval above 0.25; a BIC preference for sqrt m or m alone is not enough), slower (c below -0.25), falling (b < 0) or
    flat (with 95% confidence the log law changes T* by at most 10% of its mean over the whole
    range of m), also bootstrap-stable; "indistinguishable" otherwise. Needs >= 4 sizes with >= MIN_SEEDS
    seeds each; "not testable" when T* = 0 everywhere (the criterion holds at initialisation: a
    measurement at its floor, not evidence of a flat law). The smallest sizes where every seed
    has T* = 0 are at that floor too (a growing law clipped at 0 shows them, and entered at 0 they
    make a log law look faster than log): they are left out, and fewer than 4 sizes above them
    is "not testable". Calibrated by :func:`_growth_calibration` at the same sizes, seeds and
    per-size noise, with T* rounded, clipped at 0 and censored as measured: both error rates at
    boundary laws not fitted to the data (c = ±0.25 over a grid of sizes of change, and the flat
    boundary), power at a log law with the design's own |b|.
    """
    sizes = [(float(mv), np.asarray(t, dtype=np.float64)) for mv, t in zip(m_values, t_by_seed)]
    too_few = [mv for mv, t in sizes if t.size < MIN_SEEDS]
    sizes = [(mv, t) for mv, t in sizes if t.size >= MIN_SEEDS]
    seeds = min((t.size for _, t in sizes), default=0)
    if len(sizes) < 4:
        return _not_testable(claim, f"{len(sizes)} size(s) with >= {MIN_SEEDS} seeds; need 4"
                             + (f" (too few seeds at m = {', '.join(f'{x:g}' for x in too_few)})" if too_few else ""),
                             seeds)
    if all(np.all(t == 0) for _, t in sizes):
        return _not_testable(claim, "T* = 0 at every size and seed: the criterion is met before any training, so "
                             "there is no growth to measure (a stricter criterion would give one)", seeds)
    # The smallest sizes where every seed has T* = 0 are at the measurement's floor: any law that
    # grows, clipped at 0, shows them, and entered at 0 they bend a log law into "faster than log".
    sizes.sort(key=lambda size: size[0])
    leading = 0
    while np.all(sizes[leading][1] == 0):
        leading += 1
    floor_sizes = [mv for mv, _ in sizes[:leading]]
    sizes = sizes[leading:]
    floor_text = (f"; sizes with T* = 0 at every seed (the floor), left out: {', '.join(f'{x:g}' for x in floor_sizes)}"
                  if floor_sizes else "")
    if len(sizes) < 4:
        return _not_testable(claim, f"{len(sizes)} size(s) above the floor T* = 0; need 4 (at m = "
                             f"{', '.join(f'{x:g}' for x in floor_sizes)} every seed met the criterion before any "
                             "training, which any growth law clipped at 0 shows)", seeds)
    seeds = min(t.size for _, t in sizes)
    finite_max = max((float(t[np.isfinite(t)].max()) for _, t in sizes if np.isfinite(t).any()), default=math.nan)
    censored = any(not np.all(np.isfinite(t)) for _, t in sizes)
    cap = censor_at if censor_at is not None else finite_max
    if censored and not math.isfinite(cap):
        return _not_testable(claim, "T* was never reached at any size", seeds)
    m_points = np.concatenate([np.full(t.size, mv) for mv, t in sizes])
    values = np.concatenate([np.where(np.isfinite(t), t, cap) for _, t in sizes])
    groups, start = [], 0
    for _, t in sizes:
        groups.append(np.arange(start, start + t.size))
        start += t.size
    rng = np.random.default_rng(seed)
    outcome, agreement = _growth_decisions(m_points, values[:, None], groups, censored, resamples, rng)
    fits = growth_fits(m_points, values[:, None])
    numbers = {"sizes": float(len(sizes)), "points": float(values.size), "censored_points": float((~np.isfinite(
        np.concatenate([t for _, t in sizes]))).sum()), "log_a": float(fits.a["log"][0]), "log_b": float(fits.b["log"][0]),
        "log_b_low": float(fits.b_log_low[0]), "log_b_high": float(fits.b_log_high[0]),
        "exponent_c": float(fits.c[0]), "exponent_low": float(fits.c_low[0]), "exponent_high": float(fits.c_high[0]),
        "bic_sqrt_minus_log": float(fits.bic["sqrt"][0] - fits.bic["log"][0]),
        "bic_linear_minus_log": float(fits.bic["linear"][0] - fits.bic["log"][0]),
        "bootstrap_agreement": float(agreement[0])}
    c_text = (f"exponent c = {fits.c[0]:.2f} [{fits.c_low[0]:.2f}, {fits.c_high[0]:.2f}] in a + b(m^c-1)/c "
              f"(c = 0 is log m)")
    a_log, b_log = float(fits.a["log"][0]), float(fits.b["log"][0])
    text = (f"T* ≈ {a_log:.3g} {'-' if b_log < 0 else '+'} {abs(b_log):.3g} ln m (b in [{fits.b_log_low[0]:.3g}, "
            f"{fits.b_log_high[0]:.3g}]); {c_text}; BIC of sqrt m and of m minus BIC of log m: "
            f"{numbers['bic_sqrt_minus_log']:.1f}, {numbers['bic_linear_minus_log']:.1f}; "
            f"{agreement[0]:.0%} of {resamples} seed resamples agree; {len(sizes)} sizes × ≥{seeds} seeds")
    if censored:
        text += f"; {int(numbers['censored_points'])} T* beyond the budget entered at {cap:g} (lower bounds)"
    if too_few:
        text += f"; sizes with < {MIN_SEEDS} seeds left out: {', '.join(f'{x:g}' for x in too_few)}"
    text += floor_text
    if outcome[0] == "did not hold":
        flags = {name: bool(flag[0]) for name, flag in growth_reasons(fits).items()}
        if censored:  # censoring hides growth: only "faster than log" can decide
            flags = {"faster than log": flags["faster than log"]}
        # the "faster" tests compare shapes, so a curve that falls steeply passes them too: say which
        faster = "grows faster than log m" if b_log >= 0 else "falls more steeply than log m would (b < 0)"
        text += "; did not hold because T* " + " and ".join(
            {"faster than log": faster, "slower than log": "grows slower than log m (saturates)",
             "falling": "falls with more data (b < 0)", "flat": "hardly changes (flat)"}[name]
            for name, flag in flags.items() if flag)
    numbers["floor_sizes"] = float(len(floor_sizes))
    verdict = Verdict(claim, str(outcome[0]), text, numbers, seeds=seeds)

    calibration = _growth_calibration(m_points, values, groups, fits, cap=cap if censored or censor_at is not None
                                      else None, replicates=calibration_replicates,
                                      resamples=min(resamples, GROWTH_CALIBRATION_RESAMPLES), seed=seed)
    return verdict.with_calibration(calibration)


GROWTH_CALIBRATION_RESAMPLES = 50  # seed resamples of the bootstrap gate inside each calibration replicate
GROWTH_CHANGE_GRID = (2.0, 8.0, 32.0)  # boundary laws: total change over the sizes, in units of the noise sd


def _growth_calibration(m_points, values, groups, fits, *, cap, replicates: int, resamples: int,
                        seed: int) -> Calibration:
    """Both error rates and the power of the growth-law rule at this design (sizes, seeds,
    per-size noise sd estimated from the seeds, floored at 0.1 times the pooled residual sd of
    the log law), with T* simulated as measured: rounded to a whole step, clipped at 0 (the
    criterion met at initialisation) and, with a budget ``cap``, censored there (entered at the
    cap, and the censored rule applied to every replicate with a censored point).

    Boundary truths, none fitted to the data: a + b (m^c - 1)/c with c = +0.25 and c = -0.25 (the
    edges of "log-like", which are also the edges of its negation), each with a total change
    over the sizes of GROWTH_CHANGE_GRID times the mean noise sd, and the flat boundary (a log law
    changing T* by FLAT_FRACTION of its mean over the sizes); every law has the data's mean T*
    (its level, like the noise, is a property of the design); a change below FLAT_FRACTION of the
    level (a flat law, inside the negation) is raised to it, and one that would take the law
    below 0 at some size is lowered to the largest that does not (T* >= 0). False held: the largest share of
    "held" over these truths; false did not hold: the largest share of "did not hold" over the
    c = ±0.25 truths. Power: the log law with the design's own |b| (the fitted log law's slope)."""
    rng = np.random.default_rng([seed, 99])
    resid = values - (fits.a["log"][0] + fits.b["log"][0] * np.log(m_points))
    pooled = float(np.sqrt(np.sum(resid**2) / max(values.size - 2, 1))) or 1e-9
    noise = np.concatenate([np.full(g.size, max(float(np.std(values[g], ddof=1)), 0.1 * pooled)) for g in groups])
    level = float(values.mean())

    def law(c: float, change: float) -> np.ndarray:
        shape = np.log(m_points) if c == 0 else (np.power(m_points, c) - 1.0) / c
        shape = (shape - shape.min()) / (shape.max() - shape.min())  # 0 at the smallest size, 1 at the largest
        return level + change * (shape - shape.mean())

    def outcomes(truth: np.ndarray) -> np.ndarray:
        raw = truth[:, None] + noise[:, None] * rng.standard_normal((truth.size, replicates))
        measured = np.maximum(np.rint(raw), 0.0)
        censored = np.zeros(replicates, dtype=bool)
        if cap is not None:
            censored = np.any(measured >= cap, axis=0)
            measured = np.minimum(measured, cap)
        out = np.empty(replicates, dtype=object)
        for flag in (False, True):
            columns = censored == flag
            if columns.any():
                out[columns], _ = _growth_decisions(m_points, measured[:, columns], groups, flag, resamples, rng)
        return out

    scale = float(np.mean(noise))
    false_held, false_not_held = 0.0, 0.0
    for c in (LOG_LIKE_EXPONENT, -LOG_LIKE_EXPONENT):
        # T* >= 0: a law is a possible truth only while it stays >= 0 at every size
        largest = abs(level) / float(np.mean(law(c, 1.0) - law(c, 1.0).min()) or 1.0)
        smallest = FLAT_FRACTION * abs(level)  # a smaller change is flat: inside the negation, not on its edge
        for change in sorted({min(max(multiple * scale, smallest), largest) for multiple in GROWTH_CHANGE_GRID}):
            decided = outcomes(law(c, change))
            false_held = max(false_held, float(np.mean(decided == "held")))
            false_not_held = max(false_not_held, float(np.mean(decided == "did not hold")))
    flat = outcomes(law(0.0, FLAT_FRACTION * abs(level)))
    false_held = max(false_held, float(np.mean(flat == "held")))
    b_effect = abs(float(fits.b["log"][0]))
    power = float(np.mean(outcomes(law(0.0, b_effect * fits.log_range)) == "held"))
    grid = ", ".join(f"{x:g}" for x in GROWTH_CHANGE_GRID)
    return Calibration(
        false_held, power, replicates,
        f"T* follows a + b(m^c-1)/c with c = ±{LOG_LIKE_EXPONENT:g} changing by {grid} noise sd over the sizes, or a "
        f"log law changing by {FLAT_FRACTION:g} of its mean (flat), at the data's mean level, per-size noise from the "
        f"seeds; simulated as measured (whole steps, clipped at 0" + (f", censored at {cap:g})" if cap is not None
                                                                         else ")") + "; the worst",
        f"it follows a log law with the design's own |b| = {b_effect:.3g}",
        false_not_held_rate=false_not_held, effect_of_interest=b_effect)


def pretraining_grows_logarithmically(rows, *, metric: str = PRETRAIN_STEPS, dataset=None, experiment=None,
                                      method=None, censor_at: float | None = None, **equal) -> Verdict:
    """:func:`growth_law_verdict` on ``metric`` rows (one value per (m, seed); extra column
    filters such as ``eps=...`` go in ``equal``)."""
    data = filter_rows(rows, experiment=experiment, dataset=dataset, method=method, metric=metric, **equal)
    per_m = defaultdict(list)
    for row in data:
        if row["m"] is not None:
            per_m[row["m"]].append(row["value"])
    ms = sorted(per_m)
    return growth_law_verdict("required pre-training T*(m) grows like log m", ms, [per_m[x] for x in ms],
                              censor_at=censor_at)


# ------------------------------------------------------------------ empirical: a slope equal to a target


def slope_verdict(claim: str, x_by_seed, y_by_seed, *, target_slope: float = 1.0, margin: float = 0.25) -> Verdict:
    """The slope of y against x equals ``target_slope`` within ``margin`` (an equivalence test).

    One least-squares slope per seed (each seed's x, y arrays, >= 3 distinct x); t-interval
    over seeds. "held" when the 95% interval lies inside [target - margin, target + margin],
    "did not hold" when it lies entirely outside, "indistinguishable" otherwise. Calibrated
    with the truth on either edge of the margin (both error rates, the worse edge) and at the
    target (power).
    """
    slopes = []
    for x, y in zip(x_by_seed, y_by_seed):
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        ok = np.isfinite(x) & np.isfinite(y)
        if np.unique(x[ok]).size >= 3:
            slopes.append(float(np.polyfit(x[ok], y[ok], 1)[0]))
    if len(slopes) < MIN_SEEDS:
        return _not_testable(claim, f"{len(slopes)} seed(s) with >= 3 distinct points; need {MIN_SEEDS}", len(slopes))
    lo_edge, hi_edge = target_slope - margin, target_slope + margin

    def decide(values):
        _, low, high = t_bounds(values)
        outcome = np.full(np.shape(low), "indistinguishable", dtype=object)
        outcome[(lo_edge <= low) & (high <= hi_edge)] = "held"
        outcome[(high < lo_edge) | (low > hi_edge)] = "did not hold"
        return str(outcome) if outcome.ndim == 0 else outcome

    iv = t_interval(slopes)
    text = (f"slope {_interval_text(iv)} over {iv.count} seeds; claimed {target_slope:g} ± {margin:g}")
    verdict = Verdict(claim, decide(slopes), text, {"slope": iv.mean, "slope_low": iv.low, "slope_high": iv.high},
                      seeds=iv.count)
    return verdict.with_calibration(calibrate_mean_rule(
        decide, slopes, [lo_edge, hi_edge], target_slope,
        null=f"the true slope is {lo_edge:g} or {hi_edge:g} (an edge of the margin, the boundary of the claim and "
             "of its negation), the worse", alternative=f"it is {target_slope:g}"))
