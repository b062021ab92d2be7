"""The resumable, parallel sweep runner.

An experiment (a :class:`sims.experiments.record.Experiment` record, looked up by :func:`experiments`)
is a frozen dataclass config plus two plain functions: ``cells(config) -> list[dict]`` (the
independent units of work, each a small JSON-able dict) and ``run_cell(config, cell) -> list[dict]``
(tidy rows, :mod:`sims.results.schema`). The runner

- names the results folder by the experiment and a hash of the config's non-default fields;
  a folder whose ``config.json`` belongs to another config is refused (:mod:`sims.results.folder`);
- writes every finished cell to ``cells/<key>.csv`` atomically and skips it on a rerun, so a
  run killed at any moment resumes and ends with the same rows as an uninterrupted one;
- records each cell file's row count and SHA-256 in ``checksums.json`` and checks finished
  cells before resuming (cells without a record, e.g. from older versions, by schema only);
- runs pending cells in this process (workers = 1), in a local Dask cluster of ``workers``
  processes, or on an existing Dask scheduler (``scheduler`` address);
- concatenates the cells, in the order ``cells`` returns them, into ``rows.csv`` and writes
  ``meta.json`` (config, package versions, seed, git revision: :mod:`sims.results.provenance`).

Each cell runs with one torch thread and one numpy/scipy BLAS thread, whatever the worker
count, so the rows do not depend on how the work was spread.
"""

from __future__ import annotations

import collections
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Callable

import torch
from threadpoolctl import threadpool_limits

from sims.data.datasets import MNIST_FILES, DataFilesMissing, mnist_directory
from sims.experiments import EXPERIMENTS
from sims.experiments.configs import MAX_CELLS, config_from_mapping
from sims.experiments.record import Experiment
from sims.foundations.composed import cell_record, flat_record
from sims.foundations.errors import InputError
from sims.foundations.extras import require
from sims.foundations.guards import CONNECT_TIMEOUT_SECONDS, check_memory, check_workers
from sims.foundations.io import atomic_write, check_choice
from sims.results.folder import (cell_key, fields_hash, non_default_fields, prepare_folder, read_cell,
                                 read_checksums, remove_empty_folder, results_folder, stored_config, write_cell)
from sims.results.provenance import git_revision, package_versions
from sims.results.rows import rows_to_csv

__all__ = ["register", "experiments", "get_experiment", "run_experiment", "run_experiments", "check_results_folder",
           "check_data_files"]


# Experiments added with :func:`register` (a test's toy experiment, a plug-in), beside the
# toolkit's own table sims.experiments.EXPERIMENTS.
_REGISTERED: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    """Add an experiment that is not one of the toolkit's own (sims.experiments.EXPERIMENTS);
    registering a name again replaces the earlier record. Returns the experiment."""
    _REGISTERED[experiment.name] = experiment
    return experiment


def experiments() -> dict[str, Experiment]:
    """Every experiment by name: the toolkit's own in their order, then the registered ones."""
    return {**EXPERIMENTS, **_REGISTERED}


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; an unknown name raises an InputError listing the known ones."""
    table = experiments()
    return table[check_choice("experiment", name, table)]


def _run_cell_isolated(experiment_name: str, config, cell: dict) -> tuple[list[dict], dict]:
    """Run one cell with one torch thread and one BLAS thread for numpy/scipy, so that
    reductions happen in the same order however the work is spread: identical rows whatever
    the worker count. Returns the rows and the cell's cost, ``{"wall_seconds", "cpu_seconds"}``
    (CPU time of the process running it, user plus system)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        with threadpool_limits(limits=1):
            rows = get_experiment(experiment_name).run_cell(config, cell)
    finally:
        torch.set_num_threads(threads)
    cost = {"wall_seconds": round(time.perf_counter() - wall, 3), "cpu_seconds": round(time.process_time() - cpu, 3)}
    return rows, cost



