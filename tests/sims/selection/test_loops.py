"""The loops' messages: one per step for the averaging methods and greedy-opt, two for fw and
fcfw (when the vertex is new), and the Gram extension."""

import numpy as np
import pytest

from sims.selection.engine import select
from sims.selection.loops import extend_gram, uniform_weights


def instance(seed=0, m=30, width=25):
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((m, width))
    return features, features[:, :4].mean(1) + 0.3 * rng.standard_normal(m)


@pytest.mark.parametrize("method", ["gfs", "gfs-norep", "herding", "stochastic-gfs"])
def test_averaging_methods_send_one_message_per_step(method):
    features, target = instance()
    # n steps: step k's message carries step k-1's pick; one more adds the last pick
    assert select(features, target, 12, method).messages == 12 + 1


def test_reweighted_messages():
    features, target = instance()
    fw = select(features, target, 12, "fw")
    assert fw.messages == 2 + 2 * 11  # the first pick and its start, then two per step
    fcfw = select(features, target, 12, "fcfw")
    new = len(set(fcfw.indices.tolist()))
    assert fcfw.messages <= 2 + 2 * (new - 1)  # none for a vertex already in the support
    greedy = select(features, target, 6, "greedy-opt")
    assert greedy.messages == 2 + 5  # centred norms, the start, then one per step


def test_extend_gram_and_uniform_weights():
    gram = np.array([[2.0, 1.0], [1.0, 3.0]])
    extended = extend_gram(gram, np.array([0.5, -1.0]), 4.0)
    np.testing.assert_array_equal(extended, [[2, 1, 0.5], [1, 3, -1], [0.5, -1, 4]])
    np.testing.assert_array_equal(uniform_weights(np.array([2, 0, 2, 2]), 4), [0.25, 0, 0.75, 0])
