"""Every link README.md and its reference pages (docs/*.md) give to a file of the tree, or to a heading, lands.

Passages move between README and docs/ (README keeps a summary and a link); a link to a page or a heading that
moved or was renamed would send a reader nowhere, and GitHub says nothing about it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text: lower case, punctuation other than '-' and '_' dropped (backquotes,
    colons, commas, apostrophes), each space a '-' (so "Manifests: `-f`" is "manifests--f")."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings, outside fenced code (a ``# comment`` line in a block is no heading)."""
    found, fenced = set(), False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"#{1,6} (.+)", line)):
            found.add(slug(m.group(1)))
    return found


def broken(page: Path) -> list[str]:
    """The page's links to a path that does not exist, or to an anchor the target page has no heading for."""
    bad = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):  # https:, mailto: and the like: not the tree's
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{target} (no {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest})")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{target} (no heading of {dest.name} has that anchor)")
    return bad


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_link_lands(page: Path) -> None:
    assert not broken(page)


def test_readme_links_each_reference_page() -> None:
    """A page of docs/ that README does not link is one a reader never finds."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = {t.partition("#")[0] for t in LINK.findall(readme)}
    assert [p.name for p in PAGES[1:] if f"docs/{p.name}" not in linked] == []


def test_the_check_catches_a_moved_heading(tmp_path: Path) -> None:
    """The check itself: a link to a heading renamed, and one to a page gone, are caught; GitHub's slugs are kept."""
    (tmp_path / "a.md").write_text("# Top\n\n## Manifests: `-f`\n\n```sh\n# not a heading\n```\n")
    page = tmp_path / "b.md"
    page.write_text("[x](a.md#manifests--f) [y](a.md#manifests) [z](gone.md) [w](a.md#not-a-heading) "
                    "[v](https://example.com/x#y)\n")
    assert [b.split(" ")[0] for b in broken(page)] == ["a.md#manifests", "gone.md", "a.md#not-a-heading"]
    assert slug("A Service's name in `send --to` and `dist --to`") == "a-services-name-in-send---to-and-dist---to"
