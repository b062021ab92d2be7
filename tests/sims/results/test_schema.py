"""The tidy-row schema: the columns in their order, and the one row filter."""

from sims.results.schema import COLUMNS, INTEGER_COLUMNS, REQUIRED_COLUMNS, select_rows


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
