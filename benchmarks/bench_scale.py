"""Selection past one machine: time the single-process engine, the chunked engine and the sharded
Dask engine against N and m, and select from features larger than this machine's memory.

    python benchmarks/bench_scale.py --sweep      # the scale figure: figures/selection_scale.{png,pdf}
    python benchmarks/bench_scale.py --big        # n = 100 from features >= 1.5x free memory (minutes)
    python benchmarks/bench_scale.py --quick      # both, tiny sizes, seconds (nothing written to figures/)
    python benchmarks/bench_scale.py --big --big-m 20000 --big-width 8000 --big-n 20 --chunk-rows 4000
                                                  # the big run's engine at a medium size (about a minute)

Problem: a random mean-field ReLU network (N neurons, d = 32 inputs, K = 10 outputs, float32)
on m Gaussian inputs, target a random teacher's outputs. Features phi = a ⊗ act(X w) (m, N, K).

- single: ``sims.selection.engine.select`` on the materialised features (m*N*K*4 bytes, computed once);
- chunked: ``sims.selection.sharded.chunked_select`` on a ``NetworkSource``: every pass recomputes act(X w)
  chunk by chunk (``--chunk-rows`` rows), features never materialised;
- sharded: ``sims.selection.sharded.sharded_select`` on a local Dask cluster of 2 worker processes, each
  holding its half of the rows' hidden activations act(X w) (m/2 x N x 4 bytes).

Per step: (time(n = 2 + steps) - time(n = 2)) / steps for the sweep (medians of 3 runs each;
set-up excluded), total: the whole n = 2 + steps run including set-up; in the big
run the time of the n = 100 selection minus its norm pass, divided by 100. Memory each needs is
computed from the sizes (the arrays each engine holds), not measured. The **chunked memory floor**
is the time to read the nominal feature array once: one GEMV over a materialised chunk of
features (neuron-major, float32), times the number of chunks; the **recompute floor** is the time
to compute act(X w) for all rows once (the chunked engine's own minimum per pass), into one
chunk's buffers reused from chunk to chunk as the engine does.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import torch

from sims.nets.model import forward, init_network, neuron_features
from sims.selection.engine import select
from sims.selection.sharded import (ChunkBuffers, FeatureShard, LocalShards, NetworkSource, chunked_select, run_on_shards,
                          sharded_select)

INPUT_DIM, OUTPUTS = 32, 10
GiB = float(1 << 30)


def available_bytes() -> int:
    """MemAvailable from /proc/meminfo."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def make_problem(m: int, width: int, seed: int = 0):
    """(network float32, inputs (m, d) float32, targets (m, K) float64)."""
    model = init_network(INPUT_DIM, width, OUTPUTS, seed=seed, dtype="float32")
    generator = torch.Generator().manual_seed(seed + 1)
    inputs = torch.randn(m, INPUT_DIM, generator=generator, dtype=torch.float64) / math.sqrt(INPUT_DIM)
    teacher = init_network(INPUT_DIM, 20, OUTPUTS, seed=seed + 2)
    targets = forward(teacher, inputs)
    return model, inputs.float(), targets


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def memory_floor(model, inputs, chunk_rows: int, repeats: int = 5) -> tuple[float, float]:
    """(seconds to read all m*N*K features once by GEMV over materialised chunks, seconds to
    compute act(X w) for all rows once into reused chunk buffers), both extrapolated from one chunk."""
    rows = inputs.shape[0]
    chunk = inputs[:min(chunk_rows, rows)]
    features = neuron_features(model, chunk)  # (rows, N, K) view of an (N, rows, K) buffer
    matrix = features.permute(1, 0, 2).reshape(model.width, -1)
    vector = torch.randn(matrix.shape[1])
    torch.mv(matrix, vector)
    read = statistics.median(timed(lambda: torch.mv(matrix, vector)) for _ in range(repeats))
    source = NetworkSource(model, chunk, torch.zeros(chunk.shape[0], OUTPUTS, dtype=torch.float64))
    buffers = ChunkBuffers(chunk.shape[0])
    source.hidden(0, chunk.shape[0], buffers)  # allocates the buffers, as the engine's first pass does
    compute = statistics.median(timed(lambda: source.hidden(0, chunk.shape[0], buffers)) for _ in range(repeats))
    del features, matrix
    return read * rows / chunk.shape[0], compute * rows / chunk.shape[0]


