"""Plots that follow the colour scheme and stay legible on a phone.

matplotlib draws with "sentinel" colours (``STYLE``); ``inline_svg`` turns the figure into an SVG
for the page in which every sentinel is a CSS variable (docs/assets/stylesheets/figures.css gives
each a value per colour scheme), the background is transparent, text stays text (searchable,
in the page's font), the figure has a <title> a screen reader announces, and a min-width keeps
its smallest text at 12 CSS px: a narrower column scrolls the figure sideways instead.

Used by the benchmark scripts in bench/ (they save bench/figures/<name>.svg, which pages include
with pymdownx.snippets) and by notebook pages (``use_in_notebook``).
"""

from __future__ import annotations

import html
import io
import math
import re

from docs_tools.diagrams import rounded_geometry, with_unique_ids

MIN_TEXT_PX = 12
FONT = 'Arial, "Liberation Sans", Helvetica, sans-serif'

# sentinel colour -> the CSS variable that replaces it
TEXT, AXIS, GRID = "#0c0b01", "#0c0b02", "#0c0b03"
SERIES = [f"#0c0b1{index}" for index in range(6)]
VARIABLES = {TEXT: "--plot-text", AXIS: "--plot-axis", GRID: "--plot-grid",
             **{colour: f"--plot-series-{index + 1}" for index, colour in enumerate(SERIES)}}

STYLE = {
    "svg.fonttype": "none",  # text as <text>, not glyph outlines
    "svg.hashsalt": "networking-essentials",  # the same figure gives the same file
    "font.family": "sans-serif",
    "font.sans-serif": ["Liberation Sans", "Arial", "DejaVu Sans"],  # Arial's metrics
    "font.size": 13,
    "axes.titlesize": 14,
    "axes.labelsize": 13,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "legend.fontsize": 12,
    "figure.facecolor": "none",
    "axes.facecolor": "none",
    "savefig.facecolor": "none",
    "savefig.transparent": True,
    "text.color": TEXT,
    "axes.labelcolor": TEXT,
    "axes.titlecolor": TEXT,
    "xtick.color": AXIS,
    "ytick.color": AXIS,
    "xtick.labelcolor": TEXT,
    "ytick.labelcolor": TEXT,
    "axes.edgecolor": AXIS,
    "grid.color": GRID,
    "legend.edgecolor": GRID,
    "legend.facecolor": "none",
    "legend.labelcolor": TEXT,
    "legend.framealpha": None,
    "patch.edgecolor": "none",
    "lines.linewidth": 2,
    "lines.markersize": 6,
}


def apply_style() -> None:
    """Make matplotlib draw with the site's sentinel colours and sizes."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update(STYLE)
    mpl.rcParams["axes.prop_cycle"] = cycler(color=SERIES)


def themed(text: str) -> str:
    """Every sentinel colour in ``text`` made its CSS variable."""
    return re.sub(r"#0c0b[0-9a-f]{2}\b",
                  lambda match: f"var({VARIABLES[match.group(0).lower()]})", text, flags=re.I)


def inline_svg(figure, alt: str) -> str:
    """The SVG of ``figure`` for a page: themed, described by ``alt``, legible at every width."""
    if not alt.strip():
        raise ValueError("a plot needs alt text that says what it shows")
    import matplotlib

    buffer = io.StringIO()
    saving = {key: STYLE[key] for key in ("svg.fonttype", "svg.hashsalt")}  # whatever is global
    with matplotlib.rc_context(saving):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]  # no XML prolog or DOCTYPE inside HTML
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r"font-family:\s*'[^']*'|font-family:\s*\"[^\"]*\"",
                 f"font-family: {html.escape(FONT)}", svg)
    svg = re.sub(r"font:\s*([\d.]+px)\s*'[^']*'", rf"font: \1 {html.escape(FONT)}", svg)
    svg = themed(svg)
    # matplotlib's one rule is for every element ("*"): in a page that would reach every SVG
    svg = svg.replace('<style type="text/css">*{', '<style type="text/css">svg.plot *{')
    leftover = re.findall(r"#[0-9a-fA-F]{6}\b", svg)
    if leftover:
        raise ValueError(f"colours not from the site's plot palette: {sorted(set(leftover))}"
                         " (use the colour cycle, C0..C5)")
    root = re.match(r"<svg\b[^>]*>", svg).group(0)
    width_pt = float(re.search(r'width="([\d.]+)pt"', root).group(1))
    height_pt = float(re.search(r'height="([\d.]+)pt"', root).group(1))
    width, height = width_pt * 4 / 3, height_pt * 4 / 3  # CSS px
    sizes = [float(size) for size in re.findall(r"font(?:-size)?:\s*([\d.]+)px", svg)]
    # the SVG's user units are pt: a "10px" font in it is 10 * 4/3 CSS px at natural size
    smallest = min(sizes) * 4 / 3 if sizes else MIN_TEXT_PX
    min_width = min(math.ceil(width * MIN_TEXT_PX / smallest), math.ceil(width))
    new_root = re.sub(r'\s(width|height)="[^"]*"', "", root).replace(
        "<svg", f'<svg class="plot" width="{width:.0f}" height="{height:.0f}" role="img" '
                f'aria-labelledby="{figure_id(alt)}" style="min-width: {min_width}px"', 1)
    svg = svg.replace(root, new_root, 1)
    # matplotlib numbers its ids per figure ("axes_1"): unique to this figure on the page
    svg = rounded_geometry(with_unique_ids(svg, figure_id(alt)))
    svg = svg.replace(new_root, f'{new_root}\n<title id="{figure_id(alt)}">'
                                f"{html.escape(alt)}</title>", 1)
    lines = [line.rstrip() for line in svg.splitlines() if line.strip()]  # no blank lines:
    return "\n".join(lines) + "\n"  # Markdown would end a raw HTML block there


def plain_numbers(axis) -> None:
    """Tick labels as plain numbers ("0.1", "10", "100") on a log axis, not powers of ten whose
    small exponents fall under the minimum text size."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def figure_id(alt: str) -> str:
    import hashlib

    return "plot-" + hashlib.sha256(alt.encode()).hexdigest()[:10]


def save(figure, path, alt: str) -> None:
    """Write ``figure`` as a page-ready SVG to ``path`` (see ``inline_svg``)."""
    from pathlib import Path

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(inline_svg(figure, alt), encoding="utf-8")


def use_in_notebook() -> None:
    """In a notebook page: plots in the site's style, shown as inline SVG that follows the
    colour scheme. A figure's alt text is its label: ``plt.subplots(..., num="what it shows")``.
    """
    import matplotlib.pyplot as plt
    import matplotlib_inline.backend_inline  # noqa: F401 (sets its formatters now, not later
    from IPython import get_ipython  # over ours, when the first figure is drawn)
    from matplotlib.figure import Figure

    apply_style()
    shell = get_ipython()
    formatters = shell.display_formatter.formatters
    for mime in ("image/png", "image/svg+xml", "image/jpeg", "application/pdf"):
        formatters[mime].for_type(Figure, lambda figure: None)

    def as_html(figure: Figure) -> str:
        plt.close(figure)
        return f'<div class="plot-box">{inline_svg(figure, figure.get_label())}</div>'

    formatters["text/html"].for_type(Figure, as_html)
