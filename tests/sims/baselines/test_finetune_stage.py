"""sims.baselines.finetune_stage: fine-tuning from the pruned weights against a plain autograd GD loop, the
equal-FLOPs step count, and the equal-FLOPs view of tidy rows."""

from __future__ import annotations

import pytest

from sims.baselines.methods import prune_with
from sims.metrics.cost import gd_step_flops
from sims.baselines.finetune_stage import (
    base_name, equal_flops_steps, equal_flops_view, finetune, finetuned_name, flops_name, is_one_shot,
)

from tests.sims.baselines.test_methods import _close, _outputs, _params, _problem, ref_gd, ref_loss, ref_output

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _step(problem, width):
    (m, d), k = problem.inputs.shape, problem.targets.shape[1]
    return gd_step_flops(m, d, width, k, first_bias=problem.dense.first_bias is not None)


def test_finetune_runs_f_gd_steps_from_the_pruned_weights():
    problem = _problem(iterations=7, width=9)
    pruned = prune_with("magnitude", problem, 4)
    A, beta, B = (t.detach() for t in _params(pruned.network))
    A, beta, B = ref_gd(A, beta, B, problem.inputs, problem.targets, "tanh", 0.5, 7, True)
    tuned = finetune(problem, pruned)
    _close(_outputs(tuned.network, problem.inputs), ref_output(A, beta, B, problem.inputs, "tanh").numpy())
    assert tuned.indices.tolist() == pruned.indices.tolist() and tuned.cost == pruned.cost
    assert tuned.train_steps == 7 and tuned.train_flops == 7 * _step(problem, 4)
    start = float(ref_loss(*(t.detach() for t in _params(pruned.network)), problem.inputs, problem.targets, "tanh", 0.25))
    end = float(ref_loss(A, beta, B, problem.inputs, problem.targets, "tanh", 0.25))
    assert tuned.train_losses == pytest.approx((start, end), rel=1e-10) and end < start
    assert pruned.train_steps == 0 and pruned.train_flops == 0
    shorter = finetune(problem, pruned, 3)
    assert shorter.train_steps == 3 and shorter.train_flops == 3 * _step(problem, 4)


def test_finetuning_a_merged_gfs_subnetwork_trains_its_own_width():
    """GFS with replacement may keep fewer distinct neurons than n; fine-tuning runs at that width."""
    problem = _problem(iterations=5, width=12)
    pruned = prune_with("gfs", problem, 6)
    assert pruned.network.width < 6  # the premise: repeats merged
    tuned = finetune(problem, pruned)
    assert tuned.network.width == pruned.network.width
    assert tuned.train_flops == 5 * _step(problem, pruned.network.width)


def test_equal_flops_steps_spend_at_most_f_steps_at_width_n():
    problem = _problem(iterations=10, width=12)
    budget = 10 * _step(problem, 6)
    assert equal_flops_steps(problem, 6, 6) == 10
    for width in (2, 3, 5):
        steps = equal_flops_steps(problem, 6, width)
        assert steps * _step(problem, width) <= budget < (steps + 1) * _step(problem, width)
        assert steps > 10
    assert equal_flops_steps(problem, 6, 12) < 10


def test_names_and_one_shot_methods():
    assert finetuned_name("gfs") == "gfs+ft" and flops_name("gfs+ft") == "gfs+ft@flops"
    assert base_name("gfs+ft@flops") == "gfs+ft" and base_name("imp-rewind") == "imp-rewind"
    assert [m for m in ("gfs", "gfs-published", "taylor", "random") if is_one_shot(m)] == ["gfs", "gfs-published",
                                                                                              "taylor", "random"]
    assert not any(is_one_shot(m) for m in ("snip", "grasp", "rigl", "imp-rewind", "direct-gd", "nope"))


def _row(method, n, value, seed=0, metric="test_loss"):
    return {"dataset": "d", "method": method, "n": n, "seed": seed, "metric": metric, "value": value}


def test_equal_flops_view_takes_the_twin_where_there_is_one():
    rows = [_row("imp-rewind", 8, 1.0), _row("imp-rewind@flops", 8, 2.0), _row("imp-rewind", 4, 3.0, seed=1),
            _row("imp-rewind@flops", 4, 4.0, seed=1),
            _row("gfs+ft", 8, 5.0), _row("gfs+ft", 4, 6.0), _row("gfs+ft@flops", 4, 7.0),
            _row("gfs+ft", None, 8.0, metric="n_eps"), _row("direct-gd", 8, 9.0), _row("imp-rewind", 4, 10.0)]
    view = equal_flops_view(rows)
    got = sorted((r["method"], r["n"], r["seed"], r["value"]) for r in view)
    assert got == sorted([("imp-rewind", 8, 0, 2.0), ("imp-rewind", 4, 1, 4.0), ("gfs+ft", 8, 0, 5.0),
                          ("gfs+ft", 4, 0, 7.0), ("direct-gd", 8, 0, 9.0),
                          ("imp-rewind", 4, 0, 10.0)])  # seed 0 at n = 4 has no twin: kept
    assert not any(r["method"].endswith("@flops") for r in view)
