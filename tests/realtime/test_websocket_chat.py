import asyncio
import contextlib
import random
import socket

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosedError

from tests import support
from tests.support import load_snippet

chat = load_snippet("realtime/websocket_chat.py")

HANDSHAKE = (b"GET /?name=%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
             b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             b"Sec-WebSocket-Version: 13\r\n\r\n")


@contextlib.asynccontextmanager
async def room_server(room=None, **options):
    room = room or chat.ChatRoom()
    options.setdefault("max_size", chat.MAX_MESSAGE)
    async with serve(room.handler, "127.0.0.1", 0, **options) as server:
        yield room, f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/?name="


async def members(room, count: int) -> None:
    async with room.changed:
        await room.changed.wait_for(lambda: len(room.members) == count)


async def recv(websocket) -> str:
    async with asyncio.timeout(5):
        return await websocket.recv()


async def test_everyone_gets_every_message_in_the_same_order():
    async with room_server() as (_, url), connect(url + "ann") as ann, connect(url + "ben") as ben:
        assert await recv(ann) == "* ann joined"
        assert await recv(ann) == "* ben joined"
        assert await recv(ben) == "* ben joined"
        for n in range(20):
            await (ann if n % 2 else ben).send(f"m{n}")
        seen_by_ann = [await recv(ann) for _ in range(20)]
        seen_by_ben = [await recv(ben) for _ in range(20)]
        assert seen_by_ann == seen_by_ben  # one order for everyone: the server's
        for name, first in (("ann", 1), ("ben", 0)):  # and each sender's order is kept
            mine = [line for line in seen_by_ann if line.startswith(name)]
            assert mine == [f"{name}: m{n}" for n in range(first, 20, 2)]
        await ben.close()
        assert await recv(ann) == "* ben left (1000 normal closure)"


@pytest.mark.parametrize(
    ("name", "reason"),
    [("", "join with ?name="), ("a%20b", "join with ?name="), ("x" * 21, "join with ?name="),
     ("ann", "the name ann is taken")],
)
async def test_a_bad_or_taken_name_is_refused_with_1008(name, reason):
    async with room_server() as (room, url), connect(url + "ann") as ann:
        async with connect(url + name) as intruder:
            with pytest.raises(ConnectionClosedError):
                await recv(intruder)
            assert intruder.close_code == 1008 and reason in intruder.close_reason
        assert list(room.members.values()) == ["ann"]
        assert await recv(ann) == "* ann joined"


async def test_binary_is_refused_with_1003_and_others_carry_on():
    async with room_server() as (room, url), connect(url + "ann") as ann:
        await recv(ann)
        async with connect(url + "bin") as sender:
            await sender.send(b"\x00\x01")
            with pytest.raises(ConnectionClosedError):
                await recv(sender)
                await recv(sender)
            assert sender.close_code == 1003
        assert await recv(ann) == "* bin joined"
        assert await recv(ann) == "* bin left (1003 unacceptable data)"
        await ann.send("still fine")
        assert await recv(ann) == "ann: still fine"


async def test_an_oversize_message_ends_with_1009_and_the_others_lose_nothing():
    async with room_server() as (_, url), connect(url + "ann") as ann:
        await recv(ann)
        async with connect(url + "big", max_size=None) as big:
            assert await recv(big) == "* big joined"
            await big.send("x" * (chat.MAX_MESSAGE + 1))
            with pytest.raises(ConnectionClosedError):
                await recv(big)
        assert await recv(ann) == "* big joined"
        assert await recv(ann) == "* big left (1009 message too big)"
        await ann.send("after")
        assert await recv(ann) == "ann: after"


async def test_an_unmasked_client_frame_ends_with_1002():
    async with room_server() as (_, url), connect(url + "ann") as ann:
        await recv(ann)
        port = int(url.split(":")[2].split("/")[0])
        assert await chat.unmasked_frame_gets(port) == "close 1002 incorrect masking"
        assert await recv(ann) == "* mallory joined"
        assert await recv(ann) == "* mallory left (1002 protocol error)"


async def raw_member(url: str, name: bytes, rcvbuf: int | None = None) -> socket.socket:
    """A member made by hand: it does the handshake, then reads nothing unless told to."""
    port = int(url.split(":")[2].split("/")[0])
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    sock.sendall(HANDSHAKE % name)
    response = await asyncio.to_thread(sock.recv, 4096)  # the server runs on this event loop
    assert response.startswith(b"HTTP/1.1 101")
    return sock


async def test_a_client_that_never_answers_pings_is_dropped_with_1011():
    server = room_server(ping_interval=0.05, ping_timeout=0.05, close_timeout=0.1)
    async with server as (room, url), connect(url + "ann") as ann:
        await recv(ann)
        mute = await raw_member(url, b"mute")
        try:
            assert await recv(ann) == "* mute joined"
            assert await recv(ann) == "* mute left (1011 internal error or keepalive timeout)"
            assert list(room.members.values()) == ["ann"]  # ann answers pings: still here
        finally:
            mute.close()


async def test_a_vanished_client_is_removed_and_the_others_carry_on():
    async with room_server() as (room, url), connect(url + "ann") as ann:
        await recv(ann)
        ghost = await raw_member(url, b"ghost")
        assert await recv(ann) == "* ghost joined"
        ghost.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        ghost.close()  # a reset without a close frame
        assert await recv(ann) == "* ghost left (1006 abnormal: no close frame)"
        await members(room, 1)


