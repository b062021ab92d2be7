"""sims.cli.drawing: figures drawn by this process and a spawned helper are the files one process
draws; an experiment registered at run time is drawn here; a helper that dies leaves the work to
this process."""

from dataclasses import replace
from pathlib import Path

import pytest

from sims.cli.drawing import FigureDrawing
from sims.experiments.runner import get_experiment, run_experiment
from sims.reporting.report import write_figures
from tests.sims.test_bad_input import _run as run_tiny_experiment


@pytest.fixture(scope="module")
def two_folders(tmp_path_factory):
    """Two finished results folders of one built-in experiment (submodularity's quick preset and
    a smaller variant): their figures have the same names."""
    out = tmp_path_factory.mktemp("results")
    quick = get_experiment("submodularity").quick()
    return [run_experiment("submodularity", config, out=out, progress=False, log=lambda _: None)
            for config in (quick, replace(quick, instances=3))]


def _bytes(folder: Path) -> dict:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_two_processes_write_the_files_one_process_writes(two_folders, tmp_path):
    """The helper takes the first folder; the second, of the same experiment, waits for it, so
    its figures are the ones left, as when one process draws both in order."""
    serial = tmp_path / "serial"
    for folder in two_folders:
        write_figures([folder], serial)
    first_only = _bytes(write_figures([two_folders[0]], tmp_path / "first")[0].parent)
    lines = []
    drawing = FigureDrawing(tmp_path / "parallel", log=lines.append)
    for folder in two_folders:
        drawing.add(folder)
    paths = drawing.finish()
    assert drawing.pool is None  # the helper is stopped
    assert _bytes(tmp_path / "parallel") == _bytes(serial) != first_only
    assert len(paths) == 2 * 2
    assert lines[0] == f"{two_folders[0].name}: figures drawn in the helper process"


def test_an_experiment_registered_at_run_time_is_drawn_here(tmp_path):
    folder = run_tiny_experiment(tmp_path / "results")
    lines = []
    drawing = FigureDrawing(tmp_path / "figures", log=lines.append)
    drawing.add(folder)
    assert drawing.running is None  # not handed to the helper, which would not know the experiment
    assert [path.name for path in drawing.finish()] == ["tiny-bad-input_draws.png"]
    assert lines[0].endswith("figures drawn in this process")


def test_a_helper_that_dies_leaves_its_folder_to_this_process(two_folders, tmp_path):
    drawing = FigureDrawing(tmp_path / "figures", log=lambda _: None)
    drawing.pool.submit(int).result()  # the helper is up
    for process in drawing.pool._processes.values():
        process.kill()
    drawing.add(two_folders[0])
    drawing.add(two_folders[1])
    paths = drawing.finish()
    assert sorted(path.name for path in paths) == sorted(path.name for path in write_figures(two_folders, tmp_path / "x"))
    assert all(path.is_file() for path in paths)
