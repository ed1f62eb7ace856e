# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""A layer-7 load balancer: an asyncio HTTP/1.1 reverse proxy that picks a backend per *request*.

It terminates the client's HTTP connection: it parses each request strictly (a bounded request
line and head; 400, 414, 431, 413 or 501 for what it will not accept), chooses a route by the
longest matching path prefix (say /api/ or /static/), picks that route's next backend
(round-robin, skipping one that refuses the connection), adds X-Forwarded-For and Via, and
relays the answer: 502 Bad Gateway when the backend fails, 504 Gateway Timeout when it stalls.
If the client vanishes while it waits, the backend connection is closed at once.

The demo starts three tiny HTTP backends that answer with their own name, and the proxy in
front of them; one client keep-alive connection sends 6 requests and they spread over all three.

Run: python l7_proxy.py                      (demo on 127.0.0.1, ports the OS chose)
     python l7_proxy.py server --port 8080   (three demo backends + the proxy, until Ctrl-C;
                                              try curl -v localhost:8080/api/x)
     python l7_proxy.py client --port 8080   (6 requests on one connection: who answered?)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_LINE = 4 * 1024  # request line; longer gets 414
MAX_HEAD = 16 * 1024  # request line + headers; more gets 431
MAX_FIELDS = 100  # header lines; more gets 431
MAX_BODY = 1024 * 1024  # request body; more gets 413
MAX_RESPONSE = 1024 * 1024  # a larger backend answer is a 502 (this proxy buffers it)
CONNECT_TIMEOUT = 2.0  # a backend that does not accept within this is skipped
BACKEND_TIMEOUT = 10.0  # a backend that has not answered within this gets the client a 504
CLIENT_TIMEOUT = 30.0  # a client must send each whole request within this
CHUNK = 64 * 1024

TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 5.6.2: methods, field names
TARGET = re.compile(r"/[!-~]*")  # a path of visible ASCII: no control byte goes to a backend
STATUS_LINE = re.compile(r"HTTP/1\.[01] (\d{3}) ?(.*)")
# RFC 9110 7.6.1: these describe one hop (one connection), so a proxy does not forward them
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
              "transfer-encoding", "upgrade"}
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 413: "Content Too Large",
           414: "URI Too Long", 431: "Request Header Fields Too Large", 501: "Not Implemented",
           502: "Bad Gateway", 504: "Gateway Timeout", 505: "HTTP Version Not Supported"}

log = logging.getLogger("l7_proxy")


class HTTPError(Exception):
    """A request or response the proxy refuses: the status to answer with and why."""

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
    headers: list[tuple[str, str]]  # in order, as sent
    body: bytes = b""

    def get(self, name: str) -> str:
        return ", ".join(value for key, value in self.headers if key.lower() == name)


# --8<-- [start:parse]
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
# --8<-- [end:parse]


class Inbox:
    """What the client has sent and the proxy has not used yet, read with bounds."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer  # only for "100 Continue"
        self.buffer = bytearray()

    async def fill(self) -> None:
        chunk = await self.reader.read(CHUNK)
        if not chunk:
            raise ClientGone
        self.buffer += chunk

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
        if len(self.buffer) < length and request.get("expect").lower() == "100-continue":
            self.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # "send the body" (RFC 9110 10.1.1)
        while len(self.buffer) < length:
            await self.fill()
        request.body = bytes(self.buffer[:length])
        del self.buffer[:length]
        return request

    async def watch(self) -> None:
        """Read ahead (a pipelined request is kept) until the client closes: ClientGone."""
        while len(self.buffer) <= MAX_HEAD + MAX_BODY:
            await self.fill()
        await asyncio.Event().wait()  # enough read ahead: stop reading (backpressure)


def render_response(status: int, body: bytes, headers: list[tuple[str, str]] = ()) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}",
             *(f"{name}: {value}" for name, value in headers),
             f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def error_response(status: int, reason: str, close: bool = False) -> bytes:
    headers = [("Content-Type", "text/plain"), ("Via", "1.1 l7_proxy")]
    return render_response(status, f"{reason}\n".encode(), headers + [("Connection", "close")]
                           * close)


# --8<-- [start:rewrite]
def without_hop_by_hop(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Drop the fields that belong to one connection, and the ones Connection names."""
    named = {token.strip().lower() for key, value in headers if key.lower() == "connection"
             for token in value.split(",")}
    return [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP | named | {"content-length"}]


