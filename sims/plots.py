"""Figures. Every function writes its files atomically and returns nothing; matplotlib runs
headless (Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sims.model import atomic_write  # noqa: E402


def save_figure(figure, path: str | Path) -> None:
    """Save ``figure`` to ``path`` (format from the suffix) atomically and close it."""
    path = Path(path)
    atomic_write(path, lambda temporary: figure.savefig(temporary, format=path.suffix.lstrip("."), dpi=130, bbox_inches="tight"))
    plt.close(figure)


def plot_loss_curve(losses, path: str | Path, title: str = "") -> None:
    """Training loss against GD step on a log y-axis."""
    losses = np.asarray(losses, dtype=np.float64)
    figure, axis = plt.subplots(figsize=(5, 3.4))
    axis.semilogy(np.arange(losses.shape[0]), losses, color="C0")
    axis.set_xlabel("gradient-descent step")
    axis.set_ylabel("training loss  0.5 mean ||f(x) - y||²")
    axis.set_title(title)
    axis.grid(True, which="both", alpha=0.3)
    save_figure(figure, path)
