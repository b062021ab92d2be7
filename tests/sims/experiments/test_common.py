"""sims.experiments.common: the pieces the experiments share, tested directly (and the accuracy
and half-MSE of sims.metrics.quality, which they use)."""

import numpy as np
import pytest
import torch

from sims.data.datasets import Dataset, DatasetConfig, load_dataset
from sims.experiments.common import (ProblemCell, geometric_steps, init_dense, problem_cells, size_grid, tidy_row,
                                     train_dense, unit_rms_targets)
from sims.foundations.composed import cell_record
from sims.metrics.quality import accuracy, half_mean_squared_error
from sims.nets.model import NetworkConfig, init_network
from sims.nets.train import TrainConfig, train


def test_tidy_row_has_the_runner_columns_and_eps_only_when_given():
    row = tidy_row("teacher", "gfs", 10, 3, 0, "train_loss", np.float32(0.5))
    assert row == {"dataset": "teacher", "method": "gfs", "m": 10, "n": 3, "seed": 0, "metric": "train_loss",
                   "value": 0.5, "step": None}
    assert type(row["value"]) is float
    assert tidy_row("t", "gfs", 10, 3, 0, "pretrain_steps", 7, eps=0.1)["eps"] == 0.1


@pytest.mark.parametrize("n_max,points,n_min", [(1000, 12, 1), (60, 6, 10), (5, 40, 1), (1, 3, 1)])
def test_size_grid_is_increasing_and_spans_its_ends(n_max, points, n_min):
    grid = size_grid(n_max, points, n_min)
    assert grid[0] == n_min and grid[-1] == n_max
    assert all(a < b for a, b in zip(grid, grid[1:])) and len(grid) <= points


def test_size_grid_refuses_an_empty_range():
    with pytest.raises(ValueError, match="n_max"):
        size_grid(3, 5, n_min=4)


def test_geometric_steps_start_at_zero_and_end_at_the_last_iteration():
    steps = geometric_steps(300, 16)
    assert steps[0] == 0 and steps[1] == 1 and steps[-1] == 300
    assert all(a < b for a, b in zip(steps, steps[1:]))
    assert geometric_steps(0, 16) == [0]


def test_half_mean_squared_error_is_half_the_mean_squared_norm():
    outputs, targets = np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 2.0]])
    assert half_mean_squared_error(outputs, targets) == pytest.approx(0.5 * (1.0 + 4.0) / 2)
    assert half_mean_squared_error(np.ones(3), np.ones((3, 1))) == 0.0


def test_accuracy_by_argmax_and_by_sign():
    assert accuracy(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 1])) == 0.5
    assert accuracy(np.array([-1.0, 2.0, 0.5]), np.array([3, 8, 3]), classes=(3, 8)) == pytest.approx(2 / 3)


def test_unit_rms_targets_make_the_zero_predictor_lose_one_half():
    rng = np.random.default_rng(0)
    dataset = Dataset("toy", rng.standard_normal((20, 3)), 3.0 * rng.standard_normal((20, 2)),
                      rng.standard_normal((5, 3)), rng.standard_normal((5, 2)))
    scaled = unit_rms_targets(dataset)
    assert half_mean_squared_error(np.zeros((20, 2)), scaled.train_targets) == pytest.approx(0.5)
    ratio = dataset.test_targets / scaled.test_targets
    assert np.allclose(ratio, ratio.flat[0])  # the test targets get the same factor


def test_init_dense_and_train_dense_take_the_network_and_training_configs():
    data = load_dataset(DatasetConfig(name="teacher", m=20, seed=1))
    network = NetworkConfig(width=7, scaling="ntk", dtype="float32", seed=99)  # the config's own seed is not used
    model = init_dense(data, network, seed=3, second_layer="sign")
    reference = init_network(data.input_dim, 7, data.output_dim, scaling="ntk", second_layer="sign", seed=3,
                             dtype="float32")
    assert torch.equal(model.first_weight, reference.first_weight) and torch.equal(model.second_weight,
                                                                                    reference.second_weight)
    assert init_dense(data, network, seed=4).first_weight.ne(model.first_weight).any()
    training = TrainConfig(lr=0.5, iterations=5, mode="first")
    trained = train_dense(data, network, training, seed=3)
    expected = train(init_dense(data, network, seed=3), data.train_inputs, data.train_targets, training)
    assert torch.equal(trained.model.first_weight, expected.model.first_weight)
    assert np.array_equal(trained.losses, expected.losses) and len(trained.losses) == 6


def test_problem_cells_go_problem_by_problem_and_are_typed():
    class Config:
        problems, seeds = ("teacher", "digits"), (3, 1)

    assert problem_cells(Config()) == [ProblemCell("teacher", 3), ProblemCell("teacher", 1), ProblemCell("digits", 3),
                                       ProblemCell("digits", 1)]
    assert cell_record(ProblemCell("teacher", 3)) == {"problem": "teacher", "seed": 3}
