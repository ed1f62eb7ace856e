# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""Connection draining and graceful shutdown: restart every backend behind a load balancer, one
at a time, during a steady stream of requests, and lose none.

A backend that is told to stop (SIGTERM, or ``drain()``) does it in an order that loses nothing:

1. it starts failing its health check (``/health`` answers 503), so the balancer takes it out of
   rotation, and every answer it still gives says ``Connection: close`` (RFC 9112, section 9.6),
   so the connections kept alive to it close one by one after their current request;
2. once the balancer has stopped sending (here: once it has marked the backend out; with SIGTERM:
   after a pre-stop delay longer than the balancer needs to notice), and a short grace has let
   in what was already on its way, it stops accepting, closes the kept-alive connections that
   are idle, and lets the requests in flight finish, each closing its connection after its
   answer, for at most a drain timeout, after which it cuts what is left.

The balancer keeps pools of keep-alive connections to its backends, checks ``/health`` every
``interval`` (out after ``unhealthy_threshold`` failed checks, back after ``healthy_threshold``
passed ones), never reuses a connection whose answer said ``Connection: close``, and retries a
request on another backend only when that is safe: when it was not sent at all, or when it is a
GET (idempotent) whose connection died before an answer.

The demo kills one backend and drains another while a POST is in flight on each, then restarts
all three, one at a time, during a stream of GETs and POSTs from four clients, and counts.

Run: python draining.py                     (demo on 127.0.0.1, ports the OS chose)
     python draining.py server --port 8080  (three backends + the balancer, until Ctrl-C;
                                             SIGTERM drains the backends first)
     python draining.py client --port 8080  (6 requests on one connection: who answered?)
     python draining.py restart --strategy drain   (rolling restarts during a stream of
                                                   requests; also kill and stop: the counts)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import signal
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_LINE = 4 * 1024  # request line; longer gets 414
MAX_HEAD = 16 * 1024  # request line + headers; more gets 431
MAX_FIELDS = 100  # header lines; more gets 431
MAX_BODY = 64 * 1024  # request body; more gets 413
CONNECT_TIMEOUT = 2.0
BACKEND_TIMEOUT = 10.0  # a backend that has not answered within this is a failure
IDLE_TIMEOUT = 30.0  # a kept-alive connection with no request for this long is closed
GRACE = 1.0  # once out of rotation, a backend still takes what was already on its way
DRAIN_TIMEOUT = 30.0  # requests still running this long after the backend stopped are cut
CHUNK = 64 * 1024
IDEMPOTENT = {"GET", "HEAD"}

TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 5.6.2: methods, field names
TARGET = re.compile(r"/[!-~]*")  # a path of visible ASCII
STATUS_LINE = re.compile(r"HTTP/1\.[01] (\d{3}) ?(.*)")
REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found",
           413: "Content Too Large", 414: "URI Too Long", 431: "Request Header Fields Too Large",
           501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
           505: "HTTP Version Not Supported"}


