import asyncio
import contextlib

import pytest

from tests.support import closed_port, load_snippet, serving

hc = load_snippet("load-balancing/health_checks.py")


class Scripted:
    """A backend that runs ``behave(reader, writer)`` for each connection; counts requests."""

    def __init__(self, name, behave):
        self.name, self.behave = name, behave
        self.requests: list[bytes] = []

    async def start(self):
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return hc.Backend(self.name, "127.0.0.1", self.server.sockets[0].getsockname()[1])

    async def handle(self, reader, writer):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.requests.append(head)
            await self.behave(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def close(self):
        self.server.close()
        await self.server.wait_closed()


def answer(status, body=b"x"):
    async def behave(reader, writer):
        writer.write(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body))
        await writer.drain()
    return behave


async def reset(reader, writer):
    writer.transport.abort()  # the request arrived; the backend dies before answering


async def stall(reader, writer):
    await reader.read()  # until the balancer gives up and closes


async def request(port, data):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        async with asyncio.timeout(10):
            raw = await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body.decode().strip()


def get(path="/x", method="GET"):
    return (f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n").encode()


def balancer(backends, *, lines=None, now=None, consecutive_5xx=3, **settings):
    say = (lines.append if lines is not None else lambda line: None)
    checks = hc.ActiveHealthCheck(backends, timeout=0.5, report=say)
    outliers = hc.OutlierDetection(backends, consecutive_5xx=consecutive_5xx, report=say,
                                   **({"clock": lambda: now[0]} if now else {}))
    return hc.HealthCheckedBalancer(backends, checks=checks, outliers=outliers, report=say,
                                    **settings)


@pytest.fixture
async def names():
    servers = [hc.DemoBackend(name) for name in ("b1", "b2", "b3")]
    backends = [await server.start() for server in servers]
    yield servers, backends
    for server in servers:
        await server.crash()


# ---- active checks: the thresholds ----

def test_thresholds_take_a_backend_out_and_put_it_back():
    lines = []
    checks = hc.ActiveHealthCheck([hc.Backend("b", "127.0.0.1", 1)], healthy_threshold=2,
                                  unhealthy_threshold=3, report=lines.append)
    verdicts = []
    for problem in ["down", "down", None, "down", "down", "down", None, "down", None, None]:
        checks.judge("b", problem)
        verdicts.append(checks.healthy("b"))
    # a pass in between restarts the count; out after 3 failures in a row, in after 2 passes
    assert verdicts == [True, True, True, True, True, False, False, False, False, True]
    assert lines == ["[health] b is out of rotation: 3 checks failed (down)",
                     "[health] b is back in rotation: 2 checks passed"]


async def test_a_probe_reports_what_went_wrong():
    async def ssh(reader, writer):
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")  # not an HTTP server at all
        await writer.drain()

    scripted = [Scripted("ok", answer(200)), Scripted("sick", answer(503)),
                Scripted("silent", stall), Scripted("other", ssh)]
    backends = [await s.start() for s in scripted]
    backends.append(hc.Backend("gone", "127.0.0.1", await closed_port()))
    checks = hc.ActiveHealthCheck(backends, timeout=0.1)
    problems = await checks.check_round()
    assert problems == {"ok": None, "sick": "answered 503", "silent": "no answer within 0.1 s",
                        "other": "answered something that is not HTTP",
                        "gone": "connection refused or reset"}
    assert scripted[0].requests[0].startswith(b"GET /health HTTP/1.1\r\n")
    for s in scripted:
        await s.close()


async def test_running_checks_take_a_crashed_backend_out(names):
    servers, backends = names
    lines = []
    checks = hc.ActiveHealthCheck(backends, interval=0.01, timeout=0.5, unhealthy_threshold=2,
                                  report=lines.append)
    running = asyncio.create_task(checks.run())
    await servers[1].crash()
    async with asyncio.timeout(10):
        while checks.healthy("b2"):
            await asyncio.sleep(0.01)  # the checker runs on its own interval
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert lines == ["[health] b2 is out of rotation: 2 checks failed "
                     "(connection refused or reset)"]
    assert checks.healthy("b1") and checks.healthy("b3")


async def test_a_flapping_backend_stays_out_with_thresholds_and_flaps_without(names):
    servers, backends = names
    steady = hc.ActiveHealthCheck(backends, healthy_threshold=2, unhealthy_threshold=3,
                                  report=lambda line: None)
    naive = hc.ActiveHealthCheck(backends, healthy_threshold=1, unhealthy_threshold=1,
                                 report=lambda line: None)
    b3 = servers[2]
    seen_steady, seen_naive = [], []
    for up in [False, False, False, True, False, True, False, True, False]:
        await (b3.start() if up else b3.crash())
        await steady.check_round()
        await naive.check_round()
        seen_steady.append(steady.healthy("b3"))
        seen_naive.append(naive.healthy("b3"))
    assert seen_steady == [True, True] + [False] * 7  # out after 3, and it stays out
    assert seen_naive == [False, False, False, True, False, True, False, True, False]


# ---- passive outlier detection ----

def detector(n=3, **settings):
    now = [0.0]
    lines = []
    backends = [hc.Backend(name, "127.0.0.1", 1) for name in ("a", "b", "c")]
    return hc.OutlierDetection(backends, consecutive_5xx=n, clock=lambda: now[0],
                               report=lines.append, **settings), now, lines


def test_consecutive_failures_eject_and_a_success_resets_the_count():
    od, now, lines = detector()
    for failed in [True, True, False, True, True]:
        od.record("a", failed)
    assert not od.ejected("a")
    od.record("a", True)
    assert od.ejected("a")
    assert lines == ["[outlier] a ejected for 30 s after 3 failures in a row (ejection number 1)"]


def test_each_ejection_lasts_longer_up_to_the_maximum():
    od, now, lines = detector(n=1, max_ejection_time=70, max_ejection_percent=100)
    durations = []
    for _ in range(4):
        od.record("a", True)
        start = now[0]
        while od.ejected("a"):
            now[0] += 1
        durations.append(now[0] - start)
    assert durations == [30, 60, 70, 70]
    assert lines[1] == "[outlier] a's ejection is over: back in rotation"


def test_max_ejection_percent_always_allows_one_then_caps():
    od, now, lines = detector(n=1, max_ejection_percent=10)
    od.record("a", True)
    od.record("b", True)
    od.record("b", True)  # still capped: said once
    assert od.ejected("a") and not od.ejected("b")
    assert lines[1:] == ["[outlier] b not ejected: 1 of 3 backends are out already "
                         "(max_ejection_percent 10)"]
    now[0] = 30.0  # a is back: b can go now
    od.record("b", True)
    assert od.ejected("b") and not od.ejected("a")


def test_a_higher_cap_lets_more_out():
    od, _, _ = detector(n=1, max_ejection_percent=50)
    for name in ("a", "b", "c"):
        od.record(name, True)
    assert [od.ejected(name) for name in ("a", "b", "c")] == [True, True, False]


# ---- the balancer, over real sockets ----

async def test_requests_spread_round_robin(names):
    _, backends = names
    async with serving(balancer(backends)) as port:
        bodies = [(await request(port, get(f"/{n}")))[1] for n in range(6)]
    assert [body.split(":")[0] for body in bodies] == ["b1", "b2", "b3"] * 2


async def test_a_dead_backend_is_retried_then_ejected_and_no_client_sees_an_error(names):
    _, backends = names
    dead = hc.Backend("dead", "127.0.0.1", await closed_port())
    lines = []
    async with serving(balancer([dead, *backends[:2]], lines=lines)) as port:
        answers = [await request(port, get(f"/{n}")) for n in range(8)]
    assert all(status == 200 for status, _ in answers)
    assert lines.count("[retry] GET /0: dead refused the connection; trying another backend") == 1
    assert "[outlier] dead ejected for 30 s after 3 failures in a row (ejection number 1)" in lines
    assert sum("dead refused" in line for line in lines) == 3  # then it is out of rotation


@pytest.mark.parametrize("behave", [reset, answer(500, b"oops")], ids=["reset", "500"])
async def test_a_get_is_retried_on_another_backend_but_a_post_is_not(behave):
    bad, good = Scripted("bad", behave), Scripted("good", answer(200, b"fine"))
    backends = [await bad.start(), await good.start()]
    async with serving(balancer(backends)) as port:
        assert await request(port, get("/a")) == (200, "fine")
        status, body = await request(port, get("/orders", "POST"))  # lands on bad
    assert status in (500, 502) and len(bad.requests) == 2 and len(good.requests) == 1
    assert body == "oops" or body in ("backend bad: reset the connection",
                                      "backend bad: the backend closed after 0 bytes, no "
                                      "complete head")  # a reset, or an early end
    for s in (bad, good):
        await s.close()


async def test_a_post_that_was_never_sent_is_retried():
    good = Scripted("good", answer(201, b"made"))
    dead = hc.Backend("dead", "127.0.0.1", await closed_port())
    async with serving(balancer([dead, await good.start()])) as port:
        assert await request(port, get("/orders", "POST")) == (201, "made")
    await good.close()


async def test_when_every_try_fails_the_client_gets_the_last_error():
    bad1, bad2 = Scripted("bad1", answer(503, b"one")), Scripted("bad2", answer(500, b"two"))
    backends = [await bad1.start(), await bad2.start()]
    async with serving(balancer(backends)) as port:
        assert await request(port, get("/a")) == (500, "two")
        refused = [hc.Backend(f"gone{n}", "127.0.0.1", await closed_port()) for n in (1, 2)]
        async with serving(balancer(refused)) as port2:
            assert await request(port2, get("/a")) == (502, "no backend could answer")
    for s in (bad1, bad2):
        await s.close()


async def test_a_stalled_backend_is_a_504_for_a_post_and_a_retry_for_a_get():
    slow, good = Scripted("slow", stall), Scripted("good", answer(200, b"fine"))
    backends = [await slow.start(), await good.start()]
    async with serving(balancer(backends, backend_timeout=0.1)) as port:
        assert await request(port, get("/a", "POST")) == (
            504, "backend slow did not answer in time")
        assert await request(port, get("/b")) == (200, "fine")  # round-robin: good's turn
        assert await request(port, get("/c")) == (200, "fine")  # slow's turn: retried on good
    assert len(slow.requests) == 2 and len(good.requests) == 2
    for s in (slow, good):
        await s.close()


async def test_with_every_backend_out_it_fails_open(names):
    _, backends = names
    lb = balancer(backends)
    for name in ("b1", "b2", "b3"):
        for _ in range(3):
            lb.checks.judge(name, "down")
    assert lb.in_rotation() == backends  # all unhealthy: send to all the same
    async with serving(lb) as port:
        assert (await request(port, get()))[0] == 200


async def test_a_backend_that_dies_mid_stream_costs_no_client_a_request(names):
    servers, backends = names
    lines = []
    lb = balancer(backends, lines=lines)
    lb.checks.interval = 0.01
    checking = asyncio.create_task(lb.checks.run())
    statuses = []
    crashed = asyncio.Event()

    async def client(n):
        for i in range(60):
            if n == 0 and i == 20:
                await servers[1].crash()
                crashed.set()
            statuses.append((await request(port, get(f"/{n}/{i}")))[0])

    async with serving(lb) as port:
        await asyncio.gather(*(client(n) for n in range(3)))
    checking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await checking
    assert crashed.is_set() and statuses == [200] * 180
    assert any(line.startswith("[retry] GET") and "b2" in line for line in lines)
    assert any(line.startswith("[outlier] b2 ejected") for line in lines)


async def test_a_balancer_passes_the_answer_through(names):
    _, backends = names
    async with serving(balancer(backends)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /g HTTP/1.0\r\n\r\n")
        async with asyncio.timeout(10):
            raw = await reader.read()
        writer.close()
        await writer.wait_closed()
    head, rest = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Via: 1.1 health_checks" in head
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n")  # HEAD had no body; then HTTP/1.0 closes
    assert rest.endswith(b"b2: GET /g\n")


@pytest.mark.parametrize(("raw", "reason"), [
    (b"", "closed after 0 bytes"),
    (b"NOPE\r\n\r\n", "bad status line"),
    (b"HTTP/1.1 100 Continue\r\n\r\n", "bad status line"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "Transfer-Encoding"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "shorter than"),
])
async def test_a_broken_backend_answer_is_a_502(raw, reason):
    async def behave(reader, writer):
        writer.write(raw)
        await writer.drain()

    broken = Scripted("broken", behave)
    async with serving(balancer([await broken.start()])) as port:
        status, body = await request(port, get("/x", "POST"))
    assert status == 502 and reason in body
    await broken.close()


async def test_an_oversize_backend_answer_is_a_502(monkeypatch):
    monkeypatch.setattr(hc, "MAX_RESPONSE", 50)
    big = Scripted("big", answer(200, b"x" * 100))
    async with serving(balancer([await big.start()])) as port:
        assert await request(port, get("/x", "POST")) == (
            502, "backend big: the backend's answer is larger than 50 bytes")
    await big.close()


@pytest.mark.parametrize(("data", "status", "reason"), [
    (b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n", 400, "non-ASCII"),
    (b"GET /x\r\nHost: x\r\n\r\n", 400, "request line must be"),
    (b"G(T /x HTTP/1.1\r\nHost: x\r\n\r\n", 400, "is not a token"),
    (b"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", 400, "path of visible ASCII"),
    (b"GET /x HTTP/2.0\r\nHost: x\r\n\r\n", 505, "is not HTTP/1.1"),
    (b"GET /x HTTX/1.1\r\nHost: x\r\n\r\n", 400, "is not HTTP/1.1"),
    (b"GET /x HTTP/1.1\r\nHost : x\r\n\r\n", 400, "malformed header line"),
    (b"GET /x HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n", 400, "control character"),
    (b"GET /x HTTP/1.1\r\nHost: x\r\nhost: y\r\n\r\n", 400, "more than one host"),
    (b"GET /x HTTP/1.1\r\n\r\n", 400, "without a Host"),
    (b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "Transfer"),
    (b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, "not a number"),
    (b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n", 413,
     "at most"),
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "longer than 4096"),
    (b"GET /" + b"a" * 5000, 414, "longer than 4096"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431, "larger than"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20000, 431, "larger than"),
    (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X: y\r\n" * 100 + b"\r\n", 431, "more than 100"),
])
async def test_malformed_requests_get_a_status_and_a_close_while_others_are_served(
        names, data, status, reason):
    _, backends = names
    async with serving(balancer(backends)) as port:
        bystander = asyncio.create_task(request(port, get("/by")))
        got, body = await request(port, data)
        assert got == status and reason in body
        assert (await bystander)[0] == 200


async def test_a_client_that_stalls_is_dropped(names):
    _, backends = names
    async with serving(balancer(backends, client_timeout=0.1)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHo")
        async with asyncio.timeout(10):
            assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()


async def test_close_ends_a_kept_alive_connection(names):
    _, backends = names
    lb = balancer(backends)
    port = await lb.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /k HTTP/1.1\r\nHost: x\r\n\r\n")
    async with asyncio.timeout(10):
        await reader.readuntil(b"b1: GET /k\n")
        await lb.close()
        assert await reader.read() == b""
    writer.close()
    await writer.wait_closed()


async def test_the_demo_backend_gives_up_on_garbage_and_answers_head():
    server = hc.DemoBackend("b9")
    backend = await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", backend.port)
    writer.write(b"NONSENSE\r\n\r\n")
    async with asyncio.timeout(10):
        assert await reader.read() == b""
    writer.close()
    await writer.wait_closed()
    status, body = await request(backend.port, get("/h", "HEAD"))
    assert (status, body) == (200, "")
    await server.crash()


# ---- the commands ----

async def test_client_command_prints_who_answered(names, capsys):
    _, backends = names
    async with serving(balancer(backends)) as port:
        await asyncio.to_thread(hc.main, ["client", "--port", str(port)])
    assert [line.split(":")[0] for line in capsys.readouterr().out.splitlines()] == [
        "b1", "b2", "b3"] * 2


async def test_serve_runs_until_cancelled(monkeypatch):
    ready = asyncio.Event()
    lines = []
    monkeypatch.setattr(hc, "print", lambda *a, **k: (lines.append(a[0]), ready.set()),
                        raising=False)
    task = asyncio.create_task(hc.serve("127.0.0.1", 0))
    async with asyncio.timeout(10):
        await ready.wait()
    port = int(lines[0].split("/ in front")[0].rsplit(":", 1)[1])
    assert (await request(port, get("/s")))[1] == "b1: GET /s"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_server_command_stops_quietly_on_ctrl_c(monkeypatch):
    seen = []

    async def interrupted(host, port):
        seen.append((host, port))
        raise KeyboardInterrupt

    monkeypatch.setattr(hc, "serve", interrupted)
    hc.main(["server", "--port", "9000"])
    assert seen == [("127.0.0.1", 9000)]
