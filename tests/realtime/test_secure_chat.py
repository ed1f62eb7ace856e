import asyncio
import contextlib
import gc
import json
import os
import socket

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from tests import support
from tests.support import closed_port, load_snippet

sc = load_snippet("realtime/secure_chat.py")

GOOD, EVIL = "https://chat.example", "https://evil.example"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def running(factory=sc.SecureChat, **options):
    clock = options.pop("clock", Clock())
    chat = factory(clock=clock, **options)
    port, ws_port = await chat.start()
    try:
        yield chat, port, ws_port, clock
    finally:
        await chat.close()


async def recv(websocket) -> str:
    async with asyncio.timeout(5):
        return await websocket.recv()


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"session={token}"}


async def refused(url: str, **options) -> tuple[int, str]:
    with pytest.raises(InvalidStatus) as error:
        async with connect(url, open_timeout=5, **options):
            pass  # pragma: no cover
    return error.value.response.status_code, error.value.response.body.decode().strip()


# --- Tickets ------------------------------------------------------------------------------------

def test_a_ticket_is_good_once_for_its_user_until_it_expires():
    clock = Clock()
    tickets = sc.Tickets(b"k" * 32, ttl=20, clock=clock)
    first, second = tickets.mint("ann"), tickets.mint("ann")
    assert first != second and first.startswith("ann.1000020.")
    assert tickets.redeem(first) == "ann"
    with pytest.raises(sc.AuthError, match="ticket already used"):
        tickets.redeem(first)
    clock.now += 21
    with pytest.raises(sc.AuthError, match="ticket expired"):
        tickets.redeem(second)
    assert tickets.used == {}  # the used nonces are forgotten once their tickets expire
    with pytest.raises(sc.AuthError, match="ticket expired"):
        tickets.redeem(first)  # and a forgotten one is still refused: it has expired


@pytest.mark.parametrize("forge", [
    lambda t: "bob." + t.split(".", 1)[1],  # another user
    lambda t: ".".join([t.split(".")[0], "9999999999", *t.split(".")[2:]]),  # a later expiry
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # a made-up signature
    lambda t: t.rsplit(".", 1)[0] + "." + sc.Tickets(b"x" * 32).sign(t.rsplit(".", 1)[0]),
])
def test_a_forged_ticket_is_refused(forge):
    tickets = sc.Tickets(b"k" * 32, clock=Clock())
    with pytest.raises(sc.AuthError, match="bad ticket signature"):
        tickets.redeem(forge(tickets.mint("ann")))


@pytest.mark.parametrize("ticket", ["", "a.b.c", "ann.12.x.y.z", "Ann.1.n.m", "ann.soon.n.m",
                                    "a" * 30 + ".1.n.m", "ann.\u00b2\u00b3.n.m",  # "²".isdigit()
                                    "ann." + "9" * 5000 + ".n.m"])  # int() refuses 4,301 digits
def test_a_malformed_ticket_is_refused(ticket):
    with pytest.raises(sc.AuthError, match="malformed ticket"):
        sc.Tickets(b"k" * 32).redeem(ticket)


def test_the_bucket_allows_the_burst_then_the_rate():
    clock = Clock()
    bucket = sc.TokenBucket(5, 10, clock)
    assert [bucket.take() for _ in range(11)] == [True] * 10 + [False]
    clock.now += 1  # five more tokens, no more than that
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]
    clock.now += 100  # never more than the burst saved up
    assert sum(bucket.take() for _ in range(20)) == 10


# --- The WebSocket handshake: Origin first, then who it is ----------------------------------------

async def test_a_cross_site_page_is_refused_even_with_a_valid_cookie():
    """CSWSH: the browser sends the victim's cookie with a page of another site's socket."""
    async with running() as (chat, _, ws_port, _):
        token = chat.sessions.create("ann")
        url = f"ws://127.0.0.1:{ws_port}/chat"
        assert await refused(url, origin=EVIL, additional_headers=cookie(token)) == (
            403, "origin not allowed")
        assert await refused(url, origin="null", additional_headers=cookie(token)) == (
            403, "origin not allowed")  # a sandboxed frame, a file: page
        async with connect(url, origin=GOOD, additional_headers=cookie(token)) as ann:
            assert await recv(ann) == "* ann joined"
        async with connect(url, additional_headers=cookie(token)) as ann:  # not a browser
            assert await recv(ann) == "* ann joined"


