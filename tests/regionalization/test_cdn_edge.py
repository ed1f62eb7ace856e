import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support import DOCS, SNIPPETS, load_snippet

cdn = load_snippet("regionalization/cdn_edge.py")
Policy = cdn.Policy


# --- The origin's directives, as RFC 9111 and RFC 5861 define them -------------------------------

@pytest.mark.parametrize(
    ("cache_control", "policy"),
    [
        ("public, max-age=60", Policy(True, 60)),
        ("max-age=60, s-maxage=300", Policy(True, 300)),  # a shared cache obeys s-maxage (5.2.2.10)
        ('max-age="30"', Policy(True, 30)),
        ("Max-Age=5", Policy(True, 5)),  # directive names are case-insensitive (5.2)
        ("", Policy(True, 0)),  # no lifetime given: stale at once (no heuristic freshness here)
        ("max-age=soon", Policy(True, 0)),  # malformed value: treat as stale
        ("max-age=-5", Policy(True, 0)),
        ("no-cache", Policy(True, 0)),  # store, but revalidate every time (5.2.2.4)
        ("no-cache, max-age=60", Policy(True, 0)),  # no-cache wins over a lifetime
        ('no-cache="Set-Cookie", max-age=60', Policy(True, 0)),  # qualified: may act unqualified
        ("no-cache, stale-if-error=60", Policy(True, 0)),  # and it forbids stale copies (4.2.4)
        ("private, max-age=60", Policy(False, 0)),  # a shared cache must not store it (5.2.2.7)
        ('private="Set-Cookie"', Policy(False, 0)),
        ("no-store", Policy(False, 0)),  # no cache stores it (5.2.2.5)
        ("public, no-store, max-age=60", Policy(False, 0)),
        ("max-age=10, stale-while-revalidate=20, stale-if-error=300", Policy(True, 10, 20, 300)),
        ("max-age=10, stale-if-error=bad", Policy(True, 10, 0, 0)),
        # must-revalidate, proxy-revalidate and s-maxage forbid serving it stale (RFC 9111
        # 4.2.4, 5.2.2.2, 5.2.2.8, 5.2.2.10): the RFC 5861 extensions do not apply then
        ("max-age=10, must-revalidate, stale-if-error=300", Policy(True, 10)),
        ("max-age=10, proxy-revalidate, stale-while-revalidate=20", Policy(True, 10)),
        ("s-maxage=10, stale-if-error=300", Policy(True, 10)),
    ],
)
def test_cache_policy(cache_control, policy):
    assert cdn.cache_policy(cache_control) == policy


@pytest.mark.parametrize(
    ("vary", "names"),
    [
        ("", ()),
        ("Accept-Language", ("accept-language",)),
        ("accept-language, Accept-Encoding", ("accept-encoding", "accept-language")),
        (" Accept-Encoding ,, ", ("accept-encoding",)),
        ("*", None),  # never matches a later request (RFC 9111 4.1)
        ("Accept-Encoding, *", None),
    ],
)
def test_vary_names(vary, names):
    assert cdn.vary_names(vary) == names


def test_cache_key_holds_the_selecting_headers_normalised():
    names = ("accept-encoding", "accept-language")
    french = cdn.cache_key("/p", names, {"accept-language": "fr", "accept-encoding": "gzip, br"})
    assert french == cdn.cache_key("/p", names, {"accept-language": "FR",
                                                "accept-encoding": "gzip,br"})
    assert french != cdn.cache_key("/p", names, {"accept-language": "en",
                                                "accept-encoding": "gzip, br"})
    assert cdn.cache_key("/p", (), {"accept-language": "fr"}) == "/p"  # no Vary: the URL alone
    # a request without the header is its own variant, not any stored one
    assert cdn.cache_key("/p", ("accept-language",), {}) != cdn.cache_key(
        "/p", ("accept-language",), {"accept-language": "fr"})


# --- An origin and an edge on loopback -----------------------------------------------------------

@pytest.fixture
def site():
    """An origin and an edge on ephemeral loopback ports, with a manual clock."""
    origin = cdn.Origin()
    clock = cdn.ManualClock()
    origin_server = cdn.start(cdn.origin_handler(origin))
    cache = cdn.EdgeCache(origin_server.server_address[:2], clock=clock, timeout=2)
    edge_server = cdn.start(cdn.edge_handler(cache))
    yield origin, clock, cache, edge_server.server_address[1]
    cache.settle()
    cdn.stop(edge_server)
    cdn.stop(origin_server)


