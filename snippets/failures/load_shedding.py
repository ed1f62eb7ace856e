# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""Load shedding and bulkheads: a server that refuses work it cannot do in time, and keeps one
slow dependency from taking every worker.

An asyncio HTTP/1.1 server with a bounded pool of workers and a queue in front of them. Each
request's **queueing delay** (from its arrival to a worker taking it) is measured. With shedding
on, a request that waited longer than it was allowed gets ``503 Service Unavailable`` with
``Retry-After`` instead of being served late: how long it may wait is Facebook's *controlled
delay* (after CoDel, RFC 8289): a long ``interval`` while the queue empties now and then (a
burst), a short ``target`` once it has not been empty for a whole interval (overload). With
shedding off, the server accepts everything, and under overload every request waits longer than
the one before. Every response reports its time in the queue in a ``Server-Timing`` header.

**Bulkheads**: each dependency the handlers call has its own concurrency limit; a request that
finds its dependency's limit reached gets a 503 at once and frees its worker, so requests for a
slow dependency cannot take all the workers from requests for a fast one.

The demo runs the real server on 127.0.0.1 with a simulated clock (the work and the dependencies
take simulated milliseconds, so the transcript is the same on every run): a burst, a sustained
overload, and a slow dependency with and without bulkheads.

Run: python load_shedding.py                      (demo on 127.0.0.1, a simulated clock)
     python load_shedding.py server --port 8080   (serve until Ctrl-C; /fast takes 10 ms of a
                                                   dependency, /slow 1 s; --accept-all turns
                                                   shedding off, --no-bulkheads the bulkheads)
     python load_shedding.py client --port 8080   (a burst of 40 requests: who was served?)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import itertools
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_HEAD = 8 * 1024  # request line + headers; more gets 431
MAX_BODY = 64 * 1024  # more gets 413
HEAD_TIMEOUT = 5.0  # a client must send a whole request within this (no slowloris)
ANSWER_TIMEOUT = 30.0  # a request that was let in is answered within this, whatever happens
CLIENT_TIMEOUT = 10.0  # the demo client's wait for one answer

TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 5.6.2: methods, field names
VERSION = re.compile(r"HTTP/(\d)\.(\d)")
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           413: "Content Too Large", 431: "Request Header Fields Too Large",
           501: "Not Implemented", 503: "Service Unavailable", 505: "HTTP Version Not Supported"}


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


def parse_head(head: bytes) -> Request:
    """The request line and header fields (RFC 9112 sections 3 and 5), checked strictly."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise HTTPError(400, "non-ASCII bytes in the request head") from None
    request_line, *lines = text.removesuffix("\r\n\r\n").split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3:
        raise HTTPError(400, f"request line must be 'METHOD /path HTTP/1.1': {request_line[:40]!r}")
    method, target, version = parts
    if not TOKEN.fullmatch(method):
        raise HTTPError(400, f"method {method[:20]!r} is not a token")
    if not target.startswith("/"):
        raise HTTPError(400, f"request target {target[:40]!r} must start with '/'")
    match = VERSION.fullmatch(version)
    if not match:
        raise HTTPError(400, f"{version[:20]!r} is not an HTTP version")
    if match[1] != "1":
        raise HTTPError(505, f"HTTP/{match[1]} is not spoken here, only HTTP/1.x")
    request = Request(method, target, (1, int(match[2])))
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not TOKEN.fullmatch(name):  # also "Host : x" and folded lines
            raise HTTPError(400, f"malformed header line {line[:40]!r}")
        if any(c in value for c in "\r\n\0"):
            raise HTTPError(400, f"control character in the value of {name}")
        key = name.lower()
        if key in request.headers and key in ("host", "content-length"):
            raise HTTPError(400, f"more than one {name} header")  # request smuggling
        value = value.strip(" \t")
        request.headers[key] = f"{request.headers[key]}, {value}" if key in request.headers \
            else value
    if request.version >= (1, 1) and "host" not in request.headers:
        raise HTTPError(400, "HTTP/1.1 request without a Host header")
    if "transfer-encoding" in request.headers:
        raise HTTPError(501, "Transfer-Encoding is not supported here, send Content-Length")
    length = request.headers.get("content-length", "0")
    if not length.isdigit():
        raise HTTPError(400, f"Content-Length {length[:20]!r} is not a number")
    if len(length) > len(str(MAX_BODY)) or int(length) > MAX_BODY:  # int() of 5000 digits fails
        raise HTTPError(413, f"a body of {length[:20]} bytes, at most {MAX_BODY}")
    return request


@dataclass
class Response:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)

    def render(self, head_only: bool = False, close: bool = False) -> bytes:
        body = self.body.encode()
        lines = [f"HTTP/1.1 {self.status} {REASONS[self.status]}",
                 "Content-Type: text/plain; charset=utf-8", f"Content-Length: {len(body)}",
                 *(f"{name}: {value}" for name, value in self.headers.items())]
        if close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else body)


class RealClock:
    """Seconds from time.monotonic, and real sleeping: what the server uses outside the demo."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass
