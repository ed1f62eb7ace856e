"""Evidence for the fan-out page: how long a message takes from one server to clients on two.

Two server processes of snippets/realtime/fanout.py (A and B) share one redis-server, as in
production; the clients all run in this process, half connected to A and half to B. A publisher
connected to A sends M messages at a steady rate; each is fanned out three ways in turn:

- pub/sub: sent on /chat, PUBLISHed by A, received by every server's subscriber, pushed to
  every chat WebSocket;
- stream to WebSocket: sent on /feed, XADDed by A, read by each server's XREAD loop, pushed to
  every /feed WebSocket;
- stream to SSE: the same stream entries, pushed to every GET /events stream.

Latency is the time from the publisher's send to a client having parsed the message, both from
time.perf_counter in this one process, split by the server the client is on (A: the
publisher's, B: the other). Delivered counts the messages each client got, against M per
client. Before measuring, warm-up messages go out until every client has seen one, so every
client is subscribed when the first measured message leaves.

Run: python bench/realtime_fanout.py   (needs redis-server: apt-get install redis-server)
Writes bench/results/realtime_fanout.txt and bench/figures/realtime_fanout.svg.
python bench/realtime_fanout.py --plot-only redraws the figure from the results file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import matplotlib
from websockets.asyncio.client import connect

from docs_tools import figure_cli, plots

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

M = 200  # measured messages per run
INTERVAL = 0.01  # seconds between two messages: 100 messages a second
CLIENTS = [10, 100, 400]  # clients per run, half on A and half on B
BUSES = ["pub/sub (WS)", "stream (WS)", "stream (SSE)"]
ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "snippets" / "realtime" / "fanout.py"
RESULTS = ROOT / "bench" / "results" / "realtime_fanout.txt"
PLOT = ROOT / "bench" / "figures" / "realtime_fanout.svg"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


@contextlib.contextmanager
def processes():
    """redis-server and the two server processes; yields {name: (ws_port, sse_port)}."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("needs redis-server: apt-get install redis-server (or make redis)")
    running: list[subprocess.Popen] = []
    try:
        redis_port = free_port()
        running.append(subprocess.Popen(
            [binary, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL))
        wait_for_port(redis_port, running[-1])
        ports = {}
        for name in ("A", "B"):
            ws_port, sse_port = free_port(), free_port()
            running.append(subprocess.Popen(
                [sys.executable, str(PROGRAM), "server", "--name", name, "--port", str(ws_port),
                 "--sse-port", str(sse_port), "--redis-port", str(redis_port)],
                stdout=subprocess.DEVNULL))
            wait_for_port(sse_port, running[-1])
            ports[name] = (ws_port, sse_port)
        yield ports
    finally:
        for process in reversed(running):
            process.terminate()
            process.wait(timeout=10)


class Receiver:
    """One client: the sequence numbers it got and when."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.got: dict[int, float] = {}
        self.warm = asyncio.Event()

    def received(self, text: str) -> None:
        if text.startswith("warm"):
            self.warm.set()
        elif text.isdigit():
            self.got[int(text)] = time.perf_counter()


async def websocket_receiver(url: str, receiver: Receiver, strip: str, ready) -> None:
    async with connect(url, compression=None, max_queue=None) as websocket:
        ready.set_result(None)
        async for message in websocket:
            if strip == "json":
                receiver.received(json.loads(message)["data"])
            else:
                receiver.received(str(message).removeprefix(strip))


async def sse_receiver(port: int, receiver: Receiver, ready) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")
        ready.set_result(None)
        while line := await reader.readline():
            if line.startswith(b"data: "):
                receiver.received(line[6:].decode().rstrip("\n"))
    finally:
        writer.close()


async def measure(bus: str, clients: int, ports: dict[str, tuple[int, int]]) -> list[dict]:
    receivers = [Receiver("A" if n % 2 == 0 else "B") for n in range(clients)]
    tasks, readies = [], []
    for n, receiver in enumerate(receivers):
        ws_port, sse_port = ports[receiver.server]
        ready = asyncio.get_running_loop().create_future()
        readies.append(ready)
        if bus == "pub/sub (WS)":
            url = f"ws://127.0.0.1:{ws_port}/chat?user=u{n}"
            tasks.append(websocket_receiver(url, receiver, "pub: ", ready))
        elif bus == "stream (WS)":
            url = f"ws://127.0.0.1:{ws_port}/feed"
            tasks.append(websocket_receiver(url, receiver, "json", ready))
        else:
            tasks.append(sse_receiver(sse_port, receiver, ready))
    running = [asyncio.ensure_future(task) for task in tasks]
    path = "/chat?user=pub" if bus == "pub/sub (WS)" else "/feed"
    sent: dict[int, float] = {}
    try:
        async with connect(f"ws://127.0.0.1:{ports['A'][0]}{path}", compression=None,
                           max_queue=None) as publisher:
            drain = asyncio.ensure_future(publisher.wait_closed())  # its own copies: ignored
            async with asyncio.timeout(60):
                await asyncio.gather(*readies)
                while not all(receiver.warm.is_set() for receiver in receivers):
                    await publisher.send("warm")
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)  # let the last warm-ups through
            start = time.perf_counter()
            for seq in range(M):
                await asyncio.sleep(max(0.0, start + seq * INTERVAL - time.perf_counter()))
                sent[seq] = time.perf_counter()
                await publisher.send(str(seq))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    while not all(len(receiver.got) == M for receiver in receivers):
                        await asyncio.sleep(0.05)
            drain.cancel()
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    rows = []
    for server in ("A", "B"):
        group = [receiver for receiver in receivers if receiver.server == server]
        latencies = sorted((at - sent[seq]) * 1000 for receiver in group
                           for seq, at in receiver.got.items())
        rows.append({
            "bus": bus, "clients": clients, "on": server,
            "median": statistics.median(latencies),
            "p99": latencies[int(0.99 * (len(latencies) - 1))],
            "delivered": sum(len(receiver.got) for receiver in group),
            "expected": M * len(group),
        })
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        f"{M} messages, one every {INTERVAL * 1000:.0f} ms, published on A; clients split "
        "evenly between A and B",
        f"2 server processes + redis-server {redis_version()}, loopback on {platform.system()} "
        f"({platform.machine()}, {os.cpu_count()} cores), Python {platform.python_version()}",
        "latency: publisher's send -> client has the message; on: the client's server",
        "",
        f"{'bus':<14} {'clients':>7} {'on':>3} {'median ms':>9} {'p99 ms':>7} "
        f"{'delivered':>15}",
    ]
    for row in rows:
        delivered = f"{row['delivered']}/{row['expected']}"
        lines.append(f"{row['bus']:<14} {row['clients']:>7} {row['on']:>3} "
                     f"{row['median']:>9.2f} {row['p99']:>7.2f} {delivered:>15}")
    return "\n".join(lines) + "\n"


def redis_version() -> str:
    output = subprocess.run(["redis-server", "--version"], capture_output=True, text=True,
                            timeout=10).stdout
    return output.split("v=")[1].split()[0]


def parse(text: str) -> list[dict]:
    """The rows of a results file that ``table`` wrote."""
    rows = []
    for line in text.splitlines():
        for bus in BUSES:
            if line.startswith(bus + " "):
                clients, on, median, p99, delivered = line[len(bus):].split()
                got, expected = delivered.split("/")
                rows.append({"bus": bus, "clients": int(clients), "on": on,
                             "median": float(median), "p99": float(p99),
                             "delivered": int(got), "expected": int(expected)})
    return rows


def plot(rows: list[dict], path: Path = PLOT) -> None:
    plots.apply_style()
    fig, axes = plt.subplots(2, 1, figsize=(4.9, 6.6), sharex=True, sharey=True)
    highest = max(row["p99"] for row in rows)
    ticks = [tick for tick in (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500) if tick <= 2 * highest]
    for axis, server in zip(axes, ("A", "B"), strict=True):
        for colour, bus in zip(("C0", "C1", "C2"), BUSES, strict=True):
            mine = [row for row in rows if row["bus"] == bus and row["on"] == server]
            clients = [row["clients"] for row in mine]
            axis.plot(clients, [row["median"] for row in mine], "o-", color=colour,
                      label=f"{bus} median")
            axis.plot(clients, [row["p99"] for row in mine], "s--", color=colour,
                      label=f"{bus} p99")
        axis.set_xscale("log")
        axis.set_yscale("log")
        plots.plain_numbers(axis.xaxis)
        plots.plain_numbers(axis.yaxis)
        axis.set_yticks(ticks, [f"{tick:g}" for tick in ticks])
        axis.minorticks_off()
        axis.set_ylabel("latency (ms, log)")
        axis.set_title(f"clients on {server}" + (" (the publisher's server)" if server == "A"
                                                 else " (the other server)"))
        axis.grid(True, which="major")
    axes[-1].set_xlabel("clients in all (log scale)")
    axes[-1].set_xticks(CLIENTS, [str(n) for n in CLIENTS])
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.17, 1, 1))
    plots.save(fig, path, "Two line charts, one for clients on the publisher's server A and "
               "one for clients on server B, of fan-out latency against the number of clients "
               "on log scales, median and p99, for Redis pub/sub to WebSocket, a Redis stream "
               "to WebSocket and a Redis stream to SSE. Latency grows with the number of "
               "clients for all three, and is about the same on A as on B.")
    plt.close(fig)


async def results_text() -> str:
    """The results table, measured now."""
    rows = []
    with processes() as ports:
        for clients in CLIENTS:
            for bus in BUSES:
                rows += await measure(bus, clients, ports)
                print(f"{bus} x {clients}: done", file=sys.stderr)
    return table(rows)


if __name__ == "__main__":
    figure_cli.run(__doc__, RESULTS, lambda: asyncio.run(results_text()), parse, plot)
