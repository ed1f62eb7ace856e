"""A Markdown extension: syntax highlighting with fewer elements, drawn the same.

Pygments wraps every token in a <span>: a page with a few excerpts carries two to three thousand
of them, and a phone's browser lays each out when the page loads (Lighthouse counts it as
blocking time). Two kinds say nothing the reader can see:

- a name (``class="n"``) is drawn in the code's own colour in both of Material's schemes, so
  its span is removed and its text kept;
- tokens of one class that follow each other with nothing between (``)`` ``:`` as three
  punctuation spans) are drawn alike, so they become one span.

Only <code> elements are touched; the text, and so copying and search, are unchanged.

A code block's <code> also gets its line count (``style="--lines: 12"``): the browser lays out a
block only when the reader scrolls near it (``content-visibility`` in extra.css), and until
then keeps the height those lines will take, so that the page does not jump.
"""

from __future__ import annotations

import re

from markdown import Extension
from markdown.postprocessors import Postprocessor

CODE = re.compile(r"(<pre[^>]*>(?:<span></span>)?)?(<code[^>]*>)(.*?)(</code>)", re.S)
NAME = re.compile(r'<span class="n">([^<]*)</span>')
NEIGHBOURS = re.compile(r'<span class="([\w ]+)">([^<]*)</span><span class="\1">')


def lean(code: str) -> str:
    code = NAME.sub(r"\1", code)
    while True:  # merge runs of one class: each pass joins pairs
        merged = NEIGHBOURS.sub(r'<span class="\1">\2', code)
        if merged == code:
            return code
        code = merged


def with_line_count(code_tag: str, code: str) -> str:
    """<code> of a block, with its number of lines as --lines (see the module's docstring)."""
    lines = code.count("\n") + (not code.endswith("\n"))
    return code_tag[:-1] + f' style="--lines: {lines}">'


def leaner(found: re.Match) -> str:
    pre, code_tag, code, end = found.groups()
    if pre and "style=" not in code_tag:
        code_tag = with_line_count(code_tag, code)
    return (pre or "") + code_tag + lean(code) + end


class LeanHighlighting(Postprocessor):
    def run(self, text: str) -> str:
        return CODE.sub(leaner, text)


class LeanHighlightingExtension(Extension):
    def extendMarkdown(self, md) -> None:  # noqa: N802 (Python-Markdown's name)
        # after the stashed HTML (highlighted code) is back in place (priority 30)
        md.postprocessors.register(LeanHighlighting(md), "lean_highlighting", 5)


def makeExtension(**kwargs) -> LeanHighlightingExtension:  # noqa: N802 (Python-Markdown's name)
    return LeanHighlightingExtension(**kwargs)
