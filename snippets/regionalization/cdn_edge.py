# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""A CDN edge in miniature: an HTTP cache between clients and an origin, on 127.0.0.1.

Shows what an edge server does with the origin's caching headers (RFC 9111): it stores a
response for as long as `Cache-Control: max-age` (or `s-maxage`, meant for shared caches)
allows, answers repeats itself (`X-Cache: HIT`, with an `Age` header), revalidates a stale copy
with `If-None-Match` so an unchanged object costs the origin a 304 and no body, and collapses
concurrent misses for one URL into a single origin request (so a burst of clients does not
stampede the origin). It also keys its store on the request headers a response names in `Vary`
(and never reuses a `Vary: *` response), stores `no-cache` responses but revalidates them on
every use, never stores `private` or `no-store` ones, serves stale copies while it refreshes
them in the background (`stale-while-revalidate`) or while the origin is down or failing
(`stale-if-error`, both RFC 5861), and takes an authenticated PURGE by URL or by surrogate key.
An edge can be the origin of other edges: an origin shield.

Run: python cdn_edge.py                      (the demo, with a manual clock: no waiting)
     python cdn_edge.py origin --port 8081   (an origin server)
     python cdn_edge.py edge --port 8080 --origin-port 8081   (prints its purge token)
     python cdn_edge.py client --port 8080 --path /news [--header "Accept-Language: fr"]
     python cdn_edge.py purge --port 8080 --token TOKEN --path /news   (or --tag front-page)
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import http.client
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TIMEOUT = 5.0  # seconds for every request the edge makes to the origin
CLIENT_TIMEOUT = 10.0  # seconds a client connection may stay silent (idle, or half-sent)
TARGET = re.compile(r"/[!-~]*")  # a path of visible ASCII: no space, control or non-ASCII byte
FORWARDED = ("accept-encoding", "accept-language")  # request headers the edge passes on
KEPT = ("cache-control", "content-type", "etag", "vary")  # response headers clients get
MAX_VARIANTS = 32  # stored variants of one URL at most: Vary must not let clients fill memory
ERRORS = (500, 502, 503, 504)  # what RFC 5861 section 4 counts as an error


# --8<-- [start:freshness]
@dataclass(frozen=True)
class Policy:
    """What the origin's Cache-Control lets a shared cache such as a CDN edge do."""

    store: bool  # False: never store it (no-store; private, which is for the browser only)
    lifetime: int  # seconds the copy is fresh: served without asking the origin
    stale_while_revalidate: int = 0  # seconds after that it may be served while refreshed
    stale_if_error: int = 0  # seconds after that it may be served while the origin fails


def cache_policy(cache_control: str) -> Policy:
    """RFC 9111 sections 3 and 5.2.2, and the two stale extensions of RFC 5861."""
    directives = {}
    for part in cache_control.split(","):
        name, _, value = part.strip().partition("=")
        directives[name.lower()] = value.strip('"')
    if "no-store" in directives or "private" in directives:
        return Policy(store=False, lifetime=0)

    def seconds(name: str) -> int:
        value = directives.get(name, "")
        return int(value) if value.isdigit() else 0  # absent or malformed: none

    if "no-cache" in directives:  # store it, but ask the origin before every use
        return Policy(store=True, lifetime=0)
    # s-maxage wins in a shared cache; s-maxage and must-revalidate also forbid serving
    # the copy once stale (RFC 9111 sections 4.2.4, 5.2.2.2, 5.2.2.8 and 5.2.2.10)
    lifetime = seconds("s-maxage") if "s-maxage" in directives else seconds("max-age")
    if {"s-maxage", "must-revalidate", "proxy-revalidate"} & directives.keys():
        return Policy(store=True, lifetime=lifetime)
    return Policy(True, lifetime, seconds("stale-while-revalidate"), seconds("stale-if-error"))
# --8<-- [end:freshness]


