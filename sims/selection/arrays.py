"""The in-memory array backend of the selection engine: features given as one array.

``ArrayRows`` holds the features neuron-major as an (N, D) matrix, D = m*K, and the state of a
selection on the data rows (the running sum of the picks, the current and the candidate output),
and answers the requests of :mod:`sims.selection.backend` with plain sums over the m*K entries.
Each pass over all N features is ONE matrix-vector product on the caller's threads; everything
else is float64 work of size D (or |S| x D for fcfw and greedy-opt, through the reused scratch
blocks of :class:`Scratch`).

Layouts used without a copy: an (m, N) array in C or Fortran order (its transpose is a row- or
column-major (N, m) matrix, one GEMV either way) and an (m, N, K) permuted view of an
(N, m, K)-contiguous buffer (what ``sims.nets.model.neuron_features`` returns). Copied once, into
neuron-major order: any other (m, N, K) layout, and dtypes other than float32/float64 (converted
to float64); negative numpy strides. The baselines and the set-function methods also read
``phi``, ``target``, ``m`` and ``sq_norms`` of an ``ArrayRows`` directly.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from sims.foundations.errors import InputError
from sims.selection.threads import torch_threads

__all__ = ["ArrayRows", "Scratch", "as_tensor", "neuron_major", "array_rows", "check_target", "BLOCK_ELEMENTS",
           "SCRATCH_BYTES", "ROW_GROUP"]

# Rows per BLAS call of the float64 products over a set of rows: 2**22 // D (at least 1). The
# last bits of a product depend on these call boundaries (MKL's dgemv treats the rows of a call in
# groups of four and the last one to three rows with other kernels), so they are fixed; the rows
# of a call are fed through the reused scratch blocks of :class:`Scratch`.
BLOCK_ELEMENTS = 1 << 22
# Size of each float64 scratch block of fcfw and greedy-opt (2 MiB: in cache, allocated once a run).
SCRATCH_BYTES = 1 << 21
# A scratch block holds a multiple of this many rows, so every row keeps its place in its group
# of four within its BLAS call (eight leaves room for a BLAS that groups by eight).
ROW_GROUP = 8


@dataclass(eq=False)
class ArrayRows:
    """Validated features phi (N, D) neuron-major (possibly a transposed view of the user's
    array), target (D,) float64, and a selection's state on the D entries.

    threads: torch's intra-op thread count for the passes over all N features; everything else
    runs on the caller's setting (the engine runs it on one thread).
    """

    phi: torch.Tensor
    target: torch.Tensor
    m: int
    sq_norms: torch.Tensor  # (N,) float64, ||phi_i||^2 as plain sums
    threads: int = 1
    total: torch.Tensor | None = None  # running sum of the picks (averaging methods)
    output: torch.Tensor | None = None  # the current subnetwork's output (re-weighted methods)
    pending: torch.Tensor | None = None  # a candidate output, adopted by commit(True)
    direction: torch.Tensor | None = None  # fw's phi_v - f
    stored: torch.Tensor | None = None  # fcfw: float64 rows of the support, in order of entry
    support_size: int = 0
    scratch: "Scratch | None" = field(default=None, repr=False)

    # -- what the loops and baselines read
    @property
    def width(self) -> int:
        return self.phi.shape[0]

    @property
    def eps(self) -> float:
        return torch.finfo(self.phi.dtype).eps

    def info(self) -> tuple[int, int, float]:
        """(m, N, machine epsilon of the features' dtype)."""
        return self.m, self.width, self.eps

    def row(self, i: int) -> torch.Tensor:
        """phi_i as a float64 vector (D,)."""
        return self.phi[i].to(torch.float64)

    def pass_over(self, matrix: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
        """matrix @ vector in the matrix's dtype, returned as float64: a GEMV over (a subset
        of) the (., D) features, the one large operation of a step, on ``threads`` threads."""
        with torch_threads(self.threads):
            return torch.mv(matrix, vector.to(matrix.dtype)).to(torch.float64)

    def dots(self, vector: torch.Tensor) -> torch.Tensor:
        """<phi_i, vector> for every i, (N,) float64: ONE pass over the features."""
        return self.pass_over(self.phi, vector)

    def loss(self, output: torch.Tensor) -> float:
        """0.5 * mean over samples of ||output - target||^2, from the explicit residual."""
        return 0.5 * self._sq_residual(output) / self.m

    def _sq_residual(self, output: torch.Tensor) -> float:
        residual = output - self.target
        return float(residual @ residual)

    def _scratch(self) -> "Scratch":
        if self.scratch is None:
            self.scratch = Scratch(self)
        return self.scratch

    # -- requests (sims.selection.backend): sums over the rows, float64
    def norms(self) -> np.ndarray:
        return self.sq_norms.cpu().numpy()

    def add(self, pick: int, k: int) -> float:
        if self.total is None:
            self.total = torch.zeros_like(self.target)
        self.total += self.row(pick)
        return self._sq_residual(self.total / k)

    def averaging_dots(self, k: int, linearised: bool, candidates) -> np.ndarray:
        total = torch.zeros_like(self.target) if self.total is None else self.total
        previous = total / (k - 1) if k > 1 else total
        phi = self.phi if candidates is None else self.phi[torch.as_tensor(candidates, device=self.phi.device)]
        if not linearised:
            return self.pass_over(phi, (k - 1) / k * previous - self.target).cpu().numpy(), None, None
        direction = previous - self.target
        return self.pass_over(phi, direction).cpu().numpy(), float(direction @ direction), float(previous @ previous)

    def target_dots(self) -> tuple[np.ndarray, float]:
        return self.dots(-self.target).cpu().numpy(), float(self.target @ self.target)

    def target_sq(self) -> float:
        return float(self.target @ self.target)

    def start_at(self, i: int, store: bool) -> float:
        self.output = self.row(i)
        if store:
            self._store(self.output)
        return self._sq_residual(self.output)

    def commit(self, accept: bool) -> None:
        if accept:
            self.output = self.pending
        self.pending = None

    def residual_dots(self, pending: bool = False):
        output = self.pending if pending else self.output
        residual = output - self.target
        return self.dots(residual).cpu().numpy(), float(residual @ output), float(output @ output)

    def fw_direction(self, vertex: int) -> tuple[float, float]:
        self.direction = self.row(vertex) - self.output
        return float((self.output - self.target) @ self.direction), float(self.direction @ self.direction)

    def try_step(self, step: float) -> float:
        self.pending = self.output + step * self.direction
        return self._sq_residual(self.pending)

    def _store(self, row: torch.Tensor) -> None:
        size = self.support_size
        if self.stored is None:
            self.stored = torch.empty((1, row.shape[0]), dtype=torch.float64, device=row.device)
        if size == self.stored.shape[0]:
            grown = torch.empty((2 * size, row.shape[0]), dtype=torch.float64, device=row.device)
            grown[:size] = self.stored
            self.stored = grown
        self.stored[size] = row
        self.support_size = size + 1

    def centred_column(self, vertex: int) -> tuple[np.ndarray, float]:
        """(<phi_j - Y, q> for the stored support j, ||q||^2), q = phi_vertex - Y; then vertex joins
        the stored support. The float64 rows of the support live in a buffer that doubles when
        full: a few allocations per run, none per step."""
        row = self.row(vertex)
        centered = row - self.target
        column = self._scratch().stored_centered_products(self.stored[:self.support_size], centered)
        diagonal = float(centered @ centered)
        self._store(row)
        return column.cpu().numpy(), diagonal

    def try_weights(self, weights: np.ndarray) -> float:
        """Candidate ``weights @ stored support``; its ||. - Y||^2."""
        self.pending = torch.as_tensor(weights, device=self.stored.device) @ self.stored[:self.support_size]
        return self._sq_residual(self.pending)

    def centered_sq_norms(self) -> np.ndarray:
        return self._scratch().centered_sq_norms().cpu().numpy()

    def centered_products(self, neuron: int) -> np.ndarray:
        return self._scratch().centered_products(self.row(neuron) - self.target).cpu().numpy()

    def try_combination(self, rows: list[int], weights: np.ndarray) -> float:
        self.pending = self._scratch().combination(rows, weights)
        return self._sq_residual(self.pending)


class Scratch:
    """Float64 products over a set of neurons in reused blocks: what fcfw and greedy-opt need.

    Two scratch buffers (float64, and the features' dtype) of about ``SCRATCH_BYTES`` each, at
    least ``ROW_GROUP`` rows of D, are allocated once per run, so no step allocates anything
    of size |S| x D. Each result has the bits of the plain formula in its docstring, computed
    with one BLAS call per ``2**22 // D`` rows: row blocks are multiples of ``ROW_GROUP``
    rows inside those calls, and the weighted sum of rows is split by columns, which leaves
    every entry's sum as it was (tests/sims/selection/test_arrays.py checks both).
    """

    def __init__(self, problem: ArrayRows):
        phi = problem.phi
        dim = phi.shape[1]
        self.problem = problem
        self.call_rows = max(1, BLOCK_ELEMENTS // dim)
        fitting = SCRATCH_BYTES // (8 * dim) // ROW_GROUP * ROW_GROUP
        self.block_rows = min(self.call_rows, max(ROW_GROUP, fitting))
        self.capacity = max(self.block_rows * dim, SCRATCH_BYTES // 8)
        self.wide = torch.empty(self.capacity, dtype=torch.float64, device=phi.device)
        self.narrow = None if phi.dtype == torch.float64 else torch.empty(self.capacity, dtype=phi.dtype, device=phi.device)

    def _rows(self, rows: torch.Tensor, columns: slice = slice(None)) -> torch.Tensor:
        """phi[rows, columns] as a float64 (len(rows), width) view of the scratch buffer."""
        phi = self.problem.phi[:, columns]
        shape = (len(rows), phi.shape[1])
        size = shape[0] * shape[1]
        wide = self.wide[:size].view(shape)
        if self.narrow is None:
            return torch.index_select(phi, 0, rows, out=wide)
        return wide.copy_(torch.index_select(phi, 0, rows, out=self.narrow[:size].view(shape)))

    def _row_blocks(self, rows):
        """(start, block) over ``rows`` (default all neurons): each BLAS call's rows, in blocks."""
        device = self.problem.phi.device
        rows = torch.arange(self.problem.width, device=device) if rows is None else torch.as_tensor(rows, dtype=torch.long, device=device)
        start = 0
        for call in rows.split(self.call_rows):
            for block in call.split(self.block_rows):
                yield start, block
                start += len(block)

    def centered_products(self, vector: torch.Tensor, rows=None) -> torch.Tensor:
        """<phi_i - Y, vector> for i in ``rows`` (default all), (len(rows),) float64; as
        ``(phi[rows].double() - Y) @ vector`` per call of 2**22 // D rows. vector: (D,) float64."""
        count = self.problem.width if rows is None else len(rows)
        result = torch.empty(count, dtype=torch.float64, device=vector.device)
        for start, block in self._row_blocks(rows):
            centered = self._rows(block).sub_(self.problem.target)
            torch.mv(centered, vector, out=result[start:start + len(block)])
        return result

    def stored_centered_products(self, stored: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
        """<q - Y, vector> for every row q of ``stored`` ((p, D) float64, contiguous), (p,)
        float64; as ``(stored - Y) @ vector`` per call of 2**22 // D rows."""
        count, dim = stored.shape
        result = torch.empty(count, dtype=torch.float64, device=vector.device)
        for call in range(0, count, self.call_rows):
            call_end = min(count, call + self.call_rows)
            for start in range(call, call_end, self.block_rows):
                end = min(call_end, start + self.block_rows)
                centered = torch.sub(stored[start:end], self.problem.target, out=self.wide[:(end - start) * dim].view(end - start, dim))
                torch.mv(centered, vector, out=result[start:end])
        return result

    def centered_sq_norms(self) -> torch.Tensor:
        """||phi_i - Y||^2 for every i, (N,) float64, from the explicit differences c = phi_i - Y
        (as ``(c * c).sum(1)`` per call of 2**22 // D rows)."""
        result = torch.empty(self.problem.width, dtype=torch.float64, device=self.problem.phi.device)
        for start, block in self._row_blocks(None):
            centered = self._rows(block).sub_(self.problem.target)
            torch.sum(centered.mul_(centered), 1, out=result[start:start + len(block)])
        return result

    def combination(self, rows: list[int], weights: np.ndarray) -> torch.Tensor:
        """sum_j weights_j phi_{rows_j}, (D,) float64: ``weights @ phi[rows].double()`` by
        column blocks. rows: |S| neuron indices; weights: (|S|,) float64."""
        device = self.problem.phi.device
        rows = torch.as_tensor(rows, dtype=torch.long, device=device)
        weights = torch.as_tensor(weights, device=device)
        dim = self.problem.phi.shape[1]
        columns = max(1, self.capacity // len(rows))
        if len(rows) > self.capacity:  # more rows than one column of scratch holds: grow it
            self.capacity = len(rows)
            self.wide = torch.empty(self.capacity, dtype=torch.float64, device=device)
            self.narrow = None if self.narrow is None else torch.empty(self.capacity, dtype=self.narrow.dtype, device=device)
        output = torch.empty(dim, dtype=torch.float64, device=device)
        for start in range(0, dim, columns):
            output[start:start + columns] = weights @ self._rows(rows, slice(start, start + columns))
        return output


# ---------------------------------------------------------------------------------------
# Input validation and layout


def as_tensor(name: str, value) -> torch.Tensor:
    """``value`` (numpy array, memmap, torch tensor, list) as a tensor sharing its memory where
    possible: float32/float64 kept, other real dtypes converted to float64 (a copy), negative
    numpy strides made positive (a copy). InputError for non-real values."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach()
    elif isinstance(value, np.ndarray) or np.isscalar(value) or isinstance(value, (list, tuple)):
        array = np.asarray(value)
        if array.dtype.kind not in "fiu":
            raise InputError(f"{name} must hold real numbers, got dtype {array.dtype}")
        if any(stride < 0 for stride in array.strides):
            array = np.ascontiguousarray(array)
        with warnings.catch_warnings():  # read-only (memory-mapped) arrays are only read here
            warnings.simplefilter("ignore", UserWarning)
            tensor = torch.from_numpy(array)
    else:
        raise InputError(f"{name} must be a numpy array or torch tensor, got {type(value).__name__}")
    if tensor.is_complex() or tensor.dtype == torch.bool:
        raise InputError(f"{name} must hold real numbers, got dtype {tensor.dtype}")
    if tensor.dtype not in (torch.float32, torch.float64):
        tensor = tensor.to(torch.float64)
    return tensor


def neuron_major(features: torch.Tensor) -> torch.Tensor:
    """(m, N) or (m, N, K) -> (N, m*K), a view whenever the memory layout allows it."""
    if features.ndim == 3 and features.shape[2] == 1:
        features = features[:, :, 0]
    if features.ndim == 2:
        matrix = features.t()  # a row-major or column-major view: both are one GEMV
        if matrix.stride(0) == 1 or matrix.stride(1) == 1:
            return matrix
        return matrix.contiguous()
    m, width, k = features.shape
    permuted = features.permute(1, 0, 2)
    if permuted.is_contiguous():
        return permuted.view(width, m * k)
    return permuted.reshape(width, m * k).contiguous()  # one copy, neuron-major


def check_target(target, m: int, outputs: int, shape: tuple, device=None) -> torch.Tensor:
    """``target`` (m,) or (m, K) (also (m, 1) when K = 1) as a flat (m*K,) float64 tensor;
    InputError naming the accepted shapes (``shape``: the features' shape, for the message)."""
    target = as_tensor("target", target).to(device=device)
    if target.ndim == 2 and target.shape[1] == 1 and outputs == 1:
        target = target[:, 0]
    expected = (m,) if outputs == 1 else (m, outputs)
    if tuple(target.shape) != expected:
        accepted = "(m,) or (m, 1)" if outputs == 1 else "(m, K)"
        raise InputError(
            f"target must have shape {accepted} = {expected} to match features {shape}, "
            f"got {tuple(target.shape)}"
        )
    target = target.to(torch.float64).reshape(-1)
    if not bool(torch.isfinite(target).all()):
        raise InputError("target contains NaN or inf; only finite values are accepted")
    return target


def array_rows(features, target, threads: int = 1) -> ArrayRows:
    """Validate (features (m, N) or (m, N, K), target) and hold them as :class:`ArrayRows`."""
    features = as_tensor("features", features)
    if features.ndim not in (2, 3) or 0 in features.shape:
        raise InputError(f"features must have shape (m, N) or (m, N, K) with m, N, K >= 1, got {tuple(features.shape)}")
    m = features.shape[0]
    outputs = features.shape[2] if features.ndim == 3 else 1
    target = check_target(target, m, outputs, tuple(features.shape), features.device)
    phi = neuron_major(features)
    sq_norms = _sq_norms(phi)
    if not bool(torch.isfinite(sq_norms).all()):
        raise InputError("features contain NaN or inf (or values too large to square); only finite values are accepted")
    return ArrayRows(phi=phi, target=target, m=m, sq_norms=sq_norms, threads=threads)


def _sq_norms(phi: torch.Tensor) -> torch.Tensor:
    """||phi_i||^2 for every row of phi (N, D), float64 (N,): one pass, no temporary copy.

    Rows of unit stride (neuron-major, a Fortran-order (m, N) array): torch's norm along them.
    Columns of unit stride (a C-order (m, N) array, phi its transpose): torch's reduction across
    rows reads such a matrix at a fraction of the memory's speed (~0.4 s for 160 MB here, ten
    passes' worth), so numpy's einsum sums the squares row after row of the (m, N) array instead,
    at the speed of one pass (accumulated in the array's dtype, as torch's norm is)."""
    if phi.stride(1) == 1 or phi.shape[1] == 1 or phi.device.type != "cpu":
        return torch.linalg.vector_norm(phi, dim=1).to(torch.float64) ** 2
    array = phi.t().numpy()  # (m, N), C order: a view
    return torch.from_numpy(np.einsum("ji,ji->i", array, array)).to(torch.float64)