class Dependency:
    """Something the handlers call, simulated: it answers after ``latency`` seconds."""

    name: str
    latency: float


# --8<-- [start:bulkhead]
class BulkheadFull(Exception):
    """The dependency's own limit is reached: refuse now rather than take a worker to wait."""


class Bulkhead:
    """At most ``limit`` calls to one dependency at a time; no queue (a full bulkhead refuses)."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit
        self.active = 0

    @contextlib.contextmanager
    def slot(self):
        if self.active >= self.limit:
            raise BulkheadFull(f"bulkhead {self.name} full: {self.active} calls in flight")
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1
# --8<-- [end:bulkhead]


@dataclass
class Job:
    """A request waiting for a worker, and where its answer goes."""

    request: Request
    arrived: float
    max_wait: float  # how long it may wait in the queue, decided when it arrived
    answer: asyncio.Future
    abandoned: bool = False  # its connection gave up waiting: no worker should serve it


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


class SheddingServer:
    def __init__(
        self,
        *,
        workers: int = 4,
        shedding: bool = True,  # False: accept everything, however long the queue
        target: float = 0.005,  # overloaded: a request may wait this long (Facebook: 5 ms)
        interval: float = 0.100,  # the queue emptied within this: a burst, it may wait this long
        max_queue: int | None = 1000,  # beyond this many waiting, refuse at once (None: no limit)
        dependencies: dict[str, Dependency] | None = None,  # path -> what its handler calls
        bulkheads: dict[str, int] | None = None,  # dependency name -> its concurrency limit
        clock: RealClock | None = None,
        head_timeout: float = HEAD_TIMEOUT,
        answer_timeout: float = ANSWER_TIMEOUT,
    ) -> None:
        self.workers = workers
        self.shedding = shedding
        self.target = target
        self.interval = interval
        self.max_queue = max_queue if shedding else None
        self.dependencies = dependencies or {"/fast": Dependency("fast", 0.010),
                                             "/slow": Dependency("slow", 1.0)}
        self.bulkheads = {name: Bulkhead(name, limit) for name, limit in (bulkheads or {}).items()}
        self.clock = clock or RealClock()
        self.head_timeout = head_timeout
        self.answer_timeout = answer_timeout
        self.queue: asyncio.Queue[Job] = asyncio.Queue()
        self.last_empty = self.clock.now()
        self.idle = 0  # workers waiting for a job (the demo's simulated clock reads these)
        self.arrived = 0  # requests that reached the queue, let in or refused
        self.outcomes: Counter[str] = Counter()
        self.tasks: set[asyncio.Task] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.pool = [asyncio.create_task(self.worker()) for _ in range(self.workers)]
        self.server = await asyncio.start_server(self.handle, host, port, limit=MAX_HEAD)
        return self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.server.close()
        for task in [*self.tasks, *self.pool]:
            task.cancel()
        await asyncio.gather(*self.tasks, *self.pool, return_exceptions=True)
        await self.server.wait_closed()

    # --8<-- [start:admit]
    def admit(self, request: Request) -> Job | Response:
        """A request has arrived: queue it with the time it may wait, or refuse it at once."""
        now = self.clock.now()
        self.arrived += 1
        if self.max_queue is not None and self.queue.qsize() >= self.max_queue:
            return self.refuse("queue full", f"{self.queue.qsize()} requests already waiting")
        if self.queue.empty():
            self.last_empty = now
        # Controlled delay: a queue that has emptied within the last interval is absorbing a
        # burst, so a request may wait up to the interval; a queue that has stood for longer
        # is overload, and a request may wait only the target.
        standing = now - self.last_empty > self.interval
        job = Job(request, now, self.target if standing else self.interval,
                  asyncio.get_running_loop().create_future())
        self.queue.put_nowait(job)
        return job

    async def worker(self) -> None:
        while True:
            job = await self.next_job()
            waited = self.clock.now() - job.arrived
            if self.shedding and waited > job.max_wait:
                # Late already: serving it now would only make everyone behind it later.
                job.answer.set_result(self.refuse(
                    "shed", f"waited {ms(waited)} ms in the queue, over {ms(job.max_wait)} ms",
                    queue=waited))
                continue
            response = await self.serve(job.request)
            response.headers["Server-Timing"] = f"queue;dur={ms(waited)}"
            job.answer.set_result(response)
    # --8<-- [end:admit]

    async def next_job(self) -> Job:
        while True:
            self.idle += 1
            try:
                job = await self.queue.get()
            finally:
                self.idle -= 1
            if self.queue.empty():
                self.last_empty = self.clock.now()
            if not job.abandoned:
                return job

    def refuse(self, why: str, detail: str, queue: float | None = None) -> Response:
        self.outcomes[why] += 1
        headers = {"Retry-After": "1"}  # RFC 9110 10.2.3: come back in a second
        if queue is not None:
            headers["Server-Timing"] = f"queue;dur={ms(queue)}"
        return Response(503, f"{why}: {detail}\n", headers)

    # --8<-- [start:serve]
    async def serve(self, request: Request) -> Response:
        """The handler: call the path's dependency, through its bulkhead if it has one."""
        dependency = self.dependencies[request.target]
        bulkhead = self.bulkheads.get(dependency.name)
        try:
            with bulkhead.slot() if bulkhead else contextlib.nullcontext():
                await self.clock.sleep(dependency.latency)  # the call, simulated
        except BulkheadFull as error:
            return self.refuse("bulkhead full", str(error))
        self.outcomes["served"] += 1
        return Response(200, f"{dependency.name} answered\n")
    # --8<-- [end:serve]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.tasks.add(task)
        try:
            await self.serve_connection(reader, writer)
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError,
                asyncio.CancelledError):
            pass  # the client left or stalled, or close() ends the connection
        finally:
            self.tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def serve_connection(self, reader: asyncio.StreamReader,
                               writer: asyncio.StreamWriter) -> None:
        while True:  # one request after another on a keep-alive connection
            try:
                async with asyncio.timeout(self.head_timeout):  # the whole request
                    head = await reader.readuntil(b"\r\n\r\n")  # at most MAX_HEAD
                    request = parse_head(head)
                    await reader.readexactly(int(request.headers.get("content-length", "0")))
            except asyncio.LimitOverrunError:
                return await self.refuse_and_close(
                    writer, HTTPError(431, f"request head larger than {MAX_HEAD} bytes"))
            except HTTPError as error:  # the framing cannot be trusted: answer, then close
                return await self.refuse_and_close(writer, error)
            close = request.headers.get("connection", "").lower() == "close" \
                or request.version < (1, 1)
            response = await self.answer(request)
            writer.write(response.render(head_only=request.method == "HEAD", close=close))
            await writer.drain()
            if close:
                return

    async def answer(self, request: Request) -> Response:
        path = request.target.split("?")[0]
        if path not in self.dependencies:
            return Response(404, f"nothing at {path[:40]}; try /fast or /slow\n")
        if request.method not in ("GET", "HEAD"):
            return Response(405, f"{request.method} is not allowed here\n",
                            {"Allow": "GET, HEAD"})
        request.target = path
        job = self.admit(request)
        if isinstance(job, Response):
            return job
        try:
            async with asyncio.timeout(self.answer_timeout):
                return await asyncio.shield(job.answer)
        except TimeoutError:
            job.abandoned = True
            return self.refuse("gave up", f"no worker within {self.answer_timeout:g} s")

    async def refuse_and_close(self, writer: asyncio.StreamWriter, error: HTTPError) -> None:
        writer.write(Response(error.status, f"{error.reason}\n").render(close=True))
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    def settled(self, clock: SimulatedClock) -> bool:
        """Every worker waits on the simulated clock, or for a job with none queued: the demo
        may move time on."""
        waiting = self.idle + clock.sleeping
        return (clock.woken == 0 and waiting == self.workers
                and (self.idle == 0 or self.queue.empty()))


