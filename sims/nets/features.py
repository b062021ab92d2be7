"""A network's neuron features for the selection engine, in factored form, and the selection
entries that take a network.

phi_i(x_j) = c * act(a_i . x_j + bias_i) * b_i factors through the hidden activations
H = act(X A^T + bias) (m x N) and the second layer B (N x K): :func:`neuron_factors` gives
(H, B, c), and ``select(Factored(H, B, c), Y, n, method)`` selects without ever forming the
(m, N, K) array (:func:`select_network` does both). :class:`NetworkSource` computes H chunk by
chunk from the network, for features larger than memory (:func:`sims.selection.sharded.chunked_select`)
and for Dask shards, where each worker computes its own rows (:func:`sharded_select`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from sims.foundations.errors import InputError
from sims.nets.model import TwoLayerNet, _as_input, hidden_activations
from sims.nets.train import _KERNELS  # act(Z) into a given tensor, bitwise sims.nets.model.ACTIVATIONS (tested there)
from sims.selection.engine import Selection, select
from sims.selection.sharded import ShardingConfig, chunked_select, select_on_shards, split_rows
from sims.selection.sources import ChunkBuffers, Factored, FactoredSums

__all__ = ["neuron_factors", "select_network", "NetworkSource", "network_inputs", "sharded_select",
           "network_select"]


def neuron_factors(model: TwoLayerNet, inputs) -> Factored:
    """The network's features on ``inputs`` (m, d) in factored form: ``Factored(H, B, c)`` with
    H = act(X A^T + bias) (m, N) in the model's dtype (``sims.nets.model.hidden_activations``),
    B the second layer (N, K) and c the neuron scale. Memory m*N entries, K times less than
    ``neuron_features``' (m, N, K). Computed without autograd bookkeeping (the features are data)."""
    with torch.no_grad():
        return Factored(hidden_activations(model, inputs), model.second_weight.detach(), float(model.neuron_scale))


def select_network(model: TwoLayerNet, inputs, targets, n: int, method: str = "gfs", **options) -> Selection:
    """``select`` on the network's features in factored form: the picks of
    ``select(neuron_features(model, inputs), targets, n, method)``, losses equal to rounding
    (summation order), a step reading H (m x N) once instead of the (m, N, K) array. ``options``:
    as for :func:`sims.selection.engine.select` (seed, record_steps, threads, method options)."""
    return select(neuron_factors(model, inputs), targets, n, method, **options)


@dataclass(frozen=True, eq=False)
class NetworkSource(FactoredSums):
    """The features of ``model`` on ``inputs`` (rows, d), never materialised:
    phi[j, i, :] = c * act(a_i . x_j + bias_i) * b_i (``sims.nets.model.neuron_features``).
    ``targets``: (rows, K) float64. Per chunk of rows only act(X_chunk A^T) (chunk x N) is formed."""

    model: TwoLayerNet
    inputs: torch.Tensor
    targets: torch.Tensor

    computes_hidden = True  # hidden() makes fresh activations (a shard may keep them in any layout)

    def __post_init__(self):
        object.__setattr__(self, "_second", self.model.second_weight.to(torch.float64))

    @property
    def scale(self) -> float:
        return float(self.model.neuron_scale)

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

    def column_from(self, activations: torch.Tensor, neuron: int) -> torch.Tensor:
        """phi[:, neuron, :] as float64 (rows, K) from the neuron's activations on all rows
        ((rows,) in the model's dtype, e.g. a column of a shard's cached chunks), by the formula
        of :meth:`columns`."""
        values = activations.unsqueeze(1) * self.model.second_weight[int(neuron)]
        if self.model.scaling != "mean-field":
            values = values * self.model.neuron_scale
        return values.to(torch.float64)


def network_inputs(model: TwoLayerNet, inputs, targets) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs (m, d) in the model's dtype, targets (m, K) float64), checked against the network."""
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


def sharded_select(model: TwoLayerNet, inputs, targets, n: int, method: str = "gfs", *, shards: int = 2,
                   client=None, scheduler: str | None = None, workers: int = 2, processes: bool = True,
                   chunk_rows: int | None = None, cache: bool = True, seed: int | None = None,
                   **options) -> Selection:
    """Exact selection with the data rows split over ``shards`` Dask actors.

    model: the dense network; inputs (m, d); targets (m, K). Each shard gets its block of rows
    (:func:`sims.selection.sharded.split_rows`) and the network, and computes its own features
    (``cache``: keeps its hidden activations, rows x N, instead of recomputing them every step;
    ``chunk_rows`` bounds the temporaries). Cluster and messages: as
    :func:`sims.selection.sharded.select_on_shards`. Returns the engine's Selection: same picks
    as ``sims.selection.engine.select(neuron_features(model, inputs), targets, n, method)``.
    """
    inputs, targets = network_inputs(model, inputs, targets)
    blocks = split_rows(inputs.shape[0], shards)
    factories = [partial(NetworkSource, model, inputs[a:b].clone(), targets[a:b].clone()) for a, b in blocks]
    return select_on_shards(factories, n, method, client=client, scheduler=scheduler, workers=workers,
                            processes=processes, chunk_rows=chunk_rows, cache=cache, seed=seed, **options)


def network_select(model: TwoLayerNet, inputs, targets, n: int, method: str, sharding: ShardingConfig, *,
                   seed: int | None = None, **options) -> Selection:
    """Select from ``model``'s features on (inputs (m, d), targets (m, K) or (m,)) as ``sharding``
    says: in chunks in this process when ``sharding.shards == 1`` and no scheduler is given
    (:func:`sims.selection.sharded.chunked_select`), else over Dask workers (:func:`sharded_select`,
    one worker per shard on a local cluster). Same picks as the single-process engine."""
    if sharding.shards == 1 and sharding.scheduler is None:
        inputs, targets = network_inputs(model, inputs, targets)
        return chunked_select(NetworkSource(model, inputs, targets), n, method, chunk_rows=sharding.chunk_rows,
                              seed=seed, **options)
    return sharded_select(model, inputs, targets, n, method, shards=sharding.shards, scheduler=sharding.scheduler,
                          workers=sharding.shards, chunk_rows=sharding.chunk_rows, seed=seed, **options)
