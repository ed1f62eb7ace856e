# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "websockets~=17.4",
# ]
# ///
"""Securing WebSocket and SSE: the Origin check, tickets or cookies, and limits per connection.

A browser cannot set headers on a WebSocket or an EventSource, and it sends its cookies with
them even when a page of another site opens them: cross-site WebSocket hijacking (CSWSH). So
this chat server checks, in this order:

- the Origin: a WebSocket handshake, an event stream or a ticket request from an origin that is
  not on the allow list gets 403 (RFC 6455, section 10.2), before anything else is read;
- who it is: a session cookie (which only the Origin check makes safe), or a short-lived ticket
  passed in the URL: HMAC-signed, single use, expiring in seconds, and obtained with an
  authenticated POST /ticket. A missing, forged, expired or reused ticket gets 401;
- limits: 4 KiB per message (close 1009), 5 messages a second with bursts of 10 (close 1008),
  and 3 open connections per user, WebSocket and SSE together (close 1008, or 429).

The same room is readable as Server-Sent Events (GET /events), with the same checks and CORS
headers for the allowed origins. A login system would hand out the session cookies; here the
server makes them for named users.

Run: python secure_chat.py                  (a demo that attacks each defence)
     python secure_chat.py server --port 8005 --ws-port 8006
                                           (until Ctrl-C; prints two users' session cookies)
     python secure_chat.py client --port 8005 --ws-port 8006 --session <cookie value>
                                           (gets a ticket, joins with it, prints the room)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import http.cookies
import json
import re
import secrets
import time
import weakref
from collections import Counter
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.client import connect
from websockets.asyncio.server import Server as WebSocketServer
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import CloseCode

ORIGINS = frozenset({"https://chat.example"})  # the pages allowed to open a socket
TICKET_TTL = 20  # seconds a ticket is valid: long enough to open the socket, no more
MAX_MESSAGE = 4096  # bytes; a bigger message closes the connection with 1009
RATE, BURST = 5.0, 10  # messages a second per connection, and the burst allowed
MAX_PER_USER = 3  # open connections per user, WebSocket and SSE together
QUEUE = 100  # messages waiting for one SSE listener; a listener that falls further is cut
OPEN_TIMEOUT = 10.0  # seconds to send a request head or finish a handshake
SEND_TIMEOUT = 5.0  # seconds a listener may take to read what is sent to it
HEARTBEAT = 15.0  # seconds of silence before an event stream gets a comment
MAX_REQUEST_LINE, MAX_HEADERS, READ_LIMIT = 1024, 32, 8192
USER = re.compile(r"[a-z0-9]{1,20}")
EXPIRES = re.compile(r"[0-9]{1,12}")  # ASCII digits only: "²".isdigit() is true
CLOSE = {1000: "normal closure", 1001: "going away", 1008: "policy violation",
         1009: "message too big"}


def ended_with(websocket: ServerConnection) -> int:
    """The close code that ended a connection: the one of whoever closed first."""
    protocol = websocket.protocol
    first = protocol.close_rcvd if protocol.close_rcvd_then_sent else (
        protocol.close_sent or protocol.close_rcvd)
    return first.code if first else 1006


class AuthError(Exception):
    """Who this is could not be established: the reason says why (401)."""


# --8<-- [start:tickets]
class Tickets:
    """Short-lived, single-use tickets: "<user>.<expires>.<nonce>.<HMAC of the rest>".

    The server that checks a ticket needs only the key: no lookup, so any server of the fleet
    can. Single use needs memory, though: the nonces seen, until they expire (shared in Redis,
    SET nonce 1 NX EX ttl, when several servers accept tickets)."""

    def __init__(self, key: bytes, *, ttl: int = TICKET_TTL,
                 clock: Callable[[], float] = time.time) -> None:
        self.key, self.ttl, self.clock = key, ttl, clock
        self.used: dict[str, float] = {}  # nonce -> when its ticket expires

    def sign(self, text: str) -> str:
        mac = hmac.new(self.key, text.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def mint(self, user: str) -> str:
        body = f"{user}.{int(self.clock()) + self.ttl}.{secrets.token_hex(8)}"
        return f"{body}.{self.sign(body)}"

    def redeem(self, ticket: str) -> str:
        """The ticket's user, once; AuthError if it is malformed, forged, expired or reused."""
        parts = ticket.split(".")
        if len(parts) != 4 or not USER.fullmatch(parts[0]) or not EXPIRES.fullmatch(parts[1]):
            raise AuthError("malformed ticket")
        user, expires, nonce, mac = parts
        if not hmac.compare_digest(mac, self.sign(f"{user}.{expires}.{nonce}")):
            raise AuthError("bad ticket signature")  # constant time: no timing oracle
        now = self.clock()
        self.used = {n: end for n, end in self.used.items() if end >= now}  # forget old ones
        if int(expires) < now:
            raise AuthError("ticket expired")
        if nonce in self.used:
            raise AuthError("ticket already used")
        self.used[nonce] = int(expires)
        return user
