"""sims.io: a file is written whole or not at all, and names are checked against a registry."""

import os

import pytest

from sims.errors import InputError
from sims.io import atomic_write, check_choice, check_choices


def test_atomic_write_writes_the_file_with_the_usual_mode(tmp_path):
    path = tmp_path / "deep" / "out.txt"
    atomic_write(path, lambda temporary: open(temporary, "w").write("done"))
    assert path.read_text() == "done" and os.listdir(path.parent) == ["out.txt"]
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_atomic_write_leaves_neither_file_nor_temporary_when_writing_fails(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")

    def fail(temporary):
        open(temporary, "w").write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, fail)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["out.txt"]


def test_name_checks_name_the_parameter_and_the_valid_values():
    assert check_choice("method", "gfs", ("gfs", "fw")) == "gfs"
    with pytest.raises(InputError, match=r"unknown method 'nope'; valid: gfs, fw"):
        check_choice("method", "nope", ("gfs", "fw"))
    assert check_choices("methods", ["fw"], ("gfs", "fw")) == ("fw",)
    with pytest.raises(InputError, match="methods must not be empty"):
        check_choices("methods", [], ("gfs", "fw"))
    assert check_choices("methods", [], ("gfs",), allow_empty=True) == ()
    with pytest.raises(InputError, match=r"unknown methods \['x'\]"):
        check_choices("methods", ["gfs", "x"], ("gfs", "fw"))
