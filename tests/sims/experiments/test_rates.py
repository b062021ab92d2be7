"""Quick preset of E1 (rates) run end to end: rows, the P2 check on every row, verdicts, figures, report."""

import json

import pytest

from sims.reporting.report import write_figures, write_report
from sims.experiments.runner import get_experiment, run_experiment
from sims.foundations.composed import from_flat_record
from sims.results.rows import load_results

from tests.helpers import REFERENCE, ROUNDING
from tests.sims.experiments.committed import check_stored_as_before


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    folder = run_experiment("rates", get_experiment("rates").quick(), out=out, progress=False, log=lambda _: None)
    return out, {"rates": folder}


def test_rates_rows_have_every_method_and_direct_training(quick_results):
    _, folders = quick_results
    rows = load_results(folders["rates"])
    config = get_experiment("rates").quick()
    for problem in config.problems:
        methods = {row["method"] for row in rows if row["dataset"] == problem and row["metric"] == "train_loss"}
        assert methods == set(config.methods) | {"direct-gd"}
    accuracy = [row["value"] for row in rows if row["metric"] == "test_accuracy" and row["method"] == "gfs"]
    assert accuracy and all(0.0 <= a <= 1.0 for a in accuracy)
    # GFS's first pick is the best single neuron: no method's first loss is lower
    first = {row["method"]: row["value"] for row in rows if row["dataset"] == "teacher-interior"
             and row["n"] == 1 and row["metric"] == "train_loss" and row["seed"] == 0}
    assert first["gfs"] <= min(first.values()) + 1e-15


def test_p2_holds_on_every_gfs_row(quick_results):
    """The P2 bound, with the constants the experiment measured, holds on the measured curve."""
    from theory.bounds import gfs_excess_bound

    _, folders = quick_results
    rows = load_results(folders["rates"])
    for problem in ("teacher-interior", "teacher-large-m", "mnist5k"):
        variance = next(r["value"] for r in rows if r["dataset"] == problem and r["metric"] == "V")
        dense = next(r["value"] for r in rows if r["dataset"] == problem and r["metric"] == "dense_loss")
        for row in rows:
            if row["dataset"] == problem and row["method"] == "gfs" and row["metric"] == "train_loss":
                assert row["value"] - dense <= gfs_excess_bound(row["n"], variance) * (1 + ROUNDING)


def test_quick_claims_every_theorem_check_holds(quick_results):
    """On real runs the propositions' inequalities hold at every point (a violation is a bug),
    and with one seed every empirical claim is 'not testable', never a verdict."""
    _, folders = quick_results
    rates = get_experiment("rates")
    verdicts = rates.claims(load_results(folders["rates"]), rates.quick())
    theorem = [v for v in verdicts if v.kind == "theorem"]
    assert theorem and all(v.outcome in ("held", "not applicable") for v in theorem), [v.summary for v in theorem]
    assert any(v.outcome == "held" and v.claim.startswith("P3") for v in theorem)
    assert all(v.outcome == "not testable" for v in verdicts if v.kind == "empirical")


def test_figures_and_report_are_written(quick_results, tmp_path):
    out, folders = quick_results
    paths = write_figures(folders.values(), tmp_path / "figures")
    names = {p.name for p in paths}
    assert {"rates_teacher-interior.png", "rates_teacher-large-m.png", "rates_mnist5k.pdf"} <= names
    assert all(p.stat().st_size > 1000 for p in paths)
    text = write_report(folders.values(), tmp_path / "REPORT.md", tmp_path / "figures")
    assert ("| claim | kind | verdict | seeds | groups tested | false held | false did not hold | power | evidence |"
            in text and "**held**" in text)
    records = json.loads((tmp_path / "REPORT.json").read_text())["verdicts"]
    assert {"experiment", "claim", "kind", "verdict", "evidence", "seeds", "false_held_rate", "power"} <= set(records[0])
    assert {r["kind"] for r in records} == {"theorem", "empirical"}
    assert all("(" not in r["evidence"][:1] and "('" not in r["evidence"] for r in records)  # no Python tuples
    assert "| problem | method | slope [95% interval] | seeds | best law (BIC margin) |" in text  # E1's rate table
    assert "| teacher-interior | gfs | no interval (fewer than 2 seeds" in text  # the quick run has one seed


def test_test_metrics_describe_the_subnetworks_of_the_one_run_per_method(monkeypatch):
    """Each method runs once to n_max, recording the weights at the test sizes (the direct-GD
    widths); the test rows are those subnetworks' (whose losses the train_loss rows report:
    tests/sims/selection/test_engine.py checks that recorded weights reproduce the run's losses)."""
    from sims.experiments import rates

    config = from_flat_record(rates.RatesConfig, dict(problems=("mnist5k",), methods=("gfs", "fw", "fcfw"), seeds=(0,),
                                                      mnist_m=60, mnist_width=20, mnist_iterations=3, mnist_n_max=9,
                                                      grid_points=3))
    calls, original = [], rates.select

    def counting(features, target, n, method, **keywords):
        selection = original(features, target, n, method, **keywords)
        calls.append((method, n, sorted(keywords.get("record_steps", ()))))
        return selection

    monkeypatch.setattr(rates, "select", counting)  # the engine's select, as E1 calls it
    rows = rates.run_cell(config, rates.SelectCell("mnist5k", 0))
    sizes = rates.direct_sizes(config, rates.problem_plan(config, "mnist5k"))
    assert calls == [(method, 9, sizes) for method in config.methods]
    for method in config.methods:
        tested = sorted(r["n"] for r in rows if r["method"] == method and r["metric"] == "test_loss")
        assert tested == sizes


def test_the_composed_config_is_stored_as_before():
    """config.json of the committed run, its folder's hash and the quick run's hash: unchanged by the nesting."""
    check_stored_as_before("rates")
