import asyncio
import socket
import sys
import threading

import httpx
import pytest

from tests.support import load_snippet

hr = load_snippet("application/http_raw.py")

GOOD = b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture
async def server():
    srv = hr.Server(now=lambda: 0.0)
    port = await srv.start()
    yield port
    await srv.close()


def test_parses_a_well_formed_head():
    head = b"POST /echo HTTP/1.1\r\nHost: a\r\nX-Tag: 1\r\nx-tag:  2 \r\nContent-Length: 3\r\n\r\n"
    request = hr.parse_head(head)
    assert (request.method, request.target, request.version) == ("POST", "/echo", (1, 1))
    assert request.headers == {"host": "a", "x-tag": "1, 2", "content-length": "3"}


def test_http_1_0_needs_no_host():
    assert hr.parse_head(b"GET / HTTP/1.0\r\n\r\n").version == (1, 0)


@pytest.mark.parametrize(
    ("head", "status", "reason"),
    [
        (b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n", 400, "non-ASCII"),
        (b"GET /hello\r\nHost: x\r\n\r\n", 400, "request line must be"),
        (b"G(T /hello HTTP/1.1\r\nHost: x\r\n\r\n", 400, "is not a token"),
        (b"GET hello HTTP/1.1\r\nHost: x\r\n\r\n", 400, "must start with '/'"),
        (b"GET /hello HTTP/1\r\nHost: x\r\n\r\n", 400, "is not an HTTP version"),
        (b"GET /hello HTTP/3.0\r\nHost: x\r\n\r\n", 505, "HTTP/3 is not spoken here"),
        (b"GET / HTTP/1.1\r\nNoColon\r\nHost: x\r\n\r\n", 400, "malformed header line"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400, "more than one Host"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n", 400, "control character"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\nb\r\n\r\n", 400, "control character"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "Transfer"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, "not a number"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413, "at most"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n", 413,
         "at most"),  # int() refuses more than 4300 digits: checked before it is called
    ],
)
def test_malformed_heads_are_refused_with_the_right_status(head, status, reason):
    with pytest.raises(hr.HTTPError, match=reason) as caught:
        hr.parse_head(head)
    assert caught.value.status == status


def test_routes():
    get = hr.parse_head(GOOD)
    assert hr.route(get)[0] == 200
    assert hr.route(hr.parse_head(b"DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n"))[:3:2] == (
        405, {"Allow": "GET, HEAD"})
    assert hr.route(hr.parse_head(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"))[0] == 404


async def test_keep_alive_serves_several_requests_on_one_connection(server):
    requests = [GOOD, GOOD, b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]
    results = await asyncio.to_thread(hr.exchange, "127.0.0.1", server, requests)
    assert [status for status, _ in results] == [200, 200, 404]
    assert b"Connection: close" in results[2][1] and b"Connection" not in results[0][1]
    assert b"Date: Thu, 01 Jan 1970 00:00:00 GMT" in results[0][1]  # the injected clock


async def test_head_has_the_headers_of_get_and_no_body(server):
    head = b"HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n"
    (_, raw_head), (_, raw_get) = await asyncio.to_thread(
        hr.exchange, "127.0.0.1", server, [head, GOOD]
    )
    assert raw_get.startswith(raw_head) and raw_head.endswith(b"\r\n\r\n")
    assert b"Content-Length: 13" in raw_head


async def test_http_1_0_connection_is_closed_after_the_response(server):
    line, body, closed = await asyncio.to_thread(
        hr.send_raw, "127.0.0.1", server, b"GET /hello HTTP/1.0\r\n\r\n"
    )
    assert line == "HTTP/1.1 200 OK" and body == "hello, world" and closed


async def test_after_a_bad_request_the_connection_is_closed_unread(server):
    request = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello there"
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        sock.sendall(request)
        first = await asyncio.to_thread(hr.read_response, sock)
        sock.sendall(b"GET /hello HTTP/1.1\r\n\r\n" + GOOD)  # no Host, then a good one
        second = await asyncio.to_thread(hr.read_response, sock)
        assert (first[0], first[2]) == (200, b"hello there")
        assert (second[0], second[2]) == (400, b"HTTP/1.1 request without a Host header\n")
        assert await asyncio.to_thread(sock.recv, 1) == b""  # closed: the 3rd is never read


@pytest.mark.parametrize("name", sorted(hr.BAD_REQUESTS))
async def test_bad_requests_get_an_error_and_a_closed_connection(server, name):
    line, reason, closed = await asyncio.to_thread(
        hr.send_raw, "127.0.0.1", server, hr.BAD_REQUESTS[name]
    )
    assert line.split(" ")[1] in {"400", "413", "431", "505"} and reason and closed


async def test_a_bad_client_does_not_disturb_one_in_the_middle_of_a_request(server):
    with socket.create_connection(("127.0.0.1", server), timeout=5) as bystander:
        bystander.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
        for data in hr.BAD_REQUESTS.values():
            await asyncio.to_thread(hr.send_raw, "127.0.0.1", server, data)
        bystander.sendall(b"cd")
        status, _, body, _ = await asyncio.to_thread(hr.read_response, bystander)
        assert (status, body) == (200, b"abcd")


async def test_a_client_that_vanishes_mid_request_is_dropped(server):
    with socket.create_connection(("127.0.0.1", server), timeout=5) as gone:
        gone.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part")
    results = await asyncio.to_thread(hr.exchange, "127.0.0.1", server, [GOOD])
    assert results[0][0] == 200


async def test_a_stalled_client_is_cut_off_by_the_timeout(monkeypatch, server):
    monkeypatch.setattr(hr, "TIMEOUT", 0.2)
    with socket.create_connection(("127.0.0.1", server), timeout=5) as slow:
        slow.sendall(b"GET /hel")
        assert await asyncio.to_thread(slow.recv, 1) == b""  # closed, without an answer


async def test_client_reports_a_response_cut_short():
    async def cut(reader, writer, data):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(data)
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    for data, error in [
        (b"HTTP/1.1 200 OK\r\nContent-Len", "closed after 28 bytes of response head"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "in the middle of the body"),
    ]:
        server = await asyncio.start_server(lambda r, w, d=data: cut(r, w, d), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            with pytest.raises(ConnectionError, match=error):
                await asyncio.to_thread(hr.exchange, "127.0.0.1", port, [GOOD])
        finally:
            server.close()
            await server.wait_closed()


async def test_a_real_http_client_agrees(server):
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server}", timeout=5) as client:
        first = await client.get("/hello")
        second = await client.post("/echo", content=b"x" * 1000)
        missing = await client.put("/hello")
    assert (first.status_code, first.text) == (200, "hello, world\n")
    assert second.content == b"x" * 1000
    assert missing.status_code == 405 and missing.headers["allow"] == "GET, HEAD"


async def test_close_ends_idle_keep_alive_connections():
    srv = hr.Server()
    port = await srv.start()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as idle:
        idle.sendall(GOOD)
        await asyncio.to_thread(hr.read_response, idle)
        assert len(srv.connections) == 1
        await srv.close()
        assert not srv.connections and await asyncio.to_thread(idle.recv, 1) == b""


async def test_serve_runs_until_cancelled(capsys):
    probe = hr.Server()
    port = await probe.start()
    await probe.close()
    task = asyncio.create_task(hr.serve("127.0.0.1", port))
    try:
        for _ in range(200):
            if "serving on" in capsys.readouterr().out:
                break
            await asyncio.sleep(0.01)
        results = await asyncio.to_thread(hr.exchange, "127.0.0.1", port, [GOOD])
        assert results[0][0] == 200
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_client_command(monkeypatch, capsys):
    ready, stop, ports = threading.Event(), threading.Event(), []

    async def run_server():
        srv = hr.Server()
        ports.append(await srv.start())
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        await srv.close()

    thread = threading.Thread(target=asyncio.run, args=(run_server(),))
    thread.start()
    try:
        assert ready.wait(5)
        monkeypatch.setattr(sys, "argv", ["http_raw.py", "client", "--port", str(ports[0])])
        hr.main()
    finally:
        stop.set()
        thread.join(5)
    out = capsys.readouterr().out
    assert "> GET /hello HTTP/1.1\\r\\n" in out and "< b'ping!' (5 bytes of body)" in out


def test_server_command_stops_quietly_on_ctrl_c(monkeypatch):
    async def interrupted(host, port):
        assert (host, port) == ("127.0.0.1", 8080)
        raise KeyboardInterrupt

    monkeypatch.setattr(hr, "serve", interrupted)
    monkeypatch.setattr(sys, "argv", ["http_raw.py", "server"])
    hr.main()
