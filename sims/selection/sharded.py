"""Selection past one machine: the engine's exact greedy steps over features split by data rows.

The features of a two-layer network never need to exist as one (m, N, K) array. A selection step
of gfs, herding, fw or fcfw needs, per candidate neuron i, inner products <phi_i, v> with one
vector v of R^{mK} and the squared norms ||phi_i||^2; the step's own bookkeeping needs inner
products and norms of a few vectors. All of these are sums over the m data rows, so they split
into per-shard partial sums:

- a **shard** (:class:`FeatureShard`) holds a block of data rows, a :class:`NetworkSource`
  (network + inputs + targets: the features are computed from a ⊗ act(X w) on demand, chunk by
  chunk of rows) or an :class:`ArraySource` (a feature array, e.g. a ``numpy.memmap``, read chunk
  by chunk), and the parts of the method's state vectors (the current output, the running sum of
  the picks) on its rows;
- the **driver** (:func:`run_on_shards`) runs the engine's algorithm (docs/THEORY.md section 2):
  each step it asks every shard for its partial sums, adds them in shard order, makes the pick
  with the engine's tie rule (lowest index among scores within 16 eps x scale of the minimum),
  and tells the shards.

Only (N,) vectors and scalars travel; features are never gathered. Picks equal the single-process
engine's (``sims.selection.engine.select``), losses agree to rounding (summation order), for
``EXACT_METHODS``.

Two ways to run the shards:

- :func:`chunked_select`: one shard in this process, streaming its rows in chunks of
  ``chunk_rows``: features larger than memory, computed on the fly (or read from a memory-mapped
  file). Memory: one chunk of hidden activations (chunk_rows x N) plus O(mK + N) state. The
  chunk's temporaries live in buffers (:class:`ChunkBuffers`) allocated on the first pass and
  reused by every later one: no pass after the first allocates anything of a chunk's size.
- :func:`sharded_select`: one shard per Dask actor, on a local cluster started here (``workers``
  processes, one thread each) or on an existing scheduler (``scheduler`` address, as
  ``sims.experiments.runner`` does). The network and each shard's input rows are sent to its worker, which
  computes its features itself.

Units: losses are 0.5 * mean over samples of the squared error (the engine's), inner products are
plain sums over the m*K entries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

import numpy as np
import torch

from sims.foundations.constraints import check_fields
from sims.foundations.errors import InputError
from sims.foundations.extras import require
from sims.nets.model import TwoLayerNet, _as_input, hidden_activations
from sims.selection.engine import Selection
from sims.selection.simplex_qp import min_norm_point
from sims.nets.train import _KERNELS  # act(Z) into a given tensor, bitwise sims.nets.model.ACTIVATIONS (tested there)

__all__ = ["EXACT_METHODS", "ShardingConfig", "ChunkBuffers", "NetworkSource", "ArraySource", "FeatureShard",
           "LocalShards", "DaskShards", "run_on_shards", "chunked_select", "sharded_select", "network_select",
           "start_dask_shards", "split_rows"]

#: Methods whose every step only needs sums over data rows, run here exactly as the engine runs them.
EXACT_METHODS = ("gfs", "gfs-norep", "herding", "stochastic-gfs", "fw", "fcfw")


@dataclass(frozen=True)
class ShardingConfig:
    """Where a selection's features live: all at once in this process (the defaults), streamed in
    chunks of ``chunk_rows`` data rows (:func:`chunked_select`), or split over ``shards`` Dask
    workers (:func:`sharded_select`, on a local cluster or the one at ``scheduler``)."""

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


# ---------------------------------------------------------------------------------------
# Sources: where a shard's features come from


class ChunkBuffers:
    """Named buffers for chunks of up to ``capacity`` data rows, allocated on first use and
    reused by every later chunk and pass (a fresh set per call gives fresh tensors).

    ``take(name, rows, tail, dtype, device)``: the first ``rows`` rows of the (capacity, *tail)
    buffer ``name``, a C-contiguous tensor (a ``numpy`` array when ``dtype`` is a numpy dtype),
    laid out as a fresh (rows, *tail) array would be. Its contents are overwritten by the next
    chunk."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._buffers: dict = {}

    def take(self, name: str, rows: int, tail: tuple[int, ...], dtype, device=None):
        buffer = self._buffers.get(name)
        if buffer is None:
            shape = (self.capacity, *tail)
            buffer = (torch.empty(shape, dtype=dtype, device=device) if isinstance(dtype, torch.dtype)
                      else np.empty(shape, dtype))
            self._buffers[name] = buffer
        return buffer[:rows]

    def release(self, name: str) -> None:
        """Free buffer ``name`` (if allocated), e.g. one only the norm pass needs."""
        self._buffers.pop(name, None)