def states(port, path, *, headers=None):
    status, answer, body = cdn.get(port, path, headers)
    return status, answer.get("X-Cache"), body


def test_hit_until_max_age_then_revalidate(site):
    origin, clock, _, port = site
    seen = []
    for now in [0, 30, 59.9, 60, 70]:
        clock.now = now
        status, headers, body = cdn.get(port, "/news")
        assert (status, body) == (200, b"<h1>Today's news</h1>")
        seen.append((headers["X-Cache"], headers["Age"]))
    assert seen == [("MISS", "0"), ("HIT", "30"), ("HIT", "59"), ("REVALIDATED", "0"),
                    ("HIT", "10")]
    assert origin.requests == 2


def test_clients_get_the_origins_caching_headers_but_not_its_surrogate_keys(site):
    *_, port = site
    _, headers, _ = cdn.get(port, "/news")
    headers = {name.lower(): value for name, value in headers.items()}
    assert headers["cache-control"] == "public, max-age=60" and headers["etag"].startswith('"')
    assert "surrogate-key" not in headers  # for the CDN only


def test_revalidation_sends_the_etag_and_gets_no_body(site):
    origin, clock, cache, port = site
    cdn.get(port, "/news")
    seen = []
    respond = origin.respond
    origin.respond = lambda path, headers: seen.append(headers.get("if-none-match")) or respond(
        path, headers)
    clock.now = 61
    cdn.get(port, "/news")
    assert seen == [cache.store["/news"].headers["etag"]]
    assert respond("/news", {"if-none-match": seen[0]})[:2] == (304, b"")


def test_a_304_updates_the_stored_headers(site):
    """RFC 9111 4.3.4: the 304's Cache-Control replaces the stored one."""
    origin, clock, cache, port = site
    cdn.get(port, "/news")
    respond = origin.respond

    def longer(path, headers):
        status, body, answer = respond(path, headers)
        return status, body, {**answer, "Cache-Control": "max-age=600"}

    origin.respond = longer
    clock.now = 61
    assert states(port, "/news")[1] == "REVALIDATED"
    assert cache.store["/news"].policy.lifetime == 600
    clock.now = 600
    assert states(port, "/news")[1] == "HIT"


def test_changed_object_replaces_the_stored_copy(site):
    origin, clock, _, port = site
    cdn.get(port, "/news")
    origin.news = b"new"
    clock.now = 61
    assert states(port, "/news")[1:] == ("MISS", b"new")


@pytest.mark.parametrize("path", ["/profile", "/basket"], ids=["private", "no-store"])
def test_private_and_no_store_responses_are_never_stored(site, path):
    origin, _, cache, port = site
    for _ in range(3):
        assert states(port, path)[1] == "PASS"
    assert origin.requests == 3
    assert cache.store == {}


def test_no_cache_is_stored_but_revalidated_on_every_use(site):
    origin, _, cache, port = site
    seen = [states(port, "/prices") for _ in range(3)]
    assert seen == [(200, "MISS", b"<p>prices</p>")] + [(200, "REVALIDATED", b"<p>prices</p>")] * 2
    assert origin.requests == 3 and "/prices" in cache.store


def test_errors_are_passed_through_not_stored(site):
    _, _, cache, port = site
    status, headers, _ = cdn.get(port, "/missing")
    assert (status, headers["X-Cache"]) == (404, "PASS")
    assert cache.store == {}


def test_concurrent_misses_make_one_origin_request(site):
    origin, _, cache, port = site
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
    assert cache._locks == {}  # the per-URL lock went with its last user


def test_a_client_asking_for_many_paths_leaves_no_locks_behind(site):
    _, _, cache, port = site
    for n in range(50):
        cdn.get(port, f"/missing/{n}")
    assert cache._locks == {}


# --- Vary ----------------------------------------------------------------------------------------

def test_vary_keys_the_copy_on_the_named_request_header(site):
    origin, _, cache, port = site
    seen = []
    respond = origin.respond
    origin.respond = lambda path, headers: seen.append(headers.get("accept-language")) or respond(
        path, headers)
    answers = [states(port, "/greeting", headers={"Accept-Language": language})
               for language in ("fr", "en", "fr", "FR", "en")]
    assert answers == [(200, "MISS", b"Bonjour"), (200, "MISS", b"Hello"),
                       (200, "HIT", b"Bonjour"), (200, "HIT", b"Bonjour"), (200, "HIT", b"Hello")]
    assert seen == ["fr", "en"]  # the edge forwarded the header the answer depends on
    assert cache.vary["/greeting"] == ("accept-language",)
    assert len(cache.store) == 2


