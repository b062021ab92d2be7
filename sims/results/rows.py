"""Tidy rows as CSV text: the writer (:func:`rows_to_csv`) and the readers (:func:`parse_rows`,
:func:`read_rows`, and :func:`load_results` for a finished results folder's rows.csv or
rows.csv.gz). Floats are written by ``repr``, so rows read back equal the rows written."""

from __future__ import annotations

import csv
import gzip
import io
import math
from pathlib import Path

from sims.foundations.errors import InputError
from sims.results.schema import COLUMNS, INTEGER_COLUMNS, REQUIRED_COLUMNS

__all__ = ["rows_to_csv", "parse_rows", "read_rows", "load_results"]


def _format(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    return str(value)


def rows_to_csv(rows: list[dict]) -> str:
    """CSV text of ``rows``: the header :data:`~sims.results.schema.COLUMNS`, then one line per
    row (None as an empty field, floats by repr). A row with a column outside the schema raises
    ValueError."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise ValueError(f"row has columns outside {COLUMNS}: {sorted(unknown)}")
        writer.writerow([_format(row.get(column)) for column in COLUMNS])
    return buffer.getvalue()


def parse_rows(text: str, source: str) -> list[dict]:
    """Rows of a tidy CSV text with numeric columns parsed (m, n, seed, step as int; value and
    eps as float; an empty cell, or a file without the ``eps`` column, gives None, value nan).
    The header must name known columns only (a subset of :data:`~sims.results.schema.COLUMNS`,
    so files written before a column was added still load) and include experiment, method,
    metric and value; every row must have one field per header column and parse. Anything else
    raises an InputError naming ``source``."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise InputError(f"{source} is empty or not a CSV file; delete it to recompute it") from None
    unknown = [column for column in header if column not in COLUMNS]
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if unknown or missing or len(set(header)) != len(header):
        raise InputError(f"{source} does not have the tidy-row header (columns from {', '.join(COLUMNS)}); "
                         "delete it to recompute it")
    rows = []
    try:
        for line_number, fields in enumerate(reader, start=2):
            if len(fields) != len(header):
                raise InputError(f"line {line_number} has {len(fields)} fields, expected {len(header)}")
            row = dict(zip(header, fields))
            for column in INTEGER_COLUMNS:
                row[column] = int(row[column]) if row.get(column, "") != "" else None
            row["value"] = float(row["value"]) if row["value"] != "" else math.nan
            row["eps"] = float(row["eps"]) if row.get("eps", "") != "" else None
            rows.append(row)
    except (ValueError, csv.Error) as error:
        raise InputError(f"{source} is damaged ({error}); delete it to recompute it") from None
    return rows


def read_rows(path: str | Path) -> list[dict]:
    """Rows of a tidy CSV file (see :func:`parse_rows`); a malformed file raises an InputError
    naming it."""
    try:
        text = Path(path).read_text()
    except UnicodeDecodeError:
        raise InputError(f"{str(path)!r} is not a text CSV file; delete it to recompute it") from None
    return parse_rows(text, repr(str(path)))


def load_results(folder: str | Path) -> list[dict]:
    """The tidy rows of a finished results folder: its rows.csv, or, when only that is absent, its
    gzip-compressed rows.csv.gz (how committed full-scale results are kept small)."""
    path = Path(folder) / "rows.csv"
    compressed = Path(folder) / "rows.csv.gz"
    if not path.exists() and compressed.exists():
        try:
            text = gzip.decompress(compressed.read_bytes()).decode()
        except (OSError, EOFError, UnicodeDecodeError):
            raise InputError(f"{str(compressed)!r} is not a gzip-compressed text CSV file") from None
        return parse_rows(text, repr(str(compressed)))
    if not path.exists():
        raise InputError(f"{str(folder)!r} holds no rows.csv; run the experiment first")
    return read_rows(path)
