import asyncio
import contextlib
import re
import select
import socket
import ssl
import struct
import threading
from pathlib import Path

import dns.asyncquery
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import pytest
import trustme

from tests.support import load_snippet, read_to_close

one = load_snippet("fundamentals/one_request.py")

# RFC 8448, section 3 (Simple 1-RTT Handshake): the ClientHello and ServerHello records
RFC8448_CLIENT_HELLO = bytes.fromhex("""
16 03 01 00 c4 01 00 00 c0 03 03 cb 34 ec b1 e7 81 63 ba 1c 38 c6 da cb 19 6a 6d ff a2 1a 8d 99
12 ec 18 a2 ef 62 83 02 4d ec e7 00 00 06 13 01 13 03 13 02 01 00 00 91 00 00 00 0b 00 09 00 00
06 73 65 72 76 65 72 ff 01 00 01 00 00 0a 00 14 00 12 00 1d 00 17 00 18 00 19 01 00 01 01 01 02
01 03 01 04 00 23 00 00 00 33 00 26 00 24 00 1d 00 20 99 38 1d e5 60 e4 bd 43 d2 3d 8e 43 5a 7d
ba fe b3 c0 6e 51 c1 3c ae 4d 54 13 69 1e 52 9a af 2c 00 2b 00 03 02 03 04 00 0d 00 20 00 1e 04
03 05 03 06 03 02 03 08 04 08 05 08 06 04 01 05 01 06 01 02 01 04 02 05 02 06 02 02 02 00 2d 00
02 01 01 00 1c 00 02 40 01""")
RFC8448_SERVER_HELLO = bytes.fromhex("""
16 03 03 00 5a 02 00 00 56 03 03 a6 af 06 a4 12 18 60 dc 5e 6e 60 24 9c d3 4c 95 93 0c 8a c5 cb
14 34 da c1 55 77 2e d3 e2 69 28 00 13 01 00 00 2e 00 33 00 24 00 1d 00 20 c9 82 88 76 11 20 95
fe 66 76 2b db f7 c6 72 e1 56 d6 cc 25 3b 83 3d f1 dd 69 b1 b0 4e 75 1f 0f 00 2b 00 02 03 04""")

CART, CHECKOUT, HOME = (f"https://www.shop.example{path}" for path in ("/cart", "/checkout", "/"))


@pytest.fixture(scope="module")
def root():
    return one.local_root_ca()


@pytest.fixture
def site(root):
    with one.running_site(root) as running:
        yield running


def browser_for(site, root_pem: str | None = None) -> "one.Browser":
    return one.Browser(one.make_resolver("127.0.0.1", site.dns_port),
                       one.client_context(root_pem or site.root_pem), site.port)


@contextlib.contextmanager
def browsing(site, root_pem: str | None = None):
    browser = browser_for(site, root_pem)
    try:
        yield browser
    finally:
        browser.close()


# --- The whole path ------------------------------------------------------------------------------

def test_the_first_request_takes_every_step_through_the_dns_server_and_the_balancer(site):
    with browsing(site) as browser:
        fetch = browser.get(CART)
    # each step happened, once, in order, and was timed
    assert list(fetch.steps) == list(one.STEPS)
    ends = [end for _, end in fetch.steps.values()]
    starts = [start for start, _ in fetch.steps.values()]
    assert all(start <= end for start, end in fetch.steps.values())
    assert all(later >= earlier for earlier, later in zip(ends, starts[1:], strict=False))
    # the name was resolved by our DNS server, through the CNAME, authoritatively
    assert fetch.new_connection and not fetch.dns_from_cache
    assert site.dns.queries == ["www.shop.example. A"]
    assert fetch.dns_records == ["CNAME shop.example. (TTL 3600)", "A 127.0.0.1 (TTL 300)"]
    assert fetch.authoritative and fetch.address == "127.0.0.1"
    # TLS 1.3 with ALPN http/1.1, the certificate verified (CERT_REQUIRED, the name checked)
    assert (fetch.tls_version, fetch.alpn, fetch.resumed) == ("TLSv1.3", "http/1.1", False)
    assert fetch.certificate_names == ["www.shop.example", "shop.example"]
    assert fetch.issuer == "Shop Issuing CA"
    assert browser.context.verify_mode == ssl.CERT_REQUIRED and browser.context.check_hostname
    # the balancer read the cleartext hellos, chose a backend, and that backend answered
    (routed,) = site.balancer.routed
    hello, server = routed.client_hello, routed.server_hello
    assert (hello.sni, hello.alpn, hello.versions, hello.psk) == (
        "www.shop.example", ["http/1.1"], ["TLS 1.3"], False)
    assert server.kind == "ServerHello" and server.versions == ["TLS 1.3"]
    assert server.cipher_suites == [fetch.cipher] and server.key_shares[0] in hello.key_shares
    assert routed.backend in ("b1", "b2")
    assert fetch.status_line == "HTTP/1.1 200 OK" and len(fetch.body) == one.PAGE_BYTES
    assert fetch.body.startswith(f"{routed.backend}: GET /cart, request 1 on this".encode())