def upstream_request(request: Request, client_ip: str) -> bytes:
    """The request as the backend gets it: our own hop headers, the client's address added."""
    headers = [(k, v) for k, v in without_hop_by_hop(request.headers)
               if k.lower() not in ("x-forwarded-for", "expect")]  # we have the whole body
    forwarded = request.get("x-forwarded-for")  # proxies before us: keep their list, append
    headers += [("X-Forwarded-For", f"{forwarded}, {client_ip}" if forwarded else client_ip),
                ("Via", f"{request.version[5:]} l7_proxy"), ("Connection", "close")]
    if request.body or request.get("content-length"):
        headers.append(("Content-Length", str(len(request.body))))
    lines = [f"{request.method} {request.target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body


def relay_response(raw: bytes, method: str = "GET") -> bytes:
    """The backend's whole answer (read to EOF), checked and re-framed for the client."""
    while True:
        head, found, body = raw.partition(b"\r\n\r\n")
        if not found:
            raise HTTPError(502, f"the backend closed after {len(raw)} bytes, no complete head")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        match = STATUS_LINE.fullmatch(status_line)
        if not match:
            raise HTTPError(502, f"the backend sent a bad status line {status_line[:40]!r}")
        if not match[1].startswith("1"):
            break
        raw = body  # an interim answer (103 Early Hints, say): the final one follows
    status = int(match[1])
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines)]
    names = {k.lower(): v for k, v in headers}
    if "transfer-encoding" in names:
        raise HTTPError(502, "the backend sent Transfer-Encoding, which this proxy does not relay")
    framing = [("Content-Length", names.get("content-length", ""))]
    if method == "HEAD" or status in (204, 304):  # no body, whatever the head says (RFC 9112 6.3)
        body, framing = b"", [f for f in framing if f[1] and status != 204]
    elif "content-length" in names:
        length = int(names["content-length"]) if names["content-length"].isdigit() else -1
        if not 0 <= length <= len(body):
            raise HTTPError(502, "the backend's body is shorter than its Content-Length")
        body = body[:length]
    else:
        framing = [("Content-Length", str(len(body)))]  # the body ran to the end of the stream
    out = without_hop_by_hop(headers) + [("Via", "1.1 l7_proxy"), *framing]
    lines = [f"HTTP/1.1 {status} {match[2]}", *(f"{k}: {v}" for k, v in out)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
# --8<-- [end:rewrite]


@dataclass
class Route:
    prefix: str
    backends: list[Backend]
    next: int = field(default=0)  # round-robin position


async def lingering_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Close our side, then discard what the client still sends, for at most a second: closing
    with unread input makes the kernel send a reset, which can destroy our error response
    before the client has read it (RFC 9112 section 9.6)."""
    writer.write_eof()
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(1.0):
            while await reader.read(CHUNK):
                pass


# --8<-- [start:proxy]
class L7Proxy:
    def __init__(
        self,
        routes: dict[str, list[Backend]],  # path prefix -> the backends that serve it
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        backend_timeout: float = BACKEND_TIMEOUT,
        client_timeout: float = CLIENT_TIMEOUT,
        report: Callable[[str], None] = log.warning,
    ) -> None:
        # longest prefix first, so /api/v2/ wins over /api/ and / is the fallback
        by_length = sorted(routes.items(), key=lambda route: -len(route[0]))
        self.routes = [Route(prefix, list(backends)) for prefix, backends in by_length]
        self.connect_timeout = connect_timeout
        self.backend_timeout = backend_timeout
        self.client_timeout = client_timeout
        self.report = report
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

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.tasks.add(task)
        client_ip = writer.get_extra_info("peername")[0]
        inbox = Inbox(reader, writer)
        try:
            while True:  # one client connection, many requests, each routed on its own
                try:
                    async with asyncio.timeout(self.client_timeout):
                        request = await inbox.read_request()
                except HTTPError as error:  # we cannot tell where the next request starts:
                    writer.write(error_response(error.status, error.reason, close=True))
                    await writer.drain()  # answer, then close (RFC 9112 section 9.6)
                    await lingering_close(reader, writer)
                    return
                writer.write(await self.answer(request, client_ip, inbox))
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

    async def answer(self, request: Request, client_ip: str, inbox: Inbox) -> bytes:
        """Forward while watching the client: if it leaves, stop and free the backend."""
        forwarding = asyncio.create_task(self.forward(request, client_ip))
        watching = asyncio.create_task(inbox.watch())
        try:
            await asyncio.wait({forwarding, watching}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watching.cancel()
            if not forwarding.done():
                forwarding.cancel()  # its finally closes the backend connection
            await asyncio.gather(forwarding, watching, return_exceptions=True)
        if forwarding.cancelled():
            self.report(f"l7: the client left during {request.method} {request.target}: "
                        "backend connection closed")
            raise ClientGone
        return forwarding.result()

    # --8<-- [end:proxy]
    # --8<-- [start:forward]
    async def forward(self, request: Request, client_ip: str) -> bytes:
        path = request.target.split("?")[0]
        route = next((r for r in self.routes if path.startswith(r.prefix)), None)
        if route is None:
            return error_response(404, f"no route for {path}")
        connection = await self.connect(route)
        if connection is None:
            return error_response(502, f"no backend for {route.prefix} accepted a connection")
        backend, reader, writer = connection
        try:
            async with asyncio.timeout(self.backend_timeout):
                writer.write(upstream_request(request, client_ip))
                await writer.drain()
                raw = await reader.read(MAX_RESPONSE + 1)
                while chunk := await reader.read(MAX_RESPONSE + 1 - len(raw)):
                    raw += chunk
            if len(raw) > MAX_RESPONSE:
                raise HTTPError(502, f"the backend's answer is larger than {MAX_RESPONSE} bytes")
            return relay_response(raw, request.method)
        except TimeoutError:
            self.report(f"l7: backend {backend.name} did not answer within the timeout: 504")
            return error_response(504, f"backend {backend.name} did not answer in time")
        except ConnectionError as error:
            return error_response(502, f"backend {backend.name} failed: {error}")
        except HTTPError as error:
            return error_response(error.status, error.reason)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def connect(self, route: Route):
        """The route's next backend that accepts a connection, trying each at most once.
        Safe to retry for any method: nothing of the request has been sent yet."""
        for _ in range(len(route.backends)):
            backend = route.backends[route.next % len(route.backends)]
            route.next += 1
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(backend.host, backend.port), self.connect_timeout
                )
                return backend, reader, writer
            except (OSError, TimeoutError) as error:
                why = "timed out" if isinstance(error, TimeoutError) else "was refused"
                self.report(f"l7: connecting to backend {backend.name} {why}: skipped")
        return None
    # --8<-- [end:forward]


# --8<-- [start:backend]
class NameServer:
    """A tiny HTTP/1.1 backend that answers with its own name and the X-Forwarded-For it got.

    With stall=True it reads the request and never answers (to show a 504): `stalled` is set
    when such a request arrived, `freed` when the other side then closed the connection.
    """

    def __init__(self, name: str, stall: bool = False) -> None:
        self.name = name
        self.stall = stall
        self.stalled = asyncio.Event()
        self.freed = asyncio.Event()
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Backend:
        self.server = await asyncio.start_server(self.handle, host, port, limit=MAX_HEAD)
        return Backend(self.name, host, self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while True:
                async with asyncio.timeout(CLIENT_TIMEOUT):
                    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                if self.stall:
                    self.stalled.set()
                    await reader.read()  # returns when the proxy closes the connection
                    self.freed.set()
                    return
                method, path, _ = head.split("\r\n", 1)[0].split(" ", 2)
                fields = dict(line.lower().split(": ", 1) for line in head.split("\r\n")[1:-2])
                forwarded = fields.get("x-forwarded-for", "-")
                body = f"{self.name}: {method} {path} (X-Forwarded-For: {forwarded})\n".encode()
                close = fields.get("connection") == "close"
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                             b"Content-Length: %d\r\n%s\r\n%s"
                             % (len(body), b"Connection: close\r\n" * close,
                                b"" if method == "HEAD" else body))  # HEAD: no body
                await writer.drain()
                if close:
                    return
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                TimeoutError, ConnectionError):
            pass  # the client left, or sent something this tiny server does not speak
        finally:
            self.writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
# --8<-- [end:backend]


# --8<-- [start:client]
class Client:
    """One keep-alive connection: send a request, read its response (framed by Content-Length)."""

    async def open(self, host: str, port: int) -> Client:
        self.host = host
        self.reader, self.writer = await asyncio.open_connection(host, port, limit=MAX_HEAD)
        return self

    async def send(self, data: bytes) -> tuple[int, str]:
        self.writer.write(data)
        async with asyncio.timeout(BACKEND_TIMEOUT + CONNECT_TIMEOUT + 5):
            head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            body = await self.reader.readexactly(length)
        return int(head.split(" ")[1]), body.decode().strip()

    async def get(self, path: str) -> tuple[int, str]:
        return await self.send(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()
# --8<-- [end:client]


BAD_REQUESTS = {
    "no version": b"GET /page/1\r\nHost: x\r\n\r\n",
    "space before colon": b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    "two Content-Length": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
    b"Content-Length: 2\r\n\r\nab",
    "5000-byte path": b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "20000-byte header": b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
}


async def demo() -> None:
    servers = [NameServer("b1"), NameServer("b2"), NameServer("b3"), NameServer("slow", True)]
    b1, b2, b3, slow = [await server.start() for server in servers]
    routes = {"/": [b1, b2, b3], "/api/": [b1, b2], "/static/": [b3], "/slow/": [slow]}
    proxy = L7Proxy(routes, backend_timeout=0.5, report=lambda line: print(f"  [log] {line}"))
    port = await proxy.start()
    print("backends b1, b2, b3, slow and the L7 proxy listen on ports the OS chose")
    print("routes: / -> b1 b2 b3, /api/ -> b1 b2, /static/ -> b3, /slow/ -> slow")
    client = await Client().open("127.0.0.1", port)
    try:
        print("one client connection, 6 requests on it (keep-alive):")
        for n in range(1, 7):
            print(f"  {(await client.get(f'/page/{n}'))[1]}")
        print("routing by path prefix, same connection:")
        for path in ["/api/users", "/static/logo.png", "/api/orders", "/static/app.css"]:
            print(f"  {(await client.get(path))[1]}")
        print("malformed requests, each on its own connection:")
        for what, data in BAD_REQUESTS.items():
            other = await Client().open("127.0.0.1", port)
            status, reason = await other.send(data)
            await other.close()
            print(f"  {what:<19} {status} {REASONS[status]}: {reason}")
        print("the first connection is still served:")
        print(f"  {(await client.get('/page/7'))[1]}")
        await servers[1].close()
        print("b2 is stopped:")
        for path in ["/api/a", "/api/b"]:
            print(f"  {(await client.get(path))[1]}")
        print("a backend that never answers (timeout 0.5 s in this demo):")
        status, reason = await client.get("/slow/report")
        print(f"  {status} {REASONS[status]}: {reason}")
        print(f"  {(await client.get('/page/8'))[1]}")
    finally:
        await client.close()
        await proxy.close()
        for server in servers:
            await server.close()


async def serve(host: str, port: int) -> None:
    servers = [NameServer(name) for name in ("b1", "b2", "b3")]
    b1, b2, b3 = [await server.start(host) for server in servers]
    proxy = L7Proxy({"/": [b1, b2, b3], "/api/": [b1, b2], "/static/": [b3]})
    port = await proxy.start(host, port)
    print(f"L7 proxy on http://{host}:{port}/ (routes /, /api/, /static/); Ctrl-C to stop",
          flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await proxy.close()
        for server in servers:
            await server.close()


async def run_client(host: str, port: int) -> None:
    client = await Client().open(host, port)
    try:
        for n in range(1, 7):
            print((await client.get(f"/page/{n}"))[1])
    finally:
        await client.close()


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
