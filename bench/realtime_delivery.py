"""Evidence for the real-time comparison table: deliver the same N messages four ways on loopback.

The server publishes N messages at a steady rate; a client in the same process receives them by
short polling (every SHORT_POLL_INTERVAL), long polling, Server-Sent Events and WebSocket.
For each it measures the delivery latency (server publish -> client has the message, both timed
with time.perf_counter in this one process), the bytes on the wire per message (HTTP headers,
bodies, SSE fields and WebSocket frames, both directions, handshakes included; TCP/IP headers
are not), and the HTTP requests and TCP connections used. Bytes and connections are counted by a
relay that sits in front of each server, so every method pays the same extra loopback hop.

Run: python bench/realtime_delivery.py
Writes bench/results/realtime_delivery.txt and bench/figures/realtime_delivery.svg.
python bench/realtime_delivery.py --plot-only redraws the figure from the results file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import statistics
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import matplotlib
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from docs_tools import figure_cli, plots

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

N = 200  # messages per method
PUBLISH_INTERVAL = 0.005  # seconds between two messages: about 200 messages per second
SHORT_POLL_INTERVAL = 0.1  # seconds between two short polls
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "realtime_delivery.txt"
PLOT = ROOT / "bench" / "figures" / "realtime_delivery.svg"


class Feed:
    """The server's messages, when each was published, and how many requests it served."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.published: list[float] = []
        self.changed = asyncio.Condition()
        self.requests = 0

    async def publish(self, n: int) -> None:
        async with self.changed:
            self.messages.append(json.dumps({"id": n + 1, "symbol": "ACME", "price": 100 + n}))
            self.published.append(time.perf_counter())
            self.changed.notify_all()

    async def wait_beyond(self, cursor: int, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout), self.changed:
                await self.changed.wait_for(lambda: len(self.messages) > cursor)


class Relay:
    """A TCP relay that counts the bytes and connections going through it."""

    def __init__(self, target_port: int) -> None:
        self.target_port, self.bytes, self.connections = target_port, 0, 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while chunk := await source.read(65536):
                    self.bytes += len(chunk)
                    sink.write(chunk)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))


async def http_server(feed: Feed, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
    """Polling (GET /poll?after=&wait=) and SSE (GET /sse) on one small HTTP/1.1 server."""
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            feed.requests += 1
            url = urlsplit(head.split(b" ")[1].decode())
            if url.path == "/sse":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                             b"Cache-Control: no-cache\r\n\r\n")
                sent = 0
                while sent < N:
                    await feed.wait_beyond(sent, 60)
                    for message in feed.messages[sent:]:
                        sent += 1
                        writer.write(f"id: {sent}\ndata: {message}\n\n".encode())
                    await writer.drain()
                break
            query = parse_qs(url.query)
            after, wait = int(query["after"][0]), float(query.get("wait", ["0"])[0])
            if wait:
                await feed.wait_beyond(after, wait)
            body = json.dumps({"messages": feed.messages[after:],
                               "cursor": len(feed.messages)}).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Cache-Control: no-store\r\nContent-Length: %d\r\n\r\n" % len(body)
                         + body)
            await writer.drain()
    writer.close()


async def receive_polling(port: int, received: list[float], wait: float) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client:
        cursor = 0
        while cursor < N:
            params = {"after": cursor, "wait": wait} if wait else {"after": cursor}
            body = (await client.get("/poll", params=params, timeout=30)).json()
            now = time.perf_counter()
            received += [now] * len(body["messages"])
            cursor = body["cursor"]
            if not wait and cursor < N:
                await asyncio.sleep(SHORT_POLL_INTERVAL)


