"""Exact full-batch GD: analytic gradients against autograd and finite differences, modes,
stopping, checkpoints, divergence, determinism."""

import math

import numpy as np
import pytest
import torch

from sims.nets.model import ACTIVATIONS, SCALINGS, forward, init_network
from sims.nets.train import TrainConfig, TrainingDiverged, evaluate_loss, loss_and_gradients, train

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
    from sims.nets.train import epoch_batches

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
    from sims.nets.model import hidden_activations

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


# ---------------------------------------------------------------- preallocated buffers: same bits, no (m, N) allocation


def reference_train(model, inputs, targets, lr, iterations, mode="both", loss_form="mean", batch_size=None):
    """The update of the module docstring written out with fresh tensors at every step (the
    loop of sims.train before it reused buffers): (losses, trained model)."""
    activation, derivative = ACTIVATIONS[model.activation]
    model = model.clone()
    step_size = lr * model.width if model.scaling == "mean-field" else lr
    trained = {"both": ["first_weight", "first_bias", "second_weight"], "first": ["first_weight", "first_bias"],
               "second": ["second_weight"]}[mode]
    trained = [name for name in trained if getattr(model, name) is not None]
    scale = model.output_scale

    def loss_and_grads(x, y):
        z = x @ model.first_weight.T
        if model.first_bias is not None:
            z = z + model.first_bias
        hidden = activation(z)
        residual = scale * (hidden @ model.second_weight) - y
        total = 0.5 * (residual * residual).sum()
        loss = total / x.shape[0] if loss_form == "mean" else total
        output_grad = residual / x.shape[0] if loss_form == "mean" else residual
        z_grad = (scale * (output_grad @ model.second_weight.T)) * derivative(z)
        grads = {"second_weight": scale * (hidden.T @ output_grad), "first_weight": z_grad.T @ x,
                 "first_bias": z_grad.sum(0)}
        return float(loss), grads

    losses = []
    for step in range(iterations + 1):
        loss, grads = loss_and_grads(inputs, targets)
        losses.append(loss)
        if step == iterations:
            break
        from sims.nets.train import epoch_batches

        batches = [slice(None)] if batch_size is None else epoch_batches(inputs.shape[0], batch_size, 0, step)
        for batch in batches:
            if batch_size is not None:
                index = torch.as_tensor(batch)
                _, grads = loss_and_grads(inputs[index], targets[index])
            for name in trained:
                getattr(model, name).sub_(step_size * grads[name])
    return np.asarray(losses), model


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_in_place_activation_kernels_are_bitwise_the_model_activations(activation, dtype):
    from sims.nets.train import _KERNELS

    z = torch.randn(7, 50, generator=torch.Generator().manual_seed(1), dtype=torch.float64).mul_(4).to(dtype)
    z[0, :6] = torch.tensor([0.0, -0.0, 1e-30, -1e-30, 60.0, -60.0])
    act, derivative = ACTIVATIONS[activation]
    kernels = _KERNELS[activation]
    buffer, out, scratch = z.clone(), torch.empty_like(z), torch.empty_like(z)
    hidden = buffer if kernels.from_hidden else torch.empty_like(z)
    kernels.forward(buffer, hidden)
    assert torch.equal(hidden, act(z)) and torch.equal(hidden.signbit(), act(z).signbit())
    kernels.derivative(None if kernels.from_hidden else buffer, hidden, out, scratch)
    assert torch.equal(out, derivative(z)) and torch.equal(out.signbit(), derivative(z).signbit())


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scaling,bias,mode,loss_form",
                         [("mean-field", True, "both", "mean"), ("mean-field", False, "second", "mean"),
                          ("ntk", False, "first", "sum"), ("ntk", True, "both", "sum")])
def test_gd_is_bitwise_the_plain_update(activation, dtype, scaling, bias, mode, loss_form):
    model, inputs, targets = instance(activation, scaling, bias=bias, seed=5, m=17, d=4, width=11, k=3)
    model, inputs, targets = model.to(dtype=dtype), inputs.to(dtype), targets.to(dtype)
    lr = 0.2 if loss_form == "mean" else 0.2 / inputs.shape[0]
    result = train(model, inputs, targets, TrainConfig(lr=lr, iterations=6, mode=mode, loss_form=loss_form))
    losses, reference = reference_train(model, inputs, targets, lr, 6, mode, loss_form)
    assert np.array_equal(result.losses, losses)
    for name in ("first_weight", "second_weight", "first_bias"):
        if getattr(model, name) is not None:
            assert torch.equal(getattr(result.model, name), getattr(reference, name)), name


@pytest.mark.parametrize("mode", ["both", "second"])
def test_sgd_is_bitwise_the_plain_update(mode):
    model, inputs, targets = instance("relu", bias=True, seed=6, m=23, width=10)
    result = train(model, inputs, targets, TrainConfig(lr=0.3, iterations=3, mode=mode, batch_size=8))
    losses, reference = reference_train(model, inputs, targets, 0.3, 3, mode, batch_size=8)
    assert np.array_equal(result.losses, losses)  # 3 batches an epoch, the last of 7 examples
    assert torch.equal(result.model.first_weight, reference.first_weight)
    assert torch.equal(result.model.second_weight, reference.second_weight)


def large_allocations(run, threshold_bytes: int) -> int:
    """How many tensors of at least ``threshold_bytes`` ``run()`` allocates (torch profiler)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run()
    return sum(1 for event in prof.events() if event.self_cpu_memory_usage >= threshold_bytes)


@pytest.mark.parametrize("activation,mode,batch_size",
                         [("relu", "both", None), ("gelu", "both", None), ("tanh", "first", None),
                          ("relu", "second", None), ("relu", "both", 16), ("softplus", "second", 16)])
def test_steps_after_the_first_allocate_nothing_of_size_m_by_n(activation, mode, batch_size):
    """Z, act(Z), act'(Z) and dL/dZ live in buffers reused from step to step: a run of 5 steps
    allocates as many tensors of the size of a batch's (rows, N) as a run of 1 step.
    (The loop that allocated them afresh made 7 such allocations a relu GD step with a bias.)"""
    model, inputs, targets = instance(activation, bias=True, m=60, d=3, width=40, k=2)
    smallest_rows = 60 if batch_size is None else 60 % batch_size  # the last batch: 12 rows
    threshold = smallest_rows * 40 * 8  # above every (m, d), (m, K), (N, d) tensor
    config = lambda steps: TrainConfig(lr=0.1, iterations=steps, mode=mode, batch_size=batch_size)  # noqa: E731
    one = large_allocations(lambda: train(model, inputs, targets, config(1)), threshold)
    five = large_allocations(lambda: train(model, inputs, targets, config(5)), threshold)
    assert one > 0  # the buffers themselves (the test can see them)
    assert five == one


def test_observer_hidden_is_a_buffer_the_next_step_overwrites():
    """The observer contract: act(Z) is right during the call; a kept reference is overwritten
    by later steps (it ends as the last step's act(Z)), so an observer must copy what it keeps."""
    from sims.nets.model import hidden_activations

    model, inputs, targets = instance("relu", bias=False, width=8)
    kept, copies, models = [], [], []

    def observe(step, current, hidden):
        kept.append(hidden)
        copies.append(hidden.clone())
        models.append(current.clone())

    train(model, inputs, targets, TrainConfig(lr=0.2, iterations=3), observe=observe)
    for copy, current in zip(copies, models):
        assert torch.equal(copy, hidden_activations(current, inputs))
    assert all(torch.equal(reference, copies[-1]) for reference in kept)
    assert not torch.equal(copies[0], copies[-1])
