"""The README is a short newcomer's page whose map reaches every page of docs/, and every relative link of the
documentation lands on a file of the repository (and a heading of it, where it names one)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from devtools import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
DOCS = PROJECT_ROOT / "docs"
README_MAX_LINES = 250
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def documentation() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md")), PROJECT_ROOT / "tests" / "vectors" / "README.md"]


def heading_anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#{1,6} (.+)$", FENCE.sub("", page.read_text()), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def relative_links(page: Path) -> list[str]:
    return [target for target in LINK.findall(FENCE.sub("", page.read_text())) if "://" not in target]


def lands(page: Path, target: str) -> bool:
    path, _, anchor = target.partition("#")
    resolved = (page.parent / path).resolve() if path else page
    if not resolved.is_relative_to(PROJECT_ROOT) or not resolved.exists():
        return False
    return not anchor or resolved.suffix != ".md" or anchor in heading_anchors(resolved)


def test_the_readme_is_short() -> None:
    assert len(README.read_text().splitlines()) <= README_MAX_LINES


def test_the_readme_maps_every_docs_page() -> None:
    linked = {(README.parent / target).resolve() for target in relative_links(README)}
    assert {page.resolve() for page in DOCS.glob("*.md")} <= linked


@pytest.mark.parametrize("page", documentation(), ids=lambda page: str(page.relative_to(PROJECT_ROOT)))
def test_every_relative_link_lands_in_the_repository(page: Path) -> None:
    assert [target for target in relative_links(page) if not lands(page, target)] == []
