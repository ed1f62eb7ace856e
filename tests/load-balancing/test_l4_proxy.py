import argparse
import asyncio
import contextlib
import time

import pytest

from tests.support import closed_port, load_snippet, serving

l4 = load_snippet("load-balancing/l4_proxy.py")


class EchoBackend:
    """Not HTTP at all: echoes bytes, and records when the other side closed its connection."""

    def __init__(self) -> None:
        self.freed = asyncio.Event()
        self.connected = asyncio.Event()

    async def start(self, name: str = "echo") -> "l4.Backend":
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return l4.Backend(name, "127.0.0.1", self.server.sockets[0].getsockname()[1])

    async def handle(self, reader, writer):
        self.connected.set()
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            self.freed.set()
        except ConnectionError:
            self.freed.set()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def close(self):
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def backends():
    servers = [l4.NameServer(name) for name in ("b1", "b2", "b3")]
    started = [await server.start() for server in servers]
    yield servers, started
    for server in servers:
        await server.close()


async def test_all_requests_on_one_connection_reach_one_backend(backends):
    _, started = backends
    async with serving(l4.L4Proxy(started)) as port:
        bodies = await l4.get_many("127.0.0.1", port, [f"/{n}" for n in range(6)])
        assert [body.split(":")[0] for body in bodies] == ["b1"] * 6
        assert bodies[5] == "b1: GET /5"
        # each new connection goes to the next backend
        names = []
        for _ in range(4):
            (body,) = await l4.get_many("127.0.0.1", port, ["/"])
            names.append(body.split(":")[0])
        assert names == ["b2", "b3", "b1", "b2"]


async def test_a_backend_that_is_down_is_skipped_with_a_log_line(backends):
    servers, started = backends
    lines = []
    down = l4.Backend("down", "127.0.0.1", await closed_port())
    async with serving(l4.L4Proxy([down, *started[:2]], report=lines.append)) as port:
        first = await l4.get_many("127.0.0.1", port, ["/a"])
        second = await l4.get_many("127.0.0.1", port, ["/b"])
        third = await l4.get_many("127.0.0.1", port, ["/c"])
    assert (first, second, third) == (["b1: GET /a"], ["b2: GET /b"], ["b1: GET /c"])
    assert lines == ["l4: connecting to backend down was refused: skipped"] * 2


async def test_when_no_backend_accepts_the_client_is_closed(caplog):
    lines = []
    down = [l4.Backend(f"d{n}", "127.0.0.1", await closed_port()) for n in (1, 2)]
    async with serving(l4.L4Proxy(down, report=lines.append)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        async with asyncio.timeout(10):
            assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()
    assert lines[-1] == "l4: no backend accepted the connection: closing the client's"
    assert len(lines) == 3


async def test_a_connect_timeout_skips_the_backend(backends):
    _, started = backends
    lines = []
    proxy = l4.L4Proxy(started[:1], connect_timeout=0, report=lines.append)
    async with serving(proxy) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        async with asyncio.timeout(10):
            assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()
    assert lines[0] == "l4: connecting to backend b1 timed out: skipped"


async def test_any_protocol_passes_through_with_backpressure():
    echo = EchoBackend()
    backend = await echo.start()
    async with serving(l4.L4Proxy([backend])) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        payload = bytes(range(256)) * 16 * 1024  # 4 MiB: more than any socket buffer
        writer.write(payload)  # the echo can only go as fast as we read it back
        async with asyncio.timeout(30):
            received = await reader.readexactly(len(payload))
            await writer.drain()
        assert received == payload
        writer.close()
        await writer.wait_closed()
        async with asyncio.timeout(10):
            await echo.freed.wait()  # the proxy closed the backend side too
    await echo.close()


async def test_a_client_that_vanishes_frees_the_backend_connection():
    echo = EchoBackend()
    backend = await echo.start()
    async with serving(l4.L4Proxy([backend])) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"half a mess")
        await writer.drain()
        async with asyncio.timeout(10):
            await echo.connected.wait()
        writer.transport.abort()  # gone, without a goodbye
        async with asyncio.timeout(10):
            await echo.freed.wait()
    await echo.close()


async def test_a_backend_that_closes_closes_the_client(backends):
    servers, started = backends
    async with serving(l4.L4Proxy(started[:1])) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"NOT HTTP\r\n\r\n")  # the name server refuses this, then closes
        async with asyncio.timeout(10):
            assert await reader.read() == (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                           b"Connection: close\r\n\r\n")
        writer.close()
        await writer.wait_closed()


