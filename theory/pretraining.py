"""Exact statements about a dense network during pre-training, as functions of numbers
(docs/THEORY.md, "The random-subnetwork identity" and P6's required size).

The network is the plain mean of its N neuron features, ``u = (1/N) sum_i phi_i``, and the
loss is ``L(f) = 0.5 (1/m) sum_j ||f(x_j) - y_j||^2`` with the neuron variance
``V = (1/N) sum_i (1/m) ||phi_i - u||^2`` in the matching norm (as in ``theory.bounds``).

- The random-subnetwork identity (P1's averaging argument, as an equality): the mean of n
  neurons drawn i.i.d. uniformly, with replacement, from the N has expected loss exactly
  ``E L(f_n) = L(u) + V / (2 n)``, because ``f_n - u`` has mean zero and, per sample,
  ``E ||f_n - u||^2 = (1/n) (1/N) sum_i ||phi_i - u||^2``. Unlike P7's inequality, a wrong
  loss, a stale variance, another margin or another n each shift the prediction, and a Monte
  Carlo mean over R draws catches the shift at z = (mean - prediction) / SE.
- P6's required size: the smallest n at which the pruning margin ``V (1 + ln n) / (2n)`` of
  P2/P6 falls below eps; below it P6's predicted T is infinite.

Never imports ``sims``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["IdentityCheck", "expected_random_subnetwork_loss", "random_subnetwork_losses",
           "random_subnetwork_losses_gram", "identity_check", "p6_required_size"]


def expected_random_subnetwork_loss(dense_loss: float, variance: float, n) -> float:
    """``L(u) + V / (2n)``: the expected loss of the mean of n neurons drawn i.i.d. uniformly
    with replacement (mean form, same convention for the loss and V)."""
    if not (math.isfinite(dense_loss) and dense_loss >= 0 and math.isfinite(variance) and variance >= 0):
        raise ValueError(f"dense_loss and variance must be finite and >= 0, got {dense_loss!r} and {variance!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n!r}")
    return float(dense_loss) + float(variance) / (2.0 * float(n))


def _neuron_major(features) -> np.ndarray:
    """(N, m * K) float64 from features (m, N) or (m, N, K)."""
    phi = np.asarray(features, dtype=np.float64)
    if phi.ndim == 2:
        phi = phi[:, :, None]
    if phi.ndim != 3 or 0 in phi.shape:
        raise ValueError(f"features must be (m, N) or (m, N, K) and non-empty, got shape {phi.shape}")
    return np.ascontiguousarray(phi.transpose(1, 0, 2).reshape(phi.shape[1], -1))


def random_subnetwork_losses(features, targets, n: int, draws: int, seed: int = 0) -> np.ndarray:
    """(draws,) losses (mean form) of ``draws`` subnetworks, each the mean of n neurons drawn
    i.i.d. uniformly with replacement from the N columns of ``features`` (m, N) or (m, N, K);
    ``targets`` (m,) or (m, K). Deterministic in ``seed``. See :func:`random_subnetwork_losses_gram`."""
    phi = _neuron_major(features)
    y = np.asarray(targets, dtype=np.float64).reshape(-1)
    if y.size != phi.shape[1]:
        raise ValueError(f"targets must have m * K = {phi.shape[1]} entries, got {y.size}")
    return random_subnetwork_losses_gram(phi @ phi.T, phi @ y, float(y @ y), np.asarray(features).shape[0], n, draws,
                                         seed)


def random_subnetwork_losses_gram(gram, cross, target_norm: float, m: int, n: int, draws: int,
                                  seed: int = 0) -> np.ndarray:
    """As :func:`random_subnetwork_losses` from the Gram matrix ``G = Phi^T Phi`` (N, N), the
    products ``b = Phi^T y`` (N,) and ``||y||^2`` (sums over the m samples and K outputs), m.

    A draw is its count vector c (multinomial(n, 1/N)); its output is ``Phi c / n`` and its
    loss ``(c^T G c / n^2 - 2 c.b / n + ||y||^2) / (2m)``: O(N^2) per draw whatever m and n are.
    """
    gram = np.asarray(gram, dtype=np.float64)
    cross = np.asarray(cross, dtype=np.float64).ravel()
    width = cross.size
    if gram.shape != (width, width) or width == 0:
        raise ValueError(f"gram must be (N, N) with N = len(cross) = {width}, got {gram.shape}")
    if int(n) != n or n < 1 or int(draws) != draws or draws < 2 or m < 1:
        raise ValueError(f"n must be an integer >= 1, draws an integer >= 2 and m >= 1, got n={n!r}, "
                         f"draws={draws!r}, m={m!r}")
    counts = np.random.default_rng(seed).multinomial(int(n), np.full(width, 1.0 / width), size=int(draws))
    counts = counts.astype(np.float64)
    quadratic = np.einsum("ri,ri->r", counts @ gram, counts)
    return (quadratic / n ** 2 - 2.0 * (counts @ cross) / n + float(target_norm)) / (2.0 * m)


@dataclass(frozen=True)
class IdentityCheck:
    """The identity tested on R draws: z = (mean - prediction) / se, se = sd / sqrt(R)."""

    z: float
    mean: float
    prediction: float
    se: float
    draws: int


def identity_check(draw_losses, dense_loss: float, variance: float, n) -> IdentityCheck:
    """Compare the mean of per-draw losses (R >= 2 subnetworks of n neurons drawn i.i.d. with
    replacement) with ``L(u) + V/(2n)``. Under the identity z is approximately standard normal
    (R in the thousands); P(|z| > 4) is then 6.3e-5 per check."""
    losses = np.asarray(draw_losses, dtype=np.float64).ravel()
    if losses.size < 2 or not np.all(np.isfinite(losses)):
        raise ValueError(f"draw_losses must hold at least 2 finite values, got {losses.size}")
    prediction = expected_random_subnetwork_loss(dense_loss, variance, n)
    mean = float(losses.mean())
    se = float(losses.std(ddof=1) / math.sqrt(losses.size))
    if se > 0:
        z = (mean - prediction) / se
    else:  # every draw the same subnetwork (N = 1, or identical neurons): the identity is exact equality
        z = 0.0 if abs(mean - prediction) <= 1e-12 * max(abs(prediction), 1.0) else math.copysign(math.inf,
                                                                                                  mean - prediction)
    return IdentityCheck(z=float(z), mean=mean, prediction=prediction, se=se, draws=int(losses.size))


def p6_required_size(variance: float, eps: float) -> int:
    """The smallest integer n >= 1 with ``V (1 + ln n) / (2n) < eps``: below it P6's pruning
    margin alone exceeds eps and P6's predicted T is infinite (``required_pretraining_steps``).
    The margin decreases in n (its derivative is ``-V ln n / (2 n^2)``), so the answer is found
    by doubling and bisection. V and eps in one loss convention.

    >>> p6_required_size(99.0, 0.1)
    4679
    """
    v, e = float(variance), float(eps)
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"variance must be finite and >= 0, got {variance!r}")
    if not (math.isfinite(e) and e > 0):
        raise ValueError(f"eps must be finite and > 0, got {eps!r}")

    def below(n: int) -> bool:
        return v * (1.0 + math.log(n)) / (2.0 * n) < e

    if below(1):
        return 1
    high = 2
    while not below(high):
        high *= 2
    low = high // 2  # not below(low), below(high)
    while high - low > 1:
        middle = (low + high) // 2
        if below(middle):
            high = middle
        else:
            low = middle
    return high
