"""Bad input never leaves a trace: each case ends in one line on stderr naming the parameter or
file, exit status 2, no traceback, and no new file or folder. Also the checks of cell files
(schema, row count, checksum) and their backward compatibility with folders written before
checksums were recorded."""

import json

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from sims.cli.commands import main
from sims.experiments.runner import Experiment, register, run_experiment
from sims.results.folder import CHECKSUMS
from sims.results.rows import read_rows


@dataclass(frozen=True)
class TinyConfig:
    cells: int = 4
    seed: int = 0


def _tiny_cells(config):
    if config.cells < 1:
        raise ValueError(f"cells must be a positive integer, got {config.cells!r}")
    return [{"index": i} for i in range(config.cells)]


def _tiny_run_cell(config, cell):
    rng = np.random.default_rng([config.seed, cell["index"]])
    return [{"dataset": "tiny", "method": "noise", "m": 3, "n": cell["index"], "seed": config.seed,
             "metric": "draw", "value": float(value)} for value in rng.standard_normal(3)]


def _tiny_figures(rows, config, folder):
    """A stand-in figure whose bytes say which results drew it."""
    path = Path(folder) / "tiny-bad-input_draws.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{len(rows)} rows, {config.cells} cells")
    return [path]


register(Experiment("tiny-bad-input", TinyConfig, lambda: TinyConfig(cells=2), _tiny_cells, _tiny_run_cell,
                    figures=_tiny_figures, claims=lambda rows, config: []))


def _run(out, config=TinyConfig()):
    return run_experiment("tiny-bad-input", config, out=out, progress=False, log=lambda _: None)


