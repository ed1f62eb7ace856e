import asyncio
import contextlib
import json
import random
import socket

import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from tests import support
from tests.support import closed_port, load_snippet, read_to_close

fanout = load_snippet("realtime/fanout.py")


class Notes(list):
    """What the servers report, for the tests to read."""

    def __call__(self, line: str) -> None:
        self.append(line)


@contextlib.asynccontextmanager
async def cluster(redis_port: int, names=("A", "B"), **options):
    """Servers on a shared Redis, and a balancer for each protocol; yields them and the
    balancers' ports; every server is drained on exit."""
    options = {"heartbeat": 5, "retry_ms": 20, "resubscribe_after": 0.2, **options}
    servers = [fanout.Server(name, redis_port, rng=random.Random(n), **options)
               for n, name in enumerate(names)]
    ports = [await server.start() for server in servers]
    ws, sse = fanout.Balancer([p[0] for p in ports]), fanout.Balancer([p[1] for p in ports])
    try:
        yield servers, ports, await ws.start(), await sse.start()
    finally:
        await ws.close()
        await sse.close()
        for server in servers:
            if not server.draining.done():
                await server.drain()


@contextlib.asynccontextmanager
async def redis_client(port: int):
    client = aioredis.Redis(host="127.0.0.1", port=port, decode_responses=True,
                            socket_timeout=5)
    try:
        yield client
    finally:
        await client.aclose()


async def recv(websocket) -> str:
    async with asyncio.timeout(5):
        return await websocket.recv()


# --- Pub/sub: the chat --------------------------------------------------------------------------

async def test_a_message_sent_to_a_reaches_the_sockets_b_holds(redis):
    notes = Notes()
    async with cluster(redis, report=notes) as ((a, b), ports, _, _):
        url = "ws://127.0.0.1:{}/chat?user="
        async with connect(url.format(ports[0][0]) + "ann") as ann, \
                connect(url.format(ports[1][0]) + "ben") as ben, \
                connect(url.format(ports[1][0]) + "bea") as bea:
            assert await recv(ann) == "* ann, you are on server A"
            assert await recv(ben) == "* ben, you are on server B"
            assert await recv(bea) == "* bea, you are on server B"
            for n in range(5):
                await ann.send(f"m{n}")
            for socket in (ann, ben, bea):  # everyone, on both servers, in the order sent
                assert [await recv(socket) for _ in range(5)] == [f"ann: m{n}" for n in range(5)]
            assert notes.count("A: PUBLISH room reached 2 server(s)") == 5
            await ben.send("@ann hello")  # direct: B looks ann up, publishes to A only
            assert await recv(ann) == "ben: hello"
            await ann.send("@zed anyone?")  # nobody holds zed: delivered to no server
            await ann.send("after")
            for socket in (ann, ben, bea):
                assert await recv(socket) == "ann: after"  # nothing else came first
            assert "A: the registry says zed is on no server" in notes


async def test_pubsub_loses_what_is_published_while_a_server_is_not_subscribed(redis):
    notes = Notes()
    async with cluster(redis, report=notes) as ((a, b), ports, _, _), redis_client(redis) as r:
        url = "ws://127.0.0.1:{}/chat?user="
        async with connect(url.format(ports[0][0]) + "ann") as ann, \
                connect(url.format(ports[1][0]) + "ben") as ben:
            await recv(ann), await recv(ben)
            await fanout.cut_subscription(r, "B")
            async with asyncio.timeout(5):  # B notices, and Redis has dropped the subscription
                while "B: lost its subscription; subscribes again in 0.2 s" not in notes or (
                        (await r.pubsub_numsub(fanout.ROOM))[0][1] != 1):
                    await asyncio.sleep(0.01)
            assert not b.chat.subscribed.is_set()
            await ann.send("lost")
            assert await recv(ann) == "ann: lost"
            async with asyncio.timeout(5):
                await b.chat.subscribed.wait()
            await ann.send("found")
            assert await recv(ben) == "ann: found"  # the first thing ben hears: "lost" is gone
            assert notes.count("A: PUBLISH room reached 1 server(s)") == 1


