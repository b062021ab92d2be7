"""Figures drawn by two processes: this one and a helper process.

Drawing is most of the quick demo's time (13.5 of its 27 s on a 2-core machine) and runs on one
core. :class:`FigureDrawing` draws results folders in a spawned helper process (forking a process
that holds torch's or Dask's threads is unsafe) and in this one. Started before the experiments
run (``start_now``), the helper's imports (about 2 s) overlap them, and it draws each finished
folder as soon as it is added, while this process computes the next experiment; when this
process has nothing else to do (:meth:`FigureDrawing.finish`), it draws the folders the helper
has not started.

The figures are the files one process drawing the folders in order writes: each folder's
figures are drawn whole by one process, from the rows on disk, and written atomically, and a
folder waits while an earlier folder drawn by the same figures function (same file names) is not
drawn, so the later one's figures are the ones left. Only this process draws an experiment that
is not one of the toolkit's own (one registered at run time, unknown to a new process), and any
folder the helper fails on: errors surface here, at ``finish``, after the experiments ran. The
helper ignores Ctrl-C (the command reports it in one line and stops the helper) and exits when
this process is gone. Only the gfs command itself starts a helper (``launched_as_gfs``): a new
process imports the main module again, and a user's script may run its commands at import.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable

from sims.experiments import EXPERIMENTS
from sims.foundations.errors import InputError
from sims.plotting.plots import pyplot
from sims.reporting.report import load_config, write_figures

__all__ = ["FigureDrawing", "launched_as_gfs"]


def _start_helper(parent: int) -> None:
    """In the helper, first: leave Ctrl-C to the command, exit when the command's process is gone
    (killed, so that it could not stop the helper), and load matplotlib while the command still
    computes (the figure code came with this module)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def exit_with_parent():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=exit_with_parent, daemon=True).start()
    try:
        pyplot()
    except InputError:  # no [plots] extra: the command checked before it started
        pass


def _draw(folder: str, figures_folder: str) -> list[Path]:
    return write_figures([folder], figures_folder)


def _helper_possible() -> bool:
    """Two usable CPUs, and a main module a spawned process can import again (not a script read
    from stdin or typed in an interpreter)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    importable = getattr(main, "__spec__", None) is not None or (main_file is not None and Path(main_file).is_file())
    return cpus > 1 and importable


def launched_as_gfs() -> bool:
    """True when this process is the gfs command itself (``python -m sims``, or the ``gfs``
    console script): a main module that a new process imports without running anything. A
    script of a user's may run its commands at import, which a spawned helper would repeat."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None:
        return spec.name == "sims.__main__"
    path = Path(getattr(main, "__file__", None) or "")
    try:
        return path.name == "gfs" and "sims.cli.commands" in path.read_text(errors="replace")[:4096]
    except OSError:
        return False


def _figures_key(figures) -> tuple[str, str]:
    """What a folder's figure files are named by: the experiment's figures function."""
    return getattr(figures, "__module__", ""), getattr(figures, "__qualname__", repr(figures))


