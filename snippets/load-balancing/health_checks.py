# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""Health checks and outlier detection: an L7 balancer that stops sending to a backend that is
down, without a client seeing an error, and does not flap with a backend that flaps.

An asyncio HTTP/1.1 load balancer (round-robin) in front of several backends, with the two ways
a balancer learns that a backend is unwell, named as Envoy, HAProxy and NGINX name them:

- **active health checks**: every ``interval`` it sends ``GET /health`` to each backend, with a
  ``timeout``; a backend is taken out after ``unhealthy_threshold`` failed checks in a row
  (HAProxy's ``fall``) and put back after ``healthy_threshold`` passed checks in a row (``rise``);
- **passive outlier detection**: it watches real traffic; after ``consecutive_5xx`` failures in a
  row (5xx answers, or no answer at all) a backend is ejected for ``base_ejection_time``
  multiplied by the number of times it has been ejected, and never more than
  ``max_ejection_percent`` of the backends at once (but always one), as Envoy does.

A request that finds its backend dead (refused, reset, a 5xx) is retried once on another
backend when that is safe: always if nothing was sent, otherwise only for GET and HEAD (an
idempotent method; a POST may already have taken effect). When every backend is out, it sends to
all of them anyway (fail open): a guess beats a certain error.

The demo drives the check rounds by hand and the ejection clock is simulated, so the transcript
is the same on every run; the backends and the balancer are real, on 127.0.0.1.

Run: python health_checks.py                      (demo on 127.0.0.1, ports the OS chose)
     python health_checks.py server --port 8080   (three backends + the balancer, checks every
                                                   2 s, until Ctrl-C; try curl localhost:8080/x)
     python health_checks.py client --port 8080   (6 requests: who answered?)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_LINE = 4 * 1024  # request line; longer gets 414
MAX_HEAD = 16 * 1024  # request line + headers; more gets 431
MAX_FIELDS = 100  # header lines; more gets 431
MAX_BODY = 1024 * 1024  # request body; more gets 413
MAX_RESPONSE = 1024 * 1024  # a larger backend answer is a 502 (this balancer buffers it)
CONNECT_TIMEOUT = 2.0
BACKEND_TIMEOUT = 10.0  # a backend that has not answered within this is a failure
CLIENT_TIMEOUT = 30.0  # a client must send each whole request within this
CHUNK = 64 * 1024
IDEMPOTENT = {"GET", "HEAD"}  # the methods this balancer retries after sending (RFC 9110 9.2.2)

TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 5.6.2: methods, field names
TARGET = re.compile(r"/[!-~]*")  # a path of visible ASCII: no control byte goes to a backend
STATUS_LINE = re.compile(r"HTTP/1\.[01] (\d{3}) ?(.*)")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
              "transfer-encoding", "upgrade"}  # RFC 9110 7.6.1: one connection's fields
REASONS = {200: "OK", 400: "Bad Request", 413: "Content Too Large", 414: "URI Too Long",
           431: "Request Header Fields Too Large", 500: "Internal Server Error",
           501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
           505: "HTTP Version Not Supported"}


