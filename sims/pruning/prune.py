"""Prune a network to a physically smaller one with a selection method.

Two kinds of model are accepted:

- a :class:`sims.nets.model.TwoLayerNet` (:func:`prune_model`);
- a plain PyTorch state dict of ``nn.Sequential(nn.Linear(d, N), activation, nn.Linear(N, K))``,
  keys ``'0.weight'`` (N, d), ``'0.bias'`` (N,), ``'2.weight'`` (K, N), ``'2.bias'`` (K,), either
  bias optional (:func:`prune_state_dict`). The answer is a state dict of the same kind with
  fewer hidden units, which loads into ``nn.Sequential(nn.Linear(d, n'), activation,
  nn.Linear(n', K))``; masks that leave the model as large as before are not pruning.

A plain model computes W2 act(W1 x + b1) + b2. Without b2 this is the mean of the N neuron
contributions N * W2[:, i] act(w1_i . x + b1_i), i.e. a mean-field TwoLayerNet
(:mod:`sims.pruning.state_dicts` converts), so the output bias is set aside: selection fits the
target minus b2 with those contributions, and the pruned state dict keeps b2 unchanged, so its
output is (selected mixture of contributions) + b2.

Pruning a user's network (:func:`prune_network`, :func:`prune_sequential`, ``gfs prune
--state-dict``, any depth through :mod:`sims.pruning.layerwise`) adds what a network trained elsewhere
needs: a choice of what the selection fits (:data:`TARGETS`; by default the dense network's own
outputs), the dense network's baseline measured on the data given (and a refusal when it is near
chance: the inputs then do not match the model), an optional exact refit of the output layer,
and a one-line warning when the result is no better than the output bias alone (what is
measured and said: :mod:`sims.pruning.prune_report`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from sims.foundations.errors import InputError
from sims.foundations.io import check_choice
from sims.nets.model import TwoLayerNet, neuron_features, subnetwork
from sims.pruning.layerwise import (PlainMLP, hidden, layer_sizes, mlp_from_sequential, mlp_from_state_dict, outputs,
                                    prune_layerwise, sequential_of)
from sims.pruning.prune_report import PruneReport, near_chance, network_metrics, useless_warning
from sims.pruning.state_dicts import model_from_state_dict, state_dict_from_model
from sims.selection.engine import Selection, select
from sims.selection.published_gfs import PublishedOptions, published_gfs
from sims.nets.features import network_select, neuron_factors

__all__ = [
    "prune_model", "prune_state_dict", "TARGETS", "REFITS", "LOADER_INPUTS", "TargetConfig",
    "prune_state_dict_cross_entropy", "prune_network", "prune_sequential",
]


def prune_model(model: TwoLayerNet, inputs, targets, n: int, method: str = "gfs", *,
                seed: int | None = None, sharding=None, **options) -> tuple[TwoLayerNet, Selection]:
    """Select n neurons of ``model`` on data (inputs (m, d), targets (m, K) or (m,)) and build
    the physically smaller network.

    Returns (small_model, selection): ``small_model`` has ``selection.support_size`` <= n hidden
    units (repeated picks are merged, zero weights dropped), the same activation and scaling,
    and ``forward(small_model, X)`` equals ``neuron_features(model, X) @ selection.weights``
    for every X, up to rounding. ``method``, ``seed`` and ``options`` are those of
    :func:`sims.selection.engine.select`, which also validates them. ``sharding`` (a
    :class:`sims.selection.sharded.ShardingConfig`) streams the features in chunks or splits them over Dask
    workers instead of forming them at once: same picks (see :mod:`sims.selection.sharded`).
    """
    if sharding is None or sharding.whole_array:
        # factored form: H (m x N) and the second layer, never the (m, N, K) array
        selection = select(neuron_factors(model, inputs), targets, n, method, seed=seed, **options)
    else:
        selection = network_select(model, inputs, targets, n, method, sharding, seed=seed, **options)
    support = np.flatnonzero(selection.weights)
    return subnetwork(model, support, selection.weights[support]), selection


def prune_state_dict(state_dict: dict, inputs, targets, n: int, method: str = "gfs", *,
                     activation: str = "relu", seed: int | None = None, sharding=None,
                     **options) -> tuple[dict, Selection]:
    """Prune a plain ``nn.Sequential(nn.Linear(d, N), activation, nn.Linear(N, K))`` state dict.

    inputs (m, d); targets (m, K) or (m,); ``activation`` names the middle module (one of
    sims.nets.model.ACTIVATIONS: torch's ReLU, Tanh, Sigmoid, Softplus, GELU defaults). The output
    bias b2 is subtracted from the targets before selection and kept in the answer (see the
    module docstring). Returns (small_state_dict, selection): the state dict has the same keys
    and dtype with support_size <= n hidden units, and the smaller Sequential's output equals
    ``features @ selection.weights + b2``, features being the dense model's neuron contributions.
    """
    model, output_bias = model_from_state_dict(state_dict, activation)
    targets = torch.as_tensor(targets, dtype=torch.float64, device=model.device)
    bias = output_bias.to(torch.float64)
    if targets.ndim == 2 and targets.shape[1] == model.output_dim:
        shifted = targets - bias
    elif targets.ndim == 1 and model.output_dim == 1:
        shifted = targets - bias[0]
    else:
        raise InputError(f"targets must have shape (m, {model.output_dim})"
                         f"{' or (m,)' if model.output_dim == 1 else ''}, got {tuple(targets.shape)}")
    small, selection = prune_model(model, inputs, shifted, n, method, seed=seed, sharding=sharding, **options)
    small_state = state_dict_from_model(small, output_bias)
    if "0.bias" not in state_dict:
        del small_state["0.bias"]
    if "2.bias" not in state_dict:
        del small_state["2.bias"]
    return small_state, selection


# ------------------------------------------------------------------------------ a user's network

#: What the selection fits on the training inputs (the output bias b is kept and never selected).
TARGETS = {
    "dense": "the dense network's own outputs (function matching, P2's setting; the default for a user's model)",
    "labels": "the data set's targets (one-hot labels) with the squared loss",
    "labels-ce": "the labels with the cross-entropy of the logits, by the published procedure "
                 "(sims.selection.published_gfs with all candidates and the full batch; each unit at most once)",
}
#: Final exact refit of the output layer on the kept units: none, least squares, or ridge.
REFITS = ("none", "least-squares", "ridge")

#: What each data set's inputs are with ``--input-scaling none`` (as its loader returns them).
LOADER_INPUTS = {
    "digits": "scikit-learn's digits.data / 16, in [0, 1]",
    "mnist5k": "pixel values / 255, in [0, 1]",
    "mnist": "pixel values / 255, in [0, 1]",
    "teacher": "x ~ N(0, I/d) (or uniform on the unit sphere)",
}



@dataclass(frozen=True)
class TargetConfig:
    """What the selection on a user's network fits and how the result is finished."""

    target: str | None = field(default=None, metadata={
        "help": "what the selection fits (default: dense for a plain state dict, labels for a `gfs train` model)",
        "choices": lambda: TARGETS})
    refit: str = field(default="none", metadata={"help": "final exact refit of the output layer on the kept units",
                                                 "choices": lambda: REFITS})
    ridge: float = field(default=1e-3, metadata={
        "help": "lambda of --refit ridge: minimises 0.5 mean ||W h + b - y||^2 + 0.5 lambda ||W||^2",
        "range": "positive"})

    def __post_init__(self):
        if self.target is not None:
            check_choice("target", self.target, TARGETS)
        check_choice("refit", self.refit, REFITS)
        if not (isinstance(self.ridge, (int, float)) and math.isfinite(self.ridge) and self.ridge > 0):
            raise InputError(f"ridge must be a positive number, got {self.ridge!r}")


def prune_state_dict_cross_entropy(state_dict: dict, inputs, labels, n: int, *,
                                   activation: str = "relu") -> tuple[dict, object]:
    """Prune a Linear-act-Linear state dict by the published GFS on the cross-entropy: n distinct
    units chosen one at a time, each the one whose uniform mean with those already chosen has the
    lowest cross-entropy of (mean + b2) against ``labels`` (m,) on all m examples and all
    candidates (:func:`sims.selection.published_gfs.published_gfs`, loss "cross-entropy"). n <= N. Returns
    (small state dict with the same keys, PublishedSelection)."""
    model, output_bias = model_from_state_dict(state_dict, activation)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    classes = model.output_dim
    if model.output_dim < 2 or labels.min() < 0 or labels.max() >= classes:
        raise InputError(f"target 'labels-ce' needs class labels in 0..K-1 and K >= 2 outputs (K = {classes})")
    if not 1 <= n <= model.width:
        raise InputError(f"n = {n} exceeds the number of units N = {model.width} (target 'labels-ce' picks each "
                         "unit at most once)")
    with torch.no_grad():
        features = neuron_features(model, inputs)
    bias = output_bias.double().cpu().numpy()
    picked = published_gfs(features, np.eye(classes)[labels] - bias, n, PublishedOptions(loss="cross-entropy"),
                           labels=labels, output_offset=bias)
    support = np.sort(picked.indices)
    small = state_dict_from_model(subnetwork(model, support, np.full(support.size, 1.0 / support.size)), output_bias)
    for key in ("0.bias", "2.bias"):
        if key not in state_dict:
            del small[key]
    return small, picked


def _split_metrics(mlp, splits: dict, reference) -> dict[str, float]:
    metrics = {}
    for split, (inputs, labels, targets) in splits.items():
        if inputs is None or len(inputs) == 0:
            continue
        values = outputs(mlp, inputs).double().cpu().numpy()
        measured = network_metrics(values, labels, targets, reference if split == "train" else None)
        metrics.update({f"{split}_{name}": value for name, value in measured.items()})
    return metrics


def _refit_output_layer(mlp, inputs, target: np.ndarray, ridge: float | None):
    """mlp with its last Linear layer replaced by the least-squares (ridge: penalty 0.5 ridge ||W||^2
    on the mean loss) fit of ``target`` (m, K) on the last hidden layer's activations; the bias,
    if the layer has one, is fitted unpenalised."""
    h = hidden(mlp, inputs, len(mlp.weights) - 1).double()
    y = torch.as_tensor(target, dtype=torch.float64)
    with_bias = mlp.biases[-1] is not None
    h_mean, y_mean = (h.mean(0), y.mean(0)) if with_bias else (torch.zeros(h.shape[1], dtype=torch.float64),
                                                               torch.zeros(y.shape[1], dtype=torch.float64))
    hc, yc = h - h_mean, y - y_mean
    if ridge is None:
        solution = torch.linalg.lstsq(hc, yc, driver="gelsd").solution  # (n', K), minimum norm
    else:
        gram = hc.T @ hc / h.shape[0] + ridge * torch.eye(h.shape[1], dtype=torch.float64)
        solution = torch.linalg.solve(gram, hc.T @ yc / h.shape[0])
    weight = solution.T.to(mlp.dtype).contiguous()
    bias = (y_mean - h_mean @ solution).to(mlp.dtype) if with_bias else None
    return PlainMLP(mlp.weights[:-1] + (weight,), mlp.biases[:-1] + (bias,), mlp.activation)


def prune_network(model, inputs, n, *, target: str = "dense", labels=None, targets=None, method: str = "gfs",
                  activation: str = "relu", refit: str = "none", ridge: float = 1e-3, seed: int | None = None,
                  sharding=None, test_inputs=None, test_labels=None, test_targets=None, check_chance: bool = True):
    """Prune a user's plain MLP: an ``nn.Sequential(Linear, act, ..., Linear)`` object, its state
    dict (``activation`` names its activation) or a :class:`sims.pruning.layerwise.PlainMLP`.

    inputs (m, d): the training inputs, exactly as the model was trained on them; n: units to
    select per hidden layer (one int, or one per layer); target: a key of :data:`TARGETS`;
    labels (m,) int: class labels (needed by 'labels-ce' and for the accuracy checks); targets
    (m, K): the 'labels' target (default: one-hot of ``labels``); method: a selection method of
    sims.select (target 'labels-ce' runs the published procedure instead; gfs or gfs-norep);
    refit: a key of :data:`REFITS` (``ridge``: its lambda), fitting the dense outputs for target
    'dense', else the labels' targets; test_*: held-out data, only measured.

    Checks: with labels, the dense network's training accuracy must not be near chance
    (:func:`near_chance`), else an InputError says the inputs probably do not match the model.
    Two-layer networks are pruned by :func:`prune_state_dict` (``sharding`` applies), deeper ones
    layer by layer (:func:`sims.pruning.layerwise.prune_layerwise`). Returns (pruned PlainMLP of the same
    depth, :class:`PruneReport`); its ``warning`` is set when the result is useless.
    """
    config = TargetConfig(target=check_choice("target", target, TARGETS), refit=refit, ridge=ridge)
    if isinstance(model, PlainMLP):
        dense = model
    elif isinstance(model, torch.nn.Module):
        dense = mlp_from_sequential(model)
    elif isinstance(model, dict):
        dense = mlp_from_state_dict(model, activation)
    else:
        raise InputError(f"model must be an nn.Sequential, a state dict or a PlainMLP, got {type(model).__name__}")
    inputs = torch.as_tensor(np.asarray(inputs) if not isinstance(inputs, torch.Tensor) else inputs)
    if inputs.ndim != 2 or inputs.shape[1] != dense.input_dim:
        raise InputError(f"inputs must have shape (m, {dense.input_dim}) for this model, got {tuple(inputs.shape)}")
    m, classes = inputs.shape[0], dense.output_dim
    if sharding is not None and not sharding.whole_array and len(dense.weights) > 2:
        raise InputError("shards and chunk_rows apply to a network with one hidden layer; this one has "
                         f"{len(dense.widths)} (its layers are pruned one at a time, each in memory)")
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if labels.shape != (m,):
            raise InputError(f"labels must have shape ({m},), got {labels.shape}")
    if targets is None and labels is not None and classes > 1:
        targets = np.eye(classes)[labels]
    if targets is not None:
        targets = np.asarray(targets, dtype=np.float64).reshape(m, -1)
        if targets.shape[1] != classes:
            raise InputError(f"targets must have shape ({m}, {classes}), got {targets.shape}")
    if config.target == "labels" and targets is None:
        raise InputError("target 'labels' needs labels (or targets (m, K))")
    if config.target == "labels-ce" and (labels is None or method not in ("gfs", "gfs-norep")):
        raise InputError("target 'labels-ce' needs labels and runs the published GFS (method gfs or gfs-norep), "
                         f"got method {method!r}" + ("" if labels is not None else " and no labels"))
    dense_outputs = outputs(dense, inputs).double().cpu().numpy()
    reference = dense_outputs if config.target == "dense" else targets
    test_targets = (np.eye(classes)[np.asarray(test_labels)] if test_targets is None and test_labels is not None
                    and classes > 1 else test_targets)
    splits = {"train": (inputs, labels, targets), "test": (test_inputs, test_labels, test_targets)}
    dense_metrics = _split_metrics(dense, splits, reference)
    if check_chance and labels is not None:
        low, chance = near_chance(dense_metrics["train_accuracy"], labels)
        if low:
            raise InputError(f"the dense network's training accuracy is {dense_metrics['train_accuracy']:.3f}, near "
                             f"chance ({chance:.3f}): the inputs probably do not match the model (give them as it was "
                             "trained on them, e.g. the same input scaling)")

    def select_piece(piece, piece_inputs, piece_target, size):
        return prune_state_dict(piece, piece_inputs, piece_target, size, method, activation=dense.activation,
                                seed=seed, sharding=sharding)

    def select_last(piece, piece_inputs, piece_target, size):
        if config.target == "labels-ce":
            return prune_state_dict_cross_entropy(piece, piece_inputs, labels, size, activation=dense.activation)
        return select_piece(piece, piece_inputs, piece_target, size)

    sizes = layer_sizes(n, dense.widths)
    pruned, _ = prune_layerwise(dense, inputs, sizes, dense_outputs if config.target == "dense" else targets,
                                select_piece, select_last)
    pruned_metrics = _split_metrics(pruned, splits, reference)
    refit_metrics = None
    final = pruned
    if config.refit != "none":
        final = _refit_output_layer(pruned, inputs, reference, config.ridge if config.refit == "ridge" else None)
        refit_metrics = _split_metrics(final, splits, reference)
    bias = dense.biases[-1]
    constant = (np.zeros(classes) if bias is None else bias.double().cpu().numpy())
    trivial = {}
    for split, (split_inputs, split_labels, split_targets) in splits.items():
        if split_inputs is not None and len(split_inputs):
            values = np.broadcast_to(constant, (len(split_inputs), classes))
            measured = network_metrics(values, split_labels, split_targets, reference if split == "train" else None)
            trivial.update({f"{split}_{name}": value for name, value in measured.items()})
    warning = useless_warning(refit_metrics or pruned_metrics, trivial, final.widths, sizes, config.target)
    report = PruneReport(config.target, sizes, dense.widths, final.widths, dense_metrics, pruned_metrics,
                         refit_metrics, trivial, config.refit, warning)
    return final, report


def prune_sequential(model: torch.nn.Module, inputs, n, *, target: str = "dense", labels=None, method: str = "gfs",
                     refit: str = "none", ridge: float = 1e-3, seed: int | None = None, test_inputs=None,
                     test_labels=None, return_report: bool = False):
    """Prune an ``nn.Sequential(Linear, act, Linear, ..., Linear)`` (any depth, act one of torch's
    ReLU, Tanh, Sigmoid, Softplus, GELU) and get a narrower ``nn.Sequential`` of the same depth.

    inputs (m, d): training inputs as the model was trained on them; n: units kept per hidden
    layer (int or one per layer); target: "dense" (default: match the model's own outputs),
    "labels" (squared loss against one-hot ``labels``) or "labels-ce" (cross-entropy, published
    GFS); labels (m,) int class labels, optional for "dense" but then the checks below need them;
    refit: "none", "least-squares" or "ridge" (``ridge`` its lambda) of the output layer.
    The same checks as ``gfs prune --state-dict``: an InputError when the dense network's accuracy
    on (inputs, labels) is near chance; a ``UserWarning`` (one line, with the likely cause) when
    the result is no better than the output bias alone or keeps one unit where several were
    asked. Returns the new nn.Sequential (the model is not modified), or (it, PruneReport) with
    ``return_report=True``. Example::

        small = prune_sequential(model, X_train, n=50, labels=y_train)
    """
    pruned, report = prune_network(model, inputs, n, target=target, labels=labels, method=method, refit=refit,
                                   ridge=ridge, seed=seed, test_inputs=test_inputs, test_labels=test_labels)
    if report.warning:
        warnings.warn(report.warning, UserWarning, stacklevel=2)
    small = sequential_of(pruned)
    return (small, report) if return_report else small
