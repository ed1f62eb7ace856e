"""Every chapter page keeps the site's shape (CONTRIBUTING.md, "Pages"), checked in its source.

A chapter page is ``docs/<section>/<topic>.md`` or a notebook page ``docs/<section>/<name>.py``.
It has, in this order of importance:

- an **opening paragraph** right after the H1: the idea in a sentence or two;
- a **figure**: at least one ```` ```mermaid ```` diagram (in a notebook, inside a markdown cell)
  or a plot from a benchmark (``<div class="plot-box">`` with its SVG included);
- **code and its output**: an included program (``--8<-- "....py"``) or a code block
  (```` ```python ````, or a schema: ```` ```proto ````, ```` ```yaml ````...), and its output
  (an included ``.txt`` transcript, a ```` ```text ```` block or ``#>`` lines); in a notebook, a
  code cell that prints or plots, which the build executes;
- a **trade-offs** section: a ``##`` or ``###`` heading that contains "Trade-offs";
- an **"In an interview"** admonition, after the trade-offs. On a Markdown page it is
  ``!!! tip "In an interview"``. A notebook's markdown cells are rendered by nbconvert, not by
  Python-Markdown, so ``!!!`` would show as text there: a notebook writes the same admonition as
  the HTML that Python-Markdown would produce (``<div class="admonition tip">`` with an
  ``admonition-title`` of "In an interview"), which the theme styles the same way.

Section index pages (``docs/<section>/index.md``) are chapter overviews, not chapters: they map
the chapter and send the reader to its pages, where the diagrams, programs, trade-offs and
interview advice live. Asking each overview to repeat them would duplicate its pages, so an
overview is held to two things only: the opening paragraph, and a link to every chapter page of
its section (an overview that forgets a page leaves it reachable only from the navigation).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import DOCS

SECTIONS = sorted(path for path in DOCS.iterdir() if path.is_dir() and (path / "index.md").exists())
CHAPTERS = sorted(
    page
    for section in SECTIONS
    for page in [*section.glob("*.md"), *section.glob("*.py")]
    if page.name != "index.md"
)
OVERVIEWS = [section / "index.md" for section in SECTIONS]


def ids(pages: list[Path]) -> list[str]:
    return [str(page.relative_to(DOCS)) for page in pages]


def notebook_cells(source: str) -> list[tuple[str, str]]:
    """A jupytext percent-format file as (kind, text) cells; markdown cells lose their '# '."""
    cells: list[tuple[str, str]] = []
    kind, lines = None, []
    for line in source.splitlines():
        if line.startswith("# %%"):
            if kind is not None:
                cells.append((kind, "\n".join(lines)))
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        elif kind == "markdown":
            lines.append(line.removeprefix("#").removeprefix(" "))
        elif kind is not None:
            lines.append(line)
    if kind is not None:
        cells.append((kind, "\n".join(lines)))
    return cells


def prose(page: Path) -> str:
    """The page's Markdown: the file itself, or a notebook's markdown cells joined."""
    source = page.read_text()
    if page.suffix == ".py":
        return "\n\n".join(text for kind, text in notebook_cells(source) if kind == "markdown")
    return source


def code_cells(page: Path) -> list[str]:
    return [text for kind, text in notebook_cells(page.read_text()) if kind == "code"]


def opening_paragraph(markdown: str) -> str:
    """The first block after the H1, if it is a paragraph of prose; '' otherwise."""
    lines = markdown.splitlines()
    h1 = next((i for i, line in enumerate(lines) if line.startswith("# ")), None)
    assert h1 is not None, "the page has no H1"
    block = []
    for line in lines[h1 + 1:]:
        if not line.strip():
            if block:
                break
            continue
        block.append(line)
    first = block[0].lstrip() if block else ""
    not_prose = ("#", "```", "!!!", "???", "|", "<", "--8<--", "- ", "* ", "===", "![")
    return "" if not first or first.startswith(not_prose) else " ".join(block)


FIGURE = re.compile(r'^\s*```mermaid\s*$|^\s*<div class="plot-box">\s*$', re.M)
CODE = re.compile(r'--8<--\s+"[^"]+\.(?!txt\b)\w+(?::[^"]*)?"|^\s*```(?!text\b|mermaid\b)\w', re.M)
OUTPUT = re.compile(r'--8<--\s+"[^"]+\.txt(?::[^"]*)?"|^\s*```text|^\s*#>', re.M)
TRADE_OFFS = re.compile(r"^#{2,3} .*Trade-offs", re.M)
INTERVIEW_MARKDOWN = re.compile(r'^!!! \w+ "In an interview"\s*$', re.M)
INTERVIEW_HTML = re.compile(
    r'<div class="admonition \w+">\s*<p class="admonition-title">In an interview</p>', re.M
)


def missing(markdown: str, notebook_code: list[str] | None = None) -> list[str]:
    """The parts of the shape a chapter page lacks; ``notebook_code`` is a notebook's code cells."""
    gaps = []
    if not opening_paragraph(markdown):
        gaps.append("opening paragraph")
    if not FIGURE.search(markdown):
        gaps.append("diagram")
    if notebook_code is not None:
        if not any("print(" in cell or "plt.show()" in cell for cell in notebook_code):
            gaps.append("code and output")
    elif not (CODE.search(markdown) and OUTPUT.search(markdown)):
        gaps.append("code and output")
    trade_offs = TRADE_OFFS.search(markdown)
    interview = (INTERVIEW_MARKDOWN if notebook_code is None else INTERVIEW_HTML).search(markdown)
    if not trade_offs:
        gaps.append("trade-offs")
    if not interview or (trade_offs and interview.start() < trade_offs.start()):
        gaps.append("interview advice after the trade-offs")
    return gaps


