"""theory.claims: each predicate holds on rows that satisfy the claim, fails on rows that
violate it, and says "not testable" (held None) when the rows cannot decide."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

from theory import claims, geometry


def row(method, n, metric, value, m=10, seed=0, experiment="toy", dataset="synthetic"):
    return dict(experiment=experiment, dataset=dataset, method=method, m=m, n=n, seed=seed, metric=metric, value=value)


def curve_rows(method, ns, values, metric="train_loss", **kw):
    return [row(method, int(n), metric, float(v), **kw) for n, v in zip(ns, values)]


def geometry_rows(r, d, d_g, **kw):
    return [row("dense", None, name, value, **kw) for name, value in (("r", r), ("D", d), ("D_g", d_g))]


NS = np.arange(90, 1000, 60)


# ----------------------------------------------------------------------------- pruned vs direct


def test_pruned_beats_direct_with_a_crossover():
    rows = curve_rows("gfs", NS, 400.0 * NS**-1.9) + curve_rows("direct-gd", NS, 2.0 * NS**-0.8)
    v = claims.pruned_beats_direct_training(rows)
    assert v.held is True
    cross = (400.0 / 2.0) ** (1 / 1.1)
    assert v.numbers["crossover_n"] == pytest.approx(cross, rel=0.05)
    assert v.numbers["pruned_slope"] == pytest.approx(-1.9)
    assert v.numbers["direct_slope"] == pytest.approx(-0.8)


def test_pruned_loses_to_direct():
    rows = curve_rows("gfs", NS, 1.0 / NS) + curve_rows("direct-gd", NS, 0.5 / NS)
    assert claims.pruned_beats_direct_training(rows).held is False


def test_pruned_vs_direct_not_testable_without_shared_sizes():
    rows = curve_rows("gfs", NS, 1.0 / NS)
    assert claims.pruned_beats_direct_training(rows).held is None


def test_rows_from_a_csv_are_accepted():
    rows = curve_rows("gfs", NS, 400.0 * NS**-1.9) + curve_rows("direct-gd", NS, 2.0 * NS**-0.8)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=claims.COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    buf.seek(0)
    assert claims.pruned_beats_direct_training(list(csv.DictReader(buf))).held is True


# ----------------------------------------------------------------------------- GFS 1/n^2


def test_gfs_inverse_square_holds_and_fails():
    good = curve_rows("gfs", NS, 0.1 * NS**-2.0, metric="excess_loss") + geometry_rows(0.5, 2.0, 1.0)
    v = claims.gfs_inverse_square_rate(good)
    assert v.held is True
    assert v.numbers["slope[0]"] == pytest.approx(-2.0)
    assert v.numbers["max_excess_over_P3_bound[0]"] <= 1.0
    slow = curve_rows("gfs", NS, 0.1 * NS**-1.0, metric="excess_loss") + geometry_rows(0.5, 2.0, 1.0)
    assert claims.gfs_inverse_square_rate(slow).held is False


def test_gfs_slow_rate_before_the_regime_is_not_a_refutation():
    # (D/r)^2 = (2 / 0.01)^2 = 40000 > n_max: the O(1/n) phase is expected there
    rows = curve_rows("gfs", NS, 1e-3 / NS, metric="excess_loss") + geometry_rows(0.01, 2.0, 1.0)
    v = claims.gfs_inverse_square_rate(rows)
    assert v.held is None and "(D/r)^2" in v.summary


def test_gfs_inverse_square_rejects_a_bound_violation():
    # slope -2 but far above the P3 bound (D_g^2 + D_g^4/(4 r^2)) / (2 n^2) = 1.5 / n^2
    rows = curve_rows("gfs", NS, 100.0 * NS**-2.0, metric="excess_loss") + geometry_rows(0.5, 2.0, 1.0)
    v = claims.gfs_inverse_square_rate(rows)
    assert v.held is False and "P3 bound" in v.summary


def test_gfs_inverse_square_not_testable_at_the_boundary():
    rows = curve_rows("gfs", NS, 0.1 * NS**-1.0, metric="excess_loss") + geometry_rows(0.0, 2.0, 1.0)
    assert claims.gfs_inverse_square_rate(rows).held is None


# ----------------------------------------------------------------------------- re-weighted greedy


def test_reweighted_greedy_exponential_within_bound():
    ns = np.arange(1, 40)
    rows = curve_rows("fw", ns, 0.3 * 0.5**ns, metric="excess_loss") + geometry_rows(0.5, 1.0, 0.8)
    v = claims.reweighted_greedy_exponential(rows)
    assert v.held is True
    assert v.numbers["contraction[0]"] == pytest.approx(0.5)
    assert v.numbers["bound_contraction[0]"] == pytest.approx(0.75)


def test_reweighted_greedy_slower_than_bound_fails():
    ns = np.arange(1, 40)
    rows = curve_rows("fw", ns, 0.3 * 0.9**ns, metric="excess_loss") + geometry_rows(0.5, 1.0, 0.8)
    assert claims.reweighted_greedy_exponential(rows).held is False


def test_reweighted_greedy_power_law_fails():
    ns = np.arange(1, 200)
    rows = curve_rows("fw", ns, 0.3 / ns**2, metric="excess_loss") + geometry_rows(0.999, 1.0, 0.8)
    assert claims.reweighted_greedy_exponential(rows).held is False


def test_reweighted_greedy_before_its_regime_is_not_a_refutation():
    # (D/r)^2 = (1 / 0.01)^2 = 10000 > n_max = 199, bound factor 0.9999: a power law here is no refutation
    ns = np.arange(1, 200)
    rows = curve_rows("fw", ns, 0.3 / ns**2, metric="excess_loss") + geometry_rows(0.01, 1.0, 0.8)
    verdict = claims.reweighted_greedy_exponential(rows)
    assert verdict.held is None and "regime not reached" in verdict.summary


def test_claims_on_real_selection_runs():
    """Rows produced from actual runs of sims.select on an interior instance (2-d square)."""
    select = pytest.importorskip("sims.select").select
    feats = np.random.default_rng(3).uniform(-1, 1, size=(2, 40))
    g = geometry.dense_mean(feats)
    r, d, d_g = geometry.interior_radius(feats, g), geometry.diameter(feats), geometry.max_distance_to(feats, g)
    rows = geometry_rows(r, d, d_g, m=2)
    for method, n in (("gfs", 400), ("fw", 30)):
        losses = select(feats, g, n, method).losses
        rows += curve_rows(method, np.arange(1, n + 1), losses, metric="excess_loss", m=2)
    assert claims.gfs_inverse_square_rate(rows).held is True
    v = claims.reweighted_greedy_exponential(rows)
    assert v.held is True, v.summary


# ----------------------------------------------------------------------------- pre-training


MS = np.array([100, 200, 400, 800, 1600, 3200])


def steps_rows(values, seeds=(0, 1)):
    return [
        row("gfs", None, "pretrain_steps", v + 0.01 * s, m=int(m), seed=s)
        for m, v in zip(MS, values)
        for s in seeds
    ]


def test_pretraining_logarithmic_holds():
    v = claims.pretraining_grows_logarithmically(steps_rows(10 + 5 * np.log(MS)))
    assert v.held is True
    assert v.numbers["log_b"] == pytest.approx(5.0, rel=1e-3)


def test_pretraining_linear_fails():
    assert claims.pretraining_grows_logarithmically(steps_rows(10 + 0.5 * MS)).held is False


def test_pretraining_not_testable_with_unreached_sizes():
    values = 10 + 5 * np.log(MS)
    values[2:] = math.inf
    v = claims.pretraining_grows_logarithmically(steps_rows(values))
    assert v.held is None
    assert v.numbers["sizes_unreached"] == 4


def test_rows_without_value_are_rejected():
    with pytest.raises(ValueError, match="value"):
        claims.pruned_beats_direct_training([dict(method="gfs", metric="train_loss", n=1)])


def test_pruned_vs_direct_is_indistinguishable_within_seed_noise():
    """At the largest n the two curves differ by less than their seed-to-seed spread: no verdict."""
    rows = []
    for seed, (pruned, direct) in enumerate([(1.0, 1.1), (1.1, 1.0), (1.05, 1.04)]):
        for n, scale in ((10, 10.0), (100, 1.0)):
            rows.append(dict(method="gfs", metric="train_loss", n=n, seed=seed, m=5, value=pruned * scale * (3 if n == 10 else 1)))
            rows.append(dict(method="direct-gd", metric="train_loss", n=n, seed=seed, m=5, value=direct * scale))
    verdict = claims.pruned_beats_direct_training(rows)
    assert verdict.held is None and "indistinguishable" in verdict.summary
    # the same curves with a clear gap at n = 100 in every seed do give a verdict
    for row in rows:
        if row["method"] == "gfs" and row["n"] == 100:
            row["value"] *= 0.5
    assert claims.pruned_beats_direct_training(rows).held is True
