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
_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc):(?=<code>)")
_LINK = re.compile(r"\]\((?:\./)?(" + "|".join(re.escape(target) for target in LINKS) + r")(?=[)#])")


def rewrite_links(text: str) -> str:
    """The markdown ``text`` with every link to one of ``LINKS`` pointed at its page."""
    return _LINK.sub(lambda match: "](" + LINKS[match.group(1)], text)


def on_files(files, config):
    for page, source in PAGES.items():
        files.append(File.generated(config, page, content=rewrite_links((ROOT / source).read_text())))
    for figure in sorted((ROOT / "figures").glob("*.png")):
        files.append(File.generated(config, f"figures/{figure.name}", abs_src_path=str(figure)))
    return files


def on_page_content(html, page, config, files):
    return _ROLE.sub("", html)
