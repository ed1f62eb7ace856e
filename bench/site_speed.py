"""The site's speed, as readers and the build see it, checked against the budgets of issue 3.

1. Build times: a cold strict build (a fresh clone: no notebook cache) and a warm one (the
   mkdocs-jupyter cache filled by the cold build), both of the whole site.
2. Per page, in headless Chromium with an empty cache: the bytes transferred with the site served
   gzip-compressed (as a CDN serves it; what the browser reports as transferred, headers included)
   and the request count; whether Mermaid was fetched, which only pages with a diagram may do.
3. Lighthouse 12.2.3 (npm, installed into bench/node_modules on first use) on one page of each
   kind: plain text, diagrams, sortable table, notebook. Default settings (a mobile device with
   simulated throttling), median of 3 runs per score.

Budgets: a page without diagrams transfers at most 120 KB compressed; Mermaid is fetched only on
pages with a diagram; Lighthouse performance >= 95 and accessibility, best practices and SEO = 100
on every kind of page; a cold strict build under 10 s. A missed budget is printed with by how much.

Run: python bench/site_speed.py   (or `make bench`; a few minutes; needs Chromium ($CHROMIUM or
/usr/bin/chromium) and Node 20 with npm; writes bench/results/site_speed.txt)
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TABLE = HERE / "results" / "site_speed.txt"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
LIGHTHOUSE = HERE / "node_modules" / "lighthouse" / "cli" / "index.js"
LIGHTHOUSE_RUNS = 3
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
MERMAID = "assets/vendor/mermaid/mermaid.min.js"
COMPRESSIBLE = re.compile(r"^(text/|application/(javascript|json|xml|manifest))|\+xml|svg")

BUDGET_PAGE_KB = 120  # a page without diagrams, compressed
BUDGET_BUILD_S = 10.0  # a cold strict build
BUDGET_SCORES = {"performance": 95, "accessibility": 100, "best-practices": 100, "seo": 100}


# --- serving, compressed ----------------------------------------------------------------------

class CompressingHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files gzip-compressed (level 6, a CDN's usual) when the client accepts gzip."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def send_head(self):  # type: ignore[override]
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            if not self.path.split("?")[0].endswith("/"):
                return super().send_head()  # the redirect to the folder's URL
            path = path / "index.html"
        ctype = self.guess_type(str(path))
        accepts = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (path.is_file() and accepts and COMPRESSIBLE.search(ctype)):
            return super().send_head()
        body = gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Vary", "Accept-Encoding")
        self.end_headers()
        return _Body(body)


class _Body:
    """A file-like object over bytes, as send_head must return."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, *_: object) -> bytes:
        data, self.data = self.data, b""
        return data

    def close(self) -> None:
        pass


class Server:
    """The built site, served compressed on 127.0.0.1 at the port given (the site_url's)."""

    def __init__(self, site: Path, port: int) -> None:
        handler = functools.partial(CompressingHandler, directory=str(site))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- build times ------------------------------------------------------------------------------

