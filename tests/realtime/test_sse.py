import asyncio
import contextlib
import re
import socket

import pytest

from tests import support
from tests.support import load_snippet, read_to_close

sse = load_snippet("realtime/sse.py")


def parse(stream: bytes, chunk: int | None = None) -> tuple[list, "sse.EventStreamParser"]:
    parser = sse.EventStreamParser()
    size = chunk or max(len(stream), 1)
    events = []
    for i in range(0, len(stream), size):
        events += parser.feed(stream[i : i + size])
    return events, parser


def message(data: str, last_id: str = "", type_: str = "message"):
    return sse.Event(type_, data, last_id)


# --- The examples of the WHATWG HTML standard, sections 9.2.5 and 9.2.6 ---

def test_standard_example_stock_ticker_multiline_data():
    events, _ = parse(b"data: YHOO\ndata: +2\ndata: 10\n\n")
    assert events == [message("YHOO\n+2\n10")]


def test_standard_example_comment_ids_and_unterminated_last_block():
    stream = (b": test stream\n\ndata: first event\nid: 1\n\n"
              b"data:second event\nid\n\ndata:  third event\n")
    events, parser = parse(stream)
    # the empty `id` resets the last event id; the last block has no blank line, so never fires
    assert events == [message("first event", "1"), message("second event", "")]
    assert parser.last_event_id == ""


def test_standard_example_empty_data_fields():
    events, _ = parse(b"data\n\ndata\ndata\n\ndata:\n")
    assert events == [message(""), message("\n")]


def test_standard_example_one_space_after_the_colon_is_optional():
    events, _ = parse(b"data:test\n\ndata: test\n\n")
    assert events == [message("test"), message("test")]


def test_standard_example_named_events():
    stream = (b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\n"
              b"event: add\ndata: 113411\n\n")
    events, _ = parse(stream)
    assert [(e.type, e.data) for e in events] == [
        ("add", "73857293"), ("remove", "2153"), ("add", "113411")]


# --- Line endings, BOM, chunking ---

@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_every_line_ending_is_accepted(eol):
    stream = eol.join([b"id: 7", b"data: a", b"data: b", b"", b""])
    assert parse(stream)[0] == [message("a\nb", "7")]


def test_a_stream_split_anywhere_parses_the_same():
    stream = "\ufeffid: 1\r\ndata: h\u00e9llo\r\n\r\n: beat\r\nevent: x\rdata: 2\n\n".encode()
    whole, _ = parse(stream)
    assert whole == [message("h\u00e9llo", "1"), sse.Event("x", "2", "1")]
    for size in range(1, 8):
        assert parse(stream, chunk=size)[0] == whole  # CRLF and UTF-8 split across chunks


