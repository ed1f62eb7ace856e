# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""Load-balancing algorithms as small classes with one interface, and a consistent-hash ring.

Every balancer has ``pick(key) -> server`` (the key is the client's address, or a user id; most
algorithms ignore it) and ``release(server)``, called when that request is done (the balancers
that count requests in flight or time them need it; for the others it does nothing). Randomness
is seeded and the least-response-time balancer reads an injected clock, so runs repeat exactly.

The demo sends the same 12 requests through every algorithm on a simulated clock (server b3 is
three times slower than b1 and b2; request 1 is a long one) and prints each one's picks and the
mean response time, then counts how many of 10,000 keys move to another server when a fifth
server joins four: ``hash % N`` moves about 80%, a hash ring with virtual nodes about 20% (1/N).

Run: python balancers.py
(no network needed: it simulates the requests)
"""

from __future__ import annotations

import bisect
import hashlib
import random
from collections import deque
from collections.abc import Callable, Sequence


def stable_hash(key: str) -> int:
    """A hash that is the same in every process (Python's hash() of a str is salted per run)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


# --8<-- [start:stateless]
class RoundRobin:
    """Each server in turn. No state but a counter; blind to load and to slow servers."""

    def __init__(self, servers: Sequence[str]) -> None:
        self.servers = list(servers)
        self.next = 0

    def pick(self, key: str = "") -> str:
        server = self.servers[self.next % len(self.servers)]
        self.next += 1
        return server

    def release(self, server: str) -> None:
        """Nothing to do: round-robin does not track requests."""


class WeightedRoundRobin(RoundRobin):
    """Round-robin where a server of weight 3 gets 3 picks out of every (sum of weights).

    The "smooth" variant NGINX uses: it interleaves (a a b a c) instead of bursting (a a a b c).
    """

    def __init__(self, weights: dict[str, int]) -> None:
        if not weights or min(weights.values()) < 1:
            raise ValueError("weights must be whole numbers of at least 1")
        super().__init__(list(weights))
        self.weights = dict(weights)
        self.current = dict.fromkeys(weights, 0)

    def pick(self, key: str = "") -> str:
        for server, weight in self.weights.items():
            self.current[server] += weight
        best = max(self.servers, key=lambda server: self.current[server])  # first on ties
        self.current[best] -= sum(self.weights.values())
        return best


class Random(RoundRobin):
    """A uniformly random server: no shared state, so many balancers can run side by side."""

    def __init__(self, servers: Sequence[str], seed: int = 0) -> None:
        super().__init__(servers)
        self.rng = random.Random(seed)

    def pick(self, key: str = "") -> str:
        return self.rng.choice(self.servers)


class IPHash(RoundRobin):
    """hash(client address) % N: the same client always reaches the same server, while N holds."""

    def pick(self, key: str = "") -> str:
        return self.servers[stable_hash(key) % len(self.servers)]
# --8<-- [end:stateless]


# --8<-- [start:stateful]
class LeastConnections(RoundRobin):
    """The server with the fewest requests in flight (ties: the earliest in the list)."""

    def __init__(self, servers: Sequence[str]) -> None:
        super().__init__(servers)
        self.in_flight = dict.fromkeys(self.servers, 0)

    def pick(self, key: str = "") -> str:
        server = min(self.servers, key=lambda s: self.in_flight[s])
        self.in_flight[server] += 1
        return server

    def release(self, server: str) -> None:
        if self.in_flight[server] <= 0:
            raise ValueError(f"release({server!r}) without a request in flight")
        self.in_flight[server] -= 1


class LeastResponseTime(LeastConnections):
    """The lowest (average response time x (requests in flight + 1)).

    The average is an exponentially weighted moving average, so old measurements fade. A request
    still running counts as at least as slow as it has been so far, so an unmeasured server
    that is stuck on a long request does not look fast. Requests to one server are assumed to
    finish in the order they started (a real balancer would time each request by its own id).
    """

    def __init__(
        self, servers: Sequence[str], clock: Callable[[], float], smoothing: float = 0.5
    ) -> None:
        super().__init__(servers)
        self.clock = clock
        self.smoothing = smoothing
        self.average = dict.fromkeys(self.servers, 0.0)
        self.started: dict[str, deque[float]] = {s: deque() for s in self.servers}

    def expected(self, server: str) -> float:
        running = self.clock() - self.started[server][0] if self.started[server] else 0.0
        return max(self.average[server], running) * (self.in_flight[server] + 1)

    def pick(self, key: str = "") -> str:
        server = min(self.servers, key=lambda s: (self.expected(s), self.in_flight[s]))
        self.in_flight[server] += 1
        self.started[server].append(self.clock())
        return server

    def release(self, server: str) -> None:
        super().release(server)
        elapsed = self.clock() - self.started[server].popleft()
        old = self.average[server]
        self.average[server] = elapsed if old == 0 else old + self.smoothing * (elapsed - old)
# --8<-- [end:stateful]


# --8<-- [start:p2c]
class PowerOfTwoChoices(LeastConnections):
    """Two different servers at random, then the one with fewer requests in flight (ties: the
    first drawn). It needs the counts of only two servers, and a fleet of balancers whose
    counts are out of date does not all pile onto the same "least loaded" server."""

    def __init__(self, servers: Sequence[str], seed: int = 0) -> None:
        super().__init__(servers)
        self.rng = random.Random(seed)

    def pick(self, key: str = "") -> str:
        drawn = self.rng.sample(self.servers, min(2, len(self.servers)))
        server = min(drawn, key=lambda s: self.in_flight[s])  # release() is LeastConnections'
        self.in_flight[server] += 1
        return server
# --8<-- [end:p2c]


# --8<-- [start:ring]
class HashRing:
    """Consistent hashing: servers and keys hash onto one circle; a key belongs to the first
    server point clockwise from it. Each server owns many points (virtual nodes), so the arcs
    even out, and adding or removing one server moves only the keys of its own arcs: ~1/N."""

    def __init__(self, servers: Sequence[str] = (), vnodes: int = 100) -> None:
        self.vnodes = vnodes
        self.points: list[tuple[int, str]] = []  # sorted (position on the circle, server)
        for server in servers:
            self.add(server)

    def add(self, server: str) -> None:
        if any(owner == server for _, owner in self.points):
            raise ValueError(f"{server!r} is already on the ring")
        for replica in range(self.vnodes):
            bisect.insort(self.points, (stable_hash(f"{server}#{replica}"), server))

    def remove(self, server: str) -> None:
        self.points = [(point, owner) for point, owner in self.points if owner != server]

    def pick(self, key: str = "") -> str:
        if not self.points:
            raise LookupError("the ring has no servers")
        index = bisect.bisect(self.points, (stable_hash(key), ""))
        return self.points[index % len(self.points)][1]  # past the last point: wrap around

    def release(self, server: str) -> None:
        """Nothing to do: the key alone decides."""
# --8<-- [end:ring]


SERVERS = ["b1", "b2", "b3"]
SLOWNESS = {"b1": 1, "b2": 1, "b3": 3}  # b3 takes three times as long for the same work
# (client address, units of work): request 1 is long, the rest are short; three clients
REQUESTS = [(f"10.0.0.{4 + i % 3}", 6 if i == 0 else 1) for i in range(12)]


# --8<-- [start:simulate]
def simulate(make: Callable[[Callable[[], float]], object]) -> tuple[list[str], float]:
    """Send REQUESTS one per tick of a simulated clock. Each server works on one request at a
    time, in arrival order, taking work x slowness ticks, so a request may wait in a queue.
    Returns the picks and the mean response time (waiting + working) in ticks."""
    now = 0.0
    balancer = make(lambda: now)
    free_at = dict.fromkeys(SLOWNESS, 0.0)  # when each server finishes its queue
    running: list[tuple[float, str]] = []  # (finish time, server) of requests not yet done
    picks, total = [], 0.0
    for tick, (client, work) in enumerate(REQUESTS):
        for finish, server in sorted(running):
            if finish <= tick:
                now = finish  # the balancer sees each response at the moment it ends
                balancer.release(server)
                running.remove((finish, server))
        now = float(tick)
        server = balancer.pick(client)
        finish = max(now, free_at[server]) + work * SLOWNESS[server]
        free_at[server] = finish
        running.append((finish, server))
        picks.append(server)
        total += finish - now
    return picks, total / len(REQUESTS)
# --8<-- [end:simulate]


def moved(before: Callable[[str], str], after: Callable[[str], str], keys: list[str]) -> float:
    return sum(before(key) != after(key) for key in keys) / len(keys)


def demo() -> None:
    algorithms = {
        "round-robin": lambda clock: RoundRobin(SERVERS),
        "weighted 2:2:1": lambda clock: WeightedRoundRobin({"b1": 2, "b2": 2, "b3": 1}),
        "random (seed 7)": lambda clock: Random(SERVERS, seed=7),
        "least connections": lambda clock: LeastConnections(SERVERS),
        "least resp. time": lambda clock: LeastResponseTime(SERVERS, clock),
        "2 choices (seed 7)": lambda clock: PowerOfTwoChoices(SERVERS, seed=7),
        "IP hash": lambda clock: IPHash(SERVERS),
        "hash ring": lambda clock: HashRing(SERVERS),
    }
    print("12 requests, one per tick, from clients " + ", ".join(sorted({c for c, _ in REQUESTS})))
    print("request 1 needs 6 units of work, the others 1; b3 is 3x slower than b1 and b2")
    print(f"{'algorithm':<18} {'picks, in order':<47} mean response")
    for name, make in algorithms.items():
        picks, mean = simulate(make)
        print(f"{name:<18} {' '.join(picks):<47} {mean:.2f} ticks")

    keys = [f"user-{n}" for n in range(10_000)]
    four = [f"s{n}" for n in range(1, 5)]
    five = [*four, "s5"]
    modulo = moved(
        lambda k: four[stable_hash(k) % 4], lambda k: five[stable_hash(k) % 5], keys
    )
    ring = HashRing(four)
    before = {key: ring.pick(key) for key in keys}
    ring.add("s5")
    on_ring = moved(before.__getitem__, ring.pick, keys)
    print(f"\n{len(keys):,} keys on 4 servers, then a 5th joins: keys that change server")
    print(f"  hash % N              {modulo:6.1%}")
    print(f"  ring, 100 vnodes each {on_ring:6.1%}   (ideal: 1/5 = 20.0%)")


if __name__ == "__main__":
    demo()
