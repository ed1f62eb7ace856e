# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "httpx~=0.28",
# ]
# ///
"""Five rate limiters side by side, then one of them as HTTP middleware that answers 429.

The five algorithms (fixed window, sliding window log, sliding window counter, token bucket,
leaky bucket) share one interface: ``allow(key, now)`` returns a Decision (allowed or not, the
requests left, the seconds until more are available, and when refused, when to come back). The
clock is a parameter, so the demo and the tests run them on exact, virtual times. Each keeps its
state per client as a tuple of numbers: counting them is counting the memory per client.

The demo runs all five on the same seeded, bursty trace and prints what each lets through,
100 ms at a time, and where a burst gets past: a fixed window lets twice its limit through around
a window boundary. Then it serves HTTP on 127.0.0.1 behind a token bucket: a request within the
limit passes to the handler, one over it gets ``429 Too Many Requests`` (RFC 6585) with
``Retry-After`` (RFC 9110) and the ``RateLimit`` and ``RateLimit-Policy`` fields of the IETF
httpapi working group's draft (draft-ietf-httpapi-ratelimit-headers-11: a draft, not an RFC).

Run: python rate_limiters.py                     (the demo: the five limiters, then HTTP)
     python rate_limiters.py server --port 8010  (token bucket, 5 requests per 10 s per client)
     python rate_limiters.py client --port 8010  (8 requests; waits out a 429's Retry-After)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

EPSILON = 1e-9  # absorbs float rounding: 0.2 s at 5 tokens/s is 0.9999999999999998 tokens


# --8<-- [start:interface]
@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int  # requests the client may still make now (RateLimit's r)
    reset_after: float  # seconds until it may make one more than that (RateLimit's t)
    retry_after: float = 0.0  # refused: seconds until a request would be let through
    delay: float = 0.0  # leaky bucket: seconds this request waits in the queue first


class Limiter:
    """``limit`` requests per ``window`` seconds, per client. Each client's state is a tuple
    of numbers; the least recently seen client is forgotten beyond ``max_clients``."""

    name = "limiter"

    def __init__(self, limit: int, window: float, max_clients: int = 100_000) -> None:
        if limit < 1 or not window > 0:
            raise ValueError("a limit of at least 1 request per window of more than 0 s")
        self.limit, self.window, self.max_clients = limit, window, max_clients
        self.clients: OrderedDict[str, tuple[float, ...]] = OrderedDict()

    def allow(self, key: str, now: float) -> Decision:
        state, decision = self.decide(self.clients.pop(key, ()), now)
        self.clients[key] = state  # now the most recently seen
        if len(self.clients) > self.max_clients:
            self.clients.popitem(last=False)  # bounded memory: the oldest client starts afresh
        return decision

    def numbers_kept(self, key: str) -> int:
        """The memory this client costs: how many numbers its state holds."""
        return len(self.clients.get(key, ()))

    def decide(self, state: tuple[float, ...], now: float) -> tuple[tuple[float, ...], Decision]:
        raise NotImplementedError
# --8<-- [end:interface]


def _refused_or_not(allowed: bool, remaining: int, reset_after: float, retry_after: float,
                    delay: float = 0.0) -> Decision:
    return Decision(allowed, max(0, remaining), reset_after, 0.0 if allowed else retry_after,
                    delay)


# --8<-- [start:fixed]
class FixedWindow(Limiter):
    """One counter per calendar window [k*window, (k+1)*window)."""

    name = "fixed window"

    def decide(self, state, now):
        start = math.floor(now / self.window) * self.window
        count = state[1] if state and state[0] == start else 0  # a new window starts at 0
        allowed = count < self.limit
        count += allowed
        back = start + self.window - now  # the whole quota comes back when the window ends
        return (start, count), _refused_or_not(allowed, self.limit - count, back, back)
# --8<-- [end:fixed]


# --8<-- [start:log]
class SlidingWindowLog(Limiter):
    """The time of every request let through in the last ``window`` seconds: exact."""

    name = "sliding window log"

    def decide(self, state, now):
        log = tuple(t for t in state if t > now - self.window)  # forget what left the window
        allowed = len(log) < self.limit
        if allowed:
            log += (now,)
        back = log[0] + self.window - now  # when the oldest leaves the window, one more fits
        return log, _refused_or_not(allowed, self.limit - len(log), back, back)
# --8<-- [end:log]


# --8<-- [start:counter]
class SlidingWindowCounter(Limiter):
    """Two fixed-window counts, the previous one weighted by how much of it the sliding window
    still covers: an estimate that assumes the previous window's requests were spread evenly."""

    name = "sliding window counter"

    def decide(self, state, now):
        start = math.floor(now / self.window) * self.window
        if state and state[0] == start:
            _, count, previous = state
        elif state and state[0] == start - self.window:
            count, previous = 0, state[1]  # the window moved on: this one becomes the previous
        else:
            count, previous = 0, 0
        weight = 1 - (now - start) / self.window  # share of the previous window still inside
        allowed = previous * weight + count + 1 <= self.limit + EPSILON
        count += allowed
        remaining = math.floor(self.limit - previous * weight - count + EPSILON)

        def wait(n: int) -> float:  # seconds until n more requests fit
            if count + n <= self.limit:  # in this window, once the previous one weighs less
                fits = start + self.window * (1 - (self.limit - count - n) / previous)
                return max(0.0, fits - now)
            # in the next window, where this window's count is the previous one
            return start + self.window * (2 - (self.limit - n) / count) - now

        back = 0.0 if allowed else wait(1)
        return (start, count, previous), _refused_or_not(allowed, remaining,
                                                         wait(max(remaining, 0) + 1), back)
