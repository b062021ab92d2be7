"""A shard: a block of data rows, its features chunk by chunk, and its part of a selection's state;
and the groups through which the driver talks to shards (in this process, or Dask actors).

A :class:`FeatureShard` answers the requests of :mod:`sims.selection.backend` with float64 partial
sums over its rows, from a source of :mod:`sims.selection.sources` (a network's factored features,
or an array). It holds the parts of the method's state vectors on its rows (the running sum of
the picks, the current output f, a candidate, fw's direction, the support's columns), so only
(N,) vectors and scalars travel.

A **factored** source (a network's H and B: :class:`~sims.selection.sources.Factored`,
``sims.nets.features.NetworkSource``) gives gfs's exact averaging score (gfs, gfs-norep,
stochastic-gfs) without a K-wide pass: the running sum of the picks is a sum of neurons, so its
inner products with all neurons follow from the picks' Gram columns <phi_i, phi_v> = c^2
(H^T h_v)_i (B_i . B_v), one matrix-vector product over H each, and a step reads H once. The
score ||phi_i||^2 + 2 <phi_i, total> - 2k <phi_i, Y> then rounds to order 2k eps max ||phi||
(mean norm of the picks), against the direct pass's 2k eps max ||phi|| ||total/k - Y||: both are
at most a relative 2k eps of the score's scale (max ||phi||^2 + 2k max |dot|), so a pick can
differ from the direct pass's only among candidates that close, and an averaging step is never
refused (the full suite's gfs picks were the same on both).
The linear scores of herding, fw, fcfw and greedy-opt are computed directly, one pass over
f - Y: their tie scale is max ||phi|| (||f - Y|| + ||f||), and where the picks nearly cancel
(||f|| far below their norms, e.g. neurons in opposite pairs and a small target) differenced
products would be rounding noise on that scale, and fcfw or fw, which keep f when no candidate
improves it, would stall (a float32 case in tests/sims/selection/test_shards.py). Losses are
always computed from the explicit residual on the rows.

Groups: :class:`LocalShards` (shards in this process: the chunked engine, and the factored
backend in memory) and :class:`DaskShards` (one Dask actor per shard). ``call(requests)`` sends
the whole batch as ONE message to every shard (``FeatureShard.serve``; a Dask actor's
``FeatureShard.serve_on_worker``, which runs it in the worker's event loop where that is safe),
then adds the answers in shard order; ``DaskShards.messages`` counts the messages sent to each
actor.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from sims.selection.backend import sum_answers
from sims.selection.sources import ChunkBuffers, checked_targets
from sims.selection.threads import torch_threads

__all__ = ["FeatureShard", "LocalShards", "DaskShards", "INLINE_PASS_BYTES"]

# kept activations a Dask shard reads in its worker's event loop (FeatureShard.serve_on_worker):
# a pass over 2 GiB takes about 0.1-0.2 s on one core, far inside the 3 s after which Dask
# reports a blocked event loop
INLINE_PASS_BYTES = 2 << 30


@functools.cache
def _own_serving_thread() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(1, thread_name_prefix="feature-shard")


def _serving_thread() -> ThreadPoolExecutor:
    """Where a shard serves when not in the event loop: its Dask worker's actor thread (one
    message at a time per worker, as for a plain actor method), or, outside a worker, one thread
    of this process's own."""
    try:
        from distributed import get_worker  # the [parallel] extra, present wherever a worker runs

        return get_worker().executors["actor"]
    except (ImportError, ValueError, KeyError):  # no worker here (ValueError), or no actor thread
        return _own_serving_thread()


