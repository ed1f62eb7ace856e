"""Every page as a reader sees it: headless Chromium, in the light and the dark colour scheme, at
390x844 (a phone) and at 1280x800. One test per page loads it once, at phone width, and checks
everything a reader would notice (reader_view.js measures it) at both widths in both schemes,
switching width and scheme as a reader and their system do (see test_the_page_reads_well):

- no console or page error, no request to another host, no failed request, an <h1>;
- no Mermaid JavaScript: every diagram was drawn at build time (docs_tools/diagrams.py);
- every diagram and plot: text at least 12 px; text 4.5:1 and (diagrams) lines, borders and
  arrowheads 3:1 against what is behind them, in this scheme (axe does not look inside SVG);
  a diagram's label stays inside the box it is drawn on;
  a <title> (diagrams: and a <desc>); a figure wider than its box is a focusable, named region;
- nothing makes the page scroll sideways; at 1280 no code block and no table overflows;
- no tab stop on anything invisible; every code block has its copy button, and every colour of
  its syntax highlighting reaches 4.5:1 on the block's background;
- axe-core (code blocks aside, checked above): no serious or critical WCAG 2 A/AA violation;
  in the dark scheme, axe's colour rules only (the rest does not change with the scheme).

A failing page gets full-page screenshots at both widths in test-artifacts/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.site.conftest import DESKTOP, PHONE, page_paths

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

READER_VIEW = (Path(__file__).parent / "reader_view.js").read_text(encoding="utf-8")
MERMAID_SCRIPT = "assets/vendor/mermaid/mermaid.min.js"
BLOCKING = {"serious", "critical"}
SCHEME = {"light": "default", "dark": "slate"}


# The WCAG 2 A and AA rules, violations only (collecting passes doubles axe's time); code
# blocks are left out (reader_view.js checks their colours, each distinct pair once: axe took
# seconds a page over their thousands of spans)
AXE_CONTEXT = {"exclude": [[".highlight"], [".highlight-ipynb"]]}
AXE_OPTIONS = {"resultTypes": ["violations"],
               "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                                      "wcag22aa"]}}
# Of those rules, the ones whose answer depends on the colour scheme (axe's "cat.color" rules
# at level AA): the dark scheme runs just these, since the page's structure, names and roles
# are the same in both schemes and the light run has checked them (a third of axe's time)
AXE_COLOUR_OPTIONS = {"resultTypes": ["violations"],
                      "runOnly": {"type": "rule",
                                  "values": ["color-contrast", "link-in-text-block"]}}


def axe_problems(page, scheme: str = "light") -> list[str]:
    """axe's WCAG A/AA rules in the light scheme; its colour rules only in the dark one."""
    options = AXE_OPTIONS if scheme == "light" else AXE_COLOUR_OPTIONS
    results = Axe().run(page, context=AXE_CONTEXT, options=options)
    problems = []
    for violation in results.response["violations"]:
        if violation["impact"] in BLOCKING:
            first = violation["nodes"][0]
            summary = " ".join((first.get("failureSummary") or "").split())[:300]
            problems.append(f"axe {violation['id']} ({violation['impact']}, "
                            f"{len(violation['nodes'])} element(s)), first {first['target']}: "
                            f"{summary}")
    return problems


def view_problems(report: dict, where: str) -> list[str]:
    """What reader_view.js found; ``where`` ("dark, phone") names the scheme and width."""
    problems = []
    if report["pageScrollsSideways"]:
        problems.append(f"the page scrolls sideways: {report['pageWidth']} px in "
                        f"{report['viewport']} px")
    if report["mermaidBlocks"]:
        problems.append(f"{report['mermaidBlocks']} diagram(s) left for Mermaid's JavaScript")
    for figure in report["figures"]:
        for problem in figure["problems"]:
            problems.append(f"{figure['kind']} {figure['title'][:50]!r}: {problem}")
    if where.endswith("desktop"):
        problems += [f"code block overflows: {found}" for found in report["codeOverflow"]]
        problems += [f"table overflows: {found}" for found in report["tableOverflow"]]
    problems += [f"invisible tab stop: {found}" for found in report["invisibleTabStops"]]
    problems += [f"syntax colour too faint: {found}" for found in report["codeColours"]]
    if report["codeWithoutCopyButton"]:
        problems.append(f"{report['codeWithoutCopyButton']} of {report['codeBlocks']} code "
                        "blocks have no copy button")
    return [f"{where}: {problem}" for problem in problems]


