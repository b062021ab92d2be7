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

from dataclasses import dataclass

import numpy as np

from sims.data import DatasetConfig, load_dataset
from sims.constraints import check_fields, constrained
from sims.errors import InputError
from sims.experiment import Experiment
from sims.experiments.common import features_of, geometry_rows, size_grid, tidy_row, train_dense
from sims.select import METHODS, REWEIGHTED_METHODS
from theory.claims import DIAMETER, EXCESS_LOSS, LOCAL_SLOPE, PREDICTED_BOUNDARY, PROJECTION_LOSS, RADIUS


@dataclass(frozen=True)
class ExponentialConfig:
    """Full-scale defaults; ``quick()`` gives the preset of ``--quick``."""

    seeds: tuple[int, ...] = constrained((0, 1, 2, 3, 4), value_range="non-negative")
    input_dim: int = constrained(5, value_range="positive")
    teacher_width: int = constrained(10, value_range="positive")
    lr: float = constrained(1.0, value_range="positive")
    dense_iterations: int = constrained(1000, value_range="non-negative")
    contraction_m: int = constrained(6, value_range="positive")
    contraction_width: int = constrained(300, value_range="positive")
    contraction_n_max: int = constrained(150, value_range="positive")
    methods: tuple[str, ...] = constrained(("gfs", "herding", "fw", "fcfw", "greedy-opt"), choices=lambda: METHODS)
    phase_m: tuple[int, ...] = constrained((4, 6, 8, 12, 16, 24, 32, 48, 64, 96), value_range="positive")
    phase_width: int = constrained(1000, value_range="positive")
    phase_n_max: int = constrained(1000, value_range="positive")
    grid_points: int = constrained(16, value_range="positive")
    max_radius_dim: int = constrained(96, value_range="non-negative")

    def __post_init__(self):
        check_fields(self)
        if not self.seeds or not self.phase_m:
            raise InputError("seeds and phase_m must not be empty")


def quick() -> ExponentialConfig:
    return ExponentialConfig(
        seeds=(0,),
        dense_iterations=300,
        contraction_width=150,
        contraction_n_max=60,
        phase_m=(4, 8, 16),
        phase_width=300,
        phase_n_max=200,
        grid_points=10,
        max_radius_dim=16,
    )


def cells(config: ExponentialConfig) -> list[dict]:
    result = [{"kind": "contraction", "seed": seed} for seed in config.seeds]
    result += [{"kind": "phase", "m": m, "seed": seed} for m in config.phase_m for seed in config.seeds]
    return result


def _dense_features(config: ExponentialConfig, m: int, width: int, seed: int):
    data = load_dataset(DatasetConfig(name="teacher", m=m, seed=seed, input_dim=config.input_dim,
                                      teacher_width=config.teacher_width))
    dense = train_dense(data, width, config.dense_iterations, config.lr, seed=seed)
    return features_of(dense.model, data.train_inputs), data.train_targets


def run_cell(config: ExponentialConfig, cell: dict) -> list[dict]:
    from sims.select import select

    seed = cell["seed"]
    if cell["kind"] == "contraction":
        dataset, m, width, n_max = "contraction", config.contraction_m, config.contraction_width, config.contraction_n_max
    else:
        dataset, m, width, n_max = "phase", cell["m"], config.phase_width, config.phase_n_max
    features, targets = _dense_features(config, m, width, seed)
    constants = geometry_rows(features, targets, max_radius_dim=config.max_radius_dim)
    rows = [tidy_row(dataset, "dense", m, None, seed, name, value) for name, value in constants.items()]
    radius = constants.get(RADIUS, 0.0)
    if radius > 0:
        rows.append(tidy_row(dataset, "dense", m, None, seed, PREDICTED_BOUNDARY, (constants[DIAMETER] / radius) ** 2))
    methods = config.methods if cell["kind"] == "contraction" else ("gfs",)
    grid = list(range(1, n_max + 1)) if cell["kind"] == "contraction" else size_grid(n_max, 4 * config.grid_points)
    for method in methods:
        losses = select(features, targets, n_max, method, seed=seed).losses
        excess = losses - constants[PROJECTION_LOSS]
        for n in grid:
            rows.append(tidy_row(dataset, method, m, n, seed, EXCESS_LOSS, excess[n - 1]))
        if cell["kind"] == "phase":
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


def figures(rows: list[dict], config: ExponentialConfig, folder) -> list:
    from sims.plots import plot_contraction, plot_phase_diagram

    return plot_contraction(rows, config, folder) + plot_phase_diagram(rows, config, folder)


def claims(rows: list[dict], config: ExponentialConfig) -> list:
    """Theorem checks at every n (P2 for gfs, P3 for gfs and herding, P4 for the re-weighted
    methods) on the contraction and phase cells; empirical claims: each re-weighted method is
    exponential, gfs falls like 1/n², and gfs is fast wherever n exceeds (D/r)²."""
    from dataclasses import replace as with_fields

    from theory import claims as theory_claims

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


EXPERIMENT = Experiment(
    name="exponential",
    config_class=ExponentialConfig,
    quick=quick,
    cells=cells,
    run_cell=run_cell,
    figures=figures,
    claims=claims,
    description="E2: exponential rates of re-weighted greedy and the phase diagram of the fast regime",
)
