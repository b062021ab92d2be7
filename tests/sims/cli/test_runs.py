"""sims.cli.runs: where results and figures go by default, which results folders `gfs figures` and
`gfs report` work on, and their one-line refusals (a full run of `gfs run`:
tests/sims/experiments/test_runner.py, tests/sims/reporting/test_report.py)."""

import argparse
from pathlib import Path

from sims.cli import runs
from sims.cli.commands import main


def test_quick_and_custom_results_keep_their_figures_beside_them():
    assert runs._figures_folder(runs.FULL_RESULTS, None) == runs.COMMITTED_FIGURES
    assert runs._figures_folder(runs.QUICK_RESULTS, None) == str(Path(runs.QUICK_RESULTS) / "figures")
    assert runs._figures_folder("/tmp/elsewhere", None) == "/tmp/elsewhere/figures"
    assert runs._figures_folder(runs.FULL_RESULTS, "mine") == "mine"


def test_a_results_folder_is_named_by_its_experiment_and_finished_when_it_has_rows(tmp_path):
    assert runs._experiment_of(Path("tiny-bad-input-b")) == "tiny-bad-input"
    assert runs._experiment_of(Path("rates-63372c9a25")) == "rates"
    for name, rows in (("rates-1", "rows.csv"), ("tradeoff-2", "rows.csv.gz"), ("finetune-3", None)):
        (tmp_path / name).mkdir()
        if rows:
            (tmp_path / name / rows).write_text("")
    assert runs._finished(str(tmp_path)) == [tmp_path / "rates-1", tmp_path / "tradeoff-2"]
    order = sorted(runs._finished(str(tmp_path)), key=runs._experiment_order)
    names = list(runs.experiments())
    assert [runs._experiment_of(folder) for folder in order] == sorted(["rates", "tradeoff"], key=names.index)


def test_figures_and_report_refuse_a_root_without_finished_results(tmp_path, capsys):
    for command in ("figures", "report"):
        assert main([command, "--out", str(tmp_path)]) == 2
        error = capsys.readouterr().err
        assert error == (f"gfs {command}: error: no finished results under --out {str(tmp_path)!r}; run `gfs run ...` "
                         "first (`gfs run all --quick` writes results/quick/)\n")


def test_the_default_root_falls_back_to_the_quick_results(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / runs.QUICK_RESULTS / "rates-1").mkdir(parents=True)
    (tmp_path / runs.QUICK_RESULTS / "rates-1" / "rows.csv").write_text("")
    monkeypatch.setattr(runs, "check_results_folder", lambda folder: None)
    args = argparse.Namespace(out=None, quick=False, figures=None)
    assert runs._result_folders(args) == [Path(runs.QUICK_RESULTS) / "rates-1"]
    assert (args.out, args.figures) == (runs.QUICK_RESULTS, str(Path(runs.QUICK_RESULTS) / "figures"))
    assert capsys.readouterr().out.startswith("no full-scale results in results/; using the quick results")
