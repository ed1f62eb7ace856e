"""Every page of the built site, as a reader's browser shows it (headless Chromium).

Each test walks every page in the sitemap and collects what is wrong on each, so one run names
every broken page; a page with a problem gets full-page screenshots in test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.site.conftest import Session, count_in_page, save_screenshots

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

MERMAID_BLOCK = r'<pre class="mermaid"'
SORTABLE_TABLE = r'<div class="sortable"'
CODE_BLOCK = r"<pre><span></span><code"
NOTEBOOK = r'class="jupyter-wrapper'

# Code blocks in the browser: Markdown fences, and notebook input cells
CODE_BLOCKS = "article .highlight pre:has(> code), article .jp-InputArea .highlight-ipynb > pre"
NUMBER = re.compile(r"^[-+]?\d[\d,]*(\.\d+)?")

# Every diagram of the page drawn into an <svg> with shapes and text, inside its shadow root.
DIAGRAMS_DRAWN = r"""(expected) => {
  const blocks = [...document.querySelectorAll("article div.mermaid")];
  return blocks.length === expected && blocks.every((block) => {
    const svg = block.shadowRoot && block.shadowRoot.querySelector("svg");
    if (!svg) return false;
    // a diagram in a tab that is not selected has no box on screen, but a laid-out viewBox
    const viewBox = (svg.getAttribute("viewBox") || "0 0 0 0").split(/[\s,]+/).map(Number);
    const [, , width, height] = viewBox;
    // Mermaid draws a "Syntax error in text" bomb, also an <svg>, for a diagram it cannot parse
    const failed = svg.getAttribute("aria-roledescription") === "error"
      || svg.querySelector(".error-text, .error-icon") !== null;
    return !failed && width > 0 && height > 0 && svg.querySelectorAll("g").length > 0
      && svg.textContent.trim().length > 0;
  });
}"""
# The colours of the first diagram as the browser computes them: a node's shape, its label and
# an edge (Material takes them from CSS variables of the colour scheme).
DIAGRAM_COLOURS = """() => {
  const svg = document.querySelector("article div.mermaid").shadowRoot.querySelector("svg");
  const style = (selector, property) => {
    const element = svg.querySelector(selector);
    return element ? getComputedStyle(element)[property] : null;
  };
  return JSON.stringify([
    style(".node rect, .node polygon, .node circle, .node path", "fill"),
    style(".node rect, .node polygon, .node circle, .node path", "stroke"),
    style(".nodeLabel, .node .label, .node text", "color"),
    style(".node text, .nodeLabel", "fill"),
    style(".flowchart-link, .edgePath path, .messageLine0, .relation", "stroke"),
  ]);
}"""


def check_pages(
    pages: list[str], session: Session, check: Callable[[str], list[str]], what: str
) -> None:
    """Runs ``check`` on every page; fails with every page's problems, after screenshotting each."""
    problems: dict[str, list[str]] = {}
    for url in pages:
        found = check(url)
        if found:
            problems[url] = found
            save_screenshots(session.page, f"{what}-{urlsplit(url).path.strip('/') or 'home'}")
    assert problems == {}


def test_the_sitemap_lists_every_built_page(built_site: Path, site_url: str, site_pages: list[str]):
    """The suite's page list is complete: every built page (404 aside) is in the sitemap."""
    built = set()
    for path in built_site.rglob("index.html"):
        folder = path.parent.relative_to(built_site).as_posix()
        if not folder.startswith("assets"):
            built.add(site_url if folder == "." else f"{site_url}{folder}/")
    assert built == set(site_pages)


def test_every_page_loads_without_errors_or_foreign_requests(new_session, site_pages):
    session = new_session("light")

    def check(url: str) -> list[str]:
        session.recorder.clear()
        session.open(url)
        found = session.recorder.problems()
        if not session.page.locator("article h1").count():
            found.append("no <h1> in the article")
        return found

    check_pages(site_pages, session, check, "load")


def test_the_404_page_loads_without_errors(new_session, site_url):
    session = new_session("light")
    response = session.page.goto(site_url + "404.html")
    session.page.wait_for_load_state("networkidle")
    assert response is not None and response.ok
    assert session.recorder.problems() == []


def test_every_diagram_renders_to_an_svg(new_session, site_pages, built_site, site_url):
    session = new_session("light")
    diagrams = {url: count_in_page(built_site, site_url, url, MERMAID_BLOCK) for url in site_pages}
    assert sum(diagrams.values()) > 0, "no page has a Mermaid diagram: nothing was checked"

    def check(url: str) -> list[str]:
        session.recorder.clear()
        session.open(url)
        try:
            session.page.wait_for_function(DIAGRAMS_DRAWN, arg=diagrams[url], timeout=10_000)
        except Exception as error:  # noqa: BLE001 (the report names the page)
            mounted = session.page.locator("article div.mermaid").count()
            return [f"{diagrams[url]} diagram(s) in the HTML, {mounted} mounted by Material, "
                    f"not all drawn into a valid <svg>: {error}"]
        return session.recorder.problems()

    check_pages(site_pages, session, check, "mermaid")


