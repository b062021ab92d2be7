"""The gfs command line: help, a small training run, and one-line errors without partial files."""

import json
import subprocess
import sys

import pytest

from sims.cli import main
from sims.model import load_model


def test_help_lists_subcommands():
    result = subprocess.run([sys.executable, "-m", "sims.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "train" in result.stdout


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


def test_out_of_range_numbers_are_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--width", "0"])
    assert exit_info.value.code == 2
    assert "--width" in capsys.readouterr().err