async def test_a_slow_client_is_cut_off_and_never_stalls_the_others():
    room = chat.ChatRoom(max_backlog=64 * 1024)
    async with room_server(room) as (_, url), connect(url + "ann") as ann:
        await recv(ann)
        slow = await raw_member(url, b"slow", rcvbuf=4096)  # joins, then never reads again
        try:
            assert await recv(ann) == "* slow joined"
            payload = "y" * 60_000
            received, notices = 0, []
            for n in range(150):  # 9 MB in all: far more than the slow client's buffers
                await ann.send(f"{n:03d}{payload}")
                while received <= n:
                    message = await recv(ann)
                    if message.startswith("ann: "):
                        assert message[5:8] == f"{received:03d}"
                        received += 1
                    else:
                        notices.append(message)
            assert notices == ["* slow left (1006 abnormal: no close frame)"]
            await members(room, 1)
        finally:
            slow.close()


async def test_backoff_retries_until_the_server_is_up_then_gives_up_when_it_never_is():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    rng = random.Random(1)
    with pytest.raises(ConnectionError, match="no answer after 3 attempts"):
        await chat.connect_with_backoff(f"ws://127.0.0.1:{port}/", rng=rng, base=0.001,
                                        attempts=3)
    connecting = asyncio.ensure_future(
        chat.connect_with_backoff(f"ws://127.0.0.1:{port}/?name=late", rng=rng, base=0.01))
    room = chat.ChatRoom()
    async with serve(room.handler, "127.0.0.1", port), await connecting as late:
        assert await recv(late) == "* late joined"


async def test_stay_in_chat_reconnects_after_a_drop(capsys):
    async with room_server() as (room, url), connect(url + "obs") as obs:
        assert await recv(obs) == "* obs joined"
        port = int(url.split(":")[2].split("/")[0])
        stayer = asyncio.ensure_future(
            chat.stay_in_chat("127.0.0.1", port, "kim", rng=random.Random(3), base=0.01, limit=3))
        assert await recv(obs) == "* kim joined"
        assert await recv(obs) == "kim: hello, I am kim"
        (kim,) = [member for member, name in room.members.items() if name == "kim"]
        await kim.close(1011, "restarting")  # the server ends kim's connection
        assert await recv(obs) == "* kim left (1011 internal error or keepalive timeout)"
        assert await recv(obs) == "* kim joined"
        async with asyncio.timeout(5):
            await stayer
    assert capsys.readouterr().out == (
        "kim <- * kim joined\n"
        "kim <- kim: hello, I am kim\n"
        "kim: connection closed (1011 internal error or keepalive timeout); reconnecting\n"
        "kim <- * kim joined\n"
    )


async def test_standalone_server(capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = asyncio.ensure_future(chat.serve_forever("127.0.0.1", port))
    try:
        ws = await chat.connect_with_backoff(f"ws://127.0.0.1:{port}/?name=zed",
                                             rng=random.Random(0), base=0.01)
        async with ws:
            assert await recv(ws) == "* zed joined"
    finally:
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server
    assert f"chat at ws://127.0.0.1:{port}/" in capsys.readouterr().out


# --- A real peer: Chromium's own WebSocket ---

WEBSOCKET_PAGE = """<!doctype html><title>WebSocket</title><script>
window.received = [];
window.ended = null;
window.join = (url) => new Promise((resolve, reject) => {
  const socket = new WebSocket(url);
  window.socket = socket;
  socket.onopen = () => resolve();
  socket.onerror = () => reject(new Error("the WebSocket failed"));
  socket.onmessage = (event) => window.received.push(event.data);
  socket.onclose = (event) => { window.ended = [event.code, event.wasClean]; };
});
</script>"""


@pytest.mark.browser
async def test_chromium_websocket_chats_and_gets_close_code_1009_for_an_oversize_message():
    room = chat.ChatRoom()
    async with chat.serve_chat(room, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/?name="
        async with connect(url + "ann") as ann, support.browser_page(WEBSOCKET_PAGE) as page:
            assert await recv(ann) == "* ann joined"
            await page.evaluate("url => window.join(url)", url + "chromium")
            assert await recv(ann) == "* chromium joined"
            await page.evaluate("window.socket.send('hello from a browser')")
            assert await recv(ann) == "chromium: hello from a browser"
            await ann.send("hi, browser")
            assert await recv(ann) == "ann: hi, browser"  # everyone gets it, ann too
            await page.wait_for_function("window.received.length === 3")
            assert await page.evaluate("window.received") == [
                "* chromium joined", "chromium: hello from a browser", "ann: hi, browser"]
            await page.evaluate(f"window.socket.send('x'.repeat({chat.MAX_MESSAGE + 1}))")
            await page.wait_for_function("window.ended !== null")
            assert await page.evaluate("window.ended") == [1009, True]  # a clean close
            assert await recv(ann) == "* chromium left (1009 message too big)"
            await page.evaluate("url => window.join(url)", url + "chromium")  # back again
            assert await recv(ann) == "* chromium joined"
            await page.evaluate("window.socket.close(1000, 'bye')")
            assert await recv(ann) == "* chromium left (1000 normal closure)"
