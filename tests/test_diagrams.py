"""Diagrams drawn at build time (docs_tools/mermaid.py draws, docs_tools/diagrams.py inlines).

The browser suite (tests/site/test_pages.py) checks what a reader sees of each drawing: text
size, contrast in both schemes, scrolling. These check the sources, the cache and the HTML.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path

import pytest

from docs_tools import diagrams, mermaid

FENCES = mermaid.fences()
IDS = [f"{path.relative_to(mermaid.ROOT)}: {source.splitlines()[0]}"
       for source, path in FENCES.items()]


def test_the_pages_have_diagrams():
    assert len(FENCES) > 40


@pytest.mark.parametrize("source", FENCES, ids=IDS)
def test_every_diagram_has_an_accessible_name_and_description(source: str):
    """accTitle and accDescr become the drawing's <title> and <desc>, which screen readers
    announce and search indexes."""
    assert re.search(r"^\s*accTitle:\s*\S", source, re.M), "add an accTitle: line"
    assert re.search(r"^\s*accDescr(:\s*\S|\s*\{)", source, re.M), "add an accDescr: line"


@pytest.mark.parametrize("source", FENCES, ids=IDS)
def test_every_diagram_is_drawn_in_the_cache(source: str):
    """A fence without its drawing would make readers download Mermaid: `make diagrams`."""
    assert mermaid.cached_path(source).is_file(), "run `make diagrams` and commit diagram-cache/"


def test_the_cache_holds_no_drawing_that_no_page_uses():
    wanted = {mermaid.cached_path(source).name for source in FENCES}
    unused = sorted(path.name for path in mermaid.CACHE.glob("*.svg") if path.name not in wanted)
    assert unused == [], "run `make diagrams`, which deletes them"


@pytest.mark.parametrize("source", FENCES, ids=IDS)
def test_every_colour_of_a_drawing_follows_the_colour_scheme(source: str):
    """After inlining, no literal colour is left in the drawing: each one is a CSS variable
    that figures.css defines for the light and the dark scheme."""
    html = diagrams.inline_svg(mermaid.cached_path(source).read_text(encoding="utf-8"), set())
    literal = [c for c in diagrams.LITERAL_COLOUR.findall(html)
               if c.lower() not in diagrams.NEUTRAL]
    assert literal == []
    assert "var(--diagram-" in html


def test_a_drawing_keeps_natural_size_and_a_minimum_width_for_12_px_text():
    source = next(iter(FENCES))
    raw = mermaid.cached_path(source).read_text(encoding="utf-8")
    width, _ = mermaid.size(raw)
    smallest = float(re.search(r'data-min-font-px="([\d.]+)"', raw).group(1))
    html = diagrams.inline_svg(raw, set())
    assert f'width="{width:.0f}"' in html
    min_width = int(re.search(r'min-width: (\d+)px', html).group(1))
    expected = min(math.ceil(width * diagrams.MIN_TEXT_PX / smallest), math.ceil(width))
    assert min_width == expected


def test_kind_stylesheets_are_emitted_once_per_page():
    sequences = [s for s in FENCES if s.startswith("sequenceDiagram")][:2]
    emitted: set[str] = set()
    first, second = (diagrams.inline_svg(mermaid.cached_path(s).read_text(encoding="utf-8"),
                                         emitted) for s in sequences)
    assert "<style>" in first and "<style>" not in second


def test_unused_definitions_are_dropped():
    svg = ('<svg><defs><marker id="a-arrowhead"><path/></marker></defs>'
           '<defs><symbol id="a-database"><path d="M0 0"/></symbol></defs>'
           '<line marker-end="url(#a-arrowhead)"/></svg>')
    kept = diagrams.without_unused_definitions(svg)
    assert "a-arrowhead" in kept and "a-database" not in kept


def test_ids_are_made_unique_to_their_drawing():
    body = '<g id="actor0"><rect/></g><use href="#actor0"/><path id="mmd-x-arrowhead"/>'
    unique = diagrams.with_unique_ids(body, "mmd-x")
    assert 'id="mmd-x-actor0"' in unique and 'href="#mmd-x-actor0"' in unique
    assert 'id="mmd-x-arrowhead"' in unique


def test_no_page_defines_an_id_twice(built_site: Path):
    repeated = {}
    for page in built_site.rglob("*.html"):
        ids = Counter(re.findall(r'\sid="([^"]+)"', page.read_text(encoding="utf-8")))
        twice = sorted(ident for ident, count in ids.items() if count > 1)
        if twice:
            repeated[str(page.relative_to(built_site))] = twice[:5]
    assert repeated == {}


def test_search_finds_diagram_labels_but_not_mermaid_source(built_site: Path):
    """Labels are page text (a reader may search "SYN-ACK"); Mermaid's source is not."""
    index = json.loads((built_site / "search" / "search_index.json").read_text())
    text = " ".join(doc["text"] for doc in index["docs"])
    assert "SYN-ACK" in text
    for source_only in ("sequenceDiagram", "flowchart TB", "accTitle", "-->>", "participant "):
        assert source_only not in text, source_only


def test_a_diagram_mermaid_cannot_parse_is_a_clear_error():
    """Drawing really runs the vendored Mermaid in headless Chromium (about 2 s)."""
    with pytest.raises(mermaid.DrawingError, match="flowchart TB"):
        mermaid.draw(["flowchart TB\n    A -->\n"])


def test_drawing_makes_an_svg_with_its_smallest_font_measured():
    [svg] = mermaid.draw(["flowchart TB\n    accTitle: Probe\n    accDescr: Two boxes.\n"
                          "    A[client] --> B[server]\n"])
    assert svg.startswith("<svg") and "client" in svg and "<title" in svg
    assert float(re.search(r'data-min-font-px="([\d.]+)"', svg).group(1)) == 16
