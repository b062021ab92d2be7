"""sims.selection.simplex_qp: Wolfe's min-norm-point algorithm meets the KKT conditions of
min_w w^T G w over the probability simplex, from any feasible one-point start."""

import numpy as np
import pytest

from sims.selection.simplex_qp import affine_minimizer, min_norm_point

from tests.helpers import EXACT


def _gram(rng, points: int, dimension: int, shift: float) -> np.ndarray:
    q = rng.standard_normal((points, dimension)) + shift
    return q @ q.T


def _assert_kkt(gram: np.ndarray, w: np.ndarray, tol: float) -> None:
    """w is optimal iff (G w)_j >= w^T G w for every j, with equality on the support of w."""
    assert np.all(w >= 0) and w.sum() == pytest.approx(1.0, abs=EXACT)
    inner, value = gram @ w, float(w @ gram @ w)
    scale = float(np.max(np.diag(gram)))
    assert inner.min() >= value - tol * scale
    assert np.allclose(inner[w > 1e-12], value, atol=tol * scale)


@pytest.mark.parametrize("points,dimension,shift", [(5, 3, 0.0), (12, 4, 0.5), (30, 30, 0.0), (40, 6, 2.0),
                                                    (8, 1, 0.3)])
@pytest.mark.parametrize("seed", range(4))
def test_kkt_conditions_hold_from_every_single_point_start(points, dimension, shift, seed):
    rng = np.random.default_rng(seed)
    gram = _gram(rng, points, dimension, shift)
    for start in (0, points - 1):
        w = min_norm_point(gram, np.eye(points)[start])
        _assert_kkt(gram, w, tol=1e-9)


def test_warm_start_from_an_answer_is_never_worse_and_stays_optimal():
    rng = np.random.default_rng(7)
    gram = _gram(rng, 15, 5, 0.2)
    w = min_norm_point(gram, np.eye(15)[3])
    again = min_norm_point(gram, w)
    assert again @ gram @ again <= w @ gram @ w + 1e-15
    _assert_kkt(gram, again, tol=1e-9)


def test_a_point_at_the_origin_is_found_exactly():
    # the origin is the midpoint of q_0 = (1, 0) and q_1 = (-1, 0): value 0 with weights (1/2, 1/2)
    q = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 3.0]])
    w = min_norm_point(q @ q.T, np.array([0.0, 0.0, 1.0]))
    np.testing.assert_allclose(w, [0.5, 0.5, 0.0], atol=EXACT)


def test_affine_minimizer_solves_the_affine_problem():
    """Two points: the minimum-norm point of their line, weights summing to one."""
    q = np.array([[1.0, 1.0], [-1.0, 3.0]])
    v = affine_minimizer(q @ q.T)
    point = v @ q
    assert v.sum() == pytest.approx(1.0)
    assert point @ (q[0] - q[1]) == pytest.approx(0.0, abs=EXACT)  # orthogonal to the line
