"""Where a 2-shard gfs step goes: each message's time at the driver beside each shard's own time
to serve it, with the shards answering in their worker's event loop (``serve_on_worker``, a
coroutine: the engine's way) or in Dask's actor thread (a plain method: the engine before e1b9c0f).

    python benchmarks/bench_shard_message.py            # both ways, alternated, 2 rounds (about 1 min)
    python benchmarks/bench_shard_message.py --rounds 1 --n 20

Problem: issue 27's network, as ``bench_scale.py --efficiency``: m = 40000, d = 50, N = 4000,
K = 10, float32, activations cached, 2 shards on a local cluster of 2 worker processes with one
thread each, gfs with n = 40 (``--n``). Printed per run: the median step message at the driver,
each shard's median ``serve`` (set-up messages left out), and the difference (the round trip and
the hand-offs). Milliseconds.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from functools import partial

import torch

from sims.nets.features import NetworkSource, network_inputs
from sims.nets.model import forward, init_network
from sims.selection.sharded import run_on_shards, split_rows
from sims.selection.shards import DaskShards, FeatureShard

SET_UP_MESSAGES = 2  # the shards' information, then the norms with step 1's request


class TimedShard(FeatureShard):
    """A FeatureShard that times its own ``serve`` (seconds, one entry per message)."""

    def __init__(self, *arguments):
        super().__init__(*arguments)
        self.serve_seconds = []

    def serve(self, requests):
        started = time.perf_counter()
        answers = super().serve(requests)
        self.serve_seconds.append(time.perf_counter() - started)
        return answers

    def serve_times(self) -> list[float]:
        return self.serve_seconds


class ThreadServedShard(TimedShard):
    """Served as a plain actor method: Dask runs it in its actor thread."""

    def serve_on_worker(self, requests):
        return self.serve(requests)


def one_run(client, model, inputs, targets, shard_class, n: int) -> dict:
    workers = sorted(client.nthreads())
    factories = [partial(NetworkSource, model, inputs[a:b].clone(), targets[a:b].clone())
                 for a, b in split_rows(inputs.shape[0], len(workers))]
    actors = [client.submit(shard_class, factory, None, True, 1, actor=True, pure=False, workers=[worker]).result()
              for worker, factory in zip(workers, factories)]
    group = DaskShards(actors)
    message_seconds, call = [], group.call

    def timed_call(requests):
        started = time.perf_counter()
        answers = call(requests)
        message_seconds.append(time.perf_counter() - started)
        return answers

    group.call = timed_call
    run_on_shards(group, n, "gfs")
    serves = [actor.serve_times().result()[SET_UP_MESSAGES:] for actor in actors]
    message = statistics.median(message_seconds[SET_UP_MESSAGES:]) * 1e3
    serve = [statistics.median(times) * 1e3 for times in serves]
    return {"message_ms": round(message, 2), "serve_ms": [round(value, 2) for value in serve],
            "message_minus_slower_serve_ms": round(message - max(serve), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two ways")
    parser.add_argument("--n", type=int, default=40, help="neurons selected per run")
    args = parser.parse_args()
    from dask.distributed import Client, LocalCluster

    m, dim, width, outputs = 40000, 50, 4000, 10
    model = init_network(dim, width, outputs, seed=0, dtype="float32")
    inputs = torch.randn(m, dim, generator=torch.Generator().manual_seed(1), dtype=torch.float64) / math.sqrt(dim)
    targets = forward(init_network(dim, 20, outputs, seed=2), inputs)
    inputs, targets = network_inputs(model, inputs.float(), targets)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        client.wait_for_workers(2)
        for round_ in range(args.rounds):
            for label, shard_class in (("event loop", TimedShard), ("actor thread", ThreadServedShard)):
                record = one_run(client, model, inputs, targets, shard_class, args.n)
                print(f"round {round_ + 1}, {label}: {record}", flush=True)


if __name__ == "__main__":
    main()
