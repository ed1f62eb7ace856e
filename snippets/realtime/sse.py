# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""Server-Sent Events: a text/event-stream server and a client that parses it by the WHATWG rules.

The server keeps a log of events with ids. A client opens one long HTTP response and the server
writes each event into it as it happens, with a `retry:` hint and a heartbeat comment when it has
nothing to say. A client that reconnects sends `Last-Event-ID` and gets exactly the events it
missed: no loss, no duplicates. An id names the server's run ("boot") as well as the event, so
after a restart, when the log starts again, a client holding an old id is sent the new log from
its start instead of skipping it. The client parses the stream exactly as a browser's
EventSource does (https://html.spec.whatwg.org/multipage/server-sent-events.html) and
reconnects by itself.

Run: python sse.py                   (a demo on 127.0.0.1: a dropped stream resumes where it was)
     python sse.py server --port 8001 (publishes a tick every second, until Ctrl-C)
     python sse.py client --port 8001 (prints the events, reconnecting when the stream drops)
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import contextlib
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

MAX_REQUEST_LINE = 1024  # bytes; a longer request line gets 400
MAX_HEADERS = 32  # header lines; more gets 400
READ_LIMIT = 8192  # asyncio's line limit: a longer header line gets 400
HEAD_TIMEOUT = 10.0  # seconds a client has to send its whole request head
LINE_END = re.compile(r"\r\n|\r|\n")
EVENT_ID = re.compile(r"([0-9a-z]{1,16})-([0-9]{1,9})")  # "<boot>-<n>": event n of that boot


# --8<-- [start:parser]
@dataclass(frozen=True)
class Event:
    type: str  # "message" unless the server sent `event:`
    data: str
    last_event_id: str  # what a reconnecting client sends back as Last-Event-ID


@dataclass
class EventStreamParser:
    """The event-stream interpretation rules of the WHATWG HTML standard, section 9.2.6.

    Feed it bytes as they arrive, in chunks of any size; it returns the events they complete.
    """

    last_event_id: str = ""
    retry_ms: int | None = None  # set by a `retry:` field made only of ASCII digits
    _decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )
    _line: str = ""  # the line read so far
    _started: bool = False  # a BOM is stripped only at the very start of the stream
    _after_cr: bool = False  # a CR ended the last line: an LF right after it is not a new line
    _data: str = ""
    _type: str = ""
    _id_buffer: str = ""

    def feed(self, chunk: bytes) -> list[Event]:
        text = self._decoder.decode(chunk)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._after_cr and text:
            self._after_cr = False
            text = text.removeprefix("\n")  # the LF of a CRLF cut in two by the network
        buffer, start, events = self._line + text, 0, []
        for end in LINE_END.finditer(buffer):  # CRLF, LF or CR ends a line
            event = self._process(buffer[start : end.start()])
            if event is not None:
                events.append(event)
            start = end.end()
            self._after_cr = end.group() == "\r" and start == len(buffer)
        self._line = buffer[start:]
        return events

    def _process(self, line: str) -> Event | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: servers send them as heartbeats
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]  # exactly one space after the colon is dropped
        if name == "event":
            self._type = value
        elif name == "data":
            self._data += value + "\n"
        elif name == "id" and "\0" not in value:
            self._id_buffer = value  # an empty id resets the last event id
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry_ms = int(value)
        return None  # any other field is ignored

    def _dispatch(self) -> Event | None:
        self.last_event_id = self._id_buffer  # kept even if no event fires
        data, event_type = self._data, self._type or "message"
        self._data, self._type = "", ""
        if data == "":
            return None
        return Event(event_type, data.removesuffix("\n"), self.last_event_id)
# --8<-- [end:parser]


def format_event(event_id: str, data: str, event_type: str = "") -> bytes:
    """One event on the wire: an id line, an optional type, one `data:` line per line of data."""
    lines = [f"id: {event_id}"]
    if event_type:
        lines.append(f"event: {event_type}")
    lines += [f"data: {line}" for line in data.split("\n")]
    return ("\n".join(lines) + "\n\n").encode()


class HttpError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status, self.reason = status, reason


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str]]:
    """Read one HTTP/1.1 request head strictly: bounded sizes, 400 on anything malformed."""
    try:
        line = await reader.readuntil(b"\r\n")
        if len(line) > MAX_REQUEST_LINE:
            raise HttpError(400, "request line too long")
        parts = line.decode("ascii").rstrip("\r\n").split(" ")
        if len(parts) != 3 or parts[2] != "HTTP/1.1":
            raise HttpError(400, "malformed request line")
        headers: dict[str, str] = {}
        count = 0
        while (header := await reader.readuntil(b"\r\n")) != b"\r\n":
            count += 1
            name, colon, value = header.decode("ascii").partition(":")
            if not colon or not name or name != name.strip() or count > MAX_HEADERS:
                raise HttpError(400, "malformed or too many headers")
            headers[name.lower()] = value.strip()
    except (asyncio.LimitOverrunError, ValueError) as error:  # ValueError: line over the limit
        raise HttpError(400, "header line too long or not ASCII") from error
    except asyncio.IncompleteReadError as error:
        raise HttpError(400, "truncated request") from error
    return parts[0], parts[1], headers


