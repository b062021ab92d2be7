"""theory.claims.rows: result rows as the claims read them (a CSV's strings are converted, a row
without a value is refused)."""

from __future__ import annotations

import csv
import io

import pytest

from theory.claims.comparisons import pruned_beats_direct_training
from theory.claims.rows import COLUMNS

from tests.theory.claims.helpers import paired_rows


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
