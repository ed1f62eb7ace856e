# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""Reliable delivery over UDP, rebuilt by hand: stop-and-wait through a lossy relay.

Shows what TCP does for you, in its simplest form. A relay between sender and receiver drops
packets at random (seeded, so the loss is the same on every run). The sender numbers each message,
sends it and waits for an acknowledgement with that number; after a timeout it sends it again. The
receiver acknowledges everything, delivers each sequence number once and in order, and recognises
the duplicates that a lost acknowledgement causes. Garbage datagrams are counted and dropped.

Run: python stop_and_wait.py
(a demo on 127.0.0.1: eight messages through a relay that drops 25% of packets each way)

Or in two terminals (the server is a receiver behind a lossy relay listening on --port):
    python stop_and_wait.py server --port 9002 --loss 0.3
    python stop_and_wait.py client --port 9002 one two three
"""

from __future__ import annotations

import argparse
import asyncio
import random
import struct
from dataclasses import dataclass

Address = tuple[str, int]
RETRANSMIT_AFTER = 0.2  # seconds without an acknowledgement before sending again
MAX_ATTEMPTS = 20  # then give up: the path is down, not just lossy


# --8<-- [start:packet]
class PacketError(ValueError):
    """A datagram that is not a valid packet of this protocol."""


HEADER = struct.Struct("!BII")  # kind, session id, sequence number
DATA, ACK = 1, 2


@dataclass(frozen=True)
class Packet:
    kind: int
    session: int  # chosen at random by each sender, so a new run starts afresh at sequence 0
    seq: int
    payload: bytes = b""

    def encode(self) -> bytes:
        return HEADER.pack(self.kind, self.session, self.seq) + self.payload

    @classmethod
    def decode(cls, datagram: bytes) -> Packet:
        if len(datagram) < HEADER.size:
            raise PacketError(f"{len(datagram)} bytes: shorter than the {HEADER.size}-byte header")
        kind, session, seq = HEADER.unpack_from(datagram)
        if kind not in (DATA, ACK):
            raise PacketError(f"unknown packet kind {kind}")
        if kind == ACK and len(datagram) > HEADER.size:
            raise PacketError("an acknowledgement carries no payload")
        return cls(kind, session, seq, datagram[HEADER.size:])
# --8<-- [end:packet]


# --8<-- [start:relay]
class LossyRelay(asyncio.DatagramProtocol):
    """Forward datagrams between one sender and the receiver, dropping some of them."""

    def __init__(self, receiver: Address, loss: float, seed: int) -> None:
        self.receiver = receiver
        self.loss = loss
        self.random = random.Random(seed)  # seeded: the same packets are lost on every run
        self.sender: Address | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.forwarded = self.dropped = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Address) -> None:
        assert self.transport is not None
        if addr == self.receiver:
            destination = self.sender
        else:
            self.sender, destination = addr, self.receiver
        if destination is None or self.random.random() < self.loss:
            self.dropped += 1
            return
        self.forwarded += 1
        self.transport.sendto(data, destination)
# --8<-- [end:relay]


# --8<-- [start:receiver]
class Receiver(asyncio.DatagramProtocol):
    """Acknowledge every DATA packet; deliver each sequence number exactly once, in order."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.expected: dict[int, int] = {}  # per session: the next sequence number to deliver
        self.delivered: asyncio.Queue[bytes] = asyncio.Queue()
        self.duplicates = 0
        self.errors: list[str] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Address) -> None:
        assert self.transport is not None
        try:
            packet = Packet.decode(data)
        except PacketError as error:
            self.errors.append(str(error))  # garbage: drop it, the sender will retry
            return
        if packet.kind != DATA:
            self.errors.append("the receiver got an acknowledgement")
            return
        expected = self.expected.setdefault(packet.session, 0)
        if packet.seq == expected:
            self.delivered.put_nowait(packet.payload)
            self.expected[packet.session] = expected + 1
        elif packet.seq < expected:
            self.duplicates += 1  # our ACK was lost and the sender tried again
        else:
            self.errors.append(f"sequence {packet.seq} is ahead of {expected}")
            return  # impossible with stop-and-wait: do not acknowledge it
        ack = Packet(ACK, packet.session, packet.seq)
        self.transport.sendto(ack.encode(), addr)  # re-ACK duplicates, or the sender loops
