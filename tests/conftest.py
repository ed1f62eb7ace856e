"""Suite-wide rules: loopback only (pytest-socket, see pyproject.toml), a timeout on every test,
and a socket or file left open fails the test that leaked it."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tests.support import ROOT


@pytest.fixture(autouse=True)
def _fail_on_leaked_resources():
    """Collect garbage after each test so a leaked socket's ResourceWarning lands on that test."""
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        gc.collect()


def build_site(
    destination: Path, config: Path = ROOT / "mkdocs.yml"
) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of ``config`` into ``destination``; returns the process."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", config, "-d", destination],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="session")
def site_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The site, built once per run with ``--strict`` into a temporary folder, and its log."""
    destination = tmp_path_factory.mktemp("site")
    result = build_site(destination)
    assert result.returncode == 0, f"strict build failed:\n{result.stdout}\n{result.stderr}"
    return destination, result.stderr


@pytest.fixture(scope="session")
def built_site(site_build: tuple[Path, str]) -> Path:
    return site_build[0]
