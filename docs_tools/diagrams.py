"""The ```mermaid fence formatter: each diagram becomes an inline SVG drawn at build time.

mkdocs.yml names ``fence`` as pymdownx.superfences' formatter for ``mermaid`` fences. For each
fence it takes the drawing from ``diagram-cache/`` (or draws it with Chromium when it is missing;
see docs_tools/mermaid.py) and makes it fit the page:

- colours: every sentinel colour becomes the CSS variable that docs_tools.mermaid.COLOURS names,
  so one drawing follows Material's light/dark toggle (figures.css defines the variables);
- CSS: Mermaid's stylesheet, the same for every diagram of a kind, is emitted once per page;
- size: drawn at its natural size, shrinking with the column only until its smallest text is
  MIN_TEXT_PX; past that its box scrolls sideways (diagrams.js makes such a box focusable);
- weight: definitions the drawing never references (icons, unused markers) are dropped.

Without a cached drawing and without Chromium, the fence is left for Mermaid to draw in the
browser, as before, and the build says so; the test suite fails on any such fence.
Set MERMAID_DRAW=never to forbid drawing during a build (the test suite does).
"""

from __future__ import annotations

import html
import logging
import math
import os
import re

from pymdownx.superfences import fence_code_format

from docs_tools import mermaid

log = logging.getLogger("mkdocs.docs_tools.diagrams")

MIN_TEXT_PX = 12  # the smallest diagram text a reader should have to read, in CSS pixels
CSS_VARIABLE = "--diagram-{}"
# Mermaid rules for features the site does not use (the "neo" look, error bombs, KaTeX, pop-up
# menus, animated edges): dropped rather than themed.
UNUSED_RULES = re.compile(r'data-look="neo"|\.error-|\.katex|actorPopupMenu|edge-animation|:root')
NEUTRAL = {"none", "transparent", "currentcolor", "inherit"}
LITERAL_COLOUR = re.compile(
    r"#[0-9a-f]{3,8}\b|\b(?:rgba?|hsla?)\([^)]*\)|\b(?:black|white|red|grey|gray|lightgrey|navy)\b",
    re.I,
)
COLOUR_PROPERTIES = {"fill", "stroke", "color", "background-color", "background", "stop-color"}


def _sentinel_table() -> dict[tuple[int, int, int], str]:
    table = {}
    for name, sentinel in mermaid.SENTINELS.items():
        rgb = tuple(int(sentinel[i : i + 2], 16) for i in (1, 3, 5))
        table[rgb] = f"var({CSS_VARIABLE.format(mermaid.COLOURS[name])})"
    return table


SENTINEL_VARIABLES = _sentinel_table()
RGB = re.compile(r"rgba?\(\s*(\d+),\s*(\d+),\s*(\d+)(?:,\s*([\d.]+))?\s*\)")


def sentinel_variable(colour: str) -> str | None:
    """``var(--diagram-x)`` for a sentinel colour (hex, or rgb()/rgba() of one), else None."""
    colour = colour.strip().lower()
    alpha = 1.0
    if re.fullmatch(r"#[0-9a-f]{6}", colour):
        rgb = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    elif match := RGB.fullmatch(colour):
        rgb = tuple(int(match.group(i)) for i in (1, 2, 3))
        alpha = float(match.group(4) or 1)
    else:
        return None
    variable = SENTINEL_VARIABLES.get(rgb)
    if variable is None or alpha >= 1:
        return variable
    return f"color-mix(in srgb, {variable} {alpha * 100:g}%, transparent)"


def themed(value: str) -> str | None:
    """A CSS value with every sentinel colour made a variable; None if a literal colour stays."""
    def replace(match: re.Match[str]) -> str:
        return sentinel_variable(match.group(0)) or match.group(0)

    result = LITERAL_COLOUR.sub(replace, value)
    leftover = [c for c in LITERAL_COLOUR.findall(result) if c.lower() not in NEUTRAL]
    return None if leftover else result


SIGNIFICANT = re.compile(r"[\"'{}]|/\*")  # what split_rules looks at: quotes, braces, comments


def split_rules(css: str) -> list[tuple[str, str]]:
    """Top-level (prelude, body) pairs; a body may hold nested rules (@media, @supports).
    Braces inside strings and comments do not count."""
    rules, depth, start, prelude_end, index = [], 0, 0, 0, 0
    while found := SIGNIFICANT.search(css, index):  # a regex jumps to the next one: 10x faster
        token, index = found.group(), found.start()
        if token in "\"'":
            index = css.find(token, index + 1)  # CSS strings here hold no escaped quotes
            if index < 0:
                break
        elif token == "/*":
            index = css.find("*/", index + 2) + 1
            if index <= 0:
                break
        elif token == "{":
            if depth == 0:
                prelude_end = index
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                rules.append((css[start:prelude_end].strip(), css[prelude_end + 1 : index]))
                start = index + 1
        index += 1
    return rules


