"""The test tree mirrors the package: every module ``<package>/<path>/<module>.py`` of sims/ and
theory/ (at any depth, the package files ``__init__.py`` and ``__main__.py`` aside: tests/test_imports.py
covers them) has its own test file
``tests/<package>/<path>/test_<module>.py``, and every test folder of that tree is a package (two
files may share a name, e.g. tests/theory/test_rates.py and tests/sims/experiments/test_rates.py).
Adding a module means adding its test file; this test says which one is missing."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sims", "theory")
PACKAGE_FILES = ("__init__.py", "__main__.py")


def mirrored(module: str) -> str:
    """The test file of a module, both as paths relative to the repository root."""
    path = PurePosixPath(module)
    return str(PurePosixPath("tests", *path.parent.parts, f"test_{path.name}"))


def _modules() -> list[str]:
    return sorted(path.relative_to(ROOT).as_posix() for package in PACKAGES for path in (ROOT / package).rglob("*.py")
                  if path.name not in PACKAGE_FILES)


def test_mirrored_path():
    assert mirrored("sims/selection/engine.py") == "tests/sims/selection/test_engine.py"
    assert mirrored("sims/experiments/rates.py") == "tests/sims/experiments/test_rates.py"
    assert mirrored("theory/rates.py") == "tests/theory/test_rates.py"
    assert mirrored("sims/a/b/c.py") == "tests/sims/a/b/test_c.py"


def test_the_walk_finds_modules_at_every_depth_and_skips_package_files():
    modules = _modules()
    assert "sims/selection/engine.py" in modules and "theory/geometry.py" in modules
    assert "sims/experiments/rates.py" in modules
    assert not any(module.endswith(("__init__.py", "__main__.py")) for module in modules)


def test_every_module_has_its_mirrored_test_file():
    missing = [f"{mirrored(module)} (for {module})" for module in _modules() if not (ROOT / mirrored(module)).is_file()]
    assert missing == [], "add a test file of its own for each module: " + ", ".join(missing)


def test_every_mirrored_test_folder_is_a_package():
    folders = {(ROOT / mirrored(module)).parent for module in _modules()}
    not_packages = sorted(folder.relative_to(ROOT).as_posix() for folder in folders
                          if folder.is_dir() and not (folder / "__init__.py").is_file())
    assert not_packages == [], f"add an __init__.py to {not_packages}"
