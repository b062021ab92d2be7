"""E1 `rates`: loss against subnetwork size n for every selection method, and for a network of
width n trained directly by full-batch GD, on three problems:

- ``teacher-interior``: a mean-field teacher with few samples (m = 10 by default), so the
  function space is low-dimensional, the target lies inside the hull of a trained dense
  network, and the O(1/n^2) rate of P3 (and the exponential rate of P4) is visible;
- ``teacher-large-m``: the same teacher with many samples, where O(1/n) holds for every
  practical n;
- ``mnist5k``: bundled MNIST 5k (one-hot targets), training loss and test accuracy.

A cell is either ("select", problem, seed): train the dense network, compute its neuron
features and the geometry constants, run every method; or ("direct", problem, seed, n):
train a width-n network from a random initialisation for the dense network's GD budget.

Rows (metric names are those theory.claims reads): ``train_loss`` and ``excess_loss``
(= train_loss - L(g), g the projection of the targets onto the hull's affine span) per
method and n; on MNIST also ``test_loss`` and ``test_accuracy``; geometry rows ``V``, ``D``,
``D_g``, ``r``, ``L_g``, ``dense_loss``, ``dimension`` with n empty and method "dense".
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from dataclasses import replace as with_fields

import numpy as np
import torch

from sims.data.datasets import DatasetConfig, load_dataset
from sims.experiments.common import features_of, geometry_rows, model_metrics, size_grid, tidy_row, train_dense
from sims.experiments.record import Experiment
from sims.foundations.composed import from_flat_record, nested
from sims.foundations.constraints import check_fields, constrained
from sims.foundations.errors import InputError
from sims.foundations.guards import selection_bytes, training_bytes
from sims.metrics.quality import accuracy, half_mean_squared_error
from sims.nets.features import neuron_factors
from sims.nets.model import NetworkConfig
from sims.nets.train import TrainConfig
from sims.plotting import plots
from sims.plotting.style import METHOD_STYLE
from sims.results.schema import select_rows
from sims.selection.engine import METHODS, select, subnetwork_output
from theory import bounds
from theory import claims as theory_claims
from theory import rates as rate_fits
from theory.claims import EXCESS_LOSS, PROJECTION_LOSS, TRAIN_LOSS
from theory.inference import t_interval

PROBLEMS = ("teacher-interior", "teacher-large-m", "mnist5k")


@dataclass(frozen=True)
class RatesConfig:
    """Full-scale defaults; ``quick()`` gives the preset of ``--quick``. Each problem's data
    (``m`` and ``seed`` set per cell), dense network and training are the library's configs,
    nested; their keys are the flat names below (``sims.foundations.composed``; ``lr`` is the
    learning rate of both trainings)."""

    problems: tuple[str, ...] = constrained(PROBLEMS, choices=lambda: PROBLEMS)
    methods: tuple[str, ...] = constrained(
        ("gfs", "gfs-norep", "herding", "fw", "fcfw", "stochastic-gfs", "random", "magnitude", "backward"),
        choices=lambda: METHODS,
    )
    seeds: tuple[int, ...] = constrained((0, 1, 2, 3, 4), value_range="non-negative")
    # synthetic teacher
    teacher: DatasetConfig = nested(DatasetConfig(name="teacher", input_dim=5, teacher_width=10),
                                    flat={"input_dim": "input_dim", "teacher_width": "teacher_width"})
    interior_m: int = constrained(10, value_range="positive")
    large_m: int = constrained(200, value_range="positive")
    dense_network: NetworkConfig = nested(NetworkConfig(width=2000), flat={"width": "dense_width"})
    dense_train: TrainConfig = nested(TrainConfig(lr=1.0, iterations=2000),
                                      flat={"lr": "lr", "iterations": "dense_iterations"})
    n_max: int = constrained(1000, value_range="positive")
    # MNIST 5k, float32
    mnist: DatasetConfig = nested(DatasetConfig(name="mnist5k", m=4000), flat={"m": "mnist_m"})
    mnist_network: NetworkConfig = nested(NetworkConfig(width=1000, dtype="float32"), flat={"width": "mnist_width"})
    mnist_train: TrainConfig = nested(TrainConfig(lr=1.0, iterations=400),
                                      flat={"lr": "lr", "iterations": "mnist_iterations"})
    mnist_n_max: int = constrained(300, value_range="positive")
    # shared
    grid_points: int = constrained(12, value_range="positive")
    max_radius_dim: int = constrained(12, value_range="non-negative")

    def __post_init__(self):
        check_fields(self)
        if not self.seeds:
            raise InputError("seeds must not be empty")


def quick() -> RatesConfig:
    """The preset of ``--quick``, in the config's keys."""
    return from_flat_record(RatesConfig, dict(
        methods=("gfs", "herding", "fw", "fcfw", "random", "magnitude"),
        seeds=(0,),
        interior_m=10,
        large_m=100,
        dense_width=500,
        dense_iterations=500,
        n_max=300,
        mnist_m=500,
        mnist_width=200,
        mnist_iterations=100,
        mnist_n_max=60,
        grid_points=6,
    ))