def test_every_code_block_has_a_copy_button(new_session, site_pages):
    session = new_session("light")
    checked = 0

    def check(url: str) -> list[str]:
        nonlocal checked
        session.open(url)
        blocks = session.page.locator(CODE_BLOCKS)
        without = session.page.locator(", ".join(
            f"{block}:not(:has(button[data-md-type='copy']))" for block in CODE_BLOCKS.split(", ")
        ))
        checked += blocks.count()
        missing = without.count()
        return [f"{missing} of {blocks.count()} code blocks have no copy button"] if missing else []

    check_pages(site_pages, session, check, "copy")
    assert checked > 0, "no page has a code block: nothing was checked"


@pytest.mark.parametrize(
    ("kind", "marker", "selector"),
    [
        ("fence", CODE_BLOCK, "article .highlight pre:has(> code)"),
        ("notebook cell", NOTEBOOK, "article .jp-InputArea .highlight-ipynb > pre"),
    ],
)
def test_the_copy_button_copies_the_code(
    new_session, site_pages, built_site, site_url, kind, marker, selector
):
    session = new_session("light")
    session.context.grant_permissions(["clipboard-read", "clipboard-write"])
    pages = [u for u in site_pages if count_in_page(built_site, site_url, u, marker)]
    assert pages, f"no page has a {kind}: nothing was checked"
    for url in pages:  # the first page with such a block in view (not in a closed block)
        session.open(url)
        blocks = session.page.locator(selector).filter(visible=True)
        if blocks.count():
            break
    block = blocks.first
    block.hover()
    block.locator("button[data-md-type='copy']").click()
    copied = session.page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() and copied.strip() == block.text_content().strip()


# The header texts of the page's sortable tables: which tables the article shows now.
TABLE_HEADERS = """() => JSON.stringify([...document.querySelectorAll("article .sortable table")]
  .map((table) => [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim())))"""


def cell_key(text: str, numeric: bool) -> float | str:
    if numeric:
        return float(NUMBER.match(text.strip()).group(0).replace(",", ""))
    return text.strip().lower()


def column(session: Session, table_index: int, column_index: int) -> list[str]:
    return session.page.evaluate(
        """([t, c]) => [...document.querySelectorAll("article .sortable table")[t].tBodies[0].rows]
             .map((row) => row.cells[c] ? row.cells[c].textContent : "")""",
        [table_index, column_index],
    )


def sort_problems(session: Session, label: str) -> list[str]:
    """Clicks every header of every sortable table twice; the order must follow aria-sort."""
    problems = []
    tables = session.page.locator("article .sortable table")
    for t in range(tables.count()):
        headers = tables.nth(t).locator("thead th")
        for c in range(headers.count()):
            values = column(session, t, c)
            if len(set(values)) < 2:
                continue  # nothing to reorder
            filled = [v.strip() for v in values if v.strip()]
            # A column is numeric when most of its cells are numbers ("12", "1,500 ms"); then
            # the numbers must be in numeric order, wherever the few words ("no") land.
            numeric = 2 * sum(bool(NUMBER.match(v)) for v in filled) > len(filled)
            keys = []
            for _ in range(2):
                headers.nth(c).click()
                direction = headers.nth(c).get_attribute("aria-sort")
                shown = [cell_key(v, numeric) for v in column(session, t, c)
                         if v.strip() and (not numeric or NUMBER.match(v.strip()))]
                expected = sorted(shown, reverse=direction == "descending")
                name = headers.nth(c).inner_text().strip()
                if direction not in ("ascending", "descending") or shown != expected:
                    kind = "numeric" if numeric else "text"
                    problems.append(f"{label}: table {t}, {kind} column {name!r} "
                                    f"is not {direction}: {shown}")
                keys.append(direction)
            if keys[0] == keys[1]:
                problems.append(f"{label}: table {t}, column {c}: a second click did not reverse")
    return problems


def test_every_sortable_table_sorts_and_reverses(new_session, site_pages, built_site, site_url):
    """On a direct load, and after an instant-navigation hop from another page."""
    session = new_session("light")
    with_tables = [u for u in site_pages if count_in_page(built_site, site_url, u, SORTABLE_TABLE)]
    assert with_tables, "the site has no sortable table: nothing was checked"

    def check(url: str) -> list[str]:
        session.open(url)
        headers = session.page.evaluate(TABLE_HEADERS)
        found = sort_problems(session, "direct load")
        # start from a page without a sortable table, so the old page's tables cannot be mistaken
        # for the new page's
        start = next((u for u in site_pages if u not in with_tables), None)
        start = start or next(u for u in site_pages if u != url)
        session.open(start)
        session.page.evaluate("window.__noReload = true")
        hop = session.page.evaluate(
            """(url) => {
                 const link = [...document.querySelectorAll("a[href]")].find((a) => a.href === url);
                 if (!link) return false;
                 link.click();
                 return true;
               }""",
            url,
        )
        if not hop:
            return found + [f"no link to the page from {start} for an instant-navigation hop"]
        session.page.wait_for_url(url)
        session.page.wait_for_function(f"() => ({TABLE_HEADERS})() === {headers!r}")
        session.page.wait_for_function(
            "() => document.querySelector('article .sortable table th[role=columnheader]')"
        )
        if not session.page.evaluate("window.__noReload === true"):
            found.append("the hop reloaded the page: instant navigation is not working")
        return found + sort_problems(session, "after an instant-navigation hop")

    check_pages(with_tables, session, check, "sort")


