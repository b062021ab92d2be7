"""The gfs commands on networks and features (sims.cli.networks): a small training run, selection from a
feature array (whole and in chunks of a memory-mapped file), pruning a `gfs train` model and a
plain nn.Sequential state dict, and one-line errors without partial files (`gfs compare`:
tests/sims/pruning/test_compare.py)."""

import json

import pytest
import torch

from sims.cli.commands import main
from sims.nets.model import load_model

from tests.helpers import EXACT, REFERENCE


def test_train_writes_model_summary_and_curve(tmp_path, capsys):
    out = tmp_path / "run" / "model.pt"
    code = main(["train", "--data", "digits", "--m", "200", "--width", "50", "--iterations", "20", "--out", str(out)])
    assert code == 0
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["seed"] == 0 and summary["steps"] == 20 and len(summary["loss_curve"]) == 21
    assert summary["final_loss"] < summary["initial_loss"]
    model, metadata = load_model(out)
    assert model.width == 50 and metadata["final_loss"] == summary["final_loss"]
    assert out.with_suffix(".png").stat().st_size > 0


@pytest.mark.parametrize(
    "arguments,message",
    [(["--data", "nope"], "unknown dataset 'nope'; valid:"), (["--scaling", "xyz"], "unknown scaling"),
     (["--m", "100000"], "larger than"), (["--lr", "1e7", "--iterations", "30"], "lr=10000000.0")],
)
def test_bad_input_is_one_line_and_leaves_no_file(tmp_path, capsys, arguments, message):
    out = tmp_path / "model.pt"
    code = main(["train", "--data", "digits", "--width", "20", "--iterations", "5", "--out", str(out), *arguments])
    assert code == 2
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if "error:" in line]  # a progress bar may precede it
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_select_writes_indices_losses_weights(tmp_path, capsys):
    import numpy as np

    rng = np.random.default_rng(0)
    np.save(tmp_path / "F.npy", rng.standard_normal((12, 40)))
    np.save(tmp_path / "Y.npy", rng.standard_normal(12) * 0.1)
    out = tmp_path / "sel.json"
    assert main(["select", "--features", str(tmp_path / "F.npy"), "--target", str(tmp_path / "Y.npy"),
                 "-n", "7", "--method", "fw", "--out", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert len(payload["indices"]) == 7 and len(payload["losses"]) == 7 and len(payload["weights"]) == 40
    assert abs(sum(payload["weights"]) - 1) < 1e-12


@pytest.mark.parametrize(
    "arguments,message",
    [(["--method", "best"], "valid methods: gfs"), (["-n", "41", "--method", "gfs-norep"], "n = 41"),
     (["--target", "{missing}"], "does not exist"), (["--target", "{wrong}"], "target must have shape")],
)
def test_select_bad_input_leaves_no_output(tmp_path, capsys, arguments, message):
    import numpy as np

    np.save(tmp_path / "F.npy", np.ones((12, 40)))
    np.save(tmp_path / "Y.npy", np.zeros(12))
    np.save(tmp_path / "wrong.npy", np.zeros(13))
    filled = [a.format(missing=tmp_path / "none.npy", wrong=tmp_path / "wrong.npy") for a in arguments]
    base = {"--features": str(tmp_path / "F.npy"), "--target": str(tmp_path / "Y.npy"), "-n": "5"}
    for key, value in zip(filled[::2], filled[1::2]):
        base[key] = value
    argv = ["select", "--out", str(tmp_path / "sel.json")] + [x for kv in base.items() for x in kv]
    assert main(argv) == 2
    stderr = capsys.readouterr().err
    assert message in stderr and "Traceback" not in stderr
    assert not (tmp_path / "sel.json").exists()


def test_prune_writes_a_physically_smaller_network(tmp_path, capsys):
    import numpy as np

    from sims.data.datasets import load_dataset
    from sims.nets.model import forward
    from sims.nets.model import neuron_features
    from sims.selection.engine import select, subnetwork_output

    dense = tmp_path / "dense.pt"
    assert main(["train", "--data", "digits", "--m", "300", "--width", "60", "--iterations", "10",
                 "--out", str(dense)]) == 0
    small = tmp_path / "small.pt"
    assert main(["prune", "--model", str(dense), "--data", "digits", "--m", "300", "-n", "8", "--out", str(small)]) == 0
    model, _ = load_model(dense)
    pruned, metadata = load_model(small)
    assert pruned.width <= 8 and metadata["n"] == 8
    data = load_dataset(name="digits", m=300)
    selection = select(neuron_features(model, data.train_inputs), data.train_targets, 8, "gfs")
    expected = subnetwork_output(neuron_features(model, data.test_inputs), selection.weights)
    np.testing.assert_allclose(forward(pruned, data.test_inputs).numpy(), expected, rtol=REFERENCE, atol=EXACT)


def test_prune_rejects_a_foreign_model_file(tmp_path, capsys):
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"\x00garbage")
    assert main(["prune", "--model", str(bogus), "--data", "digits", "-n", "3", "--out", str(tmp_path / "o.pt")]) == 2
    assert "not a readable torch file" in capsys.readouterr().err
    assert not (tmp_path / "o.pt").exists()


def test_prune_a_plain_pytorch_state_dict(tmp_path, capsys):
    """`gfs prune --state-dict` returns a state dict of the same kind, with fewer hidden units,
    whose smaller nn.Sequential reproduces the selected subnetwork (output bias kept)."""
    import numpy as np
    import torch

    from sims.data.datasets import load_dataset
    from sims.pruning.prune import model_from_state_dict
    from sims.nets.model import neuron_features
    from sims.selection.engine import select, subnetwork_output

    torch.manual_seed(0)
    dense = torch.nn.Sequential(torch.nn.Linear(64, 40), torch.nn.Tanh(), torch.nn.Linear(40, 10)).double()
    data = load_dataset(name="digits", m=200, input_scaling="unit-norm")
    optimiser = torch.optim.Adam(dense.parameters(), lr=0.01)  # trained: an untrained model is refused (near chance)
    for _ in range(30):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(dense(torch.from_numpy(data.train_inputs)),
                                          torch.from_numpy(data.train_labels)).backward()
        optimiser.step()
    torch.save(dense.state_dict(), tmp_path / "mlp.pt")
    out = tmp_path / "small_mlp.pt"
    assert main(["prune", "--state-dict", "--model", str(tmp_path / "mlp.pt"), "--activation", "tanh",
                 "--data", "digits", "--input-scaling", "unit-norm", "--m", "200", "-n", "6", "--target", "labels",
                 "--out", str(out)]) == 0
    small_state = torch.load(out, weights_only=True)
    width = small_state["0.weight"].shape[0]
    assert width <= 6 and set(small_state) == set(dense.state_dict())
    small = torch.nn.Sequential(torch.nn.Linear(64, width), torch.nn.Tanh(), torch.nn.Linear(width, 10)).double()
    small.load_state_dict(small_state)
    model, output_bias = model_from_state_dict(dense.state_dict(), activation="tanh")
    targets = data.train_targets - output_bias.numpy()
    selection = select(neuron_features(model, data.train_inputs), targets, 6, "gfs")
    expected = subnetwork_output(neuron_features(model, data.test_inputs), selection.weights) + output_bias.numpy()
    with torch.no_grad():
        produced = small(torch.from_numpy(data.test_inputs)).numpy()
    np.testing.assert_allclose(produced, expected, rtol=REFERENCE, atol=EXACT)


def test_select_in_chunks_of_a_memory_mapped_file_makes_the_same_picks(tmp_path):
    import numpy as np

    rng = np.random.default_rng(2)
    np.save(tmp_path / "F.npy", rng.standard_normal((30, 25, 2)))
    np.save(tmp_path / "Y.npy", rng.standard_normal((30, 2)) * 0.1)
    files = ["--features", str(tmp_path / "F.npy"), "--target", str(tmp_path / "Y.npy"), "-n", "9", "--method", "fcfw"]
    assert main(["select", *files, "--out", str(tmp_path / "whole.json")]) == 0
    assert main(["select", *files, "--chunk-rows", "7", "--out", str(tmp_path / "chunks.json")]) == 0
    whole, chunks = (json.loads((tmp_path / name).read_text()) for name in ("whole.json", "chunks.json"))
    assert whole["indices"] == chunks["indices"]
    np.testing.assert_allclose(chunks["losses"], whole["losses"], rtol=REFERENCE, atol=EXACT)


@pytest.mark.parametrize("sharding", [["--chunk-rows", "64"], pytest.param(["--shards", "2"], marks=pytest.mark.slow)])
def test_prune_past_one_machine_keeps_the_same_neurons(tmp_path, sharding):
    """gfs prune with the features computed in chunks (or on two Dask workers) keeps the same
    neurons with the same weights as the single-process engine."""
    from sims.nets.model import forward

    dense = tmp_path / "dense.pt"
    assert main(["train", "--data", "digits", "--m", "300", "--width", "60", "--iterations", "10",
                 "--out", str(dense)]) == 0
    common = ["prune", "--model", str(dense), "--data", "digits", "--m", "300", "-n", "8", "--method", "herding"]
    assert main([*common, "--out", str(tmp_path / "whole.pt")]) == 0
    assert main([*common, *sharding, "--out", str(tmp_path / "sharded.pt")]) == 0
    whole, _ = load_model(tmp_path / "whole.pt")
    sharded, _ = load_model(tmp_path / "sharded.pt")
    assert torch.equal(whole.first_weight, sharded.first_weight)
    probe = torch.randn(5, whole.input_dim, dtype=whole.dtype)
    torch.testing.assert_close(forward(sharded, probe), forward(whole, probe), rtol=REFERENCE, atol=EXACT)


def test_prune_refuses_a_method_that_cannot_run_in_chunks(tmp_path, capsys):
    dense = tmp_path / "dense.pt"
    assert main(["train", "--data", "digits", "--m", "100", "--width", "20", "--iterations", "5",
                 "--out", str(dense)]) == 0
    code = main(["prune", "--model", str(dense), "--data", "digits", "--m", "100", "-n", "4", "--method", "backward",
                 "--chunk-rows", "10", "--out", str(tmp_path / "small.pt")])
    assert code == 2 and "cannot run on sharded features" in capsys.readouterr().err
    assert not (tmp_path / "small.pt").exists()


@pytest.mark.parametrize("case,message", [
    ("short-target", "target must have shape (10, 2) to match the features, got (9, 2)"),
    ("wrong-k", "target must have shape (10, 2) to match the features, got (10, 3)"),
    ("nan-feature", "features contain NaN or inf (data rows 0..3)"),
    ("nan-target", "target contains NaN or inf"),
])
def test_select_in_chunks_refuses_bad_input_in_one_line(tmp_path, capsys, case, message):
    import numpy as np

    rng = np.random.default_rng(0)
    features, target = rng.standard_normal((10, 6, 2)), rng.standard_normal((10, 2))
    if case == "short-target":
        target = target[:9]
    elif case == "wrong-k":
        target = rng.standard_normal((10, 3))
    elif case == "nan-feature":
        features[3, 2, 1] = np.nan
    else:
        target[4, 0] = np.nan
    np.save(tmp_path / "F.npy", features)
    np.save(tmp_path / "Y.npy", target)
    out = tmp_path / "sel.json"
    code = main(["select", "--features", str(tmp_path / "F.npy"), "--target", str(tmp_path / "Y.npy"), "-n", "3",
                 "--chunk-rows", "4", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1 and not out.exists()
