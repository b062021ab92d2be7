"""theory.claims.rows: result rows as the claims read them (a CSV's strings are converted, a row
without a value is refused), the filter, the per-seed curves and the per-seed constants."""

from __future__ import annotations

import csv
import io

import pytest

from theory.claims.comparisons import pruned_beats_direct_training
from theory.claims.rows import COLUMNS, filter_rows, seed_constants, seed_curves

from tests.theory.claims.helpers import constant_rows, curve_rows, paired_rows, row


def test_rows_from_a_csv_are_accepted():
    rows = paired_rows({10: [0.5, 0.4, 0.6], 100: [-0.3, -0.25, -0.35]}, 3)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    buf.seek(0)
    assert pruned_beats_direct_training(list(csv.DictReader(buf))).outcome == "held"


def test_rows_without_value_are_rejected():
    with pytest.raises(ValueError, match="value"):
        pruned_beats_direct_training([dict(method="gfs", metric="train_loss", n=1)])


def test_filter_rows_none_matches_anything_numbers_as_numbers_strings_as_strings():
    rows = [row("gfs", 10, "train_loss", 1.0, seed=0), row("gfs", "20", "train_loss", "2.0", seed=1),
            row("fw", None, "r", 0.5, seed=1)]
    assert [r["value"] for r in filter_rows(rows, method="gfs", n=20.0)] == [2.0]  # "20" from a CSV is 20.0
    assert [r["value"] for r in filter_rows(rows, seed="1")] == [2.0, 0.5]  # seed 1 compared as the string "1"
    assert len(filter_rows(rows, method=None, dataset=None)) == 3
    assert filter_rows(rows, n=10)[0]["n"] == 10.0 and filter_rows(rows, method="fw")[0]["n"] is None
    assert filter_rows(rows, m=11) == [] and filter_rows(rows, method="herding") == []


def test_seed_curves_sorted_by_n_per_seed_and_constants_of_the_rows_without_n():
    rows = (curve_rows("gfs", [30, 10, 20], [3.0, 1.0, 2.0], seed=1) + curve_rows("gfs", [10], [5.0], seed=2)
            + curve_rows("fw", [10], [9.0], seed=1) + curve_rows("gfs", [10], [7.0], metric="excess_loss", seed=1)
            + constant_rows(seed=1, r=0.5, D=2.0))
    curves = seed_curves(filter_rows(rows), "gfs", "train_loss")
    assert sorted(curves) == [("synthetic", 10.0, "1"), ("synthetic", 10.0, "2")]
    ns, values = curves[("synthetic", 10.0, "1")]
    assert ns.tolist() == [10.0, 20.0, 30.0] and values.tolist() == [1.0, 2.0, 3.0]
    assert seed_constants(filter_rows(rows)) == {("synthetic", 10.0, "1"): {"r": 0.5, "D": 2.0}}