class HTTPError(Exception):
    """A request or response that is refused: the status to answer with and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ClientGone(Exception):
    """The peer closed its connection."""


@dataclass(frozen=True)
class Address:
    name: str
    host: str
    port: int


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes = b""

    def get(self, name: str) -> str:
        return ", ".join(value for key, value in self.headers if key.lower() == name)

    @property
    def wants_close(self) -> bool:
        return self.version == "HTTP/1.0" or "close" in self.get("connection").lower()


def parse_head(head: bytes) -> Request:
    """The request line and header fields (RFC 9112 sections 3 and 5), checked strictly."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise HTTPError(400, "non-ASCII bytes in the request head") from None
    line, *lines = text.removesuffix("\r\n\r\n").split("\r\n")
    if len(line) > MAX_LINE:
        raise HTTPError(414, f"request line longer than {MAX_LINE} bytes")
    parts = line.split(" ")
    if len(parts) != 3:
        raise HTTPError(400, f"request line must be 'METHOD /path HTTP/1.1': {line[:40]!r}")
    method, target, version = parts
    if not TOKEN.fullmatch(method):
        raise HTTPError(400, f"method {method[:20]!r} is not a token")
    if not TARGET.fullmatch(target):
        raise HTTPError(400, f"request target {target[:40]!r} must be a path of visible ASCII")
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        status = 505 if re.fullmatch(r"HTTP/\d\.\d", version) else 400
        raise HTTPError(status, f"{version[:20]!r} is not HTTP/1.1 or HTTP/1.0")
    if len(lines) > MAX_FIELDS:
        raise HTTPError(431, f"more than {MAX_FIELDS} header fields")
    headers = []
    for field_line in lines:
        name, colon, value = field_line.partition(":")
        if not colon or not TOKEN.fullmatch(name):  # also "Host : x" and folded lines
            raise HTTPError(400, f"malformed header line {field_line[:40]!r}")
        if any(c in value for c in "\0\r\n"):
            raise HTTPError(400, f"control character in the value of {name}")
        headers.append((name, value.strip(" \t")))
    request = Request(method, target, version, headers)
    names = [name.lower() for name, _ in headers]
    for single in ("host", "content-length"):
        if names.count(single) > 1:
            raise HTTPError(400, f"more than one {single} header")  # request smuggling
    if version == "HTTP/1.1" and "host" not in names:
        raise HTTPError(400, "HTTP/1.1 request without a Host header")
    if "transfer-encoding" in names:
        raise HTTPError(501, "Transfer-Encoding is not supported here, send Content-Length")
    length = request.get("content-length") or "0"
    if not length.isdigit():
        raise HTTPError(400, f"Content-Length {length[:20]!r} is not a number")
    if len(length) > len(str(MAX_BODY)) or int(length) > MAX_BODY:  # int() fails past 4300 digits
        raise HTTPError(413, f"a body of {length[:20]} bytes, at most {MAX_BODY}")
    return request


class Inbox:
    """What a peer has sent and has not been used yet, read with bounds."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader
        self.buffer = bytearray()

    async def fill(self) -> None:
        chunk = await self.reader.read(CHUNK)
        if not chunk:
            raise ClientGone
        self.buffer += chunk

    async def first_byte(self) -> None:
        """Wait for the next request to begin (a kept-alive connection is idle until then)."""
        while not self.buffer:
            await self.fill()

    async def read_request(self) -> Request:
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            if self.buffer.find(b"\r\n") < 0 and len(self.buffer) > MAX_LINE:
                raise HTTPError(414, f"request line longer than {MAX_LINE} bytes")
            if len(self.buffer) > MAX_HEAD:
                raise HTTPError(431, f"request head larger than {MAX_HEAD} bytes")
            await self.fill()
        if end + 4 > MAX_HEAD:
            raise HTTPError(431, f"request head larger than {MAX_HEAD} bytes")
        request = parse_head(bytes(self.buffer[: end + 4]))
        del self.buffer[: end + 4]
        length = int(request.get("content-length") or "0")
        while len(self.buffer) < length:
            await self.fill()
        request.body = bytes(self.buffer[:length])
        del self.buffer[:length]
        return request


def render(status: int, body: bytes, headers: list[tuple[str, str]] = (), *,
           close: bool = False, head_only: bool = False, length: int | None = None) -> bytes:
    """A response; ``length`` when it differs from the body's (the answer to a HEAD)."""
    length = len(body) if length is None else length
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}",
             *(f"{name}: {value}" for name, value in headers), f"Content-Length: {length}"]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else body)


