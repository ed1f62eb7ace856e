import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import threading

import httpx
import pytest

from tests.support import closed_port, load_snippet, read_to_close, serving

rrl = load_snippet("failures/redis_rate_limit.py")


class Clock:
    def __init__(self, now=0.0):
        self.now = now

    def __call__(self):
        return self.now


@contextlib.asynccontextmanager
async def store(port: int):
    client = rrl.connect(port)
    try:
        yield client
    finally:
        await client.aclose()


KINDS = [rrl.AtomicLimit, rrl.NaiveLimit]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
async def test_one_at_a_time_both_versions_keep_the_limit(redis, kind):
    clock = Clock()
    async with store(redis) as client:
        limit = kind(client, 5, 10, clock=clock)
        decisions = [await limit.allow("alice") for _ in range(6)]
        assert [d.allowed for d in decisions] == [True] * 5 + [False]
        assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
        assert decisions[0].reset_after == 2.0  # a token every 2 s
        assert decisions[5].retry_after == 2.0 and decisions[4].retry_after == 0.0
        assert (await limit.allow("bob")).remaining == 4  # every client has its own bucket
        clock.now = 1.0  # half a token back: it must survive the trip out of Lua as 0.5
        assert (await limit.allow("alice")).retry_after == 1.0
        clock.now = 2.0
        assert (await limit.allow("alice")).allowed
        assert not (await limit.allow("alice")).allowed
        clock.now = 1000.0
        assert (await limit.allow("alice")).remaining == 4  # never more than 5 tokens
        bucket = await client.hgetall(rrl.PREFIX + "alice")
        assert float(bucket[b"tokens"]) == 4.0 and float(bucket[b"ts"]) == 1000.0
        assert 9_000 < await client.pttl(rrl.PREFIX + "alice") <= 10_000  # forgotten when full


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
async def test_a_clock_that_goes_back_refills_nothing(redis, kind):
    """Servers' clocks disagree: a request stamped earlier than the last one must not
    take tokens away from the refill (nor add any)."""
    clock = Clock(100.0)
    async with store(redis) as client:
        limit = kind(client, 5, 10, clock=clock)
        await limit.allow("c")
        clock.now = 90.0
        assert (await limit.allow("c")).remaining == 3


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
async def test_without_a_clock_both_use_redis_time(redis, kind):
    async with store(redis) as client:
        limit = kind(client, 5, 10)
        assert (await limit.allow("c")).remaining == 4
        seconds, _ = await client.time()
        stamped = float(await client.hget(rrl.PREFIX + "c", "ts"))
        assert abs(stamped - seconds) < 5


async def test_the_script_decides_50_concurrent_requests_one_after_another(redis):
    clients = [rrl.connect(redis) for _ in range(3)]  # three servers' own pools
    try:
        limits = [rrl.AtomicLimit(c, 5, 10, clock=Clock()) for c in clients]
        decisions = await asyncio.gather(*(limits[n % 3].allow("hot") for n in range(50)))
        assert sum(d.allowed for d in decisions) == 5
        assert sorted(d.remaining for d in decisions if d.allowed) == [0, 1, 2, 3, 4]
        assert float(await clients[0].hget(rrl.PREFIX + "hot", "tokens")) == 0.0
    finally:
        for client in clients:
            await client.aclose()


async def test_the_naive_version_lets_every_request_through_when_reads_come_first(redis):
    """The race made certain: every request reads before any writes (a barrier between the
    two), so all 20 see 5 tokens, all are let through, and the last write leaves 4."""
    barrier = asyncio.Barrier(20)

    async def all_have_read():
        async with asyncio.timeout(5):
            await barrier.wait()

    clients = [rrl.connect(redis) for _ in range(3)]
    try:
        limits = [rrl.NaiveLimit(c, 5, 10, clock=Clock(), between=all_have_read)
                  for c in clients]
        decisions = await asyncio.gather(*(limits[n % 3].allow("hot") for n in range(20)))
        assert sum(d.allowed for d in decisions) == 20  # against a limit of 5
        assert float(await clients[0].hget(rrl.PREFIX + "hot", "tokens")) == 4.0
    finally:
        for client in clients:
            await client.aclose()


