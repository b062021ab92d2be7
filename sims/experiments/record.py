"""The record that describes an experiment to the runner, the report and the command line.

This module imports nothing of the experiments, the runner or the report, so each experiment
module can build its record without an import cycle; the table of the toolkit's experiments is
:data:`sims.experiments.EXPERIMENTS`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

__all__ = ["Experiment"]


@dataclass(frozen=True)
class Experiment:
    """An experiment.

    config_class: a frozen dataclass whose defaults are the full-scale run; it may nest the
        library's configs (``sims.foundations.composed``): it is stored, hashed and read from
        TOML as its flat record.
    quick: () -> config, the small preset behind ``--quick``.
    cells: config -> list of cells, the independent units of work: typed records (frozen
        dataclasses, whose JSON record ``sims.foundations.composed.cell_record`` names the
        cell's file) or JSON-able dicts.
    run_cell: (config, cell) -> list of tidy row dicts (columns in ``sims.experiments.runner.COLUMNS``;
        "experiment" is filled in by the runner). Must be deterministic given (config, cell).
    figures: (rows, config, folder) -> list of written figure paths (PNG and PDF).
    claims: (rows, config) -> list of theory.claims.Verdict, the report's entries.
    summary: optional (rows, config) -> Markdown lines the report shows under the verdicts
        (for example a table of fitted rates).
    data: optional config -> the data sets (``sims.data.datasets.DatasetConfig``) the run reads; the
        runner refuses a run whose data files are absent before any work
        (``sims.experiments.runner.check_data_files``).
    memory: optional config -> [(config field, bytes, what)], the peak memory one cell needs
        because of that field's size (an estimate, see ``sims.foundations.guards``); the runner refuses a
        config whose estimate exceeds the available memory before any work, naming the field.
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
    data: Callable[[object], list] | None = None
    memory: Callable[[object], list] | None = None