async def lingering_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Close our side, then discard what the peer still sends, for at most a second, so the
    kernel does not reset the connection before our error is read (RFC 9112 9.6)."""
    writer.write_eof()
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(1.0):
            while await reader.read(CHUNK):
                pass


async def close_quietly(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


# --- The backend ---------------------------------------------------------------------------------

class Backend:
    """An HTTP/1.1 backend with keep-alive connections that it can drain, or lose (kill)."""

    def __init__(self, name: str, *, port: int = 0, work: float = 0.002,
                 idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.name, self.port, self.work = name, port, work
        self.idle_timeout = idle_timeout
        self.draining = False
        self.idle: set[asyncio.StreamWriter] = set()  # kept alive, waiting for a request
        self.busy: set[asyncio.StreamWriter] = set()  # in the middle of one
        self.quiet = asyncio.Event()  # no request in flight
        self.quiet.set()
        self.stats: Counter[str] = Counter()
        self.orders = 0
        self.hold: asyncio.Event | None = None  # the demo's slow request waits for this
        self.started = asyncio.Event()  # a request has started (the demo waits for it)
        self.tasks: set[asyncio.Task] = set()

    async def start(self, host: str = "127.0.0.1") -> Address:
        self.server = await asyncio.start_server(self.handle, host, self.port, limit=MAX_HEAD)
        self.port = self.server.sockets[0].getsockname()[1]
        return Address(self.name, host, self.port)

    # --8<-- [start:drain]
    def begin_drain(self) -> None:
        """Fail the health check; every answer from now on says Connection: close."""
        self.draining = True

    async def shutdown(self, grace: float = GRACE, timeout: float = DRAIN_TIMEOUT) -> None:
        """For ``grace`` seconds more, take what was already on its way (a request the
        balancer sent, or a connection it opened, just before it stopped choosing this
        backend); then stop accepting, close the idle connections, and give the requests in
        flight ``timeout`` seconds to finish (each closes its connection after its answer)."""
        if grace:
            await asyncio.sleep(grace)
        self.server.close()  # new connections are refused from now on
        for writer in list(self.idle):
            self.stats["idle connections closed"] += 1
            writer.close()  # nobody is using it, and the balancer stopped choosing it
        try:
            async with asyncio.timeout(timeout):
                await self.quiet.wait()
        except TimeoutError:
            for writer in list(self.busy):
                self.stats["requests cut at the drain timeout"] += 1
                writer.transport.abort()
        await self.server.wait_closed()

    async def drain(self, pre_stop: float, grace: float = GRACE,
                    timeout: float = DRAIN_TIMEOUT) -> None:
        """What SIGTERM does: fail the checks, wait ``pre_stop`` seconds (longer than the
        balancer needs to notice), then shut down."""
        self.begin_drain()
        await asyncio.sleep(pre_stop)
        await self.shutdown(grace, timeout)
    # --8<-- [end:drain]

    async def kill(self) -> None:
        """What SIGKILL or a crash does: every connection is reset, in flight or not."""
        self.server.close()
        for writer in [*self.idle, *self.busy]:
            writer.transport.abort()
        for task in self.tasks:
            task.cancel()  # the work in flight dies with the process
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.server.wait_closed()

    # --8<-- [start:serve]
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.tasks.add(task)
        inbox = Inbox(reader)
        try:
            while True:
                self.idle.add(writer)
                try:
                    async with asyncio.timeout(self.idle_timeout):
                        await inbox.first_byte()  # idle until a request begins
                finally:
                    self.idle.discard(writer)
                if writer.is_closing():
                    return  # closed as idle by shutdown() just as a request arrived
                self.busy.add(writer)
                self.quiet.clear()
                try:
                    close = await self.serve_one(inbox, writer)
                finally:
                    self.busy.discard(writer)
                    if not self.busy:
                        self.quiet.set()
                if close:
                    return
        except (ClientGone, TimeoutError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.tasks.discard(task)
            await close_quietly(writer)

    async def serve_one(self, inbox: Inbox, writer: asyncio.StreamWriter) -> bool:
        """Read, answer and say whether the connection closes now."""
        try:
            async with asyncio.timeout(self.idle_timeout):
                request = await inbox.read_request()
        except HTTPError as error:
            writer.write(render(error.status, f"{error.reason}\n".encode(), close=True))
            await writer.drain()
            return True
        status, body = await self.answer(request)
        close = self.draining or request.wants_close  # draining: ask the client to go
        if self.draining and request.target != "/health":
            self.stats["answers with Connection: close while draining"] += 1
        writer.write(render(status, body.encode(), [("Content-Type", "text/plain")],
                            close=close, head_only=request.method == "HEAD"))
        await writer.drain()
        return close
    # --8<-- [end:serve]

    async def answer(self, request: Request) -> tuple[int, str]:
        if request.target == "/health":
            return (503, "draining\n") if self.draining else (200, "ok\n")
        self.started.set()
        await (self.hold.wait() if self.hold else asyncio.sleep(self.work))  # the work
        self.stats["requests served"] += 1
        if request.method == "POST" and request.target == "/orders":
            self.orders += 1
            return 201, f"{self.name}: order {self.orders} created\n"
        if request.method in IDEMPOTENT:  # HEAD: the head of the GET (RFC 9110 9.3.2)
            return 200, f"{self.name}: GET {request.target}\n"
        return 404, f"{self.name}: nothing for {request.method} {request.target}\n"


# --- The balancer --------------------------------------------------------------------------------

class Failure(Exception):
    """A try on one backend that gave no answer."""

    def __init__(self, why: str, sent: bool) -> None:
        super().__init__(why)
        self.why = why
        self.sent = sent  # the request (or part of it) reached the backend


@dataclass
class Upstream:
    address: Address
    in_rotation: bool = False  # a new backend must pass its checks first (like readiness)
    passed: int = 0
    failed: int = 0
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(default_factory=list)


class Balancer:
    def __init__(self, backends: list[Address], *, interval: float = 1.0, timeout: float = 1.0,
                 healthy_threshold: int = 2, unhealthy_threshold: int = 2,
                 retry_gets: bool = True, client_timeout: float = IDLE_TIMEOUT,
                 report: Callable[[str], None] = print) -> None:
        self.upstreams = [Upstream(address) for address in backends]
        self.interval, self.timeout = interval, timeout
        self.healthy_threshold = healthy_threshold
        self.unhealthy_threshold = unhealthy_threshold
        self.retry_gets = retry_gets
        self.client_timeout = client_timeout
        self.report = report
        self.changed = asyncio.Condition()
        self.next = 0
        self.stats: Counter[str] = Counter()
        self.tasks: set[asyncio.Task] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.checking = asyncio.create_task(self.check_forever())
        self.server = await asyncio.start_server(self.handle, host, port, limit=MAX_HEAD)
        return self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.server.close()
        self.checking.cancel()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(self.checking, *self.tasks, return_exceptions=True)
        for upstream in self.upstreams:
            await self.close_idle(upstream)
        await self.server.wait_closed()

    def upstream(self, name: str) -> Upstream:
        return next(u for u in self.upstreams if u.address.name == name)

    async def wait_for(self, name: str, in_rotation: bool) -> None:
        async with self.changed:
            await self.changed.wait_for(lambda: self.upstream(name).in_rotation == in_rotation)

    async def close_idle(self, upstream: Upstream) -> None:
        while upstream.idle:
            await close_quietly(upstream.idle.pop()[1])

    # --- active health checks ---

    async def probe(self, address: Address) -> bool:
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_connection(address.host, address.port)
                try:
                    writer.write(f"GET /health HTTP/1.1\r\nHost: {address.host}\r\n"
                                 "Connection: close\r\n\r\n".encode())
                    status_line = (await reader.readline()).decode("latin-1")
                finally:
                    await close_quietly(writer)
        except (OSError, TimeoutError):
            return False
        return status_line.startswith(("HTTP/1.1 200 ", "HTTP/1.0 200 "))

    async def check_forever(self) -> None:
        while True:
            results = await asyncio.gather(*(self.probe(u.address) for u in self.upstreams))
            for upstream, ok in zip(self.upstreams, results, strict=True):
                await self.judge(upstream, ok)
            await asyncio.sleep(self.interval)

    async def judge(self, upstream: Upstream, ok: bool) -> None:
        upstream.passed, upstream.failed = (upstream.passed + 1, 0) if ok else \
            (0, upstream.failed + 1)
        name = upstream.address.name
        if not upstream.in_rotation and upstream.passed >= self.healthy_threshold:
            upstream.in_rotation = True
            self.report(f"[health] {name} in rotation ({upstream.passed} checks passed)")
        elif upstream.in_rotation and upstream.failed >= self.unhealthy_threshold:
            upstream.in_rotation = False
            await self.close_idle(upstream)  # nothing more will be sent on them
            self.report(f"[health] {name} out of rotation ({upstream.failed} checks failed)")
        else:
            return
        async with self.changed:
            self.changed.notify_all()

    # --- forwarding, on kept-alive connections ---

    # --8<-- [start:forward]
    async def forward(self, request: Request) -> bytes:
        """A backend in rotation answers; another is tried only when that is safe."""
        tried: set[str] = set()
        while True:
            choices = [u for u in self.upstreams
                       if u.in_rotation and u.address.name not in tried]
            if not choices:
                return render(503, b"no backend in rotation\n", [("Retry-After", "1")])
            self.next += 1
            upstream = choices[self.next % len(choices)]
            tried.add(upstream.address.name)
            try:
                return await self.exchange(upstream, request)
            except Failure as failure:
                self.stats[f"{request.method} tries failed ({failure.why})"] += 1
                safe = not failure.sent or (self.retry_gets and request.method in IDEMPOTENT)
                if not safe:  # a POST that reached the backend may have taken effect
                    return render(502, f"backend {upstream.address.name}: {failure.why}\n"
                                  .encode())

    async def exchange(self, upstream: Upstream, request: Request) -> bytes:
        reader, writer = await self.connection(upstream)
        try:
            async with asyncio.timeout(BACKEND_TIMEOUT):
                writer.write(upstream_request(request, upstream.address.host))
                await writer.drain()
                status, headers = parse_response_head(await reader.readuntil(b"\r\n\r\n"))
                length = int(headers.get("content-length", "0"))
                no_body = request.method == "HEAD" or status in (204, 304)
                body = b"" if no_body else await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            await close_quietly(writer)
            raise Failure("the connection was lost before the answer", sent=True) from error
        except (TimeoutError, HTTPError) as error:
            await close_quietly(writer)
            raise Failure(getattr(error, "reason", "no answer in time"), sent=True) from error
        if "close" in headers.get("connection", "").lower():
            self.stats["connections closed: the backend said Connection: close"] += 1
            await close_quietly(writer)  # the backend asked: never reuse this connection
        elif not upstream.in_rotation:
            await close_quietly(writer)
        else:
            upstream.idle.append((reader, writer))
        return render(status, body, [("Via", "1.1 draining")], length=length)

    async def connection(self, upstream: Upstream):
        """A kept-alive connection that the backend has not closed, or a new one."""
        while upstream.idle:
            reader, writer = upstream.idle.pop()
            if not (reader.at_eof() or writer.is_closing()):
                return reader, writer
            await close_quietly(writer)  # closed by the backend while idle
        try:
            address = upstream.address
            async with asyncio.timeout(CONNECT_TIMEOUT):
                return await asyncio.open_connection(address.host, address.port, limit=MAX_HEAD)
        except (OSError, TimeoutError):
            raise Failure("connection refused", sent=False) from None
    # --8<-- [end:forward]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.tasks.add(task)
        inbox = Inbox(reader)
        try:
            while True:  # one client connection, many requests, each balanced on its own
                try:
                    async with asyncio.timeout(self.client_timeout):
                        request = await inbox.read_request()
                except HTTPError as error:  # we cannot tell where the next request starts
                    writer.write(render(error.status, f"{error.reason}\n".encode(), close=True))
                    await writer.drain()
                    await lingering_close(reader, writer)
                    return
                writer.write(await self.forward(request))
                await writer.drain()
                if request.wants_close:
                    return
        except (ClientGone, TimeoutError, ConnectionError, asyncio.CancelledError):
            pass  # the client left or stalled, or close() ends the connection
        finally:
            self.tasks.discard(task)
            await close_quietly(writer)


def upstream_request(request: Request, host: str) -> bytes:
    """The request for the backend, in HTTP/1.1 on a connection the balancer keeps alive."""
    skip = {"connection", "keep-alive", "te", "upgrade", "proxy-connection", "content-length"}
    headers = [(k, v) for k, v in request.headers if k.lower() not in skip]
    if not request.get("host"):  # an HTTP/1.0 client may send none; HTTP/1.1 needs one
        headers.append(("Host", host))
    headers.append(("Content-Length", str(len(request.body))))
    lines = [f"{request.method} {request.target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body


def parse_response_head(head: bytes) -> tuple[int, dict[str, str]]:
    status_line, *lines = head.decode("latin-1").split("\r\n")
    match = STATUS_LINE.fullmatch(status_line)
    if not match:
        raise HTTPError(502, f"a bad status line {status_line[:40]!r}")
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
    if not headers.get("content-length", "0").isdigit() or "transfer-encoding" in headers:
        raise HTTPError(502, "an answer this balancer cannot frame")
    if int(headers.get("content-length", "0")) > MAX_BODY:
        raise HTTPError(502, f"an answer larger than {MAX_BODY} bytes")
    return int(match[1]), headers


# --- A rolling restart ---------------------------------------------------------------------------

# --8<-- [start:restart]
async def restart(backend: Backend, balancer: Balancer, strategy: str,
                  say: Callable[[str], None]) -> Backend:
    """Replace one backend by a new one on the same port, the way ``strategy`` says."""
    name = backend.name
    if strategy == "drain":
        backend.begin_drain()  # SIGTERM
        say(f"{name}: SIGTERM: /health answers 503, answers say Connection: close")
        await balancer.wait_for(name, in_rotation=False)
        say(f"{name}: out of rotation: the balancer sends it nothing new")
        await backend.shutdown(grace=2 * balancer.interval)
        say(f"{name}: a moment later it stops accepting, closes its idle connections,")
        say(f"{' ' * len(name)}  finishes its requests in flight, and exits")
    elif strategy == "stop":  # graceful, but without waiting for the balancer to notice
        backend.begin_drain()
        await backend.shutdown(grace=0)
    else:  # "kill"
        await backend.kill()
    replacement = Backend(name, port=backend.port, work=backend.work)
    await replacement.start()
    await balancer.wait_for(name, in_rotation=True)
    say(f"{name}: restarted on the same port, back in rotation after "
        f"{balancer.healthy_threshold} passed checks")
    return replacement
# --8<-- [end:restart]


class Stream:
    """Clients sending requests through the balancer, each on its own kept-alive connection:
    ``total`` in all, each a GET or a POST as a seeded coin says. A gate (a count and an
    event) holds the stream at that count until the event is set, so that a restart never
    outlasts the stream."""

    def __init__(self, port: int, total: int, clients: int = 4, seed: int = 0) -> None:
        self.port, self.total, self.clients = port, total, clients
        coin = random.Random(seed)
        self.methods = [coin.choice(("GET", "POST")) for _ in range(total)]
        self.sent = 0
        self.outcomes: Counter[str] = Counter()
        self.gates: list[tuple[int, asyncio.Event]] = []
        self.progress = asyncio.Event()

    async def reach(self, count: int) -> None:
        while self.sent < count:
            self.progress.clear()
            await self.progress.wait()

    async def client(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=MAX_HEAD)
        try:
            while self.sent < self.total:
                closed = [event for count, event in self.gates
                          if self.sent >= count and not event.is_set()]
                if closed:
                    await closed[0].wait()
                    continue
                self.sent += 1
                method = self.methods[self.sent - 1]
                target = "/orders" if method == "POST" else f"/items/{self.sent}"
                writer.write(f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "Content-Length: 0\r\n\r\n".encode())
                async with asyncio.timeout(BACKEND_TIMEOUT * 3):
                    head = await reader.readuntil(b"\r\n\r\n")
                    status, headers = parse_response_head(head)
                    await reader.readexactly(int(headers.get("content-length", "0")))
                self.outcomes[f"{method} {'ok' if status < 400 else 'failed'}"] += 1
                self.progress.set()
        finally:
            await close_quietly(writer)

    async def run(self) -> None:
        await asyncio.gather(*(self.client() for _ in range(self.clients)))

    def failed(self) -> int:
        return self.outcomes["GET failed"] + self.outcomes["POST failed"]


class Cluster:
    """Three backends behind a balancer that checks them every 20 ms."""

    def __init__(self, names: tuple[str, ...] = ("b1", "b2", "b3"), *, retry_gets: bool = True,
                 report: Callable[[str], None] = lambda line: None) -> None:
        self.backends = [Backend(name) for name in names]
        self.retry_gets = retry_gets
        self.report = report

    async def __aenter__(self) -> Cluster:
        addresses = [await backend.start() for backend in self.backends]
        self.balancer = Balancer(addresses, interval=0.02, timeout=1.0,
                                 retry_gets=self.retry_gets, report=self.report)
        self.port = await self.balancer.start()
        for address in addresses:
            await self.balancer.wait_for(address.name, in_rotation=True)
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.balancer.close()
        for backend in self.backends:
            await backend.kill()

    async def rolling_restart(self, strategy: str, total: int,
                              say: Callable[[str], None] = lambda line: None,
                              seed: int = 0) -> Stream:
        """Restart each backend in turn during a stream of ``total`` requests: the n-th
        restart begins at the n-th step of the stream, which waits at the next step until
        it is done, so every restart has requests flowing around it."""
        stream = Stream(self.port, total, seed=seed)
        step = total // (len(self.backends) + 1)
        stream.gates = [(step * (n + 1) + step // 3, asyncio.Event())
                        for n in range(len(self.backends))]
        streaming = asyncio.create_task(stream.run())
        try:
            async with asyncio.timeout(60):
                for n, backend in enumerate(self.backends):
                    await stream.reach(step * n + step // 3)
                    self.backends[n] = await restart(backend, self.balancer, strategy, say)
                    stream.gates[n][1].set()
                await streaming
        finally:
            if not streaming.done():
                streaming.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await streaming
        return stream


async def one_post(port: int) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=MAX_HEAD)
    try:
        writer.write(b"POST /orders HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
        async with asyncio.timeout(BACKEND_TIMEOUT * 3):
            status, headers = parse_response_head(await reader.readuntil(b"\r\n\r\n"))
            body = await reader.readexactly(int(headers["content-length"]))
    finally:
        await close_quietly(writer)
    return status, body.decode().strip()


async def in_flight(strategy: str) -> None:
    """One POST in flight on the only backend when it is stopped, by ``strategy``."""
    async with Cluster(("b1",)) as cluster:
        backend = cluster.backends[0]
        backend.hold = asyncio.Event()  # the POST takes as long as the demo says
        posting = asyncio.create_task(one_post(cluster.port))
        async with asyncio.timeout(10):
            await backend.started.wait()
        if strategy == "kill":
            await backend.kill()
        else:
            backend.begin_drain()
            await cluster.balancer.wait_for("b1", in_rotation=False)
            stopping = asyncio.create_task(backend.shutdown(grace=0))
            await asyncio.sleep(0)  # it stops accepting, and waits for the POST
            print(f"  b1 is out of rotation and stopped accepting; {len(backend.busy)} request "
                  "in flight")
            backend.hold.set()
            await stopping
        status, body = await posting
        print(f"  POST /orders -> {status} {REASONS[status]}: {body}")
        if strategy == "drain":
            closed = cluster.balancer.stats["connections closed: the backend said Connection: "
                                            "close"]
            print(f"  the answer said Connection: close: the balancer closed {closed} "
                  "connection; b1 exited")


async def demo() -> None:
    print("backends and the balancer listen on ports the OS chose; the balancer checks /health")
    print("every 20 ms: out of rotation after 2 failed checks, back after 2 passed")
    print("1. a POST is in flight on b1 when b1 is killed (SIGKILL, a crash: no draining)")
    await in_flight("kill")
    print("   (the balancer cannot retry a POST that reached a backend: it may have taken")
    print("   effect)")
    print("2. a POST is in flight on b1 when b1 is drained (SIGTERM)")
    await in_flight("drain")
    print("3. a rolling restart of b1, b2 and b3, one at a time, during a steady stream of")
    print("   requests from 4 clients (each a GET or a POST, each client on one kept-alive")
    print("   connection)")
    async with Cluster() as cluster:
        stream = await cluster.rolling_restart("drain", 600, lambda line: print(f"  {line}"))
    print(f"  requests sent: {stream.sent}, succeeded: {stream.sent - stream.failed()} "
          f"({stream.outcomes['GET ok']} GET, {stream.outcomes['POST ok']} POST), "
          f"failed: {stream.failed()}")


async def restarts(strategy: str, rounds: int, total: int, retry_gets: bool) -> None:
    """Rolling restarts during a stream; one line of counts per round (for bench/draining.py)."""
    for n in range(1, rounds + 1):
        async with Cluster(retry_gets=retry_gets) as cluster:
            stream = await cluster.rolling_restart(strategy, total, seed=n)
        print(f"round {n}: {strategy}: sent {stream.sent}, GET failed "
              f"{stream.outcomes['GET failed']}, POST failed {stream.outcomes['POST failed']}",
              flush=True)


async def serve(host: str, port: int, interval: float = 1.0, timeout: float = 1.0) -> None:
    backends = [Backend(name) for name in ("b1", "b2", "b3")]
    addresses = [await backend.start(host) for backend in backends]
    balancer = Balancer(addresses, interval=interval, timeout=timeout)
    port = await balancer.start(host, port)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(f"balancer on http://{host}:{port}/ in front of b1, b2, b3; Ctrl-C to stop, "
          "SIGTERM to drain the backends first", flush=True)
    try:
        await stop.wait()
        print("SIGTERM: draining the backends", flush=True)
        pre_stop = balancer.interval * (balancer.unhealthy_threshold + 1) + balancer.timeout
        await asyncio.gather(*(backend.drain(pre_stop, grace=balancer.interval)
                               for backend in backends))
    finally:
        asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
        await balancer.close()
        for backend in backends:
            await backend.kill()


async def run_client(host: str, port: int) -> None:
    reader, writer = await asyncio.open_connection(host, port, limit=MAX_HEAD)
    try:
        for n in range(1, 7):
            writer.write(f"GET /items/{n} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            async with asyncio.timeout(BACKEND_TIMEOUT * 3):
                _, headers = parse_response_head(await reader.readuntil(b"\r\n\r\n"))
                body = await reader.readexactly(int(headers["content-length"]))
            print(body.decode().strip())
    finally:
        await close_quietly(writer)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["demo", "server", "client", "restart"],
                        default="demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--strategy", choices=["drain", "stop", "kill"], default="drain")
    parser.add_argument("--rounds", type=int, default=1, help="rolling restarts, each counted")
    parser.add_argument("--requests", type=int, default=600, help="requests in each stream")
    parser.add_argument("--no-retry", action="store_true", help="the balancer retries nothing")
    args = parser.parse_args(argv)
    if args.mode == "server":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args.host, args.port))
    elif args.mode == "client":
        asyncio.run(run_client(args.host, args.port))
    elif args.mode == "restart":
        asyncio.run(restarts(args.strategy, args.rounds, args.requests, not args.no_retry))
    else:
        asyncio.run(demo())


if __name__ == "__main__":
    main()
