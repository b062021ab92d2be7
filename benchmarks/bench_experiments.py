"""Where an experiment's time goes: one representative cell of each experiment, timed by module.

    python benchmarks/bench_experiments.py              # the quick presets (about a minute)
    python benchmarks/bench_experiments.py --full       # full-scale configs (one cell each: minutes)
    python benchmarks/bench_experiments.py --cell rates=teacher-large-m   # other cells

Each cell runs as the runner runs it (one torch thread, one BLAS thread). Every module-level
function of the project's modules is wrapped by a timer for the run, and the cell's wall time
is split by the category of the innermost project module running (exclusive time; a library
call counts for the project module that made it):

- training: sims/nets/train.py (gradient descent)
- features: sims/nets/model.py (act(Z), neuron features, forward passes)
- selection: sims/selection/engine.py, sims/selection/simplex_qp.py and the other pruning methods of sims/
- geometry: theory/ (geometry, bounds, claims)
- data & I/O: sims/data/datasets.py, sims/foundations/io.py (loading data sets), and writing the cell's rows as CSV
- experiment: the rest (the experiment modules' own code: bookkeeping, metrics)

"wall" is the cell without the timers, "timed" with them (the difference is their overhead).
Prints a markdown table: seconds and percent of the timed run.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import inspect
import sys
import time

import torch
from threadpoolctl import threadpool_limits

from sims.experiments.runner import get_experiment
from sims.results.folder import cell_key
from sims.results.rows import rows_to_csv

CATEGORIES = ("training", "features", "selection", "geometry", "data & I/O", "experiment")
MODULE_CATEGORIES = {
    "sims.nets.train": "training",
    "sims.nets.model": "features",
    "sims.selection.engine": "selection", "sims.selection.simplex_qp": "selection", "sims.baselines.methods": "selection",
    "sims.selection.set_greedy": "selection", "sims.selection.published_gfs": "selection", "sims.selection.sharded": "selection",
    "sims.pruning.prune": "selection", "sims.baselines.scores": "selection",
    "sims.data.datasets": "data & I/O", "sims.foundations.io": "data & I/O",
}
# experiment -> a substring of the keys of the cells timed by default (the last of them is
# timed: in the presets the largest; the MNIST cells dominate the full runs)
DEFAULT_CELLS = {
    "rates": "kind-select_problem-mnist5k",
    "exponential": "kind-phase",
    "pretraining": "setup-mf-mnist5k",
    "finetune": "problem-mnist5k",
    "tradeoff": "problem-mnist5k",
}


def category_of_module(name: str) -> str | None:
    """The category of a project module (None for the experiment modules and non-project code)."""
    if name.startswith("theory."):
        return "geometry"
    return MODULE_CATEGORIES.get(name)


class CategoryClock:
    """Exclusive wall time per category: the clock runs for the category of the innermost
    wrapped function being executed, and for "experiment" outside all of them."""

    def __init__(self):
        self.totals = dict.fromkeys(CATEGORIES, 0.0)
        self.current = "experiment"
        self.mark = time.perf_counter()

    def switch(self, category: str) -> str:
        """Charge the time since the last switch to the running category; run ``category``."""
        now = time.perf_counter()
        self.totals[self.current] += now - self.mark
        self.mark, previous, self.current = now, self.current, category
        return previous

    def wrap(self, function, category: str):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            if self.current == category:  # a call within the category: nothing to switch
                return function(*args, **kwargs)
            previous = self.switch(category)
            try:
                return function(*args, **kwargs)
            finally:
                self.switch(previous)

        return timed


@contextlib.contextmanager
def timers_installed(clock: CategoryClock):
    """Replace every module-level function of the categorised modules by its timed wrapper, in
    every loaded project module that refers to it (the defining one and its importers)."""
    wrapped = {}
    for name, module in list(sys.modules.items()):
        category = category_of_module(name)
        if category is None:
            continue
        for value in vars(module).values():
            if inspect.isfunction(value) and value.__module__ == name:
                wrapped[value] = clock.wrap(value, category)
    replaced = []
    for name, module in list(sys.modules.items()):
        if not (name.startswith("sims") or name.startswith("theory")):
            continue
        namespace = vars(module)
        for attribute, value in list(namespace.items()):
            if inspect.isfunction(value) and value in wrapped:
                namespace[attribute] = wrapped[value]
                replaced.append((namespace, attribute, value))
    try:
        yield
    finally:
        for namespace, attribute, value in replaced:
            namespace[attribute] = value


def run_timed(experiment, config, cell) -> tuple[dict[str, float], float, float]:
    """(seconds per category, timed total, wall time without the timers) of one cell; the cell
    runs twice, so data sets cached by the first run are not counted in the second."""
    with threadpool_limits(limits=1):
        start = time.perf_counter()
        rows_to_csv(experiment.run_cell(config, cell))
        wall = time.perf_counter() - start
        clock = CategoryClock()
        with timers_installed(clock):
            start = clock.mark = time.perf_counter()
            rows = experiment.run_cell(config, cell)
            clock.switch("data & I/O")
            rows_to_csv(rows)  # what the runner writes
            clock.switch("experiment")
            timed = time.perf_counter() - start
    return clock.totals, timed, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="full-scale configs instead of the quick presets")
    parser.add_argument("--cell", action="append", default=[], metavar="EXPERIMENT=SUBSTRING",
                        help="time the last cell of EXPERIMENT whose key contains SUBSTRING")
    parser.add_argument("--experiments", nargs="+", default=list(DEFAULT_CELLS), help="which experiments")
    args = parser.parse_args()
    chosen = dict(DEFAULT_CELLS, **dict(item.split("=", 1) for item in args.cell))
    torch.set_num_threads(1)  # as the runner runs a cell
    print(f"torch {torch.__version__}, 1 thread, {'full-scale' if args.full else 'quick'} configs; "
          f"seconds (percent of the timed run)")
    print()
    print("| experiment | cell | wall | timed | " + " | ".join(CATEGORIES) + " |")
    print("|---|---|---|---|" + "---|" * len(CATEGORIES))
    for name in args.experiments:
        experiment = get_experiment(name)
        config = experiment.config_class() if args.full else experiment.quick()
        cells = experiment.cells(config)
        matching = [c for c in cells if chosen.get(name, "") in cell_key(c)] or cells
        cell = matching[-1]  # the last (in the presets: the largest) of the matching cells
        totals, timed, wall = run_timed(experiment, config, cell)
        shares = " | ".join(f"{totals[c]:.2f} ({100 * totals[c] / timed:.0f}%)" for c in CATEGORIES)
        print(f"| {name} | {cell_key(cell)} | {wall:.2f} s | {timed:.2f} s | {shares} |", flush=True)


if __name__ == "__main__":
    main()
