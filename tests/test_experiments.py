"""Quick presets of E1 (rates) and E2 (exponential) run end to end: rows, figures, verdicts."""

import json

import pytest

from sims.report import write_figures, write_report
from sims.runner import get_experiment, load_results, run_experiment


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    configs = {"rates": get_experiment("rates").quick(), "exponential": three_seed_exponential()}
    folders = {name: run_experiment(name, config, out=out, progress=False, log=lambda _: None)
               for name, config in configs.items()}
    return out, folders


def three_seed_exponential():
    """E2's quick preset with three seeds (the fewest that give an empirical verdict)."""
    from dataclasses import replace

    return replace(get_experiment("exponential").quick(), seeds=(0, 1, 2), phase_m=(4, 8))


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


def test_quick_exponential_verdicts_with_three_seeds(quick_results):
    """m = 6 interior teacher (dimension 6): fcfw and greedy-opt reach the float floor within a
    few steps (once their support spans the hull they are exact), faster than any power law,
    so "exponential" holds; GFS has slope about -2 (1/n², held); P2-P4 hold at every n; every
    empirical verdict carries a false-held rate <= 5%. (fw at this size is not asserted: on
    n <= 60 one seed is still in its slow phase.)"""
    _, folders = quick_results
    verdicts = get_experiment("exponential").claims(load_results(folders["exponential"]), three_seed_exponential())
    by_claim = {v.claim: v for v in verdicts}
    for method in ("fcfw", "greedy-opt"):
        exponential = next(v for c, v in by_claim.items() if c.startswith(f"{method} falls exponentially"))
        assert exponential.outcome == "held", exponential.summary
        assert exponential.numbers["contraction (group 1)"] <= exponential.numbers["bound_contraction (group 1)"]
    for method in ("fw", "fcfw", "greedy-opt"):
        check = next(v for c, v in by_claim.items() if c.startswith(f"P4: {method}"))
        assert check.outcome == "held" and check.numbers["points"] == 3 * 60
    rate = next(v for c, v in by_claim.items() if c.startswith("gfs falls like 1/n²"))
    assert rate.outcome == "held" and rate.numbers["slope (group 1)"] == pytest.approx(-2.0, abs=0.2)
    assert all(v.outcome == "held" for v in verdicts if v.kind == "theorem"), [v.summary for v in verdicts]
    empirical = [v for v in verdicts if v.kind == "empirical" and v.outcome != "not testable"]
    assert empirical and all(v.false_held_rate <= 0.05 and v.seeds == 3 for v in empirical)


def test_figures_and_report_are_written(quick_results, tmp_path):
    out, folders = quick_results
    paths = write_figures(folders.values(), tmp_path / "figures")
    names = {p.name for p in paths}
    assert {"rates_teacher-interior.png", "rates_mnist5k.pdf", "exponential_contraction.png",
            "exponential_phase_diagram.png"} <= names
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
            assert loss == pytest.approx(selection.losses[n - 1], rel=1e-10), (method, n)
