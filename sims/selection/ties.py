"""The one tie rule of every selection method (docs/THEORY.md section 2).

A greedy step picks the candidate with the lowest score. Scores are computed with rounding, so
candidates whose scores lie within a few rounding errors of the minimum are tied, and ties go to
the **lowest index**. "A few rounding errors" is ``TIE_EPSILONS`` machine epsilons of the scores'
dtype times the scale of the scores, plus, where the scores come from a solve with a stopping
tolerance (fcfw's support after its simplex re-solve), that solve's own precision.

The scale is that of the terms a score is made of, not of the scores' values. A linear score
<phi_i, r>, r = f - Y, is a sum of m*K products whose rounding error is of order
eps * ||phi_i|| ||r||, and f itself (a sum of the picks' columns, which backends compute in
different orders) is known only to eps * ||f||: :func:`dot_scale` is max_i ||phi_i|| (||r|| + ||f||).
Once the loss has converged, r is rounding noise and so are the linear scores; measured against
their own size, noise would pick, and different backends (different summation orders) would pick
differently. Measured against ||phi|| (||r|| + ||f||) they all tie, and the lowest index is picked
everywhere.

Every module that picks (the engine's loops, set-function greedy, the published GFS) calls
:func:`first_min`; nothing else writes the rule.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["TIE_EPSILONS", "tie_tolerance", "dot_scale", "first_min"]

#: Scores within this many machine epsilons times their scale of the minimum are tied.
TIE_EPSILONS = 16


def tie_tolerance(scale: float, eps: float) -> float:
    """The absolute tolerance of the tie rule: ``TIE_EPSILONS * eps * scale``.

    scale: the magnitude of the scores' terms (e.g. max |score|, or max ||phi||^2 + 2k max |dot|);
    eps: machine epsilon of the dtype the scores were computed in."""
    return TIE_EPSILONS * eps * scale


def dot_scale(max_sq_norm: float, sq_residual: float, sq_output: float = 0.0) -> float:
    """max_i ||phi_i|| * (||r|| + ||f||): the bound on every |<phi_i, r>| (Cauchy-Schwarz) plus what
    the rounding of f moves it by; the scale of the rounding errors of the linear scores
    <phi_i, r>, r = f - Y. Arguments are squared norms (float64 sums)."""
    return math.sqrt(max(0.0, float(max_sq_norm))) * (math.sqrt(max(0.0, float(sq_residual)))
                                                      + math.sqrt(max(0.0, float(sq_output))))


def first_min(scores, scale: float, eps: float, *, slack: float = 0.0) -> int:
    """The lowest index whose score is within ``tie_tolerance(scale, eps) + slack`` of the minimum.

    scores: 1-D numpy array or torch tensor (inf marks an excluded candidate). ``slack``: an
    extra absolute tolerance for scores known only to a solver's precision (0 otherwise)."""
    if isinstance(scores, torch.Tensor):
        best = scores.min()
        return int(torch.nonzero(scores <= best + tie_tolerance(scale, eps) + slack)[0, 0])
    scores = np.asarray(scores)
    best = scores.min()
    return int(np.flatnonzero(scores <= best + tie_tolerance(scale, eps) + slack)[0])
