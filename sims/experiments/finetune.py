"""E4 `finetune`: after selecting n neurons by ``gfs`` from a pre-trained dense (mean-field)
network, train four networks of the same width for the same full-batch GD budget:

- ``finetune``: the selected subnetwork (``sims.nets.model.subnetwork``) from its pre-trained weights;
- ``reinit``: a network of the same width initialised at random (fresh seed);
- ``rewind``: lottery-ticket rewinding: the selected neurons, with the same mixing weights,
  reset to their values in the dense network's initialisation;
- ``random-finetune``: the same number of distinct neurons chosen uniformly at random from
  the pre-trained network (equal weights), fine-tuned.

Problems (``dataset`` column): ``teacher`` (synthetic mean-field teacher, inputs on the unit
sphere, targets scaled to unit RMS, a held-out test sample) and ``mnist5k`` (one-hot targets,
stratified test split).

A cell is (problem, seed): pre-train the dense network once, then for every n of the grid run
the four variants. "Same width" is the number of distinct neurons gfs kept (gfs selects with
replacement, so it can be below n); the rows carry n, the selection size.

Rows: curves ``train_loss`` and ``test_loss`` (mean form) with ``step`` on a geometric grid of
GD steps (step 0 is the variant's starting point); ``final_train_loss``, ``final_test_loss``
and on MNIST ``final_test_accuracy`` (step empty); ``width`` (neurons actually trained);
``diverged_lr`` when a variant's GD diverged; dense-network rows with method ``dense``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

import numpy as np
import torch

from sims.data.datasets import DatasetConfig, load_dataset
from sims.experiments.common import (ProblemCell, geometric_steps, init_dense, problem_cells, size_grid,
                                     tidy_row, train_dense, unit_rms_targets)
from sims.experiments.record import Experiment
from sims.foundations.composed import from_flat_record, nested
from sims.foundations.constraints import check_fields, constrained
from sims.foundations.errors import InputError
from sims.metrics.quality import accuracy, half_mean_squared_error
from sims.nets.features import neuron_factors
from sims.nets.model import NetworkConfig, forward, init_network, subnetwork
from sims.nets.train import TrainConfig, TrainingDiverged, train
from sims.plotting import plots
from sims.selection.engine import select
from theory.claims import Verdict, paired_improvement

PROBLEMS = ("teacher", "mnist5k")
VARIANTS = ("finetune", "reinit", "rewind", "random-finetune")
VARIANT_STYLE = {"finetune": ("C0", "-"), "reinit": ("C3", "--"), "rewind": ("C2", "-."),
                 "random-finetune": ("0.5", ":"), "dense": ("k", "-")}


def _training(iterations: int, key: str):
    """A nested TrainConfig whose steps are the key ``key`` and whose learning rate is ``lr``."""
    return nested(TrainConfig(lr=1.0, iterations=iterations), flat={"lr": "lr", "iterations": key})


@dataclass(frozen=True)
class FinetuneConfig:
    """Full-scale defaults; ``quick()`` gives the preset of ``--quick``. Each problem's data
    (``seed`` set per cell), dense network, pre-training and fine-tuning budget are the library's
    configs, nested; their keys are the flat names below (``sims.foundations.composed``; ``lr``
    is the learning rate of every training)."""

    problems: tuple[str, ...] = constrained(PROBLEMS, choices=lambda: PROBLEMS)
    seeds: tuple[int, ...] = constrained((0, 1, 2, 3, 4), value_range="non-negative")
    n_min: int = constrained(5, value_range="positive")
    n_points: int = constrained(6, value_range="positive")
    curve_points: int = constrained(20, value_range="positive")
    # synthetic teacher: inputs on the unit sphere, targets scaled to unit RMS
    teacher: DatasetConfig = nested(DatasetConfig(name="teacher", m=1000, input_dim=5, teacher_width=10,
                                                  input_distribution="sphere", test_fraction=0.2),
                                    flat={"m": "teacher_m", "input_dim": "input_dim", "teacher_width": "teacher_width"})
    teacher_network: NetworkConfig = nested(NetworkConfig(width=500), flat={"width": "teacher_dense_width"})
    teacher_pretrain: TrainConfig = _training(1000, "teacher_pretrain_iterations")
    teacher_finetune: TrainConfig = _training(1000, "teacher_finetune_iterations")
    teacher_n_max: int = constrained(100, value_range="positive")
    # MNIST 5k, float32
    mnist: DatasetConfig = nested(DatasetConfig(name="mnist5k", m=4000, test_fraction=0.2), flat={"m": "mnist_m"})
    mnist_network: NetworkConfig = nested(NetworkConfig(width=300, dtype="float32"),
                                          flat={"width": "mnist_dense_width"})
    mnist_pretrain: TrainConfig = _training(300, "mnist_pretrain_iterations")
    mnist_finetune: TrainConfig = _training(300, "mnist_finetune_iterations")
    mnist_n_max: int = constrained(100, value_range="positive")

    def __post_init__(self):
        check_fields(self)
        if not self.seeds:
            raise InputError("seeds must not be empty")
        for name, n_max, width in (("teacher_n_max", self.teacher_n_max, self.teacher_network.width),
                                   ("mnist_n_max", self.mnist_n_max, self.mnist_network.width)):
            if not self.n_min <= n_max <= width:
                raise InputError(f"{name} must lie in [n_min={self.n_min}, dense width {width}], got {n_max}")


def quick() -> FinetuneConfig:
    """The preset of ``--quick``, in the config's keys."""
    return from_flat_record(FinetuneConfig, dict(
        seeds=(0,),
        n_min=4,
        n_points=3,
        curve_points=8,
        teacher_m=200,
        teacher_dense_width=100,
        teacher_pretrain_iterations=200,
        teacher_finetune_iterations=200,
        teacher_n_max=30,
        mnist_m=500,
        mnist_dense_width=60,
        mnist_pretrain_iterations=60,
        mnist_finetune_iterations=60,
        mnist_n_max=30,
    ))


