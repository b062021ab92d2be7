"""sims.cli.drawing: figures drawn by this process and a spawned helper are the files one process
draws in order; an experiment that is not the toolkit's own is drawn here; a folder the helper
fails on is drawn again here, its error raised at finish, never while experiments still run; a
helper that dies leaves its work to this process; close stops a helper that is still drawing."""

import shutil
from concurrent.futures import wait
from dataclasses import replace
from pathlib import Path

import pytest

from sims.cli.drawing import FigureDrawing
from sims.experiments.runner import get_experiment, register, run_experiment
from sims.foundations.errors import InputError
from sims.reporting.report import write_figures
from tests.sims.test_bad_input import _run as run_tiny_experiment


def _run(name, config, out):
    return run_experiment(name, config, out=out, progress=False, log=lambda _: None)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Finished results folders: exponential's quick preset, then two of submodularity (the quick
    preset and a smaller variant) whose figures have the same names."""
    out = tmp_path_factory.mktemp("results")
    quick = get_experiment("submodularity").quick()
    return [_run("exponential", get_experiment("exponential").quick(), out),
            *(_run("submodularity", config, out) for config in (quick, replace(quick, instances=3)))]


def _bytes(folder: Path) -> dict:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_two_processes_write_the_files_one_process_writes_in_order(folders, tmp_path):
    """The helper takes exponential; this process may not draw the second submodularity folder
    before the first (same figure names), so the second's figures are the ones left."""
    serial = tmp_path / "serial"
    for folder in folders:
        write_figures([folder], serial)
    first_only = _bytes(write_figures([folders[1]], tmp_path / "first")[0].parent)
    lines = []
    drawing = FigureDrawing(tmp_path / "parallel", log=lines.append)
    for folder in folders:
        drawing.add(folder)
    paths = drawing.finish()
    assert drawing.pool is None  # the helper is stopped
    parallel = _bytes(tmp_path / "parallel")
    assert parallel == _bytes(serial)
    assert {name: parallel[name] for name in first_only} != first_only
    assert len(paths) == len(parallel) + 2  # the submodularity files twice
    assert f"{folders[0].name}: figures drawn in the helper process" in lines


def test_an_experiment_registered_at_run_time_is_drawn_here(tmp_path):
    folder = run_tiny_experiment(tmp_path / "results")
    lines = []
    drawing = FigureDrawing(tmp_path / "figures", log=lines.append)
    drawing.add(folder)
    assert drawing.running is None  # not handed to the helper, which would not know the experiment
    assert [path.name for path in drawing.finish()] == ["tiny-bad-input_draws.png"]
    assert lines[0].endswith("figures drawn in this process")


def test_a_renamed_copy_of_a_toolkit_experiment_is_drawn_here(tmp_path):
    """Its figures function is the toolkit's, but a new process does not know its name."""
    copy = register(replace(get_experiment("submodularity"), name="copied-submodularity"))
    folder = _run(copy.name, replace(copy.quick(), instances=2), tmp_path / "results")
    drawing = FigureDrawing(tmp_path / "figures", log=lambda _: None)
    drawing.add(folder)
    assert drawing.running is None
    assert {path.name for path in drawing.finish()} == {"submodularity_guarantees.png", "submodularity_guarantees.pdf"}


