"""ShrinkBench-style trade-off of every registered pruning method on one checkpoint, and the
``gfs compare`` command's logic.

For a dense two-layer network of width N and each compression c (default 2, 4, 8, 16, 32), each
method of :data:`sims.baselines.methods.PRUNING_METHODS` keeps n = floor(N / c) neurons. Each pruned
network is reported as tidy rows (one per method, n, seed and metric):

- ``width``: hidden units of the pruned network (<= n; GFS with replacement may merge repeats);
- ``compression``: N / width; ``param_compression``: parameters of the dense network / of the
  pruned one (Blalock et al. 2020's compression ratio); ``params``: the pruned network's
  parameter count; ``flops``: exact FLOPs of its forward pass on one example
  (:func:`sims.metrics.cost.forward_flops`); ``speedup``: the dense network's FLOPs / the pruned one's (the
  theoretical speed-up);
- ``train_loss``, ``test_loss`` (mean form ``0.5 mean_j ||f(x_j) - y_j||^2``) and, for labelled
  data, ``train_accuracy``, ``test_accuracy``;
- ``train_steps``, ``train_flops``: GD steps run after the checkpoint and their exact FLOPs at
  the width each step runs at (:func:`sims.metrics.cost.gd_step_flops`; 0 for a one-shot criterion);
- ``cost_<counter>``: the method's other deterministic cost counters (``cost_candidate_scores``:
  candidate-example loss evaluations of a greedy selection; ``cost_regrown``: neurons RigL
  regrew; ``cost_dense_steps``: a dense run IMP made itself);
- with ``finetune``: the same rows for ``<method>+ft``, each one-shot method's pruned network
  fine-tuned for F = T GD steps (:mod:`sims.baselines.finetune_stage`), so every procedure that trains has
  the same steps after the checkpoint; and ``<name>@flops`` rows where the equal-FLOPs view
  differs from the equal-steps one (IMP's wider rounds; a ``+ft`` narrower than n);
- ``n_eps`` (with ``eps``): the smallest measured n whose criterion metric (test accuracy for
  labelled data, ``>= (1 - eps)`` times the dense network's; test loss otherwise, ``<= dense + eps``)
  is met; the dense width N when no compression meets it (censored: the dense network itself
  meets it). For the greedy methods (``gfs``, ``gfs-norep``, ``gfs-published``) also
  ``n_eps_path``: the same rule at every n = 1 .. floor(N/2) along the selection path.

The dense network's rows have method ``dense`` and n = N. A procedure whose GD fails, diverging
or ending its training at width n with a higher training loss than it started from, is run again
at half the learning rate, at most LR_HALVINGS times, the same rule for every procedure that trains
(a one-shot network averages neurons that need not cancel, so its fine-tuning may start from a loss
thousands of times the dense one's, and IMP's rewound rounds alike; a user's network, whose output
weights are large in mean-field form, needs a far smaller rate than a fresh one);
``train_lr`` is the learning rate of the run reported (the FLOPs of failed attempts are not
counted). A procedure that fails at every rate gives one ``diverged_lr`` row for that n.
"""

from __future__ import annotations

import io
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from sims.baselines.methods import PRUNING_METHODS, PruningProblem, prune_with
from sims.foundations.errors import InputError
from sims.metrics.cost import forward_flops, mlp_flops, mlp_parameters, parameter_count
from sims.metrics.quality import accuracy, half_mean_squared_error
from sims.nets.model import ACTIVATIONS, TwoLayerNet, forward, init_network, neuron_features

__all__ = [
    "COMPRESSIONS", "GREEDY_PATH_METHODS", "METHOD_STYLE", "Split",
    "criterion_of", "tradeoff_rows", "tradeoff_table", "plot_tradeoff", "CompareConfig", "COMPARE_FIELDS",
    "ROW_COLUMNS", "load_state_dict", "run_compare", "LAYERWISE_METHODS",
]

COMPRESSIONS = (2, 4, 8, 16, 32)
#: A procedure whose GD failed is run again at half the learning rate at most this many times (to lr / 64).
LR_HALVINGS = 6
#: F of ``gfs compare``: E5's budget after the checkpoint (sims.experiments.tradeoff.TradeoffConfig().iterations).
FINETUNE_STEPS = 200
#: Methods whose size-n network is the prefix of one selection path (n(eps) is read at every n).
GREEDY_PATH_METHODS = {"gfs": "gfs", "gfs-norep": "gfs-norep", "gfs-published": "gfs-published"}

