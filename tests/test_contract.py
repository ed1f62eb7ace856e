"""The snippet contract from CONTRIBUTING.md, checked for every snippet file."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

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


# --- PEP 723: a bare copy of a program declares what it needs ---------------------------------

# import name -> the distribution that provides it, where they differ
DISTRIBUTIONS = {"dns": "dnspython", "graphql": "graphql-core", "grpc": "grpcio",
                 "google": "protobuf", "grpc_tools": "grpcio-tools", "yaml": "pyyaml"}
SCRIPT_BLOCK = re.compile(r"(?m)^# /// script\s*$\n(?P<body>(?:^#(?: .*)?$\n)+?)^# ///\s*$")


def script_metadata(source: str) -> dict:
    """The program's inline script metadata (PEP 723), parsed as the PEP's reference code does."""
    import tomllib

    blocks = list(SCRIPT_BLOCK.finditer(source))
    assert len(blocks) == 1, "one `# /// script` block (PEP 723) at the top of the file"
    content = "".join(line[2:] if line.startswith("# ") else line[1:]
                      for line in blocks[0].group("body").splitlines(keepends=True))
    return tomllib.loads(content)


def third_party_imports(source: str) -> set[str]:
    """The distributions a program's imports come from (the standard library aside)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    names -= set(sys.stdlib_module_names) | {"__future__"}
    needed = {DISTRIBUTIONS.get(name, name) for name in names}
    if "protos_and_services" in source:  # grpc compiles the .proto with grpcio-tools
        needed.add("grpcio-tools")
    return needed


def locked_versions() -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "requirements.lock").read_text(), re.M)
    return {canonicalize_name(name): version for name, version in found}


@pytest.mark.parametrize("snippet", SNIPPETS_, ids=IDS)
def test_declares_exactly_the_packages_it_imports_at_locked_versions(snippet: Path):
    """`uv run name.py` on a bare copy installs what the file declares: it must be what the file
    imports (no more, no less), in versions the project's lock (what the tests ran) satisfies."""
    source = snippet.read_text()
    metadata = script_metadata(source)
    assert SpecifierSet(metadata["requires-python"]).contains("3.11")
    declared = {}
    for requirement in map(Requirement, metadata.get("dependencies", [])):
        declared[canonicalize_name(requirement.name)] = requirement.specifier
    needed = {canonicalize_name(name) for name in third_party_imports(source)}
    assert set(declared) == needed
    locked = locked_versions()
    for name, specifier in declared.items():
        assert str(specifier), f"{name}: give a lower bound the lock satisfies"
        assert specifier.contains(locked[name]), f"{name} {specifier} excludes {locked[name]}"


@pytest.mark.parametrize("snippet", SNIPPETS_, ids=IDS)
def test_needs_no_file_beside_it(snippet: Path):
    """A reader copies one file: the program opens no sibling file of the repository (the gRPC
    program carries its .proto inside itself)."""
    siblings = {p.name for p in snippet.parent.iterdir() if p != snippet and p.suffix != ".txt"}
    source = snippet.read_text()
    assert not [name for name in siblings if f'"{name}"' in source or f"'{name}'" in source]
