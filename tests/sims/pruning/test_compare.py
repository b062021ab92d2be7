"""sims.pruning.compare: `gfs compare` on a plain nn.Sequential state dict saved by a user, with its
refusals of bad input (the counts it reports are tested in tests/sims/metrics/test_cost.py)."""

from __future__ import annotations

import csv
import io

import pytest
import torch

from sims.baselines.methods import PRUNING_METHODS
from sims.cli.commands import main
from sims.pruning.compare import CompareConfig
from sims.data.datasets import load_dataset
from sims.foundations.errors import InputError
from sims.results.rows import read_rows
from sims.results.schema import COLUMNS

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def user_model(tmp_path_factory):
    """A user's plain nn.Sequential(Linear(64, 24), ReLU, Linear(24, 10)), trained a little with Adam."""
    torch.manual_seed(0)
    data = load_dataset(name="digits", m=300, input_scaling="none")
    module = torch.nn.Sequential(torch.nn.Linear(64, 24), torch.nn.ReLU(), torch.nn.Linear(24, 10))
    optimiser = torch.optim.Adam(module.parameters(), lr=0.01)
    inputs, targets = torch.as_tensor(data.train_inputs, dtype=torch.float32), torch.as_tensor(data.train_targets,
                                                                                              dtype=torch.float32)
    for _ in range(50):
        optimiser.zero_grad()
        loss = ((module(inputs) - targets) ** 2).sum(1).mean()
        loss.backward()
        optimiser.step()
    path = tmp_path_factory.mktemp("user") / "mlp.pt"
    torch.save(module.state_dict(), path)
    return path, module


def test_gfs_compare_on_a_users_sequential(user_model, tmp_path, capsys):
    path, module = user_model
    out = tmp_path / "report"
    status = main(["compare", "--model", str(path), "--data", "digits", "--m", "300", "--iterations", "20",
                   "--finetune-steps", "15", "--compressions", "2,4", "--out", str(out)])
    assert status == 0
    printed = capsys.readouterr().out
    for name in ("tradeoff.md", "tradeoff.csv", "rows.csv", "tradeoff_digits.png", "tradeoff_digits.pdf"):
        assert (out / name).is_file(), name
    table = list(csv.DictReader(io.StringIO((out / "tradeoff.csv").read_text())))
    tuned = {f"{name}+ft" for name, spec in PRUNING_METHODS.items() if not spec.trains}
    assert {row["method"] for row in table} - {"imp-rewind@flops", "gfs+ft@flops"} == {"dense", *PRUNING_METHODS, *tuned}
    assert "imp-rewind@flops" in {row["method"] for row in table}
    # equal steps: every procedure that trains runs F = 15 steps after pruning; one-shot methods none
    for row in table:  # (a fine-tune that diverged has a diverged_lr row instead)
        if row["method"] != "dense" and not row["method"].endswith("@flops") and row["train_steps"]:
            trains = row["method"] in tuned or PRUNING_METHODS[row["method"]].trains
            assert float(row["train_steps"]) == (15 if trains else 0), row["method"]
    assert {row["n"] for row in table if row["method"] == "rigl"} == {"12", "6"}
    dense = next(row for row in table if row["method"] == "dense")
    # the dense row is the user's own network: its accuracy, its parameter count (both biases)
    data = load_dataset(name="digits", m=300, input_scaling="none")
    with torch.no_grad():
        outputs = module(torch.as_tensor(data.test_inputs, dtype=torch.float32)).numpy()
    assert float(dense["test_accuracy"]) == pytest.approx(float((outputs.argmax(1) == data.test_labels).mean()))
    assert float(dense["params"]) == sum(p.numel() for p in module.parameters())
    assert "| gfs-published |" in printed and "n(eps)" in printed
    rows = read_rows(out / "rows.csv")  # the runner's tidy format, read back by the runner
    assert (out / "rows.csv").read_text().splitlines()[0] == ",".join(COLUMNS)  # the one schema's header
    assert {row["method"] for row in rows} >= {"dense", *PRUNING_METHODS, *tuned}
    assert "F = 15 GD steps" in printed


