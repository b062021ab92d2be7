"""E3 `pretraining` and E4 `finetune`: quick runs through the runner, the T* criterion, bad input
(impossible criterion, diverging learning rate, m larger than the data, missing MNIST files)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from sims.experiments import finetune, pretraining
from sims.runner import get_experiment, load_results, run_experiment
from theory.claims import Verdict


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Cells called directly run with one thread, as the runner runs them (and fast on a busy machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _by_metric(rows, metric, **equal):
    return [r for r in rows if r["metric"] == metric and all(r.get(k) == v for k, v in equal.items())]


def _tiny_pretraining(**changes):
    """The quick preset cut to synthetic set-ups and small sizes (seconds per run)."""
    base = replace(pretraining.quick(), setups=("ntk-teacher", "mf-teacher"), teacher_sizes=(60, 120, 240),
                   ntk_iterations=100, mf_iterations=100, checkpoint_points=6)
    return replace(base, **changes)


# ---------------------------------------------------------------- E3


@pytest.fixture(scope="module")
def quick_pretraining(tmp_path_factory):
    folder = run_experiment("pretraining", pretraining.quick(), out=tmp_path_factory.mktemp("e3"), progress=False,
                            log=lambda text: None)
    return folder, load_results(folder)


def test_pretraining_quick_rows(quick_pretraining):
    _, rows = quick_pretraining
    config = pretraining.quick()
    for setup in config.setups:
        sizes = pretraining._setting(config, setup)["sizes"]
        t_star = _by_metric(rows, "pretrain_steps", dataset=setup)
        assert sorted(r["m"] for r in t_star) == sorted(sizes)  # one T* per (m, seed), m filled
        curve = _by_metric(rows, "subnet_loss", dataset=setup)
        assert curve and all(r["step"] is not None for r in curve)
        for r in curve:  # the summed form is m times the mean form
            summed = _by_metric(rows, "subnet_loss_sum", dataset=setup, m=r["m"], seed=r["seed"], step=r["step"])
            assert summed[0]["value"] == pytest.approx(r["m"] * r["value"], rel=1e-12)
    assert _by_metric(rows, "subnet_accuracy", dataset="mf-mnist5k")
    assert _by_metric(rows, "pretrain_steps_accuracy", dataset="mf-mnist5k")
    assert not _by_metric(rows, "pretrain_steps_accuracy", dataset="mf-teacher")  # unlabelled
    lambdas = _by_metric(rows, "lambda_0", dataset="ntk-teacher")
    assert len(lambdas) == len(config.teacher_sizes) and all(r["value"] > 0 for r in lambdas)
    assert len(_by_metric(rows, "p6_steps", dataset="ntk-teacher")) == len(config.teacher_sizes)


def test_pretraining_t_star_is_the_first_checkpoint_meeting_the_criterion(quick_pretraining):
    _, rows = quick_pretraining
    for t_star in _by_metric(rows, "pretrain_steps"):
        curve = sorted(_by_metric(rows, "subnet_loss", dataset=t_star["dataset"], m=t_star["m"], seed=t_star["seed"]),
                       key=lambda r: r["step"])
        eps = _by_metric(rows, "eps", dataset=t_star["dataset"], m=t_star["m"])[0]["value"]
        meeting = [r["step"] for r in curve if r["value"] <= eps]
        assert t_star["value"] == (meeting[0] if meeting else math.inf)


def test_pretraining_subnetwork_improves_with_pretraining(quick_pretraining):
    """Mean-field set-ups: the GFS subnetwork of the trained network beats the one at step 0."""
    _, rows = quick_pretraining
    for setup in ("mf-teacher", "mf-mnist5k"):
        for t_star in _by_metric(rows, "pretrain_steps", dataset=setup):
            curve = sorted(_by_metric(rows, "subnet_loss", dataset=setup, m=t_star["m"], seed=t_star["seed"]),
                           key=lambda r: r["step"])
            assert curve[-1]["value"] <= curve[0]["value"]


def test_pretraining_claims_and_figures(quick_pretraining):
    folder, rows = quick_pretraining
    experiment = get_experiment("pretraining")
    verdicts = experiment.claims(rows, pretraining.quick())
    assert verdicts and all(isinstance(v, Verdict) for v in verdicts)
    assert any("grows logarithmically" in v.claim for v in verdicts)
    p6 = [v for v in verdicts if "P6" in v.claim]
    assert p6 and "pruning margin" in p6[0].summary
    paths = experiment.figures(rows, pretraining.quick(), folder)
    names = {p.name for p in paths}
    assert {"pretraining_t_star.png", "pretraining_t_star.pdf", "pretraining_subnet_loss.png"} <= names
    assert all(p.stat().st_size > 1000 for p in paths)


@pytest.mark.parametrize("changes", [dict(ntk_eps=0.0, mf_eps=0.0), dict(ntk_eps=1e-12, mf_eps=1e-12)])
def test_pretraining_impossible_loss_criterion_gives_inf(changes):
    config = _tiny_pretraining(**changes)
    for cell in pretraining.cells(config):
        rows = pretraining.run_cell(config, cell)
        assert _by_metric(rows, "pretrain_steps")[0]["value"] == math.inf
    verdict = pretraining.claims(rows, config)
    assert all(isinstance(v, Verdict) for v in verdict)


def test_pretraining_impossible_accuracy_criterion_gives_inf():
    config = replace(pretraining.quick(), setups=("mf-mnist5k",), mnist5k_sizes=(100,), mnist_iterations=5,
                     checkpoint_points=3, tau=1.01)
    rows = pretraining.run_cell(config, pretraining.cells(config)[0])
    assert _by_metric(rows, "pretrain_steps_accuracy")[0]["value"] == math.inf
    assert all(0 <= r["value"] <= 1 for r in _by_metric(rows, "subnet_accuracy"))
    verdicts = pretraining.claims(rows, config)
    accuracy = [v for v in verdicts if "accuracy" in v.claim]
    assert accuracy and accuracy[0].held is None and "not reached" in accuracy[0].summary


def test_pretraining_divergence_is_reported_and_other_cells_survive(tmp_path, capsys):
    config = _tiny_pretraining(mf_lr=1e4)  # the NTK set-up keeps its stable lr
    folder = run_experiment("pretraining", config, out=tmp_path, progress=False, log=lambda text: None)
    rows = load_results(folder)
    diverged = _by_metric(rows, "diverged_lr", dataset="mf-teacher")
    assert len(diverged) == len(config.teacher_sizes) and all(r["value"] == 1e4 for r in diverged)
    assert not _by_metric(rows, "pretrain_steps", dataset="mf-teacher")  # no fake T*
    assert len(_by_metric(rows, "pretrain_steps", dataset="ntk-teacher")) == len(config.teacher_sizes)
    assert "lr=10000" in capsys.readouterr().err
    verdicts = pretraining.claims(rows, config)
    failed = [v for v in verdicts if v.claim == "mf-teacher: every cell ran"]
    assert failed and failed[0].held is False and "diverged with lr=1e+04" in failed[0].summary


def test_pretraining_m_larger_than_data_and_missing_mnist_are_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv("GFS_MNIST_DIR", str(tmp_path / "no-mnist-here"))
    config = replace(pretraining.quick(), setups=("mf-mnist5k", "mf-mnist"), mnist5k_sizes=(100, 6000),
                     mnist_sizes=(100,), mnist_iterations=3, checkpoint_points=2)
    rows = [row for cell in pretraining.cells(config) for row in pretraining.run_cell(config, cell)]
    too_large = _by_metric(rows, "skipped_m_too_large", dataset="mf-mnist5k")
    assert [r["m"] for r in too_large] == [6000] and too_large[0]["value"] == 5000
    assert _by_metric(rows, "pretrain_steps", dataset="mf-mnist5k", m=100)
    assert _by_metric(rows, "skipped_data_missing", dataset="mf-mnist")
    verdicts = pretraining.claims(rows, config)
    summaries = " ".join(v.summary for v in verdicts)
    assert "exceeds the 5000 available" in summaries and "MNIST files not found" in summaries


def test_pretraining_config_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown setup"):
        pretraining.PretrainingConfig(setups=("ntk-mnist",))
    with pytest.raises(ValueError, match="seeds"):
        pretraining.PretrainingConfig(seeds=())
    assert "mf-mnist" not in pretraining.PretrainingConfig().setups
    assert max(pretraining.PretrainingConfig().teacher_sizes) >= 8000


def test_first_reaching():
    assert pretraining.first_reaching([0, 1, 5], [3.0, 1.0, 0.5], 1.0, below=True) == 1.0
    assert pretraining.first_reaching([0, 1, 5], [0.1, 0.5, 0.9], 0.9, below=False) == 5.0
    assert pretraining.first_reaching([0, 1, 5], [3.0, 2.0, 1.5], 1.0, below=True) == math.inf


def test_lambda_0_subsample_is_an_upper_bound():
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((120, 4))
    inputs /= np.linalg.norm(inputs, axis=1, keepdims=True)
    exact_name, exact = pretraining.ntk_lambda_0(inputs, 200, seed=0)
    sub_name, sub = pretraining.ntk_lambda_0(inputs, 40, seed=0)
    assert (exact_name, sub_name) == ("lambda_0", "lambda_0_subsample")
    assert 0 < exact <= sub


def test_pretraining_cells_are_deterministic():
    config = _tiny_pretraining(setups=("ntk-teacher",), teacher_sizes=(60,))
    cell = pretraining.cells(config)[0]
    assert pretraining.run_cell(config, cell) == pretraining.run_cell(config, cell)


# ---------------------------------------------------------------- E4


@pytest.fixture(scope="module")
def quick_finetune(tmp_path_factory):
    folder = run_experiment("finetune", finetune.quick(), out=tmp_path_factory.mktemp("e4"), progress=False,
                            log=lambda text: None)
    return folder, load_results(folder)


def test_finetune_quick_rows(quick_finetune):
    _, rows = quick_finetune
    config = finetune.quick()
    for problem in config.problems:
        for variant in finetune.VARIANTS:
            final = _by_metric(rows, "final_test_loss", dataset=problem, method=variant)
            assert len({r["n"] for r in final}) == config.n_points
            curve = _by_metric(rows, "train_loss", dataset=problem, method=variant)
            assert curve and all(r["step"] is not None for r in curve)
            assert max(r["step"] for r in curve) == finetune._setting(config, problem)["budget"]
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
    folder, rows = quick_finetune
    experiment = get_experiment("finetune")
    verdicts = experiment.claims(rows, finetune.quick())
    assert len(verdicts) == 2 * 3 * 2
    for verdict in verdicts:
        assert isinstance(verdict, Verdict) and verdict.held in (True, False)
        assert any(key.startswith("finetune_n") for key in verdict.numbers)
    paths = experiment.figures(rows, finetune.quick(), folder)
    assert {p.name for p in paths} == {"finetune_teacher.png", "finetune_teacher.pdf", "finetune_mnist5k.png",
                                      "finetune_mnist5k.pdf"}


def test_finetune_verdict_follows_the_numbers():
    rows = [{"dataset": "p", "method": method, "n": n, "seed": 0, "metric": "final_train_loss", "value": value,
             "step": None, "m": 10}
            for method, n, value in (("finetune", 5, 1.0), ("reinit", 5, 2.0), ("finetune", 10, 0.5),
                                     ("reinit", 10, 0.4))]
    verdict = finetune.finetune_beats(rows, "p", "reinit", "train")
    assert verdict.held is False and "not at n=[10]" in verdict.summary
    assert verdict.numbers == {"finetune_n5": 1.0, "reinit_n5": 2.0, "finetune_n10": 0.5, "reinit_n10": 0.4}


def test_finetune_divergence_is_reported(capsys):
    config = replace(finetune.quick(), problems=("teacher",), lr=1e4, teacher_pretrain_iterations=20)
    rows = finetune.run_cell(config, finetune.cells(config)[0])
    assert _by_metric(rows, "diverged_lr") and "lr=10000" in capsys.readouterr().err
    verdicts = finetune.claims(rows, config)
    assert verdicts[0].held is False and "diverged" in verdicts[0].summary


def test_finetune_config_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown problem"):
        finetune.FinetuneConfig(problems=("cifar",))
    with pytest.raises(ValueError, match="teacher_n_max"):
        finetune.FinetuneConfig(teacher_n_max=10_000)
