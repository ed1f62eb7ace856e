"""The site's speed, as readers and the build see it, checked against the budgets of issue 10.

1. Build times: a cold strict build (a fresh clone: no notebook cache, the committed diagram
   cache) and a warm one; and what drawing every diagram from an empty diagram cache costs
   (docs_tools.mermaid.draw, one headless Chromium, nothing written).
2. Per page, in headless Chromium with an empty cache: the bytes transferred with the site served
   gzip-compressed (as a CDN serves it; what the browser reports as transferred, headers
   included), the request count, and whether Mermaid's JavaScript was fetched (never, now that
   diagrams are drawn at build time).
3. Lighthouse 12.2.3 (npm, installed into bench/node_modules on first use) on every page:
   default settings (a mobile device with simulated throttling), one run per page, then two
   more on the five pages with the lowest performance, whose median is reported.

Budgets: every page transfers at most 120 KB compressed and fetches no Mermaid; Lighthouse
performance >= 98 and accessibility, best practices and SEO = 100 on every page; a cold strict
build under 10 s. A missed budget is printed with by how much; a missed performance score also
with why (the points each metric cost, from the median run, and where the main thread's time
went) and what would meet it (the value of the costliest metric that would, the rest as
measured, by Lighthouse's own scoring curves).

Run: python bench/site_speed.py   (or `make bench`; about 15 minutes; needs Chromium ($CHROMIUM
or /usr/bin/chromium) and Node 20 with npm; writes bench/results/site_speed.txt)
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import json
import math
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
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
MERMAID = "assets/vendor/mermaid/mermaid.min.js"
COMPRESSIBLE = re.compile(r"^(text/|application/(javascript|json|xml|manifest))|\+xml|svg")

BUDGET_PAGE_KB = 120  # every page, compressed, empty cache
BUDGET_BUILD_S = 10.0  # a cold strict build (the diagram cache committed, as in a clone)
BUDGET_SCORES = {"performance": 98, "accessibility": 100, "best-practices": 100, "seo": 100}
SLOWEST_RERUN = 5  # pages whose Lighthouse performance is measured three times


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
    scores: dict[str, float] = field(default_factory=dict)
    runs: int = 0
    transferred: int = 0
    requests: int = 0
    fetched_mermaid: bool = False
    largest: list[tuple[str, int]] = field(default_factory=list)  # (path, bytes), biggest first
    inline: dict[str, int] = field(default_factory=dict)  # what inside the HTML weighs, compressed
    performance: Performance | None = None  # the metrics of the run whose score is the median


def pages_of(site: Path, site_url: str) -> list[Page]:
    """Every page in the sitemap, with its kind (from its HTML)."""
    sitemap = (site / "sitemap.xml").read_text(encoding="utf-8")
    pages = []
    for url in sorted(re.findall(r"<loc>\s*([^<\s]+)\s*</loc>", sitemap)):
        path = url.removeprefix(site_url)
        html = (site / path / "index.html").read_text(encoding="utf-8")
        has_diagram = '<div class="diagram"' in html or '<pre class="mermaid"' in html
        kinds = [name for name, marker in (("notebook", "jupyter-wrapper"),
                                           ("sortable table", 'class="sortable"'),
                                           ("diagrams", '<div class="diagram"'),
                                           ("plots", '<div class="plot-box"')) if marker in html]
        kind = ", ".join(kinds) or "plain text"
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


@dataclass
class Metric:
    """One metric of Lighthouse's performance score, as one run measured it."""

    name: str  # Lighthouse's audit id, e.g. "total-blocking-time"
    weight: float  # its share of the score, the weights summing to 1
    value: float  # ms (CLS: unitless)
    score: float  # 0..1, from the log-normal curve set by p10 and median
    p10: float
    median: float

    def score_at(self, value: float) -> float:
        """Lighthouse's score for ``value`` (its Audit.computeLogNormalScore): a log-normal
        curve through 0.9 at p10 and 0.5 at the median, a small boost above 0.9, then floored
        to two decimals."""
        if value <= 0:
            return 1.0
        spread = math.log(self.median / self.p10) / ERFINV_0_8
        percentile = 0.5 * math.erfc(math.log(value / self.median) / spread)
        if percentile > 0.9:
            percentile += 0.05 * (percentile - 0.9)
        return min(1.0, math.floor(percentile * 100) / 100)

    def gain(self, value: float) -> float:
        """What the performance score (0..1) gains if this metric measured ``value``."""
        return self.weight * (self.score_at(value) - self.score_at(self.value))

    def lost(self) -> float:
        """The points of the performance score this metric cost."""
        return 100 * self.weight * (1 - self.score)


ERFINV_0_8 = 0.9061938024368232  # erf(x) = 0.8, so that a metric at p10 scores 0.9
SHORT_NAMES = {"first-contentful-paint": "FCP", "speed-index": "Speed Index",
               "largest-contentful-paint": "LCP", "total-blocking-time": "TBT",
               "cumulative-layout-shift": "CLS"}