STREAM_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
               b"Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n"
               b"Access-Control-Allow-Origin: *\r\n"  # a page from another origin may listen
               b"Connection: close\r\n\r\n")  # the body ends when the connection does


# --8<-- [start:server]
class EventServer:
    """An event log with ids, streamed to every client as text/event-stream."""

    def __init__(self, *, retry_ms: int = 1000, heartbeat: float = 15.0,
                 send_timeout: float = 5.0, head_timeout: float = HEAD_TIMEOUT,
                 boot: str | None = None) -> None:
        self.retry_ms, self.heartbeat, self.send_timeout = retry_ms, heartbeat, send_timeout
        self.head_timeout = head_timeout
        self.boot = boot or secrets.token_hex(4)  # this run of the server, in every event id
        self.log: list[tuple[str, str]] = []  # (type, data); log[i] has id f"{boot}-{i + 1}"
        self.changed = asyncio.Condition()  # notified on a new event or a stream opening/closing
        self.streams = 0  # open streams: a dropped client must bring this back down
        self.closing = False  # set by close(): every stream ends, its client reconnects
        self.drop_after: int | None = None  # for the demo: cut every stream after this many events

    async def publish(self, data: str, event_type: str = "") -> int:
        async with self.changed:
            self.log.append((event_type, data))
            self.changed.notify_all()
            return len(self.log)

    def resume_after(self, last_event_id: str | None) -> int:
        """How many events of the log the client has seen. An id of another boot means the
        server restarted and its log began again: all of it is new to this client."""
        if last_event_id is None:
            return 0
        match = EVENT_ID.fullmatch(last_event_id)
        if not match:
            raise HttpError(400, "bad Last-Event-ID")
        boot, number = match.groups()
        return min(int(number), len(self.log)) if boot == self.boot else 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(self.head_timeout):  # an idle or half-sent head is cut
                method, target, headers = await read_request(reader)
            if method not in ("GET", "HEAD") or target != "/events":
                raise HttpError(404, "not found")
            cursor = self.resume_after(headers.get("last-event-id"))
            if method == "HEAD":  # the head a GET would get, and no body
                writer.write(STREAM_HEAD)
                return
            await self.stream(reader, writer, cursor)
        except HttpError as error:
            writer.write(f"HTTP/1.1 {error.status} {error.reason}\r\nContent-Length: 0\r\n"
                         "Connection: close\r\n\r\n".encode())
        except (ConnectionError, TimeoutError):
            pass  # the client vanished or stopped reading: drop it, nobody else notices
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     cursor: int) -> None:
        writer.write(STREAM_HEAD + f"retry: {self.retry_ms}\n\n".encode())
        gone = asyncio.ensure_future(reader.read(1))  # completes when the client hangs up
        async with self.changed:
            self.streams += 1
            self.changed.notify_all()
        sent = 0
        try:
            while not gone.done() and not self.closing:
                for event_type, data in self.log[cursor:]:
                    cursor += 1
                    writer.write(format_event(f"{self.boot}-{cursor}", data, event_type))
                    sent += 1
                    if sent == self.drop_after:
                        return
                async with asyncio.timeout(self.send_timeout):
                    await writer.drain()  # a client that stops reading is cut off here
                if not await self.wait_for_news(cursor, gone):
                    writer.write(b": heartbeat\n\n")  # keeps proxies from closing an idle stream
        finally:
            gone.cancel()
            async with self.changed:
                self.streams -= 1
                self.changed.notify_all()

    async def wait_for_news(self, cursor: int, gone: asyncio.Future[bytes]) -> bool:
        """Wait for an event after `cursor`, the client leaving, or the heartbeat interval."""
        async def news() -> None:
            async with self.changed:
                await self.changed.wait_for(lambda: len(self.log) > cursor or self.closing)
        waiter = asyncio.ensure_future(news())
        done, _ = await asyncio.wait({waiter, gone}, timeout=self.heartbeat,
                                     return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        return bool(done)

    async def close(self) -> None:
        """End every stream (a restart, a deploy): each client reconnects after `retry`."""
        async with self.changed:
            self.closing = True
            self.changed.notify_all()
            await self.changed.wait_for(lambda: self.streams == 0)
# --8<-- [end:server]


class StreamError(Exception):
    """The server answered with something that is not an event stream."""


# --8<-- [start:client]
async def events(host: str, port: int, *, last_event_id: str = "", retry_ms: int = 3000,
                 timeout: float = 30.0) -> AsyncIterator[Event]:
    """Yield events forever, reconnecting after `retry` ms with Last-Event-ID, like EventSource."""
    while True:
        parser = EventStreamParser(last_event_id=last_event_id, retry_ms=retry_ms)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port)
            try:
                resume = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id else ""
                writer.write(f"GET /events HTTP/1.1\r\nHost: {host}\r\n"
                             f"Accept: text/event-stream\r\n{resume}\r\n".encode())
                async with asyncio.timeout(timeout):
                    head = await reader.readuntil(b"\r\n\r\n")
                status = head.split(b"\r\n")[0]
                if not status.startswith(b"HTTP/1.1 200 ") or (
                        b"content-type: text/event-stream" not in head.lower()):
                    raise StreamError(f"not an event stream: {status.decode(errors='replace')}")
                while True:
                    async with asyncio.timeout(timeout):  # longer than the heartbeat interval
                        chunk = await reader.read(4096)
                    if not chunk:
                        break  # the server closed the stream: reconnect
                    for event in parser.feed(chunk):
                        yield event
            finally:
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
        last_event_id = parser.last_event_id
        retry_ms = parser.retry_ms or retry_ms
        await asyncio.sleep(retry_ms / 1000)  # the reconnection time the server asked for
