"""axe-core on every page of the built site, in the light and the dark colour scheme.

No serious or critical violation of the WCAG 2.x A/AA rules axe checks is allowed. Mermaid's
shadow roots are opened (see conftest.py), so axe checks the diagrams too.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.site.conftest import ARTIFACTS, save_screenshots

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

BLOCKING = {"serious", "critical"}


def describe(violation: dict) -> str:
    nodes = violation["nodes"]
    first = nodes[0]
    summary = " ".join((first.get("failureSummary") or "").split())
    return (f"{violation['id']} ({violation['impact']}, {len(nodes)} element(s)), "
            f"first {first['target']}: {summary[:300]}")


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_no_serious_accessibility_violation_on_any_page(new_session, site_pages, color_scheme):
    session = new_session(color_scheme)
    axe = Axe()
    expected_scheme = {"light": "default", "dark": "slate"}[color_scheme]
    problems: dict[str, list[str]] = {}
    for url in site_pages:
        session.open(url)
        scheme = session.page.evaluate("document.body.getAttribute('data-md-color-scheme')")
        assert scheme == expected_scheme, f"{url} is not shown in the {color_scheme} scheme"
        results = axe.run(session.page)
        found = [describe(v) for v in results.response["violations"] if v["impact"] in BLOCKING]
        if found:
            problems[url] = found
            page_name = urlsplit(url).path.strip("/") or "home"
            save_screenshots(session.page, f"axe-{color_scheme}-{page_name}")
    if problems:
        ARTIFACTS.mkdir(exist_ok=True)
        report = ARTIFACTS / f"axe-{color_scheme}.txt"
        report.write_text("".join(
            url + "\n" + "".join(f"  {problem}\n" for problem in found)
            for url, found in problems.items()
        ))
    assert problems == {}, f"the whole report is in test-artifacts/axe-{color_scheme}.txt"