@dataclass(frozen=True)
class Problem:
    """One problem's data (``seed`` set per cell), dense network, pre-training, fine-tuning
    budget and largest n."""

    data: DatasetConfig
    network: NetworkConfig
    pretrain: TrainConfig
    finetune: TrainConfig
    n_max: int


def problem_plan(config: FinetuneConfig, problem: str) -> Problem:
    """The plan of ``problem`` under ``config``."""
    if problem == "teacher":
        return Problem(config.teacher, config.teacher_network, config.teacher_pretrain, config.teacher_finetune,
                       config.teacher_n_max)
    return Problem(config.mnist, config.mnist_network, config.mnist_pretrain, config.mnist_finetune, config.mnist_n_max)


cells = problem_cells  # one cell per (problem, seed)


def _loss_and_accuracy(model, inputs, targets, labels) -> tuple[float, float | None]:
    with torch.no_grad():
        outputs = forward(model, inputs).double().numpy()
    return half_mean_squared_error(outputs, targets), (accuracy(outputs, labels) if labels is not None else None)


def starting_networks(dense_init, dense_trained, selection, seed: int) -> dict:
    """The four variants' initial networks for one gfs ``selection`` of ``dense_trained``.

    dense_init: the dense network before pre-training (same neurons, same order).
    Returns {variant: TwoLayerNet}; all have the width of the gfs support.
    """
    finetune = subnetwork(dense_trained, selection.indices, np.full(len(selection.indices), 1.0 / len(selection.indices)))
    width = finetune.width
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(dense_trained.width, width, replace=False))
    return {
        "finetune": finetune,
        "reinit": init_network(dense_trained.input_dim, width, dense_trained.output_dim,
                               activation=dense_trained.activation, scaling=dense_trained.scaling,
                               seed=seed, dtype=dense_trained.dtype),
        "rewind": subnetwork(dense_init, selection.indices, np.full(len(selection.indices), 1.0 / len(selection.indices))),
        "random-finetune": subnetwork(dense_trained, chosen, np.full(width, 1.0 / width)),
    }


def run_cell(config: FinetuneConfig, cell: ProblemCell) -> list[dict]:
    problem, seed = cell.problem, cell.seed
    plan = problem_plan(config, problem)
    dataset = load_dataset(replace(plan.data, seed=seed))
    if problem == "teacher":
        dataset = unit_rms_targets(dataset)
    m = dataset.m
    dense_init = init_dense(dataset, plan.network, seed)
    try:
        dense = train_dense(dataset, plan.network, plan.pretrain, seed).model
    except TrainingDiverged as error:
        print(f"finetune: {problem} seed={seed}: dense pre-training: {error}", file=sys.stderr)
        return [tidy_row(problem, "dense", m, None, seed, "diverged_lr", plan.pretrain.lr)]

    splits = {"train": (dataset.train_inputs, dataset.train_targets, dataset.train_labels),
              "test": (dataset.test_inputs, dataset.test_targets, dataset.test_labels)}
    rows = []
    for split, data in splits.items():
        loss, acc = _loss_and_accuracy(dense, *data)
        rows.append(tidy_row(problem, "dense", m, None, seed, f"final_{split}_loss", loss))
        if acc is not None and split == "test":
            rows.append(tidy_row(problem, "dense", m, None, seed, "final_test_accuracy", acc))

    factored = neuron_factors(dense, dataset.train_inputs)  # H and the second layer, not (m, N, K)
    steps = geometric_steps(plan.finetune.iterations, config.curve_points)
    budget = replace(plan.finetune, checkpoints=tuple(steps))
    for n in size_grid(plan.n_max, config.n_points, n_min=config.n_min):
        selection = select(factored, dataset.train_targets, n, "gfs")
        starts = starting_networks(dense_init, dense, selection, seed=100_003 * (seed + 1) + n)
        for variant, start in starts.items():
            rows.append(tidy_row(problem, variant, m, n, seed, "width", start.width))
            try:
                result = train(start, dataset.train_inputs, dataset.train_targets, budget)
            except TrainingDiverged as error:
                print(f"finetune: {problem} seed={seed} n={n} {variant}: {error}", file=sys.stderr)
                rows.append(tidy_row(problem, variant, m, n, seed, "diverged_lr", budget.lr))
                continue
            for step in steps:
                for split, data in splits.items():
                    loss, acc = _loss_and_accuracy(result.checkpoints[step], *data)
                    rows.append(tidy_row(problem, variant, m, n, seed, f"{split}_loss", loss, step))
            for split, data in splits.items():
                loss, acc = _loss_and_accuracy(result.model, *data)
                rows.append(tidy_row(problem, variant, m, n, seed, f"final_{split}_loss", loss))
                if acc is not None and split == "test":
                    rows.append(tidy_row(problem, variant, m, n, seed, "final_test_accuracy", acc))
    return rows


