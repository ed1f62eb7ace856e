import asyncio
import random

import pytest

from tests.support import SNIPPETS, load_snippet, run_demo

udp = load_snippet("transport/udp_echo.py")


@pytest.fixture
async def echo(no_task_leaks):
    transport, server = await udp.start_server()
    yield server, transport.get_extra_info("sockname")[1]
    transport.close()


async def test_each_datagram_comes_back_whole_and_separate(echo):
    _, port = echo
    messages = [b"a", b"bb", b"ccc" * 100, bytes(range(256))]
    assert await udp.echo_datagrams("127.0.0.1", port, messages) == messages


async def test_garbage_is_echoed_like_anything_else(echo):
    server, port = echo
    rng = random.Random(3)
    garbage = [rng.randbytes(rng.randint(1, udp.MAX_DATAGRAM)) for _ in range(20)]
    assert await udp.echo_datagrams("127.0.0.1", port, garbage) == garbage
    assert server.errors == []


async def test_oversize_datagram_gets_an_error_and_others_are_served(echo):
    server, port = echo
    results = await asyncio.gather(
        udp.echo_datagrams("127.0.0.1", port, [bytes(udp.MAX_DATAGRAM + 1)]),
        udp.echo_datagrams("127.0.0.1", port, [b"fine"]),
    )
    assert results == [
        [b"error: datagram of 1201 bytes exceeds the 1200-byte limit"],
        [b"fine"],
    ]
    assert server.errors == ["datagram of 1201 bytes exceeds the 1200-byte limit"]


async def test_a_largest_datagram_is_still_echoed(echo):
    _, port = echo
    assert await udp.echo_datagrams("127.0.0.1", port, [bytes(udp.MAX_DATAGRAM)]) == [
        bytes(udp.MAX_DATAGRAM)
    ]


async def test_silence_is_a_timeout(echo, no_task_leaks):
    transport, _ = await udp.start_server()
    port = transport.get_extra_info("sockname")[1]
    transport.close()
    with pytest.raises(TimeoutError):
        await udp.echo_datagrams("127.0.0.1", port, [b"anyone?"], timeout=0.05)


def test_demo_runs_as_a_script():
    out = run_demo(SNIPPETS / "transport/udp_echo.py")
    assert "boundaries kept (each receive is one whole datagram): True" in out


def test_main_dispatches_each_command(run_main, capsys):
    assert run_main(udp, "server", "--port", "9") == "run_server"
    assert run_main(udp, "client", "--port", "9", "hi", result=[b"hi"]) == "echo_datagrams"
    assert capsys.readouterr().out == "hi\n"
    assert run_main(udp) == "demo"


async def test_server_command_serves_until_cancelled(monkeypatch, no_task_leaks):
    started = asyncio.Queue()
    real_start = udp.start_server

    async def spy(*args):
        transport, server = await real_start(*args)
        started.put_nowait(transport.get_extra_info("sockname")[1])
        return transport, server

    monkeypatch.setattr(udp, "start_server", spy)
    task = asyncio.create_task(udp.run_server("127.0.0.1", 0))
    port = await started.get()
    assert await udp.echo_datagrams("127.0.0.1", port, [b"hi"]) == [b"hi"]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
