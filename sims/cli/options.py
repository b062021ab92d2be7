"""What each ``gfs`` command takes: the small option records of the files, folders and run controls
that belong to no library config (declared as config fields like the rest, so every flag of every
command comes from a field, :mod:`sims.cli.flags`), and :func:`command_flags`, the one table of
which fields of which config each command takes as flags."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Mapping

from sims.data.datasets import DatasetConfig
from sims.nets.model import ACTIVATIONS, NetworkConfig
from sims.nets.train import TrainConfig
from sims.pruning.compare import COMPARE_FIELDS, CompareConfig
from sims.pruning.prune import TargetConfig
from sims.selection.engine import SelectionConfig
from sims.selection.sharded import ShardingConfig

__all__ = ["TrainFiles", "SelectFiles", "PruneFiles", "RunOptions", "CommonOptions", "ResultsOptions", "DATA_RENAMES",
           "DATA_FIELDS", "TRAIN_FIELDS", "NETWORK_FIELDS", "SELECTION_FIELDS", "SELECTION_RENAMES",
           "SHARDING_FIELDS", "TRAIN_RANGES", "FlagSet", "command_flags"]


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
        "compare": [FlagSet(CompareConfig, COMPARE_FIELDS[:1]), data, FlagSet(TargetConfig, ("target",)),
                    FlagSet(CompareConfig, COMPARE_FIELDS[1:])],
    }
    return {name: [*sets, FlagSet(CommonOptions, ("verbose",))] for name, sets in table.items()}