def test_vary_star_is_never_reused(site):
    origin, _, cache, port = site
    assert [states(port, "/dice")[1] for _ in range(3)] == ["PASS"] * 3
    assert origin.requests == 3 and cache.store == {}


def test_vary_cannot_fill_the_store(site):
    _, _, cache, port = site
    for n in range(cdn.MAX_VARIANTS + 10):
        cdn.get(port, "/greeting", {"Accept-Language": f"x-{n}"})
    assert len(cache.store) == cdn.MAX_VARIANTS
    newest = cdn.cache_key("/greeting", ("accept-language",),
                           {"accept-language": f"x-{cdn.MAX_VARIANTS + 9}"})
    assert newest in cache.store  # the oldest went first


# --- Stale content: RFC 5861 ---------------------------------------------------------------------

def test_stale_while_revalidate_serves_at_once_and_refreshes_once_in_the_background(site):
    origin, clock, cache, port = site
    assert states(port, "/scores")[1] == "MISS"  # max-age=10, stale-while-revalidate=20
    origin.scores = 1
    release = threading.Event()
    respond = origin.respond

    def slow(path, headers):
        release.wait(timeout=5)  # the origin takes its time: the users must not wait for it
        return respond(path, headers)

    origin.respond = slow
    clock.now = 15
    before = origin.requests
    seen = [states(port, "/scores") for _ in range(5)]  # all while the refresh is under way
    assert seen == [(200, "UPDATING", b"<p>scores, version 0</p>")] * 5
    release.set()
    cache.settle()
    assert origin.requests == before + 1  # one refresh, however many users saw the stale copy
    clock.now = 16
    assert states(port, "/scores") == (200, "HIT", b"<p>scores, version 1</p>")


def test_past_stale_while_revalidate_the_user_waits_for_the_origin(site):
    origin, clock, _, port = site
    states(port, "/scores")
    origin.scores = 1
    clock.now = 30  # lifetime 10 + stale-while-revalidate 20: no longer
    assert states(port, "/scores") == (200, "MISS", b"<p>scores, version 1</p>")


def test_a_failed_background_refresh_keeps_the_stale_copy(site):
    origin, clock, cache, port = site
    states(port, "/scores")
    origin.failing = True
    clock.now = 15
    assert states(port, "/scores")[1] == "UPDATING"
    cache.settle()
    assert cache.store["/scores"].stored_at == 0  # the 503 did not replace it
    clock.now = 29
    assert states(port, "/scores")[1] == "UPDATING"


def test_stale_if_error_serves_the_copy_while_the_origin_answers_5xx(site):
    origin, clock, _, port = site
    states(port, "/scores")
    origin.failing = True
    clock.now = 200  # past stale-while-revalidate, within stale-if-error=300
    assert states(port, "/scores") == (200, "STALE", b"<p>scores, version 0</p>")
    clock.now = 310  # lifetime 10 + 300: too stale to serve
    assert states(port, "/scores") == (503, "PASS", b"origin overloaded")
    origin.failing = False
    assert states(port, "/scores")[1] == "REVALIDATED"  # the 503 had not evicted the copy


def test_without_stale_if_error_a_failing_origin_reaches_the_user(site):
    origin, clock, _, port = site
    states(port, "/news")  # max-age=60, nothing else
    origin.failing = True
    clock.now = 61
    assert states(port, "/news")[:2] == (503, "PASS")


@pytest.mark.parametrize("cache_control", ["s-maxage=10, stale-if-error=300",
                                           "max-age=10, must-revalidate, stale-if-error=300"])
def test_no_stale_copy_where_the_origin_forbids_it(site, cache_control):
    origin, clock, _, port = site
    origin.respond = lambda path, headers: (
        (503, b"down", {}) if origin.failing else (200, b"ok", {"Cache-Control": cache_control}))
    states(port, "/strict")
    origin.failing = True
    clock.now = 20
    assert states(port, "/strict")[:2] == (503, "PASS")


