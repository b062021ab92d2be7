"""Sharded and chunked selection reproduce the single-process engine: same picks, losses within
REFERENCE, for gfs, herding, fw and fcfw (and gfs-norep, stochastic-gfs), on a local Dask cluster
with 2 workers and on chunks smaller than the feature array. A chunk's temporaries live in
buffers reused from pass to pass: bitwise the plain formulas, and nothing of a chunk's size is
allocated after the first pass."""

import functools
import tracemalloc

import numpy as np
import pytest
import torch

from sims.foundations.errors import InputError
from sims.nets.model import ACTIVATIONS, forward, hidden_activations, init_network, neuron_features
from sims.selection.engine import select
from sims.nets.features import NetworkSource, network_inputs, sharded_select
from sims.selection.sharded import (EXACT_METHODS, ArraySource, ChunkBuffers, DaskShards, FeatureShard, LocalShards,
                                    chunked_select, run_on_shards, split_rows, start_dask_shards)
from tests.helpers import REFERENCE

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N_STEPS = 20


def steps(method: str) -> int:
    """fcfw stops improving after 15 steps on these problems: from then on it sits at the optimum
    over the hull of its support, where every support neuron's linear score ties up to the simplex
    solve's precision; the tie rule takes that precision as slack, so every backend records the
    same (lowest) index there too, and the comparison runs past convergence."""
    return N_STEPS


