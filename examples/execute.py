"""Execute the example notebooks (CI does; `python examples/execute.py [--inplace] [NOTEBOOK ...]`).

Each notebook runs in a fresh kernel from its own folder; a failing cell, or a notebook that takes
longer than LIMIT_SECONDS, fails the run (exit status 1). ``--inplace`` writes the outputs back
into the notebooks (how the committed copies were made). Needs the ``[docs]`` extra (nbclient,
ipykernel)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

LIMIT_SECONDS = 60
HERE = Path(__file__).resolve().parent


def execute(path: Path, inplace: bool) -> float:
    """Run every cell of the notebook at ``path``; the wall seconds it took."""
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=LIMIT_SECONDS, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    if inplace:
        nbformat.write(notebook, path)
    return seconds


def main(arguments: list[str]) -> int:
    inplace = "--inplace" in arguments
    paths = [Path(a) for a in arguments if a != "--inplace"] or sorted(HERE.glob("*.ipynb"))
    slow = []
    for path in paths:
        seconds = execute(path, inplace)
        print(f"{path.name}: executed in {seconds:.1f} s")
        if seconds > LIMIT_SECONDS:
            slow.append(path.name)
    if slow:
        print(f"over the {LIMIT_SECONDS} s limit: {', '.join(slow)}", file=sys.stderr)
        return 1
    print(f"{len(paths)} notebooks executed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
