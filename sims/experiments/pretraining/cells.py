"""E3's cells: one (set-up, m, seed) each. The dense network is trained once, with the neuron
variance V_t recorded at every step and the parameters on a stored grid (:mod:`.search` replays
the steps in between); the GFS subnetwork is evaluated on a coarse grid of steps and, for every
criterion, inside the bracket where it is first met. The rows are listed in the package's
docstring. Also the measurements a cell makes of its network: NTK's lambda_0, the neuron
variance from the hidden activations, the random-subnetwork identity and the contraction rate."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, replace

import numpy as np
import torch

from sims.data.datasets import DataFilesMissing, SubsetTooLarge, load_dataset
from sims.experiments.common import features_of, geometric_steps, tidy_row, unit_rms_targets
from sims.experiments.pretraining.config import PretrainingConfig, Setup, dense_learning_rate, setup_plan, setup_seeds
from sims.experiments.pretraining.search import Trajectory, crossing_steps, updates_to_criterion
from sims.metrics.quality import accuracy
from sims.nets.features import neuron_factors
from sims.nets.model import hidden_activations, init_network
from sims.nets.train import TrainingDiverged, train
from sims.selection.engine import select, subnetwork_output
from theory import bounds, geometry
from theory.pretraining import identity_check, p6_required_size, random_subnetwork_losses_gram

__all__ = ["Cell", "cells", "run_cell", "ntk_lambda_0", "neuron_variance_from_hidden", "random_subnetwork_identity",
           "contraction_rate"]


@dataclass(frozen=True)
class Cell:
    """One unit of E3's work: a set-up, a training-set size m and a seed."""

    setup: str
    m: int
    seed: int


def cells(config: PretrainingConfig) -> list[Cell]:
    return [Cell(setup, m, seed) for setup in config.setups for m in setup_plan(config, setup).sizes
            for seed in setup_seeds(config, setup)]


def _row(setup, method, m, seed, metric, value, step=None, eps=None) -> dict:
    """A row of E3: the subnetwork size is fixed by the config, so n stays empty."""
    return tidy_row(setup, method, m, None, seed, metric, value, step, eps=eps)


def _warn(message: str) -> None:
    print(f"pretraining: {message}", file=sys.stderr)


def _load(plan: Setup, m: int, seed: int):
    """The dataset of a cell, or (None, metric, value, reason) when it cannot be loaded."""
    try:
        dataset = load_dataset(replace(plan.data, m=m, seed=seed))
    except SubsetTooLarge as error:
        return None, "skipped_m_too_large", error.available, str(error)
    except DataFilesMissing as error:
        return None, "skipped_data_missing", math.nan, str(error)
    if plan.data.name == "teacher":
        dataset = unit_rms_targets(dataset)
    return dataset, None, None, None


def ntk_lambda_0(inputs: np.ndarray, max_points: int, seed: int) -> tuple[str, float]:
    """(metric name, value): lambda_min of the closed-form NTK Gram matrix of ``inputs`` (m, d),
    exact when m <= max_points, otherwise of a seeded random subsample of max_points rows
    (an upper bound on the full lambda_0 by Cauchy interlacing)."""
    if inputs.shape[0] <= max_points:
        return "lambda_0", geometry.min_eigenvalue(geometry.ntk_gram(inputs))
    rows = np.sort(np.random.default_rng(seed).choice(inputs.shape[0], max_points, replace=False))
    return "lambda_0_subsample", geometry.min_eigenvalue(geometry.ntk_gram(inputs[rows]))


def neuron_variance_from_hidden(model, hidden) -> float:
    """V of docs/THEORY.md for the model's neurons, from act(Z) (m, N) in float64:
    ``V = (c^2 / (N m)) sum_ij act_ij^2 ||b_i||^2 - (1/m) ||u||^2`` with u the dense outputs."""
    h = hidden.double()
    b = model.second_weight.double()
    c = model.neuron_scale
    m, width = h.shape
    outputs = (c / width) * (h @ b)
    second_moment = (c * c / (width * m)) * float((h * h).sum(0) @ (b * b).sum(1))
    return max(second_moment - float((outputs * outputs).sum()) / m, 0.0)


