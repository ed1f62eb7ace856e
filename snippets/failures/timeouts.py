# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""Choose a timeout from the latency distribution, not from a round number.

Timing out is how a client notices that a call will not come back. Too short, and healthy but
slow calls are abandoned (and retried, adding load); too long, and a caller's threads or
connections pile up behind a dead dependency. The usual rule: measure the dependency's latency,
pick the percentile whose tail you accept to lose (p99.9 means about 1 call in 1000 times out
while the dependency is healthy), and add headroom. This file does that for a seeded sample of
latencies shaped like a real service: most calls fast, a few slow (a garbage-collection pause,
a cache miss, a retransmitted packet).

Run: python timeouts.py
(no network needed: the latencies are a seeded random sample, not a measurement)
"""

from __future__ import annotations

import math
import random


def sample_latencies(count: int, rng: random.Random) -> list[float]:
    """Milliseconds: lognormal around 20 ms, and 1 in 100 calls hits a slow path of 100-400 ms."""
    latencies = []
    for _ in range(count):
        latency = rng.lognormvariate(math.log(20), 0.35)
        if rng.random() < 0.01:
            latency += rng.uniform(100, 400)
        latencies.append(latency)
    return latencies


# --8<-- [start:choose]
def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile: the smallest value with at least p% of values at or below."""
    if not values or not 0 < p <= 100:
        raise ValueError("need values and 0 < p <= 100")
    ordered = sorted(values)
    rank = math.ceil(round(p * len(ordered) / 100, 9))  # 99.9% of 1000 is 999, not 999.00..01
    return ordered[rank - 1]


def choose_timeout(latencies: list[float], p: float = 99.9, headroom: float = 1.2) -> float:
    """A timeout that a healthy dependency exceeds on about (100 - p)% of calls, plus headroom."""
    return percentile(latencies, p) * headroom


def timed_out_share(latencies: list[float], timeout: float) -> float:
    return sum(latency > timeout for latency in latencies) / len(latencies)
# --8<-- [end:choose]


def demo() -> None:
    rng = random.Random(2026)
    measured = sample_latencies(100_000, rng)  # what you would collect from your metrics
    for p in (50, 90, 99, 99.9):
        print(f"p{p:<5g} {percentile(measured, p):6.0f} ms")
    timeout = choose_timeout(measured)
    print(f"timeout = p99.9 x 1.2 = {timeout:.0f} ms")
    later = sample_latencies(100_000, rng)  # the next day's traffic, same dependency
    print("share of the next 100,000 healthy calls that would time out:")
    for candidate in (50, 100, 250, round(percentile(measured, 99.9)), round(timeout), 1000):
        print(f"  {candidate:>5} ms timeout: {timed_out_share(later, candidate):7.3%}")


if __name__ == "__main__":
    demo()
