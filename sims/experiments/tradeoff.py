"""E5 `tradeoff`: every registered pruning method (sims.baselines.methods.PRUNING_METHODS) on the same
pre-trained checkpoint, at compressions N/n = 2, 4, 8, 16, 32, reported as ShrinkBench asks
(Blalock et al. 2020): parameters, exact FLOPs of a forward pass, compression ratio, theoretical
speed-up, loss and accuracy, intervals over seeds; and n(eps), the smallest subnetwork within eps
of the dense network.

Problems (``dataset`` column): ``teacher`` (mean-field teacher, inputs on the unit sphere, targets
scaled to unit RMS, a held-out test sample), ``mnist5k`` and ``digits`` (one-hot targets, stratified
test split), and, when chosen, full ``mnist`` (m = mnist_m of its 60k training images, its own 10k
test images; a cell whose IDX files are missing gives one ``skipped_data_missing`` row). A cell is
(dataset, seed): train the dense width-N network by full-batch GD for T steps (keeping its step-k
weights for imp-rewind's rewinding), then run every method at every compression
(sims.pruning.compare.tradeoff_rows with ``finetune``, whose docstring lists the rows).

Budgets after the checkpoint, stated per row (``train_steps``, ``train_flops``): every procedure
that trains gets F = T GD steps: direct GD, RigL, SNIP and GraSP at initialisation at width n,
IMP's three rounds together, and every one-shot criterion's fine-tuned twin ``<method>+ft``
(sims.baselines.finetune_stage: F steps at width n from the pruned weights). At equal training FLOPs
(F steps at width n, counted exactly), IMP's wider rounds get fewer steps (``imp-rewind@flops``)
and a ``+ft`` narrower than n more (``gfs+ft@flops``); sims.baselines.finetune_stage.equal_flops_view.

Claims, per data set and compression, on test loss, with theory.claims's verdict layer (the
union over competitors corrected there): GFS then fine-tuning (``gfs+ft``) beats every competitor
outside the GFS family at equal training steps, and at equal training FLOPs
(pruned_beats_strongest_competitor); ``gfs+ft`` beats direct training of the same width (the
ICML'20 claim, pruned_beats_direct_training); one-shot ``gfs`` beats every one-shot criterion
(SNIP's and GraSP's scores on the checkpoint, Taylor, activation, magnitude, random: all at zero
training). Per data set: the exact GFS
without replacement (``gfs-norep``) ends with a lower test loss than the published procedure
(``gfs-published``), averaged over compressions (paired_improvement).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, replace

import torch

from sims.baselines.finetune_stage import AT_EQUAL_FLOPS, equal_flops_view, finetuned_name, is_one_shot
from sims.baselines.methods import PRUNING_METHODS, REWIND_FRACTION, PruningProblem
from sims.data.datasets import DataFilesMissing, DatasetConfig, load_dataset
from sims.experiments.common import ProblemCell, init_dense, problem_cells, unit_rms_targets
from sims.experiments.record import Experiment
from sims.foundations.composed import from_flat_record, nested
from sims.foundations.constraints import check_fields, constrained
from sims.foundations.errors import InputError
from sims.nets.model import NetworkConfig
from sims.nets.train import TrainConfig, train
from sims.pruning.tradeoff import Split, tradeoff_rows
from sims.pruning.tradeoff_report import interval_cell, plot_tradeoff, tradeoff_table
from theory.claims import paired_improvement, pruned_beats_direct_training, pruned_beats_strongest_competitor

PROBLEMS = ("teacher", "mnist5k", "digits", "mnist")  # full MNIST only when chosen (and its files present)
GFS_FAMILY = ("gfs", "gfs-norep", "gfs-published")


def _methods():
    return PRUNING_METHODS


@dataclass(frozen=True)
class TradeoffConfig:
    """Full-scale defaults; ``quick()`` gives the preset of ``--quick``. The dense network (its
    floating type set per data set: float32 on MNIST), its training (T steps: the checkpoint's,
    and F, the budget after it) and each data set (``seed`` set per cell; ``mnist`` serves mnist5k
    and full MNIST) are the library's configs, nested; their keys are the flat names below
    (``sims.foundations.composed``)."""

    problems: tuple[str, ...] = constrained(PROBLEMS[:3], choices=lambda: PROBLEMS)
    methods: tuple[str, ...] = constrained(
        ("gfs", "gfs-norep", "gfs-published", "snip", "grasp", "snip-checkpoint", "grasp-checkpoint", "taylor",
         "activation", "magnitude", "random", "imp-rewind", "rigl", "direct-gd"), choices=_methods)
    seeds: tuple[int, ...] = constrained((0, 1, 2, 3, 4), value_range="non-negative")
    compressions: tuple[int, ...] = constrained((2, 4, 8, 16, 32), value_range="positive")
    tolerances: tuple[float, ...] = constrained((0.02, 0.05), value_range="non-negative")
    network: NetworkConfig = nested(NetworkConfig(width=256), flat={"width": "width"})
    train: TrainConfig = nested(TrainConfig(lr=1.0, iterations=200), flat={"lr": "lr", "iterations": "iterations"})
    teacher: DatasetConfig = nested(DatasetConfig(name="teacher", m=1000, input_dim=5, teacher_width=10,
                                                  input_distribution="sphere", test_fraction=0.2),
                                    flat={"m": "teacher_m", "input_dim": "input_dim", "teacher_width": "teacher_width"})
    mnist: DatasetConfig = nested(DatasetConfig(name="mnist5k", m=2000, test_fraction=0.2), flat={"m": "mnist_m"})
    digits: DatasetConfig = nested(DatasetConfig(name="digits", m=1400, test_fraction=0.2), flat={"m": "digits_m"})

    def __post_init__(self):
        check_fields(self)
        if not self.seeds:
            raise InputError("seeds must not be empty")
        if self.train.iterations < 1:
            raise InputError(f"iterations must be a positive integer, got {self.train.iterations!r}")
        if max(self.compressions) > self.network.width:
            raise InputError(f"compressions must not exceed the dense width {self.network.width}, "
                             f"got {max(self.compressions)}")


def quick() -> TradeoffConfig:
    """The preset of ``--quick``, in the config's keys."""
    return from_flat_record(TradeoffConfig, dict(seeds=(0,), compressions=(2, 4, 8), width=16, iterations=20,
                                                 teacher_m=100, mnist_m=200, digits_m=200))