def test_a_leading_bom_is_stripped_once_only():
    assert parse(b"\xef\xbb\xbfdata: a\n\n")[0] == [message("a")]
    # a second BOM is part of the field name "\ufeffdata", which is ignored
    assert parse(b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n")[0] == []


def test_invalid_utf8_is_replaced_not_fatal():
    assert parse(b"data: \xff\n\n")[0] == [message("\ufffd")]


def test_unknown_fields_and_comments_are_ignored():
    assert parse(b":hi\nfoo: bar\ndata: x\n\n")[0] == [message("x")]


def test_id_with_a_null_is_ignored_and_the_id_survives_later_events():
    events, parser = parse(b"id: 5\ndata: a\n\nid: 6\x00\ndata: b\n\ndata: c\n\n")
    assert [e.last_event_id for e in events] == ["5", "5", "5"]
    assert parser.last_event_id == "5"


def test_an_id_without_data_still_sets_the_last_event_id():
    events, parser = parse(b"id: 9\n\n")
    assert events == [] and parser.last_event_id == "9"


@pytest.mark.parametrize(
    ("line", "expected"),
    [(b"retry: 2500", 2500), (b"retry:10", 10), (b"retry: 1.5", None), (b"retry: -1", None),
     (b"retry: ", None), (b"retry: 12a", None), ("retry: \u0663".encode(), None)],
)
def test_retry_is_set_only_by_ascii_digits(line, expected):
    _, parser = parse(line + b"\n\n")
    assert parser.retry_ms == expected


def test_format_event_round_trips_through_the_parser():
    wire = sse.format_event("b1-3", "two\nlines", "tick")
    assert wire == b"id: b1-3\nevent: tick\ndata: two\ndata: lines\n\n"
    assert parse(wire)[0] == [sse.Event("tick", "two\nlines", "b1-3")]


# --- The server and the client over loopback ---

@contextlib.asynccontextmanager
async def running(port: int = 0, **options):
    hub = sse.EventServer(**{"boot": "b1", **options})
    server = await asyncio.start_server(hub.handle, "127.0.0.1", port, limit=sse.READ_LIMIT)
    try:
        yield hub, server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def wait_streams(hub, count: int) -> None:
    async with hub.changed:
        await hub.changed.wait_for(lambda: hub.streams == count)


async def take(stream, count: int) -> list:
    got = []
    async with contextlib.aclosing(stream):
        async for event in stream:
            got.append(event)
            if len(got) == count:
                return got
    raise AssertionError("stream ended")  # pragma: no cover

async def test_stream_headers_retry_and_events_on_the_wire():
    async with running(retry_ms=1234) as (hub, port):
        await hub.publish("hello")
        hub.drop_after = 1
        body = await read_to_close(port, b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, rest = body.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Content-Type: text/event-stream" in head and b"Cache-Control: no-cache" in head
    assert rest == b"retry: 1234\n\nid: b1-1\ndata: hello\n\n"


async def test_resume_with_last_event_id_loses_and_repeats_nothing():
    async with running(retry_ms=10, heartbeat=5) as (hub, port):
        for n in range(10):
            await hub.publish(f"m{n}")
        hub.drop_after = 3  # every stream is cut after 3 events: 4 reconnections
        got = await take(sse.events("127.0.0.1", port), 10)
        assert [e.data for e in got] == [f"m{n}" for n in range(10)]
        assert [e.last_event_id for e in got] == [f"b1-{n}" for n in range(1, 11)]
        await wait_streams(hub, 0)


async def test_live_events_arrive_while_the_stream_is_open_and_heartbeats_flow():
    async with running(heartbeat=0.01) as (hub, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /events HTTP/1.1\r\n\r\n")
        async with asyncio.timeout(5):
            await reader.readuntil(b"\r\n\r\n")
            assert await reader.readuntil(b": heartbeat\n\n")  # idle: a comment keeps it alive
            await hub.publish("live", "news")
            assert (await reader.readuntil(b"data: live\n\n")).endswith(
                b"id: b1-1\nevent: news\ndata: live\n\n")
        writer.close()
        await writer.wait_closed()
        await wait_streams(hub, 0)  # the hang-up freed the server's stream


async def test_client_starts_from_a_given_last_event_id():
    async with running() as (hub, port):
        for n in range(5):
            await hub.publish(f"m{n}")
        got = await take(sse.events("127.0.0.1", port, last_event_id="b1-3"), 2)
        assert [e.data for e in got] == ["m3", "m4"]


async def test_after_a_restart_a_client_with_an_old_id_gets_the_new_log_not_a_gap():
    """The new server's log starts again at 1: resuming "after 11" would skip its first 11."""
    hub = sse.EventServer(retry_ms=10)
    server = await asyncio.start_server(hub.handle, "127.0.0.1", 0, limit=sse.READ_LIMIT)
    port = server.sockets[0].getsockname()[1]
    async with server:
        for n in range(11):
            await hub.publish(f"old {n}")
        hub.drop_after = 11  # the stream ends after the 11th event, as the server goes down
        stream = sse.events("127.0.0.1", port)
        old = [event async for event in until(stream, 11)]
        await wait_streams(hub, 0)
    assert old[-1].data == "old 10"
    hub = sse.EventServer()  # the restarted server: an empty log, ids from 1 again
    for n in range(3):
        await hub.publish(f"new {n}")
    server = await asyncio.start_server(hub.handle, "127.0.0.1", port, limit=sse.READ_LIMIT)
    async with server, contextlib.aclosing(stream):
        async with asyncio.timeout(5):
            new = [event async for event in until(stream, 3)]
    assert [e.data for e in new] == ["new 0", "new 1", "new 2"]


async def until(stream, count: int):
    """The next ``count`` events of a stream, leaving it open for more."""
    for _ in range(count):
        yield await anext(stream)


async def test_an_idle_or_half_sent_request_head_is_cut_off():
    assert 0 < sse.EventServer().head_timeout <= 60  # by default, too
    hub = sse.EventServer()
    hub.head_timeout = 0.05
    server = await asyncio.start_server(hub.handle, "127.0.0.1", 0, limit=sse.READ_LIMIT)
    port = server.sockets[0].getsockname()[1]
    async with server:
        idle = await asyncio.open_connection("127.0.0.1", port)
        half = await asyncio.open_connection("127.0.0.1", port)
        half[1].write(b"GET /events HTTP/1.1\r\nHost: x\r\n")
        for reader, writer in (idle, half):
            async with asyncio.timeout(5):
                assert await reader.read() == b""  # closed by the server, without a word
            writer.close()
            await writer.wait_closed()
        assert hub.streams == 0
        got = asyncio.ensure_future(take(sse.events("127.0.0.1", port), 1))
        await wait_streams(hub, 1)  # a well-behaved client is served as before
        await hub.publish("next")
        assert [e.data for e in await got] == ["next"]


async def test_a_vanished_client_frees_its_stream_and_others_keep_theirs():
    async with running(heartbeat=30) as (hub, port):
        stayer = sse.events("127.0.0.1", port)
        first = asyncio.ensure_future(take(stayer, 2))
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET /events HTTP/1.1\r\n\r\n")
        await wait_streams(hub, 2)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()  # a reset, as when a phone loses its network
        await wait_streams(hub, 1)
        await hub.publish("a")
        await hub.publish("b")
        assert [e.data for e in await first] == ["a", "b"]


async def test_a_client_that_stops_reading_is_cut_off_without_stalling_others():
    async with running(send_timeout=0.2, heartbeat=30) as (hub, port):
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", port))
        slow.sendall(b"GET /events HTTP/1.1\r\n\r\n")
        try:
            await wait_streams(hub, 1)
            reader = asyncio.ensure_future(take(sse.events("127.0.0.1", port), 200))
            await wait_streams(hub, 2)
            for n in range(200):
                await hub.publish(f"{n:04d}" + "x" * 50_000)  # 10 MB: more than any buffer
            got = await reader
            assert [e.data[:4] for e in got] == [f"{n:04d}" for n in range(200)]
            await wait_streams(hub, 0)  # the slow one was dropped after its send timeout
        finally:
            slow.close()


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /events HTTP/1.0\r\n\r\n", b"400 malformed request line"),
        (b"GET  /events HTTP/1.1\r\n\r\n", b"400 malformed request line"),
        (b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\n\r\n", b"400 request line too long"),
        (b"GET /events HTTP/1.1\r\nNoColon\r\n\r\n", b"400 malformed or too many headers"),
        (b"GET /events HTTP/1.1\r\n" + b"A: b\r\n" * 40 + b"\r\n", b"400 malformed or too many"),
        (b"GET /events HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", b"400 header line too long"),
        (b"GET /events HTTP/1.1\r\nX: \xff\r\n\r\n", b"400 header line too long or not ASCII"),
        (b"GET /events HTTP/1.1\r\nLast-Event-ID: -1\r\n\r\n", b"400 bad Last-Event-ID"),
        (b"GET /events HTTP/1.1\r\nLast-Event-ID: 3\r\n\r\n", b"400 bad Last-Event-ID"),
        (b"GET /events HTTP/1.1\r\nLast-Event-ID: b1-" + b"9" * 5000 + b"\r\n\r\n",
         b"400 bad Last-Event-ID"),  # int() of 5000 digits raises: never reached
        (b"POST /events HTTP/1.1\r\n\r\n", b"404 not found"),
        (b"GET /events HTTP/1.1\r\nHost", b"400 truncated request"),
    ],
)
async def test_malformed_requests_get_a_400_and_the_stream_keeps_serving(request_bytes, status):
    async with running() as (hub, port):
        good = asyncio.ensure_future(take(sse.events("127.0.0.1", port), 1))
        await wait_streams(hub, 1)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request_bytes)
        if request_bytes.endswith(b"Host"):
            writer.write_eof()
        async with asyncio.timeout(5):
            assert (await reader.readline()).startswith(b"HTTP/1.1 " + status)
        writer.close()
        await writer.wait_closed()
        await hub.publish("still here")
        assert (await good)[0].data == "still here"


async def test_the_client_refuses_a_response_that_is_not_an_event_stream():
    async def not_sse(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(not_sse, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(sse.StreamError, match="204 No Content"):
            await take(sse.events("127.0.0.1", port), 1)


async def test_the_client_retries_until_the_server_is_up():
    port = free_port()  # nobody listens there yet
    stream = sse.events("127.0.0.1", port, retry_ms=20)
    first = asyncio.ensure_future(take(stream, 1))
    hub = sse.EventServer()
    await hub.publish("finally")
    server = await asyncio.start_server(hub.handle, "127.0.0.1", port)
    async with server:
        assert (await first)[0].data == "finally"


async def test_a_silent_server_makes_the_client_reconnect():
    calls = []

    async def silent_then_good(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        calls.append(1)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nretry: 10\n\n")
        if len(calls) > 1:
            writer.write(b"data: second try\n\n")
        await reader.read()  # hold the connection open until the client hangs up
        writer.close()

    server = await asyncio.start_server(silent_then_good, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        got = await take(sse.events("127.0.0.1", port, timeout=0.2), 1)
        assert got[0].data == "second try" and len(calls) == 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_standalone_server_and_client(capsys):
    port = free_port()
    server = asyncio.ensure_future(sse.serve_forever("127.0.0.1", port, interval=0.01))
    try:
        await sse.print_events("127.0.0.1", port, limit=2, retry_ms=20)  # retries until it is up
    finally:
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server
    out = capsys.readouterr().out
    assert "serving text/event-stream" in out
    assert re.search(r"id=([0-9a-f]{8})-1 type=tick data='tick 1'\nid=\1-2 type=tick "
                     r"data='tick 2'", out)  # a boot chosen at random at each start


# --- A real peer: Chromium's own EventSource ---

EVENTSOURCE_PAGE = """<!doctype html><title>EventSource</title><script>
window.received = [];
window.startStream = (url) => {
  const source = new EventSource(url);
  const keep = (event) => window.received.push([event.type, event.data, event.lastEventId]);
  source.onmessage = keep;
  source.addEventListener("tick", keep);
};
</script>"""


@pytest.mark.browser
async def test_chromium_eventsource_resumes_and_survives_a_server_restart():
    """Chromium reads the stream, resumes with Last-Event-ID after a cut, and after the server
    restarts (ids from 1 again, a new boot) it is sent the new log instead of skipping it."""
    resumed_from = []

    def recording(hub):  # what Chromium sends as Last-Event-ID, on each connection
        original = hub.resume_after
        hub.resume_after = lambda last_id: resumed_from.append(last_id) or original(last_id)
        return hub

    hub = recording(sse.EventServer(retry_ms=50, boot="b1"))
    hub.drop_after = 2  # cut after two events: the browser must resume at the third
    server = await asyncio.start_server(hub.handle, "127.0.0.1", 0, limit=sse.READ_LIMIT)
    port = server.sockets[0].getsockname()[1]
    for n in (1, 2, 3):
        await hub.publish(f"price {n}", "tick")
    async with support.browser_page(EVENTSOURCE_PAGE) as page:
        await page.evaluate("url => window.startStream(url)", f"http://127.0.0.1:{port}/events")
        await page.wait_for_function("window.received.length === 3")
        await hub.close()  # the server goes down: its streams end, the browser retries
        server.close()
        await server.wait_closed()
        hub = recording(sse.EventServer(retry_ms=50, boot="b2"))
        for n in (1, 2):
            await hub.publish(f"after restart {n}")
        server = await asyncio.start_server(hub.handle, "127.0.0.1", port, limit=sse.READ_LIMIT)
        async with server:
            await page.wait_for_function("window.received.length === 5")
            received = await page.evaluate("window.received")
            await page.close()  # the browser leaves: its stream ends on the server
            await wait_streams(hub, 0)
    assert received == [
        ["tick", "price 1", "b1-1"], ["tick", "price 2", "b1-2"], ["tick", "price 3", "b1-3"],
        ["message", "after restart 1", "b2-1"], ["message", "after restart 2", "b2-2"]]
    assert resumed_from[:2] == [None, "b1-2"] and resumed_from[-1] == "b1-3"
