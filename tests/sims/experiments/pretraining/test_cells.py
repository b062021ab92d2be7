"""sims.experiments.pretraining.cells: E3's cells through the runner (the quick run's rows, the T* criterion,
P7/P8 on real rows), the measurements a cell makes, and bad input (impossible criterion, diverging learning rate,
m larger than the data, missing MNIST files)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sims.experiments import pretraining
from sims.foundations.composed import with_keys
import torch

from sims.data.datasets import DatasetConfig, load_dataset
from sims.experiments.common import unit_rms_targets
from sims.experiments.pretraining import setup_plan, setup_seeds
from sims.experiments.runner import run_experiment
from sims.nets.model import hidden_activations, init_network, neuron_features
from sims.nets.train import TrainConfig, train
from sims.results.rows import load_results
from theory import bounds, geometry
from theory.pretraining import random_subnetwork_losses
from theory.claims import Verdict

from tests.helpers import EXACT, REFERENCE
from tests.helpers import by_metric as _by_metric

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tiny_pretraining(**changes):
    """The quick preset cut to synthetic set-ups and small sizes (seconds per run)."""
    base = with_keys(pretraining.quick(), setups=("ntk-teacher", "mf-teacher"), teacher_sizes=(60, 120, 240),
                   ntk_iterations=60, mf_iterations=60, coarse_points=6)
    return with_keys(base, **changes)

def test_pretraining_quick_rows(quick_pretraining):
    _, rows = quick_pretraining
    config = pretraining.quick()
    for setup in config.setups:
        plan = setup_plan(config, setup)
        seeds = setup_seeds(config, setup)
        for eps in plan.eps:  # one T* and one T_B per (m, seed, eps), with eps in its column
            for metric in ("pretrain_steps", "certificate_steps", "pretrain_steps_stable", "dense_steps"):
                found = _by_metric(rows, metric, dataset=setup, eps=eps)
                assert sorted((r["m"], r["seed"]) for r in found) == sorted((m, s) for m in plan.sizes
                                                                           for s in seeds), (setup, metric, eps)
        for eps in plan.sum_eps:
            assert len(_by_metric(rows, "pretrain_steps_sum", dataset=setup, eps=eps)) == len(plan.sizes)
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
    assert per_epoch and all(r["value"] == math.ceil(r["m"] / config.sgd_train.batch_size) for r in per_epoch)
    assert max(r["step"] for r in _by_metric(rows, "subnet_loss", dataset="sgd-mnist5k")) == config.sgd_train.iterations


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
    assert len(spectrum) == min(100, pretraining.quick().rf_network.width) and all(r["value"] > 0 for r in spectrum)


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
    rng = np.random.default_rng(1)
    inputs = rng.standard_normal((30, 4))
    model = init_network(4, 25, outputs, scaling=scaling, seed=2)
    value = pretraining.neuron_variance_from_hidden(model, hidden_activations(model, inputs))
    assert value == pytest.approx(geometry.neuron_variance(neuron_features(model, inputs).numpy()), rel=REFERENCE)


def test_contraction_rate():
    losses = 0.5 * 0.9 ** np.arange(50)
    assert pretraining.contraction_rate(losses, 20) == pytest.approx(-math.log(0.9))
    assert math.isnan(pretraining.contraction_rate(losses, 1)) and math.isnan(pretraining.contraction_rate(losses, math.inf))


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
    config = with_keys(pretraining.quick(), setups=("mf-mnist5k",), mnist5k_sizes=(100,), mnist_iterations=5,
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
    config = with_keys(pretraining.quick(), setups=("mf-mnist5k", "mf-mnist"), mnist5k_sizes=(100, 6000),
                     mnist_sizes=(100,), mnist_iterations=3, coarse_points=2)
    rows = [row for cell in pretraining.cells(config) for row in pretraining.run_cell(config, cell)]
    too_large = _by_metric(rows, "skipped_m_too_large", dataset="mf-mnist5k")
    assert [r["m"] for r in too_large] == [6000] and too_large[0]["value"] == 5000
    assert _by_metric(rows, "pretrain_steps", dataset="mf-mnist5k", m=100)
    assert _by_metric(rows, "skipped_data_missing", dataset="mf-mnist")
    verdicts = pretraining.claims(rows, config)
    summaries = " ".join(v.summary for v in verdicts)
    assert "exceeds the 5000 available" in summaries and "MNIST files not found" in summaries


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


def _trained_ingredients(steps=40):
    """A mean-field network trained by GD on teacher data: the model at every step, the dense
    loss and V recorded during training (as run_cell records them), inputs and targets."""
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
    models, losses, variances, inputs, targets = _trained_ingredients(steps=5)
    check = pretraining.random_subnetwork_identity(models[5], inputs, targets, 7, 50, 3, losses[5], variances[5])
    direct = random_subnetwork_losses(neuron_features(models[5], inputs).numpy(), targets, 7, 50, 3)
    assert check.mean == pytest.approx(direct.mean(), rel=1e-10) and check.draws == 50


def test_p6_required_size_rows_and_n_beyond_the_width():
    """n > N runs (GFS with replacement, no clamp), and every cell reports P6's required n per eps."""
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
    config = with_keys(pretraining.quick(), setups=("sgd-mnist5k",), mnist5k_sizes=(300,), mnist_width=30,
                     sgd_epochs=4, coarse_points=4, mnist_eps=(0.45,), taus=())
    rows = pretraining.run_cell(config, pretraining.cells(config)[0])
    (epochs,) = _by_metric(rows, "pretrain_steps")
    (updates,) = _by_metric(rows, "pretrain_updates")
    per_epoch = math.ceil(300 / config.sgd_train.batch_size)
    if math.isfinite(epochs["value"]) and epochs["value"] > 0:
        assert (epochs["value"] - 1) * per_epoch < updates["value"] <= epochs["value"] * per_epoch
    else:
        assert updates["value"] == epochs["value"]