# --8<-- [end:counter]


# --8<-- [start:token]
class TokenBucket(Limiter):
    """A bucket of ``burst`` tokens (the limit, by default) that refills at limit/window
    tokens a second; a request takes one. A full bucket lets a whole burst through at once."""

    name = "token bucket"

    def __init__(self, limit: int, window: float, burst: int | None = None, **kwargs) -> None:
        super().__init__(limit, window, **kwargs)
        self.capacity = burst or limit
        self.rate = limit / window  # tokens a second

    def decide(self, state, now):
        tokens, last = state or (self.capacity, now)  # a new client starts with a full bucket
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        allowed = tokens >= 1 - EPSILON
        tokens = max(0.0, tokens - allowed)
        remaining = math.floor(tokens + EPSILON)

        def wait(n: int) -> float:  # seconds until the bucket holds n tokens
            return max(0.0, (n - tokens) / self.rate)

        return (tokens, now), _refused_or_not(allowed, remaining, wait(remaining + 1), wait(1))
# --8<-- [end:token]


# --8<-- [start:leaky]
class LeakyBucket(Limiter):
    """A queue that lets one request out every window/limit seconds and holds at most
    ``capacity`` (the limit, by default): a burst is smoothed into a steady flow, each request
    waiting its turn; a request that finds the queue full is refused. One number per client:
    when the queue will have let everything out."""

    name = "leaky bucket"

    def __init__(self, limit: int, window: float, capacity: int | None = None,
                 **kwargs) -> None:
        super().__init__(limit, window, **kwargs)
        self.capacity = capacity or limit
        self.interval = window / limit  # one request leaves the bucket every interval

    def decide(self, state, now):
        free_at = max(state[0], now) if state else now  # when the requests queued have left
        queued = (free_at - now) / self.interval
        allowed = queued <= self.capacity - 1 + EPSILON
        delay = free_at - now if allowed else 0.0  # this request leaves after those ahead
        if allowed:
            free_at += self.interval
        remaining = math.floor(self.capacity - (free_at - now) / self.interval + EPSILON)

        def wait(n: int) -> float:  # seconds until n more fit in the queue
            return max(0.0, free_at - (self.capacity - n) * self.interval - now)

        return (free_at,), _refused_or_not(allowed, remaining, wait(remaining + 1), wait(1),
                                           delay)
# --8<-- [end:leaky]


ALGORITHMS: dict[str, type[Limiter]] = {
    "fixed-window": FixedWindow, "sliding-log": SlidingWindowLog,
    "sliding-counter": SlidingWindowCounter, "token-bucket": TokenBucket,
    "leaky-bucket": LeakyBucket,
}


# --- The same trace through all five -------------------------------------------------------------

TRACE_SEED = 20


