"""Unit and property tests for theory.geometry: V, D, D_g, affine hull, interior radius (the NTK Gram
matrix is tested in tests/theory/test_ntk.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import geometry

from tests.helpers import EXACT, ROUNDING

FAST = settings(max_examples=25, deadline=None, derandomize=True)


def square_with_centre():
    """Corners of [-1, 1]^2 plus the centre, as (m=2, N=5) features; scaled norm = /sqrt(2)."""
    pts = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [0, 0]], dtype=float)
    return pts.T


def test_feature_vectors_scaling_and_shapes():
    feats = np.arange(12.0).reshape(2, 3, 2)  # m=2, N=3, K=2
    phi = geometry.feature_vectors(feats)
    assert phi.shape == (3, 4)
    np.testing.assert_allclose(phi[1], feats[:, 1, :].ravel() / math.sqrt(2))
    u = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert geometry.squared_norm(u) == pytest.approx((1 + 4 + 9 + 16) / 2)
    assert geometry.loss(u, np.zeros((2, 2))) == pytest.approx(0.25 * 30)


def test_variance_diameter_and_radius_of_a_square():
    feats = square_with_centre()
    s = 1 / math.sqrt(2)  # the norm divides by sqrt(m) = sqrt(2)
    assert geometry.diameter(feats) == pytest.approx(2 * math.sqrt(2) * s)
    assert geometry.neuron_variance(feats) == pytest.approx(4 * 2 / 5 * s**2)
    centre = np.zeros(2)
    assert geometry.max_distance_to(feats, centre) == pytest.approx(math.sqrt(2) * s)
    assert geometry.interior_radius(feats, centre) == pytest.approx(1.0 * s)
    assert geometry.interior_radius(feats, np.array([0.5, 0.0])) == pytest.approx(0.5 * s)
    # the LP bound: t = 1 along the axes of the 2-d square, so the bound is s / sqrt(2)
    lb = geometry.interior_radius_lower_bound(feats, centre)
    assert lb <= geometry.interior_radius(feats, centre)
    assert lb == pytest.approx(s / math.sqrt(2), rel=1e-6)


def test_neuron_variance_about_a_weighted_point():
    feats = square_with_centre()
    p = np.array([0.5, 0.5, 0, 0, 0])
    # g = (0, -1); both points at distance 1 (unscaled) -> V = 1 / 2 after scaling
    assert geometry.neuron_variance(feats, p) == pytest.approx(0.5)
    np.testing.assert_allclose(geometry.hull_point(feats, p), [0.0, -1.0])


def test_radius_is_zero_on_the_boundary_and_error_outside():
    feats = square_with_centre()
    assert geometry.interior_radius(feats, np.array([1.0, 0.3])) == 0.0
    assert geometry.interior_radius(feats, np.array([1.0, 1.0])) == 0.0
    with pytest.raises(geometry.PointOutsideHull, match="outside the hull"):
        geometry.interior_radius(feats, np.array([1.5, 0.0]))
    with pytest.raises(geometry.PointOutsideHull, match="outside the hull"):
        geometry.interior_radius_lower_bound(feats, np.array([1.5, 0.0]))
    assert geometry.interior_radius_lower_bound(feats, np.array([1.0, 0.3])) == 0.0


def test_radius_after_reduction_to_a_lower_dimensional_affine_hull():
    """A square embedded in a plane of R^4 (shifted off the origin): the radius is
    measured inside the plane; a point off the plane is outside the hull."""
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.standard_normal((4, 2)))
    shift = rng.standard_normal(4)
    square = square_with_centre().T  # (5, 2)
    feats = (square @ basis.T + shift).T  # (m=4, N=5)
    s = 1 / 2  # sqrt(m) = 2
    assert geometry.affine_hull(feats).dim == 2
    g = geometry.dense_mean(feats)
    assert geometry.interior_radius(feats, g) == pytest.approx(1.0 * s)
    normal = rng.standard_normal(4)
    normal -= basis @ (basis.T @ normal)
    with pytest.raises(ValueError, match="not even in their affine"):
        geometry.interior_radius(feats, g + 0.1 * normal)
    y = g + 0.3 * normal
    np.testing.assert_allclose(geometry.project_onto_affine_hull(feats, y), g, atol=EXACT)


def test_radius_in_dimension_one():
    feats = np.array([[0.0, 1.0, 4.0]])  # m=1, N=3: an interval [0, 4]
    assert geometry.interior_radius(feats, np.array([1.0])) == pytest.approx(1.0)
    assert geometry.interior_radius_lower_bound(feats, np.array([1.0])) == pytest.approx(1.0, rel=1e-7)


def test_radius_by_weights_equals_radius_by_point():
    feats = square_with_centre()
    p = np.array([0.1, 0.2, 0.3, 0.1, 0.3])
    assert geometry.interior_radius(feats, weights=p) == pytest.approx(
        geometry.interior_radius(feats, geometry.hull_point(feats, p))
    )


@FAST
@given(seed=st.integers(0, 10_000), dim=st.integers(2, 6), n_points=st.integers(10, 40))
def test_lp_lower_bound_never_exceeds_exact_radius(seed, dim, n_points):
    rng = np.random.default_rng(seed)
    feats = rng.standard_normal((dim, n_points))
    p = rng.dirichlet(np.ones(n_points))
    r = geometry.interior_radius(feats, weights=p)
    lb = geometry.interior_radius_lower_bound(feats, weights=p)
    assert 0.0 <= lb <= r * (1 + ROUNDING) + 1e-12
    # The exact radius is certified by its definition: g +- r u stays in M for random u.
    g = geometry.hull_point(feats, p)
    for _ in range(3):
        u = rng.standard_normal(dim)
        u *= r * math.sqrt(dim) / np.linalg.norm(u) * (1 - 1e-7)  # unscaled length = r in the norm
        for sign in (1, -1):
            geometry.interior_radius(feats, g + sign * u)  # raises if outside


def test_radius_above_exact_dimension_uses_certified_lower_bound():
    rng = np.random.default_rng(1)
    feats = rng.standard_normal((5, 30))
    g = geometry.dense_mean(feats)
    exact = geometry.interior_radius(feats, g)
    lower = geometry.interior_radius(feats, g, max_exact_dim=4)
    assert lower == pytest.approx(geometry.interior_radius_lower_bound(feats, g))
    assert 0 < lower <= exact


def test_exact_radius_in_dimension_eight():
    rng = np.random.default_rng(2)
    feats = rng.standard_normal((8, 60))
    g = geometry.dense_mean(feats)
    assert geometry.affine_hull(feats).dim == 8
    assert geometry.interior_radius(feats, g) >= geometry.interior_radius_lower_bound(feats, g) > 0


@FAST
@given(seed=st.integers(0, 10_000), n_points=st.integers(2, 300), chunk=st.integers(1, 64))
def test_chunked_diameter_matches_brute_force(seed, n_points, chunk):
    rng = np.random.default_rng(seed)
    feats = rng.standard_normal((3, n_points, 2))
    phi = geometry.feature_vectors(feats)
    brute = max(np.linalg.norm(a - b) for a in phi for b in phi)
    assert geometry.diameter(feats, chunk_size=chunk) == pytest.approx(brute, rel=EXACT)


def test_torch_tensors_are_accepted():
    import torch  # a dependency of the project: its absence is a failure, not a skip
    feats = torch.tensor(square_with_centre(), requires_grad=True)
    assert geometry.neuron_variance(feats) == pytest.approx(geometry.neuron_variance(square_with_centre()))


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: geometry.feature_vectors(np.zeros((3,))), "shape"),
        (lambda: geometry.feature_vectors(np.zeros((0, 4))), "positive sizes"),
        (lambda: geometry.feature_vectors(np.array([[np.nan, 1.0]])), "NaN"),
        (lambda: geometry.neuron_variance(np.ones((2, 3)), np.array([0.5, 0.5])), "weights must have shape"),
        (lambda: geometry.neuron_variance(np.ones((2, 2)), np.array([1.5, -0.5])), "non-negative"),
        (lambda: geometry.neuron_variance(np.ones((2, 2)), np.array([0.4, 0.4])), "sum to 1"),
        (lambda: geometry.diameter(np.ones((2, 2)), chunk_size=0), "chunk_size"),
        (lambda: geometry.max_distance_to(np.ones((2, 3)), np.ones(3)), "shape"),
        (lambda: geometry.interior_radius(np.ones((2, 3)), np.ones(2)), "all neurons coincide"),
        (lambda: geometry.interior_radius(square_with_centre(), np.zeros(3)), "shape"),
        (lambda: geometry.interior_radius(square_with_centre()), "exactly one"),
    ],
)
def test_bad_input_raises_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_too_few_points_for_a_hull():
    """Two points span a segment (dimension 1, handled exactly); one point is no hull."""
    feats = np.array([[0.0, 2.0], [0.0, 2.0]])
    assert geometry.interior_radius(feats, np.array([1.0, 1.0])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="coincide"):
        geometry.interior_radius(np.array([[1.0], [2.0]]), np.array([1.0, 2.0]))


@pytest.mark.parametrize("call", [
    lambda f: geometry.interior_radius(f, weights=np.full(f.shape[1], 1 / f.shape[1])),
    lambda f: geometry.interior_radius(f, np.mean(f, axis=1), max_exact_dim=1),  # falls back to the LP bound
    lambda f: geometry.interior_radius_lower_bound(f, np.mean(f, axis=1)),
    lambda f: geometry.project_onto_affine_hull(f, np.zeros(f.shape[0])),
    lambda f: geometry.max_distance_to(f, np.zeros(f.shape[0])),
    lambda f: geometry.hull_point(f, np.full(f.shape[1], 1 / f.shape[1])),
])
def test_features_are_validated_once_per_call(monkeypatch, call):
    """The public functions check and convert the (possibly large) feature array once; the
    kernels they share trust it."""
    converted = []
    original = geometry.as_float_array

    def counting(x, name):
        if name == "features":
            converted.append(name)
        return original(x, name)

    monkeypatch.setattr(geometry, "as_float_array", counting)
    call(square_with_centre())
    assert len(converted) == 1
