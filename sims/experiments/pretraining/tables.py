"""E3's tables over rows, shared by its figures, claims and summary: the rows of a set-up and
metric per m, the criteria present, seed means with Student-t intervals, measured values paired
with their bounds, P7's informative points, and the texts the report quotes."""

from __future__ import annotations

import math

import numpy as np

from sims.experiments.pretraining.config import PretrainingConfig
from sims.results.schema import select_rows
from theory.inference import t_interval

__all__ = ["setups_with", "per_m", "eps_values", "mean_interval", "paired", "informative_ratios",
           "t_star_text", "required_size_text", "anatomy_points"]


def setups_with(rows, config: PretrainingConfig, metric) -> list[str]:
    """The configured set-ups with some row of ``metric``, in the config's order."""
    present = {r["dataset"] for r in rows if r["metric"] == metric}
    return [s for s in config.setups if s in present]


def per_m(rows, setup, metric, eps) -> dict[int, list[float]]:
    """m -> per-seed values of ``metric`` at criterion ``eps``."""
    out: dict[int, list[float]] = {}
    for r in select_rows(rows, dataset=setup, metric=metric, eps=eps):
        out.setdefault(r["m"], []).append(r["value"])
    return dict(sorted(out.items()))


def eps_values(rows, setup, metric) -> list[float]:
    """The criteria of a set-up's ``metric`` rows, largest first."""
    return sorted({r["eps"] for r in select_rows(rows, dataset=setup, metric=metric)}, reverse=True)


def mean_interval(values) -> tuple[float, float, float] | None:
    """(mean, low, high) with a Student-t 95% interval, or None when some value is infinite."""
    values = np.asarray(values, dtype=float)
    if values.size == 0 or not np.all(np.isfinite(values)):
        return None
    if values.size < 2:
        mean = float(values.mean())
        return mean, mean, mean
    interval = t_interval(values)
    return interval.mean, interval.low, interval.high


def paired(rows, setup, measured_metric, bound_metric):
    """(measured, bound, labels) matched by (m, seed, eps)."""
    bound = {(r["m"], r["seed"], r["eps"]): r["value"] for r in select_rows(rows, dataset=setup, metric=bound_metric)}
    out = []
    for r in select_rows(rows, dataset=setup, metric=measured_metric):
        key = (r["m"], r["seed"], r["eps"])
        if key in bound:
            out.append((r["value"], bound[key], f"m={r['m']} seed={r['seed']} eps={r['eps']:g}"))
    return out


def informative_ratios(pairs) -> np.ndarray:
    """T_B / T* at the informative points of P7: T_B finite and 0 < T* < inf (a point with T* = 0
    meets any T_B, one with T_B = inf any T*)."""
    return np.array([b / t for t, b, _ in pairs if math.isfinite(b) and math.isfinite(t) and t > 0], dtype=float)


def t_star_text(rows, setup, metric, eps) -> str:
    """'m=100: 12 [10, 14]; m=1000: inf (3 of 8 seeds never)' (seed mean, 95% t-interval)."""
    parts = []
    for m, values in per_m(rows, setup, metric, eps).items():
        interval = mean_interval(values)
        if interval is None:
            never = sum(1 for v in values if not math.isfinite(v))
            parts.append(f"m={m}: not reached by {never} of {len(values)} seeds")
        else:
            parts.append(f"m={m}: {interval[0]:.1f} [{interval[1]:.1f}, {interval[2]:.1f}]")
    return "; ".join(parts)


def required_size_text(rows, setup) -> str:
    """'eps=0.1: 4,685; eps=0.05: 10,133' (median over cells of P6's required n)."""
    parts = []
    for eps in eps_values(rows, setup, "p6_required_n"):
        values = [r["value"] for r in select_rows(rows, dataset=setup, metric="p6_required_n", eps=eps)]
        parts.append(f"eps={eps:g}: {np.median(values):,.0f}")
    return "; ".join(parts)


def anatomy_points(rows, setup):
    """Per seed: x = ln(L(u_0)/eps) (log of the residual ratio), y = T* x contraction rate,
    over the (m, eps) points with a finite T* >= 2."""
    initial = {(r["m"], r["seed"]): r["value"] for r in select_rows(rows, dataset=setup, metric="initial_loss")}
    rate = {(r["m"], r["seed"], r["eps"]): r["value"] for r in select_rows(rows, dataset=setup, metric="contraction_rate")}
    by_seed: dict[int, tuple[list, list]] = {}
    for r in select_rows(rows, dataset=setup, metric="pretrain_steps"):
        key = (r["m"], r["seed"], r["eps"])
        rho = rate.get(key, math.nan)
        if not (math.isfinite(r["value"]) and math.isfinite(rho) and r["eps"] > 0):
            continue
        x, y = by_seed.setdefault(r["seed"], ([], []))
        x.append(math.log(initial[(r["m"], r["seed"])] / r["eps"]))
        y.append(r["value"] * rho)
    return by_seed
