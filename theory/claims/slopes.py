"""Verdicts on per-seed slopes: the rate of a loss curve on a log-log scale, and a slope equal to a target.

The rate of a curve is its per-seed log-log slope over the rate window n >= n_max /
RATE_WINDOW (:func:`tail_slopes`, the one definition that claims, tables and figures share).
GFS's 1/n^2 rate in the interior regime and its fast regime past (D/r)^2 are t rules on
those slopes against FAST_SLOPE; :func:`slope_verdict` is an equivalence test of a
least-squares slope against a target within a margin.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace

import numpy as np

from theory import rates
from theory.claims.rows import (DIAMETER, EXCESS_LOSS, LOCAL_SLOPE, PREDICTED_BOUNDARY, RADIUS, filter_rows,
                                seed_constants, seed_curves)
from theory.claims.t_rule import EFFECT_SLOPE, EFFECTS, interval_text, t_rule, t_verdict
from theory.claims.verdict import Verdict, combine_groups, not_testable
from theory.inference import MIN_SEEDS, calibrate_mean_rule, t_bounds, t_interval

__all__ = ["FAST_SLOPE", "RATE_WINDOW", "tail_slopes", "gfs_inverse_square_rate", "fast_beyond_boundary",
           "slope_verdict"]

FAST_SLOPE = -1.5  # a log-log slope below this is the fast (1/n^2) regime, above it the 1/n one
RATE_WINDOW = 4.0  # rate fits use n >= n_max / RATE_WINDOW (the last quarter of the sizes, log scale)


def tail_slopes(rows, *, method: str, metric: str = EXCESS_LOSS, floor: float = 0.0, **equal) -> dict:
    """Per-seed log-log slopes of ``metric`` over the rate window n >= n_max / RATE_WINDOW
    (values above ``floor`` only, at least 3 of them): {(dataset, m, seed): (slope, n_low,
    n_high)}. The one definition of "the rate" that claims, tables and figures share."""
    out = {}
    for key, (ns, values) in seed_curves(filter_rows(rows, **equal), method, metric).items():
        sel = (ns >= ns.max() / RATE_WINDOW) & (values > floor)
        if sel.sum() >= 3:
            out[key] = (rates.fit_power_law(ns[sel], values[sel]).slope, float(ns[sel][0]), float(ns[sel][-1]))
    return out


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
    constants = seed_constants(data)
    interior = {k for k, c in constants.items() if c.get(RADIUS, 0.0) > 0}
    curves = {k: v for k, v in seed_curves(data, method, metric).items() if k in interior}
    fitted = tail_slopes(data, method=method, metric=metric)
    if not curves:
        return not_testable(claim, "no seed with an interior target (r > 0) and an excess-loss curve")
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
            parts.append(not_testable(claim, f"{where}: {len(slopes)} seed(s) with a fit; need {MIN_SEEDS}",
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
        text = f"{where}: slope {interval_text(iv)} over {iv.count} seeds, fit on n in [{n_low:g}, {n_high:g}]{reach}"
        parts.append(t_verdict(claim, slopes, threshold, text, numbers, effect=EFFECTS["slope"],
                                null=f"the true slope is {threshold:g}",
                                alternative=f"it is {EFFECT_SLOPE:g} (the claimed 1/n²)", groups=len(groups)))
    return combine_groups(claim, parts)


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
    constants = seed_constants(data)
    beyond, before = defaultdict(list), defaultdict(list)
    for key, (ns, slopes) in seed_curves(data, method, LOCAL_SLOPE).items():
        boundary = constants.get(key, {}).get(PREDICTED_BOUNDARY, math.inf)
        (beyond if ns[-1] > boundary else before)[key[1]].append(slopes[-1])
    parts = []
    for m_value in sorted(beyond):  # every m where some seed passed its (D/r)^2 is named by the claim
        slopes = beyond[m_value]
        if len(slopes) < MIN_SEEDS:
            parts.append(not_testable(claim, f"m={m_value:g}: {len(slopes)} seed(s) past (D/r)²; need {MIN_SEEDS}",
                                       len(slopes)))
            continue
        iv = t_interval(slopes)
        parts.append(t_verdict(claim, slopes, threshold,
                                f"m={m_value:g}: slope {interval_text(iv)} past (D/r)² ({iv.count} seeds)",
                                {"slope": iv.mean, "m": m_value}, effect=EFFECTS["slope"],
                                null=f"the true slope is {threshold:g}", alternative=f"it is {EFFECT_SLOPE:g}",
                                groups=len(beyond)))
    early = [m_value for m_value, s in before.items()
             if len(s) >= MIN_SEEDS and t_rule(threshold, "below")(s) == "held"]
    note = (f"; fast before (D/r)² (significantly) at m = {', '.join(f'{x:g}' for x in sorted(early))}"
            if early else "")
    if not parts:
        return not_testable(claim, "no m has its largest n past (D/r)²" + note)
    verdict = combine_groups(claim, parts)
    return replace(verdict, summary=verdict.summary + note,
                   numbers=dict(verdict.numbers, fast_before_boundary=float(len(early))))


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
        return not_testable(claim, f"{len(slopes)} seed(s) with >= 3 distinct points; need {MIN_SEEDS}", len(slopes))
    lo_edge, hi_edge = target_slope - margin, target_slope + margin

    def decide(values):
        _, low, high = t_bounds(values)
        outcome = np.full(np.shape(low), "indistinguishable", dtype=object)
        outcome[(lo_edge <= low) & (high <= hi_edge)] = "held"
        outcome[(high < lo_edge) | (low > hi_edge)] = "did not hold"
        return str(outcome) if outcome.ndim == 0 else outcome

    iv = t_interval(slopes)
    text = (f"slope {interval_text(iv)} over {iv.count} seeds; claimed {target_slope:g} ± {margin:g}")
    verdict = Verdict(claim, decide(slopes), text, {"slope": iv.mean, "slope_low": iv.low, "slope_high": iv.high},
                      seeds=iv.count)
    return verdict.with_calibration(calibrate_mean_rule(
        decide, slopes, [lo_edge, hi_edge], target_slope,
        null=f"the true slope is {lo_edge:g} or {hi_edge:g} (an edge of the margin, the boundary of the claim and "
             "of its negation), the worse", alternative=f"it is {target_slope:g}"))
