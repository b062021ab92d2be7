"""The gfs command line: help, the parser's one-line refusals, the registry listing and the quieting of
third-party warnings (the commands themselves: test_networks.py, test_runs.py)."""

import subprocess
import sys

import pytest

from sims.cli.commands import main


def test_help_lists_subcommands():
    result = subprocess.run([sys.executable, "-m", "sims.cli.commands", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "train" in result.stdout


def test_out_of_range_numbers_are_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--width", "0"])
    assert exit_info.value.code == 2
    assert "--width" in capsys.readouterr().err


def test_list_names_every_registry(capsys):
    from sims.baselines.methods import PRUNING_METHODS
    from sims.experiments import EXPERIMENTS
    from sims.selection.engine import METHODS

    assert main(["list"]) == 0
    lines = {line.split(":")[0]: line for line in capsys.readouterr().out.splitlines()}
    assert all(name in lines["experiments"] for name in EXPERIMENTS)
    assert all(name in lines["methods"] for name in METHODS)
    assert all(name in lines["pruning"] for name in PRUNING_METHODS)


def test_third_party_warnings_and_logs_are_hidden_unless_verbose(monkeypatch):
    """torch's and Dask's warnings (a pickle-protocol note, "Sending large graph") and Dask's
    logs below critical are not shown by a command; the toolkit's own warnings are."""
    import logging
    import os
    import warnings

    from sims.cli.commands import _quiet_third_party

    monkeypatch.delenv("DASK_LOGGING__DISTRIBUTED", raising=False)
    levels = {name: logging.getLogger(name).level for name in ("distributed", "dask")}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _quiet_third_party()
            for module in ("torch._weights_only_unpickler", "distributed.client", "dask.base", "sims.nets.train"):
                warnings.warn_explicit("a note", UserWarning, f"{module}.py", 1, module=module)
        assert [w.filename for w in caught] == ["sims.nets.train.py"]
        assert logging.getLogger("distributed").getEffectiveLevel() >= logging.ERROR
        assert logging.getLogger("distributed.worker").getEffectiveLevel() >= logging.ERROR
        assert os.environ["DASK_LOGGING__DISTRIBUTED"] == "critical"  # read by the worker processes
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
