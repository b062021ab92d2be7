"""The ``gfs`` command line. Each subcommand is one function ``command_<name>(args)`` plus its
arguments in :func:`build_parser`; errors in user input end in one line and exit status 2."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from sims.foundations.errors import InputError
from sims.cli.flags import add_config_flags, config_from_flags

__all__ = ["main", "build_parser", "COMMANDS", "command_flags", "FlagSet", "TrainFiles", "SelectFiles", "PruneFiles",
           "RunOptions", "ResultsOptions"]


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (``gfs <command>: error: ...``, exit
    status 2) instead of the usage text followed by the error; ``--help`` still prints the usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _write_json(path: Path, payload: dict) -> None:
    from sims.foundations.io import atomic_write

    atomic_write(path, lambda temporary: Path(temporary).write_text(json.dumps(payload, indent=2) + "\n"))


# The options of the commands that belong to no library config (files, folders, run controls),
# declared as config fields like the rest, so every flag of every command comes from a field.
@dataclass(frozen=True)
class TrainFiles:
    out: str = field(default="runs/train/model.pt", metadata={"help": "model path; .json and .png beside it"})


@dataclass(frozen=True)
class SelectFiles:
    features: str = field(metadata={"help": "(m, N) or (m, N, K) .npy array; the dense net is their mean"})
    target: str = field(metadata={"help": "(m,) or (m, K) .npy array"})
    out: str = field(default="selection.json", metadata={"help": "JSON with indices, losses, weights"})


def _activation_names():
    from sims.nets.model import ACTIVATIONS

    return list(ACTIVATIONS)


@dataclass(frozen=True)
class PruneFiles:
    model: str = field(metadata={"help": "a model written by `gfs train` (or a state dict, see --state-dict)"})
    out: str = field(metadata={"help": "path of the pruned model"})
    state_dict: bool = field(default=False, metadata={
        "help": "--model is a plain nn.Sequential(Linear, act, ..., Linear) state dict, any depth; the output is one too"})
    activation: str = field(default="relu", metadata={"help": "activation of a --state-dict model",
                                                      "choices": _activation_names})


@dataclass(frozen=True)
class RunOptions:
    experiment: str = field(metadata={"help": "an experiment name or 'all' (see `gfs list`)", "positional": True})
    quick: bool = field(default=False, metadata={"help": "the small preset (minutes on a laptop)"})
    config: str | None = field(default=None, metadata={
        "help": "TOML file of config fields (optionally under [experiment])"})
    out: str | None = field(default=None, metadata={
        "help": "results root (default results/, or results/quick/ with --quick)"})
    workers: int = field(default=1, metadata={"help": "local worker processes", "range": "positive"})
    scheduler: str | None = field(default=None, metadata={"help": "address of an existing Dask scheduler"})
    figures: str | None = field(default=None, metadata={
        "help": "figure folder (default figures/ for results/, otherwise <out>/figures)"})
    no_figures: bool = field(default=False, metadata={"help": "skip figures and report"})


@dataclass(frozen=True)
class CommonOptions:
    verbose: bool = field(default=False, metadata={
        "help": "show third-party warnings and logs (torch, Dask), hidden otherwise"})


@dataclass(frozen=True)
class ResultsOptions:
    quick: bool = field(default=False, metadata={"help": "use the quick results (same as --out results/quick)"})
    out: str | None = field(default=None, metadata={
        "help": "results root (default results/, or results/quick/ when results/ has no finished run)"})
    figures: str | None = field(default=None, metadata={
        "help": "figure folder (default figures/ for results/, otherwise <out>/figures)"})
    report: str | None = field(default=None, metadata={"help": "report path (default <out>/REPORT.md)"})


# The flags generated from config fields (sims.cli.flags): which fields become flags, the flags
# renamed, and the ranges a command tightens. The data flags are shared by train and prune.
DATA_RENAMES = {"name": "--data", "seed": "--data-seed"}
DATA_FIELDS = ("name", "m", "test_fraction", "task", "classes", "input_scaling", "data_dir", "download", "seed")
TRAIN_FIELDS = ("mode", "lr", "iterations", "target_loss", "loss_form")
NETWORK_FIELDS = ("width", "activation", "scaling", "bias", "seed", "dtype", "device")
SELECTION_FIELDS = ("n", "method", "seed")
SELECTION_RENAMES = {"n": "-n"}
SHARDING_FIELDS = ("shards", "chunk_rows", "scheduler")
# a `gfs train` of zero steps would write an untrained network as if trained: refused here,
# although TrainConfig allows it (E3 measures the network at step 0)
TRAIN_RANGES = {"iterations": "positive"}


@dataclass(frozen=True)
class FlagSet:
    """The fields of one config class that a command takes as flags, in help order."""

    config_class: type
    names: tuple[str, ...]
    renames: Mapping[str, str] = field(default_factory=dict)
    ranges: Mapping[str, str] = field(default_factory=dict)
    group: str | None = None


def _fields_of(config_class, *excluded: str) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(config_class) if f.name not in excluded)


def command_flags() -> dict[str, list[FlagSet]]:
    """Every flag of every command, as (config class, fields) sets: the one table
    :func:`build_parser` reads and the test compares with the parser."""
    from sims.data.datasets import DatasetConfig
    from sims.nets.model import NetworkConfig
    from sims.pruning.prune import TargetConfig
    from sims.selection.engine import SelectionConfig
    from sims.selection.sharded import ShardingConfig
    from sims.nets.train import TrainConfig

    data = FlagSet(DatasetConfig, DATA_FIELDS, DATA_RENAMES, group="data")
    selection = FlagSet(SelectionConfig, SELECTION_FIELDS, SELECTION_RENAMES)
    table = {
        "train": [data,
                  FlagSet(NetworkConfig, NETWORK_FIELDS[:4], group="model and training"),  # network, training, rest
                  FlagSet(TrainConfig, TRAIN_FIELDS, ranges=TRAIN_RANGES, group="model and training"),
                  FlagSet(NetworkConfig, NETWORK_FIELDS[4:], group="model and training"),
                  FlagSet(TrainFiles, _fields_of(TrainFiles), group="model and training")],
        "select": [FlagSet(SelectFiles, ("features", "target")), selection,
                   FlagSet(ShardingConfig, ("chunk_rows",), group="features larger than memory"),
                   FlagSet(SelectFiles, ("out",))],
        "prune": [FlagSet(PruneFiles, ("model", "state_dict", "activation")), data, selection,
                  FlagSet(TargetConfig, _fields_of(TargetConfig), group="what the selection fits"),
                  FlagSet(ShardingConfig, SHARDING_FIELDS, group="selection past one machine"),
                  FlagSet(PruneFiles, ("out",))],
        "run": [FlagSet(RunOptions, _fields_of(RunOptions))],
        "figures": [FlagSet(ResultsOptions, _fields_of(ResultsOptions, "report"))],
        "report": [FlagSet(ResultsOptions, _fields_of(ResultsOptions))],
        "list": [],
        "compare": _compare_flag_sets(data),
    }
    return {name: [*sets, FlagSet(CommonOptions, ("verbose",))] for name, sets in table.items()}


def _dataset_from_args(args):
    from sims.data.datasets import DataFilesMissing, DatasetConfig, load_dataset

    config = config_from_flags(DatasetConfig, args, DATA_FIELDS, flags=DATA_RENAMES)
    if config.name == "teacher" and config.m is not None:  # drawn on demand: any m reaches an allocation
        from sims.foundations.guards import check_memory

        examples = config.m / (1.0 - config.test_fraction)
        check_memory("--m", 16.0 * examples * (config.input_dim + config.teacher_width + config.output_dim),
                     f"{config.m} synthetic teacher examples, their teacher's hidden layer and targets")
    try:
        dataset = load_dataset(config)
    except DataFilesMissing as error:  # the library's hint names its arguments; here they are flags
        hint = error.hint(set_directory="pass --data-dir DIR / $GFS_MNIST_DIR", download="pass --download")
        raise InputError(hint) from None
    _check_every_class_present(config, dataset)
    return config, dataset


def _check_every_class_present(config, dataset) -> None:
    """Refuse a --m so small that some class of a labelled data set has no training example
    (one example of digits trains a 10-class network on one class, and standardising it
    zeroes every input): the line says the smallest --m that holds every class."""
    if dataset.train_labels is None or config.m is None:
        return
    labels = [dataset.train_labels] + ([dataset.test_labels] if dataset.test_labels is not None else [])
    classes = max(dataset.output_dim, 2, len(np.unique(np.concatenate([np.asarray(x) for x in labels]))))
    present = len(np.unique(np.asarray(dataset.train_labels)))
    if present < classes:
        raise InputError(f"--m {config.m} leaves {classes - present} of the {classes} classes of --data {config.name} "
                         f"without a training example; use --m {classes} or more")


def command_train(args) -> None:
    """Train a dense network by full-batch GD; write the model, a JSON summary and the loss curve."""
    from dataclasses import asdict

    from sims.foundations.guards import check_device, check_memory, training_bytes
    from sims.nets.model import NetworkConfig, init_network, resolve_dtype, save_model
    from sims.plotting.plots import plot_loss_curve
    from sims.nets.train import TrainConfig, train

    network = config_from_flags(NetworkConfig, args, NETWORK_FIELDS)
    check_device(network.device)
    itemsize = resolve_dtype(network.dtype).itemsize
    data_config, dataset = _dataset_from_args(args)
    check_memory("--width", training_bytes(dataset.m, dataset.input_dim, network.width, dataset.output_dim, itemsize),
                 f"training a width-{network.width} network on m={dataset.m} examples of dimension "
                 f"{dataset.input_dim} in {network.dtype}")
    check_memory("--iterations", 40.0 * (args.iterations + 1), f"the loss curve of {args.iterations} steps and its JSON")
    out = Path(args.out)
    _check_writable("--out", out)
    from sims.foundations.io import remove_stale_temporaries

    remove_stale_temporaries(out.parent)
    train_config = config_from_flags(TrainConfig, args, TRAIN_FIELDS)
    model = init_network(
        dataset.input_dim,
        network.width,
        dataset.output_dim,
        activation=network.activation,
        scaling=network.scaling,
        bias=network.bias,
        second_layer="sign" if train_config.mode == "first" else "gaussian",
        seed=network.seed,
        dtype=network.dtype,
        device=network.device,
    )
    print(f"training width {network.width} {network.scaling} {network.activation} network on {data_config.name} "
          f"(m={dataset.m}) ...")
    # a progress bar only on a terminal; in a log the lines before and after say enough
    result = train(model, dataset.train_inputs, dataset.train_targets, train_config, progress=sys.stderr.isatty())
    summary = {
        "dataset": asdict(data_config),
        "train": asdict(train_config),
        "model": {"width": network.width, "activation": network.activation, "scaling": network.scaling,
                  "bias": network.bias},
        "seed": network.seed,
        "dtype": network.dtype,
        "steps": result.steps,
        "initial_loss": float(result.losses[0]),
        "final_loss": result.final_loss,
    }
    if dataset.train_labels is not None:
        from sims.experiments.common import model_metrics

        metrics = model_metrics(result.model, dataset, classes=data_config.classes)
        summary.update({key: value for key, value in metrics.items() if key.endswith("accuracy")})
    summary["loss_curve"] = result.losses.tolist()
    written = []
    try:  # all three files or none
        save_model(result.model, out, metadata={key: summary[key] for key in ("dataset", "train", "seed", "final_loss")})
        written.append(out)
        _write_json(out.with_suffix(".json"), summary)
        written.append(out.with_suffix(".json"))
        plot_loss_curve(result.losses, out.with_suffix(".png"), title=f"{data_config.name}, width {network.width}")
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    accuracy = "".join(f", {k} {summary[k]:.3f}" for k in ("train_accuracy", "test_accuracy") if k in summary)
    print(f"loss {result.losses[0]:.4g} -> {result.final_loss:.4g} after {result.steps} steps{accuracy}")
    print(f"wrote {out}, {out.with_suffix('.json')}, {out.with_suffix('.png')}")


def _check_writable(parameter: str, path: Path) -> None:
    """Refuse, before any work, an output path that cannot be written: a folder in its place, or
    no write permission on the nearest existing parent folder."""
    if path.is_dir():
        raise InputError(f"{parameter} {str(path)!r} is a folder; give a file path")
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    try:  # a probe file, removed at once: permission bits alone say nothing when running as root
        if parent is None or not parent.is_dir():
            raise OSError
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError:
        raise InputError(f"{parameter} {str(path)!r} cannot be written (the folder {str(parent)!r} is not writable)") from None
    for sibling in (path.with_suffix(".json"), path.with_suffix(".png")):
        if sibling.is_dir():
            raise InputError(f"{parameter} {str(path)!r}: {str(sibling)!r} is a folder, so the summary cannot be written")


def _load_array(path: str, parameter: str, *, memory_map: bool = False) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r" if memory_map else None)
    except FileNotFoundError:
        raise InputError(f"{parameter} file {path!r} does not exist") from None
    except EOFError:
        raise InputError(f"{parameter} file {path!r} is empty (0 bytes); give a .npy array written by numpy.save") from None
    except (OSError, ValueError) as error:
        raise InputError(f"{parameter} file {path!r} is not a readable .npy array: {error}") from None


def command_select(args) -> None:
    """Select n neurons from a feature array; write indices, losses and weights as JSON."""
    from sims.foundations.guards import check_memory, selection_bytes
    from sims.selection.engine import SelectionConfig, select

    from sims.selection.sharded import ArraySource, ShardingConfig, chunked_select

    wanted = config_from_flags(SelectionConfig, args, SELECTION_FIELDS, flags=SELECTION_RENAMES)
    sharding = config_from_flags(ShardingConfig, args, ("chunk_rows",))
    # in chunks, the feature file is memory-mapped and read chunk by chunk, never loaded whole
    features = _load_array(args.features, "--features", memory_map=not sharding.whole_array)
    target = _load_array(args.target, "--target")
    width = features.shape[1] if features.ndim >= 2 else 1
    row_length = int(np.prod(features.shape[:1] + features.shape[2:]))  # m*K
    check_memory("-n", selection_bytes(wanted.n, width, wanted.method, row_length),
                 f"{wanted.n} selection steps over {width} neurons and their JSON output")
    if sharding.whole_array:
        selection = select(features, target, wanted.n, wanted.method, seed=wanted.seed)
    else:
        selection = chunked_select(ArraySource(features, target), wanted.n, wanted.method,
                                   chunk_rows=sharding.chunk_rows, seed=wanted.seed)
    _write_json(Path(args.out), selection.to_dict())
    print(f"{wanted.method}: n={wanted.n}, loss {selection.losses[0]:.4g} -> {selection.losses[-1]:.4g}, "
          f"{selection.support_size} distinct neurons; wrote {args.out}")
    if wanted.n > width:
        print(f"note: -n {wanted.n} exceeds the {width} neurons; {wanted.method} may pick a neuron again, so the "
              f"subnetwork has {selection.support_size} distinct neurons, weighted by how often each was picked")


def _check_prune_request(args, wanted, sharding) -> None:
    """What `gfs prune` refuses before loading anything: --scheduler without --shards, an
    address that does not parse or answer, a model file whose bytes were damaged, and an -n
    whose selection record alone (about 150 bytes a step, whatever the width) exceeds memory."""
    from sims.foundations.guards import check_memory, check_scheduler, check_workers, selection_bytes
    from sims.foundations.io import check_torch_file

    if sharding.scheduler is None and sharding.shards > 1:  # a local cluster of --shards workers
        check_workers("--shards", sharding.shards)
    if sharding.scheduler is not None:
        if sharding.shards == 1:
            raise InputError(f"--scheduler needs --shards N (N > 1): the scheduler's workers hold the shards; without "
                             f"--shards the selection runs in this process")
        check_scheduler("--scheduler", sharding.scheduler)
    check_memory("-n", selection_bytes(wanted.n, 0, wanted.method), f"{wanted.n} selection steps and their record")
    check_torch_file(args.model, "--model")


def command_prune(args) -> None:
    """Prune a saved network (or a plain nn.Sequential state dict of any depth) on a dataset's training split."""
    from sims.nets.model import save_model
    from sims.pruning.prune import TargetConfig, prune_model
    from sims.selection.engine import SelectionConfig

    from sims.selection.sharded import ShardingConfig

    wanted = config_from_flags(SelectionConfig, args, SELECTION_FIELDS, flags=SELECTION_RENAMES)
    sharding = config_from_flags(ShardingConfig, args, SHARDING_FIELDS)
    _check_prune_request(args, wanted, sharding)
    finish = config_from_flags(TargetConfig, args, ("target", "refit", "ridge"))
    if args.state_dict:
        _prune_user_model(args, wanted, sharding, finish)
        return
    if finish.target == "labels-ce" or finish.refit != "none":
        raise InputError("--target labels-ce and --refit apply to a --state-dict model; a `gfs train` model takes "
                         "--target dense or labels")
    _, dataset = _dataset_from_args(args)
    import torch

    from sims.nets.model import forward, load_model

    model, metadata = load_model(args.model)
    if model.input_dim != dataset.input_dim or model.output_dim != dataset.output_dim:
        raise InputError(f"--model {args.model!r} maps {model.input_dim} inputs to {model.output_dim} outputs, but "
                         f"--data {args.data} has {dataset.input_dim} inputs and {dataset.output_dim} outputs")
    targets = dataset.train_targets
    if finish.target == "dense":
        with torch.no_grad():
            targets = forward(model, dataset.train_inputs).double().cpu().numpy()
    small, selection = prune_model(model, dataset.train_inputs, targets, wanted.n, wanted.method,
                                   seed=wanted.seed, sharding=sharding)
    save_model(small, args.out, metadata={"pruned_from": str(args.model), "method": wanted.method, "n": wanted.n,
                                          "target": finish.target or "labels",
                                          "train_loss": float(selection.losses[-1]), "source": metadata})
    print(f"{wanted.method}: kept {small.width} hidden units, training loss {selection.losses[-1]:.4g}; wrote {args.out}")


