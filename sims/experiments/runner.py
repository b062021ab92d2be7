"""The resumable, parallel sweep runner.

An experiment (a :class:`sims.experiments.record.Experiment` record, looked up by :func:`experiments`)
is a frozen dataclass config plus two plain functions: ``cells(config) -> list[dict]`` (the
independent units of work, each a small JSON-able dict) and ``run_cell(config, cell) -> list[dict]`` (tidy rows). The runner

- names the results folder by the experiment and a hash of the config's non-default fields;
  a folder whose ``config.json`` belongs to another config is refused;
- writes every finished cell to ``cells/<key>.csv`` atomically and skips it on a rerun, so a
  run killed at any moment resumes and ends with the same rows as an uninterrupted one;
- records each cell file's row count and SHA-256 in ``checksums.json`` and checks finished
  cells before resuming (cells without a record, e.g. from older versions, by schema only);
- runs pending cells in this process (workers = 1), in a local Dask cluster of ``workers``
  processes, or on an existing Dask scheduler (``scheduler`` address);
- concatenates the cells, in the order ``cells`` returns them, into ``rows.csv`` and writes
  ``meta.json`` (config, package versions, seed, git revision).

Each cell runs with one torch thread and one numpy/scipy BLAS thread, whatever the worker
count, so the rows do not depend on how the work was spread.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import hashlib
import io
import json
import math
import os
import platform
import subprocess
import sys
import time
import types
import typing
from dataclasses import asdict, fields
from pathlib import Path
from typing import Callable

from sims.foundations.errors import InputError
from sims.experiments.record import Experiment
from sims.foundations.extras import require
from sims.foundations.guards import CONNECT_TIMEOUT_SECONDS, check_workers
from sims.foundations.io import atomic_write, check_choice, remove_stale_temporaries

__all__ = [
    "Experiment", "COLUMNS", "register", "experiments", "get_experiment", "non_default_fields",
    "config_hash", "config_from_mapping", "results_folder", "rows_to_csv", "parse_rows", "read_rows",
    "CHECKSUMS", "read_cell", "cell_key", "package_versions", "git_revision", "run_experiment",
    "load_results", "run_experiments", "MAX_CELLS", "check_results_folder", "check_data_files"
]

# ``eps`` is the criterion a row was measured against (E3's T*(eps) rows); empty for the other
# experiments. Folders written before the column existed still load (eps None).
COLUMNS = ("experiment", "dataset", "method", "m", "n", "seed", "metric", "value", "step", "eps")


# Experiments added with :func:`register` (a test's toy experiment, a plug-in), beside the
# toolkit's own table sims.experiments.EXPERIMENTS.
_REGISTERED: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    """Add an experiment that is not one of the toolkit's own (sims.experiments.EXPERIMENTS);
    registering a name again replaces the earlier record. Returns the experiment."""
    _REGISTERED[experiment.name] = experiment
    return experiment


def experiments() -> dict[str, Experiment]:
    """Every experiment by name: the toolkit's own in their order, then the registered ones.
    The experiment modules are imported here, on first use, not when the runner is imported."""
    from sims.experiments import EXPERIMENTS

    return {**EXPERIMENTS, **_REGISTERED}


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; an unknown name raises an InputError listing the known ones."""
    table = experiments()
    return table[check_choice("experiment", name, table)]


# ---------------------------------------------------------------- configs


def non_default_fields(config) -> dict:
    """The fields of a frozen dataclass config that differ from their defaults, JSON-ready."""
    changed = {}
    for field in fields(config):
        value = getattr(config, field.name)
        if value != field.default:
            changed[field.name] = list(value) if isinstance(value, tuple) else value
    return changed


