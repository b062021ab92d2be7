"""What a user waits for: the whole ``select`` call over (n + 1) floor passes, set-up included,
for every feature layout, at 1 and 2 threads and at the engine's default.

    python benchmarks/bench_select.py                  # the tables in BENCHMARKS.md (~4 min, ~1.3 GiB)
    python benchmarks/bench_select.py --quick          # m = 1000, N = 4000, n = 20 (seconds)
    python benchmarks/bench_select.py --layouts factored --methods gfs --threads default
    python benchmarks/bench_select.py --full-k         # the (m, N, K) layout at m = 5000, K = 10 (3.7 GiB)
    python benchmarks/bench_select.py --naive          # also the naive GFS reference (~25 s)

Layouts, all float32, m = 5000 samples, N = 20000 neurons (400 MB each, made one at a time):

- ``C``: an (m, N) numpy array in C order (what ``np.save`` of a features matrix gives and
  ``gfs select --features F.npy`` reads);
- ``F``: the same array in Fortran order;
- ``toolkit``: the (m', N, K) view of an (N, m', K)-contiguous buffer that
  ``sims.nets.model.neuron_features`` returns, K = 10 and m' = m / K, so D = m' K = m and the
  bytes equal the other layouts' (``--full-k``: m' = m, 10 times the bytes);
- ``user-k``: the toolkit layout's numbers as a user's own (m', N, K) array in C order, which
  ``select`` copies once into neuron-major order (the one layout it copies; counted here);
- ``factored``: a two-layer network's features in factored form, hidden activations H (m, N)
  and second layer B (N, K = 10), d = 50 inputs: ``select(Factored(H, B, c), ...)`` where the
  engine has it (``sims.selection.sources.Factored``), else the chunked engine on the network
  with cached activations (``chunked_select(NetworkSource(...), cache=True)``, the factored form
  the engine had before), else the row is skipped with a note. Its floor is one pass over H.

Per layout and method (gfs, herding, fw, fcfw; n = 60) and thread setting (1, 2, default):

- **whole call**: seconds of ``select(features, target, n, method)``, everything included;
  **whole / (n+1) floors**: that over (n + 1) floor passes (a norms pass and n score passes is the
  least a method can read): the issue-27 target is <= 1.2 (gfs, herding, fw), <= 1.5 (fcfw);
- **per step**: (whole(n) - whole(2)) / (n - 2), set-up excluded, and **step / floor**;
- **fixed**: whole(n) - n x per step, the set-up (validation, a copy if any, the norms pass);
- **peak extra memory**: how far the process's peak resident memory rose above its resident
  memory before the call (Linux: /proc/self/clear_refs, VmHWM); "a copy" when it is at least half
  the array's bytes, i.e. the call copied or converted the features.

The **floor** is one GEMV over the same array (for ``factored``: a GEMV over H, one read of H;
the header also gives H^T R with R (m, K), the product a step needed before the engine kept
its scores from the picks' Gram columns, which at K = 10 does 10 times a GEMV's arithmetic), the
fastest of torch at 1 and 2 threads, median of 5 each. The **bandwidth floor** is the
array's bytes over the machine's read bandwidth (the fastest of ``torch.sum`` and a GEMV over a
contiguous (N, m) float32 array, at 1 and 2 threads): the least any pass can take.

Threads: if ``select`` takes ``threads=`` (the engine chooses by default), the rows pass
``threads=1``, ``threads=2`` and nothing ("default"); otherwise the rows set torch's thread count
(1, 2, and torch's own default). The header says which.
"""

from __future__ import annotations

import argparse
import inspect
import math
import statistics
import time

import numpy as np
import torch

from sims.selection import engine

METHODS = ("gfs", "herding", "fw", "fcfw")
LAYOUTS = ("C", "F", "toolkit", "user-k", "factored")
TARGETS = {"gfs": 1.2, "herding": 1.2, "fw": 1.2, "fcfw": 1.5}
OUTPUTS, INPUT_DIM = 10, 50
TORCH_DEFAULT_THREADS = torch.get_num_threads()


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def median_time(function, repeats: int = 5) -> float:
    function()
    return statistics.median(timed(function) for _ in range(repeats))


