import asyncio
import struct
import sys
import threading

import dns.asyncquery
import dns.asyncresolver
import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.resolver
import pytest

from tests.support import load_snippet

ds = load_snippet("application/dns_server.py")


def ask(name: str, kind: str = "A", transport: str = "udp", **options) -> dns.message.Message:
    wire = ds.answer(dns.message.make_query(name, kind, **options).to_wire(), transport)
    return dns.message.from_wire(wire)


def addresses(reply: dns.message.Message) -> list[str]:
    return sorted(rdata.to_text() for rrset in reply.answer for rdata in rrset)


def test_answers_from_the_zone_with_the_authoritative_flag():
    reply = ask("www.example.test")
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.flags & dns.flags.AA and reply.flags & dns.flags.QR
    assert addresses(reply) == ["192.0.2.10", "192.0.2.11"]
    assert reply.answer[0].ttl == 300


def test_names_are_case_insensitive():
    assert addresses(ask("WWW.Example.TEST")) == ["192.0.2.10", "192.0.2.11"]


def test_a_cname_is_followed_inside_the_zone():
    reply = ask("api.example.test")
    assert [rrset.rdtype for rrset in reply.answer] == [5, 1]  # CNAME, then A
    assert reply.answer[0][0].to_text() == "www.example.test."
    assert str(reply.answer[1].name) == "www.example.test."


def test_asking_for_the_cname_itself():
    reply = ask("api.example.test", "CNAME")
    assert len(reply.answer) == 1 and reply.answer[0][0].to_text() == "www.example.test."


def test_unknown_name_is_nxdomain_and_known_name_without_the_type_is_nodata():
    assert ask("nope.example.test").rcode() == dns.rcode.NXDOMAIN
    nodata = ask("www.example.test", "AAAA")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer


def test_names_outside_the_zone_are_refused_without_authority():
    reply = ask("example.com")
    assert reply.rcode() == dns.rcode.REFUSED and not reply.flags & dns.flags.AA


def test_oversize_udp_answer_is_truncated_and_tcp_is_not():
    udp = ask("big.example.test")
    assert udp.flags & dns.flags.TC and not udp.answer
    assert len(udp.to_wire()) <= 512
    tcp = ask("big.example.test", transport="tcp")
    assert not tcp.flags & dns.flags.TC and len(addresses(tcp)) == 40


def test_edns_buffer_size_lets_a_larger_answer_through_udp():
    reply = ask("big.example.test", use_edns=0, payload=1232)
    assert not reply.flags & dns.flags.TC and len(addresses(reply)) == 40


def test_garbage_with_a_header_gets_formerr_with_the_id_echoed():
    wire = ds.answer(b"\x12\x34\x01\x00\x00\x01" + b"\x00" * 6 + b"\xc0\x0c\x00\x01\x00\x01", "udp")
    query_id, flags = struct.unpack_from("!HH", wire)
    assert query_id == 0x1234 and flags & 0x8000 and flags & 0x0F == dns.rcode.FORMERR
    assert flags & 0x0100  # RD copied from the query


def test_fewer_than_12_bytes_get_no_answer():
    assert ds.answer(b"\x00" * 11, "udp") is None


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_response_is_never_answered_even_a_malformed_one(transport):
    response = dns.message.make_response(dns.message.make_query("www.example.test", "A"))
    assert ds.answer(response.to_wire(), transport) is None
    assert ds.answer(b"\x12\x34\x81\x00" + b"\xff" * 20, transport) is None  # QR, then junk


def test_a_query_without_exactly_one_question_is_formerr():
    query = dns.message.make_query("www.example.test", "A")
    query.question = []
    reply = ds.answer(query.to_wire(), "udp")
    assert struct.unpack_from("!H", reply, 2)[0] & 0x0F == dns.rcode.FORMERR


def test_an_edns_version_other_than_0_gets_badvers_with_edns_0():
    reply = ask("www.example.test", use_edns=1)
    assert reply.rcode() == dns.rcode.BADVERS and reply.edns == 0 and not reply.answer


@pytest.fixture
async def servers():
    servers = await ds.start_servers()
    try:
        yield servers
    finally:
        await servers.close()


async def test_a_response_sent_to_the_server_gets_no_answer(servers):
    """From one socket: a response, then a query. The first datagram back answers the query
    (the server reads its datagrams in order, and loopback keeps their order)."""
    response = dns.message.make_response(dns.message.make_query("www.example.test", "A"))
    query = dns.message.make_query("www.example.test", "A")
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        ds.ClientProtocol, remote_addr=("127.0.0.1", servers.port))
    try:
        transport.sendto(response.to_wire())
        transport.sendto(query.to_wire())
        async with asyncio.timeout(5):
            first = dns.message.from_wire(await protocol.replies.get())
        assert query.is_response(first) and first.rcode() == dns.rcode.NOERROR
    finally:
        transport.close()