def config_hash(config) -> str:
    """10 hex digits of SHA-256 over the non-default fields (sorted JSON)."""
    text = json.dumps(non_default_fields(config), sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


_TYPE_NAMES = {int: ("an integer", "integers"), float: ("a number", "numbers"), str: ("a string", "strings"),
               bool: ("true or false", "booleans"), type(None): ("none", "nones")}


def _type_name(annotation, plural: bool = False) -> str:
    """How a config field's annotation reads in an error message: "an integer", "a list of strings"."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is tuple and len(arguments) == 2 and arguments[1] is Ellipsis:
        return f"a list of {_type_name(arguments[0], plural=True)}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(argument, plural) for argument in arguments)
    names = _TYPE_NAMES.get(annotation)
    return names[plural] if names else getattr(annotation, "__name__", str(annotation))


def _has_type(value, annotation) -> bool:
    """Whether a parsed TOML/JSON ``value`` fits a config field's annotation (lists for tuples;
    an integer is a number, a boolean is not)."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_has_type(value, argument) for argument in arguments)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            return False
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            return all(_has_type(item, arguments[0]) for item in value)
        return len(value) == len(arguments) and all(_has_type(v, a) for v, a in zip(value, arguments))
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if annotation is type(None):
        return value is None
    return True  # annotations this check does not know are left to the config's own validation


