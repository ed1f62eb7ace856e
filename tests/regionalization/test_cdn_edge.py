import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support import load_snippet

cdn = load_snippet("regionalization/cdn_edge.py")


@pytest.mark.parametrize(
    ("cache_control", "lifetime"),
    [
        ("public, max-age=60", 60),
        ("max-age=60, s-maxage=300", 300),  # a shared cache obeys s-maxage
        ('max-age="30"', 30),
        ("no-cache", 0),  # store, but revalidate every time
        ("", 0),
        ("max-age=soon", 0),  # malformed value: treat as stale
        ("private, max-age=60", None),
        ("no-store", None),
        ("Max-Age=5", 5),  # directive names are case-insensitive
    ],
)
def test_freshness_lifetime(cache_control, lifetime):
    assert cdn.freshness_lifetime(cache_control) == lifetime


@pytest.fixture
def site():
    """An origin and an edge on ephemeral loopback ports, with a manual clock."""
    origin = cdn.Origin()
    clock = cdn.ManualClock()
    origin_server = cdn.start(cdn.origin_handler(origin))
    cache = cdn.EdgeCache(origin_server.server_address[:2], clock=clock)
    edge_server = cdn.start(cdn.edge_handler(cache))
    yield origin, clock, cache, edge_server.server_address[1]
    cdn.stop(edge_server)
    cdn.stop(origin_server)


def test_hit_until_max_age_then_revalidate(site):
    origin, clock, _, port = site
    states = []
    for now in [0, 30, 59.9, 60, 70]:
        clock.now = now
        status, headers, body = cdn.get(port, "/news")
        assert (status, body) == (200, b"<h1>Today's news</h1>")
        states.append((headers["X-Cache"], headers["Age"]))
    assert states == [("MISS", "0"), ("HIT", "30"), ("HIT", "59"), ("REVALIDATED", "0"),
                      ("HIT", "10")]
    assert origin.requests == 2


def test_revalidation_sends_the_etag_and_gets_no_body(site):
    origin, clock, cache, port = site
    cdn.get(port, "/news")
    seen = []
    respond = origin.respond
    origin.respond = lambda path, inm: seen.append(inm) or respond(path, inm)
    clock.now = 61
    cdn.get(port, "/news")
    assert seen == [cache.store["/news"].etag]
    assert respond("/news", seen[0])[:2] == (304, b"")


def test_changed_object_replaces_the_stored_copy(site):
    origin, clock, _, port = site
    cdn.get(port, "/news")
    origin.news = b"new"
    clock.now = 61
    status, headers, body = cdn.get(port, "/news")
    assert (headers["X-Cache"], body) == ("MISS", b"new")


def test_private_responses_are_never_stored(site):
    origin, _, cache, port = site
    for _ in range(3):
        assert cdn.get(port, "/profile")[1]["X-Cache"] == "PASS"
    assert origin.requests == 3
    assert "/profile" not in cache.store


def test_errors_are_passed_through_not_stored(site):
    _, _, cache, port = site
    status, headers, _ = cdn.get(port, "/missing")
    assert (status, headers["X-Cache"]) == (404, "PASS")
    assert cache.store == {}


