import asyncio
import sys
import threading

import pytest
import trustme

from tests.support import SNIPPETS, load_snippet, run_demo

quic = load_snippet("transport/quic_echo.py")


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture
async def echo(ca, no_task_leaks):
    state = quic.EchoServer()
    server = await state.start("127.0.0.1", 0, ca)
    yield state, server._transport.get_extra_info("sockname")[1]
    await state.close(server)


async def test_concurrent_streams_are_echoed_each_on_its_own(echo, ca):
    state, port = echo
    messages = [b"one", b"", b"x" * 50_000, bytes(range(256))]
    replies = await quic.echo_all("127.0.0.1", port, ca.cert_pem.bytes(), messages)
    # client-initiated bidirectional streams are numbered 0, 4, 8, ... (RFC 9000, section 2.1)
    assert replies == [(0, b"one"), (4, b""), (8, b"x" * 50_000), (12, bytes(range(256)))]
    assert state.errors == []


async def test_a_client_that_trusts_another_authority_refuses_the_server(echo, ca):
    state, port = echo
    stranger = trustme.CA().cert_pem.bytes()
    with pytest.raises(ConnectionError, match="handshake failed .*unable to get local issuer"):
        await quic.echo_all("127.0.0.1", port, stranger, [b"hello"])
    # and the server still serves the clients that do trust it
    assert await quic.echo_all("127.0.0.1", port, ca.cert_pem.bytes(), [b"ok"]) == [(0, b"ok")]


async def test_a_certificate_for_another_name_is_refused(ca, no_task_leaks):
    state = quic.EchoServer()
    server = await state.start("127.0.0.1", 0, ca)
    port = server._transport.get_extra_info("sockname")[1]
    configuration = quic.client_configuration(ca.cert_pem.bytes())
    configuration.server_name = "example.com"  # the certificate names localhost and 127.0.0.1
    try:
        with pytest.raises(ConnectionError, match="doesn't match"):
            async with quic.open_connection("127.0.0.1", port, configuration):
                pass
    finally:
        await state.close(server)


async def test_nobody_answering_is_a_timeout(ca, no_task_leaks, monkeypatch):
    state = quic.EchoServer()
    server = await state.start("127.0.0.1", 0, ca)
    port = server._transport.get_extra_info("sockname")[1]
    await state.close(server)
    monkeypatch.setattr(quic, "TIMEOUT", 0.2)
    with pytest.raises(TimeoutError):  # UDP gives no "connection refused": only silence
        await quic.echo_all("127.0.0.1", port, ca.cert_pem.bytes(), [b"anyone?"])


async def test_an_oversize_stream_gets_an_error_and_other_streams_are_fine(echo, ca):
    state, port = echo
    big = b"y" * (quic.MAX_MESSAGE + 1)
    replies = await quic.echo_all("127.0.0.1", port, ca.cert_pem.bytes(), [big, b"small"])
    assert replies == [(0, b"error: message longer than 65536 bytes"), (4, b"small")]
    assert state.errors == ["stream longer than the 65536-byte limit"]


async def test_a_stream_left_open_times_out_on_the_server(ca, no_task_leaks):
    state = quic.EchoServer(timeout=0.2)
    server = await state.start("127.0.0.1", 0, ca)
    port = server._transport.get_extra_info("sockname")[1]
    try:
        configuration = quic.client_configuration(ca.cert_pem.bytes())
        async with quic.open_connection("127.0.0.1", port, configuration) as client:
            reader, writer = await client.create_stream()
            writer.write(b"no end")  # and never a FIN
            assert await reader.read() == b""  # the server gives up and closes its side
            writer.close()
        assert state.errors == ["stream incomplete after 0.2 s"]
    finally:
        await state.close(server)


async def test_resumption_sends_the_request_as_0rtt(echo, ca):
    _, port = echo
    pem = ca.cert_pem.bytes()
    ticket = await quic.fetch_ticket("127.0.0.1", port, pem)
    assert await quic.echo_in_0rtt("127.0.0.1", port, pem, ticket, b"again") == (
        b"again", True, True)


async def test_a_used_ticket_is_not_accepted_twice(echo, ca):
    _, port = echo
    pem = ca.cert_pem.bytes()
    ticket = await quic.fetch_ticket("127.0.0.1", port, pem)
    await quic.echo_in_0rtt("127.0.0.1", port, pem, ticket, b"first")
    # a replay of the same ticket falls back to a full handshake: no 0-RTT data accepted
    assert await quic.echo_in_0rtt("127.0.0.1", port, pem, ticket, b"replay") == (
        b"replay", False, False)


async def test_a_server_that_sends_no_ticket_is_reported(ca, no_task_leaks):
    state = quic.EchoServer()
    server = await quic.serve("127.0.0.1", 0, configuration=quic.server_configuration(ca),
                              stream_handler=state.on_stream)  # no ticket handler: no tickets
    port = server._transport.get_extra_info("sockname")[1]
    try:
        with pytest.raises(ConnectionError, match="no session ticket"):
            await quic.fetch_ticket("127.0.0.1", port, ca.cert_pem.bytes())
    finally:
        await state.close(server)


def test_demo_runs_as_a_script():
    out = run_demo(SNIPPETS / "transport/quic_echo.py")
    assert "session resumed: True, sent as 0-RTT data: True" in out


def test_main_dispatches_each_command(run_main):
    assert run_main(quic, "server", "--port", "9") == "run_server"
    assert run_main(quic, "client", "--port", "9", "hi") == "run_client"
    assert run_main(quic) == "demo"


async def test_server_and_client_commands(monkeypatch, capsys, tmp_path, no_task_leaks):
    ports = asyncio.Queue()
    real_start = quic.EchoServer.start

    async def spy(self, *args):
        server = await real_start(self, *args)
        ports.put_nowait(server._transport.get_extra_info("sockname")[1])
        return server

    monkeypatch.setattr(quic.EchoServer, "start", spy)
    ca_file = tmp_path / "echo-ca.pem"
    task = asyncio.create_task(quic.run_server("127.0.0.1", 0, ca_file))
    port = await ports.get()
    await quic.run_client("127.0.0.1", port, ca_file, ["hello", "world"])
    assert capsys.readouterr().out.endswith("stream 0: hello\nstream 4: world\n")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.fixture
def server_in_a_thread(ca):
    """The echo server on an event loop of its own, for main(), which calls asyncio.run."""
    loop = asyncio.new_event_loop()
    state = quic.EchoServer()
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    try:
        server = asyncio.run_coroutine_threadsafe(state.start("127.0.0.1", 0, ca), loop).result(5)
        yield server._transport.get_extra_info("sockname")[1]
        asyncio.run_coroutine_threadsafe(state.close(server), loop).result(5)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


@pytest.mark.parametrize(
    ("ca_file", "message"),
    [("stranger.pem", "handshake failed (QUIC error 0x12a): unable to get local issuer"),
     ("missing.pem", "No such file or directory")],
)
def test_the_client_command_says_why_it_failed_without_a_traceback(
        server_in_a_thread, tmp_path, monkeypatch, capsys, ca_file, message):
    (tmp_path / "stranger.pem").write_bytes(trustme.CA().cert_pem.bytes())
    monkeypatch.setattr(sys, "argv", ["quic_echo.py", "client", "--port", str(server_in_a_thread),
                                      "--ca-file", str(tmp_path / ca_file), "hello"])
    with pytest.raises(SystemExit) as exit:
        quic.main()
    assert str(exit.value).startswith("quic_echo.py client: ") and message in str(exit.value)
    assert "Traceback" not in capsys.readouterr().err
