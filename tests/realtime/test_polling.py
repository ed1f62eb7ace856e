import asyncio
import contextlib
import json
import socket

import httpx
import pytest

from tests.support import load_snippet

polling = load_snippet("realtime/polling.py")


@contextlib.asynccontextmanager
async def running(port: int = 0):
    hub = polling.PollServer()
    server = await asyncio.start_server(hub.handle, "127.0.0.1", port, limit=polling.READ_LIMIT)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        async with httpx.AsyncClient(base_url=url, trust_env=False) as client:
            yield hub, client
    finally:
        server.close()
        await server.wait_closed()


async def held(hub, count: int) -> None:
    async with hub.changed:
        await hub.changed.wait_for(lambda: hub.held == count)


def port_of(client) -> int:
    return client.base_url.port


async def test_the_cursor_never_misses_or_repeats_a_message():
    async with running() as (hub, client):
        got, cursor = [], 0
        for batch in range(5):
            for n in range(batch):  # 0, 1, 2, 3, 4 new messages between polls
                await hub.publish(f"b{batch}m{n}")
            messages, cursor = await polling.poll(client, cursor)
            got += [m["text"] for m in messages]
        assert got == hub.log and cursor == len(hub.log) == 10
        assert hub.connections == 1 and hub.requests == 5  # keep-alive: one connection


async def test_a_cursor_ahead_of_the_log_returns_nothing():
    async with running() as (hub, client):
        await hub.publish("only")
        assert await polling.poll(client, 5) == ([], 5)


async def test_long_poll_is_held_until_a_message_arrives():
    async with running() as (hub, client):
        waiting = asyncio.ensure_future(polling.poll(client, 0, wait=10))
        await held(hub, 1)
        assert not waiting.done()
        await hub.publish("now")
        assert await waiting == ([{"id": 1, "text": "now"}], 1)
        await held(hub, 0)


async def test_long_poll_answers_at_once_when_messages_are_waiting():
    async with running() as (hub, client):
        await hub.publish("already here")
        assert (await polling.poll(client, 0, wait=10))[1] == 1
        assert hub.held == 0


async def test_long_poll_times_out_with_an_empty_answer():
    async with running() as (hub, client):
        assert await polling.poll(client, 0, wait=0.05) == ([], 0)


async def test_many_long_polls_are_all_woken_by_one_message():
    async with running() as (hub, client):
        polls = [asyncio.ensure_future(polling.poll(client, 0, wait=10)) for _ in range(5)]
        await held(hub, 5)
        await hub.publish("to all")
        assert [await p for p in polls] == [([{"id": 1, "text": "to all"}], 1)] * 5
        assert hub.connections == 5  # a held request keeps its connection busy


async def test_a_vanished_long_poll_client_frees_the_server_and_others_still_get_news():
    async with running() as (hub, client):
        other = asyncio.ensure_future(polling.poll(client, 0, wait=10))
        ghost = socket.create_connection(("127.0.0.1", port_of(client)))
        ghost.sendall(b"GET /messages?after=0&wait=30 HTTP/1.1\r\nHost: x\r\n\r\n")
        await held(hub, 2)
        ghost.close()
        await held(hub, 1)  # the ghost's held request was released at once, not after 30 s
        await hub.publish("for the living")
        assert (await other)[0][0]["text"] == "for the living"


async def raw(client, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(client))
    try:
        writer.write(request)
        if not request.endswith(b"\r\n\r\n"):
            writer.write_eof()
        async with asyncio.timeout(5):
            return await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize(
    ("request_bytes", "status", "error"),
    [
        (b"GET /messages HTTP/1.0\r\n\r\n", 400, "malformed request line"),
        (b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\n\r\n", 400, "request line too long"),
        (b"GET /messages HTTP/1.1\r\nBad header\r\n\r\n", 400, "malformed or too many"),
        (b"GET /messages HTTP/1.1\r\n" + b"H: v\r\n" * 40 + b"\r\n", 400, "too many headers"),
        (b"GET /messages HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 400, "too long"),
        (b"GET /messages HTTP/1.1\r\nContent-Length: 5\r\n\r\n", 400, "a GET has no body"),
        (b"GET /messages HTTP/1.1\r\nHost: x", 400, "truncated request"),
        (b"GET /messages?after=x HTTP/1.1\r\n\r\n", 400, "after must be an integer"),
        (b"GET /messages?after=-1 HTTP/1.1\r\n\r\n", 400, "must not be negative"),
        (b"GET /messages?wait=nan HTTP/1.1\r\n\r\n", 400, "must not be negative"),
        (b"POST /messages HTTP/1.1\r\n\r\n", 404, "only GET /messages"),
        (b"GET /other HTTP/1.1\r\n\r\n", 404, "only GET /messages"),
    ],
)
async def test_malformed_requests_get_a_clear_error(request_bytes, status, error):
    async with running() as (hub, client):
        waiting = asyncio.ensure_future(polling.poll(client, 0, wait=10))
        await held(hub, 1)
        answer = await raw(client, request_bytes)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(f"HTTP/1.1 {status} ".encode())
        assert error in json.loads(body)["error"]
        await hub.publish("unharmed")
        assert (await waiting)[0][0]["text"] == "unharmed"  # the other client lost nothing


async def test_follow_prints_each_message_once_with_short_and_long_polls(capsys):
    async with running() as (hub, client):
        for n in range(3):
            await hub.publish(f"m{n}")
        url = str(client.base_url)
        await polling.follow(url, wait=0, interval=0.001, limit=3)
        follower = asyncio.ensure_future(polling.follow(url, wait=5, limit=4))
        await held(hub, 1)
        await hub.publish("m3")
        await follower
    out = capsys.readouterr().out
    assert out == "1: m0\n2: m1\n3: m2\n" + "1: m0\n2: m1\n3: m2\n4: m3\n"


async def test_follow_rides_out_a_server_that_is_down(capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    follower = asyncio.ensure_future(
        polling.follow(f"http://127.0.0.1:{port}", wait=5, limit=1, retry=0.01))
    server = asyncio.ensure_future(polling.serve_forever("127.0.0.1", port, interval=0.01))
    try:
        async with asyncio.timeout(10):
            await follower
    finally:
        server.cancel()
        await asyncio.wait({server})
    out = capsys.readouterr().out
    assert "serving http://127.0.0.1:" in out and out.endswith("1: message 1\n")


async def test_an_idle_kept_alive_connection_is_closed(monkeypatch):
    monkeypatch.setattr(polling, "IDLE_TIMEOUT", 0.05)
    async with running() as (hub, client):
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(client))
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # the server hung up on a silent client
        writer.close()
        await writer.wait_closed()
