"""A shard answers the backend requests with the in-memory backend's numbers (to rounding), and
groups send one message per shard per batch."""

import numpy as np
import pytest
import torch

from sims.selection.arrays import array_rows
from sims.selection.shards import DaskShards, FeatureShard, LocalShards
from sims.selection.sources import ArraySource, Factored


def pair(seed=0, m=24, width=10, outputs=2):
    rng = np.random.default_rng(seed)
    hidden, second = rng.random((m, width)), rng.standard_normal((width, outputs))
    features = hidden[:, :, None] * second[None] * 1.5
    target = rng.standard_normal((m, outputs))
    return Factored(hidden, second, 1.5, target), features, target


BATCHES = [[("norms",), ("target_dots",)], [("averaging_dots", 1, True, None)], [("add", 3, 1), ("averaging_dots", 2, False, None)],
           [("averaging_dots", 2, True, None)], [("add", 6, 2), ("averaging_dots", 3, True, [0, 6, 9])],
           [("start_at", 4, True), ("residual_dots",)], [("fw_direction", 7)], [("try_step", 0.25), ("residual_dots", True)],
           [("commit", True), ("centred_column", 2)], [("try_weights", np.array([0.4, 0.6])), ("target_sq",)],
           [("centered_sq_norms",)], [("centered_products", 5), ("try_combination", [1, 5], np.array([0.5, 0.5]))]]


@pytest.mark.parametrize("chunk_rows", [None, 5])
@pytest.mark.parametrize("kind", ["factored", "array"])
def test_every_request_answers_as_the_in_memory_array_backend(kind, chunk_rows):
    source, features, target = pair()
    if kind == "array":
        source = ArraySource(features, target)
    shard, rows = FeatureShard(source, chunk_rows, cache=kind == "factored"), array_rows(features, target)
    for batch in BATCHES:
        for got, expected in zip(shard.serve(batch), [getattr(rows, name)(*args) for name, *args in batch]):
            if expected is None:
                assert got is None
                continue
            for a, b in zip(*(x if isinstance(x, tuple) else (x,) for x in (got, expected)), strict=True):
                if b is None:  # the norms of the exact averaging score (not asked for)
                    assert a is None
                else:
                    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("small, main_thread", [(True, True), (False, True), (True, False)])
def test_a_dask_worker_gets_the_same_answers_in_its_event_loop_or_in_a_thread(small, main_thread, monkeypatch):
    """serve_on_worker is a coroutine (Dask then runs it in the worker's event loop: no thread
    hand-off) and serves in that loop only when the loop runs in the main thread (a worker process
    of its own) and the kept activations are at most INLINE_PASS_BYTES; otherwise in the
    process's one serving thread. Either way a batch gets serve's answers."""
    import asyncio
    import inspect
    import threading

    import sims.selection.shards as shards

    assert inspect.iscoroutinefunction(FeatureShard.serve_on_worker)
    if not small:
        monkeypatch.setattr(shards, "INLINE_PASS_BYTES", 24 * 10 * 8 - 1)  # one byte less than pair()'s H
    source, _, _ = pair()
    served, twin = FeatureShard(source, cache=True), FeatureShard(source, cache=True)
    assert served.serves_in_loop is small and FeatureShard(source, cache=False).serves_in_loop is False
    threads = []
    original = served.serve
    served.serve = lambda requests: threads.append(threading.get_ident()) or original(requests)

    async def answer(batch):
        return await served.serve_on_worker(batch), threading.get_ident()

    def in_a_loop(batch):
        if main_thread:
            return asyncio.run(answer(batch))
        result = []
        worker = threading.Thread(target=lambda: result.append(asyncio.run(answer(batch))))
        worker.start()
        worker.join()
        return result[0]

    for batch in BATCHES:
        got, loop_thread = in_a_loop(batch)
        assert (threads[-1] == loop_thread) is (small and main_thread)
        for a, b in zip(got, twin.serve(batch), strict=True):
            for x, y in zip(*(v if isinstance(v, tuple) else (v,) for v in (a, b)), strict=True):
                assert (x is None and y is None) or np.array_equal(x, y)
    assert len(set(threads)) == 1  # one loop thread, or the one serving thread