# --8<-- [start:key]
def vary_names(vary: str) -> tuple[str, ...] | None:
    """The request headers a response varies on, lower-cased and sorted; None for `Vary: *`,
    which says the answer depends on more than headers, so no stored copy ever matches a new
    request (RFC 9110 section 12.5.5, RFC 9111 section 4.1)."""
    names = {name.strip().lower() for name in vary.split(",") if name.strip()}
    return None if "*" in names else tuple(sorted(names))


def cache_key(path: str, names: tuple[str, ...], request: dict[str, str]) -> str:
    """The URL, plus the request's value of each header the response varies on. Values are
    normalised (spaces, case), as RFC 9111 section 4.1 allows, so that "fr" and "FR" share a
    copy; a key per distinct User-Agent, say, would split the cache into thousands of copies."""
    lines = [path]
    for name in names:
        value = "".join(request.get(name, "").lower().split())  # "gzip, br" = "GZIP,br"
        lines.append(f"{name}: {value}")
    return "\n".join(lines)
# --8<-- [end:key]


@dataclass
class Entry:
    path: str
    status: int
    body: bytes
    headers: dict[str, str]  # the response headers the edge keeps and passes on
    policy: Policy
    stored_at: float  # when the copy was as new as at the origin (now minus its Age)
    tags: frozenset[str] = frozenset()  # surrogate keys, for purging groups of objects


def upstream_age(headers: dict[str, str]) -> int:
    """Seconds the response already spent in caches upstream (RFC 9111 section 5.1): a copy
    fetched from a shield that has held it 50 s is 50 s old, not new."""
    age = headers.get("age", "")
    return int(age) if age.isdigit() else 0


