"""The Examples sections of the documented public functions run as doctests."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["sims.selection.engine", "theory.bounds", "theory.geometry"])
def test_examples_in_docstrings_hold(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0
