"""Each pruning method of sims.baselines.methods against a slow, literal reference on a small case.

The references share no code with the module: the loss is written out with torch operations,
every gradient and Hessian-gradient product comes from autograd, scores are summed neuron by
neuron in Python loops, and training is a plain autograd GD loop (mean-field step lr x width).
Kept indices must be identical and the final networks' outputs equal to REFERENCE relative.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from sims.baselines.methods import PRUNING_METHODS, PruningProblem, prune_with
from sims.foundations.errors import InputError
from sims.metrics.cost import gd_step_flops
from sims.nets.model import forward, init_network
from sims.nets.train import TrainConfig, train

from tests.helpers import EXACT, REFERENCE

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ACT = {"relu": torch.relu, "tanh": torch.tanh, "softplus": torch.nn.functional.softplus}


def _case(activation="tanh", bias=True, width=8, m=9, d=3, k=2, seed=0):
    rng = np.random.default_rng(seed)
    inputs = torch.as_tensor(rng.standard_normal((m, d)) / math.sqrt(d))
    targets = torch.as_tensor(rng.standard_normal((m, k)))
    init = init_network(d, width, k, activation=activation, bias=bias, seed=seed)
    return init, inputs, targets


def _params(net):
    """[A, beta, B] as fresh leaves; without a first-layer bias beta is a constant zero, not a parameter."""
    A, B = (t.detach().clone().requires_grad_(True) for t in (net.first_weight, net.second_weight))
    if net.first_bias is None:
        return [A, torch.zeros(net.width, dtype=net.dtype), B]
    return [A, net.first_bias.detach().clone().requires_grad_(True), B]


def _grad(value, leaves, **options):
    """autograd over the leaves that are parameters; a zero for the constant bias."""
    wanted = [leaf for leaf in leaves if leaf.requires_grad]
    found = iter(torch.autograd.grad(value, wanted, **options))
    return [next(found) if leaf.requires_grad else torch.zeros_like(leaf) for leaf in leaves]


def ref_loss(A, beta, B, X, Y, activation, scale):
    out = scale * ACT[activation](X @ A.T + beta) @ B
    return 0.5 * ((out - Y) ** 2).sum(1).mean()


def ref_output(A, beta, B, X, activation):
    return ACT[activation](X @ A.T + beta) @ B / A.shape[0]


def ref_gd(A, beta, B, X, Y, activation, lr, steps, train_bias):
    """Plain GD by autograd on the mean-field network of these neurons (step lr * width)."""
    A, beta, B = (t.detach().clone() for t in (A, beta, B))
    for _ in range(steps):
        leaves = [t.clone().requires_grad_(True) for t in (A, beta, B)]
        loss = ref_loss(*leaves, X, Y, activation, 1.0 / A.shape[0])
        grads = torch.autograd.grad(loss, leaves)
        step = lr * A.shape[0]
        A, B = A - step * grads[0], B - step * grads[2]
        if train_bias:
            beta = beta - step * grads[1]
    return A, beta, B


def ref_per_neuron(values):
    """sum over each neuron's parameters, by loops."""
    A, beta, B = values
    return np.array([float(sum(A[i, j] for j in range(A.shape[1])) + beta[i] + sum(B[i, j] for j in range(B.shape[1])))
                     for i in range(A.shape[0])])


def ref_keep(scores, n, largest=True):
    order = sorted(range(len(scores)), key=lambda i: (-scores[i] if largest else scores[i], i))
    return sorted(order[:n])


def ref_magnitude(A, beta, B):
    return [math.sqrt(float((A[i] ** 2).sum() + beta[i] ** 2 + (B[i] ** 2).sum())) for i in range(A.shape[0])]


def _close(a, b, tolerance=REFERENCE):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert np.allclose(a, b, rtol=tolerance, atol=tolerance * max(1.0, float(np.abs(b).max())))


# ------------------------------------------------------------------------------ reference scores (also test_scores)


