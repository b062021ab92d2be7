"""mkdocs hook: README.md, BENCHMARKS.md and CHANGELOG.md become pages of the site, unchanged but
for their links to each other and to docs/THEORY.md, and the committed figures/*.png are copied
in, so the pages' relative image links resolve. Each text is written once, in the repository.
The docstrings' Sphinx roles (:class:`X`, :func:`f`) are shown as the code they name."""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
#: page of the site -> file of the repository
PAGES = {"guide.md": "README.md", "benchmarks.md": "BENCHMARKS.md", "changelog.md": "CHANGELOG.md"}
#: a link target in those files -> the page it becomes
LINKS = {"docs/THEORY.md": "THEORY.md", **{source: page for page, source in PAGES.items()}}
_FILE_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")
_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc):(?=<code>)")
_LINK = re.compile(r"\]\((?:\./)?(" + "|".join(re.escape(target) for target in LINKS) + r")(?=[)#])")


def rewrite_links(text: str) -> str:
    """The markdown ``text`` with every link to one of ``LINKS`` pointed at its page, and every
    other link to a file of the repository that is no page of the site (``sims/selection/engine.py``)
    reduced to its text; links to anything else are left for mkdocs to check (and refuse)."""
    text = _LINK.sub(lambda match: "](" + LINKS[match.group(1)], text)
    return _FILE_LINK.sub(lambda match: match.group(1) if _repository_file(match.group(2)) else match.group(0), text)


def _repository_file(target: str) -> bool:
    path = target.split("#")[0]
    return (bool(path) and "://" not in path and not path.startswith(("figures/", "/")) and path not in PAGES
            and path not in LINKS.values() and (ROOT / path).exists())


def on_files(files, config):
    for page, source in PAGES.items():
        files.append(File.generated(config, page, content=rewrite_links((ROOT / source).read_text())))
    for figure in sorted((ROOT / "figures").glob("*.png")):
        files.append(File.generated(config, f"figures/{figure.name}", abs_src_path=str(figure)))
    return files


def on_page_content(html, page, config, files):
    return _ROLE.sub("", html)
