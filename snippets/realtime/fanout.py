# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "redis~=8.1",
#     "websockets~=17.4",
# ]
# ///
"""Fan-out across servers: WebSocket and SSE servers behind a balancer, sharing messages in Redis.

Each server holds its own clients' sockets; what they say to each other goes through Redis, so a
message sent to server A reaches a socket that server B holds. Two ways, side by side:

- the chat (WebSocket, /chat) uses Redis pub/sub: every server subscribes to the room's channel
  and passes each message to its own sockets. It is fire and forget: a server that is not
  subscribed at that instant (its Redis connection dropped) never gets the message.
- the feed (SSE at /events, and WebSocket at /feed) uses a Redis stream: an ordered log whose
  entry ids every server shares, so a client that reconnects to ANY server with its last id
  (SSE's Last-Event-ID) resumes with nothing lost and nothing repeated.

A registry in Redis says which servers hold a user's sockets, for direct messages. A server that
drains (a deploy) stops accepting, closes its WebSockets with 1012 (Service Restart) and ends its
SSE streams with a `reconnect` event and a jittered `retry:`; the clients come back through the
balancer to the other server and resume from the stream.

Needs Redis: Debian's redis-server (`apt-get install redis-server`, or `make redis` in the
repository). The demo starts its own redis-server on 127.0.0.1 at a free port, saving nothing,
and stops it at the end; the demo's servers are asyncio servers in one process.

Run: python fanout.py             (a demo on 127.0.0.1: servers A and B, a balancer, Redis)
     python fanout.py server --port 8003 --sse-port 8004 --name A --redis-port 6379
                                  (one server, until Ctrl-C; start redis-server first)
     python fanout.py client --port 8003 --user ann   (chat: says hello, prints, reconnects)
     python fanout.py events --port 8004              (follows the SSE feed, resuming by id)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import re
import shutil
import socket
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from urllib.parse import parse_qs, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server as WebSocketServer
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.frames import CloseCode

ROOM = "room"  # the pub/sub channel of the chat room: every server subscribes to it
STREAM = "feed"  # the Redis stream behind SSE and /feed: one ordered log for all servers
STREAM_MAXLEN = 10_000  # entries Redis keeps (about): how far back a client can resume
BATCH = 500  # entries per XREAD or XRANGE
BLOCK_MS = 1_000  # how long one XREAD waits for news before it asks again
LEASE = 30.0  # seconds a registry entry lives unless its server renews it
REDIS_TIMEOUT = 5.0  # seconds for a Redis command (longer than an XREAD's block)
REDIS_CONNECTIONS = 20  # per server: a crowd of joins waits for one, never opens hundreds
MAX_MESSAGE = 4096  # bytes in one WebSocket message; a bigger one closes with 1009
MAX_BACKLOG = 256 * 1024  # bytes queued for one socket; beyond that it is too slow to keep
SEND_TIMEOUT = 5.0  # seconds a client may take to read what is sent to it
OPEN_TIMEOUT = 10.0  # seconds to finish a WebSocket or HTTP request head
IDLE_TIMEOUT = 60.0  # the balancer closes a connection silent both ways this long
BACKLOG = 1024  # connections waiting to be accepted: a drained server's crowd comes at once
MAX_REQUEST_LINE, MAX_HEADERS, READ_LIMIT = 1024, 32, 8192  # an HTTP head's limits
USER = re.compile(r"[a-z0-9]{1,20}")
STREAM_ID = re.compile(r"([0-9]{1,15})-([0-9]{1,10})")  # <milliseconds>-<sequence>

log = logging.getLogger("fanout")


def stream_key(entry_id: str) -> tuple[int, int]:
    """A stream id as numbers, so ids compare in the stream's order ("9-0" < "10-0")."""
    match = STREAM_ID.fullmatch(entry_id)
    if not match:
        raise ValueError(f"not a stream id: {entry_id[:40]!r}")
    return int(match[1]), int(match[2])


