# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "aioquic~=1.7",
#     "cryptography~=50.0",
#     "trustme~=1.2",
# ]
# ///
"""A QUIC echo server and client with aioquic: TLS 1.3 built in, several independent streams.

Shows that QUIC (RFC 9000) runs on UDP, always encrypts with TLS 1.3 (RFC 9001), and carries many
streams in one connection: each message goes on its own stream, all at once, and each stream is
echoed and closed on its own. The certificate is made at run time by a throwaway certificate
authority (trustme), and the client trusts that authority only: verification stays on. A client
that does not trust the server's certificate fails the handshake with a clear error. A second
connection resumes the TLS session and sends its request as 0-RTT data, before the handshake ends.

Run: python quic_echo.py
(a demo on 127.0.0.1: concurrent streams, a client with the wrong authority, 0-RTT resumption)

Or in two terminals (the server writes its authority's certificate to echo-ca.pem, which the
client then trusts):
    python quic_echo.py server --port 4433
    python quic_echo.py client --port 4433 hello world
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import trustme
from aioquic.asyncio import QuicConnectionProtocol, connect, serve
from aioquic.asyncio.server import QuicServer
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted, QuicEvent
from aioquic.tls import SessionTicket
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

ALPN = "echo"  # the application protocol both ends name in the TLS handshake
TIMEOUT = 5.0  # seconds for a handshake or for a stream's whole reply
MAX_MESSAGE = 64 * 1024  # a stream longer than this is cut off with an error


class SessionStore:
    """The server's memory of the session tickets it issued, so a client can resume (0-RTT)."""

    def __init__(self) -> None:
        self.tickets: dict[bytes, SessionTicket] = {}

    def add(self, ticket: SessionTicket) -> None:
        self.tickets[ticket.ticket] = ticket

    def pop(self, label: bytes) -> SessionTicket | None:
        return self.tickets.pop(label, None)  # single use: a replayed ticket is refused


# --8<-- [start:server]
def server_configuration(ca: trustme.CA) -> QuicConfiguration:
    """TLS 1.3 is part of QUIC: the server cannot start without a certificate and its key."""
    issued = ca.issue_cert("localhost", "127.0.0.1")
    configuration = QuicConfiguration(is_client=False, alpn_protocols=[ALPN])
    configuration.certificate = x509.load_pem_x509_certificate(issued.cert_chain_pems[0].bytes())
    configuration.private_key = load_pem_private_key(issued.private_key_pem.bytes(), None)
    return configuration


class EchoServer:
    """Echo every stream back on the same stream; each stream is handled on its own."""

    def __init__(self, timeout: float = TIMEOUT) -> None:
        self.timeout = timeout  # how long a stream may take to arrive in full
        self.tasks: set[asyncio.Task[None]] = set()
        self.errors: list[str] = []
        self.sessions = SessionStore()

    def on_stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self.echo(reader, writer))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def echo(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                message = await reader.read(MAX_MESSAGE + 1)  # up to the limit, or to EOF
                while len(message) <= MAX_MESSAGE and (chunk := await reader.read(MAX_MESSAGE)):
                    message += chunk
            if len(message) > MAX_MESSAGE:
                self.errors.append(f"stream longer than the {MAX_MESSAGE}-byte limit")
                writer.write(b"error: message longer than %d bytes" % MAX_MESSAGE)
            else:
                writer.write(message)
        except TimeoutError:
            self.errors.append(f"stream incomplete after {self.timeout} s")
        finally:
            writer.close()  # FIN on this stream only, after what was written: the others go on

    async def start(self, host: str, port: int, ca: trustme.CA) -> QuicServer:
        return await serve(host, port, configuration=server_configuration(ca),
                           stream_handler=self.on_stream,
                           session_ticket_handler=self.sessions.add,
                           session_ticket_fetcher=self.sessions.pop)

    async def close(self, server: QuicServer) -> None:
        server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
# --8<-- [end:server]


# --8<-- [start:client]
def client_configuration(ca_pem: bytes, ticket: SessionTicket | None = None) -> QuicConfiguration:
    """Trust exactly one authority (cadata): never turn verification off to make a demo work."""
    return QuicConfiguration(is_client=True, alpn_protocols=[ALPN], server_name="localhost",
                             cadata=ca_pem, session_ticket=ticket)


class EchoClient(QuicConnectionProtocol):
    """Keeps the two events a caller wants to see: how the handshake ended, or why it failed."""

    handshake: HandshakeCompleted | None = None
    terminated: ConnectionTerminated | None = None

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, HandshakeCompleted):
            self.handshake = event
        elif isinstance(event, ConnectionTerminated):
            self.terminated = event
        super().quic_event_received(event)


async def handshake(client: EchoClient) -> None:
    """Wait for the TLS handshake; if the server is not trusted, say why the client refused it."""
    if client.handshake is not None:
        return  # already done (aioquic's wait_connected would wait for it again)
    client.transmit()  # send the ClientHello now, if nothing has sent it yet
    try:
        await client.wait_connected()
    except ConnectionError as error:
        why = client.terminated
        reason = why.reason_phrase if why else "the connection closed"
        code = f" (QUIC error 0x{why.error_code:x})" if why else ""
        raise ConnectionError(f"handshake failed{code}: {reason}") from error