def config_from_mapping(config_class: type, mapping: dict, base=None):
    """Build ``config_class`` from ``mapping`` (e.g. a parsed TOML table) over ``base``.

    Unknown keys raise InputError listing the valid ones; a value that does not fit its field's
    annotation (``n_max = "fifty"``) raises ValueError naming the key and the accepted type.
    Lists become tuples.
    """
    valid = {field.name for field in fields(config_class)}
    unknown = sorted(set(mapping) - valid)
    if unknown:
        raise InputError(f"unknown config key(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
    try:
        annotations = typing.get_type_hints(config_class)
    except (NameError, TypeError):  # annotations that do not resolve at run time: no type check
        annotations = {}
    values = asdict(base) if base is not None else {}
    for key, value in mapping.items():
        annotation = annotations.get(key)
        if annotation is not None and not _has_type(value, annotation):
            raise InputError(f"config key {key} must be {_type_name(annotation)}, got {_short(value)}")
        if isinstance(value, list) and len(value) > MAX_CELLS:  # refused before any cell is listed
            raise InputError(f"config key {key} holds {len(value):,} entries, more than the {MAX_CELLS:,} cells a run "
                             "takes; give fewer")
        values[key] = tuple(tuple(v) if isinstance(v, list) else v for v in value) if isinstance(value, list) else value
    return config_class(**values)


def _short(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def results_folder(out: str | Path, experiment: str, config) -> Path:
    return Path(out) / f"{experiment}-{config_hash(config)}"


# ---------------------------------------------------------------- rows on disk


def _format(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    return str(value)


def rows_to_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise ValueError(f"row has columns outside {COLUMNS}: {sorted(unknown)}")
        writer.writerow([_format(row.get(column)) for column in COLUMNS])
    return buffer.getvalue()


_INTEGER_COLUMNS = ("m", "n", "seed", "step")
_REQUIRED_COLUMNS = ("experiment", "method", "metric", "value")


def parse_rows(text: str, source: str) -> list[dict]:
    """Rows of a tidy CSV text with numeric columns parsed (m, n, seed, step as int; value and
    eps as float; an empty cell, or a file without the ``eps`` column, gives None, value nan). The header must name known columns only (a subset of :data:`COLUMNS`, so files
    written before a column was added still load) and include experiment, method, metric and
    value; every row must have one field per header column and parse. Anything else raises a
    InputError naming ``source``."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise InputError(f"{source} is empty or not a CSV file; delete it to recompute it") from None
    unknown = [column for column in header if column not in COLUMNS]
    missing = [column for column in _REQUIRED_COLUMNS if column not in header]
    if unknown or missing or len(set(header)) != len(header):
        raise InputError(f"{source} does not have the tidy-row header (columns from {', '.join(COLUMNS)}); "
                         "delete it to recompute it")
    rows = []
    try:
        for line_number, fields_ in enumerate(reader, start=2):
            if len(fields_) != len(header):
                raise InputError(f"line {line_number} has {len(fields_)} fields, expected {len(header)}")
            row = dict(zip(header, fields_))
            for column in _INTEGER_COLUMNS:
                row[column] = int(row[column]) if row.get(column, "") != "" else None
            row["value"] = float(row["value"]) if row["value"] != "" else math.nan
            row["eps"] = float(row["eps"]) if row.get("eps", "") != "" else None
            rows.append(row)
    except (ValueError, csv.Error) as error:
        raise InputError(f"{source} is damaged ({error}); delete it to recompute it") from None
    return rows


def read_rows(path: str | Path) -> list[dict]:
    """Rows of a tidy CSV file (see :func:`parse_rows`); a malformed file raises an InputError
    naming it."""
    try:
        text = Path(path).read_text()
    except UnicodeDecodeError:
        raise InputError(f"{str(path)!r} is not a text CSV file; delete it to recompute it") from None
    return parse_rows(text, repr(str(path)))


# ---------------------------------------------------------------- cell files and their checksums
#
# ``checksums.json`` in a results folder maps each finished cell's key to the row count and the
# SHA-256 of its CSV text. It is rewritten (atomically) after each cell file is written, so a cell
# written by older code, or by a run killed between the two writes, has no entry; such a cell is
# checked for its schema only.

CHECKSUMS = "checksums.json"


def _read_checksums(folder: Path) -> dict:
    path = folder / CHECKSUMS
    if not path.exists():
        return {}
    try:
        table = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        raise InputError(f"{str(path)!r} is damaged (not JSON); delete it to check cell files by schema only") from None
    if not isinstance(table, dict):
        raise InputError(f"{str(path)!r} is damaged (not a JSON object); delete it to check cell files by schema only")
    return table


def read_cell(folder: Path, key: str, checksums: dict) -> list[dict]:
    """The rows of ``cells/<key>.csv``, checked against its recorded row count and SHA-256
    when ``checksums`` has an entry for ``key``, and for the tidy-row schema always. A damaged
    file raises an InputError naming it."""
    path = folder / "cells" / f"{key}.csv"
    try:
        data = path.read_bytes()
        text = data.decode()
    except UnicodeDecodeError:
        raise InputError(f"cell file {str(path)!r} is not a text CSV file; delete it to recompute that cell") from None
    record = checksums.get(key)
    if isinstance(record, dict):
        digest = hashlib.sha256(data).hexdigest()
        if digest != record.get("sha256"):
            raise InputError(f"cell file {str(path)!r} does not match its checksum in {CHECKSUMS} "
                             "(changed or truncated); delete it to recompute that cell")
    rows = parse_rows(text, f"cell file {str(path)!r}")
    if isinstance(record, dict) and len(rows) != record.get("rows"):
        raise InputError(f"cell file {str(path)!r} has {len(rows)} rows, {CHECKSUMS} records {record.get('rows')}; "
                         "delete it to recompute that cell")
    return rows


def cell_key(cell: dict) -> str:
    """A readable, filesystem-safe, unique key of a cell."""
    text = json.dumps(cell, sort_keys=True)
    readable = "_".join(f"{k}-{v}" for k, v in sorted(cell.items()) if isinstance(v, (int, str)))
    readable = "".join(c if c.isalnum() or c in "-_." else "-" for c in readable)[:80]
    return f"{readable}_{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def _run_cell_isolated(experiment_name: str, config, cell: dict) -> tuple[list[dict], dict]:
    """Run one cell with one torch thread and one BLAS thread for numpy/scipy, so that
    reductions happen in the same order however the work is spread: identical rows whatever
    the worker count. Returns the rows and the cell's cost, ``{"wall_seconds", "cpu_seconds"}``
    (CPU time of the process running it, user plus system)."""
    import torch
    from threadpoolctl import threadpool_limits

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


# ---------------------------------------------------------------- provenance


def package_versions() -> dict:
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for package in ("numpy", "scipy", "torch", "matplotlib", "dask", "gfs-toolkit"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def git_revision() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        ).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


# ---------------------------------------------------------------- the run

#: the most cells one experiment's run takes: checksums.json is rewritten after every cell, so
#: the bytes written grow with the square of the count (10,000 cells: about 8 GB)
MAX_CELLS = 10_000


def check_data_files(experiment: Experiment, config) -> None:
    """Refuse, before any folder or work, a run whose data files are absent: for each data set
    the experiment declares (``experiment.data(config)``, DatasetConfig records) that reads files
    (full MNIST) and may not download them, raise the InputError naming the missing file and
    where to put it."""
    if experiment.data is None:
        return
    from sims.data.datasets import MNIST_FILES, DataFilesMissing, mnist_directory

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


def _prepare_folder(folder: Path, experiment: str, config) -> None:
    config_text = json.dumps({"experiment": experiment, "config": asdict(config)}, indent=2, sort_keys=True, default=list)
    existing, stored = folder / "config.json", None
    if folder.is_dir():  # an earlier run's folder: trusted only as far as it checks out
        stored = _stored_config(folder)
        if stored is None and any((folder / "cells").glob("*.csv")):
            raise InputError(f"results folder {str(folder)!r} holds cell files but no config.json, so nothing says "
                             "which config computed them; delete the folder to recompute it")
    try:
        (folder / "cells").mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"output folder {str(folder.parent)!r} is not writable: {error.strerror}") from None
    if not os.access(folder, os.W_OK):
        raise InputError(f"output folder {str(folder)!r} is not writable")
    for place in (folder, folder / "cells"):  # leftovers of writes killed mid-way
        remove_stale_temporaries(place)
    if existing.exists():
        if existing.read_text() != config_text + "\n":
            if not _same_config(stored, experiment, config):
                raise InputError(
                    f"results folder {str(folder)!r} was written by another config (its config.json differs: another "
                    "run's, or edited); choose another --out or delete it")
            atomic_write(existing, lambda temporary: Path(temporary).write_text(config_text + "\n"))
    else:
        atomic_write(existing, lambda temporary: Path(temporary).write_text(config_text + "\n"))


def _stored_config(folder: Path) -> dict | None:
    """The parsed config.json of a results folder (None when it has none): a JSON object naming
    the experiment and its config; anything else raises an InputError naming the file. (Its
    hash is not compared with the folder's name here: the hash covers the fields that differ
    from the defaults, and a default may have changed since; :func:`check_results_folder`
    compares the name with the fields meta.json recorded.)"""
    path = folder / "config.json"
    if not path.exists():
        return None
    try:
        stored = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        stored = None
    if not (isinstance(stored, dict) and isinstance(stored.get("experiment"), str)
            and isinstance(stored.get("config"), dict)):
        raise InputError(f"{str(path)!r} is damaged (not a JSON object with the experiment and its config); "
                         "delete the folder to recompute it")
    return stored


def _same_config(stored: dict, experiment: str, config) -> bool:
    """True when a stored config.json describes ``config``: same experiment, every stored field
    equal, and every field the stored file lacks (added to the config class since) at its
    default. So a new defaulted field does not orphan existing results; a changed value does."""
    current = json.loads(json.dumps(asdict(config), default=list))
    if stored.get("experiment") != experiment or not isinstance(stored.get("config"), dict):
        return False
    old = stored["config"]
    if any(key not in current or current[key] != value for key, value in old.items()):
        return False
    defaults = json.loads(json.dumps({f.name: f.default for f in fields(config)}, default=list))
    return all(current[key] == defaults.get(key) for key in current.keys() - old.keys())


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
            raise InputError(f"experiment {name}: the config gives the cell {json.dumps(repeated)} more than once "
                             "(a value repeated in a list of the config?); give each value once")
        check_data_files(experiment, self.config)
        if experiment.memory is not None:
            from sims.foundations.guards import check_memory

            for parameter, needed, what in experiment.memory(self.config):
                check_memory(parameter, needed, f"experiment {name}: {what}")
        self.folder = folder = results_folder(out, name, self.config)
        self.first_created = next((path for path in reversed((folder, *folder.parents)) if not path.exists()), None)
        _prepare_folder(folder, name, self.config)
        self.checksums = _read_checksums(folder)
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
        data = rows_to_csv(rows).encode()
        atomic_write(self.folder / "cells" / f"{key}.csv", lambda temporary: Path(temporary).write_bytes(data))
        self.checksums[key] = {"rows": len(rows), "sha256": hashlib.sha256(data).hexdigest(), **cost}
        table = json.dumps(self.checksums, indent=0, sort_keys=True) + "\n"
        atomic_write(self.folder / CHECKSUMS, lambda temporary: Path(temporary).write_text(table))
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
            _remove_empty_folder(self.folder, self.first_created)

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
            "config": asdict(self.config),
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


def _remove_empty_folder(folder: Path, top: Path) -> None:
    """Remove a results folder that holds only its config.json and an empty cells/, then its
    parents up to and including ``top`` while they are empty."""
    cells = folder / "cells"
    if not cells.is_dir() or any(cells.iterdir()):
        return
    cells.rmdir()
    (folder / "config.json").unlink(missing_ok=True)
    for path in (folder, *folder.parents):
        if any(path.iterdir()):
            break
        path.rmdir()
        if path == top:
            break


@contextlib.contextmanager
def _out_of_memory_is_input(name: str, cell: dict):
    """A cell that runs out of memory (numpy's MemoryError, torch's allocator error) is a config
    too large for this machine: an InputError naming the experiment and the cell."""
    try:
        yield
    except MemoryError as error:
        raise InputError(f"experiment {name}: cell {json.dumps(cell)} ran out of memory ({error}); choose smaller "
                         "sizes in the config") from None
    except RuntimeError as error:
        text = str(error)
        if not ("not enough memory" in text or "out of memory" in text or "can't allocate memory" in text):
            raise
        first = next((line for line in text.splitlines() if "memory" in line), text.splitlines()[0])
        raise InputError(f"experiment {name}: cell {json.dumps(cell)} ran out of memory "
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
    stored = _stored_config(folder)
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
        expected = hashlib.sha256(json.dumps(recorded, sort_keys=True).encode()).hexdigest()[:10]
        if folder.name != f"{stored['experiment']}-{expected}":
            raise InputError(f"results folder {str(folder)!r} is not named by its config (its meta.json hashes to "
                             f"{stored['experiment']}-{expected}): renamed or edited; rerun its experiment, or delete it")
    checksums = _read_checksums(folder)
    for key in sorted(checksums):
        if (folder / "cells" / f"{key}.csv").exists():
            read_cell(folder, key, checksums)


def load_results(folder: str | Path) -> list[dict]:
    """The tidy rows of a finished results folder: its rows.csv, or, when only that is absent, its
    gzip-compressed rows.csv.gz (how committed full-scale results are kept small)."""
    path = Path(folder) / "rows.csv"
    compressed = Path(folder) / "rows.csv.gz"
    if not path.exists() and compressed.exists():
        import gzip

        try:
            text = gzip.decompress(compressed.read_bytes()).decode()
        except (OSError, EOFError, UnicodeDecodeError):
            raise InputError(f"{str(compressed)!r} is not a gzip-compressed text CSV file") from None
        return parse_rows(text, repr(str(compressed)))
    if not path.exists():
        raise InputError(f"{str(folder)!r} holds no rows.csv; run the experiment first")
    return read_rows(path)
