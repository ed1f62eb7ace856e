# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "websockets~=17.4",
# ]
# ///
"""A WebSocket broadcast chat with the `websockets` library: join, leave, keepalive, close codes.

Each client opens one WebSocket (`ws://host:port/?name=alice`) and keeps it. Anything a client
sends, the server pushes to everyone at once: the connection is full duplex, so nobody asks
for updates. The library does the handshake, framing, masking and ping/pong keepalive; the
program shows what a practitioner adds: names, join and leave notices with their close codes,
a size limit (close 1009), dropping a client too slow to keep up so it never stalls the others,
and a client that reconnects with exponential backoff and jitter when the connection drops.

Run: python websocket_chat.py                            (a demo on 127.0.0.1)
     python websocket_chat.py server --port 8002           (until Ctrl-C)
     python websocket_chat.py client --port 8002 --name ann (says hello, prints, reconnects)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import struct
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidHandshake

MAX_MESSAGE = 64 * 1024  # bytes; a bigger message closes the connection with 1009
MAX_BACKLOG = 256 * 1024  # bytes queued for one client; beyond that it is too slow to keep
OPEN_TIMEOUT = 10.0  # seconds to finish the opening handshake: an idle or half-sent one is cut
CLOSE_CODES = {  # RFC 6455, section 7.4.1
    1000: "normal closure", 1001: "going away", 1002: "protocol error",
    1003: "unacceptable data", 1006: "abnormal: no close frame", 1008: "policy violation",
    1009: "message too big", 1011: "internal error or keepalive timeout",
}


def ended_with(websocket: ServerConnection | ClientConnection) -> str:
    """The close code that ended a connection: the one of whoever closed first."""
    protocol = websocket.protocol
    if protocol.close_rcvd_then_sent:
        first = protocol.close_rcvd
    else:
        first = protocol.close_sent or protocol.close_rcvd
    code = first.code if first else 1006
    return f"{code} {CLOSE_CODES.get(code, '')}".rstrip()


# --8<-- [start:server]
class ChatRoom:
    def __init__(self, max_backlog: int = MAX_BACKLOG) -> None:
        self.max_backlog = max_backlog
        self.members: dict[ServerConnection, str] = {}
        self.changed = asyncio.Condition()  # notified when someone joins or leaves

    async def handler(self, websocket: ServerConnection) -> None:
        query = parse_qs(urlsplit(websocket.request.path).query)
        name = query.get("name", [""])[0]
        if not name.isalnum() or len(name) > 20:
            await websocket.close(1008, "join with ?name=<letters and digits>")
            return
        if name in self.members.values():
            await websocket.close(1008, f"the name {name} is taken")
            return
        await self.update(websocket, name)
        try:
            async for message in websocket:  # ends on a normal close, raises on a broken one
                if isinstance(message, bytes):
                    await websocket.close(1003, "this chat takes text only")
                else:
                    self.broadcast(f"{name}: {message}")
        except ConnectionClosedError:
            pass  # 1002, 1009, a vanished client...: the leave notice below says which
        finally:
            await self.update(websocket, None)
            self.broadcast(f"* {name} left ({ended_with(websocket)})")

    async def update(self, websocket: ServerConnection, name: str | None) -> None:
        async with self.changed:
            if name is None:
                del self.members[websocket]
            else:
                self.members[websocket] = name
                self.broadcast(f"* {name} joined")
            self.changed.notify_all()

    def broadcast(self, text: str) -> None:
        """Queue the message to everyone without waiting for anyone (websockets.broadcast)."""
        for member in list(self.members):
            if member.transport.get_write_buffer_size() > self.max_backlog:
                # It stopped reading. A close frame would queue behind what it cannot read,
                # so cut the TCP connection: its handler ends, and nobody else waits for it.
                member.transport.abort()
        broadcast(self.members, text)
# --8<-- [end:server]


def serve_chat(room: ChatRoom, host: str, port: int):
    """The server (websockets.serve) with its limits: message size and handshake time."""
    return serve(room.handler, host, port, max_size=MAX_MESSAGE, open_timeout=OPEN_TIMEOUT)


# --8<-- [start:client]
async def connect_with_backoff(uri: str, *, rng: random.Random, base: float = 0.5,
                               cap: float = 30.0, attempts: int = 10) -> ClientConnection:
    """Connect, retrying with exponential backoff and full jitter when the server is down."""
    for attempt in range(attempts):
        try:
            return await connect(uri, open_timeout=5, max_size=MAX_MESSAGE)
        except (OSError, InvalidHandshake, TimeoutError):
            # wait a random time up to base * 2^attempt: clients that lost the same server
            # do not all come back in the same millisecond (the "thundering herd")
            await asyncio.sleep(rng.uniform(0, min(cap, base * 2**attempt)))
    raise ConnectionError(f"{uri}: no answer after {attempts} attempts")


async def stay_in_chat(host: str, port: int, name: str, *, rng: random.Random,
                       base: float = 0.5, limit: int = 0) -> None:
    """Print every message; when the connection drops, reconnect and say hello again."""
    uri = f"ws://{host}:{port}/?name={name}"
    while True:
        async with await connect_with_backoff(uri, rng=rng, base=base) as websocket:
            await websocket.send(f"hello, I am {name}")
            with contextlib.suppress(ConnectionClosed):
                async for message in websocket:
                    print(f"{name} <- {message}", flush=True)
                    limit -= 1
                    if limit == 0:
                        return
        print(f"{name}: connection closed ({ended_with(websocket)}); reconnecting", flush=True)
# --8<-- [end:client]


async def unmasked_frame_gets(port: int) -> str:
    """A hand-made bad client: a valid handshake, then a frame without the mandatory mask."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /?name=mallory HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"Sec-WebSocket-Version: 13\r\n\r\n")
        async with asyncio.timeout(5):
            await reader.readuntil(b"\r\n\r\n")  # 101 Switching Protocols
            await reader.readexactly(2 + len("* mallory joined"))  # its own join notice
            writer.write(b"\x81\x02hi")  # FIN + text, length 2, mask bit not set
            head = await reader.readexactly(2)
            body = await reader.readexactly(head[1] & 0x7F)
        return f"close {struct.unpack('!H', body[:2])[0]} {body[2:].decode()}"
    finally:
        writer.close()
        await writer.wait_closed()


