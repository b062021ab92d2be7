"""Exact full-batch GD: analytic gradients against autograd and finite differences, modes,
stopping, checkpoints, divergence, determinism."""

import math

import numpy as np
import pytest
import torch

from sims.model import ACTIVATIONS, SCALINGS, forward, init_network
from sims.train import TrainConfig, TrainingDiverged, evaluate_loss, loss_and_gradients, train

from tests.helpers import EXACT, REFERENCE


def instance(activation="tanh", scaling="mean-field", bias=True, seed=0, m=13, d=4, width=9, k=3):
    rng = np.random.default_rng(seed)
    inputs = torch.from_numpy(rng.standard_normal((m, d)) / np.sqrt(d))
    targets = torch.from_numpy(rng.standard_normal((m, k)))
    model = init_network(d, width, k, activation=activation, scaling=scaling, bias=bias, seed=seed)
    return model, inputs, targets


def autograd_loss(model, inputs, targets, loss_form, parameters):
    first_weight, second_weight, first_bias = parameters
    z = inputs @ first_weight.T + (first_bias if first_bias is not None else 0)
    outputs = model.output_scale * ACTIVATIONS[model.activation][0](z) @ second_weight
    total = 0.5 * ((outputs - targets) ** 2).sum()
    return total / inputs.shape[0] if loss_form == "mean" else total


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("scaling", SCALINGS)
@pytest.mark.parametrize("loss_form", ["mean", "sum"])
def test_analytic_gradients_match_autograd(activation, scaling, loss_form):
    model, inputs, targets = instance(activation, scaling, seed=hash((activation, scaling)) % 1000)
    loss, grads = loss_and_gradients(model, inputs, targets, loss_form)
    parameters = [t.clone().requires_grad_(True) for t in (model.first_weight, model.second_weight, model.first_bias)]
    reference = autograd_loss(model, inputs, targets, loss_form, parameters)
    reference.backward()
    assert loss == pytest.approx(reference.item(), rel=1e-13)
    for name, parameter in zip(("first_weight", "second_weight", "first_bias"), parameters):
        torch.testing.assert_close(grads[name], parameter.grad, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("activation", ["tanh", "softplus", "gelu", "sigmoid", "relu"])
@pytest.mark.parametrize("scaling", SCALINGS)
def test_analytic_gradients_match_central_differences(activation, scaling):
    model, inputs, targets = instance(activation, scaling, seed=7, width=5, m=6, d=3, k=2)
    _, grads = loss_and_gradients(model, inputs, targets, "mean")
    step = 1e-6
    rng = np.random.default_rng(0)
    for name in ("first_weight", "second_weight", "first_bias"):
        tensor = getattr(model, name)
        for flat in rng.choice(tensor.numel(), size=min(6, tensor.numel()), replace=False):
            original = tensor.view(-1)[flat].item()
            tensor.view(-1)[flat] = original + step
            plus, _ = loss_and_gradients(model, inputs, targets, "mean")
            tensor.view(-1)[flat] = original - step
            minus, _ = loss_and_gradients(model, inputs, targets, "mean")
            tensor.view(-1)[flat] = original
            numeric = (plus - minus) / (2 * step)
            # relu has a kink; with random inputs no pre-activation lies within 1e-6 of 0
            assert grads[name].view(-1)[flat].item() == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_loss_history_starts_at_initial_loss_and_decreases():
    model, inputs, targets = instance("tanh", bias=False, width=50)
    result = train(model, inputs, targets, TrainConfig(lr=0.5, iterations=200))
    assert result.losses.shape == (201,)
    assert result.losses[0] == pytest.approx(evaluate_loss(model, inputs, targets))
    assert result.final_loss == pytest.approx(evaluate_loss(result.model, inputs, targets), rel=EXACT)
    assert result.final_loss < 0.8 * result.losses[0]
    assert np.all(np.diff(result.losses) <= 1e-12)  # small step: monotone


def test_training_does_not_modify_the_input_model():
    model, inputs, targets = instance()
    before = model.first_weight.clone()
    train(model, inputs, targets, TrainConfig(lr=0.1, iterations=5))
    assert torch.equal(model.first_weight, before)


@pytest.mark.parametrize("mode,frozen", [("first", "second_weight"), ("second", "first_weight")])
def test_modes_freeze_the_other_layer(mode, frozen):
    model, inputs, targets = instance()
    result = train(model, inputs, targets, TrainConfig(lr=0.1, iterations=5, mode=mode))
    assert torch.equal(getattr(result.model, frozen), getattr(model, frozen))
    trained = "first_weight" if frozen == "second_weight" else "second_weight"
    assert not torch.equal(getattr(result.model, trained), getattr(model, trained))


def test_mean_field_step_is_width_independent():
    """With lr scaled by N, the same network duplicated (each neuron twice) follows the same function."""
    model, inputs, targets = instance("tanh", bias=False, width=6)
    doubled = type(model)(
        model.first_weight.repeat(2, 1), model.second_weight.repeat(2, 1), None, model.activation, model.scaling
    )
    torch.testing.assert_close(forward(doubled, inputs), forward(model, inputs))
    config = TrainConfig(lr=0.3, iterations=20)
    small, large = train(model, inputs, targets, config), train(doubled, inputs, targets, config)
    np.testing.assert_allclose(small.losses, large.losses, rtol=REFERENCE)


def test_target_loss_stops_early_and_checkpoints_are_kept():
    model, inputs, targets = instance("tanh", bias=False, width=40)
    full = train(model, inputs, targets, TrainConfig(lr=0.5, iterations=100, checkpoints=(0, 10, 50)))
    threshold = full.losses[30]
    stopped = train(model, inputs, targets, TrainConfig(lr=0.5, iterations=100, target_loss=threshold))
    assert stopped.steps == int(np.argmax(full.losses <= threshold))
    assert sorted(full.checkpoints) == [0, 10, 50]
    assert evaluate_loss(full.checkpoints[10], inputs, targets) == pytest.approx(full.losses[10], rel=EXACT)


def test_divergence_names_the_learning_rate():
    model, inputs, targets = instance("relu", bias=False)
    with pytest.raises(TrainingDiverged, match="lr=1000000.0"):
        train(model, inputs, targets, TrainConfig(lr=1e6, iterations=50))


def test_same_seed_same_bytes():
    runs = []
    for _ in range(2):
        model, inputs, targets = instance(seed=3)
        runs.append(train(model, inputs, targets, TrainConfig(lr=0.2, iterations=30)))
    assert torch.equal(runs[0].model.first_weight, runs[1].model.first_weight)
    assert np.array_equal(runs[0].losses, runs[1].losses)


@pytest.mark.parametrize(
    "fields,match",
    [({"lr": 0.0}, "lr"), ({"lr": float("nan")}, "lr"), ({"iterations": -1}, "iterations"),
     ({"mode": "all"}, "mode"), ({"loss_form": "max"}, "loss_form"), ({"checkpoints": (5,), "iterations": 3}, "checkpoints")],
)
def test_config_rejects_bad_values(fields, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**fields)


def test_float32_training_runs():
    model, inputs, targets = instance()
    result = train(model.to(dtype=torch.float32), inputs, targets, TrainConfig(lr=0.1, iterations=10))
    assert result.model.dtype == torch.float32 and np.isfinite(result.final_loss)


# ---------------------------------------------------------------- SGD, random features, observer


def test_sgd_with_one_batch_per_epoch_is_full_batch_gd():
    model, inputs, targets = instance("tanh", bias=False, width=12)
    gd = train(model, inputs, targets, TrainConfig(lr=0.3, iterations=15))
    sgd = train(model, inputs, targets, TrainConfig(lr=0.3, iterations=15, batch_size=inputs.shape[0]))
    np.testing.assert_allclose(sgd.losses, gd.losses, rtol=1e-11)  # same steps, rows summed in another order


def test_sgd_epochs_batches_and_seeds():
    from sims.train import epoch_batches

    batches = epoch_batches(13, 4, shuffle_seed=2, epoch=5)
    assert [len(b) for b in batches] == [4, 4, 4, 1] and sorted(np.concatenate(batches)) == list(range(13))
    model, inputs, targets = instance("tanh", bias=False, width=12)
    config = TrainConfig(lr=0.3, iterations=6, batch_size=4, checkpoints=(0, 3, 6), shuffle_seed=1)
    first, again = train(model, inputs, targets, config), train(model, inputs, targets, config)
    assert first.losses.shape == (7,) and sorted(first.checkpoints) == [0, 3, 6]  # counted in epochs
    assert np.array_equal(first.losses, again.losses)  # seeded: same bytes
    other = train(model, inputs, targets, TrainConfig(lr=0.3, iterations=6, batch_size=4, shuffle_seed=2))
    assert not np.array_equal(first.losses, other.losses)
    gd = train(model, inputs, targets, TrainConfig(lr=0.3, iterations=6))
    assert not np.allclose(first.losses[1:], gd.losses[1:])  # 4 steps per epoch: not one GD step
    # resuming from an epoch checkpoint with the same seed continues the same trajectory
    resumed = train(first.checkpoints[3], inputs, targets, TrainConfig(lr=0.3, iterations=3, batch_size=4,
                                                                       shuffle_seed=1, start_epoch=3))
    assert evaluate_loss(first.checkpoints[6], inputs, targets) == pytest.approx(resumed.final_loss, rel=EXACT)
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=0)