class HTTPError(Exception):
    """A request or response the balancer refuses: the status to answer with and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ClientGone(Exception):
    """The client closed its connection."""


@dataclass(frozen=True)
class Backend:
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


async def read_request(reader: asyncio.StreamReader, buffer: bytearray) -> Request:
    """The next request from a client connection, read with bounds (``buffer`` keeps what was
    read ahead, such as a pipelined request)."""

    async def fill() -> None:
        chunk = await reader.read(CHUNK)
        if not chunk:
            raise ClientGone
        buffer.extend(chunk)

    while (end := buffer.find(b"\r\n\r\n")) < 0:
        if buffer.find(b"\r\n") < 0 and len(buffer) > MAX_LINE:
            raise HTTPError(414, f"request line longer than {MAX_LINE} bytes")
        if len(buffer) > MAX_HEAD:
            raise HTTPError(431, f"request head larger than {MAX_HEAD} bytes")
        await fill()
    if end + 4 > MAX_HEAD:
        raise HTTPError(431, f"request head larger than {MAX_HEAD} bytes")
    request = parse_head(bytes(buffer[: end + 4]))
    del buffer[: end + 4]
    length = int(request.get("content-length") or "0")
    while len(buffer) < length:
        await fill()
    request.body = bytes(buffer[:length])
    del buffer[:length]
    return request


def render_response(status: int, body: bytes, headers: list[tuple[str, str]] = ()) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}",
             *(f"{name}: {value}" for name, value in headers), f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def error_response(status: int, reason: str, close: bool = False) -> bytes:
    headers = [("Content-Type", "text/plain"), ("Via", "1.1 health_checks")]
    return render_response(status, f"{reason}\n".encode(),
                           headers + [("Connection", "close")] * close)


def without_hop_by_hop(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    named = {token.strip().lower() for key, value in headers if key.lower() == "connection"
             for token in value.split(",")}
    return [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP | named | {"content-length"}]


def upstream_request(request: Request, client_ip: str) -> bytes:
    headers = [(k, v) for k, v in without_hop_by_hop(request.headers)
               if k.lower() not in ("x-forwarded-for", "expect")]
    forwarded = request.get("x-forwarded-for")
    headers += [("X-Forwarded-For", f"{forwarded}, {client_ip}" if forwarded else client_ip),
                ("Via", f"{request.version[5:]} health_checks"), ("Connection", "close")]
    if request.body or request.get("content-length"):
        headers.append(("Content-Length", str(len(request.body))))
    lines = [f"{request.method} {request.target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body


def relay_response(raw: bytes, method: str) -> tuple[int, bytes]:
    """The backend's whole answer (read to its end), checked: its status, and the response
    re-framed for the client."""
    head, found, body = raw.partition(b"\r\n\r\n")
    if not found:
        raise HTTPError(502, f"the backend closed after {len(raw)} bytes, no complete head")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    match = STATUS_LINE.fullmatch(status_line)
    if not match or match[1].startswith("1"):
        raise HTTPError(502, f"the backend sent a bad status line {status_line[:40]!r}")
    status = int(match[1])
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines)]
    names = {k.lower(): v for k, v in headers}
    if "transfer-encoding" in names:
        raise HTTPError(502, "the backend sent Transfer-Encoding, which is not relayed here")
    length = names.get("content-length", str(len(body)))
    if method == "HEAD" or status in (204, 304):  # no body, whatever the head says (RFC 9112 6.3)
        body = b""
    elif not length.isdigit() or int(length) > len(body):
        raise HTTPError(502, "the backend's body is shorter than its Content-Length")
    else:
        body = body[: int(length)]
    out = without_hop_by_hop(headers) + [("Via", "1.1 health_checks"), ("Content-Length", length)]
    lines = [f"HTTP/1.1 {status} {match[2]}", *(f"{k}: {v}" for k, v in out)]
    return status, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def lingering_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Close our side, then discard what the client still sends, for at most a second, so the
    kernel does not reset the connection before the client has read our error (RFC 9112 9.6)."""
    writer.write_eof()
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(1.0):
            while await reader.read(CHUNK):
                pass


# --8<-- [start:active]
@dataclass
class CheckState:
    healthy: bool = True  # the pool is configured by hand: its backends start in rotation
    passed: int = 0  # checks passed in a row
    failed: int = 0  # checks failed in a row