# --8<-- [end:receiver]


# --8<-- [start:sender]
class DeliveryError(ConnectionError):
    """The message was not acknowledged after every attempt."""


@dataclass
class Sent:
    message: bytes
    attempts: int


class Sender(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.session = random.getrandbits(32)
        self.acks: asyncio.Queue[int] = asyncio.Queue()
        self.errors: list[str] = []

    def datagram_received(self, data: bytes, addr: Address) -> None:
        try:
            packet = Packet.decode(data)
        except PacketError as error:
            self.errors.append(str(error))
            return
        if packet.kind == ACK and packet.session == self.session:
            self.acks.put_nowait(packet.seq)


async def send_reliably(host: str, port: int, messages: list[bytes],
                        timeout: float = RETRANSMIT_AFTER,
                        max_attempts: int = MAX_ATTEMPTS) -> list[Sent]:
    """Send each message, one at a time, until its acknowledgement comes back."""
    loop = asyncio.get_running_loop()
    transport, sender = await loop.create_datagram_endpoint(Sender, remote_addr=(host, port))
    report = []
    try:
        for seq, message in enumerate(messages):
            for attempt in range(1, max_attempts + 1):
                transport.sendto(Packet(DATA, sender.session, seq, message).encode())
                try:
                    async with asyncio.timeout(timeout):
                        while await sender.acks.get() != seq:
                            pass  # a late ACK for an earlier message: ignore it
                    report.append(Sent(message, attempt))
                    break
                except TimeoutError:
                    continue  # lost on the way there, or its ACK lost on the way back
            else:
                raise DeliveryError(f"message {seq} unacknowledged after {max_attempts} attempts")
    finally:
        transport.close()
    return report
# --8<-- [end:sender]


async def start(protocol: asyncio.DatagramProtocol, host: str = "127.0.0.1",
                port: int = 0) -> asyncio.DatagramTransport:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: protocol, local_addr=(host, port))
    return transport


async def demo() -> None:
    receiver = Receiver()
    receiver_transport = await start(receiver)
    relay = LossyRelay(receiver_transport.get_extra_info("sockname"), loss=0.25, seed=7)
    relay_transport = await start(relay)
    relay_port = relay_transport.get_extra_info("sockname")[1]
    try:
        words = [b"one", b"two", b"three", b"four", b"five", b"six", b"seven", b"eight"]
        print("sender -> relay (drops 25% of packets each way, seed 7) -> receiver")
        report = await send_reliably("127.0.0.1", relay_port, words)
        for seq, sent in enumerate(report):
            print(f"  message {seq} {sent.message.decode():<6} acknowledged after "
                  f"{sent.attempts} attempt{'s' if sent.attempts > 1 else ''}")
        delivered = [receiver.delivered.get_nowait() for _ in range(receiver.delivered.qsize())]
        print(f"delivered once each, in order: {delivered == words}")
        print(f"relay dropped {relay.dropped} of {relay.dropped + relay.forwarded} packets; "
              f"the receiver saw {receiver.duplicates} duplicate(s) and acknowledged them again")

    finally:
        relay_transport.close()
        receiver_transport.close()


async def run_server(host: str, port: int, loss: float, seed: int) -> None:
    receiver = Receiver()
    receiver_transport = await start(receiver, host)
    relay = LossyRelay(receiver_transport.get_extra_info("sockname"), loss, seed)
    relay_transport = await start(relay, host, port)
    print(f"receiver behind a relay on {host}:{port} dropping {loss:.0%}; Ctrl-C stops")
    try:
        while True:
            print((await receiver.delivered.get()).decode(errors="replace"))
    finally:
        relay_transport.close()
        receiver_transport.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", choices=["demo", "server", "client"], default="demo")
    parser.add_argument("words", nargs="*", default=["one", "two", "three"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9002)
    parser.add_argument("--loss", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_intermixed_args()
    if args.role == "server":
        asyncio.run(run_server(args.host, args.port, args.loss, args.seed))
    elif args.role == "client":
        words = [word.encode() for word in args.words]
        for seq, sent in enumerate(asyncio.run(send_reliably(args.host, args.port, words))):
            print(f"message {seq} acknowledged after {sent.attempts} attempt(s)")
    else:
        asyncio.run(demo())


if __name__ == "__main__":
    main()
