"""Composed configs: the flat record a nested config is stored, hashed and read by."""

import dataclasses
from dataclasses import dataclass

import pytest

from sims.foundations.composed import (cell_record, flat_annotations, flat_defaults, flat_keys, flat_record,
                                       from_flat_record, nested, with_keys)
from sims.foundations.constraints import check_fields, constrained
from sims.foundations.errors import InputError


@dataclass(frozen=True)
class Inner:
    width: int = constrained(10, value_range="positive")
    lr: float = constrained(1.0, value_range="positive")
    batch: int | None = None

    def __post_init__(self):
        check_fields(self)


@dataclass(frozen=True)
class Outer:
    seeds: tuple[int, ...] = (0, 1)
    first: Inner = nested(Inner(width=20), flat={"width": "first_width", "lr": "lr"})
    n: int = 5
    second: Inner = nested(Inner(width=30), flat={"width": "second_width", "lr": "lr"})


@dataclass(frozen=True)
class Flat:
    a: int = 1
    b: tuple[int, ...] = (2, 3)


def test_a_flat_config_is_its_own_record():
    assert flat_record(Flat(a=4)) == dataclasses.asdict(Flat(a=4))
    assert list(flat_record(Flat())) == ["a", "b"]
    assert flat_defaults(Flat) == {"a": 1, "b": (2, 3)}
    assert from_flat_record(Flat, {"b": (5,)}) == Flat(b=(5,))


def test_nested_fields_are_flattened_to_their_keys_in_order():
    assert flat_record(Outer()) == {"seeds": (0, 1), "first_width": 20, "lr": 1.0, "n": 5, "second_width": 30}
    assert flat_keys(Outer) == ["seeds", "first_width", "lr", "n", "second_width"]
    assert flat_defaults(Outer) == flat_record(Outer())


def test_a_shared_key_sets_every_nested_field_and_a_difference_is_dotted():
    config = from_flat_record(Outer, {"lr": 0.5})
    assert config.first.lr == config.second.lr == 0.5
    apart = dataclasses.replace(config, second=dataclasses.replace(config.second, lr=2.0))
    record = flat_record(apart)
    assert record["lr"] == 0.5 and record["second.lr"] == 2.0
    assert from_flat_record(Outer, record) == apart


def test_an_unexposed_nested_field_away_from_its_default_is_dotted_and_round_trips():
    config = dataclasses.replace(Outer(), first=dataclasses.replace(Outer().first, batch=7))
    record = flat_record(config)
    assert record["first.batch"] == 7 and "second.batch" not in record
    assert from_flat_record(Outer, record) == config
    assert flat_annotations(Outer)["first.batch"] == int | None
    assert flat_annotations(Outer)["first_width"] is int


def test_from_flat_record_names_the_key_not_the_nested_field():
    with pytest.raises(InputError, match="^first_width must be a positive integer, got 0$"):
        from_flat_record(Outer, {"first_width": 0})
    with pytest.raises(InputError, match="unknown config key"):
        from_flat_record(Outer, {"width": 3})


def test_with_keys_changes_keys_of_a_config():
    config = with_keys(Outer(), first_width=7, n=2)
    assert config.first.width == 7 and config.n == 2 and config.second == Outer().second


def test_nested_refuses_a_key_for_a_field_the_config_lacks():
    with pytest.raises(TypeError, match="no field"):
        nested(Inner(), flat={"depth": "depth"})


def test_cell_record_drops_the_optional_fields_a_cell_does_not_have():
    @dataclass(frozen=True)
    class Cell:
        kind: str
        seed: int
        n: int | None = None

    assert cell_record(Cell("select", 3)) == {"kind": "select", "seed": 3}
    assert cell_record(Cell("direct", 3, 10)) == {"kind": "direct", "seed": 3, "n": 10}
    assert cell_record({"seed": 1}) == {"seed": 1}