def timed_build(workdir: Path, site: Path, site_url: str) -> float:
    """One strict build of the project's mkdocs.yml, run from ``workdir`` (which holds the
    notebook cache in .cache/); returns the wall-clock seconds."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "SITE_URL": site_url}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q",
         "-f", str(ROOT / "mkdocs.yml"), "-d", str(site)],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=600,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"the strict build failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def build_twice(tmp: Path, site_url: str) -> tuple[Path, float, float]:
    """A cold then a warm build. The build runs from a fresh folder that links to snippets/ and
    bench/ (pymdownx.snippets reads them relative to the working directory), so its notebook
    cache starts empty, as in a fresh clone."""
    workdir = tmp / "work"
    workdir.mkdir()
    for name in ("snippets", "bench"):
        (workdir / name).symlink_to(ROOT / name)
    site = tmp / "site"
    cold = timed_build(workdir, site, site_url)
    warm = timed_build(workdir, site, site_url)
    return site, cold, warm


# --- pages ------------------------------------------------------------------------------------

@dataclass
class Page:
    url: str
    kind: str
    has_diagram: bool
    transferred: int = 0
    requests: int = 0
    fetched_mermaid: bool = False
    largest: list[tuple[str, int]] = field(default_factory=list)  # (path, bytes), biggest first
    inline: dict[str, int] = field(default_factory=dict)  # what inside the HTML weighs, compressed


def pages_of(site: Path, site_url: str) -> list[Page]:
    """Every page in the sitemap, with its kind (from its HTML)."""
    sitemap = (site / "sitemap.xml").read_text(encoding="utf-8")
    pages = []
    for url in sorted(re.findall(r"<loc>\s*([^<\s]+)\s*</loc>", sitemap)):
        path = url.removeprefix(site_url)
        html = (site / path / "index.html").read_text(encoding="utf-8")
        has_diagram = '<pre class="mermaid"' in html
        if "jupyter-wrapper" in html:
            kind = "notebook"
        elif 'class="sortable"' in html:
            kind = "sortable table"
        elif has_diagram:
            kind = "diagrams"
        else:
            kind = "plain text"
        inline = {
            "inline CSS": "".join(re.findall(r"<style.*?</style>", html, re.S)),
            "inline images": "".join(re.findall(r"data:image/[^\"')]+", html)),
        }
        weights = {name: len(gzip.compress(text.encode(), 6)) for name, text in inline.items()}
        pages.append(Page(url, kind, has_diagram, inline=weights))
    return pages


def transferred(request) -> int:
    """Bytes on the wire for one response: headers plus the (compressed) body. Chromium reports
    no body size for a worker's script, so the Content-Length header, which this server always
    sends, is the body's size."""
    sizes = request.sizes()
    response = request.response()
    length = response.header_value("content-length") if response else None
    body = int(length) if length else sizes["responseBodySize"]
    return sizes["responseHeadersSize"] + body


