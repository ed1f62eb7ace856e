# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""A CDN edge in miniature: an HTTP cache between clients and an origin, on 127.0.0.1.

Shows what an edge server does with the origin's caching headers (RFC 9111): it stores a
response for as long as `Cache-Control: max-age` (or `s-maxage`, meant for shared caches)
allows, answers repeats itself (`X-Cache: HIT`, with an `Age` header), revalidates a stale copy
with `If-None-Match` so an unchanged object costs the origin a 304 and no body, never stores
`private` or `no-store` responses, and collapses concurrent misses for one URL into a single
origin request (so a burst of clients does not stampede the origin).

Run: python cdn_edge.py                      (the demo, with a manual clock: no waiting)
     python cdn_edge.py origin --port 8081   (an origin server)
     python cdn_edge.py edge --port 8080 --origin-port 8081
     python cdn_edge.py client --port 8080 --path /news
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TIMEOUT = 5.0  # seconds for every request the edge makes to the origin
CLIENT_TIMEOUT = 10.0  # seconds a client connection may stay silent (idle, or half-sent)
TARGET = re.compile(r"/[!-~]*")  # a path of visible ASCII: no space, control or non-ASCII byte


# --8<-- [start:freshness]
def freshness_lifetime(cache_control: str) -> int | None:
    """Seconds a shared cache may serve the response without asking the origin again;
    None means it must not store it at all (RFC 9111 sections 3 and 5.2.2)."""
    directives = {}
    for part in cache_control.split(","):
        name, _, value = part.strip().partition("=")
        directives[name.lower()] = value.strip('"')
    if "no-store" in directives or "private" in directives:
        return None
    for name in ("s-maxage", "max-age"):  # s-maxage wins in a shared cache such as a CDN
        if directives.get(name, "").isdigit():
            return int(directives[name])
    return 0  # storable, but stale at once: revalidate before every use
# --8<-- [end:freshness]


@dataclass
class Entry:
    status: int
    body: bytes
    etag: str | None
    lifetime: int
    stored_at: float


@dataclass
class EdgeCache:
    """Answers GETs from its store while fresh, and from the origin otherwise."""

    origin: tuple[str, int]
    clock: Callable[[], float] = time.monotonic
    timeout: float = TIMEOUT  # seconds to wait for the origin before answering 502
    store: dict[str, Entry] = field(default_factory=dict)
    origin_requests: int = 0
    _locks: dict[str, threading.Lock] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    # --8<-- [start:get]
    def get(self, path: str) -> tuple[int, bytes, dict[str, str]]:
        with self._guard:
            lock = self._locks.setdefault(path, threading.Lock())
        with lock:  # one origin request per URL at a time: concurrent misses wait for it
            entry = self.store.get(path)
            now = self.clock()
            if entry and now - entry.stored_at < entry.lifetime:
                age = int(now - entry.stored_at)
                return entry.status, entry.body, {"X-Cache": "HIT", "Age": str(age)}
            conditional = {"If-None-Match": entry.etag} if entry and entry.etag else {}
            status, body, headers = self._fetch(path, conditional)
            if status == 304 and entry:  # unchanged: keep the body, restart the clock
                entry.stored_at = now
                return entry.status, entry.body, {"X-Cache": "REVALIDATED", "Age": "0"}
            lifetime = freshness_lifetime(headers.get("cache-control", ""))
            if status == 200 and lifetime is not None:
                self.store[path] = Entry(status, body, headers.get("etag"), lifetime, now)
                return status, body, {"X-Cache": "MISS", "Age": "0"}
            self.store.pop(path, None)
            return status, body, {"X-Cache": "PASS"}  # not cacheable: forwarded as is
    # --8<-- [end:get]

    def _fetch(self, path: str, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        self.origin_requests += 1
        connection = http.client.HTTPConnection(*self.origin, timeout=self.timeout)
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            return response.status, body, {k.lower(): v for k, v in response.getheaders()}
        finally:
            connection.close()


class Origin:
    """The site's own server: a cacheable news page, a private profile, a counter of hits."""

    def __init__(self) -> None:
        self.news = b"<h1>Today's news</h1>"
        self.requests = 0

    def respond(self, path: str, if_none_match: str | None) -> tuple[int, bytes, dict[str, str]]:
        self.requests += 1
        if path == "/news":
            etag = '"' + hashlib.sha256(self.news).hexdigest()[:16] + '"'
            headers = {"Cache-Control": "public, max-age=60", "ETag": etag}
            if if_none_match == etag:
                return 304, b"", headers
            return 200, self.news, headers
        if path == "/profile":
            return 200, b"<h1>Your account</h1>", {"Cache-Control": "private, no-store"}
        return 404, b"not found", {"Cache-Control": "max-age=10"}


def origin_handler(origin: Origin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = CLIENT_TIMEOUT
        default_request_version = "HTTP/1.0"  # an unreadable request line gets a status line

        def do_GET(self) -> None:
            status, body, headers = origin.respond(self.path, self.headers.get("If-None-Match"))
            send(self, status, body, headers)

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
                status, body, headers = cache.get(self.path)
            except (OSError, http.client.HTTPException) as error:  # origin down, slow or broken
                status, body, headers = 502, f"origin unavailable: {error!r}".encode(), {}
            send(self, status, body, headers)

        do_HEAD = do_GET  # a cache answers HEAD from what it stored for GET

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
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
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def stop(server: ThreadingHTTPServer) -> None:
    server.shutdown()
    server.server_close()


def get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


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

    def show(label: str, path: str) -> None:
        status, headers, body = get(port, path)
        cache_state = headers.get("X-Cache", "?")
        age = f", Age {headers['Age']}" if "Age" in headers else ""
        print(f"t={clock.now:>3.0f}s GET {path:<9}{status} {cache_state:<12}{len(body):>3} bytes"
              f"{age:<9} origin requests: {origin.requests}  ({label})")

    try:
        show("first visitor", "/news")
        clock.now = 10
        show("second", "/news")
        clock.now = 59
        show("third", "/news")
        clock.now = 61  # max-age=60 has passed: stale, so ask the origin if it changed
        show("after expiry", "/news")
        clock.now = 62
        show("fresh again", "/news")
        origin.news = b"<h1>Breaking news!</h1>"
        clock.now = 125
        show("changed", "/news")
        show("private", "/profile")
        show("private", "/profile")

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
    finally:
        stop(edge_server)
        stop(origin_server)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A CDN edge cache in miniature.")
    commands = parser.add_subparsers(dest="command")
    for name in ("origin", "edge", "client"):
        command = commands.add_parser(name)
        command.add_argument("--host", default="127.0.0.1")
        command.add_argument("--port", type=int, default=8080 if name != "origin" else 8081)
    commands.choices["edge"].add_argument("--origin-port", type=int, default=8081)
    commands.choices["client"].add_argument("--path", default="/news")
    args = parser.parse_args(argv)

    if args.command == "client":
        status, headers, body = get(args.port, args.path)
        print(status, headers.get("X-Cache"), f"Age={headers.get('Age')}", body.decode())
        return
    if args.command in ("origin", "edge"):
        handler = (
            origin_handler(Origin())
            if args.command == "origin"
            else edge_handler(EdgeCache((args.host, args.origin_port)))
        )
        with Server((args.host, args.port), handler) as server:
            print(f"{args.command} on http://{args.host}:{args.port} (Ctrl-C stops)")
            with contextlib.suppress(KeyboardInterrupt):
                server.serve_forever()
        return
    demo()


if __name__ == "__main__":
    main()
