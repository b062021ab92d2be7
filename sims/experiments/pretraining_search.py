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

from sims.model import TwoLayerNet
from sims.train import TrainConfig, train


class Trajectory:
    """Parameters of one pre-training run at every step 0..iterations.

    ``stored``: step -> model copy (must hold step 0); ``config``: the TrainConfig of the run
    (full-batch GD when some requested step is not stored; for SGD every epoch must be
    stored); inputs and targets as given to :func:`sims.train.train`.
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