#: (colour, line style) per method: greedy selection solid, at-initialisation dashed, one-shot
#: criteria on the checkpoint dotted, iterative methods dash-dotted.
METHOD_STYLE = {
    "gfs": ("C0", "-"), "gfs-norep": ("C1", "-"), "gfs-published": ("C2", "-"), "snip": ("C3", "--"),
    "grasp": ("C4", "--"), "snip-checkpoint": ("salmon", ":"), "grasp-checkpoint": ("goldenrod", ":"), "taylor": ("C5", ":"), "activation": ("C6", ":"), "magnitude": ("navy", ":"),
    "random": ("0.6", ":"), "imp-rewind": ("C8", "-."), "rigl": ("C9", "-."), "direct-gd": ("0.3", "--"),
}


@dataclass(frozen=True, eq=False)
class Split:
    """Evaluation data: inputs (m, d) tensor in the networks' dtype, targets (m, K) float64 numpy,
    labels (m,) int or None."""

    inputs: torch.Tensor
    targets: np.ndarray
    labels: np.ndarray | None = None


def criterion_of(labelled: bool) -> tuple[str, bool]:
    """(metric, higher is better) of n(eps): test accuracy for labelled data, else test loss."""
    return ("test_accuracy", True) if labelled else ("test_loss", False)


def _meets(value: float, dense: float, eps: float, higher: bool) -> bool:
    return value >= (1 - eps) * dense if higher else value <= dense + eps


def _row(dataset, method, m, n, seed, metric, value, eps=None) -> dict:
    row = {"dataset": dataset, "method": method, "m": m, "n": n, "seed": seed, "metric": metric,
           "value": float(value), "step": None}
    if eps is not None:
        row["eps"] = float(eps)
    return row


def _evaluate(network: TwoLayerNet, splits: dict, output_bias) -> dict[str, float]:
    metrics = {}
    with torch.no_grad():
        for name, split in splits.items():
            if split.inputs.shape[0] == 0:
                continue
            outputs = forward(network, split.inputs).double().cpu().numpy() + output_bias
            metrics[f"{name}_loss"] = half_mean_squared_error(outputs, split.targets)
            if split.labels is not None:
                metrics[f"{name}_accuracy"] = accuracy(outputs, split.labels)
    return metrics


def _path_metric(problem: PruningProblem, method: str, n_max: int, split: Split, output_bias, metric: str) -> np.ndarray:
    """The criterion metric of the size-1 .. n_max subnetworks along a greedy method's path."""
    from sims.selection.published_gfs import path_outputs

    indices = prune_with(method, problem, n_max).path
    with torch.no_grad():
        features = neuron_features(problem.dense, split.inputs).double().cpu().numpy()
    outputs = path_outputs(features, indices) + output_bias
    if metric.endswith("accuracy"):
        return np.array([accuracy(output, split.labels) for output in outputs])
    return np.array([half_mean_squared_error(output, split.targets) for output in outputs])


