"""Prune a two-layer network to a physically smaller one with a selection method.

Two kinds of model are accepted:

- a :class:`sims.model.TwoLayerNet` (:func:`prune_model`);
- a plain PyTorch state dict of ``nn.Sequential(nn.Linear(d, N), activation, nn.Linear(N, K))``,
  keys ``'0.weight'`` (N, d), ``'0.bias'`` (N,), ``'2.weight'`` (K, N), ``'2.bias'`` (K,), either
  bias optional (:func:`prune_state_dict`). The answer is a state dict of the same kind with
  fewer hidden units, which loads into ``nn.Sequential(nn.Linear(d, n'), activation,
  nn.Linear(n', K))``; masks that leave the model as large as before are not pruning.

A plain model computes W2 act(W1 x + b1) + b2. Without b2 this is the mean of the N neuron
contributions N * W2[:, i] act(w1_i . x + b1_i), i.e. a mean-field TwoLayerNet, so the output
bias is set aside: selection fits the target minus b2 with those contributions, and the pruned
state dict keeps b2 unchanged, so its output is (selected mixture of contributions) + b2.
"""

from __future__ import annotations

import numpy as np
import torch

from sims.errors import InputError
from sims.io import check_choice
from sims.model import ACTIVATIONS, TwoLayerNet, neuron_features, subnetwork
from sims.select import Selection, select

__all__ = [
    "STATE_DICT_KEYS", "prune_model", "model_from_state_dict", "state_dict_from_model",
    "prune_state_dict"
]

STATE_DICT_KEYS = ("0.weight", "0.bias", "2.weight", "2.bias")


def prune_model(model: TwoLayerNet, inputs, targets, n: int, method: str = "gfs", *,
                seed: int | None = None, sharding=None, **options) -> tuple[TwoLayerNet, Selection]:
    """Select n neurons of ``model`` on data (inputs (m, d), targets (m, K) or (m,)) and build
    the physically smaller network.

    Returns (small_model, selection): ``small_model`` has ``selection.support_size`` <= n hidden
    units (repeated picks are merged, zero weights dropped), the same activation and scaling,
    and ``forward(small_model, X)`` equals ``neuron_features(model, X) @ selection.weights``
    for every X, up to rounding. ``method``, ``seed`` and ``options`` are those of
    :func:`sims.select.select`, which also validates them. ``sharding`` (a
    :class:`sims.sharded.ShardingConfig`) streams the features in chunks or splits them over Dask
    workers instead of forming them at once: same picks (see :mod:`sims.sharded`).
    """
    if sharding is None or sharding.whole_array:
        features = neuron_features(model, inputs)  # (m, N, K), a view of a neuron-major buffer
        selection = select(features, targets, n, method, seed=seed, **options)
        del features
    else:
        from sims.sharded import network_select

        selection = network_select(model, inputs, targets, n, method, sharding, seed=seed, **options)
    support = np.flatnonzero(selection.weights)
    return subnetwork(model, support, selection.weights[support]), selection


