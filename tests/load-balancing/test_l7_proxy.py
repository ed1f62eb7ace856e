import asyncio
import contextlib
import time

import pytest

from tests.support import closed_port, load_snippet, serving

l7 = load_snippet("load-balancing/l7_proxy.py")


@contextlib.asynccontextmanager
async def client(port):
    c = await l7.Client().open("127.0.0.1", port)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
async def backends():
    servers = [l7.NameServer(name) for name in ("b1", "b2", "b3")]
    started = [await server.start() for server in servers]
    yield servers, started
    for server in servers:
        await server.close()


class ScriptedBackend:
    """Reads one request head, stores it, answers with fixed bytes and closes."""

    def __init__(self, *answer: bytes) -> None:
        self.answer = answer  # written in parts, each drained, as a slow backend would
        self.requests: list[bytes] = []

    async def start(self):
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return l7.Backend("scripted", "127.0.0.1", self.server.sockets[0].getsockname()[1])

    async def handle(self, reader, writer):
        try:
            self.requests.append(await reader.readuntil(b"\r\n\r\n"))
            for part in self.answer:
                writer.write(part)
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def close(self):
        self.server.close()
        await self.server.wait_closed()


def name_of(body: str) -> str:
    return body.split(":")[0]


# ---- parsing and rewriting, no network ----

