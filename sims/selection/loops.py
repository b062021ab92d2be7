"""The greedy loops, written once over any backend: the averaging loop and the re-weighted loop
with its three re-weighting rules (docs/THEORY.md section 2).

The loops run on the driver with O(N) state and ask the backend (:mod:`sims.selection.backend`)
for sums over the data rows. Every pick goes through the one tie rule
(:func:`sims.selection.ties.first_min`). Scores are formed here from the backend's sums, so an
in-memory array, a network's factored features, streamed chunks and Dask shards make the same
decisions from the same numbers; they differ only in the last bits of those sums (summation
order), and never in the rule.

Losses are 0.5 * (sum of squared residuals) / m from the backend's explicit residuals, never by
expanding a square, so tiny losses stay accurate.
"""

from __future__ import annotations

import math

import numpy as np

from sims.selection.backend import Problem, full_weights
from sims.selection.simplex_qp import min_norm_point
from sims.selection.ties import dot_scale, first_min, tie_tolerance

__all__ = ["averaging_greedy", "reweighted_greedy", "LineSearch", "FullyCorrective", "ExhaustiveCorrective",
           "uniform_weights", "extend_gram"]


def uniform_weights(indices: np.ndarray, width: int) -> np.ndarray:
    """(N,) weights: each neuron's share of the picks (repeats count)."""
    return np.bincount(indices, minlength=width).astype(np.float64) / len(indices)


def averaging_greedy(problem: Problem, n: int, *, linearised: bool, repeats: bool, candidate_sampler=None):
    """f_k = ((k-1) f_{k-1} + phi_{i_k}) / k, with i_k minimising the (linearised) loss.

    Exact score (gfs): ||(k-1)/k f + phi_i/k - Y||^2 = (||phi_i||^2 + 2k <phi_i, r>)/k^2 + const,
    r = (k-1)/k f - Y. Linearised score (herding): <f - Y, phi_i>. ``candidate_sampler()``: the
    sorted candidates of a step (None: all). One message per step: the previous pick's
    addition (and its loss) travels with the request for this step's scores.
    """
    session, width, eps = problem.session, problem.width, problem.eps
    indices, losses = np.empty(n, dtype=np.int64), np.empty(n)
    allowed = np.ones(width, dtype=bool)
    sq_norms = None
    for k in range(1, n + 1):
        candidates = None if candidate_sampler is None else candidate_sampler()
        first = ("norms",) if k == 1 else ("add", int(indices[k - 2]), k - 1)
        answer, (dots, sq_direction, sq_output) = session.ask(first, ("averaging_dots", k, linearised, candidates))
        if k == 1:
            sq_norms, largest = answer, float(answer.max())
        else:
            losses[k - 2] = 0.5 * answer / problem.m
        if linearised:
            scores, scale = dots, dot_scale(largest, sq_direction, sq_output)
        else:
            norms = sq_norms if candidates is None else sq_norms[candidates]
            scores = norms + 2 * k * dots
            # exact scores: the norm term sets their size, and rounding of the sums is relative to it
            scale = float(norms.max()) + 2 * k * float(np.abs(dots).max())
        if not repeats:
            scores = np.where(allowed, scores, math.inf)
        position = first_min(scores, scale, eps)
        chosen = position if candidates is None else int(candidates[position])
        allowed[chosen] = False
        indices[k - 1] = chosen
    losses[n - 1] = 0.5 * session.ask(("add", int(indices[n - 1]), n))[0] / problem.m
    return indices, losses, uniform_weights(indices, width)


def extend_gram(gram: np.ndarray, column: np.ndarray, diagonal: float) -> np.ndarray:
    """The (p+1, p+1) Gram matrix of p points and one more: ``column`` (p,) its inner products
    with the p points, ``diagonal`` its squared norm."""
    size = gram.shape[0]
    extended = np.empty((size + 1, size + 1))
    extended[:size, :size] = gram
    extended[:size, size] = column
    extended[size, :size] = column
    extended[size, size] = diagonal
    return extended


