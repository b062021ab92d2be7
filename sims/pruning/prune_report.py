"""What pruning a user's network measures and says: the metrics of its outputs, the near-chance
refusal of a dense network whose inputs do not match it, the report ``gfs prune`` prints and the
one-line warning of a useless result."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sims.metrics.quality import accuracy, cross_entropy, half_mean_squared_error

__all__ = ["NEAR_CHANCE", "NO_BETTER_MARGIN", "network_metrics", "near_chance", "PruneReport", "describe_metrics",
           "useless_warning"]

#: The dense network is "near chance" when its training accuracy is below
#: chance + NEAR_CHANCE * (1 - chance), chance being the share of the most frequent class.
NEAR_CHANCE = 0.2
#: A pruned network is "no better than its output bias alone" when its training accuracy exceeds
#: the bias's by at most this much (or, without labels, its loss against the target is no lower).
NO_BETTER_MARGIN = 0.05


def network_metrics(outputs, labels=None, targets=None, reference=None) -> dict[str, float]:
    """Metrics of outputs (m, K) in float64: ``accuracy`` (argmax, or for K = 1 the sign picking
    the smallest (-) or largest (+) label, against labels (m,)), ``cross_entropy`` (K > 1),
    ``labels_loss`` (0.5 mean ||f - y||^2 against targets (m, K)), ``target_loss`` (the same
    against ``reference`` (m, K), the selection's target). See :mod:`sims.metrics.quality`."""
    outputs = np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)
    metrics = {}
    if labels is not None and len(labels):
        labels = np.asarray(labels)
        classes = np.unique(labels)
        metrics["accuracy"] = accuracy(outputs, labels, (classes[0], classes[-1]))
        if outputs.shape[1] > 1:
            metrics["cross_entropy"] = cross_entropy(outputs, labels)
    for name, values in (("labels_loss", targets), ("target_loss", reference)):
        if values is not None and len(values):
            metrics[name] = half_mean_squared_error(outputs, values)
    return metrics


def near_chance(accuracy: float, labels) -> tuple[bool, float]:
    """(accuracy below chance + NEAR_CHANCE (1 - chance), chance), chance = the most frequent
    class's share of ``labels``."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    chance = float(counts.max() / counts.sum())
    return accuracy < chance + NEAR_CHANCE * (1 - chance), chance


@dataclass(frozen=True, eq=False)
class PruneReport:
    """What :func:`sims.pruning.prune.prune_network` did and measured. target: a key of
    sims.pruning.prune.TARGETS; sizes: n per hidden layer; dense_widths, widths: hidden widths
    before and after; dense, pruned, refit (None without refit), trivial (the output bias alone):
    {"train_<metric>", "test_<metric>"} of :func:`network_metrics`; refit_kind: a key of
    sims.pruning.prune.REFITS; warning: the one-line warning of a useless result, or None."""

    target: str
    sizes: tuple
    dense_widths: tuple
    widths: tuple
    dense: dict
    pruned: dict
    refit: dict | None
    trivial: dict
    refit_kind: str = "none"
    warning: str | None = None

    def lines(self, method: str = "gfs") -> list[str]:
        """The report as printed by ``gfs prune``: the dense baseline, the pruned network, the refit."""
        shape = "-".join(map(str, self.dense_widths))
        out = [f"dense network (hidden widths {shape}): {describe_metrics(self.dense)}"]
        kept = ", ".join(f"{w} of {d}" for w, d in zip(self.widths, self.dense_widths))
        out.append(f"{method}, target {self.target} (n = {', '.join(map(str, self.sizes))}): kept {kept} hidden units; "
                   f"{describe_metrics(self.pruned, self.dense)}")
        if self.refit is not None:
            out.append(f"after the {self.refit_kind} refit of the output layer: {describe_metrics(self.refit, self.dense)}")
        return out


def describe_metrics(metrics: dict, dense: dict | None = None) -> str:
    """One line of {"train_<metric>", "test_<metric>"} (:func:`network_metrics`): the accuracies
    (as a share of ``dense``'s when given) and cross-entropies, the squared loss against the labels
    and, with ``dense``, against the target where it differs."""
    parts = []
    for split in ("train", "test"):
        if f"{split}_accuracy" in metrics:
            text = f"{split} accuracy {metrics[f'{split}_accuracy']:.3f}"
            if dense and dense.get(f"{split}_accuracy"):
                text += f" ({metrics[f'{split}_accuracy'] / dense[f'{split}_accuracy']:.1%} of dense)"
            if f"{split}_cross_entropy" in metrics:
                text += f", cross-entropy {metrics[f'{split}_cross_entropy']:.4g}"
            parts.append(text)
    if "train_labels_loss" in metrics:
        parts.append(f"squared loss against the labels {metrics['train_labels_loss']:.4g}")
    if dense is not None and "train_target_loss" in metrics and metrics.get("train_target_loss") != metrics.get(
            "train_labels_loss"):
        parts.append(f"against the target {metrics['train_target_loss']:.4g}")
    return "; ".join(parts)


def useless_warning(report_pruned: dict, trivial: dict, widths, sizes, target: str) -> str | None:
    """The one-line warning of a useless pruned network, with its likely cause, or None: its
    training accuracy (without labels: its loss against the target) no better than the output
    bias alone's (``trivial``; NO_BETTER_MARGIN), or a hidden layer that kept one unit of
    ``sizes`` >= 2 asked (``widths``: the units kept per layer)."""
    single = [l + 1 for l, (w, n) in enumerate(zip(widths, sizes)) if w == 1 and n >= 2]
    if "train_accuracy" in report_pruned:
        no_better = report_pruned["train_accuracy"] <= trivial["train_accuracy"] + NO_BETTER_MARGIN
        evidence = (f"train accuracy {report_pruned['train_accuracy']:.3f}, the output bias alone "
                    f"{trivial['train_accuracy']:.3f}")
    else:
        no_better = report_pruned["train_target_loss"] >= trivial["train_target_loss"]
        evidence = (f"loss against the target {report_pruned['train_target_loss']:.4g}, the output bias alone "
                    f"{trivial['train_target_loss']:.4g}")
    if not (no_better or single):
        return None
    what = "no better than its output bias alone" if no_better else "a single unit"
    if single:
        what += f" (hidden layer {', '.join(map(str, single))} kept 1 unit of n = {sizes[single[0] - 1]} asked)"
    if target == "labels":
        cause = ("target 'labels' fits the labels with the squared loss, but this network's outputs (logits?) are on "
                 "another scale; try target 'dense' (the network's own outputs) or 'labels-ce'")
    else:
        cause = ("too few units for this network, or inputs that do not match the model; try a larger n, the "
                 "refit of the output layer, or check the input scaling")
    return f"the pruned network is {what}: {evidence}. Likely cause: {cause}"