async def receive_sse(port: int, received: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
    await reader.readuntil(b"\r\n\r\n")
    while len(received) < N:
        await reader.readuntil(b"\n\n")  # events are one id and one data line here
        received.append(time.perf_counter())
    writer.close()
    await writer.wait_closed()


async def ws_server(feed: Feed, websocket) -> None:
    sent = 0
    while sent < N:
        await feed.wait_beyond(sent, 60)
        for message in feed.messages[sent:]:
            sent += 1
            await websocket.send(message)
    await websocket.wait_closed()


async def receive_ws(port: int, received: list[float]) -> None:
    async with connect(f"ws://127.0.0.1:{port}/", compression=None) as websocket:
        while len(received) < N:
            await websocket.recv()
            received.append(time.perf_counter())


async def measure(method: str) -> dict:
    feed = Feed()
    received: list[float] = []
    if method == "WebSocket":
        server = await serve(lambda ws: ws_server(feed, ws), "127.0.0.1", 0, compression=None)
    else:
        server = await asyncio.start_server(lambda r, w: http_server(feed, r, w), "127.0.0.1", 0)
    relay = Relay(server.sockets[0].getsockname()[1])
    relay_server = await asyncio.start_server(relay.handle, "127.0.0.1", 0)
    port = relay_server.sockets[0].getsockname()[1]
    receivers = {
        "short polling": lambda: receive_polling(port, received, wait=0),
        "long polling": lambda: receive_polling(port, received, wait=20),
        "SSE": lambda: receive_sse(port, received),
        "WebSocket": lambda: receive_ws(port, received),
    }
    receiver = asyncio.ensure_future(receivers[method]())
    await asyncio.sleep(0.2)  # let the client connect before the first message
    for n in range(N):
        await feed.publish(n)
        await asyncio.sleep(PUBLISH_INTERVAL)
    async with asyncio.timeout(30):
        await receiver
    for s in (relay_server, server):
        s.close()
        await s.wait_closed()
    latencies = sorted((r - p) * 1000 for r, p in zip(received, feed.published, strict=True))
    return {
        "method": method,
        "median": statistics.median(latencies),
        "p99": latencies[int(0.99 * (len(latencies) - 1))],
        "bytes": relay.bytes / N,
        "requests": feed.requests if method != "WebSocket" else 1,
        "connections": relay.connections,
        "payload": statistics.mean(len(m) for m in feed.messages),
    }


def table(rows: list[dict]) -> str:
    lines = [
        f"{N} JSON messages of {rows[0]['payload']:.0f} bytes on average, one every "
        f"{PUBLISH_INTERVAL * 1000:.0f} ms; short polling every "
        f"{SHORT_POLL_INTERVAL * 1000:.0f} ms",
        f"loopback on {platform.system()} ({platform.machine()}, {os.cpu_count()} cores), Python "
        f"{platform.python_version()}",
        "bytes/msg: every byte both ways (handshakes, HTTP headers, framing, the message) / "
        f"{N}",
        "",
        f"{'method':<14} {'median ms':>9} {'p99 ms':>7} {'bytes/msg':>9} {'requests':>8} "
        f"{'connections':>11}",
    ]
    for row in rows:
        lines.append(f"{row['method']:<14} {row['median']:>9.2f} {row['p99']:>7.2f} "
                     f"{row['bytes']:>9.0f} {row['requests']:>8} {row['connections']:>11}")
    return "\n".join(lines) + "\n"


def parse(text: str) -> list[dict]:
    """The rows of a results file that ``table`` wrote."""
    rows = []
    for line in text.splitlines():
        parts = line.rsplit(None, 5)
        if len(parts) == 6 and parts[0] in ("short polling", "long polling", "SSE", "WebSocket"):
            method, median, p99, per_message, requests, connections = parts
            rows.append({"method": method, "median": float(median), "p99": float(p99),
                         "bytes": float(per_message), "requests": int(requests),
                         "connections": int(connections)})
    return rows


def plot(rows: list[dict], path: Path = PLOT) -> None:
    plots.apply_style()
    names = [row["method"] for row in rows]
    fig, (latency, size) = plt.subplots(2, 1, figsize=(4.9, 6.2))
    y = range(len(rows))
    latency.barh([i - 0.2 for i in y], [row["median"] for row in rows], 0.4, label="median")
    latency.barh([i + 0.2 for i in y], [row["p99"] for row in rows], 0.4, label="p99")
    latency.set_xscale("log")
    plots.plain_numbers(latency.xaxis)
    latency.set_xlabel("delivery latency (ms, log scale)")
    latency.legend(loc="lower right")
    size.barh(list(y), [row["bytes"] for row in rows], 0.6, color="C2")
    size.set_xlabel("bytes on the wire per message")
    for axis in (latency, size):
        axis.set_yticks(list(y), names)
        axis.invert_yaxis()
    fig.suptitle(f"{N} messages, server to client, loopback")
    fig.tight_layout()
    plots.save(fig, path, "Horizontal bar charts. Delivery latency, median and p99 on a log "
               "scale: short polling tens of milliseconds, long polling about a millisecond, SSE "
               "and WebSocket a fraction of one. Bytes per message: long polling the most, "
               "WebSocket the fewest.")
    plt.close(fig)


async def results_text() -> str:
    """The results table, measured now."""
    return table([await measure(m) for m in ("short polling", "long polling", "SSE", "WebSocket")])


if __name__ == "__main__":
    figure_cli.run(__doc__, RESULTS, lambda: asyncio.run(results_text()), parse, plot)
