"""A results folder on disk: its name, its config.json, its cell files and their checksums.

``<out>/<experiment>-<hash>/`` is named by the experiment and a hash of the config's non-default
fields. It holds ``config.json`` (the experiment and its full config), ``cells/<key>.csv`` (one
finished cell's tidy rows each) and ``checksums.json``, which maps each finished cell's key to
the row count and the SHA-256 of its CSV text (and the cell's cost). checksums.json is rewritten
(atomically) after each cell file is written, so a cell written by older code, or by a run killed
between the two writes, has no entry; such a cell is checked for its schema only. What runs the
cells is :mod:`sims.experiments.runner`; this module knows no experiment."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from sims.foundations.composed import cell_record, flat_defaults, flat_record
from sims.foundations.errors import InputError
from sims.foundations.io import atomic_write, remove_stale_temporaries
from sims.results.rows import parse_rows, rows_to_csv

__all__ = ["non_default_fields", "fields_hash", "config_hash", "results_folder", "cell_key", "CHECKSUMS",
           "read_checksums", "write_cell", "read_cell", "stored_config", "same_config", "prepare_folder",
           "remove_empty_folder"]

CHECKSUMS = "checksums.json"


# ---------------------------------------------------------------- names


def non_default_fields(config) -> dict:
    """The keys of a config's record (:func:`sims.foundations.composed.flat_record`: its fields,
    for a config without nested ones) whose values differ from their defaults, JSON-ready."""
    defaults = flat_defaults(type(config))
    changed = {}
    for key, value in flat_record(config).items():
        if key not in defaults or value != defaults[key]:
            changed[key] = list(value) if isinstance(value, tuple) else value
    return changed


def fields_hash(changed: dict) -> str:
    """10 hex digits of SHA-256 over ``changed`` (a JSON-ready dict of fields) as sorted JSON."""
    text = json.dumps(changed, sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def config_hash(config) -> str:
    """10 hex digits of SHA-256 over the non-default fields (sorted JSON)."""
    return fields_hash(non_default_fields(config))


def results_folder(out: str | Path, experiment: str, config) -> Path:
    """``<out>/<experiment>-<config_hash(config)>``."""
    return Path(out) / f"{experiment}-{config_hash(config)}"


def cell_key(cell) -> str:
    """A readable, filesystem-safe, unique key of a cell (a dict or a typed cell:
    :func:`sims.foundations.composed.cell_record`)."""
    record = cell_record(cell)
    text = json.dumps(record, sort_keys=True)
    readable = "_".join(f"{k}-{v}" for k, v in sorted(record.items()) if isinstance(v, (int, str)))
    readable = "".join(c if c.isalnum() or c in "-_." else "-" for c in readable)[:80]
    return f"{readable}_{hashlib.sha256(text.encode()).hexdigest()[:8]}"


# ---------------------------------------------------------------- cell files and their checksums


def read_checksums(folder: Path) -> dict:
    """The folder's checksums.json ({} when it has none); a damaged one raises an InputError."""
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


def write_cell(folder: Path, key: str, rows: list[dict], checksums: dict, cost: dict) -> None:
    """Write ``cells/<key>.csv`` atomically, then record its row count, SHA-256 and ``cost`` in
    ``checksums`` (updated in place) and rewrite checksums.json."""
    data = rows_to_csv(rows).encode()
    atomic_write(folder / "cells" / f"{key}.csv", lambda temporary: Path(temporary).write_bytes(data))
    checksums[key] = {"rows": len(rows), "sha256": hashlib.sha256(data).hexdigest(), **cost}
    table = json.dumps(checksums, indent=0, sort_keys=True) + "\n"
    atomic_write(folder / CHECKSUMS, lambda temporary: Path(temporary).write_text(table))


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


# ---------------------------------------------------------------- config.json


def stored_config(folder: Path) -> dict | None:
    """The parsed config.json of a results folder (None when it has none): a JSON object naming
    the experiment and its config; anything else raises an InputError naming the file. (Its
    hash is not compared with the folder's name here: the hash covers the fields that differ
    from the defaults, and a default may have changed since;
    :func:`sims.experiments.runner.check_results_folder` compares the name with the fields
    meta.json recorded.)"""
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


def same_config(stored: dict, experiment: str, config) -> bool:
    """True when a stored config.json describes ``config``: same experiment, every stored key
    of its record equal, and every key the stored file lacks (added to the config class since) at
    its default. So a new defaulted field does not orphan existing results; a changed value does."""
    current = json.loads(json.dumps(flat_record(config), default=list))
    if stored.get("experiment") != experiment or not isinstance(stored.get("config"), dict):
        return False
    old = stored["config"]
    if any(key not in current or current[key] != value for key, value in old.items()):
        return False
    defaults = json.loads(json.dumps(flat_defaults(type(config)), default=list))
    return all(current[key] == defaults.get(key) for key in current.keys() - old.keys())


def prepare_folder(folder: Path, experiment: str, config) -> None:
    """Create ``folder`` and its ``cells/`` (removing temporaries of writes killed mid-way) and
    write its config.json; an existing folder is taken only if its config.json describes
    ``config`` (:func:`same_config`), and one holding cell files without a config.json is
    refused. Refusals and an unwritable folder raise an InputError."""
    config_text = json.dumps({"experiment": experiment, "config": flat_record(config)}, indent=2, sort_keys=True,
                             default=list)
    existing, stored = folder / "config.json", None
    if folder.is_dir():  # an earlier run's folder: trusted only as far as it checks out
        stored = stored_config(folder)
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
            if not same_config(stored, experiment, config):
                raise InputError(
                    f"results folder {str(folder)!r} was written by another config (its config.json differs: another "
                    "run's, or edited); choose another --out or delete it")
            atomic_write(existing, lambda temporary: Path(temporary).write_text(config_text + "\n"))
    else:
        atomic_write(existing, lambda temporary: Path(temporary).write_text(config_text + "\n"))


def remove_empty_folder(folder: Path, top: Path) -> None:
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