def page_css(css: str, ident: str, scope: str) -> str:
    """Mermaid's stylesheet for one drawing, made shareable: scoped to the diagram kind's class
    instead of the drawing's id, colours as variables, unused rules and literal colours dropped."""
    kept = []
    for prelude, body in split_rules(css):
        if prelude.startswith("@") or UNUSED_RULES.search(prelude):
            continue
        declarations = []
        for declaration in body.split(";"):
            prop, _, value = declaration.partition(":")
            if not value.strip():
                continue
            if prop.strip().lower() in COLOUR_PROPERTIES or LITERAL_COLOUR.search(value):
                value = themed(value)
                if value is None:
                    continue  # a colour Mermaid hard-codes for a feature the site does not use
            declarations.append(f"{prop.strip()}:{value.strip()}")
        if declarations:
            kept.append(f"{prelude.replace('#' + ident, '.' + scope)}{{{';'.join(declarations)}}}")
    return "".join(kept)


ATTRIBUTE = re.compile(r'\s(fill|stroke|stop-color)="([^"]*)"')
STYLE_ATTRIBUTE = re.compile(r'\sstyle="([^"]*)"')
ELEMENT = re.compile(r"<([a-zA-Z][\w:-]*)((?:\s[^<>]*?)?)(/?)>")


def theme_element(match: re.Match[str]) -> str:
    """One start tag: sentinel colours in its attributes become variables (as inline style, which
    presentation attributes cannot hold); other literal colours on an element with a class are
    dropped, because Mermaid's class rules decide its colour; on an element without a class
    (marker shapes) they become currentColor, the diagram's line colour."""
    name, attributes, closing = match.groups()
    has_class = ' class="' in attributes
    styles = []

    def attribute(found: re.Match[str]) -> str:
        prop, value = found.groups()
        if value.lower() in NEUTRAL or value.startswith("url("):
            return found.group(0)
        variable = sentinel_variable(value)
        if variable:
            styles.append(f"{prop}: {variable}")
            return ""
        return "" if has_class else f' {prop}="currentColor"'

    attributes = ATTRIBUTE.sub(attribute, attributes)
    if styles:
        existing = STYLE_ATTRIBUTE.search(attributes)
        inline = "; ".join(styles)
        if existing:
            inline = f"{inline}; {existing.group(1)}"
            attributes = STYLE_ATTRIBUTE.sub("", attributes, count=1)
        attributes += f' style="{html.escape(inline)}"'
    style = STYLE_ATTRIBUTE.search(attributes)
    if style and LITERAL_COLOUR.search(style.group(1)):
        value = themed(html.unescape(style.group(1)))
        attributes = STYLE_ATTRIBUTE.sub(
            f' style="{html.escape(value)}"' if value else "", attributes, count=1)
    return f"<{name}{attributes}{closing}>"


DEFS = re.compile(r"<defs>(.*?)</defs>", re.S)
IDS = re.compile(r'\sid="([^"]+)"')


def without_unused_definitions(svg: str) -> str:
    """Drop <defs> blocks whose ids nothing references (Mermaid adds icons and markers that a
    diagram may never use: 15 KB of database and computer icons in every sequence diagram)."""
    outside = DEFS.sub("", svg)

    def keep(match: re.Match[str]) -> str:
        ids = IDS.findall(match.group(1))
        used = any(f"#{ident})" in outside or f'#{ident}"' in outside for ident in ids)
        return match.group(0) if used or not ids else ""

    return DEFS.sub(keep, svg)


def with_unique_ids(body: str, ident: str) -> str:
    """Prefix every id the drawing defines with the drawing's own id (and every reference to
    it), so two diagrams drawn at different times never share an id on one page."""
    for old in sorted(set(IDS.findall(body)) - {ident}, key=len, reverse=True):
        if ident in old:  # already unique: "mmd-...-arrowhead", "chart-title-mmd-..."
            continue
        new = f"{ident}-{old}"
        reference = (rf'(\sid="|#|\saria-(?:labelledby|describedby)="){re.escape(old)}'
                     r'(?=["\)\s])')
        body = re.sub(reference, lambda match, new=new: match.group(1) + new, body)
    return body


