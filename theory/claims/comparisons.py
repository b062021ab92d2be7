"""Comparisons of two methods' losses, paired by seed: the t rule on per-seed log loss ratios.

"held" when the pruned (or improved) method's loss is significantly lower: the pruned
network against the same width trained directly (ICML'20), against every same-width
competitor with the strongest one named (ICML'20 re-asked, an intersection-union rule with
Holm over the competitors), and one method against a baseline averaged over sizes.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from theory.claims.rows import TRAIN_LOSS, filter_rows, seed_curves
from theory.claims.t_rule import EFFECT_LOSS_RATIO, EFFECTS, interval_text, t_verdict
from theory.claims.verdict import Verdict, not_testable
from theory.inference import (MIN_SEEDS, ONE_SIDED_ALPHA, Calibration, holm_rejections, sample_skewness,
                              side_of, standard_draws, t_interval, t_outcomes, t_p_value)

__all__ = ["pruned_beats_direct_training", "pruned_beats_strongest_competitor", "paired_improvement"]


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
    pruned = seed_curves(data, pruned_method, metric)
    direct = seed_curves(data, direct_method, metric)
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
        return not_testable(claim, f"fewer than {MIN_SEEDS} seeds with both methods at a shared size "
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
            f"(log-ratio {interval_text(at_end)}, {at_end.count} seeds paired){cross}")
    verdict = t_verdict(claim, gaps[n_max], 0.0, text, numbers, effect=EFFECTS["comparison"],
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
        return not_testable(claim, f"no {metric} rows of the competitor(s) {', '.join(missing)} (diverged, failed or "
                                    f"not run), so 'every competitor' cannot be checked")
    shared = set.intersection(*sizes.values())
    if not shared:
        return not_testable(claim, f"no size measured for {pruned_method} and every competitor")
    width = max(shared)
    values = defaultdict(dict)  # method -> {seed key: value at the width}
    for key_row in data:
        if key_row.get("n") == width and key_row["value"] > 0:
            values[str(key_row.get("method"))][(str(key_row.get("dataset")), key_row["m"], str(key_row.get("seed")))] = \
                key_row["value"]
    present = list(competitors)
    keys = sorted(set(values[pruned_method]).intersection(*(values[c] for c in present)), key=str)
    if len(keys) < MIN_SEEDS:
        return not_testable(claim, f"{len(keys)} seed(s) with {pruned_method} and every competitor at n={width:g}; "
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
               f"{pruned_method}/{present[strongest]} {math.exp(best.mean):.3g} (log-ratio {interval_text(best)}, "
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
    a, b = seed_curves(data, method, metric), seed_curves(data, baseline, metric)
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
        return not_testable(claim, f"{len(per_seed)} seed(s) with both {method} and {baseline}; "
                                    f"need {MIN_SEEDS}", len(per_seed))
    iv = t_interval(per_seed)
    wins = sum(np.mean(g) < 0 for g in per_size.values())
    detail = "; ".join(f"n={n:g}: ×{math.exp(np.mean(g)):.3g}" for n, g in sorted(per_size.items()))
    text = (f"loss ratio {method}/{baseline} averaged over sizes: ×{math.exp(iv.mean):.3g} "
            f"(mean log-ratio {interval_text(iv)}, {iv.count} seeds); lower at {wins} of {len(per_size)} "
            f"sizes on the seed mean ({detail})")
    numbers = {"mean_log_ratio": iv.mean, "log_ratio_low": iv.low, "log_ratio_high": iv.high,
               "sizes": float(len(per_size)), "sizes_lower": float(wins)}
    return t_verdict(claim, per_seed, 0.0, text, numbers, effect=EFFECTS["comparison"],
                      null="the true log-ratio is 0", alternative=f"it is ln {EFFECT_LOSS_RATIO:g}")
