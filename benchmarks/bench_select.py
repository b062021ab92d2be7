"""Time the selection engine against the memory floor and against a naive reference.

    python benchmarks/bench_select.py --threads 1      # the tables in BENCHMARKS.md (about 5 min, 4 GiB)
    python benchmarks/bench_select.py --threads 2 --load 1   # 2 threads with one core kept busy
    python benchmarks/bench_select.py --quick          # small sizes, under a minute
    git show REV:sims/selection/engine.py > /tmp/select_REV.py
    python benchmarks/bench_select.py --baseline /tmp/select_REV.py   # old and new engine, interleaved

Memory floor: the time of one matrix-vector product over the (N, m*K) feature matrix, i.e.
reading the features once (median of five before and five after the methods). A method's
per-step time is measured by differencing, (time(n = long) - time(n = short)) / (long - short)
with medians over repeats, so one-off set-up (validation, norms) is excluded.

Tables:
1. m = 5000, N = 20000, K = 1 and 10 (3.7 GiB float32): gfs, herding, fw, fcfw, steps 2 -> 10.
2. MNIST-sized rows (m = 4000, K = 10, so D = m*K = 40,000; N = 1000, the E1 mnist5k cell):
   fw and fcfw over steps 100 -> 300, where fcfw's support grows to ~300 neurons and its extra
   work per new neuron (a Gram column and the output, two float64 passes over the support)
   is largest; greedy-opt at N = 100, steps 10 -> 40 (its cost is one simplex solve per
   candidate, so it is meant for small N).
3. Naive reference: GFS that scores every candidate by recomputing the candidate subnetwork's
   output (the mean of its neurons) and loss from scratch, as a forward pass per candidate does.

``--baseline FILE`` loads another version of sims/selection/engine.py (e.g. from ``git show``) and times it
interleaved with the current engine on the same arrays, so their ratio comes from one run.
``--load L`` keeps L other processes spinning during the measurement (one core busy elsewhere,
as on a shared machine). Prints markdown tables.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import statistics
import sys
import time

import numpy as np
import torch

from sims.selection.engine import select

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
    sims.nets.model.neuron_features) and a target (m, K): the dense mean plus noise."""
    generator = torch.Generator().manual_seed(seed)
    buffer = torch.randn(width, m, outputs, generator=generator)
    buffer += torch.randn(width, 1, outputs, generator=generator)  # neurons differ in their mean
    dense = buffer.mean(0)
    target = dense + 0.5 * torch.randn(m, outputs, generator=generator)
    return buffer.permute(1, 0, 2), target


def floor_gemv(features: torch.Tensor) -> float:
    """Seconds of one GEMV over the (N, m*K) features (median of five)."""
    width = features.shape[1]
    matrix = features.permute(1, 0, 2).reshape(width, -1)  # a view for this layout
    vector = torch.randn(matrix.shape[1])
    torch.mv(matrix, vector)
    return timed(lambda: torch.mv(matrix, vector), repeats=5)


def per_step(engines: dict, features, target, method: str, short: int, long: int, repeats: int) -> dict:
    """{engine name: seconds per step between n = short and n = long}, the engines interleaved."""
    times = {name: {short: [], long: []} for name in engines}
    for _ in range(repeats):
        for n in (short, long):
            for name, engine in engines.items():
                times[name][n].append(timed(lambda: engine(features, target, n, method)))
    return {name: max(statistics.median(t[long]) - statistics.median(t[short]), 0.0) / (long - short)
            for name, t in times.items()}


def traffic_bound(method: str, features, target, short: int, long: int) -> float:
    """The least step / floor a method can reach while keeping its float64 bits: the bytes it must
    read per step between n = short and n = long over the bytes of one read of the features.

    gfs, herding and fw read the features once per step (bound 1). fcfw, when step k's vertex is
    new, also reads its float64 support rows twice (the Gram column over the |S| rows, the output
    over |S| + 1) and writes the new row: 8 D (2|S| + 2) bytes, with |S| the distinct picks
    before step k. greedy-opt: one float64 pass over all N rows per new neuron (8 N D bytes)."""
    if method in ("gfs", "herding", "fw"):
        return 1.0
    m, width, outputs = features.shape
    dim, floor_bytes = m * outputs, width * m * outputs * features.element_size()
    indices = select(features, target, long, method).indices
    extra = 0.0
    chosen = set(indices[:short].tolist())  # the support before step k: the distinct earlier picks
    for k in range(short, long):
        if indices[k] not in chosen:
            extra += 8 * dim * (2 * len(chosen) + 2) if method == "fcfw" else 8 * width * dim
            chosen.add(int(indices[k]))
    return 1.0 + extra / ((long - short) * floor_bytes)


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


