"""E2 `exponential`: re-weighted greedy (FW, FCFW, greedy-opt) against GFS in the interior
regime, and where the fast rates live.

- ("contraction", seed) cells: a mean-field teacher with m = ``contraction_m`` samples (so the
  exact interior radius r is computable from the hull's facets); a dense network is trained,
  and every method's excess loss is recorded at every n. The measured contraction factor per
  step is compared with P4's bound 1 - r^2/D^2.
- ("phase", m, seed) cells: the same pipeline for m on a grid; GFS's excess loss on a size grid,
  its local log-log slope (metric ``local_slope``), and the constants r (exact up to dimension 8,
  a certified LP lower bound above) and D, giving the predicted regime boundary
  n* = (D/r)^2 (metric ``predicted_boundary``). The figure is a phase diagram of the local slope
  over (n, m) with n* drawn on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from dataclasses import replace as with_fields

import numpy as np

from sims.data.datasets import DatasetConfig, load_dataset
from sims.experiments.common import features_of, geometry_rows, size_grid, tidy_row, train_dense
from sims.experiments.record import Experiment
from sims.foundations.composed import from_flat_record, nested
from sims.foundations.constraints import check_fields, constrained
from sims.foundations.errors import InputError
from sims.foundations.guards import selection_bytes, training_bytes
from sims.nets.features import neuron_factors
from sims.nets.model import NetworkConfig
from sims.nets.train import TrainConfig
from sims.plotting import plots
from sims.plotting.style import METHOD_STYLE
from sims.results.schema import select_rows
from sims.selection.engine import METHODS, REWEIGHTED_METHODS, select
from theory import bounds
from theory import claims as theory_claims
from theory.claims import DIAMETER, EXCESS_LOSS, LOCAL_SLOPE, PREDICTED_BOUNDARY, PROJECTION_LOSS, RADIUS


@dataclass(frozen=True)
class ExponentialConfig:
    """Full-scale defaults; ``quick()`` gives the preset of ``--quick``. The teacher's data
    (``m`` and ``seed`` set per cell), one training for every dense network, and the network of
    each kind of cell are the library's configs, nested; their keys are the flat names below
    (``sims.foundations.composed``)."""

    seeds: tuple[int, ...] = constrained((0, 1, 2, 3, 4), value_range="non-negative")
    teacher: DatasetConfig = nested(DatasetConfig(name="teacher", input_dim=5, teacher_width=10),
                                    flat={"input_dim": "input_dim", "teacher_width": "teacher_width"})
    train: TrainConfig = nested(TrainConfig(lr=1.0, iterations=1000),
                                flat={"lr": "lr", "iterations": "dense_iterations"})
    contraction_m: int = constrained(6, value_range="positive")
    contraction_network: NetworkConfig = nested(NetworkConfig(width=300), flat={"width": "contraction_width"})
    contraction_n_max: int = constrained(150, value_range="positive")
    methods: tuple[str, ...] = constrained(("gfs", "herding", "fw", "fcfw", "greedy-opt"), choices=lambda: METHODS)
    phase_m: tuple[int, ...] = constrained((4, 6, 8, 12, 16, 24, 32, 48, 64, 96), value_range="positive")
    phase_network: NetworkConfig = nested(NetworkConfig(width=1000), flat={"width": "phase_width"})
    phase_n_max: int = constrained(1000, value_range="positive")
    grid_points: int = constrained(16, value_range="positive")
    max_radius_dim: int = constrained(96, value_range="non-negative")

    def __post_init__(self):
        check_fields(self)
        if not self.seeds or not self.phase_m:
            raise InputError("seeds and phase_m must not be empty")


def quick() -> ExponentialConfig:
    """The preset of ``--quick``, in the config's keys."""
    return from_flat_record(ExponentialConfig, dict(
        seeds=(0,),
        dense_iterations=300,
        contraction_width=150,
        contraction_n_max=60,
        phase_m=(4, 8, 16),
        phase_width=300,
        phase_n_max=200,
        grid_points=10,
        max_radius_dim=16,
    ))


