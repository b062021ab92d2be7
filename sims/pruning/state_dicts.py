"""A user's plain PyTorch model as a state dict: read from a file, checked, and converted to and from
the toolkit's :class:`sims.nets.model.TwoLayerNet`.

The two-layer form is ``nn.Sequential(nn.Linear(d, N), activation, nn.Linear(N, K))``, keys
``'0.weight'`` (N, d), ``'0.bias'`` (N,), ``'2.weight'`` (K, N), ``'2.bias'`` (K,), either bias
optional. Without b2 it computes the mean of the N neuron contributions
``N * W2[:, i] act(w1_i . x + b1_i)``, i.e. a mean-field TwoLayerNet; b2 is kept beside it.
Deeper ``nn.Sequential`` state dicts are read by :func:`sims.pruning.layerwise.mlp_from_state_dict`.
"""

from __future__ import annotations

import torch

from sims.foundations.errors import InputError
from sims.foundations.io import check_choice
from sims.nets.model import ACTIVATIONS, TwoLayerNet

__all__ = ["STATE_DICT_KEYS", "load_state_dict", "model_from_state_dict", "state_dict_from_model",
           "check_model_matches_data"]

STATE_DICT_KEYS = ("0.weight", "0.bias", "2.weight", "2.bias")


def load_state_dict(path: str, *, tensors_only: bool = True) -> dict:
    """A state dict from ``path`` (torch.load with weights_only); an InputError names --model.
    ``tensors_only=False`` accepts any dict (the caller's parser then names missing keys)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(f"--model file {path!r} does not exist") from None
    except Exception as error:  # torch raises unrelated types for unreadable files
        raise InputError(f"--model file {path!r} is not a readable torch state dict: {error.__class__.__name__}") from None
    if not isinstance(state, dict) or (tensors_only and not all(isinstance(v, torch.Tensor) for v in state.values())):
        raise InputError(f"--model file {path!r} does not hold a state dict of tensors")
    return state


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


def check_model_matches_data(model: str, input_dim: int, output_dim: int, data: str, data_input_dim: int,
                             data_output_dim: int) -> None:
    """Refuse a model (file ``model``, mapping input_dim inputs to output_dim outputs) that does not
    fit the data set ``data`` (data_input_dim inputs, data_output_dim outputs): one line naming
    --model and --data with both shapes."""
    if input_dim != data_input_dim or output_dim != data_output_dim:
        raise InputError(f"--model {model!r} maps {input_dim} inputs to {output_dim} outputs, but --data {data} has "
                         f"{data_input_dim} inputs and {data_output_dim} outputs")