class ActiveHealthCheck:
    def __init__(self, backends: list[Backend], *, path: str = "/health",
                 interval: float = 5.0, timeout: float = 1.0, healthy_threshold: int = 2,
                 unhealthy_threshold: int = 3, report: Callable[[str], None] = print) -> None:
        self.backends, self.path = backends, path
        self.interval, self.timeout = interval, timeout
        self.healthy_threshold = healthy_threshold  # HAProxy: rise, NGINX: passes
        self.unhealthy_threshold = unhealthy_threshold  # HAProxy: fall, NGINX: fails
        self.report = report
        self.state = {backend.name: CheckState() for backend in backends}

    def healthy(self, name: str) -> bool:
        return self.state[name].healthy

    async def probe(self, backend: Backend) -> str | None:
        """None if the backend answered 200 to GET /health in time, else what went wrong."""
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_connection(backend.host, backend.port)
                try:
                    writer.write(f"GET {self.path} HTTP/1.1\r\nHost: {backend.host}\r\n"
                                 "Connection: close\r\n\r\n".encode())
                    status_line = await reader.readline()
                finally:
                    writer.close()
                    with contextlib.suppress(ConnectionError):
                        await writer.wait_closed()
        except TimeoutError:
            return f"no answer within {self.timeout:g} s"
        except OSError:
            return "connection refused or reset"
        match = STATUS_LINE.match(status_line.decode("latin-1"))
        if not match:
            return "answered something that is not HTTP"
        return None if match[1] == "200" else f"answered {match[1]}"

    async def check_round(self) -> dict[str, str | None]:
        problems = await asyncio.gather(*(self.probe(b) for b in self.backends))
        for backend, problem in zip(self.backends, problems, strict=True):
            self.judge(backend.name, problem)
        return {backend.name: problem for backend, problem in zip(self.backends, problems,
                                                                  strict=True)}

    def judge(self, name: str, problem: str | None) -> None:
        state = self.state[name]
        if problem is None:
            state.passed, state.failed = state.passed + 1, 0
            if not state.healthy and state.passed >= self.healthy_threshold:
                state.healthy = True
                self.report(f"[health] {name} is back in rotation: {state.passed} checks passed")
        else:
            state.passed, state.failed = 0, state.failed + 1
            if state.healthy and state.failed >= self.unhealthy_threshold:
                state.healthy = False
                self.report(f"[health] {name} is out of rotation: {state.failed} checks failed "
                            f"({problem})")

    async def run(self) -> None:
        while True:
            await self.check_round()
            await asyncio.sleep(self.interval)
# --8<-- [end:active]


# --8<-- [start:outlier]
class OutlierDetection:
    def __init__(self, backends: list[Backend], *, consecutive_5xx: int = 5,
                 base_ejection_time: float = 30.0, max_ejection_time: float = 300.0,
                 max_ejection_percent: int = 10, clock: Callable[[], float] = time.monotonic,
                 report: Callable[[str], None] = print) -> None:
        self.size = len(backends)
        self.consecutive_5xx = consecutive_5xx
        self.base_ejection_time = base_ejection_time
        self.max_ejection_time = max_ejection_time
        self.max_ejection_percent = max_ejection_percent
        self.clock, self.report = clock, report
        self.errors = {backend.name: 0 for backend in backends}  # failures in a row
        self.ejections = {backend.name: 0 for backend in backends}  # times ejected so far
        self.ejected_until: dict[str, float] = {}

    def ejected(self, name: str) -> bool:
        until = self.ejected_until.get(name)
        if until is not None and self.clock() >= until:
            del self.ejected_until[name]  # served its time: back, on probation
            self.report(f"[outlier] {name}'s ejection is over: back in rotation")
        return name in self.ejected_until

    def record(self, name: str, failed: bool) -> None:
        """Every answer from a backend, or the lack of one, as the balancer saw it."""
        self.errors[name] = self.errors[name] + 1 if failed else 0
        if self.errors[name] >= self.consecutive_5xx and not self.ejected(name):
            self.eject(name)

    def eject(self, name: str) -> None:
        out = sum(self.ejected(other) for other in list(self.ejected_until))
        if out and out * 100 >= self.max_ejection_percent * self.size:  # always one, then the cap
            if self.errors[name] == self.consecutive_5xx:  # say it once per run of failures
                self.report(f"[outlier] {name} not ejected: {out} of {self.size} backends are "
                            f"out already (max_ejection_percent {self.max_ejection_percent})")
            return
        self.ejections[name] += 1
        seconds = min(self.base_ejection_time * self.ejections[name], self.max_ejection_time)
        self.ejected_until[name] = self.clock() + seconds
        self.report(f"[outlier] {name} ejected for {seconds:g} s after {self.errors[name]} "
                    f"failures in a row (ejection number {self.ejections[name]})")
        self.errors[name] = 0
