"""What the selection loops ask of a backend, and how a batch of asks travels.

The loops of :mod:`sims.selection.loops` (the driver) keep only O(N) state: scores, the picks,
the support's weights and Gram matrix. Everything of the size of the data (the running sum of
the picks, the current output f, a candidate output, fw's direction, fcfw's support rows) lives
in the backend, which answers **requests**: each is ``(name, *args)`` and returns float64 sums
over the data rows it holds (numpy arrays of length N, or floats), so that the answers of
several shards add up to the answer over all rows.

Requests (the backend methods of the same names):

- ``norms()``: ||phi_i||^2, (N,).
- ``add(pick, k)``: the running sum += phi_pick; returns ||sum / k - Y||^2.
- ``averaging_dots(k, linearised, candidates)``: (<phi_i, r> for the candidates (None: all),
  ||r||^2, ||g||^2), where r = g - Y is the direction of step k: g = (k-1)/k f_{k-1} (gfs) or
  f_{k-1} (herding); the two norms (the tie rule's scale of linear scores) only when
  ``linearised``, else None.
- ``target_dots()``: (<phi_i, -Y> (N,), ||Y||^2); ``target_sq()``: ||Y||^2.
- ``start_at(i, store)``: f = phi_i (``store``: it becomes support row 0); returns ||f - Y||^2.
- ``commit(accept)``: the candidate output becomes f when ``accept``; dropped either way.
- ``residual_dots(pending=False)``: (<phi_i, g - Y> (N,), <g - Y, g>, ||g||^2), g = f (or, with
  ``pending``, the candidate).
- ``fw_direction(v)``: d = phi_v - f; returns (<f - Y, d>, ||d||^2).
- ``try_step(step)``: candidate f + step d; returns its ||. - Y||^2.
- ``centred_column(v)``: (<phi_j - Y, phi_v - Y> for the stored support j, ||phi_v - Y||^2), then
  v joins the stored support.
- ``try_weights(w)``: candidate sum_j w_j phi_{S_j} over the stored support; its ||. - Y||^2.
- ``centered_sq_norms()``: ||phi_i - Y||^2, (N,); ``centered_products(v)``: <phi_i - Y, phi_v - Y>, (N,).
- ``try_combination(rows, w)``: candidate sum_j w_j phi_{rows_j}; its ||. - Y||^2.
- ``info()``: (m, N, machine epsilon of the features' dtype), not summed.

A **group** sends a list of requests as ONE message to each of its backends and returns the
answers summed over them in order (:class:`Local`: one backend in this process, answers as
they are). :class:`Session` is the loops' handle on a group: it counts messages and carries
a deferred ``commit`` with the next message, so a step costs one round trip where the maths
allows it (averaging methods: one per step; fw and fcfw: two, the line search or the simplex
solve sitting between the pick and the candidate's loss).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from sims.selection.arrays import ArrayRows

__all__ = ["Group", "Local", "Session", "Problem", "sum_answers", "full_weights"]


class Group(Protocol):
    """One or more backends answering requests: ``call(requests) -> answers`` (summed over the
    backends), one message per backend."""

    def call(self, requests: list[tuple]) -> list: ...


def sum_answers(parts: list):
    """Sum of the backends' answers to one request, in backend order (arrays, floats, tuples of
    them, or None)."""
    if parts[0] is None:
        return None
    if isinstance(parts[0], tuple):
        return tuple(sum_answers([part[i] for part in parts]) for i in range(len(parts[0])))
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


class Local:
    """One backend in this process: its answers as they are."""

    def __init__(self, backend):
        self.backend = backend

    def call(self, requests: list[tuple]) -> list:
        return [getattr(self.backend, name)(*args) for name, *args in requests]


class Session:
    """The loops' handle on a group: ``ask(*requests)`` sends them (after any deferred ones) as
    one message and returns the answers to the requests given; ``defer(request)`` holds a
    request until the next message. ``messages`` counts the messages sent."""

    def __init__(self, group: Group):
        self.group = group
        self.deferred: list[tuple] = []
        self.messages = 0

    def defer(self, request: tuple) -> None:
        self.deferred.append(request)

    def ask(self, *requests: tuple) -> list:
        batch, skipped = self.deferred + list(requests), len(self.deferred)
        self.deferred = []
        self.messages += 1
        return self.group.call(batch)[skipped:]


def full_weights(width: int, support: list[int], support_weights: np.ndarray) -> np.ndarray:
    """(N,) float64 weights: ``support_weights`` on the neurons of ``support``, 0 elsewhere."""
    weights = np.zeros(width)
    weights[support] = support_weights
    return weights


@dataclass(eq=False)
class Problem:
    """What a selection method's ``run`` gets: the session on the backend(s), the sizes, and the
    in-memory features when there are any (``arrays``: the baselines and the set-function
    methods read the (N, D) matrix directly).

    m: samples; width: N; eps: machine epsilon of the features' dtype. record_steps: steps
    whose weights a re-weighted method keeps (:meth:`record`), and ``recorded`` what it kept.
    """

    session: Session
    m: int
    width: int
    eps: float
    arrays: ArrayRows | None = None
    record_steps: frozenset = frozenset()
    recorded: dict = field(default_factory=dict)

    def record(self, step: int, support: list[int], support_weights: np.ndarray) -> None:
        """Keep the (N,) weights after ``step`` (1-based) when that step was asked for. Methods
        whose weights are not a uniform average of their picks call this after every step."""
        if step in self.record_steps:
            self.recorded[step] = full_weights(self.width, support, support_weights)

    # the in-memory features, for methods that read them directly (sims.selection.set_greedy)
    @property
    def phi(self):
        return self.arrays.phi

    @property
    def target(self):
        return self.arrays.target
