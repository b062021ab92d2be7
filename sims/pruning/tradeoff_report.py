"""The trade-off bench's table and figure (:mod:`sims.pruning.tradeoff`'s rows): per method and n the
width, compression, parameters, FLOPs, speed-up, losses and accuracies, as Markdown or CSV, and
the figure of the criterion metric against the compression at equal training steps and FLOPs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from sims.baselines.finetune_stage import AT_EQUAL_FLOPS, FINETUNED, equal_flops_view, is_one_shot
from sims.foundations.errors import InputError
from sims.plotting.plots import legend_below, plain_log_labels, pyplot, save_both, seed_band
from sims.plotting.style import METHOD_STYLE
from theory.inference import t_interval

__all__ = ["interval_cell", "tradeoff_table", "plot_tradeoff"]


def _interval(values) -> tuple[float, float, float]:
    interval = t_interval(values)
    return interval.mean, interval.low, interval.high


def _format(value: float) -> str:
    if not math.isfinite(value):
        return "–"
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.3g}"
    return f"{value:.4g}"


def interval_cell(values) -> str:
    """mean, with [95% Student-t interval] over seeds when there are several."""
    if len(values) == 1:
        return _format(values[0])
    mean, low, high = _interval(values)
    return f"{_format(mean)} [{_format(low)}, {_format(high)}]"


def tradeoff_table(rows: list[dict], dataset: str, *, form: str = "markdown") -> str:
    """The trade-off table of one data set: per method and n, the width, compression N/n, parameters,
    FLOPs, theoretical speed-up, losses and accuracies (mean [95% interval] over seeds when there
    are several), dense network first. ``form``: "markdown" or "csv" (one line per method and n,
    seed means)."""
    if form not in ("markdown", "csv"):
        raise InputError(f"form must be 'markdown' or 'csv', got {form!r}")
    rows = [r for r in rows if r["dataset"] == dataset and r.get("n") is not None]
    metrics = [name for name in ("width", "compression", "params", "flops", "speedup", "train_steps", "train_flops",
                                 "train_lr", "train_loss", "test_loss", "train_accuracy", "test_accuracy")
               if any(r["metric"] == name for r in rows)]
    methods = ["dense"] + [m for m in dict.fromkeys(r["method"] for r in rows) if m != "dense"]
    lines = []
    if form == "markdown":
        lines += ["| method | n | " + " | ".join(metrics) + " |", "|---|---|" + "---|" * len(metrics)]
    else:
        lines.append(",".join(["method", "n"] + metrics))
    for method in methods:
        for n in sorted({r["n"] for r in rows if r["method"] == method}, reverse=True):
            cells = []
            for metric in metrics:
                values = [r["value"] for r in rows if r["method"] == method and r["n"] == n and r["metric"] == metric
                          and math.isfinite(r["value"])]
                if form == "csv":
                    cells.append(repr(float(np.mean(values))) if values else "")
                else:
                    cells.append(interval_cell(values) if values else "–")
            lines.append((f"| {method} | {n} | " + " | ".join(cells) + " |") if form == "markdown"
                         else ",".join([method, str(n)] + cells))
    return "\n".join(lines) + "\n"


def _band(rows, method, metric, log: bool):
    """(n, centre, low, high) over seeds, largest n first (:func:`sims.plotting.plots.seed_band`; log:
    geometric mean and interval of the mean log)."""
    ns, centre, low, high = seed_band(rows, log=log, method=method, metric=metric)
    return ns[::-1], centre[::-1], low[::-1], high[::-1]


def _style(method: str) -> tuple[str, str, float, float]:
    """(colour, line style, line width, alpha): a ``+ft`` method in its one-shot twin's colour, solid
    and thick; a one-shot criterion with a ``+ft`` twin thin and faint; the rest sims.plotting.style.METHOD_STYLE."""
    if method.endswith(FINETUNED):
        return METHOD_STYLE.get(method[:-len(FINETUNED)], ("k", "-"))[0], "-", 2.0, 1.0
    color, style = METHOD_STYLE.get(method, ("k", "-"))
    return (color, ":", 1.0, 0.55) if is_one_shot(method) else (color, style, 1.5, 1.0)


def plot_tradeoff(rows: list[dict], dataset: str, folder, *, title: str | None = None) -> list[Path]:
    """The trade-off figure of one data set: (left) test accuracy, or test loss for unlabelled data,
    against the compression N/n, every method at equal training steps after the checkpoint (one-shot
    criteria faint, their ``+ft`` twins solid), the dense network as a horizontal line; (right) the
    same at equal training FLOPs (:func:`sims.baselines.finetune_stage.equal_flops_view`, the procedures that
    train) when the rows have ``+ft`` methods, else the training loss. Seed means with 95%
    Student-t bands over seeds. Writes tradeoff_<dataset>.png and .pdf into ``folder``; returns
    their paths."""
    rows = [r for r in rows if r["dataset"] == dataset]
    labelled = any(r["metric"] == "test_accuracy" for r in rows)
    left = "test_accuracy" if labelled else "test_loss"
    if not any(r["metric"] == left for r in rows):
        left = "train_accuracy" if labelled else "train_loss"
    dense_width = max((r["n"] for r in rows if r["method"] == "dense" and r.get("n") is not None), default=None)
    if dense_width is None:
        return []
    plt = pyplot()  # matplotlib, the [plots] extra, on the first figure
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    steps_view = [r for r in rows if not r["method"].endswith(AT_EQUAL_FLOPS)]
    methods = [m for m in dict.fromkeys(r["method"] for r in steps_view) if m != "dense"]
    budgets = any(m.endswith(FINETUNED) for m in methods)
    steps = max((r["value"] for r in steps_view if r["metric"] == "train_steps"), default=0)
    panels = [(axes[0], left, not labelled, steps_view, methods)]
    if budgets:
        panels.append((axes[1], left, not labelled, equal_flops_view(rows),
                       [m for m in methods if not is_one_shot(m)]))
    else:
        panels.append((axes[1], "train_loss", True, rows, methods))
    for axis, metric, log, panel_rows, panel_methods in panels:
        for method in panel_methods:
            ns, centre, low, high = _band(panel_rows, method, metric, log)
            if not ns.size:
                continue
            x = dense_width / ns
            color, style, width, alpha = _style(method)
            axis.plot(x, centre, style, marker="o", ms=3, color=color, label=method if axis is axes[0] else None,
                      lw=width, alpha=alpha)
            if np.any(high > low):
                axis.fill_between(x, low, high, color=color, alpha=0.15 * alpha, lw=0)
        dense = [r["value"] for r in rows if r["method"] == "dense" and r["metric"] == metric
                 and (r["value"] > 0 or not log)]  # a loss against the dense outputs is 0 for the dense network
        if dense:
            axis.axhline(float(np.exp(np.mean(np.log(dense))) if log else np.mean(dense)), color="k", lw=1.0,
                         label="dense")
        axis.set_xscale("log", base=2)
        axis.set_xlabel("compression N/n (neurons kept n = N/c)")
        axis.set_ylabel(metric.replace("_", " "))
        if log:
            axis.set_yscale("log")
            plain_log_labels(axis, "y")
        axis.xaxis.set_major_formatter(plt.FuncFormatter(lambda value, _: f"{value:g}"))
        axis.grid(True, which="both", alpha=0.25)
    if budgets:
        axes[0].set_title(title or f"{dataset}: {left.replace('_', ' ')}, equal training steps ({steps:g} after the "
                                   f"checkpoint; N = {dense_width})", fontsize=10)
        axes[1].set_title(f"{dataset}: equal training FLOPs ({steps:g} steps at width n)", fontsize=10)
    else:
        axes[0].set_title(title or f"{dataset}: {left.replace('_', ' ')} against compression (N = {dense_width})")
        axes[1].set_title(f"{dataset}: training loss (log scale)")
    legend_below(figure, axes[0], ncol=7)
    return save_both(figure, folder, f"tradeoff_{dataset}")
