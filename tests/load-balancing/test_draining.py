import asyncio
import contextlib

import pytest

from tests.support import closed_port, load_snippet, serving

dr = load_snippet("load-balancing/draining.py")


class Client:
    """One kept-alive connection: send a request, read its answer (framed by Content-Length)."""

    async def open(self, port):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        return self

    async def send(self, data, head_only=False):
        self.writer.write(data)
        async with asyncio.timeout(10):
            head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            lines = head.split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
                       if k}
            body = b"" if head_only else await self.reader.readexactly(
                int(headers["content-length"]))
        return int(lines[0].split(" ")[1]), headers, body.decode()

    async def closed(self):
        async with asyncio.timeout(10):
            return await self.reader.read() == b""

    async def close(self):
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


@contextlib.asynccontextmanager
async def client(port):
    c = await Client().open(port)
    try:
        yield c
    finally:
        await c.close()


def req(method="GET", path="/items/1", *extra):
    return "\r\n".join([f"{method} {path} HTTP/1.1", "Host: x", "Content-Length: 0", *extra,
                        "", ""]).encode()


@contextlib.asynccontextmanager
async def backend(**settings):
    b = dr.Backend("b1", **settings)
    address = await b.start()
    try:
        yield b, address.port
    finally:
        await b.kill()


# ---- a rolling restart during a stream of requests: none lost ----

@pytest.mark.parametrize("retry_gets", [True, False], ids=["GETs retried", "no retries"])
async def test_a_drained_rolling_restart_loses_no_request(retry_gets):
    async with dr.Cluster(retry_gets=retry_gets) as cluster:
        old = list(cluster.backends)
        lines = []
        stream = await cluster.rolling_restart("drain", 300, lines.append)
        assert [b.name for b in cluster.backends] == ["b1", "b2", "b3"]
        assert all(new is not was for new, was in zip(cluster.backends, old, strict=True))
    assert stream.sent == 300 and stream.failed() == 0
    assert stream.outcomes["GET ok"] + stream.outcomes["POST ok"] == 300
    assert stream.outcomes["GET ok"] > 100 and stream.outcomes["POST ok"] > 100
    # the drains happened under traffic: each old backend answered while draining
    assert all(b.stats["answers with Connection: close while draining"] > 0 for b in old)
    assert len(lines) == 15 and lines[1] == "b1: out of rotation: the balancer sends it nothing new"


async def test_a_sigterm_drain_with_a_pre_stop_delay_loses_no_request():
    """No orchestrator talks to the balancer: the backend fails its checks and waits."""
    async with dr.Cluster() as cluster:
        stream = dr.Stream(cluster.port, 300)
        stream.gates = [(200, asyncio.Event())]
        streaming = asyncio.create_task(stream.run())
        async with asyncio.timeout(30):
            await stream.reach(50)
            b2 = cluster.backends[1]
            out_first = []
            watching = asyncio.create_task(cluster.balancer.wait_for("b2", in_rotation=False))
            watching.add_done_callback(lambda _: out_first.append(b2.server.is_serving()))
            await b2.drain(pre_stop=0.3, grace=0.04)  # 15 check intervals
            cluster.backends[1] = dr.Backend("b2", port=b2.port)
            await cluster.backends[1].start()
            stream.gates[0][1].set()
            await streaming
    assert out_first == [True]  # out of rotation while it still accepted connections
    assert stream.failed() == 0 and stream.sent == 300


async def test_killing_loses_the_post_in_flight():
    async with dr.Cluster(("b1",)) as cluster:
        b1 = cluster.backends[0]
        b1.hold = asyncio.Event()
        async with client(cluster.port) as c:
            posting = asyncio.create_task(c.send(req("POST", "/orders")))
            async with asyncio.timeout(10):
                await b1.started.wait()
            await b1.kill()
            status, _, body = await posting
    assert (status, body) == (502, "backend b1: the connection was lost before the answer\n")
    assert b1.orders == 0


async def test_draining_finishes_the_post_in_flight_and_asks_to_close():
    async with dr.Cluster(("b1",)) as cluster:
        b1 = cluster.backends[0]
        b1.hold = asyncio.Event()
        async with client(cluster.port) as c:
            posting = asyncio.create_task(c.send(req("POST", "/orders")))
            async with asyncio.timeout(10):
                await b1.started.wait()
            b1.begin_drain()
            await cluster.balancer.wait_for("b1", in_rotation=False)
            stopping = asyncio.create_task(b1.shutdown(grace=0))
            await asyncio.sleep(0)
            assert not b1.server.is_serving() and len(b1.busy) == 1
            b1.hold.set()
            status, _, body = await posting
            await stopping
            # nothing left in rotation: the balancer says so, and how soon to come back
            assert (await c.send(req()))[:2] == (503, {"retry-after": "1",
                                                       "content-length": "23"})
    assert (status, body) == (201, "b1: order 1 created\n")
    assert cluster.balancer.stats[
        "connections closed: the backend said Connection: close"] == 1
    assert b1.stats["answers with Connection: close while draining"] == 1


