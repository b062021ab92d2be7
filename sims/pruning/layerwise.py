"""Plain MLPs of any depth, ``nn.Sequential(Linear, act, Linear, act, ..., Linear)``, pruned one
hidden layer at a time.

An MLP with L hidden layers has L + 1 Linear layers: ``z_0 = x``, ``h_l = act(W_{l-1} h_{l-1} +
b_{l-1})`` for l = 1..L (``h_0 = x``) and output ``W_L h_L + b_L``. In an ``nn.Sequential`` the
Linear layers sit at positions 0, 2, ..., 2L (state-dict keys ``'<2l>.weight'`` (out, in) and
``'<2l>.bias'`` (out,), biases optional), the activations between them have no parameters.

Layer-wise pruning (the procedure Ye et al., ICML 2020, apply to deep networks: one layer at a
time, from the input up). Hidden layer l (l = 1..L) and the Linear layer after it form a two-layer
network ``h_{l-1} -> W_l act(W_{l-1} h_{l-1} + b_{l-1}) + b_l``, whose "output" is the next
layer's pre-activation. Its units are selected by :func:`sims.pruning.prune.prune_state_dict` (GFS by
default) with

- inputs: ``h_{l-1}`` computed by the network pruned so far (layers below already narrowed), so
  each layer corrects what the layers below it lost;
- target: the DENSE network's pre-activation of layer l + 1 on the same training inputs (for the
  last hidden layer: the target the caller chose, e.g. the dense network's outputs);

then the rows of ``W_{l-1}, b_{l-1}`` of the kept units are kept and the columns of ``W_l``
restricted to them, each multiplied by N_l times the unit's selection weight (the mean-field
convention of :mod:`sims.pruning.prune`; the bias ``b_l`` is kept and not selected). The result loads into
an ``nn.Sequential`` of the same depth with narrower hidden layers.

Guarantee (docs/THEORY.md, P2, "any target"): for each layer separately, with g_l the unpruned
layer l applied to the inputs it receives from the pruned layers below, the squared loss of the
pruned layer's output against its target is at most that of g_l plus ``V_l (1 + ln n_l) / (2 n_l)``
(V_l the variance of layer l's unit contributions on those inputs). Nothing bounds how errors
compound through later layers; the two-layer case (L = 1) is the analysed one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from sims.foundations.errors import InputError
from sims.foundations.io import check_choice
from sims.nets.model import ACTIVATIONS

__all__ = ["ACTIVATION_MODULES", "PlainMLP", "mlp_from_state_dict", "state_dict_of", "mlp_from_sequential",
           "sequential_of", "hidden", "preactivation", "outputs", "layer_sizes", "prune_layerwise"]

#: torch module of each activation of sims.nets.model.ACTIVATIONS (default arguments).
ACTIVATION_MODULES: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "softplus": nn.Softplus, "gelu": nn.GELU,
}


@dataclass(frozen=True, eq=False)
class PlainMLP:
    """weights: (W_0 (N_1, d), W_1 (N_2, N_1), ..., W_L (K, N_L)) tensors of one dtype; biases:
    one per weight, (rows,) or None; activation: a name of sims.nets.model.ACTIVATIONS, between every
    two Linear layers."""

    weights: tuple
    biases: tuple
    activation: str

    @property
    def widths(self) -> tuple[int, ...]:
        """Hidden widths (N_1, ..., N_L)."""
        return tuple(int(w.shape[0]) for w in self.weights[:-1])

    @property
    def input_dim(self) -> int:
        return int(self.weights[0].shape[1])

    @property
    def output_dim(self) -> int:
        return int(self.weights[-1].shape[0])

    @property
    def dtype(self) -> torch.dtype:
        return self.weights[0].dtype


def _linear_keys(state_dict: dict) -> list[int]:
    positions = sorted(int(key.split(".")[0]) for key in state_dict
                       if key.endswith(".weight") and key.split(".")[0].isdigit())
    return positions


def mlp_from_state_dict(state_dict: dict, activation: str = "relu") -> PlainMLP:
    """The PlainMLP of an ``nn.Sequential(Linear, act, ..., Linear)`` state dict (see the module
    docstring). Raises InputError naming missing or unexpected keys and inconsistent shapes."""
    check_choice("activation", activation, ACTIVATIONS)
    positions = _linear_keys(state_dict)
    count = max(2, (positions[-1] // 2 + 1) if positions else 0)
    expected = [f"{2 * l}.weight" for l in range(count)]
    missing = [key for key in expected if key not in state_dict]
    if missing:
        raise InputError(
            f"state dict lacks {', '.join(missing)}; expected the keys 0.weight, 2.weight, ... (and optional biases) "
            "of nn.Sequential(nn.Linear, activation, nn.Linear, ..., nn.Linear)")
    allowed = set(expected) | {f"{2 * l}.bias" for l in range(count)}
    unexpected = sorted(set(state_dict) - allowed)
    if unexpected:
        raise InputError(f"state dict has unexpected keys {', '.join(unexpected)}; accepted: "
                         f"{', '.join(sorted(allowed, key=lambda k: (int(k.split('.')[0]), k)))}")
    weights, biases = [], []
    for l in range(count):
        weight = state_dict[f"{2 * l}.weight"]
        if not isinstance(weight, torch.Tensor) or weight.ndim != 2:
            raise InputError(f"'{2 * l}.weight' must be a 2-D tensor (out, in)")
        if l and weight.shape[1] != weights[-1].shape[0]:
            raise InputError(f"'{2 * l}.weight' takes {weight.shape[1]} inputs but '{2 * l - 2}.weight' has "
                             f"{weights[-1].shape[0]} outputs (must be the same N)")
        bias = state_dict.get(f"{2 * l}.bias")
        if bias is not None and (not isinstance(bias, torch.Tensor) or tuple(bias.shape) != (weight.shape[0],)):
            raise InputError(f"'{2 * l}.bias' must have shape ({weight.shape[0]},), got "
                             f"{tuple(getattr(bias, 'shape', ()))}")
        weights.append(weight.detach().clone())
        biases.append(None if bias is None else bias.detach().clone())
    if not all(bool(torch.isfinite(t).all()) for t in weights + [b for b in biases if b is not None]):
        raise InputError("the model has NaN or infinite weights")
    return PlainMLP(tuple(weights), tuple(biases), activation)


def state_dict_of(mlp: PlainMLP) -> dict:
    """The ``nn.Sequential`` state dict of ``mlp`` (keys '<2l>.weight', '<2l>.bias' where present)."""
    state = {}
    for l, (weight, bias) in enumerate(zip(mlp.weights, mlp.biases)):
        state[f"{2 * l}.weight"] = weight.detach().clone().contiguous()
        if bias is not None:
            state[f"{2 * l}.bias"] = bias.detach().clone()
    return state


def mlp_from_sequential(module: nn.Sequential) -> PlainMLP:
    """The PlainMLP of an ``nn.Sequential(Linear, act, Linear, ..., Linear)`` object, the
    activation read off its modules (one kind throughout, one of :data:`ACTIVATION_MODULES`)."""
    if not isinstance(module, nn.Sequential):
        raise InputError(f"model must be an nn.Sequential, got {type(module).__name__}")
    parts = list(module)
    names = {cls: name for name, cls in ACTIVATION_MODULES.items()}
    shape_ok = len(parts) >= 3 and len(parts) % 2 == 1 and all(
        isinstance(part, nn.Linear) if i % 2 == 0 else type(part) in names for i, part in enumerate(parts))
    if not shape_ok:
        raise InputError("model must be nn.Sequential(Linear, act, Linear, ..., Linear) with act one of "
                         f"{', '.join(c.__name__ for c in ACTIVATION_MODULES.values())}; got "
                         f"({', '.join(type(p).__name__ for p in parts)})")
    kinds = {names[type(part)] for part in parts[1::2]}
    if len(kinds) != 1:
        raise InputError(f"model mixes activations {sorted(kinds)}; one kind throughout is accepted")
    defaults = {name: cls() for name, cls in ACTIVATION_MODULES.items()}
    for part in parts[1::2]:  # a Softplus(beta=2) or GELU('tanh') computes another function
        if repr(part) != repr(defaults[names[type(part)]]):
            raise InputError(f"activation module {part!r} has non-default arguments; only {type(part).__name__}() "
                             "is accepted")
    return mlp_from_state_dict(module.state_dict(), kinds.pop())


def sequential_of(mlp: PlainMLP) -> nn.Sequential:
    """A fresh ``nn.Sequential`` holding ``mlp``'s weights (same dtype and device)."""
    layers: list[nn.Module] = []
    for l, (weight, bias) in enumerate(zip(mlp.weights, mlp.biases)):
        linear = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None, dtype=weight.dtype,
                           device=weight.device)
        layers.append(linear)
        if l < len(mlp.weights) - 1:
            layers.append(ACTIVATION_MODULES[mlp.activation]())
    module = nn.Sequential(*layers)
    module.load_state_dict(state_dict_of(mlp))
    return module


