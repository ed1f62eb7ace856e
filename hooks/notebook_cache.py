"""Notebook pages are re-executed when anything they read changes, not only their own text.

mkdocs-jupyter caches each executed notebook under a key made of the notebook's text and its
options. A notebook page also runs a program from snippets/ and draws with docs_tools/ (and its
diagrams come from diagram-cache/), so a changed program would leave a page showing the old
program's output. This hook files the cache under a folder named by a hash of all of those, and
removes the folders of earlier states.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READ_BY_NOTEBOOKS = ["snippets", "docs_tools", "hooks", "diagram-cache"]


def inputs_hash() -> str:
    digest = hashlib.sha256()
    for folder in READ_BY_NOTEBOOKS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(ROOT).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def on_config(config):  # the MkDocs hook signature
    plugin = config["plugins"]["mkdocs-jupyter"]
    base = Path(plugin.config["cache_dir"])
    if base.name.startswith("inputs-"):  # mkdocs serve calls on_config again on each rebuild
        base = base.parent
    current = base / f"inputs-{inputs_hash()}"
    if base.is_dir():
        for old in base.iterdir():
            if old == current:
                continue
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink()
    plugin.config["cache_dir"] = str(current)
    return config