async def test_two_servers_never_answer_each_other(servers, monkeypatch):
    """One datagram that gets an error answer, sent by a server to another: before, FORMERR
    answered FORMERR back and forth for ever at full speed."""
    received = []
    original = ds.UDPServer.datagram_received

    def recording(self, data, addr):
        received.append((self.transport.get_extra_info("sockname")[1], data))
        original(self, data, addr)

    monkeypatch.setattr(ds.UDPServer, "datagram_received", recording)
    other = await ds.start_servers()
    try:
        garbage = b"\xbe\xef\x01\x00" + b"\xff" * 20
        other.udp.sendto(garbage, ("127.0.0.1", servers.port))  # FORMERR comes back to other
        for _ in range(2):  # each answer comes after any datagram the servers exchanged
            _, reply = await ds.resolve("www.example.test", "127.0.0.1", servers.port)
            assert reply.rcode() == dns.rcode.NOERROR
        to_servers = [data for port, data in received if port == servers.port]
        to_other = [data for port, data in received if port == other.port]
        assert to_servers[0] == garbage and len(to_servers) == 3  # the garbage, the 2 queries
        assert len(to_other) == 1 and to_other[0][3] & 0x0F == dns.rcode.FORMERR  # dropped
    finally:
        await other.close()


# --- dnspython, the resolver library applications use, as the client ---

async def test_dnspython_over_udp_and_tcp(servers):
    query = dns.message.make_query("www.example.test", "A")
    for ask_with in (dns.asyncquery.udp, dns.asyncquery.tcp):
        reply = await ask_with(query, "127.0.0.1", port=servers.port, timeout=5)
        assert addresses(reply) == ["192.0.2.10", "192.0.2.11"] and reply.flags & dns.flags.AA
    big = dns.message.make_query("big.example.test", "A")
    reply, used_tcp = await dns.asyncquery.udp_with_fallback(big, "127.0.0.1", timeout=5,
                                                              port=servers.port)
    assert used_tcp and len(addresses(reply)) == 40  # TC over UDP, then the whole answer


async def test_dnspython_resolver_follows_the_cname_and_reports_nxdomain(servers):
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = servers.port
    resolver.timeout = resolver.lifetime = 5
    answer = await resolver.resolve("api.example.test", "A")
    assert answer.canonical_name.to_text() == "www.example.test."
    assert sorted(rdata.address for rdata in answer) == ["192.0.2.10", "192.0.2.11"]
    assert len(await resolver.resolve("big.example.test", "A")) == 40  # it retried over TCP
    with pytest.raises(dns.resolver.NXDOMAIN):
        await resolver.resolve("nope.example.test", "A")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_dnspython_with_edns_version_1_gets_badvers(servers, transport):
    query = dns.message.make_query("www.example.test", "A", use_edns=1)
    ask_with = dns.asyncquery.udp if transport == "udp" else dns.asyncquery.tcp
    reply = await ask_with(query, "127.0.0.1", port=servers.port, timeout=5)
    assert dns.rcode.to_text(reply.rcode()) == "BADVERS" and reply.edns == 0


async def test_client_retries_over_tcp_only_when_truncated():
    servers = await ds.start_servers()
    try:
        how, reply = await ds.resolve("big.example.test", "127.0.0.1", servers.port)
        assert how == "udp, truncated, then tcp" and len(addresses(reply)) == 40
        how, reply = await ds.resolve("www.example.test", "127.0.0.1", servers.port)
        assert how == "udp" and addresses(reply) == ["192.0.2.10", "192.0.2.11"]
    finally:
        await servers.close()


async def test_garbage_datagrams_do_not_stop_the_server():
    servers = await ds.start_servers()
    try:
        assert await ds.send_raw_udp(b"abc", "127.0.0.1", servers.port, wait=0.2) is None
        garbage = b"\xbe\xef\x01" + b"\xff" * 40  # a query (QR clear) that does not parse
        reply = await ds.send_raw_udp(garbage, "127.0.0.1", servers.port)
        assert reply[:2] == b"\xbe\xef" and reply[3] & 0x0F == dns.rcode.FORMERR
        _, reply = await ds.resolve("www.example.test", "127.0.0.1", servers.port)
        assert reply.rcode() == dns.rcode.NOERROR
    finally:
        await servers.close()


async def test_tcp_carries_several_queries_on_one_connection():
    servers = await ds.start_servers()
    reader, writer = await asyncio.open_connection("127.0.0.1", servers.port)
    try:
        queries = [dns.message.make_query(n, "A") for n in ("www.example.test", "big.example.test")]
        for query in queries:  # pipelined: both sent before reading
            wire = query.to_wire()
            writer.write(struct.pack("!H", len(wire)) + wire)
        for query in queries:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            assert query.is_response(dns.message.from_wire(await reader.readexactly(length)))
    finally:
        writer.close()
        await writer.wait_closed()
        await servers.close()


async def test_tcp_garbage_closes_only_that_connection():
    servers = await ds.start_servers()
    bad_reader, bad_writer = await asyncio.open_connection("127.0.0.1", servers.port)
    try:
        bad_writer.write(b"\x00\x03abc")  # a 3-byte "message": no header, nothing to answer
        assert await bad_reader.read() == b""  # the server closed this connection
        _, reply = await ds.resolve("big.example.test", "127.0.0.1", servers.port)
        assert len(addresses(reply)) == 40
    finally:
        bad_writer.close()
        await bad_writer.wait_closed()
        await servers.close()


