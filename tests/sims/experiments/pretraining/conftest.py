"""The quick E3 run, once for the package's tests (cells, claims, figures read its rows)."""

import pytest

from sims.experiments import pretraining

from tests.helpers import quiet_run


@pytest.fixture(scope="package")
def quick_pretraining(tmp_path_factory):
    return quiet_run("pretraining", pretraining.quick(), tmp_path_factory.mktemp("e3"))
