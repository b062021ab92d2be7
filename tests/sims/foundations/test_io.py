"""sims.foundations.io: a file is written whole or not at all, and names are checked against a registry."""

import os

import pytest

from sims.foundations.errors import InputError
from sims.foundations.io import atomic_write, check_choice, check_choices


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


def test_a_killed_writes_temporary_is_removed_and_a_live_ones_kept(tmp_path):
    from sims.foundations.io import remove_stale_temporaries

    dead = 2 ** 22 + 12345  # above Linux's default pid_max: no such process
    stale = [tmp_path / f".rows.csv.{dead}-ab12cd34.tmp", tmp_path / ".rows.csv.ab12cd34.tmp"]  # the latter: old name
    kept = [tmp_path / f".fig.png.{os.getppid()}-ab12cd34.tmp", tmp_path / f".fig.png.{os.getpid()}-ab12cd34.tmp",
            tmp_path / "notes.tmp", tmp_path / "rows.csv"]
    for path in stale + kept:
        path.write_bytes(b"")
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted(stale)
    assert all(path.exists() for path in kept) and not any(path.exists() for path in stale)
    assert remove_stale_temporaries(tmp_path / "missing") == []


def test_atomic_writes_temporary_names_its_process(tmp_path):
    seen = []
    atomic_write(tmp_path / "out.txt", lambda temporary: seen.append(os.path.basename(temporary)))
    assert seen[0].startswith(f".out.txt.{os.getpid()}-") and seen[0].endswith(".tmp")


def test_a_torch_file_with_zeroed_bytes_is_named_before_loading(tmp_path):
    import torch

    from sims.foundations.io import check_torch_file

    path = tmp_path / "w.pt"
    torch.save({"weight": torch.arange(4000.0)}, path)
    check_torch_file(path, "--model")  # intact: accepted
    data = bytearray(path.read_bytes())
    data[len(data) // 2:len(data) // 2 + 64] = bytes(64)
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"--model file '.*w.pt' is damaged \(member .* fails its CRC check\)"):
        check_torch_file(path, "--model")
    check_torch_file(tmp_path / "missing.pt", "--model")  # left to the loader to name
