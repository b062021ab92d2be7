"""The real runs the claims' tests share."""

from __future__ import annotations

import numpy as np
import pytest

from sims.selection.engine import select
from theory import geometry

from tests.theory.claims.helpers import constant_rows, curve_rows


@pytest.fixture(scope="package")
def interior_runs():
    """Rows of real sims.select runs on an interior instance (2-d square, target = dense mean)."""
    rows = []
    for seed in range(3):
        feats = np.random.default_rng(seed).uniform(-1, 1, size=(2, 40))
        g = geometry.dense_mean(feats)
        consts = dict(r=geometry.interior_radius(feats, g), D=geometry.diameter(feats),
                      D_g=geometry.max_distance_to(feats, g), V=geometry.neuron_variance(feats), dense_loss=0.0,
                      L_g=0.0)
        rows += constant_rows(seed=seed, m=2, **consts)
        for method, n in (("gfs", 400), ("fw", 30)):
            losses = select(feats, g, n, method).losses
            rows += curve_rows(method, np.arange(1, n + 1), losses, metric="excess_loss", m=2, seed=seed)
            rows += curve_rows(method, np.arange(1, n + 1), losses, metric="train_loss", m=2, seed=seed)
    return rows