async def test_a_client_that_stalls_mid_message_does_not_block_others(monkeypatch):
    monkeypatch.setattr(ds, "TIMEOUT", 0.1)  # the server cuts idle clients after 5 * TIMEOUT
    servers = await ds.start_servers()
    stalled_reader, stalled_writer = await asyncio.open_connection("127.0.0.1", servers.port)
    try:
        stalled_writer.write(b"\x00\x40\x12")  # says 64 bytes, sends 1, then nothing
        await stalled_writer.drain()
        reply = await ds.query_tcp(
            dns.message.make_query("www.example.test", "A"), "127.0.0.1", servers.port
        )
        assert addresses(reply) == ["192.0.2.10", "192.0.2.11"]
        async with asyncio.timeout(5):
            assert await stalled_reader.read() == b""  # cut off after the idle timeout
    finally:
        stalled_writer.close()
        await stalled_writer.wait_closed()
        await servers.close()


class Replier(asyncio.DatagramProtocol):
    """A fake server: answers every query first with a wrong id, then with nothing at all."""

    def __init__(self, silent: bool) -> None:
        self.silent = silent

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        if self.silent:
            return
        query = dns.message.from_wire(data)
        stray = dns.message.make_response(query)
        stray.id ^= 1
        self.transport.sendto(stray.to_wire(), addr)
        self.transport.sendto(dns.message.make_response(query).to_wire(), addr)


@pytest.mark.parametrize("silent", [False, True])
async def test_client_ignores_stray_replies_and_times_out(monkeypatch, silent):
    monkeypatch.setattr(ds, "TIMEOUT", 0.2)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: Replier(silent), local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    query = dns.message.make_query("www.example.test", "A")
    try:
        if silent:
            with pytest.raises(TimeoutError):
                await ds.query_udp(query, "127.0.0.1", port)
        else:
            reply = await ds.query_udp(query, "127.0.0.1", port)
            assert reply.id == query.id
    finally:
        transport.close()


async def test_asking_for_a_port_that_is_taken_fails_clearly():
    servers = await ds.start_servers()
    try:
        with pytest.raises(OSError):
            await ds.start_servers(port=servers.port)
    finally:
        await servers.close()


async def test_serve_runs_until_cancelled(capsys):
    servers = await ds.start_servers()
    port = servers.port
    await servers.close()
    task = asyncio.create_task(ds.serve("127.0.0.1", port))
    try:
        for _ in range(100):  # wait until it has printed that it listens
            if "serving" in capsys.readouterr().out:
                break
            await asyncio.sleep(0.01)
        _, reply = await ds.resolve("www.example.test", "127.0.0.1", port)
        assert reply.rcode() == dns.rcode.NOERROR
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_client_command_against_a_running_server(monkeypatch, capsys):
    ready, stop, ports = threading.Event(), threading.Event(), []

    async def run_server():
        servers = await ds.start_servers()
        ports.append(servers.port)
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        await servers.close()

    thread = threading.Thread(target=asyncio.run, args=(run_server(),))
    thread.start()
    try:
        assert ready.wait(5)
        monkeypatch.setattr(sys, "argv", ["dns_server.py", "client", "--port", str(ports[0])])
        ds.main()
    finally:
        stop.set()
        thread.join(5)
    assert "big.example.test A via udp, truncated, then tcp: NOERROR" in capsys.readouterr().out


def test_server_command_stops_quietly_on_ctrl_c(monkeypatch):
    async def interrupted(host, port):
        assert (host, port) == ("127.0.0.1", 5353)
        raise KeyboardInterrupt

    monkeypatch.setattr(ds, "serve", interrupted)
    monkeypatch.setattr(sys, "argv", ["dns_server.py", "server"])
    ds.main()  # returns: Ctrl-C is the way to stop a server


async def test_port_taken_for_udp_makes_it_try_another(monkeypatch):
    loop = asyncio.get_running_loop()
    real, calls = loop.create_datagram_endpoint, []

    async def busy_once(*args, **kwargs):
        calls.append(kwargs["local_addr"][1])
        if len(calls) == 1:
            raise OSError("address in use")
        return await real(*args, **kwargs)

    monkeypatch.setattr(loop, "create_datagram_endpoint", busy_once)
    servers = await ds.start_servers()
    try:
        assert len(calls) == 2 and servers.port == calls[1]
    finally:
        await servers.close()


async def test_gives_up_when_no_port_is_free_for_both(monkeypatch):
    loop = asyncio.get_running_loop()

    async def always_busy(*args, **kwargs):
        raise OSError("address in use")

    monkeypatch.setattr(loop, "create_datagram_endpoint", always_busy)
    with pytest.raises(OSError, match="no port free for both UDP and TCP"):
        await ds.start_servers()
