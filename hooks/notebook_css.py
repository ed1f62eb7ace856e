"""Trim the JupyterLab stylesheet that mkdocs-jupyter inlines into every notebook page.

mkdocs-jupyter puts the whole JupyterLab CSS (about 575 KB, 90 KB compressed) in a <style> block
of each notebook page, although a page uses a few percent of it. This hook keeps only the rules
whose class selectors occur in the page, and only the custom properties those rules use, so a
notebook page weighs about as much as any other page. It changes nothing on other pages.
"""

from __future__ import annotations

import re

from docs_tools.diagrams import split_rules  # top-level rules; strings, comments skipped

STYLE = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.S)
CLASS_ATTRIBUTE = re.compile(r'class="([^"]*)"')
CLASS_SELECTOR = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
CUSTOM_PROPERTY = re.compile(r"(--[\w-]+)\s*:")
VAR_USE = re.compile(r"var\(\s*(--[\w-]+)")
# Classes inside :is(), :where(), :not() need not all be present: keep such rules (to be safe).
PARENTHESES = re.compile(r"\([^()]*\)")


def keep_rules(css: str, classes: set[str]) -> str:
    kept = []
    for prelude, body in split_rules(css):
        if prelude.startswith("@charset"):
            continue
        if prelude.startswith(("@media", "@supports", "@layer")):
            inner = keep_rules(body, classes)
            if inner:
                kept.append(f"{prelude}{{{inner}}}")
        elif prelude.startswith(("@keyframes", "@-webkit-keyframes", "@font-face")):
            kept.append(f"{prelude}{{{body}}}")  # dropped below unless referenced
        else:
            selectors = [
                s for s in split_top_level(prelude, ",")
                if set(CLASS_SELECTOR.findall(PARENTHESES.sub("", s))) <= classes
                and " :root" not in s  # ":root" under another element never matches
            ]
            if selectors:
                kept.append(f"{','.join(selectors)}{{{body}}}")
    return "".join(kept)


def split_top_level(text: str, separator: str) -> list[str]:
    """Split at separators outside strings and parentheses: selectors hold `:is(a, b)`,
    and declarations hold data URLs with semicolons of their own."""
    parts, depth, quote, start = [], 0, "", 0
    for index, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [part for part in parts if part.strip()]


def without_properties(css: str, unused: set[str]) -> str:
    result = []
    for prelude, body in split_rules(css):
        if prelude.startswith(("@media", "@supports", "@layer")):
            result.append(f"{prelude}{{{without_properties(body, unused)}}}")
            continue
        kept = [d for d in split_top_level(body, ";") if d.split(":", 1)[0].strip() not in unused]
        if kept or prelude.startswith("@"):
            result.append(f"{prelude}{{{';'.join(kept)}}}")
    return "".join(result)


def drop_unused_properties(css: str) -> str:
    """Remove custom-property declarations that no kept rule reads (transitively)."""
    while True:
        unused = set(CUSTOM_PROPERTY.findall(css)) - set(VAR_USE.findall(css))
        trimmed = without_properties(css, unused) if unused else css
        if trimmed == css:
            return css
        css = trimmed


def drop_unused_keyframes(css: str) -> str:
    result = []
    for prelude, body in split_rules(css):
        if prelude.startswith(("@keyframes", "@-webkit-keyframes")):
            name = prelude.split()[-1]
            if not re.search(rf"animation[^;{{}}]*\b{re.escape(name)}\b", css):
                continue
        if prelude.startswith("@font-face"):
            continue  # the site loads no web fonts
        result.append(f"{prelude}{{{body}}}")
    return "".join(result)


def trim(css: str, classes: set[str]) -> str:
    return drop_unused_keyframes(drop_unused_properties(keep_rules(css, classes)))


def on_post_page(output: str, page, config) -> str:  # the MkDocs hook signature
    if "jupyter-wrapper" not in output:
        return output
    classes = {name for value in CLASS_ATTRIBUTE.findall(output) for name in value.split()}
    return STYLE.sub(lambda m: m.group(1) + trim(m.group(2), classes) + m.group(3), output)
