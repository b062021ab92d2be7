"""Selection past one machine, and past memory: the engine's loops over features split by data rows.

The features of a two-layer network never need to exist as one (m, N, K) array. Every quantity a
step of the exact methods needs is a sum over the m data rows, so it splits into per-shard
partial sums (:mod:`sims.selection.backend`): each shard (:class:`~sims.selection.shards.FeatureShard`)
holds a block of rows, its features' source and its part of the method's state; the driver runs
the engine's one loop (:func:`sims.selection.engine.run_selection`), sending each step's requests
to every shard in ONE message (averaging methods: one per step; fw, fcfw: two; greedy-opt: one)
and adding the answers in shard order. Only (N,) vectors and scalars travel; features are never
gathered. Picks equal the in-memory engine's, losses agree to rounding (summation order), for
``EXACT_METHODS`` (the methods that run on every backend).

Two ways to run the shards:

- :func:`chunked_select`: one shard in this process, streaming its rows in chunks of
  ``chunk_rows``: features larger than memory, computed on the fly (a network's
  ``sims.nets.features.NetworkSource``) or read from a memory-mapped file
  (:class:`~sims.selection.sources.ArraySource`). Memory: the buffers of one chunk, reused by
  every pass, plus O(mK + N) state.
- :func:`select_on_shards`: one shard per Dask actor, each built on its worker by a factory (a
  picklable zero-argument callable returning a source), on a local cluster started here
  (``workers`` processes, one thread each) or on an existing scheduler (``scheduler`` address).
  ``sims.nets.features.sharded_select`` builds the factories of a network.

Units: losses are 0.5 * mean over samples of the squared error (the engine's), inner products are
plain sums over the m*K entries.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from sims.foundations.constraints import check_fields
from sims.foundations.errors import InputError
from sims.foundations.extras import require
from sims.selection.engine import EXACT_METHODS, Selection, run_selection
from sims.selection.registry import check_request
from sims.selection.shards import DaskShards, FeatureShard, LocalShards
from sims.selection.sources import ArraySource, ChunkBuffers
from sims.selection.threads import one_thread, resolve_threads

__all__ = ["EXACT_METHODS", "ShardingConfig", "ChunkBuffers", "ArraySource", "FeatureShard", "LocalShards",
           "DaskShards", "run_on_shards", "chunked_select", "select_on_shards", "start_dask_shards", "split_rows",
           "check_chunk_rows"]


@dataclass(frozen=True)
class ShardingConfig:
    """Where a selection's features live: all at once in this process (the defaults), streamed in
    chunks of ``chunk_rows`` data rows (:func:`chunked_select`), or split over ``shards`` Dask
    workers (:func:`select_on_shards`, on a local cluster or the one at ``scheduler``)."""

    shards: int = field(default=1, metadata={
        "help": "split the data rows over this many Dask workers; 1 selects in this process", "range": "positive"})
    chunk_rows: int | None = field(default=None, metadata={
        "help": "compute the features in chunks of this many data rows, never all at once", "range": "positive"})
    scheduler: str | None = field(default=None, metadata={
        "help": "address of an existing Dask scheduler for --shards (default: a local cluster)"})

    def __post_init__(self):
        check_fields(self)

    @property
    def whole_array(self) -> bool:
        """True when nothing asks for chunks or shards: the single-process engine applies."""
        return self.shards == 1 and self.chunk_rows is None and self.scheduler is None


def run_on_shards(shards, n: int, method: str = "gfs", *, seed: int | None = None, **options) -> Selection:
    """Run ``method`` (one of :data:`EXACT_METHODS`) over ``shards`` (:class:`LocalShards` or
    :class:`DaskShards`) with the engine's loop; return the engine's :class:`Selection`
    (``messages``: the round trips to each shard)."""
    chosen = check_request(n, method, options, seed, in_memory=False)
    with one_thread():
        return run_selection(shards, int(n), method, seed=seed, options=chosen)


def check_chunk_rows(chunk_rows) -> None:
    if chunk_rows is not None and (isinstance(chunk_rows, bool) or not isinstance(chunk_rows, (int, np.integer))
                                   or chunk_rows < 1):
        raise InputError(f"chunk_rows must be a positive integer or None, got {chunk_rows!r}")


def chunked_select(source, n: int, method: str = "gfs", *, chunk_rows: int | None = None, cache: bool = False,
                   seed: int | None = None, threads: int | None = None, **options) -> Selection:
    """Exact selection in this process, streaming the features in chunks of ``chunk_rows`` data rows.

    ``source``: a source of :mod:`sims.selection.sources` (a network's features computed on the
    fly, never materialised; a memory-mapped (m, N, K) file as an ArraySource). Same picks as
    ``sims.selection.engine.select`` on the full array, losses equal to rounding. Memory: the
    buffers of one chunk, reused by every pass (a network: Z = X A^T, chunk_rows x N, and act(Z)
    unless it overwrites Z; an array: the chunk of chunk_rows x N x K features as read, a
    converted copy if its dtype is not float32/64, and a neuron-major copy for the contraction;
    the first pass also float64 squares of one chunk), plus O(mK + N). ``threads``: torch's
    threads for the passes over the chunks (None: the engine's choice,
    :func:`sims.selection.threads.pass_threads`); one for the rest.
    """
    check_chunk_rows(chunk_rows)
    check_request(n, method, options, seed, in_memory=False)
    shard = FeatureShard(source, chunk_rows, cache, resolve_threads(threads))
    return run_on_shards(LocalShards([shard]), n, method, seed=seed, **options)


def split_rows(rows: int, shards: int) -> list[tuple[int, int]]:
    """``shards`` contiguous, near-equal blocks [start, stop) of ``rows`` rows (``numpy.array_split``)."""
    if isinstance(shards, bool) or not isinstance(shards, (int, np.integer)) or not 1 <= shards <= rows:
        raise InputError(f"shards must be an integer in [1, m = {rows}], got {shards!r}")
    edges = np.cumsum([0] + [len(block) for block in np.array_split(np.arange(rows), shards)])
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def start_dask_shards(client, factories: list[Callable[[], object]], *, chunk_rows: int | None = None,
                      cache: bool = True) -> DaskShards:
    """One :class:`FeatureShard` actor per factory (a picklable zero-argument callable returning a
    source, run on the worker), placed round-robin on the client's workers."""
    # asked of the scheduler each time: client.scheduler_info() returns a cache that a periodic
    # update can leave without per-worker entries (seen as an empty worker list, 1 run in ~6)
    workers = sorted(client.nthreads())
    if not workers:
        raise InputError("the Dask cluster has no workers to hold the shards")
    futures = [client.submit(FeatureShard, factory, chunk_rows, cache, 1, actor=True, pure=False,
                             workers=[workers[position % len(workers)]])
               for position, factory in enumerate(factories)]
    return DaskShards([future.result() for future in futures])


