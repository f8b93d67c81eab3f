"""Every relative link and every backquoted repository path of the newcomer's pages exists:
the README, docs/actions.md, docs/running.md and the examples' READMEs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    ROOT / "README.md",
    ROOT / "docs" / "actions.md",
    ROOT / "docs" / "running.md",
    ROOT / "docs" / "testing.md",
    *sorted((ROOT / "examples").glob("**/README.md")),
]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
PATH = re.compile(r"(?<!\[)`((?:docs|examples|tests|sirocco|bench)/[\w./-]+)`")


@pytest.mark.parametrize("page", PAGES, ids=[str(page.relative_to(ROOT)) for page in PAGES])
def test_links_and_paths_exist(page: Path) -> None:
    text = page.read_text()
    missing = [
        target
        for target in LINK.findall(text)
        if "://" not in target and not (page.parent / target).exists()
    ]
    missing += [path for path in PATH.findall(text) if not (ROOT / path).exists()]
    assert not missing, f"{page.relative_to(ROOT)} points at what is not there: {missing}"
