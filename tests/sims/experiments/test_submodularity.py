"""E6 (submodularity) quick preset end to end: every guarantee holds, the engine's greedy-opt
reaches what greedy on the table reaches, the check catches a tampered row, figures are written."""

import pytest

from sims.reporting.report import write_figures
from sims.experiments.runner import get_experiment, run_experiment
from sims.results.rows import load_results
from sims.experiments.submodularity import ACHIEVED, GAMMA, GAMMA_BOUND, GAMMA_PLUS, GUARANTEED, METHODS, OPTIMUM, instance
from tests.helpers import REFERENCE, by_metric
from tests.sims.experiments.committed import check_stored_as_before


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    config = get_experiment("submodularity").quick()
    folder = run_experiment("submodularity", config, out=out, progress=False, log=lambda _: None)
    return folder, config, load_results(folder)


def test_every_guarantee_holds_in_the_quick_run(quick_results):
    _, config, rows = quick_results
    verdicts = get_experiment("submodularity").claims(rows, config)
    assert [v.kind for v in verdicts] == ["theorem"] * 3
    assert all(v.outcome == "held" for v in verdicts), [v.summary for v in verdicts]
    cells = config.instances * len(config.families)
    points = cells * len(config.sizes) - len([r for r in by_metric(rows, OPTIMUM) if r["value"] <= 0])
    for method, verdict in zip(METHODS, verdicts):  # only positive guarantees are evidence
        informative = len([r for r in by_metric(rows, GUARANTEED, method=method) if r["value"] > 0])
        assert verdict.numbers["points"] == informative
        assert verdict.numbers["points"] + verdict.numbers["vacuous_points"] == points
    assert len(by_metric(rows, GAMMA)) == len(by_metric(rows, GAMMA_PLUS)) == cells * len(config.sizes)
    assert all(r["value"] <= 1 + REFERENCE for r in by_metric(rows, GAMMA_PLUS))
    gamma_bounds = by_metric(rows, GAMMA_BOUND, method="greedy", dataset="positive")
    assert any(r["value"] > 0 for r in gamma_bounds)  # Das & Kempe's bound is not vacuous everywhere
    lines = get_experiment("submodularity").summary(rows, config)
    assert lines[0].startswith("| family | n | instances") and len(lines) >= 2 + 3 * len(config.sizes)


def test_engine_greedy_opt_reaches_the_tables_greedy(quick_results):
    """The achieved ratio of greedy comes from sims.select's greedy-opt; greedy on the exact table
    of F (theory.submodularity) reaches the same value on every instance."""
    from theory import submodularity as sm

    _, config, rows = quick_results
    for row in by_metric(rows, ACHIEVED, method="greedy"):
        features, target, m = instance(config, row["seed"], row["dataset"])
        phi = features.permute(1, 0, 2).reshape(config.width, -1).numpy()
        table = sm.set_function_table(phi, target.numpy().reshape(-1), m)
        best, _ = sm.optimum(table, row["n"])
        assert row["value"] == pytest.approx(table[sm.greedy(table, row["n"])[1]] / best, rel=REFERENCE)


def test_a_tampered_achieved_ratio_is_caught(quick_results):
    _, config, rows = quick_results
    tampered = [dict(r) for r in rows]
    guarantee = next(r for r in rows if r["method"] == "greedi" and r["metric"] == GUARANTEED and r["value"] > 0)
    target = next(r for r in tampered if r["method"] == "greedi" and r["metric"] == ACHIEVED
                  and (r["dataset"], r["seed"], r["n"]) == (guarantee["dataset"], guarantee["seed"], guarantee["n"]))
    target["value"] = guarantee["value"] - 0.01
    verdicts = get_experiment("submodularity").claims(tampered, config)
    assert [v.outcome for v in verdicts] == ["held", "held", "violated"]
    assert {r["method"] for r in by_metric(rows, ACHIEVED)} == set(METHODS)


def test_vacuous_guarantees_are_not_evidence(quick_results):
    """A guarantee <= 0 holds for any achieved ratio: such points are counted apart, and a method
    whose every guarantee is vacuous gets "not applicable", never "held"."""
    _, config, rows = quick_results
    vacuous = [dict(r, value=-1.0) if r["metric"] == GUARANTEED and r["method"] == "greedy" else r for r in rows]
    verdicts = get_experiment("submodularity").claims(vacuous, config)
    assert verdicts[0].outcome == "not applicable" and verdicts[0].numbers["points"] == 0
    assert verdicts[0].numbers["vacuous_points"] == len(by_metric(rows, GUARANTEED, method="greedy"))
    assert "(vacuous) and are not counted" in verdicts[0].summary


def test_figure_is_written(quick_results, tmp_path):
    folder, _, _ = quick_results
    paths = write_figures([folder], tmp_path / "figures")
    assert {p.name for p in paths} == {"submodularity_guarantees.png", "submodularity_guarantees.pdf"}
    assert all(p.stat().st_size > 1000 for p in paths)


def test_the_composed_config_is_stored_as_before():
    """config.json of the committed run, its folder's hash and the quick run's hash: unchanged by the nesting."""
    check_stored_as_before("submodularity")