def ref_taylor_scores(net, X, Y, batch_size, seed):
    """Molchanov et al.'s criterion for a tanh network, literally: the squared gradient of a gate
    on each neuron's output, averaged over the mini-batches of one epoch, the epoch's order a
    permutation drawn from numpy.random.default_rng([seed, 0])."""
    order = np.random.default_rng([seed, 0]).permutation(X.shape[0])
    batches = [order[start:start + batch_size] for start in range(0, X.shape[0], batch_size)]
    A, beta, B = _params(net)
    total = np.zeros(net.width)
    for batch in batches:
        gates = torch.ones(net.width, dtype=torch.float64, requires_grad=True)
        out = net.output_scale * (torch.tanh(X[batch] @ A.T + beta) * gates) @ B
        loss = 0.5 * ((out - Y[batch]) ** 2).sum(1).mean()
        (gate_grad,) = torch.autograd.grad(loss, [gates])
        total += gate_grad.detach().numpy() ** 2
    return total / len(batches)


def ref_activation_scores(net, X):
    """Mean absolute tanh activation of each neuron, one example at a time."""
    return [np.mean([abs(math.tanh(float(X[j] @ net.first_weight[i] + net.first_bias[i]))) for j in range(X.shape[0])])
            for i in range(net.width)]


# ------------------------------------------------------------------------------ methods


def _problem(activation="tanh", bias=True, iterations=12, width=8, seed=0):
    init, X, Y = _case(activation, bias, width=width, seed=seed)
    budget = TrainConfig(lr=0.5, iterations=iterations)
    return PruningProblem(init, train(init, X, Y, budget).model, X, Y, budget, seed=seed)


def _outputs(network, X):
    return forward(network, X).detach().numpy()


def ref_kept_by_snip_or_grasp(net, X, Y, largest):
    """(the 3 neurons SNIP (largest) or GraSP (not largest) keeps by autograd scores, the parameter leaves,
    the 3 the opposite direction would keep)."""
    leaves = _params(net)
    loss = ref_loss(*leaves, X, Y, "tanh", net.output_scale)
    grads = _grad(loss, leaves, create_graph=True)
    if largest:
        scores = ref_per_neuron([(p * g).abs().detach() for p, g in zip(leaves, grads)])
    else:
        hg = _grad(sum((g * g.detach()).sum() for g in grads), leaves)
        scores = -ref_per_neuron([(p * h).detach() for p, h in zip(leaves, hg)])
    return ref_keep(scores, 3, largest), leaves, ref_keep(scores, 3, not largest)


@pytest.mark.parametrize("method, largest", [("snip", True), ("grasp", False)])
def test_at_initialisation_methods_keep_by_score_then_train(method, largest):
    problem = _problem()
    X, Y = problem.inputs, problem.targets
    kept, leaves, _ = ref_kept_by_snip_or_grasp(problem.dense_init, X, Y, largest)
    A, beta, B = (t.detach()[kept] for t in leaves)
    A, beta, B = ref_gd(A, beta, B, X, Y, "tanh", 0.5, 12, train_bias=True)
    result = prune_with(method, problem, 3)
    assert result.indices.tolist() == kept
    _close(_outputs(result.network, X), ref_output(A, beta, B, X, "tanh").numpy())


@pytest.mark.parametrize("method, largest", [("snip-checkpoint", True), ("grasp-checkpoint", False)])
def test_snip_and_grasp_on_the_checkpoint_keep_by_score_without_training(method, largest):
    problem = _problem()
    X = problem.inputs
    kept, leaves, opposite = ref_kept_by_snip_or_grasp(problem.dense, X, problem.targets, largest)
    assert kept != opposite  # the premise: the direction matters here
    A, beta, B = (t.detach()[kept] for t in leaves)
    result = prune_with(method, problem, 3)
    assert result.indices.tolist() == kept and result.train_steps == 0
    _close(_outputs(result.network, X), ref_output(A, beta, B, X, "tanh").numpy(), EXACT * 10)


@pytest.mark.parametrize("method", ["taylor", "activation"])
def test_after_training_methods_keep_the_checkpoints_neurons(method):
    problem = _problem()
    dense, X = problem.dense, problem.inputs
    # the references, not the module's score functions, decide which neurons must be kept
    scores = (ref_taylor_scores(dense, X, problem.targets, 64, 0) if method == "taylor"
              else ref_activation_scores(dense, X))
    kept = ref_keep(list(scores), 4)
    result = prune_with(method, problem, 4)
    assert result.indices.tolist() == kept
    A, beta, B = dense.first_weight[kept], dense.first_bias[kept], dense.second_weight[kept]
    _close(_outputs(result.network, X), ref_output(A, beta, B, X, "tanh").numpy(), EXACT * 10)