def _squares(block: torch.Tensor, buffers: ChunkBuffers) -> torch.Tensor:
    """block.to(float64) ** 2 elementwise (the product x * x), in the buffer "squares"."""
    squares = buffers.take("squares", block.shape[0], tuple(block.shape[1:]), torch.float64, block.device)
    squares.copy_(block)
    return squares.mul_(squares)


def _check_finite(block: torch.Tensor, start: int, stop: int) -> None:
    """InputError unless every entry of ``block`` (data rows start..stop-1) is finite. min and
    max propagate NaN, so both are finite exactly when every entry is (and nothing of the
    block's size is allocated, as isfinite would)."""
    low, high = torch.aminmax(block)
    if not (math.isfinite(low) and math.isfinite(high)):
        raise InputError(f"features contain NaN or inf (data rows {start}..{stop - 1}); only finite values "
                         "are accepted")


@dataclass(frozen=True, eq=False)
class NetworkSource:
    """The features of ``model`` on ``inputs`` (rows, d), never materialised:
    phi[j, i, :] = c * act(a_i . x_j + bias_i) * b_i (``sims.nets.model.neuron_features``).
    ``targets``: (rows, K) float64. Per chunk of rows only act(X_chunk A^T) (chunk x N) is formed."""

    model: TwoLayerNet
    inputs: torch.Tensor
    targets: torch.Tensor

    @property
    def rows(self) -> int:
        return self.inputs.shape[0]

    @property
    def width(self) -> int:
        return self.model.width

    @property
    def outputs(self) -> int:
        return self.model.output_dim

    @property
    def dtype(self) -> torch.dtype:
        return self.model.dtype

    def hidden(self, start: int, stop: int, buffers: ChunkBuffers | None = None) -> torch.Tensor:
        """act(X[start:stop] A^T + bias), (stop - start, N) in the model's dtype, bitwise
        ``sims.nets.model.hidden_activations``: written into ``buffers`` ("preactivation", and
        "hidden" unless act(Z) overwrites Z), or into fresh tensors when ``buffers`` is None."""
        model, rows = self.model, stop - start
        buffers = ChunkBuffers(rows) if buffers is None else buffers
        kernels = _KERNELS[model.activation]
        z = buffers.take("preactivation", rows, (self.width,), model.dtype, model.device)
        torch.mm(_as_input(model, self.inputs[start:stop]), model.first_weight.T, out=z)
        if model.first_bias is not None:
            z.add_(model.first_bias)
        hidden = z if kernels.from_hidden else buffers.take("hidden", rows, (self.width,), model.dtype, model.device)
        kernels.forward(z, hidden)
        return hidden

    def dots(self, start: int, stop: int, vectors: torch.Tensor, hidden=None,
             buffers: ChunkBuffers | None = None) -> torch.Tensor:
        """sum_{j in chunk, k} phi[j, i, k] v[j, k] for every i, float64 (N,); v: (chunk, K) float64.
        ``hidden``: the chunk's hidden activations if already computed, else computed into ``buffers``."""
        hidden = self.hidden(start, stop, buffers) if hidden is None else hidden
        products = (vectors.to(hidden.dtype).T @ hidden).T.to(torch.float64)  # (N, K); V^T H reads H row-major
        result = (products * self.model.second_weight.to(torch.float64)).sum(1)
        return result * self.model.neuron_scale if self.model.scaling != "mean-field" else result

    def sq_norms(self, start: int, stop: int, hidden=None, buffers: ChunkBuffers | None = None) -> torch.Tensor:
        """||phi_i||^2 summed over the chunk's rows, float64 (N,) (float64 squares in ``buffers``)."""
        hidden = self.hidden(start, stop, buffers) if hidden is None else hidden
        squares = _squares(hidden, ChunkBuffers(stop - start) if buffers is None else buffers)
        second = self.model.second_weight.to(torch.float64)
        return squares.sum(0) * (second * second).sum(1) * self.model.neuron_scale ** 2

    def columns(self, indices) -> torch.Tensor:
        """phi[:, indices, :] on all rows of the source as float64 (rows, len, K), computed as
        sims.nets.model.neuron_features computes them."""
        index = torch.as_tensor(indices, dtype=torch.long)
        model = self.model
        small = TwoLayerNet(model.first_weight[index], model.second_weight[index],
                            None if model.first_bias is None else model.first_bias[index], model.activation,
                            model.scaling)
        hidden = hidden_activations(small, self.inputs)  # (rows, len)
        values = hidden.unsqueeze(2) * model.second_weight[index].unsqueeze(0)
        if model.scaling != "mean-field":
            values = values * model.neuron_scale
        return values.to(torch.float64)