def test_a_wrong_answer_is_seen():
    source, features, target = pair()
    shard, rows = FeatureShard(source), array_rows(features, target[::-1].copy())
    assert not np.allclose(shard.target_dots()[0], rows.target_dots()[0])


def test_local_shards_add_answers_in_order_and_rows_for_info():
    source, features, target = pair()
    halves = [Factored(source.activations[a:b], source.second, 1.5, target[a:b]) for a, b in ((0, 10), (10, 24))]
    group = LocalShards([FeatureShard(half) for half in halves])
    (info, norms) = group.call([("info",), ("norms",)])
    assert info == (24, 10, float(np.finfo(np.float64).eps))
    np.testing.assert_allclose(norms, (features ** 2).sum((0, 2)), rtol=1e-12)


def test_dask_shards_send_one_message_per_actor_per_batch():
    class Future:
        def __init__(self, value):
            self.value = value

        def result(self):
            return self.value

    class Actor:
        def __init__(self, shard):
            self.shard, self.received = shard, 0

        def serve_on_worker(self, requests):
            self.received += 1
            return Future(self.shard.serve(requests))

    source, _, target = pair()
    actors = [Actor(FeatureShard(Factored(source.activations[a:b], source.second, 1.5, target[a:b])))
              for a, b in ((0, 12), (12, 24))]
    group = DaskShards(actors)
    group.call([("norms",), ("target_dots",), ("add", 1, 1)])
    group.call([("averaging_dots", 2, False, None)])
    assert group.messages == 2 and [actor.received for actor in actors] == [2, 2]


@pytest.mark.parametrize("method, gram_columns", [("gfs", True), ("gfs-norep", True), ("stochastic-gfs", True),
                                                  ("herding", False), ("fw", False), ("fcfw", False),
                                                  ("greedy-opt", False)])
def test_only_the_exact_averaging_score_comes_from_gram_columns(method, gram_columns, monkeypatch):
    """gfs's exact score on a factored source: one Gram column (one matrix-vector product) a
    pick and a single K-wide pass (<phi, Y>); every other method's linear scores: a direct pass
    a step, no Gram column (module docstring: differenced products can stall fcfw and fw)."""
    from sims.selection.sharded import run_on_shards
    from sims.selection.sources import FactoredSums

    calls = {"neuron_products": 0, "dots": 0}
    for name in calls:
        original = getattr(FactoredSums, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(FactoredSums, name, counted)
    source, _, _ = pair(seed=3, m=40, width=12, outputs=2)
    n = 8
    run_on_shards(LocalShards([FeatureShard(source, cache=True)]), n, method, seed=1)
    if gram_columns:
        assert calls == {"neuron_products": n, "dots": 1}  # one Gram column per added pick
    else:
        assert calls["neuron_products"] == 0 and calls["dots"] >= n - 1


def test_fcfw_and_fw_do_not_stall_where_the_picks_cancel():
    """float32 factored features whose neurons come in near-opposite pairs, and a target of size
    1e-6: f is far smaller than the picks' norms. Scores differenced from Gram columns were
    rounding noise there, and fcfw froze at a loss 35 times the array engine's from step 46 on
    (review of 3f0f1e9); the direct scores pick as the (m, N, K) array engine does."""
    from sims.selection.engine import select

    rng = np.random.default_rng(2)
    m, width, outputs = 50, 60, 2
    hidden = np.abs(rng.standard_normal((m, width))).astype(np.float32)
    second = rng.standard_normal((width, outputs))
    hidden[:, 30:] = hidden[:, :30] * (1 + 1e-3 * rng.standard_normal((m, 30))).astype(np.float32)
    second[30:] = -second[:30]
    target = 1e-6 * rng.standard_normal((m, outputs))
    factors = Factored(hidden, second, 1.0)
    for method in ("fcfw", "fw"):
        expected = select(factors.materialised(), target, 120, method, threads=1)
        result = select(factors, target, 120, method, threads=1)
        assert result.indices.tolist() == expected.indices.tolist()
        np.testing.assert_allclose(result.losses, expected.losses, rtol=1e-4)