def _status_kib(field: str) -> int | None:
    try:
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_extra_bytes(function):
    """(result of ``function()``, bytes the process's peak resident memory rose above its resident
    memory before the call, or None where Linux's /proc/self/clear_refs is not available)."""
    before = _status_kib("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # reset the peak (VmHWM) to the current resident size
    except OSError:
        return function(), None
    result = function()
    peak = _status_kib("VmHWM")
    return result, None if peak is None or before is None else max(0, peak - before) * 1024


def select_takes_threads() -> bool:
    return "threads" in inspect.signature(engine.select).parameters


def with_threads(setting, call):
    """Run ``call(kwargs)`` at a thread setting (1, 2 or 'default'); returns its result."""
    if select_takes_threads():
        return call({} if setting == "default" else {"threads": setting})
    previous = torch.get_num_threads()
    torch.set_num_threads(TORCH_DEFAULT_THREADS if setting == "default" else setting)
    try:
        return call({})
    finally:
        torch.set_num_threads(previous)


def at_threads(count: int, function) -> float:
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        return median_time(function)
    finally:
        torch.set_num_threads(previous)


def gemv_floor(matrix: torch.Tensor) -> tuple[float, dict]:
    """Seconds of the fastest median GEMV ``matrix @ v`` (neuron-major (N, D) view) at 1 and 2
    threads, and each count's median."""
    vector = torch.randn(matrix.shape[1], dtype=matrix.dtype)
    by_count = {count: at_threads(count, lambda: torch.mv(matrix, vector)) for count in (1, 2)}
    return min(by_count.values()), by_count


def bandwidth(array: torch.Tensor) -> float:
    """Bytes per second of the fastest read of the contiguous ``array`` (torch.sum and a GEMV over
    its rows, each at 1 and 2 threads, median of 5)."""
    vector = torch.randn(array.shape[1], dtype=array.dtype)
    reads = (lambda: torch.sum(array), lambda: torch.mv(array, vector))
    seconds = min(at_threads(count, read) for count in (1, 2) for read in reads)
    return array.numel() * array.element_size() / seconds


# ---------------------------------------------------------------------------------------
# Layouts: each returns (label, features for select, target, neuron-major matrix for the floor,
# bytes read per pass, a runner(n, method, kwargs) -> Selection, note)


def dense_problem(m: int, width: int, seed: int):
    """An (m, N) float32 C-order numpy array (neurons differ in their mean) and a target (m,)."""
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(m, width, generator=generator)
    features += torch.randn(1, width, generator=generator)
    target = features.mean(1, dtype=torch.float64) + 0.5 * torch.randn(m, generator=generator, dtype=torch.float64)
    return features.numpy(), target.numpy()


def layout_c(m, width, seed, full_k):
    features, target = dense_problem(m, width, seed)
    matrix = torch.from_numpy(features).t()
    return "(m, N) C order", features, target, matrix, features.nbytes, None, ""


def layout_f(m, width, seed, full_k):
    features, target = dense_problem(m, width, seed)
    features = np.asfortranarray(features)
    matrix = torch.from_numpy(features).t()
    return "(m, N) Fortran order", features, target, matrix, features.nbytes, None, ""


def layout_toolkit(m, width, seed, full_k):
    rows = m if full_k else max(1, m // OUTPUTS)
    generator = torch.Generator().manual_seed(seed)
    buffer = torch.randn(width, rows, OUTPUTS, generator=generator)
    buffer += torch.randn(width, 1, OUTPUTS, generator=generator)
    target = buffer.mean(0, dtype=torch.float64) + 0.5 * torch.randn(rows, OUTPUTS, generator=generator, dtype=torch.float64)
    features = buffer.permute(1, 0, 2)
    matrix = buffer.view(width, -1)
    label = f"(m, N, K) toolkit, m={rows}, K={OUTPUTS}"
    return label, features, target, matrix, buffer.numel() * 4, None, ""


def layout_user_k(m, width, seed, full_k):
    """A user's own (m', N, K) float32 array in C order (e.g. ``np.save`` of a features tensor):
    the engine copies it once into neuron-major order (its docstring says so); the copy is
    counted here, in the fixed cost and the peak extra memory."""
    label, features, target, matrix, nbytes, runner, note = layout_toolkit(m, width, seed, full_k)
    features = np.ascontiguousarray(features.numpy())
    flat = torch.from_numpy(features).view(features.shape[0], -1)
    return (label.replace("toolkit", "C order (a user's)"), features, target, flat, nbytes, runner,
            "copied once into neuron-major order (stated in select's docstring)")


def factored_entry():
    """(name, make(model, inputs, targets) -> (features for select or None, runner or None)) of the
    engine's factored network features at this commit, or (None, reason)."""
    try:
        from sims.selection.sources import Factored
    except ImportError:
        Factored = None
    if Factored is not None:
        try:
            from sims.nets.features import neuron_factors
        except ImportError:
            neuron_factors = None
        if neuron_factors is not None:
            def make(model, inputs, targets):
                factors = neuron_factors(model, inputs)  # a Factored, or (H, B, c)
                factors = Factored(*factors) if isinstance(factors, tuple) else factors
                hidden = getattr(factors, "activations", None)  # the field's name in a6b04da
                hidden = factors.hidden(0, factors.rows) if hidden is None else hidden
                return factors, hidden, None
            return "select(Factored(H, B, c))", make
    try:
        from sims.selection.sharded import NetworkSource, chunked_select
    except ImportError:
        return None, "no factored entry (sims.selection.sources.Factored) nor chunked NetworkSource at this commit"
    from sims.nets.model import hidden_activations

    def make(model, inputs, targets):
        source = NetworkSource(model, inputs, targets)
        hidden = hidden_activations(model, inputs)

        def runner(n, method, kwargs):
            return chunked_select(source, n, method, cache=True, **kwargs)
        return None, hidden, runner
    return "chunked_select(NetworkSource, cache=True) (no Factored entry at this commit)", make


def layout_factored(m, width, seed, full_k):
    from sims.nets.model import forward, init_network

    name, make = factored_entry()
    if name is None:
        return None, None, None, None, None, None, make
    model = init_network(INPUT_DIM, width, OUTPUTS, seed=seed, dtype="float32")
    generator = torch.Generator().manual_seed(seed + 1)
    inputs = torch.randn(m, INPUT_DIM, generator=generator, dtype=torch.float64) / math.sqrt(INPUT_DIM)
    targets = forward(init_network(INPUT_DIM, 20, OUTPUTS, seed=seed + 2), inputs)
    inputs = inputs.float()
    features, hidden, runner = make(model, inputs, targets)
    hidden = torch.as_tensor(hidden)
    return (f"factored network, K={OUTPUTS}, d={INPUT_DIM}: {name}", features, targets, hidden, hidden.numel() * hidden.element_size(),
            runner, "")


BUILDERS = {"C": layout_c, "F": layout_f, "toolkit": layout_toolkit, "user-k": layout_user_k, "factored": layout_factored}


def gemm_floor(hidden: torch.Tensor) -> float:
    """Seconds of H^T R for R (m, K): a step's scores of the factored form in one product (2 m N K
    flops, so on few cores it can be bound by arithmetic rather than by the read of H); the
    fastest median at 1 and 2 threads."""
    residual = torch.randn(hidden.shape[0], OUTPUTS, dtype=hidden.dtype)
    return min(at_threads(count, lambda: hidden.t() @ residual) for count in (1, 2))


def measure_layout(key, m, width, n, short, methods, settings, seed, full_k, machine_bandwidth) -> list[str]:
    label, features, target, matrix, nbytes, runner, note = BUILDERS[key](m, width, seed, full_k)
    if label is None:
        return [f"| {key} | skipped: {note} |"]
    floor, by_count = gemv_floor(matrix.t() if key == "factored" else matrix)  # factored: a GEMV over H
    band = nbytes / machine_bandwidth
    gemm = f"; H^T R with R (m, {OUTPUTS}): {gemm_floor(matrix) * 1e3:.1f} ms" if key == "factored" else ""
    header = (f"\n**{label}**: {nbytes / 2**20:.0f} MiB read per pass; floor {floor * 1e3:.1f} ms "
              f"(1 thread {by_count[1] * 1e3:.1f}, 2 threads {by_count[2] * 1e3:.1f}); bandwidth floor {band * 1e3:.1f} ms{gemm}"
              f"{'; ' + note if note else ''}\n")
    lines = [header, "| method | threads | whole call | whole / (n+1) floors | target | per step | step / floor | fixed | fixed / floor | peak extra memory |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for method in methods:
        for setting in settings:
            def run(steps):
                if runner is not None:
                    return with_threads(setting, lambda kwargs: runner(steps, method, kwargs))
                return with_threads(setting, lambda kwargs: engine.select(features, target, steps, method, **kwargs))
            start = time.perf_counter()
            _, extra = peak_extra_bytes(lambda: run(n))
            whole = time.perf_counter() - start
            brief = timed(lambda: run(short))
            per_step = max(whole - brief, 0.0) / (n - short)
            fixed = whole - n * per_step
            ratio = whole / ((n + 1) * floor)
            verdict = "met" if ratio <= TARGETS[method] else "NOT met"
            memory = "n/a" if extra is None else f"{extra / 2**20:.0f} MiB" + (" (a copy)" if extra >= nbytes / 2 else "")
            line = (f"| {method} | {setting} | {whole:.2f} s | **{ratio:.2f}** | <= {TARGETS[method]} ({verdict}) | "
                    f"{per_step * 1e3:.1f} ms | {per_step / floor:.2f} | {fixed * 1e3:.0f} ms | {fixed / floor:.1f} | {memory} |")
            print(line, flush=True)
            lines.append(line)
    del features, matrix
    return lines


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


def naive_reference(quick: bool) -> None:
    m, width, n = (500, 1000, 20) if quick else (1000, 2000, 50)
    features, target = dense_problem(m, width, seed=0)
    features64, target64 = features.astype(np.float64), target
    naive_seconds = timed(lambda: naive_gfs(features64, target64, n))
    fast_seconds = median_time(lambda: engine.select(features64, target64, n, "gfs"), repeats=3)
    same = naive_gfs(features64, target64, n) == engine.select(features64, target64, n, "gfs").indices.tolist()
    print(f"\nNaive reference (float64, m={m}, N={width}, K=1, n={n}, whole call): naive {naive_seconds:.2f} s, "
          f"gfs {fast_seconds * 1e3:.1f} ms, speed-up {naive_seconds / fast_seconds:.0f}x ({'same' if same else 'DIFFERENT'} picks)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="m = 1000, N = 4000, n = 20")
    parser.add_argument("--m", type=int, default=5000)
    parser.add_argument("--width", type=int, default=20000, help="neurons N")
    parser.add_argument("--n", type=int, default=60, help="subnetwork size (steps)")
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=LAYOUTS)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--threads", nargs="+", default=["1", "2", "default"], help="thread settings: counts or 'default'")
    parser.add_argument("--full-k", action="store_true", help="the toolkit layout at m = --m, K = 10 (10x the bytes)")
    parser.add_argument("--naive", action="store_true", help="also time the naive GFS reference")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    m, width, n = (1000, 4000, 20) if args.quick else (args.m, args.width, args.n)
    settings = [value if value == "default" else int(value) for value in args.threads]
    probe = torch.randn(width, m)
    machine_bandwidth = bandwidth(probe)
    del probe
    mechanism = "select(threads=...)" if select_takes_threads() else f"torch.set_num_threads (torch's default {TORCH_DEFAULT_THREADS})"
    chosen = ""
    try:
        from sims.selection.threads import pass_threads

        chosen = f"; the engine's measured pass count on this machine: {pass_threads()}"
    except ImportError:
        pass
    print(f"torch {torch.__version__}, float32, m={m}, N={width}, n={n}; threads set by {mechanism}{chosen}; "
          f"machine read bandwidth {machine_bandwidth / 2**30:.1f} GiB/s; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    for key in args.layouts:
        measure_layout(key, m, width, n, 2, args.methods, settings, args.seed, args.full_k, machine_bandwidth)
    if args.naive:
        naive_reference(args.quick)


if __name__ == "__main__":
    main()
