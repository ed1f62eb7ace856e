# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "httpx~=0.28",
#     "redis~=8.1",
# ]
# ///
"""One rate limit shared by several servers through Redis: an atomic Lua script, and the naive
read-then-write that lets a burst through.

Each server keeps nothing itself: every client's token bucket (5 requests per 10 s by default)
lives in Redis as a hash of two numbers, and one Lua script reads it, refills it, takes a token
and writes it back. Redis runs a script atomically, so the servers' requests are decided one
after another however many arrive at once. The naive version does the same arithmetic in Python
between a read (HMGET) and a write (HSET): two servers that read before either writes both see
the same tokens, and both let their request through.

The demo starts its own redis-server on 127.0.0.1 at a free port (nothing persisted) and three
HTTP servers on 127.0.0.1 that share it, each with its own connection pool (asyncio servers in
one process: they share nothing but Redis). It fires requests one at a time, then 20 at once,
at the atomic limit and at the naive one, and prints how many got through against the limit of
5. To make the naive version's race happen every time rather than now and then, its requests
wait at a barrier between their read and their write until all 20 have read: that is the worst
case, made certain. Then it stops Redis and shows failing open and failing closed.

Needs redis-server: `apt-get install redis-server` (Debian, Ubuntu), or `make redis` in the
repository; the demo and the tests start their own, no service needs to run.

Run: python redis_rate_limit.py          (the demo)
     redis-server --port 6390 --save "" --appendonly no      (a Redis for the servers below)
     python redis_rate_limit.py server --port 8011 --redis-port 6390
     python redis_rate_limit.py server --port 8012 --redis-port 6390   (another process, same limit)
     python redis_rate_limit.py client --port 8011   (20 requests at once: how many got through)
     (server --naive uses the read-then-write version instead of the script)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

EPSILON = 1e-9  # absorbs float rounding in token counts
REDIS_TIMEOUT = 1.0  # seconds for any Redis call: the limiter must not become the slow part
PREFIX = "ratelimit:"


# --- A throwaway redis-server ------------------------------------------------------------------

class RedisServer:
    """Debian's redis-server on 127.0.0.1 at a free port, nothing saved to disk."""

    def __init__(self, start_timeout: float = 10.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("no redis-server: apt-get install redis-server (or `make redis`)")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + start_timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)  # a process that is starting: nothing to wait on but a poll

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def connect(port: int, host: str = "127.0.0.1") -> aioredis.Redis:
    """A client that gives up quickly: redis-py 8 retries a failed call 10 times by default,
    backing off up to 1 s, which a limiter in every request's path cannot afford."""
    return aioredis.Redis(host=host, port=port, socket_timeout=REDIS_TIMEOUT,
                          socket_connect_timeout=REDIS_TIMEOUT, retry=Retry(NoBackoff(), 1))


# --- The limit, kept in Redis -------------------------------------------------------------------

@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int  # requests the client may still make now
    reset_after: float  # seconds until it may make one more than that
    retry_after: float = 0.0  # refused: seconds until a request would be let through


TOKEN_BUCKET = """
-- --8<-- [start:script]
-- KEYS[1]: one client's bucket, a hash {tokens, ts}
-- ARGV: capacity, refill rate (tokens a second), now (seconds; empty: Redis's own clock)
local capacity, rate = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')  -- one clock for every server: no skew between them
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(bucket[1]) or capacity  -- a new client starts with a full bucket
local ts = tonumber(bucket[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= 1 - 1e-9 then
  tokens = math.max(0, tokens - 1)
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
-- an idle client's bucket refills completely in capacity / rate seconds: then forget it
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000))
return {allowed, tostring(tokens)}  -- a string: Redis would truncate a Lua number to an integer
-- --8<-- [end:script]
"""


class TokenBucketLimit:
    """``limit`` requests per ``window`` seconds per client: a bucket of ``limit`` tokens
    refilled at limit/window a second. ``clock`` None means Redis's clock."""

    def __init__(self, redis: aioredis.Redis, limit: int, window: float,
                 clock: Callable[[], float] | None = None) -> None:
        if limit < 1 or not window > 0:
            raise ValueError("a limit of at least 1 request per window of more than 0 s")
        self.redis, self.limit, self.window, self.clock = redis, limit, window, clock
        self.rate = limit / window

    def decision(self, allowed: bool, tokens: float) -> Decision:
        remaining = math.floor(tokens + EPSILON)
        back = max(0.0, (1 - tokens) / self.rate)  # until the bucket holds a token again
        return Decision(allowed, remaining, (remaining + 1 - tokens) / self.rate,
                        0.0 if allowed else back)


