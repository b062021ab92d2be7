"""Quick presets of E1 (rates) and E2 (exponential) run end to end: rows, figures, verdicts."""

import math

import pytest

from sims.report import write_figures, write_report
from sims.runner import get_experiment, load_results, run_experiment


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    folders = {name: run_experiment(name, get_experiment(name).quick(), out=out, progress=False, log=lambda _: None)
               for name in ("rates", "exponential")}
    return out, folders


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
                assert row["value"] - dense <= gfs_excess_bound(row["n"], variance) * (1 + 1e-9)


def test_quick_claims_produce_verdicts(quick_results, tmp_path):
    out, folders = quick_results
    for name, folder in folders.items():
        experiment = get_experiment(name)
        verdicts = experiment.claims(load_results(folder), experiment.quick())
        assert verdicts and all(v.held in (True, False, None) and v.summary for v in verdicts)
    exponential = get_experiment("exponential")
    verdicts = exponential.claims(load_results(folders["exponential"]), exponential.quick())
    by_claim = {v.claim: v for v in verdicts}
    fw = next(v for c, v in by_claim.items() if c.endswith(", fw]"))
    assert fw.held is True and fw.numbers["contraction[0]"] <= fw.numbers["bound_contraction[0]"]
    assert math.isfinite(fw.numbers["r[0]"]) and fw.numbers["r[0]"] > 0


def test_figures_and_report_are_written(quick_results, tmp_path):
    out, folders = quick_results
    paths = write_figures(folders.values(), tmp_path / "figures")
    names = {p.name for p in paths}
    assert {"rates_teacher-interior.png", "rates_mnist5k.pdf", "exponential_contraction.png",
            "exponential_phase_diagram.png"} <= names
    assert all(p.stat().st_size > 1000 for p in paths)
    text = write_report(folders.values(), tmp_path / "REPORT.md", tmp_path / "figures")
    assert "| claim | verdict | evidence |" in text and "**held**" in text
    assert "| teacher-interior | gfs | -" in text  # the fitted-rates table of E1


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
            assert loss == pytest.approx(selection.losses[n - 1], rel=1e-10), (method, n)