def test_the_second_request_reuses_the_connection_and_skips_dns_tcp_and_tls(site):
    with browsing(site) as browser:
        browser.get(CART)
        connection, local = browser.connection, browser.connection.getsockname()
        fetch = browser.get(CHECKOUT)
        assert browser.connection is connection and connection.getsockname() == local
    assert not fetch.new_connection
    assert list(fetch.steps) == ["request", "first byte", "last byte"]
    assert site.dns.queries == ["www.shop.example. A"]  # no second query
    (routed,) = site.balancer.routed  # no second connection, no second choice
    assert fetch.body.startswith(f"{routed.backend}: GET /checkout, request 2 on this".encode())


def test_a_new_connection_uses_the_dns_cache_and_resumes_tls_on_the_other_backend(site):
    with browsing(site) as browser:
        browser.get(CART)
        browser.close()
        fetch = browser.get(HOME)
    assert fetch.new_connection and fetch.dns_from_cache
    assert site.dns.queries == ["www.shop.example. A"]
    first, second = site.balancer.routed
    assert {first.backend, second.backend} == {"b1", "b2"}  # round robin, per connection
    assert second.client_hello.psk and second.server_hello.psk  # offered, and accepted
    assert fetch.resumed and fetch.tls_version == "TLSv1.3"
    assert fetch.body.startswith(f"{second.backend}: GET /, request 1".encode())


def test_backends_with_their_own_ticket_keys_cannot_resume_each_others_sessions(root):
    with one.running_site(root, shared_context=False) as site, browsing(site) as browser:
        browser.get(CART)
        browser.close()
        fetch = browser.get(HOME)
        _, second = site.balancer.routed
    assert second.client_hello.psk and not second.server_hello.psk  # offered, refused
    assert not fetch.resumed and fetch.certificate_names  # a full handshake instead


def test_a_kept_alive_connection_the_server_closed_is_replaced(site, monkeypatch):
    monkeypatch.setattr(one.Handler, "timeout", 0.2)  # the backends' idle timeout
    with browsing(site) as browser:
        browser.get(CART)
        readable, _, _ = select.select([browser.connection], [], [], 5)  # the server's close
        assert readable
        fetch = browser.get(CHECKOUT)
    assert fetch.new_connection and fetch.dns_from_cache  # a new one, without a new query
    assert fetch.status_line == "HTTP/1.1 200 OK" and len(site.balancer.routed) == 2


def test_a_client_trusting_another_root_refuses_the_certificate(site):
    other = trustme.CA().cert_pem.bytes().decode()
    with browsing(site, other) as browser, pytest.raises(ssl.SSLCertVerificationError) as error:
        browser.get(CART)
    assert error.value.reason == "CERTIFICATE_VERIFY_FAILED"
    assert browser.connection is None
    with browsing(site) as browser:  # and the servers keep serving
        assert browser.get(CART).status_line == "HTTP/1.1 200 OK"