def check_data_files(experiment: Experiment, config) -> None:
    """Refuse, before any folder or work, a run whose data files are absent: for each data set
    the experiment declares (``experiment.data(config)``, DatasetConfig records) that reads files
    (full MNIST) and may not download them, raise the InputError naming the missing file and
    where to put it."""
    if experiment.data is None:
        return
    for dataset in experiment.data(config):
        if dataset.name != "mnist" or dataset.download:
            continue
        directory = mnist_directory(dataset)
        for stem in (stem for files in MNIST_FILES.values() for stem in files):
            if not any((directory / name).is_file() for name in (stem, f"{stem}.gz")):
                error = DataFilesMissing(stem, directory)
                raise InputError(f"experiment {experiment.name} needs full MNIST: "
                                 + error.hint(set_directory="set $GFS_MNIST_DIR",
                                              download="run `gfs train --data mnist --download` once")) from None



def run_experiment(
    name: str,
    config=None,
    *,
    out: str | Path = "results",
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool | str = True,
    log: Callable[[str], None] = print,
) -> Path:
    """Run (or resume) experiment ``name`` with ``config`` (default: the config class's defaults).

    Returns the results folder, which then holds ``rows.csv``, ``meta.json``, ``config.json``,
    ``cells/`` and ``checksums.json``. ``workers`` > 1 starts a local Dask cluster; ``scheduler``
    connects to an existing one. Finished cell files are checked (schema, and row count and
    checksum where recorded) before any work starts; a damaged one raises an InputError naming
    it. If the run fails before any cell finishes, the folders it created are removed. With
    ``progress``, a bar on a terminal, otherwise one ``log`` line per finished cell
    (``progress="lines"``: lines on a terminal too).
    """
    check_workers("workers", workers)
    run = _ExperimentRun(name, config, out, progress, log)
    try:
        if run.pending and (workers > 1 or scheduler):
            _run_on_dask([run], workers, scheduler)
        else:
            for key, cell in run.pending:
                with _out_of_memory_is_input(run.name, cell):
                    result = _run_cell_isolated(run.name, run.config, cell)
                run.finish(key, *result)
    except BaseException:
        run.abandon()
        raise
    return run.complete()


