"""Tidy rows as CSV text: the writer, the readers, and a folder's rows.csv or rows.csv.gz."""

import gzip
import math

import pytest

from sims.experiments.common import tidy_row
from sims.foundations.errors import InputError
from sims.results.rows import load_results, parse_rows, read_rows, rows_to_csv
from sims.results.schema import COLUMNS

HEADER = ",".join(COLUMNS)


def test_rows_to_csv_writes_the_header_none_as_empty_and_floats_by_repr():
    text = rows_to_csv([{"experiment": "e", "method": "gfs", "m": 3, "metric": "loss", "value": 0.1 + 0.2}])
    assert text == f"{HEADER}\ne,,gfs,3,,,loss,0.30000000000000004,,\n"
    assert rows_to_csv([{"experiment": "e", "method": "g", "metric": "x", "value": math.nan}]).endswith(",nan,,\n")


def test_rows_to_csv_refuses_a_column_outside_the_schema():
    with pytest.raises(ValueError, match="outside"):
        rows_to_csv([{"experiment": "e", "method": "g", "metric": "x", "value": 1.0, "colour": "red"}])


def test_rows_read_back_equal_the_rows_written():
    rows = [{"experiment": "e", "dataset": "d", "method": "gfs", "m": 3, "n": 2, "seed": 1, "metric": "loss",
             "value": 1 / 3, "step": 7, "eps": 0.05},
            {"experiment": "e", "dataset": "d", "method": "gfs", "m": 3, "n": None, "seed": 1, "metric": "V",
             "value": -2.5e-300, "step": None, "eps": None}]
    assert parse_rows(rows_to_csv(rows), "test") == rows


def test_eps_column_round_trips_and_old_files_without_it_still_load(tmp_path):
    plain = tidy_row("d", "gfs", 10, None, 0, "subnet_loss", 0.5, 3)
    assert "eps" not in plain  # rows of experiments without a criterion are unchanged
    rows = [dict(plain, experiment="e"), dict(tidy_row("d", "gfs", 10, None, 0, "pretrain_steps", float("inf"),
                                                       eps=0.02), experiment="e")]
    path = tmp_path / "rows.csv"
    path.write_text(rows_to_csv(rows))
    back = read_rows(path)
    assert [r["eps"] for r in back] == [None, 0.02] and back[1]["value"] == float("inf")
    old = tmp_path / "old.csv"  # a rows.csv written before the eps column existed
    old.write_text("experiment,dataset,method,m,n,seed,metric,value,step\ne,d,gfs,10,,0,V,1.5,2\n")
    (row,) = read_rows(old)
    assert row["eps"] is None and row["value"] == 1.5 and row["step"] == 2 and row["n"] is None


@pytest.mark.parametrize("text, fragment", [
    ("", "empty or not a CSV"),
    ("experiment,method,metric,value,colour\n", "tidy-row header"),
    ("experiment,method,metric\n", "tidy-row header"),  # value missing
    ("experiment,method,metric,value,value\n", "tidy-row header"),  # a column twice
    ("experiment,method,metric,value\ne,g,x\n", "line 2 has 3 fields"),
    ("experiment,method,metric,value,m\ne,g,x,1.0,ten\n", "damaged"),
    ("experiment,method,metric,value\ne,g,x,one\n", "damaged"),
])
def test_parse_rows_refuses_what_is_not_tidy_rows_naming_the_source(text, fragment):
    with pytest.raises(InputError, match=fragment) as caught:
        parse_rows(text, "cell file 'x.csv'")
    assert "x.csv" in str(caught.value)


def test_read_rows_of_a_binary_file_names_it(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="not a text CSV file"):
        read_rows(path)


def test_load_results_reads_rows_csv_then_rows_csv_gz(tmp_path):
    rows = [{"experiment": "e", "dataset": "d", "method": "g", "m": None, "n": 1, "seed": 0, "metric": "x",
             "value": 2.0, "step": None, "eps": None}]
    with pytest.raises(InputError, match="holds no rows.csv"):
        load_results(tmp_path)
    (tmp_path / "rows.csv.gz").write_bytes(gzip.compress(rows_to_csv(rows).encode()))
    assert load_results(tmp_path) == rows
    (tmp_path / "rows.csv").write_text(rows_to_csv(rows + rows))  # rows.csv wins when both are there
    assert len(load_results(tmp_path)) == 2
    (tmp_path / "rows.csv").unlink()
    (tmp_path / "rows.csv.gz").write_bytes(b"not gzip")
    with pytest.raises(InputError, match="not a gzip-compressed"):
        load_results(tmp_path)
