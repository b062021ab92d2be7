"""sims.cli.arguments: the checks a command makes on its arguments before any work, each a one-line
InputError naming the flag, and the data set of the data flags."""

import argparse
import json

import numpy as np
import pytest

from sims.cli.arguments import (check_every_class_present, check_folder_writable, check_report_path, check_writable,
                                dataset_from_args, load_array, user_inputs, write_json)
from sims.cli.commands import build_parser
from sims.data.datasets import DatasetConfig, load_dataset
from sims.foundations.errors import InputError


def test_write_json_writes_indented_json(tmp_path):
    write_json(tmp_path / "a.json", {"n": 3, "weights": [0.5, 0.5]})
    text = (tmp_path / "a.json").read_text()
    assert json.loads(text) == {"n": 3, "weights": [0.5, 0.5]} and text.endswith("\n") and "\n  " in text


def test_an_output_file_path_is_refused_when_it_cannot_be_written(tmp_path):
    check_writable("--out", tmp_path / "new" / "model.pt")  # a folder that can be made: accepted
    with pytest.raises(InputError, match="--out '.*' is a folder; give a file path"):
        check_writable("--out", tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match=r"--out '.*model.pt' cannot be written \(the folder '.*file' is not writable\)"):
        check_writable("--out", tmp_path / "file" / "model.pt")
    (tmp_path / "model.json").mkdir()
    with pytest.raises(InputError, match="is a folder, so the summary cannot be written"):
        check_writable("--out", tmp_path / "model.pt")


def test_an_output_folder_and_a_report_path_are_refused_when_they_cannot_be_written(tmp_path):
    check_folder_writable("--figures", tmp_path / "a" / "b")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="--figures '.*file': '.*file' is a file, not a folder"):
        check_folder_writable("--figures", tmp_path / "file")
    with pytest.raises(InputError, match="--out '.*sub' cannot be made: '.*file' is a file, not a folder"):
        check_folder_writable("--out", tmp_path / "file" / "sub")
    check_report_path("--report", tmp_path / "REPORT.md")
    with pytest.raises(InputError, match="is a folder; give a file path"):
        check_report_path("--report", tmp_path)
    (tmp_path / "R.json").mkdir()
    with pytest.raises(InputError, match=r"\(its REPORT.json\) is a folder"):
        check_report_path("--report", tmp_path / "R.md")


def test_arrays_are_read_or_refused_naming_the_flag(tmp_path):
    np.save(tmp_path / "F.npy", np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(load_array(str(tmp_path / "F.npy"), "--features"), np.arange(6.0).reshape(2, 3))
    assert isinstance(load_array(str(tmp_path / "F.npy"), "--features", memory_map=True), np.memmap)
    with pytest.raises(InputError, match="--features file '.*none.npy' does not exist"):
        load_array(str(tmp_path / "none.npy"), "--features")
    (tmp_path / "empty.npy").write_bytes(b"")
    with pytest.raises(InputError, match="--target file '.*' is empty"):
        load_array(str(tmp_path / "empty.npy"), "--target")
    (tmp_path / "text.npy").write_text("not an array")
    with pytest.raises(InputError, match="--target file '.*' is not a readable .npy array"):
        load_array(str(tmp_path / "text.npy"), "--target")


def test_a_users_model_gets_the_inputs_as_the_loader_returns_them_unless_asked():
    args = argparse.Namespace(data="digits", input_scaling="auto")
    line = user_inputs(args)
    assert args.input_scaling == "none" and "scikit-learn's digits.data / 16" in line
    scaled = argparse.Namespace(data="digits", input_scaling="standardize")
    assert "then scaled 'standardize'" in user_inputs(scaled) and scaled.input_scaling == "standardize"


def test_the_data_flags_give_the_data_set_and_every_class_must_be_present():
    args = build_parser().parse_args(["train", "--data", "digits", "--m", "200"])
    config, dataset = dataset_from_args(args)
    assert config == DatasetConfig(name="digits", m=200) and dataset.m == 200
    small = DatasetConfig(name="digits", m=3)
    with pytest.raises(InputError, match="--m 3 leaves 7 of the 10 classes of --data digits without a training "
                                         "example; use --m 10 or more"):
        check_every_class_present(small, load_dataset(small))
