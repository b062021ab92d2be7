"""Constraints declared once, in field metadata, and checked by one function (sims.foundations.constraints):
one test over every config class refuses, for every declared constraint, a value that breaks it,
and accepts the defaults."""

import dataclasses
import math
import typing

import pytest

from sims.foundations.constraints import check_fields, constrained
from sims.data.datasets import DatasetConfig
from sims.foundations.errors import InputError
from sims.experiments import EXPERIMENTS
from sims.nets.model import NetworkConfig
from sims.selection.sharded import ShardingConfig
from sims.nets.train import TrainConfig

# SelectionConfig is left out on purpose: select() checks its values itself.
CONFIG_CLASSES = [DatasetConfig, TrainConfig, NetworkConfig, ShardingConfig] + [
    e.config_class for e in EXPERIMENTS.values()]


def _bad_values(field, annotation) -> list:
    """Values that break the constraints declared by ``field``'s metadata."""
    origin = typing.get_origin(annotation)
    members = [a for a in typing.get_args(annotation) if a is not type(None)] if origin is not tuple else []
    plain = members[0] if len(members) == 1 else annotation
    is_tuple = typing.get_origin(plain) is tuple
    bad = []
    if "choices" in field.metadata:
        bad.append(("no-such-choice",) if is_tuple else "no-such-choice")
    value_range = field.metadata.get("range")
    if value_range is not None:
        kind = typing.get_args(plain)[0] if is_tuple else plain
        numbers = [-1, "x"] + ([0] if value_range == "positive" else [])
        if kind is int:
            numbers += [True, 2.5]
        else:
            numbers += [math.nan, math.inf]
        bad += [(value,) for value in numbers] if is_tuple else numbers
    return bad


CASES = [
    pytest.param(config_class, field.name, value, id=f"{config_class.__name__}.{field.name}={value!r}")
    for config_class in CONFIG_CLASSES
    for field in dataclasses.fields(config_class)
    for value in _bad_values(field, typing.get_type_hints(config_class)[field.name])
]


@pytest.mark.parametrize("config_class", CONFIG_CLASSES, ids=lambda c: c.__name__)
def test_defaults_pass(config_class):
    check_fields(config_class())


def test_the_configs_declare_constraints():
    declared = {c.__name__ for c in CONFIG_CLASSES
                if any({"range", "choices"} & set(f.metadata) for f in dataclasses.fields(c))}
    assert {"DatasetConfig", "TrainConfig", "NetworkConfig", "RatesConfig"} <= declared
    assert len(CASES) > 60


@pytest.mark.parametrize("config_class,name,value", CASES)
def test_every_declared_constraint_is_enforced(config_class, name, value):
    field = {f.name: f for f in dataclasses.fields(config_class)}[name]
    with pytest.raises(InputError, match=field.metadata.get("label", name)):
        dataclasses.replace(config_class(), **{name: value})


def test_none_passes_where_the_annotation_allows_it():
    assert DatasetConfig(m=None).m is None and TrainConfig(batch_size=None, target_loss=None).batch_size is None


def test_messages_name_the_field_and_what_is_accepted():
    @dataclasses.dataclass(frozen=True)
    class Example:
        size: int = constrained(3, value_range="positive")
        kind: str = constrained("a", choices=lambda: ("a", "b"), label="example kind")

        def __post_init__(self):
            check_fields(self)

    with pytest.raises(InputError, match=r"size must be a positive integer, got 0"):
        Example(size=0)
    with pytest.raises(InputError, match=r"unknown example kind 'c'; valid: a, b"):
        Example(kind="c")
