"""One rate limit, three server processes, one Redis: how many requests get through at once?

Starts a redis-server (Debian's, on 127.0.0.1, nothing persisted) and six child processes of
snippets/failures/redis_rate_limit.py (`server --port 0 --redis-port P --limit 10 --window 600`,
the port read from the line each prints): three keep the limit with the atomic Lua script,
three with the naive read-then-write (`--naive`). Nothing is injected into the race: the naive
servers read (HMGET), compute, and write (HSET) with a real round trip to Redis in between, as
a service would. Each round, one client (a fresh X-API-Key, so a full bucket of 10 tokens) fires
C requests at once, spread over the three servers, and counts the 200s; the servers use Redis's
clock, and a token comes back every minute, far longer than a round takes. ROUNDS rounds per C.

Run: python bench/rate_limiting.py     (a minute or so; needs redis-server: `make redis`)
Writes bench/results/rate_limiting.txt and bench/figures/rate_limiting.svg.
python bench/rate_limiting.py --plot-only redraws the figure from the results file.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import matplotlib

from docs_tools import figure_cli, plots

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LIMIT = 10  # requests per window per client
WINDOW = 600  # seconds: a token comes back every minute, never during a round
CONCURRENCY = [1, 2, 5, 10, 20, 50, 100]
ROUNDS = 30
SERVERS = 3  # processes per version
ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "snippets" / "failures" / "redis_rate_limit.py"
RESULTS = ROOT / "bench" / "results" / "rate_limiting.txt"
PLOT = ROOT / "bench" / "figures" / "rate_limiting.svg"


@contextmanager
def redis_server() -> Iterator[int]:
    """A throwaway redis-server on 127.0.0.1 at a free port; yields the port."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("no redis-server: run `make redis` (Debian's redis-server package)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--loglevel", "warning"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(64).startswith(b"+PONG"):
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError("redis-server did not start within 10 s") from None
                time.sleep(0.02)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def redis_version(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(b"INFO server\r\n")
        info = b""
        while b"redis_version:" not in info or not info.endswith(b"\r\n"):
            info += connection.recv(65536)
    return re.search(rb"redis_version:([\d.]+)", info)[1].decode()


@contextmanager
def server(redis_port: int, naive: bool) -> Iterator[int]:
    """`python redis_rate_limit.py server --port 0 ...`; yields the port it printed."""
    process = subprocess.Popen(
        [sys.executable, "-u", str(PROGRAM), "server", "--port", "0", "--redis-port",
         str(redis_port), "--limit", str(LIMIT), "--window", str(WINDOW),
         *(["--naive"] if naive else [])], stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        if not ready:
            raise TimeoutError("redis_rate_limit.py did not start within 30 s")
        yield int(re.search(r"127\.0\.0\.1:(\d+)/", process.stdout.readline())[1])
    finally:
        process.send_signal(signal.SIGINT)  # the servers stop cleanly on Ctrl-C
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        process.stdout.close()


async def round_trip(client: httpx.AsyncClient, ports: list[int], concurrent: int,
                     key: str) -> int:
    """``concurrent`` requests at once from one client, spread over the servers: the 200s."""
    urls = [f"http://127.0.0.1:{ports[n % len(ports)]}/" for n in range(concurrent)]
    responses = await asyncio.gather(*(client.get(url, headers={"X-API-Key": key})
                                       for url in urls))
    assert all(r.status_code in (200, 429) for r in responses), "only 200 and 429 expected"
    return sum(r.status_code == 200 for r in responses)


async def measure(ports: dict[str, list[int]]) -> list[dict]:
    rows = []
    limits = httpx.Limits(max_connections=max(CONCURRENCY) + 10)
    async with httpx.AsyncClient(timeout=30, trust_env=False, limits=limits) as client:
        for kind, kind_ports in ports.items():  # warm-up: connections and the script's SHA
            await round_trip(client, kind_ports, max(CONCURRENCY), f"warm-up-{kind}")
        for concurrent in CONCURRENCY:
            row = {"concurrent": concurrent}
            for kind, kind_ports in ports.items():
                passed = [await round_trip(client, kind_ports, concurrent, f"{kind}-"
                                           f"{concurrent}-{n}") for n in range(ROUNDS)]
                row[kind] = (statistics.mean(passed), max(passed))
            rows.append(row)
            print(f"{concurrent:>4} at once: atomic {row['atomic'][0]:.1f}, "
                  f"naive {row['naive'][0]:.1f}", flush=True)
    return rows


def table(rows: list[dict], version: str) -> str:
    lines = [
        f"{SERVERS} server processes per version share one token bucket of {LIMIT} requests "
        f"per {WINDOW} s per client in Redis {version}",
        f"loopback on {platform.system()} ({platform.machine()}, {os.cpu_count()} cores), Python "
        f"{platform.python_version()}; {ROUNDS} rounds per row, a fresh client each round",
        "let through: requests answered 200 of those sent at once (the limit allows "
        f"{LIMIT})",
        "",
        f"{'at once':>7} {'atomic mean':>11} {'atomic max':>10} {'naive mean':>10} "
        f"{'naive max':>9}",
    ]
    for row in rows:
        (atomic_mean, atomic_max), (naive_mean, naive_max) = row["atomic"], row["naive"]
        lines.append(f"{row['concurrent']:>7} {atomic_mean:>11.1f} {atomic_max:>10} "
                     f"{naive_mean:>10.1f} {naive_max:>9}")
    return "\n".join(lines) + "\n"


def parse(text: str) -> list[dict]:
    """The rows of a results file that ``table`` wrote."""
    rows = []
    for line in text.splitlines():
        match = re.fullmatch(r"\s*(\d+)\s+([\d.]+)\s+(\d+)\s+([\d.]+)\s+(\d+)", line)
        if match:
            concurrent, atomic_mean, atomic_max, naive_mean, naive_max = match.groups()
            rows.append({"concurrent": int(concurrent),
                         "atomic": (float(atomic_mean), int(atomic_max)),
                         "naive": (float(naive_mean), int(naive_max))})
    return rows


def plot(rows: list[dict], path: Path = PLOT) -> None:
    plots.apply_style()
    fig, axis = plt.subplots(figsize=(4.9, 3.6))
    x = [row["concurrent"] for row in rows]
    axis.plot(x, [row["naive"][1] for row in rows], "v", color="C1", label="naive: most")
    axis.plot(x, [row["naive"][0] for row in rows], "o-", color="C1", label="naive: mean")
    axis.plot(x, [row["atomic"][0] for row in rows], "s-", color="C0", label="Lua script")
    axis.axhline(LIMIT, color="C2", linestyle="--", linewidth=1.5, label=f"limit ({LIMIT})")
    axis.set_xscale("log")
    axis.set_yscale("log")
    plots.plain_numbers(axis.xaxis)
    plots.plain_numbers(axis.yaxis)
    axis.set_xlabel("requests sent at once (log scale)")
    axis.set_ylabel("let through (log scale)")
    axis.legend(loc="upper left")
    servers = {2: "two", 3: "three", 4: "four"}.get(SERVERS, SERVERS)
    fig.suptitle(f"One client, {servers} servers, one limit in Redis")
    fig.tight_layout()
    plots.save(fig, path, "Line chart on log scales: requests let through against requests "
               "sent at once by one client to three servers sharing a limit of 10 in Redis. Up "
               "to 10 at once, both versions let every request through. Beyond that the Lua "
               "script lets exactly 10 through every time; the naive read-then-write lets more "
               "through on average, and in its worst rounds far more, up to every request sent.")
    plt.close(fig)


def results_text() -> str:
    """The results table, measured now."""
    with redis_server() as redis_port, ExitStack() as stack:
        ports = {kind: [stack.enter_context(server(redis_port, kind == "naive"))
                        for _ in range(SERVERS)] for kind in ("atomic", "naive")}
        rows = asyncio.run(measure(ports))
        text = table(rows, redis_version(redis_port))
    return text


if __name__ == "__main__":
    figure_cli.run(__doc__, RESULTS, results_text, parse, plot)
