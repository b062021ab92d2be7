"""sims.metrics.cost: parameter and FLOP counts against literal counting, torch's modules and
torch's flop counter."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from sims.metrics.cost import forward_flops, gd_step_flops, mlp_flops, mlp_parameters, parameter_count
from sims.nets.model import init_network
from sims.nets.train import loss_and_gradients


class CountingFloat:
    """A number that counts the arithmetic done with it (one shared counter)."""

    operations = 0

    def __init__(self, value):
        self.value = value

    def _binary(self, other, op):
        CountingFloat.operations += 1
        return CountingFloat(op(self.value, other.value if isinstance(other, CountingFloat) else other))

    def __add__(self, other):
        return self._binary(other, lambda a, b: a + b)

    def __mul__(self, other):
        return self._binary(other, lambda a, b: a * b)


def literal_forward(x, w1, b1, w2, b2):
    """Linear-ReLU-Linear on one example, one operation at a time."""
    hidden = []
    for row, bias in zip(w1, b1 or [None] * len(w1)):
        total = row[0] * x[0]
        for weight, value in zip(row[1:], x[1:]):
            total = total + weight * value
        if bias is not None:
            total = total + bias
        CountingFloat.operations += 1  # the activation
        hidden.append(CountingFloat(max(total.value, 0.0)))
    outputs = []
    for row, bias in zip(w2, b2 or [None] * len(w2)):
        total = row[0] * hidden[0]
        for weight, value in zip(row[1:], hidden[1:]):
            total = total + weight * value
        outputs.append(total + bias if bias is not None else total)
    return outputs


@pytest.mark.parametrize("d, n, k, first_bias, output_bias", [(3, 4, 2, True, True), (5, 1, 3, False, False),
                                                               (2, 6, 1, True, False)])
def test_flops_and_parameters_are_counted_literally(d, n, k, first_bias, output_bias):
    def values(count):
        return [CountingFloat(0.1 * (i + 1)) for i in range(count)]

    w1 = [values(d) for _ in range(n)]
    w2 = [values(n) for _ in range(k)]
    b1, b2 = (values(n) if first_bias else None), (values(k) if output_bias else None)
    CountingFloat.operations = 0
    literal_forward(values(d), w1, b1, w2, b2)
    assert forward_flops(d, n, k, first_bias=first_bias, output_bias=output_bias) == CountingFloat.operations
    module = torch.nn.Sequential(torch.nn.Linear(d, n, bias=first_bias), torch.nn.ReLU(),
                                 torch.nn.Linear(n, k, bias=output_bias))
    assert parameter_count(d, n, k, first_bias=first_bias, output_bias=output_bias) == \
        sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("d, n, k, first, last", [(3, 4, 2, True, True), (5, 1, 3, False, False),
                                                   (2, 6, 1, True, False)])
def test_one_hidden_layer_mlp_counts_are_the_two_layer_counts(d, n, k, first, last):
    assert mlp_flops((d, n, k), biases=[first, last]) == forward_flops(d, n, k, first_bias=first, output_bias=last)
    assert mlp_parameters((d, n, k), biases=[first, last]) == parameter_count(d, n, k, first_bias=first,
                                                                              output_bias=last)


def test_deeper_mlp_counts():
    module = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16, bias=False),
                                 torch.nn.ReLU(), torch.nn.Linear(16, 10))
    biases = [True, False, True]
    assert mlp_parameters((64, 32, 16, 10), biases=biases) == sum(p.numel() for p in module.parameters())
    # each layer: o i products + o (i - 1) additions (+ o bias); 32 + 16 activations
    assert mlp_flops((64, 32, 16, 10), biases=biases) == (32 * 127 + 32) + 32 + 16 * 63 + 16 + (10 * 31 + 10)


def test_gd_step_flops_counts_the_products_of_a_step_and_one_op_per_element():
    """The five matrix products against torch's flop counter (2abc per product, which counts an
    addition more per output than a (2b - 1) count: one per output element); the rest by hand on
    m = d = n = K = 1."""
    m, d, n, k = 7, 3, 5, 2
    net = init_network(d, n, k, activation="relu", bias=True, seed=0)
    X, Y = torch.randn(m, d, dtype=torch.float64), torch.randn(m, k, dtype=torch.float64)
    with FlopCounterMode(display=False) as counter:
        loss_and_gradients(net, X, Y)
    products = counter.get_total_flops() - (m * n + m * k + n * k + m * n + n * d)  # to (2b - 1) per output
    elementwise = gd_step_flops(m, d, n, k, first_bias=True) - products
    # + bias, act, x s, - Y; squares, sum, 0.5, /m; /m; x s (dB); x s, act', x act' (dZ); dbias; update
    assert elementwise == (m * n + m * n + m * k + m * k + m * k + (m * k - 1) + 2 + m * k + n * k
                           + 3 * m * n + n * (m - 1) + 2 * (n * d + n * k + n))
    # m = d = n = K = 1, no bias, sum loss: Z 1, act 1, f 1, x s 1, - Y 1 | square 1, 0.5 1 | dB 1, x s 1,
    # dZ 1, x s 1, act' 1, x act' 1, dA 1 | update 2 x 2
    assert gd_step_flops(1, 1, 1, 1, first_bias=False, loss_form="sum") == 5 + 2 + 7 + 4