def test_imp_rewind_is_open_lths_procedure_at_neuron_level():
    problem = _problem(iterations=10, width=9)
    X, Y = problem.inputs, problem.targets
    A0, beta0, B0 = (t.detach() for t in _params(problem.dense_init))
    # rewind point k = round(0.2 * 10) = 2; dense run 10 steps; levels 2: widths round(9 (2/9)^(1/2)) = 4, then 2;
    # the two rounds share the budget T = 10 after the checkpoint: 5 steps each
    Ak, betak, Bk = ref_gd(A0, beta0, B0, X, Y, "tanh", 0.5, 2, True)
    A, beta, B = ref_gd(Ak, betak, Bk, X, Y, "tanh", 0.5, 8, True)
    alive = list(range(9))
    for width in (4, 2):
        keep = ref_keep(ref_magnitude(A, beta, B), width)
        alive = [alive[i] for i in keep]
        A, beta, B = ref_gd(Ak[alive], betak[alive], Bk[alive], X, Y, "tanh", 0.5, 5, True)
    result = prune_with("imp-rewind", problem, 2, levels=2, rewind_fraction=0.2)
    assert result.indices.tolist() == alive
    assert result.cost["dense_steps"] == 10 and result.train_steps == 10
    assert result.train_flops == 5 * ref_step_flops(problem, 4) + 5 * ref_step_flops(problem, 2)
    _close(_outputs(result.network, X), ref_output(A, beta, B, X, "tanh").numpy())