def _local_cluster(workers: int, processes: bool):
    import dask
    from dask.distributed import LocalCluster

    # as sims.experiments.runner: keep freed memory in the worker's heap instead of mmap/munmap per temporary
    environment = dict(dask.config.get("distributed.nanny.pre-spawn-environ"), MALLOC_TOP_PAD_=str(64 << 20))
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environment}):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes, dashboard_address=":0")


def select_on_shards(factories: list[Callable[[], object]], n: int, method: str = "gfs", *, client=None,
                     scheduler: str | None = None, workers: int = 2, processes: bool = True,
                     chunk_rows: int | None = None, cache: bool = True, seed: int | None = None,
                     **options) -> Selection:
    """Exact selection with one Dask actor per factory (each builds its shard's source on its worker).

    Cluster: ``client`` if given; else ``scheduler`` (address of an existing Dask scheduler);
    else a local cluster of ``workers`` processes (threads if not ``processes``) with one thread
    each, closed afterwards. ``cache``: each shard keeps its hidden activations (rows x N) instead
    of recomputing them every step; ``chunk_rows`` bounds the temporaries. Returns the engine's
    Selection; ``messages`` counts the round trips to each actor (one per step for the averaging
    methods and greedy-opt, two for fw and fcfw, plus a few to start).
    """
    require("dask.distributed", "selection over Dask workers (shards)")
    check_chunk_rows(chunk_rows)
    check_request(n, method, options, seed, in_memory=False)
    if client is not None:
        group = start_dask_shards(client, factories, chunk_rows=chunk_rows, cache=cache)
        return run_on_shards(group, n, method, seed=seed, **options)
    from dask.distributed import Client

    with ExitStack() as resources:  # closed in reverse order, each even if another fails
        if scheduler:
            client = resources.enter_context(Client(scheduler))
        else:
            cluster = resources.enter_context(_local_cluster(workers, processes))
            client = resources.enter_context(Client(cluster))
            # every worker registered before the shards are placed: one that is still starting
            # would leave its shards to the others, which then run them one after the other
            client.wait_for_workers(workers)
        group = start_dask_shards(client, factories, chunk_rows=chunk_rows, cache=cache)
        return run_on_shards(group, n, method, seed=seed, **options)
