# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""Subnets, CIDR and how a router picks a route, with the standard library's ``ipaddress``.

Shows what a prefix like 10.20.0.0/16 means (a network part and a host part), how many hosts a
subnet holds, how a network is split into smaller subnets, which ranges are private (RFC 1918),
and longest-prefix match: the rule every IP router uses to choose where a packet goes next.

Run: python subnets.py
(no network needed: it prints the arithmetic and a routing decision for a few addresses)
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPv4Network = ipaddress.IPv4Network
IPv4Address = ipaddress.IPv4Address


def describe(cidr: str) -> str:
    network = ipaddress.ip_network(cidr)
    hosts = max(network.num_addresses - 2, 0) if network.prefixlen < 31 else network.num_addresses
    return (
        f"{network}: mask {network.netmask}, {network.num_addresses} addresses, "
        f"{hosts} usable hosts ({network[0]} is the network, {network[-1]} the broadcast)"
    )


def split(cidr: str, new_prefix: int) -> list[IPv4Network]:
    """Cut a network into equal subnets with a longer prefix (one subnet per team, zone...)."""
    return list(ipaddress.ip_network(cidr).subnets(new_prefix=new_prefix))


# --8<-- [start:routing]
@dataclass(frozen=True)
class Route:
    network: IPv4Network
    next_hop: str


class RoutingTable:
    """Longest-prefix match: of all routes whose network contains the address, the most specific
    (longest prefix) wins; 0.0.0.0/0, the default route, matches everything and wins last."""

    def __init__(self, routes: dict[str, str]) -> None:
        self.routes = [Route(ipaddress.IPv4Network(cidr), hop) for cidr, hop in routes.items()]

    def lookup(self, address: str) -> Route:
        destination = IPv4Address(address)
        matches = [route for route in self.routes if destination in route.network]
        if not matches:
            raise LookupError(f"no route to {destination}")
        return max(matches, key=lambda route: route.network.prefixlen)
# --8<-- [end:routing]


def demo() -> None:
    print(describe("10.20.0.0/16"))
    print(describe("192.168.1.0/24"))
    print(describe("192.168.1.128/26"))

    subnets = split("10.20.0.0/16", 18)
    print("10.20.0.0/16 split into /18s:", ", ".join(str(net) for net in subnets))

    for address in ["10.20.64.7", "172.16.5.4", "192.168.1.10", "8.8.8.8", "127.0.0.1"]:
        ip = IPv4Address(address)
        kind = "loopback" if ip.is_loopback else "private" if ip.is_private else "public"
        print(f"{address:<13} is {kind}")

    table = RoutingTable({
        "0.0.0.0/0": "internet gateway",
        "10.0.0.0/8": "corporate VPN",
        "10.20.0.0/16": "data-centre link",
        "10.20.64.0/18": "rack switch 2",
    })
    print("routing decisions (longest prefix wins):")
    # 203.0.113.0/24 stands for "a host on the internet": a documentation range (RFC 5737)
    for address in ["10.20.64.7", "10.20.1.1", "10.99.0.1", "203.0.113.34"]:
        route = table.lookup(address)
        print(f"  {address:<14} matches {str(route.network):<14} -> {route.next_hop}")


if __name__ == "__main__":
    demo()
