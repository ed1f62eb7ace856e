import socket
import struct

import pytest

from tests.support import load_snippet

enc = load_snippet("fundamentals/encapsulation.py")

SRC, DST = "192.168.0.10", "192.168.0.20"


def ones_complement_sum(data: bytes) -> int:
    """An independent formula for the RFC 1071 sum: end-around carry is arithmetic mod 0xFFFF."""
    data += b"\x00" * (len(data) % 2)
    total = sum(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
    return 0 if total == 0 else (total - 1) % 0xFFFF + 1


def test_checksum_agrees_with_an_independent_formula():
    for data in [b"", b"\x01", b"\xff\xff", b"\xff\xff\x00\x01", bytes(range(256)) * 3]:
        assert enc.internet_checksum(data) == ~ones_complement_sum(data) & 0xFFFF


def test_udp_checksum_covers_the_pseudo_header():
    datagram = enc.udp_datagram(SRC, DST, 1234, 53, b"query")
    assert len(datagram) == 8 + 5
    assert struct.unpack("!HHH", datagram[:6]) == (1234, 53, 13)
    pseudo = socket.inet_aton(SRC) + socket.inet_aton(DST) + struct.pack("!BBH", 0, 17, 13)
    assert ones_complement_sum(pseudo + datagram) == 0xFFFF
    wrong_address = socket.inet_aton(SRC) + socket.inet_aton("192.168.0.21") + pseudo[8:]
    assert ones_complement_sum(wrong_address + datagram) != 0xFFFF


def test_layers_nest_and_unwrap():
    datagram = enc.udp_datagram(SRC, DST, 5000, 6000, b"payload")
    packet = enc.ipv4_packet(SRC, DST, enc.PROTOCOL_UDP, datagram)
    frame = enc.ethernet_frame("02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff", enc.ETHERTYPE_IPV4, packet)
    assert frame[:6] == b"\xff" * 6 and frame.endswith(b"payload")
    assert len(frame) == 14 + 20 + 8 + 7
    assert enc.decapsulate(frame) == {
        "ethertype": 0x0800,
        "source": (SRC, 5000),
        "destination": (DST, 6000),
        "payload": b"payload",
    }


def frame_for(payload: bytes) -> bytearray:
    packet = enc.ipv4_packet(SRC, DST, 17, enc.udp_datagram(SRC, DST, 1, 2, payload))
    return bytearray(enc.ethernet_frame("02:00:00:00:00:01", "02:00:00:00:00:02", 0x0800, packet))


@pytest.mark.parametrize(("offset", "message"), [(14 + 8, "IPv4 header"), (14 + 20 + 8, "UDP")])
def test_corruption_in_either_layer_is_detected(offset, message):
    frame = frame_for(b"data")
    frame[offset] ^= 0x40
    with pytest.raises(ValueError, match=f"{message}.*checksum mismatch"):
        enc.decapsulate(bytes(frame))


def test_a_zero_checksum_is_sent_as_ffff():
    # RFC 768: a computed checksum of zero is transmitted as all ones (zero means "no checksum").
    # Source port 32367 to port 0 with no payload is a datagram whose checksum computes to zero.
    datagram = enc.udp_datagram(SRC, DST, 32367, 0, b"")
    assert datagram[6:8] == b"\xff\xff"


def test_the_kernel_delivers_only_the_payload():
    data, host = enc.through_the_kernel(b"\x00binary\xff")
    assert (data, host) == (b"\x00binary\xff", "127.0.0.1")
