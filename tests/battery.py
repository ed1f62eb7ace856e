"""The bad-input battery: broken and hostile HTTP/1.1 clients, and every server they are run at.

``SERVERS`` lists each HTTP-speaking server of the site once: how to start it with short timeouts
(the slow-client attacks then take a fraction of a second), the normal request a well-behaved
client sends, where a request body goes, and which resource HEAD must answer like GET.
``ATTACKS`` are plain functions over blocking loopback sockets; each raises AssertionError with
a sentence when the server's answer is not a clear status or a clean close.
``tests/test_battery.py`` runs every attack against every server, then checks that a normal
client is still served and that nothing was printed or logged as a traceback.

The asyncio servers run on an event loop in a thread of their own (``LoopThread``), which
records every error the loop reports and checks that every task has ended, so that an exception
in a connection's handler fails the test instead of vanishing into a log line.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import random
import re
import select
import socket
import ssl
import struct
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from unittest import mock

from tests.support import load_snippet

SHORT = 0.25  # seconds: the head/idle timeout each server gets in the battery
WAIT = 3.0  # seconds the battery waits for an answer or a close: far more than SHORT
MAX_HEAD = 64 * 1024  # what the battery reads of a response head at most
MAX_BODY = 1024 * 1024
STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3})(?: [^\r\n]*)?")


# --- Running a server ---------------------------------------------------------------------------

class LoopThread:
    """An asyncio event loop in a thread, for the asyncio servers (the battery itself blocks).

    On exit every task must end within WAIT (the clients have all gone), and every error the
    loop reported goes to ``problems``: above all "Unhandled exception in client_connected_cb",
    which is how a connection handler that raised shows up.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        self.tasks: weakref.WeakSet[asyncio.Task] = weakref.WeakSet()

    def __enter__(self) -> LoopThread:
        self.loop = asyncio.new_event_loop()

        def task_factory(loop, coro, context=None):
            task = asyncio.Task(coro, loop=loop, context=context)
            self.tasks.add(task)
            return task

        def on_error(loop, context) -> None:  # "Task exception was never retrieved", and others
            self.problems.append(f"{context.get('message')}: {context.get('exception')!r}")

        self.loop.set_task_factory(task_factory)
        self.loop.set_exception_handler(on_error)
        self.thread = threading.Thread(target=self.loop.run_forever, name="battery-loop")
        self.thread.start()
        return self

    def run(self, coro, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _wait_for_the_rest(self) -> None:
        """Every client has gone by now: each connection's task must end of itself."""
        left = {task for task in self.tasks if task is not asyncio.current_task()}
        if left:
            _, pending = await asyncio.wait(left, timeout=WAIT)
            for task in pending:
                self.problems.append(f"still running after every client left: {task!r}")

    def __exit__(self, *exc_info) -> None:
        try:
            self.run(self._wait_for_the_rest())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()


@contextlib.contextmanager
def serving(server) -> Iterator[int]:
    """Run a socketserver (http.server) in a thread; yield its port; on exit stop it and wait
    for every connection's thread (ThreadingMixIn.server_close joins them)."""
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), name="battery-server")
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class Endpoint:
    """A running server, as the battery sees it."""

    port: int
    probe: bytes  # what a normal client sends
    probe_status: int  # and the status it gets
    body_path: str  # where a POST with a body is sent
    head_path: str | None = None  # a resource GET serves: HEAD must answer alike, with no body
    tls: ssl.SSLContext | None = None
    stream: bool = False  # the probe's answer never ends (an event stream, a WebSocket)
    answers_malformed: bool = True  # False: it closes without a status (RFC 9112 allows both)
    problems: list[str] = field(default_factory=list)  # what went wrong inside the server


@dataclass(frozen=True)
class Server:
    name: str
    run: Callable[[float], contextlib.AbstractContextManager[Endpoint]]

    def __str__(self) -> str:
        return self.name


SERVERS: list[Server] = []


def server(name: str):
    def register(function):
        SERVERS.append(Server(name, contextlib.contextmanager(function)))
        return function
    return register


def get(path: str, *extra: str) -> bytes:
    return "\r\n".join([f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *extra, "", ""]).encode()


