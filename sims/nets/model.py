"""Two-layer networks as plain data, their neuron contribution vectors, and safe save/load.

A network with N hidden neurons, input dimension d and K outputs is

    f(x) = (1/N) * sum_i phi_i(x),      phi_i(x) = c * b_i * act(a_i . x + bias_i)

with c = 1 in mean-field scaling and c = sqrt(N) in NTK scaling (docs/THEORY.md section 1). So in
both scalings the network is the plain mean of its neurons' contribution vectors, which is
what every selection method and every bound works with.

Shapes: ``first_weight`` (N, d), ``first_bias`` (N,) or None, ``second_weight`` (N, K).
Inputs X are (m, d), outputs (m, K), neuron features (m, N, K).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from sims.foundations.constraints import check_fields
from sims.foundations.errors import InputError
from sims.foundations.io import atomic_write, check_choice

__all__ = [
    "SCALINGS", "FORMAT_TAG", "ACTIVATIONS", "DTYPES", "resolve_dtype", "TwoLayerNet", "NetworkConfig",
    "init_network", "preactivations", "hidden_activations", "forward", "neuron_features", "subnetwork",
    "save_model", "load_model"
]

SCALINGS = ("mean-field", "ntk")
FORMAT_TAG = "gfs-toolkit/two-layer-net/v1"


def _relu_derivative(z: torch.Tensor) -> torch.Tensor:
    return (z > 0).to(z.dtype)


def _sigmoid_derivative(z: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(z)
    return s * (1 - s)


def _gelu_derivative(z: torch.Tensor) -> torch.Tensor:
    cdf = 0.5 * (1 + torch.erf(z / math.sqrt(2)))
    pdf = torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    return cdf + z * pdf


# name -> (activation, its derivative). "gelu" is the smooth relu-like activation
# x * Phi(x) (Phi the standard normal CDF).
ACTIVATIONS: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]] = {
    "relu": (torch.relu, _relu_derivative),
    "tanh": (torch.tanh, lambda z: 1 - torch.tanh(z) ** 2),
    "sigmoid": (torch.sigmoid, _sigmoid_derivative),
    "softplus": (torch.nn.functional.softplus, torch.sigmoid),
    "gelu": (lambda z: torch.nn.functional.gelu(z), _gelu_derivative),
}

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """Map 'float32'/'float64' (or a torch dtype) to a torch floating dtype."""
    if isinstance(dtype, torch.dtype):
        if dtype not in DTYPES.values():
            raise InputError(f"unsupported dtype {dtype}; valid: {', '.join(DTYPES)}")
        return dtype
    return DTYPES[check_choice("dtype", dtype, DTYPES)]


@dataclass(frozen=True)
class TwoLayerNet:
    """A two-layer network as plain tensors. See the module docstring for the formula."""

    first_weight: torch.Tensor  # (N, d)
    second_weight: torch.Tensor  # (N, K)
    first_bias: torch.Tensor | None = None  # (N,)
    activation: str = "relu"
    scaling: str = "mean-field"

    def __post_init__(self):
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("scaling", self.scaling, SCALINGS)
        if self.first_weight.ndim != 2 or self.second_weight.ndim != 2:
            raise InputError("first_weight must be (N, d) and second_weight (N, K)")
        if self.first_weight.shape[0] != self.second_weight.shape[0]:
            raise InputError(
                f"first_weight has {self.first_weight.shape[0]} neurons but second_weight has "
                f"{self.second_weight.shape[0]}"
            )
        if self.first_bias is not None and tuple(self.first_bias.shape) != (self.width,):
            raise InputError(f"first_bias must have shape ({self.width},), got {tuple(self.first_bias.shape)}")

    @property
    def width(self) -> int:
        return self.first_weight.shape[0]

    @property
    def input_dim(self) -> int:
        return self.first_weight.shape[1]

    @property
    def output_dim(self) -> int:
        return self.second_weight.shape[1]

    @property
    def neuron_scale(self) -> float:
        """The factor c in phi_i = c * b_i * act(.): 1 (mean-field) or sqrt(N) (NTK)."""
        return 1.0 if self.scaling == "mean-field" else math.sqrt(self.width)

    @property
    def output_scale(self) -> float:
        """c / N: the network output is output_scale * act(Z) @ second_weight."""
        return self.neuron_scale / self.width

    @property
    def dtype(self) -> torch.dtype:
        return self.first_weight.dtype

    @property
    def device(self) -> torch.device:
        return self.first_weight.device

    def to(self, device=None, dtype=None) -> "TwoLayerNet":
        """A copy on another device and/or dtype."""
        move = lambda t: None if t is None else t.to(device=device, dtype=dtype)  # noqa: E731
        return replace(
            self,
            first_weight=move(self.first_weight),
            second_weight=move(self.second_weight),
            first_bias=move(self.first_bias),
        )

    def clone(self) -> "TwoLayerNet":
        """A deep copy (training updates tensors in place)."""
        copy = lambda t: None if t is None else t.detach().clone()  # noqa: E731
        return replace(
            self,
            first_weight=copy(self.first_weight),
            second_weight=copy(self.second_weight),
            first_bias=copy(self.first_bias),
        )


@dataclass(frozen=True)
class NetworkConfig:
    """How ``gfs train`` initialises its dense network (the arguments of :func:`init_network`
    that a user chooses; input and output sizes come from the data)."""

    width: int = field(default=1000, metadata={"help": "hidden neurons N", "range": "positive"})
    activation: str = field(default="relu", metadata={"help": "activation", "choices": lambda: ACTIVATIONS})
    scaling: str = field(default="mean-field", metadata={"help": "scaling", "choices": lambda: SCALINGS})
    bias: bool = field(default=False, metadata={"help": "first-layer bias"})
    seed: int = field(default=0, metadata={"help": "initialisation seed", "range": "non-negative"})
    dtype: str = field(default="float64", metadata={"help": "floating type", "choices": lambda: DTYPES})
    device: str = field(default="cpu", metadata={"help": "torch device"})

    def __post_init__(self):
        check_fields(self)  # the device is checked by sims.foundations.guards.check_device, where it is used


def init_network(
    input_dim: int,
    width: int,
    output_dim: int = 1,
    *,
    activation: str = "relu",
    scaling: str = "mean-field",
    bias: bool = False,
    second_layer: str = "gaussian",
    seed: int = 0,
    dtype: str | torch.dtype = "float64",
    device: str | torch.device = "cpu",
) -> TwoLayerNet:
    """A randomly initialised network, deterministic in ``seed``.

    First-layer weights a_i ~ N(0, I_d) (the set-up of Du et al.), so inputs should be
    unit-norm or otherwise scaled to norm O(1) for O(1) pre-activations; biases, if present,
    are standard Gaussian. ``second_layer`` is 'gaussian' (b_i ~ N(0, I_K)) or 'sign'
    (b_i uniform in {-1, +1}^K, the fixed second layer of P5). Parameters are drawn in
    float64 and then cast, so float32 and float64 models with one seed agree.
    """
    for name, value in (("input_dim", input_dim), ("width", width), ("output_dim", output_dim)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value!r}")
    check_choice("activation", activation, ACTIVATIONS)
    check_choice("scaling", scaling, SCALINGS)
    check_choice("second_layer", second_layer, ("gaussian", "sign"))
    torch_dtype = resolve_dtype(dtype)
    generator = torch.Generator().manual_seed(int(seed))
    first_weight = torch.randn(width, input_dim, generator=generator, dtype=torch.float64)
    if second_layer == "gaussian":
        second_weight = torch.randn(width, output_dim, generator=generator, dtype=torch.float64)
    else:
        signs = torch.randint(0, 2, (width, output_dim), generator=generator)
        second_weight = (2 * signs - 1).to(torch.float64)
    first_bias = torch.randn(width, generator=generator, dtype=torch.float64) if bias else None
    net = TwoLayerNet(first_weight, second_weight, first_bias, activation, scaling)
    return net.to(device=device, dtype=torch_dtype)


def _as_input(model: TwoLayerNet, inputs) -> torch.Tensor:
    inputs = torch.as_tensor(inputs, device=model.device, dtype=model.dtype)
    if inputs.ndim != 2 or inputs.shape[1] != model.input_dim:
        raise InputError(f"inputs must have shape (m, {model.input_dim}), got {tuple(inputs.shape)}")
    return inputs


def preactivations(model: TwoLayerNet, inputs: torch.Tensor) -> torch.Tensor:
    """Z = X A^T + bias, shape (m, N)."""
    z = inputs @ model.first_weight.T
    if model.first_bias is not None:
        z = z + model.first_bias
    return z


def hidden_activations(model: TwoLayerNet, inputs) -> torch.Tensor:
    """act(Z), shape (m, N)."""
    inputs = _as_input(model, inputs)
    return ACTIVATIONS[model.activation][0](preactivations(model, inputs))


def forward(model: TwoLayerNet, inputs) -> torch.Tensor:
    """Network outputs f(X), shape (m, K)."""
    return model.output_scale * (hidden_activations(model, inputs) @ model.second_weight)


def neuron_features(model: TwoLayerNet, inputs) -> torch.Tensor:
    """The contribution tensor Phi, shape (m, N, K), with ``forward(model, X) == Phi.mean(1)``.

    Phi[j, i, :] = c * b_i * act(a_i . x_j + bias_i). The returned tensor is a permuted view of
    a neuron-major (N, m, K) contiguous buffer, so that the selection engine can use it as an
    (N, m*K) matrix without copying. Memory: N*m*K elements of the model's dtype.
    """
    hidden = hidden_activations(model, inputs)  # (m, N)
    width, outputs = model.width, model.output_dim
    neuron_major = torch.empty((width, hidden.shape[0], outputs), dtype=model.dtype, device=model.device)
    torch.mul(hidden.T.unsqueeze(2), model.second_weight.unsqueeze(1), out=neuron_major)
    if model.scaling != "mean-field":
        neuron_major.mul_(model.neuron_scale)
    return neuron_major.permute(1, 0, 2)


def subnetwork(model: TwoLayerNet, indices, weights=None) -> TwoLayerNet:
    """The physically smaller network whose output is ``sum_j weights[j] * phi_{indices[j]}``.

    Called as ``subnetwork(model, selection)`` with a :class:`sims.selection.engine.Selection` of this
    model's neurons (its ``support()`` gives the indices and weights), or as
    ``subnetwork(model, indices, weights)`` with two arrays of the same length n.
    ``indices`` (n,) may repeat; repeated neurons are merged by summing their weights, so the
    result has one hidden unit per distinct index (in order of first appearance) and zero-weight
    units are dropped. The result keeps the activation and scaling; its second-layer weights
    are rescaled so that its outputs equal ``neuron_features(model, X)[:, indices] @ weights``
    up to floating-point rounding.
    """
    if weights is None:
        if not callable(getattr(indices, "support", None)):
            raise InputError("weights are required with indices; pass a Selection, or (indices, weights) "
                             "of the same length such as selection.support()")
        if len(indices.weights) != model.width:
            raise InputError(f"the selection has weights for {len(indices.weights)} neurons but the model has "
                             f"{model.width}: it was made on another network")
        indices, weights = indices.support()
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    if indices.shape != weights.shape:
        hint = (" (weights has one entry per neuron of the model, like Selection.weights: pass the Selection "
                "itself, or selection.support())" if weights.shape[0] == model.width else "")
        raise InputError(f"indices ({indices.shape[0]}) and weights ({weights.shape[0]}) must have the same "
                         f"length{hint}")
    if indices.size == 0:
        raise InputError("indices must not be empty")
    if indices.min() < 0 or indices.max() >= model.width:
        raise InputError(f"indices must lie in [0, {model.width}), got range [{indices.min()}, {indices.max()}]")
    merged: dict[int, float] = {}
    for index, weight in zip(indices.tolist(), weights.tolist()):
        merged[index] = merged.get(index, 0.0) + weight
    kept = [index for index, weight in merged.items() if weight != 0.0]
    if not kept:
        raise InputError("all mixing weights are zero: the subnetwork would be empty")
    kept_index = torch.tensor(kept, device=model.device)
    kept_weight = torch.tensor([merged[i] for i in kept], dtype=torch.float64)
    small_width = len(kept)
    small_scale = 1.0 if model.scaling == "mean-field" else math.sqrt(small_width)
    # phi_new_j / small_width must equal weight_j * phi_old_j: b_new = small_width * weight * c_old / c_new * b_old
    factor = (small_width * kept_weight * model.neuron_scale / small_scale).to(model.device, model.dtype)
    return TwoLayerNet(
        first_weight=model.first_weight[kept_index].clone(),
        second_weight=model.second_weight[kept_index] * factor.unsqueeze(1),
        first_bias=None if model.first_bias is None else model.first_bias[kept_index].clone(),
        activation=model.activation,
        scaling=model.scaling,
    )


def save_model(model: TwoLayerNet, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Write ``model`` and JSON-serialisable ``metadata`` atomically to ``path``.

    The file is a torch archive of tensors and strings only, readable with
    ``torch.load(path, weights_only=True)``: no arbitrary pickle.
    """
    payload = {
        "format": FORMAT_TAG,
        "first_weight": model.first_weight.detach().cpu(),
        "second_weight": model.second_weight.detach().cpu(),
        "activation": model.activation,
        "scaling": model.scaling,
        "metadata": json.dumps(metadata or {}),
    }
    if model.first_bias is not None:
        payload["first_bias"] = model.first_bias.detach().cpu()
    atomic_write(path, lambda temporary: torch.save(payload, temporary))


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[TwoLayerNet, dict]:
    """Read a model written by :func:`save_model`. Returns (model, metadata).

    Raises InputError (a ValueError) with the path when the file is missing, not a torch archive, not a
    two-layer network written by this toolkit, or one with missing, mistyped or inconsistent
    entries.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"model file {str(path)!r} does not exist")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # torch raises several unrelated types for unreadable files
        raise InputError(f"model file {str(path)!r} is not a readable torch file: {error.__class__.__name__}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_TAG:
        raise InputError(
            f"model file {str(path)!r} is not a gfs two-layer network (expected format tag {FORMAT_TAG!r}); "
            "a plain PyTorch state dict can be pruned with `gfs prune --state-dict`"
        )
    required = {"first_weight": torch.Tensor, "second_weight": torch.Tensor, "activation": str, "scaling": str,
                "metadata": str}
    missing = [key for key in required if key not in payload]
    if missing:
        raise InputError(f"model file {str(path)!r} lacks the key(s) {', '.join(missing)} of a gfs two-layer network "
                         f"(needs {', '.join(required)}, optionally first_bias)")
    wrong = [key for key, kind in required.items() if not isinstance(payload[key], kind)]
    if payload.get("first_bias") is not None and not isinstance(payload["first_bias"], torch.Tensor):
        wrong.append("first_bias")
    if wrong:
        raise InputError(f"model file {str(path)!r} has key(s) {', '.join(wrong)} of the wrong type "
                         "(weights must be tensors; activation, scaling and metadata strings)")
    try:
        model = TwoLayerNet(
            first_weight=payload["first_weight"],
            second_weight=payload["second_weight"],
            first_bias=payload.get("first_bias"),
            activation=payload["activation"],
            scaling=payload["scaling"],
        )
    except ValueError as error:
        raise InputError(f"model file {str(path)!r} does not hold a valid network: {error}") from None
    tensors = [model.first_weight, model.second_weight] + ([model.first_bias] if model.first_bias is not None else [])
    if not all(bool(torch.isfinite(tensor).all()) for tensor in tensors):
        raise InputError(f"model file {str(path)!r} has NaN or infinite weights")
    try:
        metadata = json.loads(payload["metadata"])
    except ValueError:
        raise InputError(f"model file {str(path)!r} has metadata that is not JSON") from None
    return model, metadata