def problem(scaling="mean-field", outputs=2, bias=True, m=40, width=60, seed=1):
    """A random network (N = 60, K = 2), m = 40 Gaussian inputs and a small teacher's targets."""
    model = init_network(4, width, outputs, seed=seed, scaling=scaling, bias=bias)
    inputs = torch.randn(m, 4, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    targets = forward(init_network(4, 5, outputs, seed=seed + 2), inputs)
    return model, inputs, targets


def assert_same(reference, result):
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
    client.wait_for_workers(2)
    yield client
    client.close()
    cluster.close()


@pytest.mark.parametrize("method", ["gfs", "herding", "fw", "fcfw"])
def test_sharded_on_two_dask_workers_equals_the_engine(dask_client, method):
    model, inputs, targets = problem()
    reference = select(neuron_features(model, inputs), targets, steps(method), method)
    result = sharded_select(model, inputs, targets, steps(method), method, client=dask_client, shards=2)
    assert_same(reference, result)
    assert len(dask_client.nthreads()) == 2
    # round trips to each shard: one per step for the averaging methods (the previous pick's
    # addition travels with the next scores), two per step for fw (direction, then candidate)
    expected = {"gfs": steps(method) + 1, "herding": steps(method) + 1, "fw": 2 + 2 * (steps(method) - 1)}
    if method in expected:
        assert result.messages == expected[method]
    else:  # fcfw: none for a vertex already in the support
        assert result.messages <= 2 + 2 * (steps(method) - 1)


def test_each_step_is_one_message_per_dask_actor(dask_client):
    """Counted at the shard group, whose every call sends one serve_on_worker (the batch) to each actor."""
    model, inputs, targets = problem()
    inputs, targets = network_inputs(model, inputs, targets)
    factories = [functools.partial(NetworkSource, model, inputs[a:b].clone(), targets[a:b].clone())
                 for a, b in split_rows(40, 2)]
    group = start_dask_shards(dask_client, factories)
    result = run_on_shards(group, 12, "gfs")
    assert group.messages == 1 + 12 + 1  # info, one per step, the last pick's addition
    assert result.indices.tolist() == select(neuron_features(model, inputs), targets, 12, "gfs").indices.tolist()


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
    if method == "fcfw" and scaling == "mean-field":  # compared past convergence
        assert np.any(np.diff(reference.losses) == 0)


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


@pytest.mark.parametrize("name", ["float16 (m, N)", "int64 (m, N)", "float32 (m, N, K)"])
def test_chunked_features_converted_from_other_dtypes(name):
    """Arrays of another dtype are read into the chunk buffer as they are, then converted."""
    model, inputs, targets = problem(outputs=1 if "(m, N)" in name else 2)
    features = neuron_features(model, inputs).contiguous().numpy()
    array = {"float16 (m, N)": features[:, :, 0].astype(np.float16),
             "int64 (m, N)": np.rint(features[:, :, 0] * 1000).astype(np.int64),
             "float32 (m, N, K)": features.astype(np.float32)}[name]
    for method in ("gfs", "fw"):
        reference = select(torch.as_tensor(array).to(torch.float32 if array.dtype == np.float32 else torch.float64),
                           targets, steps(method), method)
        assert_same(reference, chunked_select(ArraySource(array, targets.numpy()), steps(method), method,
                                              chunk_rows=6))


def test_non_finite_features_are_refused_as_their_chunk_is_read():
    model, inputs, targets = problem()
    features = neuron_features(model, inputs).contiguous().numpy()
    for bad in (np.nan, np.inf, -np.inf):
        array = features.copy()
        array[33, 5, 1] = bad
        with pytest.raises(InputError, match=r"NaN or inf \(data rows 30\.\.39\)"):
            chunked_select(ArraySource(array, targets.numpy()), 3, "gfs", chunk_rows=10)


def test_float32_features_use_float32_rounding_for_ties():
    model, inputs, targets = problem()
    model32 = model.to(dtype=torch.float32)
    shards = LocalShards([FeatureShard(NetworkSource(model32, inputs.float(), targets), chunk_rows=10)])
    assert shards.call([("info",)])[0][2] == float(np.finfo(np.float32).eps)
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
        chunked_select(source, 3, "backward")
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

    from sims.nets import features
    from sims.selection import sharded

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
        features.sharded_select(model, torch.zeros(6, 3), torch.zeros(6, 1), 2, "gfs")
    assert closed == [True]


# ---------------------------------------------------------------- reused chunk buffers: same bits, no later allocations


def plain_array_dots(block, vectors):
    """ArraySource.dots as it was before the chunk buffers: einsum on the (rows, N, K) chunk."""
    return torch.einsum("jik,jk->i", block, vectors.to(block.dtype)).to(torch.float64)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_hidden_in_reused_buffers_is_bitwise_the_model_activations(activation, dtype, bias):
    model = init_network(4, 60, 2, seed=1, activation=activation, bias=bias, dtype=dtype)
    inputs = torch.randn(40, 4, generator=torch.Generator().manual_seed(2), dtype=dtype).mul_(3)
    source = NetworkSource(model, inputs, torch.zeros(40, 2, dtype=torch.float64))
    buffers = ChunkBuffers(15)
    for start, stop in [(0, 15), (15, 30), (30, 40), (3, 4)]:  # a smaller chunk after larger ones
        expected = hidden_activations(model, inputs[start:stop])
        hidden = source.hidden(start, stop, buffers)
        assert torch.equal(hidden, expected) and torch.equal(hidden.signbit(), expected.signbit())
        assert hidden.stride() == expected.stride()
        vectors = torch.randn(stop - start, 2, generator=torch.Generator().manual_seed(start), dtype=torch.float64)
        products = (vectors.to(dtype).T @ expected).T.to(torch.float64)
        assert torch.equal(source.dots(start, stop, vectors, None, buffers),
                           (products * model.second_weight.to(torch.float64)).sum(1))
        expected64 = expected.to(torch.float64)
        second = model.second_weight.to(torch.float64)
        assert torch.equal(source.sq_norms(start, stop, None, buffers),
                           (expected64 * expected64).sum(0) * (second * second).sum(1))


@pytest.mark.parametrize("shape", [(40, 60, 3), (40, 60, 1), (40, 1, 3), (40, 60)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_array_chunks_in_reused_buffers_are_bitwise_the_plain_formulas(shape, dtype):
    """dots: einsum on the block (which copies it to (N, rows, K) order when K, N > 1), here
    on a reused copy in that order; sq_norms: the float64 squares summed; both bitwise."""
    array = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    source = ArraySource(array, np.zeros((shape[0], shape[2] if len(shape) == 3 else 1)))
    buffers = ChunkBuffers(15)
    for start, stop in [(0, 15), (15, 30), (30, 40), (3, 4)]:
        block = torch.as_tensor(array[start:stop].copy())
        block = block.unsqueeze(2) if block.ndim == 2 else block
        assert torch.equal(source.hidden(start, stop, buffers), block)
        vectors = torch.randn(stop - start, block.shape[2], generator=torch.Generator().manual_seed(start),
                              dtype=torch.float64)
        assert torch.equal(source.dots(start, stop, vectors, None, buffers), plain_array_dots(block, vectors))
        block64 = block.to(torch.float64)
        assert torch.equal(source.sq_norms(start, stop, None, buffers), (block64 * block64).sum((0, 2)))


def large_tensor_allocations(run, threshold_bytes: int) -> int:
    """How many tensors of at least ``threshold_bytes`` ``run()`` allocates (torch profiler)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run()
    return sum(1 for event in prof.events() if event.self_cpu_memory_usage >= threshold_bytes)


def numpy_bytes_while_contracting(run, monkeypatch) -> list[int]:
    """At every torch.einsum call of ``run()`` (the contraction of a chunk of an ArraySource),
    the bytes of the numpy arrays allocated since ``run()`` began and still held (tracemalloc's
    numpy domain: the threads of the Dask fixture allocate Python objects meanwhile)."""
    numpy_only = [tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)]
    held, einsum = [], torch.einsum

    def measured_einsum(*args):
        traces = tracemalloc.take_snapshot().filter_traces(numpy_only)
        held.append(sum(stat.size for stat in traces.statistics("filename")))
        return einsum(*args)

    monkeypatch.setattr(torch, "einsum", measured_einsum)
    tracemalloc.start()
    try:
        run()
    finally:
        tracemalloc.stop()
        monkeypatch.undo()
    return held


def memory_mapped(tmp_path, array):
    path = tmp_path / "features.npy"
    np.save(path, array)
    return np.load(path, mmap_mode="r")


@pytest.mark.parametrize("kind", ["relu network with bias", "gelu network", "float32 memmap (m, N, K)",
                                  "float16 memmap (m, N)"])
def test_passes_after_the_first_allocate_nothing_of_a_chunks_size(tmp_path, monkeypatch, kind):
    """Every pass over the features (a step's dots) reuses the chunk buffers of the first: later
    passes allocate no tensor, and numpy holds no array, of the size of the smallest chunk
    (rows x N). (Before the buffers each pass made 2-3 such allocations a chunk: Z, Z + bias,
    act(Z); or the chunk's copy, isfinite's mask and einsum's copy.)"""
    model, inputs, targets = problem(outputs=1 if "(m, N)" in kind else 2, width=400)
    if "network" in kind:
        model = init_network(4, 400, 2, seed=1, activation=kind.split()[0], bias="bias" in kind, dtype="float32")
        source, itemsize = NetworkSource(model, inputs.float(), targets), 4
    else:
        dtype = np.float32 if "float32" in kind else np.float16
        features = neuron_features(model, inputs).contiguous().numpy().astype(dtype)
        array = features if features.shape[2] > 1 else features[:, :, 0]
        source, itemsize = ArraySource(memory_mapped(tmp_path, array), targets.numpy()), np.dtype(dtype).itemsize
    shard = FeatureShard(source, chunk_rows=15)  # chunks of 15, 15 and 10 rows
    threshold = 10 * 400 * itemsize  # above every (m, K), (N, K) and (N,) array of the steps
    shard.norms()

    def first():
        shard.averaging_dots(1, False)
        shard.add(7, 1)

    def later(steps):
        for k in steps:
            shard.averaging_dots(k, False)
            shard.add(k, k)
        shard.residual_dots(False)

    first()  # the first pass allocates the buffers the norm pass did not need
    assert large_tensor_allocations(lambda: later(range(2, 6)), threshold) == 0
    if "memmap" in kind:
        held = numpy_bytes_while_contracting(lambda: later(range(6, 10)), monkeypatch)
        assert len(held) == 5 * 3 and max(held) < threshold  # 5 passes of 3 chunks
    fresh = FeatureShard(source, chunk_rows=15)
    assert large_tensor_allocations(fresh.norms, threshold) > 0  # the test sees the buffers being made


def test_a_cluster_without_workers_is_refused_by_name():
    """start_dask_shards asks the scheduler for its workers; none is an InputError, not a
    division by zero while placing the shards."""
    from sims.foundations.errors import InputError
    from sims.selection.sharded import start_dask_shards

    class NoWorkers:
        def nthreads(self):
            return {}

    with pytest.raises(InputError, match="no workers"):
        start_dask_shards(NoWorkers(), [lambda: None])


class ThreadRecordingShard(FeatureShard):
    """A shard that keeps the name of the thread each message was served in."""

    def serve(self, requests):
        import threading

        self.served_in = [*getattr(self, "served_in", []), threading.current_thread().name]
        return super().serve(requests)

    def threads_served_in(self) -> list[str]:
        return self.served_in


def test_shards_of_a_threads_only_cluster_serve_in_their_workers_actor_threads(dask_client):
    """The fixture's workers share this process's one event loop (not its main thread): serving
    there would run the shards one after the other, so each serves in its worker's actor thread."""
    model, inputs, targets = problem()
    inputs, targets = network_inputs(model, inputs, targets)
    workers = sorted(dask_client.nthreads())
    actors = [dask_client.submit(ThreadRecordingShard, functools.partial(NetworkSource, model, inputs[a:b], targets[a:b]),
                                 None, True, 1, actor=True, pure=False, workers=[worker]).result()
              for worker, (a, b) in zip(workers, split_rows(inputs.shape[0], 2))]
    group = DaskShards(actors)
    group.call([("norms",), ("target_dots",)])
    group.call([("averaging_dots", 1, False, None)])
    names = [actor.threads_served_in().result() for actor in actors]
    assert all(len(served) == 2 and all("Dask-Actor-Threads" in name for name in served) for served in names)
    assert len({name for served in names for name in served}) == 2  # each worker its own thread: side by side


def test_two_worker_processes_serve_in_their_event_loops_and_pick_as_the_engine():
    """Worker processes of their own (the default of select_on_shards): the shards serve in the
    event loop, and the picks are the engine's."""
    from dask.distributed import Client, LocalCluster

    model, inputs, targets = problem()
    reference = select(neuron_features(model, inputs), targets, N_STEPS, "gfs")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        client.wait_for_workers(2)
        shard = client.submit(ThreadRecordingShard, functools.partial(NetworkSource, model,
                                                                      *network_inputs(model, inputs, targets)),
                              None, True, 1, actor=True, pure=False).result()
        DaskShards([shard]).call([("norms",)])
        assert shard.threads_served_in().result() == ["MainThread"]
        assert_same(reference, sharded_select(model, inputs, targets, N_STEPS, "gfs", client=client, shards=2))
