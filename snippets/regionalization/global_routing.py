# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""How a user reaches the nearest region: GeoDNS, EDNS Client Subnet, latency-based DNS and
anycast, compared on a seeded simulation, then what each does when a region fails.

Users live in ten cities; five regions serve them. A round trip costs the great-circle floor
(light in fibre, about 200 km per millisecond) times a seeded factor per path, because cables
and peering never follow the great circle. Each user asks a DNS resolver: most use their ISP's,
in their own city; some use a public resolver whose nearest site may be a continent away, and
only some public resolvers pass on the user's subnet (EDNS Client Subnet, RFC 7871). The
policies: one region for everyone; GeoDNS by the resolver's location; GeoDNS with ECS;
latency-based DNS; anycast, where BGP carries each user to a site, usually the best one.
Then a region fails: DNS-based failover waits for health checks and for cached answers to
expire (the TTL, or longer where a resolver ignores it); anycast waits for BGP to converge after
the site withdraws its route; active-passive moves everyone and waits for the standby.
The program prints the latency each policy gives and the time each failover takes.

Run: python global_routing.py
     python global_routing.py --ttl 300 --fail eu-west --seed 3   (another scenario)
(no network needed: it computes everything from coordinates and a seeded random generator)
"""

from __future__ import annotations

import argparse
import functools
import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass

# Copied from regions.py (a program stands alone): the physics, and the same five regions.
FIBRE_KM_PER_MS = 200.0  # light in glass travels at about two thirds of c
EARTH_RADIUS_KM = 6371.0
REGIONS = {
    "us-east": (38.9, -77.4),  # northern Virginia
    "eu-west": (53.3, -6.3),  # Dublin
    "ap-southeast": (1.3, 103.8),  # Singapore
    "ap-sydney": (-33.8, 150.9),  # western Sydney
    "sa-east": (-23.4, -46.8),  # outside Sao Paulo
}
# Where the users are (latitude, longitude) and how many of every 100 live there.
CITIES = {
    "London": (51.5, -0.1, 14),
    "Frankfurt": (50.1, 8.7, 8),
    "New York": (40.7, -74.0, 14),
    "San Francisco": (37.8, -122.4, 10),
    "Sao Paulo": (-23.5, -46.6, 12),
    "Johannesburg": (-26.2, 28.0, 5),
    "Mumbai": (19.1, 72.9, 10),
    "Singapore": (1.35, 103.8, 6),
    "Tokyo": (35.7, 139.7, 12),
    "Sydney": (-33.9, 151.2, 9),
}
# A public resolver with few sites: each of its users reaches the nearest one.
PUBLIC_RESOLVER_SITES = {
    "Ashburn": (39.0, -77.5),
    "Frankfurt": (50.1, 8.7),
    "Singapore": (1.35, 103.8),
}
# Which resolver users ask, and how many of them (shares assumed, for illustration):
RESOLVERS = {"ISP": 0.70, "public, ECS": 0.15, "public, no ECS": 0.15}  # ISP: in their city
PATH_FACTOR = (1.2, 2.0)  # a real route's round trip is its floor times this much
ANYCAST_SUBOPTIMAL = 0.20  # BGP's choice is not the best site for this share of users
SEED = 7
USERS = 2000


# --8<-- [start:model]
def great_circle_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The shortest distance over the Earth's surface (haversine formula)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


@dataclass(frozen=True)
class Place:
    name: str
    where: tuple[float, float]


@functools.cache
def rtt_ms(place: Place, region: str) -> float:
    """The round trip from a place to a region: the straight-fibre floor times a factor drawn
    once per path (seeded by the path's name, so every run and every policy sees the same)."""
    floor = 2 * great_circle_km(place.where, REGIONS[region]) / FIBRE_KM_PER_MS
    return floor * random.Random(f"{place.name}>{region}").uniform(*PATH_FACTOR)


@dataclass(frozen=True)
class User:
    home: Place  # where the user is
    resolver: Place  # where the DNS resolver that asks on their behalf is
    kind: str  # which kind of resolver (a key of RESOLVERS)
    bgp_rank: int  # 0: BGP carries them to the best anycast site, 1: to the second best

    @property
    def sends_ecs(self) -> bool:  # does the resolver pass on the user's subnet (RFC 7871)?
        return self.kind == "public, ECS"


def make_users(n: int = USERS, seed: int = SEED) -> list[User]:
    rng = random.Random(seed)
    names = list(CITIES)
    weights = [CITIES[name][2] for name in names]
    users = []
    for city in rng.choices(names, weights, k=n):
        home = Place(city, CITIES[city][:2])
        kind = rng.choices(list(RESOLVERS), list(RESOLVERS.values()))[0]
        if kind.startswith("public"):
            site = min(PUBLIC_RESOLVER_SITES, key=lambda s: great_circle_km(
                home.where, PUBLIC_RESOLVER_SITES[s]))
            resolver = Place(site, PUBLIC_RESOLVER_SITES[site])
        else:
            resolver = home
        rank = int(rng.random() < ANYCAST_SUBOPTIMAL)
        users.append(User(home, resolver, kind, rank))
    return users
# --8<-- [end:model]


# --8<-- [start:policies]
Policy = Callable[[User, list[str]], str]  # a user and the healthy regions -> a region


def single_region(user: User, healthy: list[str]) -> str:
    return "us-east" if "us-east" in healthy else healthy[0]


def geodns(user: User, healthy: list[str]) -> str:
    """The authoritative server sees only the resolver's address: it answers with the region
    nearest to the resolver."""
    return min(healthy, key=lambda r: great_circle_km(user.resolver.where, REGIONS[r]))


def geodns_ecs(user: User, healthy: list[str]) -> str:
    """With ECS the query carries the user's /24, so the answer fits the user, not the
    resolver; without it, the same as plain GeoDNS."""
    seen = user.home if user.sends_ecs else user.resolver
    return min(healthy, key=lambda r: great_circle_km(seen.where, REGIONS[r]))


def latency_dns(user: User, healthy: list[str]) -> str:
    """The lowest measured round trip from where the query seems to come from (the user's
    subnet with ECS, the resolver otherwise), not the shortest distance."""
    seen = user.home if user.sends_ecs else user.resolver
    return min(healthy, key=lambda r: rtt_ms(seen, r))


def anycast(user: User, healthy: list[str]) -> str:
    """Every healthy region announces the same prefix; BGP picks the route with the shortest
    AS path (then the nearest exit), which is usually, not always, the best site."""
    ranked = sorted(healthy, key=lambda r: rtt_ms(user.home, r))
    return ranked[min(user.bgp_rank, len(ranked) - 1)]


POLICIES: dict[str, Policy] = {
    "one region (us-east)": single_region,
    "GeoDNS, resolver's place": geodns,
    "GeoDNS + ECS": geodns_ecs,
    "latency-based DNS + ECS": latency_dns,
    "anycast (BGP)": anycast,
}
# --8<-- [end:policies]


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile: the smallest value at or above p of the values."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def latency_table(users: list[User]) -> list[dict]:
    """Per policy: the median and p95 round trip, the mean for each kind of resolver, and
    the share of users sent somewhere else than their best region."""
    regions = list(REGIONS)
    rows = []
    best = [min(rtt_ms(user.home, r) for r in regions) for user in users]
    for name, policy in POLICIES.items():
        rtts = [rtt_ms(user.home, policy(user, regions)) for user in users]
        rows.append({
            "policy": name,
            "median": percentile(rtts, 50),
            "p95": percentile(rtts, 95),
            "by_kind": {kind: statistics.mean(rtt for user, rtt in zip(users, rtts, strict=True)
                                              if user.kind == kind) for kind in RESOLVERS},
            "off": 100 * sum(map(float.__gt__, rtts, best)) / len(users),
        })
    return rows


# --8<-- [start:failover]
HEALTH_CHECK_S, FAILURES_TO_MARK_DOWN = 10, 3  # a DNS service's health checks (Route 53's fast
DETECTED_S = HEALTH_CHECK_S * FAILURES_TO_MARK_DOWN  # option); the region is marked down then
TTL_VIOLATORS = 0.09  # share of resolvers that keep answers longer than the TTL (measured)
HELD_BY_VIOLATORS_S = 600  # how long they keep them: an assumption
WITHDRAWN_S = 10  # the failed site's own checks stop announcing its route: an assumption
BGP_CONVERGENCE_S = (5, 90)  # until a user's route moves to another site: an assumption
STANDBY_READY_S = 600  # active-passive: promote the standby's database, scale it out: assumed


def failover_times(users: list[User], failed: str, setup: str, ttl: int,
                   violators: float = TTL_VIOLATORS, seed: int = SEED) -> list[float]:
    """Seconds from the failure until each affected user reaches a healthy region.

    setup: "dns" (active-active behind latency-based DNS), "anycast" (active-active, one
    prefix everywhere) or "active-passive" (everyone on the primary `failed`, DNS failover)."""
    rng = random.Random(seed)
    regions = list(REGIONS)
    times = []
    for user in users:
        if setup == "anycast":
            if anycast(user, regions) == failed:
                times.append(WITHDRAWN_S + rng.uniform(*BGP_CONVERGENCE_S))
            continue
        if setup == "dns" and latency_dns(user, regions) != failed:
            continue  # active-active: users of the other regions never notice
        # the resolver refetches at the end of the answer's life in its cache: a random
        # moment of the TTL (or of what a violating resolver holds it for)
        held = max(ttl, HELD_BY_VIOLATORS_S) if rng.random() < violators else ttl
        arrived = DETECTED_S + rng.uniform(0, held)
        if setup == "active-passive":
            arrived = max(arrived, DETECTED_S + STANDBY_READY_S)
        times.append(arrived)
    return times
# --8<-- [end:failover]


def summary(times: list[float], users: int) -> str:
    moved = f"{100 * len(times) / users:.0f}%"
    return (f"{moved:>6} {percentile(times, 50):>7.0f} s {percentile(times, 95):>6.0f} s "
            f"{max(times):>6.0f} s")


def demo(ttl: int = 60, failed: str = "us-east", seed: int = SEED) -> None:
    users = make_users(seed=seed)
    isp, ecs, no_ecs = (f"{share:.0%}" for share in RESOLVERS.values())
    print(f"{len(users)} users in {len(CITIES)} cities, {len(REGIONS)} regions, seed {seed}")
    print(f"resolvers: {isp} their ISP's (in their city), {ecs} public sending ECS, "
          f"{no_ecs} public without")
    print(f"round trip = great-circle floor x a factor from {PATH_FACTOR[0]} to {PATH_FACTOR[1]}"
          " per path\n")
    print(f"{'':<26}{'all users':^17}{'mean by resolver':^27} not at")
    print(f"{'policy':<26}{'median':>8}{'p95':>9}{'ISP':>8}{'ECS':>9}{'no ECS':>9}  best region")
    for row in latency_table(users):
        kinds = "".join(f"{ms:>6.0f} ms" for ms in row["by_kind"].values())
        print(f"{row['policy']:<26}{row['median']:>5.0f} ms{row['p95']:>6.0f} ms {kinds}"
              f"{row['off']:>8.0f}%")

    print(f"\n{failed} fails at t = 0; health checks every {HEALTH_CHECK_S} s, "
          f"{FAILURES_TO_MARK_DOWN} failures: marked down at t = {DETECTED_S} s")
    print(f"{'setup':<40}{'moved':>6}{'median':>9}{'p95':>8}{'last':>8}")
    rows = [
        (f"DNS, TTL {ttl} s, every resolver honours it", "dns", ttl, 0.0),
        (f"DNS, TTL {ttl} s, {TTL_VIOLATORS:.0%} hold it {HELD_BY_VIOLATORS_S} s",
         "dns", ttl, TTL_VIOLATORS),
        (f"DNS, TTL {5 * ttl} s, same resolvers", "dns", 5 * ttl, TTL_VIOLATORS),
        ("anycast: route withdrawn, BGP converges", "anycast", ttl, 0.0),
        (f"active-passive: all on {failed}, TTL {ttl} s", "active-passive", ttl, TTL_VIOLATORS),
    ]
    for label, setup, row_ttl, violators in rows:
        times = failover_times(users, failed, setup, row_ttl, violators, seed)
        print(f"{label:<40}{summary(times, len(users))}")
    healthy = [region for region in REGIONS if region != failed]
    moved = [user for user in users if latency_dns(user, list(REGIONS)) == failed]
    before = percentile([rtt_ms(u.home, failed) for u in moved], 50)
    after = percentile([rtt_ms(u.home, latency_dns(u, healthy)) for u in moved], 50)
    print(f"the moved users' median round trip: {before:.0f} ms before, {after:.0f} ms after")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Reaching the nearest region, and failing over.")
    parser.add_argument("--ttl", type=int, default=60, help="the DNS answers' TTL, in seconds")
    parser.add_argument("--fail", default="us-east", choices=list(REGIONS),
                        help="the region that fails")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    if not 0 <= args.ttl <= 86_400:
        parser.error("--ttl must be between 0 and 86400 seconds")
    demo(args.ttl, args.fail, args.seed)


if __name__ == "__main__":
    main()
