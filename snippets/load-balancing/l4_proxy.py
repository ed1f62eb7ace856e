# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""A layer-4 load balancer: an asyncio TCP proxy that picks a backend per *connection*.

It never parses what flows through it. For each client connection it picks the next backend
(round-robin), skipping, with a log line, any backend that refuses or does not answer the
connect, then copies bytes both ways until both sides have finished, or either fails or both
stay silent past a timeout, and then closes both connections. So every request a client sends
on one keep-alive connection reaches the same server, whatever the protocol (HTTP, WebSocket,
a database's own protocol).

The demo starts three tiny HTTP backends that answer with their own name, and the proxy in
front of them; one client connection sends 6 requests (all reach one backend), then new
connections rotate, and a backend that is down is skipped.

Run: python l4_proxy.py                      (demo on 127.0.0.1, ports the OS chose)
     python l4_proxy.py server --port 8080   (three demo backends + the proxy, until Ctrl-C;
                                              or --backend HOST:PORT, repeated, for your own)
     python l4_proxy.py client --port 8080   (6 requests on one connection: who answered?)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

CONNECT_TIMEOUT = 2.0  # a backend that does not accept within this is skipped
IDLE_TIMEOUT = 60.0  # a connection silent both ways this long is closed
CHUNK = 64 * 1024
MAX_HEAD = 8 * 1024  # the demo backends' and client's limit on an HTTP head
MAX_BODY = 64 * 1024  # the demo backends read (and ignore) a request body up to this
REQUEST_LINE = re.compile(rb"([A-Z]+) (/[!-~]*) HTTP/1\.[01]\r\n")  # visible ASCII path
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([^\r]*?)[ \t]*(?=\r\n)", re.IGNORECASE)

log = logging.getLogger("l4_proxy")


@dataclass(frozen=True)
class Backend:
    name: str
    host: str
    port: int


# --8<-- [start:proxy]
class L4Proxy:
    def __init__(
        self,
        backends: list[Backend],
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        idle_timeout: float = IDLE_TIMEOUT,
        report: Callable[[str], None] = log.warning,
    ) -> None:
        self.backends = backends
        self.next = 0  # round-robin position
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
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

    async def connect(self) -> tuple[Backend, asyncio.StreamReader, asyncio.StreamWriter] | None:
        """The next backend that accepts a connection, trying each at most once."""
        for _ in range(len(self.backends)):
            backend = self.backends[self.next % len(self.backends)]
            self.next += 1
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(backend.host, backend.port), self.connect_timeout
                )
                return backend, reader, writer
            except (OSError, TimeoutError) as error:
                why = "timed out" if isinstance(error, TimeoutError) else "was refused"
                self.report(f"l4: connecting to backend {backend.name} {why}: skipped")
        return None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.tasks.add(task)
        upstream_writer = None
        try:
            upstream = await self.connect()
            if upstream is None:
                self.report("l4: no backend accepted the connection: closing the client's")
                return
            _, upstream_reader, upstream_writer = upstream
            await self.splice(reader, writer, upstream_reader, upstream_writer)
        except asyncio.CancelledError:
            pass  # close() ends the connection; asyncio would report a cancelled handler
        finally:
            self.tasks.discard(task)
            for w in (writer, upstream_writer):
                if w is not None:
                    w.close()
                    with contextlib.suppress(ConnectionError):
                        await w.wait_closed()

    # --8<-- [end:proxy]
    # --8<-- [start:splice]
    async def splice(self, client_r, client_w, backend_r, backend_w) -> None:
        """Copy both ways. A side that has finished sending (a FIN) is passed on, and the other
        direction goes on until it finishes too; an error, a reset or the idle timeout stops both
        (the caller then closes both connections)."""
        last_seen = [asyncio.get_running_loop().time()]  # bytes moved either way at this time
        pipes = {
            asyncio.create_task(self.pipe(client_r, backend_w, last_seen)),
            asyncio.create_task(self.pipe(backend_r, client_w, last_seen)),
        }
        try:
            while pipes:
                done, pipes = await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
                if not all(pipe.result() for pipe in done):
                    return
        finally:  # also when the proxy is closed and this task cancelled
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)

    async def pipe(self, source, sink, last_seen: list[float]) -> bool:
        """Copy until the source finishes sending (True, and the FIN is passed on), or fails,
        or both directions have been silent for idle_timeout (False)."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    async with asyncio.timeout(self.idle_timeout):
                        data = await source.read(CHUNK)
                except TimeoutError:
                    if loop.time() - last_seen[0] >= self.idle_timeout:
                        return False  # silent both ways
                    continue  # only this direction is quiet (a server pushing, say): wait on
                if not data:
                    if sink.can_write_eof():
                        sink.write_eof()  # a half-close: "nothing more from my side"
                    return True
                last_seen[0] = loop.time()
                sink.write(data)
                async with asyncio.timeout(self.idle_timeout):
                    await sink.drain()  # backpressure: wait while the other side is slow
        except OSError:  # reset, timed out, or gone before the FIN could be passed (ENOTCONN)
            return False
    # --8<-- [end:splice]


# --8<-- [start:backend]
def body_length(head: bytes) -> int | None:
    """The length of the request's body, or None if its framing cannot be trusted: two
    lengths, one that is not a plain number or is too big, or a chunked body."""
    lengths = CONTENT_LENGTH.findall(head)
    if len(lengths) > 1 or b"\r\ntransfer-encoding:" in head.lower():
        return None
    length = lengths[0] if lengths else b"0"
    if not length.isdigit() or len(length) > 9 or int(length) > MAX_BODY:
        return None  # (int() of "-1" works; of 5000 digits it raises)
    return int(length)


class NameServer:
    """A tiny HTTP/1.1 backend that answers every request with its own name (keep-alive).

    Small, but strict where a mistake would desynchronise a kept-alive connection: a body is
    read by its Content-Length (or the request refused), and HEAD gets no body.
    """

    def __init__(self, name: str) -> None:
        self.name = name
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
                async with asyncio.timeout(IDLE_TIMEOUT):
                    head = await reader.readuntil(b"\r\n\r\n")
                    line, length = REQUEST_LINE.match(head), body_length(head)
                    if line is None or length is None:
                        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                     b"Connection: close\r\n\r\n")  # framing unknown: stop
                        await writer.drain()
                        return
                    await reader.readexactly(length)  # read, so it is not taken for a request
                method, path = line[1].decode(), line[2].decode()
                body = f"{self.name}: {method} {path}\n".encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(body))
                if method != "HEAD":  # HEAD: the head a GET gets, no body (RFC 9110 9.3.2)
                    writer.write(body)
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


# --8<-- [start:client]
async def get_many(host: str, port: int, paths: list[str]) -> list[str]:
    """GET each path, one after the other, on ONE keep-alive connection; the response bodies."""
    reader, writer = await asyncio.open_connection(host, port, limit=MAX_HEAD)
    try:
        bodies = []
        for path in paths:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            async with asyncio.timeout(CONNECT_TIMEOUT + 5):
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                bodies.append((await reader.readexactly(length)).decode().strip())
        return bodies
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
# --8<-- [end:client]


async def demo() -> None:
    names = ["b1", "b2", "b3"]
    servers = [NameServer(name) for name in names]
    backends = [await server.start() for server in servers]
    proxy = L4Proxy(backends, report=lambda line: print(f"  [log] {line}"))
    port = await proxy.start()
    print("backends b1, b2, b3 and the L4 proxy listen on ports the OS chose")
    try:
        print("one client connection, 6 requests on it (keep-alive):")
        for body in await get_many("127.0.0.1", port, [f"/page/{n}" for n in range(1, 7)]):
            print(f"  {body}")
        print("three new connections, one request each:")
        for n in range(2, 5):
            (body,) = await get_many("127.0.0.1", port, [f"/conn/{n}"])
            print(f"  connection {n}: {body}")
        await servers[1].close()
        print("b2 is stopped; two more connections:")
        for n in range(5, 7):
            (body,) = await get_many("127.0.0.1", port, [f"/conn/{n}"])
            print(f"  connection {n}: {body}")
    finally:
        await proxy.close()
        for server in servers:
            await server.close()


async def serve(host: str, port: int, backends: list[Backend]) -> None:
    servers = []
    if not backends:
        servers = [NameServer(name) for name in ("b1", "b2", "b3")]
        backends = [await server.start(host) for server in servers]
    proxy = L4Proxy(backends)
    port = await proxy.start(host, port)
    names = ", ".join(f"{b.name}={b.host}:{b.port}" for b in backends)
    print(f"L4 proxy on {host}:{port} -> {names}; Ctrl-C to stop", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await proxy.close()
        for server in servers:
            await server.close()


def parse_backend(text: str) -> Backend:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return Backend(text, host, int(port))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["demo", "server", "client"], default="demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--backend", type=parse_backend, action="append", default=[])
    args = parser.parse_args(argv)
    if args.mode == "server":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args.host, args.port, args.backend))
    elif args.mode == "client":
        paths = [f"/page/{n}" for n in range(1, 7)]
        for body in asyncio.run(get_many(args.host, args.port, paths)):
            print(body)
    else:
        asyncio.run(demo())


if __name__ == "__main__":
    main()