# --8<-- [end:client]


async def restart(server: asyncio.Server, hub: EventServer,
                  boot: str) -> tuple[asyncio.Server, EventServer]:
    """Stop the server and start a fresh one on the same port: the log (in memory) is gone."""
    await hub.close()
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    hub = EventServer(retry_ms=hub.retry_ms, heartbeat=hub.heartbeat, boot=boot)
    return await asyncio.start_server(hub.handle, "127.0.0.1", port, limit=READ_LIMIT), hub


async def demo() -> None:
    hub = EventServer(retry_ms=50, heartbeat=0.05, boot="b1")
    hub.drop_after = 3  # cut each stream after 3 events, as a flaky proxy would
    server = await asyncio.start_server(hub.handle, "127.0.0.1", 0, limit=READ_LIMIT)
    port = server.sockets[0].getsockname()[1]
    print("server: text/event-stream on 127.0.0.1, a port the OS chose; ids are <boot>-<n>")
    for n in range(1, 6):
        await hub.publish(f"price {100 + n}", "tick")
    await hub.publish("market\nclosed")  # two lines of data in one event
    stream = events("127.0.0.1", port)
    async with contextlib.aclosing(stream):
        async for event in stream:
            print(f"client: id={event.last_event_id} type={event.type} data={event.data!r}")
            if event.last_event_id == "b1-3":
                print("  (the server cuts the stream; the client waits retry: 50 ms and resumes"
                      " with Last-Event-ID: b1-3)")
            if event.last_event_id == "b1-6":
                print(f"server: {len(hub.log)} events sent once each; it restarts (boot b2, "
                      "an empty log) and publishes one")
                server, hub = await restart(server, hub, "b2")
                await hub.publish("market\nopen")
                print("  (the client resumes with Last-Event-ID: b1-6, an id of another boot: "
                      "the new server sends\n   its log from the start, where a bare 6 would "
                      "have skipped its first 6 events)")
            if event.last_event_id == "b2-1":
                break
    async with hub.changed:
        await hub.changed.wait_for(lambda: hub.streams == 0)
    print(f"server: {hub.streams} streams left open")

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /events HTTP/1.1\r\nLast-Event-ID: x\r\n\r\n")
    print(f"bad Last-Event-ID -> {(await reader.readline()).decode().strip()}")
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()


async def serve_forever(host: str, port: int, interval: float = 1.0) -> None:
    hub = EventServer()
    server = await asyncio.start_server(hub.handle, host, port, limit=READ_LIMIT)
    print(f"serving text/event-stream at http://{host}:{port}/events (Ctrl-C to stop)")
    async with server:
        n = 0
        while True:
            await asyncio.sleep(interval)
            n += 1
            await hub.publish(f"tick {n}", "tick")


async def print_events(host: str, port: int, limit: int = 0, retry_ms: int = 3000) -> None:
    stream = events(host, port, retry_ms=retry_ms)
    async with contextlib.aclosing(stream):
        async for event in stream:
            print(f"id={event.last_event_id} type={event.type} data={event.data!r}", flush=True)
            limit -= 1
            if limit == 0:
                break


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", choices=["server", "client"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    if args.role == "server":
        runner = serve_forever(args.host, args.port)
    elif args.role == "client":
        runner = print_events(args.host, args.port)
    else:
        runner = demo()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(runner)
