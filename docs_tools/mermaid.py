"""Draw Mermaid diagrams to SVG at build time, with the vendored Mermaid in headless Chromium.

A reader's browser never runs Mermaid: each ```mermaid fence is drawn once, here, and the drawing
is kept in ``diagram-cache/`` (committed) under a key made of the Mermaid version, the drawing
configuration below and the diagram's source. A build with a warm cache needs no browser.

Colours: Mermaid computes its colours in JavaScript, so it cannot take CSS variables. It draws
with a "sentinel" colour for each of its theme variables instead (``SENTINELS``), and the fence
formatter (``docs_tools.diagrams``) replaces every sentinel with the CSS variable that
``COLOURS`` names, which docs/assets/stylesheets/figures.css defines for each colour scheme.

Refresh the cache (draw what is missing, delete what no page uses)::

    python -m docs_tools.mermaid          # or: make diagrams
    python -m docs_tools.mermaid --list   # then each diagram's page, size and accessible name
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CACHE = ROOT / "diagram-cache"
MERMAID_JS = DOCS / "assets" / "vendor" / "mermaid" / "mermaid.min.js"
VERSIONS = DOCS / "assets" / "vendor" / "VERSIONS"

# Mermaid theme variable -> the CSS variable (--diagram-<name>) that colours it on the page.
COLOURS = {
    "background": "bg",
    "primaryColor": "node-bg",
    "secondaryColor": "node-bg",
    "tertiaryColor": "cluster-bg",
    "primaryBorderColor": "node-border",
    "secondaryBorderColor": "node-border",
    "tertiaryBorderColor": "cluster-border",
    "primaryTextColor": "text",
    "secondaryTextColor": "text",
    "tertiaryTextColor": "text",
    "lineColor": "line",
    "textColor": "text",
    "mainBkg": "node-bg",
    "secondBkg": "node-bg",
    "border1": "node-border",
    "border2": "cluster-border",
    "arrowheadColor": "line",
    "nodeBkg": "node-bg",
    "nodeBorder": "node-border",
    "clusterBkg": "cluster-bg",
    "clusterBorder": "cluster-border",
    "defaultLinkColor": "line",
    "titleColor": "text",
    "edgeLabelBackground": "label-bg",
    "nodeTextColor": "text",
    "actorBorder": "node-border",
    "actorBkg": "node-bg",
    "actorTextColor": "text",
    "actorLineColor": "line",
    "signalColor": "text",
    "signalTextColor": "text",
    "labelBoxBkgColor": "node-bg",
    "labelBoxBorderColor": "node-border",
    "labelTextColor": "text",
    "loopTextColor": "text",
    "noteBorderColor": "note-border",
    "noteBkgColor": "note-bg",
    "noteTextColor": "text",
    "activationBorderColor": "node-border",
    "activationBkgColor": "node-bg",
    "sequenceNumberColor": "bg",
    "rectBkgColor": "cluster-bg",
    "sectionBkgColor": "cluster-bg",
    "altSectionBkgColor": "bg",
    "sectionBkgColor2": "cluster-bg",
    "excludeBkgColor": "cluster-bg",
    "taskBorderColor": "node-border",
    "taskBkgColor": "node-bg",
    "activeTaskBorderColor": "node-border",
    "activeTaskBkgColor": "node-bg",
    "gridColor": "line",
    "doneTaskBkgColor": "cluster-bg",
    "doneTaskBorderColor": "cluster-border",
    "critBorderColor": "note-border",
    "critBkgColor": "note-bg",
    "todayLineColor": "note-border",
    "vertLineColor": "line",
    "taskTextColor": "text",
    "taskTextOutsideColor": "text",
    "taskTextLightColor": "text",
    "taskTextDarkColor": "text",
    "taskTextClickableColor": "text",
    "personBorder": "node-border",
    "personBkg": "node-bg",
    "rowOdd": "bg",
    "rowEven": "cluster-bg",
    "transitionColor": "line",
    "transitionLabelColor": "text",
    "stateLabelColor": "text",
    "stateBkg": "node-bg",
    "labelBackgroundColor": "label-bg",
    "compositeBackground": "bg",
    "altBackground": "cluster-bg",
    "compositeTitleBackground": "cluster-bg",
    "compositeBorder": "node-border",
    "innerEndBackground": "node-border",
    "specialStateColor": "text",
    "errorBkgColor": "bg",
    "errorTextColor": "text",
    "labelColor": "text",
}
# One distinct colour per theme variable, which no diagram uses for itself.
SENTINELS = {name: f"#0c0a{index:02x}" for index, name in enumerate(COLOURS)}

# Diagrams are laid out with this font, measured here and named in the drawing's CSS: Arial, or
# a font with Arial's metrics (Liberation Sans on Linux), so text fits its boxes everywhere.
FONT = 'Arial, "Liberation Sans", Helvetica, sans-serif'
FONT_SIZE_PX = 16

CONFIG = {
    "startOnLoad": False,
    "securityLevel": "strict",
    "deterministicIds": True,  # ids from counters, not from the clock or chance
    "theme": "base",
    "themeVariables": {**SENTINELS, "fontFamily": FONT, "fontSize": f"{FONT_SIZE_PX}px"},
    "fontFamily": FONT,
    "htmlLabels": False,  # labels as SVG <text>, not HTML in <foreignObject>: no clipping
    "flowchart": {"htmlLabels": False, "useMaxWidth": False, "padding": 12},
    # the sequence diagram measures actors, messages and notes with fonts of its own (notes in
    # 14 px "trebuchet ms" by default, drawn at 16 px): the same font everywhere, or a note's
    # box comes out narrower than its text
    "sequence": {"useMaxWidth": False, "mirrorActors": False, "wrap": False,
                 "actorFontFamily": FONT, "noteFontFamily": FONT, "messageFontFamily": FONT,
                 "actorFontSize": FONT_SIZE_PX, "noteFontSize": FONT_SIZE_PX,
                 "messageFontSize": FONT_SIZE_PX},
    "state": {"useMaxWidth": False},
    "gantt": {"useMaxWidth": False, "fontSize": FONT_SIZE_PX, "sectionFontSize": FONT_SIZE_PX},
}

FENCE = re.compile(r"^(?P<indent>[ \t]*)```mermaid[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
                   re.M | re.S)

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser",
                       "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--allow-file-access-from-files"]
DRAW_TIMEOUT_S = 120


class DrawingError(RuntimeError):
    """Mermaid could not draw a diagram (its message says why), or Chromium failed."""


def mermaid_version() -> str:
    match = re.search(r"^mermaid (\S+)", VERSIONS.read_text(), re.M)
    if not match:
        raise DrawingError(f"no Mermaid version in {VERSIONS}")
    return match.group(1)


def normalise(source: str) -> str:
    """The diagram text that is drawn and keyed: no common indentation, no blank edges."""
    return textwrap.dedent(source).strip() + "\n"


def cache_key(source: str) -> str:
    material = json.dumps(
        {"mermaid": mermaid_version(), "config": CONFIG, "source": normalise(source)},
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()[:20]


def cached_path(source: str) -> Path:
    return CACHE / f"{cache_key(source)}.svg"


def find_chromium() -> str | None:
    """Chromium named by $CHROMIUM, or a usual install; None when there is none."""
    named = os.environ.get("CHROMIUM")
    for candidate in ([named] if named else []) + list(CHROMIUM_CANDIDATES):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


# The page Chromium loads: Mermaid draws each job, measures the smallest font it used, and the
# results are written into the DOM that --dump-dom prints.
PAGE = """<!doctype html><html><head><meta charset="utf-8"></head><body>
<script src="{mermaid}"></script>
<script>
const jobs = {jobs};
mermaid.initialize({config});
(async () => {{
  const results = {{}};
  for (const [id, text] of jobs) {{
    try {{
      const {{ svg }} = await mermaid.render(id, text);
      const holder = document.createElement("div");
      holder.innerHTML = svg;
      document.body.append(holder);
      const sizes = [...holder.querySelectorAll("text, tspan")]
        .filter((element) => element.textContent.trim())
        .map((element) => parseFloat(getComputedStyle(element).fontSize));
      holder.firstElementChild.setAttribute("data-min-font-px", String(Math.min(...sizes)));
      results[id] = {{ svg: holder.innerHTML }};
      holder.remove();
    }} catch (error) {{
      results[id] = {{ error: String(error && error.message || error) }};
    }}
  }}
  const out = document.createElement("pre");
  out.id = "results";
  out.textContent = JSON.stringify(results);
  document.body.append(out);
}})();
</script></body></html>
"""


def draw(sources: list[str]) -> list[str]:
    """SVG drawings of ``sources``, from one run of headless Chromium (about 2 s in all)."""
    chromium = find_chromium()
    if chromium is None:
        raise DrawingError("no Chromium to draw diagrams with (set $CHROMIUM)")
    ids = [f"mmd-{cache_key(source)[:12]}" for source in sources]
    jobs = [[ident, normalise(source)] for ident, source in zip(ids, sources, strict=True)]
    page = PAGE.format(mermaid=MERMAID_JS.as_uri(), jobs=json.dumps(jobs),
                       config=json.dumps(CONFIG))
    with tempfile.TemporaryDirectory(prefix="mermaid-") as folder:
        html_file = Path(folder) / "draw.html"
        html_file.write_text(page, encoding="utf-8")
        try:
            result = subprocess.run(
                [chromium, *CHROMIUM_ARGS, f"--user-data-dir={folder}/profile",
                 "--virtual-time-budget=60000", "--dump-dom", html_file.as_uri()],
                capture_output=True, text=True, timeout=DRAW_TIMEOUT_S, check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise DrawingError(f"Chromium did not finish in {DRAW_TIMEOUT_S} s") from error
    match = re.search(r'<pre id="results">(.*?)</pre>', result.stdout, re.S)
    if not match:
        raise DrawingError(f"Chromium drew nothing (exit {result.returncode}): "
                           f"{result.stderr.strip()[-500:]}")
    results = json.loads(html.unescape(match.group(1)))
    svgs = []
    for ident, source in zip(ids, sources, strict=True):
        found = results.get(ident, {"error": "no result"})
        if "error" in found:
            first = normalise(source).splitlines()[0]
            raise DrawingError(f"Mermaid cannot draw the diagram starting {first!r}: "
                               f"{found['error']}")
        svgs.append(found["svg"])
    return svgs


def draw_into_cache(sources: list[str]) -> list[Path]:
    """Draw ``sources`` and store each drawing under its key; returns the files written."""
    CACHE.mkdir(exist_ok=True)
    paths = []
    for source, svg in zip(sources, draw(sources), strict=True):
        path = cached_path(source)
        path.write_text(svg + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def fences(docs: Path = DOCS) -> dict[str, Path]:
    """Every Mermaid fence's source under ``docs`` (pages and notebook pages) -> its file."""
    found = {}
    for path in sorted([*docs.rglob("*.md"), *docs.rglob("*.py")]):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".py":  # a notebook's Markdown cells are comment lines
            text = "\n".join(re.sub(r"^# ?", "", line) for line in text.splitlines())
        for match in FENCE.finditer(text):
            found[normalise(match.group("body"))] = path
    return found


