"""What meta.json records about the software."""

import re
import subprocess
from importlib import metadata
from pathlib import Path

from sims.results.provenance import git_revision, package_versions


def test_package_versions_names_python_and_the_installed_packages():
    versions = package_versions()
    assert set(versions) == {"python", "numpy", "scipy", "torch", "matplotlib", "dask", "gfs-toolkit"}
    assert versions["numpy"] == metadata.version("numpy")
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", versions["python"])


def test_git_revision_is_the_checkout_head_or_none():
    root = Path(__file__).resolve().parents[3]
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=root).stdout.strip()
    revision = git_revision()
    assert revision == (head or None)
    if revision is not None:
        assert re.fullmatch(r"[0-9a-f]{40}", revision)