def test_a_certificate_that_does_not_name_the_host_is_refused(site):
    context = one.client_context(site.root_pem)
    with (socket.create_connection(site.backends[0].server_address, timeout=5) as raw,
          pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch")):
        context.wrap_socket(raw, server_hostname="admin.shop.example")


def test_the_client_trusts_only_the_root_so_the_server_must_send_the_intermediate(root):
    context = one.server_context(root, "www.shop.example")
    # the leaf is signed by the intermediate: the chains verified above were the server's
    client = one.client_context(root.cert_pem.bytes().decode())
    assert [c["subject"] for c in client.get_ca_certs()] == [
        ((("organizationName", "Local Root CA"),), (("organizationalUnitName", "demo"),))]
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3
    assert client.minimum_version == ssl.TLSVersion.TLSv1_3


# --- The hellos, against RFC 8448's example handshake --------------------------------------------

def test_parses_the_rfc_8448_client_hello():
    hello = one.parse_hello(RFC8448_CLIENT_HELLO)
    assert hello == one.Hello(
        "ClientHello",
        cipher_suites=["TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256",
                       "TLS_AES_256_GCM_SHA384"],
        sni="server", alpn=[], versions=["TLS 1.3"], key_shares=["x25519"])


def test_parses_the_rfc_8448_server_hello():
    hello = one.parse_hello(RFC8448_SERVER_HELLO)
    assert hello == one.Hello("ServerHello", cipher_suites=["TLS_AES_128_GCM_SHA256"],
                              versions=["TLS 1.3"], key_shares=["x25519"])


def test_a_server_hello_with_the_special_random_is_a_hello_retry_request():
    retry = bytearray(RFC8448_SERVER_HELLO)
    retry[11:43] = one.RETRY_RANDOM
    assert one.parse_hello(bytes(retry)).kind == "HelloRetryRequest"


def hello_record(message: bytes, record_length: int | None = None) -> bytes:
    length = len(message) if record_length is None else record_length
    return b"\x16\x03\x01" + length.to_bytes(2, "big") + message


def test_every_truncation_is_refused_with_a_clear_error():
    message = RFC8448_CLIENT_HELLO[5:]
    for size in range(len(RFC8448_CLIENT_HELLO)):  # the record cut short
        with pytest.raises(one.HelloError, match="cut short"):
            one.parse_hello(RFC8448_CLIENT_HELLO[:size])
    for size in range(len(message)):  # a whole record, holding part of a hello
        with pytest.raises(one.HelloError, match="cut short"):
            one.parse_hello(hello_record(message[:size]))


def test_other_bytes_are_refused_with_a_clear_error():
    with pytest.raises(one.HelloError, match="not a TLS handshake record"):
        one.parse_hello(b"GET / HTTP/1.1\r\n\r\n")
    with pytest.raises(one.HelloError, match="message type 11, not a hello"):
        one.parse_hello(hello_record(b"\x0b\x00\x00\x00"))  # a Certificate message
    odd = bytearray(RFC8448_CLIENT_HELLO)
    odd[44:46] = b"\x00\x05"  # cipher suites: 5 bytes, not whole 2-byte codes
    with pytest.raises(one.HelloError, match="odd number of bytes"):
        one.parse_hello(bytes(odd))
    bad_name = RFC8448_CLIENT_HELLO.replace(b"server", b"serv r")
    with pytest.raises(one.HelloError, match="not a DNS host name"):
        one.parse_hello(bad_name)


def test_reads_alpn_psk_and_early_data_from_a_client_hello():
    # the RFC's hello plus ALPN (h2, http/1.1), pre_shared_key and early_data extensions
    alpn = b"\x00\x10\x00\x0e\x00\x0c\x02h2\x08http/1.1"
    extra = alpn + b"\x00\x2a\x00\x00" + b"\x00\x29\x00\x00"
    message = bytearray(RFC8448_CLIENT_HELLO[5:])
    extensions_at = 4 + 2 + 32 + 1 + 2 + 6 + 2  # type+length, version, random, ids, suites
    old = int.from_bytes(message[extensions_at:extensions_at + 2], "big")
    message[extensions_at:extensions_at + 2] = (old + len(extra)).to_bytes(2, "big")
    message += extra
    message[1:4] = (len(message) - 4).to_bytes(3, "big")
    hello = one.parse_hello(hello_record(bytes(message)))
    assert (hello.alpn, hello.psk, hello.early_data) == (["h2", "http/1.1"], True, True)


# --- The balancer: bad input ends one connection, and never another ------------------------------

@pytest.fixture
def backends(root):
    context = one.server_context(root, *one.NAMES)
    started = [one.Backend(name, context) for name in ("b1", "b2")]
    threads = [threading.Thread(target=b.serve_forever, args=(0.05,))
               for b in started]
    for thread in threads:
        thread.start()
    yield [one.Upstream(b.name, *b.server_address[:2]) for b in started]
    for backend in started:
        backend.shutdown()
        backend.server_close()
    for thread in threads:
        thread.join(5)


async def fetch_through(port: int, root: trustme.CA, name: str = "www.shop.example") -> str:
    """A GET through the balancer with asyncio's TLS; the response's first body line."""
    context = one.client_context(root.cert_pem.bytes().decode())
    async with asyncio.timeout(5):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context,
                                                       server_hostname=name)
        try:
            writer.write(f"GET /x HTTP/1.1\r\nHost: {name}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 OK")
            return (await reader.readline()).decode().strip()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()