def preactivation(mlp: PlainMLP, inputs, layer: int) -> torch.Tensor:
    """``W_layer h_layer + b_layer`` (m, rows of W_layer); layer = L gives the outputs."""
    h = hidden(mlp, inputs, layer)
    z = h @ mlp.weights[layer].T
    return z if mlp.biases[layer] is None else z + mlp.biases[layer]


def hidden(mlp: PlainMLP, inputs, layer: int) -> torch.Tensor:
    """``h_layer`` (m, N_layer) on inputs (m, d); layer 0 is the inputs themselves."""
    act = ACTIVATIONS[mlp.activation][0]
    h = torch.as_tensor(inputs, dtype=mlp.dtype, device=mlp.weights[0].device)
    with torch.no_grad():
        for l in range(layer):
            z = h @ mlp.weights[l].T
            h = act(z if mlp.biases[l] is None else z + mlp.biases[l])
    return h


def outputs(mlp: PlainMLP, inputs) -> torch.Tensor:
    """The network's outputs (m, K) on inputs (m, d)."""
    with torch.no_grad():
        return preactivation(mlp, inputs, len(mlp.weights) - 1)


def layer_sizes(n, widths: Sequence[int]) -> tuple[int, ...]:
    """n per hidden layer: one positive integer for every layer, or one per hidden layer."""
    values = (n,) * len(widths) if isinstance(n, (int, np.integer)) and not isinstance(n, bool) else tuple(n)
    if len(values) != len(widths) or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1
                                         for v in values):
        raise InputError(f"n must be a positive integer or one per hidden layer ({len(widths)}: widths "
                         f"{', '.join(map(str, widths))}), got {n!r}")
    return tuple(int(v) for v in values)


