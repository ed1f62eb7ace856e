"""The program boxes (docs_tools/programs.py): every program is offered whole on a page, to
download, copy and run, and the box says the command that runs it."""

from __future__ import annotations

import re
from pathlib import Path

import markdown
import pytest

from docs_tools import programs
from tests.support import DOCS, SNIPPETS, snippet_files

MARKER = re.compile(r"<!--\s*program:\s*([^>]+?)\s*-->")


def offered() -> set[str]:
    found = set()
    for page in DOCS.rglob("*.md"):
        if "programs" in page.relative_to(DOCS).parts:
            continue
        for match in MARKER.finditer(page.read_text(encoding="utf-8")):
            found.update(match.group(1).split())
    return found


@pytest.mark.parametrize("snippet", snippet_files(), ids=lambda p: str(p.relative_to(SNIPPETS)))
def test_every_program_is_offered_whole_on_a_page(snippet: Path):
    assert str(snippet.relative_to(SNIPPETS)) in offered(), (
        "add <!-- program: section/name.py --> under the program's excerpts on its page")


def render(text: str) -> str:
    return markdown.markdown(text, extensions=["attr_list", "md_in_html", programs.makeExtension()])


def test_the_box_links_the_file_and_says_how_to_run_it():
    html = render("Text.\n\n<!-- program: fundamentals/subnets.py -->\n")
    lines = (SNIPPETS / "fundamentals" / "subnets.py").read_text().count("\n")
    assert f"the whole program, {lines} lines" in html
    assert 'href="/programs/fundamentals/subnets.py"' in html
    assert 'download="subnets.py"' in html and 'data-program="copy"' in html
    assert "python subnets.py" in html


def test_inline_script_metadata_gives_the_uv_command_and_the_packages():
    source = ('# /// script\n# requires-python = ">=3.11"\n# dependencies = [\n'
              '#     "websockets>=15",\n#     "httpx",\n# ]\n# ///\n"""Doc."""\n')
    assert programs.dependencies(source) == ["websockets", "httpx"]
    command = programs.run_command("chat.py", source)
    assert "`uv run chat.py`" in command and "`websockets`, `httpx`" in command
    assert programs.dependencies('"""No metadata."""\n') is None


def test_a_box_inside_a_tab_keeps_its_indentation():
    html = render('=== "Tab"\n\n    <!-- program: fundamentals/subnets.py -->\n')
    assert 'class="program"' in html


def test_a_missing_program_fails_the_build():
    with pytest.raises(FileNotFoundError, match="no_such.py"):
        render("<!-- program: fundamentals/no_such.py -->\n")