# --8<-- [end:tickets]


class Sessions:
    """What a login system would keep: session cookie values and their users."""

    def __init__(self) -> None:
        self.users: dict[str, str] = {}

    def create(self, user: str) -> str:
        token = secrets.token_urlsafe(24)
        self.users[token] = user
        return token

    def user(self, headers: Headers | dict[str, str]) -> str | None:
        cookie = http.cookies.SimpleCookie()
        with contextlib.suppress(http.cookies.CookieError):
            cookie.load(headers.get("cookie", "") or "")
        return self.users.get(cookie["session"].value) if "session" in cookie else None


class TokenBucket:
    """RATE tokens a second, at most BURST saved up; each message takes one."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.last = float(burst), clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class HttpError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status, self.reason = status, reason


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str]]:
    """Read one HTTP/1.1 request head strictly: bounded sizes, 400 on anything malformed."""
    try:
        line = await reader.readuntil(b"\r\n")
        if len(line) > MAX_REQUEST_LINE:
            raise HttpError(400, "request line too long")
        parts = line.decode("ascii").rstrip("\r\n").split(" ")
        if len(parts) != 3 or parts[2] != "HTTP/1.1":
            raise HttpError(400, "malformed request line")
        headers: dict[str, str] = {}
        count = 0
        while (header := await reader.readuntil(b"\r\n")) != b"\r\n":
            count += 1
            name, colon, value = header.decode("ascii").partition(":")
            if not colon or not name or name != name.strip() or count > MAX_HEADERS:
                raise HttpError(400, "malformed or too many headers")
            if name.lower() in headers and name.lower() in ("origin", "cookie",
                                                             "content-length"):
                raise HttpError(400, f"two {name} headers")
            headers[name.lower()] = value.strip()
    except (asyncio.LimitOverrunError, ValueError) as error:  # ValueError: line over the limit
        raise HttpError(400, "header line too long or not ASCII") from error
    except asyncio.IncompleteReadError as error:
        raise HttpError(400, "truncated request") from error
    return parts[0], parts[1], headers


class SecureChat:
    """One room, joined by WebSocket (/chat) or read as SSE (/events), behind the checks."""

    def __init__(self, *, origins: frozenset[str] = ORIGINS, key: bytes | None = None,
                 clock: Callable[[], float] = time.time, rate: float = RATE,
                 burst: int = BURST, max_per_user: int = MAX_PER_USER,
                 open_timeout: float = OPEN_TIMEOUT, send_timeout: float = SEND_TIMEOUT,
                 heartbeat: float = HEARTBEAT) -> None:
        self.origins, self.clock = origins, clock
        self.rate, self.burst, self.max_per_user = rate, burst, max_per_user
        self.open_timeout, self.send_timeout, self.heartbeat = open_timeout, send_timeout, heartbeat
        self.tickets = Tickets(key or secrets.token_bytes(32), clock=clock)
        self.sessions = Sessions()
        self.members: dict[ServerConnection, str] = {}
        self.listeners: dict[asyncio.Queue[str], asyncio.StreamWriter] = {}  # SSE streams
        self.closed = asyncio.get_running_loop().create_future()  # done: every stream ends
        self.open: Counter[str] = Counter()  # open connections per user
        # handshakes that passed, until their handler runs (weak: one that fails later, a
        # missing Sec-WebSocket-Key say, leaves nothing behind)
        self.authenticated: weakref.WeakKeyDictionary[ServerConnection, str] = (
            weakref.WeakKeyDictionary())
        self.changed = asyncio.Condition()  # notified when a connection opens or closes

    def authenticate(self, target: str, headers: Headers | dict[str, str]) -> str:
        """A ticket in the URL, else the session cookie: the user, or AuthError."""
        ticket = parse_qs(urlsplit(target).query).get("ticket")
        if ticket:
            return self.tickets.redeem(ticket[0])
        user = self.sessions.user(headers)
        if user is None:
            raise AuthError("log in first: a ticket (?ticket=) or a session cookie")
        return user

    # --8<-- [start:handshake]
    def check_handshake(self, connection: ServerConnection, request):
        """Before the upgrade: the Origin first (RFC 6455 10.2), then who it is."""
        origins = request.headers.get_all("Origin")
        if len(origins) > 1 or (origins and origins[0] not in self.origins):
            return connection.respond(403, "origin not allowed\n")  # a page of another site
        if urlsplit(request.path).path != "/chat":
            return connection.respond(404, "not found\n")
        try:
            self.authenticated[connection] = self.authenticate(request.path, request.headers)
        except AuthError as error:
            return connection.respond(401, f"{error}\n")
        return None  # go on with the handshake
    # --8<-- [end:handshake]

    # --8<-- [start:limits]
    async def handler(self, websocket: ServerConnection) -> None:
        user = self.authenticated.pop(websocket)
        if not await self.join(user, websocket):
            await websocket.close(CloseCode.POLICY_VIOLATION, "too many connections")
            return
        bucket = TokenBucket(self.rate, self.burst, self.clock)
        closing: asyncio.Future | None = None
        try:
            async for message in websocket:  # max_size: a bigger one closes with 1009
                if closing:
                    continue  # read on and drop: the peer's close frame is behind these
                if not bucket.take():
                    closing = asyncio.ensure_future(websocket.close(
                        CloseCode.POLICY_VIOLATION, f"over {self.rate:g} messages a second"))
                elif isinstance(message, str):
                    self.broadcast(f"{user}: {message}")
        except ConnectionClosed:
            pass
        finally:
            if closing:
                await closing
            await self.left(user, websocket)
    # --8<-- [end:limits]

    async def join(self, user: str, websocket: ServerConnection | None = None) -> bool:
        """Count a connection in, unless the user has MAX_PER_USER open already."""
        async with self.changed:
            if self.open[user] >= self.max_per_user:
                return False
            self.open[user] += 1
            if websocket is not None:
                self.members[websocket] = user
                self.broadcast(f"* {user} joined")
            self.changed.notify_all()
            return True

    async def left(self, user: str, websocket: ServerConnection | None = None) -> None:
        async with self.changed:
            self.open[user] -= 1
            if websocket is not None:
                del self.members[websocket]
                code = ended_with(websocket)
                self.broadcast(f"* {user} left ({code} {CLOSE.get(code, '')})".rstrip())
            self.changed.notify_all()

    def broadcast(self, text: str) -> None:
        broadcast(self.members, text)
        for queue, writer in self.listeners.items():
            try:
                queue.put_nowait(text)
            except asyncio.QueueFull:
                writer.transport.abort()  # it stopped reading: cut it, never wait for it

    # --- HTTP: POST /ticket and GET /events ---

    async def http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        cors = b""
        try:
            async with asyncio.timeout(self.open_timeout):
                method, target, headers = await read_request(reader)
            cors = self.check_origin(headers)
            path = urlsplit(target).path
            if path == "/ticket" and method == "POST":
                await self.ticket(headers, writer, cors)
            elif path == "/events" and method in ("GET", "HEAD"):
                await self.events(method, target, headers, reader, writer, cors)
            else:
                raise HttpError(404, "not found")
        except HttpError as error:
            writer.write(f"HTTP/1.1 {error.status} {error.reason}\r\n".encode() + cors +
                         b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        except (ConnectionError, TimeoutError):
            pass  # the client vanished or stopped reading: drop it, nobody else notices
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    # --8<-- [start:http]
    def check_origin(self, headers: dict[str, str]) -> bytes:
        """403 for a page of another origin; CORS headers that let an allowed page read the
        answer with its cookies. No Origin: not a cross-origin browser request."""
        origin = headers.get("origin")
        if origin is None:
            return b""
        if origin not in self.origins:
            raise HttpError(403, "origin not allowed")
        return (f"Access-Control-Allow-Origin: {origin}\r\n"
                "Access-Control-Allow-Credentials: true\r\nVary: Origin\r\n").encode()

    async def ticket(self, headers: dict[str, str], writer: asyncio.StreamWriter,
                     cors: bytes) -> None:
        """POST /ticket: the session cookie buys a ticket, valid TICKET_TTL s, once."""
        if headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
            raise HttpError(413, "a ticket request has no body")
        user = self.sessions.user(headers)
        if user is None:
            raise HttpError(401, "log in first")
        body = json.dumps({"ticket": self.tickets.mint(user),
                           "expires_in": self.tickets.ttl}).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Cache-Control: no-store\r\n" + cors +  # never cache a credential
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)

    async def events(self, method: str, target: str, headers: dict[str, str],
                     reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     cors: bytes) -> None:
        """GET /events: the room as text/event-stream, for a ticket or a session cookie."""
        try:
            user = self.authenticate(target, headers)
        except AuthError as error:
            raise HttpError(401, str(error)) from None
        if method == "HEAD" and self.open[user] < self.max_per_user:
            pass  # the head a GET would get, and no stream
        elif method == "HEAD" or not await self.join(user):
            raise HttpError(429, "too many connections")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     b"Cache-Control: no-cache\r\n" + cors + b"Connection: close\r\n\r\n")
        if method == "GET":
            await self.stream(user, reader, writer)
    # --8<-- [end:http]

    async def stream(self, user: str, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE)
        self.listeners[queue] = writer
        gone = asyncio.ensure_future(reader.read(1))  # done when the client hangs up
        try:
            while not gone.done() and not self.closed.done():
                news = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({news, gone, self.closed}, timeout=self.heartbeat,
                                             return_when=asyncio.FIRST_COMPLETED)
                if news in done:
                    writer.write(f"data: {news.result()}\n\n".encode())
                else:
                    news.cancel()
                    if done:
                        break  # the client left, or the server closes
                    writer.write(b": heartbeat\n\n")  # keeps proxies from closing it
                async with asyncio.timeout(self.send_timeout):
                    await writer.drain()
        finally:
            gone.cancel()
            del self.listeners[queue]
            await self.left(user)

    async def start(self, port: int = 0, ws_port: int = 0) -> tuple[int, int]:
        self.http_server = await asyncio.start_server(self.http, "127.0.0.1", port,
                                                      limit=READ_LIMIT)
        self.ws_server: WebSocketServer = await serve(
            self.handler, "127.0.0.1", ws_port, process_request=self.check_handshake,
            max_size=MAX_MESSAGE, open_timeout=self.open_timeout)
        return (self.http_server.sockets[0].getsockname()[1],
                self.ws_server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        self.http_server.close()
        self.closed.set_result(None)  # every SSE stream ends
        for writer in self.listeners.values():
            writer.transport.abort()  # even one stuck in a write
        self.ws_server.close()
        await self.ws_server.wait_closed()
        async with asyncio.timeout(10), self.changed:
            await self.changed.wait_for(lambda: not self.listeners)
        await self.http_server.wait_closed()


# --- A client, and the demo's attacks ----------------------------------------------------------

async def http_request(port: int, request: str) -> tuple[str, dict[str, str], str]:
    """One request; the status line, the headers (lower-case names) and the body's start."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request.encode())
        async with asyncio.timeout(5):
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            body = (await reader.read(300)).decode()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    status, *lines = head.strip().split("\r\n")
    headers = {name.lower(): value for name, _, value in (h.partition(": ") for h in lines)}
    return status.removeprefix("HTTP/1.1 "), headers, body


