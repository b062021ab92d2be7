"""Sharded and chunked selection reproduce the single-process engine: same picks, losses within
REFERENCE, for gfs, herding, fw and fcfw (and gfs-norep, stochastic-gfs), on a local Dask cluster
with 2 workers and on chunks smaller than the feature array."""

import numpy as np
import pytest
import torch

from sims.errors import InputError
from sims.model import forward, init_network, neuron_features
from sims.select import select
from sims.sharded import (EXACT_METHODS, ArraySource, FeatureShard, LocalShards, NetworkSource, chunked_select,
                          run_on_shards, sharded_select, split_rows)
from tests.helpers import REFERENCE

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N_STEPS = 20


def steps(method: str) -> int:
    """fcfw stops improving after 15 steps on these problems: from then on it sits at the optimum
    over the hull of its support, where every support neuron's linear score ties exactly and
    rounding alone decides which one is recorded (weights and losses do not change). The
    comparison of picks is made before that (the test asserts the loss fell at every step)."""
    return 14 if method == "fcfw" else N_STEPS


def problem(scaling="mean-field", outputs=2, bias=True, m=40, width=60, seed=1):
    """A random network (N = 60, K = 2), m = 40 Gaussian inputs and a small teacher's targets."""
    model = init_network(4, width, outputs, seed=seed, scaling=scaling, bias=bias)
    inputs = torch.randn(m, 4, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    targets = forward(init_network(4, 5, outputs, seed=seed + 2), inputs)
    return model, inputs, targets


def assert_same(reference, result):
    if reference.method == "fcfw":
        assert np.all(np.diff(reference.losses) < 0)
    assert result.indices.tolist() == reference.indices.tolist()
    np.testing.assert_allclose(result.losses, reference.losses, rtol=REFERENCE, atol=0)
    np.testing.assert_allclose(result.weights, reference.weights, rtol=0, atol=REFERENCE)
    assert result.method == reference.method


@pytest.fixture(scope="module")
def dask_client():
    """A local cluster of 2 workers (threads in this process, so it starts in well under a second)."""
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0")
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.mark.parametrize("method", ["gfs", "herding", "fw", "fcfw"])
def test_sharded_on_two_dask_workers_equals_the_engine(dask_client, method):
    model, inputs, targets = problem()
    reference = select(neuron_features(model, inputs), targets, steps(method), method)
    result = sharded_select(model, inputs, targets, steps(method), method, client=dask_client, shards=2)
    assert_same(reference, result)
    assert len(dask_client.scheduler_info()["workers"]) == 2


def test_sharded_through_a_scheduler_address(dask_client):
    """--scheduler ADDRESS: a client of its own to an existing cluster, closed afterwards."""
    model, inputs, targets = problem()
    reference = select(neuron_features(model, inputs), targets, 8, "herding")
    address = dask_client.scheduler_info()["address"]
    assert_same(reference, sharded_select(model, inputs, targets, 8, "herding", scheduler=address))


def test_sharded_with_more_shards_than_workers_and_ntk_scaling(dask_client):
    model, inputs, targets = problem(scaling="ntk", outputs=3, bias=False)
    for method in ("gfs-norep", "stochastic-gfs"):
        reference = select(neuron_features(model, inputs), targets, N_STEPS, method, seed=5)
        assert_same(reference, sharded_select(model, inputs, targets, N_STEPS, method, client=dask_client,
                                              shards=3, seed=5, chunk_rows=4, cache=False))


@pytest.mark.parametrize("method", EXACT_METHODS)
@pytest.mark.parametrize("scaling", ["mean-field", "ntk"])
def test_chunked_network_source_with_chunks_smaller_than_the_array(method, scaling):
    """7 rows per chunk of 40: the features are computed chunk by chunk, never all at once."""
    model, inputs, targets = problem(scaling=scaling)
    reference = select(neuron_features(model, inputs), targets, steps(method), method, seed=3)
    result = chunked_select(NetworkSource(model, inputs, targets), steps(method), method, chunk_rows=7, seed=3)
    assert_same(reference, result)


def test_chunked_memory_mapped_features(tmp_path):
    model, inputs, targets = problem()
    features = neuron_features(model, inputs).contiguous().numpy()  # (m, N, K) row-major on disk
    path = tmp_path / "features.npy"
    np.save(path, features)
    mapped = np.load(path, mmap_mode="r")
    for method in ("gfs", "herding", "fw", "fcfw"):
        reference = select(features, targets, steps(method), method)
        assert_same(reference, chunked_select(ArraySource(mapped, targets.numpy()), steps(method), method,
                                              chunk_rows=6))


def test_float32_features_use_float32_rounding_for_ties():
    model, inputs, targets = problem()
    model32 = model.to(dtype=torch.float32)
    shards = LocalShards([FeatureShard(NetworkSource(model32, inputs.float(), targets), chunk_rows=10)])
    assert shards.call("info")[0][3] == float(np.finfo(np.float32).eps)
    result = run_on_shards(shards, 5, "gfs")
    reference = select(neuron_features(model32, inputs.float()), targets, 5, "gfs")
    assert result.indices.tolist() == reference.indices.tolist()


def test_a_wrong_driver_is_caught():
    """The comparison can fail: shards that drop a block of rows pick differently."""
    model, inputs, targets = problem()
    reference = select(neuron_features(model, inputs), targets, N_STEPS, "gfs")
    partial = chunked_select(NetworkSource(model, inputs[:30], targets[:30]), N_STEPS, "gfs", chunk_rows=7)
    with pytest.raises(AssertionError):
        assert_same(reference, partial)


def test_bad_requests_are_refused():
    model, inputs, targets = problem()
    source = NetworkSource(model, inputs, targets)
    with pytest.raises(InputError, match="cannot run on sharded features"):
        chunked_select(source, 3, "greedy-opt")
    with pytest.raises(InputError, match="does not take option"):
        chunked_select(source, 3, "gfs", eps=0.1)
    with pytest.raises(InputError, match="chunk_rows"):
        chunked_select(source, 3, "gfs", chunk_rows=0)
    with pytest.raises(InputError, match="n must be"):
        chunked_select(source, 0, "gfs")
    with pytest.raises(InputError, match="shards"):
        split_rows(4, 5)
    with pytest.raises(InputError, match="inputs must have shape"):
        sharded_select(model, inputs[:, :2], targets, 3, "gfs")
    assert split_rows(10, 3) == [(0, 4), (4, 7), (7, 10)]


@pytest.mark.slow
def test_sharded_on_a_local_process_cluster():
    """Two worker processes (the default cluster): features computed in other processes."""
    model, inputs, targets = problem()
    for method in ("gfs", "fcfw"):
        reference = select(neuron_features(model, inputs), targets, steps(method), method)
        assert_same(reference, sharded_select(model, inputs, targets, steps(method), method, workers=2, shards=2))


def test_a_failing_client_does_not_leak_the_local_cluster(monkeypatch):
    """sharded_select closes the local cluster it started when connecting a client to it fails."""
    import dask.distributed

    from sims import sharded
    from sims.model import init_network

    closed = []

    class FakeCluster:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            closed.append(True)

    def refuse(*args, **kwargs):
        raise OSError("cannot connect")

    monkeypatch.setattr(sharded, "_local_cluster", lambda workers, processes: FakeCluster())
    monkeypatch.setattr(dask.distributed, "Client", refuse)
    model = init_network(3, 4, 1, seed=0)
    with pytest.raises(OSError, match="cannot connect"):
        sharded.sharded_select(model, torch.zeros(6, 3), torch.zeros(6, 1), 2, "gfs")
    assert closed == [True]
