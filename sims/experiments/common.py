"""Pieces the experiments share: size grids, the dense network a cell prunes (from a
``NetworkConfig`` and a ``TrainConfig``), geometry rows, and the metrics of a network (the
accuracy and half-MSE of :mod:`sims.metrics.quality`). Plain functions over plain data."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from sims.data.datasets import Dataset
from sims.metrics.quality import accuracy, half_mean_squared_error
from sims.nets.model import NetworkConfig, TwoLayerNet, forward, init_network, neuron_features
from sims.nets.train import TrainConfig, TrainResult, train
from theory import geometry
from theory.claims import DENSE_LOSS, DIAMETER, DISTANCE_TO_G, PROJECTION_LOSS, RADIUS, VARIANCE

__all__ = ["ProblemCell", "problem_cells", "tidy_row", "size_grid", "init_dense", "train_dense", "model_metrics", "features_of", "geometry_rows",
           "geometric_steps", "unit_rms_targets"]


def tidy_row(dataset, method, m, n, seed, metric, value, step=None, *, eps=None) -> dict:
    """One tidy result row (the runner's columns; "experiment" is filled in by the runner).

    ``eps``: the criterion the value was measured against (E3's T*(eps)); the key is only
    present when given, so rows of experiments without a criterion are unchanged."""
    row = {"dataset": dataset, "method": method, "m": m, "n": n, "seed": seed, "metric": metric,
           "value": float(value), "step": step}
    if eps is not None:
        row["eps"] = float(eps)
    return row


@dataclass(frozen=True)
class ProblemCell:
    """A cell of one problem (a data set) and one seed (E4's and E5's unit of work)."""

    problem: str
    seed: int


def problem_cells(config) -> list[ProblemCell]:
    """A cell per problem and seed of a config with ``problems`` and ``seeds``, problem by problem."""
    return [ProblemCell(problem, seed) for problem in config.problems for seed in config.seeds]


def size_grid(n_max: int, points: int, n_min: int = 1) -> list[int]:
    """About ``points`` distinct integers, geometrically spaced from n_min to n_max inclusive."""
    if n_max < n_min:
        raise ValueError(f"n_max ({n_max}) must be at least n_min ({n_min})")
    grid = np.unique(np.round(np.geomspace(n_min, n_max, points)).astype(int))
    return [int(n) for n in grid]


def init_dense(dataset: Dataset, network: NetworkConfig, seed: int, *, second_layer: str = "gaussian") -> TwoLayerNet:
    """The network ``network`` describes for the dataset's input and output sizes, initialised
    with ``seed`` (the config's own seed is not used: a cell chooses it)."""
    return init_network(dataset.input_dim, network.width, dataset.output_dim, activation=network.activation,
                        scaling=network.scaling, bias=network.bias, second_layer=second_layer, seed=seed,
                        dtype=network.dtype, device=network.device)


def train_dense(dataset: Dataset, network: NetworkConfig, training: TrainConfig, seed: int) -> TrainResult:
    """Initialise (:func:`init_dense`, seeded) and train a network on the dataset's training split."""
    return train(init_dense(dataset, network, seed), dataset.train_inputs, dataset.train_targets, training)


def model_metrics(model: TwoLayerNet, dataset: Dataset, classes=None) -> dict[str, float]:
    """train_loss, test_loss (mean form) and, for labelled data, train/test accuracy."""
    metrics = {}
    for split in ("train", "test"):
        inputs = getattr(dataset, f"{split}_inputs")
        if inputs.shape[0] == 0:
            continue
        outputs = forward(model, inputs).detach().cpu().numpy()
        metrics[f"{split}_loss"] = half_mean_squared_error(outputs, getattr(dataset, f"{split}_targets"))
        labels = getattr(dataset, f"{split}_labels")
        if labels is not None:
            metrics[f"{split}_accuracy"] = accuracy(outputs, labels, classes)
    return metrics


def features_of(model: TwoLayerNet, inputs) -> torch.Tensor:
    """Neuron features (m, N, K) without autograd bookkeeping."""
    with torch.no_grad():
        return neuron_features(model, inputs)


def geometry_rows(features, target, *, max_radius_dim: int) -> dict[str, float]:
    """Constants of docs/THEORY.md section 3 for these features and this target, in float64,
    keyed by the metric names of theory.claims (the names the claims look the rows up by).

    V: neuron variance about the dense mean; D: diameter of the hull; g: projection of the
    target onto the hull's affine span, with L_g = L(g) and D_g = max_i ||phi_i - g||;
    r: interior radius of g (exact up to dimension 8, a certified LP lower bound up to
    ``max_radius_dim``, 0 when g lies outside the hull; absent when not computed or when the
    neurons are too degenerate to span a hull).
    """
    features = np.asarray(features, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64).reshape(features.shape[0], -1)
    if features.ndim == 2:
        features = features[:, :, None]
    projection = geometry.project_onto_affine_hull(features, target).reshape(target.shape)
    values = {
        VARIANCE: geometry.neuron_variance(features),
        DIAMETER: geometry.diameter(features),
        DISTANCE_TO_G: geometry.max_distance_to(features, projection),
        PROJECTION_LOSS: half_mean_squared_error(projection, target),
        DENSE_LOSS: half_mean_squared_error(features.mean(1), target),
        "dimension": float(features.shape[0] * features.shape[2]),
    }
    if values["dimension"] <= max_radius_dim:
        try:
            values[RADIUS] = geometry.interior_radius(features, projection)
        except geometry.PointOutsideHull:
            values[RADIUS] = 0.0
        except geometry.DegenerateHull:  # no ball to measure: r stays absent
            pass
    return values


def geometric_steps(iterations: int, points: int) -> list[int]:
    """0 plus about ``points`` distinct integers geometrically spaced from 1 to ``iterations``."""
    if iterations < 1:
        return [0]
    grid = np.unique(np.round(np.geomspace(1, iterations, max(points, 2))).astype(int))
    return [0] + [int(t) for t in grid]


def unit_rms_targets(dataset: Dataset) -> Dataset:
    """The dataset with train and test targets divided by the training targets' RMS norm,
    so that 0.5 * mean ||y||^2 (the loss of the zero predictor) is exactly 0.5."""
    rms = float(np.sqrt(np.mean(np.sum(dataset.train_targets ** 2, axis=1))))
    if rms == 0:
        return dataset
    return replace(dataset, train_targets=dataset.train_targets / rms, test_targets=dataset.test_targets / rms)