async def test_the_script_is_loaded_again_if_redis_forgot_it(redis):
    async with store(redis) as client:
        limit = rrl.AtomicLimit(client, 2, 1, clock=Clock())
        assert (await limit.allow("c")).allowed
        await client.script_flush()  # a restarted Redis: EVALSHA answers NOSCRIPT
        assert (await limit.allow("c")).allowed
        assert not (await limit.allow("c")).allowed


def test_a_limit_needs_a_limit_and_a_window():
    with pytest.raises(ValueError):
        rrl.AtomicLimit(rrl.connect(1), 0, 10)
    with pytest.raises(ValueError):
        rrl.NaiveLimit(rrl.connect(1), 5, 0)


# --- The HTTP server -----------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def http_server(redis_port: int, limit: int = 3, fail_open: bool = True, name="s"):
    async with store(redis_port) as client:
        server = rrl.SharedLimitServer(rrl.AtomicLimit(client, limit, 10, clock=Clock()), name,
                                       fail_open)
        async with serving(server) as port:
            yield server, port


async def test_two_servers_share_one_limit_over_http(redis):
    async with http_server(redis, name="a") as (_, a), http_server(redis, name="b") as (_, b), \
            httpx.AsyncClient(timeout=5, trust_env=False) as client:
        responses = []
        for port in (a, b, a, b):
            responses.append(await client.get(f"http://127.0.0.1:{port}/",
                                              headers={"X-API-Key": "k"}))
        assert [r.status_code for r in responses] == [200, 200, 200, 429]
        assert responses[1].json() == {"server": "b"}
        refused = responses[3]
        assert refused.headers["retry-after"] == "4" and refused.json()["error"]
        assert refused.headers["ratelimit"] == '"default";r=0;t=4'
        assert responses[0].headers["ratelimit-policy"] == '"default";q=3;w=10'
        assert responses[0].headers["ratelimit"] == '"default";r=2;t=4'
        head = await client.head(f"http://127.0.0.1:{a}/")  # keyed by address: its own bucket
        assert head.status_code == 200 and head.content == b""
        missing = await client.get(f"http://127.0.0.1:{b}/elsewhere")
        assert missing.status_code == 404 and missing.headers["ratelimit"].startswith(
            '"default";r=1')


@pytest.mark.parametrize(("fail_open", "status"), [(True, 200), (False, 503)])
async def test_when_redis_is_down_the_server_fails_open_or_closed(fail_open, status):
    down = await closed_port()
    async with http_server(down, fail_open=fail_open) as (server, port), \
            httpx.AsyncClient(timeout=5, trust_env=False) as client:
        response = await client.get(f"http://127.0.0.1:{port}/")
    assert response.status_code == status and "ratelimit" not in response.headers
    assert server.store_errors == 1
    if fail_open:
        assert response.json()["limit"] == "unknown: the store is down"
    else:
        assert response.headers["retry-after"] == "1"

@pytest.mark.parametrize(("request_bytes", "status", "error"), [
    (b"GET / HTTP/1.1\r\nX-API-Key: a b\r\n\r\n", 400, "X-API-Key must be"),
    (b"GET / HTTP/1.0\r\n\r\n", 505, "only HTTP/1.1"),
    (b"GET / HTTP/one\r\n\r\n", 400, "only HTTP/1.1"),
    (b"GET /\x7f HTTP/1.1\r\n\r\n", 400, "control character"),
    (b"GET x HTTP/1.1\r\n\r\n", 400, "malformed request line"),
    (b"GET / HTTP/1.1\r\nbad\r\n\r\n", 400, "malformed header line"),
    (b"GET / HTTP/1.1\r\n" + b"A: b\r\n" * 65 + b"\r\n", 431, "more than 64"),
    (b"GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431, "request head over"),
    (b"GET /\xff HTTP/1.1\r\n\r\n", 400, "non-ASCII"),
    (b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "a GET has no body"),
    (b"PUT / HTTP/1.1\r\n\r\n", 501, "only GET and HEAD"),
])
async def test_bad_requests_get_a_clear_error_and_others_are_unharmed(redis, request_bytes,
                                                                       status, error):
    async with http_server(redis, limit=100) as (_, port), \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5,
                              trust_env=False) as client:
        assert (await client.get("/")).status_code == 200
        head, _, body = (await read_to_close(port, request_bytes)).partition(b"\r\n\r\n")
        assert head.startswith(f"HTTP/1.1 {status} ".encode()) and b"Connection: close" in head
        assert error in json.loads(body)["error"]
        assert (await client.get("/")).status_code == 200  # the kept-alive connection


