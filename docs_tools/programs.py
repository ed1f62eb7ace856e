"""A Markdown extension: the box that offers a whole program, to download, copy, read or run.

A page shows a program's mechanism as named excerpts; the whole file is one click away but not
laid out up front (a 500-line program highlighted is 10,000 spans and 400 KB of HTML). Write

    <!-- program: load-balancing/l7_proxy.py -->

on a line of its own (indented like the text around it), and the page gets a box with the file's
name and size, the one command that runs it, and links to download it, copy it and show it
whole (docs/assets/javascripts/programs.js fetches the file for the last two). The links point
into docs/programs/, a link to snippets/ that MkDocs copies into the site; a comment that names a
missing file fails the build. Without this extension the line is an HTML comment: nothing shows.
"""

from __future__ import annotations

import re
from pathlib import Path

from markdown import Extension
from markdown.preprocessors import Preprocessor

ROOT = Path(__file__).resolve().parent.parent
SNIPPETS = ROOT / "snippets"
MARKER = re.compile(r"^(?P<indent>[ \t]*)<!--\s*program:\s*(?P<files>[^>]+?)\s*-->\s*$")
SCRIPT_BLOCK = re.compile(r"^# /// script\s*$(?P<body>.*?)^# ///\s*$", re.M | re.S)
DEPENDENCY = re.compile(r'^#\s+"([^"]+)"', re.M)


def dependencies(source: str) -> list[str] | None:
    """The packages a program declares in its inline script metadata (PEP 723), or None if it
    has no such block."""
    block = SCRIPT_BLOCK.search(source)
    if not block:
        return None
    listed = re.search(r"^# dependencies = \[(.*?)^# \]", block.group("body"), re.M | re.S)
    if not listed:
        return []
    return [re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0]
            for spec in DEPENDENCY.findall(listed.group(1))]


def run_command(name: str, source: str) -> str:
    packages = dependencies(source)
    if packages is None:
        return f"Run it: `python {name}`."
    if not packages:
        return f"Run it: `uv run {name}` or `python {name}` (the standard library is enough)."
    listed = ", ".join(f"`{package}`" for package in packages)
    return (f"Run it: `uv run {name}` (uv fetches {listed} for it), or `python {name}` "
            f"where those are installed.")


def box(relative: str, extra: list[str]) -> list[str]:
    """The Markdown of the box for ``snippets/<relative>`` (and extra files it needs)."""
    path = SNIPPETS / relative
    if not path.is_file():
        raise FileNotFoundError(f"<!-- program: {relative} -->: no such file in snippets/")
    source = path.read_text(encoding="utf-8")
    lines = source.count("\n")
    url = f"/programs/{relative}"
    also = "".join(
        f" [{Path(other).name}](/programs/{other}){{ download=\"{Path(other).name}\" }}"
        for other in extra
    )
    return [
        '<div class="program" markdown>',
        "",
        f"**`{path.name}`**: the whole program, {lines} lines."
        + (f" It needs{also} beside it." if extra else ""),
        "",
        run_command(path.name, source),
        "",
        f'[Download]({url}){{ .md-button download="{path.name}" }}'
        f' [Copy]({url}){{ .md-button data-program="copy" }}'
        f' [Show it here]({url}){{ .md-button data-program="show" }}',
        "",
        "</div>",
    ]


class ProgramBoxes(Preprocessor):
    def run(self, lines: list[str]) -> list[str]:
        out = []
        for line in lines:
            match = MARKER.match(line)
            if not match:
                out.append(line)
                continue
            first, *extra = match.group("files").split()
            indent = match.group("indent")
            out += [indent + text if text else "" for text in box(first, extra)]
        return out


class ProgramsExtension(Extension):
    def extendMarkdown(self, md) -> None:  # noqa: N802 (Python-Markdown's name)
        # after pymdownx.snippets (32), before raw HTML is stashed (20)
        md.preprocessors.register(ProgramBoxes(md), "program_boxes", 31)


def makeExtension(**kwargs) -> ProgramsExtension:  # noqa: N802 (Python-Markdown's name)
    return ProgramsExtension(**kwargs)
