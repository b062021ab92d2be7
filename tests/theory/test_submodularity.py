"""theory/submodularity.py against literal computations on tiny instances: F from Wolfe's
min-norm point (sims.selection.simplex_qp, a different algorithm), gamma from nested loops over Python
sets, gamma = 1 on a modular function, the guarantees' algebra, and a check that catches a
violated guarantee."""

import math
from itertools import combinations

import numpy as np
import pytest

from sims.selection.simplex_qp import min_norm_point
from theory import submodularity as sm
from theory.claims import theorem_check
from tests.helpers import EXACT, REFERENCE


def random_instance(seed, width=6, dim=4):
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((width, dim))
    target = features[:3].mean(0) + 0.3 * rng.standard_normal(dim)
    return features, target, dim


def literal_f(features, target, m, subset):
    """L(0) - min over the simplex on S, by Wolfe's algorithm started from every vertex."""
    if not subset:
        return 0.0
    centred = features[list(subset)] - target
    gram = centred @ centred.T
    best = math.inf
    for start in range(len(subset)):
        weights = np.zeros(len(subset))
        weights[start] = 1.0
        solved = min_norm_point(gram, weights)
        best = min(best, float(solved @ gram @ solved))
    return 0.5 * float(target @ target) / m - 0.5 * best / m


def literal_gamma(value, width, k, nonempty=False):
    """Das & Kempe's ratio from its definition, over Python frozensets."""
    ground = frozenset(range(width))
    floor = 1e-12 * max(abs(value(frozenset(s))) for r in range(width + 1) for s in combinations(range(width), r))
    best = math.inf
    for size_l in range(1 if nonempty else 0, width + 1):
        for L in map(frozenset, combinations(range(width), size_l)):
            for size_s in range(1, k + 1):
                for S in map(frozenset, combinations(sorted(ground - L), size_s)):
                    joint = value(L | S) - value(L)
                    if joint > floor:
                        best = min(best, sum(value(L | {x}) - value(L) for x in S) / joint)
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_table_equals_wolfe_on_every_subset(seed):
    features, target, m = random_instance(seed)
    table = sm.set_function_table(features, target, m)
    scale = max(abs(table))
    for size in range(1, 7):
        for subset in combinations(range(6), size):
            assert table[sm.mask_of(subset)] == pytest.approx(literal_f(features, target, m, subset),
                                                             abs=REFERENCE * scale)
    assert table[0] == 0.0


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("nonempty", [False, True])
def test_gamma_equals_the_literal_definition(seed, nonempty):
    features, target, m = random_instance(seed, width=5)
    table = sm.set_function_table(features, target, m)
    value = lambda subset: float(table[sm.mask_of(subset)])  # noqa: E731
    for k in (2, 3):
        ratio = sm.submodularity_ratio(table, k, nonempty=nonempty)
        assert ratio.gamma == pytest.approx(literal_gamma(value, 5, k, nonempty), rel=EXACT)
        L, S = frozenset(ratio.L), frozenset(ratio.S)
        attained = sum(value(L | {x}) - value(L) for x in S) / (value(L | S) - value(L))
        assert attained == pytest.approx(ratio.gamma, rel=EXACT) and not L & S and len(S) <= k


def test_gamma_is_one_on_a_modular_function():
    weights = np.array([0.5, 1.0, 2.0, 0.25, 3.0])
    table = np.array([sum(weights[i] for i in sm.subset_members(mask)) for mask in range(32)])
    assert sm.submodularity_ratio(table, 3).gamma == pytest.approx(1.0, rel=EXACT)
    assert sm.optimum(table, 2) == (5.0, sm.mask_of([2, 4]))
    assert sm.greedy(table, 2) == ([4, 2], sm.mask_of([2, 4]))


def test_gamma_below_one_on_a_supermodular_pair():
    """F = 1 only on {0, 1} together: singles gain nothing, so gamma = 0 at L = {}, S = {0, 1}."""
    table = np.zeros(8)
    table[sm.mask_of([0, 1])] = table[sm.mask_of([0, 1, 2])] = 1.0
    ratio = sm.submodularity_ratio(table, 2)
    assert ratio.gamma == 0.0 and ratio.S == (0, 1)


