"""Result rows with known answers, shared by the tests of theory.claims' submodules."""

from __future__ import annotations

import math

import numpy as np


def row(method, n, metric, value, m=10, seed=0, experiment="toy", dataset="synthetic"):
    return dict(experiment=experiment, dataset=dataset, method=method, m=m, n=n, seed=seed, metric=metric, value=value)


def curve_rows(method, ns, values, metric="train_loss", **kw):
    return [row(method, int(n), metric, float(v), **kw) for n, v in zip(ns, values)]


def constant_rows(seed=0, m=10, dataset="synthetic", **values):
    return [row("dense", None, name, value, seed=seed, m=m, dataset=dataset) for name, value in values.items()]


NS = np.arange(90, 1000, 60)


def paired_rows(gaps_by_n, seeds, direct=lambda n: 1.0 / n):
    """Rows whose per-seed log-gap ln(gfs) - ln(direct) at size n is gaps_by_n[n][seed]."""
    rows = []
    for n, gaps in gaps_by_n.items():
        for seed, gap in zip(range(seeds), gaps):
            rows.append(row("direct-gd", n, "train_loss", direct(n), seed=seed))
            rows.append(row("gfs", n, "train_loss", direct(n) * math.exp(gap), seed=seed))
    return rows


def rate_rows(slopes, ns=NS, r=0.5, d=2.0, dataset="synthetic", make=None):
    rows = []
    for seed, slope in enumerate(slopes):
        values = make(ns, slope) if make else 0.1 * ns**slope
        rows += curve_rows("gfs", ns, values, metric="excess_loss", seed=seed, dataset=dataset)
        rows += constant_rows(seed=seed, dataset=dataset, r=r, D=d)
    return rows


def phase_rows(slopes_by_m, boundary_by_m, n_last=1000):
    rows = []
    for m, slopes in slopes_by_m.items():
        for seed, slope in enumerate(slopes):
            rows += [row("gfs", n, "local_slope", slope, m=m, seed=seed, dataset="phase") for n in (10, n_last)]
            rows += constant_rows(seed=seed, m=m, dataset="phase", predicted_boundary=boundary_by_m[m])
    return rows
