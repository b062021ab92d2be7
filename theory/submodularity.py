"""Weak submodularity of re-weighted subset selection, measured by brute force on small instances.

The set function (docs/THEORY.md section 8): for a set S of neurons with contribution vectors
phi_i in R^D (D = m*K) and a target Y,

    F(S) = L(0) - min { L(sum_{j in S} w_j phi_j) : w >= 0, sum_j w_j = 1 },   F(empty) = 0,
    L(f) = ||f - Y||^2 / (2m)   (the toolkit's mean-form loss; inner products are plain sums).

Greedy on F is the engine's greedy-opt. Everything here works on the table of F over all 2^N
subsets of a small ground set (N <= about 14); a subset is a bit mask, bit i for neuron i.

- :func:`set_function_table`: F exactly, from the minimum-norm points of the faces of the
  simplex (for every affinely independent subset T, the affine minimiser of
  ||sum_j w_j (phi_j - Y)||^2; its value counts for every S containing T when its weights are
  non-negative). By Caratheodory the simplex optimum on S is attained on such a face.
- :func:`submodularity_ratio`: gamma of Das & Kempe (ICML 2011), the minimum over disjoint L, S
  with 1 <= |S| <= k and F(L u S) > F(L) of sum_{x in S} [F(L + x) - F(L)] / [F(L u S) - F(L)].
  Pairs with |S| = 1 have ratio 1, so gamma <= 1.
- :func:`optimum`, :func:`greedy`, :func:`greedi`, :func:`stochastic_greedy_expectation`: the
  exhaustive optimum over sets of size k, greedy on F, GreeDi and the exact expectation of
  stochastic greedy (by dynamic programming over the sets it can reach).
- :func:`greedy_guarantee`, :func:`stochastic_guarantee`, :func:`greedi_guarantee` (with gamma)
  and :func:`first_step_guarantee`, :func:`greedi_first_step_guarantee` (with gamma+ over non-empty
  L and the measured first step): the ratios the theorems of docs/THEORY.md section 8 guarantee;
  :func:`hypotheses` says where they apply.

Pure numpy; never imports sims.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np

__all__ = ["set_function_table", "subset_members", "mask_of", "Ratio", "submodularity_ratio", "optimum", "greedy",
           "greedi", "sample_size", "stochastic_greedy_expectation", "expected_first_pick", "greedy_guarantee",
           "stochastic_guarantee", "first_step_guarantee", "greedi_guarantee", "greedi_first_step_guarantee",
           "Hypotheses", "hypotheses", "MAX_WIDTH"]

#: Largest ground set the tables are built for (2^N subsets).
MAX_WIDTH = 16
_RANK_TOLERANCE = 1e-9  # relative singular value below which a face counts as affinely dependent
_GAIN_TOLERANCE = 1e-12  # joint gains below this (relative to max |F|) are rounding: the pair is skipped


def mask_of(indices) -> int:
    """The bit mask of a set of neuron indices."""
    mask = 0
    for i in indices:
        mask |= 1 << int(i)
    return mask


def subset_members(mask: int) -> list[int]:
    """The neuron indices of a bit mask, ascending."""
    return [i for i in range(mask.bit_length()) if mask >> i & 1]


def _popcounts(width: int) -> np.ndarray:
    counts = np.zeros(1 << width, dtype=np.int64)
    for i in range(width):
        counts[1 << i:1 << (i + 1)] = counts[:1 << i] + 1
    return counts


def set_function_table(features, target, m: int) -> np.ndarray:
    """F(S) for every subset S of the N neurons, as an array indexed by bit mask (2^N,) float64.

    features: (N, D) float64, row i the contribution vector phi_i on the m samples (D = m*K,
    samples major); target: (D,); m: the number of samples (losses are sums / 2m).
    """
    features = np.asarray(features, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64).reshape(-1)
    if features.ndim != 2 or features.shape[1] != target.shape[0]:
        raise ValueError(f"features must be (N, D) and target (D,), got {features.shape} and {target.shape}")
    width, dim = features.shape
    if not 1 <= width <= MAX_WIDTH:
        raise ValueError(f"N must be in [1, {MAX_WIDTH}] for a table over all subsets, got {width}")
    centred = features - target
    gram = centred @ centred.T
    face = np.full(1 << width, np.inf)  # ||min-norm point||^2 of faces whose affine minimiser is feasible
    for mask in range(1, 1 << width):
        members = subset_members(mask)
        if len(members) == 1:
            face[mask] = gram[members[0], members[0]]
            continue
        if len(members) > dim + 1:
            continue
        differences = centred[members[1:]] - centred[members[0]]
        singular = np.linalg.svd(differences, compute_uv=False)
        if singular.min() <= _RANK_TOLERANCE * singular.max():
            continue
        size = len(members)
        kkt = np.zeros((size + 1, size + 1))
        kkt[:size, :size] = gram[np.ix_(members, members)]
        kkt[:size, size] = kkt[size, :size] = 1.0
        rhs = np.zeros(size + 1)
        rhs[size] = 1.0
        try:
            weights = np.linalg.solve(kkt, rhs)[:size]
        except np.linalg.LinAlgError:
            continue
        if weights.min() >= 0:
            face[mask] = max(float(weights @ gram[np.ix_(members, members)] @ weights), 0.0)
    best = face.copy()
    masks = np.arange(1 << width)
    for i in range(width):  # minimum over sub-masks, one bit at a time
        with_bit = masks[(masks >> i & 1) == 1]
        best[with_bit] = np.minimum(best[with_bit], best[with_bit ^ (1 << i)])
    zero_loss = 0.5 * float(target @ target) / m
    table = zero_loss - 0.5 * best / m
    table[0] = 0.0
    return table


@dataclass(frozen=True)
class Ratio:
    """The submodularity ratio and where it is attained.

    gamma: the minimum ratio (1.0 when every pair with |S| >= 2 has ratio >= 1; nan if no pair
    has a positive joint gain). L, S: the minimising pair (sorted neuron indices). pairs: how
    many (L, S) pairs with a positive joint gain were compared.
    """

    gamma: float
    L: tuple[int, ...]
    S: tuple[int, ...]
    pairs: int


def submodularity_ratio(table: np.ndarray, k: int, *, nonempty: bool = False) -> Ratio:
    """gamma_k of F by brute force over all disjoint (L, S), 1 <= |S| <= k (L of any size; with
    ``nonempty``, |L| >= 1 only: the ratio gamma+ that governs greedy after its first step).

    Pairs whose joint gain F(L u S) - F(L) is at most 1e-12 * max|F| are rounding, not gain, and
    are skipped (the definition divides by the joint gain)."""
    table = np.asarray(table, dtype=np.float64)
    width = int(round(math.log2(table.shape[0])))
    if not 1 <= k <= width:
        raise ValueError(f"k must be in [1, N = {width}], got {k}")
    masks = np.arange(1 << width)
    bits = 1 << np.arange(width)
    floor = _GAIN_TOLERANCE * max(float(np.abs(table).max()), np.finfo(np.float64).tiny)
    gains = table[masks[:, None] | bits[None, :]] - table[:, None]  # (2^N, N); 0 for x already in L
    allowed = masks > 0 if nonempty else np.ones(masks.shape, dtype=bool)
    singles = (gains > floor) & ((masks[:, None] & bits[None, :]) == 0) & allowed[:, None]
    pairs = int(singles.sum())
    best, where = (1.0, None) if pairs else (math.nan, None)
    if pairs:
        position = np.argwhere(singles)[0]
        where = (int(position[0]), int(bits[position[1]]))
    for size in range(2, k + 1):
        members = np.array(list(combinations(range(width), size)), dtype=np.int64)
        subset = (bits[members]).sum(1)
        disjoint = (masks[:, None] & subset[None, :]) == 0
        joint = table[masks[:, None] | subset[None, :]] - table[:, None]
        valid = disjoint & (joint > floor) & allowed[:, None]
        pairs += int(valid.sum())
        if not valid.any():
            continue
        numerator = gains[:, members].sum(-1)
        ratios = np.where(valid, numerator / np.where(valid, joint, 1.0), np.inf)
        flat = int(np.argmin(ratios))
        if ratios.flat[flat] < best or (math.isnan(best)):
            row, column = divmod(flat, ratios.shape[1])
            best, where = float(ratios.flat[flat]), (int(masks[row]), int(subset[column]))
    if where is None:
        return Ratio(math.nan, (), (), 0)
    return Ratio(float(best), tuple(subset_members(where[0])), tuple(subset_members(where[1])), pairs)


def optimum(table: np.ndarray, k: int) -> tuple[float, int]:
    """max F(S) over |S| = k, and the (lowest) maximising mask."""
    table = np.asarray(table, dtype=np.float64)
    width = int(round(math.log2(table.shape[0])))
    candidates = np.flatnonzero(_popcounts(width) == k)
    position = int(np.argmax(table[candidates]))
    return float(table[candidates[position]]), int(candidates[position])


def greedy(table: np.ndarray, k: int, ground: int | None = None) -> tuple[list[int], int]:
    """Greedy on F over the neurons of mask ``ground`` (default all) for min(k, |ground|) steps:
    each step adds the neuron with the largest F(S + x), the lowest index among exact ties.
    Returns (picks in order, final mask)."""
    table = np.asarray(table, dtype=np.float64)
    width = int(round(math.log2(table.shape[0])))
    ground = (1 << width) - 1 if ground is None else int(ground)
    available = subset_members(ground)
    chosen, mask = [], 0
    for _ in range(min(k, len(available))):
        left = [x for x in available if not mask >> x & 1]
        values = table[[mask | 1 << x for x in left]]
        pick = left[int(np.argmax(values))]
        chosen.append(pick)
        mask |= 1 << pick
    return chosen, mask


def greedi(table: np.ndarray, k: int, parts) -> tuple[list[int], int]:
    """GreeDi: greedy (k picks, or the whole part if smaller) in each part (an iterable of index
    arrays), then greedy over the union of their picks. Returns (final picks, final mask)."""
    union = 0
    for part in parts:
        union |= greedy(table, k, mask_of(part))[1]
    return greedy(table, k, union)


def sample_size(width: int, k: int, eps: float) -> int:
    """Stochastic greedy's sample per step, ceil((N / k) ln(1 / eps)), at least 1 (capped by the
    number of neurons left)."""
    return max(1, math.ceil(width / k * math.log(1 / eps)))


def stochastic_greedy_expectation(table: np.ndarray, k: int, eps: float) -> float:
    """E[F(S)] for stochastic greedy with k steps, exactly.

    Step: a uniform sample R of min(s, |V \\ A|) neurons not yet chosen (s = :func:`sample_size`),
    add the one with the largest F(A + x) (lowest index among ties). Ranking the c candidates
    left by that value, the one of rank r (0 best) is added with probability
    C(c - 1 - r, size - 1) / C(c, size); the expectation is a recursion over reachable sets.
    """
    table = np.asarray(table, dtype=np.float64)
    width = int(round(math.log2(table.shape[0])))
    size = sample_size(width, k, eps)
    memo: dict[int, float] = {}

    def expected(mask: int, steps: int) -> float:
        if steps == 0:
            return float(table[mask])
        if mask in memo:
            return memo[mask]
        left = [x for x in range(width) if not mask >> x & 1]
        order = sorted(left, key=lambda x: (-table[mask | 1 << x], x))
        count, drawn = len(left), min(size, len(left))
        total = 0.0
        for rank, x in enumerate(order):
            probability = math.comb(count - 1 - rank, drawn - 1) / math.comb(count, drawn)
            if probability == 0:
                break
            total += probability * expected(mask | 1 << x, steps - 1)
        memo[mask] = total
        return total

    return expected(0, min(k, width))


# ------------------------------------------------------------------ guarantees
#
# Each function returns a ratio rho such that the theorem of docs/THEORY.md section 8 says
# F(result) >= rho * F(S*) (in expectation for stochastic greedy), S* the optimum of size k,
# whenever F(S*) > 0. Stated hypotheses beyond that are in :func:`hypotheses`.


def expected_first_pick(table: np.ndarray, size: int) -> float:
    """E[max F({x}) over a uniform sample of min(size, N) neurons]: stochastic greedy's first step."""
    table = np.asarray(table, dtype=np.float64)
    width = int(round(math.log2(table.shape[0])))
    values = np.sort(table[1 << np.arange(width)])[::-1]
    drawn = min(size, width)
    probabilities = [math.comb(width - 1 - rank, drawn - 1) / math.comb(width, drawn) for rank in range(width)]
    return float(np.dot(probabilities, values))


