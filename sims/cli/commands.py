"""The ``gfs`` command line: the parser and the dispatch. Each subcommand is one function
``command_<name>(args)`` (:mod:`sims.cli.networks`: train, select, prune, compare;
:mod:`sims.cli.runs`: run, figures, report; ``list`` here) plus its flags, generated from config
fields (:func:`sims.cli.options.command_flags`); errors in user input end in one line and exit
status 2."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings

from sims.baselines.methods import PRUNING_METHODS
from sims.cli.flags import add_config_flags
from sims.cli.networks import command_compare, command_prune, command_select, command_train
from sims.cli.options import command_flags
from sims.cli.runs import command_figures, command_report, command_run
from sims.data.datasets import DATASETS
from sims.experiments.runner import experiments
from sims.foundations.errors import InputError
from sims.nets.model import ACTIVATIONS
from sims.nets.train import TrainingDiverged
from sims.selection.engine import METHODS

__all__ = ["main", "build_parser", "COMMANDS", "command_list"]


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (``gfs <command>: error: ...``, exit
    status 2) instead of the usage text followed by the error; ``--help`` still prints the usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def command_list(args) -> None:
    """Print the registries."""
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
    "compare": (command_compare, "trade-off of the pruning methods on a plain nn.Sequential MLP state dict"),
}


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
    for module in (r"torch(\.|$)", r"distributed(\.|$)", r"dask(\.|$)"):
        warnings.filterwarnings("ignore", module=module)
    for name in ("distributed", "dask"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "critical")  # a failing cell reaches the client anyway
    if "dask" in sys.modules:  # already imported (a test, a notebook): set it there too
        import dask

        dask.config.set({"logging.distributed": "critical"})


def main(argv: list[str] | None = None) -> int:
    """The ``gfs`` console script: parse ``argv`` (default sys.argv[1:]) and run the command. Returns
    the exit status: 0, 2 for refused input (one line on stderr), 130 when interrupted."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except KeyboardInterrupt:  # Ctrl-C while the command is still being read
        print("gfs: interrupted", file=sys.stderr)
        return 130

    with warnings.catch_warnings():
        if not args.verbose:
            _quiet_third_party()
        return _run_command(args)


def _run_command(args) -> int:
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