# --8<-- [start:registry]
class Registry:
    """Which servers hold a user's sockets, kept in Redis: one sorted set per user, whose members
    are servers and whose scores are the times their leases end. A server renews its leases
    every LEASE/3 s; one that crashes stops, and its entries lapse by themselves. (A hash would
    do if a field could expire alone: Redis has HEXPIRE only since 7.4.)"""

    def __init__(self, redis: aioredis.Redis, server: str, *, lease: float = LEASE,
                 clock: Callable[[], float] = time.time) -> None:
        self.redis, self.server, self.lease, self.clock = redis, server, lease, clock
        self.local: Counter[str] = Counter()  # user -> sockets this server holds

    async def add(self, user: str) -> None:
        self.local[user] += 1
        if self.local[user] == 1:
            await self.renew([user])

    async def remove(self, user: str) -> None:
        self.local[user] -= 1
        if self.local[user] == 0:
            del self.local[user]
            await self.redis.zrem(f"sockets:{user}", self.server)

    async def renew(self, users: Iterable[str] | None = None) -> None:
        now = self.clock()
        async with self.redis.pipeline(transaction=False) as pipe:
            for user in list(self.local) if users is None else users:
                key = f"sockets:{user}"
                pipe.zadd(key, {self.server: now + self.lease})
                pipe.zremrangebyscore(key, "-inf", now)  # the lapsed leases of dead servers
                pipe.expire(key, int(self.lease) + 1)  # and the key, once nobody renews it
            await pipe.execute()

    async def where(self, user: str) -> list[str]:
        """The servers whose lease on this user has not ended."""
        return await self.redis.zrange(f"sockets:{user}", self.clock(), "+inf", byscore=True)
# --8<-- [end:registry]


def deliver(members: Iterable[ServerConnection], text: str) -> None:
    """Queue a message to each socket without waiting for any (websockets.broadcast); a socket
    whose backlog passes MAX_BACKLOG has stopped reading and is cut off, so it never grows."""
    members = list(members)
    for member in members:
        if member.transport.get_write_buffer_size() > MAX_BACKLOG:
            member.transport.abort()
    broadcast(members, text)


# --8<-- [start:chat]
class Chat:
    """The room over Redis pub/sub. A message sent to any server is PUBLISHed once; every
    server is subscribed and passes it to its own sockets. A direct message goes only to the
    servers the registry names, on their own channels."""

    def __init__(self, name: str, redis: aioredis.Redis, registry: Registry,
                 report: Callable[[str], None], resubscribe_after: float = 1.0) -> None:
        self.name, self.redis, self.registry, self.report = name, redis, registry, report
        self.resubscribe_after = resubscribe_after
        self.members: dict[ServerConnection, str] = {}  # this server's sockets and their users
        self.subscribed = asyncio.Event()

    async def handler(self, websocket: ServerConnection, user: str) -> None:
        self.members[websocket] = user
        try:
            await self.registry.add(user)
            await websocket.send(f"* {user}, you are on server {self.name}")
            async for text in websocket:
                if isinstance(text, bytes):
                    await websocket.close(CloseCode.UNSUPPORTED_DATA, "text only")
                elif text.startswith("@"):  # "@bob hello": to bob only
                    to, _, body = text[1:].partition(" ")
                    await self.direct(user, to, body)
                else:
                    reached = await self.redis.publish(ROOM, f"{user}: {text}")
                    self.report(f"{self.name}: PUBLISH {ROOM} reached {reached} server(s)")
        except ConnectionClosed:
            pass  # 1012 from a draining server, a client gone...: the same clean-up
        finally:
            del self.members[websocket]
            await self.registry.remove(user)

    async def direct(self, sender: str, to: str, text: str) -> None:
        servers = await self.registry.where(to)
        for server in servers:
            await self.redis.publish(f"server:{server}", json.dumps([to, f"{sender}: {text}"]))
        self.report(f"{self.name}: the registry says {to} is on {servers or 'no server'}")

    async def listen(self) -> None:
        """One subscription per server, for the room and for this server's direct messages."""
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(ROOM, f"server:{self.name}")
                async for message in pubsub.listen():
                    if message["type"] == "subscribe" and message["data"] == 2:
                        self.subscribed.set()  # Redis confirmed both channels
                    elif message["type"] != "message":
                        continue
                    elif message["channel"] == ROOM:
                        deliver(self.members, message["data"])
                    else:
                        to, text = json.loads(message["data"])
                        deliver([ws for ws, user in self.members.items() if user == to], text)
            except (RedisConnectionError, RedisTimeoutError):
                pass  # what is published until we subscribe again is lost to our sockets
            finally:
                self.subscribed.clear()
                await pubsub.aclose()
            self.report(f"{self.name}: lost its subscription; subscribes again in "
                        f"{self.resubscribe_after:g} s")
            await asyncio.sleep(self.resubscribe_after)
# --8<-- [end:chat]


