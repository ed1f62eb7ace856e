# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""TCP is a byte stream: an asyncio echo server and client with length-prefixed framing.

Shows that TCP (RFC 9293) delivers bytes, not messages: three writes can arrive as one read and
one large write as many reads. A 4-byte length prefix restores the messages. The server limits
the frame size and rejects an oversize length prefix, a truncated frame or an idle client with a
clear error, without harming the other clients. The client closes gracefully: it half-closes its
side (FIN), reads the last replies, and the server closes after it has answered everything.

Run: python tcp_echo.py
(a demo on 127.0.0.1: the byte stream, framing, and what the server rejects)

Or in two terminals:
    python tcp_echo.py server --port 9000
    python tcp_echo.py client --port 9000 hello world
"""

from __future__ import annotations

import argparse
import asyncio
import struct

TIMEOUT = 5.0  # seconds a peer may stay silent in the middle of a conversation
MAX_FRAME = 64 * 1024  # the largest payload the server accepts


# --8<-- [start:framing]
class FrameError(ValueError):
    """The bytes on the connection are not a valid frame; the message says what was wrong."""


HEADER = struct.Struct("!BI")  # kind (1 byte), then the payload length (4 bytes, big-endian)
DATA, ERROR = 0, 1


def encode_frame(payload: bytes, kind: int = DATA) -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader,
                     max_size: int = MAX_FRAME) -> tuple[int, bytes] | None:
    """The next (kind, payload), or None if the peer closed cleanly between two frames."""
    try:
        header = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as error:
        if not error.partial:
            return None  # end of stream exactly on a frame boundary: a graceful close
        raise FrameError(f"truncated header: {len(error.partial)} of {HEADER.size} bytes") from None
    kind, length = HEADER.unpack(header)
    if kind not in (DATA, ERROR):
        raise FrameError(f"unknown frame kind {kind}")
    if length > max_size:  # checked before reading: a liar cannot make us allocate 4 GB
        raise FrameError(f"frame of {length} bytes exceeds the {max_size}-byte limit")
    try:
        payload = await reader.readexactly(length)
    except asyncio.IncompleteReadError as error:
        raise FrameError(
            f"truncated frame: the stream ended after {len(error.partial)} of {length} bytes"
        ) from None
    return kind, payload
# --8<-- [end:framing]


# --8<-- [start:server]
class EchoServer:
    """Echo every frame back; a client that breaks the framing gets an error frame, alone."""

    def __init__(self, max_frame: int = MAX_FRAME, timeout: float = TIMEOUT) -> None:
        self.max_frame = max_frame
        self.timeout = timeout
        self.outcomes: asyncio.Queue[str] = asyncio.Queue()  # how each connection ended

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        echoed = 0
        try:
            while True:
                async with asyncio.timeout(self.timeout):
                    frame = await read_frame(reader, self.max_frame)
                if frame is None:
                    outcome = f"clean close after {echoed} frames"
                    break
                writer.write(encode_frame(frame[1]))
                await writer.drain()  # back-pressure: a client that does not read slows down
                echoed += 1
        except FrameError as error:
            outcome = f"error: {error}"
            writer.write(encode_frame(str(error).encode(), ERROR))
        except TimeoutError:
            outcome = f"error: no complete frame for {self.timeout} s"
            writer.write(encode_frame(outcome.encode(), ERROR))
        except ConnectionError as error:  # the client vanished while we were writing
            outcome = f"error: connection lost ({type(error).__name__})"
        try:
            writer.close()  # sends our FIN after anything still buffered
            await writer.wait_closed()
        except ConnectionError:
            pass  # the peer reset the connection: nothing left to tell it
        await self.outcomes.put(outcome)


async def start_server(echo: EchoServer, host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    return await asyncio.start_server(echo.handle, host, port)
# --8<-- [end:server]


# --8<-- [start:client]
async def echo_messages(host: str, port: int, messages: list[bytes]) -> list[bytes]:
    """Send every message as a frame, half-close, and collect the replies until the server's FIN."""
    async with asyncio.timeout(TIMEOUT):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for message in messages:
                writer.write(encode_frame(message))
            await writer.drain()
            writer.write_eof()  # FIN: "I have nothing more to send", we can still read
            replies = []
            while (frame := await read_frame(reader)) is not None:
                kind, payload = frame
                if kind == ERROR:
                    raise FrameError(f"server refused: {payload.decode()}")
                replies.append(payload)
            return replies
        finally:
            writer.close()
            await writer.wait_closed()
