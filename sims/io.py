"""Where user input and files meet the toolkit: checks of names against a registry, and
writing a file atomically (a temporary file in the same folder, then a rename), so that no
reader ever sees a half-written result. Imports neither torch nor numpy."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

from sims.errors import InputError

__all__ = ["atomic_write", "check_choice", "check_choices"]


def check_choice(parameter: str, value: str, valid) -> str:
    """Return ``value`` if it is one of ``valid``; otherwise raise an InputError (a ValueError) naming both."""
    if value not in valid:
        raise InputError(f"unknown {parameter} {value!r}; valid: {', '.join(valid)}")
    return value


def check_choices(parameter: str, values, valid, *, allow_empty: bool = False) -> tuple:
    """Return ``values`` as a tuple if every entry is one of ``valid`` (and, unless
    ``allow_empty``, there is at least one); otherwise raise an InputError naming the
    parameter, the unknown entries and the valid ones."""
    values = tuple(values)
    if not values and not allow_empty:
        raise InputError(f"{parameter} must not be empty; valid: {', '.join(valid)}")
    unknown = [value for value in values if value not in valid]
    if unknown:
        raise InputError(f"unknown {parameter} {unknown}; valid: {', '.join(valid)}")
    return values


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call ``write(temporary_path)`` then rename onto ``path``: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, 0o666 & ~_current_umask())  # mkstemp creates 0600; give the usual mode
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
