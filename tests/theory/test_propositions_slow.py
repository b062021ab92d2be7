"""The property tests of P1-P4 with a four times larger example budget (marked slow: under a
minute here; run with `python -m pytest -m slow`)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_p1_to_p4_hold_on_four_times_as_many_instances():
    environment = dict(os.environ, GFS_PROPERTY_EXAMPLES="400")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(Path(__file__).with_name("test_propositions.py")),
         "-k", "p1_gfs or p2_gfs or p3_fast or p4_exponential"],
        capture_output=True, text=True, env=environment,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout and "failed" not in result.stdout and "deselected" in result.stdout
