"""Helpers the tests share: load a snippet by its path, run its demo, find the project's files."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import io
import runpy
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
SNIPPETS = ROOT / "snippets"
DOCS = ROOT / "docs"


def snippet_files() -> list[Path]:
    """Every snippet program (generated code excluded), sorted for stable test ids."""
    return sorted(
        path
        for path in SNIPPETS.rglob("*.py")
        if not path.name.endswith(("_pb2.py", "_pb2_grpc.py")) and "__pycache__" not in path.parts
    )


def load_snippet(relative: str) -> ModuleType:
    """Import ``snippets/<relative>`` as a module, the way a reader's copy of the file would run.

    Snippet folders are not packages (some names have hyphens), so they are loaded by path.
    """
    path = SNIPPETS / relative
    name = "snippets." + relative.removesuffix(".py").replace("/", ".").replace("-", "_")
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    spec.loader.exec_module(module)
    return module


def run_demo(path: Path, *args: str) -> str:
    """Run a snippet as ``python <path> [args]`` would, in this process, and return its stdout."""
    out = io.StringIO()
    saved_argv = sys.argv
    sys.argv = [str(path), *args]
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(str(path), run_name="__main__")
    finally:
        sys.argv = saved_argv
    return out.getvalue()


@contextlib.asynccontextmanager
async def serving(server):
    """``await server.start()`` (which returns its port), yield the port, then ``close()``."""
    port = await server.start()
    try:
        yield port
    finally:
        await server.close()


async def closed_port() -> int:
    """A port nobody listens on (bound, then released): connecting to it is refused."""
    server = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port
