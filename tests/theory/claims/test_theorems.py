"""theory.claims.theorems: theorem_check's outcomes, floor and slack, and the P2-P4 checks on real
runs and on curves pushed past each bound."""

from __future__ import annotations

import math

import numpy as np
import pytest

from theory.claims.slopes import gfs_inverse_square_rate
from theory.claims.theorems import (gfs_excess_bound_check, interior_bound_check, reweighted_bound_check,
                                    theorem_check)

from tests.theory.claims.helpers import constant_rows, curve_rows


def test_theorem_check_outcomes_and_worst_ratio():
    held = theorem_check("c", [1.0, 2.0, 0.5], [2.0, 2.5, 1.0], seeds=1, where=["a", "b", "c"])
    assert held.outcome == "held" and held.kind == "theorem"
    assert held.numbers["worst_ratio"] == pytest.approx(0.8) and "at b" in held.summary
    violated = theorem_check("c", [1.0, 3.0], [2.0, 2.5], seeds=1)
    assert violated.outcome == "violated" and violated.numbers["violations"] == 1
    assert theorem_check("c", [], [], seeds=0).outcome == "not applicable"
    vacuous = theorem_check("c", [5.0, 7.0], [math.inf, math.inf], seeds=1)
    assert vacuous.outcome == "not applicable" and "infinite" in vacuous.summary  # an infinite bound is no evidence
    partly = theorem_check("c", [5.0, 7.0, 1.0], [math.inf, 8.0, 2.0], seeds=1)
    assert partly.outcome == "held" and partly.numbers["points"] == 2 and partly.numbers["infinite_bound_points"] == 1


def test_theorem_check_points_at_the_measurements_floor_are_not_evidence():
    """T* >= 0: a T* of 0 meets every T_B >= 0, a wrong bound as well as a right one, so with
    floor=0 such points are counted apart like infinite bounds; with nothing else left the check
    is 'not applicable' (before, P7 'held' on mf- and rf-teacher rested only on such points)."""
    only_floor = theorem_check("c", [0.0, 0.0, 0.0], [0.0, 2.0, math.inf], seeds=1, floor=0.0)
    assert only_floor.outcome == "not applicable" and "floor" in only_floor.summary
    assert only_floor.numbers["points"] == 0 and only_floor.numbers["floor_points"] == 2
    assert theorem_check("c", [0.0, 0.0], [0.0, 2.0], seeds=1).outcome == "held"  # without a floor: as before
    mixed = theorem_check("c", [0.0, 3.0], [5.0, 4.0], seeds=1, where=["a", "b"], floor=0.0)
    assert mixed.outcome == "held" and mixed.numbers["points"] == 1 and mixed.numbers["floor_points"] == 1
    assert mixed.numbers["worst_ratio"] == pytest.approx(0.75) and "at b" in mixed.summary
    assert "1 points measured at the floor" in mixed.summary
    # a bound below the floor is violated by a measurement at the floor: that point is evidence
    below = theorem_check("c", [0.0, 0.0], [-1.0, 3.0], seeds=1, floor=0.0)
    assert below.outcome == "violated" and below.numbers["violations"] == 1
    assert theorem_check("c", [0.0, 5.0], [2.0, 4.0], seeds=1, floor=0.0).outcome == "violated"


def test_theorem_check_slack_is_rounding_only():
    """A point above the bound by more than ROUNDING (relative) is a violation; within it, not."""
    bound = 0.3
    assert theorem_check("c", [bound * (1 + 0.5e-9)], [bound], seeds=1).outcome == "held"
    assert theorem_check("c", [bound * (1 + 3e-9)], [bound], seeds=1).outcome == "violated"
    assert theorem_check("c", [bound * (1 + 1e-6)], [bound], seeds=1).outcome == "violated"


def _scaled(rows, method, metric, factor):
    return [dict(r, value=r["value"] * factor) if (r["method"] == method and r["metric"] == metric) else r
            for r in rows]


def test_p2_p3_p4_checks_hold_on_real_runs_and_catch_a_violation(interior_runs):
    p2 = gfs_excess_bound_check(interior_runs)
    p3 = interior_bound_check(interior_runs)
    p4 = reweighted_bound_check(interior_runs, method="fw")
    assert (p2.outcome, p3.outcome, p4.outcome) == ("held", "held", "held"), (p2.summary, p3.summary, p4.summary)
    assert p2.seeds == 3 and p2.numbers["points"] == 3 * 400
    # Inflate the curves past each bound: the check must say violated.
    p2_ratio, p3_ratio = p2.numbers["worst_ratio"], p3.numbers["worst_ratio"]
    assert gfs_excess_bound_check(_scaled(interior_runs, "gfs", "train_loss", 1.05 / p2_ratio)
                                  ).outcome == "violated"
    assert interior_bound_check(_scaled(interior_runs, "gfs", "excess_loss", 1.05 / p3_ratio)
                                ).outcome == "violated"
    # P4 is tight at n = 1 (h_1 <= h_1); slowing fw's later steps breaks it.
    slowed = [dict(r, value=r["value"] * (1.0 if r["n"] == 1 else 1e6)) if r["method"] == "fw" else r
              for r in interior_runs]
    assert reweighted_bound_check(slowed, method="fw").outcome == "violated"


def test_interior_checks_not_applicable_without_an_interior_target(interior_runs):
    rows = [dict(r, value=0.0) if r["metric"] == "r" else r for r in interior_runs]
    assert interior_bound_check(rows).outcome == "not applicable"
    assert reweighted_bound_check(rows, method="fw").outcome == "not applicable"
    assert gfs_inverse_square_rate(rows).outcome == "not testable"


def test_p2_check_from_excess_rows_uses_the_projection_loss():
    ns = np.arange(1, 50)
    v, dense, l_g = 2.0, 0.3, 0.1
    bound_excess = dense - l_g + v * (1 + np.log(ns)) / (2 * ns)
    rows = constant_rows(V=v, dense_loss=dense, L_g=l_g) + curve_rows("gfs", ns, 0.99 * bound_excess,
                                                                      metric="excess_loss")
    assert gfs_excess_bound_check(rows, metric="excess_loss").outcome == "held"
    rows = constant_rows(V=v, dense_loss=dense, L_g=l_g) + curve_rows("gfs", ns, 1.01 * bound_excess,
                                                                      metric="excess_loss")
    assert gfs_excess_bound_check(rows, metric="excess_loss").outcome == "violated"
