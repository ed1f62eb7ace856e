import ipaddress

import pytest

from tests.support import load_snippet

subnets = load_snippet("fundamentals/subnets.py")


@pytest.mark.parametrize(
    ("cidr", "expected"),
    [
        ("192.168.1.0/24", "mask 255.255.255.0, 256 addresses, 254 usable hosts"),
        ("10.0.0.0/8", "mask 255.0.0.0, 16777216 addresses, 16777214 usable hosts"),
        ("10.0.0.0/31", "2 addresses, 2 usable hosts"),  # RFC 3021 point-to-point links
        ("10.0.0.7/32", "1 addresses, 1 usable hosts"),
    ],
)
def test_describe(cidr, expected):
    assert expected in subnets.describe(cidr)


def test_host_bits_set_is_an_error():
    with pytest.raises(ValueError, match="has host bits set"):
        subnets.describe("192.168.1.1/24")


def test_split_covers_the_network_exactly():
    parts = subnets.split("10.20.0.0/16", 20)
    assert len(parts) == 16
    assert parts[0] == ipaddress.ip_network("10.20.0.0/20")
    assert sum(part.num_addresses for part in parts) == 2**16
    assert list(ipaddress.collapse_addresses(parts)) == [ipaddress.ip_network("10.20.0.0/16")]


@pytest.fixture
def table():
    return subnets.RoutingTable({
        "0.0.0.0/0": "default",
        "10.0.0.0/8": "eight",
        "10.20.0.0/16": "sixteen",
        "10.20.64.0/18": "eighteen",
    })


@pytest.mark.parametrize(
    ("address", "hop"),
    [
        ("10.20.64.0", "eighteen"),
        ("10.20.127.255", "eighteen"),
        ("10.20.128.0", "sixteen"),
        ("10.21.0.0", "eight"),
        ("11.0.0.0", "default"),
    ],
)
def test_longest_prefix_wins(table, address, hop):
    assert table.lookup(address).next_hop == hop


def test_no_default_route_means_no_route():
    table = subnets.RoutingTable({"10.0.0.0/8": "eight"})
    with pytest.raises(LookupError, match="no route to 192.0.2.1"):
        table.lookup("192.0.2.1")


def test_malformed_address_is_rejected(table):
    with pytest.raises(ValueError):
        table.lookup("10.20.300.1")