@dataclass
class EdgeCache:
    """Answers GETs from its store while fresh, and from the origin otherwise."""

    origin: tuple[str, int]
    clock: Callable[[], float] = time.monotonic
    timeout: float = TIMEOUT  # seconds to wait for the origin before answering 502
    purge_token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    store: dict[str, Entry] = field(default_factory=dict)  # cache key -> stored response
    vary: dict[str, tuple[str, ...]] = field(default_factory=dict)  # path -> what it varies on
    origin_requests: int = 0
    _locks: dict[str, list] = field(default_factory=dict)  # path -> [lock, users]
    _guard: threading.Lock = field(default_factory=threading.Lock)
    _refreshing: set[str] = field(default_factory=set)
    _refreshes: list[threading.Thread] = field(default_factory=list)

    # --8<-- [start:get]
    def get(self, path: str, request: dict[str, str] | None = None):
        request = {name.lower(): value for name, value in (request or {}).items()}
        with self._collapsing(path):  # one origin request per URL at a time: misses wait
            key = cache_key(path, self.vary.get(path, ()), request)
            entry, now = self.store.get(key), self.clock()
            age = now - entry.stored_at if entry else 0.0
            if entry and age < entry.policy.lifetime:
                return self._answer(entry, "HIT", now)
            if entry and age < entry.policy.lifetime + entry.policy.stale_while_revalidate:
                self._refresh_in_background(path, request)
                return self._answer(entry, "UPDATING", now)  # stale, this once, at once
            may_serve_stale = entry and age < entry.policy.lifetime + entry.policy.stale_if_error
            try:
                status, body, headers = self._fetch(path, request, entry)
            except (OSError, http.client.HTTPException):  # origin down, slow or broken
                if may_serve_stale:
                    return self._answer(entry, "STALE", now)
                raise
            if status in ERRORS and may_serve_stale:  # origin up, but failing
                return self._answer(entry, "STALE", now)
            return self._keep(path, request, entry, status, body, headers, now)
    # --8<-- [end:get]

    # --8<-- [start:keep]
    def _keep(self, path, request, entry, status, body, headers, now):
        """Store what the origin allows, and answer with it."""
        if status == 304 and entry:  # unchanged: keep the body, take the new headers
            entry.headers.update({name: headers[name] for name in KEPT if name in headers})
            entry.policy = cache_policy(entry.headers.get("cache-control", ""))
            entry.stored_at = now - upstream_age(headers)  # and restart the clock
            return self._answer(entry, "REVALIDATED", now)
        policy = cache_policy(headers.get("cache-control", ""))
        names = vary_names(headers.get("vary", ""))
        kept = {name: headers[name] for name in KEPT if name in headers}
        if status != 200 or not policy.store or names is None:
            if status not in ERRORS:  # a 5xx leaves the old copy for stale-if-error
                self.store.pop(cache_key(path, self.vary.get(path, ()), request), None)
            return status, body, {"X-Cache": "PASS", **kept}  # forwarded, not stored
        self.vary[path] = names
        tags = frozenset(headers.get("surrogate-key", "").split())
        entry = Entry(path, status, body, kept, policy, now - upstream_age(headers), tags)
        self.store[cache_key(path, names, request)] = entry
        self._limit_variants(path)
        return self._answer(entry, "MISS", now)
    # --8<-- [end:keep]

    # --8<-- [start:purge]
    def purge(self, path: str | None = None, tag: str | None = None) -> int:
        """Drop every stored variant of one URL, or every object tagged with a surrogate key
        (the origin tags responses with `Surrogate-Key: news front-page`)."""
        with self._guard:
            doomed = [key for key, entry in self.store.items()
                      if (tag is not None and tag in entry.tags) or entry.path == path]
            for key in doomed:
                del self.store[key]
        return len(doomed)
    # --8<-- [end:purge]

    def _answer(self, entry: Entry, state: str, now: float) -> tuple[int, bytes, dict]:
        age = max(0, int(now - entry.stored_at))
        return entry.status, entry.body, {"X-Cache": state, "Age": str(age), **entry.headers}

    def _fetch(self, path: str, request: dict[str, str], entry: Entry | None):
        self.origin_requests += 1
        headers = {name: request[name] for name in FORWARDED if name in request}
        if entry and "etag" in entry.headers:
            headers["If-None-Match"] = entry.headers["etag"]
        connection = http.client.HTTPConnection(*self.origin, timeout=self.timeout)
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            return response.status, body, {k.lower(): v for k, v in response.getheaders()}
        finally:
            connection.close()

    def _refresh_in_background(self, path: str, request: dict[str, str]) -> None:
        """One refresh per URL at a time, off the request's path: the user does not wait."""
        with self._guard:
            if path in self._refreshing:
                return
            self._refreshing.add(path)

        def refresh() -> None:
            try:
                entry = self.store.get(cache_key(path, self.vary.get(path, ()), request))
                status, body, headers = self._fetch(path, request, entry)
                if status not in ERRORS:
                    self._keep(path, request, entry, status, body, headers, self.clock())
            except (OSError, http.client.HTTPException):
                pass  # the origin failed: the stale copy stays, the next user tries again
            finally:
                with self._guard:
                    self._refreshing.discard(path)

        thread = threading.Thread(target=refresh, daemon=True)
        with self._guard:
            self._refreshes = [t for t in self._refreshes if t.is_alive()] + [thread]
        thread.start()

    def settle(self, timeout: float = TIMEOUT) -> None:
        """Wait for the background refreshes under way (the demo and the tests need to)."""
        with self._guard:
            pending = list(self._refreshes)
        for thread in pending:
            thread.join(timeout)

    def _limit_variants(self, path: str) -> None:
        with self._guard:
            variants = [key for key, entry in self.store.items() if entry.path == path]
            for key in variants[:-MAX_VARIANTS]:  # the oldest first (dicts keep their order)
                del self.store[key]

    @contextlib.contextmanager
    def _collapsing(self, path: str) -> Iterator[None]:
        """A lock per URL, dropped when no request holds or waits for it (so a client that asks
        for a million different paths leaves no million locks behind)."""
        with self._guard:
            slot = self._locks.setdefault(path, [threading.Lock(), 0])
            slot[1] += 1
        try:
            with slot[0]:
                yield
        finally:
            with self._guard:
                slot[1] -= 1
                if not slot[1]:
                    del self._locks[path]


