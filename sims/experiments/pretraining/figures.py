"""E3's figures: T*(m) with P7's certificate, the subnetwork's loss curves, P7 where it is
informative, the random-subnetwork identity, the random-features spectrum (P8), and the anatomy
of T* (its rate against the log of the residual ratio)."""

from __future__ import annotations

import math

import numpy as np

from sims.experiments.pretraining.claims import identity_z_limit
from sims.experiments.pretraining.config import PretrainingConfig, setup_plan
from sims.experiments.pretraining.tables import (anatomy_points, eps_values, mean_interval, paired, per_m,
                                                 setups_with)
from sims.plotting import plots
from sims.results.schema import select_rows

__all__ = ["figures", "plot_t_star", "plot_subnet_curves", "plot_certificate", "plot_identity", "plot_spectrum",
           "plot_anatomy", "directions_that_matter"]


def _tidy_log_axis(axis) -> None:
    """No crowded minor tick labels on a log axis (the major ones are enough)."""
    import matplotlib.ticker

    axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axis.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _log_axis(values):
    """Steps on a log axis: 0 is drawn at 0.5."""
    return np.maximum(np.asarray(values, dtype=float), 0.5)


def _panels(plt, count: int, width: float = 4.6, height: float = 4.3):
    """A figure with ``count`` panels, at most three per row (unused cells removed)."""
    columns = min(count, 3)
    rows_of_panels = -(-count // columns)
    figure, axes = plt.subplots(rows_of_panels, columns, figsize=(width * columns, height * rows_of_panels),
                                squeeze=False)
    flat = list(axes.ravel())
    for axis in flat[count:]:
        axis.remove()
    return figure, flat[:count]


def _legend_under(axis) -> None:
    """The panel's legend under its axes, so it never covers a curve."""
    axis.legend(fontsize=6, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)


def plot_t_star(rows, config: PretrainingConfig, folder) -> list:
    """T*(m) for several eps on one plot per set-up (seed mean, 95% t-interval), P7's T_B
    dashed in the same colour; an m where some seed never met eps is marked with a triangle at
    the top."""
    plt = plots.pyplot()

    setups = setups_with(rows, config, "pretrain_steps")
    if not setups:
        return []
    figure, axes = _panels(plt, len(setups))
    for axis, setup in zip(axes, setups):
        criteria = eps_values(rows, setup, "pretrain_steps")
        colors = plt.cm.plasma(np.linspace(0, 0.85, max(len(criteria), 1)))
        top = 1.0
        for eps, color in zip(criteria, colors):
            for metric, style, label in (("pretrain_steps", "o-", "T*"), ("certificate_steps", "s--", "T_B")):
                points = [(m, mean_interval(v)) for m, v in per_m(rows, setup, metric, eps).items()]
                done = [(m, s) for m, s in points if s is not None]
                if done:
                    ms = np.array([m for m, _ in done], dtype=float)
                    mean = np.array([s[0] for _, s in done])
                    low = np.array([s[1] for _, s in done])
                    high = np.array([s[2] for _, s in done])
                    top = max(top, float(np.max(high)))
                    axis.errorbar(ms, _log_axis(mean), yerr=[_log_axis(mean) - _log_axis(low),
                                                             _log_axis(high) - _log_axis(mean)],
                                  fmt=style, color=color, ms=3, lw=1, capsize=2,
                                  alpha=1.0 if metric == "pretrain_steps" else 0.55,
                                  label=f"{label}, eps={eps:g}" + (_infinite_note(points) if label == "T_B" else ""))
                elif metric == "certificate_steps" and points:
                    axis.plot([], [], style, color=color, alpha=0.55, label=f"T_B, eps={eps:g}: inf at every m")
                if metric == "pretrain_steps":
                    missed = [m for m, s in points if s is None]
                    if missed:
                        axis.plot(missed, [1.0] * len(missed), "v", color=color, ms=6,
                                  transform=axis.get_xaxis_transform(), clip_on=False)
        unit = setup_plan(config, setup).unit
        axis.set(xscale="log", yscale="log", xlabel="training samples m",
                 ylabel=f"pre-training {unit}s (0 drawn at 0.5)", title=setup)
        _tidy_log_axis(axis)
        sizes = sorted(per_m(rows, setup, "pretrain_steps", criteria[0])) if criteria else []
        if sizes:  # label the measured sizes themselves (MNIST's span less than two decades)
            axis.set_xticks(sizes, [f"{m:g}" for m in sizes])
        axis.grid(True, which="both", alpha=0.25)
        _legend_under(axis)
    figure.suptitle("T*(m) (solid) and P7's certificate T_B (dashed, drawn where finite at every seed; the legend "
                    "names the m where it is infinite); ▼ = some seed never met eps", fontsize=9)
    figure.tight_layout()
    return plots.save_both(figure, folder, "pretraining_t_star")


def _infinite_note(points) -> str:
    """' (inf at m=300, 1000)' for the sizes where some seed's value is infinite."""
    missing = [m for m, stats in points if stats is None]
    return f" (inf at m={', '.join(str(m) for m in missing)})" if missing else ""


def plot_subnet_curves(rows, config: PretrainingConfig, folder) -> list:
    """GFS subnetwork loss (mean form, seed mean, coarse grid) against the pre-training step,
    one line per m and one panel per set-up; the eps grid dotted: T*(eps) is where a line first
    crosses a dotted level. The dense network's loss is drawn thin."""
    plt = plots.pyplot()

    setups = setups_with(rows, config, "subnet_loss")
    if not setups:
        return []
    figure, axes = _panels(plt, len(setups))
    for axis, setup in zip(axes, setups):
        ms = sorted({r["m"] for r in select_rows(rows, dataset=setup, metric="subnet_loss")})
        colors = plt.cm.viridis(np.linspace(0, 0.9, len(ms)))
        for m, color in zip(ms, colors):
            for metric, style, width, label in (("subnet_loss", "-", 1.2, f"m={m}"), ("dense_loss", ":", 0.8, None)):
                by_step: dict[int, list[float]] = {}
                for r in select_rows(rows, dataset=setup, metric=metric, m=m):
                    by_step.setdefault(r["step"], []).append(r["value"])
                steps = sorted(by_step)
                axis.plot(_log_axis(steps), [np.mean(by_step[s]) for s in steps], style, lw=width, color=color,
                          label=label)
        for eps in eps_values(rows, setup, "pretrain_steps"):
            axis.axhline(eps, color="k", ls="--", lw=0.6, alpha=0.6)
        unit = setup_plan(config, setup).unit
        axis.set(xscale="log", yscale="log", xlabel=f"pre-training {unit} (0 drawn at 0.5)",
                 ylabel=f"loss, mean form (GFS n={config.n} solid, dense dotted)", title=setup)
        _tidy_log_axis(axis)
        plots.plain_log_labels(axis, "y")  # a loss range within a decade still gets labels
        axis.grid(True, which="both", alpha=0.25)
        _legend_under(axis)
    figure.suptitle("subnetwork loss curves; dashed levels: the eps grid", fontsize=10)
    figure.tight_layout()
    return plots.save_both(figure, folder, "pretraining_subnet_loss")


def plot_certificate(rows, config: PretrainingConfig, folder) -> list:
    """P7 at its informative points (T_B finite, T* > 0): T_B against T*, log-log, one colour
    per set-up; P7 says every point lies on or above the line T_B = T*. The legend counts the
    points left out (T_B infinite, or T* = 0, which meets any T_B)."""
    plt = plots.pyplot()

    setups = setups_with(rows, config, "certificate_steps")
    if not setups:
        return []
    figure, axis = plt.subplots(figsize=(5.6, 4.8))
    low, high = math.inf, 1.0
    for index, setup in enumerate(setups):
        pairs = paired(rows, setup, "pretrain_steps", "certificate_steps") + \
            paired(rows, setup, "pretrain_steps_sum", "certificate_steps_sum")
        shown = [(t, b) for t, b, _ in pairs if math.isfinite(b) and math.isfinite(t) and t > 0]
        vacuous = sum(1 for _, b, _ in pairs if not math.isfinite(b))
        floor = sum(1 for t, b, _ in pairs if math.isfinite(b) and t == 0)
        left_out = f"left out: {vacuous} with T_B = inf, {floor} with T* = 0"
        if shown:
            t, b = np.array(shown).T
            low, high = min(low, float(t.min())), max(high, float(b.max()), float(t.max()))
            ratio = np.median(b / t)
            axis.plot(t, b, "o", ms=3.5, alpha=0.6, color=f"C{index}",
                      label=f"{setup}: {len(shown)} points, median T_B/T* {ratio:.2g} ({left_out})")
        elif pairs:
            axis.plot([], [], "o", color=f"C{index}", label=f"{setup}: no informative point ({left_out})")
    low = 1.0 if not math.isfinite(low) else low
    grid = np.array([low / 1.5, high * 1.5])
    axis.plot(grid, grid, "k-", lw=0.8, label="T_B = T* (P7: no point below)")
    axis.set(xscale="log", yscale="log", xlim=tuple(grid), ylim=tuple(grid), xlabel="measured T* (steps; SGD: epochs)",
             ylabel="P7 certificate T_B (same unit)", title="P7 where it is informative (T_B finite, T* > 0)")
    _tidy_log_axis(axis)
    ticks = [v for v in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if grid[0] <= v <= grid[1]]
    axis.set_xticks(ticks, [str(v) for v in ticks])
    axis.set_yticks(ticks, [str(v) for v in ticks])
    axis.grid(True, which="both", alpha=0.25)
    axis.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    figure.tight_layout()
    return plots.save_both(figure, folder, "pretraining_certificate")


def plot_identity(rows, config: PretrainingConfig, folder) -> list:
    """The random-subnetwork identity: z = (mean loss of R random subnetworks - (L(u_t) +
    V_t/(2n))) / SE at every recorded step of every cell, one colour per set-up (steps of SGD
    are epochs); the band is the check |z| <= identity_z_limit(all checks of the experiment)."""
    plt = plots.pyplot()

    setups = setups_with(rows, config, "identity_z")
    if not setups:
        return []
    figure, axis = plt.subplots(figsize=(6.4, 4.4))
    largest, limits = 4.0, []
    for index, setup in enumerate(setups):
        zs = select_rows(rows, dataset=setup, metric="identity_z")
        values = np.array([r["value"] for r in zs])
        limits.append(identity_z_limit(len(select_rows(rows, metric="identity_z"))))
        largest = max(largest, float(np.abs(values).max()))
        axis.plot(_log_axis([r["step"] for r in zs]), values, "o", ms=2.5, alpha=0.5, color=f"C{index}",
                  label=f"{setup}: {len(zs)} checks, largest |z| {np.abs(values).max():.2f} "
                        f"(n={setup_plan(config, setup).n})")
    limit = min(limits)
    axis.axhspan(-limit, limit, color="0.92", zorder=0)
    for level in (-limit, limit):
        axis.axhline(level, color="k", ls="--", lw=0.7)
    axis.set(xscale="log", ylim=(-max(6.0, largest * 1.1), max(6.0, largest * 1.1)),
             xlabel="pre-training step (SGD: epoch; 0 drawn at 0.5)", ylabel="z = (mean - prediction) / SE",
             title=f"random subnetworks (R={config.identity_draws}) vs L(u_t) + V_t/(2n); "
                   f"dashed: |z| = {limit:.3g}" + (f" (limits up to {max(limits):.3g})" if max(limits) > limit else ""))
    axis.title.set_fontsize(9)
    _tidy_log_axis(axis)
    axis.grid(True, which="both", alpha=0.25)
    axis.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.17), frameon=False)
    figure.tight_layout()
    return plots.save_both(figure, folder, "pretraining_identity")


