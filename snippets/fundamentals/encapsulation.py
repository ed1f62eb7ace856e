# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""Encapsulation: each layer wraps the one above it in its own header (the OSI model in bytes).

Shows an application message becoming a UDP datagram (RFC 768), then an IPv4 packet (RFC 791),
then an Ethernet frame, with every header built by hand so the bytes of each layer are visible.
Then the same message goes through a real UDP socket on 127.0.0.1: the receiving application
gets only the message back, while the ports and addresses (read by the kernel from the UDP and IP
headers) arrive on the side.

Run: python encapsulation.py
"""

from __future__ import annotations

import socket
import struct

ETHERTYPE_IPV4 = 0x0800
PROTOCOL_UDP = 17


def internet_checksum(data: bytes) -> int:
    """RFC 1071 one's complement sum, as in ipv4_header.py (copied: snippets stand alone)."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


# --8<-- [start:layers]
def udp_datagram(src: str, dst: str, src_port: int, dst_port: int, payload: bytes) -> bytes:
    """Transport layer: 8 bytes of ports, length and checksum. No addresses in here."""
    length = 8 + len(payload)
    header = struct.pack("!HHHH", src_port, dst_port, length, 0)
    # The checksum also covers a "pseudo-header" of IP fields, so a datagram delivered to the
    # wrong address is caught, even though the addresses themselves live in the IP header.
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, length)
    checksum = internet_checksum(pseudo + header + payload) or 0xFFFF  # 0 means "none"
    return header[:6] + struct.pack("!H", checksum) + payload


def ipv4_packet(src: str, dst: str, protocol: int, payload: bytes, ttl: int = 64) -> bytes:
    """Network layer: 20 bytes with the addresses, what the payload is, and a TTL."""
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, ttl, protocol, 0,
        socket.inet_aton(src), socket.inet_aton(dst),
    )
    checksum = internet_checksum(header)
    return header[:10] + struct.pack("!H", checksum) + header[12:] + payload


def ethernet_frame(src_mac: str, dst_mac: str, ethertype: int, payload: bytes) -> bytes:
    """Data link layer: 14 bytes of hardware addresses and the type of the payload.
    (The network card adds the preamble before it and the 4-byte frame check after it.)"""
    mac = bytes.fromhex
    return mac(dst_mac.replace(":", "")) + mac(src_mac.replace(":", "")) + struct.pack(
        "!H", ethertype
    ) + payload
# --8<-- [end:layers]


def decapsulate(frame: bytes) -> dict[str, object]:
    """What each receiving layer reads before it hands the rest up the stack."""
    ethertype = struct.unpack("!H", frame[12:14])[0]
    packet = frame[14:]
    ihl = (packet[0] & 0x0F) * 4
    if internet_checksum(packet[:ihl]) != 0:
        raise ValueError("IPv4 header checksum mismatch")
    src, dst = socket.inet_ntoa(packet[12:16]), socket.inet_ntoa(packet[16:20])
    datagram = packet[ihl:]
    src_port, dst_port, length = struct.unpack("!HHH", datagram[:6])
    pseudo = packet[12:20] + struct.pack("!BBH", 0, packet[9], length)
    if internet_checksum(pseudo + datagram[:length]) != 0:
        raise ValueError("UDP checksum mismatch")
    return {
        "ethertype": ethertype,
        "source": (src, src_port),
        "destination": (dst, dst_port),
        "payload": datagram[8:length],
    }


def show(name: str, data: bytes, inner: int) -> None:
    header = data[: len(data) - inner]
    print(f"{name:<9} {len(header):>2} header bytes + {inner:>2} inside = {len(data):>2}: "
          f"{header.hex(' ')}")


def through_the_kernel(message: bytes) -> tuple[bytes, str]:
    """Send the message over a real UDP socket on loopback; return what the receiver got."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        receiver.bind(("127.0.0.1", 0))  # port 0: the OS picks a free port
        receiver.settimeout(2.0)
        sender.sendto(message, receiver.getsockname())
        data, (host, _port) = receiver.recvfrom(65535)
        return data, host


def demo() -> None:
    message = b"hello, layers"
    datagram = udp_datagram("192.168.0.10", "192.168.0.20", 49152, 9999, message)
    packet = ipv4_packet("192.168.0.10", "192.168.0.20", PROTOCOL_UDP, datagram)
    frame = ethernet_frame("02:00:00:00:00:0a", "02:00:00:00:00:14", ETHERTYPE_IPV4, packet)

    print(f"message   {len(message)} bytes: {message!r}")
    show("UDP", datagram, len(message))
    show("IPv4", packet, len(datagram))
    show("Ethernet", frame, len(packet))
    padded = max(len(frame), 60)  # Ethernet pads short frames to a 60-byte minimum
    wire = 8 + padded + 4 + 12  # preamble, frame, frame check, inter-frame gap
    print(f"on the wire: {len(frame)}-byte frame padded to {padded}, "
          f"+ preamble, frame check and gap = {wire} byte times to carry {len(message)}")

    received = decapsulate(frame)
    print(f"unwrapped: from {received['source']} to {received['destination']}, "
          f"payload {received['payload']!r}")

    data, host = through_the_kernel(message)
    print(f"real UDP socket on loopback: the application receives {data!r} from {host}")


if __name__ == "__main__":
    demo()
