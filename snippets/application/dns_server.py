# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "dnspython~=2.9",
# ]
# ///
"""A tiny authoritative DNS server over UDP and TCP, and a client that falls back to TCP.

Shows why DNS runs over UDP (one datagram out, one back: no handshake) and when it needs TCP:
an answer larger than 512 bytes (RFC 1035 section 4.2.1; more with EDNS, RFC 6891) does not fit,
so the server sends what fits with the TC (truncated) flag set, and the client asks again over
TCP, where each message is prefixed with its 2-byte length. The server answers from a zone held
in a dictionary, with the AA (authoritative) flag, NXDOMAIN for names it does not have, REFUSED
for names outside its zone, FORMERR for bytes that are not a DNS query and BADVERS for an EDNS
version it does not speak. It never answers a message that is itself a response (the QR bit
set): a reply to a reply lets one spoofed datagram, or two servers, bounce answers for ever.

Run: python dns_server.py                      (demo: server and client on 127.0.0.1)
     python dns_server.py server --port 5353   (serve UDP and TCP until Ctrl-C)
     python dns_server.py client --port 5353 big.example.test
(messages are built and parsed with dnspython, the library a practitioner uses)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import struct
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

ORIGIN = "example.test."
# --8<-- [start:zone]
ZONE: dict[tuple[str, str], tuple[int, list[str]]] = {  # (name, type) -> (TTL, values)
    ("example.test.", "NS"): (86400, ["ns1.example.test."]),
    ("ns1.example.test.", "A"): (86400, ["127.0.0.1"]),
    ("www.example.test.", "A"): (300, ["192.0.2.10", "192.0.2.11"]),
    ("api.example.test.", "CNAME"): (60, ["www.example.test."]),
    # 40 addresses: 34 bytes of header and question + 40 * 16 = 674, more than UDP's 512
    ("big.example.test.", "A"): (60, [f"198.51.100.{i}" for i in range(1, 41)]),
}
# --8<-- [end:zone]
UDP_LIMIT = 512  # RFC 1035 4.2.1: a UDP message is at most 512 bytes, unless EDNS says more
TIMEOUT = 2.0


# --8<-- [start:answer]
def answer(query_wire: bytes, transport: str) -> bytes | None:
    """The response to one query: bytes to send back, or None to drop what is not a DNS query."""
    # --8<-- [start:guard]
    if len(query_wire) < 12:
        return None  # not even a header: no id to answer to
    if query_wire[2] & 0x80:
        return None  # QR set: a response, never answered (or two servers answer each other)
    # --8<-- [end:guard]
    try:
        query = dns.message.from_wire(query_wire)
        if len(query.question) != 1:
            raise dns.exception.FormError("not a query with one question")
    except dns.exception.DNSException:
        # FORMERR, echoing the id and RD, with no question: we could not read one
        flags = 0x8000 | (query_wire[2] & 0x01) << 8 | dns.rcode.FORMERR
        return struct.pack("!HHHHHH", struct.unpack_from("!H", query_wire)[0], flags, 0, 0, 0, 0)
    response = dns.message.make_response(query)  # with EDNS version 0 if the query had EDNS
    if query.edns > 0:  # RFC 6891 6.1.3: a version we do not implement gets BADVERS
        response.set_rcode(dns.rcode.BADVERS)
        return response.to_wire()
    question = query.question[0]
    name, kind = question.name.to_text().lower(), dns.rdatatype.to_text(question.rdtype)
    if not name.endswith(ORIGIN):
        response.set_rcode(dns.rcode.REFUSED)  # not our zone, and we do not recurse
        return response.to_wire()
    response.flags |= dns.flags.AA  # we are the authority for this zone
    if (name, "CNAME") in ZONE and kind != "CNAME":  # an alias: give it, then what it names
        ttl, (target,) = ZONE[name, "CNAME"]
        response.answer.append(dns.rrset.from_text(name, ttl, "IN", "CNAME", target))
        name = target  # RFC 1034 4.3.2: restart the lookup at the canonical name
    if (name, kind) in ZONE:
        ttl, values = ZONE[name, kind]
        response.answer.append(dns.rrset.from_text(name, ttl, "IN", kind, *values))
    elif not any(zone_name == name for zone_name, _ in ZONE):
        response.set_rcode(dns.rcode.NXDOMAIN)  # else NOERROR with no answer ("NODATA")
    limit = max(UDP_LIMIT, query.payload) if transport == "udp" else 65535
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:  # send the question only, and say "truncated: ask over TCP"
        truncated = dns.message.make_response(query)
        truncated.flags |= dns.flags.AA | dns.flags.TC
        return truncated.to_wire()
# --8<-- [end:answer]


class UDPServer(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        response = answer(data, "udp")
        if response is not None:
            self.transport.sendto(response, addr)


async def handle_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """RFC 7766: a TCP connection carries messages, each after its 2-byte length."""
    try:
        while True:
            async with asyncio.timeout(TIMEOUT * 5):  # an idle or stalled client is cut off
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                message = await reader.readexactly(length)
            response = answer(message, "tcp")
            if response is None:
                break  # garbage: close rather than guess where the next message starts
            writer.write(struct.pack("!H", len(response)) + response)
            await writer.drain()
    except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
        pass  # the client left or stalled: drop the connection, others are not affected
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@dataclass
class Servers:
    port: int
    udp: asyncio.DatagramTransport
    tcp: asyncio.Server

    async def close(self) -> None:
        self.udp.close()
        self.tcp.close()
        await self.tcp.wait_closed()


async def start_servers(host: str = "127.0.0.1", port: int = 0) -> Servers:
    """UDP and TCP on the same port number (DNS uses port 53 for both)."""
    loop = asyncio.get_running_loop()
    for _ in range(20):  # with port 0, the OS picks a TCP port; that number may be taken for UDP
        tcp = await asyncio.start_server(handle_tcp, host, port)
        chosen = tcp.sockets[0].getsockname()[1]
        try:
            udp, _ = await loop.create_datagram_endpoint(UDPServer, local_addr=(host, chosen))
        except OSError:
            tcp.close()
            await tcp.wait_closed()
            if port:
                raise
            continue
        return Servers(chosen, udp, tcp)
    raise OSError("no port free for both UDP and TCP")


# --8<-- [start:client]
class ClientProtocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.replies.put_nowait(data)


async def query_udp(query: dns.message.Message, host: str, port: int) -> dns.message.Message:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        ClientProtocol, remote_addr=(host, port)
    )
    try:
        transport.sendto(query.to_wire())
        async with asyncio.timeout(TIMEOUT):  # UDP may lose the datagram: never wait forever
            while True:
                reply = dns.message.from_wire(await protocol.replies.get())
                if query.is_response(reply):  # right id and question: not a stray or spoof
                    return reply
    finally:
        transport.close()


async def query_tcp(query: dns.message.Message, host: str, port: int) -> dns.message.Message:
    async with asyncio.timeout(TIMEOUT):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            wire = query.to_wire()
            writer.write(struct.pack("!H", len(wire)) + wire)
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            return dns.message.from_wire(await reader.readexactly(length))
        finally:
            writer.close()
            await writer.wait_closed()


async def resolve(
    name: str, host: str, port: int, kind: str = "A"
) -> tuple[str, dns.message.Message]:
    """Ask over UDP; if the answer came back truncated (TC), ask again over TCP."""
    query = dns.message.make_query(name, kind)
    reply = await query_udp(query, host, port)
    if reply.flags & dns.flags.TC:
        return "udp, truncated, then tcp", await query_tcp(query, host, port)
    return "udp", reply
# --8<-- [end:client]


async def send_raw_udp(data: bytes, host: str, port: int, wait: float = 0.5) -> bytes | None:
    """Send any bytes as a datagram; the reply, or None if none came within ``wait`` seconds."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        ClientProtocol, remote_addr=(host, port)
    )
    try:
        transport.sendto(data)
        async with asyncio.timeout(wait):
            return await protocol.replies.get()
    except TimeoutError:
        return None
    finally:
        transport.close()


