# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""HTTP/1.1 by hand: a tiny server and client over a plain TCP socket, showing the exact bytes.

Shows that an HTTP/1.1 message is text: a request line, header lines, an empty line, then a body
whose length the Content-Length header gives (RFC 9112). The connection stays open for the next
request unless one side says ``Connection: close``. The server checks what RFC 9112 asks a
server to reject, answers a malformed request with ``400 Bad Request`` (431, 501 or 505 where
those fit) and closes that connection, since it can no longer tell where the next request
starts; other clients are not affected.

Run: python http_raw.py                      (demo: server and client on 127.0.0.1)
     python http_raw.py server --port 8080   (serve until Ctrl-C; try curl -v localhost:8080/hello)
     python http_raw.py client --port 8080   (send two requests on one connection, print the bytes)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate

MAX_HEAD = 8 * 1024  # request line + headers; more gets 431
MAX_BODY = 64 * 1024  # more gets 413
TIMEOUT = 5.0  # a client must send a whole request within this (no slowloris)

TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 5.6.2: method and field names
VERSION = re.compile(r"HTTP/(\d)\.(\d)")
REASONS = {
    200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
    413: "Content Too Large", 431: "Request Header Fields Too Large", 501: "Not Implemented",
    505: "HTTP Version Not Supported",
}


class HTTPError(Exception):
    """A request the server refuses: the status to answer with and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Request:
    method: str
    target: str
    version: tuple[int, int]
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased
    body: bytes = b""


# --8<-- [start:parse]
def parse_head(head: bytes) -> Request:
    """Parse the request line and header fields (RFC 9112 sections 3 and 5)."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise HTTPError(400, "non-ASCII bytes in the request head") from None
    request_line, *header_lines = text.removesuffix("\r\n\r\n").split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3:
        raise HTTPError(400, f"request line must be 'METHOD target HTTP/x.y': {request_line!r}")
    method, target, version = parts
    if not TOKEN.fullmatch(method):
        raise HTTPError(400, f"method {method!r} is not a token")
    if not target.startswith("/") and target != "*":
        raise HTTPError(400, f"request target {target!r} must start with '/'")
    match = VERSION.fullmatch(version)
    if not match:
        raise HTTPError(400, f"{version!r} is not an HTTP version")
    if match[1] != "1":
        raise HTTPError(505, f"HTTP/{match[1]} is not spoken here, only HTTP/1.x")
    request = Request(method, target, (1, int(match[2])))
    for line in header_lines:
        if line[:1] in (" ", "\t"):
            raise HTTPError(400, "obsolete line folding (a header line starting with a space)")
        name, colon, value = line.partition(":")
        if not colon or not TOKEN.fullmatch(name):
            raise HTTPError(400, f"malformed header line {line[:40]!r}")  # also "Host : x"
        if any(c in value for c in "\r\n\0"):
            raise HTTPError(400, f"control character in the value of {name}")
        key = name.lower()
        if key in request.headers and key in ("host", "content-length"):
            raise HTTPError(400, f"more than one {name} header")
        value = value.strip(" \t")
        if key in request.headers:  # a repeated field is one list, joined by commas (RFC 9110 5.3)
            value = f"{request.headers[key]}, {value}"
        request.headers[key] = value
    if request.version >= (1, 1) and "host" not in request.headers:
        raise HTTPError(400, "HTTP/1.1 request without a Host header")
    if "transfer-encoding" in request.headers:
        raise HTTPError(501, "Transfer-Encoding is not supported here, send Content-Length")
    length = request.headers.get("content-length", "0")
    if not length.isdigit():
        raise HTTPError(400, f"Content-Length {length[:20]!r} is not a number")
    if len(length) > len(str(MAX_BODY)) or int(length) > MAX_BODY:  # int() of 5000 digits fails
        raise HTTPError(413, f"body of {length[:20]} bytes, at most {MAX_BODY}")
    return request
# --8<-- [end:parse]


def render_response(
    status: int, body: bytes, now: float, *, close: bool = False, extra: dict | None = None
) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {REASONS[status]}",
        f"Date: {formatdate(now, usegmt=True)}",  # RFC 9110 6.6.1: a server with a clock sends it
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in (extra or {}).items()),
    ]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body


def route(request: Request) -> tuple[int, bytes, dict[str, str]]:
    if request.target == "/hello":
        if request.method not in ("GET", "HEAD"):
            return 405, b"use GET\n", {"Allow": "GET, HEAD"}
        return 200, b"hello, world\n", {}
    if request.target == "/echo" and request.method == "POST":
        return 200, request.body, {}
    return 404, f"nothing at {request.target}\n".encode(), {}


