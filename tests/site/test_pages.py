"""Every page as a reader sees it: headless Chromium, in the light and the dark colour scheme, at
1280x800 and at 390x844 (a phone). One test per page and scheme visits the page once per width
and checks everything a reader would notice (reader_view.js measures it):

- no console or page error, no request to another host, no failed request, an <h1>;
- no Mermaid JavaScript: every diagram was drawn at build time (docs_tools/diagrams.py);
- every diagram and plot: text at least 12 px; text 4.5:1 and (diagrams) lines, borders and
  arrowheads 3:1 against what is behind them, in this scheme (axe does not look inside SVG);
  a diagram's label stays inside the box it is drawn on;
  a <title> (diagrams: and a <desc>); a figure wider than its box is a focusable, named region;
- nothing makes the page scroll sideways; at 1280 no code block and no table overflows;
- no tab stop on anything invisible; every code block has its copy button, and every colour of
  its syntax highlighting reaches 4.5:1 on the block's background;
- axe-core (code blocks aside, checked above): no serious or critical WCAG 2 A/AA violation.

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


def axe_problems(page) -> list[str]:
    results = Axe().run(page, context=AXE_CONTEXT, options=AXE_OPTIONS)
    problems = []
    for violation in results.response["violations"]:
        if violation["impact"] in BLOCKING:
            first = violation["nodes"][0]
            summary = " ".join((first.get("failureSummary") or "").split())[:300]
            problems.append(f"axe {violation['id']} ({violation['impact']}, "
                            f"{len(violation['nodes'])} element(s)), first {first['target']}: "
                            f"{summary}")
    return problems


def view_problems(report: dict, width: str) -> list[str]:
    problems = []
    if report["pageScrollsSideways"]:
        problems.append(f"the page scrolls sideways: {report['pageWidth']} px in "
                        f"{report['viewport']} px")
    if report["mermaidBlocks"]:
        problems.append(f"{report['mermaidBlocks']} diagram(s) left for Mermaid's JavaScript")
    for figure in report["figures"]:
        for problem in figure["problems"]:
            problems.append(f"{figure['kind']} {figure['title'][:50]!r}: {problem}")
    if width == "desktop":
        problems += [f"code block overflows: {found}" for found in report["codeOverflow"]]
        problems += [f"table overflows: {found}" for found in report["tableOverflow"]]
    problems += [f"invisible tab stop: {found}" for found in report["invisibleTabStops"]]
    problems += [f"syntax colour too faint: {found}" for found in report["codeColours"]]
    if report["codeWithoutCopyButton"]:
        problems.append(f"{report['codeWithoutCopyButton']} of {report['codeBlocks']} code "
                        "blocks have no copy button")
    return [f"{width}: {problem}" for problem in problems]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("path", page_paths())
def test_the_page_reads_well(new_session, served_site: str, path: str, scheme: str):
    session = new_session(scheme)
    page = session.page
    url = served_site + path
    problems: list[str] = []
    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        session.recorder.clear()
        session.open(url)
        shown = page.evaluate("document.body.getAttribute('data-md-color-scheme')")
        assert shown == SCHEME[scheme], f"{url} is not shown in the {scheme} scheme"
        if not page.locator("article h1").count():
            problems.append(f"{width}: no <h1> in the article")
        problems += [f"{width}: {found}" for found in session.recorder.problems()]
        if any(request.endswith(MERMAID_SCRIPT) for request in session.recorder.requests):
            problems.append(f"{width}: fetched Mermaid's JavaScript")
        report = page.evaluate(READER_VIEW)
        problems += view_problems(report, width)
        if width == "desktop":
            problems += axe_problems(page)
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