def test_a_folder_the_helper_fails_on_raises_at_finish_after_the_others_are_drawn(folders, tmp_path):
    damaged = tmp_path / folders[1].name  # a copy of a finished folder whose rows are cut short
    shutil.copytree(folders[1], damaged)
    rows = next(damaged.glob("rows.csv*"))
    rows.write_bytes(rows.read_bytes()[: len(rows.read_bytes()) // 2])
    drawing = FigureDrawing(tmp_path / "figures", log=lambda _: None)
    drawing.add(damaged)
    wait([drawing.running[2]])  # the helper has failed on it
    drawing.add(folders[0])  # no error here: experiments would still be running
    with pytest.raises(InputError):
        drawing.finish()
    assert drawing.pool is None
    assert {path.name for path in (tmp_path / "figures").iterdir()} == {
        path.name for path in write_figures([folders[0]], tmp_path / "alone")}


@pytest.mark.parametrize("when", ["before the hand-over", "while drawing"])
def test_a_helper_that_dies_leaves_its_folders_to_this_process(folders, tmp_path, when):
    drawing = FigureDrawing(tmp_path / "figures", log=lambda _: None)
    drawing.pool.submit(int).result()  # the helper is up
    if when == "while drawing":
        drawing.add(folders[0])
        assert drawing.running is not None
    for process in drawing.pool._processes.values():
        process.kill()
    for folder in folders[1 if when == "while drawing" else 0:]:
        drawing.add(folder)
    paths = drawing.finish()
    assert sorted(path.name for path in paths) == sorted(path.name for path in write_figures(folders, tmp_path / "x"))
    assert _bytes(tmp_path / "figures") == _bytes(tmp_path / "x")


def test_close_stops_a_helper_that_is_still_drawing(folders, tmp_path):
    drawing = FigureDrawing(tmp_path / "figures", log=lambda _: None)
    drawing.add(folders[0])
    helpers = list(drawing.pool._processes.values())
    assert drawing.running is not None and not drawing.running[2].done()
    drawing.close()
    assert drawing.pool is None and helpers and not any(process.is_alive() for process in helpers)
    # stopped, not waited for: the helper was still starting, so it wrote no figure
    assert not list((tmp_path / "figures").glob("*.p*"))


def test_a_helper_dead_with_its_folder_unfinished_is_not_waited_for(folders, tmp_path):
    """A future its dead helper will never finish (the pool missed the death): finish notices
    the helper is gone and draws the folder here."""
    from concurrent.futures import Future

    from sims.cli.drawing import _figures_key

    drawing = FigureDrawing(tmp_path / "figures", log=lambda _: None)
    drawing.pool.submit(int).result()
    for process in drawing.pool._processes.values():
        process.kill()
        process.join()
    folder = str(folders[0])
    drawing.order.append(folder)
    drawing.running = (folder, _figures_key(get_experiment("exponential").figures), Future())
    assert [path.name for path in drawing.finish()] == [path.name for path in write_figures([folder], tmp_path / "x")]


def test_of_two_failing_folders_the_first_added_names_the_error(folders, tmp_path):
    damaged = []  # exponential's (the helper's, then redrawn here) and submodularity's (drawn here first)
    for position, source in enumerate(folders[:2]):
        copy = tmp_path / f"copy{position}" / source.name
        shutil.copytree(source, copy)
        rows = next(copy.glob("rows.csv*"))
        rows.write_bytes(rows.read_bytes()[: len(rows.read_bytes()) // 2])
        damaged.append(copy)
    drawing = FigureDrawing(tmp_path / "figures", log=lambda _: None)  # the helper fails on the first
    for folder in damaged:
        drawing.add(folder)
    with pytest.raises(InputError, match="copy0"):
        drawing.finish()


def test_only_the_gfs_command_itself_gets_a_helper(tmp_path, monkeypatch):
    """A spawned helper imports the main module again: only the toolkit's entry points are known
    to run nothing at import (a user's script may run its commands there)."""
    import sys
    import types
    from importlib.machinery import ModuleSpec

    from sims.cli.drawing import launched_as_gfs

    assert not launched_as_gfs()  # pytest
    monkeypatch.setitem(sys.modules, "__main__", types.SimpleNamespace(__spec__=ModuleSpec("sims.__main__", None)))
    assert launched_as_gfs()
    console_script = tmp_path / "gfs"
    console_script.write_text("import sys\nfrom sims.cli.commands import main\nif __name__ == '__main__':\n    sys.exit(main())\n")
    script = tmp_path / "my_script.py"
    script.write_text("from sims.cli.commands import main\nmain(['run', 'all', '--quick'])\n")
    for path, expected in ((console_script, True), (script, False)):
        monkeypatch.setitem(sys.modules, "__main__", types.SimpleNamespace(__spec__=None, __file__=str(path)))
        assert launched_as_gfs() is expected