async def test_a_request_still_running_at_the_drain_timeout_is_cut():
    async with backend() as (b, port), client(port) as c:
        b.hold = asyncio.Event()  # never set: this request would run for ever
        c.writer.write(req())
        async with asyncio.timeout(10):
            await b.started.wait()
        await b.drain(pre_stop=0, grace=0, timeout=0.05)
        assert await c.closed()
    assert b.stats["requests cut at the drain timeout"] == 1


# ---- the backend on its own ----

async def test_a_draining_backend_answers_kept_alive_requests_with_connection_close():
    async with backend() as (b, port), client(port) as c, client(port) as idle:
        assert await c.send(req("GET", "/health")) == (200, {"content-type": "text/plain",
                                                             "content-length": "3"}, "ok\n")
        assert (await idle.send(req()))[0] == 200  # kept alive, then idle
        b.begin_drain()
        status, headers, body = await c.send(req("GET", "/health"))
        assert (status, headers["connection"], body) == (503, "close", "draining\n")
        assert await c.closed()
        # a request on a connection kept open is still answered, politely, and it closes
        status, headers, body = await idle.send(req("GET", "/late"))
        assert (status, headers["connection"], body) == (200, "close", "b1: GET /late\n")
        assert await idle.closed()
        await b.shutdown(grace=0)
        with pytest.raises(OSError):  # no longer accepting
            await asyncio.open_connection("127.0.0.1", port)
    assert b.stats["answers with Connection: close while draining"] == 1


async def test_shutdown_closes_the_connections_left_idle_after_the_grace():
    async with backend() as (b, port), client(port) as c:
        assert (await c.send(req()))[0] == 200
        b.begin_drain()
        await b.shutdown(grace=0)
        assert await c.closed()
    assert b.stats["idle connections closed"] == 1


async def test_the_backend_answers_head_404_and_keeps_alive():
    async with backend() as (b, port), client(port) as c:
        assert await c.send(req("HEAD", "/items/7"), head_only=True) == (
            200, {"content-type": "text/plain", "content-length": "17"}, "")
        assert (await c.send(req("DELETE", "/items/7")))[0] == 404
        assert (await c.send(req("POST", "/orders")))[2] == "b1: order 1 created\n"
        status, headers, _ = await c.send(req("GET", "/x", "Connection: close"))
        assert (status, headers["connection"]) == (200, "close")
        assert await c.closed()


async def test_an_idle_kept_alive_connection_times_out():
    async with backend(idle_timeout=0.1) as (b, port), client(port) as c:
        assert (await c.send(req()))[0] == 200
        assert await c.closed()