# --8<-- [end:outlier]


@dataclass
class Attempt:
    """One try of a request on one backend."""

    response: bytes | None  # what the client gets if this is the last try
    failed: bool  # counts against the backend: no answer, or a 5xx
    sent: bool  # the request reached the backend (it may have acted on it)
    why: str = ""


class HealthCheckedBalancer:
    def __init__(self, backends: list[Backend], *, checks: ActiveHealthCheck,
                 outliers: OutlierDetection, connect_timeout: float = CONNECT_TIMEOUT,
                 backend_timeout: float = BACKEND_TIMEOUT, client_timeout: float = CLIENT_TIMEOUT,
                 report: Callable[[str], None] = print) -> None:
        self.backends = backends
        self.checks, self.outliers = checks, outliers
        self.connect_timeout = connect_timeout
        self.backend_timeout = backend_timeout
        self.client_timeout = client_timeout
        self.report = report
        self.next = 0  # round-robin position
        self.tasks: set[asyncio.Task] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.server = await asyncio.start_server(self.handle, host, port)
        return self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.server.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.server.wait_closed()

    # --8<-- [start:pick]
    def in_rotation(self) -> list[Backend]:
        """Backends that pass their checks and are not ejected; all of them if none is left
        (fail open: Envoy's panic mode, the AWS Builders' Library's advice)."""
        up = [b for b in self.backends
              if self.checks.healthy(b.name) and not self.outliers.ejected(b.name)]
        return up or list(self.backends)

    def pick(self, tried: set[str]) -> Backend | None:
        candidates = [b for b in self.in_rotation() if b.name not in tried]
        if not candidates:
            return None
        self.next += 1
        return candidates[(self.next - 1) % len(candidates)]

    async def forward(self, request: Request, client_ip: str) -> bytes:
        """Try a backend; after a failure, one other backend when that is safe."""
        tried: set[str] = set()
        last = None
        for _ in range(2):
            backend = self.pick(tried)
            if backend is None:
                break
            tried.add(backend.name)
            attempt = await self.attempt(backend, request, client_ip)
            self.outliers.record(backend.name, attempt.failed)
            last = attempt.response or last
            if not attempt.failed:
                return attempt.response
            if attempt.sent and request.method not in IDEMPOTENT:
                break  # a POST that reached a backend may have taken effect: no second try
            self.report(f"[retry] {request.method} {request.target}: {backend.name} "
                        f"{attempt.why}; trying another backend")
        return last or error_response(502, "no backend could answer")
    # --8<-- [end:pick]

    async def attempt(self, backend: Backend, request: Request, client_ip: str) -> Attempt:
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(backend.host, backend.port)
        except (OSError, TimeoutError):
            return Attempt(None, failed=True, sent=False, why="refused the connection")
        try:
            async with asyncio.timeout(self.backend_timeout):
                writer.write(upstream_request(request, client_ip))
                await writer.drain()
                raw = await reader.read(MAX_RESPONSE + 1)
                while chunk := await reader.read(MAX_RESPONSE + 1 - len(raw)):
                    raw += chunk
            if len(raw) > MAX_RESPONSE:
                raise HTTPError(502, f"the backend's answer is larger than {MAX_RESPONSE} bytes")
            status, response = relay_response(raw, request.method)
            return Attempt(response, failed=status >= 500, sent=True, why=f"answered {status}")
        except TimeoutError:
            return Attempt(error_response(504, f"backend {backend.name} did not answer in time"),
                           failed=True, sent=True, why="did not answer in time")
        except (ConnectionError, HTTPError) as error:
            why = error.reason if isinstance(error, HTTPError) else "reset the connection"
            return Attempt(error_response(502, f"backend {backend.name}: {why}"), failed=True,
                           sent=True, why=why)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.tasks.add(task)
        client_ip = writer.get_extra_info("peername")[0]
        buffer = bytearray()
        try:
            while True:  # one client connection, many requests, each balanced on its own
                try:
                    async with asyncio.timeout(self.client_timeout):
                        request = await read_request(reader, buffer)
                except HTTPError as error:  # we cannot tell where the next request starts
                    writer.write(error_response(error.status, error.reason, close=True))
                    await writer.drain()
                    await lingering_close(reader, writer)
                    return
                writer.write(await self.forward(request, client_ip))
                await writer.drain()
                if request.version == "HTTP/1.0" or "close" in request.get("connection").lower():
                    return
        except (ClientGone, TimeoutError, ConnectionError, asyncio.CancelledError):
            pass  # the client left or stalled, or close() ends the connection
        finally:
            self.tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


