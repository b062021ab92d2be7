"""sims.pruning.tradeoff_report: the trade-off table (seed means with Student-t intervals, Markdown
and CSV) and the figure's files."""

from __future__ import annotations

import pytest
from scipy import stats

from sims.foundations.errors import InputError
from sims.pruning.tradeoff_report import interval_cell, plot_tradeoff, tradeoff_table
from sims.results.schema import tidy_row


def _rows():
    rows = [tidy_row("d", "dense", 10, 8, seed, metric, value) for seed in (0, 1)
            for metric, value in (("width", 8), ("test_accuracy", 0.9))]
    rows += [tidy_row("d", "gfs", 10, 4, seed, metric, value) for seed, accuracy in ((0, 0.8), (1, 0.7))
             for metric, value in (("width", 4), ("test_accuracy", accuracy))]
    rows.append(tidy_row("d", "gfs", 10, None, 0, "n_eps", 4, eps=0.02))
    rows.append(tidy_row("other", "gfs", 10, 4, 0, "width", 2))
    return rows


def test_a_cell_is_the_mean_with_the_student_t_interval_over_seeds():
    assert interval_cell([0.5]) == "0.5"
    half = stats.t.ppf(0.975, 2) * stats.tstd([1.0, 2.0, 3.0]) / 3 ** 0.5
    assert interval_cell([1.0, 2.0, 3.0]) == f"2 [{2 - half:.4g}, {2 + half:.4g}]"
    assert interval_cell([1e6, 1e6]) == "1e+06 [1e+06, 1e+06]"


def test_table_rows_per_method_and_n_dense_first_in_both_forms():
    markdown = tradeoff_table(_rows(), "d").splitlines()
    assert markdown[0] == "| method | n | width | test_accuracy |"
    assert markdown[2] == "| dense | 8 | 8 [8, 8] | 0.9 [0.9, 0.9] |"
    assert markdown[3].startswith("| gfs | 4 | 4 [4, 4] | 0.75 [") and len(markdown) == 4
    assert tradeoff_table(_rows(), "d", form="csv").splitlines() == [
        "method,n,width,test_accuracy", "dense,8,8.0,0.9", "gfs,4,4.0,0.75"]
    with pytest.raises(InputError, match="form"):
        tradeoff_table([], "digits", form="html")


def test_the_figure_is_written_as_png_and_pdf(tmp_path):
    pytest.importorskip("matplotlib")
    paths = plot_tradeoff(_rows(), "d", tmp_path)
    assert [path.name for path in paths] == ["tradeoff_d.png", "tradeoff_d.pdf"]
    assert all(path.stat().st_size > 0 for path in paths)
    assert plot_tradeoff(_rows(), "missing", tmp_path) == []