async def test_chat_refuses_bad_requests_and_bad_messages_and_others_carry_on(redis):
    async with cluster(redis, names=("A",)) as (_, ports, _, _):
        base = f"ws://127.0.0.1:{ports[0][0]}"
        for path, status in [("/chat?user=", 400), ("/chat?user=Ann%20B", 400),
                             ("/chat", 400), ("/nowhere", 404), ("/feed?after=x", 400)]:
            with pytest.raises(InvalidStatus) as refused:
                async with connect(base + path):
                    pass  # pragma: no cover
            assert refused.value.response.status_code == status, path
        async with connect(base + "/chat?user=ann") as ann:
            await recv(ann)
            for message, code in [(b"\x00", 1003), ("x" * (fanout.MAX_MESSAGE + 1), 1009)]:
                async with connect(base + "/chat?user=bad", max_size=None) as bad:
                    await recv(bad)
                    await bad.send(message)
                    with pytest.raises(ConnectionClosedError):
                        await recv(bad)
                    assert bad.close_code == code
            await ann.send("still here")
            assert await recv(ann) == "ann: still here"


async def test_a_chat_member_that_stops_reading_is_cut_off(redis):
    async with cluster(redis, names=("A",)) as ((a,), ports, _, _):
        base = f"ws://127.0.0.1:{ports[0][0]}/chat?user="
        async with connect(base + "ann") as ann, connect(base + "slow") as slow:
            await recv(ann), await recv(slow)
            (member,) = [ws for ws, user in a.chat.members.items() if user == "slow"]
            member.transport.pause_reading()  # as if the buffers were full
            member.transport.get_write_buffer_size = lambda: fanout.MAX_BACKLOG + 1
            await ann.send("one")
            assert await recv(ann) == "ann: one"
            async with asyncio.timeout(5):
                while member in a.chat.members:
                    await asyncio.sleep(0.01)


# --- The registry ---------------------------------------------------------------------------------

async def test_registry_names_the_servers_holding_a_user_and_dead_leases_lapse(redis):
    now = [1000.0]
    async with redis_client(redis) as r:
        a = fanout.Registry(r, "A", lease=30, clock=lambda: now[0])
        b = fanout.Registry(r, "B", lease=30, clock=lambda: now[0])
        await a.add("ann")
        await a.add("ann")  # a second tab: still one entry
        await b.add("ann")
        assert sorted(await a.where("ann")) == ["A", "B"]
        await a.remove("ann")
        assert sorted(await a.where("ann")) == ["A", "B"]  # one socket left on A
        now[0] += 20
        await b.renew()  # B is alive; A has crashed and renews nothing
        now[0] += 20
        assert await b.where("ann") == ["B"]  # A's lease ended 10 s ago
        await b.renew()
        assert await r.zrange("sockets:ann", 0, -1) == ["B"]  # and is gone from Redis
        assert 0 < await r.ttl("sockets:ann") <= 31
        await b.remove("ann")
        assert await b.where("ann") == [] and await b.where("nobody") == []


async def test_servers_renew_their_leases(redis):
    async with cluster(redis, names=("A",), lease=0.15) as ((a,), ports, _, _), \
            redis_client(redis) as r, connect(f"ws://127.0.0.1:{ports[0][0]}/chat?user=ann") as ann:
        await recv(ann)
        first = await r.zscore("sockets:ann", "A")
        async with asyncio.timeout(5):  # a renewal moves the lease's end forward
            while await r.zscore("sockets:ann", "A") == first:
                await asyncio.sleep(0.01)
        assert await r.zscore("sockets:ann", "A") > first


# --- Streams: the feed, SSE and /feed -------------------------------------------------------------