class _Rule:
    """A re-weighting rule of :func:`reweighted_greedy`. It keeps the current subnetwork as a
    support (neurons in order of entry) with (|S|,) float64 weights, and the linear scores
    ``dots`` = <phi_i, f - Y> of the current f (asked for with the candidate that became f).

    ``dots`` is the answer of ``residual_dots`` for f, ``sq_residual`` its ||f - Y||^2.

    ``first()`` -> (f_1's neuron, ||phi - Y||^2); ``propose(last)`` -> (step k's neuron, the
    candidate's ||. - Y||^2, or None when the subnetwork cannot change); then ``accept()`` or
    ``reject()``. ``last``: no later step needs the candidate's scores."""

    def __init__(self, problem: Problem):
        self.problem, self.session = problem, problem.session
        self.support: list[int] = []
        self.position: dict[int, int] = {}  # neuron -> its place in the support
        self.support_weights = np.zeros(0)
        self.dots = self.candidate_dots = None

    def _enter(self, neuron: int, weight: float) -> None:
        self.position[neuron] = len(self.support)
        self.support.append(neuron)
        self.support_weights = np.append(self.support_weights, weight)

    def _best_single(self) -> int:
        """argmin_i ||phi_i - Y||^2 = ||phi_i||^2 + 2 <phi_i, -Y> + const: GFS step 1."""
        sq_norms, (dots, sq_target) = self.session.ask(("norms",), ("target_dots",))
        self.largest = float(sq_norms.max())
        scale = self.largest + 2 * dot_scale(self.largest, sq_target)
        return first_min(sq_norms + 2 * dots, scale, self.problem.eps)

    def first(self, last: bool, store: bool = False) -> tuple[int, float]:
        first = self._best_single()
        self._enter(first, 1.0)
        answers = self.session.ask(("start_at", first, store), *([] if last else [("residual_dots",)]))
        if not last:
            self.dots = answers[1]
        self.sq_residual = answers[0]
        return first, answers[0]

    def _vertex(self, slack: float = 0.0) -> int:
        """argmin_i <f - Y, phi_i> (the linear minimiser)."""
        dots, _, sq_output = self.dots
        return first_min(dots, dot_scale(self.largest, self.sq_residual, sq_output), self.problem.eps, slack=slack)

    def _scores_request(self, last: bool) -> list[tuple]:
        return [] if last else [("residual_dots", True)]

    def accept(self) -> None:
        self.session.defer(("commit", True))
        self.dots, self.sq_residual = self.candidate_dots, self.candidate_sq

    def reject(self) -> None:
        self.session.defer(("commit", False))  # f does not change, nor do its scores

    def weights(self) -> np.ndarray:
        """The (N,) weights of the current subnetwork."""
        return full_weights(self.problem.width, self.support, self.support_weights)


def reweighted_greedy(problem: Problem, n: int, rule: _Rule):
    """The loop the re-weighted methods share: f_1 = phi of ``rule.first()``; at step k the rule
    proposes a neuron and a candidate subnetwork, which is adopted when its loss (computed from
    the explicit residual) is not above f_{k-1}'s, so losses never increase. The proposed neuron
    is recorded whether or not the candidate is adopted.

    Returns (indices (n,) int64, losses (n,) float64, weights (N,) float64).
    """
    indices, losses = np.empty(n, dtype=np.int64), np.empty(n)
    indices[0], first_sq = rule.first(n == 1)
    losses[0] = 0.5 * first_sq / problem.m
    problem.record(1, rule.support, rule.support_weights)
    for k in range(1, n):
        indices[k], candidate_sq = rule.propose(k == n - 1)
        losses[k] = losses[k - 1]
        if candidate_sq is not None:
            loss = 0.5 * candidate_sq / problem.m
            if loss <= losses[k - 1]:
                rule.accept()
                losses[k] = loss
            else:
                rule.reject()
        problem.record(k + 1, rule.support, rule.support_weights)
    return indices, losses, rule.weights()


class LineSearch(_Rule):
    """fw: f <- f + gamma (phi_s - f) with the exact line search gamma in [0, 1]. Two messages per
    step: the direction's sums, then the candidate's loss and scores."""

    def propose(self, last):
        vertex = self._vertex()
        inner, sq_length = self.session.ask(("fw_direction", vertex))[0]
        step = 0.0
        if sq_length > 0:
            step = min(1.0, max(0.0, -inner / sq_length))
        answers = self.session.ask(("try_step", step), *self._scores_request(last))
        self.candidate_dots, self.candidate_sq = None if last else answers[1], answers[0]
        self.vertex, self.step = vertex, step
        return vertex, answers[0]

    def accept(self):
        super().accept()
        self.support_weights *= 1 - self.step
        if self.vertex not in self.position:
            self._enter(self.vertex, 0.0)
        self.support_weights[self.position[self.vertex]] += self.step


