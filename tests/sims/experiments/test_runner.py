"""The sweep runner: hashed folders, refusal of foreign folders, config parsing, resumption
after a kill, and identical rows whatever the worker count."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from sims.cli.commands import main
from sims.experiments.runner import run_experiment
from sims.foundations.composed import from_flat_record
from sims.results.folder import config_hash, results_folder
from sims.results.rows import read_rows

TOY_MODULE = textwrap.dedent(
    '''
    """A toy experiment whose cells sleep, so a run can be killed mid-sweep."""
    import time
    from dataclasses import dataclass

    import numpy as np

    from sims.experiments.runner import Experiment, register


    @dataclass(frozen=True)
    class ToyConfig:
        cells: int = 8
        pause: float = 0.0
        seed: int = 0


    def cells(config):
        return [{"index": i} for i in range(config.cells)]


    def run_cell(config, cell):
        time.sleep(config.pause)
        rng = np.random.default_rng([config.seed, cell["index"]])
        return [{"dataset": "toy", "method": "noise", "m": 3, "n": cell["index"], "seed": config.seed,
                 "metric": "draw", "value": float(value)} for value in rng.standard_normal(3)]


    register(Experiment("toy", ToyConfig, lambda: ToyConfig(cells=3), cells, run_cell,
                        figures=lambda rows, config, folder: [], claims=lambda rows, config: []))
    '''
)


@pytest.fixture()
def toy(tmp_path, monkeypatch):
    """Write the toy experiment as a module, importable here and in subprocesses."""
    (tmp_path / "toy_experiment.py").write_text(TOY_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    module = importlib.import_module("toy_experiment")
    importlib.reload(module)
    return module


def test_rerun_skips_finished_cells_and_reproduces_rows(toy, tmp_path):
    folder = run_experiment("toy", toy.ToyConfig(), out=tmp_path / "out", progress=False, log=lambda _: None)
    first = (folder / "rows.csv").read_text()
    cell_files = sorted((folder / "cells").iterdir())
    assert len(cell_files) == 8
    os.remove(cell_files[3])
    messages = []
    run_experiment("toy", toy.ToyConfig(), out=tmp_path / "out", progress=False, log=messages.append)
    assert "7 already done" in messages[0]
    assert (folder / "rows.csv").read_text() == first
    assert len(read_rows(folder / "rows.csv")) == 24


def test_each_cell_records_its_wall_and_cpu_seconds(toy, tmp_path):
    """checksums.json keeps each cell's cost beside its checksum: a sleeping cell spends wall time,
    not CPU time; meta.json sums the CPU seconds of the cells this run computed."""
    import json

    folder = run_experiment("toy", toy.ToyConfig(cells=2, pause=0.3), out=tmp_path / "out", progress=False,
                            log=lambda _: None)
    table = json.loads((folder / "checksums.json").read_text())
    for record in table.values():
        assert record["wall_seconds"] >= 0.3
        assert 0 <= record["cpu_seconds"] < 0.25
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["cell_cpu_seconds_this_run"] == pytest.approx(sum(r["cpu_seconds"] for r in table.values()), abs=0.01)


def test_folder_of_another_config_is_refused(toy, tmp_path):
    folder = run_experiment("toy", toy.ToyConfig(cells=2), out=tmp_path, progress=False, log=lambda _: None)
    (folder / "config.json").write_text('{"experiment": "toy", "config": {"cells": 99}}\n')
    with pytest.raises(ValueError, match="written by another config .*config.json differs"):
        run_experiment("toy", toy.ToyConfig(cells=2), out=tmp_path, progress=False, log=lambda _: None)


def test_killed_run_resumes_to_identical_rows(toy, tmp_path):
    script = (
        "import sys; sys.path.insert(0, {path!r}); import toy_experiment; "
        "from sims.experiments.runner import run_experiment; "
        "run_experiment('toy', toy_experiment.ToyConfig(pause={pause}), out={out!r}, progress=False)"
    )
    reference = run_experiment("toy", toy.ToyConfig(pause=0.0), out=tmp_path / "reference", progress=False,
                               log=lambda _: None)
    out = str(tmp_path / "killed")
    process = subprocess.Popen([sys.executable, "-c", script.format(path=str(tmp_path), pause=0.4, out=out)])
    folder = tmp_path / "killed" / reference.name.replace(reference.name.split("-")[1], config_hash(toy.ToyConfig(pause=0.4)))
    deadline = time.time() + 60
    while time.time() < deadline:
        done = list((folder / "cells").glob("*.csv")) if (folder / "cells").exists() else []
        if len(done) >= 3:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = list((folder / "cells").glob("*.csv"))
    assert 3 <= len(done) < 8, "the kill should land mid-sweep"
    assert not (folder / "rows.csv").exists()
    resumed = run_experiment("toy", toy.ToyConfig(pause=0.4), out=out, progress=False, log=lambda _: None)
    assert resumed == folder
    assert (resumed / "rows.csv").read_text() == (reference / "rows.csv").read_text()
    leftovers = [p.name for p in (folder / "cells").iterdir() if not p.name.endswith(".csv")]
    assert leftovers == []  # atomic writes leave no temporary files


def test_dask_workers_give_identical_rows(tmp_path):
    from sims.experiments.exponential import ExponentialConfig

    config = from_flat_record(ExponentialConfig, dict(
        seeds=(0, 1), dense_iterations=50, contraction_width=60, contraction_n_max=20, methods=("gfs", "fw"),
        phase_m=(4,), phase_width=80, phase_n_max=40, grid_points=4, max_radius_dim=8))
    serial = run_experiment("exponential", config, out=tmp_path / "serial", progress=False, log=lambda _: None)
    parallel = run_experiment("exponential", config, out=tmp_path / "parallel", workers=2, progress=False,
                              log=lambda _: None)
    assert (serial / "rows.csv").read_text() == (parallel / "rows.csv").read_text()


def test_experiments_sharing_one_cluster_give_the_rows_of_separate_runs(tmp_path):
    """gfs run all --workers 2: every experiment's cells on one cluster at once; each folder ends
    with the rows, cell files and checksums of a one-process run of that experiment alone."""
    import json

    from sims.experiments.exponential import ExponentialConfig
    from sims.experiments.submodularity import SubmodularityConfig
    from sims.experiments.runner import run_experiments

    requests = [
        ("exponential", from_flat_record(ExponentialConfig, dict(
            seeds=(0, 1), dense_iterations=30, contraction_width=40, contraction_n_max=10, methods=("gfs", "fw"),
            phase_m=(4,), phase_width=50, phase_n_max=20, grid_points=4, max_radius_dim=8))),
        ("submodularity", SubmodularityConfig(instances=3, sizes=(2,), m_values=(3,))),
    ]
    lines = []
    shared = run_experiments(requests, out=tmp_path / "shared", workers=2, log=lines.append)
    assert [folder.name.split("-")[0] for folder in shared] == ["exponential", "submodularity"]
    for (name, config), folder in zip(requests, shared):
        alone = run_experiment(name, config, out=tmp_path / "alone", progress=False, log=lambda _: None)
        assert (folder / "rows.csv").read_text() == (alone / "rows.csv").read_text()
        table = json.loads((folder / "checksums.json").read_text())
        assert {key: record["sha256"] for key, record in table.items()} == {
            key: record["sha256"] for key, record in json.loads((alone / "checksums.json").read_text()).items()}
        assert sum(line.startswith(f"{name}: cell ") for line in lines) == len(table)


def test_a_refused_folder_stops_every_experiment_before_any_work(toy, tmp_path):
    """run_experiments checks every folder before submitting anything: a foreign folder for the
    second request raises, and the first request's new folders are removed again."""
    from sims.experiments.runner import run_experiments

    foreign = results_folder(tmp_path / "out", "toy", toy.ToyConfig(cells=2))
    (foreign / "cells").mkdir(parents=True)
    (foreign / "config.json").write_text('{"experiment": "other", "config": {}}')
    with pytest.raises(ValueError, match="was written by another config"):
        run_experiments([("toy", toy.ToyConfig(cells=3)), ("toy", toy.ToyConfig(cells=2))], out=tmp_path / "out",
                        workers=2, log=lambda _: None)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [foreign.name]