def bursty_trace(seed: int = TRACE_SEED, seconds: float = 4.0) -> list[float]:
    """Arrival times of one client's requests, to the millisecond: a steady trickle (1.5 a
    second on average), one burst of 12 across the boundary at 1 s and one of 8 inside a window
    at 2.55 s."""
    rng = random.Random(seed)
    times, t = [], rng.expovariate(1.5)
    while t < seconds:
        times.append(t)
        t += rng.expovariate(1.5)
    for centre, size in ((1.0, 12), (2.55, 8)):
        times += [centre + rng.uniform(-0.08, 0.08) for _ in range(size)]
    return sorted(round(t, 3) for t in times)


@dataclass
class Outcome:
    """What one limiter did with a trace: when each request let through reached the handler."""

    limiter: Limiter
    passed: list[float] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)
    longest_wait: float = 0.0
    most_numbers: int = 0


def run_trace(limiter: Limiter, trace: list[float], key: str = "client") -> Outcome:
    outcome = Outcome(limiter)
    for now in trace:
        decision = limiter.allow(key, now)
        if decision.allowed:
            outcome.passed.append(now + decision.delay)
            outcome.longest_wait = max(outcome.longest_wait, decision.delay)
        else:
            outcome.refused.append(now)
        outcome.most_numbers = max(outcome.most_numbers, limiter.numbers_kept(key))
    return outcome


def most_in_any_window(times: list[float], window: float) -> int:
    """The most of ``times`` inside any interval [t, t + window): the limit as a client sees it."""
    times = sorted(times)
    most, first = 0, 0
    for last, t in enumerate(times):
        while times[first] <= t - window + EPSILON:
            first += 1
        most = max(most, last - first + 1)
    return most


def strip(times: list[float], seconds: float, slot: float = 0.1) -> str:
    """One character per ``slot`` seconds: how many of ``times`` fall in it ('.' for none,
    '+' for ten or more), with '|' at each whole second."""
    counts = [0] * round(seconds / slot)
    for t in times:
        counts[min(len(counts) - 1, int(t / slot + EPSILON))] += 1
    cells = ["." if n == 0 else str(n) if n < 10 else "+" for n in counts]
    per_second = round(1 / slot)
    return "|" + "|".join("".join(cells[i:i + per_second])
                          for i in range(0, len(cells), per_second)) + "|"


STATE = {"fixed window": "window start, count", "sliding window log": "a time per request",
         "sliding window counter": "window start, count, previous count",
         "token bucket": "tokens, last refill", "leaky bucket": "when the queue empties"}


def compare(limit: int = 5, window: float = 1.0, seconds: float = 4.0) -> list[Outcome]:
    trace = bursty_trace(seconds=seconds)
    outcomes = [run_trace(cls(limit, window), trace) for cls in ALGORITHMS.values()]
    print(f"{limit} requests per {window:g} s per client; the same {len(trace)} requests "
          f"(seed {TRACE_SEED}) through each limiter")
    print("each character is 100 ms: how many requests reached the handler in it; | every second")
    print(f"{'':24}{''.join(f'{s}s'.ljust(11) for s in range(round(seconds) + 1))}".rstrip())
    print(f"{'arrivals':<23} {strip(trace, seconds)}")
    for outcome in outcomes:
        label = outcome.limiter.name + (" *" if outcome.longest_wait else "")
        print(f"{label:<23} {strip(outcome.passed, seconds)}")
    print("* when it left the queue, not when it arrived")
    print()
    print(f"{'':23} {'let through':>12} {'most in 1 s':>12} {'longest wait':>13}  "
          "numbers kept per client")
    for outcome in outcomes:
        name = outcome.limiter.name
        print(f"{name:<23} {len(outcome.passed):>12} "
              f"{most_in_any_window(outcome.passed, window):>12} "
              f"{outcome.longest_wait:>11.1f} s  {outcome.most_numbers} ({STATE[name]})")
    fixed = outcomes[0]
    boundary = [t for t in fixed.passed if abs(t - 1.0) < 0.1]
    print(f"fixed window: {len(boundary)} let through between 0.9 s and 1.1 s, "
          f"{len(boundary) / limit:g} times the limit in a fifth of the window")
    exact, estimate = set(outcomes[1].passed), set(outcomes[2].passed)
    print(f"sliding window counter: {len(estimate - exact)} let through that the exact log "
          f"refused, {len(exact - estimate)} refused that it let through")
    return outcomes


# --- The limiter as HTTP middleware --------------------------------------------------------------