@dataclass(frozen=True, eq=False)
class ArraySource:
    """Features given as an array (rows, N) or (rows, N, K) of float32/float64, e.g. a
    ``numpy.memmap`` of a file larger than memory; read ``chunk`` rows at a time. ``targets``:
    (rows,) or (rows, K)."""

    features: object
    targets: object

    def __post_init__(self):
        shape = tuple(getattr(self.features, "shape", ()))
        if len(shape) not in (2, 3) or 0 in shape:
            raise InputError(f"features must have shape (m, N) or (m, N, K) with m, N, K >= 1, got {shape}")
        if not np.issubdtype(np.dtype(self.features.dtype), np.number):
            raise InputError(f"features must be numeric, got dtype {self.features.dtype}")

    @property
    def rows(self) -> int:
        return self.features.shape[0]

    @property
    def width(self) -> int:
        return self.features.shape[1]

    @property
    def outputs(self) -> int:
        return self.features.shape[2] if len(self.features.shape) == 3 else 1

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32 if np.dtype(self.features.dtype) == np.float32 else torch.float64

    def hidden(self, start: int, stop: int, buffers: ChunkBuffers | None = None) -> torch.Tensor:
        """Rows start..stop-1 of the features as (rows, N, K) in :attr:`dtype`: read into the
        buffer "read" (the array's own dtype; converted into "features" when that differs), or
        into fresh arrays when ``buffers`` is None. Checked finite as each chunk is read (the
        array is never read whole)."""
        rows, tail = stop - start, tuple(self.features.shape[1:])
        buffers = ChunkBuffers(rows) if buffers is None else buffers
        read = buffers.take("read", rows, tail, np.dtype(self.features.dtype))
        read[...] = self.features[start:stop]
        block = torch.as_tensor(read)
        if block.dtype != self.dtype:
            block = buffers.take("features", rows, tail, self.dtype).copy_(block)
        _check_finite(block, start, stop)
        return block.unsqueeze(2) if block.ndim == 2 else block

    def dots(self, start: int, stop: int, vectors: torch.Tensor, hidden=None,
             buffers: ChunkBuffers | None = None) -> torch.Tensor:
        """sum_{j in chunk, k} phi[j, i, k] v[j, k] for every i, float64 (N,); v: (chunk, K) float64."""
        block = self.hidden(start, stop, buffers) if hidden is None else hidden
        if min(block.shape) > 1:
            # einsum contracts (j, k) with one bmm over the block in (i, j, k) order, copying it into
            # a fresh tensor when that order is not a view of it: copied here into a reused buffer
            rows, width, outputs = block.shape
            buffers = ChunkBuffers(rows) if buffers is None else buffers
            neuron_major = buffers.take("neuron_major", rows, (width * outputs,), block.dtype)
            neuron_major = neuron_major.view(width, rows, outputs).copy_(block.permute(1, 0, 2))
            block = neuron_major.permute(1, 0, 2)
        return torch.einsum("jik,jk->i", block, vectors.to(block.dtype)).to(torch.float64)

    def sq_norms(self, start: int, stop: int, hidden=None, buffers: ChunkBuffers | None = None) -> torch.Tensor:
        """||phi_i||^2 summed over the chunk's rows, float64 (N,) (float64 squares in ``buffers``)."""
        block = self.hidden(start, stop, buffers) if hidden is None else hidden
        return _squares(block, ChunkBuffers(stop - start) if buffers is None else buffers).sum((0, 2))

    def columns(self, indices) -> torch.Tensor:
        values = torch.as_tensor(np.array(self.features[:, np.asarray(indices)])).to(torch.float64)
        return values.unsqueeze(2) if values.ndim == 2 else values