def engine_bytes(engine: str, m: int, width: int, chunk_rows: int, shards: int = 2) -> float:
    """Bytes of the large arrays each engine holds (float32)."""
    if engine == "single":
        return m * width * OUTPUTS * 4.0
    if engine == "chunked":
        return 2 * min(chunk_rows, m) * width * 4.0  # pre-activations and activations of one chunk
    return m * width * 4.0  # sharded: hidden activations, split over the shards (m/shards x N each)


def run_engine(engine: str, model, inputs, targets, n: int, chunk_rows: int, client=None):
    if engine == "single":
        return select(neuron_features(model, inputs), targets, n, "gfs")
    if engine == "chunked":
        return chunked_select(NetworkSource(model, inputs, targets), n, "gfs", chunk_rows=chunk_rows)
    return sharded_select(model, inputs, targets, n, "gfs", client=client, shards=2, chunk_rows=chunk_rows)


def sweep(ms, widths, chunk_rows: int, steps: int, client, repeats: int = 3) -> list[dict]:
    """Time the three engines on a cross of m and N (medians of ``repeats`` runs each)."""
    records = []
    grid = [(m, widths[len(widths) // 2]) for m in ms] + [(ms[len(ms) // 2], w) for w in widths]
    for m, width in dict.fromkeys(grid):
        model, inputs, targets = make_problem(m, width)
        picks = {}
        for engine in ("single", "chunked", "sharded"):
            short = statistics.median(timed(lambda: run_engine(engine, model, inputs, targets, 2, chunk_rows, client))
                                      for _ in range(repeats))
            result = {}
            long = statistics.median(timed(lambda: result.update(s=run_engine(engine, model, inputs, targets,
                                                                              2 + steps, chunk_rows, client)))
                                     for _ in range(repeats))
            picks[engine] = result["s"].indices.tolist()
            record = {"engine": engine, "m": m, "N": width, "K": OUTPUTS, "per_step_s": max(long - short, 0.0) / steps,
                      "total_s": long, "n": 2 + steps, "bytes": engine_bytes(engine, m, width, chunk_rows)}
            records.append(record)
            print(json.dumps(record), flush=True)
        assert picks["chunked"] == picks["single"] == picks["sharded"], picks
    return records


def plot(records: list[dict], path_stem: Path, ms, widths) -> list[Path]:
    """The scale figure (PNG and PDF at ``path_stem``) from sweep records: per-step and total time
    against N and against m, and the memory each engine holds."""
    from sims.plotting.plots import plain_log_labels, plt, save_both

    figure, axes = plt.subplots(1, 3, figsize=(14, 4.6))
    styles = {"single": ("tab:blue", "o"), "chunked": ("tab:orange", "s"), "sharded": ("tab:green", "^")}
    middle_n, middle_m = widths[len(widths) // 2], ms[len(ms) // 2]
    for engine, (colour, marker) in styles.items():
        by_n = sorted((r for r in records if r["engine"] == engine and r["m"] == middle_m), key=lambda r: r["N"])
        by_m = sorted((r for r in records if r["engine"] == engine and r["N"] == middle_n), key=lambda r: r["m"])
        axes[0].loglog([r["N"] for r in by_n], [r["per_step_s"] for r in by_n], marker=marker, color=colour,
                       label=f"{engine}: per step")
        axes[0].loglog([r["N"] for r in by_n], [r["total_s"] for r in by_n], marker=marker, color=colour,
                       linestyle="--", label=f"{engine}: total, n = {by_n[0]['n']}")
        axes[1].loglog([r["m"] for r in by_m], [r["per_step_s"] for r in by_m], marker=marker, color=colour,
                       label=f"{engine}: per step")
        axes[1].loglog([r["m"] for r in by_m], [r["total_s"] for r in by_m], marker=marker, color=colour,
                       linestyle="--", label=f"{engine}: total")
        axes[2].loglog([r["N"] for r in by_n], [r["bytes"] / GiB for r in by_n], marker=marker, color=colour,
                       label=engine)
    axes[0].set(xlabel=f"neurons N (m = {middle_m}, K = {OUTPUTS})", ylabel="seconds", title="time against N")
    axes[1].set(xlabel=f"samples m (N = {middle_n}, K = {OUTPUTS})", ylabel="seconds", title="time against m")
    axes[2].set(xlabel=f"neurons N (m = {middle_m})", ylabel="GiB",
                title="memory each engine holds\n(sharded: total over 2 workers)")
    for axis in axes:
        plain_log_labels(axis, "x")
        plain_log_labels(axis, "y")
        axis.grid(True, which="both", alpha=0.25)
        axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    figure.tight_layout()
    return save_both(figure, path_stem.parent, path_stem.name)


class TimedShards(LocalShards):
    """LocalShards that add up the wall time of each kind of call."""

    def __init__(self, shards):
        super().__init__(shards)
        self.seconds: dict[str, float] = {}

    def call(self, name, *args):
        start = time.perf_counter()
        result = super().call(name, *args)
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
        return result


def big(m: int, factor: float, n: int, chunk_rows: int, width: int | None) -> dict:
    free = available_bytes()
    if width is None:
        width = int(math.ceil(factor * free / (m * OUTPUTS * 4.0) / 1000) * 1000)
    nominal = m * width * OUTPUTS * 4.0
    model, inputs, targets = make_problem(m, width)
    read_floor, compute_floor = memory_floor(model, inputs, chunk_rows)
    shards = TimedShards([FeatureShard(NetworkSource(model, inputs, targets), chunk_rows)])
    start = time.perf_counter()
    selection = run_on_shards(shards, n, "gfs")
    total = time.perf_counter() - start
    setup = shards.seconds.get("sq_norms", 0.0) + shards.seconds.get("info", 0.0)
    per_step = (total - setup) / n
    record = {"m": m, "N": width, "K": OUTPUTS, "d": INPUT_DIM, "n": n, "dtype": "float32",
              "nominal_feature_GiB": nominal / GiB, "free_memory_GiB": free / GiB, "ratio_to_free": nominal / free,
              "chunk_rows": chunk_rows, "chunk_GiB": engine_bytes("chunked", m, width, chunk_rows) / GiB,
              "total_s": total, "norm_pass_s": setup, "per_step_s": per_step,
              "read_floor_s": read_floor, "recompute_floor_s": compute_floor,
              "step_over_read_floor": per_step / read_floor, "step_over_recompute_floor": per_step / compute_floor,
              "threads": torch.get_num_threads(), "final_loss": float(selection.losses[-1]),
              "first_picks": selection.indices[:5].tolist()}
    print(json.dumps(record), flush=True)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="time the three engines against N and m, draw the figure")
    parser.add_argument("--big", action="store_true", help="n = 100 from features >= --factor x free memory")
    parser.add_argument("--quick", action="store_true", help="tiny sizes for both (seconds); figure to /tmp")
    parser.add_argument("--factor", type=float, default=1.5, help="nominal features / free memory in --big")
    parser.add_argument("--big-m", type=int, default=60000, help="samples m in --big")
    parser.add_argument("--big-width", type=int, default=None,
                        help="neurons N in --big (default: the smallest multiple of 1000 reaching --factor)")
    parser.add_argument("--big-n", type=int, default=100, help="subnetwork size n (steps) in --big")
    parser.add_argument("--chunk-rows", type=int, default=None, help="rows per chunk (default 1000; 4000 in --big)")
    parser.add_argument("--steps", type=int, default=20, help="steps timed per engine in --sweep")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default torch's)")
    parser.add_argument("--json", default=None, help="also write the records to this JSON file")
    parser.add_argument("--replot", default=None,
                        help="redraw figures/selection_scale from the sweep records of a --json file (the committed figure's: benchmarks/selection_scale_sweep.json), measure nothing")
    args = parser.parse_args()
    if args.replot:
        sweep_records = json.loads(Path(args.replot).read_text())["sweep"]
        ms, widths = sorted({r["m"] for r in sweep_records}), sorted({r["N"] for r in sweep_records})
        for path in plot(sweep_records, Path("figures/selection_scale"), ms, widths):
            print(f"wrote {path}")
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    records: dict = {}
    if args.sweep or args.quick:
        from dask.distributed import Client, LocalCluster

        ms, widths = ((200, 400, 800), (200, 400, 800)) if args.quick else ((1000, 2000, 4000, 8000),
                                                                            (2000, 4000, 8000, 16000))
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
        try:
            records["sweep"] = sweep(ms, widths, args.chunk_rows or (100 if args.quick else 1000),
                                     2 if args.quick else args.steps, client, repeats=1 if args.quick else 3)
        finally:
            client.close()
            cluster.close()
        stem = Path("/tmp/selection_scale_quick") if args.quick else Path("figures/selection_scale")
        for path in plot(records["sweep"], stem, ms, widths):
            print(f"wrote {path}")
    if args.big or args.quick:
        if args.quick:
            records["big"] = big(2000, 0.0, 5, 500, width=500)
        else:
            records["big"] = big(args.big_m, args.factor, args.big_n, args.chunk_rows or 4000, args.big_width)
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1) + "\n")


if __name__ == "__main__":
    main()