def test_stochastic_expectation_by_enumeration():
    """The rank formula equals averaging over every sample at every step."""
    features, target, m = random_instance(4, width=6)
    table = sm.set_function_table(features, target, m)
    k, eps = 3, 0.5
    size = sm.sample_size(6, k, eps)

    def enumerate_(mask, steps):
        if steps == 0:
            return table[mask]
        left = [x for x in range(6) if not mask >> x & 1]
        samples = list(combinations(left, min(size, len(left))))
        total = 0.0
        for sample in samples:
            pick = max(sample, key=lambda x: (table[mask | 1 << x], -x))
            total += enumerate_(mask | 1 << pick, steps - 1)
        return total / len(samples)

    assert sm.stochastic_greedy_expectation(table, k, eps) == pytest.approx(enumerate_(0, k), rel=EXACT)
    assert sm.expected_first_pick(table, size) == pytest.approx(enumerate_(0, 1), rel=EXACT)


def test_guarantees_hold_on_random_instances_and_reduce_to_known_constants():
    assert sm.greedy_guarantee(1.0) == pytest.approx(1 - 1 / math.e)
    assert sm.stochastic_guarantee(1.0, 0.1) == pytest.approx(1 - 1 / math.e - 0.1)
    assert sm.greedy_guarantee(-1e6) == -math.inf
    # with gamma+ = 1 and a worthless first pick the first-step bound is 1 - (1 - 1/k)^(k-1)
    assert sm.first_step_guarantee(1.0, 3, 0.0, 1.0) == pytest.approx(1 - (2 / 3) ** 2)
    for seed in range(8):
        features, target, m = random_instance(seed, width=7)
        table = sm.set_function_table(features, target, m)
        for k in (2, 3):
            gamma = sm.submodularity_ratio(table, k).gamma
            gamma_plus = sm.submodularity_ratio(table, k, nonempty=True).gamma
            best, best_mask = sm.optimum(table, k)
            if best <= 0:
                continue
            first = max(table[1 << x] for x in range(7))
            greedy_value = table[sm.greedy(table, k)[1]]
            assert greedy_value >= best * max(sm.greedy_guarantee(gamma),
                                              sm.first_step_guarantee(gamma_plus, k, first, best)) - 1e-12
            parts = [np.arange(0, 4), np.arange(4, 7)]
            greedi_value = table[sm.greedi(table, k, parts)[1]]
            assert greedi_value >= best * max(sm.greedi_guarantee(gamma, k, table, parts, best_mask),
                                              sm.greedi_first_step_guarantee(gamma_plus, k, table, parts,
                                                                             best_mask)) - 1e-12
            eps = 0.4
            size = sm.sample_size(7, k, eps)
            expected = sm.stochastic_greedy_expectation(table, k, eps)
            assert expected >= best * sm.first_step_guarantee(gamma_plus, k, sm.expected_first_pick(table, size),
                                                              best, eps=eps) - 1e-12


def test_a_violated_guarantee_is_caught():
    """A 'greedy' that keeps the worst single neuron achieves less than the guarantee; the theorem
    check of the experiment says violated."""
    features, target, m = random_instance(5, width=6)
    table = sm.set_function_table(features, target, m)
    k = 2
    gamma_plus = sm.submodularity_ratio(table, k, nonempty=True).gamma
    best, _ = sm.optimum(table, k)
    first = max(table[1 << x] for x in range(6))
    guarantee = sm.first_step_guarantee(gamma_plus, k, first, best)
    worst = min(table[mask] for mask in range(64) if bin(mask).count("1") == k)
    verdict = theorem_check("greedy reaches its guarantee", [guarantee], [worst / best], seeds=1)
    assert worst / best < guarantee and verdict.outcome == "violated"
    honest = theorem_check("greedy reaches its guarantee", [guarantee], [table[sm.greedy(table, k)[1]] / best],
                           seeds=1)
    assert honest.outcome == "held"


def test_input_checks():
    with pytest.raises(ValueError, match="N must be"):
        sm.set_function_table(np.zeros((17, 2)), np.zeros(2), 2)
    with pytest.raises(ValueError, match="features must be"):
        sm.set_function_table(np.zeros((3, 2)), np.zeros(3), 2)
    with pytest.raises(ValueError, match="k must be"):
        sm.submodularity_ratio(np.zeros(8), 4)
