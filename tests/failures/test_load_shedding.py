import asyncio
import contextlib

import pytest

from tests.support import load_snippet, serving

ls = load_snippet("failures/load_shedding.py")

WORK = {"/fast": ls.Dependency("fast", 0.100)}


async def exchange(port, data, *, keep_open=False):
    """Send bytes on a new connection; (status, headers, body) of the answer, and whether the
    server then closed the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        async with asyncio.timeout(10):
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            lines = head.split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
                       if k}
            length = 0 if data.startswith(b"HEAD ") else int(headers["content-length"])
            body = await reader.readexactly(length)
            closed = None if keep_open else await reader.read(1) == b""
        return int(lines[0].split(" ")[1]), headers, body.decode(), closed
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def get(path="/fast", *extra):
    return "\r\n".join([f"GET {path} HTTP/1.1", "Host: x", *extra, "", ""]).encode()


# ---- the mechanism, on the simulated clock, over real sockets ----

async def burst(shedding, n=8, workers=2):
    async with ls.Run(workers=workers, shedding=shedding, dependencies=WORK) as run:
        for _ in range(n):
            await run.send(0.0)
        return await run.results()


async def test_accepting_everything_serves_a_burst_late():
    results = await burst(shedding=False)
    assert [status for _, status, _ in results] == [200] * 8
    assert [waited for *_, waited in results] == [0, 0, 100, 100, 200, 200, 300, 300]


async def test_shedding_refuses_what_waited_longer_than_the_interval():
    results = await burst(shedding=True)
    assert [status for _, status, _ in results] == [200] * 4 + [503] * 4
    assert [waited for *_, waited in results] == [0, 0, 100, 100, 200, 200, 200, 200]


async def test_a_standing_queue_allows_only_the_target():
    clock = ls.SimulatedClock()
    server = ls.SheddingServer(clock=clock, target=0.005, interval=0.1)
    request = ls.Request("GET", "/fast", (1, 1))
    first = server.admit(request)  # into an empty queue: a burst may wait the interval
    clock.time = 0.05
    during_burst = server.admit(request)
    clock.time = 0.15  # not empty for longer than the interval: overload
    overloaded = server.admit(request)
    assert [job.max_wait for job in (first, during_burst, overloaded)] == [0.1, 0.1, 0.005]
    assert server.arrived == 3


async def test_a_full_queue_refuses_at_once_with_retry_after():
    server = ls.SheddingServer(clock=ls.SimulatedClock(), max_queue=2)
    request = ls.Request("GET", "/fast", (1, 1))
    assert isinstance(server.admit(request), ls.Job)
    assert isinstance(server.admit(request), ls.Job)
    refused = server.admit(request)
    assert refused.status == 503 and refused.headers["Retry-After"] == "1"
    assert refused.body == "queue full: 2 requests already waiting\n"
    assert server.outcomes["queue full"] == 1


async def test_accepting_everything_has_no_queue_limit():
    server = ls.SheddingServer(clock=ls.SimulatedClock(), shedding=False, max_queue=1)
    request = ls.Request("GET", "/fast", (1, 1))
    assert all(isinstance(server.admit(request), ls.Job) for _ in range(5))


async def test_overload_sheds_and_keeps_the_served_ones_fast():
    async with ls.Run(workers=2, shedding=True, dependencies=WORK) as run:
        for n in range(40):
            await run.send(0.0125 + 0.025 * n)
        results = await run.results()
    served = [waited for _, status, waited in results if status == 200]
    assert 18 <= len(served) <= 24  # about the capacity: 20 a second for a second
    assert max(served) <= 100  # nobody served after waiting more than the interval


BULKHEAD_DEPS = {"/slow": ls.Dependency("slow", 1.0), "/fast": ls.Dependency("fast", 0.010)}


async def slow_then_fast(bulkheads):
    async with ls.Run(workers=4, dependencies=BULKHEAD_DEPS, bulkheads=bulkheads) as run:
        for path in ["/slow"] * 4 + ["/fast"] * 4:
            await run.send(0.0, path)
        return await run.results(), run.server.outcomes


async def test_without_bulkheads_a_slow_dependency_takes_every_worker():
    results, outcomes = await slow_then_fast(None)
    assert [status for _, status, _ in results] == [200] * 4 + [503] * 4
    assert [waited for *_, waited in results][4:] == [1000] * 4
    assert outcomes == {"served": 4, "shed": 4}


async def test_with_bulkheads_the_fast_requests_never_wait_for_the_slow_ones():
    results, outcomes = await slow_then_fast({"slow": 2, "fast": 2})
    assert [status for _, status, _ in results] == [200, 200, 503, 503, 200, 200, 200, 200]
    assert [waited for *_, waited in results] == [0, 0, 0, 0, 0, 0, 10, 10]
    assert outcomes == {"served": 6, "bulkhead full": 2}


def test_a_bulkhead_refuses_when_full_and_frees_its_slot_on_error():
    bulkhead = ls.Bulkhead("db", 1)
    with pytest.raises(ZeroDivisionError), bulkhead.slot():
        raise ZeroDivisionError
    assert bulkhead.active == 0
    with bulkhead.slot():
        assert bulkhead.active == 1
        with pytest.raises(ls.BulkheadFull, match="bulkhead db full: 1 calls"), bulkhead.slot():
            pass
    assert bulkhead.active == 0


async def test_an_answer_never_comes_later_than_the_answer_timeout():
    clock = ls.SimulatedClock()  # never advanced: the one worker's call never ends
    server = ls.SheddingServer(workers=1, clock=clock, answer_timeout=0.05, dependencies=WORK)
    async with serving(server) as port:
        first = asyncio.create_task(exchange(port, get()))
        async with asyncio.timeout(10):
            while clock.sleeping == 0:  # the worker is in its call
                await asyncio.sleep(0)
        status, headers, body, _ = await exchange(port, get(), keep_open=True)
        assert (status, body) == (503, "gave up: no worker within 0.05 s\n")
        assert headers["retry-after"] == "1"
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
    job = server.queue.get_nowait() if not server.queue.empty() else None
    assert job is None or job.abandoned


async def test_an_abandoned_job_is_skipped_by_the_workers():
    clock = ls.SimulatedClock()
    server = ls.SheddingServer(workers=1, clock=clock, dependencies=WORK)
    request = ls.Request("GET", "/fast", (1, 1))
    gone, kept = server.admit(request), server.admit(request)
    gone.abandoned = True
    worker = asyncio.create_task(server.worker())
    async with asyncio.timeout(10):
        while clock.sleeping == 0:
            await asyncio.sleep(0)
        await clock.advance_to(1.0, lambda: asyncio.sleep(0))
        assert (await kept.answer).status == 200
    assert not gone.answer.done()
    worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await worker


# ---- the HTTP server, on the real clock ----

@pytest.fixture
async def port():
    server = ls.SheddingServer(head_timeout=0.1, dependencies={
        "/fast": ls.Dependency("fast", 0.001), "/slow": ls.Dependency("slow", 0.002)})
    async with serving(server) as port:
        yield port


async def test_a_served_request_reports_its_time_in_the_queue(port):
    status, headers, body, closed = await exchange(port, get("/fast", "Connection: close"))
    assert (status, body, closed) == (200, "fast answered\n", True)
    assert headers["server-timing"].startswith("queue;dur=")


async def test_requests_on_one_keep_alive_connection(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(get("/fast") + get("/slow") + get("/fast?x=1"))
        async with asyncio.timeout(10):
            bodies = []
            for _ in range(3):
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200 OK\r\n")
                bodies.append(await reader.readexactly(len("fast answered\n")))
    finally:
        writer.close()
        await writer.wait_closed()
    assert bodies == [b"fast answered\n", b"slow answered\n", b"fast answered\n"]


@pytest.mark.parametrize(("data", "status", "body"), [
    (b"HEAD /fast HTTP/1.1\r\nHost: x\r\n\r\n", 200, ""),
    (b"POST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 405,
     "POST is not allowed here\n"),
    (get("/nowhere"), 404, "nothing at /nowhere; try /fast or /slow\n"),
])
async def test_what_is_not_a_get_of_a_known_path(port, data, status, body):
    got, headers, text, _ = await exchange(port, data, keep_open=True)
    assert (got, text) == (status, body)
    if status == 405:
        assert headers["allow"] == "GET, HEAD"


async def test_http_1_0_closes_after_the_answer(port):
    status, _, _, closed = await exchange(port, b"GET /fast HTTP/1.0\r\n\r\n")
    assert (status, closed) == (200, True)


@pytest.mark.parametrize(("data", "status", "reason"), [
    (b"GARBAGE\r\n\r\n", 400, "request line must be"),
    (b"GET /fast HTTP/1.1\r\n\r\n", 400, "without a Host"),
    (b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n", 400, "non-ASCII"),
    (b"GET fast HTTP/1.1\r\nHost: x\r\n\r\n", 400, "must start with '/'"),
    (b"G(T /fast HTTP/1.1\r\nHost: x\r\n\r\n", 400, "not a token"),
    (b"GET /fast HTTX/1.1\r\nHost: x\r\n\r\n", 400, "not an HTTP version"),
    (b"GET /fast HTTP/2.0\r\nHost: x\r\n\r\n", 505, "only HTTP/1.x"),
    (b"GET /fast HTTP/1.1\r\nHost : x\r\n\r\n", 400, "malformed header line"),
    (b"GET /fast HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n", 400, "control character"),
    (b"GET /fast HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400, "more than one Host"),
    (b"POST /fast HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "Transfer"),
    (b"POST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, "not a number"),
    (b"POST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n", 413,
     "at most"),
    (b"GET /fast HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431, "larger than"),
])
async def test_malformed_requests_get_a_clear_status_and_a_close(port, data, status, reason):
    bystander = asyncio.create_task(exchange(port, get("/fast", "Connection: close")))
    got, _, body, closed = await exchange(port, data)
    assert got == status and reason in body and closed
    assert (await bystander)[0] == 200  # another client, at the same time, lost nothing


async def test_a_client_that_stalls_mid_request_is_dropped(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /fast HTTP/1.1\r\nHo")
        async with asyncio.timeout(10):
            assert await reader.read() == b""
    finally:
        writer.close()
        await writer.wait_closed()


async def test_close_ends_a_request_that_waits_for_a_worker():
    clock = ls.SimulatedClock()  # never advanced: nothing is ever answered
    server = ls.SheddingServer(workers=1, clock=clock, dependencies=WORK)
    port = await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(get())
        async with asyncio.timeout(10):
            while server.arrived == 0:
                await asyncio.sleep(0)
            await server.close()
            assert await reader.read() == b""
    finally:
        writer.close()
        await writer.wait_closed()


# ---- the commands ----

async def test_client_command_counts_the_answers(capsys):
    server = ls.SheddingServer(workers=2, dependencies={
        "/fast": ls.Dependency("fast", 0.001), "/slow": ls.Dependency("slow", 0.001)})
    async with serving(server) as port:
        await asyncio.to_thread(ls.main, ["client", "--port", str(port)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("/slow: ") and lines[1].startswith("/fast: ")
    counted = sum(int(part.split(" x ")[0]) for line in lines for part in
                  line.split(": ")[1].split(", "))
    assert counted == 40


async def test_serve_runs_until_cancelled(monkeypatch):
    ready = asyncio.Event()
    lines = []
    monkeypatch.setattr(ls, "print", lambda *a, **k: (lines.append(a[0]), ready.set()),
                        raising=False)
    task = asyncio.create_task(ls.serve("127.0.0.1", 0, accept_all=True, workers=2, fast_ms=1,
                                        slow_ms=1, bulkheads=True))
    async with asyncio.timeout(10):
        await ready.wait()
    assert "accepting everything, 2 workers" in lines[0]
    port = int(lines[0].split("/fast")[0].rsplit(":", 1)[1])
    assert (await exchange(port, get("/slow", "Connection: close")))[0] == 200
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_server_command_stops_quietly_on_ctrl_c(monkeypatch):
    seen = []

    async def interrupted(host, port, **settings):
        seen.append((host, port, settings))
        raise KeyboardInterrupt

    monkeypatch.setattr(ls, "serve", interrupted)
    ls.main(["server", "--port", "9000", "--accept-all", "--workers", "3"])
    assert seen == [("127.0.0.1", 9000, {"accept_all": True, "workers": 3, "fast_ms": 10.0,
                                         "slow_ms": 1000.0, "bulkheads": True})]


async def test_a_full_queue_is_a_503_over_http():
    async with serving(ls.SheddingServer(max_queue=0)) as port:
        status, headers, body, _ = await exchange(port, get(), keep_open=True)
    assert (status, body) == (503, "queue full: 0 requests already waiting\n")
    assert headers["retry-after"] == "1"
