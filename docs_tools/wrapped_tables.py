"""A Markdown extension: each table arrives inside the scroll container Material would move it to.

When a page loads, Material's script moves every ``table:not([class])`` into
``<div class="md-typeset__scrollwrap"><div class="md-typeset__table">``, so that a wide table
scrolls sideways inside its column. A moved table is styled again from scratch, and with a
phone's CPU that was the longest task of loading ``/application/http/`` (four tables): with the
containers written at build time, Lighthouse's blocking time there went from 207 to 110 ms and
its performance from 95 to 98 (median of five runs each, one session).

The table gets the class ``wrapped``: Material's script leaves tables with a class alone, and
extra.css gives ``table.wrapped`` the rules Material gives ``table:not([class])`` (a test keeps
the two the same). Notebook pages, whose Markdown cells nbconvert renders, get the same from
``wrapped_html`` (hooks/notebook_tables.py).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree

from markdown import Extension
from markdown.treeprocessors import Treeprocessor

WRAPPED = "wrapped"
SCROLLWRAP, HOLDER = "md-typeset__scrollwrap", "md-typeset__table"  # Material's two containers
OPEN = f'<div class="{SCROLLWRAP}"><div class="{HOLDER}"><table class="{WRAPPED}">'
CLOSE = "</table></div></div>"
BARE_TABLE = re.compile(r"<table>(.*?)</table>", re.S)  # a Markdown table: none nested in it


def wrapped_html(html: str) -> str:
    """HTML from another Markdown renderer, with its tables wrapped as the extension does."""
    return BARE_TABLE.sub(lambda table: OPEN + table.group(1) + CLOSE, html)


class WrapTables(Treeprocessor):
    def run(self, root: etree.Element) -> None:
        found = [(parent, child) for parent in root.iter() for child in parent
                 if child.tag == "table" and "class" not in child.attrib]
        for parent, table in found:
            scrollwrap = etree.Element("div", {"class": SCROLLWRAP})
            holder = etree.SubElement(scrollwrap, "div", {"class": HOLDER})
            parent.insert(list(parent).index(table), scrollwrap)
            parent.remove(table)
            holder.append(table)
            table.set("class", WRAPPED)
            scrollwrap.tail, table.tail = table.tail, None


class WrappedTablesExtension(Extension):
    def extendMarkdown(self, md) -> None:  # noqa: N802 (Python-Markdown's name)
        # after the inline patterns (20): every table, in tabs and admonitions too, is in the tree
        md.treeprocessors.register(WrapTables(md), "wrapped_tables", 15)


def makeExtension(**kwargs) -> WrappedTablesExtension:  # noqa: N802 (Python-Markdown's name)
    return WrappedTablesExtension(**kwargs)