class FeatureShard:
    """A block of data rows and its part of a selection's state (see the module docstring).

    ``source``: a source (:class:`sims.selection.sources.Factored`,
    :class:`~sims.selection.sources.ArraySource`, ``sims.nets.features.NetworkSource``), or a
    zero-argument callable returning one (called here, so a Dask worker can build or load its own
    rows). ``chunk_rows``: rows per chunk (default all rows: one chunk). ``cache``: keep every
    chunk's hidden activations (rows x N) instead of recomputing them at every pass (for a
    :class:`~sims.selection.sources.Factored` source they are views of its H: no copy; a source
    that computes them, a network's, has them kept neuron by neuron, so that a pick's column is
    one contiguous run of memory rather than one cache miss a row).
    ``threads``: torch's threads for the passes over the chunks (None: the caller's setting).
    A chunk's temporaries live in ``buffers``, sized by the largest chunk, allocated on the first
    pass that needs them and reused by every later one.
    """

    def __init__(self, source, chunk_rows: int | None = None, cache: bool = False, threads: int | None = None):
        self.source = source() if callable(source) else source
        self.target = checked_targets(self.source)  # (rows, K) float64
        rows = self.source.rows
        step = rows if not chunk_rows else max(1, int(chunk_rows))
        self.chunks = [(start, min(rows, start + step)) for start in range(0, rows, step)]
        self.cache = [self._kept(self.source.hidden(a, b)) for a, b in self.chunks] if cache else None
        self.serves_in_loop = (self.cache is not None and
                               sum(chunk.numel() * chunk.element_size() for chunk in self.cache) <= INLINE_PASS_BYTES)
        self.buffers = ChunkBuffers(max((stop - start for start, stop in self.chunks), default=0))
        self.state_buffers: dict[str, torch.Tensor] = {}
        self.threads = threads
        self.total = torch.zeros_like(self.target)  # running sum of picks (averaging methods)
        self.output = torch.zeros_like(self.target)  # current subnetwork output (re-weighted methods)
        self.pending = self.direction = None
        # the stored support (fcfw): phi_j - Y on these rows, one flattened row per neuron in order
        # of entry, in a (capacity, rows * K) float64 tensor that doubles when full
        self.centred = torch.zeros((0, self.target.numel()), dtype=torch.float64)
        self.stored_neurons: list[int] = []
        # gfs's exact averaging score on a factored source: <phi_i, total> (N,) float64, kept up to
        # date from the picks' Gram columns (one matrix-vector product a pick) once a step has
        # asked for that score (module docstring)
        self.factored = hasattr(self.source, "neuron_products")
        self.track_total = False
        self.target_products = None
        self.total_products = np.zeros(self.source.width)

    def serve(self, requests: list[tuple]) -> list:
        """Answer a batch of requests in order: one message."""
        return [getattr(self, name)(*args) for name, *args in requests]

    async def serve_on_worker(self, requests: list[tuple]) -> list:
        """:meth:`serve` as a Dask actor's coroutine. A Dask worker runs a coroutine method in its
        event loop, without the hand-off to its actor thread and back that a plain method costs (a
        2-shard gfs step on issue 27's network on a 2-core machine, where each worker's two
        threads compete for one core: 24.2-25.2 ms a message against 26.0-27.3 ms,
        ``benchmarks/bench_shard_message.py``). It serves in the loop only where the worker has a
        process of its own (its loop runs in the process's main thread; the workers of a
        threads-only cluster share one loop, which would run their shards one after the other)
        and the message's work is a pass over kept activations of at most ``INLINE_PASS_BYTES``
        (plus O(rows K) vectors and, for fcfw, the stored support); otherwise in the worker's
        actor thread (one message at a time per worker, as for a plain method), so that a long
        pass (a large shard, or features computed or read at every pass) does not keep the worker
        from its heartbeats."""
        if self.serves_in_loop and threading.current_thread() is threading.main_thread():
            return self.serve(requests)
        return await asyncio.get_running_loop().run_in_executor(_serving_thread(), self.serve, requests)

    # -- description
    def info(self) -> tuple[int, int, float]:
        """(rows, N, machine epsilon of the features' dtype)."""
        return self.source.rows, self.source.width, float(torch.finfo(self.source.dtype).eps)

    # -- passes over the features
    def _state(self, name: str) -> torch.Tensor:
        """A (rows, K) float64 buffer ``name``, allocated once and reused by every step."""
        if name not in self.state_buffers:
            self.state_buffers[name] = torch.empty_like(self.target)
        return self.state_buffers[name]

    def _kept(self, block: torch.Tensor) -> torch.Tensor:
        """A chunk's hidden activations as cached: given ones as they are, computed ones
        (``source.computes_hidden``) copied into neuron-major order (a (rows, N) view of an
        (N, rows) buffer; same values)."""
        if getattr(self.source, "computes_hidden", False) and block.ndim == 2:
            return block.T.contiguous().T
        return block

    def _hidden(self, position: int) -> torch.Tensor:
        if self.cache is not None:
            return self.cache[position]
        start, stop = self.chunks[position]
        return self.source.hidden(start, stop, self.buffers)

    def _over_chunks(self, part) -> np.ndarray:
        result = None
        with torch_threads(self.threads or torch.get_num_threads()):
            for position, (start, stop) in enumerate(self.chunks):
                value = part(start, stop, self._hidden(position))
                result = value if result is None else result + value
        return result.numpy()

    def _dots(self, vectors: torch.Tensor) -> np.ndarray:
        return self._over_chunks(lambda a, b, hidden: self.source.dots(a, b, vectors[a:b], hidden, self.buffers))

    def _gram(self, neuron: int) -> np.ndarray:
        """<phi_i, phi_neuron> over this shard's rows, (N,) float64: one pass of one matrix-vector
        product (factored sources)."""
        neuron = int(neuron)
        return self._over_chunks(lambda a, b, hidden: self.source.neuron_products(a, b, neuron, hidden, self.buffers))

    def _target_products(self) -> np.ndarray:
        """<phi_i, Y> over this shard's rows, (N,) float64 (one pass, the first time)."""
        if self.target_products is None:
            self.target_products = self._dots(self.target)
        return self.target_products

    def norms(self) -> np.ndarray:
        result = self._over_chunks(lambda a, b, hidden: self.source.sq_norms(a, b, hidden, self.buffers))
        self.buffers.release("squares")  # float64, used by this pass only
        return result

    def _column(self, i: int) -> torch.Tensor:
        """phi[:, i, :] on this shard's rows, float64 (rows, K): from the kept neuron-major
        activations where the shard computed them (a slice), else from the source."""
        if self.cache is not None and getattr(self.source, "computes_hidden", False):
            activations = torch.cat([chunk[:, int(i)] for chunk in self.cache])
            return self.source.column_from(activations, int(i))
        return self.source.columns([int(i)])[:, 0, :]

    @staticmethod
    def _sq(vector: torch.Tensor) -> float:
        flat = vector.reshape(-1)
        return float(flat @ flat)

    # -- averaging methods
    def add(self, pick: int, k: int) -> float:
        self.total += self._column(pick)
        if self.track_total:
            self.total_products = self.total_products + self._gram(pick)
        # into buffers reused from step to step (a fresh (rows, K) temporary per step costs page
        # faults); the same operations, so the same bits, as total / k - Y
        mean = torch.div(self.total, k, out=self._state("mean"))
        residual = torch.sub(mean, self.target, out=self._state("residual"))
        return self._sq(residual)

    def averaging_dots(self, k: int, linearised: bool, candidates=None):
        if linearised:  # herding's direction f_{k-1} - Y: the residual the last addition left in its buffer
            sq_direction, sq_output = ((self._sq(self.target), 0.0) if k == 1 else
                                       (self._sq(self._state("residual")), self._sq(self._state("mean"))))
        if self.factored and not linearised:  # <phi_i, total> / k - <phi_i, Y>: no pass
            if not self.track_total:  # the loops ask from step 1 on, before any pick is added
                self.track_total = True
                self.total_products = self._dots(self.total) if bool(self.total.any()) else self.total_products
            dots = (1 / k if k > 1 else 0.0) * self.total_products - self._target_products()
        else:
            previous = self.total / (k - 1) if k > 1 else self.total
            dots = self._dots(previous - self.target if linearised else (k - 1) / k * previous - self.target)
        dots = dots if candidates is None else dots[candidates]
        return (dots, sq_direction, sq_output) if linearised else (dots, None, None)

    # -- re-weighted methods
    def target_dots(self) -> tuple[np.ndarray, float]:
        return -self._target_products(), self._sq(self.target)

    def target_sq(self) -> float:
        return self._sq(self.target)

    def start_at(self, i: int, store: bool) -> float:
        self.output = self._column(i)
        if store:
            self._store(self.output - self.target, i)
        return self._sq(self.output - self.target)

    def commit(self, accept: bool) -> None:
        if accept:
            self.output = self.pending
        self.pending = None

    def residual_dots(self, pending: bool = False):
        output = self.pending if pending else self.output
        residual = output - self.target
        return self._dots(residual), float(residual.reshape(-1) @ output.reshape(-1)), self._sq(output)

    def fw_direction(self, vertex: int) -> tuple[float, float]:
        self.direction = self._column(vertex) - self.output
        flat = self.direction.reshape(-1)
        return float((self.output - self.target).reshape(-1) @ flat), float(flat @ flat)

    def try_step(self, step: float) -> float:
        self.pending = self.output + step * self.direction
        return self._sq(self.pending - self.target)

    def _store(self, centred: torch.Tensor, neuron: int) -> None:
        """Append phi_neuron - Y (rows, K) to the stored support."""
        count = len(self.stored_neurons)
        if count == self.centred.shape[0]:
            grown = torch.empty((max(8, 2 * count), self.centred.shape[1]), dtype=torch.float64)
            grown[:count] = self.centred
            self.centred = grown
        self.centred[count] = centred.reshape(-1)
        self.stored_neurons.append(int(neuron))

    def centred_column(self, vertex: int) -> tuple[np.ndarray, float]:
        q = (self._column(vertex) - self.target).reshape(-1)
        products = (self.centred[:len(self.stored_neurons)] @ q).numpy()
        self._store(q, vertex)
        return products, float(q @ q)

    def try_weights(self, weights: np.ndarray) -> float:
        """The candidate sum_j w_j phi_{S_j} over the stored support, as Y + sum_j w_j (phi_j - Y)
        (the weights sum to 1): its residual is the one product, its loss that residual's."""
        residual = torch.as_tensor(weights, dtype=torch.float64) @ self.centred[:len(self.stored_neurons)]
        residual = residual.reshape(self.target.shape)
        self.pending = self.target + residual
        return self._sq(residual)

    def centered_sq_norms(self) -> np.ndarray:
        """||phi_i - Y||^2 = ||phi_i||^2 - 2 <phi_i, Y> + ||Y||^2 over this shard's rows (two passes)."""
        return self.norms() - 2 * self._target_products() + self._sq(self.target)

    def centered_products(self, neuron: int) -> np.ndarray:
        """<phi_i - Y, phi_v - Y> = <phi_i, q> - <Y, q>, q = phi_v - Y, over this shard's rows (one pass)."""
        q = self._column(neuron) - self.target
        return self._dots(q) - float(self.target.reshape(-1) @ q.reshape(-1))

    def try_combination(self, rows: list[int], weights: np.ndarray) -> float:
        columns = self.source.columns(rows)  # (rows, |S|, K)
        self.pending = torch.einsum("s,jsk->jk", torch.as_tensor(weights, dtype=torch.float64), columns)
        return self._sq(self.pending - self.target)


class LocalShards:
    """Shards in this process: each answers the batch in turn; answers summed in shard order."""

    def __init__(self, shards: list[FeatureShard]):
        self.shards = shards

    def call(self, requests: list[tuple]) -> list:
        return _combine(requests, [shard.serve(requests) for shard in self.shards])


class DaskShards:
    """Shards living in Dask actors: ``call`` sends one message (the whole batch, answered by
    :meth:`FeatureShard.serve_on_worker`) to every actor, then waits for all. ``messages``:
    messages sent to each actor so far."""

    def __init__(self, actors: list):
        self.actors = actors
        self.messages = 0

    def call(self, requests: list[tuple]) -> list:
        futures = [actor.serve_on_worker(requests) for actor in self.actors]
        self.messages += 1
        return _combine(requests, [future.result() for future in futures])


def _combine(requests: list[tuple], answers: list[list]) -> list:
    """Per request, the shards' answers added in shard order (``info``: rows added, N and eps as
    the first shard's)."""
    combined = []
    for position, (name, *_) in enumerate(requests):
        parts = [answer[position] for answer in answers]
        if name == "info":
            combined.append((sum(part[0] for part in parts), parts[0][1], parts[0][2]))
        else:
            combined.append(sum_answers(parts))
    return combined
