"""The tidy-row schema: the columns in their order, and the one row filter."""

import numpy as np

from sims.results.schema import COLUMNS, INTEGER_COLUMNS, REQUIRED_COLUMNS, select_rows, tidy_row


def test_the_columns_in_the_order_every_rows_file_has_them():
    # rows.csv headers of committed results depend on this order: changing it changes every file
    assert COLUMNS == ("experiment", "dataset", "method", "m", "n", "seed", "metric", "value", "step", "eps")
    assert set(INTEGER_COLUMNS) <= set(COLUMNS) and set(REQUIRED_COLUMNS) <= set(COLUMNS)
    assert "value" not in INTEGER_COLUMNS and "eps" not in INTEGER_COLUMNS


ROWS = [
    {"method": "gfs", "m": 10, "n": 1, "metric": "loss", "value": 1.0},
    {"method": "gfs", "m": 10, "n": None, "metric": "V", "value": 2.0},
    {"method": "fw", "m": 10, "n": 1, "metric": "loss", "value": 3.0},
    {"method": "gfs", "m": 20, "n": 1, "metric": "loss", "value": 4.0, "eps": 0.1},
]


def test_select_rows_keeps_rows_whose_columns_equal_all_the_values_in_order():
    assert [r["value"] for r in select_rows(ROWS, method="gfs")] == [1.0, 2.0, 4.0]
    assert [r["value"] for r in select_rows(ROWS, method="gfs", metric="loss", m=10)] == [1.0]
    assert select_rows(ROWS, method="nope") == []
    assert select_rows(ROWS) == ROWS


def test_select_rows_none_matches_rows_without_the_column_not_every_row():
    assert [r["value"] for r in select_rows(ROWS, n=None)] == [2.0]
    assert [r["value"] for r in select_rows(ROWS, eps=None)] == [1.0, 2.0, 3.0]  # a missing column is None
    assert [r["value"] for r in select_rows(ROWS, eps=0.1)] == [4.0]


def test_tidy_row_has_the_columns_but_experiment_and_eps_only_when_given():
    row = tidy_row("teacher", "gfs", 10, 3, 0, "train_loss", np.float32(0.5))
    assert row == {"dataset": "teacher", "method": "gfs", "m": 10, "n": 3, "seed": 0, "metric": "train_loss",
                   "value": 0.5, "step": None}
    assert type(row["value"]) is float and list(row) == [c for c in COLUMNS if c not in ("experiment", "eps")]
    with_eps = tidy_row("t", "gfs", 10, None, 0, "n_eps", 4, 7, eps=0.02)
    assert (with_eps["step"], with_eps["eps"]) == (7, 0.02) and list(with_eps)[-1] == "eps"
