"""The package structure: every module of sims/ and theory/ imports on its own, the module
import graph has no cycle, and theory/ never imports sims/."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sims", "theory")


def _modules() -> dict[str, Path]:
    """Dotted name -> file of every module of the project's packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports, at any depth of its code (imports inside
    functions count). ``from a import b`` names the module ``a.b`` when that is a module and
    ``a`` otherwise; a module's own parent packages, which Python imports before any module,
    are not edges."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    targets.add(submodule if submodule in modules else node.module)
        parents = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        graph[name] = {target for target in targets if target in modules and target != name} - parents
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of nodes (first == last), or None."""
    state = {}  # node -> "open" while on the depth-first path, "done" afterwards
    path = []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_find_cycle_finds_one_and_accepts_a_dag():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_module_import_graph_has_no_cycle():
    graph = import_graph()
    assert "sims.experiments.runner" in graph and "theory.claims" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_theory_never_imports_sims():
    graph = import_graph()
    offending = {name: sorted(t for t in targets if t.startswith("sims"))
                 for name, targets in graph.items() if name.startswith("theory")}
    assert not any(offending.values()), offending


# The layers of sims/, lowest first. A module may import from its own subpackage and the ones
# before it, never from one after it; theory/ sits below all of them. The package's own
# __init__ and __main__ (the public surface and `python -m sims`) sit above every layer.
# results (the row schema, filter, reader and writer) sits just above foundations: plotting's seed
# bands filter rows and pruning's `gfs compare` writes them.
LAYERS = ("foundations", "results", "selection", "metrics", "plotting", "nets", "data", "baselines", "pruning",
          "experiments", "reporting", "cli")


def layer_of(module: str) -> int:
    """Position of a module in LAYERS (theory: -1; the top package sims itself: len(LAYERS));
    a module of sims/ outside every layer raises, so a new subpackage must be placed."""
    parts = module.split(".")
    if parts[0] == "theory":
        return -1
    if len(parts) == 1:
        return len(LAYERS)
    if parts[1] == "__main__":
        return len(LAYERS)
    if parts[1] not in LAYERS:
        raise ValueError(f"{module} is in no layer: add its subpackage to LAYERS")
    return LAYERS.index(parts[1])


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every edge "a -> b" of the graph from a lower layer to a higher one."""
    return sorted(f"{source} -> {target}" for source, targets in graph.items() for target in targets
                  if layer_of(target) > layer_of(source))


def test_upward_imports_finds_an_edge_that_points_up_and_accepts_downward_ones():
    assert upward_imports({"sims.nets.model": {"sims.selection.engine", "sims.foundations.io", "theory.bounds"}}) == []
    assert upward_imports({"sims.selection.engine": {"sims.nets.model"}}) == ["sims.selection.engine -> sims.nets.model"]
    assert upward_imports({"theory.claims": {"sims.cli.commands"}}) == ["theory.claims -> sims.cli.commands"]
    with pytest.raises(ValueError, match="no layer"):
        layer_of("sims.newthing.module")


def test_every_import_of_sims_points_down_the_layers():
    graph = import_graph()
    assert all(layer_of(name) is not None for name in graph)
    assert upward_imports(graph) == []