# --8<-- [start:atomic]
class AtomicLimit(TokenBucketLimit):
    """The whole read-refill-take-write in one Lua script: Redis runs it atomically."""

    def __init__(self, redis: aioredis.Redis, *args, **kwargs) -> None:
        super().__init__(redis, *args, **kwargs)
        self.script = redis.register_script(TOKEN_BUCKET)  # EVALSHA; loaded once if missing

    async def allow(self, key: str) -> Decision:
        now = "" if self.clock is None else repr(self.clock())
        allowed, tokens = await self.script(keys=[PREFIX + key],
                                            args=[self.limit, self.rate, now])
        return self.decision(bool(allowed), float(tokens))
# --8<-- [end:atomic]


async def no_pause() -> None:
    pass


# --8<-- [start:naive]
class NaiveLimit(TokenBucketLimit):
    """The same arithmetic in Python, between a read and a write: wrong under concurrency."""

    def __init__(self, redis: aioredis.Redis, *args,
                 between: Callable[[], Awaitable[None]] = no_pause, **kwargs) -> None:
        super().__init__(redis, *args, **kwargs)
        self.between = between  # the demo holds every request here, to make the race certain

    async def allow(self, key: str) -> Decision:
        if self.clock is None:
            seconds, micros = await self.redis.time()
            now = seconds + micros / 1_000_000
        else:
            now = self.clock()
        tokens, ts = await self.redis.hmget(PREFIX + key, "tokens", "ts")  # 1. read
        tokens = self.limit if tokens is None else min(
            self.limit, float(tokens) + max(0.0, now - float(ts)) * self.rate)
        allowed = tokens >= 1 - EPSILON
        tokens = max(0.0, tokens - allowed)
        await self.between()  # another server's read can land here, and it often does
        await self.redis.hset(PREFIX + key, mapping={"tokens": tokens, "ts": now})  # 2. write
        await self.redis.pexpire(PREFIX + key, math.ceil(self.window * 1000))
        return self.decision(allowed, tokens)
# --8<-- [end:naive]


# --- An HTTP server behind the shared limit ----------------------------------------------------

MAX_HEAD = 8 * 1024
MAX_HEADERS = 64
IDLE_TIMEOUT = 30.0  # seconds a connection may take to send a whole request head
API_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests",
           431: "Request Header Fields Too Large", 501: "Not Implemented",
           503: "Service Unavailable", 505: "HTTP Version Not Supported"}