def load_baseline(path: str):
    """``select`` of another version of sims/selection/engine.py, loaded from a file."""
    spec = importlib.util.spec_from_file_location("baseline_select", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.select


def _spin(parent: int) -> None:
    """Keep a core busy until the benchmark's process is gone (also if it was killed)."""
    while os.getppid() == parent:
        for _ in range(100_000):
            pass


def table(rows: list[tuple], engines: dict) -> None:
    """Print one markdown table: rows of (size label, K, features, floor s, method, {engine: s},
    traffic bound)."""
    header = "| size | K | features | floor: one GEMV | method | per step | step / floor | traffic bound |"
    rule = "|---|---|---|---|---|---|---|---|"
    if "baseline" in engines:
        header += " baseline per step | baseline step / floor | new / baseline |"
        rule += "---|---|---|"
    print(header)
    print(rule)
    for label, outputs, size, floor, method, step, bound in rows:
        line = (f"| {label} | {outputs} | {size} | {floor * 1e3:.1f} ms | {method} | {step['new'] * 1e3:.1f} ms | "
                f"{step['new'] / floor:.2f} | {bound:.2f} |")
        if "baseline" in engines:
            old = step["baseline"]
            line += f" {old * 1e3:.1f} ms | {old / floor:.2f} | {step['new'] / old if old else float('nan'):.2f} |"
        print(line, flush=True)


def run_case(engines, label, m, width, outputs, cases, repeats, seed) -> list[tuple]:
    """cases: (method, short, long). Returns table rows; the floor is measured before and after."""
    features, target = make_features(m, width, outputs, seed=seed)
    size = features.numel() * 4
    size = f"{size / 2**30:.2f} GiB" if size >= 2**30 else f"{size / 2**20:.0f} MiB"
    before = floor_gemv(features)
    steps = [(method, per_step(engines, features, target, method, short, long, repeats)) for method, short, long in cases]
    floor = statistics.median([before, floor_gemv(features)])
    bounds = [traffic_bound(method, features, target, short, long) for method, short, long in cases]
    return [(label, outputs, size, floor, method, step, bound) for (method, step), bound in zip(steps, bounds)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (m=1000, N=4000; MNIST rows m=500, N=200)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's choice). The GEMV is memory-bound and "
                             "one thread nearly saturates bandwidth")
    parser.add_argument("--load", type=int, default=0, help="other processes kept spinning during the measurement")
    parser.add_argument("--baseline", metavar="FILE", help="another sims/selection/engine.py to time interleaved with this one")
    parser.add_argument("--repeats", type=int, default=2, help="runs per n and engine (medians)")
    parser.add_argument("--skip", nargs="*", default=(), choices=("large", "mnist", "naive"), help="tables to leave out")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    engines = {"new": select}
    if args.baseline:
        engines["baseline"] = load_baseline(args.baseline)
    spinners = [multiprocessing.Process(target=_spin, args=(os.getpid(),), daemon=True) for _ in range(args.load)]
    for spinner in spinners:
        spinner.start()
    try:
        m, width = (1000, 4000) if args.quick else (5000, 20000)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.load} spinning processes, "
              f"float32, medians of {args.repeats}")
        print()
        rows = []
        if "large" not in args.skip:
            for outputs in (1, 10):
                rows += run_case(engines, f"m={m}, N={width}", m, width, outputs,
                                 [(method, 2, 10) for method in FAST_METHODS], args.repeats, seed=outputs)
        if "mnist" not in args.skip:
            mnist_m, mnist_width, short, long = (500, 200, 20, 60) if args.quick else (4000, 1000, 100, 300)
            rows += run_case(engines, f"MNIST m={mnist_m}, N={mnist_width}", mnist_m, mnist_width, 10,
                             [("fw", short, long), ("fcfw", short, long)], args.repeats, seed=3)
            small = 50 if args.quick else 100
            rows += run_case(engines, f"MNIST m={mnist_m}, N={small}", mnist_m, small, 10,
                             [("greedy-opt", 10, 40)], args.repeats, seed=4)
        if rows:
            table(rows, engines)
    finally:
        for spinner in spinners:
            spinner.terminate()
            spinner.join()

    if "naive" in args.skip:
        return
    naive_m, naive_width, naive_n = (500, 1000, 20) if args.quick else (1000, 2000, 50)
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