@dataclass(frozen=True)
class Problem:
    """One problem's data (``seed`` set per cell), dense network, training and largest n."""

    data: DatasetConfig
    network: NetworkConfig
    train: TrainConfig
    n_max: int


def problem_plan(config: RatesConfig, problem: str) -> Problem:
    """The plan of ``problem`` under ``config``."""
    if problem == "mnist5k":
        return Problem(config.mnist, config.mnist_network, config.mnist_train, config.mnist_n_max)
    m = config.interior_m if problem == "teacher-interior" else config.large_m
    return Problem(replace(config.teacher, m=m), config.dense_network, config.dense_train, config.n_max)


def direct_sizes(config: RatesConfig, plan: Problem) -> list[int]:
    """The widths n trained directly by GD (and at which test metrics are measured)."""
    return size_grid(plan.n_max, config.grid_points, n_min=min(10, plan.n_max))


@dataclass(frozen=True)
class SelectCell:
    """Train the problem's dense network and run every method on its neurons."""

    problem: str
    seed: int
    kind: str = field(default="select", init=False)


@dataclass(frozen=True)
class DirectCell:
    """Train a network of width n directly by GD, for the dense network's budget."""

    problem: str
    seed: int
    n: int
    kind: str = field(default="direct", init=False)


def cells(config: RatesConfig) -> list[SelectCell | DirectCell]:
    result = []
    for problem in config.problems:
        plan = problem_plan(config, problem)
        for seed in config.seeds:
            result.append(SelectCell(problem, seed))
            result += [DirectCell(problem, seed, n) for n in direct_sizes(config, plan)]
    return result


def run_cell(config: RatesConfig, cell: SelectCell | DirectCell) -> list[dict]:
    plan = problem_plan(config, cell.problem)
    seed = cell.seed
    dataset = load_dataset(replace(plan.data, seed=seed))
    problem, m = cell.problem, dataset.m
    if isinstance(cell, DirectCell):
        n = cell.n
        result = train_dense(dataset, replace(plan.network, width=n), plan.train, 10_000 + seed)
        metrics = model_metrics(result.model, dataset)
        return [tidy_row(problem, "direct-gd", m, n, seed, metric, value) for metric, value in metrics.items()]

    dense = train_dense(dataset, plan.network, plan.train, seed)
    features = features_of(dense.model, dataset.train_inputs)
    factored = neuron_factors(dense.model, dataset.train_inputs)  # what selection reads: H, not (m, N, K)
    targets = dataset.train_targets
    constants = geometry_rows(features, targets, max_radius_dim=config.max_radius_dim)
    rows = [tidy_row(problem, "dense", m, None, seed, name, value) for name, value in constants.items()]
    for name, value in model_metrics(dense.model, dataset).items():
        rows.append(tidy_row(problem, "dense", m, None, seed, f"dense_{name}", value))
    # Every size that direct training uses is on the selection grid too, so the two curves are
    # compared (and their crossover bracketed) only at sizes where both were measured.
    grid = sorted(set(size_grid(plan.n_max, 40)) | set(direct_sizes(config, plan)))
    labelled = dataset.train_labels is not None
    # converted once here rather than by each of the ~100 subnetwork_output calls (the same values)
    test_features = features_of(dense.model, dataset.test_inputs).to(torch.float64) if labelled else None
    test_sizes = direct_sizes(config, plan) if labelled else []
    for method in config.methods:
        selection = select(factored, targets, plan.n_max, method, seed=seed, record_steps=test_sizes)
        for n in grid:
            loss = selection.losses[n - 1]
            rows.append(tidy_row(problem, method, m, n, seed, TRAIN_LOSS, loss))
            rows.append(tidy_row(problem, method, m, n, seed, EXCESS_LOSS, loss - constants[PROJECTION_LOSS]))
        if labelled:
            rows.extend(_test_rows(test_features, dataset, selection, seed, problem))
    return rows


