"""The neuron scores of the pruning criteria (:mod:`sims.baselines.methods`): plain functions of a
two-layer network and data, one score per neuron, (N,) float64, summed over the neuron's parameters
a_i (d,), beta_i if present, b_i (K,) where a criterion scores parameters. The loss is the mean
form of :func:`sims.nets.train.loss_and_gradients`."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from sims.nets.model import ACTIVATIONS, TwoLayerNet, preactivations
from sims.nets.train import epoch_batches, loss_and_gradients

__all__ = ["SECOND_DERIVATIVES", "neuron_magnitude", "snip_scores", "grasp_scores", "taylor_scores",
           "activation_scores", "top_indices"]

#: Second derivatives of the activations of sims.nets.model.ACTIVATIONS (GraSP's Hessian needs them).
SECOND_DERIVATIVES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": lambda z: torch.zeros_like(z),
    "tanh": lambda z: -2 * torch.tanh(z) * (1 - torch.tanh(z) ** 2),
    "sigmoid": lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z)) * (1 - 2 * torch.sigmoid(z)),
    "softplus": lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z)),
    "gelu": lambda z: torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) * (2 - z * z),
}


def neuron_magnitude(model: TwoLayerNet) -> torch.Tensor:
    """||(a_i, beta_i, b_i)||_2 for every neuron: (N,) float64."""
    total = (model.first_weight.double() ** 2).sum(1) + (model.second_weight.double() ** 2).sum(1)
    if model.first_bias is not None:
        total = total + model.first_bias.double() ** 2
    return total.sqrt()


def _per_neuron(model: TwoLayerNet, values: dict) -> torch.Tensor:
    """Sum over each neuron's parameters of the per-parameter ``values`` (dict like the gradients)."""
    total = values["first_weight"].double().sum(1) + values["second_weight"].double().sum(1)
    if model.first_bias is not None:
        total = total + values["first_bias"].double()
    return total


def _parameters(model: TwoLayerNet) -> dict:
    params = {"first_weight": model.first_weight, "second_weight": model.second_weight}
    if model.first_bias is not None:
        params["first_bias"] = model.first_bias
    return params


def snip_scores(model: TwoLayerNet, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """SNIP connection sensitivity summed per neuron: sum_theta |theta * dL/dtheta| (N,) float64,
    L the mean-form loss on (inputs (m, d), targets (m, K))."""
    _, grads = loss_and_gradients(model, inputs, targets, "mean")
    return _per_neuron(model, {name: (value * grads[name]).abs() for name, value in _parameters(model).items()})


def _hessian_gradient(model: TwoLayerNet, inputs: torch.Tensor, targets: torch.Tensor) -> dict:
    """H g for the mean-form loss: the derivative of the gradient along the gradient itself,
    in closed form (see the module docstring of sims.nets.train for the gradient):

        dZ = X V_A^T + V_beta, dH = act'(Z) dZ, dE = s (dH B + H V_B) / m,
        (Hv)_B = s (dH^T E + H^T dE),
        dG_Z = s ((dE B^T + E V_B^T) act'(Z) + (E B^T) act''(Z) dZ),
        (Hv)_A = dG_Z^T X, (Hv)_beta = sum_j dG_Z,

    with E = (f - Y)/m, v = g = (G_A, G_beta, G_B)."""
    activation, derivative = ACTIVATIONS[model.activation]
    second = SECOND_DERIVATIVES[model.activation]
    _, grads = loss_and_gradients(model, inputs, targets, "mean")
    scale, m = model.output_scale, inputs.shape[0]
    z = preactivations(model, inputs)
    hidden, d1, d2 = activation(z), derivative(z), second(z)
    weight_b = model.second_weight
    residual = (scale * (hidden @ weight_b) - targets) / m
    dz = inputs @ grads["first_weight"].T
    if model.first_bias is not None:
        dz = dz + grads["first_bias"]
    dhidden = d1 * dz
    dresidual = scale * (dhidden @ weight_b + hidden @ grads["second_weight"]) / m
    product = {"second_weight": scale * (dhidden.T @ residual + hidden.T @ dresidual)}
    dz_grad = scale * ((dresidual @ weight_b.T + residual @ grads["second_weight"].T) * d1
                       + (residual @ weight_b.T) * d2 * dz)
    product["first_weight"] = dz_grad.T @ inputs
    if model.first_bias is not None:
        product["first_bias"] = dz_grad.sum(0)
    return product


def grasp_scores(model: TwoLayerNet, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """GraSP scores summed per neuron: -sum_theta theta (H g)_theta (N,) float64 (low = keep)."""
    product = _hessian_gradient(model, inputs, targets)
    return -_per_neuron(model, {name: value * product[name] for name, value in _parameters(model).items()})


def taylor_scores(model: TwoLayerNet, inputs: torch.Tensor, targets: torch.Tensor, *, batch_size: int = 64,
                  seed: int = 0) -> torch.Tensor:
    """First-order Taylor importance of each neuron's output gate (Molchanov et al. 2019): the mean
    over the mini-batches of one epoch (``sims.nets.train.epoch_batches(m, batch_size, seed, 0)``) of
    (sum_k b_ik dL_batch/db_ik)^2, L_batch the mean-form loss of the batch. (N,) float64."""
    total = torch.zeros(model.width, dtype=torch.float64, device=model.device)
    batches = epoch_batches(inputs.shape[0], batch_size, seed, 0)
    for batch in batches:
        index = torch.as_tensor(batch, device=model.device)
        _, grads = loss_and_gradients(model, inputs[index], targets[index], "mean")
        gate = (model.second_weight * grads["second_weight"]).double().sum(1)
        total += gate ** 2
    return total / len(batches)


def activation_scores(model: TwoLayerNet, inputs: torch.Tensor) -> torch.Tensor:
    """Mean absolute activation of each neuron over the inputs: (N,) float64."""
    return ACTIVATIONS[model.activation][0](preactivations(model, inputs)).double().abs().mean(0)


def top_indices(scores, n: int, *, largest: bool = True) -> np.ndarray:
    """Indices of the n largest (or smallest) scores, best first; ties go to the lowest index."""
    values = np.asarray(torch.as_tensor(scores).detach().cpu().double().numpy())
    order = np.argsort(-values if largest else values, kind="stable")
    return order[:n].astype(np.int64)