@dataclass
class Performance:
    score: float
    metrics: list[Metric]
    main_thread: list[tuple[str, float]]  # groups of main-thread work, ms, largest first

    def why(self) -> str:
        """The metrics that cost points, largest loss first, and where the main thread went."""
        costs = [f"{SHORT_NAMES[m.name]} {shown(m)} costs {m.lost():.1f}"
                 for m in sorted(self.metrics, key=Metric.lost, reverse=True) if m.lost() >= 0.5]
        work = ", ".join(f"{group} {ms / 1000:.2f} s" for group, ms in self.main_thread[:2])
        return f"{'; '.join(costs)} points; main thread (4x slowed CPU): {work}"

    def would_meet(self, budget: float) -> str:
        """What would lift this run to ``budget``, the costliest metric first: each metric
        that cannot close the gap alone is brought to where it scores 1, the next one to the
        value that closes what is left. The others stay as measured."""
        unrounded = sum(m.weight * m.score for m in self.metrics)  # what Lighthouse rounds
        missing = (budget - 0.5) / 100 - unrounded  # x.5 rounds up to the budget
        targets = []
        for metric in sorted(self.metrics, key=Metric.lost, reverse=True):
            if metric.lost() <= 0:
                break
            full = metric.gain(0)
            enough = full >= missing + 1e-9  # a hair over: a sum exactly at x.5 may round down
            low, high = 0.0, metric.value  # bisect: the largest value that gains enough
            for _ in range(60):
                middle = (low + high) / 2
                gains = metric.gain(middle) >= (missing + 1e-9 if enough else full)
                low, high = (middle, high) if gains else (low, middle)
            if metric.name != "cumulative-layout-shift":
                low = math.floor(low)  # shown in whole ms: round down, so it still meets
            targets.append(f"{SHORT_NAMES[metric.name]} at most {shown(metric, low)}")
            if enough:
                return " and ".join(targets) + ", the rest as measured"
            missing -= full
        return "not reachable by these metrics alone"


def shown(metric: Metric, value: float | None = None) -> str:
    value = metric.value if value is None else value
    if metric.name == "cumulative-layout-shift":
        return f"{value:.3f}"
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.2f} s"


def performance_of(report: dict) -> Performance:
    audits = report["audits"]
    metrics = []
    for reference in report["categories"]["performance"]["auditRefs"]:
        if reference["weight"] and reference["id"] in SHORT_NAMES:
            audit = audits[reference["id"]]
            options = audit["scoringOptions"]
            metrics.append(Metric(reference["id"], reference["weight"] / 100,
                                  audit["numericValue"], audit["score"],
                                  options["p10"], options["median"]))
    items = audits["mainthread-work-breakdown"]["details"]["items"]
    main_thread = sorted(((item["groupLabel"], item["duration"]) for item in items),
                         key=lambda group: group[1], reverse=True)
    return Performance(round(report["categories"]["performance"]["score"] * 100), metrics,
                       main_thread)


def lighthouse(url: str, times: int = 1) -> tuple[dict[str, list[float]], list[Performance]]:
    """Each category's scores over ``times`` runs, and each run's performance metrics."""
    runs: dict[str, list[float]] = {name: [] for name in CATEGORIES}
    performances = []
    flags = " ".join(["--headless=new", *CHROMIUM_ARGS])
    for _ in range(times):
        result = subprocess.run(
            ["node", str(LIGHTHOUSE), url, "--output=json", "--output-path=stdout", "--quiet",
             f"--only-categories={','.join(CATEGORIES)}", f"--chrome-flags={flags}"],
            env={**os.environ, "CHROME_PATH": CHROMIUM},
            capture_output=True, text=True, timeout=300, check=True,
        )
        report = json.loads(result.stdout)
        for name in CATEGORIES:
            runs[name].append(round(report["categories"][name]["score"] * 100))
        performances.append(performance_of(report))
    return runs, performances


