"""Result rows as the claims read them: the columns, the metric names, a filter, per-seed curves.

A result set is any iterable of mappings with the columns of ``COLUMNS`` (a CSV read with
``csv.DictReader`` works: strings are converted). Metric names are the constants below;
the experiments write rows under exactly these names. A row with an ``n`` is a point of a
curve (one subnetwork size); a row without one is a constant of its (dataset, m, seed)
group (geometry, dense loss).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

import numpy as np

__all__ = ["COLUMNS", "TRAIN_LOSS", "EXCESS_LOSS", "DENSE_LOSS", "PROJECTION_LOSS", "VARIANCE", "RADIUS", "DIAMETER",
           "DISTANCE_TO_G", "LOCAL_SLOPE", "PREDICTED_BOUNDARY", "PRETRAIN_STEPS", "filter_rows", "seed_curves",
           "seed_constants"]

#: The tidy-row schema, the one definition (sims.results.schema re-exports it for the row files):
#: ``step`` is a GD step of a curve, ``eps`` the criterion a row was measured against; the claims
#: read the first eight, and a column a row lacks is empty.
COLUMNS = ("experiment", "dataset", "method", "m", "n", "seed", "metric", "value", "step", "eps")

# Metric names shared with the experiments.
TRAIN_LOSS = "train_loss"
EXCESS_LOSS = "excess_loss"  # L(f_n) - L(g), g the projection of Y onto the hull's affine span
DENSE_LOSS = "dense_loss"  # L(u) of the dense network (the plain mean of its neurons)
PROJECTION_LOSS = "L_g"  # L(g) of the projection g of Y onto the hull's affine span
VARIANCE = "V"  # neuron variance about the dense mean
RADIUS, DIAMETER, DISTANCE_TO_G = "r", "D", "D_g"
LOCAL_SLOPE = "local_slope"
PREDICTED_BOUNDARY = "predicted_boundary"  # (D/r)^2
PRETRAIN_STEPS = "pretrain_steps"


def _num(x):
    if x is None or x == "":
        return None
    return float(x)


def _rows(rows: Iterable[Mapping]) -> list[dict]:
    out = []
    for i, row in enumerate(rows):
        missing = [c for c in ("metric", "value") if c not in row]
        if missing:
            raise ValueError(f"row {i} lacks the column(s) {missing}; expected columns {COLUMNS}")
        d = dict(row)
        d["value"] = float(d["value"])
        for c in ("m", "n"):
            d[c] = _num(d.get(c))
        d.setdefault("seed", None)
        out.append(d)
    return out


def filter_rows(rows: Iterable[Mapping], **equal) -> list[dict]:
    """Rows whose columns equal the given values (a value of None matches anything).

    Numeric columns (m, n) compare as numbers, others as strings.
    """
    out = []
    for row in _rows(rows):
        keep = True
        for key, want in equal.items():
            if want is None:
                continue
            have = row.get(key)
            if key in ("m", "n"):
                keep = have is not None and float(have) == float(want)
            else:
                keep = str(have) == str(want)
            if not keep:
                break
        if keep:
            out.append(row)
    return out


def seed_curves(rows: list[dict], method: str, metric: str) -> dict:
    """{(dataset, m, seed): (n array, value array)} sorted by n, for rows with an n."""
    acc = defaultdict(dict)
    for row in rows:
        if row["metric"] == metric and str(row.get("method")) == method and row["n"] is not None:
            acc[(str(row.get("dataset")), row["m"], str(row.get("seed")))][row["n"]] = row["value"]
    out = {}
    for key, by_n in acc.items():
        ns = np.array(sorted(by_n))
        out[key] = (ns, np.array([by_n[n] for n in ns]))
    return out


def seed_constants(rows: list[dict]) -> dict:
    """{(dataset, m, seed): {metric: value}} of the rows without an n (geometry, dense loss)."""
    out = defaultdict(dict)
    for row in rows:
        if row["n"] is None:
            out[(str(row.get("dataset")), row["m"], str(row.get("seed")))][row["metric"]] = row["value"]
    return out
