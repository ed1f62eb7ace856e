"""Tables wrapped at build time (docs_tools/wrapped_tables.py): in Material's scroll container,
with Material's look, so that Material's script moves none of them when a page loads."""

from __future__ import annotations

import re
from pathlib import Path

import markdown
import material

from docs_tools import wrapped_tables
from docs_tools.diagrams import split_rules

ROOT = Path(__file__).resolve().parents[1]
TABLE = "| a | b |\n|---|---|\n| 1 | 2 |\n"
WRAPPER = ('<div class="md-typeset__scrollwrap">\n<div class="md-typeset__table">\n'
           '<table class="wrapped">')


def render(text: str) -> str:
    return markdown.markdown(text, extensions=[
        "tables", "admonition", "md_in_html", wrapped_tables.makeExtension()])


def test_a_table_is_wrapped_in_place_and_keeps_its_cells():
    page = render(f"Before.\n\n{TABLE}\nAfter.\n")
    assert page.index("Before.") < page.index(WRAPPER) < page.index("<td>2</td>") < page.index(
        "</table>\n</div>\n</div>") < page.index("After.")
    assert page.count("md-typeset__scrollwrap") == 1


def test_tables_in_admonitions_and_html_blocks_are_wrapped_too():
    page = render(f'!!! note\n\n    {TABLE.replace(chr(10), chr(10) + "    ")}\n'
                  f'<div class="sortable" markdown>\n\n{TABLE}\n</div>\n')
    assert page.count(WRAPPER) == 2
    assert "<table>" not in page


def test_other_renderers_html_gets_the_same_and_tables_with_a_class_are_left_alone():
    html = '<p>x</p><table>\n<tr><td>1</td></tr>\n</table><table class="dataframe"></table>'
    assert wrapped_tables.wrapped_html(html) == (
        '<p>x</p>' + wrapped_tables.OPEN + '\n<tr><td>1</td></tr>\n' + wrapped_tables.CLOSE
        + '<table class="dataframe"></table>')


def table_rules(css: str, table: str, media: str = "") -> dict[tuple[str, str], set[str]]:
    """{(media, selector): declarations} of the rules for `table`, spaces and leading zeros
    dropped, so that Material's minified CSS and extra.css compare."""
    rules = {}
    for prelude, body in split_rules(css):
        prelude = re.sub(r"/\*.*?\*/", "", prelude, flags=re.S)
        if prelude.startswith("@media"):
            rules.update(table_rules(body, table, prelude.replace(" ", "")))
            continue
        declarations = {re.sub(r"(?<![\d.])0\.", ".", " ".join(d.split()).replace(": ", ":"))
                        for d in body.split(";")}
        for selector in prelude.split(","):
            selector = " ".join(selector.split()).replace(" > ", ">").replace(" + ", "+")
            if table in selector and not selector.startswith("[dir=rtl]"):  # the site is LTR
                rules[media, selector.replace(table, "table.wrapped")] = declarations - {""}
    return rules


def test_wrapped_tables_get_every_rule_material_gives_its_own():
    material_css = next((Path(material.__file__).parent / "templates/assets/stylesheets")
                        .glob("main.*.min.css")).read_text()
    ours = table_rules((ROOT / "docs/assets/stylesheets/extra.css").read_text(), "table.wrapped")
    theirs = table_rules(material_css, "table:not([class])")
    assert len(theirs) >= 10, "Material's table rules were not found: has its CSS changed?"
    assert ours == theirs


def test_no_built_page_leaves_a_table_for_material_to_move(built_site):
    pages = {page: page.read_text() for page in built_site.rglob("*.html")}
    assert sum(page.count(WRAPPER.replace("\n", "")) + page.count(WRAPPER)
               for page in pages.values()) > 20
    assert [str(path.relative_to(built_site)) for path, page in pages.items()
            if "<table>" in page] == []