def random_subnetwork_identity(model, inputs, targets, n: int, draws: int, seed, dense_loss: float, variance: float):
    """theory.pretraining's identity for this network: ``draws`` subnetworks of n neurons drawn
    i.i.d. with replacement (seeded by ``seed``, any numpy seed), their mean loss against
    ``dense_loss + variance / (2n)`` (the values recorded during training at this step).

    The draws' losses come from the Gram matrix of the neuron features phi_i = c act_i b_i,
    ``G_ik = c^2 (act^T act)_ik (b_i . b_k)`` and ``Phi^T y``, in float64."""
    with torch.no_grad():
        h = hidden_activations(model, inputs).double()
        b = model.second_weight.double()
        y = torch.as_tensor(np.asarray(targets, dtype=np.float64)).reshape(h.shape[0], -1)
        c = model.neuron_scale
        gram = (c * c) * (h.T @ h) * (b @ b.T)
        cross = c * ((h.T @ y) * b).sum(1)
    losses = random_subnetwork_losses_gram(gram.numpy(), cross.numpy(), float((y * y).sum()), h.shape[0], n, draws,
                                           seed)
    return identity_check(losses, dense_loss, variance, n)


def contraction_rate(dense_loss: np.ndarray, t_star: float) -> float:
    """Mean log-contraction per step of the dense loss over [floor(T*/2), T*] (nan when T* < 2
    or not finite): the rate of the directions that still matter when eps is reached."""
    if not math.isfinite(t_star) or t_star < 2:
        return math.nan
    end = int(t_star)
    start = end // 2
    if dense_loss[end] <= 0 or dense_loss[start] <= 0:
        return math.nan
    return math.log(dense_loss[start] / dense_loss[end]) / (end - start)


def _criteria(plan: Setup, m: int, labelled: bool) -> list[tuple[str, float, float | None, float | None]]:
    """(metric suffix, eps as reported, mean-form loss threshold, accuracy threshold)."""
    out = [("", float(eps), float(eps), None) for eps in plan.eps]
    out += [("_sum", float(eps), float(eps) / m, None) for eps in plan.sum_eps]
    return out


