# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "dnspython~=2.9",
#     "trustme~=1.2",
# ]
# ///
"""One HTTPS request, end to end, on 127.0.0.1: DNS, TCP, TLS 1.3, a load balancer and HTTP.

Starts, on loopback, everything a request to https://www.shop.example/ goes through: an
authoritative DNS server for the made-up zone shop.example (``.example`` is reserved for
documentation, RFC 2606), two HTTPS backends whose TLS 1.3 certificates come from a local
certificate authority (made at run time with trustme), and a layer-4 load balancer in front of
them that passes TLS through untouched: it reads the two messages of the handshake that travel in
the clear (the ClientHello and the ServerHello), routes by the name in the ClientHello (SNI), and
never decrypts. Then a client does what a browser does, one step at a time, and times each step:
it resolves the name with dnspython's resolver (asking that DNS server, and caching the answer
for its TTL), opens a TCP connection, handshakes TLS 1.3 (the certificate must chain to the local
root CA and name the host in the URL; ALPN agrees on http/1.1), sends an HTTP/1.1 request through
the balancer and reads the first and the last byte of the response. A second request reuses the
open connection: no DNS, no TCP, no TLS handshake, and the same backend. A third, on a new
connection, finds the name in the resolver's cache and resumes the TLS session with the ticket
the first connection received. The transcript says what happened, in order; the timings are kept
(bench/one_request.py draws them) but never printed, because they change from run to run.

Run: python one_request.py                     (demo: everything on 127.0.0.1, ports the OS chose)
     python one_request.py server --port 8443  (the balancer on 8443, the DNS server on
                                                --dns-port 5353, two backends; writes the root
                                                CA to ca.pem; serves until Ctrl-C)
     python one_request.py client --port 8443  (resolves through --dns-port, trusts ca.pem)
With the server running, other tools work too:
     dig @127.0.0.1 -p 5353 www.shop.example
     curl --cacert ca.pem --resolve www.shop.example:8443:127.0.0.1 https://www.shop.example:8443/
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset
import trustme

TIMEOUT = 5.0  # every network wait of the client, and the balancer's wait for a hello
HANDSHAKE_TIMEOUT = 5.0  # a backend gives a TLS handshake this long
CONNECT_TIMEOUT = 2.0  # the balancer gives a backend this long to accept
IDLE_TIMEOUT = 60.0  # the balancer closes a connection silent both ways this long
MAX_RECORD = 2**14  # a TLS record's plaintext is at most 2^14 bytes (RFC 8446, section 5.1)
MAX_HEAD = 16 * 1024  # the client's limit on a response head
MAX_BODY = 1024 * 1024  # and on a response body
PAGE_BYTES = 8 * 1024  # what a backend answers: a small page, in TCP's first flight
NAMES = ("www.shop.example", "shop.example")  # the names the site serves, on its certificate

# --- DNS: an authoritative server for shop.example --------------------------------------------

ORIGIN = "shop.example."
# --8<-- [start:zone]
ZONE: dict[tuple[str, str], tuple[int, list[str]]] = {  # (name, type) -> (TTL, values)
    # serial, refresh, retry, expire, and the last field: how long to cache a "no" (RFC 2308)
    ("shop.example.", "SOA"): (3600, ["ns1.shop.example. hostmaster.shop.example. "
                                      "1 7200 900 1209600 60"]),
    ("shop.example.", "NS"): (86400, ["ns1.shop.example."]),
    ("ns1.shop.example.", "A"): (86400, ["127.0.0.1"]),
    ("shop.example.", "A"): (300, ["127.0.0.1"]),  # the load balancer's address
    ("www.shop.example.", "CNAME"): (3600, ["shop.example."]),  # an alias
}
# --8<-- [end:zone]


def answer(query_wire: bytes) -> bytes | None:
    """The response to one query: bytes to send back, or None to drop what is not a query."""
    if len(query_wire) < 12 or query_wire[2] & 0x80:
        return None  # no header to answer to, or a response (answering one makes loops)
    try:
        query = dns.message.from_wire(query_wire)
        if len(query.question) != 1:
            raise dns.exception.FormError("not a query with one question")
    except dns.exception.DNSException:
        flags = 0x8000 | (query_wire[2] & 0x01) << 8 | dns.rcode.FORMERR  # QR, RD echoed
        return struct.pack("!HHHHHH", struct.unpack_from("!H", query_wire)[0], flags, 0, 0, 0, 0)
    response = dns.message.make_response(query)
    if query.edns > 0:  # RFC 6891, section 6.1.3: an EDNS version we do not speak
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
        name = target
    if (name, kind) in ZONE:
        ttl, values = ZONE[name, kind]
        response.answer.append(dns.rrset.from_text(name, ttl, "IN", kind, *values))
    else:  # no such name (NXDOMAIN) or no such type (NODATA): a "no", with the SOA that says
        # how long to cache it: the smaller of the SOA's TTL and its last field (RFC 2308, 3)
        if not any(zone_name == name for zone_name, _ in ZONE):
            response.set_rcode(dns.rcode.NXDOMAIN)
        soa_ttl, (soa,) = ZONE[ORIGIN, "SOA"]
        negative_ttl = min(soa_ttl, int(soa.split()[-1]))
        response.authority.append(dns.rrset.from_text(ORIGIN, negative_ttl, "IN", "SOA", soa))
    return response.to_wire()  # far under UDP's 512 bytes: no truncation in this zone


class DNSServer(asyncio.DatagramProtocol):
    """UDP and TCP on one port (DNS uses port 53 for both); counts the queries it answers."""

    def __init__(self) -> None:
        self.queries: list[str] = []  # "name type" of each query answered

    def respond(self, wire: bytes) -> bytes | None:
        """answer(), noting each question answered: the demo shows what reached the server."""
        response = answer(wire)
        if response is not None and response[4:6] != b"\x00\x00":  # it repeats the question
            question = dns.message.from_wire(response).question[0]
            self.queries.append(f"{question.name} {dns.rdatatype.to_text(question.rdtype)}")
        return response

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        response = self.respond(data)
        if response is not None:
            self.transport.sendto(response, addr)

    async def handle_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                         ) -> None:
        """RFC 7766: a TCP connection carries messages, each after its 2-byte length."""
        try:
            while True:
                async with asyncio.timeout(TIMEOUT):  # an idle or stalled client is cut off
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    message = await reader.readexactly(length)
                response = self.respond(message)
                if response is None:
                    break  # not a query: close rather than guess where the next one starts
                writer.write(struct.pack("!H", len(response)) + response)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass  # the client left or stalled: only its own connection ends
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        for _ in range(20):  # port 0: the OS picks a TCP port, which may be taken for UDP
            self.tcp = await asyncio.start_server(self.handle_tcp, host, port)
            chosen = self.tcp.sockets[0].getsockname()[1]
            try:
                self.udp, _ = await loop.create_datagram_endpoint(
                    lambda: self, local_addr=(host, chosen))
            except OSError:
                self.tcp.close()
                await self.tcp.wait_closed()
                if port:
                    raise
                continue
            return chosen
        raise OSError("no port free for both UDP and TCP")

    async def close(self) -> None:
        self.udp.close()
        self.tcp.close()
        await self.tcp.wait_closed()


# --- TLS: what a ClientHello and a ServerHello say in the clear ----------------------------------

CIPHER_SUITES = {0x1301: "TLS_AES_128_GCM_SHA256", 0x1302: "TLS_AES_256_GCM_SHA384",
                 0x1303: "TLS_CHACHA20_POLY1305_SHA256"}
GROUPS = {0x0017: "secp256r1", 0x0018: "secp384r1", 0x0019: "secp521r1", 0x001D: "x25519",
          0x001E: "x448", 0x11EC: "X25519MLKEM768"}
VERSIONS = {0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}
# a ServerHello with this random is a HelloRetryRequest (RFC 8446, section 4.1.3)
RETRY_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


class HelloError(ValueError):
    """The bytes are not a TLS hello this balancer can read."""


def named(table: dict[int, str], code: int) -> str:
    return table.get(code, f"0x{code:04x}")


class Reader:
    """Reads a TLS structure, checking that every byte it takes is there."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.at, self.what = data, 0, what

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise HelloError(f"{self.what} cut short: {n} bytes wanted at byte {self.at}, "
                             f"{len(self.data) - self.at} left")
        self.at += n
        return self.data[self.at - n:self.at]

    def number(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, length_size: int, what: str) -> Reader:
        """A field that starts with its length (1, 2 or 3 bytes), as a Reader of its own."""
        return Reader(self.take(self.number(length_size)), what)

    def numbers(self, length_size: int, what: str) -> list[int]:
        """A list of 2-byte codes (cipher suites, versions) after its length."""
        items = self.vector(length_size, what)
        if len(items.data) % 2:
            raise HelloError(f"{what}: an odd number of bytes")
        return [items.number(2) for _ in range(len(items.data) // 2)]

    def done(self) -> bool:
        return self.at == len(self.data)


@dataclass
class Hello:
    kind: str  # ClientHello, ServerHello or HelloRetryRequest
    cipher_suites: list[str] = field(default_factory=list)  # offered, or the one chosen
    sni: str | None = None  # the server name the client asks for (RFC 6066, section 3)
    alpn: list[str] = field(default_factory=list)  # application protocols offered (RFC 7301)
    versions: list[str] = field(default_factory=list)  # offered, or the one chosen
    key_shares: list[str] = field(default_factory=list)  # groups of the key shares sent
    psk: bool = False  # a session ticket offered (client) or accepted (server)
    early_data: bool = False  # 0-RTT data offered (client)


# --8<-- [start:hello]
def parse_hello(record: bytes) -> Hello:
    """The cleartext facts of a TLS 1.3 handshake record that holds a ClientHello or a
    ServerHello (RFC 8446, sections 4.1.2, 4.1.3 and 4.2). Everything after the ServerHello
    (the certificate too) is encrypted: an L4 balancer sees this much and no more."""
    record_reader = Reader(record, "TLS record")
    if record_reader.number(1) != 22:
        raise HelloError("not a TLS handshake record")
    record_reader.take(2)  # the record's legacy version: ignored (RFC 8446, section 5.1)
    body = record_reader.vector(2, "TLS record")
    message_type = body.number(1)
    if message_type not in (1, 2):
        raise HelloError(f"handshake message type {message_type}, not a hello")
    hello = body.vector(3, "hello (or split over several records)")
    hello.take(2)  # legacy_version, always 0x0303: the real one is in supported_versions
    random = hello.take(32)
    hello.vector(1, "session id")  # legacy_session_id: compatibility only
    client = message_type == 1
    if client:
        result = Hello("ClientHello", [named(CIPHER_SUITES, c)
                                       for c in hello.numbers(2, "cipher suites")])
        hello.vector(1, "compression methods")
    else:
        kind = "HelloRetryRequest" if random == RETRY_RANDOM else "ServerHello"
        result = Hello(kind, [named(CIPHER_SUITES, hello.number(2))])
        hello.take(1)  # compression method: none
    extensions = hello.vector(2, "extensions")
    while not extensions.done():
        extension, data = extensions.number(2), extensions.vector(2, "an extension")
        if extension == 0 and client:  # server_name: a list holding one host name (type 0)
            names = data.vector(2, "server name list")
            if names.number(1) == 0:
                host = names.vector(2, "server name").data
                if not re.fullmatch(rb"[A-Za-z0-9.-]{1,253}", host):
                    raise HelloError("the server name is not a DNS host name")
                result.sni = host.decode("ascii").lower()
        elif extension == 16 and client:  # application_layer_protocol_negotiation: what it speaks
            protocols = data.vector(2, "ALPN list")
            while not protocols.done():
                name = protocols.vector(1, "ALPN name").data
                result.alpn.append(name.decode("ascii", "backslashreplace"))
        elif extension == 43:  # supported_versions: a list offered, or the one chosen
            codes = data.numbers(1, "versions") if client else [data.number(2)]
            result.versions = [named(VERSIONS, code) for code in codes]
        elif extension == 51:  # key_share: the client's (EC)DHE public keys, or the server's one
            if client:
                shares = data.vector(2, "key shares")
                while not shares.done():
                    result.key_shares.append(named(GROUPS, shares.number(2)))
                    shares.vector(2, "a key share")
            else:
                result.key_shares.append(named(GROUPS, data.number(2)))
        elif extension == 41:  # pre_shared_key: a ticket offered, or the one accepted
            result.psk = True
        elif extension == 42:  # early_data: the client sends 0-RTT data after its hello
            result.early_data = True
    return result
# --8<-- [end:hello]


# --- The load balancer: layer 4, TLS passed through ----------------------------------------------

@dataclass(frozen=True)
class Upstream:
    name: str
    host: str
    port: int


@dataclass
class Routed:
    """One client connection, as the balancer saw it."""

    client_hello: Hello
    backend: str
    server_hello: Hello | None = None


async def read_record(reader: asyncio.StreamReader) -> bytes:
    """One TLS record: a 5-byte header (type, version, length), then its body."""
    header = await reader.readexactly(5)
    if header[0] != 22 or header[1] != 3:  # checked before waiting for a length of garbage
        raise HelloError("not a TLS handshake record")
    length = int.from_bytes(header[3:5], "big")
    if length > MAX_RECORD:
        raise HelloError(f"a TLS record of {length} bytes: more than 2^14")
    return header + await reader.readexactly(length)


# --8<-- [start:balancer]
class Balancer:
    """A layer-4 (TCP) load balancer that routes TLS by its server name and never decrypts."""

    def __init__(self, pools: dict[str, list[Upstream]], *, hello_timeout: float = TIMEOUT,
                 idle_timeout: float = IDLE_TIMEOUT,
                 report: Callable[[str], None] = lambda line: None) -> None:
        self.pools = pools  # server name -> the backends that serve it
        self.next = 0  # round-robin position
        self.hello_timeout = hello_timeout
        self.idle_timeout = idle_timeout
        self.report = report
        self.routed: list[Routed] = []
        self.tasks: set[asyncio.Task] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.tasks.add(task := asyncio.current_task())
        upstream_writer = None
        try:
            async with asyncio.timeout(self.hello_timeout):
                record = await read_record(reader)  # the ClientHello, in the clear
            client_hello = parse_hello(record)
            pool = self.pools.get(client_hello.sni or "")
            if client_hello.kind != "ClientHello" or not pool:
                self.report(f"no backend for server name {client_hello.sni}: closed")
                return
            connected = await self.connect(pool)
            if connected is None:
                return
            backend, upstream_reader, upstream_writer = connected
            upstream_writer.write(record)  # the ClientHello goes on as it came: end-to-end TLS
            routed = Routed(client_hello, backend.name)
            async with asyncio.timeout(self.hello_timeout):  # the ServerHello, in the clear too
                answer_record = await upstream_reader.readexactly(5)
                answer_record += await upstream_reader.readexactly(
                    int.from_bytes(answer_record[3:5], "big"))
            with contextlib.suppress(HelloError):  # an alert: passed on, the ends decide
                routed.server_hello = parse_hello(answer_record)
            self.routed.append(routed)
            writer.write(answer_record)
            await self.splice(reader, writer, upstream_reader, upstream_writer)
        except (HelloError, asyncio.IncompleteReadError, TimeoutError, ConnectionError) as error:
            self.report(f"connection dropped: {str(error) or type(error).__name__}")
        except asyncio.CancelledError:
            pass  # close() ends the connection
        finally:
            self.tasks.discard(task)
            for open_writer in (writer, upstream_writer):
                if open_writer is not None:
                    open_writer.close()
                    with contextlib.suppress(ConnectionError):
                        await open_writer.wait_closed()
    # --8<-- [end:balancer]

    async def connect(self, pool: list[Upstream]):
        """The next backend of the pool that accepts a connection, trying each at most once."""
        for _ in range(len(pool)):
            backend = pool[self.next % len(pool)]
            self.next += 1
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    return (backend, *await asyncio.open_connection(backend.host, backend.port))
            except (OSError, TimeoutError):
                self.report(f"backend {backend.name} did not accept: skipped")
        self.report("no backend accepted the connection: closed")
        return None

    async def splice(self, client_r, client_w, backend_r, backend_w) -> None:
        """Copy bytes both ways until both sides have finished, or one fails, or both stay
        silent for idle_timeout (as load-balancing/l4_proxy.py does)."""
        last_seen = [asyncio.get_running_loop().time()]
        pipes = {asyncio.create_task(self.pipe(client_r, backend_w, last_seen)),
                 asyncio.create_task(self.pipe(backend_r, client_w, last_seen))}
        try:
            while pipes:
                done, pipes = await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
                if not all(pipe.result() for pipe in done):
                    return
        finally:
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)

    async def pipe(self, source, sink, last_seen: list[float]) -> bool:
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    async with asyncio.timeout(self.idle_timeout):
                        data = await source.read(64 * 1024)
                except TimeoutError:
                    if loop.time() - last_seen[0] >= self.idle_timeout:
                        return False  # silent both ways
                    continue
                if not data:
                    if sink.can_write_eof():
                        sink.write_eof()  # pass the half-close on
                    return True
                last_seen[0] = loop.time()
                sink.write(data)
                async with asyncio.timeout(self.idle_timeout):
                    await sink.drain()
        except (OSError, TimeoutError):  # a reset, or a socket the other side already closed
            return False

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.server = await asyncio.start_server(self.handle, host, port)
        return self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.server.wait_closed()


# --- The backends: HTTP/1.1 over TLS 1.3, with certificates from a local CA ---------------------

def local_root_ca() -> trustme.CA:
    """A root certificate authority made for this run: the only one the client trusts."""
    return trustme.CA(organization_name="Local Root CA", organization_unit_name="demo")


# --8<-- [start:certificates]
def server_context(root: trustme.CA, *names: str) -> ssl.SSLContext:
    """TLS 1.3 only, ALPN http/1.1, and a certificate for ``names`` issued by an intermediate
    CA that the root signed: the server sends its certificate and the intermediate's, and the
    client, which trusts only the root, checks the chain and the name."""
    issuing = trustme.CA(parent_cert=root, organization_name="Shop Issuing CA",
                         organization_unit_name="demo")
    leaf = issuing.issue_cert(*names, common_name=names[0], organization_name="Shop",
                              organization_unit_name="web")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.set_alpn_protocols(["http/1.1"])
    leaf.configure_cert(context)  # the key, and the chain: leaf, then intermediate
    return context


def client_context(root_pem: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the name
    context.load_verify_locations(cadata=root_pem)  # trusts our root, nothing else
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.set_alpn_protocols(["http/1.1"])
    return context
# --8<-- [end:certificates]


class Handler(BaseHTTPRequestHandler):
    """Answers every GET with a small page that says which backend served it, and which
    request on this connection it was (HTTP/1.1 keeps the connection open between them)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # the head and the body leave at once, not after an ACK
    timeout = 5  # an idle keep-alive connection, or a stalled request, is closed
    default_request_version = "HTTP/1.0"  # an unreadable request line still gets a status line

    def setup(self) -> None:
        super().setup()
        self.requests = 0

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        self.requests += 1
        first = f"{self.server.name}: {self.command} {self.path}, " \
                f"request {self.requests} on this connection\n"
        body = (first + "." * PAGE_BYTES)[:PAGE_BYTES - 1].encode("utf-8", "replace") + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET


def discard_unread(tls: ssl.SSLSocket) -> None:
    """Half-close, then read and drop what the client still sends (for at most a second, at
    most 1 MiB), so that closing with unread bytes does not make the kernel reset the
    connection and destroy an error answer still on its way (RFC 9112 section 9.6)."""
    with contextlib.suppress(OSError):
        tls.shutdown(socket.SHUT_WR)  # a FIN after our last record; reads are raw from here
        deadline, dropped = time.monotonic() + 1.0, 0
        while dropped < 1 << 20 and (left := deadline - time.monotonic()) > 0:
            tls.settimeout(left)
            data = tls.recv(65536)
            if not data:
                break
            dropped += len(data)


class Backend(ThreadingHTTPServer):
    """http.server over TLS, each connection's handshake in the connection's own thread."""

    daemon_threads = False  # server_close() waits for the connections to finish
    request_queue_size = 128  # the listen backlog

    def __init__(self, name: str, context: ssl.SSLContext,
                 address: tuple[str, int] = ("127.0.0.1", 0)) -> None:
        super().__init__(address, Handler)
        self.name, self.context = name, context

    def finish_request(self, request: socket.socket, client_address) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that refused us, or does not speak TLS
        with tls:
            self.RequestHandlerClass(tls, client_address, self)
            discard_unread(tls)

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError | ssl.SSLError):
            super().handle_error(request, client_address)  # a bug of ours: print it


# --- The client: what a browser does, one timed step at a time -----------------------------------

STEPS = ("DNS", "TCP connect", "TLS handshake", "request", "first byte", "last byte")


@dataclass
class Fetch:
    """One request: its timed steps, and what each step found."""

    url: str
    steps: dict[str, tuple[float, float]] = field(default_factory=dict)  # name -> start, end
    new_connection: bool = False
    dns_from_cache: bool = False
    dns_records: list[str] = field(default_factory=list)  # "CNAME shop.example. (TTL 3600)"
    authoritative: bool = False
    address: str = ""
    tls_version: str = ""
    cipher: str = ""
    alpn: str | None = None
    resumed: bool = False
    certificate_names: list[str] = field(default_factory=list)
    issuer: str = ""
    status_line: str = ""
    body: bytes = b""

    @contextlib.contextmanager
    def step(self, name: str, clock: Callable[[], float]) -> Iterator[None]:
        start = clock()
        yield
        self.steps[name] = (start, clock())


class ProtocolError(Exception):
    """The server's response is not one this client can read."""


# --8<-- [start:client]
class Browser:
    """Resolves, connects, handshakes, then sends requests on the kept-alive connection."""

    def __init__(self, resolver: dns.resolver.Resolver, context: ssl.SSLContext, port: int,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.resolver, self.context, self.port, self.clock = resolver, context, port, clock
        self.connection: ssl.SSLSocket | None = None  # open between requests (keep-alive)
        self.session: ssl.SSLSession | None = None  # the last connection's ticket

    def get(self, url: str) -> Fetch:
        parts = urlsplit(url)
        host, fetch = parts.hostname, Fetch(url)
        if self.connection is None:
            fetch.new_connection = True
            hits = self.resolver.cache.hits()
            with fetch.step("DNS", self.clock):
                answer = self.resolver.resolve(host, "A")  # the cache, or a query
            fetch.dns_from_cache = self.resolver.cache.hits() > hits
            with fetch.step("TCP connect", self.clock):
                raw = socket.create_connection((answer[0].address, self.port), TIMEOUT)
            with fetch.step("TLS handshake", self.clock):
                self.connection = self.handshake(raw, host)
            self.describe(fetch, answer)
        request = (f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{self.port}\r\n"
                   "Accept: */*\r\n\r\n").encode()
        try:
            with fetch.step("request", self.clock):
                self.connection.sendall(request)
            with fetch.step("first byte", self.clock):
                received = self.connection.recv(64 * 1024)
        except OSError:  # a reset: the server had closed the connection
            received = b""
        if not received and not fetch.new_connection:  # it closed the kept-alive connection
            self.close()  # (its idle timeout): GET is safe to send again, on a new one
            return self.get(url)
        with fetch.step("last byte", self.clock):
            head, fetch.body = self.read_response(received)
        fetch.status_line = head.split(b"\r\n")[0].decode("latin-1")
        self.session = self.connection.session  # with its ticket: the next handshake resumes
        if re.search(rb"\r\nconnection: *close", head, re.I):
            self.close()  # the server said it closes after this response
        return fetch

    def handshake(self, raw: socket.socket, host: str) -> ssl.SSLSocket:
        try:  # checks the chain to our root and that the certificate names ``host``
            return self.context.wrap_socket(raw, server_hostname=host, session=self.session)
        except BaseException:
            raw.close()
            raise
# --8<-- [end:client]

    def describe(self, fetch: Fetch, answer: dns.resolver.Answer) -> None:
        """What the DNS answer and the handshake established, for the transcript."""
        fetch.address = answer[0].address
        fetch.authoritative = bool(answer.response.flags & dns.flags.AA)
        fetch.dns_records = [f"{dns.rdatatype.to_text(rrset.rdtype)} {rdata} (TTL {rrset.ttl})"
                             for rrset in answer.response.answer for rdata in rrset]
        tls = self.connection
        fetch.tls_version, fetch.cipher = tls.version(), tls.cipher()[0]
        fetch.alpn, fetch.resumed = tls.selected_alpn_protocol(), tls.session_reused
        certificate = tls.getpeercert()
        fetch.certificate_names = [value for kind, value in certificate["subjectAltName"]
                                   if kind == "DNS"]
        fetch.issuer = dict(part for rdn in certificate["issuer"] for part in rdn)[
            "organizationName"]

    def read_response(self, data: bytes) -> tuple[bytes, bytes]:
        """A response head and its body, by Content-Length (the only framing it accepts)."""
        while b"\r\n\r\n" not in data:
            if len(data) > MAX_HEAD:
                raise ProtocolError(f"a response head over {MAX_HEAD} bytes")
            data += self.more()
        head, _, body = data.partition(b"\r\n\r\n")
        if not re.match(rb"HTTP/1\.1 \d{3} ", head):
            raise ProtocolError(f"not an HTTP/1.1 status line: {head[:40]!r}")
        lengths = re.findall(rb"\r\ncontent-length: *(\d{1,9}) *(?=\r\n|$)", head, re.I)
        if len(lengths) != 1 or int(lengths[0]) > MAX_BODY:
            raise ProtocolError("no usable Content-Length in the response")
        while len(body) < int(lengths[0]):
            body += self.more()
        if len(body) > int(lengths[0]):
            self.close()
            raise ProtocolError("more bytes than the Content-Length: an answer not asked for")
        return head, body

    def more(self) -> bytes:
        data = self.connection.recv(64 * 1024)
        if not data:
            self.close()
            raise ProtocolError("the server closed the connection in the middle of a response")
        return data

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def make_resolver(host: str, port: int) -> dns.resolver.Resolver:
    """A stub resolver that asks one name server (ours) and caches answers for their TTL."""
    resolver = dns.resolver.Resolver(configure=False)  # not the system's /etc/resolv.conf
    resolver.nameservers, resolver.port = [host], port
    resolver.timeout, resolver.lifetime = 2.0, TIMEOUT
    resolver.cache = dns.resolver.Cache()
    return resolver


# --- Running it all -------------------------------------------------------------------------------

@dataclass
class Site:
    dns: DNSServer
    dns_port: int
    balancer: Balancer
    port: int
    backends: list[Backend]
    root_pem: str


def on(loop: asyncio.AbstractEventLoop, coroutine):
    """Run a coroutine on the servers' event loop (in its own thread) and wait for it."""
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(TIMEOUT * 2)


@contextlib.contextmanager
def running_site(root: trustme.CA, host: str = "127.0.0.1", port: int = 0, dns_port: int = 0,
                 shared_context: bool = True) -> Iterator[Site]:
    """The DNS server and the balancer on an event loop in a thread, two backends in threads
    of their own. The backends share one TLS context, so a session ticket one of them issues
    the other accepts (a fleet shares its ticket keys); ``shared_context=False`` gives each
    its own."""
    contexts = [server_context(root, *NAMES)]
    contexts.append(contexts[0] if shared_context else server_context(root, *NAMES))
    backends = [Backend(name, context)
                for name, context in zip(("b1", "b2"), contexts, strict=True)]
    threads = [threading.Thread(target=b.serve_forever, args=(0.05,)) for b in backends]
    loop = asyncio.new_event_loop()
    threads.append(threading.Thread(target=loop.run_forever, name="dns-and-balancer"))
    for thread in threads:
        thread.start()
    started = []
    try:
        dns_server = DNSServer()
        chosen_dns_port = on(loop, dns_server.start(host, dns_port))
        started.append(dns_server)
        upstreams = [Upstream(b.name, *b.server_address[:2]) for b in backends]
        balancer = Balancer({name: upstreams for name in NAMES})
        chosen_port = on(loop, balancer.start(host, port))
        started.append(balancer)
        yield Site(dns_server, chosen_dns_port, balancer, chosen_port, backends,
                   root.cert_pem.bytes().decode())
    finally:
        for server in reversed(started):
            on(loop, server.close())
        loop.call_soon_threadsafe(loop.stop)
        for backend in backends:
            backend.shutdown()
            backend.server_close()
        for thread in threads:
            thread.join(TIMEOUT * 2)
        loop.close()


# --- The transcript -------------------------------------------------------------------------------

def tls_view(fetch: Fetch, routed: Routed | None, ticket_from: str | None) -> list[str]:
    """The handshake: what the balancer read in the clear, then what the client established."""
    lines = []
    if routed is not None:
        hello, server = routed.client_hello, routed.server_hello
        ticket = "offers a session ticket" if hello.psk else "no session ticket"
        lines += [f"ClientHello, read by the balancer: SNI {hello.sni}, "
                  f"ALPN {', '.join(hello.alpn)},",
                  f"  {', '.join(hello.versions)}, key share {', '.join(hello.key_shares)}, "
                  f"{ticket}: to backend {routed.backend}"]
        if server is not None:
            lines.append(f"{server.kind}, passed back: {', '.join(server.versions)}, "
                         f"{server.cipher_suites[0]}, key share {server.key_shares[0]}")
            if server.psk:
                lines.append("  and pre_shared_key: the ticket was accepted")
    lines.append(f"the client: {fetch.tls_version}, {fetch.cipher}, ALPN {fetch.alpn}; "
                 + ("resumed:" if fetch.resumed else "a full handshake:"))
    if fetch.resumed:
        lines.append(f"  no certificate sent: the ticket {ticket_from} issued was accepted")
    else:
        lines += [f"  certificate for {', '.join(fetch.certificate_names)}, issued by "
                  f"{fetch.issuer},", "  its chain to the local root CA verified"]
    return lines


def show(fetch: Fetch, routed: Routed | None, ticket_from: str | None = None) -> None:
    """Print what happened at each step of ``fetch`` (and nothing about how long it took)."""
    rows: list[tuple[str, str]] = []
    if fetch.new_connection:
        name = urlsplit(fetch.url).hostname
        if fetch.dns_from_cache:
            rows.append(("DNS", f"{name} A? answered from the resolver's cache: no query sent"))
        else:
            authority = ", authoritative (AA)" if fetch.authoritative else ""
            rows += [("DNS", f"{name} A? asked the DNS server (nothing cached):"),
                     ("", f"  {', '.join(fetch.dns_records)}{authority}")]
        rows.append(("TCP connect", f"to {fetch.address}, the balancer: a new connection"))
        rows += [("TLS handshake" if i == 0 else "", line)
                 for i, line in enumerate(tls_view(fetch, routed, ticket_from))]
    else:
        rows += [("skipped", "DNS, TCP connect and TLS handshake: the connection is open,"),
                 ("", "  and the balancer chose nothing: it still leads to the same backend")]
    first_line = fetch.body.split(b"\n", 1)[0].decode()
    rows += [("request", f"GET {urlsplit(fetch.url).path or '/'} HTTP/1.1, encrypted: the "
                         "balancer cannot read it"),
             ("first byte", fetch.status_line),
             ("last byte", f"{len(fetch.body)}-byte body, it begins: {first_line}")]
    for step, text in rows:
        print(f"  {step:<13} {text}")


def demo() -> None:
    root = local_root_ca()
    with running_site(root) as site:
        print("On 127.0.0.1, on ports the OS chose: an authoritative DNS server for shop.example,")
        print("two HTTPS backends (b1, b2) with certificates from a local CA, and an L4 balancer")
        print("that passes TLS through to them. The client trusts one root CA: the local one.")
        browser = Browser(make_resolver("127.0.0.1", site.dns_port),
                          client_context(site.root_pem), site.port)
        routed = site.balancer.routed
        try:
            for url, note in [("https://www.shop.example/cart", "no connection open yet"),
                              ("https://www.shop.example/checkout", "the connection is open"),
                              ("https://www.shop.example/", "a new connection")]:
                if note == "a new connection":
                    browser.close()
                    print("The connection closes; the user comes back later.")
                before = len(routed)
                fetch = browser.get(url)
                print(f"GET {url}  ({note})")
                show(fetch, routed[before] if len(routed) > before else None,
                     routed[before - 1].backend if before else None)
        finally:
            browser.close()
        typo, queries = "wwww.shop.example", len(site.dns.queries)
        for attempt in ("A typo,", "Asked again:"):
            try:
                browser.resolver.resolve(typo, "A")
            except dns.resolver.NXDOMAIN as error:
                soa = error.response(dns.name.from_text(typo)).authority[0]
                if len(site.dns.queries) > queries:
                    print(f"{attempt} {typo} A?: NXDOMAIN from the DNS server, with the "
                          "zone's SOA:")
                    print(f'  TTL {soa.ttl}, so the resolver caches the "no" for {soa.ttl} s '
                          "(RFC 2308)")
                else:
                    print(f"{attempt} NXDOMAIN from the resolver's cache, no query sent")
                queries = len(site.dns.queries)
        print(f"The DNS server answered {len(site.dns.queries)} queries in all: "
              f"{', '.join(site.dns.queries)}")
        print(f"The balancer routed {len(routed)} connections for 3 requests: "
              f"{', then '.join(r.backend for r in routed)}")


def wait_for_ctrl_c() -> None:
    threading.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["demo", "server", "client"], default="demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443, help="the balancer's port")
    parser.add_argument("--dns-port", type=int, default=5353, help="the DNS server's port")
    parser.add_argument("--ca", default="ca.pem", help="where the server writes its root CA")
    args = parser.parse_args(argv)
    if args.mode == "server":
        root = local_root_ca()
        Path(args.ca).write_bytes(root.cert_pem.bytes())
        with running_site(root, args.host, args.port, args.dns_port) as site:
            print(f"https://www.shop.example:{site.port}/ through the balancer on {args.host}; "
                  f"DNS on {args.host}:{site.dns_port}; CA in {args.ca}; Ctrl-C to stop",
                  flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                wait_for_ctrl_c()
    elif args.mode == "client":
        browser = Browser(make_resolver(args.host, args.dns_port),
                          client_context(Path(args.ca).read_text()), args.port)
        try:
            for path in ("/cart", "/checkout"):
                fetch = browser.get(f"https://www.shop.example{path}")
                print(f"GET {fetch.url}: {fetch.status_line}, {len(fetch.body)} bytes, "
                      f"{fetch.tls_version or 'same connection'}")
        finally:
            browser.close()
    else:
        demo()


if __name__ == "__main__":
    main()
