"""Pruning a model agrees with selecting on its features, and pruned models are physically smaller."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from sims.model import forward, init_network, neuron_features
from sims.prune import model_from_state_dict, prune_model, prune_state_dict, state_dict_from_model
from sims.select import select

from tests.helpers import EXACT, REFERENCE


def data(m, d, K, seed):
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(m, d, generator=generator, dtype=torch.float64)
    Y = torch.randn(m, K, generator=generator, dtype=torch.float64)
    return X, Y


@pytest.mark.parametrize("method", ["gfs", "gfs-norep", "fw", "fcfw", "backward", "random"])
@pytest.mark.parametrize("scaling", ["mean-field", "ntk"])
def test_prune_model_agrees_with_selection_on_its_features(method, scaling):
    model = init_network(3, 25, 2, scaling=scaling, bias=True, seed=1, dtype="float64")
    X, Y = data(15, 3, 2, seed=2)
    small, selection = prune_model(model, X, Y, 6, method, seed=3)
    expected = select(neuron_features(model, X), Y, 6, method, seed=3)
    assert selection.indices.tolist() == expected.indices.tolist()
    np.testing.assert_array_equal(selection.losses, expected.losses)
    assert small.width == selection.support_size <= 6
    assert small.activation == model.activation and small.scaling == model.scaling
    X_new, _ = data(9, 3, 2, seed=4)  # the smaller network is the subnetwork on any input
    for inputs in (X, X_new):
        mixture = torch.einsum("mnk,n->mk", neuron_features(model, inputs), torch.from_numpy(selection.weights))
        np.testing.assert_allclose(forward(small, inputs).numpy(), mixture.numpy(), rtol=REFERENCE, atol=REFERENCE)
    loss = 0.5 * float(((forward(small, X) - Y) ** 2).sum()) / X.shape[0]
    np.testing.assert_allclose(loss, selection.losses[-1], rtol=REFERENCE)


def plain_network(d, width, K, activation, bias, seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, width, bias=bias), activation(), nn.Linear(width, K, bias=bias)).double()


def plain_features(state, X, activation):
    """phi[j, i, :] = N * W2[:, i] * act(W1[i] . x_j + b1[i]), written out independently."""
    W1, W2 = state["0.weight"], state["2.weight"]
    pre = X @ W1.T + (state["0.bias"] if "0.bias" in state else 0)
    return W1.shape[0] * activation()(pre).unsqueeze(2) * W2.T.unsqueeze(0)


@pytest.mark.parametrize("activation,name,bias", [(nn.ReLU, "relu", True), (nn.Tanh, "tanh", True), (nn.ReLU, "relu", False)])
@pytest.mark.parametrize("method", ["gfs", "fcfw", "magnitude"])
def test_pruned_state_dict_loads_into_a_smaller_sequential(activation, name, bias, method):
    dense = plain_network(4, 30, 2, activation, bias, seed=0)
    state = dense.state_dict()
    X, Y = data(20, 4, 2, seed=1)
    small_state, selection = prune_state_dict(state, X, Y, 7, method, activation=name)
    assert set(small_state) == set(state)
    width = small_state["0.weight"].shape[0]
    assert width == selection.support_size <= 7
    small = nn.Sequential(nn.Linear(4, width, bias=bias), activation(), nn.Linear(width, 2, bias=bias)).double()
    small.load_state_dict(small_state)  # strict: same keys, matching shapes
    output_bias = state["2.bias"] if bias else torch.zeros(2, dtype=torch.float64)
    # the selection is that of the features with the output bias taken off the target
    features = plain_features(state, X, activation)
    with torch.no_grad():
        np.testing.assert_allclose(features.mean(1) + output_bias, dense(X), rtol=REFERENCE, atol=EXACT)
    expected = select(features, Y - output_bias, 7, method)
    assert selection.indices.tolist() == expected.indices.tolist()
    np.testing.assert_allclose(selection.losses, expected.losses, rtol=REFERENCE)
    X_new, _ = data(11, 4, 2, seed=5)
    for inputs in (X, X_new):
        mixture = torch.einsum("mnk,n->mk", plain_features(state, inputs, activation), torch.from_numpy(selection.weights))
        with torch.no_grad():
            np.testing.assert_allclose(small(inputs).numpy(), (mixture + output_bias).numpy(), rtol=REFERENCE, atol=REFERENCE)
    with torch.no_grad():
        loss = 0.5 * float(((small(X) - Y) ** 2).sum()) / X.shape[0]
    np.testing.assert_allclose(loss, selection.losses[-1], rtol=REFERENCE)


def test_state_dict_round_trip_and_single_output():
    dense = plain_network(3, 12, 1, nn.ReLU, True, seed=3)
    X, Y = data(10, 3, 1, seed=4)
    model, output_bias = model_from_state_dict(dense.state_dict())
    with torch.no_grad():
        np.testing.assert_allclose((forward(model, X) + output_bias).numpy(), dense(X).numpy(), rtol=EXACT, atol=EXACT)
    rebuilt = plain_network(3, 12, 1, nn.ReLU, True, seed=99)
    rebuilt.load_state_dict(state_dict_from_model(model, output_bias))
    with torch.no_grad():
        np.testing.assert_allclose(rebuilt(X).numpy(), dense(X).numpy(), rtol=EXACT, atol=EXACT)
    small_state, selection = prune_state_dict(dense.state_dict(), X, Y[:, 0], 4, "gfs")  # (m,) target, K = 1
    assert small_state["0.weight"].shape[0] == selection.support_size


def test_float32_state_dict_stays_float32():
    dense = plain_network(3, 16, 2, nn.ReLU, True, seed=0).float()
    X, Y = data(8, 3, 2, seed=0)
    small_state, _ = prune_state_dict(dense.state_dict(), X.float(), Y, 5, "fw")
    assert all(tensor.dtype == torch.float32 for tensor in small_state.values())


def test_bad_state_dicts_and_targets_are_rejected():
    state = plain_network(3, 8, 2, nn.ReLU, True, seed=0).state_dict()
    X, Y = data(6, 3, 2, seed=0)
    with pytest.raises(ValueError, match="state dict lacks 2.weight"):
        prune_state_dict({k: v for k, v in state.items() if k != "2.weight"}, X, Y, 2)
    with pytest.raises(ValueError, match="unexpected keys 4.weight"):
        prune_state_dict({**state, "4.weight": state["2.weight"]}, X, Y, 2)
    with pytest.raises(ValueError, match="same N"):
        prune_state_dict({**state, "2.weight": state["2.weight"][:, :5]}, X, Y, 2)
    with pytest.raises(ValueError, match="'0.bias' must have shape"):
        prune_state_dict({**state, "0.bias": state["0.bias"][:3]}, X, Y, 2)
    with pytest.raises(ValueError, match="targets must have shape"):
        prune_state_dict(state, X, Y[:, 0], 2)
    with pytest.raises(ValueError, match="unknown activation"):
        prune_state_dict(state, X, Y, 2, activation="swish")
    with pytest.raises(ValueError, match="unknown method"):
        prune_state_dict(state, X, Y, 2, "nope")