def weigh(pages: list[Page]) -> None:
    """Loads each page with an empty cache and adds up what the browser transferred."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for page in pages:
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                responses: list = []
                context.on("requestfinished", functools.partial(list.append, responses))
                tab = context.new_page()
                tab.goto(page.url, wait_until="load")
                tab.wait_for_load_state("networkidle")
                sizes = sorted(((r.url, transferred(r)) for r in responses), key=lambda u: -u[1])
                page.transferred = sum(size for _, size in sizes)
                page.largest = sizes[:3]
                page.requests = len(responses)
                page.fetched_mermaid = any(r.url.endswith(MERMAID) for r in responses)
                context.close()
        finally:
            browser.close()


# --- Lighthouse -------------------------------------------------------------------------------

def ensure_lighthouse() -> None:
    if not LIGHTHOUSE.is_file():
        print("Installing Lighthouse into bench/node_modules (npm ci) ...", file=sys.stderr)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(HERE)], check=True)


def lighthouse(url: str) -> dict[str, float]:
    """The median score of each category over LIGHTHOUSE_RUNS runs."""
    runs: dict[str, list[float]] = {name: [] for name in CATEGORIES}
    flags = " ".join(["--headless=new", *CHROMIUM_ARGS])
    for _ in range(LIGHTHOUSE_RUNS):
        result = subprocess.run(
            ["node", str(LIGHTHOUSE), url, "--output=json", "--output-path=stdout", "--quiet",
             f"--only-categories={','.join(CATEGORIES)}", f"--chrome-flags={flags}"],
            env={**os.environ, "CHROME_PATH": CHROMIUM},
            capture_output=True, text=True, timeout=300, check=True,
        )
        report = json.loads(result.stdout)
        for name in CATEGORIES:
            runs[name].append(round(report["categories"][name]["score"] * 100))
    return {name: statistics.median(scores) for name, scores in runs.items()}


# --- the report -------------------------------------------------------------------------------

def verdict(ok: bool, miss: str) -> str:
    return "ok" if ok else f"MISSED by {miss}"


def report(pages: list[Page], scores: dict[str, tuple[str, dict[str, float]]],
           cold: float, warm: float, site_url: str) -> tuple[str, int]:
    lines, misses = [], 0
    lines.append("Page weight: empty cache, gzip level 6, headless Chromium, loopback")
    lines.append(f"{'page':<44} {'kind':<15} {'KB':>7} {'requests':>8}  mermaid  budget")
    for page in pages:
        kb = page.transferred / 1000
        budget = "ok"
        if not page.has_diagram and kb > BUDGET_PAGE_KB:
            budget = verdict(False, f"{kb - BUDGET_PAGE_KB:.1f} KB (> {BUDGET_PAGE_KB} KB)")
            misses += 1
        if page.fetched_mermaid != page.has_diagram:
            budget = "MISSED: Mermaid fetched" if page.fetched_mermaid else "MISSED: no Mermaid"
            misses += 1
        mermaid = "fetched" if page.fetched_mermaid else "-"
        name = "/" + page.url.removeprefix(site_url)
        lines.append(f"{name:<44} {page.kind:<15} {kb:>7.1f} {page.requests:>8}  "
                     f"{mermaid:<7}  {budget}")
        if budget != "ok":
            parts = []
            for url, size in page.largest:
                part = f"{url.removeprefix(site_url) or 'index'} {size / 1000:.1f} KB"
                if url == page.url:
                    part += " (of which " + ", ".join(
                        f"{what} {weight / 1000:.1f} KB" for what, weight in page.inline.items()
                    ) + ")"
                parts.append(part)
            lines.append(f"    largest: {'; '.join(parts)}")
    lines.append("")
    lines.append(f"Lighthouse 12.2.3, default (mobile, simulated throttling), median of "
                 f"{LIGHTHOUSE_RUNS} runs")
    lines.append(f"{'kind':<15} {'page':<36} " + " ".join(f"{c:>14}" for c in CATEGORIES)
                 + "  budget")
    for kind in ("plain text", "diagrams", "sortable table", "notebook"):
        if kind not in scores:
            lines.append(f"{kind:<15} (no page of this kind in the site)")
            continue
        url, got = scores[kind]
        missed = [f"{c} {BUDGET_SCORES[c] - got[c]:g} points" for c in CATEGORIES
                  if got[c] < BUDGET_SCORES[c]]
        misses += len(missed)
        name = "/" + url.removeprefix(site_url)
        lines.append(f"{kind:<15} {name:<36} " + " ".join(f"{got[c]:>14g}" for c in CATEGORIES)
                     + "  " + (f"MISSED: {', '.join(missed)}" if missed else "ok"))
    lines.append("")
    lines.append(f"Strict build of the whole site ({os.cpu_count()} cores)")
    cold_ok = cold < BUDGET_BUILD_S
    misses += not cold_ok
    lines.append(f"cold (no notebook cache): {cold:6.1f} s  "
                 + verdict(cold_ok, f"{cold - BUDGET_BUILD_S:.1f} s (budget {BUDGET_BUILD_S:g} s)"))
    lines.append(f"warm (cache filled):      {warm:6.1f} s")
    lines.append("")
    lines.append("All budgets met." if not misses else f"{misses} budget(s) missed.")
    return "\n".join(lines) + "\n", misses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-lighthouse", action="store_true", help="skip the Lighthouse runs")
    parser.add_argument("--fail-on-miss", action="store_true",
                        help="exit with status 1 when a budget is missed")
    args = parser.parse_args()
    if not os.access(CHROMIUM, os.X_OK):
        sys.exit(f"no Chromium at {CHROMIUM}: run `make chromium` or set $CHROMIUM")
    port = free_port()
    site_url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryDirectory(prefix="site-speed-") as tmp:
        site, cold, warm = build_twice(Path(tmp), site_url)
        pages = pages_of(site, site_url)
        with Server(site, port):
            weigh(pages)
            scores: dict[str, tuple[str, dict[str, float]]] = {}
            if not args.no_lighthouse:
                ensure_lighthouse()
                for kind in ("plain text", "diagrams", "sortable table", "notebook"):
                    # a page of that kind only (a table without a diagram) where there is one
                    of_kind = [p for p in pages if p.kind == kind]
                    page = next((p for p in of_kind if not p.has_diagram), None)
                    page = page or next(iter(of_kind), None)
                    if page is not None:
                        print(f"Lighthouse: {kind} ({page.url}) ...", file=sys.stderr)
                        scores[kind] = (page.url, lighthouse(page.url))
        text, misses = report(pages, scores, cold, warm, site_url)
    print(text, end="")
    TABLE.parent.mkdir(exist_ok=True)
    TABLE.write_text(text)
    return 1 if misses and args.fail_on_miss else 0


if __name__ == "__main__":
    raise SystemExit(main())
