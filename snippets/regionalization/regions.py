# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""Why distance is latency, and how regional partitioning keeps a user's data near the user.

Shows the floor the speed of light puts under a round trip between a user and a data centre
(light in optical fibre covers about 200 km per millisecond), what that floor costs a request
that needs several round trips (TCP + TLS 1.3 + HTTP), and a regional partitioning scheme:
each user has a home region chosen at sign-up, their data lives there (data locality), and
every request is routed to it, so only the rare cross-region read pays the long trip.

Run: python regions.py
(no network needed: it computes the figures from coordinates)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FIBRE_KM_PER_MS = 200.0  # light in glass travels at about two thirds of c
EARTH_RADIUS_KM = 6371.0

# Approximate coordinates (latitude, longitude) of a few cloud regions and of users' cities.
REGIONS = {
    "us-east": (38.9, -77.4),  # northern Virginia
    "eu-west": (53.3, -6.3),  # Dublin
    "ap-southeast": (1.3, 103.8),  # Singapore
    "ap-sydney": (-33.8, 150.9),  # western Sydney
    "sa-east": (-23.4, -46.8),  # outside Sao Paulo
}
CITIES = {
    "London": (51.5, -0.1),
    "New York": (40.7, -74.0),
    "Tokyo": (35.7, 139.7),
    "Sydney": (-33.9, 151.2),
    "Sao Paulo": (-23.5, -46.6),
}


# --8<-- [start:physics]
def great_circle_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The shortest distance over the Earth's surface (haversine formula)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def min_rtt_ms(km: float) -> float:
    """A lower bound: there and back in a straight fibre. Real routes are longer, and
    routers and queues add more, so measured round trips are often 1.5 to 2 times this."""
    return 2 * km / FIBRE_KM_PER_MS


# Round trips before the first byte of the response, on a new connection.
ROUND_TRIPS = {
    "TCP + TLS 1.3 + HTTP request": 3,
    "QUIC (HTTP/3) + request": 2,
    "reused connection": 1,
}
# --8<-- [end:physics]


def nearest_region(place: tuple[float, float]) -> str:
    return min(REGIONS, key=lambda region: great_circle_km(place, REGIONS[region]))


# --8<-- [start:partitioning]
@dataclass
class PartitionedStore:
    """Each user's data lives in one home region, fixed at sign-up (the partition key is the
    user id; the directory that maps ids to regions is small and replicated everywhere)."""

    directory: dict[str, str]  # user id -> home region
    data: dict[str, dict[str, str]]  # region -> {user id: profile}

    def sign_up(self, user: str, city: str, profile: str) -> str:
        home = nearest_region(CITIES[city])
        self.directory[user] = home
        self.data.setdefault(home, {})[user] = profile
        return home

    def read(self, user: str, from_city: str) -> tuple[str, str, float]:
        """Route the read to the user's home region; return region, profile and the floor RTT."""
        if user not in self.directory:
            raise KeyError(f"unknown user {user!r}")
        home = self.directory[user]
        rtt = min_rtt_ms(great_circle_km(CITIES[from_city], REGIONS[home]))
        return home, self.data[home][user], rtt
# --8<-- [end:partitioning]


def demo() -> None:
    print("Floor on the round trip from each city (light in fibre, straight line):")
    print(f"{'city':<10}{'to us-east':>12}{'nearest region':>24}")
    for city, place in CITIES.items():
        far = min_rtt_ms(great_circle_km(place, REGIONS["us-east"]))
        region = nearest_region(place)
        near = min_rtt_ms(great_circle_km(place, REGIONS[region]))
        print(f"{city:<10}{far:>9.0f} ms{region:>16}{near:>5.1f} ms")

    print("\nTime to first byte from Sydney, floor x round trips:")
    far = min_rtt_ms(great_circle_km(CITIES["Sydney"], REGIONS["us-east"]))
    near = min_rtt_ms(great_circle_km(CITIES["Sydney"], REGIONS["ap-sydney"]))
    for name, trips in ROUND_TRIPS.items():
        print(f"  {name:<30} us-east {trips * far:>5.0f} ms   local region {trips * near:>4.1f} ms")

    store = PartitionedStore(directory={}, data={})
    print()
    for user, city in [("ana", "Sao Paulo"), ("ben", "London"), ("chloe", "Sydney")]:
        print(f"sign-up: {user} in {city} -> home region {store.sign_up(user, city, user)}")
    for user, city in [("ben", "London"), ("chloe", "Sydney"), ("chloe", "London")]:
        home, _profile, rtt = store.read(user, city)
        print(f"read {user:<6} from {city:<7} -> {home:<10} floor RTT {rtt:>5.1f} ms")


if __name__ == "__main__":
    demo()