async def test_the_balancer_closes_what_is_not_a_client_hello_and_serves_others(backends, root):
    reports: list[str] = []
    balancer = one.Balancer({"www.shop.example": backends}, hello_timeout=0.3,
                            report=reports.append)
    port = await balancer.start()
    try:
        silent_reader, silent_writer = await asyncio.open_connection("127.0.0.1", port)
        assert await read_to_close(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == b""
        assert await read_to_close(port, b"\x16\x03\x01\xff\xff") == b""  # a 64 KiB record
        assert await read_to_close(port, RFC8448_CLIENT_HELLO[:100]) == b""  # then silence
        assert await read_to_close(port, hello_record(b"\x0b\x00\x00\x00")) == b""
        assert await fetch_through(port, root) == "b1: GET /x, request 1 on this connection"
        async with asyncio.timeout(5):
            assert await silent_reader.read() == b""  # the silent client: cut off
        silent_writer.close()
        await silent_writer.wait_closed()
    finally:
        await balancer.close()
    assert "connection dropped: not a TLS handshake record" in reports
    assert "connection dropped: a TLS record of 65535 bytes: more than 2^14" in reports
    assert "connection dropped: TimeoutError" in reports
    assert "connection dropped: handshake message type 11, not a hello" in reports
    assert len(balancer.routed) == 1 and not balancer.tasks


async def test_the_balancer_routes_by_server_name(backends, root):
    reports: list[str] = []
    balancer = one.Balancer({"www.shop.example": backends[:1], "shop.example": backends[1:]},
                            report=reports.append)
    port = await balancer.start()
    try:
        assert (await fetch_through(port, root, "shop.example")).startswith("b2:")
        assert (await fetch_through(port, root, "www.shop.example")).startswith("b1:")
        with pytest.raises((ConnectionError, ssl.SSLError)):
            await fetch_through(port, root, "admin.shop.example")
    finally:
        await balancer.close()
    assert reports == ["no backend for server name admin.shop.example: closed"]


async def test_the_balancer_skips_a_backend_that_is_down(backends, root):
    reports: list[str] = []
    down = one.Upstream("b0", "127.0.0.1", await closed_port())
    balancer = one.Balancer({"www.shop.example": [down, backends[0]]}, report=reports.append)
    port = await balancer.start()
    try:
        assert (await fetch_through(port, root)).startswith("b1:")
        balancer.pools["www.shop.example"] = [down]
        with pytest.raises((ConnectionError, ssl.SSLError)):
            await fetch_through(port, root)
    finally:
        await balancer.close()
    assert reports == ["backend b0 did not accept: skipped", "backend b0 did not accept: skipped",
                       "no backend accepted the connection: closed"]


async def test_a_backend_that_answers_with_an_alert_is_passed_through(root):
    """The ServerHello's place holds an alert: the balancer passes it on and lets TLS fail."""
    async def alert(reader, writer):
        await reader.read(5)
        writer.write(b"\x15\x03\x03\x00\x02\x02\x46")  # fatal protocol_version
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(alert, "127.0.0.1", 0)
    upstream = one.Upstream("old", "127.0.0.1", server.sockets[0].getsockname()[1])
    balancer = one.Balancer({"www.shop.example": [upstream]})
    port = await balancer.start()
    try:
        with pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION"):
            await fetch_through(port, root)
    finally:
        await balancer.close()
        server.close()
        await server.wait_closed()
    (routed,) = balancer.routed
    assert routed.backend == "old" and routed.server_hello is None


async def closed_port() -> int:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


# --- The DNS server ------------------------------------------------------------------------------

def ask(name: str, kind: str = "A", **options) -> dns.message.Message:
    return dns.message.from_wire(one.answer(dns.message.make_query(name, kind, **options)
                                            .to_wire()))


def test_a_name_that_does_not_exist_comes_with_the_soa_that_says_how_long_to_cache_it():
    reply = ask("wwww.shop.example")
    assert reply.rcode() == dns.rcode.NXDOMAIN and reply.flags & dns.flags.AA
    (soa,) = reply.authority
    assert soa.ttl == 60 == soa[0].minimum  # min(SOA TTL 3600, minimum 60): RFC 2308


def test_a_name_without_the_type_asked_is_nodata_with_the_soa():
    reply = ask("www.shop.example", "AAAA")
    assert reply.rcode() == dns.rcode.NOERROR
    assert [rrset.to_text() for rrset in reply.answer] == [
        "www.shop.example. 3600 IN CNAME shop.example."]
    assert reply.authority[0].rdtype == dns.rdatatype.SOA


def test_other_zones_garbage_and_responses():
    assert ask("example.com").rcode() == dns.rcode.REFUSED
    assert ask("shop.example", "A", use_edns=1).rcode() == dns.rcode.BADVERS
    assert ask("shop.example", "NS").answer[0][0].to_text() == "ns1.shop.example."
    formerr = one.answer(b"\xbe\xef\x01\x00\x00\x02" + b"\x00" * 6)  # two questions, none there
    assert formerr[:2] == b"\xbe\xef" and formerr[3] & 0x0F == dns.rcode.FORMERR
    two = dns.message.make_query("shop.example", "A")
    two.question.append(dns.message.make_query("www.shop.example", "A").question[0])
    reply = one.answer(two.to_wire())
    assert reply[3] & 0x0F == dns.rcode.FORMERR  # two real questions: not a query it answers
    assert one.answer(b"abc") is None
    response = dns.message.make_response(dns.message.make_query("shop.example", "A"))
    assert one.answer(response.to_wire()) is None  # never answer an answer


async def test_the_dns_server_answers_over_udp_and_tcp_and_survives_bad_clients():
    server = one.DNSServer()
    port = await server.start()
    try:
        query = dns.message.make_query("shop.example", "A")
        udp = await dns.asyncquery.udp(query, "127.0.0.1", port=port, timeout=2)
        tcp = await dns.asyncquery.tcp(query, "127.0.0.1", port=port, timeout=2)
        assert udp.answer == tcp.answer and udp.answer[0][0].to_text() == "127.0.0.1"
        # garbage over TCP: the server closes that connection
        assert await read_to_close(port, struct.pack("!H", 3) + b"abc") == b""
        assert await read_to_close(port, b"\x00", eof=True) == b""  # half a length, then gone
        again = await dns.asyncquery.tcp(query, "127.0.0.1", port=port, timeout=2)
        assert again.answer == udp.answer
    finally:
        await server.close()
    assert server.queries == ["shop.example. A"] * 3

async def test_the_dns_server_refuses_a_port_whose_udp_side_is_taken():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        with pytest.raises(OSError):
            await one.DNSServer().start("127.0.0.1", taken.getsockname()[1])


def test_the_resolver_caches_a_no_as_long_as_the_soa_says(site):
    resolver = one.make_resolver("127.0.0.1", site.dns_port)
    for _ in range(2):
        with pytest.raises(dns.resolver.NXDOMAIN):
            resolver.resolve("wwww.shop.example", "A")
    assert site.dns.queries == ["wwww.shop.example. A"]  # the second came from the cache


# --- The client's reading of a response ----------------------------------------------------------

class Replay:
    """A connection that returns the given chunks, then end of file."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)

    def recv(self, size: int) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""

    def close(self) -> None:
        pass


@pytest.mark.parametrize(("chunks", "error"), [
    ((b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 3000,), "a response head over"),
    ((b"SSH-2.0-OpenSSH\r\n\r\n",), "not an HTTP/1.1 status line"),
    ((b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",), "no usable Content-Length"),
    ((b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",),
     "no usable Content-Length"),
    ((b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf",), "closed the connection"),
    ((b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabcdef",), "more bytes than"),
])
def test_a_response_it_cannot_read_is_a_clear_error(chunks, error):
    browser = one.Browser(dns.resolver.Resolver(configure=False), ssl.create_default_context(), 1)
    browser.connection = Replay(*chunks[1:])
    with pytest.raises(one.ProtocolError, match=error):
        browser.read_response(chunks[0])


def test_a_response_read_in_pieces_is_put_together():
    browser = one.Browser(dns.resolver.Resolver(configure=False), ssl.create_default_context(), 1)
    browser.connection = Replay(b"Content-Length: 2\r\n", b"\r\no", b"k")
    head, body = browser.read_response(b"HTTP/1.1 200 OK\r\n")
    assert head == b"HTTP/1.1 200 OK\r\nContent-Length: 2" and body == b"ok"


def test_a_response_that_says_close_closes_the_connection(site, monkeypatch):
    monkeypatch.setattr(one.Handler, "send_header", close_after(one.Handler.send_header))
    with browsing(site) as browser:
        fetch = browser.get(CART)
        assert fetch.status_line == "HTTP/1.1 200 OK" and browser.connection is None


def close_after(send_header):
    def sending(handler, name, value):
        send_header(handler, name, value)
        if name == "Content-Length":
            send_header(handler, "Connection", "close")
    return sending


# --- The command line ----------------------------------------------------------------------------

def test_server_and_client_modes(tmp_path: Path, monkeypatch, capsys):
    ca = tmp_path / "ca.pem"
    started = []
    monkeypatch.setattr(one, "wait_for_ctrl_c", lambda: started.append(True))
    one.main(["server", "--port", "0", "--dns-port", "0", "--ca", str(ca)])
    assert started and ca.read_text().startswith("-----BEGIN CERTIFICATE-----")
    printed = capsys.readouterr().out
    assert "https://www.shop.example:" in printed and "Ctrl-C to stop" in printed
    with one.running_site(trustme.CA()) as site:
        ca.write_text(site.root_pem)
        one.main(["client", "--port", str(site.port), "--dns-port", str(site.dns_port),
                  "--ca", str(ca)])
    assert capsys.readouterr().out.splitlines() == [
        "GET https://www.shop.example/cart: HTTP/1.1 200 OK, 8192 bytes, TLSv1.3",
        "GET https://www.shop.example/checkout: HTTP/1.1 200 OK, 8192 bytes, same connection",
    ]


# --- The pages that show parts of the transcript --------------------------------------------------

# what each range of lines a page includes from one_request.txt must begin and end with
SHOWN = {
    "transport/tls.md": [
        ("  TLS handshake ClientHello", "its chain to the local root CA verified"),
        ("  TLS handshake ClientHello", "no certificate sent: the ticket b1"),
    ],
    "application/dns.md": [
        ("  DNS           www.shop.example A? asked", "CNAME shop.example."),
        ("  DNS           www.shop.example A? answered from the resolver's cache", "DNS"),
        ("A typo, wwww.shop.example A?: NXDOMAIN", "The DNS server answered"),
    ],
}


@pytest.mark.parametrize("page", SHOWN)
def test_the_lines_a_page_shows_are_the_ones_it_means(page):
    """A page that includes lines of the transcript by number shows what its text describes:
    a change to the demo that moves them fails here, not silently on the page."""
    transcript = (Path(one.__file__).with_suffix(".txt")).read_text().splitlines()
    source = (Path(one.__file__).parents[2] / "docs" / page).read_text()
    ranges = []
    for spec in re.findall(r'--8<-- "fundamentals/one_request\.txt:([\d:,]+)"',
                                         source):
        for part in spec.split(","):
            first, last = map(int, part.split(":"))
            ranges.append((transcript[first - 1], transcript[last - 1].strip()))
    assert len(ranges) == len(SHOWN[page])
    for (first, last), (begins, ends) in zip(ranges, SHOWN[page], strict=True):
        assert first.startswith(begins) and last.startswith(ends), (first, last)