class FullyCorrective(_Rule):
    """fcfw: S grows by the linear minimiser s (when new), and the weights are re-solved exactly
    over the simplex on S: Wolfe's min-norm point of the |S| x |S| Gram matrix of phi_j - Y,
    warm-started from the previous weights (s at 0). S keeps s even if rounding makes the solve
    worse than not moving. ``tol``: relative stopping tolerance of the solve.

    The re-solved f is optimal on S only to the solve's precision, tol * max_j G_jj: the linear
    scores of S's neurons, equal at the exact optimum, differ by up to that much, so the tie rule
    takes it as slack (otherwise which support neuron is recorded after convergence would depend
    on the last bits of the backend's sums). Two messages per step when s is new (the Gram
    column, then the candidate's loss and scores); none when s is already in S."""

    def __init__(self, problem, tol):
        super().__init__(problem)
        self.tol = tol
        self.gram = np.zeros((0, 0))

    def first(self, last, store=True):
        first, first_sq = super().first(last, store=True)
        self.gram = np.array([[first_sq]])
        return first, first_sq

    def propose(self, last):
        vertex = self._vertex(slack=self.tol * float(np.max(np.diag(self.gram))))
        if vertex in self.position:
            return vertex, None  # f is already optimal on S, which contains the best vertex: nothing changes
        column, diagonal = self.session.ask(("centred_column", vertex))[0]
        self.gram = extend_gram(self.gram, column, diagonal)
        self._enter(vertex, 0.0)
        self.solved = min_norm_point(self.gram, self.support_weights, tol=self.tol)
        answers = self.session.ask(("try_weights", self.solved), *self._scores_request(last))
        self.candidate_dots, self.candidate_sq = None if last else answers[1], answers[0]
        return vertex, answers[0]

    def accept(self):
        super().accept()
        self.support_weights = self.solved


class ExhaustiveCorrective(_Rule):
    """greedy-opt: step k adds the neuron i giving the lowest loss after the exact simplex
    re-solve on S + {i}. Candidates with <f - Y, phi_i - f> >= 0 are skipped (the optimum cannot
    move, so their loss is the current one); if no candidate improves, every neuron ties and
    the lowest index (0) is recorded. f_1 is argmin_i ||phi_i - Y||^2 from the explicit
    differences. Memory: the (N, n) inner products <phi_i - Y, phi_s - Y> with the support.
    One message per step: the candidate's loss, its scores and its Gram column together."""

    def __init__(self, problem, n, tol):
        super().__init__(problem)
        self.tol = tol
        self.centered_sq, self.sq_target = self.session.ask(("centered_sq_norms",), ("target_sq",))
        self.cross = np.empty((problem.width, n))  # column j: <phi_i - Y, phi_{S_j} - Y> for every i
        self.gram = np.zeros((0, 0))

    def _enter(self, neuron, weight, column=None):
        size = len(self.support)
        self.gram = extend_gram(self.gram, self.cross[neuron, :size], self.centered_sq[neuron])
        if column is not None:
            self.cross[:, size] = column
        super()._enter(neuron, weight)

    def first(self, last, store=False):
        first = first_min(self.centered_sq, float(self.centered_sq.max()), self.problem.eps)
        more = [] if last else [("centered_products", first), ("residual_dots",)]
        answers = self.session.ask(("start_at", first, False), *more)
        self._enter(first, 1.0, None if last else answers[1])
        if not last:
            self.dots = answers[2]
        self.sq_residual = answers[0]
        return first, answers[0]

    def propose(self, last):
        dots, self_dot, sq_output = self.dots
        derivative = dots - self_dot  # <f - Y, phi_i - f>
        derivative[self.support] = 0.0
        # <f - Y, phi_i - f> is known to rounding of order (||phi_i|| + ||f||)(||f - Y|| + ||f||)
        # (:func:`dot_scale`): below that (a converged f) no candidate can be told to improve
        output = math.sqrt(sq_output)
        size = math.sqrt(float(self.centered_sq.max())) + math.sqrt(self.sq_target) + output
        rounding = tie_tolerance(dot_scale(size * size, self.sq_residual, sq_output), self.problem.eps)
        improving = np.flatnonzero(derivative < -rounding).tolist()
        if not improving:
            return 0, None
        size = len(self.support)
        start = np.append(self.support_weights, 0.0)
        values = np.full(self.problem.width, math.inf)
        solutions = {}
        for candidate in improving:
            extended = extend_gram(self.gram, self.cross[candidate, :size], self.centered_sq[candidate])
            solved = min_norm_point(extended, start, tol=self.tol)
            values[candidate] = float(solved @ extended @ solved)
            solutions[candidate] = solved
        best = first_min(values, float(self.centered_sq.max()), 2.2e-16)
        more = [] if last else [("residual_dots", True), ("centered_products", best)]
        answers = self.session.ask(("try_combination", self.support + [best], solutions[best]), *more)
        self.vertex, self.solved, self.candidate_sq = best, solutions[best], answers[0]
        self.candidate_dots, self.column = (None, None) if last else (answers[1], answers[2])
        return best, answers[0]

    def accept(self):
        super().accept()
        self._enter(self.vertex, 0.0, self.column)
        self.support_weights = self.solved
