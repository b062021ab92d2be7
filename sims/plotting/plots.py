"""What every figure shares: seed bands, method curves in their style (the one table is
:mod:`sims.plotting.style`), axis labels and atomic saving.

Where a figure is drawn: an experiment's figures live in its module (``figures`` of its
:class:`sims.experiments.record.Experiment` record), beside the rows and claims they show; this module
holds only the pieces they share. matplotlib runs headless (Agg backend) and is loaded on the
first figure drawn (:func:`pyplot`), so the module imports without the ``[plots]`` extra."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from sims.foundations.extras import require
from sims.foundations.io import atomic_write
from sims.plotting.style import method_style
from sims.results.schema import select_rows
from theory.inference import t_interval

__all__ = ["pyplot", "save_figure", "plot_loss_curve", "seed_band", "constant", "draw_band", "legend_below",
           "plain_log_labels", "save_both"]


def pyplot():
    """matplotlib.pyplot on the headless Agg backend. matplotlib is the ``[plots]`` extra: this
    module imports without it, and the first figure drawn (this call) names the extra when it is
    missing (:class:`sims.foundations.errors.InputError`)."""
    matplotlib = require("matplotlib", "drawing figures")
    matplotlib.use("Agg")
    import matplotlib.pyplot

    return matplotlib.pyplot


def __getattr__(name: str):
    """``plots.plt`` (and ``from sims.plotting.plots import plt``) is :func:`pyplot`, resolved
    on first use so that importing this module needs no matplotlib."""
    if name == "plt":
        return pyplot()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def save_figure(figure, path: str | Path) -> None:
    """Save ``figure`` to ``path`` (format from the suffix) atomically and close it."""
    path = Path(path)
    atomic_write(path, lambda temporary: figure.savefig(temporary, format=path.suffix.lstrip("."), dpi=130, bbox_inches="tight"))
    pyplot().close(figure)


def plot_loss_curve(losses, path: str | Path, title: str = "") -> None:
    """Training loss against GD step on a log y-axis."""
    losses = np.asarray(losses, dtype=np.float64)
    figure, axis = pyplot().subplots(figsize=(5, 3.4))
    axis.semilogy(np.arange(losses.shape[0]), losses, color="C0")
    axis.set_xlabel("gradient-descent step")
    axis.set_ylabel("training loss  0.5 mean ||f(x) - y||²")
    axis.set_title(title)
    axis.grid(True, which="both", alpha=0.3)
    save_figure(figure, path)


# ---------------------------------------------------------------- tidy-row helpers

def seed_band(rows, *, log: bool = False, by: str = "n", **equal):
    """(x, centre, low, high) over seeds of the matching rows (:func:`sims.results.schema.select_rows`)
    with column ``by`` set (the subnetwork size n unless told), sorted by x.

    Linear scale: the mean and its 95% Student-t interval (:func:`theory.inference.t_interval`,
    the interval the verdicts use). ``log=True`` (for log axes): the geometric mean and the 95%
    Student-t interval of the mean of log values, so the band stays positive; non-positive
    values are dropped. Values that are not finite are dropped. With one seed (no interval) the
    band collapses onto the centre.
    """
    groups: dict[float, list[float]] = {}
    for row in select_rows(rows, **equal):
        value = row["value"]
        if row.get(by) is not None and np.isfinite(value) and (value > 0 or not log):
            groups.setdefault(row[by], []).append(np.log(value) if log else value)
    xs = sorted(groups)
    intervals = [t_interval(groups[x]) if len(groups[x]) > 1 else None for x in xs]
    means = np.array([np.mean(groups[x]) if interval is None else interval.mean for x, interval in zip(xs, intervals)])
    low = np.array([mean if interval is None else interval.low for mean, interval in zip(means, intervals)])
    high = np.array([mean if interval is None else interval.high for mean, interval in zip(means, intervals)])
    xs = np.array(xs, dtype=float)
    if log:
        return xs, np.exp(means), np.exp(low), np.exp(high)
    return xs, means, low, high


def constant(rows, metric, **equal) -> float:
    """Mean over seeds of a geometry row (n empty), NaN if absent."""
    values = [row["value"] for row in select_rows(rows, metric=metric, **equal) if row.get("n") is None]
    return float(np.mean(values)) if values else float("nan")


def draw_band(axis, ns, means, low, high, label, method):
    """A method's curve in its style over positive means, with its seed band shaded."""
    color, style = method_style(method)
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
    pyplot().close(figure)
    return paths