def _test_rows(test_features, dataset, selection, seed, problem) -> list[dict]:
    """Test loss and accuracy of the subnetworks whose training loss the train_loss rows report:
    those after step n of the n_max run, for each n recorded in ``selection.path_weights``
    (for the methods whose steps do not depend on n_max, the same weights as a run to n)."""
    rows = []
    for n, weights in selection.path_weights.items():
        outputs = subnetwork_output(test_features, weights)
        rows.append(tidy_row(problem, selection.method, dataset.m, n, seed, "test_loss",
                         half_mean_squared_error(outputs, dataset.test_targets)))
        rows.append(tidy_row(problem, selection.method, dataset.m, n, seed, "test_accuracy",
                         accuracy(outputs, dataset.test_labels)))
    return rows


def figures(rows: list[dict], config: RatesConfig, folder) -> list:
    """E1: one figure per problem: log-log training loss against n, every method, direct GD,
    the P2 and P3 bounds (dashed), the rate-window slopes of gfs, fw and direct GD (as in the
    report), and the bracket of measured sizes where gfs and direct GD cross."""
    plt = plots.pyplot()
    written = []
    for problem in config.problems:
        problem_rows = select_rows(rows, dataset=problem)
        if not problem_rows:
            continue
        has_accuracy = bool(select_rows(problem_rows, metric="test_accuracy"))
        figure, axes = plt.subplots(1, 2 if has_accuracy else 1, figsize=(11 if has_accuracy else 6.4, 4.4))
        axis = axes[0] if has_accuracy else axes
        for method in (*config.methods, "direct-gd"):
            ns, means, low, high = plots.seed_band(problem_rows, log=True, method=method, metric="train_loss")
            if ns.size == 0:
                continue
            label = method
            if method in ("gfs", "direct-gd", "fw"):
                # the slope the claims and the report's table use: per-seed fits on n >= n_max/4 of
                # the excess loss (of the training loss itself for direct GD), averaged over seeds
                metric = "train_loss" if method == "direct-gd" else "excess_loss"
                fitted = theory_claims.tail_slopes(problem_rows, method=method, metric=metric, floor=1e-25)
                # a loss at float64 rounding level (direct GD interpolating few samples) has no rate
                tail = ns >= ns[-1] / theory_claims.RATE_WINDOW
                rounding = method == "direct-gd" and bool(np.any(means[tail] < 1e-12))
                if fitted and not rounding:
                    n_low = min(window for _, window, _ in fitted.values())
                    label += (f" (slope {np.mean([slope for slope, _, _ in fitted.values()]):.2f}"
                              f" on n ≥ {n_low:.0f})")
            plots.draw_band(axis, ns, means, low, high, label, method)
        ns, _, _, _ = plots.seed_band(problem_rows, method="gfs", metric="train_loss")
        if ns.size:
            variance, dense_loss = plots.constant(problem_rows, "V"), plots.constant(problem_rows, "dense_loss")
            lg, dg, radius = plots.constant(problem_rows, "L_g"), plots.constant(problem_rows, "D_g"), plots.constant(problem_rows, "r")
            grid = np.geomspace(ns[0], ns[-1], 60)
            axis.plot(grid, dense_loss + bounds.gfs_excess_bound(grid, variance), "--", color="C0", lw=1, alpha=0.7,
                      label="P2 bound (GFS)")
            if np.isfinite(radius) and radius > 0:
                axis.plot(grid, lg + bounds.gfs_interior_bound(grid, dg, radius), "--", color="C3", lw=1, alpha=0.7,
                          label=f"P3 bound (r={radius:.2g})")
            axis.axhline(dense_loss, color="k", lw=0.8, alpha=0.6, label=f"dense network ({dense_loss:.3g})")
            verdict = theory_claims.pruned_beats_direct_training(problem_rows)
            if "crossover_low" in verdict.numbers:  # bracketed between two sizes both methods measured
                low_n, high_n = verdict.numbers["crossover_low"], verdict.numbers["crossover_high"]
                axis.axvspan(low_n, high_n, color="k", alpha=0.08, lw=0)
                axis.text(high_n, 0.02, f"gfs and direct GD cross in [{low_n:.0f}, {high_n:.0f}] ", ha="right",
                          va="bottom", fontsize=8, transform=axis.get_xaxis_transform())
        dimension = plots.constant(problem_rows, "dimension")
        measured = [row["value"] for row in problem_rows if row["metric"] == "train_loss" and row["value"] > 0]
        high = axis.get_ylim()[1]
        # float-floor plateaus (1e-30) would flatten the rest
        axis.set_ylim(max(0.3 * min(measured), high * 1e-18), high)
        axis.set(xscale="log", yscale="log", xlabel="subnetwork size n",
                 ylabel="training loss  0.5 mean ||f - y||²",
                 title=f"{problem} (m·K = {dimension:.0f})")
        axis.grid(True, which="both", alpha=0.25)
        if has_accuracy:
            for method in (*config.methods, "direct-gd"):
                ns, means, low, high = plots.seed_band(problem_rows, method=method, metric="test_accuracy")
                if ns.size:
                    color, style = METHOD_STYLE.get(method, (None, "-"))
                    axes[1].plot(ns, means, style, marker="o", ms=3, color=color, label=method)
                    axes[1].fill_between(ns, low, high, color=color, alpha=0.2, lw=0)
            dense_accuracy = plots.constant(problem_rows, "dense_test_accuracy")
            axes[1].axhline(dense_accuracy, color="k", lw=0.8)
            axes[1].set(xscale="log", xlabel="subnetwork size n", ylabel="test accuracy",
                        title=f"{problem}: test accuracy (dense network {dense_accuracy:.3f}, black line)")
            axes[1].grid(True, which="both", alpha=0.25)
            plots.plain_log_labels(axes[1], "x")
        plots.legend_below(figure, axis, ncol=4 if has_accuracy else 3)  # same colours in both panels
        written += plots.save_both(figure, folder, f"rates_{problem}")
    return written