def _tree(root: Path) -> dict:
    """Every file under root with its bytes, and every folder."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


# ---------------------------------------------------------------- cell files


def test_cells_get_checksums_and_a_clean_rerun_passes(tmp_path):
    folder = _run(tmp_path)
    table = json.loads((folder / CHECKSUMS).read_text())
    assert len(table) == 4 and all(record["rows"] == 3 for record in table.values())
    assert _run(tmp_path) == folder and len(read_rows(folder / "rows.csv")) == 12


def _damage(folder: Path, how: str) -> Path:
    cell = sorted((folder / "cells").glob("*.csv"))[1]
    text = cell.read_text()
    if how == "truncated":
        cell.write_text(text[: len(text) - 9])
    elif how == "truncated-at-line":
        cell.write_text("".join(text.splitlines(keepends=True)[:-1]))
    elif how == "junk":
        cell.write_bytes(b"\x00\x93 this is not a csv \xff\n")
    elif how == "junk-text":
        cell.write_text("hello,world\n1,2\n")
    elif how == "changed-value":
        cell.write_text(text.replace(text.splitlines()[1].split(",")[-3], "0.0", 1))
    return cell


@pytest.mark.parametrize("how", ["truncated", "truncated-at-line", "junk", "junk-text", "changed-value"])
@pytest.mark.parametrize("legacy", [False, True], ids=["with-checksums", "legacy-without-checksums"])
def test_damaged_cell_file_is_named_and_nothing_is_written(tmp_path, capsys, how, legacy):
    folder = _run(tmp_path)
    if legacy:  # a folder written before checksums were recorded: schema-only checks
        (folder / CHECKSUMS).unlink()
    cell = _damage(folder, how)
    if legacy and how in ("truncated-at-line", "changed-value"):
        # without a recorded checksum a well-formed but shorter or edited file cannot be told apart
        assert len(read_rows(cell)) in (2, 3)
        return
    before = _tree(tmp_path)
    with pytest.raises(ValueError, match=f"cell file '{cell}'.*delete it to recompute"):
        _run(tmp_path)
    assert _tree(tmp_path) == before


def test_folder_written_before_checksums_still_resumes(tmp_path):
    """A results folder of the previous format (cells without checksums, a rows.csv without the
    eps column) resumes: missing cells are computed, the old ones are read."""
    folder = _run(tmp_path)
    reference = (folder / "rows.csv").read_text()
    (folder / CHECKSUMS).unlink()
    cells = sorted((folder / "cells").glob("*.csv"))
    for cell in cells:  # the old header, without eps
        lines = cell.read_text().splitlines()
        cell.write_text("\n".join([",".join(lines[0].split(",")[:9])] + [line[: line.rindex(",")] for line in lines[1:]])
                        + "\n")
    cells[0].unlink()
    assert _run(tmp_path) == folder
    assert (folder / "rows.csv").read_text() == reference
    assert len(json.loads((folder / CHECKSUMS).read_text())) == 1  # only the recomputed cell is recorded


def test_config_refused_by_cells_leaves_no_folder(tmp_path):
    with pytest.raises(ValueError, match="cells must be a positive integer"):
        _run(tmp_path / "out", TinyConfig(cells=0))
    assert not (tmp_path / "out").exists()


def test_failure_before_any_cell_removes_the_folders_it_made(tmp_path, monkeypatch):
    import sims.experiments.runner

    def fail(*args, **kwargs):
        raise OSError("scheduler unreachable")

    monkeypatch.setattr(sims.experiments.runner, "_run_cell_isolated", fail)
    with pytest.raises(OSError):
        _run(tmp_path / "deep" / "out")
    assert list(tmp_path.iterdir()) == []


def test_progress_without_a_terminal_is_one_line_per_cell(tmp_path):
    lines = []
    run_experiment("tiny-bad-input", TinyConfig(cells=3), out=tmp_path, progress=True, log=lines.append)
    assert len(lines) == 4 and all("finished after" in line for line in lines[1:])
    assert lines[-1].startswith("tiny-bad-input: cell 3/3 finished")


# ---------------------------------------------------------------- the command line


def _gfs(argv) -> int:
    """Exit status of ``gfs argv`` (argparse's own errors exit through SystemExit)."""
    try:
        return main([str(a) for a in argv])
    except SystemExit as exit_info:
        return exit_info.code


def _gfs_model(path: Path, drop: str | None = None) -> Path:
    import torch

    from sims.nets.model import init_network, save_model

    save_model(init_network(64, 8, 10, seed=0), path, metadata={})
    if drop is not None:
        payload = torch.load(path, weights_only=True)
        del payload[drop]
        torch.save(payload, path)
    return path


def _cell_folder(root: Path, how: str) -> Path:
    folder = _run(root / "results")
    _damage(folder, how)
    return root / "results"


# (arguments, a fragment the one error line must contain); "{tmp}" is the test's folder, whose
# contents before the call are the only files allowed after it.
CASES = {
    "config-wrong-type": (["run", "rates", "--quick", "--config", "{tmp}/c.toml", "--out", "{tmp}/out"],
                          'n_max = "fifty"\n', "config key n_max must be an integer, got 'fifty'"),
    "config-wrong-type-in-list": (["run", "rates", "--quick", "--config", "{tmp}/c.toml", "--out", "{tmp}/out"],
                                  '[rates]\nseeds = [0, "one"]\n', "config key seeds must be a list of integers"),
    "config-float-for-int": (["run", "rates", "--quick", "--config", "{tmp}/c.toml", "--out", "{tmp}/out"],
                             "dense_width = 12.5\n", "config key dense_width must be an integer, got 12.5"),
    "config-out-of-range": (["run", "rates", "--quick", "--config", "{tmp}/c.toml", "--out", "{tmp}/out",
                             "--no-figures"], "n_max = -5\n", "n_max"),
    "train-width-too-large": (["train", "--data", "digits", "--width", "1000000000", "--out", "{tmp}/m.pt"], None,
                              "--width needs about"),
    "train-device-cuda-absent": (["train", "--data", "digits", "--width", "5", "--device", "cuda",
                                  "--out", "{tmp}/m.pt"], None, "--device 'cuda'"),
    "train-device-banana": (["train", "--data", "digits", "--width", "5", "--device", "banana",
                             "--out", "{tmp}/m.pt"], None, "--device 'banana' is not a torch device"),
    "train-width-zero": (["train", "--width", "0", "--out", "{tmp}/m.pt"], None, "--width"),
    "select-n-too-large": (["select", "--features", "{tmp}/F.npy", "--target", "{tmp}/Y.npy", "-n", "1000000000",
                            "--out", "{tmp}/s.json"], None, "-n needs about"),
    "prune-model-missing-key": (["prune", "--model", "{tmp}/model.pt", "--data", "digits", "--m", "100", "-n", "3",
                                 "--out", "{tmp}/small.pt"], "scaling", "lacks the key(s) scaling"),
    "prune-model-missing-weights": (["prune", "--model", "{tmp}/model.pt", "--data", "digits", "--m", "100",
                                     "-n", "3", "--out", "{tmp}/small.pt"], "first_weight",
                                    "lacks the key(s) first_weight"),
    "cell-truncated": (["run", "tiny-bad-input", "--out", "{tmp}/results", "--no-figures"], "truncated",
                       "cell file"),
    "cell-junk": (["run", "tiny-bad-input", "--out", "{tmp}/results", "--no-figures"], "junk", "cell file"),
    "cell-junk-text": (["run", "tiny-bad-input", "--out", "{tmp}/results", "--no-figures"], "junk-text",
                       "cell file"),
    "report-damaged-rows": (["report", "--out", "{tmp}/results"], "rows", "rows.csv"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_exit_2_and_leaves_no_trace(tmp_path, monkeypatch, capfd, case):
    arguments, setup, fragment = CASES[case]
    monkeypatch.chdir(tmp_path)  # default output paths land here too
    if "--config" in arguments:
        (tmp_path / "c.toml").write_text(setup)
    if arguments[0] == "select":
        np.save(tmp_path / "F.npy", np.ones((4, 6)))
        np.save(tmp_path / "Y.npy", np.ones(4))
    if arguments[0] == "prune":
        _gfs_model(tmp_path / "model.pt", drop=setup)
    if case.startswith("cell-"):
        _cell_folder(tmp_path, setup)
    if case == "report-damaged-rows":
        folder = _run(tmp_path / "results")
        rows = folder / "rows.csv"
        rows.write_text(rows.read_text()[:-20])
    capfd.readouterr()
    before = _tree(tmp_path)
    code = _gfs([a.replace("{tmp}", str(tmp_path)) for a in arguments])
    stderr = capfd.readouterr().err
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2, stderr
    assert len(lines) == 1 and fragment in lines[0], stderr
    assert "Traceback" not in stderr
    assert _tree(tmp_path) == before


# ---------------------------------------------------------------- the README's path


def _links(report: Path) -> list[Path]:
    import re

    return [report.parent / link for link in re.findall(r"!\[[^]]*\]\(([^)]+)\)", report.read_text())]


def test_figures_and_report_after_a_quick_run_find_the_quick_results(tmp_path, monkeypatch, capsys):
    """`gfs run X --quick`, then `gfs figures` and `gfs report` as the README writes them: the
    quick results are found (with a message), the committed figures/ stay byte for byte, the
    report links the quick figures relative to itself and says it is a smoke run."""
    monkeypatch.chdir(tmp_path)
    committed = tmp_path / "figures" / "tiny-bad-input_draws.png"
    committed.parent.mkdir()
    committed.write_text("the committed full-scale figure")
    assert _gfs(["run", "tiny-bad-input", "--quick"]) == 0
    assert _gfs(["figures"]) == 0
    out = capsys.readouterr().out
    assert "using the quick results in results/quick/" in out and "writing figures to results/quick/figures" in out
    assert _gfs(["report"]) == 0
    assert committed.read_text() == "the committed full-scale figure"
    report = tmp_path / "results" / "quick" / "REPORT.md"
    assert "Smoke run" in report.read_text().split("## ")[0]
    links = _links(report)
    assert links and all(link.exists() for link in links)
    assert all(link.resolve().parent == (tmp_path / "results" / "quick" / "figures").resolve() for link in links)
    assert _gfs(["figures", "--out", "results/quick"]) == 0 and _gfs(["report", "--quick"]) == 0
    assert committed.read_text() == "the committed full-scale figure"
    assert _gfs(["figures", "--quick", "--figures", "figures"]) == 2  # quick figures never go into figures/
    assert committed.read_text() == "the committed full-scale figure"


def test_folder_written_by_another_version_is_named(tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    folder = _run(tmp_path / "results")
    config = json.loads((folder / "config.json").read_text())
    config["config"]["renamed_field"] = 1
    (folder / "config.json").write_text(json.dumps(config))
    assert _gfs(["report"]) == 2
    (line,) = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert f"results folder 'results/{folder.name}' cannot be read by this version" in line and "renamed_field" in line
    assert not (tmp_path / "results" / "REPORT.md").exists()


def test_full_scale_report_links_the_committed_figures(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _gfs(["run", "tiny-bad-input"]) == 0
    report = tmp_path / "results" / "REPORT.md"
    assert "Smoke run" not in report.read_text()
    links = _links(report)
    assert [link.resolve() for link in links] == [(tmp_path / "figures" / "tiny-bad-input_draws.png").resolve()]
    assert links[0].read_text() == "12 rows, 4 cells"


@pytest.mark.slow
def test_readme_commands_in_order_leave_the_committed_figures_untouched(tmp_path):
    """The README's quick demo, then `gfs figures` and `gfs report`, in a copy of the repository."""
    import shutil
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    copy = tmp_path / "clone"
    shutil.copytree(root / "figures", copy / "figures")
    before = _tree(copy / "figures")
    for command in (["run", "all", "--quick"], ["figures"], ["report"]):
        result = subprocess.run([sys.executable, "-m", "sims.cli.commands", *command], cwd=copy, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    assert _tree(copy / "figures") == before
    report = copy / "results" / "quick" / "REPORT.md"
    assert "Smoke run" in report.read_text() and all(link.exists() for link in _links(report))


# ---------------------------------------------------------------- the table of bad inputs


def _fixture_files(root: Path) -> None:
    """Small input files, good and bad, that the table below refers to by name."""
    import torch

    from sims.nets.model import init_network, save_model

    np.save(root / "F.npy", np.ones((4, 6)))
    np.save(root / "Y.npy", np.ones(4))
    np.save(root / "Y5.npy", np.ones(5))
    np.save(root / "Fnan.npy", np.full((4, 6), np.nan))
    np.save(root / "Fobj.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
    (root / "text.npy").write_text("hello")
    save_model(init_network(64, 8, 10, seed=0), root / "digits.pt", metadata={})
    save_model(init_network(5, 8, 1, seed=0), root / "teacher.pt", metadata={})
    payload = torch.load(root / "digits.pt", weights_only=True)
    for name, key, value in (("badmeta", "metadata", "not json"), ("nan", "first_weight", torch.full((8, 64), np.nan)),
                             ("badact", "activation", "swish"), ("badshape", "second_weight", torch.ones(7, 10)),
                             ("badformat", "format", "other"), ("badtype", "first_weight", "a string")):
        torch.save({**payload, key: value}, root / f"{name}.pt")
    torch.save({"0.weight": torch.ones(8, 64), "0.bias": torch.ones(8), "2.weight": torch.ones(10, 8),
                "2.bias": torch.ones(10)}, root / "sd.pt")
    torch.save({"0.weight": torch.ones(8, 64)}, root / "sd_partial.pt")
    torch.save([1, 2, 3], root / "list.pt")
    (root / "junk.pt").write_text("junk")
    (root / "bad.toml").write_text("this = = not toml")
    (root / "keys.toml").write_text("bogus_key = 3\n")
    (root / "methods.toml").write_text('[rates]\nmethods = ["gfs", "nope"]\n')
    (root / "seeds.toml").write_text("seeds = 3\n")
    (root / "lr.toml").write_text('lr = "fast"\n')
    (root / "neg.toml").write_text("n_max = -5\n")
    (root / "empty").mkdir()
    (root / "taken.png").mkdir()  # blocks the loss-curve figure of --out taken.pt


D = ["--data", "digits"]
SEL = ["select", "--features", "F.npy", "--target", "Y.npy"]
PR = ["prune", "--data", "digits", "-n", "2", "--out", "s.pt", "--model"]
RUN = ["run", "rates", "--quick", "--out", "out", "--no-figures"]

# (arguments, a fragment of the one error line). All run in a folder holding only _fixture_files.
TABLE = [
    (["train", "--data", "nope"], "unknown dataset 'nope'; valid:"),
    (["train", "--m", "0"], "--m"), (["train", "--m", "abc"], "--m"),
    (["train", *D, "--m", "100000"], "larger than the 1438 training examples"),
    (["train", *D, "--test-fraction", "1.5"], "test_fraction must lie in [0, 1)"),
    (["train", *D, "--test-fraction", "-0.1"], "test_fraction must lie in [0, 1)"),
    (["train", *D, "--test-fraction", "abc"], "--test-fraction"),
    (["train", *D, "--task", "nope"], "unknown task 'nope'"),
    (["train", *D, "--task", "binary", "--classes", "0"], "classes must be two different labels"),
    (["train", *D, "--task", "binary", "--classes", "a,b"], "--classes must be two comma-separated integers"),
    (["train", *D, "--task", "binary", "--classes", "0,0"], "classes must be two different labels"),
    (["train", *D, "--task", "binary", "--classes", "0,12"], "classes [12] do not occur"),
    (["train", *D, "--input-scaling", "nope"], "unknown input_scaling 'nope'"),
    (["train", "--data", "mnist", "--data-dir", "{tmp}/empty"], "--data-dir DIR"),
    (["train", "--data", "mnist", "--data-dir", "{tmp}/empty"], "--download"),
    (["train", *D, "--data-seed", "-1"], "--data-seed"), (["train", *D, "--data-seed", "x"], "--data-seed"),
    (["train", *D, "--width", "0"], "--width"), (["train", *D, "--width", "-3"], "--width"),
    (["train", *D, "--width", "2.5"], "--width"), (["train", *D, "--width", "1000000000"], "--width needs about"),
    (["train", *D, "--activation", "nope"], "unknown activation 'nope'"),
    (["train", *D, "--scaling", "nope"], "unknown scaling 'nope'"),
    (["train", *D, "--mode", "nope"], "unknown mode 'nope'"),
    (["train", *D, "--lr", "0"], "--lr"), (["train", *D, "--lr", "-1"], "--lr"), (["train", *D, "--lr", "nan"], "--lr"),
    (["train", *D, "--lr", "inf"], "--lr"), (["train", *D, "--lr", "abc"], "--lr"),
    (["train", *D, "--iterations", "0"], "--iterations"), (["train", *D, "--iterations", "1e20"], "--iterations"),
    (["train", *D, "--iterations", str(10 ** 20)], "--iterations needs about"),
    (["train", *D, "--target-loss", "abc"], "--target-loss"),
    (["train", *D, "--loss-form", "nope"], "unknown loss_form 'nope'"),
    (["train", *D, "--seed", "-1"], "--seed"), (["train", *D, "--seed", "x"], "--seed"),
    (["train", *D, "--dtype", "float16"], "unknown dtype 'float16'"),
    (["train", *D, "--device", "cuda:7"], "--device 'cuda:7'"), (["train", *D, "--device", "tpu"], "--device 'tpu'"),
    (["train", *D, "--width", "5", "--iterations", "2", "--out", "/proc/no/m.pt"], "--out '/proc/no/m.pt' cannot be"),
    (["train", *D, "--width", "5", "--iterations", "2", "--out", "taken.pt"], "'taken.png' is a folder"),
    (["train", *D, "--width", "5", "--iterations", "2", "--out", "empty"], "--out 'empty' is a folder"),
    (["train", *D, "--bogus-flag"], "unrecognized arguments: --bogus-flag"),
    (["select", "--features", "missing.npy", "--target", "Y.npy", "-n", "2"], "--features file 'missing.npy' does not"),
    (["select", "--features", "text.npy", "--target", "Y.npy", "-n", "2"], "--features file 'text.npy' is not a readable"),
    (["select", "--features", "Fobj.npy", "--target", "Y.npy", "-n", "2"], "--features file 'Fobj.npy' is not a readable"),
    (["select", "--features", "F.npy", "--target", "missing.npy", "-n", "2"], "--target file 'missing.npy' does not"),
    (["select", "--features", "F.npy", "--target", "Y5.npy", "-n", "2"], "target must have shape"),
    (["select", "--features", "Fnan.npy", "--target", "Y.npy", "-n", "2"], "features contain NaN"),
    ([*SEL, "-n", "0"], "-n"), ([*SEL, "-n", "x"], "-n"), ([*SEL, "-n", "1000000000"], "-n needs about"),
    ([*SEL, "-n", "7", "--method", "gfs-norep"], "n = 7 exceeds the number of neurons N = 6"),
    ([*SEL, "-n", "7", "--method", "random"], "n = 7 exceeds the number of neurons N = 6"),
    ([*SEL, "-n", "7", "--method", "magnitude"], "n = 7 exceeds the number of neurons N = 6"),
    ([*SEL, "-n", "2", "--method", "nope"], "unknown method 'nope'"),
    ([*SEL, "-n", "2", "--seed", "-1"], "--seed"), ([*SEL], "required: -n"),
    (["select", "--target", "Y.npy", "-n", "2"], "required: --features"),
    ([*PR, "missing.pt"], "model file 'missing.pt' does not exist"),
    ([*PR, "junk.pt"], "model file 'junk.pt' is not a readable torch file"),
    ([*PR, "list.pt"], "is not a gfs two-layer network"), ([*PR, "badformat.pt"], "is not a gfs two-layer network"),
    ([*PR, "badmeta.pt"], "metadata that is not JSON"), ([*PR, "nan.pt"], "NaN or infinite weights"),
    ([*PR, "badact.pt"], "unknown activation 'swish'"), ([*PR, "badshape.pt"], "first_weight has 8 neurons"),
    ([*PR, "badtype.pt"], "key(s) first_weight of the wrong type"),
    ([*PR, "teacher.pt"], "--model 'teacher.pt' maps 5 inputs to 1 outputs"),
    (["prune", *D, "-n", "0", "--out", "s.pt", "--model", "digits.pt"], "-n"),
    (["prune", *D, "-n", "9", "--method", "gfs-norep", "--out", "s.pt", "--model", "digits.pt"], "n = 9 exceeds"),
    ([*PR, "digits.pt", "--method", "nope"], "unknown method 'nope'"),
    ([*PR, "digits.pt", "--seed", "-1"], "--seed"),
    (["prune", "--data", "nope", "-n", "2", "--out", "s.pt", "--model", "digits.pt"], "unknown dataset 'nope'"),
    (["prune", *D, "-n", "2", "--model", "digits.pt"], "required: --out"),
    ([*PR, "digits.pt", "--state-dict"], "state dict lacks 0.weight, 2.weight"),
    ([*PR, "sd_partial.pt", "--state-dict"], "state dict lacks 2.weight"),
    ([*PR, "list.pt", "--state-dict"], "does not hold a state dict"),
    ([*PR, "junk.pt", "--state-dict"], "is not a readable torch state dict"),
    ([*PR, "sd.pt", "--state-dict", "--activation", "nope"], "unknown activation 'nope'"),
    (["prune", "--data", "mnist5k", "-n", "2", "--out", "s.pt", "--model", "sd.pt", "--state-dict"],
     "--model 'sd.pt' takes 64 inputs, but --data mnist5k has 784"),
    (["run", "nonsense"], "unknown experiment 'nonsense'"),
    ([*RUN, "--config", "missing.toml"], "--config file 'missing.toml' does not exist"),
    ([*RUN, "--config", "bad.toml"], "does not parse as TOML"),
    ([*RUN, "--config", "keys.toml"], "unknown config key(s) bogus_key"),
    ([*RUN, "--config", "methods.toml"], "unknown methods ['nope']"),
    ([*RUN, "--config", "seeds.toml"], "config key seeds must be a list of integers, got 3"),
    ([*RUN, "--config", "lr.toml"], "config key lr must be a number, got 'fast'"),
    ([*RUN, "--config", "neg.toml"], "n_max"),
    ([*RUN, "--workers", "0"], "--workers"), ([*RUN, "--workers", "x"], "--workers"),
    (["run"], "required: experiment"),
    (["figures", "--out", "empty"], "no finished results under --out 'empty'"),
    (["report", "--out", "empty"], "no finished results under --out 'empty'"),
    (["figures", "--out", "missing"], "no finished results under --out 'missing'"),
    (["report", "--quick"], "no finished results under --out 'results/quick'"),
    (["nonsense"], "invalid choice: 'nonsense'"),
]


def test_the_table_is_large():
    assert len(TABLE) + len(CASES) >= 90


@pytest.mark.parametrize("arguments,fragment", TABLE, ids=[" ".join(a)[:60] for a, _ in TABLE])
def test_table_of_bad_inputs(tmp_path, monkeypatch, capfd, arguments, fragment):
    monkeypatch.chdir(tmp_path)
    _fixture_files(tmp_path)
    capfd.readouterr()
    before = _tree(tmp_path)
    code = _gfs([a.replace("{tmp}", str(tmp_path)) for a in arguments])
    _assert_refused(capfd, code, fragment, tmp_path, before)


def _assert_refused(capfd, code: int, fragment: str, root: Path, before: dict) -> None:
    """The promise: exit status 2, one line on stderr holding ``fragment``, no traceback, and
    the files under ``root`` as they were (``before``, from :func:`_tree`)."""
    stderr = capfd.readouterr().err
    lines = [line for line in stderr.replace("\r", "\n").splitlines() if line.strip()]
    assert code == 2, stderr
    assert len(lines) == 1 and fragment in lines[0], stderr
    assert "Traceback" not in stderr
    assert _tree(root) == before


# ---------------------------------------------------------------- third round, by class
#
# Each class of the third round of bad inputs (issue 26), with cases that failed on the code
# before it: a traceback, exit 0 with garbage, a late refusal, a hang or a file left behind.
# Every case must end in one line, exit 2, nothing written, no work started (the runner's cell
# and cluster functions raise if reached) and within seconds.


def _zeroed(source: Path, target: Path) -> None:
    """A copy of ``source`` with 80 bytes in the middle zeroed (damage a length check misses)."""
    data = bytearray(source.read_bytes())
    middle = len(data) // 2
    data[middle - 40:middle + 40] = bytes(80)
    target.write_bytes(bytes(data))


def _third_round_files(root: Path) -> None:
    import pickle

    _fixture_files(root)
    (root / "empty.npy").write_bytes(b"")
    (root / "binary.toml").write_bytes(bytes(range(256)) * 4)
    (root / "latin1.toml").write_bytes('[rates]\nmethods = ["gfs\xe9"]\n'.encode("latin-1"))
    (root / "dupseeds.toml").write_text("seeds = [0, 1, 0]\n")
    (root / "dupmethods.toml").write_text('methods = ["gfs", "fw", "gfs"]\n')
    (root / "dupsizes.toml").write_text("teacher_sizes = [30, 100, 30]\n")
    (root / "dupeps.toml").write_text("mf_eps = [0.4, 0.1, 0.4]\n")
    (root / "bigseed.toml").write_text("seeds = [9223372036854775807]\n")
    (root / "manyseeds.toml").write_text(f"seeds = {list(range(100_000))}\n")
    (root / "wide.toml").write_text("contraction_width = 10000000000\n")
    (root / "nmax.toml").write_text("n_max = 10000000000\n")
    (root / "densewidth.toml").write_text("dense_width = 10000000000\n")
    (root / "contraction_n.toml").write_text("contraction_n_max = 100000000000\n")
    (root / "mnist.toml").write_text('setups = ["mf-mnist"]\n')
    (root / "figfile").write_text("a file where the figure folder should be")
    _zeroed(root / "sd.pt", root / "sd_zeroed.pt")
    _zeroed(root / "digits.pt", root / "digits_zeroed.pt")
    with open(root / "pickle.pt", "wb") as handle:
        pickle.dump({"0.weight": [1.0]}, handle)


def _finished_folder(root: Path) -> Path:
    return _run(root / "results")


def _meta_missing(root):
    (_finished_folder(root) / "meta.json").unlink()


def _meta_junk(root):
    (_finished_folder(root) / "meta.json").write_text("{ this is not json")


def _meta_not_object(root):
    (_finished_folder(root) / "meta.json").write_text("[1, 2, 3]\n")


def _meta_other_experiment(root):
    meta = _finished_folder(root) / "meta.json"
    meta.write_text(meta.read_text().replace('"experiment": "tiny-bad-input"', '"experiment": "rates"'))


def _checksums_corrupt(root):
    (_finished_folder(root) / CHECKSUMS).write_text("{ corrupt")


def _checksums_wrong(root):
    folder = _finished_folder(root)
    table = json.loads((folder / CHECKSUMS).read_text())
    next(iter(table.values()))["sha256"] = "0" * 64
    (folder / CHECKSUMS).write_text(json.dumps(table))


def _config_edited(root):
    """A finished tiny run with 4 cells whose config.json was edited to say 3 cells."""
    config = _finished_folder(root) / "config.json"
    config.write_text(config.read_text().replace('"cells": 4', '"cells": 3'))


def _folder_renamed(root):
    folder = _finished_folder(root)
    folder.rename(folder.with_name("tiny-bad-input-0123456789"))


def _config_deleted(root):
    (_finished_folder(root) / "config.json").unlink()


def _half_run_config_deleted(root):
    """A run killed after two of its four cells, then its config.json deleted."""
    folder = _finished_folder(root)
    for path in sorted((folder / "cells").glob("*.csv"))[2:]:
        path.unlink()
    for name in ("rows.csv", "meta.json", "config.json"):
        (folder / name).unlink()


SETUPS = {fn.__name__.lstrip("_"): fn for fn in (
    _finished_folder, _meta_missing, _meta_junk, _meta_not_object, _meta_other_experiment, _checksums_corrupt, _checksums_wrong,
    _config_edited, _config_deleted, _half_run_config_deleted, _folder_renamed)}

BIG = str(2 ** 70)
TINY = ["run", "tiny-bad-input", "--out", "results", "--no-figures"]
RUNQ = ["run", "rates", "--quick", "--out", "out", "--no-figures"]
TR = ["train", *D, "--width", "3", "--iterations", "2", "--out", "m.pt"]

# class -> [(arguments, a fragment of the one error line, setup or None)]
THIRD_ROUND = {
    "seed-range": [
        ([*TR, "--seed", BIG], "--seed", None),
        ([*TR, "--seed", str(2 ** 64)], "--seed", None),
        ([*SEL, "-n", "2", "--seed", BIG], "--seed", None),
        (["run", "finetune", "--quick", "--out", "out", "--no-figures", "--config", "bigseed.toml"], "seeds", None),
    ],
    "empty-file": [
        (["select", "--features", "empty.npy", "--target", "Y.npy", "-n", "2"], "--features file 'empty.npy'", None),
        (["select", "--features", "F.npy", "--target", "empty.npy", "-n", "2"], "--target file 'empty.npy'", None),
    ],
    "memory-estimate": [
        ([*PR, "digits.pt", "-n", str(10 ** 12)], "-n needs about", None),
        ([*PR, "sd.pt", "--state-dict", "-n", str(10 ** 12)], "-n needs about", None),
        (["train", "--data", "teacher", "--m", str(10 ** 9), "--width", "3", "--out", "m.pt"], "--m needs about", None),
        (["run", "exponential", "--quick", "--out", "out", "--no-figures", "--config", "wide.toml"],
         "contraction_width needs about", None),
        ([*RUNQ, "--config", "nmax.toml"], "n_max needs about", None),
        ([*RUNQ, "--config", "densewidth.toml"], "dense_width needs about", None),
        (["run", "exponential", "--quick", "--out", "out", "--no-figures", "--config", "contraction_n.toml"],
         "contraction_n_max needs about", None),
    ],
    "scheduler-address": [
        ([*TINY, "--scheduler", "not an address"], "--scheduler 'not an address'", None),
        ([*TINY, "--scheduler", "tcp://127.0.0.1:99999"], "--scheduler", None),
        ([*TINY, "--scheduler", "tcp://127.0.0.1:notaport"], "--scheduler", None),
        ([*TINY, "--scheduler", "ftp://127.0.0.1:8786"], "--scheduler", None),
        ([*TINY, "--scheduler", "127.0.0.1:1"], "nothing answers", None),
        ([*PR, "sd.pt", "--state-dict", "--scheduler", "127.0.0.1:1"], "--scheduler needs --shards", None),
        ([*PR, "sd.pt", "--state-dict", "--shards", "2", "--scheduler", "bad address"], "--scheduler", None),
    ],
    "config-file": [
        ([*RUNQ, "--config", "binary.toml"], "--config file 'binary.toml' is not UTF-8 text", None),
        ([*RUNQ, "--config", "latin1.toml"], "--config file 'latin1.toml' is not UTF-8 text", None),
        ([*RUNQ, "--config", "dupseeds.toml"], "seeds names 0 more than once", None),
        ([*RUNQ, "--config", "dupmethods.toml"], "methods names 'gfs' more than once", None),
        (["run", "pretraining", "--quick", "--out", "out", "--no-figures", "--config", "dupsizes.toml"],
         "teacher_sizes names 30 more than once", None),
        (["run", "pretraining", "--quick", "--out", "out", "--no-figures", "--config", "dupeps.toml"],
         "mf_eps names 0.4 more than once", None),
        ([*RUNQ, "--config", "manyseeds.toml"], "cells", None),
    ],
    "results-folder": [
        (["report", "--out", "results"], "meta.json", "meta_missing"),
        (["report", "--out", "results"], "meta.json", "meta_junk"),
        (["report", "--out", "results"], "meta.json", "meta_not_object"),
        (["report", "--out", "results"], "meta.json", "meta_other_experiment"),
        (["figures", "--out", "results"], "meta.json", "meta_junk"),
        (["report", "--out", "results"], CHECKSUMS, "checksums_corrupt"),
        (["report", "--out", "results"], CHECKSUMS, "checksums_wrong"),
        (["report", "--out", "results"], "config.json", "config_edited"),
        (["report", "--out", "results"], "config.json", "config_deleted"),
        (["report", "--out", "results"], "is not named by its config", "folder_renamed"),
        (TINY, "config.json", "config_edited"),
        (TINY, "config.json", "config_deleted"),
        (TINY, "config.json", "half_run_config_deleted"),
    ],
    "model-file": [
        ([*PR, "sd_zeroed.pt", "--state-dict"], "--model file 'sd_zeroed.pt' is damaged", None),
        ([*PR, "digits_zeroed.pt"], "model file 'digits_zeroed.pt' is damaged", None),
        (["compare", "--model", "sd_zeroed.pt", "--data", "digits"], "--model file 'sd_zeroed.pt' is damaged", None),
        ([*PR, "pickle.pt", "--state-dict"], "--model file 'pickle.pt'", None),
        ([*PR, "pickle.pt"], "model file 'pickle.pt'", None),
    ],
    "data": [
        ([*TR, "--m", "1"], "--m 1", None),
        ([*TR, "--m", "5"], "--m 5", None),
        ([*PR, "digits.pt", "--m", "1"], "--m 1", None),
        (["run", "pretraining", "--quick", "--out", "out", "--no-figures", "--config", "mnist.toml"],
         "train-images-idx3-ubyte", None),
    ],
    "late-refusal": [
        (["run", "tiny-bad-input", "--out", "results", "--figures", "figfile"], "--figures 'figfile'", None),
        (["run", "tiny-bad-input", "--out", "results", "--figures", "figfile/sub"], "--figures 'figfile/sub'", None),
        (["report", "--out", "results", "--report", "empty"], "--report 'empty' is a folder", "finished_folder"),
        (["report", "--out", "results", "--report", "/proc/x/R.md"], "--report '/proc/x/R.md' cannot be written",
         "finished_folder"),
        (["figures", "--out", "results", "--figures", "/proc/x"], "--figures '/proc/x' cannot be written",
         "finished_folder"),
        (["run", "tiny-bad-input", "--out", "/proc/x"], "--out '/proc/x' cannot be written", None),
    ],
    "workers": [
        ([*TINY, "--workers", "100000"], "--workers 100000", None),
        ([*PR, "digits.pt", "--shards", "100000"], "--shards 100000", None),
    ],
}
THIRD_CASES = [(klass, *case) for klass, cases in THIRD_ROUND.items() for case in cases]


@pytest.mark.parametrize("klass,arguments,fragment,setup", THIRD_CASES,
                         ids=[f"{c[0]}: {' '.join(c[1])[:50]} {c[3] or ''}" for c in THIRD_CASES])
def test_third_round_of_bad_input(tmp_path, monkeypatch, capfd, klass, arguments, fragment, setup):
    import time
    import warnings

    import sims.experiments.runner

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GFS_MNIST_DIR", str(tmp_path / "empty"))
    _third_round_files(tmp_path)
    if setup is not None:
        SETUPS[setup](tmp_path)

    def no_work(*args, **kwargs):
        raise AssertionError("work started before the input was refused")

    monkeypatch.setattr(sims.experiments.runner, "_run_cell_isolated", no_work)
    monkeypatch.setattr(sims.experiments.runner, "_run_on_dask", no_work)
    capfd.readouterr()
    before = _tree(tmp_path)
    started = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:  # a warning would print before the error line
        warnings.simplefilter("always")
        code = _gfs(arguments)
    elapsed = time.monotonic() - started
    assert [str(w.message) for w in caught] == []
    _assert_refused(capfd, code, fragment, tmp_path, before)
    assert elapsed < 10, f"refused after {elapsed:.1f} s"


# ---------------------------------------------------------------- third round: what a run leaves and reports


register(Experiment("tiny-bad-input-b", TinyConfig, lambda: TinyConfig(cells=1), _tiny_cells, _tiny_run_cell,
                    figures=_tiny_figures, claims=lambda rows, config: []))


def test_stale_temporaries_of_killed_writes_are_removed_by_the_next_run(tmp_path, monkeypatch):
    import os

    monkeypatch.chdir(tmp_path)
    assert _gfs(["run", "tiny-bad-input", "--quick"]) == 0
    figures, folder = tmp_path / "results" / "quick" / "figures", next((tmp_path / "results" / "quick").glob("tiny-*"))
    dead = 2 ** 22 + 12345  # above Linux's default pid_max: no such process
    stale = [figures / ".tiny-bad-input_draws.png.ab12cd34.tmp", figures / f".x.pdf.{dead}-ab12cd34.tmp",
             folder / f".rows.csv.{dead}-zz12cd34.tmp", folder / "cells" / ".c.csv.ab12cd3_.tmp",
             tmp_path / "results" / "quick" / f".REPORT.md.{dead}-ab12cd34.tmp"]
    alive = figures / f".y.png.{os.getppid()}-ab12cd34.tmp"  # a write in progress in a live process
    for path in [*stale, alive]:
        path.write_bytes(b"")
    assert _gfs(["run", "tiny-bad-input", "--quick"]) == 0
    assert [path for path in stale if path.exists()] == [] and alive.exists()


def test_running_one_experiment_keeps_the_others_in_the_report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _gfs(["run", "tiny-bad-input", "--quick"]) == 0
    assert _gfs(["run", "tiny-bad-input-b", "--quick"]) == 0
    report = (tmp_path / "results" / "quick" / "REPORT.md").read_text()
    assert "## tiny-bad-input:" in report and "## tiny-bad-input-b:" in report
    assert _gfs(["run", "tiny-bad-input", "--quick"]) == 0
    assert (tmp_path / "results" / "quick" / "REPORT.md").read_text() == report
    (tmp_path / "c.toml").write_text("cells = 3\n")  # another config of tiny-bad-input: its own folder
    assert _gfs(["run", "tiny-bad-input", "--quick", "--config", "c.toml"]) == 0
    sections = [line for line in (tmp_path / "results" / "quick" / "REPORT.md").read_text().splitlines()
                if line.startswith("## ")]
    assert sections == ["## tiny-bad-input: ", "## tiny-bad-input-b: "]


def test_one_seed_numbers_are_printed_without_an_interval():
    from sims.reporting.report import one_seed_text

    assert one_seed_text("m=100: 14.0 [14.0, 14.0]; m=300: 2.5 [1.0, 3.0]") == \
        "m=100: 14.0 (1 seed: no interval); m=300: 2.5 [1.0, 3.0]"
    assert one_seed_text("slope -1.02 [nan, nan] over 1 seeds") == "slope -1.02 (1 seed: no interval) over 1 seeds"
    assert one_seed_text("114.0 [14.0, 14.0]") == "114.0 [14.0, 14.0]"


def test_an_unanswered_scheduler_is_refused_within_the_connect_timeout(monkeypatch):
    """A host that drops packets (no refusal): the probe gives up after its timeout."""
    import socket
    import time

    from sims.foundations.errors import InputError
    from sims.foundations.guards import check_scheduler

    def silent(address, timeout):
        time.sleep(min(timeout, 0.2))
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", silent)
    with pytest.raises(InputError, match=r"nothing answers at 10.255.255.1:8786 \(no answer, waited at most 3 s\)"):
        check_scheduler("--scheduler", "tcp://10.255.255.1:8786")


@pytest.mark.parametrize("error", [MemoryError("Unable to allocate 74.5 GiB for an array"),
                                   RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: "
                                                "can't allocate memory: you tried to allocate 400000000000 bytes.")],
                         ids=["numpy", "torch"])
def test_a_cell_out_of_memory_is_one_line_naming_the_experiment_and_cell(tmp_path, monkeypatch, capfd, error):
    """A size no experiment declared an estimate for (rates' n_max = 10^10) still ends as promised."""
    import sims.experiments.runner

    def out_of_memory(*args, **kwargs):
        raise error

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sims.experiments.runner, "_run_cell_isolated", out_of_memory)
    code = _gfs(["run", "tiny-bad-input", "--out", "results", "--no-figures"])
    _assert_refused(capfd, code, 'experiment tiny-bad-input: cell {"index": 0} ran out of memory', tmp_path, {})


def test_a_run_that_draws_figures_without_matplotlib_is_refused_before_any_cell(tmp_path, monkeypatch, capsys):
    """Without the [plots] extra, `gfs run` (figures on) stops before computing anything, in one
    line naming the extra; with --no-figures it runs."""
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import of a None entry raises ModuleNotFoundError
    out = tmp_path / "results"
    assert _gfs(["run", "tiny-bad-input", "--out", out]) == 2
    error = capsys.readouterr().err
    assert "gfs-toolkit[plots]" in error and "--no-figures" in error and len(error.strip().splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())
    assert _gfs(["run", "tiny-bad-input", "--out", out, "--no-figures"]) == 0