def run_cell(config: PretrainingConfig, cell: Cell) -> list[dict]:
    """The rows of one cell (the package's docstring lists them)."""
    setup, m, seed = cell.setup, cell.m, cell.seed
    plan = setup_plan(config, setup)
    dataset, skip_metric, skip_value, reason = _load(plan, m, seed)
    if dataset is None:
        _warn(f"{setup} m={m} seed={seed} skipped: {reason}")
        return [_row(setup, "gfs", m, seed, skip_metric, skip_value)]

    network, loss_form, mode = plan.network, plan.train.loss_form, plan.train.mode
    lr = dense_learning_rate(setup, plan.train.lr, m)
    iterations, width, every = plan.train.iterations, network.width, plan.store_every
    model = init_network(dataset.input_dim, width, dataset.output_dim, activation=network.activation,
                         scaling=network.scaling, bias=network.bias, second_layer=plan.second_layer, seed=seed,
                         dtype=network.dtype, device=network.device)
    if plan.second_scale != 1.0:
        model = replace(model, second_weight=model.second_weight * plan.second_scale)
    train_config = replace(plan.train, lr=lr, shuffle_seed=seed)
    inputs = torch.as_tensor(dataset.train_inputs, dtype=model.dtype)
    targets = torch.as_tensor(dataset.train_targets, dtype=model.dtype)
    rows: list[dict] = []

    prediction = None
    if mode == "second":  # P8 before training: the spectrum at initialisation predicts L(u_t) and V_t
        psi = hidden_activations(model, inputs).double().numpy()
        prediction = bounds.random_features_trajectory(psi, model.second_weight.double().numpy(),
                                                       dataset.train_targets, lr, iterations)
        if seed == config.seeds[0]:
            spectrum = bounds.random_features_spectrum(psi, psi @ model.second_weight.double().numpy() / width
                                                       - dataset.train_targets)
            energy = np.sum(spectrum.coefficients ** 2, axis=1)
            for j, (mu, c2) in enumerate(zip(spectrum.mu, energy)):
                rows.append(_row(setup, "p8-prediction", m, seed, "rf_mu", mu, j))
                rows.append(_row(setup, "p8-prediction", m, seed, "rf_c2", c2, j))
            rows.append(_row(setup, "p8-prediction", m, seed, "rf_rest", float(np.sum(spectrum.rest))))

    variances: list[float] = []
    stored = {}

    def observe(step, current, hidden):
        variances.append(neuron_variance_from_hidden(current, hidden))
        if step % every == 0 or step == iterations:
            stored[step] = current.clone()

    try:
        result = train(model, inputs, targets, train_config, observe=observe)
    except TrainingDiverged as error:
        _warn(f"{setup} m={m} seed={seed}: {error}")
        return [_row(setup, "dense", m, seed, "diverged_lr", lr)]

    dense = result.losses / (m if loss_form == "sum" else 1.0)  # mean form, per step
    variance = np.asarray(variances)
    n = plan.n  # may exceed the width: GFS picks with replacement
    certificate = bounds.pretraining_certificate(dense, variance, n)
    trajectory = Trajectory(stored, inputs, targets, train_config, iterations)
    labels = dataset.train_labels
    cache: dict[int, tuple[float, float | None]] = {}

    def subnet_of(current) -> tuple[float, float | None]:
        features = features_of(current, inputs)
        selection = select(neuron_factors(current, inputs), dataset.train_targets, n, "gfs")
        acc = None if labels is None else accuracy(subnetwork_output(features, selection.weights), labels)
        return float(selection.losses[-1]), acc

    def subnet(step: int) -> tuple[float, float | None]:
        if step not in cache:
            cache[step] = subnet_of(trajectory.model_at(step))
        return cache[step]

    coarse = geometric_steps(iterations, config.coarse_points)
    for step in coarse:
        loss, acc = subnet(step)
        check = random_subnetwork_identity(trajectory.model_at(step), inputs, dataset.train_targets, n,
                                           config.identity_draws, [seed, m, step], dense[step], variance[step])
        rows.append(_row(setup, "identity", m, seed, "identity_z", check.z, step))
        rows.append(_row(setup, "identity", m, seed, "identity_se", check.se, step))
        rows.append(_row(setup, "gfs", m, seed, "subnet_loss", loss, step))
        rows.append(_row(setup, "gfs", m, seed, "subnet_loss_sum", loss * m, step))
        if acc is not None:
            rows.append(_row(setup, "gfs", m, seed, "subnet_accuracy", acc, step))
        rows.append(_row(setup, "dense", m, seed, "dense_loss", dense[step], step))
        rows.append(_row(setup, "dense", m, seed, "V", variance[step], step))
        rows.append(_row(setup, "p7-bound", m, seed, "certificate", certificate[step], step))
    rows.append(_row(setup, "dense", m, seed, "initial_loss", dense[0]))
    rows.append(_row(setup, "dense", m, seed, "initial_loss_sum", dense[0] * m))

    for suffix, eps, threshold, _ in _criteria(plan, m, labels is not None):
        t_bound = bounds.certificate_steps(certificate, threshold)
        # T_B joins the grid: there P2 guarantees the subnetwork meets eps, so the search
        # must find T* <= T_B unless P7 fails (the check is then a check of P2 at T_B)
        grid = coarse + ([int(t_bound)] if math.isfinite(t_bound) else [])
        first, stable = crossing_steps(lambda t: subnet(t)[0] <= threshold, grid)
        rows.append(_row(setup, "gfs", m, seed, f"pretrain_steps{suffix}", first, eps=eps))
        rows.append(_row(setup, "gfs", m, seed, f"pretrain_steps{suffix}_stable", stable, eps=eps))
        rows.append(_row(setup, "p7-bound", m, seed, f"certificate_steps{suffix}", t_bound, eps=eps))
        rows.append(_row(setup, "dense", m, seed, f"dense_steps{suffix}", bounds.certificate_steps(dense, threshold),
                         eps=eps))
        if suffix == "":
            rows.append(_row(setup, "dense", m, seed, "contraction_rate", contraction_rate(dense, first), eps=eps))
            if plan.train.batch_size is not None:
                updates = updates_to_criterion(first, trajectory, plan.train.batch_size,
                                               lambda current: subnet_of(current)[0] <= threshold)
                rows.append(_row(setup, "gfs", m, seed, "pretrain_updates", updates, eps=eps))
        if prediction is not None:
            predicted = bounds.certificate_steps(bounds.pretraining_certificate(*prediction, n), threshold)
            rows.append(_row(setup, "p8-prediction", m, seed, f"predicted_certificate_steps{suffix}", predicted,
                             eps=eps))
    if labels is not None:
        for tau in config.taus:
            first, stable = crossing_steps(lambda t: subnet(t)[1] >= tau, coarse)
            rows.append(_row(setup, "gfs", m, seed, "pretrain_steps_accuracy", first, eps=tau))
            rows.append(_row(setup, "gfs", m, seed, "pretrain_steps_accuracy_stable", stable, eps=tau))
    if prediction is not None:
        error = float(np.max(np.abs(dense / prediction[0] - 1.0)))
        rows.append(_row(setup, "p8-prediction", m, seed, "p8_max_relative_error", error))
    if plan.train.batch_size is not None:
        rows.append(_row(setup, "dense", m, seed, "steps_per_epoch", math.ceil(m / plan.train.batch_size)))
    v_max = float(np.max(variance))
    for eps in plan.eps:
        if eps > 0:  # P6's required size: below it the pruning margin alone exceeds eps
            rows.append(_row(setup, "p6-bound", m, seed, "p6_required_n", p6_required_size(v_max, eps), eps=eps))
    rows.append(_row(setup, "gfs", m, seed, "evaluations", len(cache)))
    rows.append(_row(setup, "dense", m, seed, "replayed_steps", trajectory.replayed_steps))
    if setup == "ntk-teacher":
        rows.extend(_ntk_rows(config, dataset, dense[0], variance, n, lr, plan.eps, setup, m, seed))
    return rows


def _ntk_rows(config, dataset, initial_loss, variance, n, eta, eps_values, setup, m, seed) -> list[dict]:
    """lambda_0 and P6's predicted T* per eps (mean-form L(u_0), eps and V = the largest V_t;
    the contraction uses the summed-loss step eta)."""
    name, lambda_0 = ntk_lambda_0(dataset.train_inputs, config.lambda_max_points, seed)
    rows = [_row(setup, "dense", m, seed, name, lambda_0)]
    v_max = float(np.max(variance))
    rows.append(_row(setup, "p6-bound", m, seed, "p6_pruning_margin", bounds.pruning_margin(n, v_max)))
    if lambda_0 <= 0:
        _warn(f"{setup} m={m} seed={seed}: P6 not evaluated (lambda_0={lambda_0:.3g})")
        return rows
    for eps in eps_values:
        if eps > 0:
            predicted = bounds.required_pretraining_steps(initial_loss, eps, v_max, n, eta, lambda_0)
            rows.append(_row(setup, "p6-bound", m, seed, "p6_steps", predicted, eps=eps))
    return rows
