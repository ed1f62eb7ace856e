"""Every HTTP-speaking server against every attack of the bad-input battery (tests/battery.py).

For each server, each attack runs against a fresh instance: the attack's own checks (a clear
status or a clean close, in time), then a normal client is still served, and nothing inside the
server failed: no exception in a connection's task or thread, nothing printed or logged as a
traceback. One test per server reports every attack that failed, each with its reason.
"""

from __future__ import annotations

import logging

import pytest

from tests.battery import ATTACKS, SERVERS, SHORT, probe


def run_attack(server, attack, capsys, caplog) -> None:
    capsys.readouterr()
    caplog.clear()
    try:
        with server.run(SHORT) as endpoint:  # on exit, every connection's thread or task ended
            attack(endpoint)
            probe(endpoint)
    finally:
        printed = capsys.readouterr().err  # this attack's, even when it failed
    assert "Traceback" not in printed, "printed a traceback: " + printed.strip()[-300:]
    assert not endpoint.problems, f"inside the server: {endpoint.problems}"
    logged = [record.getMessage() for record in caplog.records
              if record.exc_info or record.levelno >= logging.ERROR]
    assert not logged, f"logged: {logged}"


@pytest.mark.parametrize("server", SERVERS, ids=str)
def test_server_withstands_every_attack(server, capsys, caplog):
    caplog.set_level(logging.WARNING)
    failed = {}
    for name, attack in ATTACKS.items():
        try:
            run_attack(server, attack, capsys, caplog)
        except Exception as error:  # noqa: BLE001 (each attack's failure is reported, then the next)
            failed[name] = f"{type(error).__name__}: {error}".splitlines()[0][:300]
    assert not failed, "\n".join(f"{name}: {why}" for name, why in failed.items())


def test_every_server_and_attack_is_listed_once():
    assert len({str(server) for server in SERVERS}) == len(SERVERS) >= 14
    assert len(ATTACKS) >= 20


def test_every_http_server_of_the_site_is_in_the_battery():
    """A program that answers HTTP (it writes a status line, or uses http.server) is attacked by
    the battery: SERVERS loads it. A new chapter's server cannot slip past."""
    import re

    from tests.support import ROOT, SNIPPETS, snippet_files

    battery = (ROOT / "tests" / "battery.py").read_text()
    answers_http = re.compile(r'BaseHTTPRequestHandler|HTTP/1\.[01] \{|b"HTTP/1\.[01] \d')
    servers = [program.relative_to(SNIPPETS).as_posix() for program in snippet_files()
               if answers_http.search(program.read_text())]
    assert len(servers) >= 15
    assert [name for name in servers if f'load_snippet("{name}")' not in battery] == []