cells = problem_cells  # one cell per (data set, seed)


def _dataset(config: TradeoffConfig, problem: str, seed: int):
    """The data set of a cell (teacher targets scaled to unit RMS) and its network's floating type."""
    if problem == "teacher":
        return unit_rms_targets(load_dataset(replace(config.teacher, seed=seed))), "float64"
    data = config.digits if problem == "digits" else replace(config.mnist, name=problem)
    return load_dataset(replace(data, seed=seed)), ("float32" if problem.startswith("mnist") else "float64")


def run_cell(config: TradeoffConfig, cell: ProblemCell) -> list[dict]:
    problem_name, seed = cell.problem, cell.seed
    try:
        dataset, dtype = _dataset(config, problem_name, seed)
    except DataFilesMissing as error:  # full MNIST without its IDX files: one note row, no failure
        print(f"tradeoff: {problem_name} seed={seed} skipped: {error}", file=sys.stderr)
        return [{"dataset": problem_name, "method": "dense", "m": None, "n": None, "seed": seed,
                 "metric": "skipped_data_missing", "value": math.nan, "step": None}]
    inputs = torch.as_tensor(dataset.train_inputs, dtype=getattr(torch, dtype))
    targets = torch.as_tensor(dataset.train_targets, dtype=inputs.dtype)
    init = init_dense(dataset, replace(config.network, dtype=dtype), seed)
    budget = config.train
    rewind_step = int(round(REWIND_FRACTION * budget.iterations))  # imp-rewind's rewind point
    dense = train(init, inputs, targets, replace(budget, checkpoints=(rewind_step,)))
    problem = PruningProblem(init, dense.model, inputs, targets, budget, seed=seed, checkpoints=dense.checkpoints)
    splits = {"train": Split(inputs, dataset.train_targets, dataset.train_labels),
              "test": Split(torch.as_tensor(dataset.test_inputs, dtype=inputs.dtype), dataset.test_targets,
                            dataset.test_labels)}
    return tradeoff_rows(problem, config.methods, config.compressions, splits, dataset=problem_name, seed=seed,
                         tolerances=config.tolerances, finetune=True)


def figures(rows: list[dict], config: TradeoffConfig, folder) -> list:
    written = []
    for problem in config.problems:
        written += plot_tradeoff(rows, problem, folder)
    return written


def competitors(config: TradeoffConfig) -> list[str]:
    """The competitors of ``gfs+ft`` at equal budgets: every configured procedure outside the GFS
    family that trains after the checkpoint (a one-shot criterion as its ``+ft`` twin)."""
    return [finetuned_name(method) if is_one_shot(method) else method
            for method in config.methods if method not in GFS_FAMILY]


def one_shot_competitors(config: TradeoffConfig) -> list[str]:
    """The one-shot criteria outside the GFS family (no training after the checkpoint)."""
    return [method for method in config.methods if method not in GFS_FAMILY and is_one_shot(method)]


