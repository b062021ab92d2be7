"""E3 `pretraining`: the quick run through the runner, the T* criterion, P7/P8 on real rows, bad input
(impossible criterion, diverging learning rate, m larger than the data, missing MNIST files)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from sims.experiments import pretraining
from sims.experiments.runner import get_experiment, run_experiment
from sims.results.rows import load_results
from theory.claims import Verdict

from tests.helpers import EXACT, REFERENCE, quiet_run
from tests.helpers import by_metric as _by_metric


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tiny_pretraining(**changes):
    """The quick preset cut to synthetic set-ups and small sizes (seconds per run)."""
    base = replace(pretraining.quick(), setups=("ntk-teacher", "mf-teacher"), teacher_sizes=(60, 120, 240),
                   ntk_iterations=60, mf_iterations=60, coarse_points=6)
    return replace(base, **changes)


@pytest.fixture(scope="module")
def quick_pretraining(tmp_path_factory):
    return quiet_run("pretraining", pretraining.quick(), tmp_path_factory.mktemp("e3"))


def test_pretraining_quick_rows(quick_pretraining):
    _, rows = quick_pretraining
    config = pretraining.quick()
    for setup in config.setups:
        setting = pretraining._setting(config, setup)
        seeds = pretraining._seeds(config, setup)
        for eps in setting["eps"]:  # one T* and one T_B per (m, seed, eps), with eps in its column
            for metric in ("pretrain_steps", "certificate_steps", "pretrain_steps_stable", "dense_steps"):
                found = _by_metric(rows, metric, dataset=setup, eps=eps)
                assert sorted((r["m"], r["seed"]) for r in found) == sorted((m, s) for m in setting["sizes"]
                                                                           for s in seeds), (setup, metric, eps)
        for eps in setting["sum_eps"]:
            assert len(_by_metric(rows, "pretrain_steps_sum", dataset=setup, eps=eps)) == len(setting["sizes"])
        curve = _by_metric(rows, "subnet_loss", dataset=setup)
        assert curve and all(r["step"] is not None and r["eps"] is None for r in curve)
        for r in curve:  # the summed form is m times the mean form
            summed = _by_metric(rows, "subnet_loss_sum", dataset=setup, m=r["m"], seed=r["seed"], step=r["step"])
            assert summed[0]["value"] == pytest.approx(r["m"] * r["value"], rel=EXACT)
        assert len(_by_metric(rows, "V", dataset=setup)) == len(curve)  # V recorded in every set-up
    assert _by_metric(rows, "pretrain_steps_accuracy", dataset="mf-mnist5k", eps=config.taus[0])
    assert not _by_metric(rows, "pretrain_steps_accuracy", dataset="mf-teacher")  # unlabelled
    lambdas = _by_metric(rows, "lambda_0", dataset="ntk-teacher") + _by_metric(rows, "lambda_0_subsample")
    assert len(lambdas) == len(config.teacher_sizes) and all(r["value"] > 0 for r in lambdas)
    assert {r["m"] for r in lambdas if r["metric"] == "lambda_0_subsample"} == {
        m for m in config.teacher_sizes if m > config.lambda_max_points}
    assert len(_by_metric(rows, "p6_steps", dataset="ntk-teacher")) == len(config.teacher_sizes) * len(config.ntk_eps)
    # SGD: steps are epochs
    per_epoch = _by_metric(rows, "steps_per_epoch", dataset="sgd-mnist5k")
    assert per_epoch and all(r["value"] == math.ceil(r["m"] / config.sgd_batch_size) for r in per_epoch)
    assert max(r["step"] for r in _by_metric(rows, "subnet_loss", dataset="sgd-mnist5k")) == config.sgd_epochs


def test_pretraining_p7_holds_and_p8_is_exact_in_the_quick_run(quick_pretraining):
    _, rows = quick_pretraining
    pairs = 0
    for t_star in _by_metric(rows, "pretrain_steps") + _by_metric(rows, "pretrain_steps_sum"):
        suffix = "_sum" if t_star["metric"].endswith("_sum") else ""
        bound = _by_metric(rows, f"certificate_steps{suffix}", dataset=t_star["dataset"], m=t_star["m"],
                           seed=t_star["seed"], eps=t_star["eps"])[0]["value"]
        assert t_star["value"] <= bound
        pairs += 1
    assert pairs > 20
    errors = _by_metric(rows, "p8_max_relative_error", dataset="rf-teacher")
    assert len(errors) == len(pretraining.quick().teacher_sizes) and max(r["value"] for r in errors) < 1e-10
    predicted = _by_metric(rows, "predicted_certificate_steps", dataset="rf-teacher")
    measured = {(r["m"], r["eps"]): r["value"] for r in _by_metric(rows, "certificate_steps", dataset="rf-teacher")}
    assert predicted and all(measured[(r["m"], r["eps"])] == r["value"] for r in predicted)
    spectrum = _by_metric(rows, "rf_mu", dataset="rf-teacher", m=100)
    assert len(spectrum) == min(100, pretraining.quick().rf_width) and all(r["value"] > 0 for r in spectrum)


def test_pretraining_t_star_is_the_first_step_meeting_the_criterion_on_the_coarse_curve(quick_pretraining):
    """T* is a step at which the criterion holds, no coarse step before it meets it, and the
    stable step is never before T*."""
    _, rows = quick_pretraining
    for t_star in _by_metric(rows, "pretrain_steps"):
        curve = sorted(_by_metric(rows, "subnet_loss", dataset=t_star["dataset"], m=t_star["m"], seed=t_star["seed"]),
                       key=lambda r: r["step"])
        meeting = [r["step"] for r in curve if r["value"] <= t_star["eps"]]
        stable = _by_metric(rows, "pretrain_steps_stable", dataset=t_star["dataset"], m=t_star["m"],
                            seed=t_star["seed"], eps=t_star["eps"])[0]["value"]
        assert stable >= t_star["value"]
        if meeting:
            assert t_star["value"] <= meeting[0]
            before = [r for r in curve if r["step"] < t_star["value"]]
            assert all(r["value"] > t_star["eps"] for r in before)


@pytest.mark.parametrize("scaling,outputs", [("mean-field", 1), ("ntk", 1), ("mean-field", 3)])
def test_neuron_variance_from_hidden_matches_geometry(scaling, outputs):
    from sims.nets.model import hidden_activations, init_network, neuron_features
    from theory import geometry

    rng = np.random.default_rng(1)
    inputs = rng.standard_normal((30, 4))
    model = init_network(4, 25, outputs, scaling=scaling, seed=2)
    value = pretraining.neuron_variance_from_hidden(model, hidden_activations(model, inputs))
    assert value == pytest.approx(geometry.neuron_variance(neuron_features(model, inputs).numpy()), rel=REFERENCE)


def test_contraction_rate():
    losses = 0.5 * 0.9 ** np.arange(50)
    assert pretraining.contraction_rate(losses, 20) == pytest.approx(-math.log(0.9))
    assert math.isnan(pretraining.contraction_rate(losses, 1)) and math.isnan(pretraining.contraction_rate(losses, math.inf))


def test_pretraining_claims_and_figures(quick_pretraining):
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
    paths = experiment.figures(rows, pretraining.quick(), folder)
    names = {p.name for p in paths}
    assert {"pretraining_t_star.png", "pretraining_subnet_loss.pdf", "pretraining_certificate.png",
            "pretraining_spectrum.png", "pretraining_identity.png"} <= names
    assert all(p.stat().st_size > 1000 for p in paths)
    assert experiment.summary(rows, pretraining.quick())[0].startswith("###")


def test_pretraining_p7_check_can_fail():
    """A T* beyond its certificate (as a bug in GFS or in the search would give) is a violation."""
    rows = [dict(dataset="mf-teacher", method=method, m=100, n=None, seed=seed, metric=metric, value=value, step=None,
                 eps=0.1)
            for seed in range(3)
            for method, metric, value in (("gfs", "pretrain_steps", 12.0 if seed else 30.0),
                                          ("p7-bound", "certificate_steps", 20.0))]
    config = replace(pretraining.quick(), setups=("mf-teacher",))
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
    config = replace(pretraining.quick(), setups=("mf-teacher",))
    (check,) = [v for v in pretraining.claims(rows_with(0.0), config) if "P7 T*" in v.claim]
    assert check.outcome == "not applicable" and "floor" in check.summary, check.summary
    assert check.numbers["floor_points"] == 3 and check.numbers["infinite_bound_points"] == 3
    (check,) = [v for v in pretraining.claims(rows_with(1.0), config) if "P7 T*" in v.claim]
    assert check.outcome == "held" and check.numbers["points"] == 3


@pytest.mark.parametrize("changes", [dict(ntk_eps=(0.0,), mf_eps=(0.0,)), dict(ntk_eps=(1e-12,), mf_eps=(1e-12,))])
def test_pretraining_impossible_loss_criterion_gives_inf(changes):
    config = _tiny_pretraining(**changes, sum_eps=())
    for cell in pretraining.cells(config):
        rows = pretraining.run_cell(config, cell)
        assert _by_metric(rows, "pretrain_steps")[0]["value"] == math.inf
        assert _by_metric(rows, "certificate_steps")[0]["value"] == math.inf
    verdict = pretraining.claims(rows, config)
    assert all(isinstance(v, Verdict) for v in verdict)


def test_pretraining_impossible_accuracy_criterion_gives_inf():
    config = replace(pretraining.quick(), setups=("mf-mnist5k",), mnist5k_sizes=(100,), mnist_iterations=5,
                     coarse_points=3, taus=(1.01,))
    rows = pretraining.run_cell(config, pretraining.cells(config)[0])
    assert _by_metric(rows, "pretrain_steps_accuracy")[0]["value"] == math.inf
    assert all(0 <= r["value"] <= 1 for r in _by_metric(rows, "subnet_accuracy"))
    verdicts = pretraining.claims(rows, config)
    accuracy = [v for v in verdicts if "accuracy" in v.claim]
    assert accuracy and accuracy[0].held is None and "not reached" in accuracy[0].summary


def test_pretraining_divergence_is_reported_and_other_cells_survive(tmp_path, capsys):
    config = _tiny_pretraining(mf_lr=1e4)  # the NTK set-up keeps its stable lr
    folder = run_experiment("pretraining", config, out=tmp_path, progress=False, log=lambda text: None)
    rows = load_results(folder)
    diverged = _by_metric(rows, "diverged_lr", dataset="mf-teacher")
    assert len(diverged) == len(config.teacher_sizes) and all(r["value"] == 1e4 for r in diverged)
    assert not _by_metric(rows, "pretrain_steps", dataset="mf-teacher")  # no fake T*
    assert len(_by_metric(rows, "pretrain_steps", dataset="ntk-teacher", eps=config.ntk_eps[0])) == len(
        config.teacher_sizes)
    assert "lr=10000" in capsys.readouterr().err
    verdicts = pretraining.claims(rows, config)
    failed = [v for v in verdicts if v.claim == "mf-teacher: every cell ran"]
    assert failed and failed[0].held is False and "diverged with lr=1e+04" in failed[0].summary


def test_pretraining_m_larger_than_data_and_missing_mnist_are_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv("GFS_MNIST_DIR", str(tmp_path / "no-mnist-here"))
    config = replace(pretraining.quick(), setups=("mf-mnist5k", "mf-mnist"), mnist5k_sizes=(100, 6000),
                     mnist_sizes=(100,), mnist_iterations=3, coarse_points=2)
    rows = [row for cell in pretraining.cells(config) for row in pretraining.run_cell(config, cell)]
    too_large = _by_metric(rows, "skipped_m_too_large", dataset="mf-mnist5k")
    assert [r["m"] for r in too_large] == [6000] and too_large[0]["value"] == 5000
    assert _by_metric(rows, "pretrain_steps", dataset="mf-mnist5k", m=100)
    assert _by_metric(rows, "skipped_data_missing", dataset="mf-mnist")
    verdicts = pretraining.claims(rows, config)
    summaries = " ".join(v.summary for v in verdicts)
    assert "exceeds the 5000 available" in summaries and "MNIST files not found" in summaries


def test_pretraining_config_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown setup"):
        pretraining.PretrainingConfig(setups=("ntk-mnist",))
    with pytest.raises(ValueError, match="seeds"):
        pretraining.PretrainingConfig(seeds=())
    with pytest.raises(ValueError, match="mf_eps"):
        pretraining.PretrainingConfig(mf_eps=0.1)
    with pytest.raises(ValueError, match="sgd_batch_size"):
        pretraining.PretrainingConfig(sgd_batch_size=0)
    with pytest.raises(ValueError, match="identity_draws"):
        pretraining.PretrainingConfig(identity_draws=1)
    default = pretraining.PretrainingConfig()
    assert "mf-mnist" not in default.setups and "rf-teacher" in default.setups
    sizes = default.teacher_sizes
    assert math.log10(max(sizes) / min(sizes)) >= 2.5 and len(default.seeds) >= 8  # issue 10: range and power
    # issue 21: P7's informative design: >= 4 sizes over >= 1.5 decades, >= 3 seeds, n > N
    assert "mf-teacher-p7" in default.setups and len(default.p7_sizes) >= 4 and default.p7_seeds >= 3
    assert math.log10(max(default.p7_sizes) / min(default.p7_sizes)) >= 1.5 and default.p7_n > default.p7_width


def test_lambda_0_subsample_is_an_upper_bound():
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((120, 4))
    inputs /= np.linalg.norm(inputs, axis=1, keepdims=True)
    exact_name, exact = pretraining.ntk_lambda_0(inputs, 200, seed=0)
    sub_name, sub = pretraining.ntk_lambda_0(inputs, 40, seed=0)
    assert (exact_name, sub_name) == ("lambda_0", "lambda_0_subsample")
    assert 0 < exact <= sub


def test_pretraining_cells_are_deterministic():
    config = _tiny_pretraining(setups=("ntk-teacher",), teacher_sizes=(60,))
    cell = pretraining.cells(config)[0]
    assert pretraining.run_cell(config, cell) == pretraining.run_cell(config, cell)


def test_directions_that_matter():
    share = np.array([0.3, 0.01, 0.02, 0.1])
    np.testing.assert_array_equal(pretraining.directions_that_matter(share, 0.0, 0.05), [True, False, False, True])
    np.testing.assert_array_equal(pretraining.directions_that_matter(share, 0.0, 0.2), [True, False, False, False])
    np.testing.assert_array_equal(pretraining.directions_that_matter(share, 0.03, 0.05), [True, False, True, True])
    assert not pretraining.directions_that_matter(share, 0.0, 1.0).any()


# ---------------------------------------------------------------- issue 21: the identity, P6's sizes, SGD updates


def _trained_ingredients(steps=40):
    """A mean-field network trained by GD on teacher data: the model at every step, the dense
    loss and V recorded during training (as run_cell records them), inputs and targets."""
    import torch

    from sims.data.datasets import DatasetConfig, load_dataset
    from sims.experiments.common import unit_rms_targets
    from sims.nets.model import init_network
    from sims.nets.train import TrainConfig, train

    data = unit_rms_targets(load_dataset(DatasetConfig(name="teacher", m=80, input_dim=5, teacher_width=10,
                                                       input_distribution="sphere", test_fraction=0.0, seed=0)))
    model = init_network(5, 30, 1, seed=0)
    inputs = torch.as_tensor(data.train_inputs)
    variances, models = [], []

    def observe(step, current, hidden):
        variances.append(pretraining.neuron_variance_from_hidden(current, hidden))
        models.append(current.clone())

    result = train(model, inputs, torch.as_tensor(data.train_targets), TrainConfig(lr=1.0, iterations=steps),
                   observe=observe)
    return models, result.losses, np.array(variances), inputs, data.train_targets


def test_the_identity_holds_on_a_trained_network_and_fails_with_each_broken_ingredient():
    """z within 4 with the ingredients recorded at the step; beyond 4 with the variance 10 steps
    stale, P2's margin V(1+ln n)/(2n), the loss 5 steps off and a wrong n. Checked at steps where
    the dense loss still moves (it falls 0.17 -> 0.10 over steps 5-8): at step 20 a 5-step shift
    changes it by less than 4 standard errors of the R = 4,000 draws and goes unseen."""
    models, losses, variances, inputs, targets = _trained_ingredients()
    n, draws = 8, 4000
    for t in (5, 6, 8):
        def z(loss, variance, size=n):
            return pretraining.random_subnetwork_identity(models[t], inputs, targets, n, draws, [0, t], loss,
                                                          variance) if size == n else \
                pretraining.random_subnetwork_identity(models[t], inputs, targets, n, draws, [0, t], loss,
                                                       variance * n / size)
        assert abs(z(losses[t], variances[t]).z) <= 4
        broken = {"stale variance": z(losses[t], variances[t - 10]).z,
                  "P2's margin": z(losses[t], variances[t] * (1 + math.log(n))).z,
                  "loss 5 steps ahead": z(losses[t + 5], variances[t]).z,
                  "loss 5 steps behind": z(losses[t - 5], variances[t]).z,
                  "prediction for 2n": z(losses[t], variances[t], 2 * n).z}
        assert all(abs(value) > 4 for value in broken.values()), (t, broken)


def test_the_identity_uses_the_networks_own_neurons():
    """The draws' losses (from the Gram matrix) equal theory.pretraining's from the features."""
    from sims.nets.model import neuron_features
    from theory.pretraining import random_subnetwork_losses

    models, losses, variances, inputs, targets = _trained_ingredients(steps=5)
    check = pretraining.random_subnetwork_identity(models[5], inputs, targets, 7, 50, 3, losses[5], variances[5])
    direct = random_subnetwork_losses(neuron_features(models[5], inputs).numpy(), targets, 7, 50, 3)
    assert check.mean == pytest.approx(direct.mean(), rel=1e-10) and check.draws == 50


def test_p6_censored_points_are_counted_apart_not_as_violations():
    """A T* not reached within the budget (inf) where P6's T lies beyond the budget is censored;
    an unreached T* with P6's T inside the budget is a violation."""
    config = replace(pretraining.quick(), setups=("ntk-teacher",), ntk_iterations=200)

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


