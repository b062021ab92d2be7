"""The two-layer model: neuron features in both scalings, subnetworks, save/load."""

import numpy as np
import pytest
import torch

from sims.nets.model import (
    ACTIVATIONS,
    SCALINGS,
    TwoLayerNet,
    forward,
    init_network,
    load_model,
    neuron_features,
    save_model,
    subnetwork,
)

from tests.helpers import EXACT


def random_inputs(m, d, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((m, d)) / np.sqrt(d))


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("scaling", SCALINGS)
@pytest.mark.parametrize("bias", [False, True])
def test_features_mean_is_forward_pass(activation, scaling, bias):
    model = init_network(4, 37, 3, activation=activation, scaling=scaling, bias=bias, seed=1)
    inputs = random_inputs(11, 4)
    features = neuron_features(model, inputs)
    assert features.shape == (11, 37, 3)
    torch.testing.assert_close(features.mean(1), forward(model, inputs), rtol=EXACT, atol=1e-14)


def test_features_follow_the_formula_of_theory_section_1():
    """phi_i(x) = c b_i act(a_i.x + bias_i), c = 1 (mean-field) or sqrt(N) (NTK): checked neuron by neuron."""
    inputs = random_inputs(5, 3)
    for scaling, scale in (("mean-field", 1.0), ("ntk", np.sqrt(8))):
        model = init_network(3, 8, 2, activation="tanh", scaling=scaling, bias=True, seed=2)
        features = neuron_features(model, inputs).numpy()
        a, b, bias = model.first_weight.numpy(), model.second_weight.numpy(), model.first_bias.numpy()
        for i in range(8):
            expected = scale * np.tanh(inputs.numpy() @ a[i] + bias[i])[:, None] * b[i][None, :]
            np.testing.assert_allclose(features[:, i, :], expected, rtol=1e-13)


def test_features_are_neuron_major_in_memory():
    features = neuron_features(init_network(3, 10, 2, seed=0), random_inputs(6, 3))
    assert features.permute(1, 0, 2).is_contiguous()


def test_ntk_output_is_sum_over_root_width():
    model = init_network(3, 50, 1, scaling="ntk", seed=3)
    inputs = random_inputs(7, 3)
    hidden = torch.relu(inputs @ model.first_weight.T)
    expected = hidden @ model.second_weight / np.sqrt(50)
    torch.testing.assert_close(forward(model, inputs), expected, rtol=EXACT, atol=1e-14)


@pytest.mark.parametrize("scaling", SCALINGS)
def test_subnetwork_output_equals_weighted_features(scaling):
    model = init_network(4, 30, 3, activation="softplus", scaling=scaling, bias=True, seed=4)
    inputs = random_inputs(9, 4)
    features = neuron_features(model, inputs)
    indices = np.array([3, 7, 3, 29, 0, 7])  # repeats are merged
    weights = np.array([0.1, 0.2, 0.15, 0.3, 0.05, 0.2])
    small = subnetwork(model, indices, weights)
    assert small.width == 4
    expected = torch.einsum("mnk,n->mk", features[:, indices], torch.from_numpy(weights))
    torch.testing.assert_close(forward(small, inputs), expected, rtol=EXACT, atol=1e-14)


def test_subnetwork_rejects_bad_indices():
    model = init_network(2, 5, 1, seed=0)
    with pytest.raises(ValueError, match="indices"):
        subnetwork(model, [0, 5], [0.5, 0.5])
    with pytest.raises(ValueError, match="same length"):
        subnetwork(model, [0, 1], [1.0])


@pytest.mark.parametrize("method", ["gfs", "fcfw"])
def test_subnetwork_of_a_selection_is_the_selected_mixture(method):
    """subnetwork(model, selection) and subnetwork(model, *selection.support()) both build the network
    whose output is features @ selection.weights (gfs repeats picks; fcfw re-weights them)."""
    from sims.selection.engine import select, subnetwork_output

    model = init_network(4, 30, 2, seed=5)
    inputs = random_inputs(12, 4)
    features = neuron_features(model, inputs)
    selection = select(features, forward(init_network(4, 3, 2, seed=9), inputs), 8, method)
    expected = torch.from_numpy(subnetwork_output(features, selection.weights))
    for small in (subnetwork(model, selection), subnetwork(model, *selection.support())):
        assert small.width == selection.support_size
        torch.testing.assert_close(forward(small, inputs), expected, rtol=EXACT, atol=1e-14)


def test_subnetwork_refuses_a_selection_fed_wrongly_with_a_hint():
    from sims.selection.engine import select

    model = init_network(3, 10, 1, seed=0)
    inputs = random_inputs(6, 3)
    selection = select(neuron_features(model, inputs), torch.zeros(6), 4, "gfs")
    with pytest.raises(ValueError, match=r"one entry per neuron.*selection.support\(\)"):
        subnetwork(model, selection.indices, selection.weights)  # (4,) picks against (10,) weights
    with pytest.raises(ValueError, match="weights are required"):
        subnetwork(model, selection.indices)
    with pytest.raises(ValueError, match="made on another network"):
        subnetwork(init_network(3, 11, 1, seed=0), selection)


def test_init_is_deterministic_and_dtype_independent():
    first = init_network(5, 20, 2, seed=7, dtype="float64")
    again = init_network(5, 20, 2, seed=7, dtype="float64")
    single = init_network(5, 20, 2, seed=7, dtype="float32")
    assert torch.equal(first.first_weight, again.first_weight)
    assert single.dtype == torch.float32
    torch.testing.assert_close(single.first_weight.double(), first.first_weight, rtol=1e-7, atol=0)
    assert not torch.equal(first.first_weight, init_network(5, 20, 2, seed=8).first_weight)


def test_sign_second_layer_is_plus_minus_one():
    model = init_network(3, 200, 1, second_layer="sign", seed=0)
    assert set(model.second_weight.unique().tolist()) == {-1.0, 1.0}


@pytest.mark.parametrize("name,value", [("activation", "bogus"), ("scaling", "bogus")])
def test_unknown_names_list_the_valid_ones(name, value):
    with pytest.raises(ValueError, match="valid: "):
        init_network(2, 3, 1, **{name: value})


def test_save_load_roundtrip(tmp_path):
    model = init_network(3, 12, 2, activation="gelu", scaling="ntk", bias=True, seed=5)
    path = tmp_path / "net.pt"
    save_model(model, path, metadata={"note": "hello", "loss": 0.25})
    loaded, metadata = load_model(path)
    assert metadata == {"note": "hello", "loss": 0.25}
    assert (loaded.activation, loaded.scaling) == ("gelu", "ntk")
    for name in ("first_weight", "second_weight", "first_bias"):
        assert torch.equal(getattr(loaded, name), getattr(model, name))
    # the file is readable without arbitrary pickle
    assert isinstance(torch.load(path, weights_only=True), dict)
    assert [p.name for p in tmp_path.iterdir()] == ["net.pt"]  # no temporary left behind


def test_load_rejects_foreign_files(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="not a readable torch file"):
        load_model(garbage)
    state_dict = tmp_path / "state.pt"
    torch.save({"0.weight": torch.zeros(2, 2)}, state_dict)
    with pytest.raises(ValueError, match="not a gfs two-layer network"):
        load_model(state_dict)
    with pytest.raises(ValueError, match="does not exist"):
        load_model(tmp_path / "missing.pt")


def test_model_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="neurons"):
        TwoLayerNet(torch.zeros(3, 2), torch.zeros(4, 1))
