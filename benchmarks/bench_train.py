"""Time a gradient-descent step of sims.train against its matrix-product floor and a naive loop.

    python benchmarks/bench_train.py --threads 1   # m=5000, d=784, N=1000, K=10, float32 (the table in BENCHMARKS.md)
    python benchmarks/bench_train.py --threads 2
    python benchmarks/bench_train.py --quick       # small sizes, a few seconds

Mean-field GD on both layers, relu, no bias, mean loss: the set-up of the MNIST experiments.

Per step: the time of one step inside ``train`` (between two calls of its observer), the
first step (which allocates the buffers) excluded.
Floor: the two big matrix products of a step, ``Z = X A^T`` (m, N) and ``dL/dA = G^T X``
(N, d), each m*d*N multiply-adds, into preallocated outputs. "All products" adds the three
thin ones (act(Z) B, act(Z)^T dL/df, dL/df B^T: m*N*K each), which read or write an (m, N)
array and so are memory-bound.
Naive: the same update written with fresh tensors (sims.train before it reused buffers),
one step from the current weights, timed in this process (glibc then reuses freed memory; inside a Dask worker,
where every large temporary is a fresh mmap, it is slower still).
The four are interleaved step by step and their medians reported, so that the ratios hold on
a machine shared with other jobs. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from sims.nets.model import init_network
from sims.nets.train import TrainConfig, train


def make_problem(m: int, d: int, width: int, outputs: int, seed: int = 0):
    """Inputs (m, d) of unit norm, targets (m, K), a mean-field relu network: float32."""
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(m, d, generator=generator)
    inputs /= inputs.norm(dim=1, keepdim=True)
    targets = torch.randn(m, outputs, generator=generator)
    model = init_network(d, width, outputs, seed=seed, dtype="float32")
    return model, inputs, targets


def naive_gd(model, inputs, targets, lr: float, steps: int):
    """``steps`` mean-field GD steps with the plain formulas and fresh tensors (relu, no bias)."""
    first, second = model.first_weight.clone(), model.second_weight.clone()
    scale, step_size, m = model.output_scale, lr * model.width, inputs.shape[0]
    for _ in range(steps):
        z = inputs @ first.T
        hidden = torch.relu(z)
        residual = scale * (hidden @ second) - targets
        float(0.5 * (residual * residual).sum() / m)
        output_grad = residual / m
        second_grad = scale * (hidden.T @ output_grad)
        z_grad = (scale * (output_grad @ second.T)) * (z > 0).to(z.dtype)
        first.sub_(step_size * (z_grad.T @ inputs))
        second.sub_(step_size * second_grad)
    return first, second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (m=1000, N=300)")
    parser.add_argument("--steps", type=int, default=15, help="GD steps timed, each interleaved with the others")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    m, d, width, outputs = (1000, 784, 300, 10) if args.quick else (5000, 784, 1000, 10)
    lr, steps = 0.1, 5 if args.quick else args.steps
    model, inputs, targets = make_problem(m, d, width, outputs)

    z = torch.empty(m, width)
    z_grad = torch.randn(m, width)
    first_grad = torch.empty(width, d)
    output_grad = torch.randn(m, outputs)
    second_grad = torch.empty(width, outputs)
    forward = torch.empty(m, outputs)

    def big_products():
        torch.mm(inputs, model.first_weight.T, out=z)
        torch.mm(z_grad.T, inputs, out=first_grad)

    def all_products():
        big_products()
        torch.mm(z, model.second_weight, out=forward)
        torch.mm(z.T, output_grad, out=second_grad)
        torch.mm(output_grad, model.second_weight.T, out=z_grad)

    def timed(function) -> float:
        start = time.perf_counter()
        function()
        return time.perf_counter() - start

    # the library and the naive loop agree bitwise (the naive loop is the reference of tests/sims/nets/test_train.py)
    result = train(model, inputs, targets, TrainConfig(lr=lr, iterations=2))
    naive_first, naive_second = naive_gd(model, inputs, targets, lr, 2)
    same = torch.equal(result.model.first_weight, naive_first) and torch.equal(result.model.second_weight, naive_second)

    # Interleaved at step granularity: the observer is called once per step, so the time between
    # the end of one call and the start of the next is one GD step of train(); inside each call
    # the floor, all products and one naive step (from the current weights) are timed.
    times: dict[str, list[float]] = {"floor": [], "all products": [], "step": [], "naive": []}
    last_end = [0.0]

    def observe(step, current, hidden):
        if step >= 1:  # step 0's pass allocated the buffers
            times["step"].append(time.perf_counter() - last_end[0])
        times["floor"].append(timed(big_products))
        times["all products"].append(timed(all_products))
        times["naive"].append(timed(lambda: naive_gd(current, inputs, targets, lr, 1)))
        last_end[0] = time.perf_counter()

    train(model, inputs, targets, TrainConfig(lr=lr, iterations=steps), observe=observe)
    median = {name: statistics.median(values) for name, values in times.items()}
    floor = median["floor"]

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, relu, mean-field, "
          f"m={m}, d={d}, N={width}, K={outputs}; medians over {steps} steps")
    print()
    print("| threads | floor: 2 big products | all 5 products | GD step | step / floor | naive step | naive / floor |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {torch.get_num_threads()} | {floor * 1e3:.1f} ms | {median['all products'] * 1e3:.1f} ms "
          f"({median['all products'] / floor:.2f}) | {median['step'] * 1e3:.1f} ms | {median['step'] / floor:.2f} | "
          f"{median['naive'] * 1e3:.1f} ms | {median['naive'] / floor:.2f} |")
    print()
    print(f"train and the naive loop give bitwise-equal weights after 2 steps: {same}")


if __name__ == "__main__":
    main()