# Two animation frames: a resize or a scheme change has been laid out and drawn, and every
# ResizeObserver and media-query listener has answered; then the CSS transitions it started
# (Material fades colours) have finished, so colours are measured as they end up
# (those that end and are drawn: a looping one never finishes, nor does one inside a closed
# <details>, whose clock stands still; a second at most, whatever happens)
SETTLED = """new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))
  .then(() => Promise.race([
    new Promise(done => setTimeout(done, 1000)),
    Promise.all(document.getAnimations()
      .filter(animation => animation.effect?.getComputedTiming().endTime !== Infinity
        && !animation.effect?.target?.closest("details:not([open])"))
      .map(animation => animation.finished.catch(() => null)))]))"""
# Chromium does not restyle what a closed <details> holds when the scheme changes (it skips
# the hidden subtree until it is shown), so its code would be measured in the old scheme's
# colours: show each one until its colours have settled, as a reader opening it would
OPEN_CLOSED_DETAILS = """() => [...document.querySelectorAll("details:not([open])")]
  .map((details, index) => { details.open = true; details.dataset.reopened = index; })"""
CLOSE_REOPENED_DETAILS = """() => document.querySelectorAll("details[data-reopened]")
  .forEach(details => { details.open = false; delete details.dataset.reopened; })"""
SHOWN_SCHEME = "document.body.getAttribute('data-md-color-scheme')"


def scheme_order(path: str) -> tuple[str, str]:
    """The scheme a page loads in, then the one the system switches it to: every other page
    loads dark, so both ways of arriving in a scheme are exercised across the site."""
    return ("light", "dark") if page_paths().index(path) % 2 == 0 else ("dark", "light")


@pytest.mark.parametrize("path", page_paths())
def test_the_page_reads_well(new_session, served_site: str, path: str):
    """One load a page: at phone width (where a page that sizes itself once, at load, goes
    wrong) in one scheme; the reader widens the window, the system switches scheme (Material
    follows it), the reader narrows the window again. Each width is checked in each scheme."""
    first, second = scheme_order(path)
    session = new_session(first)
    page = session.page
    url = served_site + path
    problems: list[str] = []
    # a reader who asked for less motion: Material then drops its transitions, so a change of
    # width or scheme is finished when it is drawn (the end state is the same either way)
    page.emulate_media(reduced_motion="reduce")
    page.set_viewport_size(PHONE)
    session.open(url)
    if not page.locator("article h1").count():
        problems.append("no <h1> in the article")
    for scheme, widths in ((first, ("phone", "desktop")), (second, ("desktop", "phone"))):
        if scheme == second:
            page.emulate_media(color_scheme=second)
            page.evaluate(OPEN_CLOSED_DETAILS)
            page.evaluate(SETTLED)
            page.evaluate(CLOSE_REOPENED_DETAILS)
        shown = page.evaluate(SHOWN_SCHEME)
        assert shown == SCHEME[scheme], f"{url} is not shown in the {scheme} scheme"
        for width in widths:
            page.set_viewport_size(DESKTOP if width == "desktop" else PHONE)
            page.evaluate(SETTLED)
            report = page.evaluate(READER_VIEW)
            problems += view_problems(report, f"{scheme}, {width}")
            if width == "desktop":
                problems += [f"{scheme}: {found}" for found in axe_problems(page, scheme)]
    problems += session.recorder.problems()
    if any(request.endswith(MERMAID_SCRIPT) for request in session.recorder.requests):
        problems.append("fetched Mermaid's JavaScript")
    # new_session saves screenshots of a failing page at both widths
    assert not problems, "\n".join(problems)


