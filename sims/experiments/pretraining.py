"""E3 `pretraining`: how many full-batch GD pre-training steps T*(m) a dense two-layer network
needs before greedy forward selection (``gfs``) finds a good subnetwork of fixed size n, as
the number of training samples m grows (Wolfe et al.; THEORY.md P5 and P6).

Set-ups (the ``dataset`` column of the rows):

- ``ntk-teacher``: the NTK set-up of P5. First layer trained, second layer fixed to +-1
  (``init_network(second_layer='sign', scaling='ntk')``), relu, inputs uniform on the unit
  sphere, GD on the summed loss with step eta = ntk_lr / m (the top eigenvalue of the
  summed-loss Gram matrix grows like m, so a fixed eta would diverge at large m; in the mean
  form this is the width- and m-independent learning rate ntk_lr). Also reports the measured
  lambda_0 = lambda_min(H) of the closed-form NTK Gram matrix and P6's predicted T*.
- ``mf-teacher``: a mean-field network trained on both layers, same synthetic data.
- ``mf-mnist5k``: the same on bundled MNIST 5k (one-hot targets, training split only).
- ``mf-mnist``: full MNIST (IDX files); not in the default list. When the files are absent,
  each of its cells returns one ``skipped_data_missing`` row instead of failing.

Synthetic targets are divided by their RMS norm, so the zero predictor's loss is 0.5 in every
set-up and the criterion ``loss <= eps`` reads as a fraction of it.

A cell is (setup, m, seed): train the dense network once, keeping checkpoints on a geometric
grid of iterations; at each checkpoint select n neurons by gfs and record (step = iteration)

- ``subnet_loss`` (mean form 0.5 mean_j ||f_n(x_j) - y_j||^2), ``subnet_loss_sum`` (summed
  form, m times the former), ``subnet_accuracy`` (labelled data), ``dense_loss`` (mean form)
  and ``V`` (neuron variance of the dense network, THEORY.md's norm);

then, with step empty:

- ``pretrain_steps``: T* = first checkpoint with subnet_loss <= eps (inf: not reached within
  the budget); ``pretrain_steps_accuracy``: first checkpoint with subnet_accuracy >= tau;
  ``eps`` and ``tau``: the criteria used;
- NTK only: ``lambda_0`` (exact, m <= lambda_max_points) or ``lambda_0_subsample`` (of a
  random principal submatrix of lambda_max_points rows: an upper bound on lambda_0 by
  eigenvalue interlacing); ``p6_steps`` (method ``p6-bound``) = P6's predicted T* with V the
  largest neuron variance over the checkpoints (inf when the pruning term alone exceeds eps:
  the bound is vacuous, as THEORY.md's caution under P6 expects for n << N);
- ``diverged_lr`` (value = the learning rate) when pre-training diverged;
  ``skipped_m_too_large`` (value = the number of examples available) when m exceeds the data.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, replace

import numpy as np

from sims.data import DataFilesMissing, DatasetConfig, SubsetTooLarge, load_dataset
from sims.experiments.common import (
    accuracy,
    features_of,
    geometric_steps,
    half_mean_squared_error,
    tidy_row,
    train_dense,
    unit_rms_targets,
)
from sims.model import check_choices
from sims.runner import Experiment, register

SETUPS = ("ntk-teacher", "mf-teacher", "mf-mnist5k", "mf-mnist")
DEFAULT_SETUPS = ("ntk-teacher", "mf-teacher", "mf-mnist5k")


@dataclass(frozen=True)
class PretrainingConfig:
    """Full-scale defaults; ``quick()`` gives the preset of ``--quick``.

    eps_*: the loss criterion (mean form, fraction of the zero predictor's loss 0.5 on the
    synthetic data; absolute on MNIST, where the zero predictor's loss is also 0.5);
    tau: the training-accuracy criterion (labelled data only).
    """

    setups: tuple[str, ...] = DEFAULT_SETUPS
    seeds: tuple[int, ...] = (0, 1, 2)
    n: int = 50
    checkpoint_points: int = 24
    # synthetic teacher (both set-ups)
    teacher_sizes: tuple[int, ...] = (125, 250, 500, 1000, 2000, 4000, 8000)
    input_dim: int = 5
    teacher_width: int = 10
    # NTK set-up
    ntk_width: int = 200
    ntk_iterations: int = 2000
    ntk_lr: float = 1.0
    ntk_eps: float = 0.035
    lambda_max_points: int = 3000
    # mean-field set-ups
    mf_width: int = 400
    mf_iterations: int = 600
    mf_lr: float = 1.0
    mf_eps: float = 0.02
    mnist5k_sizes: tuple[int, ...] = (250, 500, 1000, 2000, 5000)
    mnist_sizes: tuple[int, ...] = (1000, 3000, 10000, 30000, 60000)
    mnist_width: int = 300
    mnist_iterations: int = 300
    mnist_lr: float = 1.0
    mnist_eps: float = 0.25
    tau: float = 0.8

    def __post_init__(self):
        check_choices("setups", self.setups, SETUPS)
        if not self.seeds:
            raise ValueError("seeds must not be empty")
        for name in ("n", "ntk_width", "mf_width", "mnist_width", "checkpoint_points"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        for name in ("teacher_sizes", "mnist5k_sizes", "mnist_sizes"):
            if any(m < 1 for m in getattr(self, name)):
                raise ValueError(f"{name} must hold positive integers, got {getattr(self, name)!r}")
        for name in ("ntk_eps", "mf_eps", "mnist_eps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")


def quick() -> PretrainingConfig:
    return PretrainingConfig(
        seeds=(0,),
        n=20,
        checkpoint_points=10,
        teacher_sizes=(100, 200, 400),
        ntk_width=100,
        ntk_iterations=300,
        lambda_max_points=400,
        mf_width=100,
        mf_iterations=200,
        mnist5k_sizes=(250, 500),
        mnist_width=60,
        mnist_iterations=60,
        ntk_eps=0.07,
        mf_eps=0.05,
        mnist_eps=0.4,
        tau=0.55,
    )


def _setting(config: PretrainingConfig, setup: str) -> dict:
    """Data, network and criterion of one set-up."""
    if setup in ("ntk-teacher", "mf-teacher"):
        data = DatasetConfig(name="teacher", input_dim=config.input_dim, teacher_width=config.teacher_width,
                             input_distribution="sphere", test_fraction=0.0)
        if setup == "ntk-teacher":
            return dict(data=data, sizes=config.teacher_sizes, width=config.ntk_width, iterations=config.ntk_iterations,
                        lr=config.ntk_lr, eps=config.ntk_eps, dtype="float64",
                        train=dict(mode="first", scaling="ntk", second_layer="sign", loss_form="sum"))
        return dict(data=data, sizes=config.teacher_sizes, width=config.mf_width, iterations=config.mf_iterations,
                    lr=config.mf_lr, eps=config.mf_eps, dtype="float64", train=dict())
    name = "mnist5k" if setup == "mf-mnist5k" else "mnist"
    data = DatasetConfig(name=name, test_fraction=0.0)
    sizes = config.mnist5k_sizes if name == "mnist5k" else config.mnist_sizes
    return dict(data=data, sizes=sizes, width=config.mnist_width, iterations=config.mnist_iterations,
                lr=config.mnist_lr, eps=config.mnist_eps, dtype="float32", train=dict())


def cells(config: PretrainingConfig) -> list[dict]:
    return [
        {"setup": setup, "m": m, "seed": seed}
        for setup in config.setups
        for m in _setting(config, setup)["sizes"]
        for seed in config.seeds
    ]


def _row(setup, method, m, seed, metric, value, step=None) -> dict:
    """A row of E3: the subnetwork size is fixed by the config, so n stays empty."""
    return tidy_row(setup, method, m, None, seed, metric, value, step)


def _warn(message: str) -> None:
    print(f"pretraining: {message}", file=sys.stderr)


def _load(setting: dict, m: int, seed: int):
    """The dataset of a cell, or (None, reason, value) when it cannot be loaded."""
    try:
        dataset = load_dataset(replace(setting["data"], m=m, seed=seed))
    except SubsetTooLarge as error:
        return None, "skipped_m_too_large", error.available, str(error)
    except DataFilesMissing as error:
        return None, "skipped_data_missing", math.nan, str(error)
    if setting["data"].name == "teacher":
        dataset = unit_rms_targets(dataset)
    return dataset, None, None, None


def first_reaching(steps, values, threshold: float, *, below: bool) -> float:
    """The first step whose value is <= threshold (below=True) or >= threshold; inf if none.

    steps and values are equal-length sequences in increasing step order.
    """
    for step, value in zip(steps, values):
        if (value <= threshold) if below else (value >= threshold):
            return float(step)
    return math.inf


def ntk_lambda_0(inputs: np.ndarray, max_points: int, seed: int) -> tuple[str, float]:
    """(metric name, value): lambda_min of the closed-form NTK Gram matrix of ``inputs`` (m, d),
    exact when m <= max_points, otherwise of a seeded random subsample of max_points rows
    (an upper bound on the full lambda_0 by Cauchy interlacing)."""
    from theory import geometry

    if inputs.shape[0] <= max_points:
        return "lambda_0", geometry.min_eigenvalue(geometry.ntk_gram(inputs))
    rows = np.sort(np.random.default_rng(seed).choice(inputs.shape[0], max_points, replace=False))
    return "lambda_0_subsample", geometry.min_eigenvalue(geometry.ntk_gram(inputs[rows]))


def run_cell(config: PretrainingConfig, cell: dict) -> list[dict]:
    from sims.select import select, subnetwork_output
    from sims.train import TrainingDiverged
    from theory import geometry

    setup, m, seed = cell["setup"], cell["m"], cell["seed"]
    setting = _setting(config, setup)
    dataset, skip_metric, skip_value, reason = _load(setting, m, seed)
    if dataset is None:
        _warn(f"{setup} m={m} seed={seed} skipped: {reason}")
        return [_row(setup, "gfs", m, seed, skip_metric, skip_value)]

    ntk = setup == "ntk-teacher"
    # NTK: summed loss with eta = ntk_lr / m is mean-form GD with step ntk_lr.
    lr = setting["lr"] / m if ntk else setting["lr"]
    steps = geometric_steps(setting["iterations"], config.checkpoint_points)
    try:
        result = train_dense(dataset, setting["width"], setting["iterations"], lr, seed=seed, dtype=setting["dtype"],
                             checkpoints=tuple(steps), **setting["train"])
    except TrainingDiverged as error:
        _warn(f"{setup} m={m} seed={seed}: {error}")
        return [_row(setup, "dense", m, seed, "diverged_lr", lr)]

    targets, labels = dataset.train_targets, dataset.train_labels
    rows = []
    losses, accuracies, variances = [], [], []
    n = min(config.n, setting["width"])
    for step in steps:
        model = result.checkpoints[step]
        features = features_of(model, dataset.train_inputs)
        selection = select(features, targets, n, "gfs")
        loss = float(selection.losses[-1])
        variance = geometry.neuron_variance(features.double().numpy()) if ntk else None
        losses.append(loss)
        rows.append(_row(setup, "gfs", m, seed, "subnet_loss", loss, step))
        rows.append(_row(setup, "gfs", m, seed, "subnet_loss_sum", loss * m, step))
        rows.append(_row(setup, "dense", m, seed, "dense_loss",
                         half_mean_squared_error(features.mean(1).double().numpy(), targets), step))
        if variance is not None:
            variances.append(variance)
            rows.append(_row(setup, "dense", m, seed, "V", variance, step))
        if labels is not None:
            outputs = subnetwork_output(features, selection.weights)
            accuracies.append(accuracy(outputs, labels))
            rows.append(_row(setup, "gfs", m, seed, "subnet_accuracy", accuracies[-1], step))

    eps = setting["eps"]
    rows.append(_row(setup, "gfs", m, seed, "eps", eps))
    rows.append(_row(setup, "gfs", m, seed, "pretrain_steps", first_reaching(steps, losses, eps, below=True)))
    if labels is not None:
        rows.append(_row(setup, "gfs", m, seed, "tau", config.tau))
        rows.append(_row(setup, "gfs", m, seed, "pretrain_steps_accuracy",
                         first_reaching(steps, accuracies, config.tau, below=False)))
    if ntk:
        rows.extend(_ntk_rows(config, dataset, result, variances, n, lr, eps, setup, m, seed))
    return rows


def _ntk_rows(config, dataset, result, variances, n, eta, eps, setup, m, seed) -> list[dict]:
    """lambda_0 and P6's predicted T* (mean-normalised L(u_0), eps and V; the contraction uses
    the summed-loss step eta)."""
    from theory import bounds

    name, lambda_0 = ntk_lambda_0(dataset.train_inputs, config.lambda_max_points, seed)
    rows = [_row(setup, "dense", m, seed, name, lambda_0)]
    if lambda_0 <= 0 or eps <= 0:
        _warn(f"{setup} m={m} seed={seed}: P6 not evaluated (lambda_0={lambda_0:.3g}, eps={eps})")
        return rows
    initial_loss = result.losses[0] / m  # the summed loss at step 0, mean-normalised
    predicted = bounds.required_pretraining_steps(initial_loss, eps, max(variances), n, eta, lambda_0)
    rows.append(_row(setup, "p6-bound", m, seed, "p6_steps", predicted))
    rows.append(_row(setup, "p6-bound", m, seed, "p6_pruning_margin", bounds.pruning_margin(n, max(variances))))
    return rows


# ---------------------------------------------------------------- figures


def _t_star_by_m(rows, setup: str, metric: str):
    """(m, mean, low, high, reached share) of T* over seeds; inf seeds make that m 'not reached'."""
    per_m: dict[int, list[float]] = {}
    for row in rows:
        if row["dataset"] == setup and row["metric"] == metric and row.get("m") is not None:
            per_m.setdefault(row["m"], []).append(row["value"])
    ms = sorted(per_m)
    out = []
    for m in ms:
        values = np.asarray(per_m[m], dtype=float)
        finite = values[np.isfinite(values)]
        if finite.size == values.size and values.size:
            half = 1.96 * finite.std(ddof=1) / math.sqrt(finite.size) if finite.size > 1 else 0.0
            out.append((m, finite.mean(), finite.mean() - half, finite.mean() + half, True))
        else:
            out.append((m, math.nan, math.nan, math.nan, False))
    return out


def plot_t_star(rows, config: PretrainingConfig, folder) -> list:
    """T*(m) on a log m axis, one panel per set-up: seed mean with 95% interval, the three
    fits of theory.rates.fit_pretraining_growth, unreached m marked at the top, and on the NTK
    panel P6's predicted T* (or a note that it is vacuous)."""
    import matplotlib.ticker

    from sims.plots import plt, save_both
    from theory import rates

    setups = [s for s in config.setups if any(r["dataset"] == s and r["metric"] == "pretrain_steps" for r in rows)]
    if not setups:
        return []
    figure, axes = plt.subplots(1, len(setups), figsize=(4.8 * len(setups), 4.0), squeeze=False)
    for axis, setup in zip(axes[0], setups):
        for metric, color, label in (("pretrain_steps", "C0", "loss ≤ eps"),
                                     ("pretrain_steps_accuracy", "C1", "accuracy ≥ tau")):
            points = _t_star_by_m(rows, setup, metric)
            if not points:
                continue
            reached = [p for p in points if p[4]]
            missed = [p[0] for p in points if not p[4]]
            if reached:
                ms = np.array([p[0] for p in reached], dtype=float)
                mean = np.array([p[1] for p in reached])
                axis.errorbar(ms, mean, yerr=[mean - np.array([p[2] for p in reached]),
                                              np.array([p[3] for p in reached]) - mean],
                              fmt="o", color=color, capsize=3, label=f"T*: {label}")
                if ms.size >= 3:
                    comparison = rates.fit_pretraining_growth(ms, mean)
                    grid = np.geomspace(ms[0], ms[-1], 80)
                    for fit, style in zip(comparison.fits, ("-", "--", ":")):
                        a, b = fit.params
                        curve = a + b * np.log(grid) if fit.name == "log" else (
                            a + b * grid if fit.name == "linear" else a * np.power(grid, b))
                        best = " (best)" if fit.name == comparison.best else ""
                        axis.plot(grid, curve, style, color=color, lw=1, alpha=0.7,
                                  label=f"{fit.name} fit, AIC {fit.aic:.1f}{best}")
            for m in missed:
                axis.annotate("not reached", (m, 1), xycoords=("data", "axes fraction"), color=color, fontsize=7,
                              rotation=90, ha="center", va="top")
        predicted = [r for r in rows if r["dataset"] == setup and r["metric"] == "p6_steps"]
        if predicted:
            finite = [r for r in predicted if np.isfinite(r["value"])]
            if finite:
                ms = sorted({r["m"] for r in finite})
                mean = [np.mean([r["value"] for r in finite if r["m"] == m]) for m in ms]
                axis.plot(ms, mean, "s--", color="C3", label="P6 predicted T*")
            else:
                axis.text(0.02, 0.98, "P6 predicted T*: inf at every m\n(pruning term V(1+ln n)/2n > eps)",
                          transform=axis.transAxes, fontsize=7, color="C3", va="top")
        axis.set(xscale="log", xlabel="training samples m", ylabel="pre-training steps T*", title=setup)
        sizes = sorted({row["m"] for row in rows if row["dataset"] == setup and row["m"] is not None})
        axis.set_xticks(sizes, [str(m) for m in sizes])  # the grid's own sizes, not crowded minor labels
        axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axis.grid(True, which="both", alpha=0.25)
        axis.legend(fontsize=6)
    figure.tight_layout()
    return save_both(figure, folder, "pretraining_t_star")