# --8<-- [end:client]


# --8<-- [start:stream]
async def show_byte_stream(host: str = "127.0.0.1") -> tuple[list[bytes], int]:
    """What the receiver's reads return for three small writes, then for one large write."""
    first_reads: list[bytes] = []
    big_reads: list[int] = []
    first_read_done, received = asyncio.Event(), asyncio.Event()

    async def receiver(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first_reads.append(await reader.read(1 << 20))  # one read, however much is there
        first_read_done.set()
        while chunk := await reader.read(1 << 20):
            big_reads.append(len(chunk))
        writer.close()
        await writer.wait_closed()
        received.set()

    server = await asyncio.start_server(receiver, host, 0)
    port = server.sockets[0].getsockname()[1]
    async with server, asyncio.timeout(TIMEOUT):
        reader, writer = await asyncio.open_connection(host, port)
        for word in (b"alpha", b"beta", b"gamma"):
            writer.write(word)  # three writes, three segments (asyncio sets TCP_NODELAY)
        await writer.drain()
        await first_read_done.wait()  # keep the big write out of that first read
        writer.write(bytes(4 * 1024 * 1024))  # one write of 4 MiB
        writer.write_eof()
        await received.wait()
        writer.close()
        await writer.wait_closed()
    return first_reads, len(big_reads)
# --8<-- [end:stream]


async def demo() -> None:
    print("TCP is a byte stream: the receiver sees bytes, not the sender's writes")
    first_reads, big_reads = await show_byte_stream()
    print("  3 writes: b'alpha' b'beta' b'gamma'")
    print(f"  the receiver's first read returned {first_reads[0]!r}")
    print(f"  1 write of 4 MiB arrived in more than one read: {big_reads > 1}")

    echo = EchoServer()
    server = await start_server(echo)
    port = server.sockets[0].getsockname()[1]
    async with server:
        print("Length-prefixed frames restore the messages (echo server on a port the OS chose)")
        replies = await echo_messages("127.0.0.1", port, [b"alpha", b"beta", b"gamma"])
        print(f"  sent 3 frames, got back {replies}")
        print(f"  the client half-closed; the server reports: {await echo.outcomes.get()}")

        print(f"The server accepts frames of at most {MAX_FRAME} bytes")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEADER.pack(DATA, 10_000_000))  # announces 10 MB, sends nothing more
        kind, payload = await read_frame(reader) or (None, b"")
        print(f"  oversize prefix -> error frame: {payload.decode()}")
        writer.close()
        await writer.wait_closed()
        print(f"  server: {await echo.outcomes.get()}")

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEADER.pack(DATA, 10) + b"abc")  # promises 10 bytes, then vanishes
        writer.close()
        await writer.wait_closed()
        print(f"  a client that vanished mid-frame -> server: {await echo.outcomes.get()}")

        replies = await echo_messages("127.0.0.1", port, [b"still here"])
        print(f"  the next client is served as usual: {replies}")
        await echo.outcomes.get()


async def run_server(host: str, port: int) -> None:
    echo = EchoServer()
    server = await start_server(echo, host, port)
    print(f"TCP framed echo on {host}:{port}; Ctrl-C stops")
    async with server:
        while True:
            print(await echo.outcomes.get())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", choices=["demo", "server", "client"], default="demo")
    parser.add_argument("words", nargs="*", default=["hello", "world"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_intermixed_args()
    if args.role == "server":
        asyncio.run(run_server(args.host, args.port))
    elif args.role == "client":
        words = [word.encode() for word in args.words]
        for reply in asyncio.run(echo_messages(args.host, args.port, words)):
            print(reply.decode(errors="replace"))
    else:
        asyncio.run(demo())


if __name__ == "__main__":
    main()
