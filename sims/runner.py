"""The resumable, parallel sweep runner.

An experiment is a frozen dataclass config plus two plain functions registered in
:data:`EXPERIMENTS`: ``cells(config) -> list[dict]`` (the independent units of work, each a
small JSON-able dict) and ``run_cell(config, cell) -> list[dict]`` (tidy rows). The runner

- names the results folder by the experiment and a hash of the config's non-default fields;
  a folder whose ``config.json`` belongs to another config is refused;
- writes every finished cell to ``cells/<key>.csv`` atomically and skips it on a rerun, so a
  run killed at any moment resumes and ends with the same rows as an uninterrupted one;
- runs pending cells in this process (workers = 1), in a local Dask cluster of ``workers``
  processes, or on an existing Dask scheduler (``scheduler`` address);
- concatenates the cells, in the order ``cells`` returns them, into ``rows.csv`` and writes
  ``meta.json`` (config, package versions, seed, git revision).

Each cell runs with one torch thread and one numpy/scipy BLAS thread, whatever the worker
count, so the rows do not depend on how the work was spread.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable

from sims.model import atomic_write, check_choice

# ``eps`` is the criterion a row was measured against (E3's T*(eps) rows); empty for the other
# experiments. Folders written before the column existed still load (eps None).
COLUMNS = ("experiment", "dataset", "method", "m", "n", "seed", "metric", "value", "step", "eps")


@dataclass(frozen=True)
class Experiment:
    """A registered experiment.

    config_class: a frozen dataclass whose defaults are the full-scale run.
    quick: () -> config, the small preset behind ``--quick``.
    cells: config -> list of JSON-able dicts, the independent units of work.
    run_cell: (config, cell) -> list of tidy row dicts (columns in COLUMNS; "experiment" is
        filled in by the runner). Must be deterministic given (config, cell).
    figures: (rows, config, folder) -> list of written figure paths (PNG and PDF).
    claims: (rows, config) -> list of theory.claims.Verdict, the report's entries.
    summary: optional (rows, config) -> Markdown lines the report shows under the verdicts
        (for example a table of fitted rates).
    """

    name: str
    config_class: type
    quick: Callable[[], object]
    cells: Callable[[object], list]
    run_cell: Callable[[object, dict], list]
    figures: Callable[[list, object, Path], list]
    claims: Callable[[list, object], list]
    description: str = ""
    summary: Callable[[list, object], list] | None = None


EXPERIMENTS: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    EXPERIMENTS[experiment.name] = experiment
    return experiment


def _load_experiments() -> None:
    """Import the experiment modules, which register themselves."""
    import sims.experiments  # noqa: F401


def get_experiment(name: str) -> Experiment:
    _load_experiments()
    return EXPERIMENTS[check_choice("experiment", name, EXPERIMENTS)]


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


def config_from_mapping(config_class: type, mapping: dict, base=None):
    """Build ``config_class`` from ``mapping`` (e.g. a parsed TOML table) over ``base``.

    Unknown keys raise ValueError listing the valid ones; lists become tuples.
    """
    valid = {field.name for field in fields(config_class)}
    unknown = sorted(set(mapping) - valid)
    if unknown:
        raise ValueError(f"unknown config key(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
    values = asdict(base) if base is not None else {}
    for key, value in mapping.items():
        values[key] = tuple(tuple(v) if isinstance(v, list) else v for v in value) if isinstance(value, list) else value
    return config_class(**values)


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


def read_rows(path: str | Path) -> list[dict]:
    """Rows of a tidy CSV with numeric columns parsed (m, n, seed, step as int; value and eps as
    float; an empty cell, or a file without the ``eps`` column, gives None, value nan)."""
    rows = []
    with open(path, newline="") as handle:
        for raw in csv.DictReader(handle):
            row = dict(raw)
            for column in ("m", "n", "seed", "step"):
                row[column] = int(row[column]) if row.get(column) not in (None, "") else None
            row["value"] = float(row["value"]) if row["value"] != "" else math.nan
            row["eps"] = float(row["eps"]) if row.get("eps") not in (None, "") else None
            rows.append(row)
    return rows


def cell_key(cell: dict) -> str:
    """A readable, filesystem-safe, unique key of a cell."""
    text = json.dumps(cell, sort_keys=True)
    readable = "_".join(f"{k}-{v}" for k, v in sorted(cell.items()) if isinstance(v, (int, str)))
    readable = "".join(c if c.isalnum() or c in "-_." else "-" for c in readable)[:80]
    return f"{readable}_{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def _run_cell_isolated(experiment_name: str, config, cell: dict) -> list[dict]:
    """Run one cell with one torch thread and one BLAS thread for numpy/scipy, so that
    reductions happen in the same order however the work is spread: identical rows whatever
    the worker count."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            return get_experiment(experiment_name).run_cell(config, cell)
    finally:
        torch.set_num_threads(threads)


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


