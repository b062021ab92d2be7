"""A network's features in factored form give the array engine's picks for every exact method,
also after the loss has converged, with H used as computed; the network entries (chunked, Dask)."""

import numpy as np
import pytest
import torch

from sims.nets.features import NetworkSource, network_select, neuron_factors, select_network
from sims.nets.model import forward, init_network, neuron_features
from sims.selection import engine
from sims.selection.engine import select
from sims.selection.registry import EXACT_METHODS, METHODS
from sims.selection.sharded import ShardingConfig
from tests.helpers import REFERENCE

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def problem(kind="teacher", seed=1, m=40, width=60, outputs=2, dtype="float64", scaling="mean-field"):
    model = init_network(4, width, outputs, seed=seed, bias=True, dtype=dtype, scaling=scaling)
    inputs = torch.randn(m, 4, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64).to(model.dtype)
    if kind == "teacher":
        targets = forward(init_network(4, 5, outputs, seed=seed + 2), inputs.double())
    else:  # inside the hull: the loss reaches rounding level
        targets = neuron_features(model, inputs)[:, :3].double().mean(1)
    return model, inputs, targets


def assert_same(expected, result, tolerance=REFERENCE):
    assert result.indices.tolist() == expected.indices.tolist()
    scale = float(expected.losses[0])
    np.testing.assert_allclose(result.losses, expected.losses, rtol=tolerance, atol=tolerance * scale)
    np.testing.assert_allclose(result.weights, expected.weights, rtol=0, atol=tolerance)


def test_factors_are_the_features():
    for scaling in ("mean-field", "ntk"):
        model, inputs, _ = problem(scaling=scaling)
        assert torch.equal(neuron_factors(model, inputs).materialised(), neuron_features(model, inputs))


@pytest.mark.parametrize("method", EXACT_METHODS + ("random", "magnitude"))
@pytest.mark.parametrize("case", [("teacher", 1, 40, 60, 2, 25), ("teacher", 3, 40, 60, 2, 25, "float64", "ntk"),
                                  ("hull", 0, 10, 8, 2, 20), ("hull", 1, 12, 6, 1, 15), ("teacher", 0, 12, 6, 1, 15)],
                         ids=lambda c: "-".join(map(str, c)))
def test_factored_form_picks_what_the_array_engine_picks(method, case, monkeypatch):
    monkeypatch.setattr(engine, "_SMALL_SINGLE_OUTPUT", 0)  # K = 1 too on the factored backend
    kind, seed, m, width, outputs, n, *rest = case
    model, inputs, targets = problem(kind, seed, m, width, outputs, *rest)
    n = min(n, width) if method in ("gfs-norep", "random", "magnitude") else n
    expected = select(neuron_features(model, inputs), targets, n, method, seed=3)
    assert_same(expected, select_network(model, inputs, targets, n, method, seed=3))


def test_the_factored_run_converges_in_the_hull_cases():
    model, inputs, targets = problem("hull", 0, 10, 8, 2)
    losses = select_network(model, inputs, targets, 20, "fcfw").losses
    assert losses[-1] < 1e-25 * losses[0] and np.any(np.diff(losses) == 0)


def test_float32_factors_and_the_methods_that_need_the_array():
    model, inputs, targets = problem(dtype="float32")
    for method in ("gfs", "fw"):
        assert_same(select(neuron_features(model, inputs), targets, 20, method),
                    select_network(model, inputs, targets, 20, method), tolerance=1e-5)
    for method in ("backward", "greedi"):  # formed once as an array: the same numbers
        assert not METHODS[method].any_backend
        expected = select(neuron_features(model, inputs), targets, 5, method)
        assert_same(expected, select_network(model, inputs, targets, 5, method), tolerance=0)


def test_a_wrong_factorisation_is_caught():
    model, inputs, targets = problem()
    factored = neuron_factors(model, inputs)
    wrong = type(factored)(factored.activations, factored.second * 0 + 1, factored.scale)
    with pytest.raises(AssertionError):
        assert_same(select(neuron_features(model, inputs), targets, 10, "gfs"), select(wrong, targets, 10, "gfs"))


def test_network_select_in_chunks():
    model, inputs, targets = problem()
    expected = select(neuron_features(model, inputs), targets, 15, "fw")
    assert_same(expected, network_select(model, inputs, targets, 15, "fw", ShardingConfig(chunk_rows=7)))
    source = NetworkSource(model, inputs, targets)
    assert source.width == 60 and source.outputs == 2 and source.scale == 1.0


def test_a_small_single_output_network_goes_the_array_way_bit_for_bit():
    model, inputs, targets = problem("teacher", 0, 12, 6, 1)
    for method in ("gfs", "fcfw"):
        expected = select(neuron_features(model, inputs), targets, 10, method)
        result = select_network(model, inputs, targets, 10, method)
        assert_same(expected, result, tolerance=0)
        assert np.array_equal(result.losses, expected.losses) and result.messages == expected.messages


def test_a_shard_keeps_a_networks_activations_neuron_major_with_the_same_answers():
    """Cached activations of a network (computed, not given) are kept neuron by neuron, so a
    pick's column is contiguous; every answer equals the uncached shard's, which recomputes
    them in the network's own (row-major) layout at every pass."""
    from sims.selection.shards import FeatureShard

    model = init_network(4, 12, 3, seed=5, bias=True)
    inputs = torch.randn(30, 4, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    targets = torch.randn(30, 3, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    source = NetworkSource(model, inputs, targets)
    cached, plain = FeatureShard(source, 7, cache=True), FeatureShard(source, 7)
    assert all(chunk.T.is_contiguous() and not chunk.is_contiguous() for chunk in cached.cache)
    batch = [("norms",), ("target_dots",), ("add", 4, 1), ("averaging_dots", 2, True, None), ("add", 9, 2),
             ("averaging_dots", 3, False, None), ("centered_products", 2)]
    for got, expected in zip(cached.serve(batch), plain.serve(batch)):
        for a, b in zip(*(x if isinstance(x, tuple) else (x,) for x in (got, expected)), strict=True):
            if b is None:
                assert a is None
            else:
                np.testing.assert_allclose(a, b, rtol=REFERENCE, atol=REFERENCE)


@pytest.mark.parametrize("scaling", ["mean-field", "ntk"])
def test_a_column_from_the_activations_is_the_sources_column(scaling):
    """NetworkSource.column_from (a shard's cached activations) and NetworkSource.columns (the
    network recomputed for the neuron) give the same phi[:, i, :], for either neuron scaling."""
    from sims.nets.model import hidden_activations

    model = init_network(4, 9, 2, seed=8, bias=True, scaling=scaling)
    inputs = torch.randn(25, 4, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    source = NetworkSource(model, inputs, torch.zeros(25, 2, dtype=torch.float64))
    activations = hidden_activations(model, inputs)
    for neuron in (0, 5, 8):
        torch.testing.assert_close(source.column_from(activations[:, neuron], neuron), source.columns([neuron])[:, 0],
                                   rtol=REFERENCE, atol=REFERENCE)
        torch.testing.assert_close(source.column_from(activations[:, neuron], neuron),
                                   neuron_features(model, inputs)[:, neuron].double(), rtol=REFERENCE, atol=REFERENCE)
