"""The browser suite's fixtures: the built site served on its ``site_url``, one headless Chromium
for the whole run, and pages that record everything they load and every error they log.

Pages are discovered from the built site's sitemap.xml, never listed by hand, so a chapter that
lands is checked without touching this folder.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.support import DOCS, ROOT

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Material draws each Mermaid diagram into a closed shadow root; opening it lets a test reach the
# <svg> (the page works the same either way).
OPEN_SHADOW_ROOTS = """
const attachShadow = Element.prototype.attachShadow;
Element.prototype.attachShadow = function (init) {
  return attachShadow.call(this, Object.assign({}, init, { mode: "open" }));
};
"""


# Material's document$ emits once a page is set up; the site's
# scripts subscribe to it. A subscriber added now runs after them (it replays the last page).
MATERIAL_READY = """() => typeof document$ !== "undefined" && new Promise((resolve) => {
  const subscription = document$.subscribe(() => setTimeout(() => {
    subscription.unsubscribe();
    resolve(true);
  }, 0));
})"""


def page_paths() -> list[str]:
    """The path of every page, from docs/ (known before the build, so tests can be
    parametrized by page): docs/a/b.md -> "a/b/", docs/a/index.md -> "a/", a notebook
    docs/a/c.py -> "a/c/". test_pages.py checks the built sitemap lists exactly these."""
    paths = []
    for source in sorted([*DOCS.rglob("*.md"), *DOCS.rglob("*.py")]):
        relative = source.relative_to(DOCS)
        if relative.parts[0] in ("assets", "programs"):
            continue
        folder = relative.parent.as_posix()
        stem = "" if source.stem == "index" else source.stem + "/"
        paths.append(("" if folder == "." else folder + "/") + stem)
    return paths


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base's name)
        pass


@pytest.fixture(scope="package")
def served_site(built_site: Path, site_socket: socket.socket, site_url: str) -> Iterator[str]:
    """Serves the built site from the socket its ``site_url`` names; yields that URL."""
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    server = http.server.ThreadingHTTPServer(site_socket.getsockname(), handler, False)
    server.socket.close()  # the server's own, never bound: it serves the reserved socket instead
    server.socket = site_socket
    server.server_name, server.server_port = site_socket.getsockname()[:2]
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield site_url
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def site_pages(built_site: Path, site_url: str) -> list[str]:
    """The URL of every page of the site, from its sitemap.xml (what the nav and docs produce)."""
    tree = ET.parse(built_site / "sitemap.xml")
    urls = [loc.text.strip() for loc in tree.iter() if loc.tag.endswith("loc") and loc.text]
    assert urls, "the sitemap lists no page"
    assert all(url.startswith(site_url) for url in urls), "the sitemap is not on the site_url"
    return sorted(urls)


def page_file(built_site: Path, site_url: str, url: str) -> Path:
    """The built HTML file behind a page URL."""
    path = urlsplit(url).path.removeprefix(urlsplit(site_url).path)
    return built_site / path / "index.html" if not path or path.endswith("/") else built_site / path


def count_in_page(built_site: Path, site_url: str, url: str, pattern: str) -> int:
    return len(re.findall(pattern, page_file(built_site, site_url, url).read_text("utf-8")))


@pytest.fixture(scope="package")  # ends with tests/site: Playwright holds an event loop
def browser() -> Iterator[Browser]:
    """One headless Chromium for the run: Debian's, or the binary named by $CHROMIUM."""
    executable = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    assert os.access(executable, os.X_OK), f"no Chromium at {executable}: run `make chromium`"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Recorder:
    """Everything a browser context did that a reader would not want: errors and foreign hosts."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return (
            [f"console error: {text}" for text in self.console_errors]
            + [f"page error: {text}" for text in self.page_errors]
            + [f"request to another host: {url}" for url in self.foreign_requests]
            + [f"failed request: {text}" for text in self.failed_requests]
        )

    def clear(self) -> None:
        for found in (self.console_errors, self.page_errors, self.foreign_requests,
                      self.failed_requests, self.requests):
            found.clear()

    def attach(self, context: BrowserContext) -> None:
        def on_request(request) -> None:
            self.requests.append(request.url)
            parts = urlsplit(request.url)
            if parts.scheme in ("http", "https", "ws", "wss") and (
                f"{parts.scheme}://{parts.netloc}" != self.origin
            ):
                self.foreign_requests.append(request.url)

        def on_response(response) -> None:
            if response.status >= 400:
                self.failed_requests.append(f"{response.status} {response.url}")

        def on_request_failed(request) -> None:
            self.failed_requests.append(f"{request.failure} {request.url}")

        def on_page(page: Page) -> None:
            page.on("console", lambda msg: msg.type == "error" and self.console_errors.append(
                f"{msg.text} ({msg.location.get('url', '')})"))
            page.on("pageerror", lambda error: self.page_errors.append(str(error)))

        context.on("request", on_request)
        context.on("response", on_response)
        context.on("requestfailed", on_request_failed)
        context.on("page", on_page)


@dataclass
class Session:
    """A browser context in one colour scheme, its one page, and what it recorded."""

    context: BrowserContext
    page: Page
    recorder: Recorder

    def open(self, url: str) -> None:
        """Loads ``url`` and waits until Material has set the page up (document$ emitted, so
        copy buttons, sortable tables and the site's own scripts have run)."""
        self.page.goto(url, wait_until="load")
        self.page.wait_for_function(MATERIAL_READY)


@pytest.fixture
def new_session(
    browser: Browser, served_site: str, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Session]]:
    """Opens browser contexts (``color_scheme`` "light" or "dark"); on a test failure, saves
    full-page screenshots of each context's page at desktop and phone widths."""
    sessions: list[Session] = []
    origin = served_site.rstrip("/")

    def open_session(color_scheme: str = "light") -> Session:
        context = browser.new_context(viewport=DESKTOP, color_scheme=color_scheme)
        context.add_init_script(OPEN_SHADOW_ROOTS)
        recorder = Recorder(origin)
        recorder.attach(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        session = Session(context, page, recorder)
        sessions.append(session)
        return session

    yield open_session
    report = getattr(request.node, "rep_call", None)
    for index, session in enumerate(sessions):
        if report is not None and report.failed:
            save_screenshots(session.page, f"{request.node.name}-{index}")
        session.context.close()


def save_screenshots(page: Page, name: str) -> list[Path]:
    """Full-page screenshots of ``page`` at desktop and phone widths, in test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")
    saved = []
    if page.is_closed():
        return saved
    size = page.viewport_size
    # a full-page screenshot does not scroll, so figures the page leaves unrendered until they
    # come near the viewport (content-visibility: auto) would show blank: render them all
    page.add_style_tag(content=".diagram, .plot-box { content-visibility: visible !important; }")
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        path = ARTIFACTS / f"{safe}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        saved.append(path)
    if size:
        page.set_viewport_size(size)
    return saved


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keeps each phase's report on the test item, so a fixture knows whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
