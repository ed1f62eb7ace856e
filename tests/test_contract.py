"""The snippet contract from CONTRIBUTING.md, checked for every snippet file."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.support import DOCS, ROOT, SNIPPETS, snippet_files

SNIPPETS_ = snippet_files()
IDS = [str(p.relative_to(SNIPPETS)) for p in SNIPPETS_]


def included_snippets() -> set[str]:
    """Every file a page includes with ``--8<-- "path"`` (or ``--8<-- "path:section"``)."""
    found = set()
    for page in DOCS.rglob("*.md"):
        for match in re.finditer(r'--8<--\s+"([^":]+)(?::[^"]*)?"', page.read_text()):
            found.add(match.group(1))
    return found


def test_there_are_snippets():
    assert SNIPPETS_, "no snippet found under snippets/"


@pytest.mark.parametrize("snippet", SNIPPETS_, ids=IDS)
def test_docstring_says_what_it_shows_and_how_to_run_it(snippet: Path):
    docstring = ast.get_docstring(ast.parse(snippet.read_text()))
    assert docstring, f"{snippet.name} has no module docstring"
    assert f"python {snippet.name}" in docstring, "the docstring must say how to run the file"


@pytest.mark.parametrize("snippet", SNIPPETS_, ids=IDS)
def test_has_a_mirrored_test_module(snippet: Path):
    relative = snippet.relative_to(SNIPPETS)
    mirrored = ROOT / "tests" / relative.parent / f"test_{relative.name}"
    assert mirrored.is_file(), f"missing {mirrored.relative_to(ROOT)}"


@pytest.mark.parametrize("snippet", SNIPPETS_, ids=IDS)
def test_imports_no_other_snippet(snippet: Path):
    others = {p.stem for p in SNIPPETS_} - {snippet.stem}
    imported = set()
    for node in ast.walk(ast.parse(snippet.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & others, "a snippet must be self-contained: copy what it needs"


@pytest.mark.parametrize("snippet", SNIPPETS_, ids=IDS)
def test_binds_loopback_by_default(snippet: Path):
    wildcard = {"0.0.0.0", "::"}  # every interface: reachable from the whole network
    literals = {
        node.value
        for node in ast.walk(ast.parse(snippet.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert not literals & wildcard, "bind 127.0.0.1 unless the reader asks otherwise"


@pytest.mark.parametrize("snippet", SNIPPETS_, ids=IDS)
def test_is_shown_on_a_page(snippet: Path):
    assert str(snippet.relative_to(SNIPPETS)) in included_snippets(), (
        "every snippet is included by a page with --8<--"
    )


def test_every_test_module_mirrors_a_snippet():
    snippets = {str(p.relative_to(SNIPPETS)) for p in SNIPPETS_}
    for test in (ROOT / "tests").glob("*/test_*.py"):
        relative = test.relative_to(ROOT / "tests")
        if relative.parts[0] in {"site"}:  # the browser suite tests pages, not snippets
            continue
        mirrored = str(relative.parent / relative.name.removeprefix("test_"))
        assert mirrored in snippets, f"{relative} mirrors no snippet"