def run_experiments(
    requests: list[tuple[str, object]],
    *,
    out: str | Path = "results",
    workers: int = 1,
    scheduler: str | None = None,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Run (or resume) several experiments, ``requests`` = [(name, config or None), ...], and
    return their results folders in the same order.

    With one worker they run one after the other, as :func:`run_experiment`. With ``workers`` > 1
    (or a ``scheduler``) every pending cell of every experiment goes to one cluster at once (a
    local one of ``workers`` processes unless ``scheduler`` is given), so no worker idles at the
    end of one experiment while another has work, and the worker processes (with the data sets
    they cache) stay up for the whole run. Progress is one log line per finished cell, prefixed
    with the experiment's name. Rows are those of separate runs: each cell runs alone on one
    thread, wherever it runs. A failing cell stops the run, as in :func:`run_experiment`.
    """
    check_workers("workers", workers)
    if len(requests) < 2 or (workers == 1 and not scheduler):
        return [run_experiment(name, config, out=out, workers=workers, scheduler=scheduler, log=log)
                for name, config in requests]
    runs = []
    try:
        for name, config in requests:  # every folder is checked before any work starts
            runs.append(_ExperimentRun(name, config, out, "lines", log))
        _run_on_dask(runs, workers, scheduler)
    except BaseException:
        for run in runs:
            run.abandon()
        raise
    return [run.complete() for run in runs]


class _ExperimentRun:
    """One experiment's run in progress: its folder prepared and checked, the pending cells, and
    the writing of each finished cell (``finish``), of rows.csv and meta.json (``complete``), or
    the removal of what it created if it ends before any cell finished (``abandon``)."""

    def __init__(self, name: str, config, out, progress: bool | str, log: Callable[[str], None]):
        experiment = get_experiment(name)
        self.name, self.progress, self.log = name, progress, log
        self.config = experiment.config_class() if config is None else config
        # the cells are listed before anything is written: a config they refuse leaves no folder
        cells = experiment.cells(self.config)
        if len(cells) > MAX_CELLS:
            raise InputError(f"experiment {name}: the config gives {len(cells):,} cells, more than the {MAX_CELLS:,} "
                             "a run takes (the largest full-scale experiment has about 200); use fewer seeds or sizes")
        self.keys = [cell_key(cell) for cell in cells]
        if len(set(self.keys)) != len(self.keys):
            counts = collections.Counter(self.keys)
            repeated = next(cell for cell, key in zip(cells, self.keys) if counts[key] > 1)
            raise InputError(f"experiment {name}: the config gives the cell {json.dumps(cell_record(repeated))} "
                             "more than once (a value repeated in a list of the config?); give each value once")
        check_data_files(experiment, self.config)
        if experiment.memory is not None:
            for parameter, needed, what in experiment.memory(self.config):
                check_memory(parameter, needed, f"experiment {name}: {what}")
        self.folder = folder = results_folder(out, name, self.config)
        self.first_created = next((path for path in reversed((folder, *folder.parents)) if not path.exists()), None)
        prepare_folder(folder, name, self.config)
        self.checksums = read_checksums(folder)
        finished = [key for key in self.keys if (folder / "cells" / f"{key}.csv").exists()]
        for key in finished:  # a damaged cell file stops the run before any work is spent
            read_cell(folder, key, self.checksums)
        done_before = set(finished)
        self.pending = [(key, cell) for key, cell in zip(self.keys, cells) if key not in done_before]
        log(f"{name}: {len(cells)} cells, {len(finished)} already done, results in {folder}")
        self.started = time.time()
        self.written: list[str] = []
        self.bar = None
        if progress and progress != "lines" and self.pending and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=len(self.pending), desc=name, unit="cell")

    def finish(self, key: str, rows: list[dict], cost: dict) -> None:
        """Write one finished cell atomically and record its checksum and cost."""
        for row in rows:
            row.setdefault("experiment", self.name)
        write_cell(self.folder, key, rows, self.checksums, cost)
        self.written.append(key)
        if self.bar is not None:
            self.bar.update(1)
        elif self.progress:
            self.log(f"{self.name}: cell {len(self.written)}/{len(self.pending)} finished after "
                     f"{time.time() - self.started:.1f} s ({key})")

    def abandon(self) -> None:
        """After a failure: close the bar; if no cell finished, remove the folders this run made."""
        if self.bar is not None:
            self.bar.close()
        if self.first_created is not None and not self.written:
            remove_empty_folder(self.folder, self.first_created)

    def complete(self) -> Path:
        """Write rows.csv (the cells in the order ``cells`` listed them) and meta.json."""
        if self.bar is not None:
            self.bar.close()
        all_rows = []
        for key in self.keys:
            all_rows.extend(read_cell(self.folder, key, self.checksums))
        atomic_write(self.folder / "rows.csv", lambda temporary: Path(temporary).write_text(rows_to_csv(all_rows)))
        meta = {
            "experiment": self.name,
            "config": flat_record(self.config),
            "non_default_fields": non_default_fields(self.config),
            "seed": getattr(self.config, "seed", None),
            "versions": package_versions(),
            "git_revision": git_revision(),
            "cells": len(self.keys),
            "seconds_this_run": round(time.time() - self.started, 2),
            "cell_cpu_seconds_this_run": round(sum(self.checksums[key].get("cpu_seconds", 0.0)
                                                   for key in self.written), 2),
        }
        text = json.dumps(meta, indent=2, default=list) + "\n"
        atomic_write(self.folder / "meta.json", lambda temporary: Path(temporary).write_text(text))
        return self.folder


@contextlib.contextmanager
def _out_of_memory_is_input(name: str, cell: dict):
    """A cell that runs out of memory (numpy's MemoryError, torch's allocator error) is a config
    too large for this machine: an InputError naming the experiment and the cell."""
    try:
        yield
    except MemoryError as error:
        raise InputError(f"experiment {name}: cell {json.dumps(cell_record(cell))} ran out of memory ({error}); choose smaller "
                         "sizes in the config") from None
    except RuntimeError as error:
        text = str(error)
        if not ("not enough memory" in text or "out of memory" in text or "can't allocate memory" in text):
            raise
        first = next((line for line in text.splitlines() if "memory" in line), text.splitlines()[0])
        raise InputError(f"experiment {name}: cell {json.dumps(cell_record(cell))} ran out of memory "
                         f"({first.strip()}); choose smaller sizes in the config") from None


@contextlib.contextmanager
def _local_cluster(workers: int):
    """A local Dask cluster of ``workers`` single-threaded worker processes (closed on exit)."""
    dask = require("dask", "a parallel run (--workers, --scheduler)")
    LocalCluster = require("dask.distributed", "a parallel run (--workers, --scheduler)").LocalCluster

    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_, which turns off glibc's dynamic mmap threshold:
    # every large temporary of a GD step is then mapped and zero-filled anew (most of a
    # cell's system time). A 64 MiB top pad keeps freed memory in the heap for reuse.
    environment = dict(dask.config.get("distributed.nanny.pre-spawn-environ"), MALLOC_TOP_PAD_=str(64 << 20))
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environment}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    try:
        yield cluster
    finally:
        cluster.close()


def _run_on_dask(runs: list[_ExperimentRun], workers: int, scheduler: str | None) -> None:
    """Every pending cell of ``runs`` on one Dask cluster (local unless ``scheduler``), each
    finished cell handed to its run's ``finish`` as it completes."""
    distributed = require("dask.distributed", "a parallel run (--workers, --scheduler)")
    Client, as_completed = distributed.Client, distributed.as_completed

    with contextlib.ExitStack() as stack:
        if not scheduler:
            scheduler = stack.enter_context(_local_cluster(workers)).scheduler_address
        client = stack.enter_context(contextlib.closing(Client(scheduler, timeout=f"{CONNECT_TIMEOUT_SECONDS * 3:g}s")))
        futures = {client.submit(_run_cell_isolated, run.name, run.config, cell, pure=False): (run, key)
                   for run in runs for key, cell in run.pending}
        cells = {(run.name, key): cell for run in runs for key, cell in run.pending}
        for future in as_completed(futures):
            run, key = futures[future]
            with _out_of_memory_is_input(run.name, cells[run.name, key]):
                result = future.result()
            run.finish(key, *result)


def check_results_folder(folder: str | Path) -> None:
    """Check a finished results folder before its rows are trusted (by ``gfs report`` and
    ``gfs figures``): config.json present and matching the folder's hash, meta.json a JSON
    object of the same experiment and config, checksums.json readable and every cell file it
    records matching its row count and SHA-256. The first problem raises an InputError naming
    the file."""
    folder = Path(folder)
    stored = stored_config(folder)
    if stored is None:
        raise InputError(f"results folder {str(folder)!r} has no config.json, so nothing says which config computed "
                         "its rows; rerun its experiment into another --out, or delete it")
    try:
        experiment = get_experiment(stored["experiment"])
        config_from_mapping(experiment.config_class, stored["config"])
    except (ValueError, TypeError) as error:
        raise InputError(f"results folder {str(folder)!r} cannot be read by this version of gfs-toolkit ({error}); "
                         "rerun its experiment into another --out, or delete it") from None
    path = folder / "meta.json"
    if not path.exists():
        raise InputError(f"results folder {str(folder)!r} has no meta.json (the record a finished run writes); "
                         "rerun its experiment (`gfs run`) to complete the folder, or delete it")
    try:
        meta = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        meta = None
    if not isinstance(meta, dict) or not isinstance(meta.get("cells"), int) or "git_revision" not in meta:
        raise InputError(f"{str(path)!r} is damaged (not the JSON object a finished run writes); rerun its "
                         "experiment (`gfs run`) to rewrite it, or delete the folder")
    if meta.get("experiment") != stored["experiment"] or meta.get("config") != stored["config"]:
        raise InputError(f"{str(path)!r} and config.json of its folder describe different runs (one was edited); "
                         "rerun its experiment (`gfs run`) to rewrite them, or delete the folder")
    recorded = meta.get("non_default_fields")
    if isinstance(recorded, dict):  # the fields the folder's name was hashed from when it was written
        expected = fields_hash(recorded)
        if folder.name != f"{stored['experiment']}-{expected}":
            raise InputError(f"results folder {str(folder)!r} is not named by its config (its meta.json hashes to "
                             f"{stored['experiment']}-{expected}): renamed or edited; rerun its experiment, or delete it")
    checksums = read_checksums(folder)
    for key in sorted(checksums):
        if (folder / "cells" / f"{key}.csv").exists():
            read_cell(folder, key, checksums)