def claims(rows: list[dict], config: RatesConfig) -> list:
    """Per problem: the theorem checks (P2 for gfs; on the teacher problems P3 for gfs and
    herding and P4 for fw and fcfw, at every n) and the empirical claims (pruned vs direct
    training; the 1/n² rate of gfs and the exponential rate of fw and fcfw where the target is
    interior), each scoped to its problem in the claim text."""
    def scoped(verdict, scope: str):
        return with_fields(verdict, claim=f"{verdict.claim} [{scope}]")

    verdicts = []
    for problem in config.problems:
        verdicts.append(scoped(theory_claims.gfs_excess_bound_check(rows, dataset=problem), problem))
        if problem != "mnist5k":
            for method in ("gfs", "herding"):
                if method in config.methods:
                    verdicts.append(scoped(theory_claims.interior_bound_check(rows, dataset=problem, method=method),
                                           problem))
            for method in ("fw", "fcfw"):
                if method in config.methods:
                    verdicts.append(scoped(theory_claims.reweighted_bound_check(rows, dataset=problem, method=method),
                                           problem))
        verdicts.append(scoped(theory_claims.pruned_beats_direct_training(rows, dataset=problem), problem))
        if problem == "mnist5k":
            continue
        verdicts.append(scoped(theory_claims.gfs_inverse_square_rate(rows, dataset=problem), problem))
        for method in ("fw", "fcfw"):
            if method in config.methods:
                verdict = theory_claims.reweighted_greedy_exponential(rows, dataset=problem, method=method)
                verdicts.append(scoped(verdict, problem))
    return verdicts


