"""Greedy forward selection as published, beside GFS as analysed.

The analysed GFS (docs/THEORY.md section 2, ``sims.select``) scores every neuron on the whole
training set by the exact squared loss. The published code (Ye et al., ICML 2020, MobileNetV2)
differs in three ways, each an option of :class:`PublishedOptions`:

- ``candidates``: at each step only a seeded random sample of that many not-yet-chosen neurons
  is scored (published: 50); None scores all of them;
- ``batch_size``: each step scores on a fresh seeded random mini-batch of that many training
  examples (published: 128); None uses all m;
- ``loss``: "cross-entropy" (published; the subnetwork's outputs are the logits, the label is
  the argmax of the one-hot target) or "squared" (0.5 mean_j ||f(x_j) - y_j||^2, the theory's).

Step k (k = 1..n): f_k = ((k-1) f_{k-1} + phi_i) / k with i the candidate whose f_k has the
lowest loss on the step's batch; neurons are chosen at most once (the published variant, which
is ``gfs-norep``); ties go to the lowest neuron index. Per step the generator
``numpy.random.default_rng(seed)`` draws the batch (``choice(m, batch_size, replace=False)``,
sorted) and then the candidates (``choice(remaining, candidates, replace=False)``, sorted).
With candidates=None, batch_size=None and loss="squared" this is exactly ``select(..., "gfs-norep")``.

The published stop rule, "the smallest n whose metric is within a tolerance of the dense
network's" (top-1 accuracy at least 0.98 times the dense network's), is
:func:`smallest_within_tolerance`, applied to the metric along the selection path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from sims.foundations.errors import InputError
from sims.foundations.io import check_choice
from sims.selection.ties import first_min

__all__ = ["LOSSES", "PublishedOptions", "PUBLISHED", "EXACT", "PublishedSelection", "published_gfs",
           "path_outputs", "smallest_within_tolerance"]

LOSSES = ("squared", "cross-entropy")

# Elements of a (candidates, batch, K) float64 temporary per chunk (~32 MB).
_CHUNK_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class PublishedOptions:
    """candidates per step (None: all remaining), batch_size per step (None: all m), loss (one of
    LOSSES), seed of the per-step draws."""

    candidates: int | None = None
    batch_size: int | None = None
    loss: str = "squared"
    seed: int = 0

    def __post_init__(self):
        check_choice("loss", self.loss, LOSSES)
        for name in ("candidates", "batch_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InputError(f"{name} must be a positive integer or None, got {value!r}")


#: The published code's settings (cross-entropy needs one-hot targets).
PUBLISHED = PublishedOptions(candidates=50, batch_size=128, loss="cross-entropy")
#: The analysed GFS without replacement (``select(..., "gfs-norep")``).
EXACT = PublishedOptions()


@dataclass(frozen=True, eq=False)
class PublishedSelection:
    """indices (n,) int64, distinct, in the order picked; losses (n,) float64, the squared
    mean-form loss of f_k on ALL m examples after each step (whatever the scoring loss); scored:
    candidate-example loss evaluations made (sum over steps of candidates x batch size)."""

    indices: np.ndarray
    losses: np.ndarray
    scored: int
    options: PublishedOptions


def _batch_losses(outputs: torch.Tensor, targets: torch.Tensor, labels: torch.Tensor | None, loss: str) -> torch.Tensor:
    """outputs (C, b, K), targets (b, K): the loss of each of the C candidate outputs, (C,) float64."""
    if loss == "squared":
        residual = outputs - targets
        return 0.5 * (residual * residual).sum(2).mean(1)
    log_normaliser = torch.logsumexp(outputs, dim=2)  # (C, b)
    chosen = outputs.gather(2, labels.view(1, -1, 1).expand(outputs.shape[0], -1, 1))[:, :, 0]
    return (log_normaliser - chosen).mean(1)


def published_gfs(features, targets, n: int, options: PublishedOptions = EXACT, *, labels=None,
                  output_offset=None) -> PublishedSelection:
    """Run GFS with the published options (see the module docstring).

    features: (m, N, K) or (m, N) tensor or array, phi_i on the m training examples (the dense
    network is their mean over N, as ``sims.nets.model.neuron_features`` returns); targets (m, K) or
    (m,). n <= N steps. Computed in float64; each step evaluates its candidates' losses
    explicitly on the batch, in chunks of about 32 MB. For the cross-entropy only: ``labels``
    (m,) the classes (default: the argmax of the targets) and ``output_offset`` (K,) a constant
    added to every logit (a plain model's output bias, when the targets have it subtracted).
    """
    phi = torch.as_tensor(np.asarray(features) if not isinstance(features, torch.Tensor) else features).detach()
    phi = phi.to(torch.float64)
    if phi.ndim == 2:
        phi = phi.unsqueeze(2)
    target = torch.as_tensor(np.asarray(targets) if not isinstance(targets, torch.Tensor) else targets).detach()
    target = target.to(torch.float64).reshape(target.shape[0], -1) if target.ndim >= 1 else target
    if phi.ndim != 3 or target.shape != (phi.shape[0], phi.shape[2]):
        raise InputError(f"features must be (m, N, K) and targets (m, K), got {tuple(phi.shape)} and "
                         f"{tuple(target.shape)}")
    m, width, _ = phi.shape
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= width:
        raise InputError(f"n must be an integer in [1, N={width}] (neurons are chosen at most once), got {n!r}")
    if options.loss == "cross-entropy":
        labels = target.argmax(1) if labels is None else torch.as_tensor(np.asarray(labels), dtype=torch.long)
        offset = torch.zeros(target.shape[1], dtype=torch.float64) if output_offset is None else \
            torch.as_tensor(np.asarray(output_offset, dtype=np.float64)).reshape(-1)
        if labels.shape != (m,) or offset.shape != (target.shape[1],):
            raise InputError(f"labels must be ({m},) and output_offset ({target.shape[1]},), got "
                             f"{tuple(labels.shape)} and {tuple(offset.shape)}")
    else:
        labels, offset = None, None
    rng = np.random.default_rng(options.seed)
    neuron_major = phi.permute(1, 0, 2).contiguous()  # (N, m, K)
    total = torch.zeros_like(target)  # sum of the chosen contributions
    remaining = np.ones(width, dtype=bool)
    indices, losses, scored = np.empty(n, dtype=np.int64), np.empty(n), 0
    eps = torch.finfo(torch.float64).eps
    for k in range(1, n + 1):
        batch = np.arange(m) if options.batch_size is None or options.batch_size >= m else \
            np.sort(rng.choice(m, size=options.batch_size, replace=False))
        pool = np.flatnonzero(remaining)
        candidates = pool if options.candidates is None or options.candidates >= pool.size else \
            np.sort(rng.choice(pool, size=options.candidates, replace=False))
        rows = torch.as_tensor(batch)
        previous = total[rows] / k  # ((k-1)/k) f_{k-1} on the batch
        batch_targets, batch_labels = target[rows], None if labels is None else labels[rows]
        scores = []
        chunk = max(1, _CHUNK_ELEMENTS // max(1, rows.numel() * target.shape[1]))
        for start in range(0, candidates.size, chunk):
            picked = torch.as_tensor(candidates[start:start + chunk])
            outputs = previous.unsqueeze(0) + neuron_major[picked][:, rows] / k  # (C, b, K)
            if offset is not None:
                outputs = outputs + offset
            scores.append(_batch_losses(outputs, batch_targets, batch_labels, options.loss))
        scores = torch.cat(scores)
        position = first_min(scores, float(scores.abs().max()), eps)
        chosen = int(candidates[position])
        scored += candidates.size * rows.numel()
        remaining[chosen] = False
        indices[k - 1] = chosen
        total += neuron_major[chosen]
        residual = total / k - target
        losses[k - 1] = 0.5 * float((residual * residual).sum()) / m
    return PublishedSelection(indices, losses, scored, options)


def path_outputs(features, indices) -> np.ndarray:
    """Outputs of every prefix subnetwork of a selection path: (n, m, K) float64, entry k-1 the
    uniform mean of phi_{indices[:k]} on the m rows of ``features`` (m, N, K)."""
    phi = np.asarray(features, dtype=np.float64)
    if phi.ndim == 2:
        phi = phi[:, :, None]
    picked = phi[:, np.asarray(indices, dtype=np.int64), :]  # (m, n, K)
    sums = np.cumsum(picked, axis=1)
    return np.transpose(sums / np.arange(1, picked.shape[1] + 1)[None, :, None], (1, 0, 2))


def smallest_within_tolerance(values, dense_value: float, tolerance: float, *, higher_is_better: bool) -> int | None:
    """The published stop rule: the smallest n (1-based position in ``values``, the metric of the
    size-1, 2, ... subnetworks) whose metric is within ``tolerance`` of the dense network's:
    ``value >= (1 - tolerance) * dense_value`` when higher is better (accuracy; the published rule
    is tolerance 0.02), ``value <= dense_value + tolerance`` otherwise (a loss). None when no size
    qualifies."""
    if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance >= 0):
        raise InputError(f"tolerance must be a non-negative number, got {tolerance!r}")
    values = np.asarray(values, dtype=np.float64)
    within = values >= (1 - tolerance) * dense_value if higher_is_better else values <= dense_value + tolerance
    hits = np.flatnonzero(within)
    return int(hits[0]) + 1 if hits.size else None
