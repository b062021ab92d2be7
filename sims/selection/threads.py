"""Thread counts of the selection engine: the passes over all features on the count that reads
fastest, everything else on one thread.

A selection step is one bandwidth-bound pass over the features (a GEMV: each entry is read once
and used for one multiply-add) plus small operations on vectors of length D or N. The small
operations gain nothing from a second thread, and when another process holds a core every
parallel region waits for a descheduled thread (a time slice, ~16 ms, against microseconds of
work), so they run on one thread (:func:`one_thread`). The pass reads memory: a second thread
helps only where one core cannot draw the machine's bandwidth and a second core is free.

Which count reads fastest is measured, not assumed (:func:`pass_threads`): on a 2-core machine
shared with other processes one thread reads a 64 MiB matrix at ~27 GiB/s and two threads at
8-9 GiB/s (each pass waits for the second, busy core), while on an idle many-core server two to
four threads read faster than one. No rule of thumb (core count, cache sizes) sees the difference;
a 0.1 s probe does.

Thread counts are process-wide (torch's intra-op pool, numpy's BLAS): concurrent selections from
several Python threads of one process would see each other's settings.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from sims.foundations.errors import InputError

__all__ = ["torch_threads", "one_thread", "pass_threads", "resolve_threads"]

# The probe matrix of pass_threads: float32, larger than the per-core caches of common CPUs, so a
# pass is bound by the memory system, as a pass over a selection's features is.
_PROBE_BYTES = 64 << 20
_PROBE_ROWS = 4096
# Passes timed per candidate count (after one warm-up), and the most time spent on one count.
_PROBE_REPEATS = 7
_PROBE_SECONDS_PER_COUNT = 0.06
# A larger count is chosen only when its median pass takes at most this fraction of the time of
# the fewest threads within reach of the fastest (10% faster): extra threads cost the other
# processes on the machine a core, and a gain below the measurement's noise is not a gain.
_MARGIN = 0.9

_BLAS = []  # a threadpoolctl.ThreadpoolController, made on first use (it scans the loaded libraries)


def _blas_controller():
    if not _BLAS:
        from threadpoolctl import ThreadpoolController

        _BLAS.append(ThreadpoolController())
    return _BLAS[0]


@contextmanager
def torch_threads(count: int):
    """torch's intra-op thread count and numpy's BLAS thread count set to ``count`` inside the
    block, both restored on leaving it (also on an exception). ``count``: a positive int, as
    :func:`resolve_threads` returns. Setting torch's count to its current value costs nothing;
    the BLAS limit costs a few microseconds."""
    previous = torch.get_num_threads()
    with _blas_controller().limit(limits=count, user_api="blas"):
        if count == previous:
            yield
            return
        torch.set_num_threads(count)
        try:
            yield
        finally:
            torch.set_num_threads(previous)


def one_thread():
    """torch's intra-op pool and numpy's BLAS on one thread inside the block (then restored):
    for the small operations of a selection step. ``with one_thread(): ...``"""
    return torch_threads(1)


def _available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform reports it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no sched_getaffinity
        return os.cpu_count() or 1


def _candidates(limit: int) -> list[int]:
    """1, 2, 4, ... below ``limit``, and ``limit`` itself."""
    counts, count = [], 1
    while count < limit:
        counts.append(count)
        count *= 2
    return counts + [limit]


def _pass_seconds(count: int, matrix: torch.Tensor, vector: torch.Tensor) -> float:
    """Median seconds of one GEMV ``matrix @ vector`` on ``count`` threads."""
    with torch_threads(count):
        torch.mv(matrix, vector)  # warm-up: wakes the pool, pages in the matrix
        seconds = []
        spent = time.perf_counter()
        while len(seconds) < _PROBE_REPEATS and (len(seconds) < 3 or time.perf_counter() - spent < _PROBE_SECONDS_PER_COUNT):
            start = time.perf_counter()
            torch.mv(matrix, vector)
            seconds.append(time.perf_counter() - start)
    return float(np.median(seconds))


def _cache_file() -> Path:
    """The file of measured counts: $XDG_CACHE_HOME (default ~/.cache)/gfs-toolkit/pass_threads.json."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "gfs-toolkit" / "pass_threads.json"


