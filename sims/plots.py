"""Figures. Every function writes its files atomically and returns nothing; matplotlib runs
headless (Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sims.io import atomic_write  # noqa: E402
from sims.select import REWEIGHTED_METHODS  # noqa: E402


def save_figure(figure, path: str | Path) -> None:
    """Save ``figure`` to ``path`` (format from the suffix) atomically and close it."""
    path = Path(path)
    atomic_write(path, lambda temporary: figure.savefig(temporary, format=path.suffix.lstrip("."), dpi=130, bbox_inches="tight"))
    plt.close(figure)


def plot_loss_curve(losses, path: str | Path, title: str = "") -> None:
    """Training loss against GD step on a log y-axis."""
    losses = np.asarray(losses, dtype=np.float64)
    figure, axis = plt.subplots(figsize=(5, 3.4))
    axis.semilogy(np.arange(losses.shape[0]), losses, color="C0")
    axis.set_xlabel("gradient-descent step")
    axis.set_ylabel("training loss  0.5 mean ||f(x) - y||²")
    axis.set_title(title)
    axis.grid(True, which="both", alpha=0.3)
    save_figure(figure, path)


# ---------------------------------------------------------------- tidy-row helpers

# Methods whose theory (P4) predicts an exponential rate; the others fall like a power of n.
EXPONENTIAL_METHODS = REWEIGHTED_METHODS

METHOD_STYLE = {
    "gfs": ("C0", "-"), "gfs-norep": ("C9", "-"), "herding": ("C1", "-"), "fw": ("C2", "-"),
    "fcfw": ("C3", "-"), "greedy-opt": ("C4", "-"), "stochastic-gfs": ("C5", "-"), "random": ("0.5", ":"),
    "magnitude": ("C6", ":"), "backward": ("C8", "-."), "direct-gd": ("k", "--"),
}


def select_rows(rows, **equal) -> list[dict]:
    """Rows whose columns equal the given values."""
    return [row for row in rows if all(row.get(key) == value for key, value in equal.items())]


def seed_band(rows, *, log: bool = False, **equal):
    """(n, centre, low, high) over seeds of the matching rows with n set, sorted by n.

    Linear scale: the mean and its 95% normal interval. ``log=True`` (for log axes): the
    geometric mean and the 95% interval of the mean of log values, so the band stays positive;
    non-positive values are dropped. With one seed the band collapses onto the centre.
    """
    by_n: dict[int, list[float]] = {}
    for row in select_rows(rows, **equal):
        value = row["value"]
        if row.get("n") is not None and np.isfinite(value) and (value > 0 or not log):
            by_n.setdefault(row["n"], []).append(np.log(value) if log else value)
    ns = np.array(sorted(by_n), dtype=float)
    means = np.array([np.mean(by_n[n]) for n in sorted(by_n)])
    half = np.array([1.96 * np.std(by_n[n], ddof=1) / np.sqrt(len(by_n[n])) if len(by_n[n]) > 1 else 0.0
                     for n in sorted(by_n)])
    if log:
        return ns, np.exp(means), np.exp(means - half), np.exp(means + half)
    return ns, means, means - half, means + half


def constant(rows, metric, **equal) -> float:
    """Mean over seeds of a geometry row (n empty), NaN if absent."""
    values = [row["value"] for row in select_rows(rows, metric=metric, **equal) if row.get("n") is None]
    return float(np.mean(values)) if values else float("nan")


def _draw_band(axis, ns, means, low, high, label, method):
    color, style = METHOD_STYLE.get(method, (None, "-"))
    positive = means > 0
    axis.plot(ns[positive], means[positive], style, color=color, label=label, lw=1.6)
    if np.any(high > low):
        axis.fill_between(ns[positive], np.maximum(low[positive], 1e-300), high[positive], color=color, alpha=0.2, lw=0)


def legend_below(figure, axis, ncol: int = 4) -> None:
    """One legend for the figure, under the axes, so it never covers a curve (the saved image's
    tight bounding box grows to include it)."""
    handles, labels = axis.get_legend_handles_labels()
    figure.tight_layout()
    figure.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=ncol, fontsize=8,
                  frameon=False)


def plain_log_labels(axis, which: str = "y") -> None:
    """Label a log axis with plain numbers (0.1, 0.2, 0.4, 20) instead of matplotlib's
    "4×10⁰"-style labels. Minor ticks get a label only while the axis spans less than about a
    decade and a half (then at mantissas 2, 3 and 5, or all of them below half a decade), so
    labels never crowd."""
    import math

    from matplotlib.ticker import FuncFormatter

    target = axis.yaxis if which == "y" else axis.xaxis

    def minor(value, _):
        low, high = sorted(target.get_view_interval())
        if low <= 0 or value <= 0:
            return ""
        span = math.log10(high / low)
        mantissa = round(value / 10 ** math.floor(math.log10(value) + 1e-9), 6)
        if span < 0.5 or (span < 1.5 and mantissa in (2, 3, 5)):
            return f"{value:g}"
        return ""

    target.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    target.set_minor_formatter(FuncFormatter(minor))


def save_both(figure, folder, stem) -> list[Path]:
    """Save a figure as PNG (README) and PDF (papers); returns both paths."""
    folder = Path(folder)
    paths = [folder / f"{stem}.png", folder / f"{stem}.pdf"]
    # No creation date in the PDF: the same rows give the same bytes (no churn in committed figures).
    metadata = {"png": {}, "pdf": {"CreationDate": None}}
    for path in paths:
        atomic_write(path, lambda temporary, p=path: figure.savefig(temporary, format=p.suffix[1:], dpi=130,
                                                                      bbox_inches="tight",
                                                                      metadata=metadata[p.suffix[1:]]))
    plt.close(figure)
    return paths


def plot_rates(rows, config, folder) -> list[Path]:
    """E1: one figure per problem: log-log training loss against n, every method, direct GD,
    the P2 and P3 bounds (dashed), the rate-window slopes of gfs, fw and direct GD (as in the
    report), and the bracket of measured sizes where gfs and direct GD cross."""
    from theory import bounds, claims

    written = []
    for problem in config.problems:
        problem_rows = select_rows(rows, dataset=problem)
        if not problem_rows:
            continue
        has_accuracy = bool(select_rows(problem_rows, metric="test_accuracy"))
        figure, axes = plt.subplots(1, 2 if has_accuracy else 1, figsize=(11 if has_accuracy else 6.4, 4.4))
        axis = axes[0] if has_accuracy else axes
        for method in (*config.methods, "direct-gd"):
            ns, means, low, high = seed_band(problem_rows, log=True, method=method, metric="train_loss")
            if ns.size == 0:
                continue
            label = method
            if method in ("gfs", "direct-gd", "fw"):
                # the slope the claims and the report's table use: per-seed fits on n >= n_max/4 of
                # the excess loss (of the training loss itself for direct GD), averaged over seeds
                metric = "train_loss" if method == "direct-gd" else "excess_loss"
                fitted = claims.tail_slopes(problem_rows, method=method, metric=metric, floor=1e-25)
                # a loss at float64 rounding level (direct GD interpolating few samples) has no rate
                rounding = method == "direct-gd" and bool(np.any(means[ns >= ns[-1] / claims.RATE_WINDOW] < 1e-12))
                if fitted and not rounding:
                    n_low = min(window for _, window, _ in fitted.values())
                    label += (f" (slope {np.mean([slope for slope, _, _ in fitted.values()]):.2f}"
                              f" on n ≥ {n_low:.0f})")
            _draw_band(axis, ns, means, low, high, label, method)
        ns, _, _, _ = seed_band(problem_rows, method="gfs", metric="train_loss")
        if ns.size:
            variance, dense_loss = constant(problem_rows, "V"), constant(problem_rows, "dense_loss")
            lg, dg, radius = constant(problem_rows, "L_g"), constant(problem_rows, "D_g"), constant(problem_rows, "r")
            grid = np.geomspace(ns[0], ns[-1], 60)
            axis.plot(grid, dense_loss + bounds.gfs_excess_bound(grid, variance), "--", color="C0", lw=1, alpha=0.7,
                      label="P2 bound (GFS)")
            if np.isfinite(radius) and radius > 0:
                axis.plot(grid, lg + bounds.gfs_interior_bound(grid, dg, radius), "--", color="C3", lw=1, alpha=0.7,
                          label=f"P3 bound (r={radius:.2g})")
            axis.axhline(dense_loss, color="k", lw=0.8, alpha=0.6, label=f"dense network ({dense_loss:.3g})")
            verdict = claims.pruned_beats_direct_training(problem_rows)
            if "crossover_low" in verdict.numbers:  # bracketed between two sizes both methods measured
                low_n, high_n = verdict.numbers["crossover_low"], verdict.numbers["crossover_high"]
                axis.axvspan(low_n, high_n, color="k", alpha=0.08, lw=0)
                axis.text(high_n, 0.02, f"gfs and direct GD cross in [{low_n:.0f}, {high_n:.0f}] ", ha="right",
                          va="bottom", fontsize=8, transform=axis.get_xaxis_transform())
        dimension = constant(problem_rows, "dimension")
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
                ns, means, low, high = seed_band(problem_rows, method=method, metric="test_accuracy")
                if ns.size:
                    color, style = METHOD_STYLE.get(method, (None, "-"))
                    axes[1].plot(ns, means, style, marker="o", ms=3, color=color, label=method)
                    axes[1].fill_between(ns, low, high, color=color, alpha=0.2, lw=0)
            dense_accuracy = constant(problem_rows, "dense_test_accuracy")
            axes[1].axhline(dense_accuracy, color="k", lw=0.8)
            axes[1].set(xscale="log", xlabel="subnetwork size n", ylabel="test accuracy",
                        title=f"{problem}: test accuracy (dense network {dense_accuracy:.3f}, black line)")
            axes[1].grid(True, which="both", alpha=0.25)
            plain_log_labels(axes[1], "x")
        legend_below(figure, axis, ncol=4 if has_accuracy else 3)  # same colours in both panels
        written += save_both(figure, folder, f"rates_{problem}")
    return written


def plot_contraction(rows, config, folder) -> list[Path]:
    """E2: semi-log excess loss against n for re-weighted greedy and GFS, with P4's bound
    (1 - r^2/D^2)^(n-1) and P3's bound dashed, and in the legend the contraction per step (or the
    log-log slope) that the report's claims measure."""
    from theory import bounds, claims

    contraction_rows = select_rows(rows, dataset="contraction")
    if not contraction_rows:
        return []
    radius, diam = constant(contraction_rows, "r"), constant(contraction_rows, "D")
    figure, axis = plt.subplots(figsize=(6.6, 4.4))
    floor = 1e-26
    for method in config.methods:
        ns, means, low, high = seed_band(contraction_rows, log=True, method=method, metric="excess_loss")
        if ns.size == 0:
            continue
        label = method
        # the numbers of the report: the exponential claim's per-seed factor (geometric mean), or
        # the mean per-seed log-log slope on the rate window for the averaging methods
        if method in EXPONENTIAL_METHODS:
            verdict = claims.reweighted_greedy_exponential(contraction_rows, method=method)
            if "contraction (group 1)" in verdict.numbers:
                label += f" (factor {verdict.numbers['contraction (group 1)']:.3f}/step)"
        else:
            fitted = claims.tail_slopes(contraction_rows, method=method, floor=1e-25)
            if fitted:
                label += f" (log-log slope {np.mean([slope for slope, _, _ in fitted.values()]):.2f})"
        color, style = METHOD_STYLE.get(method, (None, "-"))
        axis.plot(ns, np.maximum(means, floor), style, color=color, label=label, lw=1.6)
        if np.any(high > low):
            axis.fill_between(ns, np.maximum(low, floor), np.maximum(high, floor), color=color, alpha=0.2, lw=0)
    if np.isfinite(radius) and radius > 0:
        ns, means, _, _ = seed_band(contraction_rows, log=True, method="fw", metric="excess_loss")
        if ns.size:
            bound = bounds.reweighted_greedy_bound(ns, means[0], radius, diam)
            axis.plot(ns, np.maximum(bound, floor), "--", color="C2", lw=1,
                      label=f"P4 bound, factor 1-r²/D² = {bounds.reweighted_contraction(radius, diam):.4f}")
            gfs_bound = bounds.gfs_interior_bound(ns, constant(contraction_rows, "D_g"), radius)
            axis.plot(ns, gfs_bound, ":", color="C0", lw=1, label="P3 bound (GFS)")
    axis.set_yscale("log")
    axis.set_ylim(floor, None)
    axis.set(xlabel="subnetwork size n", ylabel="excess loss  L(f_n) - L(g)",
             title=f"re-weighted greedy, m = {config.contraction_m} (r = {radius:.3g}, D = {diam:.3g})")
    axis.grid(True, which="both", alpha=0.25)
    legend_below(figure, axis, ncol=2)
    return save_both(figure, folder, "exponential_contraction")


def plot_phase_diagram(rows, config, folder) -> list[Path]:
    """E2: GFS's local log-log slope over (n, m) with the predicted boundary n* = (D/r)^2."""
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
    boundary = [constant(select_rows(rows, dataset="phase", m=m), "predicted_boundary") for m in sizes]
    axis.plot(boundary, np.arange(len(sizes)), "k--o", ms=4, label="predicted boundary n* = (D/r)²")
    for row_index, value in enumerate(boundary):
        if np.isfinite(value) and value > n_edges[-1]:
            axis.text(n_edges[-1] / 1.05, row_index, f"n* = {value:.2g} →", ha="right", va="center", fontsize=8)
    axis.set_xscale("log")
    axis.set_xlim(n_edges[0], n_edges[-1])
    axis.set_yticks(np.arange(len(sizes)), [str(m) for m in sizes])
    axis.set(xlabel="subnetwork size n", ylabel="samples m (function-space dimension m·K, K = 1)",
             title="where GFS is fast: slope -2 (blue) vs -1 (orange)")
    legend_below(figure, axis, ncol=1)
    return save_both(figure, folder, "exponential_phase_diagram")
