"""Lean highlighting (docs_tools/lean_highlighting.py): fewer elements, the same code."""

from __future__ import annotations

import html
import re

import markdown

from docs_tools import lean_highlighting


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_names_lose_their_span_and_neighbours_of_one_class_merge():
    code = ('<code><span class="n">print</span><span class="p">(</span><span class="n">x</span>'
            '<span class="p">)</span><span class="p">)</span><span class="p">:</span> '
            '<span class="k">if</span></code>')
    lean = lean_highlighting.lean(code)
    assert lean == ('<code>print<span class="p">(</span>x<span class="p">)):</span> '
                    '<span class="k">if</span></code>')
    assert text_of(lean) == text_of(code)


def test_only_code_is_touched_in_a_page():
    page = markdown.markdown(
        '<p><span class="n">kept</span></p>\n\n```python\nprint(x)\n```\n',
        extensions=["fenced_code", "codehilite", lean_highlighting.makeExtension()])
    assert '<span class="n">kept</span>' in page
    assert '<span class="n">print</span>' not in page and "print" in page


def test_the_built_pages_use_it(built_site):
    """Markdown pages carry no name spans (notebook pages are highlighted by nbconvert)."""
    pages = [p.read_text() for p in built_site.rglob("index.html")]
    markdown_pages = [page for page in pages if "jupyter-wrapper" not in page]
    assert sum(page.count("<code>") for page in markdown_pages) > 100
    assert not any('<span class="n">' in page for page in markdown_pages)


def test_a_code_block_carries_its_line_count_and_inline_code_does_not():
    page = markdown.markdown(
        "Call `print(x)` here.\n\n```python\nfor x in y:\n    print(x)\n\nend()\n```\n",
        extensions=["fenced_code", "codehilite", lean_highlighting.makeExtension()])
    assert page.count('style="--lines: 4"') == 1  # four lines, the blank one included
    assert "<code>print(x)</code>" in page


def test_every_code_block_in_the_built_pages_has_its_line_count(built_site):
    """extra.css keeps a block that is not laid out yet at this height."""
    blocks = 0
    for page in built_site.rglob("index.html"):
        for found in re.finditer(r'<div class="language-[\w-]+ highlight">.*?<code([^>]*)>(.*?)'
                                 r"</code>", page.read_text(), re.S):
            blocks += 1
            lines = found.group(2).count("\n") + (not found.group(2).endswith("\n"))
            assert f'style="--lines: {lines}"' in found.group(1), found.group(0)[:200]
    assert blocks > 100
