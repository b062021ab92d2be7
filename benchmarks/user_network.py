"""Train the "user's networks" of README's "Your own network": plain ReLU MLPs trained the way
tutorials train them (Adam, cross-entropy of the logits, mini-batches of 32) on scikit-learn's
digits as the toolkit's loader returns them with ``--input-scaling none`` (digits.data / 16, the
training split of ``gfs --data digits``), saved as nn.Sequential state dicts.

    python benchmarks/user_network.py --out runs/user            # 64-100-10 and 64-64-64-10
    gfs compare --model runs/user/mlp_64_100_10.pt --data digits --input-scaling none --out runs/user/compare
    gfs prune --state-dict --model runs/user/mlp_64_100_10.pt --data digits --input-scaling none -n 50 \\
        --out runs/user/small.pt
    gfs prune --state-dict --model runs/user/mlp_64_64_64_10.pt --data digits --input-scaling none -n 32 \\
        --out runs/user/small_deep.pt

Everything is seeded (``--seed``) and runs on one torch thread, so the same command gives the same
weights on the same machine; about 30 s per network.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn

from sims.data.datasets import load_dataset

SHAPES = {"mlp_64_100_10": (64, 100, 10), "mlp_64_64_64_10": (64, 64, 64, 10)}


def train_mlp(widths, inputs, labels, *, epochs: int = 60, batch_size: int = 32, lr: float = 1e-3,
              seed: int = 0) -> nn.Sequential:
    """nn.Sequential(Linear, ReLU, ..., Linear) of the given widths, trained with Adam on the
    cross-entropy over shuffled mini-batches; inputs (m, d) float, labels (m,) int."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    X = torch.as_tensor(inputs, dtype=torch.float32)
    y = torch.as_tensor(labels)
    for _ in range(epochs):
        order = torch.randperm(len(X))
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(X[batch]), y[batch]).backward()
            optimiser.step()
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/user", help="folder for the state dicts (default runs/user)")
    parser.add_argument("--seed", type=int, default=0, help="seed of initialisation and batch order")
    parser.add_argument("--epochs", type=int, default=60, help="passes over the training split")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_dataset(name="digits", input_scaling="none")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, widths in SHAPES.items():
        model = train_mlp(widths, data.train_inputs, data.train_labels, epochs=args.epochs, seed=args.seed)
        with torch.no_grad():
            accuracy = (model(torch.as_tensor(data.test_inputs, dtype=torch.float32)).argmax(1).numpy()
                        == data.test_labels).mean()
        torch.save(model.state_dict(), out / f"{name}.pt")
        print(f"{name}: test accuracy {accuracy:.3f} on {len(data.test_labels)} held-out digits; wrote {out / name}.pt")


if __name__ == "__main__":
    main()
