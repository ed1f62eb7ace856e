import random
import socket
import sys

import httpx
import pybreaker
import pytest

from tests.support import load_snippet

rc = load_snippet("failures/resilient_client.py")


@pytest.fixture
def server():
    with rc.running() as server:
        yield server


def make_client(server, timeout=5.0, **options):
    slept, events = [], []
    breaker = options.pop("breaker", None) or pybreaker.CircuitBreaker(fail_max=5,
                                                                       reset_timeout=60)
    client = rc.ResilientClient(f"http://127.0.0.1:{server.server_address[1]}", timeout=timeout,
                                breaker=breaker, rng=random.Random(1), sleep=slept.append,
                                on_attempt=events.append, **options)
    return client, slept, events


def test_healthy_dependency_one_call(server):
    client, slept, _ = make_client(server)
    try:
        assert client.get() == "ok"
    finally:
        client.close()
    assert server.hits == 1 and slept == []


def test_a_stalled_response_times_out_and_the_retry_succeeds(server):
    server.mode = "slow-once"
    client, slept, events = make_client(server, timeout=0.5)
    try:
        assert client.get() == "ok"
    finally:
        client.close()
    assert server.hits == 2
    assert events[0].startswith("attempt 1: timed out")
    assert slept == [random.Random(1).uniform(0, 0.02)]  # full jitter, seeded


def test_503_is_retried_up_to_three_attempts_with_jittered_waits(server):
    server.mode = "down"
    client, slept, _ = make_client(server)
    try:
        with pytest.raises(rc.Unavailable, match="503"):
            client.get()
    finally:
        client.close()
    rng = random.Random(1)
    assert server.hits == 3
    assert slept == [rng.uniform(0, 0.02), rng.uniform(0, 0.04)]


def test_breaker_opens_and_sheds_load_then_closes_after_a_good_trial(server):
    server.mode = "down"
    changes = []

    class Listener(pybreaker.CircuitBreakerListener):
        def state_change(self, cb, old, new):
            changes.append((old.name, new.name))

    breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60, listeners=[Listener()])
    client, _, _ = make_client(server, breaker=breaker)
    try:
        with pytest.raises(rc.Unavailable):
            client.get()  # 3 failures
        with pytest.raises(pybreaker.CircuitBreakerError):
            client.get()  # failures 4 and 5: the 5th trips the breaker
        assert server.hits == 5 and breaker.current_state == "open"
        for _ in range(10):
            with pytest.raises(pybreaker.CircuitBreakerError):
                client.get()
        assert server.hits == 5  # shed: nothing reached the dependency, nothing was retried
        server.mode = "ok"
        breaker.half_open()  # what the reset timeout does, without waiting 60 s
        assert client.get() == "ok"
        assert breaker.current_state == "closed" and server.hits == 6
    finally:
        client.close()
    assert changes == [("closed", "open"), ("open", "half-open"), ("half-open", "closed")]


def test_failed_trial_reopens(server):
    server.mode = "down"
    breaker = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=60)
    client, _, _ = make_client(server, breaker=breaker)
    try:
        with pytest.raises(pybreaker.CircuitBreakerError):
            client.get()
        breaker.half_open()
        with pytest.raises(pybreaker.CircuitBreakerError):
            client.get()
    finally:
        client.close()
    assert breaker.current_state == "open" and server.hits == 2


def test_refused_connections_are_retried_then_reported():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once it is closed
    slept = []
    client = rc.ResilientClient(f"http://127.0.0.1:{port}", rng=random.Random(0),
                                sleep=slept.append)
    try:
        with pytest.raises(httpx.ConnectError):
            client.get()
    finally:
        client.close()
    assert len(slept) == 2


def test_a_permanent_error_is_not_retried(server):
    """501 is a final answer (RFC 9110 section 15.6.2): one attempt, no wait, given back."""
    server.mode = "broken"
    client, slept, _ = make_client(server)
    try:
        with pytest.raises(rc.Rejected, match="501"):
            client.get()
    finally:
        client.close()
    assert server.hits == 1 and slept == []


@pytest.mark.parametrize(("status", "headers", "kind"), [
    (200, {}, None), (404, {}, "Rejected"), (408, {}, "Unavailable"), (409, {}, "Rejected"),
    (409, {"Retry-After": "1"}, "Unavailable"), (429, {}, "Unavailable"), (500, {}, "Rejected"),
    (500, {"Retry-After": "1"}, "Unavailable"), (501, {"Retry-After": "1"}, "Rejected"),
    (502, {}, "Unavailable"), (503, {}, "Unavailable"), (504, {}, "Unavailable"),
    (505, {}, "Rejected"),
])
def test_the_retry_policy_is_the_sites_one_policy(status, headers, kind):
    failure = rc.failure_for(httpx.Response(status, headers=headers))
    assert (type(failure).__name__ if failure else None) == kind


def test_a_4xx_does_not_count_against_the_dependency_but_a_5xx_does():
    client = rc.ResilientClient("http://127.0.0.1:9")  # the default breaker; nothing is called
    try:
        counts = client.breaker.is_system_error
        assert not counts(rc.Rejected(404)) and counts(rc.Rejected(501))
        assert counts(rc.Unavailable("503"))
    finally:
        client.close()


@pytest.mark.parametrize(("error", "expected"), [
    (httpx.ReadTimeout("t"), True), (httpx.ConnectError("c"), True),
    (rc.Unavailable("503"), True), (pybreaker.CircuitBreakerError("open"), False),
    (ValueError(), False),
])
def test_what_is_retried(error, expected):
    assert rc.is_retryable(error) is expected


def test_cli_client(server, monkeypatch, capsys):
    port = str(server.server_address[1])
    monkeypatch.setattr(sys, "argv", ["resilient_client.py", "client", "--port", port])
    rc.main()
    assert capsys.readouterr().out == "ok\n"
    server.mode = "down"
    rc.main()
    out = capsys.readouterr().out
    assert out.count("503 from the dependency, retry in") == 2
    assert out.endswith("failed: 503 from the dependency\n")


def test_cli_server(monkeypatch, capsys):
    def interrupted(self, poll_interval=0.5):
        raise KeyboardInterrupt

    monkeypatch.setattr(rc.FlakyServer, "serve_forever", interrupted)
    monkeypatch.setattr(sys, "argv", ["resilient_client.py", "server", "--port", "0",
                                      "--mode", "down"])
    rc.main()
    assert "flaky dependency (down)" in capsys.readouterr().out


def test_a_silent_connection_is_closed_by_the_server(monkeypatch):
    """Idle, or a request head that never ends: http.server's per-read timeout cuts it off
    (without one, each such connection held a thread for ever)."""
    assert 0 < rc.FlakyHandler.timeout <= 60  # the default
    monkeypatch.setattr(rc.FlakyHandler, "timeout", 0.1)
    with rc.running() as server:
        for sent in (b"", b"GET / HTTP/1.1\r\nHost: x\r\n"):
            with socket.create_connection(("127.0.0.1", server.server_address[1])) as sock:
                sock.settimeout(5)
                sock.sendall(sent)
                assert sock.recv(100) == b""  # closed by the server, well before 5 s