async def test_two_origin_headers_are_refused():
    async with running() as (chat, _, ws_port, _):
        token = chat.sessions.create("ann")
        reader, writer = await asyncio.open_connection("127.0.0.1", ws_port)
        writer.write(f"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     f"Sec-WebSocket-Version: 13\r\nOrigin: {GOOD}\r\nOrigin: {EVIL}\r\n"
                     f"Cookie: session={token}\r\n\r\n".encode())
        async with asyncio.timeout(5):
            assert (await reader.readline()).startswith(b"HTTP/1.1 403")
        writer.close()
        await writer.wait_closed()


async def test_a_handshake_that_fails_after_the_checks_leaves_nothing_behind():
    async with running() as (chat, _, ws_port, _):
        token = chat.sessions.create("ann")
        assert (await refused(f"ws://127.0.0.1:{ws_port}/elsewhere"))[0] == 404
        reader, writer = await asyncio.open_connection("127.0.0.1", ws_port)
        writer.write(f"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                     f"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                     f"Cookie: session={token}\r\n\r\n".encode())  # no Sec-WebSocket-Key
        async with asyncio.timeout(5):
            assert (await reader.readline()).startswith(b"HTTP/1.1 400")
            await reader.read()
        writer.close()
        await writer.wait_closed()
        async with asyncio.timeout(5):
            while chat.ws_server.connections or len(chat.authenticated):
                gc.collect()
                await asyncio.sleep(0.01)
        assert chat.open["ann"] == 0


async def test_tickets_open_the_socket_once_and_bad_ones_get_401():
    async with running() as (chat, port, ws_port, clock):
        token = chat.sessions.create("ann")
        url = f"ws://127.0.0.1:{ws_port}/chat"
        ticket = await sc.get_ticket(port, token, GOOD)
        async with connect(f"{url}?ticket={ticket}", origin=GOOD) as ann:
            assert await recv(ann) == "* ann joined"
        assert await refused(f"{url}?ticket={ticket}", origin=GOOD) == (
            401, "ticket already used")
        forged = "bob." + (await sc.get_ticket(port, token)).split(".", 1)[1]
        assert await refused(f"{url}?ticket={forged}") == (401, "bad ticket signature")
        late = await sc.get_ticket(port, token)
        clock.now += sc.TICKET_TTL + 1
        assert await refused(f"{url}?ticket={late}") == (401, "ticket expired")
        assert await refused(f"{url}?ticket=nonsense") == (401, "malformed ticket")
        assert (await refused(url))[0] == 401
        assert (await refused(url, additional_headers=cookie("stolen?")))[0] == 401
        assert (await refused(url, additional_headers={"Cookie": "session=\"x;;"}))[0] == 401
        assert not chat.authenticated  # nothing left over from the refused handshakes


# --- Limits per connection and per user -----------------------------------------------------------

async def test_an_oversize_message_closes_with_1009_and_the_others_carry_on():
    async with running() as (chat, _, ws_port, _):
        url = f"ws://127.0.0.1:{ws_port}/chat"
        ann, big = chat.sessions.create("ann"), chat.sessions.create("big")
        async with connect(url, additional_headers=cookie(ann)) as watcher:
            await recv(watcher)
            async with connect(url, additional_headers=cookie(big), max_size=None) as sender:
                await recv(sender)
                await sender.send("x" * (sc.MAX_MESSAGE + 1))
                with pytest.raises(ConnectionClosedError):
                    await recv(sender)
                assert sender.close_code == 1009
            assert await recv(watcher) == "* big joined"
            assert await recv(watcher) == "* big left (1009 message too big)"
            await watcher.send("x" * sc.MAX_MESSAGE)  # at the limit is fine
            assert await recv(watcher) == "ann: " + "x" * sc.MAX_MESSAGE


