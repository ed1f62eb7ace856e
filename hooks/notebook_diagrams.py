"""Notebook pages draw their ```mermaid fences at build time too, like every other page.

mkdocs-jupyter renders a notebook's Markdown cells with nbconvert, which leaves a Mermaid fence
for Mermaid's JavaScript to draw in the browser. This hook gives nbconvert's renderer the site's
drawing (docs_tools/diagrams.py), and keeps nbconvert's own output only for a diagram that has no
drawing and no Chromium to make one (the build says so).
"""

from __future__ import annotations

from nbconvert.filters.markdown_mistune import IPythonRenderer

from docs_tools import diagrams

nbconvert_mermaid = IPythonRenderer.block_mermaidjs


def block_mermaidjs(self: IPythonRenderer, code: str) -> str:
    raw = diagrams.drawing(code)
    if raw is None:
        return nbconvert_mermaid(self, code)
    return diagrams.inline_svg(raw, set())  # a notebook page has one diagram: its own styles


def on_config(config):  # the MkDocs hook signature
    IPythonRenderer.block_mermaidjs = block_mermaidjs
    return config