async def stop(server) -> None:
    """Close an asyncio server (or a websockets one), on its own loop: close() is not
    thread-safe."""
    server.close()
    await server.wait_closed()


@functools.cache
def certificate_authority():
    import trustme

    return trustme.CA()


@server("http_raw")
def _http_raw(timeout: float):
    hr = load_snippet("application/http_raw.py")
    endpoint = Endpoint(0, get("/hello"), 200, "/echo", "/hello")
    with LoopThread(endpoint.problems) as loop, mock.patch.object(hr, "TIMEOUT", timeout):
        srv = hr.Server()
        endpoint.port = loop.run(srv.start())
        try:
            yield endpoint
        finally:
            loop.run(srv.close())


@server("http_semantics")
def _http_semantics(timeout: float):
    hs = load_snippet("application/http_semantics.py")
    srv = hs.Server(("127.0.0.1", 0), hs.Handler)
    srv.store = hs.Store()
    with mock.patch.object(hs.Handler, "timeout", timeout), serving(srv) as port:
        yield Endpoint(port, get("/items/1"), 200, "/orders", "/items/1")


@server("rest_bookstore")
def _rest_bookstore(timeout: float):
    rest = load_snippet("application/rest_bookstore.py")
    with mock.patch.object(rest.Handler, "timeout", timeout), serving(rest.make_server()) as port:
        yield Endpoint(port, get("/authors/1"), 200, "/authors", "/authors/1")


GRAPHQL_QUERY = b'{"query": "{ author(id: 1) { name } }"}'


@server("graphql_bookstore")
def _graphql_bookstore(timeout: float):
    gql = load_snippet("application/graphql_bookstore.py")
    probe = (b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             b"Content-Length: %d\r\n\r\n%s" % (len(GRAPHQL_QUERY), GRAPHQL_QUERY))
    with mock.patch.object(gql.Handler, "timeout", timeout), serving(gql.make_server()) as port:
        yield Endpoint(port, probe, 200, "/graphql", "/graphql")


@server("http_tls")
def _http_tls(timeout: float):
    tls = load_snippet("application/http_tls.py")
    ca = certificate_authority()
    client = ssl.create_default_context()
    ca.configure_trust(client)
    with mock.patch.object(tls.Handler, "timeout", timeout), \
            mock.patch.object(tls, "HANDSHAKE_TIMEOUT", timeout):
        srv = tls.TLSServer(("127.0.0.1", 0), tls.server_context(ca, "localhost", "127.0.0.1"))
        with serving(srv) as port:
            yield Endpoint(port, get("/hello"), 200, "/hello", "/hello", tls=client)


@server("sse")
def _sse(timeout: float):
    sse = load_snippet("realtime/sse.py")
    endpoint = Endpoint(0, get("/events"), 200, "/events", "/events", stream=True)
    with LoopThread(endpoint.problems) as loop:
        hub = sse.EventServer(heartbeat=timeout)
        hub.head_timeout = timeout

        async def start():
            await hub.publish("hello")
            return await asyncio.start_server(hub.handle, "127.0.0.1", 0, limit=sse.READ_LIMIT)

        srv = loop.run(start())
        endpoint.port = srv.sockets[0].getsockname()[1]
        try:
            yield endpoint
        finally:
            loop.run(stop(srv))


@server("polling")
def _polling(timeout: float):
    polling = load_snippet("realtime/polling.py")
    endpoint = Endpoint(0, get("/messages?after=0"), 200, "/messages", "/messages?after=0")
    with LoopThread(endpoint.problems) as loop, \
            mock.patch.object(polling, "IDLE_TIMEOUT", timeout):
        hub = polling.PollServer()
        srv = loop.run(asyncio.start_server(hub.handle, "127.0.0.1", 0,
                                            limit=polling.READ_LIMIT))
        endpoint.port = srv.sockets[0].getsockname()[1]
        try:
            yield endpoint
        finally:
            loop.run(stop(srv))


async def start_chat(chat, room):
    return await chat.serve_chat(room, "127.0.0.1", 0)  # the snippet's own server settings


