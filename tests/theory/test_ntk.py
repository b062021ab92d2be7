"""theory.ntk: the closed-form NTK Gram matrix (values by hand, duplicates, full precision on
(anti)parallel rows against 40 digits), the finite-width Gram matrix's chunking, lambda_0 and
bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from theory import geometry, ntk

from tests.helpers import EXACT


def test_ntk_gram_closed_form_values():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    h = ntk.ntk_gram(x)
    np.testing.assert_allclose(np.diag(h), 0.5)  # pi / (2 pi)
    assert h[0, 1] == pytest.approx(0.0)  # orthogonal
    assert h[0, 2] == pytest.approx(0.0)  # opposite: the half-spaces do not overlap
    x2 = np.array([[1.0, 0.0], [math.cos(1.0), math.sin(1.0)]])
    assert ntk.ntk_gram(x2)[0, 1] == pytest.approx(math.cos(1.0) * (math.pi - 1.0) / (2 * math.pi))


def test_ntk_gram_clips_cosines_of_duplicates():
    x = np.array([[0.6, 0.8], [0.6, 0.8]]) * (1 + 1e-16)
    h = ntk.ntk_gram(x)
    assert np.all(np.isfinite(h))
    assert ntk.min_eigenvalue(h) == pytest.approx(0.0, abs=EXACT)


def _ntk_gram_mpmath(x, digits=40):
    """H_ij = x_i.x_j (pi - theta_ij) / (2 pi) evaluated with `digits` decimal digits, the
    float64 inputs taken as exact."""
    import mpmath

    with mpmath.workdps(digits):
        rows = [[mpmath.mpf(float(v)) for v in row] for row in x]
        norms = [mpmath.sqrt(mpmath.fsum(v * v for v in row)) for row in rows]
        h = np.empty((len(rows), len(rows)))
        for i, a in enumerate(rows):
            for j, b in enumerate(rows):
                dot = mpmath.fsum(p * q for p, q in zip(a, b))
                cos = max(min(dot / (norms[i] * norms[j]), mpmath.mpf(1)), mpmath.mpf(-1))
                h[i, j] = float(dot * (mpmath.pi - mpmath.acos(cos)) / (2 * mpmath.pi))
    return h


def test_ntk_gram_has_full_precision_on_parallel_and_antiparallel_inputs():
    """Against a 40-digit evaluation: the diagonal, exact duplicates, pairs 1e-9 and 1e-5 rad
    apart, an anti-parallel pair, a pair 1e-9 rad from anti-parallel and generic rows all agree
    to 1e-15 of |x_i||x_j| (arccos of a rounded cosine misses by about 1e-9 on such pairs)."""
    rng = np.random.default_rng(3)
    base = rng.standard_normal(5)
    base /= np.linalg.norm(base)
    other = rng.standard_normal(5)
    other -= other @ base * base
    other /= np.linalg.norm(other)

    def turned(angle):
        return math.cos(angle) * base + math.sin(angle) * other

    x = np.array([base, base.copy(), turned(1e-9), turned(1e-5), -base, turned(math.pi - 1e-9), turned(0.7),
                  *rng.standard_normal((3, 5))]) * rng.uniform(0.5, 2.0, size=(10, 1))
    exact = _ntk_gram_mpmath(x)
    scale = np.outer(np.linalg.norm(x, axis=1), np.linalg.norm(x, axis=1))
    h = ntk.ntk_gram(x)
    assert np.max(np.abs(h - exact) / scale) <= 1e-15
    np.testing.assert_array_equal(h, h.T)
    np.testing.assert_allclose(np.diag(h), 0.5 * np.einsum("ij,ij->i", x, x), rtol=EXACT, atol=0)


def test_ntk_gram_empirical_chunking_is_exact():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3))
    w = rng.standard_normal((1000, 3))
    np.testing.assert_allclose(
        ntk.ntk_gram_empirical(x, w, chunk_size=7), ntk.ntk_gram_empirical(x, w), rtol=1e-13
    )


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ntk.ntk_gram(np.zeros((2, 2))), "zero row"),
        (lambda: ntk.ntk_gram_monte_carlo(np.ones((2, 2)), 0), "width"),
        (lambda: ntk.ntk_gram_empirical(np.ones((2, 2)), np.ones((3, 3))), "w must have shape"),
        (lambda: ntk.min_eigenvalue(np.ones((2, 3))), "square"),
        (lambda: ntk.ntk_gram(np.ones((2, 2, 2))), "shape"),
        (lambda: ntk.ntk_gram([["a", "b"]]), "numeric"),
    ],
)
def test_bad_input_raises_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_geometry_re_exports_the_ntk_functions_themselves():
    """theory.geometry.ntk_gram (the name sims' pre-training cells use) is theory.ntk's function."""
    assert (geometry.ntk_gram, geometry.ntk_gram_empirical, geometry.ntk_gram_monte_carlo, geometry.min_eigenvalue) == (
        ntk.ntk_gram, ntk.ntk_gram_empirical, ntk.ntk_gram_monte_carlo, ntk.min_eigenvalue)