async def get_ticket(port: int, session: str, origin: str | None = None) -> str:
    """POST /ticket with the session cookie, as a page's fetch(..., credentials) would."""
    extra = f"Origin: {origin}\r\n" if origin else ""
    status, _, body = await http_request(
        port, f"POST /ticket HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: session={session}\r\n"
              f"{extra}Content-Length: 0\r\n\r\n")
    if not status.startswith("200"):
        raise PermissionError(f"no ticket: {status}")
    return json.loads(body)["ticket"]


async def handshake(ws_port: int, query: str = "", *, origin: str | None = None,
                    cookie: str | None = None) -> str:
    """Open /chat and close it again; what happened, in a few words."""
    headers = {"Cookie": f"session={cookie}"} if cookie else None
    try:
        async with connect(f"ws://127.0.0.1:{ws_port}/chat{query}", origin=origin,
                           additional_headers=headers, open_timeout=5) as websocket:
            return f"101, {await recv(websocket)}"
    except InvalidStatus as error:
        response = error.response
        return f"{response.status_code} {response.body.decode().strip()}"


def closed(websocket) -> str:
    return f"closed {websocket.close_code} ({websocket.close_reason})"


async def recv(websocket) -> str:
    async with asyncio.timeout(5):
        return await websocket.recv()


