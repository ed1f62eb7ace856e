"""Evidence for the load-shedding page: goodput and latency against offered load, with and without
shedding.

Starts snippets/failures/load_shedding.py as a child process (`python load_shedding.py server
--port 0 --workers 4 --fast-ms 20`, and `--accept-all` for the server that queues everything):
4 workers, each request 20 ms of (simulated) work on its dependency, so the server can serve 200
requests a second. This process then offers it GET /fast at a steady average rate, open loop
(Poisson arrivals from a seeded generator, each sent when its time comes whether or not earlier
ones were answered, as real users do), at rates from a quarter of that capacity to three times
it, a fresh server for each rate. A client waits at most DEADLINE for its answer, measured from
the moment its request was due, then gives up and resets its connection; the server does not
notice (few servers do) and works on it anyway.

Per rate and server it counts the answers: 200 within the deadline (goodput, per second of the
run), 503 (shed), none (the client gave up), and the p50 and p99 of every client's wait: until
its answer, or DEADLINE when it gave up.

Run: python bench/load_shedding.py                (about 2 minutes)
Writes bench/results/load_shedding.txt and bench/figures/load_shedding.svg.
python bench/load_shedding.py --plot-only redraws the figure from the results file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import random
import re
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import matplotlib

from docs_tools import figure_cli, plots

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

WORKERS = 4
WORK_MS = 20.0
CAPACITY = WORKERS * 1000 / WORK_MS  # requests a second the server can serve
RATES = [50, 100, 150, 200, 250, 300, 400, 600]  # offered requests a second
DURATION = 5.0  # seconds of arrivals at each rate
DEADLINE = 1.0  # seconds a client waits for its answer
SEED = 7
MODES = {"accept everything": ["--accept-all"], "shed": []}
ROOT = Path(__file__).resolve().parent.parent
SNIPPET = ROOT / "snippets" / "failures" / "load_shedding.py"
RESULTS = ROOT / "bench" / "results" / "load_shedding.txt"
PLOT = ROOT / "bench" / "figures" / "load_shedding.svg"
REQUEST = b"GET /fast HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@contextlib.contextmanager
def server(flags: list[str]) -> Iterator[int]:
    """Run the snippet's server in a child process; yield the port it printed; stop it with ^C."""
    process = subprocess.Popen(
        [sys.executable, "-u", str(SNIPPET), "server", "--port", "0", "--workers", str(WORKERS),
         "--fast-ms", str(WORK_MS), *flags], stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        if not ready:
            raise TimeoutError("load_shedding.py did not start within 30 s")
        yield int(re.search(r":(\d+)/", process.stdout.readline())[1])
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        process.stdout.close()


async def offer(port: int, rate: float) -> dict:
    """Open-loop arrivals at ``rate`` a second for DURATION; every request's outcome and wait."""
    loop = asyncio.get_running_loop()
    rng = random.Random(SEED)
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    outcomes: list[tuple[str, float]] = []

    async def one(due: float) -> None:
        writer = None
        try:
            async with asyncio.timeout_at(due + DEADLINE):
                if idle:
                    reader, writer = idle.pop()
                else:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(REQUEST)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)[1])
                await reader.readexactly(length)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            if writer is not None:
                writer.transport.abort()  # gave up: reset, no answer wanted any more
            outcomes.append(("none", DEADLINE))
            return
        idle.append((reader, writer))
        outcomes.append((head.split(b" ")[1].decode(), loop.time() - due))

    start = loop.time() + 0.1
    due, tasks = start, []
    while (due := due + rng.expovariate(rate)) < start + DURATION:
        await asyncio.sleep(max(0.0, due - loop.time()))
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    for _, writer in idle:
        writer.close()
    waits = sorted(wait for _, wait in outcomes)
    ok = sum(status == "200" for status, _ in outcomes)
    return {"sent": len(outcomes), "ok": ok,
            "shed": sum(status == "503" for status, _ in outcomes),
            "none": sum(status == "none" for status, _ in outcomes),
            "goodput": ok / DURATION,
            "p50": waits[len(waits) // 2] * 1000, "p99": waits[int(0.99 * (len(waits) - 1))] * 1000}


def table(rows: list[dict]) -> str:
    lines = [
        f"{WORKERS} workers x {WORK_MS:g} ms of work = capacity {CAPACITY:g} requests/s; "
        f"open-loop Poisson arrivals for {DURATION:g} s per rate (seed {SEED}); "
        f"client deadline {DEADLINE * 1000:g} ms",
        f"loopback on {platform.system()} ({platform.machine()}, {os.cpu_count()} cores), Python "
        f"{platform.python_version()}",
        "goodput: 200s within the deadline per second; wait: until the answer, or the deadline",
        "",
        f"{'mode':<18} {'offered/s':>9} {'sent':>5} {'200':>5} {'503':>5} {'none':>5} "
        f"{'goodput/s':>9} {'p50 ms':>7} {'p99 ms':>7}",
    ]
    for row in rows:
        lines.append(f"{row['mode']:<18} {row['offered']:>9} {row['sent']:>5} {row['ok']:>5} "
                     f"{row['shed']:>5} {row['none']:>5} {row['goodput']:>9.1f} "
                     f"{row['p50']:>7.1f} {row['p99']:>7.1f}")
    return "\n".join(lines) + "\n"


def parse(text: str) -> list[dict]:
    """The rows of a results file that ``table`` wrote."""
    rows = []
    for line in text.splitlines():
        for mode in MODES:
            if line.startswith(mode + " "):
                offered, sent, ok, shed, none, goodput, p50, p99 = line[len(mode):].split()
                rows.append({"mode": mode, "offered": int(offered), "sent": int(sent),
                             "ok": int(ok), "shed": int(shed), "none": int(none),
                             "goodput": float(goodput), "p50": float(p50), "p99": float(p99)})
    return rows


def plot(rows: list[dict], path: Path = PLOT) -> None:
    plots.apply_style()
    fig, (good, wait) = plt.subplots(2, 1, figsize=(4.9, 6.4), sharex=True)
    for colour, marker, mode in zip(("C1", "C0"), ("s-", "o-"), MODES, strict=True):
        mine = [row for row in rows if row["mode"] == mode]
        offered = [row["offered"] for row in mine]
        good.plot(offered, [row["goodput"] for row in mine], marker, color=colour, label=mode)
        wait.plot(offered, [row["p99"] for row in mine], marker, color=colour, label=mode)
    for axis in (good, wait):
        axis.axvline(CAPACITY, color="C5", linestyle="--", linewidth=1.5)
        axis.grid(True)
    good.text(CAPACITY * 1.04, 20, "capacity", color="C5")
    good.set_ylabel("goodput (200s in\ntime per second)")
    good.set_ylim(bottom=0)
    wait.legend(loc="center right", bbox_to_anchor=(1, 0.66))
    wait.set_yscale("log")
    wait.set_yticks([30, 100, 300, 1000])
    plots.plain_numbers(wait.yaxis)
    wait.set_ylabel("p99 wait (ms,\nlog scale)")
    wait.set_xlabel("offered load (requests per second)")
    fig.suptitle("One server, 4 workers x 20 ms, loopback")
    fig.tight_layout()
    plots.save(fig, path, "Two line charts against offered load, 50 to 600 requests a second, "
               "with the capacity of 200 marked. Goodput: the server that accepts everything "
               "follows the offered load up to capacity, then collapses towards zero; the "
               "shedding server stays near capacity. p99 wait on a log scale: accepting "
               "everything climbs to the client's one-second deadline once past capacity; "
               "shedding stays near a hundred milliseconds.")
    plt.close(fig)


async def measure() -> list[dict]:
    rows = []
    for mode, flags in MODES.items():
        for rate in RATES:
            with server(flags) as port:
                result = await offer(port, rate)
            rows.append({"mode": mode, "offered": rate, **result})
            print(f"{mode:<18} {rate:>4}/s: {result}", flush=True)
    return rows


def results_text() -> str:
    """The results table, measured now."""
    return table(asyncio.run(measure()))


if __name__ == "__main__":
    figure_cli.run(__doc__, RESULTS, results_text, parse, plot)