def _read_cache(key: str) -> int | None:
    try:
        count = json.loads(_cache_file().read_text()).get(key)
    except (OSError, ValueError, AttributeError):  # no file, not JSON, not a JSON object
        return None
    return count if isinstance(count, int) and not isinstance(count, bool) and count >= 1 else None


def _write_cache(key: str, count: int) -> None:
    """Add key -> count to the cache file by an atomic replace (concurrent writers: the last one's
    file stands, each whole); an unwritable cache is skipped silently (the count stays per process)."""
    path = _cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            entries = json.loads(path.read_text())
            entries = entries if isinstance(entries, dict) else {}
        except (OSError, ValueError):
            entries = {}
        entries[key] = count
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".pass_threads-", suffix=".tmp", delete=False) as handle:
            temporary = Path(handle.name)
            json.dump(entries, handle, sort_keys=True)
        os.replace(temporary, path)
    except OSError:
        if "temporary" in locals():
            temporary.unlink(missing_ok=True)


def _measure(limit: int) -> int:
    """The fewest threads in ``_candidates(limit)`` whose median pass over the probe matrix is
    within ``1 / _MARGIN`` of the fastest count's."""
    matrix = torch.ones(_PROBE_ROWS, _PROBE_BYTES // 4 // _PROBE_ROWS, dtype=torch.float32)
    vector = torch.ones(matrix.shape[1], dtype=torch.float32)
    seconds = {count: _pass_seconds(count, matrix, vector) for count in _candidates(limit)}
    fastest = min(seconds.values())
    return min(count for count, time_taken in seconds.items() if time_taken * _MARGIN <= fastest)


@functools.lru_cache(maxsize=None)
def _measured(limit: int) -> int:
    """pass_threads for ``limit``: 1 when limit is 1, else the cache file's count for this
    machine and limit, else measured now (and written to the file)."""
    if limit == 1:
        return 1
    key = f"{platform.node()}/limit={limit}"
    count = _read_cache(key)
    if count is None or count > limit:
        count = _measure(limit)
        _write_cache(key, count)
    return count


def pass_threads() -> int:
    """The number of threads that reads fastest in a bandwidth-bound pass (a float32 GEMV over a
    64 MiB matrix) on this machine: an int in [1, limit], limit = the smaller of the cores this
    process may use and torch's current intra-op count (a caller who lowered torch's count is
    obeyed).

    Measured, not derived from a rule: the answer depends on the machine's load as much as on its
    cores (module docstring). The candidates 1, 2, 4, ... up to the limit are timed (median of up
    to 7 passes each, at most ~0.06 s per count, ~0.1 s in all on 2 cores, one 64 MiB temporary);
    a count larger than the fewest within 10% of the fastest is never chosen.

    Measured once per machine: the count is kept in memory for the process and in a file
    (``$XDG_CACHE_HOME/gfs-toolkit/pass_threads.json``, by host name and limit, written by an
    atomic replace) for later processes. The file is there for reproducibility more than for the
    0.1 s: the count can change the last bits of a GEMV (torch splits the rows between threads,
    and a split inside a kernel's group of rows, or inside a long row's sum, rounds differently:
    a 3001 x 4099 float32 GEMV differs in 2 of its 3001 entries between 1 and 2 threads), so
    near-ties among scores could go another way; one count per machine keeps every process's
    picks the same. The file keeps the load of the moment it was written: delete it to measure
    again, or pass ``threads=`` for a count of your own.
    """
    return _measured(max(1, min(_available_cores(), torch.get_num_threads())))


def resolve_threads(threads: int | None) -> int:
    """The thread count of a selection's passes over all features: ``threads`` when given (a
    positive int, used as is), else :func:`pass_threads` (engine-chosen). Anything else (0, a
    negative number, a float, a bool, a string) is an :class:`InputError` naming ``threads``."""
    if threads is None:
        return pass_threads()
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise InputError(f"threads must be a positive integer or None (engine-chosen), got {threads!r}")
    return int(threads)