def test_stale_if_error_while_the_origin_is_down_then_502():
    origin = cdn.Origin()
    clock = cdn.ManualClock()
    origin_server = cdn.start(cdn.origin_handler(origin))
    cache = cdn.EdgeCache(origin_server.server_address[:2], clock=clock, timeout=2)
    edge = cdn.start(cdn.edge_handler(cache))
    port = edge.server_address[1]
    try:
        states(port, "/scores")
        states(port, "/news")
        cdn.stop(origin_server)  # nothing listens there now: connections are refused
        clock.now = 300
        assert states(port, "/scores") == (200, "STALE", b"<p>scores, version 0</p>")
        status, _, body = states(port, "/news")  # stale, and no stale-if-error
        assert status == 502 and body.startswith(b"origin unavailable")
        clock.now = 311
        assert states(port, "/scores")[0] == 502
    finally:
        cdn.stop(edge)


def test_stale_if_error_covers_an_origin_that_stalls():
    release = threading.Event()
    origin = cdn.Origin()
    respond = origin.respond

    def maybe_stall(path, headers):
        if origin.failing:
            release.wait(timeout=5)
        return respond(path, headers)

    origin.respond = maybe_stall
    clock = cdn.ManualClock()
    origin_server = cdn.start(cdn.origin_handler(origin))
    cache = cdn.EdgeCache(origin_server.server_address[:2], clock=clock, timeout=0.2)
    edge = cdn.start(cdn.edge_handler(cache))
    try:
        states(edge.server_address[1], "/scores")
        origin.failing = True
        clock.now = 100
        assert states(edge.server_address[1], "/scores")[1] == "STALE"
    finally:
        release.set()
        cdn.stop(edge)
        cdn.stop(origin_server)


# --- An origin shield ----------------------------------------------------------------------------

def test_an_edge_behind_a_shield_counts_the_age_the_shield_reports():
    """The shield is an edge whose origin is the origin; two edges use it as their origin. The
    origin sees one request, and the Age header keeps the copy from living max-age twice."""
    origin, clock = cdn.Origin(), cdn.ManualClock()
    servers = [cdn.start(cdn.origin_handler(origin))]
    shield = cdn.EdgeCache(servers[0].server_address[:2], clock=clock, timeout=2)
    servers.append(cdn.start(cdn.edge_handler(shield)))
    edges = [cdn.EdgeCache(servers[1].server_address[:2], clock=clock, timeout=2)
             for _ in range(2)]
    servers += [cdn.start(cdn.edge_handler(edge)) for edge in edges]
    ports = [server.server_address[1] for server in servers[2:]]
    try:
        assert states(ports[0], "/news")[1] == "MISS"
        clock.now = 50
        status, answer, _ = cdn.get(ports[1], "/news")  # a miss here, a hit at the shield
        assert (answer["X-Cache"], answer["Age"]) == ("MISS", "50")
        assert origin.requests == 1
        clock.now = 61  # 61 s since the origin made it: stale everywhere
        assert states(ports[1], "/news")[1] == "REVALIDATED"
    finally:
        for server in reversed(servers):
            cdn.stop(server)


# --- Purge ---------------------------------------------------------------------------------------

def test_purge_needs_the_token(site):
    _, _, cache, port = site
    cdn.get(port, "/news")
    for headers in ({}, {"Authorization": "Bearer wrong"},
                    {"Authorization": "Bearer caf\u00e9"}):
        status, _, body = cdn.request(port, "/news", "PURGE", headers)
        assert (status, body) == (403, b"PURGE needs the edge's token\n")
    assert "/news" in cache.store


def test_purge_by_url_drops_every_variant(site):
    origin, _, cache, port = site
    for language in ("fr", "en"):
        cdn.get(port, "/greeting", {"Accept-Language": language})
    cdn.get(port, "/news")
    token = {"Authorization": f"Bearer {cache.purge_token}"}
    assert cdn.request(port, "/greeting", "PURGE", token)[::2] == (200, b"purged 2\n")
    assert [key.split("\n")[0] for key in cache.store] == ["/news"]
    assert states(port, "/greeting", headers={"Accept-Language": "fr"})[1] == "MISS"


def test_purge_by_surrogate_key_drops_every_tagged_object(site):
    _, _, cache, port = site
    for path in ("/news", "/scores", "/greeting"):
        cdn.get(port, path)
    token = {"Authorization": f"Bearer {cache.purge_token}", "Surrogate-Key": "front-page"}
    assert cdn.request(port, "/", "PURGE", token)[::2] == (200, b"purged 2\n")
    assert list(cache.store) == ["/greeting\naccept-language: "]


