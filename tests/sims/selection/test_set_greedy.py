"""GreeDi and stochastic greedy on F (sims/selection/set_greedy.py): greedy on F is the engine's greedy-opt,
the two approximations reduce to it in their limits, and their options are checked."""

import numpy as np
import pytest
import torch

from sims.foundations.errors import InputError
from sims.nets.model import forward, init_network, neuron_features
from sims.selection.engine import select
from sims.selection.set_greedy import SET_METHODS, greedi_partition, run_set_method, stochastic_sample_size
from tests.helpers import REFERENCE

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def problem(seed):
    model = init_network(3, 30, 2, seed=seed)
    inputs = torch.randn(9, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return neuron_features(model, inputs), forward(init_network(3, 4, 2, seed=seed + 10), inputs)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_part_greedi_and_full_sample_stochastic_greedy_are_greedy_opt(seed):
    """With one part, GreeDi is greedy on F; with eps so small that the sample is every neuron left,
    so is stochastic greedy; both equal the engine's greedy-opt while every step improves."""
    features, target = problem(seed)
    reference = select(features, target, 6, "greedy-opt")
    assert np.all(np.diff(reference.losses) < 0)
    for method, options in (("greedi", {"parts": 1}), ("stochastic-greedy-opt", {"eps": 1e-12})):
        indices, losses, weights = run_set_method(features, target, 6, method, **options)
        assert indices.tolist() == reference.indices.tolist()
        np.testing.assert_allclose(losses, reference.losses, rtol=REFERENCE)
        np.testing.assert_allclose(weights, reference.weights, atol=REFERENCE)


@pytest.mark.parametrize("method", sorted(SET_METHODS))
def test_approximations_pick_distinct_neurons_with_exact_simplex_losses(method):
    features, target = problem(4)
    indices, losses, weights = run_set_method(features, target, 6, method, seed=7)
    assert len(set(indices.tolist())) == 6 and np.all(np.diff(losses) <= 0)
    assert weights.sum() == pytest.approx(1.0) and np.all(weights >= 0)
    assert set(np.flatnonzero(weights)) <= set(indices.tolist())
    output = np.einsum("mnk,n->mk", features.numpy(), weights)
    assert losses[-1] == pytest.approx(0.5 * np.sum((output - target.numpy()) ** 2) / 9, rel=REFERENCE)


def test_greedi_partition_and_sample_size():
    parts = greedi_partition(10, 3, seed=0)
    assert sorted(np.concatenate(parts).tolist()) == list(range(10)) and [len(p) for p in parts] == [4, 3, 3]
    assert all(np.all(np.diff(p) > 0) for p in parts)
    assert stochastic_sample_size(100, 10, 0.1) == 24
    with pytest.raises(InputError, match="parts"):
        greedi_partition(5, 6, seed=0)


def test_options_and_sizes_are_checked():
    features, target = problem(1)
    with pytest.raises(InputError, match="eps"):
        run_set_method(features, target, 3, "stochastic-greedy-opt", eps=1.5)
    with pytest.raises(InputError, match="exceeds"):
        run_set_method(features, target, 31, "greedi")
    with pytest.raises(InputError, match="unknown method"):
        run_set_method(features, target, 3, "gfs")


@pytest.mark.parametrize("seed", [0, 5])
def test_greedi_equals_greedi_on_the_exact_table(seed):
    """GreeDi with 2 random parts reaches the set that GreeDi on the exact table of F
    (theory.submodularity, a different code path: F of every subset by brute force) reaches."""
    from theory import submodularity as sm

    model = init_network(3, 9, 1, seed=seed)
    inputs = torch.randn(5, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    features, target = neuron_features(model, inputs), forward(init_network(3, 3, 1, seed=seed + 1), inputs)
    table = sm.set_function_table(features.permute(1, 0, 2).reshape(9, -1).numpy(), target.numpy().reshape(-1), 5)
    parts = greedi_partition(9, 2, seed)
    for n in (2, 3):
        indices, losses, _ = run_set_method(features, target, n, "greedi", parts=2, seed=seed)
        expected = table[sm.greedi(table, n, parts)[1]]
        zero = 0.5 * float((target ** 2).sum()) / 5
        assert zero - losses[-1] == pytest.approx(expected, rel=REFERENCE, abs=REFERENCE * abs(zero))


def test_stochastic_greedy_runs_average_to_the_exact_expectation():
    """E6 checks stochastic greedy's guarantee against theory.submodularity's exact expectation;
    here the implementation's runs, over 600 seeds, average to that expectation within four
    standard errors (a sampler with another sample size or a biased draw would not)."""
    from theory import submodularity as sm

    model = init_network(3, 7, 1, seed=3)
    inputs = torch.randn(5, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    features, target = neuron_features(model, inputs), forward(init_network(3, 3, 1, seed=4), inputs)
    table = sm.set_function_table(features.permute(1, 0, 2).reshape(7, -1).numpy(), target.numpy().reshape(-1), 5)
    zero = 0.5 * float((target ** 2).sum()) / 5
    values = np.array([zero - run_set_method(features, target, 2, "stochastic-greedy-opt", eps=0.5, seed=seed)[1][-1]
                       for seed in range(600)])
    exact = sm.stochastic_greedy_expectation(table, 2, 0.5)
    assert stochastic_sample_size(7, 2, 0.5) == 3 < 7  # the sample is a strict subset: the draw matters
    assert np.std(values) > 0
    assert abs(values.mean() - exact) <= 4 * np.std(values, ddof=1) / np.sqrt(values.size)
