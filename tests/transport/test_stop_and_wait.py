import asyncio
import socket

import pytest

from tests.support import SNIPPETS, load_snippet, run_demo

saw = load_snippet("transport/stop_and_wait.py")
WORDS = [f"message {i}".encode() for i in range(12)]


@pytest.fixture
async def path(no_task_leaks):
    """A receiver, and a relay in front of it; yields a function that sets the relay's loss."""
    transports = []

    async def build(loss, seed):
        receiver = saw.Receiver()
        receiver_transport = await saw.start(receiver)
        relay = saw.LossyRelay(receiver_transport.get_extra_info("sockname"), loss, seed)
        relay_transport = await saw.start(relay)
        transports.extend([receiver_transport, relay_transport])
        return receiver, relay, relay_transport.get_extra_info("sockname")[1]

    yield build
    for transport in transports:
        transport.close()


def delivered(receiver):
    return [receiver.delivered.get_nowait() for _ in range(receiver.delivered.qsize())]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
async def test_every_message_arrives_once_and_in_order_through_loss(path, seed):
    receiver, relay, port = await path(loss=0.3, seed=seed)
    report = await saw.send_reliably("127.0.0.1", port, WORDS, timeout=0.02)
    assert delivered(receiver) == WORDS
    assert [sent.message for sent in report] == WORDS
    assert relay.dropped > 0  # the path really was lossy...
    assert sum(sent.attempts for sent in report) > len(WORDS)  # ...and retransmission fixed it
    assert receiver.errors == []


async def test_a_lossless_path_needs_one_attempt_each(path):
    receiver, relay, port = await path(loss=0.0, seed=0)
    report = await saw.send_reliably("127.0.0.1", port, WORDS, timeout=2.0)
    assert [sent.attempts for sent in report] == [1] * len(WORDS)
    assert delivered(receiver) == WORDS
    assert (relay.dropped, receiver.duplicates) == (0, 0)


async def test_a_lost_ack_makes_a_duplicate_that_is_not_delivered_twice(path):
    receiver, relay, port = await path(loss=0.3, seed=7)  # the demo's seed loses ACKs
    await saw.send_reliably("127.0.0.1", port, WORDS[:8], timeout=0.02)
    assert receiver.duplicates > 0
    assert delivered(receiver) == WORDS[:8]


async def test_two_sender_runs_are_two_sessions(path):
    receiver, _, port = await path(loss=0.0, seed=0)
    await saw.send_reliably("127.0.0.1", port, [b"first run"])
    await saw.send_reliably("127.0.0.1", port, [b"second run"])  # starts at sequence 0 again
    assert delivered(receiver) == [b"first run", b"second run"]


async def test_a_dead_path_gives_up_with_a_clear_error(path):
    _, _, port = await path(loss=1.0, seed=0)
    with pytest.raises(saw.DeliveryError, match="message 0 unacknowledged after 3 attempts"):
        await saw.send_reliably("127.0.0.1", port, [b"hello?"], timeout=0.01, max_attempts=3)


@pytest.mark.parametrize(
    ("datagram", "error"),
    [
        (b"", "0 bytes: shorter than the 9-byte header"),
        (b"\x01\x00\x00", "3 bytes: shorter than the 9-byte header"),
        (saw.HEADER.pack(7, 1, 0), "unknown packet kind 7"),
        (saw.HEADER.pack(saw.ACK, 1, 0) + b"x", "an acknowledgement carries no payload"),
    ],
)
def test_malformed_packets_are_rejected(datagram, error):
    with pytest.raises(saw.PacketError, match=error):
        saw.Packet.decode(datagram)


def test_packets_round_trip():
    packet = saw.Packet(saw.DATA, 0xDEADBEEF, 2**32 - 1, b"payload")
    assert saw.Packet.decode(packet.encode()) == packet