def address_order(text: str) -> list[tuple[int, int, str]]:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in text.split(".")]


def describe(reply: dns.message.Message) -> str:
    flags = dns.flags.to_text(reply.flags)
    records = [  # in each record set sorted: servers may shuffle them (round-robin DNS)
        text
        for rrset in reply.answer
        for text in sorted((rdata.to_text() for rdata in rrset), key=address_order)
    ]
    shown = ", ".join(records[:3]) + (f", ... ({len(records)} in all)" if len(records) > 3 else "")
    return f"{dns.rcode.to_text(reply.rcode())} [{flags}] {shown or '(no answer)'}"


async def demo() -> None:
    servers = await start_servers()
    print("authoritative server for example.test on UDP and TCP, a port the OS chose")
    try:
        for name, kind in [
            ("www.example.test", "A"),
            ("api.example.test", "A"),
            ("www.example.test", "AAAA"),
            ("nope.example.test", "A"),
            ("example.com", "A"),
            ("big.example.test", "A"),
        ]:
            how, reply = await resolve(name, "127.0.0.1", servers.port, kind)
            print(f"{name} {kind} via {how}:")
            print(f"  {describe(reply)}")
        # What the bare UDP answer for "big" looked like, before the retry:
        query = dns.message.make_query("big.example.test", "A")
        udp_reply = await query_udp(query, "127.0.0.1", servers.port)
        tcp_reply = await query_tcp(query, "127.0.0.1", servers.port)
        print(f"big over UDP: {len(udp_reply.to_wire())} bytes, TC set, "
              f"{len(udp_reply.answer)} answers; over TCP: {len(tcp_reply.to_wire())} bytes")
        # Bad input: bytes that are not a query get FORMERR (or nothing); the server keeps going.
        loop_query = b"\xbe\xef\x01\x00\x00\x01" + b"\x00" * 6 + b"\xc0\x0c\x00\x01\x00\x01"
        cases = [("a name that points to itself", loop_query, TIMEOUT), ("3 bytes", b"abc", 0.5)]
        for what, data, wait in cases:
            reply = await send_raw_udp(data, "127.0.0.1", servers.port, wait)
            if reply is None:
                print(f"{what}: no reply (nothing to answer to)")
            else:
                print(f"{what}: rcode {dns.rcode.to_text(reply[3] & 0x0F)}, "
                      f"id 0x{reply[:2].hex()} echoed")
        how, reply = await resolve("www.example.test", "127.0.0.1", servers.port)
        print(f"and the next client is served: {describe(reply)}")
    finally:
        await servers.close()


async def serve(host: str, port: int) -> None:
    servers = await start_servers(host, port)
    print(f"serving {ORIGIN} on udp+tcp {host}:{servers.port}, Ctrl-C to stop")
    try:
        await asyncio.Event().wait()
    finally:
        await servers.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["demo", "server", "client"], default="demo")
    parser.add_argument("name", nargs="?", default="big.example.test")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5353)
    parser.add_argument("--type", default="A")
    args = parser.parse_args()
    if args.mode == "server":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args.host, args.port))
    elif args.mode == "client":
        how, reply = asyncio.run(resolve(args.name, args.host, args.port, args.type))
        print(f"{args.name} {args.type} via {how}: {describe(reply)}")
    else:
        asyncio.run(demo())


if __name__ == "__main__":
    main()