@pytest.mark.parametrize(
    ("head", "status", "reason"),
    [
        (b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n", 400, "non-ASCII"),
        (b"GET /x\r\nHost: x\r\n\r\n", 400, "request line must be"),
        (b"GET  /x HTTP/1.1\r\nHost: x\r\n\r\n", 400, "request line must be"),
        (b"G(T /x HTTP/1.1\r\nHost: x\r\n\r\n", 400, "is not a token"),
        (b"GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400, "must be a path of visible"),
        (b"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", 400, "must be a path of visible ASCII"),
        (b"GET /a\x7fb HTTP/1.1\r\nHost: x\r\n\r\n", 400, "must be a path of visible ASCII"),
        (b"GET /x HTTP/2.0\r\nHost: x\r\n\r\n", 505, "is not HTTP/1.1"),
        (b"GET /x HTTX/1.1\r\nHost: x\r\n\r\n", 400, "is not HTTP/1.1"),
        (b"GET /x HTTP/1.1\r\nNoColon\r\nHost: x\r\n\r\n", 400, "malformed header line"),
        (b"GET /x HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, "malformed header line"),
        (b"GET /x HTTP/1.1\r\nHost : x\r\n\r\n", 400, "malformed header line"),
        (b"GET /x HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n", 400, "control character"),
        (b"GET /x HTTP/1.1\r\nHost: x\r\nhost: y\r\n\r\n", 400, "more than one host"),
        (b"GET /x HTTP/1.1\r\n\r\n", 400, "without a Host"),
        (b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "Transfer"),
        (b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, "not a number"),
        (b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999\r\n\r\n", 413, "at most"),
        (b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n", 413,
         "at most"),  # int() refuses more than 4300 digits: checked before it is called
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "longer than 4096"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X: y\r\n" * 100 + b"\r\n", 431, "more than 100"),
    ],
)
def test_malformed_heads_get_the_right_status(head, status, reason):
    with pytest.raises(l7.HTTPError, match=reason) as caught:
        l7.parse_head(head)
    assert caught.value.status == status


def test_a_good_head_keeps_fields_in_order():
    request = l7.parse_head(b"GET /a?b=1 HTTP/1.0\r\nX-A: 1\r\nx-a:  2 \r\n\r\n")
    assert (request.method, request.target, request.version) == ("GET", "/a?b=1", "HTTP/1.0")
    assert request.headers == [("X-A", "1"), ("x-a", "2")]
    assert request.get("x-a") == "1, 2"


def test_upstream_request_drops_hop_by_hop_fields_and_appends_x_forwarded_for():
    request = l7.parse_head(
        b"POST /api/x HTTP/1.1\r\nHost: shop\r\nConnection: keep-alive, X-Secret\r\n"
        b"X-Secret: 1\r\nKeep-Alive: timeout=5\r\nUpgrade: h2c\r\n"
        b"X-Forwarded-For: 203.0.113.9\r\nContent-Length: 2\r\n\r\n"
    )
    request.body = b"hi"
    sent = l7.upstream_request(request, "10.0.0.7").decode()
    assert sent == (
        "POST /api/x HTTP/1.1\r\nHost: shop\r\n"
        "X-Forwarded-For: 203.0.113.9, 10.0.0.7\r\nVia: 1.1 l7_proxy\r\nConnection: close\r\n"
        "Content-Length: 2\r\n\r\nhi"
    )


def test_upstream_request_without_a_body_has_no_content_length():
    request = l7.parse_head(b"GET / HTTP/1.0\r\n\r\n")
    sent = l7.upstream_request(request, "10.0.0.7").decode()
    assert "Content-Length" not in sent and "Via: 1.0 l7_proxy" in sent
    assert sent.startswith("GET / HTTP/1.1\r\n")


def test_relay_response_reframes_the_body():
    raw = (b"HTTP/1.1 201 Created\r\nConnection: close\r\nX-Id: 7\r\nContent-Length: 2\r\n"
           b"\r\nokEXTRA")
    assert l7.relay_response(raw) == (
        b"HTTP/1.1 201 Created\r\nX-Id: 7\r\nVia: 1.1 l7_proxy\r\nContent-Length: 2\r\n\r\nok"
    )
    # no Content-Length: the body ran to the end of the connection
    assert l7.relay_response(b"HTTP/1.0 200 OK\r\n\r\nall of it").endswith(
        b"Content-Length: 9\r\n\r\nall of it"
    )


@pytest.mark.parametrize(
    ("raw", "method", "relayed"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", "HEAD",
         b"HTTP/1.1 200 OK\r\nVia: 1.1 l7_proxy\r\nContent-Length: 42\r\n\r\n"),
        (b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", "DELETE",
         b"HTTP/1.1 204 No Content\r\nVia: 1.1 l7_proxy\r\n\r\n"),
        (b"HTTP/1.1 304 Not Modified\r\nETag: \"a\"\r\n\r\n", "GET",
         b"HTTP/1.1 304 Not Modified\r\nETag: \"a\"\r\nVia: 1.1 l7_proxy\r\n\r\n"),
        (b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
         b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "GET",
         b"HTTP/1.1 200 OK\r\nVia: 1.1 l7_proxy\r\nContent-Length: 2\r\n\r\nok"),
    ],
)
def test_relay_response_knows_which_answers_have_no_body(raw, method, relayed):
    assert l7.relay_response(raw, method) == relayed


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "closed after 0 bytes"),
        (b"HTTP/1.1 200 OK\r\n", "no complete head"),
        (b"SPDY 200 OK\r\n\r\n", "bad status line"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "Transfer-Encoding"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "shorter than"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\nshort", "shorter than"),
    ],
)
def test_relay_response_refuses_a_broken_answer_with_502(raw, reason):
    with pytest.raises(l7.HTTPError, match=reason) as caught:
        l7.relay_response(raw)
    assert caught.value.status == 502


# ---- over real loopback sockets ----

async def test_requests_on_one_connection_spread_over_the_backends(backends):
    _, (b1, b2, b3) = backends
    async with serving(l7.L7Proxy({"/": [b1, b2, b3]})) as port, client(port) as c:
        answers = [await c.get(f"/page/{n}") for n in range(6)]
    assert [name_of(body) for _, body in answers] == ["b1", "b2", "b3"] * 2
    assert answers[0] == (200, "b1: GET /page/0 (X-Forwarded-For: 127.0.0.1)")


async def test_routes_by_longest_path_prefix(backends):
    _, (b1, b2, b3) = backends
    routes = {"/api/": [b1, b2], "/api/v2/": [b3], "/static/": [b3]}
    async with serving(l7.L7Proxy(routes)) as port, client(port) as c:
        picked = [name_of((await c.get(path))[1])
                  for path in ["/api/a", "/api/v2/b", "/api/c?x=/static/", "/static/d"]]
        status, reason = await c.get("/other")
    assert picked == ["b1", "b3", "b2", "b3"]
    assert (status, reason) == (404, "no route for /other")


async def test_a_post_body_is_forwarded_and_the_answer_relayed():
    scripted = ScriptedBackend(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n", b"do", b"ne")
    backend = await scripted.start()
    async with serving(l7.L7Proxy({"/": [backend]})) as port, client(port) as c:
        c.writer.write(b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhel")
        await c.writer.drain()  # the rest of the body comes later
        answer = await c.send(b"lo")
    assert answer == (200, "done")
    assert scripted.requests[0].startswith(b"POST /orders HTTP/1.1\r\n")
    assert b"Content-Length: 5\r\n" in scripted.requests[0]
    await scripted.close()


async def test_pipelined_requests_are_answered_in_order(backends):
    _, (b1, b2, b3) = backends
    async with serving(l7.L7Proxy({"/": [b1, b2, b3]})) as port, client(port) as c:
        c.writer.write(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n")
        first = await c.send(b"")
        second = await c.send(b"")
    assert [first[1], second[1]] == ["b1: GET /one (X-Forwarded-For: 127.0.0.1)",
                                     "b2: GET /two (X-Forwarded-For: 127.0.0.1)"]


@pytest.mark.parametrize("bad", [
    b"GET /page HTTP/1.1\r\nHost : x\r\n\r\n",
    b"GARBAGE\r\n\r\n",
    b"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n",  # a control byte: never sent to a backend
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n",
    b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /" + b"a" * 5000,  # no line end in sight
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000,  # no end of head in sight
])
async def test_malformed_input_gets_4xx_and_closes_while_others_are_served(backends, bad):
    _, (b1, b2, b3) = backends
    proxy = l7.L7Proxy({"/": [b1, b2, b3]})
    async with serving(proxy) as port, client(port) as bystander, client(port) as bad_client:
        bystander.writer.write(b"GET /by")  # in the middle of a request all along
        await bystander.writer.drain()
        status, reason = await bad_client.send(bad)
        assert status in (400, 413, 414, 431)
        assert reason
        async with asyncio.timeout(10):
            assert await bad_client.reader.read() == b""  # the proxy closed it
        answer = await bystander.send(b"stander HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer == (200, "b1: GET /bystander (X-Forwarded-For: 127.0.0.1)")


async def test_a_refusing_backend_is_skipped_and_all_refusing_is_a_502(backends):
    _, (b1, _, _) = backends
    lines = []
    down = [l7.Backend(f"down{n}", "127.0.0.1", await closed_port()) for n in (1, 2)]
    routes = {"/": [down[0], b1], "/gone/": down}
    async with serving(l7.L7Proxy(routes, report=lines.append)) as port, client(port) as c:
        assert name_of((await c.get("/a"))[1]) == "b1"
        assert name_of((await c.get("/b"))[1]) == "b1"
        status, reason = await c.get("/gone/x")
        assert (status, reason) == (502, "no backend for /gone/ accepted a connection")
        assert (await c.get("/c"))[0] == 200  # the connection is still usable
    assert lines[:3] == ["l7: connecting to backend down1 was refused: skipped"] * 3
    assert "down2" in lines[3]


async def test_a_connect_timeout_skips_the_backend(backends):
    _, (b1, _, _) = backends
    lines = []
    proxy = l7.L7Proxy({"/": [b1]}, connect_timeout=0, report=lines.append)
    async with serving(proxy) as port, client(port) as c:
        assert (await c.get("/a"))[0] == 502
    assert lines == ["l7: connecting to backend b1 timed out: skipped"]


async def test_a_stalled_backend_is_a_504_within_the_timeout_and_is_freed(backends):
    _, (b1, _, _) = backends
    stall = l7.NameServer("slow", stall=True)
    slow = await stall.start()
    lines = []
    proxy = l7.L7Proxy({"/": [b1], "/slow/": [slow]}, backend_timeout=0.3, report=lines.append)
    async with serving(proxy) as port, client(port) as c:
        started = time.monotonic()
        status, reason = await c.get("/slow/x")
        took = time.monotonic() - started
        assert (status, reason) == (504, "backend slow did not answer in time")
        assert 0.3 <= took < 3
        async with asyncio.timeout(10):
            await stall.freed.wait()  # the proxy closed its backend connection
        assert (await c.get("/x"))[0] == 200  # and keeps serving this client
    assert lines == ["l7: backend slow did not answer within the timeout: 504"]
    await stall.close()


async def test_a_client_that_vanishes_mid_request_frees_the_backend_connection():
    stall = l7.NameServer("slow", stall=True)
    slow = await stall.start()
    lines = []
    reported = asyncio.Event()

    def report(line):
        lines.append(line)
        reported.set()

    proxy = l7.L7Proxy({"/": [slow]}, backend_timeout=30, report=report)
    async with serving(proxy) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /report HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        async with asyncio.timeout(10):
            await stall.stalled.wait()  # the request reached the backend
        writer.transport.abort()
        async with asyncio.timeout(10):
            await stall.freed.wait()
            await reported.wait()
    assert lines == ["l7: the client left during GET /report: backend connection closed"]
    await stall.close()


@pytest.mark.parametrize(
    ("answer", "status", "reason"),
    [
        (b"", 502, "the backend closed after 0 bytes, no complete head"),
        (b"HELLO\r\n\r\n", 502, "the backend sent a bad status line 'HELLO'"),
        (b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 100, 502,
         "the backend's answer is larger than 50 bytes"),
    ],
)
async def test_a_broken_backend_answer_is_a_502(monkeypatch, answer, status, reason):
    monkeypatch.setattr(l7, "MAX_RESPONSE", 50)
    scripted = ScriptedBackend(answer)
    backend = await scripted.start()
    async with serving(l7.L7Proxy({"/": [backend]})) as port, client(port) as c:
        assert await c.get("/x") == (status, reason)
    await scripted.close()


async def test_a_backend_reset_is_a_502():
    async def reset(reader, writer):
        await reader.read(1)
        writer.transport.abort()  # with the rest unread, the kernel answers with a reset

    server = await asyncio.start_server(reset, "127.0.0.1", 0)
    backend = l7.Backend("rude", "127.0.0.1", server.sockets[0].getsockname()[1])
    async with serving(l7.L7Proxy({"/": [backend]})) as port, client(port) as c:
        status, reason = await c.get("/x")
    # a reset may surface as an error or as an early end of the stream: a 502 either way
    assert status == 502
    assert reason.startswith(("backend rude failed", "the backend closed")), reason
    server.close()
    await server.wait_closed()


async def test_connection_close_and_http_1_0_end_the_connection(backends):
    _, (b1, _, _) = backends
    async with serving(l7.L7Proxy({"/": [b1]})) as port:
        for request in [b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                        b"GET / HTTP/1.0\r\n\r\n"]:
            async with client(port) as c:
                assert (await c.send(request))[0] == 200
                async with asyncio.timeout(10):
                    assert await c.reader.read() == b""


async def test_a_client_that_stalls_mid_request_is_dropped(backends):
    _, (b1, _, _) = backends
    async with serving(l7.L7Proxy({"/": [b1]}, client_timeout=0.2)) as port, client(port) as c:
        c.writer.write(b"GET / HTTP/1.1\r\nHo")
        async with asyncio.timeout(10):
            assert await c.reader.read() == b""


async def test_read_ahead_stops_when_the_buffer_is_full(monkeypatch):
    monkeypatch.setattr(l7, "MAX_BODY", 0)
    stall = l7.NameServer("slow", stall=True)
    slow = await stall.start()
    proxy = l7.L7Proxy({"/": [slow]}, backend_timeout=0.5)
    async with serving(proxy) as port, client(port) as c:
        c.writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"x" * 20000)
        assert (await c.send(b""))[0] == 504  # while waiting, it read ahead, then stopped
        assert (await c.send(b""))[0] == 414  # the read-ahead junk is the next "request"
    await stall.close()


async def test_close_ends_waiting_connections(backends):
    _, (b1, _, _) = backends
    proxy = l7.L7Proxy({"/": [b1]})
    port = await proxy.start()
    async with client(port) as c:
        assert (await c.get("/"))[0] == 200
        await proxy.close()
        async with asyncio.timeout(10):
            assert await c.reader.read() == b""


async def test_client_command_prints_who_answered(backends, capsys):
    _, started = backends
    async with serving(l7.L7Proxy({"/": started})) as port:
        await asyncio.to_thread(l7.main, ["client", "--port", str(port)])
    names = [line.split(":")[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ["b1", "b2", "b3"] * 2


async def test_serve_runs_until_cancelled(monkeypatch):
    ready = asyncio.Event()
    lines = []
    monkeypatch.setattr(l7, "print", lambda *a, **k: (lines.append(a[0]), ready.set()),
                        raising=False)
    task = asyncio.create_task(l7.serve("127.0.0.1", 0))
    async with asyncio.timeout(10):
        await ready.wait()
    port = int(lines[0].split(" ")[3].rstrip("/").rsplit(":", 1)[1])
    async with client(port) as c:
        assert name_of((await c.get("/static/x"))[1]) == "b3"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_server_command_stops_quietly_on_ctrl_c(monkeypatch):
    seen = []

    async def interrupted(host, port):
        seen.append((host, port))
        raise KeyboardInterrupt

    monkeypatch.setattr(l7, "serve", interrupted)
    l7.main(["server", "--port", "9000"])
    assert seen == [("127.0.0.1", 9000)]


async def test_the_demo_backend_closes_its_connections_and_refuses_garbage():
    server = l7.NameServer("b9")
    backend = await server.start()
    async with client(backend.port) as garbage:
        garbage.writer.write(b"NONSENSE\r\n\r\n")  # no method and path: it gives up
        async with asyncio.timeout(10):
            assert await garbage.reader.read() == b""
    async with client(backend.port) as idle:
        assert (await idle.get("/x"))[1] == "b9: GET /x (X-Forwarded-For: -)"
        await server.close()  # ends the keep-alive connection too
        async with asyncio.timeout(10):
            assert await idle.reader.read() == b""


async def test_expect_100_continue_is_answered_by_the_proxy():
    scripted = ScriptedBackend(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
    backend = await scripted.start()
    async with serving(l7.L7Proxy({"/": [backend]})) as port, client(port) as c:
        c.writer.write(b"PUT /f HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                       b"Content-Length: 5\r\n\r\n")
        async with asyncio.timeout(10):  # the client waits for the go-ahead before the body
            assert await c.reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        assert await c.send(b"12345") == (201, "")
    assert b"Expect" not in scripted.requests[0]  # the backend gets the body without asking
    await scripted.close()