def test_the_sitemap_lists_every_page(built_site: Path, site_url: str, site_pages: list[str]):
    """The pages the tests above visit are the pages the site has (404 aside)."""
    assert sorted(site_pages) == sorted(site_url + path for path in page_paths())


BAD_PAGE = """<!doctype html><html><body style="background: #1e2129; margin: 0">
<article style="width: 400px">
  <div class="diagram" style="overflow-x: auto">
    <svg width="900" height="100" viewBox="0 0 900 100" style="min-width: 900px">
      <title>Dark on dark</title><desc>A probe.</desc>
      <rect x="0" y="0" width="300" height="100" style="fill: #ffffff"></rect>
      <text x="10" y="50" style="fill: #eeeeee; font-size: 16px">pale on white</text>
      <text x="400" y="50" style="fill: #333333; font-size: 16px">dark on dark</text>
      <text x="600" y="50" style="fill: #ffffff; font-size: 8px">tiny</text>
      <line x1="400" y1="80" x2="800" y2="80" style="stroke: #333333; stroke-width: 2"></line>
      <g><rect x="320" y="60" width="40" height="30" style="fill: #ffffff"></rect>
      <text x="340" y="80" style="fill: #000000; font-size: 16px; text-anchor: middle"
        >too long for its box</text></g>
    </svg>
  </div>
  <div class="plot-box"><svg width="100" height="50" viewBox="0 0 100 50"><text x="5" y="20"
    style="fill: #ffffff; font-size: 16px">plot without a title</text></svg></div>
  <pre><code style="color: #ffffff">{long_line}</code></pre>
  <pre style="background: #ffffff"><code style="color: #000000">x = 1 <span
    style="color: #bbbbbb"># a faint comment</span></code></pre>
  <table><tr><td>{wide_cell}</td></tr></table>
  <pre class="mermaid">flowchart TB</pre>
  <button style="opacity: 0">invisible</button>
  <div style="width: 1200px">wide</div>
</article></body></html>"""


def test_the_reader_view_catches_what_it_looks_for(browser):
    """reader_view.js, on a page made of the faults it must find: each one is reported."""
    page = browser.new_page(viewport=DESKTOP)
    try:
        page.set_content(BAD_PAGE.replace("{long_line}", "x" * 200)
                         .replace("{wide_cell}", "y" * 200))
        report = page.evaluate(READER_VIEW)
    finally:
        page.close()
    diagram, plot = report["figures"]
    found = " | ".join(diagram["problems"])
    assert 'text "pale on white"' in found and 'text "dark on dark"' in found
    assert "text as small as 8.0 px" in found
    assert "line  stroke at" in found
    assert 'text "too long for its box" runs out of its box' in found
    assert "not a focusable, labelled region" in found
    assert plot["problems"] == ["no <title> (accTitle or alt text)"]
    assert report["pageScrollsSideways"] and report["mermaidBlocks"] == 1
    assert report["codeOverflow"] and report["tableOverflow"]
    assert len(report["codeColours"]) == 1 and '"# a faint comment"' in report["codeColours"][0]
    assert any('"invisible"' in stop for stop in report["invisibleTabStops"])


def test_the_dark_schemes_axe_run_still_checks_colours(browser):
    """The dark scheme runs axe's colour rules only: they must still find faint text (and a
    misspelt rule name would make axe refuse to run)."""
    page = browser.new_page(viewport=DESKTOP, color_scheme="dark")
    try:
        page.set_content('<!doctype html><html lang="en"><head><title>Probe</title></head>'
                         '<body style="background: #1e2129"><main><h1>Probe</h1>'
                         '<p style="color: #333333">dark on dark</p></main></body></html>')
        found = " ".join(axe_problems(page, "dark"))
    finally:
        page.close()
    assert "axe color-contrast (serious" in found
