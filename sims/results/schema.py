"""The tidy-row schema: the columns every result row has (:data:`COLUMNS`, defined in
:mod:`theory.claims.rows`), which are integers and which required, and the one row filter.

A row is a dict with (some of) the :data:`COLUMNS`; a column it lacks is empty. Every
experiment, ``gfs compare`` and the report read and write rows with these columns only."""

from __future__ import annotations

from theory.claims.rows import COLUMNS

__all__ = ["COLUMNS", "INTEGER_COLUMNS", "REQUIRED_COLUMNS", "tidy_row", "select_rows"]

# COLUMNS is defined once, in theory.claims.rows beside the metric names (theory sits below sims and
# the claims read the same rows). ``eps`` is the criterion a row was measured against (E3's
# T*(eps) rows, E5's n(eps)); empty for the other rows. Folders written before the column existed
# still load (eps None).
#: Columns read back as int (or None when empty); value and eps are floats.
INTEGER_COLUMNS = ("m", "n", "seed", "step")
#: Columns every rows file must have.
REQUIRED_COLUMNS = ("experiment", "method", "metric", "value")


def tidy_row(dataset, method, m, n, seed, metric, value, step=None, *, eps=None) -> dict:
    """One tidy result row: the :data:`COLUMNS` but "experiment" (filled in by whoever writes the
    rows), value as a float. ``eps``: the criterion the value was measured against (E3's T*(eps),
    E5's n(eps)); the key is only present when given, so rows without a criterion lack it."""
    row = {"dataset": dataset, "method": method, "m": m, "n": n, "seed": seed, "metric": metric,
           "value": float(value), "step": step}
    if eps is not None:
        row["eps"] = float(eps)
    return row


def select_rows(rows, **equal) -> list[dict]:
    """The rows whose columns equal the given values, in their order (``eps=None`` keeps the rows
    without an eps; a column a row lacks counts as None)."""
    return [row for row in rows if all(row.get(key) == value for key, value in equal.items())]