def tradeoff_rows(problem: PruningProblem, methods, compressions, splits: dict, *, dataset: str, seed: int,
                  tolerances=(0.02,), first_bias: bool | None = None, output_bias=None,
                  progress: Callable[[str], None] | None = None, problem_of: dict | None = None,
                  finetune: bool = False, lr_halvings: int = LR_HALVINGS) -> list[dict]:
    """Tidy rows of every method at every compression (see the module docstring).

    problem: the checkpoint and its budget (targets there are the training targets minus
    ``output_bias``); splits: {"train": Split, "test": Split} with the ORIGINAL targets;
    output_bias: (K,) added to every network's output (a plain model's b2; None: zero; it counts
    as a parameter when given). first_bias: whether the networks have a first-layer bias (default:
    the dense network's). ``progress(text)`` is called after each (method, n). ``problem_of``:
    {method: PruningProblem} for methods that run on another problem than ``problem`` (same data;
    e.g. imp-rewind on a trajectory from ``problem.dense_init`` when ``problem.dense`` is a user's
    checkpoint without one). ``finetune``: also the ``+ft`` and ``@flops`` rows (module docstring),
    F = the method's problem's ``budget.iterations``. ``lr_halvings``: how often a procedure whose GD
    diverged is run again at half the learning rate (module docstring).
    """
    from dataclasses import replace

    from sims.baselines.methods import training_flops
    from sims.baselines.finetune_stage import equal_flops_steps, finetune as finetuned, finetuned_name, flops_name, is_one_shot
    from sims.nets.train import TrainingDiverged

    dense = problem.dense
    width, d, k = dense.width, dense.input_dim, dense.output_dim
    first_bias = dense.first_bias is not None if first_bias is None else first_bias
    has_output_bias = output_bias is not None
    bias = np.zeros(k) if output_bias is None else np.asarray(output_bias, dtype=np.float64)
    m = problem.inputs.shape[0]
    shape = dict(first_bias=first_bias, output_bias=has_output_bias)
    dense_flops, dense_params = forward_flops(d, width, k, **shape), parameter_count(d, width, k, **shape)

    def efficiency(n_kept: int) -> dict:
        flops = forward_flops(d, n_kept, k, **shape)
        params = parameter_count(d, n_kept, k, **shape)
        return {"width": n_kept, "compression": width / n_kept, "params": params,
                "param_compression": dense_params / params, "flops": flops, "speedup": dense_flops / flops}

    rows = []
    dense_metrics = {**efficiency(width), **_evaluate(dense, splits, bias)}
    rows += [_row(dataset, "dense", m, width, seed, name, value) for name, value in dense_metrics.items()]
    labelled = splits["test"].labels is not None
    criterion, higher = criterion_of(labelled)
    evaluation = "test" if splits["test"].inputs.shape[0] else "train"
    criterion = criterion.replace("test", evaluation)
    sizes = sorted({max(1, width // c) for c in compressions}, reverse=True)

    def emit(name: str, n: int, run: Callable):
        """Rows of ``run(problem)``'s PruningResult as method ``name`` at size n: ``run`` gets the
        method's problem, and again with half its learning rate each time GD fails (diverges, or
        ends its training at width n above the loss it started from), at most ``lr_halvings``
        times; then one diverged_lr row (the learning rate given)."""
        lr = target.budget.lr
        for halvings in range(lr_halvings + 1):
            try:
                result = run(replace(target, budget=replace(target.budget, lr=lr)) if halvings else target)
            except TrainingDiverged:
                lr /= 2
                continue
            if result.train_losses is None or result.train_losses[1] <= result.train_losses[0]:
                break
            lr /= 2
        else:
            rows.append(_row(dataset, name, m, n, seed, "diverged_lr", target.budget.lr))
            return None
        metrics = {**efficiency(result.network.width), **_evaluate(result.network, splits, bias),
                   "train_steps": result.train_steps, "train_flops": result.train_flops}
        if result.train_steps:
            metrics["train_lr"] = lr
        measured.setdefault(name, {})[n] = metrics[criterion]
        rows.extend(_row(dataset, name, m, n, seed, metric, value) for metric, value in metrics.items())
        rows.extend(_row(dataset, name, m, n, seed, f"cost_{counter}", value) for counter, value in result.cost.items())
        return result

    for method in methods:
        measured: dict[str, dict] = {}
        target = (problem_of or {}).get(method, problem)
        for n in sizes:
            try:
                result = emit(method, n, lambda at: prune_with(method, at, n))
            finally:
                if progress is not None:
                    progress(f"{method} n={n}")
            if result is None or not finetune:
                continue
            flops_budget = training_flops(target, n, target.budget.iterations)  # F steps at width n
            if is_one_shot(method):
                name = finetuned_name(method)
                tuned = emit(name, n, lambda at: finetuned(at, result))
                steps = equal_flops_steps(target, n, result.network.width) if math.isfinite(flops_budget) else None
                if tuned is not None and steps is not None and steps != tuned.train_steps:
                    emit(flops_name(name), n, lambda at: finetuned(at, result, steps))
            elif (PRUNING_METHODS[method].flops_budget and math.isfinite(flops_budget)
                  and result.train_flops != flops_budget):
                emit(flops_name(method), n, lambda at: prune_with(method, at, n, flops_budget=flops_budget))
        for name in (method, finetuned_name(method)):  # n(eps) of the equal-steps view
            if name not in measured and name != method:
                continue
            for eps in tolerances:
                met = [n for n in measured.get(name, {}) if _meets(measured[name][n], dense_metrics[criterion], eps, higher)]
                rows.append(_row(dataset, name, m, None, seed, "n_eps", min(met) if met else width, eps))
        if method in GREEDY_PATH_METHODS and sizes:
            path = _path_metric(problem, method, sizes[0], splits[evaluation], bias, criterion)
            for eps in tolerances:
                hits = [i + 1 for i, value in enumerate(path) if _meets(value, dense_metrics[criterion], eps, higher)]
                rows.append(_row(dataset, method, m, None, seed, "n_eps_path", hits[0] if hits else width, eps))
    return rows


# ---------------------------------------------------------------------------------------- reporting


def _interval(values) -> tuple[float, float, float]:
    from theory.inference import t_interval

    interval = t_interval(values)
    return interval.mean, interval.low, interval.high


def _format(value: float) -> str:
    if not math.isfinite(value):
        return "–"
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.3g}"
    return f"{value:.4g}"


def _cell(values) -> str:
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
                    cells.append(_cell(values) if values else "–")
            lines.append((f"| {method} | {n} | " + " | ".join(cells) + " |") if form == "markdown"
                         else ",".join([method, str(n)] + cells))
    return "\n".join(lines) + "\n"


def _band(rows, method, metric, log: bool):
    """(compressions, centre, low, high) over seeds; log: geometric mean and interval of the mean log."""
    by_c: dict = {}
    for row in rows:
        if row["method"] == method and row["metric"] == metric and row.get("n") is not None and math.isfinite(row["value"]):
            if log and row["value"] <= 0:
                continue
            by_c.setdefault(row["n"], []).append(math.log(row["value"]) if log else row["value"])
    ns = sorted(by_c, reverse=True)
    centre, low, high = [], [], []
    for n in ns:
        values = by_c[n]
        mean, lo, hi = _interval(values) if len(values) > 1 else (values[0],) * 3
        centre.append(mean), low.append(lo), high.append(hi)
    transform = np.exp if log else np.asarray
    return np.array(ns, dtype=float), transform(np.array(centre)), transform(np.array(low)), transform(np.array(high))


def _style(method: str) -> tuple[str, str, float, float]:
    """(colour, line style, line width, alpha): a ``+ft`` method in its one-shot twin's colour, solid
    and thick; a one-shot criterion with a ``+ft`` twin thin and faint; the rest METHOD_STYLE."""
    from sims.baselines.finetune_stage import FINETUNED, is_one_shot

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
    from sims.baselines.finetune_stage import AT_EQUAL_FLOPS, FINETUNED, equal_flops_view, is_one_shot
    from sims.plotting.plots import legend_below, plain_log_labels, plt, save_both

    rows = [r for r in rows if r["dataset"] == dataset]
    labelled = any(r["metric"] == "test_accuracy" for r in rows)
    left = "test_accuracy" if labelled else "test_loss"
    if not any(r["metric"] == left for r in rows):
        left = "train_accuracy" if labelled else "train_loss"
    dense_width = max((r["n"] for r in rows if r["method"] == "dense" and r.get("n") is not None), default=None)
    if dense_width is None:
        return []
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


# ---------------------------------------------------------------------------------------- gfs compare


def _check_methods(value: str) -> tuple[str, ...]:
    names = tuple(PRUNING_METHODS) if value == "all" else tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [name for name in names if name not in PRUNING_METHODS]
    if unknown or not names:
        raise InputError(f"methods: unknown method(s) {', '.join(unknown) or '(none given)'}; accepted: 'all' or a "
                         f"comma-separated list of {', '.join(PRUNING_METHODS)}")
    return names


def _check_compressions(value: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in value.split(","))
    except ValueError:
        values = ()
    if not values or any(v < 1 for v in values):
        raise InputError(f"compressions must be comma-separated positive integers (e.g. 2,4,8,16,32), got {value!r}")
    return values


@dataclass(frozen=True)
class CompareConfig:
    """What ``gfs compare`` runs. The data set comes from sims.data.datasets.DatasetConfig's flags."""

    model: str = field(metadata={"help": "a plain nn.Sequential(Linear, act, Linear[, act, Linear ...]) state dict (.pt)"})
    activation: str = field(default="relu", metadata={"help": "activation of the model's middle module",
                                                      "choices": lambda: ACTIVATIONS})
    methods: str = field(default="all", metadata={"help": "'all' or a comma-separated list of "
                                                          + ", ".join(PRUNING_METHODS)})
    compressions: str = field(default="2,4,8,16,32", metadata={"help": "compressions N/n, comma-separated"})
    iterations: int = field(default=300, metadata={"help": "GD steps of the dense run from a toolkit initialisation "
                                                           "that imp-rewind prunes", "range": "positive"})
    finetune_steps: int = field(default=FINETUNE_STEPS, metadata={
        "help": "F: GD steps after pruning of every procedure that trains (direct-gd, rigl, snip, grasp, imp-rewind's "
                "rounds together, each one-shot method's '+ft' twin); default the trade-off bench's F",
        "range": "positive"})
    lr: float = field(default=1.0, metadata={"help": "width-independent learning rate of those methods",
                                             "range": "positive"})
    seed: int = field(default=0, metadata={"help": "seed of initialisation and randomised methods",
                                           "range": "non-negative"})
    tolerance: float = field(default=0.02, metadata={"help": "eps of n(eps)", "range": "non-negative"})
    out: str = field(default="compare", metadata={"help": "output folder (table .md/.csv and figure)"})

    def __post_init__(self):
        from sims.foundations.constraints import check_fields

        check_fields(self)
        _check_methods(self.methods)
        _check_compressions(self.compressions)

    @property
    def method_names(self) -> tuple[str, ...]:
        return _check_methods(self.methods)

    @property
    def compression_values(self) -> tuple[int, ...]:
        return _check_compressions(self.compressions)


COMPARE_FIELDS = ("model", "activation", "methods", "compressions", "iterations", "finetune_steps", "lr", "seed",
                  "tolerance", "out")


#: The tidy-row columns of sims.experiments.runner.COLUMNS (spelled here: the runner imports the experiments,
#: E5 imports this module; a test reads compare's rows.csv with sims.experiments.runner.read_rows).
ROW_COLUMNS = ("experiment", "dataset", "method", "m", "n", "seed", "metric", "value", "step", "eps")


def _rows_csv(rows: list[dict]) -> str:
    """Tidy rows as CSV text in the runner's format (floats by repr, None as empty)."""
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ROW_COLUMNS)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else (repr(row[c]) if isinstance(row[c], float) else row[c])
                         for c in ROW_COLUMNS])
    return buffer.getvalue()