class HttpError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status, self.reason = status, reason


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict] | None:
    """One HTTP/1.1 GET or HEAD head, strictly; None if the client closed between requests."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        if error.partial:
            raise HttpError(400, "truncated request head") from error
        return None
    except asyncio.LimitOverrunError as error:
        raise HttpError(431, f"request head over {MAX_HEAD} bytes") from error
    try:
        request_line, *lines = head.decode("ascii").removesuffix("\r\n\r\n").split("\r\n")
    except UnicodeDecodeError:
        raise HttpError(400, "non-ASCII bytes in the request head") from None
    parts = request_line.split(" ")
    if len(parts) != 3 or not TOKEN.fullmatch(parts[0]) or not parts[1].startswith("/"):
        raise HttpError(400, "malformed request line")
    if parts[2] != "HTTP/1.1":
        raise HttpError(505 if re.fullmatch(r"HTTP/\d\.\d", parts[2]) else 400,
                        "only HTTP/1.1 is spoken here")
    if any(ord(c) < 0x21 or c == "\x7f" for c in parts[1]):
        raise HttpError(400, "control character in the request target")
    if len(lines) > MAX_HEADERS:
        raise HttpError(431, f"more than {MAX_HEADERS} header fields")
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not TOKEN.fullmatch(name):
            raise HttpError(400, "malformed header line")
        headers[name.lower()] = value.strip(" \t")
    if headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
        raise HttpError(400, "a GET has no body")
    if parts[0] not in ("GET", "HEAD"):
        raise HttpError(501, "only GET and HEAD")
    return parts[0], parts[1], headers


class SharedLimitServer:
    """GET / behind a limit kept in Redis. When Redis does not answer, ``fail_open`` lets the
    request through (availability first); otherwise it gets 503 (protection first)."""

    def __init__(self, limit: AtomicLimit | NaiveLimit, name: str = "server",
                 fail_open: bool = True) -> None:
        self.limit, self.name, self.fail_open = limit, name, fail_open
        self.server: asyncio.Server | None = None
        self.connections: dict[asyncio.Task, asyncio.StreamWriter] = {}
        self.store_errors = 0

    # --8<-- [start:respond]
    async def respond(self, target: str, headers: dict[str, str],
                      peer: str) -> tuple[int, dict, list[tuple[str, str]]]:
        key = headers.get("x-api-key", f"ip:{peer}")
        if "x-api-key" in headers and not API_KEY.fullmatch(key):
            raise HttpError(400, "X-API-Key must be 1 to 64 letters, digits, '-' or '_'")
        try:
            decision = await self.limit.allow(key)
        except (RedisConnectionError, RedisTimeoutError):
            self.store_errors += 1  # count it: an alert, not silence
            if self.fail_open:
                return 200, {"server": self.name, "limit": "unknown: the store is down"}, []
            return 503, {"error": "the rate limit store is down"}, [("Retry-After", "1")]
        limit, window = self.limit.limit, math.ceil(self.limit.window)
        fields = [("RateLimit-Policy", f'"default";q={limit};w={window}'),
                  ("RateLimit", f'"default";r={decision.remaining};'
                                f't={math.ceil(decision.reset_after - EPSILON)}')]
        if not decision.allowed:
            retry = max(1, math.ceil(decision.retry_after - EPSILON))
            return 429, {"error": "too many requests"}, [*fields, ("Retry-After", str(retry))]
        if target != "/":
            return 404, {"error": "only GET /"}, fields
        return 200, {"server": self.name}, fields
    # --8<-- [end:respond]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.connections[task] = writer
        peer = writer.get_extra_info("peername")[0]
        method = "GET"
        try:
            while True:  # HTTP/1.1 keeps the connection for the next request
                async with asyncio.timeout(IDLE_TIMEOUT):
                    request = await read_request(reader)
                if request is None:
                    break
                method, target, headers = request
                status, body, fields = await self.respond(target, headers, peer)
                writer.write(render(status, body, fields, method == "HEAD"))
                await writer.drain()
        except HttpError as error:  # where the next request starts is unknown: answer, close
            writer.write(render(error.status, {"error": error.reason},
                                [("Connection", "close")], method == "HEAD"))
        except (ConnectionError, TimeoutError):
            pass  # the client vanished or stalled: free the connection
        finally:
            del self.connections[task]
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.server = await asyncio.start_server(self.handle, host, port, limit=MAX_HEAD)
        return self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            for writer in self.connections.values():
                writer.close()
            await asyncio.gather(*self.connections, return_exceptions=True)
            await self.server.wait_closed()


def render(status: int, body: dict, fields: list[tuple[str, str]], head_only: bool) -> bytes:
    content = json.dumps(body).encode()
    lines = [f"HTTP/1.1 {status} {REASONS[status]}", "Content-Type: application/json",
             f"Content-Length: {len(content)}", *(f"{n}: {v}" for n, v in fields)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + (b"" if head_only else content)


# --- The demo: three servers, one Redis ---------------------------------------------------------

async def fire(client: httpx.AsyncClient, ports: list[int], count: int, key: str,
               at_once: bool) -> list[httpx.Response]:
    """``count`` requests from one client, spread over the servers in turn."""
    urls = [f"http://127.0.0.1:{ports[n % len(ports)]}/" for n in range(count)]
    headers = {"X-API-Key": key}
    if at_once:
        return list(await asyncio.gather(*(client.get(url, headers=headers) for url in urls)))
    return [await client.get(url, headers=headers) for url in urls]


def tally(responses: list[httpx.Response]) -> str:
    passed = sum(r.status_code == 200 for r in responses)
    return f"{passed:>2} let through, {len(responses) - passed:>2} refused"


async def tokens_left(redis: aioredis.Redis, key: str) -> str:
    return f"{float(await redis.hget(PREFIX + key, 'tokens')):g}"


@contextlib.asynccontextmanager
async def three_servers(redis_port: int, kind: str, between=no_pause, fail_open: bool = True):
    """Three servers, each with its own Redis connection pool; yields their ports."""
    clients = [connect(redis_port) for _ in range(3)]
    now = lambda: 0.0  # noqa: E731 (a virtual clock: no token comes back during the demo)
    limits = [AtomicLimit(c, 5, 10, clock=now) if kind == "atomic"
              else NaiveLimit(c, 5, 10, clock=now, between=between) for c in clients]
    servers = [SharedLimitServer(limit, name, fail_open)
               for limit, name in zip(limits, "abc", strict=True)]
    try:
        yield [await server.start() for server in servers]
    finally:
        for server in servers:
            await server.close()
        for client in clients:
            await client.aclose()


async def main_demo(redis_server: RedisServer) -> None:
    print("redis-server on 127.0.0.1 (a port the OS chose), nothing persisted")
    print("three servers (a, b, c) share one limit in it: a token bucket of 5 requests per "
          "10 s per client")
    store = connect(redis_server.port)
    async with httpx.AsyncClient(timeout=10, trust_env=False,
                                 limits=httpx.Limits(max_connections=50)) as client:
        print("8 requests from one client, one at a time, spread over a, b and c:")
        for kind, label in (("atomic", "atomic Lua script"), ("naive", "naive read, then write")):
            async with three_servers(redis_server.port, kind) as ports:
                responses = await fire(client, ports, 8, f"one-by-one-{kind}", at_once=False)
            print(f"  {label:<23} {tally(responses)}")
        print("20 requests from one client at once, spread over a, b and c:")
        async with three_servers(redis_server.port, "atomic") as ports:
            responses = await fire(client, ports, 20, "at-once-atomic", at_once=True)
        left = await tokens_left(store, "at-once-atomic")
        print(f"  {'atomic Lua script':<23} {tally(responses)}   tokens left in Redis: {left}")
        refused = next(r for r in responses if r.status_code == 429)
        barrier = asyncio.Barrier(20)

        async def all_have_read() -> None:
            with contextlib.suppress(TimeoutError):  # a request lost on the way: go on
                async with asyncio.timeout(5):
                    await barrier.wait()

        async with three_servers(redis_server.port, "naive", between=all_have_read) as ports:
            responses = await fire(client, ports, 20, "at-once-naive", at_once=True)
        left = await tokens_left(store, "at-once-naive")
        print(f"  {'naive read, then write':<23} {tally(responses)}   tokens left in Redis: {left}")
        print("  (each naive request read the bucket, then waited until all 20 had read:")
        print("   every read before any write, the race made certain instead of left to chance)")
        print(f"a refused request: {refused.status_code}  RateLimit: "
              f"{refused.headers['ratelimit']}  Retry-After: {refused.headers['retry-after']}")
        await store.aclose()
        redis_server.stop()
        print("Redis stops; the next request:")
        for fail_open, label in ((True, "fail open"), (False, "fail closed")):
            async with three_servers(redis_server.port, "atomic", fail_open=fail_open) as ports:
                response = (await fire(client, ports, 1, "after", at_once=False))[0]
            fields = "  ".join(f"{name}: {response.headers[name]}" for name in
                               ("RateLimit", "Retry-After") if name in response.headers)
            print(f"  {label:<12} {response.status_code}  {fields or 'no RateLimit fields'}")


def demo() -> None:
    with RedisServer() as redis_server:
        asyncio.run(main_demo(redis_server))


async def serve(host: str, port: int, redis_port: int, naive: bool, limit: int,
                window: int) -> None:
    store = connect(redis_port)
    kind = NaiveLimit if naive else AtomicLimit
    server = SharedLimitServer(kind(store, limit, window), f"{host}:{port}")
    port = await server.start(host, port)
    server.name = f"{host}:{port}"
    print(f"serving http://{host}:{port}/ with {'a naive' if naive else 'an atomic'} limit of "
          f"{limit} requests per {window} s per client in Redis at port {redis_port} "
          "(Ctrl-C to stop)", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()
        await store.aclose()


async def client(host: str, ports: list[int], count: int, key: str) -> None:
    async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
        urls = [f"http://{host}:{ports[n % len(ports)]}/" for n in range(count)]
        responses = await asyncio.gather(*(http.get(url, headers={"X-API-Key": key})
                                           for url in urls))
    print(f"{count} requests at once from {key!r}: {tally(list(responses)).strip()}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", choices=["server", "client"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, action="append",
                        help="the server's port (client: once per server to spread over)")
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument("--naive", action="store_true", help="read, then write: no script")
    parser.add_argument("--limit", type=int, default=5, help="requests per window")
    parser.add_argument("--window", type=int, default=10, help="seconds")
    parser.add_argument("--count", type=int, default=20, help="requests the client sends")
    parser.add_argument("--key", default="demo", help="the client's X-API-Key")
    args = parser.parse_args()
    ports = args.port or [8011]
    with contextlib.suppress(KeyboardInterrupt):
        if args.role == "server":
            asyncio.run(serve(args.host, ports[0], args.redis_port, args.naive, args.limit,
                              args.window))
        elif args.role == "client":
            asyncio.run(client(args.host, ports, args.count, args.key))
        else:
            demo()


if __name__ == "__main__":
    main()
