"""Pruning a model agrees with selecting on its features, and pruned models are physically smaller."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from sims.nets.model import forward, init_network, neuron_features
from sims.pruning.prune import prune_model, prune_state_dict
from sims.selection.engine import select

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
    # prune_model selects on the factored features (H and the second layer): the same picks, the
    # losses to rounding (the Gram products are summed in another order)
    np.testing.assert_allclose(selection.losses, expected.losses, rtol=REFERENCE, atol=0)
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


def test_float32_state_dict_stays_float32():
    dense = plain_network(3, 16, 2, nn.ReLU, True, seed=0).float()
    X, Y = data(8, 3, 2, seed=0)
    small_state, _ = prune_state_dict(dense.state_dict(), X.float(), Y, 5, "fw")
    assert all(tensor.dtype == torch.float32 for tensor in small_state.values())


# ------------------------------------------------------------------ a user's network (issue 22)

from sims.data.datasets import load_dataset  # noqa: E402
from sims.foundations.errors import InputError  # noqa: E402
from sims.pruning.prune import prune_network, prune_sequential  # noqa: E402


def train_classifier(widths, inputs, labels, *, steps=200, lr=0.01, seed=0):
    """A user's MLP: nn.Sequential(Linear, ReLU, ..., Linear) in float32, trained with Adam on the
    cross-entropy of its logits (full batch), as tutorials do."""
    torch.manual_seed(seed)
    layers = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    X, y = torch.as_tensor(inputs, dtype=torch.float32), torch.as_tensor(labels)
    for _ in range(steps):
        optimiser.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        optimiser.step()
    return model


def test_accuracy(model, inputs, labels):
    with torch.no_grad():
        return float((model(torch.as_tensor(inputs, dtype=torch.float32)).argmax(1).numpy() == labels).mean())


test_accuracy.__test__ = False  # a helper, not a test


@pytest.fixture(scope="module")
def digits():
    data = load_dataset(name="digits", input_scaling="none")
    from sklearn.datasets import load_digits

    assert data.train_inputs.max() <= 1.0 and np.isin(data.train_inputs * 16, load_digits().data).all()  # X / 16
    return data


@pytest.fixture(scope="module")
def digits_mlp(digits):
    """A 64-100-10 ReLU MLP trained with Adam and cross-entropy on digits X / 16."""
    with torch.random.fork_rng():
        torch.set_num_threads(1)
        model = train_classifier([64, 100, 10], digits.train_inputs, digits.train_labels)
    assert test_accuracy(model, digits.test_inputs, digits.test_labels) > 0.9
    return model


def test_compression_2_keeps_90_percent_of_the_dense_test_accuracy(digits, digits_mlp):
    before = {key: value.clone() for key, value in digits_mlp.state_dict().items()}
    small, report = prune_sequential(digits_mlp, digits.train_inputs, n=50, labels=digits.train_labels,
                                     test_inputs=digits.test_inputs, test_labels=digits.test_labels,
                                     return_report=True)
    assert isinstance(small, nn.Sequential) and len(small) == 3 and small[0].out_features <= 50
    dense_accuracy = test_accuracy(digits_mlp, digits.test_inputs, digits.test_labels)
    pruned_accuracy = test_accuracy(small, digits.test_inputs, digits.test_labels)
    assert pruned_accuracy >= 0.9 * dense_accuracy, (pruned_accuracy, dense_accuracy)
    assert report.target == "dense" and report.warning is None
    assert report.dense["test_accuracy"] == pytest.approx(dense_accuracy)
    assert report.pruned["test_accuracy"] == pytest.approx(pruned_accuracy)
    assert all(torch.equal(before[key], value) for key, value in digits_mlp.state_dict().items())  # not modified


def test_the_one_hot_squared_target_is_reported_and_warned_about(digits, digits_mlp):
    with pytest.warns(UserWarning, match=r"no better than its output bias alone.*target 'labels'.*try target 'dense'"):
        small, report = prune_sequential(digits_mlp, digits.train_inputs, n=50, labels=digits.train_labels,
                                         target="labels", return_report=True)
    assert report.target == "labels" and "target labels" in report.lines()[1]
    assert test_accuracy(small, digits.train_inputs, digits.train_labels) <= report.trivial["train_accuracy"] + 0.05
    # the scale mismatch behind it: the dense logits are far from one-hot in squared loss
    assert report.dense["train_labels_loss"] > 10


def test_a_three_layer_mlp_prunes_both_hidden_layers_into_a_narrower_sequential(digits, tmp_path, capsys):
    with torch.random.fork_rng():
        model = train_classifier([64, 64, 64, 10], digits.train_inputs, digits.train_labels)
    small = prune_sequential(model, digits.train_inputs, n=32, labels=digits.train_labels)
    assert [type(part) for part in small] == [type(part) for part in model]
    assert small[0].out_features <= 32 and small[2].out_features <= 32 and small[2].in_features == small[0].out_features
    assert test_accuracy(small, digits.test_inputs, digits.test_labels) >= \
        0.85 * test_accuracy(model, digits.test_inputs, digits.test_labels)
    # the same from the command line: a state dict that loads into a narrower nn.Sequential of the same depth
    from sims.cli.commands import main

    torch.save(model.state_dict(), tmp_path / "deep.pt")
    assert main(["prune", "--state-dict", "--model", str(tmp_path / "deep.pt"), "--data", "digits", "-n", "32",
                 "--out", str(tmp_path / "small.pt")]) == 0
    state = torch.load(tmp_path / "small.pt", weights_only=True)
    assert set(state) == set(model.state_dict())
    loaded = nn.Sequential(nn.Linear(64, state["0.weight"].shape[0]), nn.ReLU(),
                           nn.Linear(*reversed(state["2.weight"].shape)), nn.ReLU(), nn.Linear(state["4.weight"].shape[1], 10))
    loaded.load_state_dict(state)
    with torch.no_grad():
        np.testing.assert_allclose(loaded(torch.as_tensor(digits.test_inputs, dtype=torch.float32)).numpy(),
                                   small(torch.as_tensor(digits.test_inputs, dtype=torch.float32)).numpy(), rtol=1e-5,
                                   atol=1e-5)
    assert main(["prune", "--state-dict", "--model", str(tmp_path / "deep.pt"), "--data", "digits", "-n", "32",
                 "--chunk-rows", "100", "--out", str(tmp_path / "chunks.pt")]) == 2
    assert "apply to a network with one hidden layer" in capsys.readouterr().err


@pytest.mark.slow
def test_mnist5k_compression_2_keeps_90_percent_of_the_dense_test_accuracy():
    data = load_dataset(name="mnist5k", m=2000, input_scaling="none")
    with torch.random.fork_rng():
        model = train_classifier([784, 100, 10], data.train_inputs, data.train_labels, steps=100)
    small = prune_sequential(model, data.train_inputs, n=50, labels=data.train_labels)
    assert test_accuracy(small, data.test_inputs, data.test_labels) >= \
        0.9 * test_accuracy(model, data.test_inputs, data.test_labels)
    with pytest.warns(UserWarning, match="target 'labels'"):
        prune_sequential(model, data.train_inputs, n=50, labels=data.train_labels, target="labels")


def test_inputs_the_model_was_not_trained_on_are_refused(digits):
    torch.manual_seed(5)
    untrained = nn.Sequential(nn.Linear(64, 30), nn.ReLU(), nn.Linear(30, 10))
    with pytest.raises(InputError, match=r"near chance \(0\.10\d\): the inputs probably do not match the model"):
        prune_sequential(untrained, digits.train_inputs, n=10, labels=digits.train_labels)


def test_refit_is_the_exact_least_squares_or_ridge_fit_of_the_output_layer(digits, digits_mlp):
    X = digits.train_inputs
    with torch.no_grad():
        dense_outputs = digits_mlp(torch.as_tensor(X, dtype=torch.float32)).double().numpy()
    plain, _ = prune_network(digits_mlp, X, 20, labels=digits.train_labels)
    with torch.no_grad():
        H = torch.relu(torch.as_tensor(X, dtype=torch.float32) @ plain.weights[0].T + plain.biases[0]).double().numpy()
    design = np.hstack([H, np.ones((len(X), 1))])
    coefficients = np.linalg.lstsq(design, dense_outputs, rcond=None)[0]
    refit, report = prune_network(digits_mlp, X, 20, labels=digits.train_labels, refit="least-squares")
    assert report.refit is not None and report.widths == plain.widths
    np.testing.assert_allclose(refit.weights[1].double().numpy(), coefficients[:-1].T, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(refit.biases[1].double().numpy(), coefficients[-1], rtol=1e-3, atol=1e-4)
    assert report.refit["train_target_loss"] <= report.pruned["train_target_loss"]
    # ridge: the gradient of 0.5 mean ||W h + b - y||^2 + 0.5 lambda ||W||^2 vanishes at the answer
    ridged, _ = prune_network(digits_mlp, X, 20, labels=digits.train_labels, refit="ridge", ridge=0.5)
    W, b = ridged.weights[1].double().numpy(), ridged.biases[1].double().numpy()
    residual = H @ W.T + b - dense_outputs
    np.testing.assert_allclose(residual.T @ H / len(X) + 0.5 * W, 0, atol=1e-4)
    np.testing.assert_allclose(residual.mean(0), 0, atol=1e-4)


def test_labels_ce_is_the_published_cross_entropy_procedure(digits, digits_mlp):
    from sims.selection.published_gfs import PublishedOptions, published_gfs

    X, y = digits.train_inputs[:400], digits.train_labels[:400]
    state = {key: value.double() for key, value in digits_mlp.state_dict().items()}
    pruned, report = prune_network(state, X, 12, target="labels-ce", labels=y)
    features = plain_features(state, torch.as_tensor(X), nn.ReLU)
    picks = published_gfs(features, np.eye(10)[y] - state["2.bias"].numpy(), 12, PublishedOptions(loss="cross-entropy"),
                          labels=y, output_offset=state["2.bias"].numpy())
    chosen = np.sort(picks.indices)
    np.testing.assert_allclose(pruned.weights[0].numpy(), state["0.weight"][chosen].numpy(), rtol=EXACT)
    np.testing.assert_allclose(pruned.weights[1].numpy(), 100 / 12 * state["2.weight"][:, chosen].numpy(), rtol=1e-12)
    with pytest.raises(InputError, match="labels-ce"):
        prune_network(state, X, 12, target="labels-ce", labels=y, method="fw")


def test_prune_state_dict_command_on_a_users_model(digits, digits_mlp, tmp_path, capsys):
    from sims.cli.commands import main

    torch.save(digits_mlp.state_dict(), tmp_path / "mlp.pt")
    out = tmp_path / "small.pt"
    assert main(["prune", "--state-dict", "--model", str(tmp_path / "mlp.pt"), "--data", "digits", "-n", "50",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "--input-scaling none (scikit-learn's digits.data / 16" in printed.out and "dense network" in printed.out
    assert printed.err == ""
    state = torch.load(out, weights_only=True)
    width = state["0.weight"].shape[0]
    small = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, 10))
    small.load_state_dict(state)
    assert test_accuracy(small, digits.test_inputs, digits.test_labels) >= \
        0.9 * test_accuracy(digits_mlp, digits.test_inputs, digits.test_labels)
    assert main(["prune", "--state-dict", "--model", str(tmp_path / "mlp.pt"), "--data", "digits", "-n", "50",
                 "--target", "labels", "--out", str(tmp_path / "labels.pt")]) == 0
    warning = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(warning) == 1 and warning[0].startswith("warning: the pruned network is")


def test_prune_state_dict_command_refuses_a_model_at_chance_and_writes_nothing(tmp_path, capsys):
    from sims.cli.commands import main

    torch.manual_seed(1)
    torch.save(nn.Sequential(nn.Linear(64, 20), nn.ReLU(), nn.Linear(20, 10)).state_dict(), tmp_path / "raw.pt")
    assert main(["prune", "--state-dict", "--model", str(tmp_path / "raw.pt"), "--data", "digits", "-n", "5",
                 "--out", str(tmp_path / "small.pt")]) == 2
    error = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(error) == 1 and "inputs probably do not match the model" in error[0]
    assert not (tmp_path / "small.pt").exists()


def test_a_gfs_train_model_takes_the_dense_target_and_refuses_the_user_only_options(tmp_path, capsys):
    from sims.cli.commands import main
    from sims.nets.model import load_model

    dense = tmp_path / "dense.pt"
    assert main(["train", "--data", "digits", "--m", "300", "--width", "40", "--iterations", "10",
                 "--out", str(dense)]) == 0
    assert main(["prune", "--model", str(dense), "--data", "digits", "--m", "300", "-n", "6", "--target", "dense",
                 "--out", str(tmp_path / "small.pt")]) == 0
    model, _ = load_model(dense)
    data = load_dataset(name="digits", m=300)
    with torch.no_grad():
        expected = select(neuron_features(model, data.train_inputs), forward(model, data.train_inputs), 6, "gfs")
    pruned, metadata = load_model(tmp_path / "small.pt")
    assert metadata["target"] == "dense" and pruned.width == expected.support_size
    assert metadata["train_loss"] == pytest.approx(expected.losses[-1], rel=REFERENCE)
    capsys.readouterr()
    for extra in (["--target", "labels-ce"], ["--refit", "ridge"]):
        assert main(["prune", "--model", str(dense), "--data", "digits", "-n", "6", *extra,
                     "--out", str(tmp_path / "no.pt")]) == 2
        assert "apply to a --state-dict model" in capsys.readouterr().err
    assert not (tmp_path / "no.pt").exists()