def _user_inputs(args) -> str:
    """For a user's model the inputs are the data as the loader returns them unless asked
    otherwise (no silent image scaling): --input-scaling auto becomes none. Returns the line
    saying which inputs are used."""
    from sims.pruning.prune import LOADER_INPUTS

    if args.input_scaling == "auto":
        args.input_scaling = "none"
    what = LOADER_INPUTS.get(args.data, "as the loader returns them") if args.input_scaling == "none" else \
        f"then scaled '{args.input_scaling}'"
    return (f"inputs: --data {args.data} with --input-scaling {args.input_scaling} ({what}); give the inputs as the "
            "model was trained on them")


def _prune_user_model(args, wanted, sharding, finish) -> None:
    """``gfs prune --state-dict``: sims.pruning.prune.prune_network on a plain nn.Sequential state dict."""
    import torch

    from sims.pruning.compare import load_state_dict
    from sims.foundations.io import atomic_write
    from sims.pruning.layerwise import mlp_from_state_dict, state_dict_of
    from sims.pruning.prune import prune_network

    inputs_line = _user_inputs(args)
    _, dataset = _dataset_from_args(args)
    mlp = mlp_from_state_dict(load_state_dict(args.model, tensors_only=False), args.activation)
    if mlp.input_dim != dataset.input_dim:
        raise InputError(f"--model {args.model!r} takes {mlp.input_dim} inputs, but --data {args.data} has "
                         f"{dataset.input_dim}")
    if mlp.output_dim != dataset.output_dim:
        raise InputError(f"--model {args.model!r} maps {mlp.input_dim} inputs to {mlp.output_dim} outputs, but "
                         f"--data {args.data} has {dataset.input_dim} inputs and {dataset.output_dim} outputs")
    _check_writable("--out", Path(args.out))
    print(inputs_line)
    pruned, report = prune_network(mlp, dataset.train_inputs, wanted.n, target=finish.target or "dense",
                                   labels=dataset.train_labels, targets=dataset.train_targets, method=wanted.method,
                                   refit=finish.refit, ridge=finish.ridge, seed=wanted.seed, sharding=sharding,
                                   test_inputs=dataset.test_inputs, test_labels=dataset.test_labels,
                                   test_targets=dataset.test_targets)
    atomic_write(args.out, lambda temporary: torch.save(state_dict_of(pruned), temporary))
    for line in report.lines(wanted.method):
        print(line)
    if report.warning:
        print(f"warning: {report.warning}", file=sys.stderr)
    shape = ", ".join([str(mlp.input_dim), *map(str, pruned.widths), str(mlp.output_dim)])
    print(f"wrote {args.out} (loads into an nn.Sequential of Linear layers {shape})")


