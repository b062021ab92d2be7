"""Time the selection engine against the memory floor and against a naive reference.

    python benchmarks/bench_select.py            # m=5000, N=20000, K=1 and K=10, float32 (4 GB for K=10)
    python benchmarks/bench_select.py --quick    # small sizes, a few seconds
    python benchmarks/bench_select.py --threads 1   # the table in BENCHMARKS.md

Memory floor: the time of one matrix-vector product over the (N, m*K) feature matrix, i.e.
reading the features once. A method's per-step time is measured by differencing two runs,
(time(n = 2 + steps) - time(n = 2)) / steps, so one-off set-up (validation, norms) is excluded.
Naive reference: GFS that scores every candidate by recomputing the candidate subnetwork's
output (the mean of its neurons) and loss from scratch, as a forward pass per candidate does.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from sims.select import select

FAST_METHODS = ("gfs", "herding", "fw", "fcfw")


def timed(function, repeats=1) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_features(m: int, width: int, outputs: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An (m, N, K) float32 view of an (N, m, K)-contiguous buffer (the layout of
    sims.model.neuron_features) and a target (m, K): the dense mean plus noise."""
    generator = torch.Generator().manual_seed(seed)
    buffer = torch.randn(width, m, outputs, generator=generator)
    buffer += torch.randn(width, 1, outputs, generator=generator)  # neurons differ in their mean
    dense = buffer.mean(0)
    target = dense + 0.5 * torch.randn(m, outputs, generator=generator)
    return buffer.permute(1, 0, 2), target


def memory_floor(features: torch.Tensor) -> float:
    width = features.shape[1]
    matrix = features.permute(1, 0, 2).reshape(width, -1)  # a view for this layout
    vector = torch.randn(matrix.shape[1])
    torch.mv(matrix, vector)
    return timed(lambda: torch.mv(matrix, vector), repeats=5)


def per_step(features, target, method: str, steps: int) -> float:
    short = timed(lambda: select(features, target, 2, method), repeats=2)
    long = timed(lambda: select(features, target, 2 + steps, method), repeats=2)
    return max(long - short, 0.0) / steps


def naive_gfs(features: np.ndarray, target: np.ndarray, n: int) -> list[int]:
    """GFS scoring every candidate by a from-scratch forward pass and loss."""
    chosen = []
    for _ in range(n):
        losses = []
        for i in range(features.shape[1]):
            output = features[:, chosen + [i]].mean(axis=1)
            losses.append(0.5 * np.sum((output - target) ** 2) / target.shape[0])
        chosen.append(int(np.argmin(losses)))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (m=1000, N=4000)")
    parser.add_argument("--steps", type=int, default=8, help="steps timed per method")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's choice). On a shared machine 1 "
                             "avoids oversubscription: the GEMV is memory-bound and 1 thread nearly "
                             "saturates bandwidth, while idle OpenMP workers can starve small ops")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    m, width = (1000, 4000) if args.quick else (5000, 20000)
    naive_m, naive_width, naive_n = (500, 1000, 20) if args.quick else (1000, 2000, 50)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, m={m}, N={width}")
    print()
    print("| K | features | floor: one GEMV | method | per step | step / floor |")
    print("|---|---|---|---|---|---|")
    for outputs in (1, 10):
        features, target = make_features(m, width, outputs, seed=outputs)
        floor = memory_floor(features)
        size = f"{features.numel() * 4 / 2**30:.2f} GiB"
        for method in FAST_METHODS:
            step = per_step(features, target, method, args.steps)
            print(f"| {outputs} | {size} | {floor * 1e3:.1f} ms | {method} | {step * 1e3:.1f} ms | {step / floor:.2f} |", flush=True)
        del features, target

    features, target = make_features(naive_m, naive_width, 1, seed=0)
    features64 = features[:, :, 0].double().numpy().copy()
    target64 = target[:, 0].double().numpy()
    naive_time = timed(lambda: naive_gfs(features64, target64, naive_n))
    fast_time = timed(lambda: select(features64, target64, naive_n, "gfs"), repeats=3)
    assert naive_gfs(features64, target64, naive_n) == select(features64, target64, naive_n, "gfs").indices.tolist()
    print()
    print(f"Naive reference (float64, m={naive_m}, N={naive_width}, K=1, n={naive_n}, whole run incl. set-up):")
    print(f"naive {naive_time:.2f} s, gfs {fast_time * 1e3:.2f} ms, speedup {naive_time / fast_time:.0f}x "
          f"(same indices)")


if __name__ == "__main__":
    main()