def claims(rows: list[dict], config: TradeoffConfig) -> list:
    """Per data set and compression: ``gfs+ft`` against every competitor at equal steps and at equal
    FLOPs, against direct GD (equal steps), and one-shot ``gfs`` against the one-shot criteria; per
    data set ``gfs-norep`` against ``gfs-published`` (module docstring). Thin wrappers over
    theory.claims; a comparison whose methods are not configured is left out."""
    verdicts = []
    at_flops = equal_flops_view(rows)
    tuned = "gfs+ft"
    for problem in config.problems:
        if "gfs" not in config.methods:
            break
        for compression in config.compressions:
            n = config.network.width // compression
            scope = f"{problem}, compression {compression}, test loss"
            if competitors(config):
                for view, view_rows in (("equal training steps", rows), ("equal training FLOPs", at_flops)):
                    verdict = pruned_beats_strongest_competitor(view_rows, pruned_method=tuned,
                                                                competitors=competitors(config), metric="test_loss",
                                                                dataset=problem, n=n)
                    verdicts.append(_scoped(verdict, f"{scope}, {view}"))
            if "direct-gd" in config.methods:
                verdict = pruned_beats_direct_training([r for r in rows if r.get("n") == n], pruned_method=tuned,
                                                       direct_method="direct-gd", metric="test_loss", dataset=problem)
                verdicts.append(_scoped(verdict, f"{scope}, equal training steps"))
            if one_shot_competitors(config):
                verdict = pruned_beats_strongest_competitor(rows, pruned_method="gfs",
                                                            competitors=one_shot_competitors(config),
                                                            metric="test_loss", dataset=problem, n=n)
                verdicts.append(_scoped(verdict, f"{scope}, one shot: no training after the checkpoint"))
    for problem in config.problems:
        if "gfs-norep" in config.methods and "gfs-published" in config.methods:
            verdicts.append(paired_improvement(
                rows, method="gfs-norep", baseline="gfs-published", metric="test_loss", dataset=problem,
                claim=f"exact GFS (gfs-norep) beats GFS as published (test loss, averaged over compressions) [{problem}]"))
    return verdicts


def _scoped(verdict, scope: str):
    return replace(verdict, claim=f"{verdict.claim} [{scope}]")


def n_eps_table(rows: list[dict], config: TradeoffConfig) -> list[str]:
    """Markdown: per data set, method and eps, n(eps) on the compression grid and, for the greedy
    methods, along the selection path: mean [95% Student-t interval] over seeds, and how many
    seeds are censored at N (no pruned size met eps)."""
    width = config.network.width
    lines = ["n(eps): the smallest measured n whose test accuracy is at least (1 - eps) x the dense network's "
             "(mnist5k, digits) or whose test loss is at most the dense network's + eps (teacher, unit-RMS targets); "
             f"the dense width {width} when no compression meets it. Grid: n in "
             f"{{{', '.join(str(width // c) for c in sorted(config.compressions))}}}; path: every n up to "
             f"{width // min(config.compressions)} along the selection path. Mean [95% interval] over seeds; "
             "'(k of s at N)': k seeds where no pruned size met eps, counted at N, the largest value n(eps) can "
             "take, so the mean is an upper bound and the interval not a proper one.", "",
             "| data set | method | " + " | ".join(f"n(eps={eps:g}) grid | path" for eps in config.tolerances) + " |",
             "|---|---|" + "---|---|" * len(config.tolerances)]
    methods = [m for m in dict.fromkeys(r["method"] for r in rows if r["metric"] in ("n_eps", "n_eps_path"))
               if not m.endswith(AT_EQUAL_FLOPS)]
    for problem in config.problems:
        for method in methods:
            cells_ = []
            for eps in config.tolerances:
                for metric in ("n_eps", "n_eps_path"):
                    values = [r["value"] for r in rows if r["dataset"] == problem and r["method"] == method
                              and r["metric"] == metric and r.get("eps") is not None and abs(r["eps"] - eps) < 1e-12]
                    censored = sum(1 for value in values if value >= width)  # no pruned size met eps
                    cell = interval_cell(values) if values else "–"
                    cells_.append(f"{cell} ({censored} of {len(values)} at N)" if censored else cell)
            if any(cell != "–" for cell in cells_):
                lines.append(f"| {problem} | {method} | " + " | ".join(cells_) + " |")
    return lines


def summary(rows: list[dict], config: TradeoffConfig) -> list[str]:
    """The budgets, the n(eps) table and, per data set, the trade-off table (sims.pruning.compare.tradeoff_table)."""
    lines = [f"Budgets after the checkpoint: every procedure that trains runs F = {config.train.iterations} full-batch "
             "GD steps (direct-gd, rigl, snip and grasp at width n; imp-rewind's 3 rounds together, at widths from N down "
             "to n; every one-shot method's '+ft' twin at its pruned width). At equal training FLOPs (F steps at "
             "width n, forward and backward counted exactly: column train_flops) imp-rewind's wider rounds get fewer "
             "steps ('imp-rewind@flops') and a '+ft' narrower than n (GFS with replacement) more ('gfs+ft@flops'); "
             "every other procedure spends exactly that budget in both views. Columns train_steps and train_flops "
             "give each row's cost; one-shot rows spend none.", ""]
    lines += n_eps_table(rows, config) + [""]
    for problem in config.problems:
        if any(r["dataset"] == problem for r in rows):
            lines += [f"Trade-off on {problem} (mean [95% interval] over seeds):", "",
                      tradeoff_table(rows, problem), ""]
    return lines


EXPERIMENT = Experiment(
    name="tradeoff",
    config_class=TradeoffConfig,
    quick=quick,
    cells=cells,
    run_cell=run_cell,
    figures=figures,
    claims=claims,
    description="E5: every pruning method on one checkpoint at compressions 2-32 (ShrinkBench-style)",
    summary=summary,
)