async def test_a_flood_closes_with_1008_after_the_burst_and_the_others_lose_nothing():
    async with running() as (chat, _, ws_port, clock):
        url = f"ws://127.0.0.1:{ws_port}/chat"
        ann, spam = chat.sessions.create("ann"), chat.sessions.create("spam")
        async with connect(url, additional_headers=cookie(ann)) as watcher:
            await recv(watcher)
            async with connect(url, additional_headers=cookie(spam)) as flooder:
                await recv(flooder), await recv(watcher)
                for n in range(200):
                    with contextlib.suppress(ConnectionClosedError):
                        await flooder.send(f"m{n}")
                with pytest.raises(ConnectionClosedError), contextlib.suppress(TimeoutError):
                    while True:
                        await recv(flooder)
                assert (flooder.close_code, flooder.close_reason) == (
                    1008, "over 5 messages a second")
            got = [await recv(watcher) for _ in range(sc.BURST + 1)]
            assert got == [f"spam: m{n}" for n in range(sc.BURST)] + [
                "* spam left (1008 policy violation)"]
            async with connect(url, additional_headers=cookie(spam)) as patient:
                await recv(patient), await recv(watcher)
                for n in range(sc.BURST):
                    await patient.send(f"p{n}")
                assert [await recv(watcher) for _ in range(sc.BURST)] == [
                    f"spam: p{n}" for n in range(sc.BURST)]
                clock.now += 1  # a second later: five more, at the rate
                for n in range(5):
                    await patient.send(f"q{n}")
                assert [await recv(watcher) for _ in range(5)] == [
                    f"spam: q{n}" for n in range(5)]
                await patient.send("one too many")
                assert await recv(watcher) == "* spam left (1008 policy violation)"


async def test_a_user_may_hold_three_connections_whatever_the_kind():
    async with running() as (chat, port, ws_port, _):
        token = chat.sessions.create("ann")
        url = f"ws://127.0.0.1:{ws_port}/chat"
        request = f"GET /events HTTP/1.1\r\nCookie: session={token}\r\n\r\n".encode()
        stream = await asyncio.open_connection("127.0.0.1", port)
        stream[1].write(request)
        async with asyncio.timeout(5):
            assert (await stream[0].readline()).startswith(b"HTTP/1.1 200")
        async with connect(url, additional_headers=cookie(token)) as one, \
                connect(url, additional_headers=cookie(token)) as two:
            await recv(one), await recv(two)
            async with connect(url, additional_headers=cookie(token)) as four:
                with pytest.raises(ConnectionClosedError):
                    await recv(four)
                assert (four.close_code, four.close_reason) == (1008, "too many connections")
            status, _, _ = await sc.http_request(port, request.decode())
            assert status == "429 too many connections"
            status, _, _ = await sc.http_request(port, request.decode().replace("GET", "HEAD"))
            assert status == "429 too many connections"
        stream[1].close()
        await stream[1].wait_closed()
        async with asyncio.timeout(5), chat.changed:
            await chat.changed.wait_for(lambda: chat.open["ann"] == 0)
        status, _, _ = await sc.http_request(port, request.decode().replace("GET", "HEAD"))
        assert status == "200 OK"  # the HEAD counts nothing, and the slots are free again


# --- HTTP: the ticket and the event stream --------------------------------------------------------

async def test_the_ticket_endpoint_checks_origin_and_cookie_and_sets_cors():
    async with running() as (chat, port, _, _):
        token = chat.sessions.create("ann")
        post = "POST /ticket HTTP/1.1\r\nCookie: session={}\r\n{}\r\n"
        status, headers, body = await sc.http_request(port, post.format(token,
                                                                         f"Origin: {GOOD}\r\n"))
        assert status == "200 OK"
        assert headers["access-control-allow-origin"] == GOOD
        assert headers["access-control-allow-credentials"] == "true"
        assert headers["cache-control"] == "no-store" and headers["vary"] == "Origin"
        assert json.loads(body)["expires_in"] == sc.TICKET_TTL
        status, headers, _ = await sc.http_request(port, post.format(token,
                                                                     f"Origin: {EVIL}\r\n"))
        assert status == "403 origin not allowed"
        assert "access-control-allow-origin" not in headers
        for request, expected in [
            (post.format("forged", ""), "401 log in first"),
            (post.format(token, "Content-Length: 5\r\n"), "413 a ticket request has no body"),
            (post.format(token, "Transfer-Encoding: chunked\r\n"),
             "413 a ticket request has no body"),
            (post.format(token, f"Origin: {GOOD}\r\nOrigin: {GOOD}\r\n"), "400 two Origin headers"),
            ("GET /ticket HTTP/1.1\r\n\r\n", "404 not found"),
            ("GET /events HTTP/1.0\r\n\r\n", "400 malformed request line"),
            ("GET /" + "a" * 2000 + " HTTP/1.1\r\n\r\n", "400 request line too long"),
            ("GET / HTTP/1.1\r\n" + "X: y\r\n" * 40 + "\r\n", "400 malformed or too many headers"),
        ]:
            status, _, _ = await sc.http_request(port, request)
            assert status == expected, request[:40]
        with pytest.raises(PermissionError, match="no ticket: 401"):
            await sc.get_ticket(port, "nobody")


