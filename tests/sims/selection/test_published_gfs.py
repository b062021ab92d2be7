"""GFS as published against GFS as analysed, and against a slow literal reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sims.foundations.errors import InputError
from sims.selection.published_gfs import (
    EXACT as EXACT_OPTIONS, PUBLISHED, PublishedOptions, path_outputs, published_gfs, smallest_within_tolerance,
)
from sims.selection.engine import select

from tests.helpers import EXACT, REFERENCE


@pytest.mark.parametrize("m, width, k, n, seed", [(30, 40, 3, 25, 0), (12, 60, 1, 60, 1), (50, 20, 10, 20, 2)])
def test_all_candidates_full_batch_squared_loss_is_exact_gfs_norep_pick_for_pick(m, width, k, n, seed):
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((m, width, k))
    targets = features[:, : width // 3].mean(1) + 0.3 * rng.standard_normal((m, k))
    published = published_gfs(features, targets, n, EXACT_OPTIONS)
    exact = select(features, targets, n, "gfs-norep")
    assert published.indices.tolist() == exact.indices.tolist()
    assert np.allclose(published.losses, exact.losses, rtol=REFERENCE, atol=0)
    assert published.scored == sum(width - step for step in range(n)) * m


def reference(features, targets, n, candidates, batch_size, loss, seed):
    """Recompute every candidate subnetwork's mean output on the batch from scratch."""
    m, width, _ = features.shape
    rng = np.random.default_rng(seed)
    labels = targets.argmax(1)
    chosen = []
    for _ in range(n):
        batch = np.sort(rng.choice(m, size=batch_size, replace=False)) if batch_size < m else np.arange(m)
        pool = [i for i in range(width) if i not in chosen]
        pool = np.sort(rng.choice(pool, size=candidates, replace=False)) if candidates < len(pool) else pool
        scores = []
        for i in pool:
            output = torch.as_tensor(features[batch][:, chosen + [int(i)]].mean(1))
            if loss == "cross-entropy":
                scores.append(float(torch.nn.functional.cross_entropy(output, torch.as_tensor(labels[batch]))))
            else:
                scores.append(float(0.5 * ((output - torch.as_tensor(targets[batch])) ** 2).sum(1).mean()))
        chosen.append(int(pool[int(np.argmin(scores))]))
    return chosen


@pytest.mark.parametrize("loss", ["cross-entropy", "squared"])
def test_sampled_candidates_on_mini_batches_equal_the_reference(loss):
    rng = np.random.default_rng(5)
    features = rng.standard_normal((40, 30, 4))
    targets = np.eye(4)[rng.integers(0, 4, 40)]
    options = PublishedOptions(candidates=7, batch_size=16, loss=loss, seed=11)
    picked = published_gfs(features, targets, 12, options)
    assert picked.indices.tolist() == reference(features, targets, 12, 7, 16, loss, 11)
    assert picked.scored == 12 * 7 * 16
    assert len(set(picked.indices.tolist())) == 12
    full_loss = [0.5 * np.mean(np.sum((features[:, picked.indices[:k]].mean(1) - targets) ** 2, 1)) for k in range(1, 13)]
    assert np.allclose(picked.losses, full_loss, rtol=EXACT * 100, atol=0)


def test_cross_entropy_takes_given_labels_and_a_logit_offset():
    """Scoring f + b against labels y equals scoring with targets shifted by -b whose argmax is y:
    the offset and the labels enter the loss, not the targets."""
    rng = np.random.default_rng(2)
    features = rng.standard_normal((30, 20, 3))
    labels = rng.integers(0, 3, 30)
    offset = np.array([0.5, -1.0, 2.0])
    options = PublishedOptions(candidates=6, batch_size=12, loss="cross-entropy", seed=4)
    shifted = published_gfs(features, np.eye(3)[labels] - offset, 10, options, labels=labels, output_offset=offset)
    direct = published_gfs(features + offset / 1.0, np.eye(3)[labels], 10, options)
    assert shifted.indices.tolist() == direct.indices.tolist()
    plain = published_gfs(features, np.eye(3)[labels] - offset, 10, options)
    assert plain.indices.tolist() != shifted.indices.tolist()  # argmax(y - b) and no offset: other picks


def test_published_options_are_the_papers():
    assert (PUBLISHED.candidates, PUBLISHED.batch_size, PUBLISHED.loss) == (50, 128, "cross-entropy")


def test_path_outputs_are_prefix_means():
    rng = np.random.default_rng(0)
    features = rng.standard_normal((5, 6, 2))
    outputs = path_outputs(features, [3, 1, 4])
    assert outputs.shape == (3, 5, 2)
    for k in range(1, 4):
        assert np.allclose(outputs[k - 1], features[:, [3, 1, 4][:k]].mean(1), rtol=EXACT, atol=EXACT)


def test_stop_rule_is_the_first_size_within_tolerance():
    accuracy = [0.5, 0.9, 0.97, 0.96, 0.99]
    assert smallest_within_tolerance(accuracy, 0.99, 0.02, higher_is_better=True) == 5  # 0.97 < 0.9702
    assert smallest_within_tolerance(accuracy, 0.98, 0.02, higher_is_better=True) == 3  # 0.97 >= 0.9604
    assert smallest_within_tolerance(accuracy, 1.0, 0.0, higher_is_better=True) is None
    losses = [1.0, 0.5, 0.2, 0.25]
    assert smallest_within_tolerance(losses, 0.1, 0.1, higher_is_better=False) == 3
    assert smallest_within_tolerance(losses, 0.1, 0.05, higher_is_better=False) is None
    with pytest.raises(InputError, match="tolerance"):
        smallest_within_tolerance(losses, 0.1, -1, higher_is_better=False)


def test_bad_options_are_refused():
    with pytest.raises(InputError, match="loss"):
        PublishedOptions(loss="hinge")
    with pytest.raises(InputError, match="candidates"):
        PublishedOptions(candidates=0)
    with pytest.raises(InputError, match="n must be"):
        published_gfs(np.ones((3, 2, 1)), np.ones((3, 1)), 3)
