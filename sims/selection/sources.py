"""Where a shard's features come from, chunk by chunk of data rows: an array, or a network's
factored features.

A **source** has ``rows``, ``width`` (N), ``outputs`` (K), ``dtype``, ``targets`` and, per chunk
of rows [start, stop): ``hidden(start, stop, buffers)`` (the chunk's data: the hidden activations
of a factored source, the (rows, N, K) features of an array), ``dots(start, stop, vectors, hidden,
buffers)`` (<phi_i, v> summed over the chunk, (N,) float64), ``sq_norms(...)`` (||phi_i||^2 over the
chunk), and ``columns(indices)`` (phi[:, indices, :] on all its rows, float64).

- :class:`Factored`: a network's features in factored form, phi_i(x_j) = c * H[j, i] * B[i, :]
  with H (m, N) the hidden activations, B (N, K) the second layer and c the neuron scale. Every
  sum a selection needs factors through H: <phi_i, R> = c * sum_k B[i, k] (H^T R)[i, k], ||phi_i||^2
  = c^2 ||H[:, i]||^2 ||B[i]||^2. A step reads H once (m x N), never an (m, N, K) array. H is used
  as given (numpy, torch or memory-mapped, C or Fortran order, float32 or float64: no copy; other
  dtypes are converted to float64 once).
- :class:`ArraySource`: an (m, N) or (m, N, K) array (e.g. a ``numpy.memmap`` larger than memory),
  read chunk by chunk.

``sims.nets.features.NetworkSource`` is a :class:`Factored` whose H is computed from the network,
chunk by chunk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from sims.foundations.errors import InputError
from sims.selection.arrays import as_tensor

__all__ = ["ChunkBuffers", "FactoredSums", "Factored", "ArraySource", "checked_targets", "NORM_BLOCK_ELEMENTS"]

# Rows of H squared in float64 at a time by Factored.sq_norms: a 32 MiB temporary at most.
NORM_BLOCK_ELEMENTS = 1 << 22


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


def _neuron_major(block: torch.Tensor) -> bool:
    """True for a 2-D block stored neuron by neuron (Fortran order, not also C-contiguous)."""
    return block.ndim == 2 and not block.is_contiguous() and block.T.is_contiguous()


def _check_finite(block: torch.Tensor, start: int, stop: int, name: str = "features") -> None:
    """InputError unless every entry of ``block`` (data rows start..stop-1) is finite. min and
    max propagate NaN, so both are finite exactly when every entry is (and nothing of the
    block's size is allocated, as isfinite would)."""
    low, high = torch.aminmax(block.T if _neuron_major(block) else block)  # reduced in memory order
    if not (math.isfinite(low) and math.isfinite(high)):
        raise InputError(f"{name} contain NaN or inf (data rows {start}..{stop - 1}); only finite values "
                         "are accepted")


class FactoredSums:
    """The sums of a factored source, phi[j, i, :] = scale * H[j, i] * B[i, :], from a chunk of H:
    for classes with ``hidden(start, stop, buffers)``, ``_second`` ((N, K) float64), ``scale``
    and ``width``."""

    def dots(self, start: int, stop: int, vectors: torch.Tensor, hidden=None,
             buffers: ChunkBuffers | None = None) -> torch.Tensor:
        """sum_{j in chunk, k} phi[j, i, k] v[j, k] for every i, float64 (N,); v: (chunk, K) float64.
        One product V^T H (K x N) in H's dtype: one read of the chunk of H."""
        hidden = self.hidden(start, stop, buffers) if hidden is None else hidden
        products = (vectors.to(hidden.dtype).T @ hidden).T.to(torch.float64)  # (N, K)
        result = (products * self._second).sum(1)
        return result * self.scale if self.scale != 1 else result

    def neuron_products(self, start: int, stop: int, neuron: int, hidden=None,
                        buffers: ChunkBuffers | None = None) -> torch.Tensor:
        """<phi_i, phi_neuron> summed over the chunk's rows for every i, float64 (N,):
        c^2 (H^T h)_i (B[i] . B[neuron]) with h = H[:, neuron]. phi_neuron has rank one (h times
        B[neuron]), so this is ONE matrix-vector product in H's dtype: one read of the chunk of H,
        where :meth:`dots` against a (chunk, K) vector costs K products' arithmetic."""
        hidden = self.hidden(start, stop, buffers) if hidden is None else hidden
        products = (hidden.T @ self._hidden_column(hidden, start, stop, int(neuron))).to(torch.float64)
        return products * (self._second @ self._second[int(neuron)]) * self.scale ** 2

    def _hidden_column(self, hidden: torch.Tensor, start: int, stop: int, neuron: int) -> torch.Tensor:
        """hidden[:, neuron] as a contiguous (rows,) tensor (a view when hidden is neuron-major)."""
        return hidden[:, neuron].contiguous()

    def sq_norms(self, start: int, stop: int, hidden=None, buffers: ChunkBuffers | None = None) -> torch.Tensor:
        """||phi_i||^2 summed over the chunk's rows, float64 (N,): c^2 ||H[:, i]||^2 ||B[i]||^2, the
        squares of H in float64 blocks of at most 2**22 entries."""
        hidden = self.hidden(start, stop, buffers) if hidden is None else hidden
        if _neuron_major(hidden):  # blocks of neurons, each a contiguous run of memory
            block = max(1, NORM_BLOCK_ELEMENTS // max(1, hidden.shape[0]))
            scratch = ChunkBuffers(min(block, self.width))
            total = torch.cat([_squares(hidden.T[first:first + block], scratch).sum(1)
                               for first in range(0, self.width, block)])
        else:
            block = max(1, NORM_BLOCK_ELEMENTS // max(1, self.width))
            scratch = ChunkBuffers(min(block, hidden.shape[0]))
            total = torch.zeros(self.width, dtype=torch.float64, device=hidden.device)
            for first in range(0, hidden.shape[0], block):
                total += _squares(hidden[first:first + block], scratch).sum(0)
        return total * (self._second * self._second).sum(1) * self.scale ** 2


@dataclass(frozen=True, eq=False)
class Factored(FactoredSums):
    """A network's features in factored form: phi[j, i, :] = scale * activations[j, i] * second[i, :].

    activations: (m, N) hidden activations H = act(X A^T + bias) (numpy, torch or memory-mapped; C or
        Fortran order; float32 or float64 used without a copy, other real dtypes converted to
        float64 once); second: (N, K) second-layer weights; scale: the neuron scale c (1 for
        mean-field, sqrt(N) for NTK scaling), so the dense network's output is the plain mean
        over i of phi_i. ``targets``: (m, K) or (m,), set by the entry that selects (None here).
    ``select(Factored(H, B, c), target, n, method)`` selects from these features without forming
    the (m, N, K) array (``sims.nets.features.neuron_factors(model, X)`` gives the three).
    """

    activations: object
    second: object
    scale: float = 1.0
    targets: object = None

    def __post_init__(self):
        hidden = as_tensor("activations", self.activations)
        if hidden.ndim != 2 or 0 in hidden.shape:
            raise InputError(f"activations must have shape (m, N) with m, N >= 1, got {tuple(hidden.shape)}")
        second = as_tensor("second", self.second).to(device=hidden.device)
        if second.ndim == 1:
            second = second.unsqueeze(1)
        if second.ndim != 2 or second.shape[0] != hidden.shape[1] or second.shape[1] < 1:
            raise InputError(f"second must have shape (N, K) = ({hidden.shape[1]}, K) to match activations "
                             f"{tuple(hidden.shape)}, got {tuple(second.shape)}")
        if not (isinstance(self.scale, (int, float)) and not isinstance(self.scale, bool) and math.isfinite(self.scale)):
            raise InputError(f"scale must be a finite number (the neuron scale c), got {self.scale!r}")
        if not bool(torch.isfinite(second).all()):
            raise InputError("second contains NaN or inf; only finite values are accepted")
        object.__setattr__(self, "_hidden", hidden)
        object.__setattr__(self, "_second", second.to(torch.float64))

    def with_targets(self, targets) -> "Factored":
        return Factored(self._hidden, self._second, self.scale, targets)

    @property
    def rows(self) -> int:
        return self._hidden.shape[0]

    @property
    def width(self) -> int:
        return self._hidden.shape[1]

    @property
    def outputs(self) -> int:
        return self._second.shape[1]

    @property
    def dtype(self) -> torch.dtype:
        return self._hidden.dtype

    def hidden(self, start: int, stop: int, buffers: ChunkBuffers | None = None) -> torch.Tensor:
        """H[start:stop], a view (rows, N) of the given array, checked finite."""
        block = self._hidden[start:stop]
        _check_finite(block, start, stop, "activations")
        return block

    def _hidden_column(self, hidden, start, stop, neuron):
        """H[start:stop, neuron], contiguous. The gather of a column of a C-order H misses the
        cache once per row (~1 ms at m = 20000), and a pick asks for its column twice (its Gram
        column's pass and its contribution to the output): the last column of all of H is kept."""
        if (start, stop) != (0, self.rows):
            return super()._hidden_column(hidden, start, stop, neuron)
        last = getattr(self, "_last_column", None)
        if last is None or last[0] != neuron:
            last = (neuron, super()._hidden_column(self._hidden, 0, self.rows, neuron))
            object.__setattr__(self, "_last_column", last)
        return last[1]

    def columns(self, indices) -> torch.Tensor:
        """phi[:, indices, :] on all rows, float64 (rows, len, K)."""
        index = torch.as_tensor(indices, dtype=torch.long, device=self._hidden.device)
        if len(indices) == 1:  # a pick's column: the one its Gram column's pass gathers too
            picked = self._hidden_column(self._hidden, 0, self.rows, int(indices[0])).unsqueeze(1)
        else:
            picked = torch.index_select(self._hidden, 1, index)
        return picked.to(torch.float64).unsqueeze(2) * self._second[index].unsqueeze(0) * self.scale

    def materialised(self) -> torch.Tensor:
        """The (m, N, K) features as a permuted view of an (N, m, K) buffer (what the methods that
        read the whole array need): memory m*N*K entries of H's dtype."""
        second = self._second.to(self._hidden.dtype)
        buffer = torch.empty((self.width, self.rows, self.outputs), dtype=self._hidden.dtype, device=self._hidden.device)
        torch.mul(self._hidden.T.unsqueeze(2), second.unsqueeze(1), out=buffer)
        if self.scale != 1:
            buffer.mul_(self.scale)
        return buffer.permute(1, 0, 2)


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


def checked_targets(source) -> torch.Tensor:
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
