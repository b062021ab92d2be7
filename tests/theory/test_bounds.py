"""Unit tests for theory.bounds: values, array/scalar handling, P6 edge cases, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from theory import bounds

from tests.helpers import REFERENCE


def test_values_at_known_points():
    assert bounds.gfs_realisable_bound(4, 2.0) == pytest.approx(0.25)
    assert bounds.gfs_excess_bound(1, 2.0) == pytest.approx(1.0)
    assert bounds.gfs_excess_bound(math.e, 2.0) == pytest.approx(2.0 / math.e)
    assert bounds.gfs_interior_bound(2, 2.0, 1.0) == pytest.approx((4 + 16 / 4) / 8)
    assert bounds.reweighted_contraction(1.0, 2.0) == pytest.approx(0.75)
    assert bounds.reweighted_greedy_bound(3, 1.0, 1.0, 2.0) == pytest.approx(0.75**2)
    assert bounds.ntk_residual_bound(0, 0.1, 0.2, 5.0) == pytest.approx(5.0)
    assert bounds.ntk_residual_bound(10, 0.1, 0.2, 5.0) == pytest.approx(5.0 * 0.99**10, rel=1e-14)


def test_scalar_in_scalar_out_array_in_array_out():
    assert isinstance(bounds.gfs_excess_bound(3, 1.0), float)
    n = np.arange(1, 6)
    out = bounds.gfs_excess_bound(n, 1.0)
    assert isinstance(out, np.ndarray) and out.shape == (5,)
    np.testing.assert_allclose(out, [bounds.gfs_excess_bound(int(k), 1.0) for k in n])
    assert bounds.reweighted_greedy_bound(np.array([1, 2]), 1.0, 1.0, 2.0).shape == (2,)


def test_bounds_decrease_in_n():
    n = np.arange(1, 200)
    for b in (
        bounds.gfs_realisable_bound(n, 1.0),
        bounds.gfs_excess_bound(n, 1.0),
        bounds.gfs_interior_bound(n, 1.0, 0.1),
        bounds.reweighted_greedy_bound(n, 1.0, 0.5, 1.0),
    ):
        assert np.all(np.diff(b) <= 0)


def test_required_steps_edge_cases():
    # the pruning margin alone exceeds eps: unreachable
    assert bounds.required_pretraining_steps(1.0, 0.1, 1.0, 1, 0.1, 0.1) == math.inf
    assert bounds.required_pretraining_steps(1.0, 0.5, 1.0, 1, 0.1, 0.1) == math.inf  # eps == margin
    # already good enough at initialisation
    assert bounds.required_pretraining_steps(0.01, 1.0, 0.0, 5, 0.1, 0.1) == 0.0
    # no pruning term (V = 0): log(L0/eps) / -log(1 - q)
    t = bounds.required_pretraining_steps(10.0, 0.1, 0.0, 7, 0.2, 0.5)
    assert t == pytest.approx(math.log(100.0) / -math.log(1 - 0.05))


def test_required_steps_grow_like_log_m_with_summed_loss():
    """With a summed loss L(u_0) = c*m and V, eps also summed (proportional to m), T grows
    like log m only through L(u_0) when eps is a fixed absolute target."""
    ts = [bounds.required_pretraining_steps(0.5 * m, 1.0, 0.0, 10, 0.1, 0.5) for m in (10, 100, 1000)]
    diffs = np.diff(ts)
    assert diffs[0] == pytest.approx(diffs[1])
    assert diffs[0] == pytest.approx(math.log(10) / -math.log(1 - 0.025))


def test_bound_violations():
    np.testing.assert_array_equal(bounds.bound_violations([1.0, 2.0, 3.0], [1.0, 1.9, 3.1]), [1])
    assert bounds.bound_violations([1.0 + 1e-13], [1.0]).size == 0  # roundoff slack only
    assert bounds.bound_violations([1.0 + 1e-9], [1.0]).size == 1


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: bounds.gfs_realisable_bound(0, 1.0), "n must be >= 1"),
        (lambda: bounds.gfs_excess_bound([1, -2], 1.0), "n must be >= 1"),
        (lambda: bounds.gfs_excess_bound([], 1.0), "n must not be empty"),
        (lambda: bounds.gfs_realisable_bound(1, -1.0), "variance"),
        (lambda: bounds.gfs_excess_bound(1, float("nan")), "variance"),
        (lambda: bounds.gfs_interior_bound(1, 1.0, 0.0), "radius must be positive"),
        (lambda: bounds.gfs_interior_bound(1, -1.0, 1.0), "max_distance"),
        (lambda: bounds.reweighted_greedy_bound(1, 1.0, 2.0, 1.0), "cannot exceed the diameter"),
        (lambda: bounds.reweighted_greedy_bound(1, 1.0, 1.0, 0.0), "diameter must be positive"),
        (lambda: bounds.reweighted_greedy_bound(1, -1.0, 1.0, 2.0), "first_excess"),
        (lambda: bounds.ntk_residual_bound(-1, 0.1, 0.1, 1.0), "t must be >= 0"),
        (lambda: bounds.ntk_residual_bound(1, 0.0, 0.1, 1.0), "eta must be positive"),
        (lambda: bounds.ntk_residual_bound(1, 100.0, 0.1, 1.0), "contraction"),
        (lambda: bounds.required_pretraining_steps(1.0, 0.0, 1.0, 1, 0.1, 0.1), "eps must be positive"),
        (lambda: bounds.required_pretraining_steps(1.0, 1.0, 1.0, [1, 2], 0.1, 0.1), "scalar"),
        (lambda: bounds.required_pretraining_steps(1.0, 1.0, 1.0, 0, 0.1, 0.1), "n must be >= 1"),
        (lambda: bounds.required_pretraining_steps(1.0, 1.0, 1.0, 1, 0.1, -0.1), "lambda_0"),
        (lambda: bounds.gfs_excess_bound(1, "a lot"), "variance must be a real number"),
        (lambda: bounds.bound_violations([1.0, 2.0], [1.0]), "shape"),
    ],
)
def test_bad_input_names_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------- P7 and P8


def test_certificate_steps_is_the_first_step_meeting_eps():
    certificate = np.array([1.0, 0.5, 0.3, 0.35, 0.1])
    assert bounds.certificate_steps(certificate, 0.3) == 2.0
    assert bounds.certificate_steps(certificate, 0.32) == 2.0  # not 3: B is not monotone, the first t counts
    assert bounds.certificate_steps(certificate, 0.2) == 4.0
    assert bounds.certificate_steps(certificate, 0.05) == math.inf
    np.testing.assert_array_equal(bounds.certificate_steps(certificate, np.array([2.0, 0.5, 0.01])), [0.0, 1.0, math.inf])
    b = bounds.pretraining_certificate([0.4, 0.2], [1.0, 2.0], n=10)
    np.testing.assert_allclose(b, [0.4 + 1.0 * (1 + math.log(10)) / 20, 0.2 + 2.0 * (1 + math.log(10)) / 20])


def _random_features_instance(m=150, d=4, width=60, k=2, seed=0):
    from sims.nets.model import hidden_activations, init_network

    rng = np.random.default_rng(seed)
    inputs = rng.standard_normal((m, d))
    inputs /= np.linalg.norm(inputs, axis=1, keepdims=True)
    targets = rng.standard_normal((m, k))
    model = init_network(d, width, k, seed=seed + 1)
    return model, inputs, targets, hidden_activations(model, inputs).numpy()


@pytest.mark.parametrize("shape", [dict(m=150, width=60, k=2), dict(m=40, width=90, k=1)])  # N < m and N > m
def test_p8_random_features_loss_and_variance_are_exact_at_every_step(shape):
    """The trained random-features network (sims.train, mode 'second') follows P8's closed form
    to 1e-10 relative at every step, and the neuron variance follows the b_t recursion."""
    from sims.nets.model import neuron_features
    from sims.nets.train import TrainConfig, train
    from theory import geometry

    model, inputs, targets, psi = _random_features_instance(**shape)
    variances = []
    result = train(model, inputs, targets, TrainConfig(lr=1.0, iterations=200, mode="second"),
                   observe=lambda t, current, hidden: variances.append(
                       geometry.neuron_variance(neuron_features(current, inputs).numpy())))
    loss, variance = bounds.random_features_trajectory(psi, model.second_weight.numpy(), targets, 1.0, 200)
    np.testing.assert_allclose(loss, result.losses, rtol=REFERENCE, atol=0)
    np.testing.assert_allclose(variance, variances, rtol=REFERENCE, atol=0)
    spectrum = bounds.random_features_spectrum(psi, psi @ model.second_weight.numpy() / psi.shape[1] - targets)
    np.testing.assert_allclose(bounds.random_features_loss(np.arange(201), 1.0, spectrum), result.losses, rtol=REFERENCE)
    assert np.all(np.diff(loss) <= 1e-15)  # eta <= 1/mu_max: every term non-increasing
    # a broken variant (one factor (1 - eta mu) per step instead of two in the loss) is rejected
    energy = np.sum(spectrum.coefficients ** 2, axis=1)
    wrong = [(np.sum((1 - spectrum.mu) ** t * energy) + spectrum.rest.sum()) / (2 * psi.shape[0]) for t in range(201)]
    assert not np.allclose(wrong, result.losses, rtol=1e-6)


def test_p8_spectrum_rejects_a_diverging_step():
    _, _, targets, psi = _random_features_instance()
    spectrum = bounds.random_features_spectrum(psi, targets)
    assert spectrum.mu[0] >= spectrum.mu[-1] > 0 and spectrum.coefficients.shape == (spectrum.mu.size, 2)
    with pytest.raises(ValueError, match="diverges"):
        bounds.random_features_loss(3, 2.5 / spectrum.mu[0], spectrum)