GEOMETRY = re.compile(r'\s(d|points|transform|x|y|x1|x2|y1|y2|cx|cy|r|rx|ry)="([^"]*)"')
LONG_DECIMAL = re.compile(r"-?\d+\.\d{2,}")


def rounded_geometry(svg: str) -> str:
    """Coordinates to a tenth of a unit (Mermaid and matplotlib write six decimals): nothing a
    screen shows changes, and a page carries a tenth less markup."""
    def one_decimal(number: re.Match[str]) -> str:
        return f"{float(number.group(0)):.1f}"

    return GEOMETRY.sub(
        lambda found: f' {found.group(1)}="{LONG_DECIMAL.sub(one_decimal, found.group(2))}"', svg)


def page_state(md) -> set[str]:
    """The stylesheets already emitted on the page being converted. Python-Markdown makes a new
    list of stashed HTML for each document, so a new list means a new page."""
    state = md.__dict__.setdefault("_diagram_state", {"blocks": None, "emitted": set()})
    if state["blocks"] is not md.htmlStash.rawHtmlBlocks:
        state.update(blocks=md.htmlStash.rawHtmlBlocks, emitted=set())
    return state["emitted"]


def inline_svg(raw: str, emitted: set[str]) -> str:
    """The page's HTML for one cached drawing (see the module docstring)."""
    root = re.match(r"<svg\b[^>]*>", raw)
    if not root:
        raise mermaid.DrawingError("a cached drawing does not start with <svg>")
    ident = re.search(r'\sid="([^"]+)"', root.group(0)).group(1)
    kind = re.search(r'aria-roledescription="([^"]+)"', root.group(0)).group(1)
    scope = f"mmd-{re.sub(r'[^a-zA-Z0-9-]', '-', kind)}"
    min_font = float(re.search(r'data-min-font-px="([\d.]+)"', root.group(0)).group(1))
    _, _, width, height = (float(v) for v in
                           re.search(r'viewBox="([^"]+)"', root.group(0)).group(1).split())

    style = re.search(r"<style>(.*?)</style>", raw, re.S)
    body = raw[root.end():].replace(style.group(0), "") if style else raw[root.end():]
    css = page_css(html.unescape(style.group(1)), ident, scope) if style else ""
    body = ELEMENT.sub(theme_element, with_unique_ids(without_unused_definitions(body), ident))
    body = rounded_geometry(body)
    body = body.replace("</text>", "</text>\n")  # search indexes labels as separate words

    classes = re.search(r'\sclass="([^"]*)"', root.group(0))
    classes = f"mmd {scope} {classes.group(1)}" if classes else f"mmd {scope}"
    attributes = re.sub(r'\s(width|height|style|class|data-min-font-px)="[^"]*"', "",
                        root.group(0))
    min_width = math.ceil(width * MIN_TEXT_PX / min_font) if min_font < MIN_TEXT_PX * 99 else 0
    attributes = attributes.replace(
        "<svg", f'<svg class="{classes}" width="{width:.0f}" height="{height:.0f}" '
                f'style="min-width: {min(min_width, math.ceil(width))}px"', 1)
    if css and css not in emitted:
        emitted.add(css)
        attributes += f"<style>{html.escape(css, quote=False)}</style>"
    # its height while not yet laid out (figures.css: content-visibility)
    reserve = f"contain-intrinsic-size: auto {height:.0f}px"
    return (f'<div class="diagram" data-diagram="{html.escape(kind)}" style="{reserve}">'
            f"{attributes}{body}</div>")


def drawing(source: str) -> str | None:
    """The cached drawing of a diagram, drawn now if it is missing and Chromium is at hand;
    None (and a message) when there is neither."""
    path = mermaid.cached_path(source)
    may_draw = os.environ.get("MERMAID_DRAW", "auto") != "never" and mermaid.find_chromium()
    if not path.is_file() and may_draw:
        log.info("Drawing a new diagram with Chromium into %s", path.relative_to(mermaid.ROOT))
        mermaid.draw_into_cache([source])
    if path.is_file():
        return path.read_text(encoding="utf-8")
    first = mermaid.normalise(source).splitlines()[0]
    log.info("Diagram %r has no drawing in diagram-cache/ and no Chromium can draw it: the "
             "browser will draw it with Mermaid's JavaScript (run `make diagrams`)", first)
    return None


def fence(source: str, language: str, class_name: str, options: dict, md, **kwargs) -> str:
    """pymdownx.superfences custom fence formatter for ```mermaid fences."""
    raw = drawing(source)
    if raw is None:
        return fence_code_format(source, language, class_name, options, md, **kwargs)
    return inline_svg(raw, page_state(md))
