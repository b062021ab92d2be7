"""A config from a parsed TOML table or config.json: unknown keys, wrong types, lists too long."""

from dataclasses import dataclass

import pytest

from sims.experiments.configs import MAX_CELLS, config_from_mapping
from sims.foundations.errors import InputError


@dataclass(frozen=True)
class ToyConfig:
    cells: int = 8
    pause: float = 0.0
    seed: int = 0
    names: tuple[str, ...] = ("a",)
    limit: int | None = None


def test_config_from_mapping_sets_keys_over_the_defaults_or_a_base():
    assert config_from_mapping(ToyConfig, {"cells": 2}) == ToyConfig(cells=2)
    assert config_from_mapping(ToyConfig, {"names": ["x", "y"]}).names == ("x", "y")  # lists become tuples
    base = ToyConfig(seed=7)
    assert config_from_mapping(ToyConfig, {"cells": 2}, base) == ToyConfig(cells=2, seed=7)
    assert config_from_mapping(ToyConfig, {"pause": 1}).pause == 1  # an integer is a number


def test_config_from_mapping_rejects_unknown_keys_listing_the_valid_ones():
    with pytest.raises(InputError, match="unknown config key.*cels; valid: cells, limit, names, pause, seed"):
        config_from_mapping(ToyConfig, {"cels": 2})


@pytest.mark.parametrize("mapping, fragment", [
    ({"cells": "eight"}, "config key cells must be an integer, got 'eight'"),
    ({"cells": True}, "config key cells must be an integer"),  # a boolean is not an integer
    ({"pause": "1"}, "config key pause must be a number"),
    ({"names": ["x", 2]}, "config key names must be a list of strings"),
    ({"limit": 1.5}, "config key limit must be an integer or none"),
])
def test_config_from_mapping_rejects_a_value_of_the_wrong_type_naming_the_key(mapping, fragment):
    with pytest.raises(InputError, match=fragment):
        config_from_mapping(ToyConfig, mapping)


def test_a_list_longer_than_a_run_takes_is_refused_before_anything_else():
    with pytest.raises(InputError, match=f"config key names holds {MAX_CELLS + 1:,} entries"):
        config_from_mapping(ToyConfig, {"names": ["x"] * (MAX_CELLS + 1)})
