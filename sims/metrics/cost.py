"""What a network costs: parameters, and exact floating-point operations (FLOPs) of a forward pass
and of one full-batch GD step. Plain functions of the layer sizes.

Counting convention (every function here): a product of an (a, b) and a (b, c) matrix counts
a c (2b - 1) (b multiplications and b - 1 additions per output); every elementwise operation,
bias addition, activation and activation-derivative evaluation counts one.
"""

from __future__ import annotations

__all__ = ["parameter_count", "forward_flops", "mlp_parameters", "mlp_flops", "gd_step_flops"]


def parameter_count(input_dim: int, width: int, output_dim: int, *, first_bias: bool, output_bias: bool) -> int:
    """Parameters of Linear(d, n) - activation - Linear(n, K): n d + n [b1] + K n + K [b2]."""
    return width * input_dim + (width if first_bias else 0) + output_dim * width + (output_dim if output_bias else 0)


def forward_flops(input_dim: int, width: int, output_dim: int, *, first_bias: bool, output_bias: bool) -> int:
    """Exact floating-point operations of one example's forward pass through Linear(d, n) -
    activation - Linear(n, K): first layer n d multiplications and n (d - 1) additions (+ n bias
    additions), n activations, second layer K n multiplications and K (n - 1) additions (+ K bias
    additions)."""
    first = width * input_dim + width * (input_dim - 1) + (width if first_bias else 0)
    second = output_dim * width + output_dim * (width - 1) + (output_dim if output_bias else 0)
    return first + width + second


def mlp_parameters(widths, *, biases) -> int:
    """Parameters of Linear layers of sizes ``widths`` = (d, N_1, ..., N_L, K); ``biases``: one
    bool per Linear layer."""
    return sum(o * i + (o if biases[l] else 0) for l, (i, o) in enumerate(zip(widths[:-1], widths[1:])))


def mlp_flops(widths, *, biases) -> int:
    """Exact FLOPs of one example's forward pass through Linear layers of sizes ``widths`` = (d,
    N_1, ..., N_L, K) with an activation after each hidden layer, counted as
    :func:`forward_flops`; ``biases``: one bool per Linear layer."""
    total = 0
    for l, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        total += fan_out * fan_in + fan_out * (fan_in - 1) + (fan_out if biases[l] else 0)
        if l < len(widths) - 2:
            total += fan_out  # the activations
    return total


def gd_step_flops(m: int, d: int, width: int, k: int, *, first_bias: bool, loss_form: str = "mean") -> int:
    """Exact floating-point operations of one full-batch GD step of :func:`sims.nets.train.train`
    (mode "both") on m examples at hidden width n = ``width``, input dimension d, K = ``k``
    outputs, loss form "mean" or "sum". With s the output scale:

    - forward: Z = X A^T  m n (2d - 1), + bias m n, act(Z) m n, act(Z) B  m K (2n - 1), times s
      m K, minus Y m K;
    - loss (recorded every step): squares m K, their sum m K - 1, times 0.5 one, / m one (mean form);
    - backward: dL/df = E / m  m K (mean form), dL/dB = H^T (dL/df)  n K (2m - 1), times s n K,
      (dL/df) B^T  m n (2K - 1), times s m n, act'(Z) m n, times act'(Z) m n,
      dL/dA = (dL/dZ)^T X  n d (2m - 1), dL/dbias  n (m - 1);
    - update: a multiplication and a subtraction per parameter, 2 (n d + n K [+ n]).
    """
    n, mean = width, loss_form == "mean"
    forward = m * n * (2 * d - 1) + (m * n if first_bias else 0) + m * n + m * k * (2 * n - 1) + 2 * m * k
    loss = m * k + (m * k - 1) + 1 + (1 if mean else 0)
    backward = ((m * k if mean else 0) + n * k * (2 * m - 1) + n * k + m * n * (2 * k - 1) + 3 * m * n
                + n * d * (2 * m - 1) + (n * (m - 1) if first_bias else 0))
    update = 2 * (n * d + n * k + (n if first_bias else 0))
    return forward + loss + backward + update
