# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""N clients race to update one record under optimistic concurrency, each backing off its own way.

A discrete-event simulation with a virtual clock (no real waiting, seeded randomness): every
client reads the record's version, works for one time unit, then writes "if the version is
still the one I read" (a compare-and-set). If another client wrote first, the write is refused
and the client backs off and tries again. It counts the calls made (the work the shared resource
does) and the time until every client has written once, for each backoff strategy: no backoff,
capped exponential without jitter, and full, equal and decorrelated jitter, as in the AWS
Builders' Library article "Timeouts, retries, and backoff with jitter".

Run: python contention.py
(no network needed: it prints one table per strategy for a few client counts)
"""

from __future__ import annotations

import heapq
import random
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass

STRATEGIES = ("none", "exponential", "full", "equal", "decorrelated")


# --8<-- [start:backoff]
def backoff(strategy: str, rng: random.Random, base: float = 1.0, cap: float = 1000.0
            ) -> Iterator[float]:
    """Waits before retry 1, 2, 3... in time units (one unit = one attempt's work)."""
    previous = base
    n = 0
    while True:
        ceiling = min(cap, base * 2**n)
        if ceiling < cap:
            n += 1  # once at the cap, stop doubling: base * 2**1024 would overflow a float
        if strategy == "none":
            delay = 0.0  # retry at once
        elif strategy == "exponential":
            delay = ceiling
        elif strategy == "full":
            delay = rng.uniform(0, ceiling)
        elif strategy == "equal":
            delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
        elif strategy == "decorrelated":
            delay = min(cap, rng.uniform(base, previous * 3))
        else:
            raise ValueError(f"unknown strategy {strategy!r}, expected one of {STRATEGIES}")
        previous = delay
        yield delay
# --8<-- [end:backoff]


@dataclass(frozen=True)
class Outcome:
    clients: int
    calls: int  # attempts made in all: the load the contended resource served
    finish_time: float  # when the last client's write succeeded, in time units


# --8<-- [start:simulate]
def simulate(strategy: str, clients: int, seed: int = 0, work: float = 1.0) -> Outcome:
    """All clients start at time 0; each must write once. Returns the calls and the finish time."""
    rng = random.Random(seed)
    waits = {c: backoff(strategy, rng) for c in range(clients)}
    version = 0  # the record's version: bumped by every successful write
    calls = 0
    finish = 0.0
    # Events are (time, order, kind, client, version read); "order" breaks ties first come,
    # first served, so the run is the same every time.
    events: list[tuple[float, int, str, int, int]] = []
    order = 0

    def schedule(time: float, kind: str, client: int, read: int = -1) -> None:
        nonlocal order
        heapq.heappush(events, (time, order, kind, client, read))
        order += 1

    for client in range(clients):
        schedule(0.0, "read", client)
    while events:
        now, _, kind, client, read = heapq.heappop(events)
        if kind == "read":
            calls += 1
            schedule(now + work, "write", client, version)
        elif read == version:  # compare-and-set succeeds: nobody wrote since our read
            version += 1
            finish = now
        else:  # conflict: someone else wrote first; back off, then read again
            schedule(now + next(waits[client]), "read", client)
    return Outcome(clients, calls, finish)
# --8<-- [end:simulate]


def average(strategy: str, clients: int, seeds: int = 5) -> tuple[float, float]:
    """Mean calls and mean finish time over ``seeds`` runs (seeds 0, 1, 2, ...)."""
    runs = [simulate(strategy, clients, seed) for seed in range(seeds)]
    return (statistics.fmean(r.calls for r in runs), statistics.fmean(r.finish_time for r in runs))


def table(counts: list[int], seeds: int = 5,
          run: Callable[[str, int, int], tuple[float, float]] = average) -> list[str]:
    """Rows of mean calls and finish time per strategy and client count."""
    lines = [f"{'clients':>7}  " + "  ".join(f"{s:>17}" for s in STRATEGIES),
             f"{'':>7}  " + "  ".join(f"{'calls':>8} {'time':>8}" for _ in STRATEGIES)]
    for clients in counts:
        cells = []
        for strategy in STRATEGIES:
            calls, finish = run(strategy, clients, seeds)
            cells.append(f"{calls:8.0f} {finish:8.0f}")
        lines.append(f"{clients:>7}  " + "  ".join(cells))
    return lines


def demo() -> None:
    alone = simulate("full", 1)
    print(f"one client alone: {alone.calls} call, done at t={alone.finish_time:g}")
    print("mean of 5 seeded runs; time in units of one attempt's work:")
    for line in table([2, 5, 10, 25, 50]):
        print(line)


if __name__ == "__main__":
    demo()
