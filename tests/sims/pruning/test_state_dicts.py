"""sims.pruning.state_dicts: a plain nn.Sequential state dict read from a file, checked, and converted
to a TwoLayerNet and back (the round trip computes the same function)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from sims.foundations.errors import InputError
from sims.nets.model import forward
from sims.pruning.prune import prune_state_dict
from sims.pruning.state_dicts import (check_model_matches_data, load_state_dict, model_from_state_dict,
                                      state_dict_from_model)

from tests.helpers import EXACT
from tests.sims.pruning.test_prune import data, plain_network


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


def test_load_state_dict_names_the_model_file_in_one_line(tmp_path):
    state = plain_network(3, 4, 2, nn.ReLU, True, seed=0).state_dict()
    torch.save(state, tmp_path / "model.pt")
    loaded = load_state_dict(str(tmp_path / "model.pt"))
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)
    with pytest.raises(InputError, match="--model file '.*missing.pt' does not exist"):
        load_state_dict(str(tmp_path / "missing.pt"))
    (tmp_path / "text.pt").write_text("not a torch file")
    with pytest.raises(InputError, match="is not a readable torch state dict"):
        load_state_dict(str(tmp_path / "text.pt"))
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(InputError, match="does not hold a state dict of tensors"):
        load_state_dict(str(tmp_path / "list.pt"))
    torch.save({"0.weight": 1.0}, tmp_path / "number.pt")
    with pytest.raises(InputError, match="does not hold a state dict of tensors"):
        load_state_dict(str(tmp_path / "number.pt"))
    assert load_state_dict(str(tmp_path / "number.pt"), tensors_only=False) == {"0.weight": 1.0}


def test_a_model_that_does_not_fit_the_data_is_refused_naming_both_shapes():
    check_model_matches_data("m.pt", 64, 10, "digits", 64, 10)
    for model_shape in ((5, 10), (64, 1)):
        with pytest.raises(InputError, match=f"--model 'm.pt' maps {model_shape[0]} inputs to {model_shape[1]} "
                                             "outputs, but --data digits has 64 inputs and 10 outputs"):
            check_model_matches_data("m.pt", *model_shape, "digits", 64, 10)