def function_local_imports(path: Path) -> list[str]:
    """'line: module' for every import of a project module made inside a function or method
    (an optional third-party dependency may be imported there; the project's own modules are
    imported at the top, where the dependency graph can be read)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                names = ([inner.module or ""] if isinstance(inner, ast.ImportFrom) and inner.level == 0 else
                         [alias.name for alias in inner.names] if isinstance(inner, ast.Import) else [])
                found += [f"{inner.lineno}: {name}" for name in names if name.split(".")[0] in PACKAGES]
    return sorted(set(found))


def test_function_local_imports_finds_one(tmp_path):
    source = tmp_path / "module.py"
    source.write_text("import numpy\n\ndef f():\n    import matplotlib\n    from sims.nets import model\n")
    assert function_local_imports(source) == ["5: sims.nets"]


def test_no_module_imports_the_project_inside_a_function():
    offending = {name: function_local_imports(path) for name, path in _modules().items()}
    assert {name: lines for name, lines in offending.items() if lines} == {}


MAX_MODULE_LINES = 500


def test_every_module_is_under_the_size_limit():
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    assert {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES} == {}


# One fresh interpreter imports each module with no module of the project loaded before it
# (the project's entries of sys.modules are removed between imports; third-party packages stay
# loaded, which only saves time): the same test as `python -c "import X"` for every X.
_IMPORT_EACH_ALONE = """
import importlib, sys, traceback
failures = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m.split(".")[0] in ("sims", "theory")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failures.append(name + ": " + traceback.format_exc(limit=3))
print("\\n".join(failures))
sys.exit(1 if failures else 0)
"""


def test_every_module_imports_alone():
    names = sorted(_modules())
    result = subprocess.run([sys.executable, "-c", _IMPORT_EACH_ALONE, *names], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["sims.experiments.runner", "sims.experiments.rates"])
def test_runner_and_an_experiment_import_alone_in_a_fresh_interpreter(name):
    """The two ends of the former cycle, each by a literal `python -c "import X"`."""
    result = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def _public_names_defined_in(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if not name.startswith("_") and name != "__all__"}


@pytest.mark.parametrize("name", ["sims.data.datasets", "sims.foundations.errors", "sims.experiments.record", "sims.cli.flags", "sims.foundations.constraints",
                                  "sims.foundations.guards", "sims.foundations.io", "sims.nets.model", "sims.pruning.prune", "sims.experiments.runner",
                                  "sims.selection.engine", "sims.nets.train"])
def test_public_modules_list_their_public_names(name):
    """``__all__`` names only what exists and every public name the module defines."""
    import importlib

    module = importlib.import_module(name)
    assert all(hasattr(module, listed) for listed in module.__all__)
    missing = _public_names_defined_in(_modules()[name]) - set(module.__all__)
    assert not missing, f"{name}.__all__ lacks {sorted(missing)}"


# ---------------------------------------------------------------- the public surface

@pytest.mark.parametrize("package", PACKAGES)
def test_the_public_surface_lists_only_names_that_exist(package):
    import importlib

    module = importlib.import_module(package)
    assert module.__all__ and len(set(module.__all__)) == len(module.__all__)
    assert [name for name in module.__all__ if not hasattr(module, name)] == []
    assert (ROOT / package / "py.typed").is_file()


def test_sims_select_and_train_are_the_functions_whatever_was_imported_first():
    """The package re-exports the functions select and train; their modules live in subpackages
    (sims.selection.engine, sims.nets.train), so importing those first leaves the names bound to
    the functions, and no module of the package is called sims.select or sims.train."""
    code = ("import sims.selection.engine, sims.nets.train, sims.experiments.runner\nimport sims\n"
            "from sims.selection.engine import METHODS\nfrom sims.nets.train import TrainConfig\n"
            "assert sims.select is sims.selection.engine.select and sims.train is sims.nets.train.train\n"
            "assert sims.METHODS is METHODS and sims.TrainConfig is TrainConfig\n"
            "print(sims.__version__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    from importlib import metadata

    assert result.stdout.strip() == metadata.version("gfs-toolkit")
    assert not {"sims.select", "sims.train"} & set(_modules())


def test_python_dash_m_sims_is_the_command_line():
    result = subprocess.run([sys.executable, "-m", "sims", "list"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("experiments:") and "methods:" in result.stdout
    refused = subprocess.run([sys.executable, "-m", "sims", "select", "--features", "absent.npy", "--target",
                              "absent.npy", "-n", "2"], capture_output=True, text=True, cwd=ROOT)
    assert refused.returncode == 2 and refused.stderr.startswith("gfs select: error:")