# --8<-- [start:feed]
class Subscriber:
    """One client of the feed: where it is in the stream, and how to write to it."""

    def __init__(self, send: Callable[[str, str], Awaitable[None]],
                 write: Callable[[str, str], None], transport: asyncio.Transport) -> None:
        self.send = send  # write an entry and wait until the client has taken it
        self.write = write  # write an entry without waiting
        self.transport = transport
        self.cursor = "0-0"  # the id of the last entry it was given
        self.held: list[tuple[str, str]] | None = []  # new entries, while it catches up

    def push(self, entries: list[tuple[str, str]]) -> None:
        if self.held is not None:
            self.held += entries
            return
        if self.transport.is_closing():
            return  # it has gone; its handler is removing it
        for entry_id, data in entries:
            if stream_key(entry_id) > stream_key(self.cursor):  # never twice
                self.cursor = entry_id
                self.write(entry_id, data)
        if self.transport.get_write_buffer_size() > MAX_BACKLOG:
            self.transport.abort()  # it stopped reading: cut it; it comes back with its id


class Feed:
    """The shared log, a Redis stream, as one server sees it. ONE XREAD loop per server reads
    each new entry once and writes it to every client, waiting for none. A client that comes
    with an id first gets what it missed from Redis (XRANGE). Ids come from Redis, so they mean
    the same on every server and after every restart."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self.subscribers: set[Subscriber] = set()
        self.last_id = "0-0"  # the last entry the loop has read
        self.ready = asyncio.Event()

    async def publish(self, data: str) -> str:
        return await self.redis.xadd(STREAM, {"data": data}, maxlen=STREAM_MAXLEN,
                                     approximate=True)

    async def run(self) -> None:
        newest = await self.redis.xrevrange(STREAM, count=1)
        self.last_id = newest[0][0] if newest else "0-0"
        self.ready.set()
        while True:
            for _, entries in await self.redis.xread({STREAM: self.last_id}, count=BATCH,
                                                     block=BLOCK_MS):
                self.last_id = entries[-1][0]
                batch = [(entry_id, fields["data"]) for entry_id, fields in entries]
                for subscriber in list(self.subscribers):
                    subscriber.push(batch)

    async def subscribe(self, subscriber: Subscriber, cursor: str | None) -> None:
        """Give the subscriber every entry after `cursor` (None: from now on), then each new
        one as it comes. New entries are held while it catches up, then passed on."""
        self.subscribers.add(subscriber)  # from now on, nothing new escapes it
        subscriber.cursor = self.last_id if cursor is None else cursor
        while cursor and (batch := await self.redis.xrange(
                STREAM, f"({subscriber.cursor}", "+", count=BATCH)):
            for entry_id, fields in batch:  # what it missed, from Redis
                subscriber.cursor = entry_id
                await subscriber.send(entry_id, fields["data"])
        held, subscriber.held = subscriber.held or [], None
        subscriber.push(held)  # what came meanwhile, less what the catch-up already sent
# --8<-- [end:feed]


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
            headers[name.lower()] = value.strip()
    except (asyncio.LimitOverrunError, ValueError) as error:  # ValueError: line over the limit
        raise HttpError(400, "header line too long or not ASCII") from error
    except asyncio.IncompleteReadError as error:
        raise HttpError(400, "truncated request") from error
    return parts[0], parts[1], headers


STREAM_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
               b"Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n"
               b"Access-Control-Allow-Origin: *\r\n"  # a public feed: any page may read it
               b"Connection: close\r\n\r\n")


class Server:
    """One chat and feed server: its own clients' sockets, and Redis for everything shared.

    WebSocket on one port (/chat?user=ann, /feed?after=<id>), SSE on another (GET /events).
    """

    def __init__(self, name: str, redis_port: int, *, heartbeat: float = 15.0,
                 retry_ms: int = 1000, lease: float = LEASE, resubscribe_after: float = 1.0,
                 send_timeout: float = SEND_TIMEOUT, open_timeout: float = OPEN_TIMEOUT,
                 rng: random.Random | None = None,
                 report: Callable[[str], None] = log.info) -> None:
        self.name, self.heartbeat, self.retry_ms = name, heartbeat, retry_ms
        self.send_timeout, self.open_timeout = send_timeout, open_timeout
        self.rng = rng or random.Random()
        self.redis = aioredis.Redis.from_pool(aioredis.BlockingConnectionPool(
            max_connections=REDIS_CONNECTIONS, timeout=REDIS_TIMEOUT,  # then wait for one
            host="127.0.0.1", port=redis_port, decode_responses=True,
            socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT,
            socket_keepalive=True, client_name=f"server-{name}",
            retry=Retry(NoBackoff(), 0)))  # a dropped connection is reported, not hidden
        self.registry = Registry(self.redis, name, lease=lease)
        self.chat = Chat(name, self.redis, self.registry, report, resubscribe_after)
        self.feed = Feed(self.redis)
        self.streams = 0  # open SSE streams
        self.changed = asyncio.Condition()  # notified when a stream opens or closes
        self.draining = asyncio.get_running_loop().create_future()  # done: clients must move
        self.tasks: list[asyncio.Task] = []

    async def start(self, ws_port: int = 0, sse_port: int = 0) -> tuple[int, int]:
        self.tasks = [asyncio.create_task(self.feed.run()),
                      asyncio.create_task(self.chat.listen()),
                      asyncio.create_task(self.renew_leases())]
        try:
            async with asyncio.timeout(REDIS_TIMEOUT):  # subscribed and reading, then serve
                await self.feed.ready.wait()
                await self.chat.subscribed.wait()
        except TimeoutError:
            await self.stop_tasks()
            raise ConnectionError(f"{self.name}: no answer from Redis") from None
        self.ws: WebSocketServer = await serve(
            self.websocket, "127.0.0.1", ws_port, max_size=MAX_MESSAGE, backlog=BACKLOG,
            open_timeout=self.open_timeout, process_request=self.route)
        self.http = await asyncio.start_server(self.sse, "127.0.0.1", sse_port,
                                               limit=READ_LIMIT, backlog=BACKLOG)
        return self.ws.sockets[0].getsockname()[1], self.http.sockets[0].getsockname()[1]

    async def renew_leases(self) -> None:
        while True:
            await asyncio.sleep(self.registry.lease / 3)
            with contextlib.suppress(RedisConnectionError, RedisTimeoutError):
                await self.registry.renew()

    def route(self, connection: ServerConnection, request):
        """Refuse, before the upgrade, a path or a parameter this server does not serve."""
        url = urlsplit(request.path)
        query = parse_qs(url.query)
        if url.path == "/chat" and USER.fullmatch(query.get("user", [""])[0]):
            return None
        after = query.get("after", ["0-0"])[0]
        if url.path == "/feed" and STREAM_ID.fullmatch(after):
            return None
        return connection.respond(404 if url.path not in ("/chat", "/feed") else 400,
                                  "use /chat?user=<a-z0-9> or /feed?after=<stream id>\n")

    async def websocket(self, websocket: ServerConnection) -> None:
        url = urlsplit(websocket.request.path)
        query = parse_qs(url.query)
        if url.path == "/chat":
            await self.chat.handler(websocket, query["user"][0])
        else:
            await self.feed_socket(websocket, query.get("after", [None])[0])

    # --8<-- [start:feed-endpoints]
    async def feed_socket(self, websocket: ServerConnection, after: str | None) -> None:
        """/feed: the client gets every entry; what it sends is appended to the stream."""
        def write(entry_id: str, data: str) -> None:
            broadcast([websocket], json.dumps({"id": entry_id, "data": data}))

        async def send(entry_id: str, data: str) -> None:
            async with asyncio.timeout(self.send_timeout):  # a stuck reader is cut
                await websocket.send(json.dumps({"id": entry_id, "data": data}))

        subscriber = Subscriber(send, write, websocket.transport)
        try:
            await self.feed.subscribe(subscriber, after)
            async for text in websocket:
                await self.feed.publish(str(text))
        except (ConnectionClosed, TimeoutError):
            websocket.transport.abort()
        finally:
            self.feed.subscribers.discard(subscriber)

    async def sse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """GET /events: the stream as text/event-stream, resuming after Last-Event-ID."""
        try:
            async with asyncio.timeout(self.open_timeout):
                method, target, headers = await read_request(reader)
            if method not in ("GET", "HEAD") or urlsplit(target).path != "/events":
                raise HttpError(404, "not found")
            last_id = headers.get("last-event-id")
            if last_id is not None and not STREAM_ID.fullmatch(last_id):
                raise HttpError(400, "bad Last-Event-ID")
            writer.write(STREAM_HEAD)
            if method == "GET":
                await self.stream(reader, writer, last_id)
        except HttpError as error:
            writer.write(f"HTTP/1.1 {error.status} {error.reason}\r\nContent-Length: 0\r\n"
                         "Connection: close\r\n\r\n".encode())
        except (ConnectionError, TimeoutError):
            pass  # the client vanished or stopped reading: drop it, nobody else notices
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     last_id: str | None) -> None:
        def write(entry_id: str, data: str) -> None:
            writer.write(f"id: {entry_id}\ndata: {data}\n\n".encode())

        async def send(entry_id: str, data: str) -> None:
            write(entry_id, data)
            async with asyncio.timeout(self.send_timeout):
                await writer.drain()

        writer.write(f"retry: {self.retry_ms}\n\n".encode())
        subscriber = Subscriber(send, write, writer.transport)
        gone = asyncio.ensure_future(reader.read(1))  # done when the client hangs up
        async with self.changed:
            self.streams += 1
            self.changed.notify_all()
        try:
            await self.feed.subscribe(subscriber, last_id)
            while not (await asyncio.wait({gone, self.draining}, timeout=self.heartbeat,
                                          return_when=asyncio.FIRST_COMPLETED))[0]:
                writer.write(b": heartbeat\n\n")  # keeps proxies from closing an idle stream
            if self.draining.done():  # come back in a random 0..retry ms, to another server
                writer.write(f"retry: {self.rng.randint(0, self.retry_ms)}\nevent: reconnect\n"
                             f"data: {self.name} is restarting\n\n".encode())
        finally:
            self.feed.subscribers.discard(subscriber)
            gone.cancel()
            async with self.changed:
                self.streams -= 1
                self.changed.notify_all()
    # --8<-- [end:feed-endpoints]

    # --8<-- [start:drain]
    async def drain(self, timeout: float = 30.0) -> None:
        """A deploy: stop taking connections, then ask every client to move to another server.
        WebSockets get close code 1012 (Service Restart), SSE streams a `reconnect` event."""
        self.http.close()  # not listening any more: the balancer's next connect is refused
        self.ws.close(code=CloseCode.SERVICE_RESTART, reason=f"{self.name} is restarting")
        self.draining.set_result(None)  # each SSE stream and /feed socket ends
        async with asyncio.timeout(timeout):
            await self.ws.wait_closed()
            async with self.changed:
                await self.changed.wait_for(lambda: self.streams == 0)
        await self.http.wait_closed()
        await self.stop_tasks()
    # --8<-- [end:drain]

    async def stop_tasks(self) -> None:
        while pending := [task for task in self.tasks if not task.done()]:
            for task in pending:  # again and again: redis-py can lose a cancellation that
                task.cancel()     # lands in the middle of a command
            await asyncio.wait(pending, timeout=0.1)
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.redis.aclose()


class Balancer:
    """A layer-4 load balancer, cut down from the load-balancing chapter's l4_proxy.py: each new
    connection goes to the next backend (round robin), skipping a backend that refuses."""

    def __init__(self, ports: list[int], *, idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.ports, self.next, self.idle_timeout = ports, 0, idle_timeout
        self.tasks: set[asyncio.Task] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
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
        try:
            for _ in self.ports:
                port = self.ports[self.next % len(self.ports)]
                self.next += 1
                with contextlib.suppress(OSError, TimeoutError):
                    async with asyncio.timeout(2.0):
                        upstream = await asyncio.open_connection("127.0.0.1", port)
                    break
            else:
                return  # no backend accepted: the client's connection is closed
            try:
                last = [time.monotonic()]
                pipes = [asyncio.ensure_future(self.pipe(reader, upstream[1], last)),
                         asyncio.ensure_future(self.pipe(upstream[0], writer, last))]
                try:
                    await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for pipe in pipes:
                        pipe.cancel()
            finally:
                upstream[1].close()
        except asyncio.CancelledError:
            pass  # close() ends the connection
        finally:
            self.tasks.discard(task)
            writer.close()

    async def pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter,
                   last: list[float]) -> None:
        """Copy until either side closes, or both have been silent for idle_timeout."""
        with contextlib.suppress(ConnectionError):
            while True:
                try:
                    async with asyncio.timeout(self.idle_timeout):
                        data = await source.read(65536)
                except TimeoutError:
                    if time.monotonic() - last[0] >= self.idle_timeout:
                        return
                    continue
                if not data:
                    return
                last[0] = time.monotonic()
                sink.write(data)
                async with asyncio.timeout(self.idle_timeout):
                    await sink.drain()


# --8<-- [start:clients]
def backoff(rng: random.Random, attempt: int, base: float, cap: float = 10.0) -> float:
    """Full jitter: a random wait up to base * 2^attempt, so a crowd does not come back at once."""
    return rng.uniform(0, min(cap, base * 2**attempt))


async def follow_events(port: int, *, rng: random.Random, last_id: str | None = None,
                        base: float = 0.5, timeout: float = 30.0
                        ) -> AsyncIterator[tuple[str, str]]:
    """An SSE client that resumes anywhere: when the stream ends it waits the `retry` the server
    sent (a draining server jitters it), or a backoff if it cannot connect, then asks again,
    through the balancer, with Last-Event-ID."""
    attempt, retry_ms = 0, 1000
    while True:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except (OSError, TimeoutError):
            attempt += 1
            await asyncio.sleep(backoff(rng, attempt, base))
            continue
        try:
            resume = f"Last-Event-ID: {last_id}\r\n" if last_id else ""
            writer.write(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n{resume}\r\n".encode())
            async with asyncio.timeout(timeout):
                head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200 "):  # a 503 from a draining server, say
                raise ConnectionError(f"not an event stream: {head.splitlines()[0]!r}")
            attempt = 0
            fields: dict[str, str] = {}
            while True:  # this server's lines only: sse.py has the standard's full parser
                async with asyncio.timeout(timeout):  # longer than the heartbeat interval
                    line = await reader.readline()
                if not line.endswith(b"\n"):
                    break  # the stream ended (an unfinished event is dropped): reconnect
                name, _, value = line.decode().rstrip("\n").partition(":")
                if name:
                    fields[name] = value.removeprefix(" ")
                    continue
                if value:
                    continue  # a comment: the heartbeat
                if re.fullmatch(r"[0-9]{1,6}", fields.get("retry", "")):
                    retry_ms = int(fields["retry"])
                if "id" in fields and "data" in fields:
                    last_id = fields["id"]
                    yield last_id, fields["data"]
                fields = {}
        except (ConnectionError, ValueError, TimeoutError):
            attempt += 1  # refused, reset, silent: back off before trying again
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        await asyncio.sleep(backoff(rng, attempt, base) if attempt else retry_ms / 1000)


async def follow_feed(port: int, *, rng: random.Random, after: str | None = None,
                      base: float = 0.5) -> AsyncIterator[tuple[str, str]]:
    """A WebSocket client that resumes anywhere: on close 1012, or any drop, it waits a random
    time (full jitter) and reconnects through the balancer with ?after=<the last id it has>."""
    attempt = 0
    while True:
        query = f"?after={after}" if after else ""
        try:
            async with connect(f"ws://127.0.0.1:{port}/feed{query}", open_timeout=5,
                               max_size=MAX_MESSAGE * 2) as websocket:
                attempt = 0
                async for message in websocket:
                    entry = json.loads(message)
                    after = entry["id"]
                    yield after, entry["data"]
        except (OSError, InvalidHandshake, TimeoutError):
            attempt += 1
        except ConnectionClosed:
            pass  # 1012 Service Restart, or a drop: come back, to whichever server
        await asyncio.sleep(backoff(rng, attempt, base))
# --8<-- [end:clients]


# --- Redis for the demo: a throwaway redis-server ---------------------------------------------

def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server() -> Iterator[int]:
    """Start redis-server on 127.0.0.1 at a free port, saving nothing; yield its port; stop it."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("this program needs redis-server: apt-get install redis-server")
    for _ in range(3):  # a free port may be taken again before redis binds it: try another
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline and not redis_answers(port):
            time.sleep(0.01)
        if process.poll() is None and redis_answers(port):
            break
        process.kill()
        process.wait(timeout=5)
    else:
        raise RuntimeError("redis-server did not start")
    try:
        yield port
    finally:
        process.terminate()
        process.wait(timeout=5)