def plot_subnet_curves(rows, config: PretrainingConfig, folder) -> list:
    """Subnetwork training loss (mean form, seed mean) against the pre-training checkpoint, one
    line per m and one panel per set-up, with the criterion eps dashed."""
    from sims.plots import plt, save_both

    setups = [s for s in config.setups if any(r["dataset"] == s and r["metric"] == "subnet_loss" for r in rows)]
    if not setups:
        return []
    figure, axes = plt.subplots(1, len(setups), figsize=(4.8 * len(setups), 4.0), squeeze=False)
    for axis, setup in zip(axes[0], setups):
        curve_rows = [r for r in rows if r["dataset"] == setup and r["metric"] == "subnet_loss"]
        ms = sorted({r["m"] for r in curve_rows})
        colors = plt.cm.viridis(np.linspace(0, 0.9, len(ms)))
        for m, color in zip(ms, colors):
            by_step: dict[int, list[float]] = {}
            for r in curve_rows:
                if r["m"] == m:
                    by_step.setdefault(r["step"], []).append(r["value"])
            steps = np.array(sorted(by_step), dtype=float)
            axis.plot(np.maximum(steps, 0.5), [np.mean(by_step[s]) for s in sorted(by_step)], "-o", ms=2,
                      color=color, label=f"m={m}")
        eps = [r["value"] for r in rows if r["dataset"] == setup and r["metric"] == "eps"]
        if eps:
            axis.axhline(eps[0], color="k", ls="--", lw=0.8, label=f"eps={eps[0]:g}")
        axis.set(xscale="log", yscale="log", xlabel="pre-training step (0 drawn at 0.5)",
                 ylabel=f"GFS subnetwork loss (n={config.n}), mean form", title=setup)
        axis.grid(True, which="both", alpha=0.25)
        axis.legend(fontsize=6)
    figure.tight_layout()
    return save_both(figure, folder, "pretraining_subnet_loss")


