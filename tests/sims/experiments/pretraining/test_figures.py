"""sims.experiments.pretraining.figures: E3's figures from the quick run's rows, and the directions of the
spectrum that matter at eps."""

from __future__ import annotations

import numpy as np
import pytest

from sims.experiments import pretraining
from sims.experiments.runner import get_experiment

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_pretraining_figures(quick_pretraining):
    folder, rows = quick_pretraining
    experiment = get_experiment("pretraining")
    paths = experiment.figures(rows, pretraining.quick(), folder)
    names = {p.name for p in paths}
    assert {"pretraining_t_star.png", "pretraining_subnet_loss.pdf", "pretraining_certificate.png",
            "pretraining_spectrum.png", "pretraining_identity.png"} <= names
    assert all(p.stat().st_size > 1000 for p in paths)


def test_directions_that_matter():
    share = np.array([0.3, 0.01, 0.02, 0.1])
    np.testing.assert_array_equal(pretraining.directions_that_matter(share, 0.0, 0.05), [True, False, False, True])
    np.testing.assert_array_equal(pretraining.directions_that_matter(share, 0.0, 0.2), [True, False, False, False])
    np.testing.assert_array_equal(pretraining.directions_that_matter(share, 0.03, 0.05), [True, False, True, True])
    assert not pretraining.directions_that_matter(share, 0.0, 1.0).any()