async def cut_subscription(redis: aioredis.Redis, server: str) -> None:
    """Close a server's pub/sub connection from the Redis side, as a network blip would."""
    for client in await redis.client_list(_type="pubsub"):
        if client["name"] == f"server-{server}":
            await redis.client_kill_filter(_id=client["id"])


# --- The demo -----------------------------------------------------------------------------------

class Notes:
    """The servers' report lines, kept in order for the demo to print where they belong."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.changed = asyncio.Condition()

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        asyncio.ensure_future(self._notify())

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def next(self) -> str:
        async with asyncio.timeout(5), self.changed:
            await self.changed.wait_for(lambda: self.lines)
            return self.lines.pop(0).split(": ", 1)[1]  # without the "A: " in front


async def recv(websocket: ClientConnection) -> str:
    async with asyncio.timeout(5):
        return str(await websocket.recv())


async def chat_demo(a: Server, b: Server, ws_port: int, redis: aioredis.Redis,
                    notes: Notes) -> None:
    print("1. WebSocket chat, fanned out with Redis pub/sub")
    url = f"ws://127.0.0.1:{ws_port}/chat?user="
    async with connect(url + "alice") as alice, connect(url + "bob") as bob:
        print("   alice and bob connect through the balancer:")
        print(f"     alice <- {await recv(alice)}\n     bob   <- {await recv(bob)}")
        print(f"   registry: alice on {await a.registry.where('alice')}, "
              f"bob on {await a.registry.where('bob')}")
        await alice.send("hi all")
        print(f"   alice says 'hi all' to A; {await notes.next()}")
        print(f"     alice <- {await recv(alice)}\n     bob   <- {await recv(bob)}")
        await alice.send("@bob psst")
        print(f"   alice sends '@bob psst'; {await notes.next()}")
        print(f"     bob   <- {await recv(bob)}")
        await cut_subscription(redis, "B")
        print("   B's pub/sub connection to Redis is cut (CLIENT KILL):\n"
              f"     B {await notes.next()}")
        async with asyncio.timeout(5):
            while (await redis.pubsub_numsub(ROOM))[0][1] != 1:
                await asyncio.sleep(0.01)
        await alice.send("anyone there?")
        print(f"   alice says 'anyone there?'; {await notes.next()}")
        print(f"     alice <- {await recv(alice)}")
        async with asyncio.timeout(5):
            await b.chat.subscribed.wait()
        await alice.send("back?")
        print(f"   B is subscribed again; alice says 'back?'; {await notes.next()}")
        print(f"     alice <- {await recv(alice)}\n     bob   <- {await recv(bob)}")
        print("   bob never got 'anyone there?': pub/sub keeps nothing for an absent subscriber")


async def resume_demo(a: Server, b: Server, sse_port: int) -> None:
    print("2. SSE from a Redis stream: the ids are the stream's, the same on every server")
    names: dict[str, str] = {}  # a stream id (<milliseconds>-<sequence>) -> e1, e2...
    for n in range(1, 4):
        names[await b.feed.publish(f"news {n}")] = f"e{n}"
    print("   B appends e1, e2, e3 (XADD; real ids look like <milliseconds>-<sequence>)")
    stream = follow_events(sse_port, rng=random.Random(1), last_id=next(iter(names)))
    async with contextlib.aclosing(stream):
        print("   carol connects through the balancer with Last-Event-ID: e1")
        for _ in range(2):
            entry_id, data = await anext(stream)
            print(f"     carol <- {names[entry_id]} {data!r}   (A: {a.streams} SSE stream, "
                  f"B: {b.streams})")
        await a.drain()
        print("   A drains: its stream ends with `event: reconnect` and a jittered `retry:`")
        for n in range(4, 6):
            names[await b.feed.publish(f"news {n}")] = f"e{n}"
        print("   B appends e4, e5")
        for _ in range(2):
            entry_id, data = await anext(stream)
            print(f"     carol <- {names[entry_id]} {data!r}   (A: down, B: {b.streams} SSE "
                  "stream)")
        print("   carol resumed on B with Last-Event-ID: e3: nothing lost, nothing twice")


def holds(*servers: Server) -> str:
    return "\n     ".join(f"{server.name} holds {len(server.ws.connections)} WebSocket(s), "
                     f"{server.streams} SSE stream(s)" for server in servers)


async def drain_demo(a: Server, b: Server, ws_port: int, sse_port: int) -> None:
    total = 40
    print("3. A restarts on the same ports with nothing in memory: all it needs is in Redis")
    print(f"   2 SSE and 2 WebSocket (/feed) clients; B drains while {total} entries are "
          "published")
    rng = random.Random(5)
    streams = [follow_events(sse_port, rng=rng, base=0.05) for _ in range(2)]
    streams += [follow_feed(ws_port, rng=rng, base=0.05) for _ in range(2)]
    got: list[list[str]] = [[] for _ in streams]
    connected = asyncio.Event()

    async def take(index: int) -> None:
        async for _, data in streams[index]:
            got[index].append(data)
            if len(got[index]) == total:
                return

    async def publish() -> None:
        await connected.wait()
        for n in range(1, total + 1):
            await a.feed.publish(f"m{n}")
            if n == total // 2:
                await b.drain()
                print(f"   after {n} entries B drains: close 1012 to its WebSocket, "
                      "`event: reconnect`\n     to its SSE stream")
            await asyncio.sleep(0.002)

    takers = [asyncio.ensure_future(take(index)) for index in range(len(streams))]
    publisher = asyncio.ensure_future(publish())
    try:
        async with asyncio.timeout(10):
            while a.streams + b.streams < 2 or (
                    len(a.ws.connections) + len(b.ws.connections) < 2):
                await asyncio.sleep(0.005)
            print(f"   through the balancer:\n     {holds(a, b)}")
            connected.set()
            await asyncio.gather(publisher, *takers)
        print(f"   they came back with jitter, through the balancer:\n     {holds(a)}")
    finally:
        for stream in streams:
            await stream.aclose()
    expected = [f"m{n}" for n in range(1, total + 1)]
    for index, messages in enumerate(got):
        kind = "SSE client      " if index < 2 else "WebSocket client"
        verdict = "all, in order, none twice" if messages == expected else messages
        print(f"   {kind} {index % 2 + 1}: {len(messages)} of {total}, {verdict}")


async def demo() -> None:
    with redis_server() as redis_port:
        notes = Notes()
        options = dict(heartbeat=1, retry_ms=100, resubscribe_after=0.5, report=notes)
        a = Server("A", redis_port, rng=random.Random(3), **options)
        b = Server("B", redis_port, rng=random.Random(4), **options)
        (a_ws, a_sse), (b_ws, b_sse) = await a.start(), await b.start()
        ws_balancer, sse_balancer = Balancer([a_ws, b_ws]), Balancer([a_sse, b_sse])
        ws_port, sse_port = await ws_balancer.start(), await sse_balancer.start()
        redis = aioredis.Redis(host="127.0.0.1", port=redis_port, decode_responses=True,
                               socket_timeout=REDIS_TIMEOUT)
        print("redis-server, servers A and B (WebSocket and SSE each) and L4 balancers "
              "(round robin)\non 127.0.0.1, ports the OS chose")
        try:
            await chat_demo(a, b, ws_port, redis, notes)
            await resume_demo(a, b, sse_port)
            a = Server("A", redis_port, rng=random.Random(6), **options)
            await a.start(a_ws, a_sse)
            await drain_demo(a, b, ws_port, sse_port)
        finally:
            await ws_balancer.close()
            await sse_balancer.close()
            for server in (a, b):
                if not server.draining.done():
                    await server.drain()
            await redis.aclose()


# --- Standalone ---------------------------------------------------------------------------------

async def serve_forever(name: str, ws_port: int, sse_port: int, redis_port: int) -> None:
    server = Server(name, redis_port)  # its reports go to logging.getLogger("fanout")
    await server.start(ws_port, sse_port)
    print(f"server {name}: ws://127.0.0.1:{ws_port}/chat?user=<you> and /feed, "
          f"http://127.0.0.1:{sse_port}/events; Redis on port {redis_port} (Ctrl-C to stop)",
          flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.drain()


async def chat_client(port: int, user: str, *, rng: random.Random, limit: int = 0,
                      base: float = 0.5) -> None:
    """Say hello, print what arrives, reconnect with backoff when the connection drops."""
    attempt = 0
    while True:
        try:
            async with connect(f"ws://127.0.0.1:{port}/chat?user={user}",
                               open_timeout=5) as websocket:
                attempt = 0
                await websocket.send(f"hello, I am {user}")
                async for message in websocket:
                    print(f"{user} <- {message}", flush=True)
                    limit -= 1
                    if limit == 0:
                        return
        except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as error:
            print(f"{user}: {error}; reconnecting", flush=True)
            attempt += 1
        await asyncio.sleep(backoff(rng, attempt, base))


async def print_events(port: int, *, rng: random.Random, limit: int = 0) -> None:
    stream = follow_events(port, rng=rng)
    async with contextlib.aclosing(stream):
        async for entry_id, data in stream:
            print(f"id={entry_id} data={data!r}", flush=True)
            limit -= 1
            if limit == 0:
                return


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", choices=["server", "client", "events"])
    parser.add_argument("--port", type=int, default=8003, help="WebSocket port (SSE: events)")
    parser.add_argument("--sse-port", type=int, default=8004)
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument("--name", default="A")
    parser.add_argument("--user", default="guest")
    args = parser.parse_args(argv)
    if args.role == "server":
        runner = serve_forever(args.name, args.port, args.sse_port, args.redis_port)
    elif args.role == "client":
        runner = chat_client(args.port, args.user, rng=random.Random())
    elif args.role == "events":
        runner = print_events(args.port, rng=random.Random())
    else:
        runner = demo()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(runner)


if __name__ == "__main__":
    main()