class FigureDrawing:
    """Draw results folders' figures into ``figures_folder``, in a helper process and in this one.

    ``add(folder)`` queues a finished folder (the helper takes it at once when idle); ``finish()``
    draws what is left, here and in the helper, and returns every written path in the order the
    folders were added; ``close()`` stops the helper (``finish`` does, and so does leaving a
    ``with`` block, for a caller stopped early).
    ``log`` gets a line per folder as its figures are drawn, then one per file. ``start_now``:
    start the helper at once (its imports overlap what this process does next), else at the first
    folder. With ``helper=False``, one usable CPU, or a main module a new process cannot import,
    everything is drawn here, at ``finish``.
    """

    def __init__(self, figures_folder: Path, log: Callable[[str], None] = print, helper: bool = True,
                 start_now: bool = True):
        self.figures_folder, self.log = Path(figures_folder), log
        # (folder, figures key, the helper may draw it), in the order added
        self.pending: list[tuple[str, tuple, bool]] = []
        self.running: tuple[str, tuple, Future] | None = None  # the helper's folder and its key
        self.written: dict[str, list[Path]] = {}
        self.order: list[str] = []
        self.pool = None
        self.helper = helper and _helper_possible()
        if self.helper and start_now:
            self._start()

    def __enter__(self) -> "FigureDrawing":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_start_helper, initargs=(os.getpid(),))
        self.pool.submit(int)  # start the helper (and its imports) now, not at the first folder

    def add(self, folder) -> None:
        experiment, _ = load_config(folder)
        toolkit = EXPERIMENTS.get(experiment.name) is experiment  # what a new process finds by that name
        self.order.append(str(folder))
        self.pending.append((str(folder), _figures_key(experiment.figures), toolkit))
        if self.helper and self.pool is None and toolkit:
            self._start()
        self._feed()

    def _ready(self, position: int) -> bool:
        """Whether pending folder ``position`` may be drawn now: no earlier folder with its figure
        names is pending, or being drawn by the helper."""
        _, key, _ = self.pending[position]
        earlier = {other for _, other, _ in self.pending[:position]}
        return key not in earlier and (self.running is None or self.running[1] != key)

    def _feed(self) -> None:
        """Collect the helper's finished folder, and hand it the first ready one it may draw."""
        if self.running is not None and self.running[2].done():
            folder, key, future = self.running
            self.running = None
            try:
                self._record(folder, future.result(), "in the helper process")
            except Exception:  # its error, or the helper died: drawn again here, where an error recurs at finish
                self.pending.insert(0, (folder, key, False))
        if self.pool is None or self.running is not None:
            return
        position = next((p for p, (_, _, allowed) in enumerate(self.pending) if allowed and self._ready(p)), None)
        if position is None:
            return
        folder, key, _ = self.pending[position]
        try:
            future = self.pool.submit(_draw, folder, str(self.figures_folder))
        except BrokenProcessPool:  # the helper died (killed, out of memory): this process goes on alone
            self.close()
            return
        del self.pending[position]
        self.running = (folder, key, future)

    def _record(self, folder: str, paths: list[Path], where: str) -> None:
        self.written[folder] = paths
        self.log(f"{Path(folder).name}: figures drawn {where}")
        for path in paths:
            self.log(f"wrote {path}")

    def finish(self) -> list[Path]:
        """Draw every folder not drawn yet; then raise the first error a folder's drawing raised
        here, if any (the other folders are drawn all the same)."""
        errors = []
        try:
            while self.pending or self.running is not None:
                self._feed()
                # beside a helper (which takes from the front) this process draws from the end; alone, in order
                order = range(len(self.pending)) if self.pool is None else reversed(range(len(self.pending)))
                position = next((p for p in order if self._ready(p)), None)
                if position is not None:
                    folder = self.pending.pop(position)[0]
                    try:
                        self._record(folder, _draw(folder, str(self.figures_folder)), "in this process")
                    except Exception as error:  # the next folders are drawn first
                        errors.append((self.order.index(folder), error))
                elif self.running is not None:  # nothing this process may draw now: wait for the helper
                    if not wait([self.running[2]], timeout=1.0).done and not self._helper_alive():
                        folder, key, _ = self.running  # a future its dead helper will never finish
                        self.running = None
                        self.close()
                        self.pending.insert(0, (folder, key, False))
        finally:
            self.close()
        if errors:
            raise min(errors, key=lambda entry: entry[0])[1]  # the first folder's, in the order added
        return [path for folder in self.order for path in self.written.get(folder, [])]

    def _helper_alive(self) -> bool:
        processes = (getattr(self.pool, "_processes", None) or {}) if self.pool is not None else {}
        return any(process.is_alive() for process in processes.values())

    def close(self) -> None:
        """Stop the helper; at once when it is still drawing (an error or Ctrl-C here): what it
        was writing is left as a temporary file, which the next run removes."""
        if self.pool is not None:
            if self.running is not None and not self.running[2].done():
                for process in list((getattr(self.pool, "_processes", None) or {}).values()):
                    process.terminate()
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        self.helper = False