def test_random_features_mode_reuses_act_z_and_matches_the_plain_loop():
    model, inputs, targets = instance("relu", bias=False, width=10)
    result = train(model, inputs, targets, TrainConfig(lr=0.4, iterations=7, mode="second"))
    reference = model.clone()
    for _ in range(7):
        _, grads = loss_and_gradients(reference, inputs, targets)
        reference.second_weight.sub_(0.4 * reference.width * grads["second_weight"])
    assert torch.equal(result.model.second_weight, reference.second_weight)
    assert torch.equal(result.model.first_weight, model.first_weight)


def test_observer_sees_every_step_with_its_hidden_activations():
    from sims.model import hidden_activations

    model, inputs, targets = instance("tanh", bias=True, width=8)
    seen = []

    def observe(step, current, hidden):
        torch.testing.assert_close(hidden, hidden_activations(current, inputs), rtol=0, atol=0)
        seen.append((step, evaluate_loss(current, inputs, targets)))

    result = train(model, inputs, targets, TrainConfig(lr=0.2, iterations=5), observe=observe)
    assert [s for s, _ in seen] == list(range(6))
    np.testing.assert_allclose([loss for _, loss in seen], result.losses, rtol=EXACT)


def test_ntk_step_convention_of_e3():
    """E3's NTK set-up: GD on the summed loss with eta = ntk_lr / m, the step applied as given
    (not multiplied by the width), is mean-form GD with step ntk_lr; the recorded loss is the sum."""
    from sims.experiments.pretraining import dense_learning_rate

    rng = np.random.default_rng(4)
    m, d, width, ntk_lr = 24, 3, 16, 0.7
    inputs = rng.standard_normal((m, d))
    inputs /= np.linalg.norm(inputs, axis=1, keepdims=True)
    targets = rng.standard_normal((m, 1))
    model = init_network(d, width, 1, scaling="ntk", second_layer="sign", seed=1)
    eta = dense_learning_rate("ntk-teacher", ntk_lr, m)
    assert eta == pytest.approx(ntk_lr / m)
    summed = train(model, inputs, targets, TrainConfig(lr=eta, iterations=10, mode="first", loss_form="sum"))
    mean = train(model, inputs, targets, TrainConfig(lr=ntk_lr, iterations=10, mode="first", loss_form="mean"))
    np.testing.assert_allclose(summed.losses, m * mean.losses, rtol=REFERENCE)
    torch.testing.assert_close(summed.model.first_weight, mean.model.first_weight, rtol=REFERENCE, atol=EXACT)
    # one step by hand: W1 = W0 - eta * d/dW [0.5 sum_j (f(x_j) - y_j)^2], f = N^(-1/2) sum_r a_r relu(w_r.x)
    w = model.first_weight.clone().requires_grad_(True)
    x, y = torch.from_numpy(inputs), torch.from_numpy(targets)
    outputs = torch.relu(x @ w.T) @ model.second_weight / math.sqrt(width)
    loss = 0.5 * ((outputs - y) ** 2).sum()
    loss.backward()
    one = train(model, inputs, targets, TrainConfig(lr=eta, iterations=1, mode="first", loss_form="sum"))
    assert one.losses[0] == pytest.approx(loss.item(), rel=1e-13)
    torch.testing.assert_close(one.model.first_weight, (w - eta * w.grad).detach(), rtol=EXACT, atol=1e-14)
    assert dense_learning_rate("mf-teacher", 0.5, m) == 0.5  # mean-field set-ups: lr as given