def load_state_dict(path: str, *, tensors_only: bool = True) -> dict:
    """A state dict from ``path`` (torch.load with weights_only); an InputError names --model.
    ``tensors_only=False`` accepts any dict (the caller's parser then names missing keys)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(f"--model file {path!r} does not exist") from None
    except Exception as error:  # torch raises unrelated types for unreadable files
        raise InputError(f"--model file {path!r} is not a readable torch state dict: {error.__class__.__name__}") from None
    if not isinstance(state, dict) or (tensors_only and not all(isinstance(v, torch.Tensor) for v in state.values())):
        raise InputError(f"--model file {path!r} does not hold a state dict of tensors")
    return state


def run_compare(config: CompareConfig, dataset, dataset_name: str, *, target: str = "dense", progress: bool | None = None,
                log: Callable[[str], None] = print) -> dict[str, Path]:
    """See :func:`_run_compare`; runs on one torch thread and one BLAS thread (the networks are small:
    more threads only wait on each other, and on a busy machine spin for minutes)."""
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            return _run_compare(config, dataset, dataset_name, target=target, progress=progress, log=log)
    finally:
        torch.set_num_threads(threads)


def _run_compare(config: CompareConfig, dataset, dataset_name: str, *, target: str = "dense",
                 progress: bool | None = None,
                 log: Callable[[str], None] = print) -> dict[str, Path]:
    """Run every chosen method on the user's model and data set; write
    ``<out>/tradeoff.md``, ``<out>/tradeoff.csv``, ``<out>/rows.csv`` and the figure
    ``<out>/tradeoff_<data>.png/.pdf``. Returns {"markdown", "csv", "rows", "figure"} paths.
    Methods that train (snip, grasp, imp-rewind, rigl, direct-gd) start from a toolkit
    initialisation of the model's shape (seed ``config.seed``; imp-rewind prunes a dense network
    trained from it for ``config.iterations`` steps, not the user's, whose trajectory is unknown);
    the others prune the user's weights, and each is also fine-tuned (``<method>+ft``). Every
    procedure that trains runs F = ``config.finetune_steps`` GD steps after pruning (equal steps),
    and the ``@flops`` rows give the equal-FLOPs view where it differs (sims.baselines.finetune_stage).
    ``progress`` (default: on a terminal) shows a bar."""
    from sims.foundations.io import atomic_write
    from sims.pruning.prune import model_from_state_dict
    from sims.nets.train import TrainConfig

    methods, compressions = config.method_names, config.compression_values
    state = load_state_dict(config.model)
    if "4.weight" in state:  # two or more hidden layers: the layer-wise selection methods
        return _run_compare_deep(config, state, dataset, dataset_name, target, log)
    model, output_bias = model_from_state_dict(state, config.activation)
    if model.input_dim != dataset.input_dim or model.output_dim != dataset.output_dim:
        raise InputError(f"--model {config.model!r} maps {model.input_dim} inputs to {model.output_dim} outputs, but "
                         f"--data {dataset_name} has {dataset.input_dim} inputs and {dataset.output_dim} outputs")
    if not all(bool(torch.isfinite(t).all()) for t in state.values()):
        raise InputError(f"--model file {config.model!r} has NaN or infinite weights")
    if max(compressions) > model.width:
        raise InputError(f"compressions: {max(compressions)} exceeds the model's width N = {model.width}")
    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"out {str(out)!r} is a file; give a folder")
    parent = next((p for p in out.absolute().parents if p.exists()), None)
    if not out.exists() and (parent is None or not os.access(parent, os.W_OK)):
        raise InputError(f"out {str(out)!r} cannot be created (the folder {str(parent)!r} is not writable)")
    dtype = model.dtype
    inputs = torch.as_tensor(dataset.train_inputs, dtype=dtype)
    bias = output_bias.double().cpu().numpy()
    from sims.pruning.prune import compare_references

    with torch.no_grad():  # the user's network's own outputs, output bias included
        dense_outputs = [forward(model, torch.as_tensor(x, dtype=dtype)).double().cpu().numpy() + bias
                         for x in (dataset.train_inputs, dataset.test_inputs)]
    train_reference, test_reference = compare_references(*dense_outputs, dataset, target, log)
    targets = torch.as_tensor(train_reference - bias, dtype=dtype)
    init = init_network(model.input_dim, model.width, model.output_dim, activation=config.activation,
                        bias=model.first_bias is not None, seed=config.seed, dtype=dtype)
    budget = TrainConfig(lr=config.lr, iterations=config.finetune_steps)  # F, for every procedure that trains
    problem = PruningProblem(init, model, inputs, targets, budget, seed=config.seed, labels=dataset.train_labels,
                             output_bias=bias)
    problem_of = {}
    if "imp-rewind" in methods:  # one dense trajectory from the toolkit initialisation, shared by every n
        from dataclasses import replace

        from sims.baselines.methods import REWIND_FRACTION
        from sims.nets.train import train

        rewind = int(round(REWIND_FRACTION * config.finetune_steps))  # imp-rewind's rewind step (of F, as in E5)
        if rewind > config.iterations:
            raise InputError(f"iterations: imp-rewind rewinds its dense run to step {rewind} (0.1 x --finetune-steps), "
                             f"so --iterations must be at least {rewind}, got {config.iterations}")
        run = train(init, inputs, targets, replace(budget, iterations=config.iterations, checkpoints=(rewind,)))
        problem_of["imp-rewind"] = replace(problem, dense=run.model, checkpoints=run.checkpoints)
    splits = {"train": Split(inputs, train_reference, dataset.train_labels),
              "test": Split(torch.as_tensor(dataset.test_inputs, dtype=dtype), test_reference,
                            dataset.test_labels)}
    steps = len(methods) * len({max(1, model.width // c) for c in compressions})
    show = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc="gfs compare", unit="network")
    try:
        rows = tradeoff_rows(problem, methods, compressions, splits, dataset=dataset_name, seed=config.seed,
                             tolerances=(config.tolerance,), first_bias="0.bias" in state, output_bias=bias,
                             progress=(lambda text: (bar.set_postfix_str(text), bar.update(1))) if bar else None,
                             problem_of=problem_of, finetune=True)
    finally:
        if bar is not None:
            bar.close()
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / "tradeoff.md", "csv": out / "tradeoff.csv", "rows": out / "rows.csv"}
    markdown = tradeoff_table(rows, dataset_name)
    n_eps = [r for r in rows if r["metric"] == "n_eps"]
    criterion, _ = criterion_of(dataset.test_labels is not None)
    note = (f"\nBudgets after pruning: every procedure that trains runs F = {config.finetune_steps} GD steps (equal "
            "steps; '+ft': a one-shot method's network fine-tuned from its pruned weights); at equal training FLOPs "
            "(F steps at width n) the '@flops' rows replace those that differ (imp-rewind's wider rounds, a '+ft' "
            "narrower than n). Columns train_steps and train_flops give each row's cost.\n"
            f"\nn(eps), eps = {config.tolerance:g} ({criterion} within eps of the dense network's; the dense width "
            f"{model.width} when no measured compression meets it): "
            + ", ".join(f"{r['method']} {int(r['value'])}" for r in n_eps) + "\n")
    for row in rows:
        row["experiment"] = "compare"
    atomic_write(paths["markdown"], lambda temporary: Path(temporary).write_text(markdown + note))
    atomic_write(paths["csv"], lambda temporary: Path(temporary).write_text(tradeoff_table(rows, dataset_name, form="csv")))
    atomic_write(paths["rows"], lambda temporary: Path(temporary).write_text(_rows_csv(rows)))
    figure = plot_tradeoff(rows, dataset_name, out, title=f"{Path(config.model).name} on {dataset_name}: "
                                                           f"{criterion.replace('_', ' ')}, equal training steps")
    paths["figure"] = figure[0]
    log(markdown + note)
    from sims.pruning.prune import compare_warning

    warning = compare_warning(rows, dataset.train_labels, bias, target) if "gfs" in methods else None
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    log("wrote " + ", ".join(str(p) for p in [*paths.values(), *figure[1:]]))
    return paths


# ---------------------------------------------------------------------------------------- deeper networks

#: The methods ``gfs compare`` runs layer by layer on a network with two or more hidden layers:
#: selection on each layer's unit contributions (sims.pruning.layerwise), no training.
LAYERWISE_METHODS = ("gfs", "gfs-norep", "magnitude", "random")


def _run_compare_deep(config: CompareConfig, state: dict, dataset, dataset_name: str, target: str,
                      log: Callable[[str], None]) -> dict[str, Path]:
    """``gfs compare`` on nn.Sequential(Linear, act, ..., Linear) with L >= 2 hidden layers: each
    method of :data:`LAYERWISE_METHODS` keeps max(1, N_l // c) units of every hidden layer l
    (:func:`sims.pruning.prune.prune_network`, layer by layer). Rows as for two layers, with n the units
    asked over all hidden layers, width the units kept, compression the dense hidden units / width;
    FLOPs and parameters of the whole stack (:func:`sims.metrics.cost.mlp_flops`,
    :func:`sims.metrics.cost.mlp_parameters`)."""
    from sims.foundations.io import atomic_write
    from sims.pruning.layerwise import mlp_from_state_dict, outputs
    from sims.pruning.prune import compare_references, compare_warning, prune_network

    requested = config.method_names
    methods = LAYERWISE_METHODS if config.methods == "all" else requested
    others = [name for name in methods if name not in LAYERWISE_METHODS]
    if others:
        raise InputError(f"methods: on a network with more than one hidden layer gfs compare runs the layer-wise "
                         f"selection methods {', '.join(LAYERWISE_METHODS)}; got {', '.join(others)}")
    mlp = mlp_from_state_dict(state, config.activation)
    if mlp.input_dim != dataset.input_dim or mlp.output_dim != dataset.output_dim:
        raise InputError(f"--model {config.model!r} maps {mlp.input_dim} inputs to {mlp.output_dim} outputs, but "
                         f"--data {dataset_name} has {dataset.input_dim} inputs and {dataset.output_dim} outputs")
    compressions = config.compression_values
    if max(compressions) > min(mlp.widths):
        raise InputError(f"compressions: {max(compressions)} exceeds the narrowest hidden layer's width "
                         f"{min(mlp.widths)}")
    out = Path(config.out)
    writable = next((p for p in out.absolute().parents if p.exists()), None)
    if out.is_file() or (not out.exists() and (writable is None or not os.access(writable, os.W_OK))):
        raise InputError(f"out {str(out)!r} must be a folder that can be created or written")
    train_outputs, test_outputs = (outputs(mlp, x).double().cpu().numpy() for x in (dataset.train_inputs,
                                                                                    dataset.test_inputs))
    references = compare_references(train_outputs, test_outputs, dataset, target, log)
    log(f"hidden layers {'-'.join(map(str, mlp.widths))}: each pruned in turn from the input up (sims.pruning.layerwise)")
    biases = [b is not None for b in mlp.biases]
    shape = (mlp.input_dim, *mlp.widths, mlp.output_dim)
    dense_flops, dense_params, dense_units = mlp_flops(shape, biases=biases), mlp_parameters(shape, biases=biases), \
        sum(mlp.widths)
    labelled = dataset.test_labels is not None
    criterion, higher = criterion_of(labelled)
    if len(dataset.test_inputs) == 0:
        criterion = criterion.replace("test", "train")
    m = len(dataset.train_inputs)

    def metrics_of(network) -> dict:
        kept = (mlp.input_dim, *network.widths, mlp.output_dim)
        values = {"width": sum(network.widths), "compression": dense_units / sum(network.widths),
                  "params": mlp_parameters(kept, biases=biases), "flops": mlp_flops(kept, biases=biases)}
        values["param_compression"] = dense_params / values["params"]
        values["speedup"] = dense_flops / values["flops"]
        for split, reference in zip(("train", "test"), references):
            inputs, labels = getattr(dataset, f"{split}_inputs"), getattr(dataset, f"{split}_labels")
            if len(inputs):
                produced = outputs(network, inputs).double().cpu().numpy()
                values[f"{split}_loss"] = half_mean_squared_error(produced, reference)
                if labels is not None:
                    from sims.pruning.prune import network_metrics

                    values[f"{split}_accuracy"] = network_metrics(produced, labels)["accuracy"]
        return values

    dense_metrics = metrics_of(mlp)
    rows = [_row(dataset_name, "dense", m, dense_units, config.seed, k, v) for k, v in dense_metrics.items()]
    for method in methods:
        measured = {}
        for c in sorted(set(compressions)):
            sizes = tuple(max(1, width // c) for width in mlp.widths)
            pruned, _ = prune_network(mlp, dataset.train_inputs, sizes, target=target, labels=dataset.train_labels,
                                      targets=dataset.train_targets, method=method, seed=config.seed,
                                      check_chance=False)
            values = metrics_of(pruned)
            measured[sum(sizes)] = values[criterion]
            rows += [_row(dataset_name, method, m, sum(sizes), config.seed, k, v) for k, v in values.items()]
        met = [n for n in measured if _meets(measured[n], dense_metrics[criterion], config.tolerance, higher)]
        rows.append(_row(dataset_name, method, m, None, config.seed, "n_eps", min(met) if met else dense_units,
                         config.tolerance))
    for row in rows:
        row["experiment"] = "compare"
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / "tradeoff.md", "csv": out / "tradeoff.csv", "rows": out / "rows.csv"}
    markdown = tradeoff_table(rows, dataset_name)
    note = (f"\nn is the number of hidden units asked over all {len(mlp.widths)} hidden layers (N_l / c per layer), "
            f"width the units kept; n(eps), eps = {config.tolerance:g} ({criterion} within eps of the dense "
            "network's): " + ", ".join(f"{r['method']} {int(r['value'])}" for r in rows if r["metric"] == "n_eps")
            + "\n")
    atomic_write(paths["markdown"], lambda temporary: Path(temporary).write_text(markdown + note))
    atomic_write(paths["csv"], lambda temporary: Path(temporary).write_text(tradeoff_table(rows, dataset_name,
                                                                                           form="csv")))
    atomic_write(paths["rows"], lambda temporary: Path(temporary).write_text(_rows_csv(rows)))
    figure = plot_tradeoff(rows, dataset_name, out, title=f"{Path(config.model).name} on {dataset_name} "
                                                           f"({len(mlp.widths)} hidden layers, pruned layer by layer)")
    paths["figure"] = figure[0]
    log(markdown + note)
    warning = compare_warning(rows, dataset.train_labels, np.zeros(mlp.output_dim) if mlp.biases[-1] is None else
                              mlp.biases[-1].double().cpu().numpy(), target) if "gfs" in methods else None
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    log("wrote " + ", ".join(str(p) for p in [*paths.values(), *figure[1:]]))
    return paths