def _one_minus_exp(x: float) -> float:
    """1 - e^(-x), -inf where e^(-x) overflows (x < -700: a vacuous bound)."""
    return -math.inf if x < -700 else 1.0 - math.exp(-x)


def greedy_guarantee(gamma: float) -> float:
    """Das & Kempe (2011): greedy on F reaches at least 1 - e^(-gamma) of the optimum (vacuous,
    i.e. negative, when gamma <= 0)."""
    return _one_minus_exp(gamma)


def stochastic_guarantee(gamma: float, eps: float) -> float:
    """Stochastic greedy, in expectation: 1 - e^(-gamma) - eps (Mirzasoleiman et al. 2015 at
    gamma = 1; Khanna et al. 2017 for weakly submodular F). Needs F({x}) >= 0 for every x."""
    return _one_minus_exp(gamma) - eps


def first_step_guarantee(gamma_plus: float, k: int, first: float, optimum_value: float, eps: float = 0.0) -> float:
    """Greedy after a measured first step: 1 - (1 - (1 - eps) gamma+ / k)^(k-1) (1 - first / OPT).

    gamma_plus: the ratio over non-empty L (``submodularity_ratio(..., nonempty=True)``), which
    governs every step after the first; first: F of the first pick (greedy: the best single
    neuron; stochastic greedy: :func:`expected_first_pick`, with its eps)."""
    factor = max(0.0, 1.0 - (1.0 - eps) * gamma_plus / k)
    return 1.0 - factor ** (k - 1) * (1.0 - first / optimum_value)


