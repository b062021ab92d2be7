"""Theorem checks: a proposition's inequality evaluated at every measured point.

A check's outcome is "held", "violated" or "not applicable" (the hypothesis is not met, for
example r = 0 for P3/P4, or there is no point to check), with the worst ratio measured/bound.
A violation is a bug in the code or a broken assumption, never a loose theorem.
:func:`theorem_check` is the check on arrays; P2, P3 and P4 read it off result rows per
(dataset, m, seed) group.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from theory import bounds
from theory.claims.rows import (DENSE_LOSS, DIAMETER, DISTANCE_TO_G, EXCESS_LOSS, PROJECTION_LOSS, RADIUS, TRAIN_LOSS,
                                VARIANCE, filter_rows, seed_constants, seed_curves)
from theory.claims.verdict import Verdict

__all__ = ["ROUNDING", "theorem_check", "gfs_excess_bound_check", "interior_bound_check", "reweighted_bound_check"]

ROUNDING = 1e-9  # relative slack of a theorem check (float64 rounding of losses near the bound)


def _where(key) -> str:
    dataset, m, seed = key
    return f"{dataset}, m={m:g}, seed {seed}"


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
    constants = seed_constants(data)
    measured, bound, where, skipped, seeds = [], [], [], [], set()
    for key, (ns, values) in sorted(seed_curves(data, method, metric).items(), key=lambda kv: str(kv[0])):
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
