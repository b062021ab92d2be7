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

        def serve(self, requests):
            self.received += 1
            return Future(self.shard.serve(requests))

    source, _, target = pair()
    actors = [Actor(FeatureShard(Factored(source.activations[a:b], source.second, 1.5, target[a:b])))
              for a, b in ((0, 12), (12, 24))]
    group = DaskShards(actors)
    group.call([("norms",), ("target_dots",), ("add", 1, 1)])
    group.call([("averaging_dots", 2, False, None)])
    assert group.messages == 2 and [actor.received for actor in actors] == [2, 2]


@pytest.mark.parametrize("method, kept", [("gfs", "none"), ("herding", "none"), ("fw", "first"), ("fcfw", "support"),
                                          ("greedy-opt", "support")])
def test_a_factored_shard_keeps_gram_columns_only_for_the_support(method, kept):
    """Memory: an averaging method's Gram columns are used once and dropped (N floats per pick
    would otherwise pile up, 8 GB at N = 10^6, n = 1000); fw keeps its first neuron's; fcfw and
    greedy-opt keep their support's (as their driver keeps O(N |S|) itself)."""
    from sims.selection.sharded import run_on_shards

    source, _, _ = pair(seed=3, m=40, width=12, outputs=2)
    shard = FeatureShard(source, cache=True)
    result = run_on_shards(LocalShards([shard]), 8, method)
    expected = {"none": set(), "first": {int(result.indices[0])},
                "support": set(np.flatnonzero(result.weights).tolist())}[kept]
    if kept == "support":
        assert expected <= set(shard.grams) <= set(result.indices.tolist())
    else:
        assert set(shard.grams) == expected
