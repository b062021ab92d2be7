"""A results folder: its name from the config, config.json, cell files and their checksums."""

import hashlib
import json
from dataclasses import dataclass

import pytest

from sims.foundations.errors import InputError
from sims.results.folder import (CHECKSUMS, cell_key, config_hash, fields_hash, non_default_fields, prepare_folder,
                                 read_cell, read_checksums, remove_empty_folder, results_folder, same_config,
                                 stored_config, write_cell)
from sims.results.rows import rows_to_csv


@dataclass(frozen=True)
class Config:
    cells: int = 8
    sizes: tuple[int, ...] = (1, 2)
    seed: int = 0


ROWS = [{"experiment": "toy", "method": "g", "n": 1, "metric": "x", "value": 0.5},
        {"experiment": "toy", "method": "g", "n": 2, "metric": "x", "value": 0.25}]


def test_config_hash_uses_only_non_default_fields():
    default, changed = Config(), Config(cells=5, sizes=(3,))
    assert non_default_fields(default) == {} and non_default_fields(changed) == {"cells": 5, "sizes": [3]}
    assert config_hash(default) != config_hash(changed)
    assert config_hash(changed) == config_hash(Config(cells=5, sizes=(3,)))
    # the hash of the fields a meta.json records is the folder's hash
    assert fields_hash(json.loads(json.dumps(non_default_fields(changed)))) == config_hash(changed)
    expected = hashlib.sha256(b'{"cells": 5, "sizes": [3]}').hexdigest()[:10]
    assert config_hash(changed) == expected
    assert results_folder("out", "toy", changed).as_posix() == f"out/toy-{expected}"


def test_cell_key_is_readable_unique_and_filesystem_safe():
    a, b = cell_key({"m": 10, "setup": "mf/x y"}), cell_key({"m": 10, "setup": "mf/x_y"})
    assert a != b and a.startswith("m-10_setup-mf-x-y_")
    assert cell_key({"m": 10, "setup": "mf/x y"}) == a
    assert "/" not in a and " " not in a


def test_write_cell_then_read_cell_gives_the_rows_and_records_the_checksum(tmp_path):
    (tmp_path / "cells").mkdir()
    checksums = {}
    write_cell(tmp_path, "k", ROWS, checksums, {"cpu_seconds": 1.5})
    data = (tmp_path / "cells" / "k.csv").read_bytes()
    assert data == rows_to_csv(ROWS).encode()
    assert checksums == {"k": {"rows": 2, "sha256": hashlib.sha256(data).hexdigest(), "cpu_seconds": 1.5}}
    assert read_checksums(tmp_path) == checksums
    assert [r["value"] for r in read_cell(tmp_path, "k", checksums)] == [0.5, 0.25]


def test_a_changed_or_truncated_cell_file_is_refused(tmp_path):
    (tmp_path / "cells").mkdir()
    checksums = {}
    write_cell(tmp_path, "k", ROWS, checksums, {})
    path = tmp_path / "cells" / "k.csv"
    path.write_text(rows_to_csv(ROWS[:1]))
    with pytest.raises(InputError, match="does not match its checksum"):
        read_cell(tmp_path, "k", checksums)
    assert len(read_cell(tmp_path, "k", {})) == 1  # without a record: the schema only
    with pytest.raises(InputError, match="has 1 rows, checksums.json records 2"):
        read_cell(tmp_path, "k", {"k": {"rows": 2, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}})


@pytest.mark.parametrize("text, fragment", [("{", "not JSON"), ("[1]", "not a JSON object")])
def test_a_damaged_checksums_file_is_refused(tmp_path, text, fragment):
    assert read_checksums(tmp_path) == {}
    (tmp_path / CHECKSUMS).write_text(text)
    with pytest.raises(InputError, match=fragment):
        read_checksums(tmp_path)


def test_prepare_folder_writes_config_json_and_refuses_another_config(tmp_path):
    folder = tmp_path / "out" / "toy-x"
    prepare_folder(folder, "toy", Config(cells=2))
    assert (folder / "cells").is_dir()
    stored = stored_config(folder)
    assert stored == {"experiment": "toy", "config": {"cells": 2, "sizes": [1, 2], "seed": 0}}
    prepare_folder(folder, "toy", Config(cells=2))  # the same config: taken
    with pytest.raises(InputError, match="written by another config"):
        prepare_folder(folder, "toy", Config(cells=3))


def test_same_config_accepts_a_field_added_since_at_its_default_only():
    stored = {"experiment": "toy", "config": {"cells": 2, "sizes": [1, 2]}}  # written before `seed` existed
    assert same_config(stored, "toy", Config(cells=2))
    assert not same_config(stored, "toy", Config(cells=2, seed=1))
    assert not same_config(stored, "other", Config(cells=2))
    assert not same_config({"experiment": "toy", "config": {"cells": 2, "gone": 1}}, "toy", Config(cells=2))


def test_cell_files_without_a_config_json_are_refused(tmp_path):
    (tmp_path / "cells").mkdir()
    (tmp_path / "cells" / "k.csv").write_text("x")
    with pytest.raises(InputError, match="holds cell files but no config.json"):
        prepare_folder(tmp_path, "toy", Config())


@pytest.mark.parametrize("text", ["{", "[]", '{"experiment": 3, "config": {}}', '{"experiment": "toy"}'])
def test_a_damaged_config_json_is_refused(tmp_path, text):
    assert stored_config(tmp_path) is None
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(InputError, match="damaged"):
        stored_config(tmp_path)


def test_remove_empty_folder_removes_a_folder_without_cells_up_to_top(tmp_path):
    top = tmp_path / "out"
    folder = top / "toy-x"
    prepare_folder(folder, "toy", Config())
    remove_empty_folder(folder, top)
    assert not top.exists() and tmp_path.exists()
    prepare_folder(folder, "toy", Config())
    (folder / "cells" / "k.csv").write_text("x")
    remove_empty_folder(folder, top)  # a finished cell: nothing removed
    assert (folder / "config.json").exists()