def _spectrum_of(rows, setup, m):
    mus = sorted(select_rows(rows, dataset=setup, metric="rf_mu", m=m), key=lambda r: r["step"])
    c2 = sorted(select_rows(rows, dataset=setup, metric="rf_c2", m=m), key=lambda r: r["step"])
    rest = [r["value"] for r in select_rows(rows, dataset=setup, metric="rf_rest", m=m)]
    return (np.array([r["value"] for r in mus]), np.array([r["value"] for r in c2]), rest[0] if rest else 0.0,
            mus[0]["seed"] if mus else None)


def directions_that_matter(share: np.ndarray, floor: float, eps: float) -> np.ndarray:
    """Boolean mask of the directions that must contract before the dense loss can reach eps:
    all but the largest set of smallest-energy directions whose energies, with the floor (the
    energy outside the features' span, which never moves), still sum to at most eps.
    ``share`` (r,): ||c_j||^2/(2m), the loss each direction holds at initialisation. All True
    when the floor alone exceeds eps (eps is then out of reach)."""
    order = np.argsort(share, kind="stable")
    kept = floor + np.cumsum(share[order]) <= eps
    mask = np.ones(share.size, dtype=bool)
    mask[order[kept]] = False
    return mask


def plot_spectrum(rows, config: PretrainingConfig, folder) -> list:
    """Random features (P8), per m (first seed): the eigenvalues mu_j of A against their
    residual energy ||c_j||^2/(2m) at initialisation; the directions that still hold residual at
    eps are those of :func:`directions_that_matter`, and each needs about
    ln(k ||c_j||^2/(2m eps)) / (-2 ln(1 - eta mu_j)) steps (k of them; marked per eps: the
    slowest such direction and the largest such count). Last panel: the
    measured dense loss (points) against P8's closed form from the spectrum (lines)."""
    plt = plots.pyplot()

    setup = "rf-teacher"
    ms = sorted({r["m"] for r in select_rows(rows, dataset=setup, metric="rf_mu")})
    if not ms:
        return []
    eta = config.rf_train.lr
    criteria = eps_values(rows, setup, "pretrain_steps")
    figure, axes = _panels(plt, len(ms) + 1, width=4.2, height=4.2)
    colors = plt.cm.plasma(np.linspace(0, 0.85, max(len(criteria), 1)))
    for axis, m in zip(axes, ms):
        mu, c2, rest, _ = _spectrum_of(rows, setup, m)
        share = c2 / (2 * m)
        axis.loglog(mu, np.maximum(share, 1e-12), ".", ms=3, color="0.3", label="directions j")
        for eps, color in zip(criteria, colors):
            matters = directions_that_matter(share, rest / (2 * m), eps)
            axis.axhline(eps, color=color, lw=0.7, ls="--")
            if matters.any():
                slowest = float(mu[matters].min())
                k = int(matters.sum())
                steps = float(np.max(np.log(k * share[matters] / eps) / (-2 * np.log1p(-eta * mu[matters]))))
                axis.axvline(slowest, color=color, lw=0.7, label=f"eps={eps:g}: {k} dir., ~{max(steps, 0):.0f} st.")
            elif rest / (2 * m) > eps:
                axis.plot([], [], color=color, label=f"eps={eps:g}: below the floor")
        axis.set(xlabel="eigenvalue mu_j of A", ylabel="residual energy ||c_j||²/(2m)",
                 title=f"m={m} (outside span: {rest / (2 * m):.2g})")
        axis.grid(True, which="both", alpha=0.25)
        _legend_under(axis)
    axis = axes[-1]
    lines = plt.cm.viridis(np.linspace(0, 0.9, len(ms)))
    for m, color in zip(ms, lines):
        mu, c2, rest, seed = _spectrum_of(rows, setup, m)
        measured = sorted(select_rows(rows, dataset=setup, metric="dense_loss", m=m, seed=seed), key=lambda r: r["step"])
        steps = np.array([r["step"] for r in measured], dtype=float)
        grid = np.unique(np.concatenate([[0.0], np.geomspace(1, max(steps.max(), 1), 60)]))
        predicted = (np.power((1 - eta * mu)[None, :] ** 2, grid[:, None]) @ c2 + rest) / (2 * m)
        axis.plot(_log_axis(grid), predicted, "-", color=color, lw=1, label=f"m={m}")
        axis.plot(_log_axis(steps), [r["value"] for r in measured], "o", color=color, ms=2.5)
    axis.set(xscale="log", yscale="log", xlabel="step (0 drawn at 0.5)", ylabel="dense loss (mean form)",
             title="measured (dots) vs P8 (lines)")
    axis.grid(True, which="both", alpha=0.25)
    axis.legend(fontsize=6)
    figure.tight_layout()
    return plots.save_both(figure, folder, "pretraining_spectrum")


