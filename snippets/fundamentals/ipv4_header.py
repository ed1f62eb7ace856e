# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""Build and parse an IPv4 header (RFC 791) with the Internet checksum (RFC 1071).

Shows what the network layer adds to every packet: 20 bytes that carry the source and destination
addresses, the protocol of the payload (6 = TCP, 17 = UDP), a time to live, fragmentation fields
and a checksum over the header itself. Parsing checks every rule a receiver checks, and rejects a
truncated or malformed header with a clear error.

Run: python ipv4_header.py
(no network needed: it builds a header, parses it back and shows what a receiver rejects)
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass


# --8<-- [start:checksum]
def internet_checksum(data: bytes) -> int:
    """RFC 1071: the one's complement of the one's complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\x00"  # an odd byte is padded with zero for the sum only
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)  # fold the carries back in (end-around carry)
    return ~total & 0xFFFF
# --8<-- [end:checksum]


class HeaderError(ValueError):
    """The bytes are not a valid IPv4 header; the message says which rule they break."""


PROTOCOL_NAMES = {1: "ICMP", 6: "TCP", 17: "UDP"}
MIN_HEADER = 20


# --8<-- [start:header]
@dataclass(frozen=True)
class IPv4Header:
    source: ipaddress.IPv4Address
    destination: ipaddress.IPv4Address
    protocol: int  # what the payload is: 6 TCP, 17 UDP (the IANA protocol numbers)
    total_length: int  # header + payload, in bytes
    ttl: int = 64  # decremented by every router; the packet is dropped at 0
    identification: int = 0  # groups the fragments of one datagram
    dont_fragment: bool = True
    more_fragments: bool = False
    fragment_offset: int = 0  # in units of 8 bytes
    dscp: int = 0
    ecn: int = 0
    options: bytes = b""

    @property
    def header_length(self) -> int:
        return MIN_HEADER + len(self.options)

    def to_bytes(self) -> bytes:
        if len(self.options) % 4 or len(self.options) > 40:
            raise HeaderError("options must be whole 32-bit words, at most 40 bytes")
        flags = (self.dont_fragment << 1) | self.more_fragments
        fields = struct.pack(
            "!BBHHHBBH4s4s",
            (4 << 4) | (self.header_length // 4),  # version 4, header length in 32-bit words
            (self.dscp << 2) | self.ecn,
            self.total_length,
            self.identification,
            (flags << 13) | self.fragment_offset,
            self.ttl,
            self.protocol,
            0,  # the checksum is computed with this field set to zero...
            self.source.packed,
            self.destination.packed,
        ) + self.options
        checksum = internet_checksum(fields)
        return fields[:10] + struct.pack("!H", checksum) + fields[12:]  # ...then written in

    @classmethod
    def parse(cls, data: bytes) -> IPv4Header:
        if len(data) < MIN_HEADER:
            raise HeaderError(f"truncated: {len(data)} bytes, an IPv4 header has at least 20")
        version, ihl = data[0] >> 4, data[0] & 0x0F
        if version != 4:
            raise HeaderError(f"version is {version}, not 4")
        if ihl < 5:
            raise HeaderError(f"header length field is {ihl} words, the minimum is 5")
        if len(data) < ihl * 4:
            raise HeaderError(f"truncated: header says {ihl * 4} bytes, only {len(data)} given")
        header = data[: ihl * 4]
        if internet_checksum(header) != 0:  # a correct header sums to 0xFFFF, so this is 0
            raise HeaderError("checksum mismatch: the header was corrupted")
        (tos, total_length, identification, flags_fragment, ttl, protocol) = struct.unpack(
            "!xBHHHBB", header[:10]
        )
        if total_length < ihl * 4:
            raise HeaderError(f"total length {total_length} is shorter than the header")
        if flags_fragment & 0x8000:
            raise HeaderError("the reserved flag bit is set")
        return cls(
            source=ipaddress.IPv4Address(header[12:16]),
            destination=ipaddress.IPv4Address(header[16:20]),
            protocol=protocol,
            total_length=total_length,
            ttl=ttl,
            identification=identification,
            dont_fragment=bool(flags_fragment & 0x4000),
            more_fragments=bool(flags_fragment & 0x2000),
            fragment_offset=flags_fragment & 0x1FFF,
            dscp=tos >> 2,
            ecn=tos & 0x03,
            options=header[20:],
        )
# --8<-- [end:header]


def hexdump(data: bytes) -> str:
    return " ".join(data[i : i + 2].hex() for i in range(0, len(data), 2))


def demo() -> None:
    # The same header as the worked example in Wikipedia's "Internet checksum" article:
    # 115 bytes of UDP from 192.168.0.1 to 192.168.0.199, checksum 0xb861.
    header = IPv4Header(
        source=ipaddress.IPv4Address("192.168.0.1"),
        destination=ipaddress.IPv4Address("192.168.0.199"),
        protocol=17,
        total_length=115,
    )
    wire = header.to_bytes()
    print(f"built    {len(wire)} bytes: {hexdump(wire)}")
    print(f"checksum 0x{int.from_bytes(wire[10:12], 'big'):04x}")

    parsed = IPv4Header.parse(wire)
    print(f"parsed   {parsed.source} -> {parsed.destination}, "
          f"{PROTOCOL_NAMES[parsed.protocol]}, ttl {parsed.ttl}, {parsed.total_length} bytes, "
          f"don't fragment={parsed.dont_fragment}")
    print(f"same     {parsed == header}")

    print("what a receiver rejects:")
    bad_inputs = {
        "10 bytes": wire[:10],
        "one bit flipped": wire[:8] + bytes([wire[8] ^ 0x01]) + wire[9:],
        "version 6": bytes([0x65]) + wire[1:],
        "length field 4": bytes([0x44]) + wire[1:],
    }
    for name, data in bad_inputs.items():
        try:
            IPv4Header.parse(data)
        except HeaderError as error:
            print(f"  {name:<16} {error}")


if __name__ == "__main__":
    demo()
