"""The suite's own rules bite: a test that leaks a socket, reaches past loopback or hangs fails.

Each case runs a tiny test file in a separate pytest run with this project's configuration.
"""

from __future__ import annotations

import pytest

from tests.support import ROOT

pytest_plugins = ["pytester"]

# name: (test file, a line the failure report must contain)
CASES = {
    "leaked socket": ("""
import socket
def test_leak():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    del s  # never closed
""", "*ResourceWarning: unclosed <socket.socket*"),
    "connect beyond loopback": ("""
import socket
def test_outside():
    with socket.socket() as s:
        s.settimeout(1)
        s.connect(("192.0.2.1", 80))  # TEST-NET-1, never routed
""", "*SocketConnectBlockedError*"),
    "test that hangs": ("""
import threading
def test_hang():
    threading.Event().wait()
""", "*Timeout*"),
}


@pytest.mark.parametrize(("source", "reason"), CASES.values(), ids=CASES.keys())
def test_rule_fails_the_offending_test(pytester: pytest.Pytester, source: str, reason: str):
    pytester.makepyfile(test_case=source)
    config = (ROOT / "pyproject.toml").read_text()
    pytester.makefile(".toml", pyproject=config.replace('"--cov=snippets",', ""))
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--no-cov", "-o", "timeout=3", "-o", "testpaths=."
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([reason])


def test_a_clean_test_passes(pytester: pytest.Pytester):
    pytester.makepyfile(test_case="def test_ok():\n    assert True\n")
    pytester.makefile(".toml", pyproject=(ROOT / "pyproject.toml").read_text())
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--no-cov", "-o", "testpaths=."
    )
    result.assert_outcomes(passed=1)