# ---------------------------------------------------------------- figures and claims


def plot_finetune(rows, config: FinetuneConfig, folder) -> list:
    """Per problem: final train and test loss against n (geometric mean over seeds and the 95%
    Student-t band of the mean log, :func:`sims.plotting.plots.seed_band`; dense network as a horizontal line), and train-loss curves against GD
    step at the largest n. One legend under the panels; log axes labelled with plain numbers."""
    plt = plots.pyplot()
    written = []
    for problem in config.problems:
        problem_rows = [r for r in rows if r["dataset"] == problem]
        if not problem_rows:
            continue
        figure, axes = plt.subplots(1, 3, figsize=(15, 4.2))
        for axis, split in zip(axes[:2], ("train", "test")):
            for variant in VARIANTS:
                ns, mean, low, high = plots.seed_band(problem_rows, log=True, method=variant, metric=f"final_{split}_loss")
                if ns.size:
                    color, style = VARIANT_STYLE[variant]
                    axis.plot(ns, mean, style, marker="o", ms=3, color=color, label=variant)
                    axis.fill_between(ns, low, high, color=color, alpha=0.2, lw=0)
            dense = [r["value"] for r in problem_rows if r["method"] == "dense" and r["metric"] == f"final_{split}_loss"]
            if dense:
                axis.axhline(np.mean(dense), color="k", lw=0.8, label="dense (pre-trained)")
            axis.set(xscale="log", yscale="log", xlabel="subnetwork size n (gfs)",
                     ylabel=f"final {split} loss after the same GD budget", title=f"{problem}: {split} loss")
            axis.grid(True, which="both", alpha=0.25)
            plots.plain_log_labels(axis, "y")
            plots.plain_log_labels(axis, "x")
        ns = sorted({r["n"] for r in problem_rows if r["metric"] == "train_loss"})
        if ns:
            n = ns[-1]
            for variant in VARIANTS:
                steps, mean, low, high = plots.seed_band(problem_rows, log=True, by="step", method=variant, metric="train_loss", n=n)
                if steps.size:
                    color, style = VARIANT_STYLE[variant]
                    axes[2].plot(np.maximum(steps, 0.5), mean, style, color=color)
                    axes[2].fill_between(np.maximum(steps, 0.5), low, high, color=color, alpha=0.2, lw=0)
            axes[2].set(xscale="log", yscale="log", xlabel="GD step (0 drawn at 0.5)", ylabel="training loss",
                        title=f"{problem}: training curves at n={n}")
            axes[2].grid(True, which="both", alpha=0.25)
            plots.plain_log_labels(axes[2], "y")
        plots.legend_below(figure, axes[0], ncol=5)
        written += plots.save_both(figure, folder, f"finetune_{problem}")
    return written


def figures(rows: list[dict], config: FinetuneConfig, folder) -> list:
    return plot_finetune(rows, config, folder)


def claims(rows: list[dict], config: FinetuneConfig) -> list:
    """Per problem, baseline and split: fine-tuning the gfs subnetwork ends with a lower final
    loss than the baseline under the same GD budget (paired by seed, averaged over sizes; see
    theory.claims.paired_improvement). Diverged runs are listed first."""
    verdicts = []
    diverged = [r for r in rows if r["metric"] == "diverged_lr"]
    if diverged:
        text = "; ".join(f"{r['dataset']} seed={r['seed']} n={r['n']} {r['method']}: diverged with lr={r['value']:g}"
                         for r in diverged)
        verdicts.append(Verdict("every fine-tuning run converged", "did not hold", text,
                                {"diverged_runs": float(len(diverged))}))
    for problem in config.problems:
        for baseline in ("reinit", "rewind", "random-finetune"):
            for split in ("train", "test"):
                verdicts.append(paired_improvement(
                    rows, method="finetune", baseline=baseline, metric=f"final_{split}_loss", dataset=problem,
                    claim=f"fine-tuning the gfs subnetwork beats {baseline} ({split} loss, same GD budget) [{problem}]"))
    return verdicts


EXPERIMENT = Experiment(
    name="finetune",
    config_class=FinetuneConfig,
    quick=quick,
    cells=cells,
    run_cell=run_cell,
    figures=figures,
    claims=claims,
    description="E4: fine-tuning the gfs subnetwork vs re-initialisation, rewinding and a random subset",
)