def _experiment_config(experiment, args):
    from sims.experiments.runner import config_from_mapping

    config = experiment.quick() if args.quick else experiment.config_class()
    if args.config:
        try:
            import tomllib
        except ModuleNotFoundError:  # Python < 3.11
            import tomli as tomllib
        try:
            with open(args.config, "rb") as handle:
                table = tomllib.load(handle)
        except FileNotFoundError:
            raise InputError(f"--config file {args.config!r} does not exist") from None
        except tomllib.TOMLDecodeError as error:
            raise InputError(f"--config file {args.config!r} does not parse as TOML: {error}") from None
        except UnicodeDecodeError as error:
            raise InputError(f"--config file {args.config!r} is not UTF-8 text (byte {error.start}); a config is a "
                             "TOML text file") from None
        except IsADirectoryError:
            raise InputError(f"--config {args.config!r} is a folder; give a TOML file") from None
        table = table.get(experiment.name, table)
        config = config_from_mapping(experiment.config_class, table, base=config)
    return config


def command_run(args) -> None:
    """Run (or resume) one experiment or all of them, then write figures and the report."""
    from sims.experiments.runner import experiments, get_experiment, run_experiments

    from sims.foundations.guards import check_scheduler, check_workers

    names = list(experiments()) if args.experiment == "all" else [get_experiment(args.experiment).name]
    # quick runs go beside, not over, the full-scale results and the committed figures
    if args.out is None:
        args.out = QUICK_RESULTS if args.quick else FULL_RESULTS
    args.figures = _figures_folder(args.out, args.figures)
    check_workers("--workers", args.workers)
    requests = [(name, _experiment_config(get_experiment(name), args)) for name in names]
    if args.scheduler:  # parsed and answered before any folder or work
        check_scheduler("--scheduler", args.scheduler)
    report_path = Path(args.out) / "REPORT.md"
    _check_folder_writable("--out", Path(args.out))
    if not args.no_figures:  # refused before any cell is computed, not after
        _check_folder_writable("--figures", Path(args.figures))
        _check_report_path("--out", report_path)
    folders = run_experiments(requests, out=args.out, workers=args.workers, scheduler=args.scheduler)
    if not args.no_figures:
        _write_figures(folders, Path(args.figures))
        _write_report(_report_folders(args.out, folders), report_path, Path(args.figures))