@pytest.mark.parametrize("argv, parameter", [
    (["--model", "missing.pt"], "--model file 'missing.pt' does not exist"),
    (["--methods", "gfs,nope"], "methods: unknown method(s) nope"),
    (["--compressions", "2,x"], "compressions must be comma-separated positive integers"),
    (["--compressions", "64"], "compressions: 64 exceeds the model's width N = 24"),
    (["--iterations", "0"], "argument --iterations"),
    (["--finetune-steps", "0"], "argument --finetune-steps"),
    (["--iterations", "1", "--methods", "imp-rewind", "--compressions", "2"], "--iterations must be at least 20"),
    (["--task", "binary", "--m", "100"], "maps 64 inputs to 10 outputs, but --data digits has 64 inputs and 1 outputs"),
])
def test_bad_input_is_one_line_naming_the_parameter(user_model, tmp_path, capsys, argv, parameter):
    path, _ = user_model
    arguments = ["compare", "--model", str(path), "--data", "digits", "--m", "300", "--out", str(tmp_path / "out")]
    status = main(arguments + argv) if argv[0] not in ("--iterations", "--finetune-steps") or len(argv) > 2 else None
    if status is None:
        with pytest.raises(SystemExit) as exit_info:
            main(arguments + argv)
        status = exit_info.value.code
    error = capsys.readouterr().err
    assert status == 2 and parameter in error and "Traceback" not in error
    assert len(error.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_config_refuses_bad_values():
    with pytest.raises(InputError, match="methods"):
        CompareConfig(model="m.pt", methods="")
    with pytest.raises(InputError, match="compressions"):
        CompareConfig(model="m.pt", compressions="2,0")


# ------------------------------------------------------------------ a user's classifier (issue 22)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A 64-100-10 ReLU MLP trained with Adam and cross-entropy on digits X / 16 (logits, not one-hot)."""
    from tests.sims.pruning.test_prune import train_classifier

    data = load_dataset(name="digits", input_scaling="none")
    with torch.random.fork_rng():
        module = train_classifier([64, 100, 10], data.train_inputs, data.train_labels)
    path = tmp_path_factory.mktemp("classifier") / "mlp.pt"
    torch.save(module.state_dict(), path)
    return path, module, data


def test_gfs_compare_on_a_cross_entropy_classifier_matches_the_dense_network(classifier, tmp_path, capsys):
    path, module, data = classifier
    arguments = ["compare", "--model", str(path), "--data", "digits", "--methods", "gfs", "--compressions", "2"]
    assert main(arguments + ["--out", str(tmp_path / "dense")]) == 0
    printed = capsys.readouterr()
    assert "--input-scaling none (scikit-learn's digits.data / 16" in printed.out
    with torch.no_grad():
        dense_accuracy = float((module(torch.as_tensor(data.test_inputs, dtype=torch.float32)).argmax(1).numpy()
                                == data.test_labels).mean())
    assert "dense network (the baseline): train accuracy" in printed.out and f"{dense_accuracy:.3f}" in printed.out
    assert "warning" not in printed.err
    table = {(row["method"], row["n"]): row for row in
             csv.DictReader(io.StringIO((tmp_path / "dense" / "tradeoff.csv").read_text()))}
    assert float(table["dense", "100"]["test_accuracy"]) == pytest.approx(dense_accuracy)
    assert float(table["dense", "100"]["train_loss"]) == pytest.approx(0, abs=1e-9)  # the loss against itself
    assert float(table["gfs", "50"]["test_accuracy"]) >= 0.9 * dense_accuracy
    # the one-hot squared-loss target on the same model: reported as such, and warned about in one line
    assert main(arguments + ["--target", "labels", "--out", str(tmp_path / "labels")]) == 0
    printed = capsys.readouterr()
    assert "target labels: every method fits the data set's targets with the squared loss" in printed.out
    warnings = [line for line in printed.err.splitlines() if line.startswith("warning")]
    assert len(warnings) == 1 and "gfs at n = 50: the pruned network is" in warnings[0] and "target 'dense'" in warnings[0]


@pytest.mark.parametrize("argv, fragment", [
    (["--target", "labels-ce"], "target 'labels-ce' is not a target of gfs compare"),
    (["--model", "{untrained}"], "near chance"),
])
def test_compare_refuses_a_model_at_chance_and_labels_ce(classifier, tmp_path, capsys, argv, fragment):
    path, _, _ = classifier
    torch.manual_seed(3)
    untrained = tmp_path / "untrained.pt"
    torch.save(torch.nn.Sequential(torch.nn.Linear(64, 40), torch.nn.ReLU(), torch.nn.Linear(40, 10)).state_dict(),
               untrained)
    argv = [a.replace("{untrained}", str(untrained)) for a in argv]
    status = main(["compare", "--model", str(path), "--data", "digits", "--methods", "gfs", "--out",
                   str(tmp_path / "out"), *argv])
    error = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert status == 2 and len(error) == 1 and fragment in error[0]
    assert not (tmp_path / "out").exists()


def test_deeper_networks_are_counted_and_compared_layer_by_layer(tmp_path, capsys):
    from tests.sims.pruning.test_prune import train_classifier

    data = load_dataset(name="digits", input_scaling="none")
    with torch.random.fork_rng():
        module = train_classifier([64, 64, 64, 10], data.train_inputs, data.train_labels)
    torch.save(module.state_dict(), tmp_path / "deep.pt")
    arguments = ["compare", "--model", str(tmp_path / "deep.pt"), "--data", "digits", "--compressions", "2"]
    assert main(arguments + ["--methods", "gfs", "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "hidden layers 64-64" in printed and "dense network (the baseline)" in printed
    table = {(row["method"], row["n"]): row for row in
             csv.DictReader(io.StringIO((tmp_path / "out" / "tradeoff.csv").read_text()))}
    with torch.no_grad():
        dense_accuracy = float((module(torch.as_tensor(data.test_inputs, dtype=torch.float32)).argmax(1).numpy()
                                == data.test_labels).mean())
    assert float(table["dense", "128"]["test_accuracy"]) == pytest.approx(dense_accuracy)
    assert float(table["dense", "128"]["params"]) == sum(p.numel() for p in module.parameters())
    assert float(table["gfs", "64"]["width"]) <= 64
    assert float(table["gfs", "64"]["test_accuracy"]) >= 0.85 * dense_accuracy
    assert main(arguments + ["--methods", "snip", "--out", str(tmp_path / "snip")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "layer-wise selection methods gfs, gfs-norep, magnitude, random; got snip" in error[0]
    assert not (tmp_path / "snip").exists()


@pytest.mark.parametrize("hidden", [[16], [16, 16]], ids=["two-layer", "layer-wise"])
def test_an_out_that_is_a_file_is_refused_alike_on_both_paths(tmp_path, capsys, hidden):
    widths = [64, *hidden, 10]
    layers = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    torch.save(torch.nn.Sequential(*layers[:-1]).state_dict(), tmp_path / "model.pt")
    (tmp_path / "taken").write_text("a file")
    assert main(["compare", "--model", str(tmp_path / "model.pt"), "--data", "digits", "--methods", "gfs",
                 "--compressions", "2", "--out", str(tmp_path / "taken")]) == 2
    assert capsys.readouterr().err == f"gfs compare: error: out {str(tmp_path / 'taken')!r} is a file; give a folder\n"