def refresh(docs: Path = DOCS) -> tuple[int, int, float]:
    """Draw every fence missing from the cache and delete drawings no fence uses.
    Returns (drawn, deleted, seconds spent drawing)."""
    sources = fences(docs)
    missing = [source for source in sources if not cached_path(source).is_file()]
    started = time.perf_counter()
    if missing:
        draw_into_cache(missing)
    seconds = time.perf_counter() - started
    wanted = {cached_path(source).name for source in sources}
    stale = [path for path in CACHE.glob("*.svg") if path.name not in wanted]
    for path in stale:
        path.unlink()
    return len(missing), len(stale), seconds


def size(svg: str) -> tuple[float, float]:
    """A drawing's natural width and height in CSS px (its viewBox)."""
    _, _, width, height = (float(v) for v in re.search(r'viewBox="([^"]+)"', svg).group(1).split())
    return width, height


def main(argv: list[str]) -> int:
    drawn, deleted, seconds = refresh()
    sources = fences()
    print(f"diagram-cache/: {len(sources)} diagrams; drew {drawn} in {seconds:.1f} s, "
          f"deleted {deleted} no page uses")
    if "--list" in argv:
        print(f"{'width':>6} {'height':>6}  {'accTitle':8}  page: first line")
        for source, path in sorted(sources.items(), key=lambda item: str(item[1])):
            width, height = size(cached_path(source).read_text(encoding="utf-8"))
            named = "yes" if re.search(r"^\s*accTitle\s*:", source, re.M) else "MISSING"
            print(f"{width:6.0f} {height:6.0f}  {named:8}  {path.relative_to(ROOT)}: "
                  f"{source.splitlines()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
