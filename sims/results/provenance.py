"""What a results folder's meta.json records about the software that computed it."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

__all__ = ["package_versions", "git_revision"]


def package_versions() -> dict:
    """{"python": version, and numpy, scipy, torch, matplotlib, dask, gfs-toolkit: installed
    version or None}."""
    versions = {"python": platform.python_version()}
    for package in ("numpy", "scipy", "torch", "matplotlib", "dask", "gfs-toolkit"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def git_revision() -> str | None:
    """The commit of the source tree this package runs from, or None outside a git checkout."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        ).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None
