"""E6 `submodularity`: how submodular is re-weighted subset selection, and do the guarantees of
greedy, stochastic greedy and GreeDi hold?

Each cell is one small random instance (family, seed s): a mean-field ReLU network of ``width``
neurons on m = ``m_values[s % len]`` Gaussian inputs of dimension ``input_dim`` (K = 1), and a
target from a random teacher of ``teacher_width`` neurons. Families: ``teacher`` (Gaussian output
weights, target the teacher's output) and ``positive`` (output weights |b| in network and teacher,
target ``positive_scale`` times the teacher's output, so that most single neurons beat the empty
network and Das & Kempe's gamma is often positive). For the set function F that greedy-opt
maximises (docs/THEORY.md section 8) the cell computes, for every n in ``sizes``, by brute force
over all 2^N subsets (``theory.submodularity``):

- gamma (Das & Kempe's submodularity ratio, L of any size) and gamma+ (L non-empty);
- OPT, the best F over sets of size n;
- achieved ratios F(result) / OPT of the toolkit's implementations: greedy = the engine's
  ``greedy-opt``; GreeDi (``sims.selection.set_greedy.greedi``, ``parts`` random groups, seeded by s);
  stochastic greedy: its exact expectation (by dynamic programming over reachable sets) and the
  mean of ``stochastic_runs`` seeded runs of ``sims.selection.set_greedy.stochastic_greedy_opt``;
- guaranteed ratios: for each method the larger of the gamma bound and the first-step gamma+
  bound (both theorems of section 8), and each of the two separately.

Claims: one theorem check per method, "guarantee <= achieved ratio on every instance".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from sims.experiments.common import tidy_row
from sims.experiments.record import Experiment
from sims.foundations.constraints import check_fields, constrained
from sims.foundations.errors import InputError
from sims.nets.model import forward, init_network, neuron_features
from sims.plotting import plots
from sims.selection.engine import select
from sims.selection.set_greedy import greedi_partition, run_set_method
from theory import submodularity as sm
from theory.claims import theorem_check

__all__ = ["SubmodularityConfig", "quick", "Cell", "cells", "run_cell", "figures", "claims", "summary", "EXPERIMENT",
           "METHODS", "FAMILIES", "instance", "GAMMA", "GAMMA_PLUS", "OPTIMUM", "ACHIEVED", "GUARANTEED", "GAMMA_BOUND", "FIRST_STEP_BOUND",
           "RUN_MEAN"]

GAMMA, GAMMA_PLUS, OPTIMUM = "gamma", "gamma_plus", "optimum_F"
ACHIEVED, GUARANTEED = "achieved_ratio", "guaranteed_ratio"
GAMMA_BOUND, FIRST_STEP_BOUND, RUN_MEAN = "gamma_bound", "first_step_bound", "run_mean_ratio"
#: The three variants, as they appear in the rows' method column.
METHODS = ("greedy", "stochastic-greedy", "greedi")
#: Instance families (the rows' dataset column).
FAMILIES = ("teacher", "positive")


@dataclass(frozen=True)
class SubmodularityConfig:
    """Full-scale defaults (60 instances); ``quick()`` gives the preset of ``--quick``."""

    instances: int = constrained(60, value_range="positive")
    families: tuple[str, ...] = constrained(("teacher", "positive"), choices=lambda: FAMILIES)
    positive_scale: float = constrained(4.0, value_range="positive")
    width: int = constrained(10, value_range="positive")
    sizes: tuple[int, ...] = constrained((2, 3, 4), value_range="positive")
    m_values: tuple[int, ...] = constrained((3, 5, 8), value_range="positive")
    input_dim: int = constrained(3, value_range="positive")
    teacher_width: int = constrained(3, value_range="positive")
    parts: int = constrained(2, value_range="positive")
    eps: float = constrained(0.3, value_range="positive")
    stochastic_runs: int = constrained(20, value_range="positive")

    def __post_init__(self):
        check_fields(self)
        if not 2 <= self.width <= 14:
            raise InputError(f"width must be in [2, 14] (F is tabulated over all 2^N subsets), got {self.width}")
        if not self.sizes or max(self.sizes) > self.width:
            raise InputError(f"sizes must be non-empty and at most width = {self.width}, got {self.sizes}")
        if not self.m_values:
            raise InputError("m_values must not be empty")
        if not self.eps < 1:
            raise InputError(f"eps must be in (0, 1), got {self.eps}")
        if self.parts > self.width:
            raise InputError(f"parts must be at most width = {self.width}, got {self.parts}")


def quick() -> SubmodularityConfig:
    return SubmodularityConfig(instances=5, width=7, sizes=(2, 3), stochastic_runs=3)


@dataclass(frozen=True)
class Cell:
    """One instance: its family and its seed (the instance's number)."""

    family: str
    seed: int


def cells(config: SubmodularityConfig) -> list[Cell]:
    return [Cell(family, seed) for family in config.families for seed in range(config.instances)]


def instance(config: SubmodularityConfig, seed: int, family: str = "teacher"):
    """(features (m, N, 1) float64, target (m, 1), m) of instance ``seed`` of ``family``."""
    m = config.m_values[seed % len(config.m_values)]
    network = init_network(config.input_dim, config.width, 1, seed=seed)
    teacher = init_network(config.input_dim, config.teacher_width, 1, seed=20_000 + seed)
    scale = 1.0
    if family == "positive":
        network = replace(network, second_weight=network.second_weight.abs())
        teacher = replace(teacher, second_weight=teacher.second_weight.abs())
        scale = config.positive_scale
    inputs = torch.randn(m, config.input_dim, generator=torch.Generator().manual_seed(10_000 + seed),
                         dtype=torch.float64)
    return neuron_features(network, inputs).contiguous(), scale * forward(teacher, inputs), m


def run_cell(config: SubmodularityConfig, cell: Cell) -> list[dict]:
    seed, family = cell.seed, cell.family
    features, target, m = instance(config, seed, family)
    phi = features.permute(1, 0, 2).reshape(config.width, -1).numpy()
    table = sm.set_function_table(phi, target.numpy().reshape(-1), m)
    zero_loss = 0.5 * float((target ** 2).sum()) / m
    parts = greedi_partition(config.width, config.parts, seed)
    rows = []

    def row(method, n, metric, value):
        rows.append(tidy_row(family, method, m, n, seed, metric, float(value)))

    for n in config.sizes:
        gamma = sm.submodularity_ratio(table, n).gamma
        gamma_plus = sm.submodularity_ratio(table, n, nonempty=True).gamma
        best, best_mask = sm.optimum(table, n)
        row("instance", n, GAMMA, gamma)
        row("instance", n, GAMMA_PLUS, gamma_plus)
        row("instance", n, OPTIMUM, best)
        if not best > 0 or math.isnan(gamma_plus):
            continue  # no guarantee applies (docs/THEORY.md section 8)
        hypotheses = sm.hypotheses(table, gamma, best)
        first = max(float(table[1 << x]) for x in range(config.width))
        achieved = {
            "greedy": (zero_loss - select(features, target, n, "greedy-opt").losses[-1]) / best,
            "stochastic-greedy": sm.stochastic_greedy_expectation(table, n, config.eps) / best,
            "greedi": (zero_loss - run_set_method(features, target, n, "greedi", parts=config.parts,
                                                  seed=seed)[1][-1]) / best,
        }
        size = sm.sample_size(config.width, n, config.eps)
        bounds = {
            "greedy": (sm.greedy_guarantee(gamma), sm.first_step_guarantee(gamma_plus, n, first, best)),
            "stochastic-greedy": (sm.stochastic_guarantee(gamma, config.eps) if hypotheses.stochastic_gamma
                                  else -math.inf,
                                  sm.first_step_guarantee(gamma_plus, n, sm.expected_first_pick(table, size), best,
                                                          eps=config.eps)),
            "greedi": (sm.greedi_guarantee(gamma, n, table, parts, best_mask),
                       sm.greedi_first_step_guarantee(gamma_plus, n, table, parts, best_mask)),
        }
        runs = [run_set_method(features, target, n, "stochastic-greedy-opt", eps=config.eps, seed=run)[1][-1]
                for run in range(config.stochastic_runs)]
        row("stochastic-greedy", n, RUN_MEAN, (zero_loss - float(np.mean(runs))) / best)
        for method in METHODS:
            gamma_bound, first_bound = bounds[method]
            row(method, n, ACHIEVED, achieved[method])
            row(method, n, GUARANTEED, max(gamma_bound, first_bound))
            row(method, n, GAMMA_BOUND, gamma_bound if math.isfinite(gamma_bound) else math.nan)
            row(method, n, FIRST_STEP_BOUND, first_bound)
    return rows


def _values(rows, method, metric, family=None):
    """{(family, seed, n): value} of one method's metric (of one family, or all)."""
    return {(r["dataset"], r["seed"], r["n"]): r["value"] for r in rows
            if r["method"] == method and r["metric"] == metric and family in (None, r["dataset"])}


def claims(rows: list[dict], config: SubmodularityConfig) -> list:
    """One theorem check per method: guaranteed ratio <= achieved ratio on every instance and n
    where a guarantee applies (F(S*) > 0)."""
    names = {
        "greedy": "greedy on F (greedy-opt) reaches its guaranteed share of OPT: max(1 − e^(−γ), first-step γ+ bound)",
        "stochastic-greedy": "stochastic greedy on F reaches its guaranteed share of OPT in expectation: "
                             f"max(1 − e^(−γ) − ε, first-step γ+ bound), ε = {config.eps}",
        "greedi": f"GreeDi ({config.parts} parts) reaches its guaranteed share of OPT: "
                  "max(γ/k, (1 − e^(−γ))² max_j F(S*∩A_j)/OPT, first-step γ+ bound)",
    }
    verdicts = []
    for method in METHODS:
        achieved, guaranteed = _values(rows, method, ACHIEVED), _values(rows, method, GUARANTEED)
        every = sorted(achieved)
        # a guarantee <= 0 says nothing (any achieved ratio meets it): such points are not evidence
        keys = [key for key in every if guaranteed[key] > 0]
        verdict = theorem_check(
            names[method], [guaranteed[key] for key in keys], [achieved[key] for key in keys],
            seeds=len({key[:2] for key in keys}), where=[f"{family} instance {seed}, n={n}" for family, seed, n in keys])
        vacuous = len(every) - len(keys)
        verdicts.append(replace(verdict, numbers={**verdict.numbers, "vacuous_points": float(vacuous)},
                                summary=f"{verdict.summary}; checked where the guarantee is positive: {vacuous} of "
                                        f"{len(every)} points have a guarantee <= 0 (vacuous) and are not counted"))
    return verdicts


def summary(rows: list[dict], config: SubmodularityConfig) -> list[str]:
    """The gamma table: per family and n, the submodularity ratios and each method's guaranteed and
    achieved ratios; guarantees <= 0 (vacuous) are counted apart, never averaged or counted as held."""
    lines = ["| family | n | instances | γ > 0 | γ median | γ+ min / median / max | method | guaranteed (mean where > 0) | "
             "achieved (mean / min) | γ bound > 0 | guarantee held (where > 0) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for family in config.families:
        gamma = _values(rows, "instance", GAMMA, family)
        gamma_plus = _values(rows, "instance", GAMMA_PLUS, family)
        for n in config.sizes:
            g = np.array([v for key, v in gamma.items() if key[2] == n])
            gp = np.array([v for key, v in gamma_plus.items() if key[2] == n and not math.isnan(v)])
            for position, method in enumerate(METHODS):
                achieved = _values(rows, method, ACHIEVED, family)
                guaranteed = _values(rows, method, GUARANTEED, family)
                gamma_bound = _values(rows, method, GAMMA_BOUND, family)
                keys = [key for key in achieved if key[2] == n]
                if not keys:
                    continue
                a = np.array([achieved[key] for key in keys])
                b = np.array([guaranteed[key] for key in keys])
                positive = sum(1 for key in keys if gamma_bound[key] > 0)
                informative = b > 0  # a guarantee <= 0 is vacuous: neither averaged nor counted as held
                held = int(np.sum((b <= a + 1e-9 * np.abs(a) + 1e-12) & informative))
                head = (f"| {family} | {n} | {len(g)} | {int(np.sum(g > 0))} | {np.median(g):.3g} | "
                        f"{gp.min():.3f} / {np.median(gp):.3f} / {gp.max():.3f} |" if position == 0 and gp.size
                        else "| | | | | | |")
                mean_guarantee = f"{b[informative].mean():.3f}" if informative.any() else "–"
                lines.append(f"{head} {method} | {mean_guarantee} | {a.mean():.3f} / {a.min():.3f} | "
                             f"{positive} of {len(keys)} | {held} of {int(informative.sum())} "
                             f"({len(keys) - int(informative.sum())} vacuous) |")
    means = _values(rows, "stochastic-greedy", RUN_MEAN)
    exact = _values(rows, "stochastic-greedy", ACHIEVED)
    if means:
        gaps = np.array([abs(means[key] - exact[key]) for key in means])
        lines += ["", f"Stochastic greedy: achieved = the exact expectation; the mean of {config.stochastic_runs} seeded "
                      f"runs of the implementation differs from it by {np.median(gaps):.3f} (median) and at most "
                      f"{gaps.max():.3f} (sampling noise: single neurons far from the target make F very negative)."]
    return lines


def figures(rows: list[dict], config: SubmodularityConfig, folder) -> list:
    """submodularity_guarantees: achieved against guaranteed ratio per method (negative, i.e. vacuous,
    guarantees and achieved ratios are drawn at the axes' edges), and the spread of gamma+."""
    plt = plots.pyplot()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(1, 4, figsize=(15, 3.8))
    markers = {n: marker for n, marker in zip(config.sizes, "os^Dv<>")}
    colours = {family: colour for family, colour in zip(config.families, ("tab:blue", "tab:orange", "tab:green"))}
    left, bottom = -0.2, -0.05  # guarantees below 0 are vacuous: drawn at the left edge
    for axis, method in zip(axes, METHODS):
        achieved, guaranteed = _values(rows, method, ACHIEVED), _values(rows, method, GUARANTEED)
        for family in config.families:
            for n in config.sizes:
                keys = [key for key in achieved if key[0] == family and key[2] == n]
                axis.scatter([max(guaranteed[k], left) for k in keys], [max(achieved[k], bottom) for k in keys], s=14,
                             marker=markers[n], color=colours[family], label=f"{family}, n = {n}", alpha=0.6)
        axis.plot([0, 1], [0, 1], color="black", linewidth=0.8, label="achieved = guaranteed")
        vacuous = sum(1 for value in guaranteed.values() if value <= 0)  # as the claims count them
        axis.axvspan(left - 0.02, 0, color="grey", alpha=0.15, linewidth=0)
        axis.set_xlim(left - 0.02, 1.02)
        axis.set_ylim(bottom - 0.02, 1.05)
        axis.set_xlabel(f"guaranteed ratio ({vacuous} of {len(guaranteed)} ≤ 0, vacuous: grey)")
        axis.set_ylabel("achieved F / OPT" + (" (expectation)" if method == "stochastic-greedy" else ""))
        axis.set_title(method)
        axis.legend(fontsize=6, loc="lower right", ncol=2)
    gamma_plus = _values(rows, "instance", GAMMA_PLUS)
    for n in config.sizes:
        axes[3].hist([v for key, v in gamma_plus.items() if key[2] == n and not math.isnan(v)], bins=20,
                     range=(0, 1), histtype="step", label=f"n = {n}")
    axes[3].set_xlabel("γ+ (non-empty L)")
    axes[3].set_ylabel("instances")
    axes[3].set_title("submodularity ratio γ+")
    axes[3].legend(fontsize=7)
    figure.tight_layout()
    return plots.save_both(figure, folder, "submodularity_guarantees")


EXPERIMENT = Experiment(
    name="submodularity",
    config_class=SubmodularityConfig,
    quick=quick,
    cells=cells,
    run_cell=run_cell,
    figures=figures,
    claims=claims,
    description="E6: the submodularity ratio of re-weighted selection and the guarantees of greedy, "
                "stochastic greedy and GreeDi",
    summary=summary,
)