async def demo() -> None:
    room = ChatRoom()
    server = await serve_chat(room, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = f"ws://127.0.0.1:{port}/?name="
    print("server: ws:// on 127.0.0.1, a port the OS chose")
    async with connect(url + "alice") as alice:
        print("alice <-", await alice.recv())
        async with connect(url + "bob") as bob:
            print("bob   <-", await bob.recv())
            print("alice <-", await alice.recv())
            await alice.send("hi bob")
            print("bob   <-", await bob.recv())
            print("alice <-", await alice.recv())
        print("alice <-", await alice.recv())
        async with connect(url + "carol", max_size=None) as carol:
            print("alice <-", await alice.recv())
            await carol.send("x" * 100_000)
            with contextlib.suppress(ConnectionClosedError):
                await carol.recv()
            print("carol sent 100 kB, over the 64 KiB limit, and was disconnected")
        print("alice <-", await alice.recv())
        print("mallory sends an unmasked frame:", await unmasked_frame_gets(port))
        print("alice <-", await alice.recv())
        print("alice <-", await alice.recv())

    print("dave stays in the chat while the server restarts:")
    async with connect(url + "eve") as eve:  # eve watches, so we know when dave has said hello
        await eve.recv()
        dave = asyncio.ensure_future(
            stay_in_chat("127.0.0.1", port, "dave", rng=random.Random(7), base=0.05, limit=4))
        await eve.recv()  # * dave joined
        await eve.recv()  # dave: hello, I am dave
        server.close()  # closes every connection with 1001 (going away), after what is queued
        await server.wait_closed()
    room = ChatRoom()
    async with serve_chat(room, "127.0.0.1", port):
        await dave


async def serve_forever(host: str, port: int) -> None:
    room = ChatRoom()
    async with serve_chat(room, host, port) as server:
        print(f"chat at ws://{host}:{port}/?name=<you> (Ctrl-C to stop)", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", choices=["server", "client"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--name", default="guest")
    args = parser.parse_args()
    if args.role == "server":
        runner = serve_forever(args.host, args.port)
    elif args.role == "client":
        runner = stay_in_chat(args.host, args.port, args.name, rng=random.Random())
    else:
        runner = demo()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(runner)
