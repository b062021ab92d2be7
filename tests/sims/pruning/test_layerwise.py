"""sims.pruning.layerwise: deeper plain MLPs read and written as nn.Sequential, and pruned one hidden layer
at a time against targets computed here independently."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from sims.foundations.errors import InputError
from sims.pruning.layerwise import (hidden, mlp_from_sequential, mlp_from_state_dict, outputs, prune_layerwise,
                            sequential_of, state_dict_of)
from sims.pruning.prune import prune_state_dict
from sims.selection.engine import select
from theory.bounds import gfs_excess_bound
from theory.geometry import neuron_variance

from tests.helpers import EXACT, REFERENCE


def deep_network(widths, activation=nn.ReLU, bias=True, seed=0):
    torch.manual_seed(seed)
    layers = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(fan_in, fan_out, bias=bias), activation()]
    return nn.Sequential(*layers[:-1]).double()


def inputs(m, d, seed):
    return torch.randn(m, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("activation,bias", [(nn.ReLU, True), (nn.Tanh, False), (nn.GELU, True)])
def test_sequential_round_trip_and_forward(activation, bias):
    module = deep_network([5, 7, 6, 4, 3], activation, bias)
    mlp = mlp_from_sequential(module)
    assert mlp.widths == (7, 6, 4) and mlp.input_dim == 5 and mlp.output_dim == 3
    X = inputs(9, 5, 1)
    with torch.no_grad():
        np.testing.assert_allclose(outputs(mlp, X).numpy(), module(X).numpy(), rtol=EXACT, atol=EXACT)
        np.testing.assert_allclose(hidden(mlp, X, 1).numpy(), module[:2](X).numpy(), rtol=EXACT, atol=EXACT)
        np.testing.assert_allclose(sequential_of(mlp)(X).numpy(), module(X).numpy(), rtol=EXACT, atol=EXACT)
    assert set(state_dict_of(mlp)) == set(module.state_dict())
    assert mlp_from_state_dict(module.state_dict(), mlp.activation).widths == mlp.widths


def test_each_hidden_layer_is_selected_on_the_pruned_inputs_against_the_dense_preactivation():
    widths = [4, 12, 10, 8, 2]
    module = deep_network(widths, seed=3)
    state = module.state_dict()
    X = inputs(30, 4, 2)
    sizes = (5, 4, 6)

    def gfs(piece, piece_inputs, target, size):
        return prune_state_dict(piece, piece_inputs, target, size, "gfs")

    with torch.no_grad():
        dense_out = module(X)
    pruned, selections = prune_layerwise(mlp_from_state_dict(state), X, sizes, dense_out, gfs)
    W = [state[f"{2 * l}.weight"] for l in range(4)]
    b = [state[f"{2 * l}.bias"] for l in range(4)]
    h = X  # the activations of the network pruned so far, written out here
    for l, size in enumerate(sizes):
        with torch.no_grad():
            target = module[:2 * l + 3](X)  # the DENSE network's pre-activation after hidden layer l + 1
        N = W[l].shape[0]
        phi = N * torch.relu(h @ W[l].T + b[l]).unsqueeze(2) * W[l + 1].T.unsqueeze(0)
        expected = select(phi, target - b[l + 1], size, "gfs")
        assert selections[l].indices.tolist() == expected.indices.tolist(), l
        kept = np.flatnonzero(expected.weights)
        assert pruned.widths[l] == kept.size <= size
        # per-layer P2 for the layer's own output: its loss against the target is at most that of the
        # unpruned layer on the same (pruned) inputs plus V (1 + ln n) / (2 n)
        loss_g = 0.5 * float(((phi.mean(1) - (target - b[l + 1])) ** 2).sum()) / X.shape[0]
        assert expected.losses[-1] <= loss_g + gfs_excess_bound(size, neuron_variance(phi.numpy())) + 1e-12
        h = torch.relu(h @ W[l][kept].T + b[l][kept])
        W[l + 1] = N * W[l + 1][:, kept] * torch.from_numpy(expected.weights[kept])
    layers = []
    for fan_in, fan_out in zip([4, *pruned.widths], [*pruned.widths, 2]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    small = nn.Sequential(*layers[:-1]).double()
    small.load_state_dict(state_dict_of(pruned))  # strict: same keys, narrower shapes, same depth
    with torch.no_grad():
        np.testing.assert_allclose(small(X).numpy(), (h @ W[3].T + b[3]).numpy(), rtol=REFERENCE, atol=REFERENCE)


def test_layer_sizes_and_bad_models_are_refused():
    module = deep_network([3, 5, 4, 2])
    X = inputs(6, 3, 0)
    gfs = lambda piece, x, t, n: prune_state_dict(piece, x, t, n, "gfs")  # noqa: E731
    with pytest.raises(InputError, match="one per hidden layer"):
        prune_layerwise(mlp_from_sequential(module), X, (2, 2, 2), outputs(mlp_from_sequential(module), X), gfs)
    state = module.state_dict()
    with pytest.raises(InputError, match="state dict lacks 2.weight"):
        mlp_from_state_dict({k: v for k, v in state.items() if k.startswith("0.")})
    with pytest.raises(InputError, match="state dict lacks 2.weight"):
        mlp_from_state_dict({k: v for k, v in state.items() if not k.startswith("2.")})
    with pytest.raises(InputError, match="unexpected keys 3.weight"):
        mlp_from_state_dict({**state, "3.weight": state["2.weight"]})
    with pytest.raises(InputError, match="must be the same N"):
        mlp_from_state_dict({**state, "2.weight": state["2.weight"][:, :3]})
    with pytest.raises(InputError, match="'4.bias' must have shape"):
        mlp_from_state_dict({**state, "4.bias": state["4.bias"][:1]})
    with pytest.raises(InputError, match="NaN or infinite"):
        mlp_from_state_dict({**state, "0.bias": torch.full_like(state["0.bias"], float("nan"))})
    with pytest.raises(InputError, match="mixes activations"):
        mlp_from_sequential(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2)))
    with pytest.raises(InputError, match="non-default arguments"):
        mlp_from_sequential(nn.Sequential(nn.Linear(3, 4), nn.Softplus(beta=2.0), nn.Linear(4, 2)))
    with pytest.raises(InputError, match=r"Linear, act, Linear"):
        mlp_from_sequential(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(), nn.Linear(4, 2)))