def test_the_palette_toggle_cycles_and_diagrams_follow(
    new_session, site_pages, built_site, site_url
):
    """auto -> light -> dark -> auto with the header button; diagrams change colour with it."""
    session = new_session("light")
    url = next(u for u in site_pages if count_in_page(built_site, site_url, u, MERMAID_BLOCK))
    session.open(url)
    page = session.page
    diagrams = count_in_page(built_site, site_url, url, MERMAID_BLOCK)

    def scheme() -> str:
        return page.evaluate("document.body.getAttribute('data-md-color-scheme')")

    def toggle() -> None:
        page.locator("form[data-md-component=palette] label:visible").click()

    def wait_for_colour_change(before: str) -> str:
        page.wait_for_function(DIAGRAMS_DRAWN, arg=diagrams)
        page.wait_for_function(f"() => ({DIAGRAM_COLOURS})() !== {before!r}")
        return page.evaluate(DIAGRAM_COLOURS)

    page.wait_for_function(DIAGRAMS_DRAWN, arg=diagrams)
    assert scheme() == "default"  # "auto" follows the system, which is light
    light_colours = page.evaluate(DIAGRAM_COLOURS)
    toggle()  # auto -> light
    assert scheme() == "default"
    toggle()  # light -> dark
    page.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'slate'")
    dark_colours = wait_for_colour_change(light_colours)
    toggle()  # dark -> auto, which follows the light system setting again
    page.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'default'")
    assert wait_for_colour_change(dark_colours) == light_colours
    page.emulate_media(color_scheme="dark")  # auto follows a change of the system setting
    page.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'slate'")
    assert wait_for_colour_change(light_colours) == dark_colours
    assert session.recorder.problems() == []


def test_search_fetches_its_index_on_first_use_and_finds_pages(new_session, site_pages):
    """The search index is not part of a page load (overrides/main.html holds it back), and
    search still works: a page's title typed into the search box finds that page."""
    session = new_session("light")
    session.open(site_pages[-1])
    page = session.page
    assert not any(u.endswith("search/search_index.json") for u in session.recorder.requests)
    title = page.locator("article h1").first.inner_text().strip()
    word = max(re.findall(r"\w{3,}", title) or [title], key=len)
    page.locator("input.md-search__input").click()  # the search bar (a button on a phone)
    page.locator("input.md-search__input").fill(word)
    results = page.locator(".md-search-result__item")
    results.first.wait_for()
    assert any(u.endswith("search/search_index.json") for u in session.recorder.requests)
    assert word.lower() in results.first.inner_text().lower()
    assert session.recorder.problems() == []


def test_numbers_with_units_and_words_sort_numerically_both_ways(new_session, site_pages):
    """The site's tablesort set-up (docs/assets/javascripts/tablesort.js) sorts "12 ms" after
    "9 ms", both ways, also when words sit among the numbers (tablesort alone guesses a column's
    kind from its first three cells in the current order, which flips after a sort)."""
    session = new_session("light")
    session.open(site_pages[0])
    values = ["100 ms", "12 ms", "n/a", "9 ms", "1,500 ms", "0.5 ms"]
    session.page.evaluate(
        """(values) => {
             const div = document.createElement("div");
             div.className = "sortable probe";
             div.innerHTML = "<table><thead><tr><th>time</th></tr></thead><tbody>"
               + values.map((v) => `<tr><td>${v}</td></tr>`).join("") + "</tbody></table>";
             document.querySelector("article").append(div);
             fixColumnKinds(div.querySelector("table"));  // as the site's document$ hook does
             new Tablesort(div.querySelector("table"));
           }""",
        values,
    )
    header = session.page.locator(".probe th")
    ascending = ["n/a", "0.5 ms", "9 ms", "12 ms", "100 ms", "1,500 ms"]
    directions = []
    for _ in range(3):
        header.click()
        directions.append(header.get_attribute("aria-sort"))
        expected = ascending if directions[-1] == "ascending" else ascending[::-1]
        assert session.page.locator(".probe td").all_inner_texts() == expected
    assert directions in (["ascending", "descending", "ascending"],
                          ["descending", "ascending", "descending"])
