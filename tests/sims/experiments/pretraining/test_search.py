"""sims.experiments.pretraining.search: the trajectory kept cheaply (stored steps, bit-for-bit
replay of GD in between, its cache and refusals) and the coarse-then-bisection search for the
first and the stable crossing step, against a step-by-step scan."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from sims.experiments.common import features_of, geometric_steps
from sims.experiments.pretraining import quick, setup_plan
from sims.experiments.pretraining.cells import _load
from sims.experiments.pretraining.search import Trajectory, crossing_steps, model_after_updates, updates_to_criterion
from sims.foundations.composed import with_keys
from sims.nets.model import init_network
from sims.nets.train import TrainConfig, train
from sims.selection.engine import select

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def scan_crossing_steps(meets, last: int) -> tuple[float, float]:
    """The reference for crossing_steps: (first step meeting the criterion, first step from which
    it holds to the end) by evaluating every step 0..last; inf where there is none."""
    flags = [meets(t) for t in range(last + 1)]
    if not any(flags):
        return math.inf, math.inf
    first = flags.index(True)
    if not flags[-1]:
        return float(first), math.inf
    last_fail = max((t for t, flag in enumerate(flags) if not flag), default=-1)
    return float(first), float(last_fail + 1)


def _small_run(iterations=12, batch_size=None):
    """A width-6 network on 20 random points, trained with a checkpoint at every step."""
    rng = np.random.default_rng(0)
    inputs = torch.as_tensor(rng.standard_normal((20, 3)))
    targets = rng.standard_normal(20)
    model = init_network(3, 6, 1, seed=0)
    config = TrainConfig(lr=0.2, iterations=iterations, batch_size=batch_size)
    every_step = train(model, inputs, targets, replace(config, checkpoints=tuple(range(iterations + 1))))
    return inputs, targets, config, every_step.checkpoints


# ---------------------------------------------------------------- Trajectory


def test_exact_search_equals_a_step_by_step_scan():
    """On a small mean-field cell: the coarse pass plus bisection gives the same T* and stable
    step as evaluating the GFS subnetwork at every one of the 60 steps, for every criterion that
    satisfies the documented assumption; for the others it still returns a genuine crossing."""
    config = with_keys(quick(), setups=("mf-teacher",), teacher_sizes=(200,), ntk_iterations=60, mf_iterations=60,
                       coarse_points=6)
    dataset, *_ = _load(setup_plan(config, "mf-teacher"), 200, 0)
    inputs = torch.as_tensor(dataset.train_inputs)
    model = init_network(dataset.input_dim, 40, 1, seed=0)
    train_config = TrainConfig(lr=0.2, iterations=60)
    every_step = train(model, inputs, dataset.train_targets, replace(train_config, checkpoints=tuple(range(61))))
    sparse = Trajectory({t: every_step.checkpoints[t] for t in (0, 20, 40, 60)}, inputs, dataset.train_targets,
                        train_config, 60)
    losses = {t: float(select(features_of(every_step.checkpoints[t], inputs), dataset.train_targets, 20,
                              "gfs").losses[-1]) for t in range(61)}
    for t in (7, 33, 59):  # replaying GD from a stored step reproduces the run bit for bit
        assert torch.equal(sparse.model_at(t).first_weight, every_step.checkpoints[t].first_weight)
    coarse = geometric_steps(60, 8)
    exact, between = 0, 0
    for threshold in np.quantile(list(losses.values()), np.linspace(0.02, 0.98, 25)):
        meets = lambda t: losses[t] <= threshold  # noqa: E731
        flags = [meets(t) for t in range(61)]
        # the documented assumption: at most one change of the criterion between coarse steps
        assumption = all(sum(flags[t] != flags[t + 1] for t in range(a, b)) <= 1 for a, b in zip(coarse, coarse[1:]))
        found, reference = crossing_steps(meets, coarse), scan_crossing_steps(meets, 60)
        if assumption:
            assert found == reference
            exact += 1
            between += found[0] not in coarse  # found strictly between coarse points by bisection
        else:  # still a genuine crossing: met at T*, not met just before
            assert found[0] == math.inf or (flags[int(found[0])] and (found[0] == 0 or not flags[int(found[0]) - 1]))
    assert exact >= 10 and between >= 1


def test_trajectory_replays_every_layer_bit_for_bit_and_counts_the_replayed_steps():
    inputs, targets, config, checkpoints = _small_run()
    trajectory = Trajectory({0: checkpoints[0], 8: checkpoints[8]}, inputs, targets, config, 12)
    assert trajectory.model_at(8) is trajectory.stored[8]  # a stored step is returned as kept
    assert trajectory.replayed_steps == 0
    for step, replayed in ((5, 5), (7, 7), (3, 10), (11, 13), (12, 14)):
        # 5 from 0; 7 from the cached 5; 3 from 0 (below the cache); 11 from 8; 12 from the cached 11
        model = trajectory.model_at(step)
        for name in ("first_weight", "second_weight"):
            assert torch.equal(getattr(model, name), getattr(checkpoints[step], name)), (step, name)
        assert trajectory.replayed_steps == replayed, step
    assert trajectory.model_at(12) is trajectory.model_at(12)  # the cached step itself costs nothing
    assert trajectory.replayed_steps == 14


def test_trajectory_with_every_step_stored_replays_nothing():
    inputs, targets, config, checkpoints = _small_run(iterations=5)
    trajectory = Trajectory(dict(enumerate(checkpoints[t] for t in range(6))), inputs, targets, config, 5)
    for step in range(6):
        assert trajectory.model_at(step) is checkpoints[step]
    assert trajectory.replayed_steps == 0


def test_trajectory_refusals():
    inputs, targets, config, checkpoints = _small_run(iterations=4)
    with pytest.raises(ValueError, match="step 0"):
        Trajectory({2: checkpoints[2]}, inputs, targets, config, 4)
    trajectory = Trajectory({0: checkpoints[0]}, inputs, targets, config, 4)
    for step in (-1, 5):
        with pytest.raises(ValueError, match=r"step must lie in \[0, 4\]"):
            trajectory.model_at(step)
    sgd_inputs, sgd_targets, sgd_config, sgd_checkpoints = _small_run(iterations=3, batch_size=5)
    sgd = Trajectory({0: sgd_checkpoints[0], 2: sgd_checkpoints[2]}, sgd_inputs, sgd_targets, sgd_config, 3)
    assert sgd.model_at(2) is sgd_checkpoints[2]
    with pytest.raises(ValueError, match="SGD trajectory: epoch 1 was not stored"):
        sgd.model_at(1)


# ---------------------------------------------------------------- crossing_steps


def test_crossing_steps_cases():
    flags = [False] * 13 + [True] * 5 + [False] * 2 + [True] * 21  # leaves once, comes back
    meets = lambda t: flags[t]  # noqa: E731
    assert scan_crossing_steps(meets, 40) == (13.0, 20.0)
    assert crossing_steps(meets, [0, 10, 15, 19, 25, 40]) == (13.0, 20.0)
    # the excursion below the criterion at 13..17 lies strictly between two failing coarse points:
    # documented limit, the search returns the later genuine crossing
    assert crossing_steps(meets, [0, 10, 19, 40]) == (20.0, 20.0)
    assert crossing_steps(lambda t: False, [0, 5, 9]) == (math.inf, math.inf)
    assert crossing_steps(lambda t: t != 9, [0, 5, 9]) == (0.0, math.inf)  # fails at the last step
    assert crossing_steps(lambda t: True, [0, 5, 9]) == (0.0, 0.0)


@pytest.mark.parametrize("first", [1, 2, 17, 31, 63, 64])
def test_crossing_steps_find_a_single_threshold_by_bisection_with_few_evaluations(first):
    """A criterion met from step `first` on: both answers are `first`; the search evaluates the
    coarse grid plus about log2 of the bracket, not every step."""
    calls = []

    def meets(t):
        calls.append(t)
        return t >= first

    assert crossing_steps(meets, [0, 8, 16, 32, 64]) == (float(first), float(first))
    assert scan_crossing_steps(lambda t: t >= first, 64) == (float(first), float(first))
    assert len(calls) <= 5 + 2 * 5  # 5 coarse points, two bisections of at most 32 steps


def test_crossing_steps_grid_is_sorted_and_deduplicated_and_starts_at_its_first_step():
    meets = lambda t: t >= 7  # noqa: E731
    assert crossing_steps(meets, [20, 4, 12, 4, 20]) == (7.0, 7.0)
    # the earliest step considered is the first coarse step: a criterion met there is met "at" it
    assert crossing_steps(meets, [10, 15, 20]) == (10.0, 10.0)


def test_scan_crossing_steps_cases():
    assert scan_crossing_steps(lambda t: t in (3, 4, 8, 9, 10), 10) == (3.0, 8.0)
    assert scan_crossing_steps(lambda t: t in (3, 4), 10) == (3.0, math.inf)
    assert scan_crossing_steps(lambda t: False, 10) == (math.inf, math.inf)
    assert scan_crossing_steps(lambda t: True, 10) == (0.0, 0.0)
    assert scan_crossing_steps(lambda t: t == 0, 0) == (0.0, 0.0)


def test_crossing_steps_accepts_numpy_booleans():
    """A predicate built from numpy comparisons (np.bool_, never `is False`): a criterion that
    fails at the last coarse step is never stable, as with Python booleans."""
    losses = np.array([0.5, 0.3, 0.1, 0.05, 0.2])
    meets = lambda t: losses[t] <= 0.1  # noqa: E731
    assert isinstance(meets(4), np.bool_)
    assert crossing_steps(meets, [0, 1, 2, 3, 4]) == (2.0, math.inf)
    assert crossing_steps(lambda t: np.bool_(t >= 3), [0, 2, 4]) == (3.0, 3.0)


# ---------------------------------------------------------------- SGD counted in updates


def _sgd_trajectory(m=50, batch_size=8, epochs=4, dtype="float64"):
    rng = np.random.default_rng(3)
    inputs = torch.as_tensor(rng.standard_normal((m, 3)), dtype=torch.float64 if dtype == "float64" else torch.float32)
    targets = torch.as_tensor(rng.standard_normal((m, 1)), dtype=inputs.dtype)
    model = init_network(3, 7, 1, seed=1, dtype=dtype)
    config = TrainConfig(lr=0.3, iterations=epochs, batch_size=batch_size, shuffle_seed=5)
    run = train(model, inputs, targets, replace(config, checkpoints=tuple(range(epochs + 1))))
    return Trajectory(run.checkpoints, inputs, targets, config, epochs)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_replaying_every_update_of_an_epoch_gives_the_next_epoch_bit_for_bit(dtype):
    trajectory = _sgd_trajectory(dtype=dtype)
    per_epoch = math.ceil(50 / 8)  # the last block has 2 examples
    for epoch in range(trajectory.iterations):
        assert model_after_updates(trajectory, epoch, 0) is trajectory.model_at(epoch)
        replayed = model_after_updates(trajectory, epoch, per_epoch)
        stored = trajectory.model_at(epoch + 1)
        assert torch.equal(replayed.first_weight, stored.first_weight)
        assert torch.equal(replayed.second_weight, stored.second_weight)
    one = model_after_updates(trajectory, 1, 1)
    assert not torch.equal(one.first_weight, trajectory.model_at(1).first_weight)
    with pytest.raises(ValueError, match="updates must lie in"):
        model_after_updates(trajectory, 0, per_epoch + 1)


def test_updates_to_criterion_finds_the_update_at_which_a_criterion_starts_to_hold():
    """A criterion that holds from update K on (the model is recognised by its parameters among
    the replayed ones, so the criterion is exactly "at least K updates"): the answer is K, for K
    at an epoch's start, inside it and at its end."""
    trajectory = _sgd_trajectory()
    per_epoch = math.ceil(50 / 8)
    models = [model_after_updates(trajectory, e, k) for e in range(trajectory.iterations) for k in range(per_epoch)]
    models.append(trajectory.model_at(trajectory.iterations))

    def updates_of(model) -> int:
        return next(k for k, other in enumerate(models) if torch.equal(other.first_weight, model.first_weight))

    for start in (1, 3, per_epoch, per_epoch + 1, 2 * per_epoch - 1, 3 * per_epoch + 2, len(models) - 1):
        meets = lambda model: updates_of(model) >= start  # noqa: E731
        first_epoch = next(e for e in range(trajectory.iterations + 1) if meets(trajectory.model_at(e)))
        assert updates_to_criterion(float(first_epoch), trajectory, 8, meets) == start
    assert updates_to_criterion(math.inf, trajectory, 8, lambda model: False) == math.inf
    assert updates_to_criterion(0.0, trajectory, 8, lambda model: True) == 0.0
    gd = Trajectory({0: trajectory.model_at(0)}, trajectory.inputs, trajectory.targets,
                    replace(trajectory.config, batch_size=None), 3)
    with pytest.raises(ValueError, match="SGD trajectory"):
        model_after_updates(gd, 0, 1)