def score_every_page(pages: list[Page]) -> None:
    """One Lighthouse run per page; two more on the slowest pages, reported as the median."""
    runs, performances = {}, {}
    for number, page in enumerate(pages, 1):
        print(f"Lighthouse {number}/{len(pages)}: {page.url}", file=sys.stderr)
        runs[page.url], performances[page.url] = lighthouse(page.url)
    slowest = sorted(pages, key=lambda p: runs[p.url]["performance"][0])[:SLOWEST_RERUN]
    for page in slowest:
        print(f"Lighthouse, twice more: {page.url}", file=sys.stderr)
        more, more_performances = lighthouse(page.url, 2)
        for name, scores in more.items():
            runs[page.url][name] += scores
        performances[page.url] += more_performances
    for page in pages:
        page.runs = len(runs[page.url]["performance"])
        page.scores = {name: statistics.median(scores) for name, scores in runs[page.url].items()}
        by_score = sorted(performances[page.url], key=lambda run: run.score)
        page.performance = by_score[len(by_score) // 2]  # the median run (1 or 3 runs)


# --- the report -------------------------------------------------------------------------------

def verdict(ok: bool, miss: str) -> str:
    return "ok" if ok else f"MISSED by {miss}"


def report(pages: list[Page], cold: float, warm: float, drawing: tuple[int, float],
           site_url: str) -> tuple[str, int]:
    lines, misses = [], 0
    lines.append("Every page: empty cache, gzip level 6, headless Chromium, loopback; Lighthouse "
                 "12.2.3, default (mobile, simulated throttling)")
    lines.append("perf/a11y/bp/seo: median of the runs (3 for the slowest pages, else 1)")
    lines.append(f"{'page':<40} {'kind':<30} {'KB':>6} {'req':>4}  mermaid "
                 f"{'perf':>5} {'a11y':>5} {'bp':>5} {'seo':>5} runs  budget")
    for page in pages:
        kb = page.transferred / 1000
        missed = []
        if kb > BUDGET_PAGE_KB:
            missed.append(f"{kb - BUDGET_PAGE_KB:.1f} KB over")
        if page.fetched_mermaid:
            missed.append("fetched Mermaid")
        missed += [f"{c} {BUDGET_SCORES[c] - page.scores[c]:g} points"
                   for c in CATEGORIES if page.scores and page.scores[c] < BUDGET_SCORES[c]]
        misses += len(missed)
        scores = " ".join(f"{page.scores[c]:>5g}" if page.scores else f"{'-':>5}"
                          for c in CATEGORIES)
        name = "/" + page.url.removeprefix(site_url)
        lines.append(f"{name:<40} {page.kind:<30} {kb:>6.1f} {page.requests:>4}  "
                     f"{'fetched' if page.fetched_mermaid else '-':<7} {scores} {page.runs:>4}  "
                     + (f"MISSED: {', '.join(missed)}" if missed else "ok"))
        if missed:
            parts = [f"{url.removeprefix(site_url) or 'index'} {size / 1000:.1f} KB"
                     for url, size in page.largest]
            lines.append(f"    largest: {'; '.join(parts)}")
        budget = BUDGET_SCORES["performance"]
        if page.performance and page.scores["performance"] < budget:
            lines.append(f"    why: {page.performance.why()}")
            lines.append(f"    would meet {budget}: {page.performance.would_meet(budget)}")
    lines.append("")
    lines.append(f"Strict build of the whole site ({os.cpu_count()} cores)")
    cold_ok = cold < BUDGET_BUILD_S
    misses += not cold_ok
    lines.append(f"cold (no notebook cache, diagram cache as committed): {cold:6.1f} s  "
                 + verdict(cold_ok, f"{cold - BUDGET_BUILD_S:.1f} s (budget {BUDGET_BUILD_S:g} s)"))
    lines.append(f"warm (notebook cache filled):                        {warm:6.1f} s")
    count, seconds = drawing
    lines.append(f"drawing all {count} diagrams from an empty diagram cache: {seconds:6.1f} s "
                 "(one Chromium; `make diagrams` after a Mermaid upgrade)")
    lines.append("")
    lines.append("All budgets met." if not misses else f"{misses} budget(s) missed.")
    return "\n".join(lines) + "\n", misses


def time_drawing_every_diagram() -> tuple[int, float]:
    """Draw every fence with Chromium, as an empty diagram cache would, writing nothing."""
    sys.path.insert(0, str(ROOT))
    from docs_tools import mermaid

    sources = list(mermaid.fences())
    started = time.perf_counter()
    mermaid.draw(sources)
    return len(sources), time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-lighthouse", action="store_true", help="skip the Lighthouse runs")
    parser.add_argument("--fail-on-miss", action="store_true",
                        help="exit with status 1 when a budget is missed")
    args = parser.parse_args()
    if not os.access(CHROMIUM, os.X_OK):
        sys.exit(f"no Chromium at {CHROMIUM}: run `make chromium` or set $CHROMIUM")
    drawing = time_drawing_every_diagram()
    port = free_port()
    site_url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryDirectory(prefix="site-speed-") as tmp:
        site, cold, warm = build_twice(Path(tmp), site_url)
        pages = pages_of(site, site_url)
        with Server(site, port):
            weigh(pages)
            if not args.no_lighthouse:
                ensure_lighthouse()
                score_every_page(pages)
        text, misses = report(pages, cold, warm, drawing, site_url)
    print(text, end="")
    TABLE.parent.mkdir(exist_ok=True)
    TABLE.write_text(text)
    return 1 if misses and args.fail_on_miss else 0


if __name__ == "__main__":
    raise SystemExit(main())