@dataclass(frozen=True)
class ContractionCell:
    """m = contraction_m samples, every method at every n up to contraction_n_max."""

    seed: int
    kind: str = field(default="contraction", init=False)


@dataclass(frozen=True)
class PhaseCell:
    """One m of the phase diagram: gfs on a size grid, its local slopes and the constants r, D."""

    m: int
    seed: int
    kind: str = field(default="phase", init=False)


def cells(config: ExponentialConfig) -> list[ContractionCell | PhaseCell]:
    return [ContractionCell(seed) for seed in config.seeds] + [PhaseCell(m, seed) for m in config.phase_m
                                                               for seed in config.seeds]


def _dense_features(config: ExponentialConfig, m: int, network: NetworkConfig, seed: int):
    data = load_dataset(replace(config.teacher, m=m, seed=seed))
    dense = train_dense(data, network, config.train, seed)
    factored = neuron_factors(dense.model, data.train_inputs)  # what selection reads: H, not (m, N, K)
    return features_of(dense.model, data.train_inputs), data.train_targets, factored


def run_cell(config: ExponentialConfig, cell: ContractionCell | PhaseCell) -> list[dict]:
    seed, contraction = cell.seed, isinstance(cell, ContractionCell)
    if contraction:
        dataset, m, network, n_max = "contraction", config.contraction_m, config.contraction_network, \
            config.contraction_n_max
    else:
        dataset, m, network, n_max = "phase", cell.m, config.phase_network, config.phase_n_max
    features, targets, factored = _dense_features(config, m, network, seed)
    constants = geometry_rows(features, targets, max_radius_dim=config.max_radius_dim)
    rows = [tidy_row(dataset, "dense", m, None, seed, name, value) for name, value in constants.items()]
    radius = constants.get(RADIUS, 0.0)
    if radius > 0:
        rows.append(tidy_row(dataset, "dense", m, None, seed, PREDICTED_BOUNDARY, (constants[DIAMETER] / radius) ** 2))
    methods = config.methods if contraction else ("gfs",)
    grid = list(range(1, n_max + 1)) if contraction else size_grid(n_max, 4 * config.grid_points)
    for method in methods:
        losses = select(factored, targets, n_max, method, seed=seed).losses
        excess = losses - constants[PROJECTION_LOSS]
        for n in grid:
            rows.append(tidy_row(dataset, method, m, n, seed, EXCESS_LOSS, excess[n - 1]))
        if not contraction:
            rows += [tidy_row(dataset, method, m, n, seed, LOCAL_SLOPE, slope)
                     for n, slope in local_slopes(excess, config.grid_points)]
    return rows