async def test_the_event_stream_carries_the_room_with_the_same_checks():
    async with running() as (chat, port, ws_port, _):
        token = chat.sessions.create("ann")
        ticket = await sc.get_ticket(port, token)
        request = f"GET /events?ticket={ticket} HTTP/1.1\r\nOrigin: {GOOD}\r\n\r\n"
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request.encode())
        async with asyncio.timeout(5):
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n")
            assert f"Access-Control-Allow-Origin: {GOOD}\r\n".encode() in head
            async with chat.changed:
                await chat.changed.wait_for(lambda: chat.listeners)
            async with connect(f"ws://127.0.0.1:{ws_port}/chat",
                               additional_headers=cookie(token)) as ann:
                await recv(ann)
                await ann.send("to every listener")
            assert await reader.readuntil(b"\n\n") == b"data: * ann joined\n\n"
            assert await reader.readuntil(b"\n\n") == b"data: ann: to every listener\n\n"
        status, _, _ = await sc.http_request(port, request)  # what EventSource does on a drop
        assert status == "401 ticket already used"
        status, _, _ = await sc.http_request(
            port, f"GET /events HTTP/1.1\r\nOrigin: {EVIL}\r\nCookie: session={token}\r\n\r\n")
        assert status == "403 origin not allowed"
        writer.close()
        await writer.wait_closed()
        async with asyncio.timeout(5), chat.changed:
            await chat.changed.wait_for(lambda: not chat.listeners)  # the hang-up freed it


async def test_a_listener_that_stops_reading_is_cut_off_and_the_room_carries_on():
    """Cut off when its writes stall (send_timeout) or its queue overflows, whichever first."""
    async with running(send_timeout=0.05) as (chat, port, ws_port, clock):
        token = chat.sessions.create("ann")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.transport.pause_reading()
        writer.write(f"GET /events HTTP/1.1\r\nCookie: session={token}\r\n\r\n".encode())
        async with asyncio.timeout(5), chat.changed:
            await chat.changed.wait_for(lambda: chat.listeners)
        other = chat.sessions.create("bob")
        async with connect(f"ws://127.0.0.1:{ws_port}/chat", additional_headers=cookie(other),
                           max_size=None, compression=None) as bob:
            await recv(bob)
            for n in range(1500):  # 6 MB: more than the kernel buffers for the listener
                clock.now += 1  # bob stays within his rate
                await bob.send(f"{n:04d}" + "z" * 4000)
                assert (await recv(bob)).startswith(f"bob: {n:04d}")  # bob is never slowed
                if not chat.listeners:
                    break
            async with asyncio.timeout(5), chat.changed:
                await chat.changed.wait_for(lambda: not chat.listeners)  # cut off
        writer.close()
        await writer.wait_closed()


async def test_an_idle_stream_gets_heartbeats():
    async with running(heartbeat=0.01) as (chat, port, _, _):
        token = chat.sessions.create("ann")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET /events HTTP/1.1\r\nCookie: session={token}\r\n\r\n".encode())
        async with asyncio.timeout(5):
            await reader.readuntil(b"\r\n\r\n")
            assert await reader.readuntil(b"\n\n") == b": heartbeat\n\n"
        writer.close()
        await writer.wait_closed()


async def test_standalone_server_and_client(capsys):
    port, ws_port = await closed_port(), await closed_port()
    server = asyncio.ensure_future(sc.serve_forever(port, ws_port))
    try:
        async with asyncio.timeout(5):
            while "sessions:" not in (out := capsys.readouterr().out):
                await asyncio.sleep(0.01)
        session = out.split("ann=")[1].split()[0]
        async with asyncio.timeout(5):
            await sc.client(port, ws_port, session, limit=2)
    finally:
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server
    assert capsys.readouterr().out == "* ann joined\nann: hello\n"