async def test_sse_resumes_on_the_other_server_with_nothing_lost_or_repeated(redis):
    async with cluster(redis) as ((a, b), ports, _, _):
        ids = [await a.feed.publish(f"m{n}") for n in range(6)]
        stream = fanout.follow_events(ports[0][1], rng=random.Random(1), last_id=ids[0])
        async with contextlib.aclosing(stream):
            assert [await anext(stream) for _ in range(2)] == [(ids[1], "m1"), (ids[2], "m2")]
        assert a.streams in (0, 1)
        stream = fanout.follow_events(ports[1][1], rng=random.Random(1), last_id=ids[2])
        async with contextlib.aclosing(stream):  # B: the same ids mean the same entries
            expected = list(zip(ids[3:], ["m3", "m4", "m5"], strict=True))
            assert [await anext(stream) for _ in range(3)] == expected
            last = await b.feed.publish("live")
            assert await anext(stream) == (last, "live")


async def test_sse_on_the_wire_heartbeats_and_bad_requests(redis):
    async with cluster(redis, names=("A",), heartbeat=0.02) as ((a,), ports, _, _):
        port = ports[0][1]
        first = await a.feed.publish("one")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /events HTTP/1.1\r\nLast-Event-ID: 0-0\r\n\r\n")
        async with asyncio.timeout(5):
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n")
            assert await reader.readuntil(b"\n\n") == b"retry: 20\n\n"
            assert await reader.readuntil(b"\n\n") == f"id: {first}\ndata: one\n\n".encode()
            assert await reader.readuntil(b"\n\n") == b": heartbeat\n\n"
        writer.close()
        await writer.wait_closed()
        async with asyncio.timeout(5), a.changed:
            await a.changed.wait_for(lambda: a.streams == 0)  # the hang-up freed the stream
        for request, status in [(b"GET /events HTTP/1.1\r\nLast-Event-ID: 12\r\n\r\n", b"400"),
                                (b"POST /events HTTP/1.1\r\n\r\n", b"404"),
                                (b"GET /x HTTP/1.1\r\n\r\n", b"404"),
                                (b"GET /events HTTP/1.0\r\n\r\n", b"400"),
                                (b"GET /events HTTP/1.1\r\nX: \xff\r\n\r\n", b"400"),
                                (b"GET /events HTTP/1.1\r\n" + b"X: y\r\n" * 40 + b"\r\n", b"400"),
                                (b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\n\r\n", b"400"),
                                (b"GET /events HTTP/1.1\r\n", b"400")]:
            if request.endswith(b"\r\n\r\n") or request.count(b"\r\n") > 1:
                response = await read_to_close(port, request)
            else:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(request)
                writer.write_eof()  # truncated head
                async with asyncio.timeout(5):
                    response = await reader.read()
                writer.close()
                await writer.wait_closed()
            assert response.startswith(b"HTTP/1.1 " + status), (request[:40], response)
        head = await read_to_close(port, b"HEAD /events HTTP/1.1\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK") and head.endswith(b"\r\n\r\n")


def small_socket(port: int) -> socket.socket:
    """A client socket with a tiny receive buffer, connected: it fills up fast."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


async def publish_a_lot(feed, count: int = 100) -> None:
    big = "y" * 60_000  # under the SSE client's line limit (64 KiB)
    for n in range(count):  # 6 MB: more than a stuck client's socket buffers (4 MB at most)
        await feed.publish(f"{n} {big}")


async def test_an_sse_reader_that_stops_is_cut_off_and_the_others_keep_their_feed(redis):
    async with cluster(redis, names=("A",), send_timeout=0.2) as ((a,), ports, _, _):
        port = ports[0][1]
        stuck_reader, stuck = await asyncio.open_connection(sock=small_socket(port))
        stuck.transport.pause_reading()
        stuck.write(b"GET /events HTTP/1.1\r\n\r\n")
        stream = fanout.follow_events(port, rng=random.Random(2))
        async with contextlib.aclosing(stream):
            taker = asyncio.ensure_future(anext(stream))
            async with asyncio.timeout(5), a.changed:
                await a.changed.wait_for(lambda: a.streams == 2)
            await publish_a_lot(a.feed)
            stuck.transport.resume_reading()
            async with asyncio.timeout(5):
                assert len(await stuck_reader.read()) < 100 * 60_000  # cut off: end of stream
            assert (await taker)[1].startswith("0 ")
            for n in range(1, 100):  # the other got everything: if it fell behind too, it was
                assert (await anext(stream))[1].startswith(f"{n} ")  # cut and resumed by id
        stuck.close()
        with contextlib.suppress(ConnectionError):
            await stuck.wait_closed()


async def test_a_feed_socket_that_stops_reading_is_cut_off(redis):
    async with cluster(redis, names=("A",), send_timeout=0.2) as ((a,), ports, _, _):
        port = ports[0][0]
        async with connect(f"ws://127.0.0.1:{port}/feed", sock=small_socket(port),
                           max_size=None, compression=None) as stuck:  # or "y"s shrink
            stuck.transport.pause_reading()
            await publish_a_lot(a.feed)
            async with asyncio.timeout(5):
                while a.ws.connections:  # the server gave up on it
                    await asyncio.sleep(0.01)
            stuck.transport.abort()


async def test_feed_socket_publishes_and_follows_and_resumes_after_an_id(redis):
    async with cluster(redis) as ((a, b), ports, _, _):
        async with connect(f"ws://127.0.0.1:{ports[0][0]}/feed") as writer_socket:
            await writer_socket.send("from a socket")
            entry = json.loads(await recv(writer_socket))
            assert entry["data"] == "from a socket"
        second = await b.feed.publish("second")
        async with connect(f"ws://127.0.0.1:{ports[1][0]}/feed?after={entry['id']}") as reader:
            assert json.loads(await recv(reader)) == {"id": second, "data": "second"}
        async with connect(f"ws://127.0.0.1:{ports[1][0]}/feed?after=0-0") as reader:
            assert [json.loads(await recv(reader))["data"] for _ in range(2)] == [
                "from a socket", "second"]


class FakeTransport:
    def __init__(self, backlog: int = 0) -> None:
        self.backlog, self.aborted = backlog, False

    def get_write_buffer_size(self) -> int:
        return self.backlog

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True


async def test_catching_up_holds_what_arrives_meanwhile_and_passes_each_entry_on_once(redis):
    async with redis_client(redis) as r:
        feed = fanout.Feed(r)
        reading = asyncio.ensure_future(feed.run())
        try:
            await feed.ready.wait()
            start = await feed.publish("before")
            for n in range(3):
                await feed.publish(f"old{n}")
            got = []

            async def send(entry_id, data):  # each old entry sent brings a new one
                got.append(data)
                if data.startswith("old"):
                    new = await feed.publish(data.replace("old", "new"))
                    async with asyncio.timeout(5):
                        while feed.last_id != new:  # the loop has read it: it is held
                            await asyncio.sleep(0.001)

            subscriber = fanout.Subscriber(send, lambda i, data: got.append(data),
                                           FakeTransport())
            await feed.subscribe(subscriber, start)
            assert got == ["old0", "old1", "old2", "new0", "new1", "new2"]
            live = await feed.publish("live")
            async with asyncio.timeout(5):
                while subscriber.cursor != live:
                    await asyncio.sleep(0.001)
            assert got[-1] == "live" and got.count("live") == 1
            slow = fanout.Subscriber(send, lambda i, data: None,
                                     FakeTransport(fanout.MAX_BACKLOG + 1))
            await feed.subscribe(slow, None)
            await feed.publish("too much")
            async with asyncio.timeout(5):
                while not slow.transport.aborted:  # cut, to come back with its id
                    await asyncio.sleep(0.001)
        finally:
            while not reading.done():  # redis-py can lose a cancellation mid-command
                reading.cancel()
                await asyncio.wait({reading}, timeout=0.1)
    assert fanout.stream_key("10-0") > fanout.stream_key("9-5")
    with pytest.raises(ValueError, match="not a stream id"):
        fanout.stream_key("10")


# --- Draining: 1012, the reconnect event, and no loss across a restart ----------------------------

async def test_drain_sends_1012_and_a_reconnect_event_then_refuses_connections(redis):
    async with cluster(redis, names=("A",), retry_ms=500) as ((a,), ports, _, _):
        ws_port, sse_port = ports[0]
        async with connect(f"ws://127.0.0.1:{ws_port}/feed") as feed, \
                connect(f"ws://127.0.0.1:{ws_port}/chat?user=ann") as chat:
            await recv(chat)
            reader, writer = await asyncio.open_connection("127.0.0.1", sse_port)
            writer.write(b"GET /events HTTP/1.1\r\n\r\n")
            async with asyncio.timeout(5):
                await reader.readuntil(b"retry: 500\n\n")
                async with a.changed:
                    await a.changed.wait_for(lambda: a.streams == 1)
                await a.drain()
                tail = await reader.read()
            writer.close()
            await writer.wait_closed()
            for socket in (feed, chat):
                with pytest.raises(ConnectionClosedError):
                    await recv(socket)
                assert (socket.close_code, socket.close_reason) == (1012, "A is restarting")
        retry, event, data, end = tail.decode().split("\n", 3)
        assert retry.startswith("retry: ") and 0 <= int(retry[7:]) <= 500  # jittered
        assert (event, data, end) == ("event: reconnect", "data: A is restarting", "\n")
        for port in ports[0]:
            with pytest.raises(OSError):
                await asyncio.open_connection("127.0.0.1", port)


async def test_no_message_is_lost_across_a_restart_of_each_server(redis):
    """Every message published, against every message each client received: SSE and
    WebSocket clients behind the balancer, while A restarts and then B does."""
    total, clients = 150, 3
    async with cluster(redis, retry_ms=30) as (servers, ports, ws_port, sse_port):
        rng = random.Random(11)
        streams = [fanout.follow_events(sse_port, rng=rng, base=0.02) for _ in range(clients)]
        streams += [fanout.follow_feed(ws_port, rng=rng, base=0.02) for _ in range(clients)]
        got = [[] for _ in streams]
        counts = [0] * len(streams)

        async def take(index):
            async for entry_id, data in streams[index]:
                got[index].append((entry_id, data))
                counts[index] += 1
                if counts[index] == total:
                    return

        takers = [asyncio.ensure_future(take(index)) for index in range(len(streams))]
        published = []
        async with asyncio.timeout(30):
            while sum(s.streams + len(s.ws.connections) for s in servers) < 2 * clients:
                await asyncio.sleep(0.005)
            moved_from = {s.name: (s.streams, len(s.ws.connections)) for s in servers}
            assert all(sse and ws for sse, ws in moved_from.values())  # both servers in use
            for n in range(total):
                published.append((await servers[0].feed.publish(f"m{n}"), f"m{n}"))
                if n in (50, 100):  # restart A, then B: drain, then a new process, same ports
                    index = 0 if n == 50 else 1
                    old = servers[index]
                    await old.drain()
                    servers[index] = fanout.Server(old.name, redis, retry_ms=30)
                    await servers[index].start(*ports[index])
                await asyncio.sleep(0.001)
            await asyncio.gather(*takers)
        for stream in streams:
            await stream.aclose()
        for index, received in enumerate(got):
            assert received == published, f"client {index}"  # all, in order, none twice


async def test_clients_back_off_while_no_server_answers_and_give_up_on_nothing(redis):
    port = await closed_port()
    rng = random.Random(3)
    events = fanout.follow_events(port, rng=rng, base=0.01)
    feed = fanout.follow_feed(port, rng=rng, base=0.01)
    pending = [asyncio.ensure_future(anext(events)), asyncio.ensure_future(anext(feed))]
    await asyncio.sleep(0.1)  # a few refused attempts, and still trying
    assert not any(task.done() for task in pending)
    async with cluster(redis, names=("A",)) as ((a,), ports, _, _):
        balancer_ws, balancer_sse = fanout.Balancer([port, ports[0][0]]), fanout.Balancer(
            [port, ports[0][1]])
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await events.aclose()
        await feed.aclose()
        ws, sse = await balancer_ws.start(), await balancer_sse.start()
        try:  # the balancers skip the dead port and reach A
            stream = fanout.follow_events(sse, rng=rng, last_id="0-0")
            async with contextlib.aclosing(stream):
                entry_id = await a.feed.publish("via the balancer")
                assert await anext(stream) == (entry_id, "via the balancer")
            socket_feed = fanout.follow_feed(ws, rng=rng, after="0-0")
            async with contextlib.aclosing(socket_feed):
                assert await anext(socket_feed) == (entry_id, "via the balancer")
        finally:
            await balancer_ws.close()
            await balancer_sse.close()


async def test_the_sse_client_refuses_what_is_not_an_event_stream_and_retries(redis):
    async with cluster(redis, names=("A",)) as ((a,), ports, _, _):
        hits = []

        async def teapot(reader, writer):
            hits.append(1)
            writer.write(b"HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\n\r\n"
                         if len(hits) == 1 else
                         b"HTTP/1.1 200 OK\r\n\r\nretry: 5\n\nid: 1-1\ndata: hi\n\n: beat\n\n"
                         b"id: 1-2\ndata: cut sho")
            writer.close()

        server = await asyncio.start_server(teapot, "127.0.0.1", 0)
        async with server:
            stream = fanout.follow_events(server.sockets[0].getsockname()[1],
                                          rng=random.Random(1), base=0.01)
            async with contextlib.aclosing(stream):
                assert await anext(stream) == ("1-1", "hi")  # after the 418, a retry
                assert len(hits) == 2
                assert await anext(stream) == ("1-1", "hi")  # the cut event never counted
        assert len(hits) == 3


async def test_a_balancer_with_no_live_backend_closes_and_idle_connections_are_closed():
    dead = await closed_port()
    balancer = fanout.Balancer([dead])
    port = await balancer.start()
    try:
        assert await read_to_close(port, b"GET / HTTP/1.1\r\n\r\n") == b""
    finally:
        await balancer.close()

    async def silent(reader, writer):
        await reader.read()
        writer.close()

    backend = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with backend:
        balancer = fanout.Balancer([backend.sockets[0].getsockname()[1]], idle_timeout=0.05)
        port = await balancer.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            async with asyncio.timeout(5):
                assert await reader.read() == b""  # silent both ways: closed
            writer.close()
            await writer.wait_closed()
        finally:
            await balancer.close()


async def test_a_server_without_redis_says_so():
    port = await closed_port()
    with pytest.raises(ConnectionError, match="no answer from Redis"), \
            pytest.MonkeyPatch.context() as patch:
        patch.setattr(fanout, "REDIS_TIMEOUT", 0.2)
        await fanout.Server("A", port).start()


# --- Standalone -----------------------------------------------------------------------------------

async def test_standalone_server_chat_client_and_events_client(redis, capsys):
    async with cluster(redis, names=("A",)) as ((a,), ports, _, _):
        ws_port, sse_port = ports[0]
        chat = asyncio.ensure_future(
            fanout.chat_client(ws_port, "cli", rng=random.Random(0), limit=2))
        events = asyncio.ensure_future(
            fanout.print_events(sse_port, rng=random.Random(0), limit=1))
        async with asyncio.timeout(5):
            while a.streams < 1:
                await asyncio.sleep(0.01)
        await a.feed.publish("hello")
        async with asyncio.timeout(5):
            await chat
            await events
    out = capsys.readouterr().out
    assert out.count("\n") == 3
    assert "cli <- * cli, you are on server A\n" in out
    assert "cli <- cli: hello, I am cli\n" in out
    assert "data='hello'\n" in out


async def test_serve_forever_and_a_client_that_reconnects(redis, capsys):
    ws_port, sse_port = await closed_port(), await closed_port()
    server = asyncio.ensure_future(fanout.serve_forever("S", ws_port, sse_port, redis))
    chat = asyncio.ensure_future(
        fanout.chat_client(ws_port, "late", rng=random.Random(0), limit=1, base=0.02))
    try:
        async with asyncio.timeout(10):
            await chat  # it retried until the server was up
    finally:
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server
    out = capsys.readouterr().out
    assert f"server S: ws://127.0.0.1:{ws_port}/chat?user=<you>" in out
    assert "late <- * late, you are on server S" in out


def test_main_parses_the_roles(monkeypatch):
    ran = []
    monkeypatch.setattr(fanout.asyncio, "run", lambda runner: ran.append(runner.__name__)
                        or runner.close())
    for argv in ([], ["server"], ["client", "--user", "x"], ["events", "--port", "1"]):
        fanout.main(argv)
    assert ran == ["demo", "serve_forever", "chat_client", "print_events"]


def test_no_redis_server_installed_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(fanout.shutil, "which", lambda name: None)
    with pytest.raises(SystemExit, match="apt-get install redis-server"), fanout.redis_server():
        pass  # pragma: no cover


async def test_a_crowd_joining_at_once_shares_a_bounded_pool_of_redis_connections(redis):
    """110 sockets join and leave together, and each needs Redis (the registry): redis-py's
    default pool raised "Too many connections" past 100 instead of waiting for a free one."""
    crowd = 110
    async with cluster(redis, names=("A",)) as ((a,), ports, _, _), redis_client(redis) as r:
        url = f"ws://127.0.0.1:{ports[0][0]}/chat?user=u"
        sockets = await asyncio.gather(*(connect(f"{url}{n}", compression=None)
                                         for n in range(crowd)))
        greetings = await asyncio.gather(*(recv(socket) for socket in sockets))
        assert greetings == [f"* u{n}, you are on server A" for n in range(crowd)]
        mine = [c for c in await r.client_list() if c["name"] == "server-A"]
        assert len(mine) <= fanout.REDIS_CONNECTIONS
        await asyncio.gather(*(socket.close() for socket in sockets))
        async with asyncio.timeout(5):  # every leave reaches Redis, through the same pool
            while a.chat.members or await r.keys("sockets:*"):
                await asyncio.sleep(0.01)


# --- A real peer: Chromium's own EventSource, moved by a drain ------------------------------------

EVENTSOURCE_PAGE = """<!doctype html><title>EventSource</title><script>
window.got = [];
window.reconnects = 0;
window.listen = (url) => {
  const source = new EventSource(url);
  source.onmessage = (event) => window.got.push([event.lastEventId, event.data]);
  source.addEventListener("reconnect", () => { window.reconnects += 1; });
};
</script>"""


@pytest.mark.browser
async def test_chromium_eventsource_follows_a_drain_to_the_other_server_and_loses_nothing(redis):
    """The browser keeps the Redis stream id as its last event id, honours the drained server's
    random retry, and resumes on the other server through the balancer."""
    async with cluster(redis, retry_ms=200) as (servers, _, _, sse_port), \
            support.browser_page(EVENTSOURCE_PAGE) as page:
        await page.evaluate("url => window.listen(url)", f"http://127.0.0.1:{sse_port}/events")
        async with asyncio.timeout(10):
            while sum(server.streams for server in servers) < 1:
                await asyncio.sleep(0.01)
        published = [(await servers[0].feed.publish(f"m{n}"), f"m{n}") for n in range(3)]
        await page.wait_for_function("window.got.length === 3")
        (first,) = [server for server in servers if server.streams]
        (other,) = [server for server in servers if server is not first]
        await first.drain()
        published += [(await other.feed.publish(f"m{n}"), f"m{n}") for n in range(3, 6)]
        await page.wait_for_function("window.got.length === 6")
        assert [tuple(pair) for pair in await page.evaluate("window.got")] == published
        assert await page.evaluate("window.reconnects") == 1
        assert other.streams == 1  # it came back to the other server