async def test_garbage_datagrams_are_dropped_and_the_receiver_keeps_working(no_task_leaks):
    receiver = saw.Receiver()
    transport = await saw.start(receiver)
    address = transport.get_extra_info("sockname")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
        raw.settimeout(2)
        raw.bind(("127.0.0.1", 0))
        for garbage in [b"\x07", b"\xff" * 9, saw.Packet(saw.ACK, 1, 0).encode(),
                        saw.Packet(saw.DATA, 1, 5, b"ahead").encode()]:
            raw.sendto(garbage, address)
        raw.sendto(saw.Packet(saw.DATA, 1, 0, b"valid").encode(), address)
        raw.setblocking(False)
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(2):
            reply = await loop.sock_recv(raw, 64)
    transport.close()
    assert saw.Packet.decode(reply) == saw.Packet(saw.ACK, 1, 0)
    assert receiver.errors == [
        "1 bytes: shorter than the 9-byte header",
        "unknown packet kind 255",
        "the receiver got an acknowledgement",
        "sequence 5 is ahead of 0",
    ]
    assert delivered(receiver) == [b"valid"]


async def test_the_sender_ignores_garbage_and_foreign_acks(no_task_leaks):
    sender = saw.Sender()
    sender.datagram_received(b"xx", ("127.0.0.1", 1))
    sender.datagram_received(saw.Packet(saw.ACK, sender.session ^ 1, 0).encode(), ("127.0.0.1", 1))
    sender.datagram_received(saw.Packet(saw.ACK, sender.session, 4).encode(), ("127.0.0.1", 1))
    assert sender.errors == ["2 bytes: shorter than the 9-byte header"]
    assert sender.acks.get_nowait() == 4 and sender.acks.empty()


async def test_a_late_ack_of_an_earlier_message_is_ignored(no_task_leaks):
    """A second ACK for message 0 (as when a retransmission's first ACK was only slow) must not
    be taken as the ACK of message 1, which the receiver here misses the first time."""
    receiver = saw.Receiver()
    transport = await saw.start(receiver)
    real_sendto, real_received = transport.sendto, receiver.datagram_received
    missed = []

    def ack_twice(data, addr=None):
        real_sendto(data, addr)
        if saw.Packet.decode(data).seq == 0:
            real_sendto(data, addr)

    def miss_message_1_once(data, addr):
        if saw.Packet.decode(data).seq == 1 and not missed:
            missed.append(data)
            return
        real_received(data, addr)

    transport.sendto = ack_twice
    receiver.datagram_received = miss_message_1_once
    port = transport.get_extra_info("sockname")[1]
    report = await saw.send_reliably("127.0.0.1", port, [b"a", b"b"], timeout=0.5)
    transport.close()
    assert [s.attempts for s in report] == [1, 2]
    assert delivered(receiver) == [b"a", b"b"]


def test_demo_runs_as_a_script():
    out = run_demo(SNIPPETS / "transport/stop_and_wait.py")
    assert "delivered once each, in order: True" in out


def test_main_dispatches_each_command(run_main, capsys):
    assert run_main(saw, "server", "--port", "9", "--loss", "0.5") == "run_server"
    sent = [saw.Sent(b"a", 2)]
    assert run_main(saw, "client", "--port", "9", "a", result=sent) == "send_reliably"
    assert capsys.readouterr().out == "message 0 acknowledged after 2 attempt(s)\n"
    assert run_main(saw) == "demo"


async def test_server_command_serves_until_cancelled(monkeypatch, capsys, no_task_leaks):
    ports = asyncio.Queue()
    real_start = saw.start

    async def spy(protocol, *args):
        transport = await real_start(protocol, *args)
        ports.put_nowait(transport.get_extra_info("sockname")[1])
        return transport

    monkeypatch.setattr(saw, "start", spy)
    task = asyncio.create_task(saw.run_server("127.0.0.1", 0, loss=0.2, seed=1))
    await ports.get()  # the receiver
    relay_port = await ports.get()
    await saw.send_reliably("127.0.0.1", relay_port, [b"hello"], timeout=0.02)
    while "hello" not in capsys.readouterr().out:
        await asyncio.sleep(0)  # run_server prints on its next step
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