def test_imp_rewind_rounds_share_an_uneven_budget_and_a_flops_budget():
    problem = _problem(iterations=10, width=9)
    three = prune_with("imp-rewind", problem, 2, levels=3)  # widths 5, 3, 2: steps 4, 3, 3
    assert three.train_steps == 10
    assert three.train_flops == sum(s * ref_step_flops(problem, w) for s, w in ((4, 5), (3, 3), (3, 2)))
    budget = 10 * ref_step_flops(problem, 2)  # F steps at width n = 2
    at_flops = prune_with("imp-rewind", problem, 2, levels=2, flops_budget=budget)
    first = int(budget / 2 // ref_step_flops(problem, 4))  # half the budget, then all that is left
    steps = [first, int((budget - first * ref_step_flops(problem, 4)) // ref_step_flops(problem, 2))]
    assert first < 5 <= steps[1]
    assert at_flops.train_steps == sum(steps) and at_flops.train_flops <= budget
    assert at_flops.train_flops == sum(s * ref_step_flops(problem, w) for s, w in zip(steps, (4, 2)))
    with pytest.raises(InputError, match="flops_budget"):
        prune_with("imp-rewind", problem, 2, flops_budget=-1.0)


def ref_step_flops(problem, width):
    """One GD step's FLOPs on the problem's data, tanh with bias, mean loss, written out per operation."""
    (m, d), k = problem.inputs.shape, problem.targets.shape[1]
    return gd_step_flops(m, d, width, k, first_bias=problem.dense.first_bias is not None)


def test_rigl_drops_by_magnitude_and_grows_by_output_weight_gradient():
    problem = _problem(iterations=12, width=10)
    X, Y = problem.inputs, problem.targets
    A0, beta0, B0 = (t.detach() for t in _params(problem.dense_init))
    n, interval, drop_fraction, end = 5, 3, 0.5, 0.75 * 12
    active = sorted(np.random.default_rng(0).choice(10, size=n, replace=False).tolist())
    A, beta, B = A0[active], beta0[active], B0[active]
    done, regrown = 0, 0
    for t in (3, 6, 12):  # updates at t = 3, 6 (< 9), then the rest of the budget
        A, beta, B = ref_gd(A, beta, B, X, Y, "tanh", 0.5, t - done, True)
        done = t
        if t == 12:
            break
        count = int(round(drop_fraction / 2 * (1 + math.cos(math.pi * t / end)) * n))
        magnitudes = ref_magnitude(A, beta, B)
        dropped = sorted(range(n), key=lambda i: (magnitudes[i], i))[:count]
        keep = [i for i in range(n) if i not in dropped]
        A, beta, B, active = A[keep], beta[keep], B[keep], [active[i] for i in keep]
        grow_scores = {}
        for candidate in range(10):
            if candidate in active:
                continue
            b = torch.zeros(Y.shape[1], dtype=torch.float64, requires_grad=True)
            out = (torch.tanh(X @ A.T + beta) @ B + torch.tanh(X @ A0[candidate] + beta0[candidate])[:, None] * b) / n
            loss = 0.5 * ((out - Y) ** 2).sum(1).mean()
            (grad,) = torch.autograd.grad(loss, [b])
            grow_scores[candidate] = float(grad.norm())
        grown = sorted(grow_scores, key=lambda i: (-grow_scores[i], i))[:count]
        regrown += count
        order = sorted(range(n), key=lambda position: (active + grown)[position])
        A = torch.cat([A, A0[grown]])[order]
        beta = torch.cat([beta, beta0[grown]])[order]
        B = torch.cat([B, torch.zeros(count, Y.shape[1], dtype=torch.float64)])[order]
        active = sorted(active + grown)
    result = prune_with("rigl", problem, n, update_interval=interval, drop_fraction=drop_fraction)
    assert regrown >= 2 and result.cost["regrown"] == regrown
    assert result.indices.tolist() == active
    _close(_outputs(result.network, X), ref_output(A, beta, B, X, "tanh").numpy())


def test_direct_gd_trains_a_fresh_network():
    problem = _problem(iterations=12)
    X, Y = problem.inputs, problem.targets
    fresh = init_network(3, 4, 2, activation="tanh", bias=True, seed=10_000)
    A, beta, B = ref_gd(*(t.detach() for t in _params(fresh)), X, Y, "tanh", 0.5, 12, True)
    _close(_outputs(prune_with("direct-gd", problem, 4).network, X), ref_output(A, beta, B, X, "tanh").numpy())


# ------------------------------------------------------------------------------ registry facts


def test_every_method_returns_a_network_of_at_most_n_kept_neurons():
    problem = _problem("relu", False, iterations=6, width=10)
    for name in PRUNING_METHODS:
        result = prune_with(name, problem, 4)
        assert 1 <= result.network.width <= 4, name
        assert result.indices.size in (0, result.network.width), name
        assert np.all((result.indices >= 0) & (result.indices < 10)), name
        # equal steps after the checkpoint: every procedure that trains runs T = 6, at width 4 but IMP's rounds
        trains = PRUNING_METHODS[name].trains
        assert result.train_steps == (6 if trains else 0), name
        assert (result.train_losses is not None) == trains, name
        if name != "imp-rewind":
            assert result.train_flops == (6 * ref_step_flops(problem, 4) if trains else 0), name


def test_methods_at_initialisation_ignore_the_checkpoint_and_data_free_ones_the_targets():
    problem = _problem("relu", False, iterations=6, width=10)
    scrambled = replace(problem, dense=replace(problem.dense, second_weight=-3 * problem.dense.second_weight))
    no_targets = replace(problem, targets=torch.zeros_like(problem.targets))
    for name, spec in PRUNING_METHODS.items():
        base = prune_with(name, problem, 4)
        if spec.at_initialisation:
            other = prune_with(name, scrambled, 4)
            assert other.indices.tolist() == base.indices.tolist(), name
            _close(_outputs(other.network, problem.inputs), _outputs(base.network, problem.inputs), EXACT)
        if not spec.needs_data:
            assert prune_with(name, no_targets, 4).indices.tolist() == base.indices.tolist(), name
    # the converse can fail: a one-shot criterion on the checkpoint does see the scrambled weights
    assert prune_with("taylor", scrambled, 4).network.second_weight.sum() != prune_with("taylor", problem, 4).network.second_weight.sum()


def test_bad_method_and_sizes_are_refused():
    problem = _problem("relu", False, iterations=2)
    with pytest.raises(InputError, match="unknown pruning method 'nope'"):
        prune_with("nope", problem, 2)
    with pytest.raises(InputError, match="n must be an integer in"):
        prune_with("snip", problem, 9)