def test_concurrent_misses_make_one_origin_request(site):
    origin, _, _, port = site
    barrier = threading.Barrier(20)
    results = []

    def visitor():
        barrier.wait(timeout=5)
        results.append(cdn.get(port, "/news")[1]["X-Cache"])

    threads = [threading.Thread(target=visitor) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(results) == ["HIT"] * 19 + ["MISS"]
    assert origin.requests == 1


def test_origin_down_gives_502():
    with socket.socket() as unused:  # a port with nothing listening
        unused.bind(("127.0.0.1", 0))
        dead = unused.getsockname()
    cache = cdn.EdgeCache(dead)
    edge = cdn.start(cdn.edge_handler(cache))
    try:
        status, _, body = cdn.get(edge.server_address[1], "/news")
    finally:
        cdn.stop(edge)
    assert status == 502 and body.startswith(b"origin unavailable")


def test_stalled_origin_gives_502_after_the_timeout():
    release = threading.Event()

    class Stall(BaseHTTPRequestHandler):
        def do_GET(self):
            release.wait(timeout=5)

        def log_message(self, *args):
            pass

    stalled = cdn.start(Stall)
    edge = cdn.start(cdn.edge_handler(cdn.EdgeCache(stalled.server_address[:2], timeout=0.2)))
    try:
        status, _, body = cdn.get(edge.server_address[1], "/news")
    finally:
        release.set()
        cdn.stop(edge)
        cdn.stop(stalled)
    assert status == 502 and b"timed out" in body


@pytest.mark.parametrize(
    ("request_bytes", "status_line"),
    [
        (b"GET /news HTTP/1.1\r\n" + b"X-Junk: 1\r\n" * 101 + b"\r\n", b"HTTP/1.0 431"),
        (b"GET /news HTTP/1.1\r\nHost: " + b"x" * 70_000 + b"\r\n\r\n", b"HTTP/1.0 431"),
    ],
    ids=["too many headers", "oversize header"],
)
def test_malformed_request_gets_an_error_and_others_are_served(site, request_bytes, status_line):
    *_, port = site
    with socket.create_connection(("127.0.0.1", port), timeout=5) as bad:
        bad.sendall(request_bytes)
        assert bad.recv(1024).startswith(status_line)
    assert cdn.get(port, "/news")[0] == 200


def test_client_that_vanishes_does_not_hurt_others(site):
    *_, port = site
    with socket.create_connection(("127.0.0.1", port), timeout=5) as gone:
        gone.sendall(b"GET /news HTTP/1.1\r\nHost: x\r\n")  # headers never finished
    assert cdn.get(port, "/news")[0] == 200


def test_client_command(site, capsys):
    *_, port = site
    cdn.main(["client", "--port", str(port), "--path", "/news"])
    assert capsys.readouterr().out == "200 MISS Age=0 <h1>Today's news</h1>\n"


@pytest.mark.parametrize("command", ["origin", "edge"])
def test_server_commands_start_and_stop(command, monkeypatch, capsys):
    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ThreadingHTTPServer, "serve_forever", interrupted)
    cdn.main([command, "--port", "0"])
    assert f"{command} on http://127.0.0.1:0" in capsys.readouterr().out


def test_a_silent_client_connection_is_closed(monkeypatch):
    """Idle, or a request head that never ends: without a timeout each held a thread for ever."""
    assert 0 < cdn.CLIENT_TIMEOUT <= 60
    monkeypatch.setattr(cdn, "CLIENT_TIMEOUT", 0.1)  # read when the handler class is made
    origin = cdn.start(cdn.origin_handler(cdn.Origin()))
    edge = cdn.start(cdn.edge_handler(cdn.EdgeCache(origin.server_address[:2])))
    try:
        for server in (origin, edge):
            for sent in (b"", b"GET /news HTTP/1.1\r\nHost: x\r\n"):
                with socket.create_connection(("127.0.0.1", server.server_address[1])) as sock:
                    sock.settimeout(5)
                    sock.sendall(sent)
                    assert sock.recv(100) == b""
    finally:
        cdn.stop(edge)
        cdn.stop(origin)


@pytest.mark.parametrize("target", [b"/news\x01", b"/caf\xc3\xa9", b"/a\x7fb"])
def test_a_target_that_is_not_visible_ascii_is_refused_at_the_edge(site, target):
    origin, _, _, port = site
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.0 400 Bad Request\r\n")
    assert answer.endswith(b"the request target must be a path of visible ASCII characters\n")
    assert origin.requests == 0  # never forwarded
    assert cdn.get(port, "/news")[0] == 200


def test_head_is_answered_like_get_without_a_body(site):
    _, _, _, port = site
    connection = cdn.http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("HEAD", "/news")
        response = connection.getresponse()
        assert response.status == 200 and response.read() == b""
        assert response.getheader("Content-Length") == str(len(b"<h1>Today's news</h1>"))
    finally:
        connection.close()


def test_a_reset_is_quiet_but_a_bug_still_prints_its_traceback(site, monkeypatch, capsys):
    origin, _, _, port = site
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /news HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    assert cdn.get(port, "/news")[0] == 200  # the reset harmed no one ...

    def broken(path, if_none_match):
        raise RuntimeError("a bug in the origin")

    monkeypatch.setattr(origin, "respond", broken)
    with pytest.raises(cdn.http.client.RemoteDisconnected):
        cdn.get(site[2].origin[1], "/profile")  # asked of the origin itself: its handler raises
    printed = capsys.readouterr().err
    assert "RuntimeError: a bug in the origin" in printed  # ... but a bug is not hidden
    assert printed.count("Traceback") == 1
