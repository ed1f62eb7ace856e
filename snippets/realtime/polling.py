# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "httpx~=0.28",
# ]
# ///
"""Short and long polling over plain HTTP/1.1, with a cursor so nothing is missed or repeated.

The server keeps a message log; message n has id n. A client asks "what came after my cursor?"
(`GET /messages?after=3`) and moves its cursor to the last id it got, so a lost response or a
retry can neither skip nor duplicate a message. Short polling asks on a timer and often gets an
empty answer; long polling adds `wait=20`: the server holds the request until a message arrives
or the wait ends, and the client asks again at once. The client is httpx, which keeps one
connection alive across requests; the server is a small strict HTTP/1.1 handler on asyncio.

Run: python polling.py                   (a demo on 127.0.0.1)
     python polling.py server --port 8003 (publishes a message every 2 s, until Ctrl-C)
     python polling.py client --port 8003 (long-polls and prints, until Ctrl-C)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from urllib.parse import parse_qs, urlsplit

import httpx

MAX_REQUEST_LINE = 1024
MAX_HEADERS = 32
READ_LIMIT = 8192  # asyncio's line limit: a longer header line gets 400
MAX_WAIT = 30.0  # seconds a long poll may be held; below common proxy idle timeouts (60 s)
IDLE_TIMEOUT = 75.0  # seconds a kept-alive connection may sit between requests


class HttpError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status, self.reason = status, reason


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str]] | None:
    """One HTTP/1.1 request head, strictly; None if the client closed between requests."""
    try:
        line = await reader.readuntil(b"\r\n")
        if len(line) > MAX_REQUEST_LINE:
            raise HttpError(400, "request line too long")
        parts = line.decode("ascii").rstrip("\r\n").split(" ")
        if len(parts) != 3 or parts[2] != "HTTP/1.1":
            raise HttpError(400, "malformed request line")
        headers: dict[str, str] = {}
        count = 0
        while (header := await reader.readuntil(b"\r\n")) != b"\r\n":
            count += 1
            name, colon, value = header.decode("ascii").partition(":")
            if not colon or not name or name != name.strip() or count > MAX_HEADERS:
                raise HttpError(400, "malformed or too many headers")
            headers[name.lower()] = value.strip()
    except asyncio.IncompleteReadError as error:
        if error.partial:
            raise HttpError(400, "truncated request") from error
        return None  # a clean close between two requests
    except (asyncio.LimitOverrunError, ValueError) as error:  # ValueError: line over the limit
        raise HttpError(400, "header line too long or not ASCII") from error
    if headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
        raise HttpError(400, "a GET has no body")
    return parts[0], parts[1], headers


# --8<-- [start:server]
class PollServer:
    def __init__(self) -> None:
        self.log: list[str] = []  # message n (from 1) is log[n - 1]
        self.changed = asyncio.Condition()  # notified on a new message or a long poll coming/going
        self.held = 0  # long polls being held right now
        self.requests = self.connections = 0

    async def publish(self, text: str) -> None:
        async with self.changed:
            self.log.append(text)
            self.changed.notify_all()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:  # HTTP/1.1 keeps the connection for the next request
                method = ""  # not known until the request line is read
                async with asyncio.timeout(IDLE_TIMEOUT):
                    request = await read_request(reader)
                if request is None:
                    break
                self.requests += 1
                method = request[0]
                status, body = await self.respond(*request, reader)
                writer.write(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\n\r\n"
                             .encode() + (b"" if method == "HEAD" else body))
                await writer.drain()
        except HttpError as error:
            body = json.dumps({"error": error.reason}).encode()
            reason = {400: "Bad Request", 404: "Not Found"}[error.status]
            writer.write(f"HTTP/1.1 {error.status} {reason}\r\nContent-Length: {len(body)}\r\n"
                         "Connection: close\r\n\r\n".encode() + (b"" if method == "HEAD" else body))
        except (ConnectionError, TimeoutError):
            pass  # the client vanished or went idle: free the connection
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def respond(self, method: str, target: str, headers: dict[str, str],
                      reader: asyncio.StreamReader) -> tuple[str, bytes]:
        url = urlsplit(target)
        if method not in ("GET", "HEAD") or url.path != "/messages":  # HEAD: GET, no body
            raise HttpError(404, "only GET /messages?after=<id>[&wait=<seconds>]")
        query = parse_qs(url.query)
        try:
            after = int(query.get("after", ["0"])[0])
            wait = min(float(query.get("wait", ["0"])[0]), MAX_WAIT)
        except ValueError as error:
            raise HttpError(400, "after must be an integer and wait a number") from error
        if after < 0 or not wait >= 0:  # `not >=` also refuses NaN
            raise HttpError(400, "after and wait must not be negative")
        if wait and len(self.log) <= after:
            await self.hold(after, wait, reader)
        messages = [{"id": n, "text": text}
                    for n, text in enumerate(self.log[after:], start=after + 1)]
        cursor = messages[-1]["id"] if messages else after
        return "200 OK", json.dumps({"messages": messages, "cursor": cursor}).encode()

    async def hold(self, after: int, wait: float, reader: asyncio.StreamReader) -> None:
        """Long poll: return when a message after `after` exists, or `wait` seconds pass."""
        gone = asyncio.ensure_future(reader.read(1))  # a client waiting for a reply sends nothing
        async def news() -> None:
            async with self.changed:
                await self.changed.wait_for(lambda: len(self.log) > after)
        arrived = asyncio.ensure_future(news())
        async with self.changed:
            self.held += 1
            self.changed.notify_all()
        try:
            await asyncio.wait({gone, arrived}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            if gone.done():
                raise ConnectionResetError("the client left while its long poll was held")
        finally:
            gone.cancel()
            arrived.cancel()
            await asyncio.wait({gone, arrived})  # the reader is free for the next request
            async with self.changed:
                self.held -= 1
                self.changed.notify_all()
# --8<-- [end:server]


# --8<-- [start:client]
async def poll(client: httpx.AsyncClient, cursor: int, wait: float = 0) -> tuple[list, int]:
    """One poll: the messages after `cursor`, and the new cursor. wait > 0 makes it a long poll."""
    params = {"after": cursor, "wait": wait} if wait else {"after": cursor}
    response = await client.get("/messages", params=params, timeout=wait + 10)
    response.raise_for_status()
    body = response.json()
    return body["messages"], body["cursor"]


async def follow(base_url: str, *, wait: float = 20, interval: float = 0, limit: int = 0,
                 retry: float = 1.0) -> None:
    """Print every message once, in order: long polls (wait > 0) or short polls every `interval`."""
    cursor = 0
    async with httpx.AsyncClient(base_url=base_url, trust_env=False) as client:
        while True:
            try:
                messages, cursor = await poll(client, cursor, wait)
            except httpx.TransportError:  # server down or connection lost: same cursor, later
                await asyncio.sleep(retry)
                continue
            for message in messages:
                print(f"{message['id']}: {message['text']}", flush=True)
                limit -= 1
                if limit == 0:
                    return
            await asyncio.sleep(interval)  # 0 for long polling: ask again at once
# --8<-- [end:client]


async def demo() -> None:
    hub = PollServer()
    server = await asyncio.start_server(hub.handle, "127.0.0.1", 0, limit=READ_LIMIT)
    port = server.sockets[0].getsockname()[1]
    print("server: HTTP/1.1 on 127.0.0.1, a port the OS chose")
    await hub.publish("hello")
    await hub.publish("world")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client:
        print("short polling:")
        cursor = 0
        for _ in range(3):
            messages, new = await poll(client, cursor)
            print(f"  GET /messages?after={cursor} -> {[m['text'] for m in messages]}, "
                  f"cursor {new}")
            cursor = new
        print("long polling:")
        held = asyncio.ensure_future(poll(client, cursor, wait=5))
        async with hub.changed:
            await hub.changed.wait_for(lambda: hub.held == 1)
        print(f"  GET /messages?after={cursor}&wait=5 is held by the server...")
        await hub.publish("news")
        messages, new = await held
        print(f"  ...until a message arrives -> {[m['text'] for m in messages]}, cursor {new}")
        messages, newer = await poll(client, new, wait=0.05)
        print(f"  GET /messages?after={new}&wait=0.05 -> {messages} after the wait: ask again")
        print(f"server: {hub.requests} requests, {hub.connections} connection(s): httpx keeps"
              " one alive")
        bad = await client.get("/messages", params={"after": "x"})
        print(f"bad cursor -> {bad.status_code} {bad.json()['error']}")
    server.close()
    await server.wait_closed()


async def serve_forever(host: str, port: int, interval: float = 2.0) -> None:
    hub = PollServer()
    server = await asyncio.start_server(hub.handle, host, port, limit=READ_LIMIT)
    print(f"serving http://{host}:{port}/messages?after=0&wait=20 (Ctrl-C to stop)", flush=True)
    async with server:
        n = 0
        while True:
            await asyncio.sleep(interval)
            n += 1
            await hub.publish(f"message {n}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", choices=["server", "client"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8003)
    parser.add_argument("--short", type=float, metavar="SECONDS",
                        help="short-poll every SECONDS instead of long polling")
    args = parser.parse_args()
    if args.role == "server":
        runner = serve_forever(args.host, args.port)
    elif args.role == "client":
        url = f"http://{args.host}:{args.port}"
        runner = (follow(url, wait=0, interval=args.short) if args.short else follow(url))
    else:
        runner = demo()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(runner)
