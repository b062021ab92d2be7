"""E3's exact T*: the GD trajectory kept cheaply, and the first step at which a criterion holds.

Two pieces, both plain:

- :class:`Trajectory`: the parameters of a pre-training run at any step t. Steps on a stored
  grid (every ``every``-th step, and the last) are kept as copies taken during training;
  any other step is obtained by replaying gradient descent from the nearest stored step
  below it (the replay performs the same floating-point operations in the same order, so it
  reproduces the original run bit for bit; tested). With ``every = 1`` nothing is replayed.
- :func:`crossing_steps`: given a predicate ``meets(t)`` and a coarse grid of steps, the first
  step at which ``meets`` holds and the first step after which it keeps holding, found by a
  coarse pass then bisection inside the bracket.

What is assumed between coarse points (and only there): between two consecutive coarse steps
the predicate changes value at most once. Under that assumption both answers are exact to
the step; without it, the answer is still a step at which the predicate switches from false
to true (a genuine crossing), but an earlier excursion strictly between two failing coarse
points could be missed. The test compares against a full step-by-step scan.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable, Sequence

from sims.nets.model import TwoLayerNet
from sims.nets.train import TrainConfig, epoch_batches, train


class Trajectory:
    """Parameters of one pre-training run at every step 0..iterations.

    ``stored``: step -> model copy (must hold step 0); ``config``: the TrainConfig of the run
    (full-batch GD when some requested step is not stored; for SGD every epoch must be
    stored); inputs and targets as given to :func:`sims.nets.train.train`.
    """

    def __init__(self, stored: dict[int, TwoLayerNet], inputs, targets, config: TrainConfig, iterations: int):
        if 0 not in stored:
            raise ValueError("the trajectory needs the parameters at step 0")
        self.stored = dict(stored)
        self.inputs, self.targets, self.config, self.iterations = inputs, targets, config, iterations
        self.replayed_steps = 0  # GD steps spent replaying (for the cost report)
        self._cache: tuple[int, TwoLayerNet] | None = None

    def model_at(self, step: int) -> TwoLayerNet:
        if not 0 <= step <= self.iterations:
            raise ValueError(f"step must lie in [0, {self.iterations}], got {step}")
        if step in self.stored:
            return self.stored[step]
        if self.config.batch_size is not None:
            raise ValueError(f"SGD trajectory: epoch {step} was not stored")
        base = max(s for s in self.stored if s <= step)
        start = self.stored[base]
        if self._cache is not None and base <= self._cache[0] <= step:
            base, start = self._cache
        if base == step:
            return start
        config = replace(self.config, iterations=step - base, checkpoints=(), target_loss=None)
        model = train(start, self.inputs, self.targets, config).model
        self.replayed_steps += step - base
        self._cache = (step, model)
        return model


def _bisect(meets: Callable[[int], bool], failing: int, meeting: int) -> int:
    """A step t in (failing, meeting] with meets(t) and not meets(t - 1); assumes
    not meets(failing) and meets(meeting)."""
    low, high = failing, meeting
    while high - low > 1:
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle
    return high


def crossing_steps(meets: Callable[[int], bool], coarse: Sequence[int]) -> tuple[float, float]:
    """(first, stable): the first step t with meets(t), and the first step from which meets
    holds at every later step up to the last coarse step (``math.inf`` when it never holds,
    resp. fails at the last coarse step). ``coarse``: increasing steps, the first one the
    earliest step considered. See the module docstring for what is assumed between them.
    """
    grid = sorted(set(int(t) for t in coarse))
    flags = [meets(t) for t in grid]
    if not any(flags):
        return math.inf, math.inf
    k = flags.index(True)
    first = grid[0] if k == 0 else _bisect(meets, grid[k - 1], grid[k])
    if not flags[-1]:
        return float(first), math.inf
    last_fail = max((i for i, flag in enumerate(flags) if not flag), default=None)
    if last_fail is None:
        stable = grid[0]
    else:
        stable = _bisect(meets, grid[last_fail], grid[last_fail + 1])
    return float(first), float(stable)


def model_after_updates(trajectory: Trajectory, epoch: int, updates: int) -> TwoLayerNet:
    """The SGD run's parameters after ``updates`` mini-batch updates of epoch ``epoch`` (0 ->
    the stored epoch itself; all of them -> the next epoch, bit for bit: each update is one
    full-batch GD step on its block, the same operations SGD performs on it)."""
    config = trajectory.config
    if config.batch_size is None:
        raise ValueError("model_after_updates needs an SGD trajectory (batch_size set)")
    m = trajectory.inputs.shape[0]
    batches = epoch_batches(m, config.batch_size, config.shuffle_seed, config.start_epoch + epoch)
    if not 0 <= updates <= len(batches):
        raise ValueError(f"updates must lie in [0, {len(batches)}], got {updates}")
    model = trajectory.model_at(epoch)
    step = replace(config, iterations=1, batch_size=None, checkpoints=(), target_loss=None, start_epoch=0)
    for batch in batches[:updates]:
        model = train(model, trajectory.inputs[batch], trajectory.targets[batch], step).model
    return model


def updates_to_criterion(first_epoch: float, trajectory: Trajectory, batch_size: int,
                         meets: Callable[[TwoLayerNet], bool]) -> float:
    """T* in mini-batch updates: the first update count at which ``meets(model)`` holds, given
    ``first_epoch``, the first epoch boundary at which it holds (inf: never, 0: at the start).
    Bisection over the replayable updates of the epoch before it (between its start, which
    fails, and its end, which meets), so the answer is exact under the module's assumption (one
    change of value inside the bracket). Counted as (first_epoch - 1) * U + k, U =
    ceil(m / batch_size) updates per epoch."""
    if not math.isfinite(first_epoch) or first_epoch == 0:
        return float(first_epoch)
    epoch = int(first_epoch) - 1
    per_epoch = math.ceil(trajectory.inputs.shape[0] / batch_size)
    within = _bisect(lambda k: k == per_epoch or meets(model_after_updates(trajectory, epoch, k)), 0, per_epoch)
    return float(epoch * per_epoch + within)