# --8<-- [start:backend]
class DemoBackend:
    """A tiny HTTP/1.1 backend that answers with its name; it can crash (stop listening and
    reset its connections), come back on the same port, or break (answer 500 to everything
    but /health: a bad release behind a shallow health check)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.broken = False
        self.port = 0
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self, host: str = "127.0.0.1") -> Backend:
        self.server = await asyncio.start_server(self.handle, host, self.port, limit=MAX_HEAD)
        self.port = self.server.sockets[0].getsockname()[1]
        return Backend(self.name, host, self.port)

    async def crash(self) -> None:
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()  # in-flight requests get a reset, as from a dead process
        await self.server.wait_closed()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            async with asyncio.timeout(CLIENT_TIMEOUT):
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            method, path, _ = head.split("\r\n", 1)[0].split(" ", 2)
            if self.broken and path != "/health":
                status, body = 500, f"{self.name}: broken\n"
            else:
                status, body = 200, f"{self.name}: {method} {path}\n"
            response = render_response(status, body.encode(), [("Connection", "close")])
            writer.write(response[: -len(body)] if method == "HEAD" else response)  # no body
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                TimeoutError, ConnectionError):
            pass  # the client left, or sent something this tiny server does not speak
        finally:
            self.writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
# --8<-- [end:backend]


async def get(port: int, path: str, method: str = "GET") -> tuple[int, str]:
    """One request on its own connection: the status and the body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=MAX_HEAD)
    try:
        writer.write(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n".encode())
        async with asyncio.timeout(BACKEND_TIMEOUT * 2 + CONNECT_TIMEOUT * 2 + 5):
            head, _, body = (await reader.read()).partition(b"\r\n\r\n")
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return int(head.split(b" ")[1]), body.decode().strip()


class Demo:
    """Three backends, a balancer, and a simulated clock for the ejections."""

    def __init__(self) -> None:
        self.now = 0.0
        self.servers = [DemoBackend(name) for name in ("b1", "b2", "b3")]

    async def __aenter__(self) -> Demo:
        backends = [await server.start() for server in self.servers]
        say = lambda line: print(f"  {line}")  # noqa: E731
        self.checks = ActiveHealthCheck(backends, healthy_threshold=2, unhealthy_threshold=3,
                                        report=say)
        self.naive = ActiveHealthCheck(backends, healthy_threshold=1, unhealthy_threshold=1,
                                       report=lambda line: None)
        self.outliers = OutlierDetection(backends, consecutive_5xx=3, clock=lambda: self.now,
                                         report=say)
        self.balancer = HealthCheckedBalancer(backends, checks=self.checks,
                                              outliers=self.outliers, report=say)
        self.port = await self.balancer.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.balancer.close()
        for server in self.servers:
            await server.crash()

    async def requests(self, *paths: str, method: str = "GET") -> None:
        for path in paths:
            status, body = await get(self.port, path, method)
            print(f"  {method} {path} -> {status} {body}")

    async def check_round(self) -> None:
        """One round of both checkers; the verdicts are printed after the round's results."""
        verdicts: list[str] = []
        self.checks.report = verdicts.append
        problems = await self.checks.check_round()
        await self.naive.check_round()
        failed = [f"{name} ({problem})" for name, problem in problems.items() if problem]
        print(f"  check round: {'failed: ' + ', '.join(failed) if failed else 'all passed'}")
        for line in verdicts:
            print(f"  {line}")

    def in_rotation(self) -> str:
        return " ".join(backend.name for backend in self.balancer.in_rotation())


async def demo() -> None:
    print("backends b1, b2, b3 and the balancer listen on ports the OS chose")
    print("active checks: GET /health; out after 3 failed in a row, back after 2 passed")
    print("outlier detection: ejected after 3 failures in a row, for 30 s x times ejected,")
    print("at most 10% of the backends at once (but always one); the clock is simulated")
    async with Demo() as d:
        b1, b2, b3 = d.servers
        print("1. all healthy: round-robin")
        await d.requests("/1", "/2", "/3")
        print("2. b2 crashes; the requests carry on, and no client sees an error")
        await b2.crash()
        await d.requests("/4", "/5", "/6", "/7", "/8", "/9")
        print(f"  in rotation: {d.in_rotation()}")
        for _ in range(3):
            await d.check_round()
        print("3. b2 comes back on the same port: two passed checks put it back, but its")
        print("   ejection lasts 30 s")
        await b2.start()
        for _ in range(2):
            await d.check_round()
        print(f"  in rotation: {d.in_rotation()}")
        d.now = 30.0
        print(f"  t=30 s: in rotation: {d.in_rotation()}")
        print("4. b1 breaks: 500 to every request, 200 to /health (a shallow check passes)")
        b1.broken = True
        print("  a POST is not retried: it may have taken effect on the backend that failed")
        await d.requests("/orders", method="POST")
        await d.requests("/10", "/11", "/12", "/13", "/14", "/15")
        await d.check_round()
        print(f"  in rotation: {d.in_rotation()}")
        d.now = 60.0
        print("  t=60 s: b1's ejection is over, and b1 is still broken: ejected again, for")
        print("  twice as long")
        await d.requests("/16", "/17", "/18", "/19", "/20", "/21", "/22")
        print(f"  in rotation: {d.in_rotation()}")
        print("5. b3 breaks too: only one backend may be ejected (max 10% of 3, but always one)")
        b3.broken = True
        await d.requests("/23", "/24", "/25", "/26")
        print(f"  in rotation: {d.in_rotation()}")
        b1.broken = b3.broken = False
        print("6. b3 flaps: it crashes and comes back between checks (a crash loop)")
        print("  round  b3    with thresholds 3 and 2    with thresholds 1 and 1")
        running = True
        for n, up in enumerate([False, False, False, True, False, True, False, True, True], 1):
            if up != running:
                await (b3.start() if up else b3.crash())
                running = up
            await d.checks.check_round()
            await d.naive.check_round()
            print(f"  {n:>5}  {'up' if up else 'down':<5} "
                  f"{'in' if d.checks.healthy('b3') else 'out':<26} "
                  f"{'in' if d.naive.healthy('b3') else 'out'}")


async def serve(host: str, port: int) -> None:
    servers = [DemoBackend(name) for name in ("b1", "b2", "b3")]
    backends = [await server.start(host) for server in servers]
    checks = ActiveHealthCheck(backends, interval=2.0)
    outliers = OutlierDetection(backends)
    balancer = HealthCheckedBalancer(backends, checks=checks, outliers=outliers)
    port = await balancer.start(host, port)
    checking = asyncio.create_task(checks.run())
    print(f"balancer on http://{host}:{port}/ in front of b1, b2, b3; Ctrl-C to stop",
          flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        checking.cancel()
        await balancer.close()
        for server in servers:
            await server.crash()


async def run_client(host: str, port: int) -> None:
    for n in range(1, 7):
        reader, writer = await asyncio.open_connection(host, port, limit=MAX_HEAD)
        try:
            writer.write(f"GET /{n} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                         .encode())
            async with asyncio.timeout(BACKEND_TIMEOUT * 2 + CONNECT_TIMEOUT * 2 + 5):
                print((await reader.read()).partition(b"\r\n\r\n")[2].decode().strip())
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["demo", "server", "client"], default="demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    if args.mode == "server":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args.host, args.port))
    elif args.mode == "client":
        asyncio.run(run_client(args.host, args.port))
    else:
        asyncio.run(demo())


if __name__ == "__main__":
    main()
