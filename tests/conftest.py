"""Suite-wide rules: loopback only (pytest-socket, see pyproject.toml), a timeout on every test,
and a socket or file left open fails the test that leaked it."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, redis_server


@pytest.fixture(autouse=True)
def _fail_on_leaked_resources():
    """Collect garbage after each test so a leaked socket's ResourceWarning lands on that test.

    Then freeze what survived (gc.freeze): those objects are alive, not leaks, and the next
    test's collection need not walk them again. A full collection of the whole heap (matplotlib,
    grpc, Playwright...) took about 60 ms a test; one of what a single test allocated, a few."""
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        gc.collect()
    gc.freeze()


def build_site(
    destination: Path, config: Path = ROOT / "mkdocs.yml", site_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of ``config`` into ``destination``; returns the process.

    ``site_url`` (the ``SITE_URL`` that mkdocs.yml reads) is the address the site is served at.
    Diagrams come from diagram-cache/ only (MERMAID_DRAW=never): a fence without its drawing
    is left for the browser, which the tests then catch.
    """
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "MERMAID_DRAW": "never"}
    if site_url is not None:
        env["SITE_URL"] = site_url
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", config, "-d", destination],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="session")
def site_socket() -> Iterator[socket.socket]:
    """A listening socket on a port the OS chose, reserved for the whole run.

    The site is built with ``site_url`` on this port and the browser suite serves it from this
    very socket: the pages' canonical links and sitemap then name the origin the browser
    loads, and a port the OS picked never clashes with a running ``make serve``.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock


@pytest.fixture(scope="session")
def site_url(site_socket: socket.socket) -> str:
    return f"http://127.0.0.1:{site_socket.getsockname()[1]}/"


@pytest.fixture(scope="session")
def site_build(tmp_path_factory: pytest.TempPathFactory, site_url: str) -> tuple[Path, str]:
    """The site, built once per run with ``--strict`` into a temporary folder, and its log."""
    destination = tmp_path_factory.mktemp("site")
    result = build_site(destination, site_url=site_url)
    assert result.returncode == 0, f"strict build failed:\n{result.stdout}\n{result.stderr}"
    return destination, result.stderr


@pytest.fixture(scope="session")
def built_site(site_build: tuple[Path, str]) -> Path:
    return site_build[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """With pytest-xdist (`make test` runs two workers or more), the tests that read the built
    site go to one worker (--dist loadgroup), so the site is built once, not once per worker.
    The browser tests run in a pass of their own, where each worker serves its own build."""
    for item in items:
        uses_site = {"built_site", "site_build"} & set(getattr(item, "fixturenames", ()))
        if uses_site and not item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("built-site"))


@pytest.fixture(scope="session")
def redis_port() -> Iterator[int]:
    """One redis-server on loopback for the whole run (per xdist worker); see ``redis``."""
    with redis_server() as port:
        yield port


@pytest.fixture
def redis(redis_port: int) -> Iterator[int]:
    """The session's redis-server, emptied (FLUSHALL) before the test; yields its port."""
    import socket

    with socket.create_connection(("127.0.0.1", redis_port), timeout=5) as connection:
        connection.sendall(b"FLUSHALL\r\n")
        assert connection.recv(64).startswith(b"+OK")
    yield redis_port