WEBSOCKET_UPGRADE = get("/?name=probe", "Upgrade: websocket", "Connection: Upgrade",
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13")


@server("websocket_chat")
def _websocket_chat(timeout: float):
    chat = load_snippet("realtime/websocket_chat.py")
    endpoint = Endpoint(0, WEBSOCKET_UPGRADE, 101, "/", None, stream=True,
                        answers_malformed=False)  # websockets closes on what it cannot parse
    with LoopThread(endpoint.problems) as loop, mock.patch.object(chat, "OPEN_TIMEOUT", timeout):
        room = chat.ChatRoom()

        srv = loop.run(start_chat(chat, room))
        endpoint.port = srv.sockets[0].getsockname()[1]
        try:
            yield endpoint
        finally:
            loop.run(stop(srv))


@server("fanout (SSE)")
def _fanout(timeout: float):
    fanout = load_snippet("realtime/fanout.py")
    endpoint = Endpoint(0, get("/events"), 200, "/events", "/events", stream=True)
    with LoopThread(endpoint.problems) as loop:
        async def start():
            srv = fanout.Server("A", battery_redis(), heartbeat=timeout, open_timeout=timeout,
                                send_timeout=timeout)
            await srv.start()
            await srv.feed.publish("hello")
            return srv

        srv = loop.run(start())
        endpoint.port = srv.http.sockets[0].getsockname()[1]
        try:
            yield endpoint
        finally:
            loop.run(srv.drain())


@server("fanout (WebSocket)")
def _fanout_websocket(timeout: float):
    fanout = load_snippet("realtime/fanout.py")
    upgrade = WEBSOCKET_UPGRADE.replace(b"/?name=probe", b"/chat?user=probe")
    endpoint = Endpoint(0, upgrade, 101, "/chat", None, stream=True, answers_malformed=False)
    with LoopThread(endpoint.problems) as loop:
        async def start():
            srv = fanout.Server("A", battery_redis(), open_timeout=timeout, send_timeout=timeout)
            await srv.start()
            return srv

        srv = loop.run(start())
        endpoint.port = srv.ws.sockets[0].getsockname()[1]
        try:
            yield endpoint
        finally:
            loop.run(srv.drain())


@server("secure_chat (WebSocket)")
def _secure_chat_websocket(timeout: float):
    sc = load_snippet("realtime/secure_chat.py")
    endpoint = Endpoint(0, b"", 101, "/chat", None, stream=True, answers_malformed=False)
    with LoopThread(endpoint.problems) as loop:
        async def start():
            chat = sc.SecureChat(open_timeout=timeout, send_timeout=timeout, max_per_user=1000)
            token = chat.sessions.create("probe")
            return chat, token, (await chat.start())[1]

        chat, token, endpoint.port = loop.run(start())
        endpoint.probe = WEBSOCKET_UPGRADE.replace(b"/?name=probe", b"/chat").replace(
            b"\r\n\r\n", f"\r\nCookie: session={token}\r\n\r\n".encode(), 1)
        try:
            yield endpoint
        finally:
            loop.run(chat.close())


@server("secure_chat (tickets, SSE)")
def _secure_chat(timeout: float):
    sc = load_snippet("realtime/secure_chat.py")
    # unauthenticated, a normal client gets 401: what HEAD must match too
    endpoint = Endpoint(0, get("/events"), 401, "/ticket", "/events")
    with LoopThread(endpoint.problems) as loop:
        async def start():
            chat = sc.SecureChat(open_timeout=timeout, send_timeout=timeout, heartbeat=timeout)
            return chat, (await chat.start())[0]

        chat, endpoint.port = loop.run(start())
        try:
            yield endpoint
        finally:
            loop.run(chat.close())


@contextlib.contextmanager
def _cdn(timeout: float):
    cdn = load_snippet("regionalization/cdn_edge.py")
    with mock.patch.object(cdn, "CLIENT_TIMEOUT", timeout):
        origin = cdn.Server(("127.0.0.1", 0), cdn.origin_handler(cdn.Origin()))
        with serving(origin) as origin_port:
            cache = cdn.EdgeCache(("127.0.0.1", origin_port))
            with serving(cdn.Server(("127.0.0.1", 0), cdn.edge_handler(cache))) as edge_port:
                yield origin_port, edge_port


@server("cdn_edge (edge)")
def _cdn_edge(timeout: float):
    with _cdn(timeout) as (_, edge_port):
        yield Endpoint(edge_port, get("/news"), 200, "/news", "/news")


@server("cdn_edge (origin)")
def _cdn_origin(timeout: float):
    with _cdn(timeout) as (origin_port, _):
        yield Endpoint(origin_port, get("/news"), 200, "/news", "/news")


@server("l4_proxy")
def _l4_proxy(timeout: float):
    l4 = load_snippet("load-balancing/l4_proxy.py")
    endpoint = Endpoint(0, get("/page"), 200, "/page", "/page")
    with LoopThread(endpoint.problems) as loop, mock.patch.object(l4, "IDLE_TIMEOUT", timeout):
        names = [l4.NameServer("b1"), l4.NameServer("b2")]
        backends = [loop.run(name.start()) for name in names]
        proxy = l4.L4Proxy(backends, idle_timeout=timeout)
        endpoint.port = loop.run(proxy.start())
        try:
            yield endpoint
        finally:
            loop.run(proxy.close())
            for name in names:
                loop.run(name.close())


@server("l7_proxy")
def _l7_proxy(timeout: float):
    l7 = load_snippet("load-balancing/l7_proxy.py")
    endpoint = Endpoint(0, get("/page"), 200, "/page", "/page")
    with LoopThread(endpoint.problems) as loop, \
            mock.patch.object(l7, "CLIENT_TIMEOUT", timeout):
        names = [l7.NameServer("b1"), l7.NameServer("b2")]
        backends = [loop.run(name.start()) for name in names]
        proxy = l7.L7Proxy({"/": backends}, client_timeout=timeout, report=lambda line: None)
        endpoint.port = loop.run(proxy.start())
        try:
            yield endpoint
        finally:
            loop.run(proxy.close())
            for name in names:
                loop.run(name.close())


@server("idempotency_keys")
def _idempotency_keys(timeout: float):
    idem = load_snippet("failures/idempotency_keys.py")
    srv = idem.PaymentsServer(("127.0.0.1", 0), idem.IdempotencyStore())
    with mock.patch.object(idem.PaymentsHandler, "timeout", timeout), serving(srv) as port:
        yield Endpoint(port, get("/payments"), 200, "/payments", "/payments")


@server("resilient_client")
def _resilient_client(timeout: float):
    rc = load_snippet("failures/resilient_client.py")
    srv = rc.FlakyServer(("127.0.0.1", 0))
    with mock.patch.object(rc.FlakyHandler, "timeout", timeout), serving(srv) as port:
        yield Endpoint(port, get("/"), 200, "/", "/")


@server("rate_limiters")
def _rate_limiters(timeout: float):
    rl = load_snippet("failures/rate_limiters.py")
    endpoint = Endpoint(0, get("/"), 200, "/", "/")
    with LoopThread(endpoint.problems) as loop, mock.patch.object(rl, "IDLE_TIMEOUT", timeout):
        srv = rl.RateLimitedServer(rl.TokenBucket(1000, 10))  # the battery is not a flood
        endpoint.port = loop.run(srv.start())
        try:
            yield endpoint
        finally:
            loop.run(srv.close())


@functools.cache
def battery_redis() -> int:
    """One redis-server for every attack on a Redis-backed server (starting one per attack
    cost 0.14 s each), stopped when the test process exits."""
    from tests.support import redis_server

    running = redis_server()
    port = running.__enter__()
    atexit.register(running.__exit__, None, None, None)
    return port


@server("redis_rate_limit")
def _redis_rate_limit(timeout: float):
    rrl = load_snippet("failures/redis_rate_limit.py")
    endpoint = Endpoint(0, get("/"), 200, "/", "/")
    with LoopThread(endpoint.problems) as loop, mock.patch.object(rrl, "IDLE_TIMEOUT", timeout):
        store = rrl.connect(battery_redis())
        srv = rrl.SharedLimitServer(rrl.AtomicLimit(store, 1000, 10))
        endpoint.port = loop.run(srv.start())
        try:
            yield endpoint
        finally:
            loop.run(srv.close())
            loop.run(store.aclose())


@server("one_request (L4 balancer, TLS passed through to two backends)")
def _one_request(timeout: float):
    one = load_snippet("fundamentals/one_request.py")
    client = ssl.create_default_context()
    certificate_authority().configure_trust(client)
    endpoint = Endpoint(0, get("/page"), 200, "/page", "/page", tls=client)
    # the battery's client asks for "localhost" (SNI), so the balancer routes that name
    context = one.server_context(certificate_authority(), "localhost")
    with mock.patch.object(one.Handler, "timeout", timeout), \
            mock.patch.object(one, "HANDSHAKE_TIMEOUT", timeout), \
            serving(one.Backend("b1", context)) as b1, \
            serving(one.Backend("b2", context)) as b2, \
            LoopThread(endpoint.problems) as loop:
        upstreams = [one.Upstream("b1", "127.0.0.1", b1), one.Upstream("b2", "127.0.0.1", b2)]
        balancer = one.Balancer({"localhost": upstreams}, hello_timeout=timeout,
                                idle_timeout=timeout)
        endpoint.port = loop.run(balancer.start())
        try:
            yield endpoint
        finally:
            loop.run(balancer.close())


@server("load_shedding")
def _load_shedding(timeout: float):
    ls = load_snippet("failures/load_shedding.py")
    endpoint = Endpoint(0, get("/fast"), 200, "/fast", "/fast")
    with LoopThread(endpoint.problems) as loop:
        srv = ls.SheddingServer(head_timeout=timeout)
        endpoint.port = loop.run(srv.start())
        try:
            yield endpoint
        finally:
            loop.run(srv.close())


@server("health_checks")
def _health_checks(timeout: float):
    hc = load_snippet("load-balancing/health_checks.py")
    endpoint = Endpoint(0, get("/page"), 200, "/page", "/page")
    with LoopThread(endpoint.problems) as loop:
        names = [hc.DemoBackend("b1"), hc.DemoBackend("b2")]
        backends = [loop.run(name.start()) for name in names]
        quiet = lambda line: None  # noqa: E731
        lb = hc.HealthCheckedBalancer(
            backends, checks=hc.ActiveHealthCheck(backends, report=quiet),
            outliers=hc.OutlierDetection(backends, report=quiet), client_timeout=timeout,
            report=quiet)
        endpoint.port = loop.run(lb.start())
        try:
            yield endpoint
        finally:
            loop.run(lb.close())
            for name in names:
                loop.run(name.crash())


@server("draining (balancer)")
def _draining_balancer(timeout: float):
    dr = load_snippet("load-balancing/draining.py")
    endpoint = Endpoint(0, get("/page"), 200, "/page", "/page")
    with LoopThread(endpoint.problems) as loop:
        backends = [dr.Backend("b1", idle_timeout=timeout), dr.Backend("b2", idle_timeout=timeout)]
        addresses = [loop.run(backend.start()) for backend in backends]
        lb = dr.Balancer(addresses, interval=0.02, client_timeout=timeout,
                         report=lambda line: None)
        endpoint.port = loop.run(lb.start())
        try:
            for address in addresses:
                loop.run(lb.wait_for(address.name, in_rotation=True))
            yield endpoint
        finally:
            loop.run(lb.close())
            for backend in backends:
                loop.run(backend.kill())


@server("draining (backend)")
def _draining_backend(timeout: float):
    dr = load_snippet("load-balancing/draining.py")
    endpoint = Endpoint(0, get("/page"), 200, "/orders", "/page")
    with LoopThread(endpoint.problems) as loop:
        backend = dr.Backend("b1", idle_timeout=timeout)
        endpoint.port = loop.run(backend.start()).port
        try:
            yield endpoint
        finally:
            loop.run(backend.kill())


# --- A client that can misbehave -----------------------------------------------------------------

@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    version: bytes = b"HTTP/1.1"

    @property
    def closes(self) -> bool:
        """The server says it closes the connection after this response (RFC 9112 9.3)."""
        connection = self.headers.get("connection", "").lower()
        return connection == "close" or (self.version == b"HTTP/1.0" and
                                         connection != "keep-alive")


class Peer:
    """One client connection (TLS if the server speaks it), with bounded, timed reads."""

    def __init__(self, endpoint: Endpoint, *, handshake: bool = True) -> None:
        raw = socket.create_connection(("127.0.0.1", endpoint.port), timeout=WAIT)
        self.sock = raw
        if endpoint.tls and handshake:
            try:
                self.sock = endpoint.tls.wrap_socket(raw, server_hostname="localhost")
            except BaseException:
                raw.close()
                raise
        self.buffer = b""

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        """Read more; False when the server has closed (or reset) the connection."""
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            return False
        except ssl.SSLError as error:  # a TLS alert: the server refused this connection
            raise AssertionError(f"TLS error from the server: {error}") from None
        self.buffer += chunk
        return bool(chunk)

    def response(self, head_only: bool = False) -> Response | None:
        """The next response, or None if the server closed before sending a byte of it."""
        while b"\r\n\r\n" not in self.buffer:
            if len(self.buffer) > MAX_HEAD:
                raise AssertionError("a response head over 64 KiB")
            try:
                more = self._fill()
            except TimeoutError:
                raise AssertionError(f"no answer within {WAIT} s (got {self.buffer[:60]!r})"
                                     ) from None
            if not more:
                if self.buffer:
                    raise AssertionError(f"closed in the middle of a head: {self.buffer[:80]!r}")
                return None
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *lines = head.split(b"\r\n")
        match = STATUS_LINE.fullmatch(status_line)
        if not match:
            raise AssertionError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
        headers = {}
        for line in lines:
            name, colon, value = line.partition(b":")
            if not colon:
                raise AssertionError(f"malformed response header {line[:80]!r}")
            headers[name.decode("latin-1").lower()] = value.decode("latin-1").strip()
        status = int(match[1])
        if status < 200 and status != 101:
            return self.response(head_only)  # 100 Continue and the like: the answer follows
        version = status_line[:8]
        if head_only or status in (101, 204, 304):
            return Response(status, headers, b"", version)
        if "transfer-encoding" in headers:
            raise AssertionError("a chunked response (none of these servers sends one)")
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit() or int(length) > MAX_BODY:
                raise AssertionError(f"bad Content-Length in a response: {length!r}")
            while len(self.buffer) < int(length):
                if not self._fill():
                    raise AssertionError("the response body was cut short")
        else:  # the body runs to the end of the connection
            while len(self.buffer) <= MAX_BODY and self._fill():
                pass
            length = len(self.buffer)
        body, self.buffer = self.buffer[: int(length)], self.buffer[int(length):]
        return Response(status, headers, body, version)

    def closed_within(self, seconds: float) -> bytes:
        """Wait for the server to close; what it sent before. Fails if it is still open."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"the server kept the connection open for {seconds} s")
            self.sock.settimeout(left)
            try:
                if not self._fill():
                    return self.buffer
            except TimeoutError:
                continue

    def reset(self) -> None:
        """Close with a TCP reset (SO_LINGER 0), as a crashed client or a middlebox does."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def probe(endpoint: Endpoint) -> None:
    """A normal client, on a new connection, gets its normal answer."""
    with Peer(endpoint) as peer:
        peer.send(endpoint.probe)
        response = peer.response(head_only=endpoint.stream)
        assert response is not None, "a normal client got no answer"
        assert response.status == endpoint.probe_status, (
            f"a normal client got {response.status}, not {endpoint.probe_status}")


# --- The attacks ---------------------------------------------------------------------------------

ATTACKS: dict[str, Callable[[Endpoint], None]] = {}


def attack(name: str):
    def register(function):
        ATTACKS[name] = function
        return function
    return register


def refused(endpoint: Endpoint, data: bytes, *, must_answer: bool = False) -> Response | None:
    """Send ``data``; the server must answer 4xx/5xx and close, or just close."""
    with Peer(endpoint) as peer:
        with contextlib.suppress(ConnectionError, ssl.SSLError):  # refused before read in full
            peer.send(data)
        response = peer.response()
        if response is None:
            assert not (must_answer and endpoint.answers_malformed), (
                "the server closed without a status")
            return None
        assert 400 <= response.status < 500 or response.status in (501, 505), (
            f"answered {response.status} to a request it should refuse")
        # it cannot know where the next request starts: it must close, and answer nothing more
        assert peer.closed_within(WAIT) == b"", "the rest of the request was read as another"
        return response


def answered(endpoint: Endpoint, data: bytes) -> None:
    """Send ``data``; any well-formed answer will do (a server may ignore what is odd), or a
    close. What fails is a crash: no answer at all, or a traceback inside the server."""
    with Peer(endpoint) as peer:
        peer.send(data)
        response = peer.response(head_only=endpoint.stream)
        assert response is not None or not endpoint.answers_malformed, "closed without an answer"


def post(path: str, body: bytes, *headers: str) -> bytes:
    head = "\r\n".join([f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Idempotency-Key: k1",
                        "Content-Type: application/json", *headers, "", ""])
    return head.encode("latin-1") + body


@attack("garbage bytes")
def _garbage(endpoint: Endpoint) -> None:
    noise = random.Random(13).randbytes(600)
    refused(endpoint, noise + b"\r\n\r\n")


@attack("not a request line")
def _not_a_request_line(endpoint: Endpoint) -> None:
    refused(endpoint, b"HELLO\r\n\r\n")


@attack("HTTP/2 preface on HTTP/1.1")
def _http2_preface(endpoint: Endpoint) -> None:
    refused(endpoint, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")


@attack("control byte in the target")
def _control_byte(endpoint: Endpoint) -> None:
    answered(endpoint, get("/a\x01b"))


@attack("non-ASCII target")
def _non_ascii(endpoint: Endpoint) -> None:
    answered(endpoint, b"GET /caf\xc3\xa9\xff HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")


@attack("request line of 70 KB")
def _long_request_line(endpoint: Endpoint) -> None:
    refused(endpoint, get("/" + "a" * 70_000))


@attack("header line of 70 KB")
def _long_header(endpoint: Endpoint) -> None:
    refused(endpoint, get("/", "X-Big: " + "b" * 70_000))


@attack("1000 header lines")
def _many_headers(endpoint: Endpoint) -> None:
    refused(endpoint, get("/", *(f"X-Header-{n}: {n}" for n in range(1000))))


@attack("Content-Length: abc")
def _length_not_a_number(endpoint: Endpoint) -> None:
    refused(endpoint, post(endpoint.body_path, b"{}", "Content-Length: abc"), must_answer=True)


@attack("Content-Length: -5")
def _negative_length(endpoint: Endpoint) -> None:
    refused(endpoint, post(endpoint.body_path, b"{}", "Content-Length: -5"), must_answer=True)


@attack("Content-Length: -1 and a body that never ends")
def _minus_one(endpoint: Endpoint) -> None:
    # read(-1) means "to the end of the stream": a server that believes it reads for ever
    data = post(endpoint.body_path, b"[" + b"1," * 20_000, "Content-Length: -1")
    refused(endpoint, data, must_answer=True)


@attack("Content-Length of 5000 digits")
def _huge_length(endpoint: Endpoint) -> None:
    refused(endpoint, post(endpoint.body_path, b"{}", "Content-Length: " + "9" * 5000),
            must_answer=True)


@attack("Content-Length of 20 digits")
def _big_length(endpoint: Endpoint) -> None:
    refused(endpoint, post(endpoint.body_path, b"{}", "Content-Length: " + "9" * 20),
            must_answer=True)


@attack("two different Content-Length")
def _two_lengths(endpoint: Endpoint) -> None:
    refused(endpoint, post(endpoint.body_path, b"{}", "Content-Length: 2", "Content-Length: 1"))


@attack("chunked body, then another request")
def _chunked(endpoint: Endpoint) -> None:
    """Either the chunked body is decoded and the next request is served, or it is refused
    and the connection closed: never a body left on the connection to be read as a request."""
    chunked = post(endpoint.body_path, b"2\r\n{}\r\n0\r\n\r\n", "Transfer-Encoding: chunked")
    with Peer(endpoint) as peer:
        peer.send(chunked + endpoint.probe)
        first = peer.response()
        if first is None:
            return  # closed: refused without a word, but nothing misread
        if first.status >= 400 or first.closes:
            assert peer.closed_within(WAIT) == b"", "the chunked body was read as a request"
            return
        second = peer.response(head_only=endpoint.stream)
        assert second is not None and second.status == endpoint.probe_status, (
            f"after a chunked request answered {first.status}, the next request got "
            f"{second and second.status}: the body was read as a request")


@attack("JSON nested 9000 deep")
def _deep_json(endpoint: Endpoint) -> None:
    body = b"[" * 9000
    with Peer(endpoint) as peer:
        peer.send(post(endpoint.body_path, body, f"Content-Length: {len(body)}"))
        response = peer.response()
        if response is None:
            assert not endpoint.answers_malformed, "no answer to a deeply nested JSON body"
            return
        assert response.status < 500 or response.status == 501, f"answered {response.status}"


@attack("HEAD answers like GET, without a body")
def _head(endpoint: Endpoint) -> None:
    if endpoint.head_path is None:
        return  # nothing here for GET to fetch (a WebSocket endpoint)
    with Peer(endpoint) as peer:
        peer.send(get(endpoint.head_path))
        expected = peer.response(head_only=endpoint.stream)
    with Peer(endpoint) as peer:
        request = get(endpoint.head_path).replace(b"GET", b"HEAD", 1)
        peer.send(request + get(endpoint.head_path))
        head = peer.response(head_only=True)
        assert head is not None and expected is not None
        assert head.status == expected.status, f"HEAD got {head.status}, GET {expected.status}"
        if head.closes:
            assert peer.closed_within(WAIT) == b"", "HEAD answered with a body"
            return
        after = peer.response(head_only=endpoint.stream)
        assert after is not None and after.status == expected.status, (
            "the request after HEAD was misread: HEAD's answer had a body")


@attack("idle, half-sent and stalled clients")
def _slow_clients(endpoint: Endpoint) -> None:
    """Each is cut off after the server's timeout (SHORT), all three at once."""
    peers = [Peer(endpoint, handshake=False), Peer(endpoint), Peer(endpoint)]
    try:
        peers[1].send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
        peers[2].send(post(endpoint.body_path, b'{"a":', "Content-Length: 100"))
        for peer in peers:
            data = peer.closed_within(WAIT)  # a refusal first (408, or 501 for POST) is fine
            assert not data or re.match(rb"HTTP/1\.[01] [45]\d\d ", data), data[:60]
    finally:
        for peer in peers:
            peer.sock.close()


@attack("client resets mid-response")
def _reset(endpoint: Endpoint) -> None:
    with Peer(endpoint) as peer:
        peer.send(endpoint.probe)
        assert peer.sock.recv(1), "no response started"
        peer.reset()


@attack("client leaves before the response")
def _leave(endpoint: Endpoint) -> None:
    with Peer(endpoint) as peer:
        peer.send(endpoint.probe)
        peer.reset()


@attack("burst of 100 connections")
def _burst(endpoint: Endpoint) -> None:
    """All connect at once: with a listen backlog of 5 most SYNs are dropped, and each of those
    clients waits for its retransmission (1 s, then 3 s, 7 s...)."""
    sockets = [socket.socket() for _ in range(100)]
    try:
        for sock in sockets:
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", endpoint.port))
        poller = select.poll()
        for sock in sockets:
            poller.register(sock, select.POLLOUT)  # writable: the handshake is done
        pending = {sock.fileno() for sock in sockets}
        deadline = time.monotonic() + 0.9  # before the first SYN retransmission, at 1 s
        while pending:
            left = max(0.0, deadline - time.monotonic())  # once more at 0: a late wake-up
            for fd, _ in poller.poll(left * 1000):
                pending.discard(fd)
                poller.unregister(fd)
            if not left:
                break
        assert not pending, f"{len(pending)} of 100 clients not connected after 0.9 s"
        errors = [sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) for sock in sockets]
        assert not any(errors), f"connect errors: {sorted(set(errors))}"
    finally:
        for sock in sockets:
            sock.close()
