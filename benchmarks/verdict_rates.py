"""Error rates of the verdict rules at the README's designs, measured with this script's own data
generators fed to the public verdict functions (issue 20). Prints one line per rule and truth:
the shares of held / did not hold over independent simulated experiments.

    python benchmarks/verdict_rates.py [--replicates 1500] [--seed 1]

Designs: one-sided t rule with 5 seeds (normal and gamma per-seed noise of skewness ±2, at the
boundary, and power at a loss ratio of 0.9); E5's nine competitors tied with GFS (gaps
correlated through GFS's per-seed loss) and 0.9 times each; E2's fcfw exponential design
(5 seeds, n = 2 ... 6-9, noise sd 0.3 on ln h) under power laws of exponent -2 ... -6, and
exponentials of factor 0.27 and 0.5 per neuron.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from theory import claims, inference


def _row(method, n, metric, value, seed, m=10, dataset="synthetic"):
    return dict(experiment="bench", dataset=dataset, method=method, m=m, n=n, seed=seed, metric=metric, value=value)


def paired_gap_rows(gaps):
    """Rows whose paired log-gap ln(gfs) - ln(direct-gd) at n = 100 is gaps[seed] (n = 10 tied)."""
    rows = []
    for seed, gap in enumerate(gaps):
        for n, g in ((10, 0.0), (100, gap)):
            rows += [_row("direct-gd", n, "train_loss", 0.1, seed), _row("gfs", n, "train_loss", 0.1 * math.exp(g), seed)]
    return rows


def competitor_rows(gaps_by_method):
    seeds = len(next(iter(gaps_by_method.values())))
    rows = [_row("gfs", 100, "test_loss", 1.0, seed) for seed in range(seeds)]
    for method, gaps in gaps_by_method.items():
        rows += [_row(method, 100, "test_loss", math.exp(-gap), seed) for seed, gap in enumerate(gaps)]
    return rows


def fcfw_rows(rng, log_law, points=(5, 5, 8, 5, 5), noise=0.3):
    rows = []
    for seed, k in enumerate(points):
        ns = np.arange(2, 2 + k)
        values = np.exp(log_law(ns, seed) + rng.normal(0, noise, k))
        rows += [_row("fcfw", int(n), "excess_loss", float(v), seed) for n, v in zip(ns, values)]
        rows += [_row("dense", None, name, value, seed) for name, value in (("r", 0.5), ("D", 1.0))]
    return rows


def shares(outcomes) -> str:
    outcomes = list(outcomes)
    return (f"held {outcomes.count('held') / len(outcomes):.3f}, "
            f"did not hold {outcomes.count('did not hold') / len(outcomes):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng, count = np.random.default_rng(args.seed), args.replicates
    for skew in (0.0, 2.0, -2.0):
        outcomes = [claims.pruned_beats_direct_training(paired_gap_rows(0.1 * inference.standard_draws(rng, 5, skew)))
                    .outcome for _ in range(count)]
        print(f"t rule, 5 seeds, log-ratio 0, skewness {skew:+.0f}: {shares(outcomes)}")
    outcomes = [claims.pruned_beats_direct_training(paired_gap_rows(math.log(0.9) + 0.1 * rng.standard_normal(5)))
                .outcome for _ in range(count)]
    print(f"t rule, 5 seeds, log-ratio ln 0.9, sd 0.1: {shares(outcomes)}")
    names = [f"c{j}" for j in range(9)]
    for label, shift in (("tied with all 9", 0.0), ("0.9 times all 9", math.log(0.9))):
        outcomes = []
        for _ in range(count):
            shared = rng.normal(0, 0.05, 5)
            gaps = {name: list(shift + shared + rng.normal(0, 0.05, 5)) for name in names}
            outcomes.append(claims.pruned_beats_strongest_competitor(competitor_rows(gaps), competitors=tuple(names),
                                                                     metric="test_loss").outcome)
        print(f"E5 strongest competitor, 5 seeds, GFS {label}: {shares(outcomes)}")
    for label, law in (("power laws n^-(2+seed)", lambda ns, seed: -(2.0 + seed) * np.log(ns)),
                       ("exponential 0.27^n", lambda ns, seed: math.log(0.27) * ns),
                       ("exponential 0.5^n", lambda ns, seed: math.log(0.5) * ns)):
        outcomes = [claims.reweighted_greedy_exponential(fcfw_rows(rng, law), method="fcfw").outcome
                    for _ in range(count)]
        print(f"E2 fcfw design, {label}: {shares(outcomes)}")


if __name__ == "__main__":
    main()