def model_from_state_dict(state_dict: dict, activation: str = "relu") -> tuple[TwoLayerNet, torch.Tensor]:
    """Convert a Linear-activation-Linear state dict to (mean-field TwoLayerNet, output bias (K,)).

    The network's output on X is ``forward(model, X) + output_bias``. Missing biases are zero
    (first layer: no bias in the TwoLayerNet). Raises ValueError naming missing keys or
    inconsistent shapes.
    """
    check_choice("activation", activation, ACTIVATIONS)
    missing = [key for key in ("0.weight", "2.weight") if key not in state_dict]
    if missing:
        raise InputError(
            f"state dict lacks {', '.join(missing)}; expected the keys {', '.join(STATE_DICT_KEYS)} "
            "of nn.Sequential(nn.Linear(d, N), activation, nn.Linear(N, K)) (biases optional)"
        )
    unexpected = sorted(set(state_dict) - set(STATE_DICT_KEYS))
    if unexpected:
        raise InputError(f"state dict has unexpected keys {', '.join(unexpected)}; accepted: {', '.join(STATE_DICT_KEYS)}")
    first_weight = state_dict["0.weight"].detach()
    second_weight = state_dict["2.weight"].detach()
    if first_weight.ndim != 2 or second_weight.ndim != 2 or second_weight.shape[1] != first_weight.shape[0]:
        raise InputError(
            f"'0.weight' must be (N, d) and '2.weight' (K, N) with the same N, got "
            f"{tuple(first_weight.shape)} and {tuple(second_weight.shape)}"
        )
    width, outputs = first_weight.shape[0], second_weight.shape[0]
    first_bias = state_dict.get("0.bias")
    output_bias = state_dict.get("2.bias")
    if first_bias is not None and tuple(first_bias.shape) != (width,):
        raise InputError(f"'0.bias' must have shape ({width},), got {tuple(first_bias.shape)}")
    if output_bias is not None and tuple(output_bias.shape) != (outputs,):
        raise InputError(f"'2.bias' must have shape ({outputs},), got {tuple(output_bias.shape)}")
    if output_bias is None:
        output_bias = torch.zeros(outputs, dtype=second_weight.dtype, device=second_weight.device)
    model = TwoLayerNet(
        first_weight=first_weight.clone(),
        second_weight=width * second_weight.T.clone(),  # mean-field: output = (1/N) sum_i b_i act(.)
        first_bias=None if first_bias is None else first_bias.detach().clone(),
        activation=activation,
        scaling="mean-field",
    )
    return model, output_bias.detach().clone()


def state_dict_from_model(model: TwoLayerNet, output_bias: torch.Tensor | None = None) -> dict:
    """The Linear-activation-Linear state dict computing ``forward(model, X) + output_bias``.

    Keys '0.weight' (N, d), '0.bias' (N,) (zeros when the model has no first bias),
    '2.weight' (K, N), '2.bias' (K,) (zeros when ``output_bias`` is None). Any scaling works.
    """
    first_bias = model.first_bias
    if first_bias is None:
        first_bias = torch.zeros(model.width, dtype=model.dtype, device=model.device)
    if output_bias is None:
        output_bias = torch.zeros(model.output_dim, dtype=model.dtype, device=model.device)
    return {
        "0.weight": model.first_weight.detach().clone(),
        "0.bias": first_bias.detach().clone(),
        "2.weight": (model.output_scale * model.second_weight).T.contiguous(),
        "2.bias": output_bias.detach().clone(),
    }


def prune_state_dict(state_dict: dict, inputs, targets, n: int, method: str = "gfs", *,
                     activation: str = "relu", seed: int | None = None, sharding=None,
                     **options) -> tuple[dict, Selection]:
    """Prune a plain ``nn.Sequential(nn.Linear(d, N), activation, nn.Linear(N, K))`` state dict.

    inputs (m, d); targets (m, K) or (m,); ``activation`` names the middle module (one of
    sims.model.ACTIVATIONS: torch's ReLU, Tanh, Sigmoid, Softplus, GELU defaults). The output
    bias b2 is subtracted from the targets before selection and kept in the answer (see the
    module docstring). Returns (small_state_dict, selection): the state dict has the same keys
    and dtype with support_size <= n hidden units, and the smaller Sequential's output equals
    ``features @ selection.weights + b2``, features being the dense model's neuron contributions.
    """
    model, output_bias = model_from_state_dict(state_dict, activation)
    targets = torch.as_tensor(targets, dtype=torch.float64, device=model.device)
    bias = output_bias.to(torch.float64)
    if targets.ndim == 2 and targets.shape[1] == model.output_dim:
        shifted = targets - bias
    elif targets.ndim == 1 and model.output_dim == 1:
        shifted = targets - bias[0]
    else:
        raise InputError(f"targets must have shape (m, {model.output_dim})"
                         f"{' or (m,)' if model.output_dim == 1 else ''}, got {tuple(targets.shape)}")
    small, selection = prune_model(model, inputs, shifted, n, method, seed=seed, sharding=sharding, **options)
    small_state = state_dict_from_model(small, output_bias)
    if "0.bias" not in state_dict:
        del small_state["0.bias"]
    if "2.bias" not in state_dict:
        del small_state["2.bias"]
    return small_state, selection