def test_main_parses_the_roles(monkeypatch):
    ran = []
    monkeypatch.setattr(sc.asyncio, "run", lambda runner: ran.append(runner.__name__)
                        or runner.close())
    for argv in ([], ["server"], ["client", "--session", "x"]):
        sc.main(argv)
    assert ran == ["demo", "serve_forever", "client"]


# --- A real browser: the Origin it sends, the cookies it adds -------------------------------------

PAGE = """<!doctype html><title>socket</title><script>
window.open_socket = (url) => new Promise((resolve) => {
  const socket = new WebSocket(url);
  socket.onmessage = (event) => { socket.close(); resolve("message: " + event.data); };
  socket.onclose = (event) => resolve("closed " + event.code);
});
window.ticket = (url) => fetch(url, {method: "POST", credentials: "include"})
  .then((response) => response.json()).then((body) => body.ticket)
  .catch((error) => "fetch failed: " + error.name);
window.listen = (url) => new Promise((resolve) => {
  const source = new EventSource(url, {withCredentials: true});
  source.onmessage = (event) => { source.close(); resolve("event: " + event.data); };
  source.onerror = () => { source.close(); resolve("error"); };
});
</script>"""


@pytest.mark.browser
async def test_chromium_sends_the_cookie_cross_origin_and_the_origin_check_stops_it():
    """Two pages on two ports of 127.0.0.1: the same site (so even a SameSite=Strict cookie
    goes with the handshake), two origins. Only the allowed origin's socket opens."""
    from playwright.async_api import async_playwright

    with support.serving_page(PAGE) as good_url, support.serving_page(PAGE) as evil_url:
        good, evil = good_url.rstrip("/"), evil_url.rstrip("/")
        seen = []

        class Spied(sc.SecureChat):
            def check_handshake(self, connection, request):
                seen.append((request.headers.get("Origin"), request.headers.get("Cookie")))
                return super().check_handshake(connection, request)

        async with running(Spied, origins=frozenset({good})) as (chat, port, ws_port, _):
            token = chat.sessions.create("ann")
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                    args=support.CHROMIUM_ARGS)
                try:
                    context = await browser.new_context()
                    await context.add_cookies([{"name": "session", "value": token,
                                                "domain": "127.0.0.1", "path": "/",
                                                "sameSite": "Strict"}])
                    pages = {}
                    for name, url in (("good", good_url), ("evil", evil_url)):
                        pages[name] = await context.new_page()
                        pages[name].set_default_timeout(10_000)
                        await pages[name].goto(url)
                    chat_url = f"ws://127.0.0.1:{ws_port}/chat"
                    assert await pages["evil"].evaluate("u => open_socket(u)", chat_url) == (
                        "closed 1006")  # to the page, a refused handshake is just a failure
                    assert await pages["good"].evaluate("u => open_socket(u)", chat_url) == (
                        "message: * ann joined")
                    ticket_url = f"http://127.0.0.1:{port}/ticket"
                    ticket = await pages["good"].evaluate("u => ticket(u)", ticket_url)
                    assert ticket.startswith("ann.")
                    assert await pages["evil"].evaluate("u => ticket(u)", ticket_url) == (
                        "fetch failed: TypeError")  # refused, and unreadable anyway (CORS)
                    assert await pages["good"].evaluate(
                        "u => open_socket(u)", f"{chat_url}?ticket={ticket}") == (
                        "message: * ann joined")
                    events = f"http://127.0.0.1:{port}/events"
                    listening = asyncio.ensure_future(
                        pages["good"].evaluate("u => listen(u)", events))
                    async with asyncio.timeout(10), chat.changed:
                        await chat.changed.wait_for(lambda: chat.listeners)
                    chat.broadcast("news")
                    assert await listening == "event: news"
                    assert await pages["evil"].evaluate("u => listen(u)", events) == "error"
                finally:
                    await browser.close()
    assert seen[0] == (evil, f"session={token}")  # the cookie went along: only Origin stops it
    assert seen[1] == (good, f"session={token}")
    assert seen[2][0] == good