async def demo() -> None:
    now = [1_000_000.0]  # a clock the demo moves: tickets expire, buckets refill on cue
    chat = SecureChat(clock=lambda: now[0])
    port, ws_port = await chat.start()
    good, evil = "https://chat.example", "https://evil.example"
    alice, bob = chat.sessions.create("alice"), chat.sessions.create("bob")
    print("HTTP (POST /ticket, GET /events) and WebSocket (/chat) on 127.0.0.1, ports the OS "
          f"chose\nallowed origin: {good}; alice and bob have session cookies (logged in)")
    try:
        print("\nWebSocket")
        ticket = await get_ticket(port, alice, good)
        print(f"  alice: POST /ticket, her cookie, Origin {good} -> a ticket, "
              f"{chat.tickets.ttl} s, single use")
        url = f"ws://127.0.0.1:{ws_port}/chat"
        async with connect(f"{url}?ticket={ticket}", origin=good) as alice_ws:
            print(f"  alice: /chat?ticket=... from {good} -> 101, {await recv(alice_ws)}")
            bob_ws = await connect(url, origin=good, additional_headers={
                "Cookie": f"session={bob}"})
            async with bob_ws:
                print(f"  bob: /chat with his cookie from {good} -> 101, {await recv(bob_ws)}")
                await recv(alice_ws)
                print("  attacks, each refused:")
                print(f"    a page on {evil} opens /chat, and the browser adds bob's cookie:\n"
                      f"      -> {await handshake(ws_port, origin=evil, cookie=bob)}")
                print(f"    alice's ticket again (copied from a log) -> "
                      f"{await handshake(ws_port, f'?ticket={ticket}', origin=good)}")
                user, rest = ticket.split(".", 1)
                print(f"    her ticket with 'alice' changed to 'bob' -> "
                      f"{await handshake(ws_port, f'?ticket=bob.{rest}', origin=good)}")
                stale = await get_ticket(port, alice, good)
                now[0] += chat.tickets.ttl + 1
                print(f"    a ticket used {chat.tickets.ttl + 1} s after it was issued -> "
                      f"{await handshake(ws_port, f'?ticket={stale}', origin=good)}")
                print("    no ticket, no cookie:\n"
                      f"      -> {await handshake(ws_port, origin=good)}")
                try:
                    await get_ticket(port, bob, evil)
                except PermissionError as error:
                    print(f"    POST /ticket from {evil} with bob's cookie:\n      -> {error}")
                await bob_ws.send("x" * (MAX_MESSAGE + 1))
                with contextlib.suppress(ConnectionClosed):
                    await recv(bob_ws)
                print(f"    bob sends {MAX_MESSAGE + 1} bytes -> {closed(bob_ws)}")
            print(f"  alice <- {await recv(alice_ws)}")
            async with connect(url, origin=good, additional_headers={
                    "Cookie": f"session={bob}"}) as flood:
                await recv(flood), await recv(alice_ws)
                for n in range(3 * BURST):
                    with contextlib.suppress(ConnectionClosed):
                        await flood.send(f"spam {n}")
                with contextlib.suppress(ConnectionClosed):
                    while True:
                        await recv(flood)
                print(f"  bob sends {3 * BURST} messages at once -> {closed(flood)}")
            got = [await recv(alice_ws) for _ in range(BURST + 1)]
            print(f"  alice <- {got[0]} ... {got[BURST - 1]} (the burst: {BURST} messages)")
            print(f"  alice <- {got[-1]}")
            extra = [await connect(url, additional_headers={"Cookie": f"session={alice}"})
                     for _ in range(MAX_PER_USER)]
            for websocket in extra[:-1]:
                await recv(websocket)
            with contextlib.suppress(ConnectionClosed):
                await recv(extra[-1])
            print(f"  alice opens {MAX_PER_USER} more, {MAX_PER_USER + 1} in all: the last "
                  f"-> {closed(extra[-1])}")
            for websocket in extra:
                await websocket.close()
            async with asyncio.timeout(5), chat.changed:  # the server has counted them out
                await chat.changed.wait_for(lambda: chat.open["alice"] == 1)

            print("\nSSE (GET /events, what an EventSource sends)")
            ticket = await get_ticket(port, alice, good)
            request = (f"GET /events?ticket={ticket} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       f"Origin: {good}\r\n\r\n")
            streams = [await asyncio.open_connection("127.0.0.1", port)]
            streams[0][1].write(request.encode())
            async with asyncio.timeout(5):
                head = (await streams[0][0].readuntil(b"\r\n\r\n")).decode().split("\r\n")
            print(f"  alice, with a ticket, from {good} -> {head[0][9:]}\n      {head[3]}")
            status, _, _ = await http_request(port, request)
            print(f"  the same URL again (EventSource reconnecting) -> {status}")
            cookie = f"Cookie: session={alice}\r\n\r\n"
            status, _, _ = await http_request(
                port, f"GET /events HTTP/1.1\r\nOrigin: {evil}\r\n{cookie}")
            print(f"  from {evil} with alice's cookie -> {status}")
            streams.append(await asyncio.open_connection("127.0.0.1", port))
            streams[1][1].write(f"GET /events HTTP/1.1\r\nOrigin: {good}\r\n{cookie}".encode())
            async with asyncio.timeout(5):
                status = (await streams[1][0].readline()).decode()[9:].strip()
            print(f"  with her cookie -> {status}; {chat.open['alice']} connections open "
                  "(1 WebSocket, 2 streams)")
            status, _, _ = await http_request(
                port, f"GET /events HTTP/1.1\r\nOrigin: {good}\r\n{cookie}")
            print(f"  one more -> {status}")
            for _, writer in streams:
                writer.close()
                await writer.wait_closed()
    finally:
        await chat.close()


async def serve_forever(port: int, ws_port: int) -> None:
    chat = SecureChat()
    await chat.start(port, ws_port)
    print(f"HTTP on 127.0.0.1:{port} (POST /ticket, GET /events), WebSocket on "
          f"127.0.0.1:{ws_port} (/chat); sessions: ann={chat.sessions.create('ann')} "
          f"ben={chat.sessions.create('ben')} (Ctrl-C to stop)", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await chat.close()


async def client(port: int, ws_port: int, session: str, limit: int = 0) -> None:
    ticket = await get_ticket(port, session)
    async with connect(f"ws://127.0.0.1:{ws_port}/chat?ticket={ticket}") as websocket:
        await websocket.send("hello")
        async for message in websocket:
            print(message, flush=True)
            limit -= 1
            if limit == 0:
                return


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", choices=["server", "client"])
    parser.add_argument("--port", type=int, default=8005)
    parser.add_argument("--ws-port", type=int, default=8006)
    parser.add_argument("--session", default="")
    args = parser.parse_args(argv)
    if args.role == "server":
        runner = serve_forever(args.port, args.ws_port)
    elif args.role == "client":
        runner = client(args.port, args.ws_port, args.session)
    else:
        runner = demo()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(runner)


if __name__ == "__main__":
    main()