def _targets(source) -> torch.Tensor:
    """The source's targets as (rows, K) float64, refused with an InputError unless they have
    shape (rows, K) (or (rows,) when K = 1) and finite entries."""
    try:
        targets = np.asarray(source.targets, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"target must be a numeric array, got {type(source.targets).__name__}") from None
    rows, outputs = source.rows, source.outputs
    if targets.shape not in ((rows, outputs), (rows,) if outputs == 1 else (rows, outputs)):
        raise InputError(f"target must have shape ({rows}, {outputs})" + (f" or ({rows},)" if outputs == 1 else "")
                         + f" to match the features, got {targets.shape}")
    if not np.all(np.isfinite(targets)):
        raise InputError("target contains NaN or inf; only finite values are accepted")
    return torch.as_tensor(targets).reshape(rows, outputs)


# ---------------------------------------------------------------------------------------
# One shard: partial sums over its rows, and its part of the method's state vectors


class FeatureShard:
    """A block of data rows and its part of a selection's state (see the module docstring).

    ``source``: a :class:`NetworkSource` or :class:`ArraySource`, or a zero-argument callable
    returning one (called here, so a Dask worker can build or load its own rows).
    ``chunk_rows``: rows per chunk (default all rows: one chunk). ``cache``: keep every chunk's
    hidden activations (rows x N) in memory instead of recomputing them at every pass.
    Every method returns float64 numpy partial sums over this shard's rows. A chunk's
    temporaries live in ``buffers``, sized by the largest chunk, allocated on the first pass
    that needs them and reused by every later one.
    """

    def __init__(self, source, chunk_rows: int | None = None, cache: bool = False):
        self.source = source() if callable(source) else source
        self.target = _targets(self.source)  # (rows, K) float64
        rows = self.source.rows
        step = rows if not chunk_rows else max(1, int(chunk_rows))
        self.chunks = [(start, min(rows, start + step)) for start in range(0, rows, step)]
        self.cache = [self.source.hidden(a, b) for a, b in self.chunks] if cache else None  # fresh tensors each
        self.buffers = ChunkBuffers(max((stop - start for start, stop in self.chunks), default=0))
        self.total = torch.zeros_like(self.target)  # running sum of picks (averaging methods)
        self.output = torch.zeros_like(self.target)  # current subnetwork output (re-weighted methods)
        self.pending = None
        self.direction = None

    # -- description
    def info(self) -> tuple[int, int, int, float]:
        """(rows, N, K, machine epsilon of the features' dtype)."""
        return self.source.rows, self.source.width, self.target.shape[1], float(torch.finfo(self.source.dtype).eps)

    # -- passes over the features
    def _hidden(self, position: int) -> torch.Tensor:
        """Chunk ``position``'s hidden activations (or features): cached, or computed into the
        shard's buffers (valid until the next chunk)."""
        if self.cache is not None:
            return self.cache[position]
        start, stop = self.chunks[position]
        return self.source.hidden(start, stop, self.buffers)

    def _dots(self, vectors: torch.Tensor) -> np.ndarray:
        result = None
        for position, (start, stop) in enumerate(self.chunks):
            part = self.source.dots(start, stop, vectors[start:stop], self._hidden(position), self.buffers)
            result = part if result is None else result + part
        return result.numpy()

    def sq_norms(self) -> np.ndarray:
        result = None
        for position, (start, stop) in enumerate(self.chunks):
            part = self.source.sq_norms(start, stop, self._hidden(position), self.buffers)
            result = part if result is None else result + part
        self.buffers.release("squares")  # float64, used by this pass only
        return result.numpy()

    def _column(self, i: int) -> torch.Tensor:
        return self.source.columns([int(i)])[:, 0, :]  # (rows, K)

    @staticmethod
    def _sq(vector: torch.Tensor) -> float:
        flat = vector.reshape(-1)
        return float(flat @ flat)

    # -- averaging methods (gfs, gfs-norep, herding, stochastic-gfs)
    def averaging_dots(self, k: int, linearised: bool) -> np.ndarray:
        """<phi_i, direction> with the engine's direction at step k (see sims.select)."""
        previous = self.total / (k - 1) if k > 1 else self.total
        direction = previous - self.target if linearised else (k - 1) / k * previous - self.target
        return self._dots(direction)

    def add(self, i: int, k: int) -> float:
        """Add pick i at step k; returns the partial ||total / k - Y||^2."""
        self.total += self._column(i)
        return self._sq(self.total / k - self.target)

    # -- re-weighted methods (fw, fcfw)
    def target_dots(self) -> np.ndarray:
        """<phi_i, -Y> for every i (the best single neuron's score)."""
        return self._dots(-self.target)

    def start_at(self, i: int) -> float:
        """f = phi_i; returns the partial ||f - Y||^2."""
        self.output = self._column(i)
        return self._sq(self.output - self.target)

    def residual_dots(self, accept: bool) -> np.ndarray:
        """First, if ``accept``, the pending candidate becomes f; then <phi_i, f - Y> for every i."""
        if accept:
            self.output = self.pending
        self.pending = None
        return self._dots(self.output - self.target)

    def fw_direction(self, vertex: int) -> tuple[float, float]:
        """d = phi_vertex - f; returns the partial (<f - Y, d>, ||d||^2)."""
        self.direction = self._column(vertex) - self.output
        residual = (self.output - self.target).reshape(-1)
        flat = self.direction.reshape(-1)
        return float(residual @ flat), float(flat @ flat)

    def try_step(self, step: float) -> float:
        """Pending candidate f + step * d; returns its partial ||. - Y||^2."""
        self.pending = self.output + step * self.direction
        return self._sq(self.pending - self.target)

    def centred_column(self, vertex: int, support: list[int]) -> tuple[np.ndarray, float]:
        """q = phi_vertex - Y; returns the partial (<phi_j - Y, q> for j in support, ||q||^2)."""
        q = (self._column(vertex) - self.target).reshape(-1)
        rows = self.source.columns(support) - self.target.unsqueeze(1)  # (rows, |S|, K)
        centred = rows.permute(1, 0, 2).reshape(len(support), -1)
        return (centred @ q).numpy(), float(q @ q)

    def try_weights(self, support: list[int], weights: np.ndarray) -> float:
        """Pending candidate sum_j w_j phi_{S_j}; returns its partial ||. - Y||^2."""
        rows = self.source.columns(support)  # (rows, |S|, K)
        self.pending = torch.einsum("s,jsk->jk", torch.as_tensor(weights, dtype=torch.float64), rows)
        return self._sq(self.pending - self.target)


