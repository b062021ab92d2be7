"""Quick preset of E1 (rates) run end to end: rows, the P2 check on every row, verdicts, figures, report."""

import json

import pytest

from sims.report import write_figures, write_report
from sims.runner import get_experiment, load_results, run_experiment

from tests.helpers import REFERENCE, ROUNDING


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
    assert "| claim | kind | verdict | seeds | false held | power | evidence |" in text and "**held**" in text
    records = json.loads((tmp_path / "REPORT.json").read_text())
    assert {"experiment", "claim", "kind", "verdict", "evidence", "seeds", "false_held_rate", "power"} <= set(records[0])
    assert {r["kind"] for r in records} == {"theorem", "empirical"}
    assert all("(" not in r["evidence"][:1] and "('" not in r["evidence"] for r in records)  # no Python tuples
    assert "| problem | method | slope [95% interval] | seeds | best law (BIC margin) |" in text  # E1's rate table
    assert "| teacher-interior | gfs | no interval (fewer than 2 seeds" in text  # the quick run has one seed


def test_test_metrics_describe_the_same_subnetworks_as_the_train_loss():
    """For every method, the size-n weights used for test metrics reproduce the train_loss row."""
    import numpy as np

    from sims.experiments.rates import UNIFORM_PREFIX_METHODS
    from sims.select import METHODS, select, subnetwork_output

    rng = np.random.default_rng(1)
    features, target = rng.standard_normal((8, 30, 2)), rng.standard_normal((8, 2)) * 0.1
    for method in ("gfs", "gfs-norep", "herding", "stochastic-gfs", "random", "magnitude", "backward", "fw"):
        assert method in METHODS
        selection = select(features, target, 12, method, seed=0)
        for n in (3, 7, 12):
            if method in UNIFORM_PREFIX_METHODS:
                weights = np.bincount(selection.indices[:n], minlength=30) / n
            else:
                weights = select(features, target, n, method, seed=0).weights
            loss = 0.5 * np.mean(np.sum((subnetwork_output(features, weights) - target) ** 2, axis=1))
            assert loss == pytest.approx(selection.losses[n - 1], rel=REFERENCE), (method, n)
