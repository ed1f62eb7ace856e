"""The strict build passes, and the built site loads nothing from any host but its own."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from tests.conftest import build_site
from tests.support import ROOT

MERMAID_SCRIPT = "assets/vendor/mermaid/mermaid.min.js"
# Attributes through which a page makes the browser fetch something by itself.
LOADING_ATTRIBUTES = {
    "script": ["src"],
    "img": ["src", "srcset"],
    "iframe": ["src"],
    "source": ["src", "srcset"],
    "video": ["src", "poster"],
    "audio": ["src"],
    "embed": ["src"],
    "object": ["data"],
}
PRELOADING_RELS = {"stylesheet", "preload", "prefetch", "modulepreload", "icon", "manifest",
                   "preconnect", "dns-prefetch"}


class ResourceCollector(HTMLParser):
    """Collects every URL a page loads by itself (not the links a reader may click)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.has_mermaid_block = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if "mermaid" in (values.get("class") or "").split():
            self.has_mermaid_block = True
        for name in LOADING_ATTRIBUTES.get(tag, []):
            if values.get(name):
                self.urls.append(values[name])
        if tag == "link" and PRELOADING_RELS & set((values.get("rel") or "").split()):
            self.urls.append(values.get("href") or "")


def pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def collect(page: Path) -> ResourceCollector:
    collector = ResourceCollector()
    collector.feed(page.read_text(encoding="utf-8"))
    return collector


def is_external(url: str) -> bool:
    return bool(re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", url, re.I)) and not url.startswith("data:")


def test_strict_build_has_no_warnings(site_build: tuple[Path, str]):
    _, log = site_build
    problems = [line for line in log.splitlines() if re.match(r"(WARNING|ERROR)", line)]
    assert problems == []


def test_a_missing_snippet_fails_the_build(tmp_path: Path):
    """check_paths: a page that includes a snippet file that does not exist must not build."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text('# Probe\n\n```py\n--8<-- "fundamentals/no_such_file.py"\n```\n')
    config = tmp_path / "mkdocs.yml"
    config.write_text(
        f"INHERIT: {ROOT / 'mkdocs.yml'}\n"
        f"docs_dir: {docs}\n"
        f"theme: {{name: material, custom_dir: {ROOT / 'overrides'}}}\n"
        f"hooks: [{ROOT / 'hooks' / 'notebook_css.py'}]\n"
        "plugins: [search]\n"
        "watch: []\n"
        "nav: [index.md]\n"
    )
    result = build_site(tmp_path / "site", config)
    assert result.returncode != 0
    assert "no_such_file.py" in result.stderr


def test_pages_load_nothing_from_other_hosts(built_site: Path):
    external = {
        str(page.relative_to(built_site)): url
        for page in pages(built_site)
        for url in collect(page).urls
        if is_external(url)
    }
    assert external == {}


def test_stylesheets_import_nothing_from_other_hosts(built_site: Path):
    for stylesheet in built_site.rglob("*.css"):
        text = stylesheet.read_text(encoding="utf-8")
        assert not re.search(r"(@import|url\()\s*['\"]?(https?:)?//", text), stylesheet


def test_no_page_leaves_a_diagram_to_the_browser(built_site: Path):
    """Every diagram was drawn at build time from diagram-cache/ (the build may not draw), so
    no page has a Mermaid block or loads Mermaid's JavaScript; the pages do have diagrams."""
    drawn = 0
    for page in pages(built_site):
        collector = collect(page)
        assert not collector.has_mermaid_block, f"{page}: a diagram has no cached drawing"
        assert not any(url.endswith(MERMAID_SCRIPT) for url in collector.urls), page
        drawn += page.read_text(encoding="utf-8").count('<div class="diagram"')
    assert drawn > 40, "the pages have lost their diagrams"


def test_a_diagram_without_a_drawing_is_left_for_the_browser(tmp_path: Path):
    """With no cached drawing and no drawing allowed, the fence stays Mermaid source and the page
    loads the vendored Mermaid to draw it, as a reader without Chromium would get it."""
    docs = tmp_path / "docs"
    docs.mkdir()
    fence = "```mermaid\nflowchart TB\n    accTitle: Probe\n    accDescr: Never drawn.\n"
    (docs / "index.md").write_text(f"# Probe\n\n{fence}    A --> B{tmp_path.name}\n```\n")
    config = tmp_path / "mkdocs.yml"
    config.write_text(
        f"INHERIT: {ROOT / 'mkdocs.yml'}\n"
        f"docs_dir: {docs}\n"
        f"theme: {{name: material, custom_dir: {ROOT / 'overrides'}}}\n"
        "hooks: []\nplugins: [search]\nwatch: []\nnav: [index.md]\n"
    )
    result = build_site(tmp_path / "site", config)
    assert result.returncode == 0, result.stderr
    assert "no drawing in diagram-cache/" in result.stderr
    collector = collect(tmp_path / "site" / "index.html")
    assert collector.has_mermaid_block
    assert any(url.endswith(MERMAID_SCRIPT) for url in collector.urls)


def test_vendored_libraries_carry_their_licences(built_site: Path):
    vendor = built_site / "assets" / "vendor"
    assert (vendor / "mermaid" / "LICENSE").is_file()
    assert (vendor / "tablesort" / "LICENCE").is_file()
    assert "mermaid 11." in (vendor / "VERSIONS").read_text()


# A site script, and what in a page's article means the page uses it (overrides/main.html).
SCRIPT_USES = {
    "assets/vendor/tablesort/tablesort.min.js": ['class="sortable"'],
    "assets/javascripts/tablesort.js": ['class="sortable"'],
    "assets/javascripts/figures.js": ['class="diagram"', 'class="plot-box"'],
    "assets/javascripts/programs.js": ["data-program="],
    "assets/javascripts/notebook-cells.js": ["jupyter-wrapper"],
    "assets/stylesheets/notebook.css": ["jupyter-wrapper"],
}


def test_a_page_loads_the_scripts_and_styles_it_uses_and_no_other(built_site: Path):
    """Each site script, and the notebook stylesheet, is on the pages whose article uses it, and
    only there; palette.js is on every page (every page has the palette toggle)."""
    loading = {script: 0 for script in SCRIPT_USES}
    for page in pages(built_site):
        html = page.read_text()
        article = html[html.index("<article"):html.index("</article>")]
        sources = set(re.findall(r'<script src="(?:\.\./)*/?([^"]+)"', html))
        sources |= set(re.findall(r'<link rel="stylesheet" href="(?:\.\./)*/?([^"]+)"', html))
        assert "assets/javascripts/palette.js" in sources, page
        for script, uses in SCRIPT_USES.items():
            used = any(use in article for use in uses)
            assert (script in sources) == used, f"{page}: {script} {'not ' * used}loaded"
            loading[script] += used
    assert all(loading.values()), loading  # each script is used somewhere: the check checked
