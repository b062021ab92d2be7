"""E4 `finetune`: the quick run through the runner, the pruned start, verdicts, divergence and bad input."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sims.experiments import finetune
from sims.experiments.runner import get_experiment
from sims.foundations.composed import with_keys
from theory.claims import Verdict

from tests.helpers import quiet_run
from tests.helpers import by_metric as _by_metric
from tests.sims.experiments.committed import check_stored_as_before


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def quick_finetune(tmp_path_factory):
    return quiet_run("finetune", finetune.quick(), tmp_path_factory.mktemp("e4"))


def test_finetune_quick_rows(quick_finetune):
    _, rows = quick_finetune
    config = finetune.quick()
    for problem in config.problems:
        for variant in finetune.VARIANTS:
            final = _by_metric(rows, "final_test_loss", dataset=problem, method=variant)
            assert len({r["n"] for r in final}) == config.n_points
            curve = _by_metric(rows, "train_loss", dataset=problem, method=variant)
            assert curve and all(r["step"] is not None for r in curve)
            assert max(r["step"] for r in curve) == finetune.problem_plan(config, problem).finetune.iterations
        assert _by_metric(rows, "final_test_accuracy", dataset="mnist5k", method="finetune")
        # every variant of one n trains a network of the same width
        for n in {r["n"] for r in _by_metric(rows, "width", dataset=problem)}:
            widths = {r["value"] for r in _by_metric(rows, "width", dataset=problem, n=n)}
            assert len(widths) == 1 and 1 <= widths.pop() <= n


def test_finetune_starts_from_the_pruned_network_and_improves(quick_finetune):
    """Step 0 of `finetune` is the gfs subnetwork's loss; fine-tuning never ends above it."""
    _, rows = quick_finetune
    for start in _by_metric(rows, "train_loss", method="finetune", step=0):
        end = _by_metric(rows, "final_train_loss", dataset=start["dataset"], method="finetune", n=start["n"],
                         seed=start["seed"])[0]
        assert end["value"] <= start["value"]


def test_finetune_claims_and_figures(quick_finetune):
    """One seed (the quick preset): every comparison is 'not testable', with the reason."""
    folder, rows = quick_finetune
    experiment = get_experiment("finetune")
    verdicts = experiment.claims(rows, finetune.quick())
    assert len(verdicts) == 2 * 3 * 2
    for verdict in verdicts:
        assert isinstance(verdict, Verdict) and verdict.outcome == "not testable" and "need 3" in verdict.summary
    paths = experiment.figures(rows, finetune.quick(), folder)
    assert {p.name for p in paths} == {"finetune_teacher.png", "finetune_teacher.pdf", "finetune_mnist5k.png",
                                      "finetune_mnist5k.pdf"}


def test_finetune_verdict_follows_the_numbers():
    """Three seeds: fine-tuning is 2x better at n=5 and 1.25x worse at n=10 in every seed, so the
    mean log-ratio over sizes is ln(0.5 * 1.25)/2 < 0 with no seed noise: held, and the evidence
    lists both sizes. Swapping the roles gives 'did not hold'."""
    def rows_for(ratio_5, ratio_10):
        out = []
        for seed in range(3):
            jitter = 1 + 0.01 * seed
            for method, n, value in (("finetune", 5, ratio_5 * jitter), ("reinit", 5, 1.0),
                                     ("finetune", 10, ratio_10), ("reinit", 10, 1.0)):
                out.append({"dataset": "p", "method": method, "n": n, "seed": seed, "metric": "final_train_loss",
                            "value": value, "step": None, "m": 10})
        return out

    from theory.claims import paired_improvement

    kw = dict(method="finetune", baseline="reinit", metric="final_train_loss", dataset="p", claim="c")
    held = paired_improvement(rows_for(0.5, 1.25), **kw)
    assert held.outcome == "held" and "n=5: ×0.5" in held.summary and "n=10: ×1.25" in held.summary
    assert held.numbers["sizes_lower"] == 1 and held.seeds == 3
    assert paired_improvement(rows_for(2.0, 0.8), **kw).outcome == "did not hold"


def test_finetune_divergence_is_reported(capsys):
    config = with_keys(finetune.quick(), problems=("teacher",), lr=1e4, teacher_pretrain_iterations=20)
    rows = finetune.run_cell(config, finetune.cells(config)[0])
    assert _by_metric(rows, "diverged_lr") and "lr=10000" in capsys.readouterr().err
    verdicts = finetune.claims(rows, config)
    assert verdicts[0].outcome == "did not hold" and "diverged" in verdicts[0].summary


def test_finetune_config_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown problem"):
        finetune.FinetuneConfig(problems=("cifar",))
    with pytest.raises(ValueError, match="teacher_n_max"):
        with_keys(finetune.FinetuneConfig(), teacher_n_max=10_000)


def test_the_composed_config_is_stored_as_before():
    """config.json of the committed run, its folder's hash and the quick run's hash: unchanged by the nesting."""
    check_stored_as_before("finetune")