MAX_HEAD = 8 * 1024  # request line and headers; more gets 431
MAX_HEADERS = 64
IDLE_TIMEOUT = 30.0  # seconds a connection may take to send a whole request head
API_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 5.6.2: methods and field names
POLICY_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")  # safe inside a Structured Fields String
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests",
           431: "Request Header Fields Too Large", 501: "Not Implemented",
           505: "HTTP Version Not Supported"}
QUOTA_EXCEEDED = "https://iana.org/assignments/http-problem-types#quota-exceeded"


class HttpError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status, self.reason = status, reason


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    peer: str  # the client's address


@dataclass
class Response:
    status: int
    body: dict
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "application/json"


async def read_request(reader: asyncio.StreamReader, peer: str) -> Request | None:
    """One HTTP/1.1 request head, strictly (no body: this server takes GET and HEAD only);
    None if the client closed between requests."""
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
    return Request(parts[0], parts[1], headers, peer)


def client_key(request: Request) -> str:
    """Whose quota a request spends: its API key if it sends one, else its address."""
    key = request.headers.get("x-api-key")
    if key is None:
        return f"ip:{request.peer}"
    if not API_KEY.fullmatch(key):
        raise HttpError(400, "X-API-Key must be 1 to 64 letters, digits, '-' or '_'")
    return f"key:{key}"


# --8<-- [start:fields]
def whole_seconds(seconds: float) -> int:
    return math.ceil(seconds - EPSILON)  # rounded up: never tell a client to come back early


def rate_limit_fields(limiter: Limiter, decision: Decision,
                      policy: str = "default") -> list[tuple[str, str]]:
    """RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers-11, Structured
    Fields lists, RFC 9651): the policy's quota q per window w, then the quota available now r
    and the seconds t until more is. On a refusal, Retry-After too (RFC 9110, 10.2.3)."""
    fields = [("RateLimit-Policy", f'"{policy}";q={limiter.limit};w={int(limiter.window)}')]
    available = f'"{policy}";r={decision.remaining};t={whole_seconds(decision.reset_after)}'
    fields.append(("RateLimit", available))
    if not decision.allowed:
        fields.append(("Retry-After", str(max(1, whole_seconds(decision.retry_after)))))
    return fields
# --8<-- [end:fields]


Handler = Callable[[Request], Awaitable[Response]]


async def hello(request: Request) -> Response:
    """The service behind the limiter: GET / answers who is asking."""
    if request.path != "/":
        return Response(404, {"error": "only GET /"})
    return Response(200, {"hello": client_key(request)})


class RateLimitedServer:
    """A small strict HTTP/1.1 server whose handler sits behind a rate limiter."""

    def __init__(self, limiter: Limiter, handler: Handler = hello, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 policy: str = "default") -> None:
        if limiter.window != int(limiter.window):
            raise ValueError("RateLimit-Policy's w is whole seconds: use a whole window")
        if not POLICY_NAME.fullmatch(policy):
            raise ValueError("a policy name of letters, digits, '-' and '_'")
        self.limiter, self.handler, self.clock, self.sleep = limiter, handler, clock, sleep
        self.policy = policy
        self.server: asyncio.Server | None = None
        self.connections: dict[asyncio.Task, asyncio.StreamWriter] = {}

    # --8<-- [start:middleware]
    async def rate_limited(self, request: Request) -> Response:
        decision = self.limiter.allow(client_key(request), self.clock())
        fields = rate_limit_fields(self.limiter, decision, self.policy)
        if not decision.allowed:  # the handler never sees it
            problem = {"type": QUOTA_EXCEEDED, "title": "Too Many Requests", "status": 429,
                       "violated-policies": [self.policy]}  # RFC 9457 problem details
            return Response(429, problem, fields, "application/problem+json")
        if decision.delay:
            await self.sleep(decision.delay)  # a leaky bucket: wait in the queue, then pass
        response = await self.handler(request)
        response.headers += fields  # a client can slow down before it is refused
        return response
    # --8<-- [end:middleware]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.connections[task] = writer
        peer = writer.get_extra_info("peername")[0]
        method = "GET"
        try:
            while True:  # HTTP/1.1 keeps the connection for the next request
                async with asyncio.timeout(IDLE_TIMEOUT):
                    request = await read_request(reader, peer)
                if request is None:
                    break
                method = request.method
                writer.write(render(await self.rate_limited(request), method == "HEAD"))
                await writer.drain()
        except HttpError as error:  # where the next request starts is unknown: answer, close
            response = Response(error.status, {"error": error.reason}, [("Connection", "close")])
            writer.write(render(response, method == "HEAD"))
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
        """Stop listening, end every open connection, and wait for their handlers."""
        if self.server is not None:
            self.server.close()
            for writer in self.connections.values():
                writer.close()  # the handler's next read fails and it ends
            await asyncio.gather(*self.connections, return_exceptions=True)
            await self.server.wait_closed()


