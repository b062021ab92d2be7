"""theory.pretraining: the random-subnetwork identity E L(f_n) = L(u) + V/(2n) holds (z within
+-4, z standard normal over seeds) and fails with each broken ingredient; P6's required size."""

from __future__ import annotations

import math

import numpy as np
import pytest

from theory import bounds
from theory.pretraining import (expected_random_subnetwork_loss, identity_check, p6_required_size,
                                random_subnetwork_losses)

DRAWS = 4000


def _trajectory(steps: int = 40, width: int = 30, m: int = 40, outputs: int = 2, rate: float = 0.96):
    """Neuron features contracting towards the targets at different speeds per neuron (the
    mean's loss and the variance both move every step): (features per step, targets)."""
    rng = np.random.default_rng(1)
    start = rng.normal(size=(m, width, outputs))
    targets = rng.normal(size=(m, outputs))
    speeds = rate ** (1 + np.arange(width) / width)
    return [targets[:, None, :] + (start - targets[:, None, :]) * speeds[None, :, None] ** t
            for t in range(steps + 1)], targets


def _loss_and_variance(features, targets):
    u = features.mean(axis=1)
    loss = 0.5 * np.mean(np.sum((u - targets) ** 2, axis=1))
    variance = float(np.mean(np.sum((features - u[:, None, :]) ** 2, axis=2), axis=0).mean())
    return float(loss), variance


def test_the_mean_over_all_draws_is_the_identity_exactly_for_n_1():
    """n = 1: the expectation is the plain average of the N single-neuron losses."""
    features, targets = _trajectory()
    phi = features[7]
    single = 0.5 * np.mean(np.sum((phi - targets[:, None, :]) ** 2, axis=2), axis=0)
    loss, variance = _loss_and_variance(phi, targets)
    assert single.mean() == pytest.approx(expected_random_subnetwork_loss(loss, variance, 1), rel=1e-12)


def test_draw_losses_equal_the_direct_computation():
    features, targets = _trajectory()
    phi, n = features[3], 9
    losses = random_subnetwork_losses(phi, targets, n, 5, seed=4)
    counts = np.random.default_rng(4).multinomial(n, np.full(phi.shape[1], 1 / phi.shape[1]), size=5)
    direct = [0.5 * np.mean(np.sum((np.einsum("mnk,n->mk", phi, c) / n - targets) ** 2, axis=1)) for c in counts]
    np.testing.assert_allclose(losses, direct, rtol=1e-12)


def test_z_is_standard_normal_under_the_identity():
    features, targets = _trajectory()
    loss, variance = _loss_and_variance(features[10], targets)
    zs = np.array([identity_check(random_subnetwork_losses(features[10], targets, 5, 1000, seed=s), loss, variance,
                                  5).z for s in range(300)])
    assert abs(zs.mean()) < 4 / math.sqrt(300) and 0.85 < zs.std() < 1.15
    assert np.max(np.abs(zs)) < 4.5


@pytest.mark.parametrize("t", [10, 20, 30])
def test_the_identity_holds_and_each_broken_ingredient_fails(t):
    features, targets = _trajectory()
    n = 6
    loss, variance = _loss_and_variance(features[t], targets)
    draws = random_subnetwork_losses(features[t], targets, n, DRAWS, seed=t)
    assert abs(identity_check(draws, loss, variance, n).z) <= 4
    stale_loss, stale_variance = _loss_and_variance(features[t - 10], targets)
    ahead_loss, _ = _loss_and_variance(features[t + 5], targets)
    broken = {
        "stale variance (10 steps)": identity_check(draws, loss, stale_variance, n),
        "P2's margin instead of P1's": identity_check(draws, loss, variance * (1 + math.log(n)), n),
        "loss 5 steps ahead": identity_check(draws, ahead_loss, variance, n),
        "loss 5 steps behind": identity_check(draws, _loss_and_variance(features[t - 5], targets)[0], variance, n),
        "wrong n (2n)": identity_check(draws, loss, variance, 2 * n),
        "wrong n (n - 1)": identity_check(draws, loss, variance, n - 1),
    }
    passed = {name: round(check.z, 2) for name, check in broken.items() if abs(check.z) <= 4}
    assert passed == {}


def test_identity_check_reports_its_inputs():
    check = identity_check([1.0, 2.0, 3.0], 1.5, 1.0, 2)
    assert check.prediction == 1.75 and check.mean == 2.0 and check.draws == 3
    assert check.se == pytest.approx(1 / math.sqrt(3)) and check.z == pytest.approx(0.25 * math.sqrt(3))
    assert identity_check([1.0, 1.0], 1.0, 0.0, 3).z == 0.0
    assert identity_check([1.0, 1.0], 0.5, 0.0, 3).z == math.inf


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="draw_losses"):
        identity_check([1.0], 0.0, 0.0, 1)
    with pytest.raises(ValueError, match="n must be"):
        expected_random_subnetwork_loss(0.1, 0.1, 0)
    with pytest.raises(ValueError, match="targets"):
        random_subnetwork_losses(np.ones((4, 3)), np.ones(5), 2, 10)
    with pytest.raises(ValueError, match="draws"):
        random_subnetwork_losses(np.ones((4, 3)), np.ones(4), 2, 1)
    with pytest.raises(ValueError, match="eps"):
        p6_required_size(1.0, 0.0)
    with pytest.raises(ValueError, match="variance"):
        p6_required_size(-1.0, 0.1)


@pytest.mark.parametrize("variance, eps", [(99.0, 0.1), (99.0, 0.05), (99.0, 0.035), (99.0, 0.02), (1.0, 0.3),
                                           (0.5, 0.6), (0.0, 0.01), (3.0, 1e-3)])
def test_p6_required_size_is_where_the_margin_first_falls_below_eps(variance, eps):
    n = p6_required_size(variance, eps)
    assert bounds.pruning_margin(n, variance) < eps
    assert n == 1 or bounds.pruning_margin(n - 1, variance) >= eps
    # beyond it P6's predicted T is finite, below it infinite
    assert math.isfinite(bounds.required_pretraining_steps(1.0, eps, variance, n, 0.1, 1.0))
    if n > 1:
        assert bounds.required_pretraining_steps(1.0, eps, variance, n - 1, 0.1, 1.0) == math.inf