@pytest.mark.parametrize(
    "arguments,message",
    [(["run", "nonsense"], "unknown experiment 'nonsense'; valid:"),
     (["run", "rates", "--config", "{config}"], "does not parse as TOML"),
     (["run", "rates", "--config", "{keys}"], "unknown config key(s) bogus_key"),
     (["run", "rates", "--config", "{methods}"], "unknown methods ['nope']; valid: gfs"),
     (["report", "--out", "{empty}"], "no finished results")],
)
def test_cli_run_errors_are_one_line(tmp_path, capsys, arguments, message):
    (tmp_path / "bad.toml").write_text("this is = = not toml")
    (tmp_path / "keys.toml").write_text("bogus_key = 3\n")
    (tmp_path / "methods.toml").write_text('[rates]\nmethods = ["gfs", "nope"]\n')
    (tmp_path / "empty").mkdir()
    filled = [a.format(config=tmp_path / "bad.toml", keys=tmp_path / "keys.toml", empty=tmp_path / "empty",
                       methods=tmp_path / "methods.toml") for a in arguments]
    assert main(filled + ["--out", str(tmp_path / "out")] if arguments[0] == "run" else filled) == 2
    stderr = capsys.readouterr().err
    assert message in stderr and "Traceback" not in stderr
    assert not (tmp_path / "out").exists()