def test_p6_required_size_rows_and_n_beyond_the_width():
    """n > N runs (GFS with replacement, no clamp), and every cell reports P6's required n per eps."""
    from theory import bounds

    config = _tiny_pretraining(setups=("mf-teacher",), teacher_sizes=(60,), mf_width=20, n=50, mf_eps=(0.3, 0.1))
    rows = pretraining.run_cell(config, pretraining.cells(config)[0])
    v_max = max(r["value"] for r in _by_metric(rows, "V"))  # V on the coarse grid: at most the max over steps
    required = {r["eps"]: r["value"] for r in _by_metric(rows, "p6_required_n")}
    assert set(required) == {0.3, 0.1}
    for eps, n in required.items():
        assert bounds.pruning_margin(n, v_max) < eps
    assert all(abs(r["value"]) <= 4 for r in _by_metric(rows, "identity_z"))
    assert len(_by_metric(rows, "identity_z")) == len(_by_metric(rows, "subnet_loss"))


def test_sgd_rows_count_t_star_in_updates_too():
    config = replace(pretraining.quick(), setups=("sgd-mnist5k",), mnist5k_sizes=(300,), mnist_width=30,
                     sgd_epochs=4, coarse_points=4, mnist_eps=(0.45,), taus=())
    rows = pretraining.run_cell(config, pretraining.cells(config)[0])
    (epochs,) = _by_metric(rows, "pretrain_steps")
    (updates,) = _by_metric(rows, "pretrain_updates")
    per_epoch = math.ceil(300 / config.sgd_batch_size)
    if math.isfinite(epochs["value"]) and epochs["value"] > 0:
        assert (epochs["value"] - 1) * per_epoch < updates["value"] <= epochs["value"] * per_epoch
    else:
        assert updates["value"] == epochs["value"]


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
        verdict = pretraining._identity_verdict(rows_with(z, checks), "mf-teacher", 1, 4000)
        assert verdict.outcome == outcome, (z, checks, verdict.summary)
        assert verdict.numbers["draws"] == 4000 and verdict.numbers["largest_abs_z"] == abs(z)
        assert 0 < verdict.numbers["false_violation_chance"] <= 0.0101
    # the family is the experiment's checks: 4.5 passes among 3,752 of them (limit 4.69), not among 770
    assert pretraining._identity_verdict(rows_with(4.5, 770), "mf-teacher", 1, 4000, family=3752).outcome == "held"
    assert pretraining._identity_verdict(rows_with(4.5, 770), "mf-teacher", 1, 4000).outcome == "violated"


