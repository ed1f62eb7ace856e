"""Notebook pages' tables arrive in Material's scroll container, like every other page's.

nbconvert renders a notebook's Markdown cells, not Python-Markdown, so the site's extension
(docs_tools/wrapped_tables.py, which says why) does not see their tables.
"""

from __future__ import annotations

from docs_tools.wrapped_tables import wrapped_html


def on_page_content(html: str, page, config, files) -> str:  # the MkDocs hook signature
    return wrapped_html(html) if "jupyter-wrapper" in html else html