def plot_anatomy(rows, config: PretrainingConfig, folder) -> list:
    """The log m claim taken apart: T* x (dense contraction rate at T*) against ln(L(u_0)/eps),
    one panel per set-up; slope 1 through the origin is "T* = log(residual ratio) / rate"."""
    plt = plots.pyplot()

    setups = [s for s in setups_with(rows, config, "contraction_rate") if anatomy_points(rows, s)]
    if not setups:
        return []
    figure, axes = plt.subplots(1, len(setups), figsize=(3.8 * len(setups), 3.6), squeeze=False)
    for axis, setup in zip(axes[0], setups):
        points = anatomy_points(rows, setup)
        xs = np.concatenate([np.array(x) for x, _ in points.values()])
        ys = np.concatenate([np.array(y) for _, y in points.values()])
        axis.plot(xs, ys, "o", ms=3, alpha=0.5, color="C0", label="(m, eps, seed)")
        line = np.array([0.0, max(xs.max(), ys.max()) * 1.05])
        axis.plot(line, line, "k--", lw=0.8, label="slope 1")
        axis.set(xlabel="ln(L(u_0) / eps)", ylabel="T* × contraction rate at T*", title=setup)
        axis.grid(True, alpha=0.25)
        axis.legend(fontsize=6)
    figure.tight_layout()
    return plots.save_both(figure, folder, "pretraining_anatomy")


def figures(rows: list[dict], config: PretrainingConfig, folder) -> list:
    return (plot_t_star(rows, config, folder) + plot_subnet_curves(rows, config, folder)
            + plot_certificate(rows, config, folder) + plot_identity(rows, config, folder)
            + plot_spectrum(rows, config, folder)
            + plot_anatomy(rows, config, folder))