def _parts_and_best(table, parts, optimum_mask):
    masks = [mask_of(part) for part in parts]
    return masks, float(np.asarray(table)[optimum_mask])


def greedi_guarantee(gamma: float, k: int, table: np.ndarray, parts, optimum_mask: int) -> float:
    """GreeDi with Das & Kempe's gamma: F(final) >= max(gamma / k, (1 - e^(-gamma))^2
    max_j F(S* n A_j) / F(S*)) F(S*), the second term only for gamma > 0. At gamma = 1 with
    subadditivity (max_j F(S* n A_j) >= F(S*) / parts) this is Mirzasoleiman et al. 2013's
    (1 - 1/e)^2 / min(parts, k)."""
    table = np.asarray(table, dtype=np.float64)
    masks, best = _parts_and_best(table, parts, optimum_mask)
    ratio = gamma / k
    if gamma > 0:
        pieces = max(float(table[optimum_mask & mask]) for mask in masks)
        ratio = max(ratio, (1.0 - math.exp(-gamma)) ** 2 * pieces / best)
    return ratio


def greedi_first_step_guarantee(gamma_plus: float, k: int, table: np.ndarray, parts, optimum_mask: int) -> float:
    """GreeDi with gamma+ and measured single-neuron values (docs/THEORY.md section 8): with
    beta = (1 - gamma+ / k)^(k-1) and F1(A) the best single neuron of A,
    F(final) >= (1 - beta) max_j low_j + beta F1(V),
    low_j = (1 - beta) F(S* n A_j) + beta F1(A_j) if S* meets A_j and |A_j| >= k,
    max(F(S* n A_j), F1(A_j)) if 0 < |A_j| < k (the part's greedy keeps all of A_j), F1(A_j) otherwise."""
    table = np.asarray(table, dtype=np.float64)
    masks, best = _parts_and_best(table, parts, optimum_mask)
    beta = max(0.0, 1.0 - gamma_plus / k) ** (k - 1)

    def single(mask):
        return max(float(table[1 << x]) for x in subset_members(mask))

    lows = []
    for mask in masks:
        overlap = optimum_mask & mask
        if not overlap:
            lows.append(single(mask))
        elif bin(mask).count("1") < k:
            lows.append(max(float(table[overlap]), single(mask)))
        else:
            lows.append((1 - beta) * float(table[overlap]) + beta * single(mask))
    width = int(round(math.log2(table.shape[0])))
    final = (1 - beta) * max(lows) + beta * single((1 << width) - 1)
    return final / best


@dataclass(frozen=True)
class Hypotheses:
    """Which guarantees apply: every one needs F(S*) > 0; the stochastic gamma bound also needs
    F({x}) >= 0 for every neuron (F monotone from the empty set) and gamma > 0."""

    any: bool
    stochastic_gamma: bool


def hypotheses(table: np.ndarray, gamma: float, optimum_value: float) -> Hypotheses:
    table = np.asarray(table, dtype=np.float64)
    width = int(round(math.log2(table.shape[0])))
    singles = table[1 << np.arange(width)]
    positive = bool(optimum_value > 0)
    return Hypotheses(any=positive, stochastic_gamma=positive and gamma > 0 and bool(np.all(singles >= 0)))
