"""Flags generated from config dataclasses (sims.cli.flags): the parser and the dataclasses agree on
every default, help text and type, so a default is stated once, in the dataclass field."""

import argparse
import dataclasses

import pytest

from sims.cli import options
from sims.cli.commands import build_parser
from sims.data.datasets import DatasetConfig
from sims.cli.flags import add_config_flags, config_from_flags, flag_name, parse_number
from sims.nets.model import NetworkConfig
from sims.selection.engine import SelectionConfig
from sims.nets.train import TrainConfig

# (command line without the generated flags, config class, its fields that are flags, renamed flags)
GENERATED = [
    (["train"], DatasetConfig, options.DATA_FIELDS, options.DATA_RENAMES),
    (["train"], TrainConfig, options.TRAIN_FIELDS, {}),
    (["train"], NetworkConfig, options.NETWORK_FIELDS, {}),
    (["prune", "--model", "m.pt", "-n", "2", "--out", "s.pt"], DatasetConfig, options.DATA_FIELDS, options.DATA_RENAMES),
    (["prune", "--model", "m.pt", "-n", "2", "--out", "s.pt"], SelectionConfig, options.SELECTION_FIELDS,
     options.SELECTION_RENAMES),
    (["select", "--features", "F.npy", "--target", "Y.npy", "-n", "2"], SelectionConfig, options.SELECTION_FIELDS,
     options.SELECTION_RENAMES),
]


def _subparser(command: str) -> argparse.ArgumentParser:
    parser = build_parser()
    (commands,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return commands.choices[command]


@pytest.mark.parametrize("argv,config_class,names,renames", GENERATED,
                         ids=[f"{argv[0]}-{cls.__name__}" for argv, cls, _, _ in GENERATED])
def test_parser_defaults_are_the_dataclass_defaults(argv, config_class, names, renames):
    config = config_from_flags(config_class, build_parser().parse_args(argv), names, flags=renames)
    for field in dataclasses.fields(config_class):
        if field.default is not dataclasses.MISSING:
            assert getattr(config, field.name) == field.default, field.name


@pytest.mark.parametrize("argv,config_class,names,renames", GENERATED,
                         ids=[f"{argv[0]}-{cls.__name__}" for argv, cls, _, _ in GENERATED])
def test_every_documented_field_is_a_flag_with_its_help(argv, config_class, names, renames):
    documented = [field for field in dataclasses.fields(config_class) if "help" in field.metadata]
    assert sorted(field.name for field in documented) == sorted(names)
    actions = {option: action for action in _subparser(argv[0])._actions for option in action.option_strings}
    for field in documented:
        action = actions[flag_name(field.name, renames)]
        assert action.help.startswith(field.metadata["help"])
        if field.default is dataclasses.MISSING:
            assert action.required
        elif field.default not in (None, False):
            assert "(default " in action.help


def test_non_default_flags_reach_the_configs():
    args = build_parser().parse_args(["train", "--data", "digits", "--m", "50", "--classes", "3,8", "--download",
                                          "--data-seed", "4", "--lr", "0.5", "--iterations", "7", "--mode", "second"])
    data = config_from_flags(DatasetConfig, args, options.DATA_FIELDS, flags=options.DATA_RENAMES)
    assert (data.name, data.m, data.classes, data.download, data.seed) == ("digits", 50, (3, 8), True, 4)
    train = config_from_flags(TrainConfig, args, options.TRAIN_FIELDS)
    assert (train.lr, train.iterations, train.mode) == (0.5, 7, "second")


@pytest.mark.parametrize("kind,value_range,text,expected", [
    (int, "positive", "3", 3), (int, "non-negative", "0", 0), (float, "positive", "0.5", 0.5),
    (float, None, "-2", -2.0), (int, None, "-2", -2),
])
def test_parse_number_accepts(kind, value_range, text, expected):
    assert parse_number(kind, value_range)(text) == expected


@pytest.mark.parametrize("kind,value_range,text", [
    (int, "positive", "0"), (int, "positive", "2.5"), (int, "non-negative", "-1"), (float, "positive", "0"),
    (float, "positive", "nan"), (float, "positive", "inf"), (float, "non-negative", "x"), (int, None, "x"),
])
def test_parse_number_refuses(kind, value_range, text):
    with pytest.raises(argparse.ArgumentTypeError, match=f"got {text!r}"):
        parse_number(kind, value_range)(text)


def test_a_field_without_default_is_a_required_flag():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["select", "--features", "F.npy", "--target", "Y.npy"])
    args = build_parser().parse_args(["select", "--features", "F.npy", "--target", "Y.npy", "-n", "4"])
    assert config_from_flags(SelectionConfig, args, options.SELECTION_FIELDS, flags=options.SELECTION_RENAMES).n == 4


def test_a_field_without_help_cannot_become_a_flag():
    @dataclasses.dataclass(frozen=True)
    class Bare:
        size: int = 3

    with pytest.raises(TypeError, match="no help text"):
        add_config_flags(argparse.ArgumentParser(), Bare, ["size"])


def test_positional_fields_round_trip():
    args = build_parser().parse_args(["run", "rates", "--workers", "2", "--no-figures"])
    run = config_from_flags(options.RunOptions, args, [f.name for f in dataclasses.fields(options.RunOptions)])
    assert (run.experiment, run.workers, run.no_figures, run.quick) == ("rates", 2, True, False)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "rates", "--workers", "0"])
