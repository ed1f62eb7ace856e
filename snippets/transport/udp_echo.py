# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""UDP keeps message boundaries: an asyncio datagram echo server and client.

Shows that UDP (RFC 768) sends self-contained datagrams with no connection and no handshake:
each ``sendto`` is one datagram and each receive returns exactly one, never two glued together
and never half of one. Nothing is acknowledged, so the client waits with a timeout and treats
silence as loss. The server echoes any bytes (UDP does not care what they are), refuses an
oversize datagram with an error datagram to that sender only, and keeps serving everyone else.

Run: python udp_echo.py
(a demo on 127.0.0.1: boundaries kept, an oversize datagram refused, a timeout when nobody answers)

Or in two terminals:
    python udp_echo.py server --port 9001
    python udp_echo.py client --port 9001 hello world
"""

from __future__ import annotations

import argparse
import asyncio

TIMEOUT = 1.0  # seconds the client waits for an answer before calling the datagram lost
MAX_DATAGRAM = 1200  # keep replies under a typical path MTU: no IP fragmentation


# --8<-- [start:server]
class EchoServer(asyncio.DatagramProtocol):
    """Send each datagram back to whoever sent it. No connection, no per-client state."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.errors: list[str] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        if len(data) > MAX_DATAGRAM:
            error = f"datagram of {len(data)} bytes exceeds the {MAX_DATAGRAM}-byte limit"
            self.errors.append(error)
            self.transport.sendto(b"error: " + error.encode(), addr)
        else:
            self.transport.sendto(data, addr)  # one datagram in, one datagram out


async def start_server(host: str = "127.0.0.1", port: int = 0) -> tuple[
        asyncio.DatagramTransport, EchoServer]:
    loop = asyncio.get_running_loop()
    return await loop.create_datagram_endpoint(EchoServer, local_addr=(host, port))
# --8<-- [end:server]


# --8<-- [start:client]
class EchoClient(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.replies.put_nowait(data)


async def echo_datagrams(host: str, port: int, messages: list[bytes],
                         timeout: float = TIMEOUT) -> list[bytes]:
    """Send every message as one datagram, then collect one reply per message."""
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(
        EchoClient, remote_addr=(host, port))
    try:
        for message in messages:
            transport.sendto(message)  # no handshake: the first packet already carries data
        async with asyncio.timeout(timeout):  # silence is the only sign of loss UDP gives
            return [await client.replies.get() for _ in messages]
    finally:
        transport.close()
# --8<-- [end:client]


async def demo() -> None:
    transport, server = await start_server()
    port = transport.get_extra_info("sockname")[1]
    try:
        print("UDP echo server on 127.0.0.1, a port the OS chose")
        messages = [b"alpha", b"beta", b"gamma"]
        replies = await echo_datagrams("127.0.0.1", port, messages)
        print(f"sent 3 datagrams {messages}")
        print(f"got  3 datagrams {replies}")
        print(f"boundaries kept (each receive is one whole datagram): {replies == messages}")

        [reply] = await echo_datagrams("127.0.0.1", port, [bytes(1500)])
        print(f"a 1500-byte datagram -> {reply.decode()}")
    finally:
        transport.close()

    print("the server is gone; a client that sends anyway:")
    try:
        await echo_datagrams("127.0.0.1", port, [b"anyone?"], timeout=0.2)
    except TimeoutError:
        print("  no reply within 0.2 s: to UDP, a dead server looks like a lost packet")


async def run_server(host: str, port: int) -> None:
    transport, _ = await start_server(host, port)
    print(f"UDP echo on {host}:{port}; Ctrl-C stops")
    try:
        await asyncio.Event().wait()
    finally:
        transport.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", choices=["demo", "server", "client"], default="demo")
    parser.add_argument("words", nargs="*", default=["hello", "world"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    args = parser.parse_intermixed_args()
    if args.role == "server":
        asyncio.run(run_server(args.host, args.port))
    elif args.role == "client":
        words = [word.encode() for word in args.words]
        for reply in asyncio.run(echo_datagrams(args.host, args.port, words)):
            print(reply.decode(errors="replace"))
    else:
        asyncio.run(demo())


if __name__ == "__main__":
    main()
