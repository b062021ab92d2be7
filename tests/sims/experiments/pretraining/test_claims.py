"""sims.experiments.pretraining.claims: E3's verdicts on the quick run's rows and on built rows (P7 violated and
not applicable, P6's censored points, the identity's limit, SGD's censored sizes)."""

from __future__ import annotations

import math

import pytest

from sims.experiments import pretraining
from sims.foundations.composed import with_keys
from sims.experiments.pretraining.claims import _identity_verdict
from sims.experiments.runner import get_experiment
from theory.claims import Verdict

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_pretraining_claims(quick_pretraining):
    folder, rows = quick_pretraining
    experiment = get_experiment("pretraining")
    verdicts = experiment.claims(rows, pretraining.quick())
    assert verdicts and all(isinstance(v, Verdict) for v in verdicts)
    p7 = [v for v in verdicts if "P7 T*" in v.claim]
    assert len(p7) == len(pretraining.quick().setups) and all(v.kind == "theorem" for v in p7)
    # where T_B is infinite, or T* = 0, at every point the certificate says nothing: "not applicable",
    # never "held" (the quick run has no other point; held and violated are pinned on built rows below)
    for verdict in p7:
        assert verdict.outcome == ("held" if verdict.numbers["points"] > 0 else "not applicable"), verdict.summary
    # issue 21: the P7 design with n > N is informative even in the quick run
    (informative,) = [v for v in p7 if v.claim.startswith("mf-teacher-p7:")]
    assert informative.outcome == "held" and informative.numbers["points"] >= 10, informative.summary
    assert informative.numbers["informative_points"] == informative.numbers["points"]
    assert 1 < informative.numbers["tightness_median"] <= informative.numbers["tightness_worst"]
    identity = [v for v in verdicts if "random subnetworks' mean loss" in v.claim]
    assert len(identity) == len(pretraining.quick().setups)
    assert all(v.outcome == "held" and v.numbers["largest_abs_z"] <= 4 for v in identity), [v.summary for v in identity]
    assert all(v.numbers["draws"] == pretraining.quick().identity_draws for v in identity)
    assert any("grows like log m" in v.claim for v in verdicts)
    p8 = [v for v in verdicts if "P8 closed-form" in v.claim]
    assert p8 and p8[0].outcome == "held"
    p6 = [v for v in verdicts if "P6" in v.claim]
    assert p6 and "pruning margin" in p6[0].summary
    assert experiment.summary(rows, pretraining.quick())[0].startswith("###")


def test_pretraining_p7_check_can_fail():
    """A T* beyond its certificate (as a bug in GFS or in the search would give) is a violation."""
    rows = [dict(dataset="mf-teacher", method=method, m=100, n=None, seed=seed, metric=metric, value=value, step=None,
                 eps=0.1)
            for seed in range(3)
            for method, metric, value in (("gfs", "pretrain_steps", 12.0 if seed else 30.0),
                                          ("p7-bound", "certificate_steps", 20.0))]
    config = with_keys(pretraining.quick(), setups=("mf-teacher",))
    (check,) = [v for v in pretraining.claims(rows, config) if "P7 T*" in v.claim]
    assert check.outcome == "violated" and "seed=0" in check.summary
    rows[0]["value"] = 20.0
    (check,) = [v for v in pretraining.claims(rows, config) if "P7 T*" in v.claim]
    assert check.outcome == "held"


def test_pretraining_p7_with_t_star_zero_wherever_t_b_is_finite_is_not_applicable():
    """T* = 0 (the criterion met at initialisation) meets every T_B >= 0, right or wrong, as an
    infinite T_B meets every T*: such points are no evidence. The full run's mf- and rf-teacher
    P7 'held' rested only on them (T* = 0 at all 80 and 75 finite-T_B points)."""
    def rows_with(t_star):
        return [dict(dataset="mf-teacher", method=method, m=100, n=None, seed=seed, metric=metric, value=value,
                     step=None, eps=eps)
                for seed in range(3) for eps, t, b in ((0.4, t_star, 2.0), (0.1, 9.0, math.inf))
                for method, metric, value in (("gfs", "pretrain_steps", t), ("p7-bound", "certificate_steps", b))]
    config = with_keys(pretraining.quick(), setups=("mf-teacher",))
    (check,) = [v for v in pretraining.claims(rows_with(0.0), config) if "P7 T*" in v.claim]
    assert check.outcome == "not applicable" and "floor" in check.summary, check.summary
    assert check.numbers["floor_points"] == 3 and check.numbers["infinite_bound_points"] == 3
    (check,) = [v for v in pretraining.claims(rows_with(1.0), config) if "P7 T*" in v.claim]
    assert check.outcome == "held" and check.numbers["points"] == 3


