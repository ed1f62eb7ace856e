"""What a reader does on the built site, in headless Chromium: copy code, sort tables with the
mouse and the keyboard, switch colour schemes, search, fetch a program, land on a missing page.
(What every page looks like, in both schemes and at both widths, is tests/site/test_pages.py.)
A failing test saves full-page screenshots in test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.site.conftest import MATERIAL_READY, Session, count_in_page, save_screenshots

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

SORTABLE_TABLE = r'<div class="sortable"'
DIAGRAM = r'<div class="diagram"'
PROGRAM_BOX = r'<div class="program"'
CODE_BLOCK = r"<pre><span></span><code"
NOTEBOOK = r'class="jupyter-wrapper'

NUMBER = re.compile(r"^[-+]?\d[\d,]*(\.\d+)?")

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


def test_the_404_page_offers_search_home_and_every_chapter(new_session, site_url, built_site):
    session = new_session("light")
    response = session.page.goto(site_url + "404.html")
    session.page.wait_for_function(MATERIAL_READY)
    page = session.page
    assert response is not None and response.ok
    assert page.locator("article h1").inner_text() == "Page not found"
    assert page.locator("input.md-search__input").count() == 1
    links = {a.inner_text(): a.get_attribute("href")
             for a in page.locator("article a").all()}
    assert links["Home"] == site_url
    chapters = [p.name for p in (built_site).iterdir() if (p / "index.html").is_file()
                and p.name not in ("assets", "search", "programs")]
    for chapter in chapters:  # every chapter's overview, by an absolute link
        assert f"/{chapter}/" in {urlsplit(href).path for href in links.values()}, chapter
    assert session.recorder.problems() == []


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


# Clicks each header of each sortable table twice, in the page (no round trip per click), and
# returns for each click: table, column, header text, aria-sort after the click, the column.
CLICK_EVERY_HEADER = """() => {
  const results = [];
  document.querySelectorAll("article .sortable table").forEach((table, t) => {
    const column = (c) => [...table.tBodies[0].rows].map((row) =>
      row.cells[c] ? row.cells[c].textContent : "");
    [...table.querySelectorAll("thead th")].forEach((th, c) => {
      if (new Set(column(c)).size < 2) return; // nothing to reorder
      for (let click = 0; click < 2; click++) {
        th.click();
        results.push([t, c, th.textContent.trim(), th.getAttribute("aria-sort"), column(c)]);
      }
    });
  });
  return results;
}"""


def sort_problems(session: Session, label: str) -> list[str]:
    """Every header of every sortable table, clicked twice: the order must follow aria-sort, and
    the second click must reverse the first."""
    problems = []
    clicks = session.page.evaluate(CLICK_EVERY_HEADER)
    for index, (t, c, name, direction, values) in enumerate(clicks):
        filled = [v.strip() for v in values if v.strip()]
        # A column is numeric when most of its cells are numbers ("12", "1,500 ms"); then the
        # numbers must be in numeric order, wherever the few words ("no") land.
        numeric = 2 * sum(bool(NUMBER.match(v)) for v in filled) > len(filled)
        shown = [cell_key(v, numeric) for v in filled if not numeric or NUMBER.match(v)]
        expected = sorted(shown, reverse=direction == "descending")
        if direction not in ("ascending", "descending") or shown != expected:
            kind = "numeric" if numeric else "text"
            problems.append(f"{label}: table {t}, {kind} column {name!r} is not {direction}: "
                            f"{shown}")
        if index % 2 and clicks[index - 1][3] == direction:
            problems.append(f"{label}: table {t}, column {c}: a second click did not reverse")
    return problems


def test_every_sortable_table_sorts_and_reverses(new_session, site_pages, built_site, site_url):
    """Every header of every sortable table, clicked twice, on every page that has one."""
    session = new_session("light")
    with_tables = [u for u in site_pages if count_in_page(built_site, site_url, u, SORTABLE_TABLE)]
    assert with_tables, "the site has no sortable table: nothing was checked"

    def check(url: str) -> list[str]:
        session.open(url)
        return sort_problems(session, "direct load")

    check_pages(with_tables, session, check, "sort")


def test_a_table_sorts_from_the_keyboard_and_says_how(new_session, site_pages, built_site,
                                                      site_url):
    """Tab to a header, Enter or Space sorts; each header states its sort in aria-sort, and a
    status line (a live region) says what the last sort did."""
    session = new_session("light")
    url = next(u for u in site_pages if count_in_page(built_site, site_url, u, SORTABLE_TABLE))
    session.open(url)
    page = session.page
    table = page.locator("article .sortable table").first
    headers = table.locator("thead th")
    assert {headers.nth(i).get_attribute("aria-sort") for i in range(headers.count())} == {"none"}
    header = headers.nth(1)
    header.focus()
    scrolled = page.evaluate("window.scrollY")
    page.keyboard.press("Enter")
    first = header.get_attribute("aria-sort")
    page.keyboard.press(" ")
    second = header.get_attribute("aria-sort")
    assert {first, second} == {"ascending", "descending"}
    assert page.evaluate("window.scrollY") == scrolled, "Space scrolled the page, not sorted"
    status = page.locator("article .sortable [role=status]").first
    assert status.inner_text() == f"Sorted by {header.inner_text().strip()}, {second}."
    others = {headers.nth(i).get_attribute("aria-sort") for i in range(headers.count()) if i != 1}
    assert others == {"none"}


# Colours of the first diagram and the first plot as the browser computes them: they come from
# CSS variables of the colour scheme (docs/assets/stylesheets/figures.css).
FIGURE_COLOURS = """() => {
  const style = (selector, property) => {
    const element = document.querySelector(selector);
    return element ? getComputedStyle(element)[property] : null;
  };
  return JSON.stringify([
    style("article .diagram svg text", "fill"),
    style("article .diagram svg .node rect, article .diagram svg rect.actor", "stroke"),
    style("article .diagram svg line, article .diagram svg path.flowchart-link", "stroke"),
  ]);
}"""


def test_the_palette_toggle_cycles_and_diagrams_follow(
    new_session, site_pages, built_site, site_url
):
    """auto -> light -> dark -> auto with the header button; diagrams change colour with it."""
    session = new_session("light")
    url = next(u for u in site_pages if count_in_page(built_site, site_url, u, DIAGRAM))
    session.open(url)
    page = session.page

    def scheme() -> str:
        return page.evaluate("document.body.getAttribute('data-md-color-scheme')")

    def toggle() -> None:
        page.locator("form[data-md-palette] label:visible").click()

    def colours_after(before: str) -> str:
        page.wait_for_function(f"() => ({FIGURE_COLOURS})() !== {before!r}")
        return page.evaluate(FIGURE_COLOURS)

    assert scheme() == "default"  # "auto" follows the system, which is light
    light_colours = page.evaluate(FIGURE_COLOURS)
    assert "null" not in light_colours
    toggle()  # auto -> light
    assert scheme() == "default"
    toggle()  # light -> dark
    page.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'slate'")
    dark_colours = colours_after(light_colours)
    toggle()  # dark -> auto, which follows the light system setting again
    page.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'default'")
    assert colours_after(dark_colours) == light_colours
    page.emulate_media(color_scheme="dark")  # auto follows a change of the system setting
    page.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'slate'")
    assert colours_after(light_colours) == dark_colours
    # from the keyboard: the option has focus, Enter picks the next one (auto -> light)
    page.locator("form[data-md-palette] input:checked").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'default'")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == (
        "Switch to dark mode")
    # the choice is kept for the next page, applied before the page is drawn
    session.open(url)
    assert scheme() == "default" and page.evaluate(
        "document.querySelector('meta[name=color-scheme]').content") == "light"
    assert session.recorder.problems() == []


# Installed before a page's first byte: records the changes that make Chromium restyle the
# whole page while it loads. Material's palette component marked <body> as switching scheme
# and back, and changed <meta> tags in <head>, on every load; its instant navigation
# re-assigned every link's href, the stylesheets' too. Each costs 0.1 to 0.2 s on a long page
# with a phone's CPU (Lighthouse's blocking time).
RECORD_RESTYLING_CHANGES = """
window.__restylingChanges = [];
new MutationObserver((records) => {
  for (const record of records) {
    const target = record.target;
    if (record.type === "attributes" && target === document.body
        && record.attributeName === "data-md-color-switching") {
      window.__restylingChanges.push("<body> marked as switching scheme");
    } else if (record.type === "attributes" && target.parentNode === document.head) {
      window.__restylingChanges.push(`<${target.tagName.toLowerCase()}> in <head>: ` +
        `${record.attributeName} changed to ${target.getAttribute(record.attributeName)}`);
    }
    for (const node of record.removedNodes) {  // Material moves a table it has to wrap
      if (node.nodeName === "TABLE") {
        window.__restylingChanges.push(`a table moved: ${node.textContent.slice(0, 40)}`);
      }
    }
  }
}).observe(document, { attributes: true, childList: true, subtree: true });
"""


@pytest.mark.parametrize("saved", [None, 2], ids=["first-visit", "dark-chosen"])
def test_loading_a_page_changes_nothing_that_restyles_all_of_it(
    new_session, site_pages, built_site, site_url, saved
):
    """The reader's palette (none saved, or dark on a light system) is applied while the
    header is parsed, nothing in <head> is rewritten once it is there, and no table is moved
    (docs_tools/wrapped_tables.py)."""
    session = new_session("light")
    if saved is not None:
        session.context.add_init_script(
            "localStorage.setItem(new URL('" + site_url + "').pathname + '.__palette', "
            f"JSON.stringify({{index: {saved}}}))")
    session.context.add_init_script(RECORD_RESTYLING_CHANGES)
    url = next(u for u in site_pages if count_in_page(built_site, site_url, u, DIAGRAM)
               and count_in_page(built_site, site_url, u, "<table"))
    session.open(url)
    page = session.page
    # palette.js names the toolbar's colour once the page is drawn: the last change it makes
    page.wait_for_function("document.querySelector('meta[name=theme-color]')")
    assert page.evaluate("document.body.getAttribute('data-md-color-scheme')") == (
        "slate" if saved else "default")
    assert page.evaluate("window.__restylingChanges") == []
    assert session.recorder.problems() == []


def test_a_program_box_downloads_copies_and_shows_the_whole_file(new_session, site_pages,
                                                                 built_site, site_url):
    """The box docs_tools/programs.py puts under a program: the file it offers is the program
    itself, fetched only when asked for."""
    session = new_session("light")
    session.context.grant_permissions(["clipboard-read", "clipboard-write"])
    url = next(u for u in site_pages if count_in_page(built_site, site_url, u, PROGRAM_BOX))
    session.open(url)
    page = session.page
    box = page.locator("article .program").first
    download = box.locator("a[download]").first
    name = download.get_attribute("download")
    programs = [p for p in (built_site / "programs").rglob(name)]
    assert len(programs) == 1, name
    source = programs[0].read_text(encoding="utf-8")
    assert not any(name in u for u in session.recorder.requests), "fetched before it was asked"
    with page.expect_download() as downloading:
        download.click()
    assert Path(downloading.value.path()).read_text(encoding="utf-8") == source
    box.locator("a[data-program=copy]").click()
    box.locator("[role=status]").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == source
    show = box.locator("a[data-program=show]")
    show.click()
    shown = box.locator("pre.program__source")
    shown.wait_for()
    assert shown.inner_text() == source.rstrip("\n") or shown.inner_text() == source
    assert show.get_attribute("aria-expanded") == "true"
    show.click()
    shown.wait_for(state="detached")
    assert show.get_attribute("aria-expanded") == "false"
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