@pytest.mark.parametrize("page", CHAPTERS, ids=ids(CHAPTERS))
def test_chapter_has_the_sites_shape(page: Path):
    notebook_code = code_cells(page) if page.suffix == ".py" else None
    assert missing(prose(page), notebook_code) == [], (
        "see the docstring of tests/test_page_shape.py for what each part looks like"
    )


GOOD_PAGE = """# Topic

The idea in one sentence.

```mermaid
flowchart TB
    A --> B
```

```python title="topic.py"
--8<-- "section/topic.py:part"
```

```text title="python topic.py"
--8<-- "section/topic.txt"
```

## Trade-offs

- **One.** Two.

!!! tip "In an interview"

    Say it.
"""


PROGRAM = '```python title="topic.py"\n--8<-- "section/topic.py:part"\n```\n'
TRANSCRIPT = '```text title="python topic.py"\n--8<-- "section/topic.txt"\n```\n'
INTERVIEW = "interview advice after the trade-offs"


@pytest.mark.parametrize(("broken", "gap"), [
    (GOOD_PAGE.replace("The idea in one sentence.\n", ""), "opening paragraph"),
    (GOOD_PAGE.replace("```mermaid", "```text"), "diagram"),
    (GOOD_PAGE.replace(TRANSCRIPT, ""), "code and output"),
    (GOOD_PAGE.replace(PROGRAM, ""), "code and output"),
    (GOOD_PAGE.replace("## Trade-offs", "## Costs"), "trade-offs"),
    (GOOD_PAGE.replace('!!! tip "In an interview"', "!!! tip"), INTERVIEW),
    (GOOD_PAGE.replace("## Trade-offs\n", "").replace("Say it.", "Say it.\n\n## Trade-offs\n"),
     INTERVIEW),
])
def test_each_missing_part_is_caught(broken: str, gap: str):
    assert missing(GOOD_PAGE) == []
    assert gap in missing(broken)


def test_a_notebook_needs_an_html_admonition_and_a_cell_that_shows_something():
    html = GOOD_PAGE.replace(
        '!!! tip "In an interview"\n\n    Say it.',
        '<div class="admonition tip">\n<p class="admonition-title">In an interview</p>\n</div>')
    assert missing(html, ["print(1)"]) == []
    assert missing(GOOD_PAGE, ["print(1)"]) == [INTERVIEW]
    assert missing(html, ["x = 1"]) == ["code and output"]


@pytest.mark.parametrize("overview", OVERVIEWS, ids=ids(OVERVIEWS))
def test_overview_opens_with_the_idea_and_links_every_page(overview: Path):
    markdown = overview.read_text()
    assert opening_paragraph(markdown), "the H1 must be followed by a paragraph: the idea"
    linked = set(re.findall(r"\]\(([\w.-]+\.(?:md|py))(?:#[^)]*)?\)", markdown))
    pages = {page.name for page in CHAPTERS if page.parent == overview.parent}
    assert pages <= linked, f"the overview does not link {sorted(pages - linked)}"


def test_the_checks_see_every_section():
    assert len(SECTIONS) == 7 and len(CHAPTERS) >= 20


@pytest.mark.parametrize(("markdown", "expected"), [
    ("# T\n\nThe idea, said plainly.\n\n## Next\n", "The idea, said plainly."),
    ("# T\n\n```mermaid\nflowchart TB\n```\n", ""),
    ("# T\n\n## Straight to a section\n", ""),
    ("# T\n\n!!! note\n    text\n", ""),
])
def test_opening_paragraph_detects_prose_only(markdown: str, expected: str):
    assert opening_paragraph(markdown) == expected


def test_notebook_cells_are_split_and_unprefixed():
    source = "# ---\n# header\n# ---\n\n# %% [markdown]\n# # Title\n#\n# Text.\n\n# %%\nprint(1)\n"
    assert notebook_cells(source) == [("markdown", "# Title\n\nText.\n"), ("code", "print(1)")]


def test_home_counts_each_chapters_programs():
    """The Programs column of Home's chapter table is the number of programs in snippets/."""
    from tests.support import SNIPPETS, snippet_files

    rows = re.findall(r"^\| (\d) \| \[[^\]]+\]\(([\w-]+)/index\.md\) \|[^|]*\| (\d+) \|$",
                      (DOCS / "index.md").read_text(), re.M)
    assert len(rows) == len(SECTIONS)
    counts = {section: 0 for _, section, _ in rows}
    for program in snippet_files():
        counts[program.relative_to(SNIPPETS).parts[0]] += 1
    assert {section: int(shown) for _, section, shown in rows} == counts