def asset_name(content: bytes) -> str:
    """A versioned URL: the file's name carries a hash of its content, as build tools do."""
    return f"/app.{hashlib.sha256(content).hexdigest()[:8]}.js"


class Origin:
    """The site's own server: one path per caching policy, and a counter of requests."""

    def __init__(self) -> None:
        self.news = b"<h1>Today's news</h1>"
        self.scores = 0
        self.assets = {asset_name(b"console.log('v1')"): b"console.log('v1')"}
        self.failing = False  # True: answer 503 to everything (a broken deploy, an overload)
        self.requests = 0

    def respond(self, path: str, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        self.requests += 1
        if self.failing:
            return 503, b"origin overloaded", {"Cache-Control": "no-store"}
        if path == "/news":
            return self._validated(self.news, headers, {
                "Cache-Control": "public, max-age=60", "Surrogate-Key": "news front-page"})
        if path == "/scores":
            body = f"<p>scores, version {self.scores}</p>".encode()
            return self._validated(body, headers, {
                "Cache-Control": "max-age=10, stale-while-revalidate=20, stale-if-error=300",
                "Surrogate-Key": "scores front-page"})
        if path == "/prices":
            return self._validated(b"<p>prices</p>", headers, {"Cache-Control": "no-cache"})
        if path == "/greeting":
            french = headers.get("accept-language", "").lower().startswith("fr")
            return 200, b"Bonjour" if french else b"Hello", {
                "Cache-Control": "max-age=60", "Vary": "Accept-Language"}
        if path == "/dice":
            return 200, b"4", {"Cache-Control": "max-age=60", "Vary": "*"}
        if path == "/profile":
            return 200, b"<h1>Your account</h1>", {"Cache-Control": "private, max-age=60"}
        if path == "/basket":
            return 200, b"<p>3 items</p>", {"Cache-Control": "no-store"}
        if path in self.assets:  # its content never changes: a new version is a new name
            return 200, self.assets[path], {
                "Cache-Control": "public, max-age=31536000, immutable"}
        return 404, b"not found", {"Cache-Control": "max-age=10"}

    @staticmethod
    def _validated(body: bytes, request: dict[str, str], headers: dict[str, str]):
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.get("if-none-match") == etag:
            return 304, b"", {**headers, "ETag": etag}
        return 200, body, {**headers, "ETag": etag}


def origin_handler(origin: Origin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = CLIENT_TIMEOUT
        default_request_version = "HTTP/1.0"  # an unreadable request line gets a status line

        def do_GET(self) -> None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, body, answer = origin.respond(self.path, headers)
            send(self, status, body, answer)

        do_HEAD = do_GET  # send() leaves the body out

        def log_message(self, *args: object) -> None:  # keep the transcript quiet
            pass

    return Handler


def edge_handler(cache: EdgeCache) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = CLIENT_TIMEOUT
        default_request_version = "HTTP/1.0"  # an unreadable request line gets a status line

        def do_GET(self) -> None:
            if not TARGET.fullmatch(self.path):  # never forward what the origin cannot parse
                body = b"the request target must be a path of visible ASCII characters\n"
                return send(self, 400, body, {"Connection": "close"})
            try:
                status, body, headers = cache.get(self.path, dict(self.headers.items()))
            except (OSError, http.client.HTTPException) as error:  # origin down, slow or broken
                body = f"origin unavailable: {type(error).__name__}\n".encode()
                status, headers = 502, {}
            etag = headers.get("etag")
            if status == 200 and etag and self.headers.get("If-None-Match") == etag:
                status, body = 304, b""  # the client's copy is current (RFC 9111 4.3.2)
            send(self, status, body, headers)

        do_HEAD = do_GET  # a cache answers HEAD from what it stored for GET

        def do_PURGE(self) -> None:
            """PURGE /path drops a URL; with `Surrogate-Key: tag`, every object so tagged.
            Only for those who hold the token: an open purge lets anyone empty the cache."""
            given = self.headers.get("Authorization", "").encode("latin-1")
            if not hmac.compare_digest(given, f"Bearer {cache.purge_token}".encode()):
                return send(self, 403, b"PURGE needs the edge's token\n", {"Connection": "close"})
            if not TARGET.fullmatch(self.path):
                return send(self, 400, b"the path must be visible ASCII\n", {})
            tag = self.headers.get("Surrogate-Key")
            purged = cache.purge(tag=tag) if tag else cache.purge(path=self.path)
            send(self, 200, f"purged {purged}\n".encode(), {})

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    if status != 304:  # a 304 has no body, and its length would be the 200's (RFC 9110 8.6)
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":  # HEAD: the same head as GET, no body (RFC 9110 9.3.2)
        handler.wfile.write(body)


# --8<-- [start:server]
class Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with two defaults changed for clients that misbehave."""

    request_queue_size = 128  # the listen backlog: socketserver's 5 drops a burst's SYNs

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)  # a bug of ours: print it
        # a client that reset the connection or stalled is not an error of the server's
# --8<-- [end:server]


def start(handler: type[BaseHTTPRequestHandler], port: int = 0) -> ThreadingHTTPServer:
    """Serve on 127.0.0.1 in a background thread; port 0 lets the OS pick a free port."""
    server = Server(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    return server


def stop(server: ThreadingHTTPServer) -> None:
    server.shutdown()
    server.server_close()


def request(port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None,
            host: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def get(port: int, path: str, headers: dict[str, str] | None = None):
    return request(port, path, "GET", headers)


class ManualClock:
    """A clock the demo and the tests move by hand, so expiry needs no waiting."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def demo() -> None:
    origin = Origin()
    clock = ManualClock()
    origin_server = start(origin_handler(origin))
    cache = EdgeCache(origin_server.server_address[:2], clock=clock)
    edge_server = start(edge_handler(cache))
    port = edge_server.server_address[1]
    origin_up = True

    def show(label: str, path: str, headers: dict[str, str] | None = None) -> None:
        status, answer, body = get(port, path, headers)
        cache.settle()  # a background refresh counts now, not at some later line
        state = answer.get("X-Cache", "")
        age = f"Age {answer['Age']}" if "Age" in answer else ""
        print(f"t={clock.now:>4.0f}s {path:<17}{status} {state:<12}{len(body):>2} B  {age:<8}"
              f" origin: {origin.requests:>2}  {label}".rstrip())

    try:
        print("== hit, revalidation, collapsed misses (max-age=60, ETag) ==")
        show("first visitor", "/news")
        clock.now = 10
        show("second", "/news")
        clock.now = 59
        show("third", "/news")
        clock.now = 61  # max-age=60 has passed: stale, so ask the origin if it changed
        show("stale: 304", "/news")
        clock.now = 62
        show("fresh again", "/news")
        origin.news = b"<h1>Breaking news!</h1>"
        clock.now = 125
        show("changed: 200", "/news")

        barrier = threading.Barrier(10)
        origin.news = b"<h1>Evening edition</h1>"
        clock.now = 200
        before = origin.requests

        def visitor() -> None:
            barrier.wait(timeout=TIMEOUT)
            get(port, "/news")

        threads = [threading.Thread(target=visitor) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=TIMEOUT)
        print(f"10 concurrent visitors after expiry -> {origin.requests - before} origin request")

        print("\n== what the origin allows: no-cache, private, no-store ==")
        show("no-cache: stored", "/prices")
        show("... and asked again", "/prices")
        show("private: not stored", "/profile")
        show("no-store: not stored", "/basket")

        print("\n== cache keys: Vary ==")
        for language in ("fr", "en", "fr", "FR"):
            accept = {"Accept-Language": language}
            show(f"Accept-Language: {language}", "/greeting", accept)
        show("Vary: * is never reused", "/dice")
        show("Vary: * is never reused", "/dice")

        print("\n== versioned URLs and purges ==")
        (old_asset,) = origin.assets
        show("max-age: a year", old_asset)
        clock.now += 3600
        show("an hour later", old_asset)
        new_asset = asset_name(b"console.log('v2')")
        origin.assets[new_asset] = b"console.log('v2')"
        show("deploy: a new name", new_asset)
        show("304", "/news")
        origin.news = b"<h1>Correction</h1>"
        show("origin changed: old copy", "/news")
        status, _, body = request(port, "/news", "PURGE")
        print(f"PURGE /news without the token -> {status} {body.decode().strip()}")
        token = {"Authorization": f"Bearer {cache.purge_token}"}
        status, _, body = request(port, "/news", "PURGE", token)
        print(f"PURGE /news with the token -> {status} {body.decode().strip()}")
        show("purged: new copy", "/news")
        show("tagged front-page too", "/scores")
        status, _, body = request(port, "/", "PURGE", {**token, "Surrogate-Key": "front-page"})
        print(f"PURGE Surrogate-Key: front-page -> {status} {body.decode().strip()}")

        print("\n== stale content (max-age=10, stale-while-revalidate=20, stale-if-error=300) ==")
        clock.now = 4000
        show("fresh for 10 s", "/scores")
        show("max-age=60 only", "/news")
        origin.scores += 1
        clock.now += 15
        show("stale, refreshed behind", "/scores")
        cache.settle()
        clock.now += 1
        show("the refreshed copy", "/scores")
        origin.failing = True
        clock.now += 54
        show("origin sends 503: stale", "/scores")
        show("no stale-if-error", "/news")
        stop(origin_server)
        origin_up = False
        clock.now += 200
        show("origin down: stale", "/scores")
        clock.now += 100
        show("too stale: 502", "/scores")
    finally:
        stop(edge_server)
        if origin_up:
            stop(origin_server)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A CDN edge cache in miniature.")
    commands = parser.add_subparsers(dest="command")
    for name in ("origin", "edge", "client", "purge"):
        command = commands.add_parser(name)
        command.add_argument("--host", default="127.0.0.1")
        command.add_argument("--port", type=int, default=8080 if name != "origin" else 8081)
    commands.choices["edge"].add_argument("--origin-port", type=int, default=8081)
    commands.choices["client"].add_argument("--path", default="/news")
    commands.choices["client"].add_argument("--header", action="append", default=[],
                                            help='a request header, "Name: value"')
    commands.choices["purge"].add_argument("--token", required=True)
    commands.choices["purge"].add_argument("--path", default="/")
    commands.choices["purge"].add_argument("--tag", help="purge every object with this key")
    args = parser.parse_args(argv)

    if args.command == "client":
        headers = {}
        for header in args.header:
            name, colon, value = header.partition(":")
            if not colon or not name.strip():
                parser.error(f'--header wants "Name: value", not {header!r}')
            headers[name.strip()] = value.strip()
        status, answer, body = request(args.port, args.path, headers=headers, host=args.host)
        print(status, answer.get("X-Cache"), f"Age={answer.get('Age')}",
              body.decode(errors="replace"))
        return
    if args.command == "purge":
        headers = {"Authorization": f"Bearer {args.token}"}
        if args.tag:
            headers["Surrogate-Key"] = args.tag
        status, _, body = request(args.port, args.path, "PURGE", headers, host=args.host)
        print(status, body.decode(errors="replace").strip())
        return
    if args.command in ("origin", "edge"):
        cache = EdgeCache((args.host, args.origin_port)) if args.command == "edge" else None
        handler = origin_handler(Origin()) if cache is None else edge_handler(cache)
        with Server((args.host, args.port), handler) as server:
            print(f"{args.command} on http://{args.host}:{args.port} (Ctrl-C stops)")
            if cache:
                print(f"purge token: {cache.purge_token}")
            with contextlib.suppress(KeyboardInterrupt):
                server.serve_forever()
        return
    demo()


if __name__ == "__main__":
    main()