def render(response: Response, head_only: bool = False) -> bytes:
    body = json.dumps(response.body).encode()
    lines = [f"HTTP/1.1 {response.status} {REASONS[response.status]}",
             f"Content-Type: {response.content_type}", f"Content-Length: {len(body)}",
             *(f"{name}: {value}" for name, value in response.headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + (b"" if head_only else body)


def shown(response: httpx.Response) -> str:
    """A response's status and its RateLimit and Retry-After fields, on one line."""
    shown = f"{response.status_code}  RateLimit: {response.headers['ratelimit']}"
    if "retry-after" in response.headers:
        shown += f"  Retry-After: {response.headers['retry-after']}"
    return shown


async def http_demo() -> None:
    now = [0.0]  # a virtual clock: the demo moves time on instead of waiting
    server = RateLimitedServer(TokenBucket(5, 10), clock=lambda: now[0])
    port = await server.start()
    print("HTTP on 127.0.0.1 (a port the OS chose), a token bucket of 5 requests per 10 s per "
          "client")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5,
                                     trust_env=False) as client:
            async def get(who: str) -> httpx.Response:
                return await client.get("/", headers={"X-API-Key": who})

            first = await get("alice")
            print(f"every response: RateLimit-Policy: {first.headers['ratelimit-policy']}")
            print(f"  t=0s  alice #1 -> {shown(first)}")
            for n in range(2, 7):
                response = await get("alice")
                print(f"  t=0s  alice #{n} -> {shown(response)}")
            print(f"  its body ({response.headers['content-type']}, RFC 9457):")
            problem = json.dumps(response.json()).replace(', "title"', ',\n     "title"')
            print("    " + problem)
            print(f"  t=0s  bob   #1 -> {shown(await get('bob'))}   (his own bucket)")
            now[0] = float(response.headers["retry-after"])
            print(f"  t={now[0]:g}s  alice #7 -> {shown(await get('alice'))}   "
                  "(after Retry-After)")
            bad = await client.get("/", headers={"X-API-Key": "no spaces"})
            print(f"  a bad key -> {bad.status_code} {bad.json()['error']}")
    finally:
        await server.close()


async def serve(host: str, port: int, algorithm: str, limit: int, window: int) -> None:
    server = RateLimitedServer(ALGORITHMS[algorithm](limit, window))
    port = await server.start(host, port)
    print(f"serving http://{host}:{port}/ behind a {server.limiter.name} of {limit} requests "
          f"per {window} s per client (Ctrl-C to stop)", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()


async def client(host: str, port: int, key: str, count: int, max_wait: float = 60.0) -> None:
    """Send ``count`` requests; on a 429, wait what Retry-After says (at most ``max_wait``)."""
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=10,
                                 trust_env=False) as http:
        for n in range(1, count + 1):
            response = await http.get("/", headers={"X-API-Key": key})
            print(f"#{n}: {shown(response)}", flush=True)
            if response.status_code == 429:
                wait = min(max_wait, float(response.headers.get("retry-after", "1")))
                print(f"    waiting {wait:g} s, as Retry-After asks", flush=True)
                await asyncio.sleep(wait)


def demo() -> None:
    compare()
    print()
    asyncio.run(http_demo())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", choices=["server", "client"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--algorithm", choices=sorted(ALGORITHMS), default="token-bucket")
    parser.add_argument("--limit", type=int, default=5, help="requests per window")
    parser.add_argument("--window", type=int, default=10, help="seconds")
    parser.add_argument("--key", default="demo", help="the client's X-API-Key")
    parser.add_argument("--count", type=int, default=8, help="requests the client sends")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        if args.role == "server":
            asyncio.run(serve(args.host, args.port, args.algorithm, args.limit, args.window))
        elif args.role == "client":
            asyncio.run(client(args.host, args.port, args.key, args.count))
        else:
            demo()


if __name__ == "__main__":
    main()