def test_sgd_updates_verdict_leaves_out_sizes_censored_at_their_own_budget():
    """In updates the budget grows with m, so an unreached T* at a small size would enter at a
    low lower bound and fake fast growth: such sizes are left out (here 3 of 5: not testable);
    with every size reached the verdict is made on all of them."""
    config = replace(pretraining.quick(), setups=("sgd-mnist5k",), mnist5k_sizes=(250, 500, 1000, 2000, 5000))

    def rows_with(unreached):
        return [dict(dataset="sgd-mnist5k", method="gfs", m=m, n=None, seed=seed, metric=metric,
                     value=math.inf if m in unreached else value, step=None, eps=0.3)
                for m in config.mnist5k_sizes for seed in range(3)
                for metric, value in (("pretrain_steps", 3.0 + seed), ("pretrain_updates", 40 * math.log(m) + seed))]

    (verdict,) = [v for v in pretraining.claims(rows_with({250, 500, 1000}), config) if "in updates" in v.claim]
    assert verdict.outcome == "not testable" and "left out" in verdict.summary and "250, 500, 1000" in verdict.summary
    (verdict,) = [v for v in pretraining.claims(rows_with(set()), config) if "in updates" in v.claim]
    assert verdict.outcome != "not testable" and "left out" not in verdict.summary
