"""sims.experiments.record: the Experiment record (frozen, the fields and defaults its docstring promises,
no import of the experiments, runner or report), and every entry of sims.experiments.EXPERIMENTS
honours it: named by its key, a quick preset of its config class, cells that are a non-empty list
of distinct JSON-able dicts."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

import sims.experiments.record
from sims.experiments.record import Experiment
from sims.experiments import EXPERIMENTS
from sims.experiments.runner import experiments
from sims.foundations.composed import cell_record
from sims.results.folder import cell_key


@dataclasses.dataclass(frozen=True)
class _Config:
    size: int = 3


def _record(**changes):
    fields = dict(name="toy", config_class=_Config, quick=lambda: _Config(1), cells=lambda c: [{"i": 0}],
                  run_cell=lambda c, cell: [], figures=lambda rows, c, folder: [], claims=lambda rows, c: [])
    return Experiment(**{**fields, **changes})


def test_fields_in_order_with_their_defaults():
    fields = dataclasses.fields(Experiment)
    assert [f.name for f in fields] == ["name", "config_class", "quick", "cells", "run_cell", "figures", "claims",
                                        "description", "summary", "data", "memory"]
    required = [f.name for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    assert required == ["name", "config_class", "quick", "cells", "run_cell", "figures", "claims"]
    record = _record()
    assert record.description == "" and record.summary is None and record.data is None and record.memory is None


def test_the_record_is_frozen():
    record = _record()
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.name = "other"
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.summary = lambda rows, config: []
    assert dataclasses.replace(record, description="new").description == "new" and record.description == ""


def test_every_required_field_must_be_given():
    with pytest.raises(TypeError):
        Experiment("toy", _Config, lambda: _Config(1), lambda c: [], lambda c, cell: [], lambda r, c, f: [])


def test_records_with_the_same_fields_are_equal_and_hashable():
    quick = lambda: _Config(1)  # noqa: E731
    cells = lambda c: []  # noqa: E731
    one = _record(quick=quick, cells=cells)
    two = dataclasses.replace(one)
    assert one == two and hash(one) == hash(two)
    assert one != dataclasses.replace(one, name="other")


def test_the_module_imports_nothing_of_the_toolkit():
    """So each experiment module can build its record without an import cycle."""
    tree = ast.parse(Path(sims.experiments.record.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"sims", "theory"}, imported


# ---------------------------------------------------------------- the toolkit's experiments


def test_the_toolkit_has_experiments():
    assert {"exponential", "rates", "pretraining", "finetune"} <= set(EXPERIMENTS)


@pytest.mark.parametrize("key", list(EXPERIMENTS))
def test_every_experiment_is_a_record_named_by_its_key(key):
    experiment = EXPERIMENTS[key]
    assert isinstance(experiment, Experiment)
    assert experiment.name == key
    assert dataclasses.is_dataclass(experiment.config_class) and experiment.config_class.__dataclass_params__.frozen
    for function in (experiment.quick, experiment.cells, experiment.run_cell, experiment.figures, experiment.claims):
        assert callable(function)
    assert experiment.summary is None or callable(experiment.summary)
    assert isinstance(experiment.description, str)


@pytest.mark.parametrize("key", list(EXPERIMENTS))
def test_every_quick_preset_is_a_config_with_typed_json_able_cells(key):
    experiment = EXPERIMENTS[key]
    quick = experiment.quick()
    assert isinstance(quick, experiment.config_class)
    assert quick == experiment.quick()  # the preset is a value, not a fresh draw
    cells = experiment.cells(quick)
    assert isinstance(cells, list) and cells
    for cell in cells:
        assert dataclasses.is_dataclass(cell) and type(cell).__dataclass_params__.frozen  # a typed record
        record = cell_record(cell)
        assert isinstance(record, dict) and record
        assert json.loads(json.dumps(record, allow_nan=False)) == record  # JSON-able, and survives the round trip
    assert len({cell_key(cell) for cell in cells}) == len(cells)  # the runner keys cells: no two alike
    assert cells == experiment.cells(quick)  # deterministic given the config


def test_the_runner_lists_the_toolkit_experiments_first_in_their_order():
    assert list(experiments())[: len(EXPERIMENTS)] == list(EXPERIMENTS)