def figures(rows: list[dict], config: PretrainingConfig, folder) -> list:
    return plot_t_star(rows, config, folder) + plot_subnet_curves(rows, config, folder)


# ---------------------------------------------------------------- claims


def _t_star_text(rows, setup: str, metric: str) -> str:
    parts = []
    for m, mean, _, _, reached in _t_star_by_m(rows, setup, metric):
        parts.append(f"m={m}: {mean:.0f}" if reached else f"m={m}: not reached")
    return "; ".join(parts)


def claims(rows: list[dict], config: PretrainingConfig) -> list:
    from theory.claims import Verdict, pretraining_grows_logarithmically

    verdicts = []
    for setup in config.setups:
        notes = [r for r in rows if r["dataset"] == setup and r["metric"] in
                 ("diverged_lr", "skipped_m_too_large", "skipped_data_missing")]
        if notes:
            text = "; ".join(
                f"m={r['m']} seed={r['seed']}: "
                + {"diverged_lr": f"pre-training diverged with lr={r['value']:.3g}",
                   "skipped_m_too_large": f"m exceeds the {r['value']:.0f} available examples",
                   "skipped_data_missing": "full MNIST files not found (set data_dir or $GFS_MNIST_DIR)"}[r["metric"]]
                for r in notes)
            verdicts.append(Verdict(f"{setup}: every cell ran", False, text, {"cells_not_run": float(len(notes))}))
        for metric in ("pretrain_steps", "pretrain_steps_accuracy"):
            if not any(r["dataset"] == setup and r["metric"] == metric for r in rows):
                continue
            verdict = pretraining_grows_logarithmically(rows, metric=metric, dataset=setup)
            criterion = "loss <= eps" if metric == "pretrain_steps" else "accuracy >= tau"
            verdicts.append(replace(verdict, claim=f"{setup} ({criterion}): {verdict.claim}",
                                    summary=f"{verdict.summary}. T*(m): {_t_star_text(rows, setup, metric)}"))
        predicted = [r for r in rows if r["dataset"] == setup and r["metric"] == "p6_steps"]
        if predicted:
            finite = [r["value"] for r in predicted if np.isfinite(r["value"])]
            margins = [r["value"] for r in rows if r["dataset"] == setup and r["metric"] == "p6_pruning_margin"]
            eps = next(r["value"] for r in rows if r["dataset"] == setup and r["metric"] == "eps")
            summary = (f"P6 predicted T* finite for {len(finite)} of {len(predicted)} cells"
                       + (f" (median {np.median(finite):.3g} steps)" if finite else "")
                       + f"; pruning margin V(1+ln n)/(2n) = {np.median(margins):.3g} (median) vs eps = {eps:g}")
            verdicts.append(Verdict(f"{setup}: P6's predicted T* is non-vacuous", bool(finite) or False, summary,
                                    {"p6_finite_cells": float(len(finite)), "p6_cells": float(len(predicted)),
                                     "pruning_margin_median": float(np.median(margins)), "eps": float(eps)}))
    return verdicts


EXPERIMENT = register(
    Experiment(
        name="pretraining",
        config_class=PretrainingConfig,
        quick=quick,
        cells=cells,
        run_cell=run_cell,
        figures=figures,
        claims=claims,
        description="E3: pre-training steps T*(m) before GFS finds a good subnetwork, NTK and mean-field",
    )
)