def _prepare_folder(folder: Path, experiment: str, config) -> None:
    config_text = json.dumps({"experiment": experiment, "config": asdict(config)}, indent=2, sort_keys=True, default=list)
    try:
        (folder / "cells").mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"output folder {str(folder.parent)!r} is not writable: {error.strerror}") from None
    if not os.access(folder, os.W_OK):
        raise ValueError(f"output folder {str(folder)!r} is not writable")
    existing = folder / "config.json"
    if existing.exists():
        if existing.read_text() != config_text + "\n":
            raise ValueError(
                f"results folder {str(folder)!r} was written by another config; choose another --out or delete it"
            )
    else:
        atomic_write(existing, lambda temporary: Path(temporary).write_text(config_text + "\n"))


def run_experiment(
    name: str,
    config=None,
    *,
    out: str | Path = "results",
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Path:
    """Run (or resume) experiment ``name`` with ``config`` (default: the config class's defaults).

    Returns the results folder, which then holds ``rows.csv``, ``meta.json``, ``config.json``
    and ``cells/``. ``workers`` > 1 starts a local Dask cluster; ``scheduler`` connects to an
    existing one.
    """
    experiment = get_experiment(name)
    config = experiment.config_class() if config is None else config
    if workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    folder = results_folder(out, name, config)
    _prepare_folder(folder, name, config)
    cells = experiment.cells(config)
    keys = [cell_key(cell) for cell in cells]
    if len(set(keys)) != len(keys):
        raise RuntimeError(f"experiment {name} produced duplicate cells")
    pending = [(key, cell) for key, cell in zip(keys, cells) if not (folder / "cells" / f"{key}.csv").exists()]
    log(f"{name}: {len(cells)} cells, {len(cells) - len(pending)} already done, results in {folder}")
    started = time.time()

    def finish(key: str, rows: list[dict]) -> None:
        for row in rows:
            row.setdefault("experiment", name)
        text = rows_to_csv(rows)
        atomic_write(folder / "cells" / f"{key}.csv", lambda temporary: Path(temporary).write_text(text))

    bar = None
    if progress and pending:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(pending), desc=name, unit="cell")
    try:
        if pending and (workers > 1 or scheduler):
            _run_on_dask(name, config, pending, finish, workers, scheduler, bar)
        else:
            for key, cell in pending:
                finish(key, _run_cell_isolated(name, config, cell))
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    all_rows = []
    for key in keys:
        all_rows.extend(read_rows(folder / "cells" / f"{key}.csv"))
    atomic_write(folder / "rows.csv", lambda temporary: Path(temporary).write_text(rows_to_csv(all_rows)))
    meta = {
        "experiment": name,
        "config": asdict(config),
        "non_default_fields": non_default_fields(config),
        "seed": getattr(config, "seed", None),
        "versions": package_versions(),
        "git_revision": git_revision(),
        "cells": len(cells),
        "seconds_this_run": round(time.time() - started, 2),
    }
    atomic_write(
        folder / "meta.json", lambda temporary: Path(temporary).write_text(json.dumps(meta, indent=2, default=list) + "\n")
    )
    return folder


def _run_on_dask(name, config, pending, finish, workers, scheduler, bar) -> None:
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
    try:
        futures = {client.submit(_run_cell_isolated, name, config, cell, pure=False): key for key, cell in pending}
        for future in as_completed(futures):
            finish(futures[future], future.result())
            if bar is not None:
                bar.update(1)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def load_results(folder: str | Path) -> list[dict]:
    """The tidy rows of a finished results folder."""
    path = Path(folder) / "rows.csv"
    if not path.exists():
        raise ValueError(f"{str(folder)!r} holds no rows.csv; run the experiment first")
    return read_rows(path)