@contextlib.asynccontextmanager
async def open_connection(host: str, port: int, configuration: QuicConfiguration, *,
                          early: bool = False, **options: Any) -> AsyncIterator[EchoClient]:
    """Connect; with early=True, hand the connection over before the handshake (for 0-RTT)."""
    async with asyncio.timeout(TIMEOUT), connect(
        host, port, configuration=configuration, create_protocol=EchoClient,
        wait_connected=False, **options,
    ) as client:
        if not early:
            await handshake(client)
        yield client


async def send_on_stream(client: QuicConnectionProtocol, message: bytes) -> tuple[int, bytes]:
    reader, writer = await client.create_stream()  # a new bidirectional stream: no round trip
    stream_id = writer.get_extra_info("stream_id")
    writer.write(message)
    writer.write_eof()
    async with asyncio.timeout(TIMEOUT):
        return stream_id, await reader.read()  # until the server's FIN on this stream


async def echo_all(host: str, port: int, ca_pem: bytes,
                   messages: Iterable[bytes]) -> list[tuple[int, bytes]]:
    """One connection, one stream per message, all in flight at once."""
    async with open_connection(host, port, client_configuration(ca_pem)) as client:
        return list(await asyncio.gather(*(send_on_stream(client, m) for m in messages)))
# --8<-- [end:client]


# --8<-- [start:resume]
async def fetch_ticket(host: str, port: int, ca_pem: bytes) -> SessionTicket:
    """A first connection: after the handshake the server sends a session ticket."""
    tickets: list[SessionTicket] = []
    async with open_connection(host, port, client_configuration(ca_pem),
                               session_ticket_handler=tickets.append) as client:
        await send_on_stream(client, b"first visit")
    if not tickets:
        raise ConnectionError("the server sent no session ticket")
    return tickets[0]


async def echo_in_0rtt(host: str, port: int, ca_pem: bytes, ticket: SessionTicket,
                       message: bytes) -> tuple[bytes, bool, bool]:
    """Resume with the ticket and send the request before the handshake has finished."""
    configuration = client_configuration(ca_pem, ticket)
    async with open_connection(host, port, configuration, early=True) as client:
        _, reply = await send_on_stream(client, message)  # leaves in the very first flight
        await handshake(client)
        done = client.handshake
        return reply, bool(done and done.session_resumed), bool(done and done.early_data_accepted)
# --8<-- [end:resume]


async def demo() -> None:
    ca = trustme.CA()
    ca_pem = ca.cert_pem.bytes()
    echo = EchoServer()
    server = await echo.start("127.0.0.1", 0, ca)
    port = server._transport.get_extra_info("sockname")[1]  # aioquic: no public accessor
    try:
        print("QUIC echo server on 127.0.0.1, a UDP port the OS chose; ALPN 'echo', TLS 1.3")
        messages = [b"alpha", b"beta" * 1000, b"gamma"]
        print(f"one connection, {len(messages)} streams at once:")
        for stream_id, reply in await echo_all("127.0.0.1", port, ca_pem, messages):
            shown = reply if len(reply) < 20 else reply[:8] + b"..."
            print(f"  stream {stream_id}: {len(reply):>4} bytes echoed {shown!r}")

        print("a client that trusts another authority:")
        try:
            await echo_all("127.0.0.1", port, trustme.CA().cert_pem.bytes(), [b"hello"])
        except ConnectionError as error:
            print(f"  refused: {error}")

        print("resuming the TLS session:")
        ticket = await fetch_ticket("127.0.0.1", port, ca_pem)
        reply, resumed, early = await echo_in_0rtt("127.0.0.1", port, ca_pem, ticket, b"again")
        print(f"  echoed {reply!r}, session resumed: {resumed}, sent as 0-RTT data: {early}")
    finally:
        await echo.close(server)
    print(f"server errors: {echo.errors or 'none'}")


async def run_server(host: str, port: int, ca_file: Path) -> None:
    ca = trustme.CA()
    ca_file.write_bytes(ca.cert_pem.bytes())
    echo = EchoServer()
    server = await echo.start(host, port, ca)
    print(f"QUIC echo on {host}:{port} (UDP); clients must trust {ca_file}; Ctrl-C stops")
    try:
        await asyncio.Event().wait()
    finally:
        await echo.close(server)


async def run_client(host: str, port: int, ca_file: Path, words: list[str]) -> None:
    replies = await echo_all(host, port, ca_file.read_bytes(), [w.encode() for w in words])
    for stream_id, reply in replies:
        print(f"stream {stream_id}: {reply.decode(errors='replace')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", choices=["demo", "server", "client"], default="demo")
    parser.add_argument("words", nargs="*", default=["hello", "world"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4433)
    parser.add_argument("--ca-file", type=Path, default=Path("echo-ca.pem"))
    args = parser.parse_intermixed_args()
    if args.role == "server":
        asyncio.run(run_server(args.host, args.port, args.ca_file))
    elif args.role == "client":
        try:
            asyncio.run(run_client(args.host, args.port, args.ca_file, args.words))
        except OSError as error:  # refused handshake, no answer, no CA file: a sentence, no trace
            sys.exit(f"quic_echo.py client: {error or 'no answer within the timeout'}")
    else:
        asyncio.run(demo())


if __name__ == "__main__":
    main()
