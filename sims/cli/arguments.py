"""The parsed arguments of a ``gfs`` command turned into checked inputs, before any work: output paths
that can be written (probed with a temporary file or folder: permission bits say nothing when
running as root), .npy arrays, the data set of the data flags, and which inputs a user's model
gets. Each refusal is one line naming the flag (:class:`sims.foundations.errors.InputError`)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from sims.cli.flags import config_from_flags
from sims.cli.options import DATA_FIELDS, DATA_RENAMES
from sims.data.datasets import DataFilesMissing, DatasetConfig, load_dataset
from sims.foundations.errors import InputError
from sims.foundations.guards import check_memory
from sims.foundations.io import atomic_write
from sims.pruning.prune import LOADER_INPUTS

__all__ = ["write_json", "dataset_from_args", "check_every_class_present", "check_writable", "load_array",
           "user_inputs", "check_folder_writable", "check_report_path"]


def write_json(path: Path, payload: dict) -> None:
    """``payload`` as indented JSON at ``path``, written atomically."""
    atomic_write(path, lambda temporary: Path(temporary).write_text(json.dumps(payload, indent=2) + "\n"))


def dataset_from_args(args):
    """(DatasetConfig, Dataset) of the data flags: a synthetic --m checked against memory first, a
    missing MNIST file named with the flags that fix it, every class present (see below)."""
    config = config_from_flags(DatasetConfig, args, DATA_FIELDS, flags=DATA_RENAMES)
    if config.name == "teacher" and config.m is not None:  # drawn on demand: any m reaches an allocation
        examples = config.m / (1.0 - config.test_fraction)
        check_memory("--m", 16.0 * examples * (config.input_dim + config.teacher_width + config.output_dim),
                     f"{config.m} synthetic teacher examples, their teacher's hidden layer and targets")
    try:
        dataset = load_dataset(config)
    except DataFilesMissing as error:  # the library's hint names its arguments; here they are flags
        hint = error.hint(set_directory="pass --data-dir DIR / $GFS_MNIST_DIR", download="pass --download")
        raise InputError(hint) from None
    check_every_class_present(config, dataset)
    return config, dataset


def check_every_class_present(config, dataset) -> None:
    """Refuse a --m so small that some class of a labelled data set has no training example
    (one example of digits trains a 10-class network on one class, and standardising it
    zeroes every input): the line says the smallest --m that holds every class."""
    if dataset.train_labels is None or config.m is None:
        return
    labels = [dataset.train_labels] + ([dataset.test_labels] if dataset.test_labels is not None else [])
    classes = max(dataset.output_dim, 2, len(np.unique(np.concatenate([np.asarray(x) for x in labels]))))
    present = len(np.unique(np.asarray(dataset.train_labels)))
    if present < classes:
        raise InputError(f"--m {config.m} leaves {classes - present} of the {classes} classes of --data {config.name} "
                         f"without a training example; use --m {classes} or more")


def check_writable(parameter: str, path: Path) -> None:
    """Refuse, before any work, an output path that cannot be written: a folder in its place, or
    no write permission on the nearest existing parent folder."""
    if path.is_dir():
        raise InputError(f"{parameter} {str(path)!r} is a folder; give a file path")
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    try:  # a probe file, removed at once: permission bits alone say nothing when running as root
        if parent is None or not parent.is_dir():
            raise OSError
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError:
        raise InputError(f"{parameter} {str(path)!r} cannot be written (the folder {str(parent)!r} is not writable)") from None
    for sibling in (path.with_suffix(".json"), path.with_suffix(".png")):
        if sibling.is_dir():
            raise InputError(f"{parameter} {str(path)!r}: {str(sibling)!r} is a folder, so the summary cannot be written")


def load_array(path: str, parameter: str, *, memory_map: bool = False) -> np.ndarray:
    """The .npy array at ``path`` (memory-mapped read-only with ``memory_map``); a missing, empty or
    unreadable file is one line naming ``parameter``."""
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r" if memory_map else None)
    except FileNotFoundError:
        raise InputError(f"{parameter} file {path!r} does not exist") from None
    except EOFError:
        raise InputError(f"{parameter} file {path!r} is empty (0 bytes); give a .npy array written by numpy.save") from None
    except (OSError, ValueError) as error:
        raise InputError(f"{parameter} file {path!r} is not a readable .npy array: {error}") from None


def user_inputs(args) -> str:
    """For a user's model the inputs are the data as the loader returns them unless asked
    otherwise (no silent image scaling): --input-scaling auto becomes none. Returns the line
    saying which inputs are used."""
    if args.input_scaling == "auto":
        args.input_scaling = "none"
    what = LOADER_INPUTS.get(args.data, "as the loader returns them") if args.input_scaling == "none" else \
        f"then scaled '{args.input_scaling}'"
    return (f"inputs: --data {args.data} with --input-scaling {args.input_scaling} ({what}); give the inputs as the "
            "model was trained on them")


def check_folder_writable(parameter: str, folder: Path, given: Path | None = None) -> None:
    """Refuse a folder path that is a file, lies under a file, or sits in a folder that cannot
    be written: before any work, one line naming ``parameter`` and the path ``given`` with it
    (default ``folder``)."""
    shown = str(given if given is not None else folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{parameter} {shown!r}: {str(folder)!r} is a file, not a folder")
    parent = next((p for p in (folder.absolute(), *folder.absolute().parents) if p.exists()), None)
    if parent is None or not parent.is_dir():
        raise InputError(f"{parameter} {shown!r} cannot be made: {str(parent)!r} is a file, not a folder")
    try:  # a probe folder, removed at once: permission bits say nothing when running as root
        with tempfile.TemporaryDirectory(dir=parent):
            pass
    except OSError:
        raise InputError(f"{parameter} {shown!r} cannot be written (the folder {str(parent)!r} is not "
                         "writable)") from None


def check_report_path(parameter: str, path: Path) -> None:
    """Refuse a report path (and its REPORT.json beside it) that cannot be written."""
    if path.is_dir():
        raise InputError(f"{parameter} {str(path)!r} is a folder; give a file path")
    if path.with_suffix(".json").is_dir():
        raise InputError(f"{parameter} {str(path)!r}: {str(path.with_suffix('.json'))!r} (its REPORT.json) is a "
                         "folder; give another path")
    check_folder_writable(parameter, path.parent, given=path)
