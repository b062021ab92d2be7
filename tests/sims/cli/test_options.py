"""sims.cli.options: the one table of which config fields each command takes as flags agrees with the
parser flag for flag (help and default from the field), and a command may tighten a field's range."""

import argparse
import dataclasses

import pytest

from sims.cli.commands import COMMANDS, build_parser
from sims.cli.flags import flag_name
from sims.cli.options import TRAIN_RANGES, command_flags
from sims.nets.train import TrainConfig


def test_every_flag_of_every_command_comes_from_a_config_field():
    """The parser has exactly the flags of command_flags(), each with its field's help and
    default: no hand-written flag remains."""
    parser = build_parser()
    (commands,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    flag_sets = command_flags()
    assert set(commands.choices) == set(COMMANDS) == set(flag_sets)
    for command, subparser in commands.choices.items():
        actions = {}
        for action in subparser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            for name in action.option_strings or [action.dest]:
                actions[name] = action
        declared = {}
        for flag_set in flag_sets[command]:
            fields = {f.name: f for f in dataclasses.fields(flag_set.config_class)}
            for name in flag_set.names:
                positional = fields[name].metadata.get("positional")
                declared[name if positional else flag_name(name, flag_set.renames)] = fields[name]
        assert set(actions) == set(declared), command
        for flag, field in declared.items():
            action = actions[flag]
            assert action.help.startswith(field.metadata["help"]), (command, flag)
            if isinstance(field.default, tuple):  # a tuple flag holds its comma-separated text
                assert action.default == ",".join(map(str, field.default)), (command, flag)
            elif field.default is not dataclasses.MISSING:
                assert action.default == field.default, (command, flag)
            else:
                assert action.required or not action.option_strings, (command, flag)


def test_a_command_can_tighten_a_range():
    """TrainConfig allows 0 iterations (E3 measures step 0); `gfs train` refuses them."""
    assert TrainConfig(iterations=0).iterations == 0
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--iterations", "0"])
    assert TRAIN_RANGES == {"iterations": "positive"}