def local_slopes(excess: np.ndarray, points: int) -> list[tuple[int, float]]:
    """Local log-log slope of a curve given at every n = 1..len(excess): an OLS fit of log excess
    against log n over n in [c/2, 2c], for ``points`` geometric centres c. GFS curves oscillate
    from step to step, so a window over a factor of 4 in n is needed for a stable slope."""
    n_max = excess.shape[0]
    result = []
    for centre in size_grid(max(n_max // 2, 1), points, n_min=min(4, n_max)):
        window = np.arange(max(1, centre // 2), min(n_max, 2 * centre) + 1)
        values = excess[window - 1]
        if window.size < 3 or np.any(values <= 0):
            continue
        slope = np.polyfit(np.log(window), np.log(values), 1)[0]
        result.append((int(centre), float(slope)))
    return result


def plot_contraction(rows: list[dict], config: ExponentialConfig, folder) -> list:
    """E2: semi-log excess loss against n for re-weighted greedy and GFS, with P4's bound
    (1 - r^2/D^2)^(n-1) and P3's bound dashed, and in the legend the contraction per step (or the
    log-log slope) that the report's claims measure."""
    plt = plots.pyplot()
    contraction_rows = select_rows(rows, dataset="contraction")
    if not contraction_rows:
        return []
    radius, diam = plots.constant(contraction_rows, "r"), plots.constant(contraction_rows, "D")
    figure, axis = plt.subplots(figsize=(6.6, 4.4))
    floor = 1e-26
    for method in config.methods:
        ns, means, low, high = plots.seed_band(contraction_rows, log=True, method=method, metric="excess_loss")
        if ns.size == 0:
            continue
        label = method
        # the numbers of the report: the exponential claim's per-seed factor (geometric mean), or
        # the mean per-seed log-log slope on the rate window for the averaging methods
        if method in REWEIGHTED_METHODS:
            verdict = theory_claims.reweighted_greedy_exponential(contraction_rows, method=method)
            if "contraction (group 1)" in verdict.numbers:
                label += f" (factor {verdict.numbers['contraction (group 1)']:.3f}/step)"
        else:
            fitted = theory_claims.tail_slopes(contraction_rows, method=method, floor=1e-25)
            if fitted:
                label += f" (log-log slope {np.mean([slope for slope, _, _ in fitted.values()]):.2f})"
        color, style = METHOD_STYLE.get(method, (None, "-"))
        axis.plot(ns, np.maximum(means, floor), style, color=color, label=label, lw=1.6)
        if np.any(high > low):
            axis.fill_between(ns, np.maximum(low, floor), np.maximum(high, floor), color=color, alpha=0.2, lw=0)
    if np.isfinite(radius) and radius > 0:
        ns, means, _, _ = plots.seed_band(contraction_rows, log=True, method="fw", metric="excess_loss")
        if ns.size:
            bound = bounds.reweighted_greedy_bound(ns, means[0], radius, diam)
            axis.plot(ns, np.maximum(bound, floor), "--", color="C2", lw=1,
                      label=f"P4 bound, factor 1-r²/D² = {bounds.reweighted_contraction(radius, diam):.4f}")
            gfs_bound = bounds.gfs_interior_bound(ns, plots.constant(contraction_rows, "D_g"), radius)
            axis.plot(ns, gfs_bound, ":", color="C0", lw=1, label="P3 bound (GFS)")
    axis.set_yscale("log")
    axis.set_ylim(floor, None)
    axis.set(xlabel="subnetwork size n", ylabel="excess loss  L(f_n) - L(g)",
             title=f"re-weighted greedy, m = {config.contraction_m} (r = {radius:.3g}, D = {diam:.3g})")
    axis.grid(True, which="both", alpha=0.25)
    plots.legend_below(figure, axis, ncol=2)
    return plots.save_both(figure, folder, "exponential_contraction")


def plot_phase_diagram(rows: list[dict], config: ExponentialConfig, folder) -> list:
    """E2: GFS's local log-log slope over (n, m) with the predicted boundary n* = (D/r)^2."""
    plt = plots.pyplot()
    phase_rows = select_rows(rows, dataset="phase", metric="local_slope")
    if not phase_rows:
        return []
    sizes = sorted({row["m"] for row in phase_rows})
    centres = sorted({row["n"] for row in phase_rows})
    grid = np.full((len(sizes), len(centres)), np.nan)
    for i, m in enumerate(sizes):
        for j, n in enumerate(centres):
            values = [row["value"] for row in phase_rows if row["m"] == m and row["n"] == n]
            if values:
                grid[i, j] = np.mean(values)
    figure, axis = plt.subplots(figsize=(7, 4.4))
    n_edges = np.sqrt(np.array(centres[:-1]) * np.array(centres[1:]))
    n_edges = np.concatenate([[centres[0] / 1.3], n_edges, [centres[-1] * 1.3]])
    m_edges = np.arange(len(sizes) + 1) - 0.5
    mesh = axis.pcolormesh(n_edges, m_edges, grid, cmap="RdYlBu_r", vmin=-3, vmax=0, shading="flat")
    figure.colorbar(mesh, ax=axis, label="local slope d log(excess loss) / d log n")
    boundary = [plots.constant(select_rows(rows, dataset="phase", m=m), "predicted_boundary") for m in sizes]
    axis.plot(boundary, np.arange(len(sizes)), "k--o", ms=4, label="predicted boundary n* = (D/r)²")
    for row_index, value in enumerate(boundary):
        if np.isfinite(value) and value > n_edges[-1]:
            axis.text(n_edges[-1] / 1.05, row_index, f"n* = {value:.2g} →", ha="right", va="center", fontsize=8)
    axis.set_xscale("log")
    axis.set_xlim(n_edges[0], n_edges[-1])
    axis.set_yticks(np.arange(len(sizes)), [str(m) for m in sizes])
    axis.set(xlabel="subnetwork size n", ylabel="samples m (function-space dimension m·K, K = 1)",
             title="where GFS is fast: slope -2 (blue) vs -1 (orange)")
    plots.legend_below(figure, axis, ncol=1)
    return plots.save_both(figure, folder, "exponential_phase_diagram")


def figures(rows: list[dict], config: ExponentialConfig, folder) -> list:
    return plot_contraction(rows, config, folder) + plot_phase_diagram(rows, config, folder)


def claims(rows: list[dict], config: ExponentialConfig) -> list:
    """Theorem checks at every n (P2 for gfs, P3 for gfs and herding, P4 for the re-weighted
    methods) on the contraction and phase cells; empirical claims: each re-weighted method is
    exponential, gfs falls like 1/n², and gfs is fast wherever n exceeds (D/r)²."""
    def scoped(verdict, scope: str):
        return with_fields(verdict, claim=f"{verdict.claim} [{scope}]")

    contraction = f"contraction, m={config.contraction_m}"
    verdicts = []
    for dataset, scope in (("contraction", contraction), ("phase", "phase diagram, every m")):
        verdicts.append(scoped(theory_claims.gfs_excess_bound_check(rows, dataset=dataset, metric=EXCESS_LOSS),
                               scope))
    for method in config.methods:
        if method in ("gfs", "herding"):
            verdicts.append(scoped(theory_claims.interior_bound_check(rows, dataset="contraction", method=method),
                                   contraction))
        if method in REWEIGHTED_METHODS:
            verdicts.append(scoped(theory_claims.reweighted_bound_check(rows, dataset="contraction", method=method),
                                   contraction))
    verdicts.append(scoped(theory_claims.interior_bound_check(rows, dataset="phase", method="gfs"),
                           "phase diagram, every m"))
    for method in config.methods:
        if method in REWEIGHTED_METHODS:
            verdicts.append(scoped(theory_claims.reweighted_greedy_exponential(rows, dataset="contraction",
                                                                               method=method), contraction))
    verdicts.append(scoped(theory_claims.gfs_inverse_square_rate(rows, dataset="contraction", method="gfs"),
                           contraction))
    verdicts.append(scoped(theory_claims.fast_beyond_boundary(rows, dataset="phase"), "phase diagram"))
    return verdicts


def memory(config: ExponentialConfig) -> list[tuple[str, float, str]]:
    """Peak bytes of a cell by the size field that drives them (see Experiment.memory): the
    dense network's GD step and its (m, N) features (float64), and the most demanding method's
    selection of n_max steps. The n_max entries come first and count the width only up to
    n_max, so a huge n_max is not blamed on the width."""
    def entries(m, width, n_max, names):
        def selection(over):
            return max(selection_bytes(n_max, over, method, m) for method in config.methods)

        network = training_bytes(m, config.teacher.input_dim, width, 1, 8) + 8.0 * m * width
        width_name, n_name = names
        return [(n_name, selection(min(n_max, width)), f"{n_max} selection steps"),
                (width_name, network + selection(width), f"a network of width {width} on {m} examples")]

    return (entries(config.contraction_m, config.contraction_network.width, config.contraction_n_max,
                    ("contraction_width", "contraction_n_max"))
            + entries(max(config.phase_m), config.phase_network.width, config.phase_n_max,
                      ("phase_width", "phase_n_max")))


EXPERIMENT = Experiment(
    name="exponential",
    config_class=ExponentialConfig,
    quick=quick,
    cells=cells,
    run_cell=run_cell,
    figures=figures,
    claims=claims,
    memory=memory,
    description="E2: exponential rates of re-weighted greedy and the phase diagram of the fast regime",
)