async def test_an_idle_connection_is_closed_on_both_sides():
    echo = EchoBackend()
    backend = await echo.start()
    async with serving(l4.L4Proxy([backend], idle_timeout=0.2)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        async with asyncio.timeout(10):
            assert await reader.read() == b""
            await echo.freed.wait()
        assert time.monotonic() - started < 5
        writer.close()
        await writer.wait_closed()
    await echo.close()


async def test_close_ends_open_connections():
    echo = EchoBackend()
    backend = await echo.start()
    proxy = l4.L4Proxy([backend])
    port = await proxy.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"ping")
    async with asyncio.timeout(10):
        assert await reader.readexactly(4) == b"ping"
    await proxy.close()
    async with asyncio.timeout(10):
        assert await reader.read() == b""
        await echo.freed.wait()
    writer.close()
    await writer.wait_closed()
    await echo.close()


async def test_client_command_prints_who_answered(backends, capsys):
    _, started = backends
    async with serving(l4.L4Proxy(started)) as port:
        await asyncio.to_thread(l4.main, ["client", "--port", str(port)])
    assert capsys.readouterr().out.splitlines() == [f"b1: GET /page/{n}" for n in range(1, 7)]


@pytest.mark.parametrize("own_backend", [False, True])
async def test_serve_runs_until_cancelled(monkeypatch, backends, own_backend):
    _, started = backends
    ready = asyncio.Event()
    lines = []
    monkeypatch.setattr(l4, "print", lambda *a, **k: (lines.append(a[0]), ready.set()),
                        raising=False)
    task = asyncio.create_task(l4.serve("127.0.0.1", 0, started[2:] if own_backend else []))
    async with asyncio.timeout(10):
        await ready.wait()
    port = int(lines[0].split(" ")[3].split(":")[1])
    (body,) = await l4.get_many("127.0.0.1", port, ["/x"])
    assert body == ("b3: GET /x" if own_backend else "b1: GET /x")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_server_command_stops_quietly_on_ctrl_c(monkeypatch):
    seen = []

    async def interrupted(host, port, backends):
        seen.append((host, port, backends))
        raise KeyboardInterrupt

    monkeypatch.setattr(l4, "serve", interrupted)
    l4.main(["server", "--port", "9000", "--backend", "127.0.0.1:8001"])
    assert seen == [("127.0.0.1", 9000, [l4.Backend("127.0.0.1:8001", "127.0.0.1", 8001)])]


@pytest.mark.parametrize("text", ["8001", "host:", ":80", "host:eighty"])
def test_backend_addresses_are_checked(text):
    with pytest.raises(argparse.ArgumentTypeError, match="is not HOST:PORT"):
        l4.parse_backend(text)


async def test_the_demo_backend_closes_its_keep_alive_connections():
    server = l4.NameServer("b9")
    backend = await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", backend.port)
    writer.write(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
    async with asyncio.timeout(10):
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200 OK")
        assert await reader.readexactly(10) == b"b9: GET /x"
    await server.close()
    async with asyncio.timeout(10):
        assert await reader.read() == b"\n"  # the rest of the body, then the end
    writer.close()
    await writer.wait_closed()


async def test_a_half_close_is_passed_on_and_the_answer_still_arrives(backends):
    _, started = backends
    async with serving(l4.L4Proxy(started[:1])) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /last HTTP/1.1\r\nHost: x\r\n\r\n")
        writer.write_eof()  # "nothing more from me", as `nc -N` or a shutdown(SHUT_WR) does
        async with asyncio.timeout(10):
            answer = await reader.read()  # everything until the backend closes too
        assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"b1: GET /last\n")
        writer.close()
        await writer.wait_closed()


async def test_a_quiet_client_does_not_count_as_idle_while_the_server_talks():
    async def trickle(reader, writer):
        for n in range(12):  # 12 x 0.05 s: longer than the proxy's 0.3 s idle timeout
            writer.write(b"%d;" % n)
            await writer.drain()
            await asyncio.sleep(0.05)  # the server's pace, not a synchronisation
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(trickle, "127.0.0.1", 0)
    backend = l4.Backend("push", "127.0.0.1", server.sockets[0].getsockname()[1])
    async with serving(l4.L4Proxy([backend], idle_timeout=0.3)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        async with asyncio.timeout(10):
            received = await reader.read()  # the client never sends a byte
        assert received == b"".join(b"%d;" % n for n in range(12))
        writer.close()
        await writer.wait_closed()
    server.close()
    await server.wait_closed()


async def test_a_half_close_to_a_socket_already_gone_ends_the_pipe_quietly():
    """Passing the FIN on to a peer whose socket is gone raises ENOTCONN, an OSError that is
    not a ConnectionError: the pipe must end (False), not crash its connection's task."""
    import errno

    class Gone:
        def can_write_eof(self) -> bool:
            return True

        def write_eof(self) -> None:
            raise OSError(errno.ENOTCONN, "Transport endpoint is not connected")

    source = asyncio.StreamReader()
    source.feed_eof()
    proxy = l4.L4Proxy([], idle_timeout=1.0)
    assert await proxy.pipe(source, Gone(), [0.0]) is False
