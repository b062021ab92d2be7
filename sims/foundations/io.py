"""Where user input and files meet the toolkit: checks of names against a registry, and
writing a file atomically (a temporary file in the same folder, then a rename), so that no
reader ever sees a half-written result. Imports neither torch nor numpy."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Callable

from sims.foundations.errors import InputError

__all__ = ["atomic_write", "check_choice", "check_choices", "remove_stale_temporaries", "check_torch_file"]


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
    """Call ``write(temporary_path)`` then rename onto ``path``: never a half-written file. The
    temporary file, ``.<name>.<pid>-<random>.tmp`` beside ``path``, names the writing process,
    so a later run can tell a killed write's leftover (:func:`remove_stale_temporaries`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp")
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, 0o666 & ~_current_umask())  # mkstemp creates 0600; give the usual mode
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


# a temporary of atomic_write: ".<name>.<pid>-<random>.tmp", or ".<name>.<random>.tmp" as written
# before the pid was part of the name
_TEMPORARY = re.compile(r"^\..+\.(?:(?P<pid>\d+)-)?[a-z0-9_]{8}\.tmp$")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by another user
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that :func:`atomic_write` left in ``folder`` (not below it)
    when its process was killed mid-write: those whose writing process no longer runs, and
    those named before the pid was part of the name. Returns the removed paths; a missing
    folder removes nothing."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for path in folder.iterdir():
        match = _TEMPORARY.match(path.name)
        if match is None or not path.is_file():
            continue
        pid = match.group("pid")
        if pid is not None and (int(pid) == os.getpid() or _process_alive(int(pid))):
            continue
        try:
            path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed


def check_torch_file(path: str | os.PathLike, parameter: str) -> None:
    """Refuse a torch file (zip format, as ``torch.save`` writes) whose bytes were damaged: every
    member's CRC-32 is checked (what torch's reader skips), so zeroed or flipped bytes are named
    before the file is unpickled. A missing file, or one in the legacy non-zip format, is left
    to the loader to report."""
    import zipfile

    path = Path(path)
    if not path.is_file() or not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as error:
        raise InputError(f"{parameter} file {str(path)!r} is damaged (its zip structure does not read: "
                         f"{error}); write it again") from None
    except Exception as error:  # zlib errors from a damaged compressed member
        raise InputError(f"{parameter} file {str(path)!r} is damaged ({error.__class__.__name__}); "
                         "write it again") from None
    if bad is not None:
        raise InputError(f"{parameter} file {str(path)!r} is damaged (member {bad} fails its CRC check); write it again")