def test_purge_refuses_a_bad_path(site):
    _, _, cache, port = site
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"PURGE /a\x01b HTTP/1.1\r\nAuthorization: Bearer {cache.purge_token}\r\n"
                     "\r\n".encode())
        assert sock.recv(100).startswith(b"HTTP/1.0 400")


def test_purge_command(site, capsys):
    _, _, cache, port = site
    cdn.get(port, "/news")
    cdn.main(["purge", "--port", str(port), "--token", cache.purge_token, "--path", "/news"])
    cdn.main(["purge", "--port", str(port), "--token", cache.purge_token, "--tag", "none"])
    assert capsys.readouterr().out == "200 purged 1\n200 purged 0\n"


def test_versioned_urls_stay_for_a_year(site):
    origin, clock, _, port = site
    (asset,) = origin.assets
    assert re.fullmatch(r"/app\.[0-9a-f]{8}\.js", asset)
    assert states(port, asset)[1] == "MISS"
    clock.now = 365 * 86400 - 1
    assert states(port, asset)[1] == "HIT"
    assert cdn.asset_name(b"v2") != asset  # new content, new name: nothing to purge


# --- Failure and bad input -----------------------------------------------------------------------

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
    assert (status, body) == (502, b"origin unavailable: TimeoutError\n")


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
    cdn.main(["client", "--port", str(port), "--path", "/greeting",
              "--header", "Accept-Language: fr"])
    assert capsys.readouterr().out == ("200 MISS Age=0 <h1>Today's news</h1>\n"
                                       "200 MISS Age=0 Bonjour\n")


def test_client_command_refuses_a_malformed_header(capsys):
    with pytest.raises(SystemExit):
        cdn.main(["client", "--header", "no colon"])
    assert '--header wants "Name: value"' in capsys.readouterr().err


@pytest.mark.parametrize("command", ["origin", "edge"])
def test_server_commands_start_and_stop(command, monkeypatch, capsys):
    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ThreadingHTTPServer, "serve_forever", interrupted)
    cdn.main([command, "--port", "0"])
    out = capsys.readouterr().out
    assert f"{command} on http://127.0.0.1:0" in out
    assert ("purge token: " in out) == (command == "edge")


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
    status, headers, body = cdn.request(port, "/news", "HEAD")
    assert status == 200 and body == b""
    assert headers["Content-Length"] == str(len(b"<h1>Today's news</h1>"))


def test_a_reset_is_quiet_but_a_bug_still_prints_its_traceback(site, monkeypatch, capsys):
    origin, _, cache, port = site
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /news HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    assert cdn.get(port, "/news")[0] == 200  # the reset harmed no one ...

    def broken(path, headers):
        raise RuntimeError("a bug in the origin")

    monkeypatch.setattr(origin, "respond", broken)
    with pytest.raises(cdn.http.client.RemoteDisconnected):
        cdn.get(cache.origin[1], "/profile")  # asked of the origin itself: its handler raises
    printed = capsys.readouterr().err
    assert "RuntimeError: a bug in the origin" in printed  # ... but a bug is not hidden
    assert printed.count("Traceback") == 1


def test_the_page_shows_whole_sections_of_the_transcript():
    """The CDN page includes the transcript in parts, by line numbers: each part must start at
    a section's heading and end where the section does."""
    lines = (SNIPPETS / "regionalization" / "cdn_edge.txt").read_text().splitlines()
    page = (DOCS / "regionalization" / "cdn.md").read_text()
    parts = re.findall(r'--8<-- "regionalization/cdn_edge\.txt:(\d+):(\d+)"', page)
    assert len(parts) >= 4
    for first, last in parts:
        first, last = int(first), int(last)
        assert lines[first - 1].startswith("== "), f"line {first} is not a section heading"
        assert last == len(lines) or lines[last] == "", f"line {last} does not end a section"


def test_a_background_refresh_that_cannot_reach_the_origin_is_quiet(capsys):
    origin, clock = cdn.Origin(), cdn.ManualClock()
    origin_server = cdn.start(cdn.origin_handler(origin))
    cache = cdn.EdgeCache(origin_server.server_address[:2], clock=clock, timeout=2)
    edge = cdn.start(cdn.edge_handler(cache))
    try:
        states(edge.server_address[1], "/scores")
        cdn.stop(origin_server)
        clock.now = 15
        assert states(edge.server_address[1], "/scores")[1] == "UPDATING"
        cache.settle()
        assert cache._refreshing == set() and "/scores" in cache.store
    finally:
        cdn.stop(edge)
    assert "Traceback" not in capsys.readouterr().err