async def test_a_truncated_or_stalled_request_is_cut_off(redis, monkeypatch):
    async with http_server(redis) as (server, port):
        answer = await read_to_close(port, b"GET / HTTP/1.1\r\nHost: x", eof=True)
        assert answer.startswith(b"HTTP/1.1 400 ") and b"truncated" in answer
        monkeypatch.setattr(rrl, "IDLE_TIMEOUT", 0.05)
        assert await read_to_close(port, b"GET / HTTP/1.1\r\n") == b""  # closed after the timeout
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")
        monkeypatch.setattr(rrl, "IDLE_TIMEOUT", 30)
        await server.close()  # ends the kept-alive connection at once
        async with asyncio.timeout(5):
            await reader.read()
        writer.close()
        await writer.wait_closed()


# --- The throwaway redis-server, the command line ------------------------------------------------

def test_the_program_says_how_to_get_redis(monkeypatch):
    monkeypatch.setattr(rrl.shutil, "which", lambda name: None)
    with pytest.raises(SystemExit, match="apt-get install redis-server"):
        rrl.RedisServer()


def test_a_redis_server_that_does_not_start_is_an_error(monkeypatch):
    monkeypatch.setattr(rrl.shutil, "which", lambda name: "/bin/false")
    with pytest.raises(RuntimeError, match="did not start"):
        rrl.RedisServer()


async def test_serve_and_client_on_the_command_line(redis, capsys, monkeypatch):
    started, start = asyncio.Semaphore(0), rrl.SharedLimitServer.start

    async def start_and_tell(self, *args):
        port = await start(self, *args)
        started.release()
        return port

    monkeypatch.setattr(rrl.SharedLimitServer, "start", start_and_tell)
    tasks = [asyncio.create_task(rrl.serve("127.0.0.1", 0, redis, naive, 4, 10))
             for naive in (False, True)]
    try:
        for _ in tasks:
            await asyncio.wait_for(started.acquire(), 5)
        lines = capsys.readouterr().out.splitlines()
        assert "an atomic limit of 4 requests per 10 s" in lines[0]
        assert "a naive limit" in lines[1]
        port = int(lines[0].split("http://127.0.0.1:")[1].split("/")[0])
        await rrl.client("127.0.0.1", [port], 6, "cli")
        out = capsys.readouterr().out
        assert out == "6 requests at once from 'cli': 4 let through,  2 refused\n"
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def test_two_server_processes_share_one_limit(redis):
    """Two real OS processes, started as a reader would start them: one limit between them."""
    program = str(rrl.__file__)
    processes = [subprocess.Popen([sys.executable, "-u", program, "server", "--port", "0",
                                   "--redis-port", str(redis), "--limit", "3"],
                                  stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        ports = []
        for process in processes:
            ready = [None]
            reader = threading.Thread(target=lambda p=process, r=ready: r.__setitem__(
                0, p.stdout.readline()), daemon=True)
            reader.start()
            reader.join(timeout=20)
            assert ready[0] and "serving http://127.0.0.1:" in ready[0], ready[0]
            ports.append(int(ready[0].split("http://127.0.0.1:")[1].split("/")[0]))
        with httpx.Client(timeout=5, trust_env=False) as client:
            statuses = [client.get(f"http://127.0.0.1:{ports[n % 2]}/",
                                   headers={"X-API-Key": "shared"}).status_code
                        for n in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)  # Ctrl-C: the program stops cleanly
        for process in processes:
            assert process.wait(timeout=10) == 0
            process.stdout.close()


@pytest.mark.parametrize("role", ["server", "client"])
def test_main_parses_the_command_line(role, monkeypatch):
    called = {}

    async def fake(*args):
        called[role] = args

    monkeypatch.setattr(rrl, "serve" if role == "server" else "client", fake)
    monkeypatch.setattr(sys, "argv", ["redis_rate_limit.py", role, "--port", "8123",
                                      "--port", "8124", "--redis-port", "6390", "--naive"])
    rrl.main()
    expected = (("127.0.0.1", 8123, 6390, True, 5, 10) if role == "server"
                else ("127.0.0.1", [8123, 8124], 20, "demo"))
    assert called[role] == expected
