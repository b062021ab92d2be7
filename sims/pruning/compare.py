"""``gfs compare``: every registered pruning method on a user's plain ``nn.Sequential`` state dict and a
data set, written as the trade-off bench's table, tidy rows and figure (:mod:`sims.pruning.tradeoff`,
:mod:`sims.pruning.tradeoff_report`).

A two-layer model runs every method of :data:`sims.baselines.methods.PRUNING_METHODS` (each one-shot
method also fine-tuned, ``<method>+ft``); a model with two or more hidden layers runs the layer-wise
selection methods (:data:`LAYERWISE_METHODS`). What the methods fit and measure against is the
dense network's outputs (target "dense") or the data set's targets ("labels")
(:func:`compare_references`); a dense network near chance on its training data is refused.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from sims.baselines.methods import PRUNING_METHODS, REWIND_FRACTION, PruningProblem
from sims.foundations.constraints import check_fields
from sims.foundations.errors import InputError
from sims.foundations.io import atomic_write, check_choice
from sims.metrics.cost import mlp_flops, mlp_parameters
from sims.metrics.quality import half_mean_squared_error
from sims.nets.model import ACTIVATIONS, forward, init_network
from sims.nets.train import TrainConfig, train
from sims.pruning.layerwise import mlp_from_state_dict, outputs
from sims.pruning.prune import TARGETS, prune_network
from sims.pruning.prune_report import NO_BETTER_MARGIN, describe_metrics, near_chance, network_metrics, useless_warning
from sims.pruning.state_dicts import check_model_matches_data, load_state_dict, model_from_state_dict
from sims.pruning.tradeoff import Split, criterion_of, meets, tradeoff_rows
from sims.pruning.tradeoff_report import plot_tradeoff, tradeoff_table
from sims.results.rows import rows_to_csv
from sims.results.schema import tidy_row

__all__ = [
    "FINETUNE_STEPS", "CompareConfig", "COMPARE_FIELDS", "LAYERWISE_METHODS", "run_compare",
    "dense_baseline", "compare_references", "compare_warning",
]

#: F of ``gfs compare``: E5's budget after the checkpoint (sims.experiments.tradeoff.TradeoffConfig().train.iterations).
FINETUNE_STEPS = 200
#: The methods ``gfs compare`` runs layer by layer on a network with two or more hidden layers:
#: selection on each layer's unit contributions (sims.pruning.layerwise), no training.
LAYERWISE_METHODS = ("gfs", "gfs-norep", "magnitude", "random")


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


def _check_out_folder(out: str) -> Path:
    """``out`` as a Path, refused in one line when it is a file or cannot be created."""
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"out {str(folder)!r} is a file; give a folder")
    parent = next((p for p in folder.absolute().parents if p.exists()), None)
    if not folder.exists() and (parent is None or not os.access(parent, os.W_OK)):
        raise InputError(f"out {str(folder)!r} cannot be created (the folder {str(parent)!r} is not writable)")
    return folder


def _write_outputs(rows: list[dict], out: Path, dataset_name: str, note: str, title: str, warning: str | None,
                   log: Callable[[str], None]) -> dict[str, Path]:
    """Write ``<out>/tradeoff.md`` (the table and ``note``), ``tradeoff.csv``, ``rows.csv`` (experiment
    "compare") and the figure; log the table, print ``warning`` (if any) to stderr, log the paths.
    Returns {"markdown", "csv", "rows", "figure"} paths."""
    for row in rows:
        row["experiment"] = "compare"
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / "tradeoff.md", "csv": out / "tradeoff.csv", "rows": out / "rows.csv"}
    markdown = tradeoff_table(rows, dataset_name)
    atomic_write(paths["markdown"], lambda temporary: Path(temporary).write_text(markdown + note))
    atomic_write(paths["csv"], lambda temporary: Path(temporary).write_text(tradeoff_table(rows, dataset_name,
                                                                                           form="csv")))
    atomic_write(paths["rows"], lambda temporary: Path(temporary).write_text(rows_to_csv(rows)))
    figure = plot_tradeoff(rows, dataset_name, out, title=title)
    paths["figure"] = figure[0]
    log(markdown + note)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    log("wrote " + ", ".join(str(p) for p in [*paths.values(), *figure[1:]]))
    return paths


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
    methods, compressions = config.method_names, config.compression_values
    state = load_state_dict(config.model)
    if "4.weight" in state:  # two or more hidden layers: the layer-wise selection methods
        return _run_compare_deep(config, state, dataset, dataset_name, target, log)
    model, output_bias = model_from_state_dict(state, config.activation)
    check_model_matches_data(config.model, model.input_dim, model.output_dim, dataset_name, dataset.input_dim,
                             dataset.output_dim)
    if not all(bool(torch.isfinite(t).all()) for t in state.values()):
        raise InputError(f"--model file {config.model!r} has NaN or infinite weights")
    if max(compressions) > model.width:
        raise InputError(f"compressions: {max(compressions)} exceeds the model's width N = {model.width}")
    out = _check_out_folder(config.out)
    dtype = model.dtype
    inputs = torch.as_tensor(dataset.train_inputs, dtype=dtype)
    bias = output_bias.double().cpu().numpy()
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
    n_eps = [r for r in rows if r["metric"] == "n_eps"]
    criterion, _ = criterion_of(dataset.test_labels is not None)
    note = (f"\nBudgets after pruning: every procedure that trains runs F = {config.finetune_steps} GD steps (equal "
            "steps; '+ft': a one-shot method's network fine-tuned from its pruned weights); at equal training FLOPs "
            "(F steps at width n) the '@flops' rows replace those that differ (imp-rewind's wider rounds, a '+ft' "
            "narrower than n). Columns train_steps and train_flops give each row's cost.\n"
            f"\nn(eps), eps = {config.tolerance:g} ({criterion} within eps of the dense network's; the dense width "
            f"{model.width} when no measured compression meets it): "
            + ", ".join(f"{r['method']} {int(r['value'])}" for r in n_eps) + "\n")
    warning = compare_warning(rows, dataset.train_labels, bias, target) if "gfs" in methods else None
    title = f"{Path(config.model).name} on {dataset_name}: {criterion.replace('_', ' ')}, equal training steps"
    return _write_outputs(rows, out, dataset_name, note, title, warning, log)


# ---------------------------------------------------------------------------------------- deeper networks

def _run_compare_deep(config: CompareConfig, state: dict, dataset, dataset_name: str, target: str,
                      log: Callable[[str], None]) -> dict[str, Path]:
    """``gfs compare`` on nn.Sequential(Linear, act, ..., Linear) with L >= 2 hidden layers: each
    method of :data:`LAYERWISE_METHODS` keeps max(1, N_l // c) units of every hidden layer l
    (:func:`sims.pruning.prune.prune_network`, layer by layer). Rows as for two layers, with n the units
    asked over all hidden layers, width the units kept, compression the dense hidden units / width;
    FLOPs and parameters of the whole stack (:func:`sims.metrics.cost.mlp_flops`,
    :func:`sims.metrics.cost.mlp_parameters`)."""
    requested = config.method_names
    methods = LAYERWISE_METHODS if config.methods == "all" else requested
    others = [name for name in methods if name not in LAYERWISE_METHODS]
    if others:
        raise InputError(f"methods: on a network with more than one hidden layer gfs compare runs the layer-wise "
                         f"selection methods {', '.join(LAYERWISE_METHODS)}; got {', '.join(others)}")
    mlp = mlp_from_state_dict(state, config.activation)
    check_model_matches_data(config.model, mlp.input_dim, mlp.output_dim, dataset_name, dataset.input_dim,
                             dataset.output_dim)
    compressions = config.compression_values
    if max(compressions) > min(mlp.widths):
        raise InputError(f"compressions: {max(compressions)} exceeds the narrowest hidden layer's width "
                         f"{min(mlp.widths)}")
    out = _check_out_folder(config.out)
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
                    values[f"{split}_accuracy"] = network_metrics(produced, labels)["accuracy"]
        return values

    dense_metrics = metrics_of(mlp)
    rows = [tidy_row(dataset_name, "dense", m, dense_units, config.seed, k, v) for k, v in dense_metrics.items()]
    for method in methods:
        measured = {}
        for c in sorted(set(compressions)):
            sizes = tuple(max(1, width // c) for width in mlp.widths)
            pruned, _ = prune_network(mlp, dataset.train_inputs, sizes, target=target, labels=dataset.train_labels,
                                      targets=dataset.train_targets, method=method, seed=config.seed,
                                      check_chance=False)
            values = metrics_of(pruned)
            measured[sum(sizes)] = values[criterion]
            rows += [tidy_row(dataset_name, method, m, sum(sizes), config.seed, k, v) for k, v in values.items()]
        met = [n for n in measured if meets(measured[n], dense_metrics[criterion], config.tolerance, higher)]
        rows.append(tidy_row(dataset_name, method, m, None, config.seed, "n_eps", min(met) if met else dense_units,
                             eps=config.tolerance))
    note = (f"\nn is the number of hidden units asked over all {len(mlp.widths)} hidden layers (N_l / c per layer), "
            f"width the units kept; n(eps), eps = {config.tolerance:g} ({criterion} within eps of the dense "
            "network's): " + ", ".join(f"{r['method']} {int(r['value'])}" for r in rows if r["metric"] == "n_eps")
            + "\n")
    warning = compare_warning(rows, dataset.train_labels, np.zeros(mlp.output_dim) if mlp.biases[-1] is None else
                              mlp.biases[-1].double().cpu().numpy(), target) if "gfs" in methods else None
    title = f"{Path(config.model).name} on {dataset_name} ({len(mlp.widths)} hidden layers, pruned layer by layer)"
    return _write_outputs(rows, out, dataset_name, note, title, warning, log)


# ---------------------------------------------------------------------------------------- the dense baseline


def dense_baseline(train_outputs, test_outputs, dataset) -> tuple[dict, str]:
    """The dense network's metrics ({"train_<metric>", "test_<metric>"} of :func:`network_metrics`
    against ``dataset``'s labels and targets) and the line saying them; raises an InputError when
    its training accuracy is near chance (:func:`near_chance`): the inputs then probably do not
    match the model."""
    metrics = {}
    for split, values in (("train", train_outputs), ("test", test_outputs)):
        labels, targets = getattr(dataset, f"{split}_labels"), getattr(dataset, f"{split}_targets")
        if values is not None and len(values):
            metrics.update({f"{split}_{k}": v for k, v in network_metrics(values, labels, targets).items()})
    if dataset.train_labels is not None:
        low, chance = near_chance(metrics["train_accuracy"], dataset.train_labels)
        if low:
            raise InputError(f"the dense network's training accuracy is {metrics['train_accuracy']:.3f}, near chance "
                             f"({chance:.3f}): the inputs probably do not match the model (give them as it was trained "
                             "on them, e.g. --input-scaling)")
    return metrics, "dense network (the baseline): " + describe_metrics(metrics)


def compare_references(train_outputs, test_outputs, dataset, target: str, log=print) -> tuple[np.ndarray, np.ndarray]:
    """What ``gfs compare`` fits and measures its losses against on a user's model: the dense
    network's own outputs (target "dense") or the data set's targets ("labels"), as (train (m, K),
    test (m', K)) float64. Logs the dense baseline and the target; refuses a near-chance dense
    network and target "labels-ce" (the cross-entropy procedure is the method gfs-published)."""
    if target == "labels-ce":
        raise InputError("target 'labels-ce' is not a target of gfs compare; its method gfs-published is the "
                         "published cross-entropy procedure (accepted: dense, labels)")
    check_choice("target", target, TARGETS)
    _, line = dense_baseline(train_outputs, test_outputs, dataset)
    log(line)
    if target == "dense":
        log("target dense: every method fits the dense network's outputs on the training inputs; train_loss and "
            "test_loss are 0.5 mean ||f - dense||^2")
        return np.asarray(train_outputs, dtype=np.float64), np.asarray(test_outputs, dtype=np.float64)
    log("target labels: every method fits the data set's targets with the squared loss")
    return np.asarray(dataset.train_targets, dtype=np.float64), np.asarray(dataset.test_targets, dtype=np.float64)


def compare_warning(rows: list[dict], train_labels, output_bias, target: str, method: str = "gfs") -> str | None:
    """The one-line warning of :func:`prune_network` for ``gfs compare``'s rows of ``method``: a
    compression whose pruned network's training accuracy is at most the output bias's
    (+ NO_BETTER_MARGIN), or that kept a single unit where n >= 2 was asked. None otherwise."""
    if train_labels is None or len(train_labels) == 0:
        return None
    bias = np.asarray(output_bias, dtype=np.float64).reshape(1, -1)
    trivial = network_metrics(bias.repeat(len(train_labels), 0), train_labels)["accuracy"]
    of = {(r["n"], r["metric"]): r["value"] for r in rows if r["method"] == method and r.get("n") is not None}
    useless = sorted({n for n, metric in of if (metric == "train_accuracy" and of[n, metric] <= trivial + NO_BETTER_MARGIN)
                      or (metric == "width" and of[n, metric] == 1 and n >= 2)}, reverse=True)
    if not useless:
        return None
    n = useless[0]
    pruned = {"train_accuracy": of.get((n, "train_accuracy"), float("nan"))}
    text = useless_warning(pruned, {"train_accuracy": trivial}, (int(of.get((n, "width"), 0)),), (n,), target)
    return f"{method} at n = {', '.join(map(str, useless))}: " + text
