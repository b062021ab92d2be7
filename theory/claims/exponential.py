"""The exponential rate of re-weighted greedy (NeurIPS'20 / P4): the t rule on a nested coefficient.

Per seed, the least-squares fit ln h = a + b n + c ln n of the excess-loss curve: a power law
has b = 0 exactly, whatever its exponent, so "falls exponentially" is the t rule on the
per-seed b against 0 and its null is never fitted to the curves judged.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from theory import bounds
from theory.claims.rows import DIAMETER, EXCESS_LOSS, RADIUS, filter_rows, seed_constants, seed_curves
from theory.claims.t_rule import EFFECT_CONTRACTION, EFFECTS, interval_text, t_verdict
from theory.claims.verdict import Verdict, combine_groups, not_testable
from theory.inference import MIN_SEEDS, t_interval

__all__ = ["EXPONENTIAL_MIN_POINTS", "nested_exponential_coefficients", "reweighted_greedy_exponential"]

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
    constants = seed_constants(data)
    parts = []
    curves_by_group = defaultdict(list)
    for key, (ns, values) in sorted(seed_curves(data, method, metric).items(), key=str):
        c = constants.get(key, {})
        if c.get(RADIUS, 0.0) <= 0 or values.size == 0 or values[0] <= 0:
            continue
        sel = (ns >= 2) & (values > floor * values[0])
        if sel.sum() >= EXPONENTIAL_MIN_POINTS:
            bound_q = bounds.reweighted_contraction(c[RADIUS], c[DIAMETER]) if DIAMETER in c else math.nan
            curves_by_group[key[:2]].append((ns[sel], np.log(values[sel]), bound_q))
    if not curves_by_group:
        return not_testable(claim, f"no seed with r > 0 and at least {EXPONENTIAL_MIN_POINTS} points above the "
                                    "float floor")
    for group, entries in sorted(curves_by_group.items(), key=str):
        where = f"{group[0]}, m={group[1]:g}"
        curves = [(ns, lv) for ns, lv, _ in entries]
        if len(curves) < MIN_SEEDS:
            parts.append(not_testable(claim, f"{where}: {len(curves)} seed(s) with enough points above the float "
                                              f"floor; need {MIN_SEEDS}", len(curves)))
            continue
        nested = np.array([nested_exponential_coefficients(ns, lv) for ns, lv in curves])  # (seeds, 2): b, c
        b_iv, c_iv = t_interval(nested[:, 0]), t_interval(nested[:, 1])
        log_factor = t_interval([np.polyfit(ns, lv, 1)[0] for ns, lv in curves])  # ln(contraction) per seed
        bound_q = float(np.median([q for _, _, q in entries]))
        points = [ns.size for ns, _ in curves]
        text = (f"{where}: in ln h = a + b n + c ln n, the factor e^b per neuron beyond any power of n is "
                f"{math.exp(b_iv.mean):.3g} [{math.exp(b_iv.low):.3g}, {math.exp(b_iv.high):.3g}] and c = "
                f"{interval_text(c_iv)} ({len(curves)} seeds, {min(points)}-{max(points)} points each); contraction "
                f"per step {math.exp(log_factor.mean):.3g} [{math.exp(log_factor.low):.3g}, "
                f"{math.exp(log_factor.high):.3g}] (geometric mean over seeds) vs P4's bound 1-r²/D² = {bound_q:.4g}")
        numbers = {"exponential_b": b_iv.mean, "exponential_b_low": b_iv.low, "exponential_b_high": b_iv.high,
                   "power_c": c_iv.mean, "power_c_low": c_iv.low, "power_c_high": c_iv.high,
                   "contraction": math.exp(log_factor.mean), "contraction_low": math.exp(log_factor.low),
                   "contraction_high": math.exp(log_factor.high), "bound_contraction": bound_q,
                   "points_min": float(min(points)), "points_max": float(max(points))}
        parts.append(t_verdict(claim, nested[:, 0], 0.0, text, numbers, effect=EFFECTS["exponential"],
                                null="every seed follows a power law A n^c (b = 0, any A and c)",
                                alternative=f"a factor {EFFECT_CONTRACTION:g} per neuron beyond any power of n "
                                            f"(b = ln {EFFECT_CONTRACTION:g})", groups=len(curves_by_group)))
    return combine_groups(claim, parts)