MALFORMED = [
    (b"GARBAGE\r\n\r\n", 400, "request line must be"),
    (b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n", 400, "non-ASCII"),
    (b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "not a token"),
    (b"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", 400, "path of visible ASCII"),
    (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "is not HTTP/1.1"),
    (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, "malformed header line"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n", 400, "control character"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400, "more than one host"),
    (b"GET / HTTP/1.1\r\n\r\n", 400, "without a Host"),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "Transfer"),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n", 400, "not a number"),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413, "at most"),
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "longer than"),
    (b"GET /" + b"a" * 5000, 414, "longer than"),
    (b"GET / HTTP/1.1\r\nX: " + b"a" * 20000, 431, "larger than"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431, "larger than"),
    (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X: y\r\n" * 100 + b"\r\n", 431, "more than 100"),
    ]


async def test_malformed_requests_get_a_status_and_a_close():
    """At the balancer and at a backend, each while another client is in mid-request."""
    async with dr.Cluster(("b1",)) as cluster:
        for port in (cluster.port, cluster.backends[0].port):
            for data, status, reason in MALFORMED:
                async with client(port) as bystander, client(port) as bad:
                    bystander.writer.write(b"GET /by")  # in the middle of a request all along
                    got, _, body = await bad.send(data)
                    assert got == status and reason in body, (data[:30], got, body)
                    assert await bad.closed()
                    assert (await bystander.send(b" HTTP/1.1\r\nHost: x\r\n\r\n"))[0] == 200


# ---- the balancer ----

async def test_the_balancer_reuses_kept_alive_connections_to_a_backend():
    async with dr.Cluster(("b1",)) as cluster, client(cluster.port) as c:
        for n in range(5):
            assert (await c.send(req("GET", f"/{n}")))[2] == f"b1: GET /{n}\n"
        upstream = cluster.balancer.upstream("b1")
        assert len(upstream.idle) == 1  # one connection carried all five
        reader, writer = upstream.idle[0]
        writer.close()  # as if the backend had closed it while idle
        await writer.wait_closed()
        assert (await c.send(req("GET", "/6")))[2] == "b1: GET /6\n"  # a new one, quietly


async def test_a_refused_connection_is_retried_for_any_method():
    async with dr.Cluster(("b1",)) as cluster:
        dead = dr.Upstream(dr.Address("dead", "127.0.0.1", await closed_port()),
                           in_rotation=True)
        cluster.balancer.upstreams.insert(0, dead)
        async with client(cluster.port) as c:
            answers = [await c.send(req("POST", "/orders")) for _ in range(3)]
    assert [status for status, _, _ in answers] == [201] * 3
    assert cluster.balancer.stats["POST tries failed (connection refused)"] >= 1


@pytest.mark.parametrize(("answer", "why"), [
    (b"NOPE\r\n\r\n", "a bad status line 'NOPE'"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "an answer this balancer cannot"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n", "an answer larger than 65536"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", "the connection was lost"),
])
async def test_a_broken_backend_answer_is_a_502_for_a_post(answer, why):
    async def broken(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        if reader.at_eof() is False:
            writer.write(answer)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(broken, "127.0.0.1", 0)
    address = dr.Address("broken", "127.0.0.1", server.sockets[0].getsockname()[1])
    lb = dr.Balancer([address], report=lambda line: None)
    lb.upstream("broken").in_rotation = True
    async with serving(lb) as port, client(port) as c:
        status, _, body = await c.send(req("POST", "/orders"))
    assert status == 502 and body.startswith(f"backend broken: {why}")
    server.close()
    await server.wait_closed()


async def test_a_backend_that_does_not_answer_in_time_is_a_502(monkeypatch):
    monkeypatch.setattr(dr, "BACKEND_TIMEOUT", 0.05)
    async with dr.Cluster(("b1",)) as cluster, client(cluster.port) as c:
        cluster.backends[0].hold = asyncio.Event()
        assert (await c.send(req("POST", "/orders")))[:1] == (502,)
        cluster.backends[0].hold.set()


async def test_the_balancer_relays_head_and_ends_http_1_0():
    async with dr.Cluster(("b1",)) as cluster, client(cluster.port) as c:
        status, headers, _ = await c.send(req("HEAD", "/items/7"), head_only=True)
        assert (status, headers["content-length"], headers["via"]) == (200, "17", "1.1 draining")
        assert (await c.send(b"GET /items/8 HTTP/1.0\r\n\r\n"))[2] == "b1: GET /items/8\n"
        assert await c.closed()


async def test_a_client_that_stalls_is_dropped_by_the_balancer():
    lb = dr.Balancer([], client_timeout=0.1, report=lambda line: None)
    async with serving(lb) as port, client(port) as c:
        c.writer.write(b"GET / HTTP/1.1\r\nHo")
        assert await c.closed()


async def test_health_checks_take_a_dead_backend_out_and_bring_it_back():
    lines = []
    async with dr.Cluster(("b1", "b2"), report=lines.append) as cluster:
        b2 = cluster.backends[1]
        await b2.kill()
        await cluster.balancer.wait_for("b2", in_rotation=False)
        cluster.backends[1] = dr.Backend("b2", port=b2.port)
        await cluster.backends[1].start()
        await cluster.balancer.wait_for("b2", in_rotation=True)
    assert lines[-2:] == ["[health] b2 out of rotation (2 checks failed)",
                          "[health] b2 in rotation (2 checks passed)"]


# ---- the commands ----

async def test_client_command_prints_who_answered(capsys):
    async with dr.Cluster() as cluster:
        await asyncio.to_thread(dr.main, ["client", "--port", str(cluster.port)])
    names = [line.split(":")[0] for line in capsys.readouterr().out.splitlines()]
    assert sorted(names) == ["b1", "b1", "b2", "b2", "b3", "b3"]


def test_restart_command_counts_each_round(capsys):
    dr.main(["restart", "--strategy", "kill", "--rounds", "1", "--requests", "60",
             "--no-retry"])
    out = capsys.readouterr().out
    assert out.startswith("round 1: kill: sent 60, GET failed ") and "POST failed " in out


async def test_serve_drains_on_sigterm(monkeypatch):
    loop = asyncio.get_running_loop()
    handlers = {}
    monkeypatch.setattr(loop, "add_signal_handler", lambda sig, cb: handlers.setdefault(sig, cb))
    monkeypatch.setattr(loop, "remove_signal_handler", lambda sig: handlers.pop(sig))
    ready = asyncio.Event()
    lines = []
    monkeypatch.setattr(dr, "print", lambda *a, **k: (lines.append(a[0]), ready.set()),
                        raising=False)
    task = asyncio.create_task(dr.serve("127.0.0.1", 0, interval=0.02, timeout=0.2))
    async with asyncio.timeout(20):
        await ready.wait()
        port = int(lines[0].split("/ in front")[0].rsplit(":", 1)[1])
        lb_ready = False
        while not lb_ready:  # the backends pass their first two checks
            async with client(port) as c:
                lb_ready = (await c.send(req()))[0] == 200
            if not lb_ready:
                await asyncio.sleep(0.05)
        handlers[dr.signal.SIGTERM]()  # what `kill -TERM` would do
        await task
    assert lines[1] == "SIGTERM: draining the backends"


def test_server_command_stops_quietly_on_ctrl_c(monkeypatch):
    seen = []

    async def interrupted(host, port):
        seen.append((host, port))
        raise KeyboardInterrupt

    monkeypatch.setattr(dr, "serve", interrupted)
    dr.main(["server", "--port", "9000"])
    assert seen == [("127.0.0.1", 9000)]
