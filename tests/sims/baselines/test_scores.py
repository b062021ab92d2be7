"""The criteria's neuron scores of sims.baselines.scores against literal references (autograd for every
gradient and Hessian-gradient product, Python loops over neurons and examples; the references are
those of tests/sims/baselines/test_methods.py), and the tie rule of top_indices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sims.baselines.scores import (activation_scores, grasp_scores, neuron_magnitude, snip_scores, taylor_scores,
                                   top_indices)

from tests.helpers import EXACT
from tests.sims.baselines.test_methods import (_case, _close, _grad, _params, ref_activation_scores, ref_loss,
                                              ref_magnitude, ref_per_neuron, ref_taylor_scores)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("activation, bias", [("tanh", True), ("relu", False), ("softplus", True)])
def test_snip_and_grasp_scores_equal_autograd(activation, bias):
    net, X, Y = _case(activation, bias)
    leaves = _params(net)
    loss = ref_loss(*leaves, X, Y, activation, net.output_scale)
    grads = _grad(loss, leaves, create_graph=True)
    snip_ref = ref_per_neuron([(p * g).abs().detach() for p, g in zip(leaves, grads)])
    hg = _grad(sum((g * g.detach()).sum() for g in grads), leaves)  # d/dtheta (g . stop(g)) = H g
    grasp_ref = -ref_per_neuron([(p * h).detach() for p, h in zip(leaves, hg)])
    _close(snip_scores(net, X, Y).numpy(), snip_ref, EXACT * 1e2)
    _close(grasp_scores(net, X, Y).numpy(), grasp_ref, EXACT * 1e2)


def test_taylor_scores_are_mean_squared_gate_gradients():
    net, X, Y = _case("tanh", True, m=10)
    _close(taylor_scores(net, X, Y, batch_size=4, seed=7).numpy(), ref_taylor_scores(net, X, Y, 4, 7), EXACT * 1e2)


def test_activation_scores_are_mean_absolute_activations():
    net, X, _ = _case("tanh", True)
    _close(activation_scores(net, X).numpy(), ref_activation_scores(net, X), EXACT * 10)


def test_magnitude_is_the_norm_of_each_neurons_parameters():
    net, _, _ = _case("tanh", True)
    _close(neuron_magnitude(net).numpy(), ref_magnitude(*[p.detach() for p in _params(net)]), EXACT)


def test_top_indices_best_first_with_ties_to_the_lowest_index():
    scores = torch.tensor([0.5, 2.0, 0.5, 2.0, -1.0])
    assert top_indices(scores, 3).tolist() == [1, 3, 0]
    assert top_indices(scores, 2, largest=False).tolist() == [4, 0]
    assert top_indices(np.array([1.0, 1.0, 1.0]), 2).dtype == np.int64
