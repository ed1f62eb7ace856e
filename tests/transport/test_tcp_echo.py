import asyncio

import pytest

from tests.support import SNIPPETS, load_snippet, run_demo

tcp = load_snippet("transport/tcp_echo.py")


@pytest.fixture
async def echo(no_task_leaks):
    server_state = tcp.EchoServer(max_frame=1024, timeout=2.0)
    server = await tcp.start_server(server_state)
    async with server:
        yield server_state, server.sockets[0].getsockname()[1]


async def open_raw(port):
    return await asyncio.open_connection("127.0.0.1", port)


async def close(writer):
    writer.close()
    await writer.wait_closed()


async def test_frames_come_back_as_the_messages_that_were_sent(echo):
    state, port = echo
    messages = [b"", b"a", b"two words", bytes(range(256)), b"x" * 1024]
    assert await tcp.echo_messages("127.0.0.1", port, messages) == messages
    assert await state.outcomes.get() == "clean close after 5 frames"


async def test_frames_split_across_many_writes_are_reassembled(echo):
    state, port = echo
    reader, writer = await open_raw(port)
    wire = tcp.encode_frame(b"hello") + tcp.encode_frame(b"world")
    for byte in wire:  # one byte per write: the receiver must not care
        writer.write(bytes([byte]))
        await writer.drain()
    writer.write_eof()
    assert await tcp.read_frame(reader) == (tcp.DATA, b"hello")
    assert await tcp.read_frame(reader) == (tcp.DATA, b"world")
    assert await tcp.read_frame(reader) is None  # the server's FIN after the last reply
    await close(writer)
    assert await state.outcomes.get() == "clean close after 2 frames"


async def test_oversize_prefix_gets_an_error_frame_and_other_clients_lose_nothing(echo):
    state, port = echo
    good_reader, good_writer = await open_raw(port)
    good_writer.write(tcp.encode_frame(b"before"))
    assert await tcp.read_frame(good_reader) == (tcp.DATA, b"before")

    bad_reader, bad_writer = await open_raw(port)
    bad_writer.write(tcp.HEADER.pack(tcp.DATA, 1025))
    kind, payload = await tcp.read_frame(bad_reader)
    assert kind == tcp.ERROR
    assert payload == b"frame of 1025 bytes exceeds the 1024-byte limit"
    assert await bad_reader.read() == b""  # and the server closed that connection
    await close(bad_writer)
    assert await state.outcomes.get() == "error: frame of 1025 bytes exceeds the 1024-byte limit"

    good_writer.write(tcp.encode_frame(b"after"))
    assert await tcp.read_frame(good_reader) == (tcp.DATA, b"after")
    await close(good_writer)


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        (b"\x00\x00", "truncated header: 2 of 5 bytes"),
        (tcp.HEADER.pack(tcp.DATA, 10) + b"abc", "truncated frame: the stream ended after 3 of 10"),
        (tcp.HEADER.pack(9, 1) + b"x", "unknown frame kind 9"),
    ],
)
async def test_a_client_that_vanishes_mid_message_is_reported(echo, wire, error):
    state, port = echo
    _, writer = await open_raw(port)
    writer.write(wire)
    await close(writer)
    assert (await state.outcomes.get()).startswith(f"error: {error}")


async def test_a_client_that_stalls_mid_frame_times_out():
    state = tcp.EchoServer(timeout=0.1)
    server = await tcp.start_server(state)
    async with server:
        reader, writer = await open_raw(server.sockets[0].getsockname()[1])
        writer.write(tcp.HEADER.pack(tcp.DATA, 10) + b"abc")  # and then nothing
        kind, payload = await tcp.read_frame(reader)
        assert (kind, payload) == (tcp.ERROR, b"error: no complete frame for 0.1 s")
        await close(writer)
        assert await state.outcomes.get() == "error: no complete frame for 0.1 s"


async def test_a_client_that_resets_while_the_server_writes_is_survived(echo):
    state, port = echo
    reader, writer = await open_raw(port)
    writer.write(tcp.encode_frame(b"x" * 1024) * 200)  # replies pile up: nobody reads them
    await writer.drain()
    writer.transport.abort()
    outcome = await state.outcomes.get()
    assert outcome.startswith(("error: connection lost", "clean close", "error: truncated"))
    assert await tcp.echo_messages("127.0.0.1", port, [b"ok"]) == [b"ok"]


async def test_client_raises_the_servers_error():
    state = tcp.EchoServer(max_frame=4)
    server = await tcp.start_server(state)
    async with server:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(tcp.FrameError, match="server refused: frame of 5 bytes exceeds"):
            await tcp.echo_messages("127.0.0.1", port, [b"12345"])
        await state.outcomes.get()


async def test_tcp_is_a_byte_stream():
    first_reads, big_reads = await tcp.show_byte_stream()
    assert b"".join(first_reads) == b"alphabetagamma"
    assert big_reads > 1


def test_demo_runs_as_a_script():
    assert "clean close after 3 frames" in run_demo(SNIPPETS / "transport/tcp_echo.py")


def test_main_dispatches_each_command(run_main, capsys):
    assert run_main(tcp, "server", "--port", "9") == "run_server"
    assert run_main(tcp, "client", "--port", "9", "hi", result=[b"hi"]) == "echo_messages"
    assert capsys.readouterr().out == "hi\n"
    assert run_main(tcp) == "demo"


async def test_server_command_serves_until_cancelled(monkeypatch, capsys, no_task_leaks):
    started = asyncio.Queue()
    real_start = tcp.start_server

    async def spy(*args):
        server = await real_start(*args)
        started.put_nowait(server.sockets[0].getsockname()[1])
        return server

    monkeypatch.setattr(tcp, "start_server", spy)
    task = asyncio.create_task(tcp.run_server("127.0.0.1", 0))
    port = await started.get()
    assert await tcp.echo_messages("127.0.0.1", port, [b"hi"]) == [b"hi"]
    while "clean close after 1 frames" not in capsys.readouterr().out:
        await asyncio.sleep(0)  # run_server prints the outcome on its next step
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