# --8<-- [start:serve]
class Server:
    """The listening socket plus the open connections, so that close() can end them all."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self.now = now
        self.connections: dict[asyncio.Task, asyncio.StreamWriter] = {}

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.server = await asyncio.start_server(self.handle, host, port, limit=MAX_HEAD)
        return self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.server.close()
        for writer in self.connections.values():
            writer.close()  # the handler's next read fails and it ends normally
        await asyncio.gather(*self.connections)
        await self.server.wait_closed()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.connections[task] = writer
        try:
            await self.serve_connection(reader, writer)
        finally:
            del self.connections[task]
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:  # HTTP/1.1 connections are persistent: one request after another
                # --8<-- [start:read]
                try:
                    async with asyncio.timeout(TIMEOUT):  # the whole request, not each read
                        head = await reader.readuntil(b"\r\n\r\n")  # at most MAX_HEAD
                        request = parse_head(head)  # checks Content-Length before use
                        length = int(request.headers.get("content-length", "0"))
                        request.body = await reader.readexactly(length)
                except asyncio.LimitOverrunError:
                    raise HTTPError(431, f"request head larger than {MAX_HEAD} bytes") from None
                # --8<-- [end:read]
                status, body, extra = route(request)
                close = (
                    request.headers.get("connection", "").lower() == "close"
                    or request.version < (1, 1)
                )
                response = render_response(status, body, self.now(), close=close, extra=extra)
                if request.method == "HEAD":  # same headers as GET, no body
                    response = response[: len(response) - len(body)]
                writer.write(response)
                await writer.drain()
                if close:
                    return
        except HTTPError as error:
            # After a bad request we cannot trust the framing: answer, then close (RFC 9112 6.3)
            body = f"{error.reason}\n".encode()
            writer.write(render_response(error.status, body, self.now(), close=True))
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass  # the client left, or stalled: drop the connection
# --8<-- [end:serve]


# --8<-- [start:client]
def read_response(
    sock: socket.socket, head_request: bool = False
) -> tuple[int, dict[str, str], bytes, bytes]:
    """Read one response: (status, headers, body, the raw bytes). Frames by Content-Length.

    RFC 9112 6.3: a response to HEAD, and a 1xx, 204 or 304, has no body whatever it says.
    """
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"connection closed after {len(raw)} bytes of response head")
        raw += chunk
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("ascii").split("\r\n")
    status = int(status_line.split(" ")[1])
    headers = {name.lower(): value.strip() for name, _, value in (x.partition(":") for x in lines)}
    no_body = head_request or status in (204, 304) or status < 200
    length = 0 if no_body else int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("connection closed in the middle of the body")
        rest += chunk
    return status, headers, rest[:length], head + b"\r\n\r\n" + rest[:length]


def exchange(host: str, port: int, requests: list[bytes]) -> list[tuple[int, bytes]]:
    """Send the requests one after the other on ONE connection; (status, raw bytes) of each."""
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        results = []
        for request in requests:
            sock.sendall(request)
            status, _, _, raw = read_response(sock, head_request=request.startswith(b"HEAD "))
            results.append((status, raw))
        return results
# --8<-- [end:client]


def show(prefix: str, raw: bytes) -> None:
    head, _, body = raw.partition(b"\r\n\r\n")
    for line in head.decode("ascii").split("\r\n"):
        print(f"{prefix} {line}\\r\\n")
    print(f"{prefix} \\r\\n")
    if body:
        print(f"{prefix} {body!r} ({len(body)} bytes of body)")


def send_raw(host: str, port: int, data: bytes) -> tuple[str, str, bool]:
    """Send any bytes; return the status line, the body, and whether the server then closed."""
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        _, _, body, raw = read_response(sock)
        closed = sock.recv(1) == b""
        return raw.split(b"\r\n")[0].decode(), body.decode().strip(), closed


DEMO_REQUESTS = [
    b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: http_raw.py\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nConnection: close\r\n"
    b"\r\nping!",
]
BAD_REQUESTS = {
    "two spaces in line": b"GET  /hello HTTP/1.1\r\nHost: x\r\n\r\n",
    "no Host": b"GET /hello HTTP/1.1\r\n\r\n",
    "space before colon": b"GET /hello HTTP/1.1\r\nHost : x\r\n\r\n",
    "folded header": b"GET /hello HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n",
    "two Content-Length": b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
    b"Content-Length: 2\r\n\r\nab",
    "HTTP/2.0 in text": b"GET /hello HTTP/2.0\r\nHost: x\r\n\r\n",
    "9000-byte header": b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
    "5000-digit length": b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000
    + b"\r\n\r\n",
}


def run_client(host: str, port: int) -> None:
    for request, (_, raw) in zip(DEMO_REQUESTS, exchange(host, port, DEMO_REQUESTS), strict=True):
        show(">", request)
        show("<", raw)


async def demo() -> None:
    fixed_clock = lambda: 1767225600.0  # noqa: E731  2026-01-01: a stable Date for the transcript
    server = Server(now=fixed_clock)
    port = await server.start()
    print("two requests on one connection to a port the OS chose (> sent, < received):")
    try:
        await asyncio.to_thread(run_client, "127.0.0.1", port)
        print("malformed requests, each on its own connection:")
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as bystander:
            bystander.sendall(b"GET /hel")  # a client in the middle of its request
            for what, data in BAD_REQUESTS.items():
                line, reason, closed = await asyncio.to_thread(send_raw, "127.0.0.1", port, data)
                print(f"  {what:<19} {line}{', connection closed' if closed else ''}")
                print(f"  {'':<19} {reason}")
            bystander.sendall(b"lo HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _, body, _ = await asyncio.to_thread(read_response, bystander)
            print(f"a client connected all along finishes its request: {status} {body!r}")
    finally:
        await server.close()


async def serve(host: str, port: int) -> None:
    server = Server()
    port = await server.start(host, port)
    print(f"serving on http://{host}:{port}/hello, Ctrl-C to stop")
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["demo", "server", "client"], default="demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    if args.mode == "server":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args.host, args.port))
    elif args.mode == "client":
        run_client(args.host, args.port)
    else:
        asyncio.run(demo())


if __name__ == "__main__":
    main()