def test_p6_censored_points_are_counted_apart_not_as_violations():
    """A T* not reached within the budget (inf) where P6's T lies beyond the budget is censored;
    an unreached T* with P6's T inside the budget is a violation."""
    config = with_keys(pretraining.quick(), setups=("ntk-teacher",), ntk_iterations=200)

    def rows_with(p6_steps):
        out = []
        for seed in range(3):
            for eps, t_star, p6 in ((0.1, 12.0, 40.0), (0.05, math.inf, p6_steps)):
                out += [dict(dataset="ntk-teacher", method="gfs", m=100, n=None, seed=seed, metric="pretrain_steps",
                             value=t_star, step=None, eps=eps),
                        dict(dataset="ntk-teacher", method="p6-bound", m=100, n=None, seed=seed, metric="p6_steps",
                             value=p6, step=None, eps=eps)]
            out.append(dict(dataset="ntk-teacher", method="p6-bound", m=100, n=None, seed=seed,
                            metric="p6_pruning_margin", value=0.01, step=None, eps=None))
        return out

    (check,) = [v for v in pretraining.claims(rows_with(5000.0), config) if "P6" in v.claim]
    assert check.outcome == "held" and check.numbers["censored_points"] == 3 and check.numbers["points"] == 3
    (check,) = [v for v in pretraining.claims(rows_with(150.0), config) if "P6" in v.claim]
    assert check.outcome == "violated"


def test_identity_verdict_limit_and_its_failure():
    """|z| <= 4, raised only as far as keeps a 1% chance of any false violation over a set-up's
    checks: 4.2 passes among 770 checks, not among 10; 5 fails either way."""
    def rows_with(z, checks):
        return [dict(dataset="mf-teacher", method="identity", m=100, n=None, seed=0, metric=metric,
                     value=(z if k == 0 else 0.5) if metric == "identity_z" else 0.01, step=k, eps=None)
                for k in range(checks) for metric in ("identity_z", "identity_se")]

    assert pretraining.identity_z_limit(10) == 4.0 and 4.3 < pretraining.identity_z_limit(770) < 4.4
    for z, checks, outcome in ((4.2, 770, "held"), (4.2, 10, "violated"), (-5.0, 770, "violated"),
                               (-3.9, 10, "held")):
        verdict = _identity_verdict(rows_with(z, checks), "mf-teacher", 1, 4000)
        assert verdict.outcome == outcome, (z, checks, verdict.summary)
        assert verdict.numbers["draws"] == 4000 and verdict.numbers["largest_abs_z"] == abs(z)
        assert 0 < verdict.numbers["false_violation_chance"] <= 0.0101
    # the family is the experiment's checks: 4.5 passes among 3,752 of them (limit 4.69), not among 770
    assert _identity_verdict(rows_with(4.5, 770), "mf-teacher", 1, 4000, family=3752).outcome == "held"
    assert _identity_verdict(rows_with(4.5, 770), "mf-teacher", 1, 4000).outcome == "violated"


def test_sgd_updates_verdict_leaves_out_sizes_censored_at_their_own_budget():
    """In updates the budget grows with m, so an unreached T* at a small size would enter at a
    low lower bound and fake fast growth: such sizes are left out (here 3 of 5: not testable);
    with every size reached the verdict is made on all of them."""
    config = with_keys(pretraining.quick(), setups=("sgd-mnist5k",), mnist5k_sizes=(250, 500, 1000, 2000, 5000))

    def rows_with(unreached):
        return [dict(dataset="sgd-mnist5k", method="gfs", m=m, n=None, seed=seed, metric=metric,
                     value=math.inf if m in unreached else value, step=None, eps=0.3)
                for m in config.mnist5k_sizes for seed in range(3)
                for metric, value in (("pretrain_steps", 3.0 + seed), ("pretrain_updates", 40 * math.log(m) + seed))]

    (verdict,) = [v for v in pretraining.claims(rows_with({250, 500, 1000}), config) if "in updates" in v.claim]
    assert verdict.outcome == "not testable" and "left out" in verdict.summary and "250, 500, 1000" in verdict.summary
    (verdict,) = [v for v in pretraining.claims(rows_with(set()), config) if "in updates" in v.claim]
    assert verdict.outcome != "not testable" and "left out" not in verdict.summary