def test_unwritable_output_folder_is_reported(tmp_path, capsys):
    if os.geteuid() == 0:
        blocked = tmp_path / "file"
        blocked.write_text("a file, not a folder")
        target = blocked / "sub"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = locked / "sub"
    assert main(["run", "exponential", "--quick", "--out", str(target)]) == 2
    error = capsys.readouterr().err
    assert f"--out '{target}' cannot be" in error and ("not writable" in error or "is a file" in error)


def test_folder_written_before_a_defaulted_field_existed_still_resumes(toy, tmp_path):
    """A config.json that lacks a field the config class gained since (at its default) is the
    same config: the run resumes. A stored value that differs is still refused."""
    import json

    folder = run_experiment("toy", toy.ToyConfig(cells=2), out=tmp_path, progress=False, log=lambda _: None)
    stored = json.loads((folder / "config.json").read_text())
    del stored["config"]["pause"]  # as if written before `pause` existed
    (folder / "config.json").write_text(json.dumps(stored))
    messages = []
    run_experiment("toy", toy.ToyConfig(cells=2), out=tmp_path, progress=False, log=messages.append)
    assert "2 already done" in messages[0]
    stored["config"]["seed"] = 12345
    (folder / "config.json").write_text(json.dumps(stored))
    with pytest.raises(ValueError, match="written by another config"):
        run_experiment("toy", toy.ToyConfig(cells=2), out=tmp_path, progress=False, log=lambda _: None)


def test_a_parallel_run_without_dask_names_the_extra(toy, tmp_path, monkeypatch):
    """Without the [parallel] extra, --workers is one refusal naming the pip install, not a
    ModuleNotFoundError traceback from inside the runner."""
    from sims.foundations.extras import MissingExtra

    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(MissingExtra, match=r"parallel run.*gfs-toolkit\[parallel\]"):
        run_experiment("toy", toy.ToyConfig(cells=2), out=tmp_path / "out", workers=2, progress=False,
                       log=lambda _: None)