# --- The demo: the real server on a simulated clock -------------------------------------------

class SimulatedClock:
    """Time that moves only when the demo says so: sleep() returns once advance() has passed
    its deadline. Timers fire one at a time, in order, and the server settles after each, so
    the same run gives the same times."""

    def __init__(self) -> None:
        self.time = 0.0
        self.timers: list[tuple[float, int, asyncio.Future]] = []
        self.order = itertools.count()
        self.woken = 0  # fired, and their sleepers not yet running again

    def now(self) -> float:
        return self.time

    @property
    def sleeping(self) -> int:
        return sum(1 for *_, future in self.timers if not future.done())

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self.timers, (self.time + seconds, next(self.order), future))
        try:
            await future
        finally:
            if future.done() and not future.cancelled():
                self.woken -= 1

    async def advance_to(self, when: float, settle: Callable) -> None:
        while self.timers and self.timers[0][0] <= when:
            deadline, _, future = heapq.heappop(self.timers)
            if not future.done():
                self.time = max(self.time, deadline)
                self.woken += 1
                future.set_result(None)
                await settle()
        self.time = max(self.time, when)

    async def run_out(self, settle: Callable) -> None:
        while self.timers:
            await self.advance_to(self.timers[0][0], settle)


async def fetch(port: int, path: str) -> tuple[int, float]:
    """One GET on its own connection: the status and the queueing delay the server reported."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=MAX_HEAD)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                     .encode())
        async with asyncio.timeout(CLIENT_TIMEOUT):
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            await reader.read()  # the body, to the close
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    timing = re.search(r"(?im)^Server-Timing: queue;dur=([\d.]+)", head)
    return int(head.split(" ")[1]), float(timing[1]) if timing else 0.0


class Run:
    """One demo scenario: a server on the simulated clock, and requests sent at chosen times."""

    def __init__(self, **settings) -> None:
        self.clock = SimulatedClock()
        self.server = SheddingServer(clock=self.clock, **settings)
        self.sent: list[tuple[float, asyncio.Task]] = []

    async def __aenter__(self) -> Run:
        self.port = await self.server.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.server.close()

    async def settle(self, arrived: int | None = None) -> None:
        async with asyncio.timeout(CLIENT_TIMEOUT):  # waits on real sockets: bounded
            while not (self.server.settled(self.clock)
                       and (arrived is None or self.server.arrived >= arrived)):
                await asyncio.sleep(0)

    async def send(self, at: float, path: str = "/fast") -> None:
        await self.clock.advance_to(at, self.settle)
        self.sent.append((at, asyncio.create_task(fetch(self.port, path))))
        await self.settle(arrived=len(self.sent))

    async def results(self) -> list[tuple[float, int, float]]:
        """(sent at, status, ms in the queue) for every request, once time has run out."""
        await self.clock.run_out(self.settle)
        answers = await asyncio.gather(*(task for _, task in self.sent))
        return [(at, status, waited) for (at, _), (status, waited) in zip(self.sent, answers,
                                                                          strict=True)]


def row(label: str, cells: list) -> str:
    return f"  {label:<18}" + "".join(f"{cell:>5}" for cell in cells)


async def burst() -> None:
    print("1. a burst of 8 requests at t=0 on 2 workers, 100 ms of work each")
    work = {"/fast": Dependency("fast", 0.100)}
    print(row("request", range(1, 9)))
    for label, shedding in (("accept everything", False), ("shed", True)):
        async with Run(workers=2, shedding=shedding, dependencies=work) as run:
            for _ in range(8):
                await run.send(0.0)
            results = await run.results()
        print(row(label, [status for _, status, _ in results]))
        print(row("  ms in queue", [f"{waited:g}" for *_, waited in results]))
    print("  (shed: a request may wait 100 ms while the queue empties now and then;")
    print("   the last four had waited 200 ms when a worker reached them: 503 + Retry-After)")


async def overload() -> None:
    print("2. overload: 40 requests, one every 25 ms (40 a second), on 2 workers x 100 ms")
    print("   (20 a second); the client's deadline is 500 ms")
    work = {"/fast": Dependency("fast", 0.100)}
    print(f"  {'':<18}{'served':>7}{'refused':>8}{'in time':>8}{'p50 ms':>8}{'worst ms':>9}")
    for label, shedding in (("accept everything", False), ("shed", True)):
        async with Run(workers=2, shedding=shedding, dependencies=work) as run:
            for n in range(40):
                await run.send(0.0125 + 0.025 * n)  # between the workers' 100 ms steps
            results = await run.results()
        latencies = sorted(waited + 100 for _, status, waited in results if status == 200)
        served = len(latencies)
        in_time = sum(latency <= 500 for latency in latencies)
        print(f"  {label:<18}{served:>7}{len(results) - served:>8}{in_time:>8}"
              f"{latencies[len(latencies) // 2]:>8g}{latencies[-1]:>9g}")


async def bulkheads() -> None:
    print("3. bulkheads: 4 workers; /slow calls a dependency that takes 1000 ms, /fast one that")
    print("   takes 10 ms; 4 requests for /slow, then 4 for /fast, at t=0")
    deps = {"/slow": Dependency("slow", 1.0), "/fast": Dependency("fast", 0.010)}
    paths = ["/slow"] * 4 + ["/fast"] * 4
    print(row("request", [path.strip("/") for path in paths]))
    for label, limits in (("no bulkheads", None), ("bulkheads of 2", {"slow": 2, "fast": 2})):
        async with Run(workers=4, dependencies=deps, bulkheads=limits) as run:
            for path in paths:
                await run.send(0.0, path)
            results = await run.results()
        print(row(label, [status for _, status, _ in results]))
        print(row("  ms in queue", [f"{waited:g}" for *_, waited in results]))
    print("  (without bulkheads the slow calls hold every worker for 1000 ms and the fast")
    print("   requests are shed after waiting; with them, two slow calls at a time, the other")
    print("   two refused at once, and the fast requests never wait for the slow dependency)")


async def demo() -> None:
    print("the server listens on a port the OS chose; work and dependencies take simulated")
    print("milliseconds (shedding: a request may wait 100 ms, 5 ms once the queue has not")
    print("emptied for 100 ms)")
    await burst()
    await overload()
    await bulkheads()


async def serve(host: str, port: int, *, accept_all: bool, workers: int, fast_ms: float,
                slow_ms: float, bulkheads: bool) -> None:
    server = SheddingServer(
        workers=workers, shedding=not accept_all,
        dependencies={"/fast": Dependency("fast", fast_ms / 1000),
                      "/slow": Dependency("slow", slow_ms / 1000)},
        bulkheads={"fast": workers, "slow": max(1, workers // 2)} if bulkheads else None)
    port = await server.start(host, port)
    print(f"serving on http://{host}:{port}/fast and /slow "
          f"({'accepting everything' if accept_all else 'shedding'}, {workers} workers); "
          "Ctrl-C to stop", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()


async def run_client(host: str, port: int) -> None:
    async def one(path: str) -> int:
        reader, writer = await asyncio.open_connection(host, port, limit=MAX_HEAD)
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                         .encode())
            async with asyncio.timeout(CLIENT_TIMEOUT):
                return int((await reader.readuntil(b"\r\n\r\n")).split(b" ")[1])
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    paths = ["/slow"] * 10 + ["/fast"] * 30
    statuses = await asyncio.gather(*(one(path) for path in paths))
    for path in ("/slow", "/fast"):
        counts = Counter(status for p, status in zip(paths, statuses, strict=True) if p == path)
        print(f"{path}: " + ", ".join(f"{n} x {status}" for status, n in sorted(counts.items())))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["demo", "server", "client"], default="demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--accept-all", action="store_true", help="no shedding: queue everything")
    parser.add_argument("--no-bulkheads", action="store_true", help="no per-dependency limits")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--fast-ms", type=float, default=10.0, help="the /fast dependency's time")
    parser.add_argument("--slow-ms", type=float, default=1000.0, help="the /slow dependency's")
    args = parser.parse_args(argv)
    if args.mode == "server":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args.host, args.port, accept_all=args.accept_all,
                              workers=args.workers, fast_ms=args.fast_ms, slow_ms=args.slow_ms,
                              bulkheads=not args.no_bulkheads))
    elif args.mode == "client":
        asyncio.run(run_client(args.host, args.port))
    else:
        asyncio.run(demo())


if __name__ == "__main__":
    main()
