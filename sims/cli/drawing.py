"""Figures drawn by two processes: this one and a helper started before the experiments run.

Drawing is most of the quick demo's time (13.5 of its 27 s on a 2-core machine) and runs on one
core. :class:`FigureDrawing` starts a helper process at once (a spawned one: forking a process
that holds torch's or Dask's threads is unsafe), so that the helper's imports (about 2 s) overlap
the experiments; each finished results folder is handed over as soon as it is added, and the
helper draws it while this process computes the next experiment; when this process has nothing
else to do (:meth:`FigureDrawing.finish`), it draws the folders the helper has not started.

The figures are the files one process drawing the folders in order writes: each folder's figures
are drawn whole by one process, from the rows on disk, and written atomically, and a folder waits
while an earlier folder of the same experiment (whose figures have the same names) is not drawn,
so the later one's figures are the ones left. An experiment registered at run time (by a script
or a test) is unknown to a new process: its folders are drawn in this one.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable

from sims.foundations.errors import InputError
from sims.plotting.plots import pyplot
from sims.reporting.report import load_config, write_figures

__all__ = ["FigureDrawing"]


def _start_helper() -> None:
    """The helper leaves Ctrl-C to the command (which reports it in one line and stops the
    helper), and loads matplotlib while the command still computes (the figure code came with
    this module)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        pyplot()
    except InputError:  # no [plots] extra: the first figure drawn says so, in the command's process
        pass


def _draw(folder: str, figures_folder: str) -> list[Path]:
    return write_figures([folder], figures_folder)


def _usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class FigureDrawing:
    """Draw results folders' figures into ``figures_folder``, in a helper process and in this one.

    ``add(folder)`` queues a finished folder (the helper takes it at once when idle); ``finish()``
    draws what is left, here and in the helper, and returns every written path in the order the
    folders were added; ``close()`` stops the helper (``finish`` does; call it when stopping early).
    ``log`` gets a line per folder as its figures are drawn, then one per file. With
    ``helper=False``, or one usable CPU, everything is drawn here, at ``finish``.
    """

    def __init__(self, figures_folder: Path, log: Callable[[str], None] = print, helper: bool = True):
        self.figures_folder, self.log = Path(figures_folder), log
        self.pending: list[tuple[str, str, bool]] = []  # (folder, experiment, a new process knows it), in order
        self.running: tuple[str, str, Future] | None = None  # the helper's folder, its experiment
        self.written: dict[str, list[Path]] = {}
        self.order: list[str] = []
        self.pool = None
        if helper and _usable_cpus() > 1:
            self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_start_helper)
            self.pool.submit(int)  # start the helper (and its imports) now, not at the first folder

    def add(self, folder) -> None:
        experiment, _ = load_config(folder)
        # the helper draws with the experiment's figures function as a new process imports it
        known = getattr(experiment.figures, "__module__", "").startswith("sims.")
        self.order.append(str(folder))
        self.pending.append((str(folder), experiment.name, known))
        self._feed()

    def _ready(self, position: int) -> bool:
        """Whether pending folder ``position`` may be drawn now: no earlier folder of its
        experiment is pending, or being drawn by the helper."""
        folder, experiment, _ = self.pending[position]
        earlier = {name for _, name, _ in self.pending[:position]}
        return experiment not in earlier and (self.running is None or self.running[1] != experiment)

    def _feed(self) -> None:
        """Collect the helper's finished folder, and hand it the first ready one it can draw."""
        if self.running is not None and self.running[2].done():
            folder, _, future = self.running
            self.running = None
            try:
                paths, where = future.result(), "in the helper process"
            except BrokenProcessPool:  # the helper died (killed, out of memory): this process goes on alone
                self.close()
                paths, where = _draw(folder, str(self.figures_folder)), "in this process (the helper stopped)"
            self._record(folder, paths, where)
        if self.pool is None or self.running is not None:
            return
        position = next((p for p, (_, _, known) in enumerate(self.pending) if known and self._ready(p)), None)
        if position is None:
            return
        folder, experiment, _ = self.pending[position]
        try:
            future = self.pool.submit(_draw, folder, str(self.figures_folder))
        except BrokenProcessPool:  # seen dead before the hand-over: the folder stays for this process
            self.close()
            return
        self.running = (self.pending.pop(position)[0], experiment, future)

    def _record(self, folder: str, paths: list[Path], where: str) -> None:
        self.written[folder] = paths
        self.log(f"{Path(folder).name}: figures drawn {where}")
        for path in paths:
            self.log(f"wrote {path}")

    def finish(self) -> list[Path]:
        try:
            while self.pending or self.running is not None:
                self._feed()
                # this process draws from the end, the helper takes from the front
                position = next((p for p in reversed(range(len(self.pending))) if self._ready(p)), None)
                if position is not None:
                    folder = self.pending.pop(position)[0]
                    self._record(folder, _draw(folder, str(self.figures_folder)), "in this process")
                elif self.running is not None:
                    wait([self.running[2]])  # nothing this process may draw now: wait for the helper
        finally:
            self.close()
        return [path for folder in self.order for path in self.written.get(folder, [])]

    def close(self) -> None:
        """Stop the helper; at once when it is still drawing (an error or Ctrl-C here): what it
        was writing is left as a temporary file, which the next run removes."""
        if self.pool is not None:
            if self.running is not None and not self.running[2].done():
                for process in list((getattr(self.pool, "_processes", None) or {}).values()):
                    process.terminate()
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