# ---------------------------------------------------------------------------------------
# Shard groups: how the driver talks to its shards


class LocalShards:
    """Shards in this process (the chunked engine)."""

    def __init__(self, shards: list[FeatureShard]):
        self.shards = shards

    def call(self, name: str, *args) -> list:
        return [getattr(shard, name)(*args) for shard in self.shards]


class DaskShards:
    """Shards living in Dask actors: ``call`` sends one message to every actor, then waits for all."""

    def __init__(self, actors: list):
        self.actors = actors

    def call(self, name: str, *args) -> list:
        futures = [getattr(actor, name)(*args) for actor in self.actors]
        return [future.result() for future in futures]


def _total(parts: list):
    """Sum of per-shard results in shard order (arrays, floats or tuples of them)."""
    if isinstance(parts[0], tuple):
        return tuple(_total([part[i] for part in parts]) for i in range(len(parts[0])))
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def _first_min(scores: np.ndarray, scale: float, eps: float) -> int:
    """The engine's tie rule: the lowest index whose score is within 16 eps * scale of the minimum."""
    best = scores.min()
    return int(np.flatnonzero(scores <= best + 16 * eps * scale)[0])


# ---------------------------------------------------------------------------------------
# The driver: the engine's algorithms on partial sums


def _check_request(n, method: str, options: dict, width: int) -> None:
    if method not in EXACT_METHODS:
        raise InputError(f"method {method!r} cannot run on sharded features; valid: {', '.join(EXACT_METHODS)}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"n must be a positive integer (the subnetwork size), got {n!r}")
    accepted = {"stochastic-gfs": {"eps"}, "fcfw": {"tol"}}.get(method, set())
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise InputError(f"method {method!r} does not take option(s) {', '.join(unknown)}; "
                         f"it accepts: {', '.join(sorted(accepted)) or 'no options'}")
    if method == "gfs-norep" and n > width:
        raise InputError(f"n = {n} exceeds the number of neurons N = {width}; method 'gfs-norep' picks each "
                         "neuron at most once, so n must be <= N")


def run_on_shards(shards, n: int, method: str = "gfs", *, seed: int | None = None, **options) -> Selection:
    """Run ``method`` (one of :data:`EXACT_METHODS`) over ``shards`` (:class:`LocalShards` or
    :class:`DaskShards`) and return the engine's :class:`sims.selection.engine.Selection`.

    Per step: gfs, herding, stochastic-gfs one pass over every shard's features; fw and fcfw one
    pass plus O(rows) (fcfw: O(|S| rows)) work per shard. Messages per step: 2 (averaging),
    3 (fw, fcfw), each carrying at most N numbers back from every shard.
    """
    infos = shards.call("info")
    m = sum(info[0] for info in infos)
    width, eps = infos[0][1], infos[0][3]
    _check_request(n, method, options, width)
    n = int(n)
    sq_norms = _total(shards.call("sq_norms"))
    if method in ("fw", "fcfw"):
        indices, losses, weights = _reweighted(shards, n, method, m, width, eps, sq_norms, **options)
    else:
        indices, losses, weights = _averaging(shards, n, method, seed, m, width, eps, sq_norms, **options)
    defaults = {"stochastic-gfs": {"eps": 0.01}, "fcfw": {"tol": 1e-12}}.get(method, {})
    return Selection(indices=np.asarray(indices, dtype=np.int64), losses=np.asarray(losses, dtype=np.float64),
                     weights=np.asarray(weights, dtype=np.float64), method=method, seed=seed,
                     options={**defaults, **options})


def _averaging(shards, n, method, seed, m, width, eps, sq_norms, **options):
    linearised, repeats = method == "herding", method != "gfs-norep"
    sampler = None
    if method == "stochastic-gfs":
        tolerance = options.get("eps", 0.01)
        if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 < tolerance < 1:
            raise InputError(f"option eps must be a number in (0, 1), got {tolerance!r}")
        size = min(width, max(1, math.ceil(width / n * math.log(1 / tolerance))))
        rng = np.random.default_rng(0 if seed is None else seed)
        sampler = lambda: np.sort(rng.choice(width, size=size, replace=False))  # noqa: E731 (the engine's draws)
    indices, losses = np.empty(n, dtype=np.int64), np.empty(n)
    allowed = np.ones(width, dtype=bool)
    for k in range(1, n + 1):
        candidates = None if sampler is None else sampler()
        dots = _total(shards.call("averaging_dots", k, linearised))
        if candidates is not None:
            dots = dots[candidates]
        if linearised:
            scores, scale = dots, float(np.abs(dots).max())
        else:
            norms = sq_norms if candidates is None else sq_norms[candidates]
            scores = norms + 2 * k * dots
            scale = float(norms.max()) + 2 * k * float(np.abs(dots).max())
        if not repeats:
            scores = np.where(allowed, scores, math.inf)
        position = _first_min(scores, scale, eps)
        chosen = position if candidates is None else int(candidates[position])
        allowed[chosen] = False
        indices[k - 1] = chosen
        losses[k - 1] = 0.5 * _total(shards.call("add", chosen, k)) / m
    weights = np.bincount(indices, minlength=width).astype(np.float64) / n
    return indices, losses, weights


def _reweighted(shards, n, method, m, width, eps, sq_norms, *, tol=1e-12):
    indices, losses = np.empty(n, dtype=np.int64), np.empty(n)
    dots = _total(shards.call("target_dots"))
    first = _first_min(sq_norms + 2 * dots, float(sq_norms.max()) + 2 * float(np.abs(dots).max()), eps)
    first_sq = _total(shards.call("start_at", first))
    indices[0], losses[0] = first, 0.5 * first_sq / m
    weights = np.zeros(width)
    weights[first] = 1.0
    support, support_weights, gram = [first], np.ones(1), np.array([[first_sq]])
    accept = False
    for k in range(1, n):
        dots = _total(shards.call("residual_dots", accept))
        accept = False
        vertex = _first_min(dots, float(np.abs(dots).max()), eps)
        indices[k], losses[k] = vertex, losses[k - 1]
        if method == "fw":
            inner, sq_length = _total(shards.call("fw_direction", vertex))
            step = min(1.0, max(0.0, -inner / sq_length)) if sq_length > 0 else 0.0
            candidate_loss = 0.5 * _total(shards.call("try_step", step)) / m
            if candidate_loss <= losses[k - 1]:
                accept, losses[k] = True, candidate_loss
                weights *= 1 - step
                weights[vertex] += step
            continue
        if vertex in support:
            continue  # f is already optimal on S, which contains the best vertex
        column, diagonal = _total(shards.call("centred_column", vertex, support))
        size = len(support)
        extended = np.empty((size + 1, size + 1))
        extended[:size, :size], extended[:size, size], extended[size, :size] = gram, column, column
        extended[size, size] = diagonal
        gram = extended
        support = support + [vertex]
        support_weights = np.append(support_weights, 0.0)
        solved = min_norm_point(gram, support_weights, tol=tol)
        solved_loss = 0.5 * _total(shards.call("try_weights", support, solved)) / m
        if solved_loss <= losses[k - 1]:
            accept, support_weights, losses[k] = True, solved, solved_loss
    if method == "fcfw":
        weights = np.zeros(width)
        weights[support] = support_weights
    return indices, losses, weights


# ---------------------------------------------------------------------------------------
# Entry points


def split_rows(rows: int, shards: int) -> list[tuple[int, int]]:
    """``shards`` contiguous, near-equal blocks [start, stop) of ``rows`` rows (``numpy.array_split``)."""
    if isinstance(shards, bool) or not isinstance(shards, (int, np.integer)) or not 1 <= shards <= rows:
        raise InputError(f"shards must be an integer in [1, m = {rows}], got {shards!r}")
    edges = np.cumsum([0] + [len(block) for block in np.array_split(np.arange(rows), shards)])
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _network_inputs(model: TwoLayerNet, inputs, targets) -> tuple[torch.Tensor, torch.Tensor]:
    inputs = torch.as_tensor(inputs, dtype=model.dtype)
    if inputs.ndim != 2 or inputs.shape[1] != model.input_dim:
        raise InputError(f"inputs must have shape (m, {model.input_dim}), got {tuple(inputs.shape)}")
    targets = torch.as_tensor(np.asarray(targets, dtype=np.float64)).reshape(inputs.shape[0], -1)
    if targets.shape[1] != model.output_dim:
        raise InputError(f"targets must have shape (m, {model.output_dim}) to match the network, "
                         f"got {tuple(targets.shape)}")
    if not bool(torch.isfinite(targets).all()):
        raise InputError("targets contain NaN or inf; only finite values are accepted")
    return inputs, targets


def chunked_select(source, n: int, method: str = "gfs", *, chunk_rows: int | None = None, cache: bool = False,
                   seed: int | None = None, **options) -> Selection:
    """Exact selection in this process, streaming the features in chunks of ``chunk_rows`` data rows.

    ``source``: a :class:`NetworkSource` (features computed on the fly from the network, never
    materialised) or an :class:`ArraySource` (e.g. a memory-mapped (m, N, K) file). Same picks
    as ``sims.selection.engine.select`` on the full array, losses equal to rounding. Memory: the buffers of
    one chunk, reused by every pass (a network: Z = X A^T, chunk_rows x N, and act(Z) unless it
    overwrites Z; an array: the chunk of chunk_rows x N x K features as read, a converted copy
    if its dtype is not float32/64, and a neuron-major copy for the contraction; the first pass
    also float64 squares of one chunk), plus O(mK + N).
    """
    if chunk_rows is not None and (isinstance(chunk_rows, bool) or not isinstance(chunk_rows, (int, np.integer))
                                   or chunk_rows < 1):
        raise InputError(f"chunk_rows must be a positive integer or None, got {chunk_rows!r}")
    return run_on_shards(LocalShards([FeatureShard(source, chunk_rows, cache)]), n, method, seed=seed, **options)


def start_dask_shards(client, factories: list[Callable[[], object]], *, chunk_rows: int | None = None,
                      cache: bool = True) -> DaskShards:
    """One :class:`FeatureShard` actor per factory (a picklable zero-argument callable returning a
    source, run on the worker), placed round-robin on the client's workers."""
    workers = sorted(client.scheduler_info()["workers"])
    futures = [client.submit(FeatureShard, factory, chunk_rows, cache, actor=True, pure=False,
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


def sharded_select(model: TwoLayerNet, inputs, targets, n: int, method: str = "gfs", *, shards: int = 2,
                   client=None, scheduler: str | None = None, workers: int = 2, processes: bool = True,
                   chunk_rows: int | None = None, cache: bool = True, seed: int | None = None,
                   **options) -> Selection:
    """Exact selection with the data rows split over ``shards`` Dask actors.

    model: the dense network; inputs (m, d); targets (m, K). Each shard gets its block of rows
    (:func:`split_rows`) and the network, and computes its own features (``cache``: keeps its
    hidden activations, rows x N, instead of recomputing them every step; ``chunk_rows`` bounds
    the temporaries). Cluster: ``client`` if given; else ``scheduler`` (address of an existing
    Dask scheduler); else a local cluster of ``workers`` processes (threads if not ``processes``)
    with one thread each, closed afterwards. Returns the engine's Selection: same picks as
    ``sims.selection.engine.select(neuron_features(model, inputs), targets, n, method)``.
    """
    require("dask.distributed", "selection over Dask workers (shards)")
    inputs, targets = _network_inputs(model, inputs, targets)
    _check_request(n, method, options, model.width)
    blocks = split_rows(inputs.shape[0], shards)
    factories = [partial(NetworkSource, model, inputs[a:b].clone(), targets[a:b].clone()) for a, b in blocks]
    if client is not None:
        group = start_dask_shards(client, factories, chunk_rows=chunk_rows, cache=cache)
        return run_on_shards(group, n, method, seed=seed, **options)
    from contextlib import ExitStack

    from dask.distributed import Client

    with ExitStack() as resources:  # closed in reverse order, each even if another fails
        if scheduler:
            client = resources.enter_context(Client(scheduler))
        else:
            cluster = resources.enter_context(_local_cluster(workers, processes))
            client = resources.enter_context(Client(cluster))
        group = start_dask_shards(client, factories, chunk_rows=chunk_rows, cache=cache)
        return run_on_shards(group, n, method, seed=seed, **options)


def network_select(model: TwoLayerNet, inputs, targets, n: int, method: str, sharding: ShardingConfig, *,
                   seed: int | None = None, **options) -> Selection:
    """Select from ``model``'s features on (inputs (m, d), targets (m, K) or (m,)) as ``sharding``
    says: in chunks in this process when ``sharding.shards == 1`` and no scheduler is given
    (:func:`chunked_select`), else over Dask workers (:func:`sharded_select`, one worker per shard
    on a local cluster). Same picks as the single-process engine."""
    if sharding.shards == 1 and sharding.scheduler is None:
        inputs, targets = _network_inputs(model, inputs, targets)
        return chunked_select(NetworkSource(model, inputs, targets), n, method, chunk_rows=sharding.chunk_rows,
                              seed=seed, **options)
    return sharded_select(model, inputs, targets, n, method, shards=sharding.shards, scheduler=sharding.scheduler,
                          workers=sharding.shards, chunk_rows=sharding.chunk_rows, seed=seed, **options)