def _report_folders(out: str, folders: list[Path]) -> list[Path]:
    """The folders a run's report covers: those just run, and the finished folders under
    ``out`` of every other experiment (as `gfs report` would), so running one experiment does
    not drop the others from REPORT.md (a folder of another config of an experiment just run is
    not the run's, and stays out); a folder that does not check out is named and left out."""
    from sims.experiments.runner import check_results_folder

    ran = {_experiment_of(Path(folder)) for folder in folders}
    chosen = []
    for folder in _finished(out):
        if _experiment_of(folder) in ran:
            continue
        try:
            check_results_folder(folder)
        except InputError as error:
            print(f"left out of the report: {error}")
            continue
        chosen.append(folder)
    return sorted([*map(Path, folders), *chosen], key=_experiment_order)


def _experiment_of(folder: Path) -> str:
    """The experiment of a results folder ``<experiment>-<hash>`` (the hash has no dash)."""
    return folder.name.rsplit("-", 1)[0]


def _experiment_order(folder: Path):
    from sims.experiments.runner import experiments

    names = list(experiments())
    name = _experiment_of(folder)
    return (names.index(name) if name in names else len(names), folder.name)


def _check_folder_writable(parameter: str, folder: Path, given: Path | None = None) -> None:
    """Refuse a folder path that is a file, lies under a file, or sits in a folder that cannot
    be written: before any work, one line naming ``parameter`` and the path ``given`` with it
    (default ``folder``)."""
    shown = str(given if given is not None else folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{parameter} {shown!r}: {str(folder)!r} is a file, not a folder")
    parent = next((p for p in (folder.absolute(), *folder.absolute().parents) if p.exists()), None)
    if parent is None or not parent.is_dir():
        raise InputError(f"{parameter} {shown!r} cannot be made: {str(parent)!r} is a file, not a folder")
    try:  # a probe folder, removed at once: permission bits say nothing when running as root
        with tempfile.TemporaryDirectory(dir=parent):
            pass
    except OSError:
        raise InputError(f"{parameter} {shown!r} cannot be written (the folder {str(parent)!r} is not "
                         "writable)") from None


def _check_report_path(parameter: str, path: Path) -> None:
    """Refuse a report path (and its REPORT.json beside it) that cannot be written."""
    if path.is_dir():
        raise InputError(f"{parameter} {str(path)!r} is a folder; give a file path")
    if path.with_suffix(".json").is_dir():
        raise InputError(f"{parameter} {str(path)!r}: {str(path.with_suffix('.json'))!r} (its REPORT.json) is a "
                         "folder; give another path")
    _check_folder_writable(parameter, path.parent, given=path)


# Where results and figures live by default: full-scale results in results/ with their figures in
# the committed figures/; every other results root (results/quick by default for --quick) keeps its
# figures in <root>/figures, so a quick or custom run never overwrites the committed figures.
FULL_RESULTS = "results"
QUICK_RESULTS = "results/quick"
COMMITTED_FIGURES = "figures"


def _figures_folder(out: str, figures: str | None) -> str:
    if figures is not None:
        return figures
    same_root = Path(out).resolve() == Path(FULL_RESULTS).resolve()
    return COMMITTED_FIGURES if same_root else str(Path(out) / "figures")


def _write_figures(folders, figures_folder: Path) -> None:
    from sims.reporting.report import is_quick_preset, load_config, write_figures

    if figures_folder.resolve() == Path(COMMITTED_FIGURES).resolve():
        quick = [str(folder) for folder in folders if is_quick_preset(*load_config(folder))]
        if quick:
            raise InputError(f"--figures {str(figures_folder)!r} holds the committed full-scale figures; the quick "
                             f"results {', '.join(quick)} write theirs to <results>/figures (omit --figures)")
    from sims.foundations.io import remove_stale_temporaries

    remove_stale_temporaries(figures_folder)  # leftovers of writes killed mid-way
    for folder in folders:
        print(f"{Path(folder).name}: writing figures to {figures_folder}/ ...", flush=True)
        for path in write_figures([folder], figures_folder):
            print(f"wrote {path}", flush=True)


def _write_report(folders, report_path: Path, figures_folder: Path) -> None:
    from sims.foundations.io import remove_stale_temporaries
    from sims.reporting.report import write_report

    remove_stale_temporaries(report_path.parent)
    print(f"writing {report_path} (checking every claim) ...", flush=True)
    write_report(folders, report_path, figures_folder)
    print(f"wrote {report_path}")


def _finished(out: str) -> list[Path]:
    """Results folders under ``out`` with their rows (rows.csv, or rows.csv.gz as committed)."""
    return sorted({p.parent for pattern in ("*/rows.csv", "*/rows.csv.gz") for p in Path(out).glob(pattern)})


def _result_folders(args) -> list[Path]:
    """The finished results folders ``gfs figures`` and ``gfs report`` work on: under --out if
    given (or results/quick with --quick); by default under results/, falling back, with a
    message, to results/quick when results/ holds no finished run. Sets ``args.out`` and
    ``args.figures`` to the folders used."""
    if args.out is None and args.quick:
        args.out = QUICK_RESULTS
    if args.out is None:
        args.out = FULL_RESULTS
        if not _finished(FULL_RESULTS) and _finished(QUICK_RESULTS):
            args.out = QUICK_RESULTS
            print(f"no full-scale results in {FULL_RESULTS}/; using the quick results in {QUICK_RESULTS}/ "
                  f"(figures in {QUICK_RESULTS}/figures/)")
    from sims.experiments.runner import check_results_folder

    folders = _finished(args.out)
    if not folders:
        raise InputError(f"no finished results under --out {args.out!r}; run `gfs run ...` first "
                         f"(`gfs run all --quick` writes {QUICK_RESULTS}/)")
    for folder in folders:  # trusted only as far as it checks out
        check_results_folder(folder)
    args.figures = _figures_folder(args.out, args.figures)
    return folders


def command_figures(args) -> None:
    """Regenerate figures from finished results (see :func:`_result_folders` for which)."""
    folders = _result_folders(args)
    _check_folder_writable("--figures", Path(args.figures))
    _write_figures(folders, Path(args.figures))


def command_report(args) -> None:
    """Write the Markdown report of every claim's verdict from finished results, linking the
    figures that belong to those results."""
    folders = _result_folders(args)
    report_path = Path(args.report or Path(args.out) / "REPORT.md")
    _check_report_path("--report" if args.report else "--out", report_path)
    _write_report(folders, report_path, Path(args.figures))


def command_list(args) -> None:
    """Print the registries."""
    from sims.baselines.methods import PRUNING_METHODS
    from sims.data.datasets import DATASETS
    from sims.nets.model import ACTIVATIONS
    from sims.experiments.runner import experiments
    from sims.selection.engine import METHODS

    print("experiments: " + ", ".join(f"{name} ({e.description})" for name, e in experiments().items()))
    print("methods:     " + ", ".join(METHODS) + "   (selection from features: gfs select, gfs prune)")
    print("pruning:     " + ", ".join(PRUNING_METHODS) + "   (methods on a network: gfs compare)")
    print("datasets:    " + ", ".join(DATASETS))
    print("activations: " + ", ".join(ACTIVATIONS))


COMMANDS = {  # name -> (handler, help)
    "train": (command_train, "train a dense two-layer network by exact full-batch GD"),
    "select": (command_select, "select n neurons from a feature array (.npy)"),
    "prune": (command_prune, "prune a network to a physically smaller one"),
    "run": (command_run, "run experiments (resumable), then write figures and the report"),
    "figures": (command_figures, "regenerate figures from results"),
    "report": (command_report, "write the Markdown report of the claims"),
    "list": (command_list, "list experiments, methods, datasets and activations"),
}


def command_compare(args) -> None:
    """The pruning methods on a plain nn.Sequential MLP state dict and a data set: the
    trade-off table (Markdown, CSV) and figure (sims.pruning.compare.run_compare)."""
    from sims.pruning.compare import COMPARE_FIELDS, CompareConfig, run_compare

    from sims.pruning.prune import TargetConfig

    config = config_from_flags(CompareConfig, args, COMPARE_FIELDS)
    from sims.foundations.io import check_torch_file

    check_torch_file(config.model, "--model")  # damaged bytes named before unpickling
    target = config_from_flags(TargetConfig, args, ("target",)).target or "dense"
    inputs_line = _user_inputs(args)
    data_config, dataset = _dataset_from_args(args)
    print(inputs_line)
    run_compare(config, dataset, data_config.name, target=target)


def _compare_flag_sets(data: FlagSet) -> list[FlagSet]:
    from sims.pruning.compare import COMPARE_FIELDS, CompareConfig
    from sims.pruning.prune import TargetConfig

    return [FlagSet(CompareConfig, COMPARE_FIELDS[:1]), data, FlagSet(TargetConfig, ("target",)),
            FlagSet(CompareConfig, COMPARE_FIELDS[1:])]


COMMANDS["compare"] = (command_compare, "trade-off of the pruning methods on a plain nn.Sequential MLP state dict")


def build_parser() -> argparse.ArgumentParser:
    """The ``gfs`` parser: one subcommand per entry of :data:`COMMANDS`, its flags generated
    from the config fields of :func:`command_flags`."""
    parser = _OneLineParser(
        prog="gfs",
        description="Verify the theory of greedy subnetwork selection in two-layer networks.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    flag_sets = command_flags()
    for name, (handler, text) in COMMANDS.items():
        sub = commands.add_parser(name, help=text)
        groups = {}
        for flag_set in flag_sets[name]:
            target = sub
            if flag_set.group is not None:
                target = groups.setdefault(flag_set.group, sub.add_argument_group(flag_set.group))
            add_config_flags(target, flag_set.config_class, flag_set.names, flags=flag_set.renames,
                             ranges=flag_set.ranges)
        sub.set_defaults(handler=handler)
    return parser


def _quiet_third_party() -> None:
    """Hide what a user cannot act on: torch's warnings (a pickle protocol note before the real
    error), Dask's logs (worker shutdown on Ctrl-C) and warnings ("Sending large graph"), in
    this process and in the worker processes it starts (through Dask's environment config)."""
    import logging
    import warnings

    for module in (r"torch(\.|$)", r"distributed(\.|$)", r"dask(\.|$)"):
        warnings.filterwarnings("ignore", module=module)
    for name in ("distributed", "dask"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "critical")  # a failing cell reaches the client anyway
    if "dask" in sys.modules:  # already imported (a test, a notebook): set it there too
        import dask

        dask.config.set({"logging.distributed": "critical"})


def main(argv: list[str] | None = None) -> int:
    import warnings

    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        from sims.nets.train import TrainingDiverged
    except KeyboardInterrupt:  # Ctrl-C while the command is still being read
        print("gfs: interrupted", file=sys.stderr)
        return 130

    with warnings.catch_warnings():
        if not args.verbose:
            _quiet_third_party()
        return _run_command(args, TrainingDiverged)


def _run_command(args, TrainingDiverged) -> int:
    try:
        args.handler(args)
    except BrokenPipeError:  # output piped into a reader that stopped early (`gfs figures | head`)
        sys.stdout = open(os.devnull, "w")
        return 0
    except (InputError, TrainingDiverged, OSError) as error:  # refused input, diverged GD, the file system
        print(f"gfs {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gfs {args.command}: interrupted", file=sys.stderr, flush=True)
        if not args.verbose:  # what follows (a local cluster shutting down at exit) is not the user's to act on
            _silence_stderr()
        return 130
    return 0


def _silence_stderr() -> None:
    """Send the rest of this process's stderr (file descriptor 2, so also the tracebacks of exit
    handlers and the logs of threads) to the null device."""
    try:
        sys.stderr.flush()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)
    except (OSError, ValueError):  # no real descriptor 2 (a captured stream): nothing to silence
        return


if __name__ == "__main__":
    sys.exit(main())