def summary(rows: list[dict], config: RatesConfig) -> list[str]:
    """A Markdown table: per problem and method, the log-log slope of the excess loss over the
    same window as the rate claims (n >= n_max/4), as the mean of the per-seed slopes with its
    Student-t 95% interval over seeds, and the law (c/n, c/n², c log n/n, c e^(-an)) that fits
    the seed-mean curve on that window best by BIC."""
    lines = ["Fitted rates of the excess loss L(f_n) - L(g) on n ≥ n_max/4 (the window of the rate claims): "
             "mean of the per-seed log-log slopes [Student-t 95% interval over seeds], and the best law of the "
             "seed-mean curve by BIC (margin over the runner-up).", "",
             "| problem | method | slope [95% interval] | seeds | best law (BIC margin) |", "|---|---|---|---|---|"]
    for problem in config.problems:
        for method in config.methods:
            fitted = theory_claims.tail_slopes(rows, method=method, dataset=problem, floor=1e-25)
            slopes = [slope for slope, _, _ in fitted.values()]
            by_n: dict = {}
            for row in rows:
                if row["dataset"] == problem and row["method"] == method and row["metric"] == EXCESS_LOSS:
                    by_n.setdefault(row["n"], []).append(row["value"])
            if not by_n:
                continue
            if len(slopes) < 2:
                lines.append(f"| {problem} | {method} | no interval (fewer than 2 seeds with 3 points above "
                             f"the float floor) | {len(slopes)} | - |")
                continue
            interval = t_interval(slopes)
            ns = np.array(sorted(by_n), dtype=float)
            mean_curve = np.array([np.mean(by_n[n]) for n in sorted(by_n)])
            tail = (ns >= ns[-1] / theory_claims.RATE_WINDOW) & (mean_curve > 1e-25)
            law = rate_fits.compare_laws(ns[tail], mean_curve[tail]) if tail.sum() >= 3 else None
            best = f"{law.best} ({law.margin:.1f})" if law else "-"
            lines.append(f"| {problem} | {method} | {interval.mean:.2f} [{interval.low:.2f}, {interval.high:.2f}] | "
                         f"{interval.count} | {best} |")
    return lines


def memory(config: RatesConfig) -> list[tuple[str, float, str]]:
    """Peak bytes of a cell by the size field that drives them (see Experiment.memory): the
    dense network's GD step and its (m, N) features (float64), a direct-GD network of width
    n_max, and the most demanding method's selection of n_max steps. The n_max entries come
    first and count the width only up to n_max, so a huge n_max is not blamed on the width."""
    def entries(m, inputs, width, outputs, n_max, names):
        def selection(over):
            return max(selection_bytes(n_max, over, method, m * outputs) for method in config.methods)

        direct = training_bytes(m, inputs, n_max, outputs, 8)
        network = training_bytes(m, inputs, width, outputs, 8) + 8.0 * m * width * outputs
        width_name, n_name = names
        return [(n_name, direct + selection(min(n_max, width)),
                 f"{n_max} selection steps and a direct network of that width"),
                (width_name, network + direct + selection(width), f"a network of width {width} on {m} examples")]

    found = []
    if any(problem.startswith("teacher") for problem in config.problems):
        found += entries(max(config.interior_m, config.large_m), config.teacher.input_dim, config.dense_network.width,
                         1, config.n_max, ("dense_width", "n_max"))
    if "mnist5k" in config.problems:
        found += entries(config.mnist.m, 784, config.mnist_network.width, 10, config.mnist_n_max,
                         ("mnist_width", "mnist_n_max"))
    return found


EXPERIMENT = Experiment(
    name="rates",
    config_class=RatesConfig,
    quick=quick,
    cells=cells,
    run_cell=run_cell,
    figures=figures,
    claims=claims,
    description="E1: loss against subnetwork size for every method and for direct training",
    summary=summary,
    memory=memory,
)