#: ``(two_layer_state_dict, inputs (m, N_{l-1}), target (m, N_{l+1}), n) -> (small state dict, selection)``
LayerSelector = Callable[[dict, torch.Tensor, torch.Tensor, int], tuple]


def prune_layerwise(mlp: PlainMLP, inputs, n, last_target, select_layer: LayerSelector,
                    select_last: LayerSelector | None = None) -> tuple[PlainMLP, list]:
    """Prune every hidden layer of ``mlp`` in turn, from the input up (see the module docstring).

    inputs (m, d); n: one size for every hidden layer or one per layer (:func:`layer_sizes`);
    last_target (m, K): what the last hidden layer's two-layer piece fits (the outputs it should
    produce, output bias included); ``select_layer`` prunes one two-layer piece (keys '0.weight',
    '0.bias', '2.weight', '2.bias' as present) against a target; ``select_last`` (default
    ``select_layer``) does so for the last hidden layer. Returns (narrower PlainMLP of the same
    depth, the per-layer selections in order)."""
    sizes = layer_sizes(n, mlp.widths)
    depth = len(mlp.weights)
    weights, biases = list(mlp.weights), list(mlp.biases)
    selections = []
    for l in range(depth - 1):
        current = PlainMLP(tuple(weights), tuple(biases), mlp.activation)
        piece = {"0.weight": weights[l], "2.weight": weights[l + 1]}
        for key, bias in (("0.bias", biases[l]), ("2.bias", biases[l + 1])):
            if bias is not None:
                piece[key] = bias
        last = l == depth - 2
        target = last_target if last else preactivation(mlp, inputs, l + 1)
        selector = (select_last or select_layer) if last else select_layer
        small, selection = selector(piece, hidden(current, inputs, l), target, sizes[l])
        weights[l], weights[l + 1] = small["0.weight"], small["2.weight"]
        biases[l] = small.get("0.bias")
        biases[l + 1] = small.get("2.bias")
        selections.append(selection)
    return PlainMLP(tuple(weights), tuple(biases), mlp.activation), selections
