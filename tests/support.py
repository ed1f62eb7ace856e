"""Helpers the tests share: load a snippet by its path, run its demo, find the project's files."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import io
import runpy
import sys
from collections.abc import Iterator
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


async def read_to_close(port: int, data: bytes, *, eof: bool = False,
                        timeout: float = 5) -> bytes:
    """Send ``data`` on a new loopback connection (then a FIN, if ``eof``); everything the
    server sent before it closed the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        if eof:
            writer.write_eof()
        async with asyncio.timeout(timeout):
            return await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def closed_port() -> int:
    """A port nobody listens on (bound, then released): connecting to it is refused."""
    server = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


# Headless Chromium as a real peer of the realtime servers (EventSource, WebSocket): Debian's
# browser, or the one $CHROMIUM names; Playwright never downloads one of its own.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--disable-background-networking", "--no-first-run"]


@contextlib.contextmanager
def serving_page(html: str) -> Iterator[str]:
    """Serve ``html`` at / from a real HTTP server on 127.0.0.1 (in a thread); yield its URL.

    A real server, not a page the test fulfils with ``page.route``: Chromium refuses ws://
    connections from such a page.
    """
    import http.server
    import threading

    body = html.encode()

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/" else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body) if self.path == "/" else 0))
            self.end_headers()
            if self.path == "/":
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="page-server")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextlib.asynccontextmanager
async def browser_page(html: str):
    """A headless Chromium page (Playwright's async API) that has loaded ``html`` from a real
    local server; everything is closed on exit."""
    import os

    from playwright.async_api import async_playwright

    executable = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    assert os.access(executable, os.X_OK), f"no Chromium at {executable}: run `make chromium`"
    with serving_page(html) as url:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=executable,
                                                       args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page()
                page.set_default_timeout(10_000)
                await page.goto(url)
                yield page
            finally:
                await browser.close()


# --- Redis: a real redis-server on loopback, started and stopped by the tests ----------------

REDIS_START_TIMEOUT = 10.0  # seconds for redis-server to answer PING


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _redis_answers(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server():
    """A throwaway redis-server (Debian's, installed by `make redis`) on 127.0.0.1 at a free
    port, nothing persisted; yields the port, and stops it on exit."""
    import shutil
    import subprocess
    import time

    binary = shutil.which("redis-server")
    assert binary, "no redis-server: run `make redis` (Debian's redis-server package)"
    for _ in range(5):  # a free port may be taken again before redis binds it: try another
        port = _free_port()
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + REDIS_START_TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            if _redis_answers(port):
                break
            time.sleep(0.02)  # polling a process that is starting: no event to wait on
        if process.poll() is None and _redis_answers(port):
            break
        process.kill()
        process.wait(timeout=5)
    else:
        raise RuntimeError("redis-server did not start")
    try:
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
