"""Contention benchmark for the Handling failures chapter: bigger N than the notebook page runs.

N clients race to write one record with compare-and-set; after a conflict each backs off with
one of five strategies (none, capped exponential, full, equal and decorrelated jitter). This is
the same discrete-event simulation as snippets/failures/contention.py (copied, not imported, as
bench scripts do): a virtual clock, so no real waiting, and seeded randomness, so the table is
the same on every run. Time is in units of one attempt's work.

Run: .venv/bin/python bench/failures_contention.py
Writes bench/results/failures_contention.txt and docs/failures/img/failures_contention.svg.
"""

from __future__ import annotations

import heapq
import random
import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
STRATEGIES = ("none", "exponential", "full", "equal", "decorrelated")
COUNTS = [10, 25, 50, 100, 200, 400]
SEEDS = 5


def backoff(strategy, rng, base=1.0, cap=1000.0):
    previous, n = base, 0
    while True:
        ceiling = min(cap, base * 2**n)
        if strategy == "none":
            delay = 0.0
        elif strategy == "exponential":
            delay = ceiling
        elif strategy == "full":
            delay = rng.uniform(0, ceiling)
        elif strategy == "equal":
            delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
        else:
            delay = min(cap, rng.uniform(base, previous * 3))
        previous, n = delay, n + 1
        yield delay


def simulate(strategy, clients, seed, work=1.0):
    rng = random.Random(seed)
    waits = {c: backoff(strategy, rng) for c in range(clients)}
    version = calls = order = 0
    finish = 0.0
    events = [(0.0, c, "read", c, -1) for c in range(clients)]
    order = clients
    heapq.heapify(events)
    while events:
        now, _, kind, client, read = heapq.heappop(events)
        if kind == "read":
            calls += 1
            heapq.heappush(events, (now + work, order, "write", client, version))
        elif read == version:
            version += 1
            finish = now
            continue
        else:
            heapq.heappush(events, (now + next(waits[client]), order, "read", client, -1))
        order += 1
    return calls, finish


def main() -> None:
    results = {}
    for strategy in STRATEGIES:
        for clients in COUNTS:
            runs = [simulate(strategy, clients, seed) for seed in range(SEEDS)]
            results[strategy, clients] = (statistics.fmean(r[0] for r in runs),
                                          statistics.fmean(r[1] for r in runs))
    lines = [f"mean of {SEEDS} seeded runs per cell; time in units of one attempt's work",
             f"{'clients':>7}  " + "  ".join(f"{s:>17}" for s in STRATEGIES),
             f"{'':>7}  " + "  ".join(f"{'calls':>8} {'time':>8}" for _ in STRATEGIES)]
    for clients in COUNTS:
        lines.append(f"{clients:>7}  " + "  ".join(
            f"{results[s, clients][0]:8.0f} {results[s, clients][1]:8.0f}" for s in STRATEGIES))
    text = "\n".join(lines) + "\n"
    print(text, end="")
    (ROOT / "bench" / "results" / "failures_contention.txt").write_text(text)

    plt.rcParams["svg.hashsalt"] = "networking-essentials"
    figure, (work_axis, time_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for strategy in STRATEGIES:
        work_axis.plot(COUNTS, [results[strategy, n][0] for n in COUNTS], marker="o",
                       label=strategy)
        time_axis.plot(COUNTS, [results[strategy, n][1] for n in COUNTS], marker="o",
                       label=strategy)
    for axis, title in ((work_axis, "calls made (work)"), (time_axis, "time until all done")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("clients competing")
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
    time_axis.legend()
    figure.tight_layout()
    figure.savefig(ROOT / "docs" / "failures" / "img" / "failures_contention.svg",
                   metadata={"Date": None})
    plt.close(figure)


if __name__ == "__main__":
    main()
