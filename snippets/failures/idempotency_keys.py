# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "httpx~=0.28",
# ]
# ///
"""Idempotency keys on a real HTTP endpoint: POST /payments charges once, however often it is sent.

The client makes up a key (a UUID) per payment and sends it in the ``Idempotency-Key`` header
(IETF draft-ietf-httpapi-idempotency-key-header). The server claims the key under a lock before
it charges: the first request with a key runs the effect and stores the response; a replay gets
the stored response back (marked ``Idempotent-Replayed: true``); a duplicate that arrives while
the first is still running is refused with 409 Conflict and ``Retry-After: 1`` (it does not wait:
a waiting request would hold a server thread for as long as the slow charge takes); the same key
with a different body is refused with 422; stored keys expire after ``ttl`` seconds.

Run: python idempotency_keys.py
     python idempotency_keys.py server --port 8080
     python idempotency_keys.py client --port 8080
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

MAX_BODY = 10_000  # bytes
MAX_KEY = 255  # characters
CLIENT_TIMEOUT = 10.0  # seconds a connection may stay silent (idle, or half-sent)


# --8<-- [start:store]
@dataclass
class Entry:
    fingerprint: str  # a hash of the request body: the same key must mean the same request
    response: tuple[int, dict] | None = None  # None while the first request is in flight
    expires_at: float = float("inf")  # in-flight entries do not expire


class IdempotencyStore:
    """Keys and their stored responses. One lock makes "is this key new?" and "claim it" a
    single step, so two concurrent duplicates cannot both see the key as new."""

    def __init__(self, ttl: float = 24 * 3600, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {}

    def claim(self, key: str, fingerprint: str) -> tuple[str, tuple[int, dict] | None]:
        """("new", None), ("replay", response), ("in-flight", None) or ("mismatch", None)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry and self.clock() >= entry.expires_at:
                del self._entries[key]  # expired: the key may be used afresh
                entry = None
            if entry is None:
                self._entries[key] = Entry(fingerprint)
                return "new", None
            if entry.fingerprint != fingerprint:
                return "mismatch", None
            if entry.response is None:
                return "in-flight", None
            return "replay", entry.response

    def complete(self, key: str, response: tuple[int, dict]) -> None:
        with self._lock:
            entry = self._entries[key]
            entry.response = response
            entry.expires_at = self.clock() + self.ttl

    def release(self, key: str) -> None:
        """The effect failed before it happened: forget the key so a retry can run it."""
        with self._lock:
            self._entries.pop(key, None)
# --8<-- [end:store]


class PaymentsServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the listen backlog: socketserver's 5 drops a burst's SYNs

    def __init__(self, address: tuple[str, int], store: IdempotencyStore):
        super().__init__(address, PaymentsHandler)
        self.store = store
        self.ledger: list[dict] = []  # the effect: every charge that really happened
        self.ledger_lock = threading.Lock()
        self.charging = threading.Event()  # set when a charge starts (tests synchronise on it)
        self.gate: threading.Event | None = None  # if set, a charge waits for it (a slow bank)

    def charge(self, payment: dict) -> dict:
        self.charging.set()
        if self.gate is not None:
            self.gate.wait(timeout=10)
        with self.ledger_lock:
            record = {"id": f"pay_{len(self.ledger) + 1}", **payment, "status": "succeeded"}
            self.ledger.append(record)
        return record

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)  # a bug of ours: print it
        # a client that reset the connection or stalled is not an error of the server's


class PaymentsHandler(BaseHTTPRequestHandler):
    server: PaymentsServer
    protocol_version = "HTTP/1.1"
    timeout = CLIENT_TIMEOUT  # http.server closes a connection silent this long
    default_request_version = "HTTP/1.0"  # an unreadable request line still gets a status line

    def log_message(self, format: str, *args) -> None:  # keep the transcript clean
        pass

    def reply(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:  # say so: the client must not send another request on it
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def parse_request(self) -> bool:
        """http.server's parsing, then the framing it leaves to us (RFC 9112 section 6): it never
        decodes a chunked body, so one is refused rather than left to be read as a request."""
        if not super().parse_request():
            return False
        if "Transfer-Encoding" in self.headers:
            self.close_connection = True
            self.reply(411, {"error": "send the body with a Content-Length, not chunked"})
            return False
        if len(self.headers.get_all("Content-Length", [])) > 1:
            self.close_connection = True
            self.reply(400, {"error": "more than one Content-Length"})
            return False
        return True

    def do_GET(self) -> None:
        if self.path != "/payments":
            return self.reply(404, {"error": "not found"})
        with self.server.ledger_lock:
            self.reply(200, {"payments": list(self.server.ledger)})

    do_HEAD = do_GET  # reply() leaves the body out (RFC 9110 section 9.3.2)

    # --8<-- [start:post]
    def do_POST(self) -> None:
        if self.path != "/payments":
            self.close_connection = True  # the body was not read: do not reuse the connection
            return self.reply(404, {"error": "not found"})
        # --8<-- [start:length]
        length = self.headers.get("Content-Length", "0")
        if not (length.isascii() and length.isdigit()):  # int("-1") works, and read(-1)
            self.close_connection = True  # reads until the client stops: no limit at all
            return self.reply(400, {"error": "Content-Length must be a number of bytes"})
        if len(length) > 9 or int(length) > MAX_BODY:  # (int() raises past 4300 digits)
            self.close_connection = True  # do not read a body that big
            return self.reply(413, {"error": f"body over {MAX_BODY} bytes"})
        raw = self.rfile.read(int(length))
        # --8<-- [end:length]
        key = self.headers.get("Idempotency-Key", "")
        if not key or len(key) > MAX_KEY:
            return self.reply(400, {"error": f"Idempotency-Key header of 1-{MAX_KEY} chars needed"})
        try:
            payment = validate(json.loads(raw))
        except (ValueError, TypeError, RecursionError) as error:  # not stored: nothing ran
            return self.reply(400, {"error": f"bad payment: {error}"})
        fingerprint = hashlib.sha256(json.dumps(payment, sort_keys=True).encode()).hexdigest()

        verdict, stored = self.server.store.claim(key, fingerprint)
        if verdict == "mismatch":
            return self.reply(422, {"error": "this Idempotency-Key was used with another body"})
        if verdict == "in-flight":
            return self.reply(409, {"error": "a request with this key is in progress"},
                              {"Retry-After": "1"})
        if verdict == "replay":
            status, body = stored
            return self.reply(status, body, {"Idempotent-Replayed": "true"})
        try:
            record = self.server.charge(payment)
        except Exception:
            self.server.store.release(key)  # nothing was charged: let the client retry
            return self.reply(500, {"error": "charge failed, retry with the same key"})
        self.server.store.complete(key, (201, record))
        self.reply(201, record)
    # --8<-- [end:post]


def validate(body: object) -> dict:
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    amount, currency = body.get("amount"), body.get("currency")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValueError("amount must be a positive integer (minor units, e.g. cents)")
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
        raise ValueError("currency must be a 3-letter code")
    return {"amount": amount, "currency": currency.upper()}


@contextlib.contextmanager
def running(host: str = "127.0.0.1", port: int = 0,
            store: IdempotencyStore | None = None) -> Iterator[PaymentsServer]:
    """Serve in a background thread; shut down and close everything on exit."""
    server = PaymentsServer((host, port), store or IdempotencyStore())
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        if server.gate is not None:
            server.gate.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --8<-- [start:client]
def pay(client: httpx.Client, key: str, amount: int, currency: str = "EUR") -> str:
    response = client.post("/payments", json={"amount": amount, "currency": currency},
                           headers={"Idempotency-Key": key})
    body = response.json()
    replayed = " (replayed)" if response.headers.get("Idempotent-Replayed") else ""
    return f"{response.status_code} {body.get('id') or body.get('error')}{replayed}"
# --8<-- [end:client]


def demo() -> None:
    now = [0.0]
    store = IdempotencyStore(ttl=3600, clock=lambda: now[0])
    posts = [0]

    def count(request: httpx.Request) -> None:
        posts[0] += request.method == "POST"

    with running(store=store) as server, httpx.Client(
        base_url=f"http://127.0.0.1:{server.server_address[1]}", timeout=5,
        event_hooks={"request": [count]},
    ) as client:
        print("server on 127.0.0.1, a port the OS chose")
        print("first request, key-1        ->", pay(client, "key-1", 1000))
        print("same request again          ->", pay(client, "key-1", 1000))
        print("key-1 with another amount   ->", pay(client, "key-1", 2000))
        response = client.post("/payments", json={"amount": 1000, "currency": "EUR"})
        print("no key                      ->", response.status_code, response.json()["error"])

        server.gate = threading.Event()  # the bank is slow: the next charge waits
        server.charging.clear()
        first: list[str] = []
        slow = threading.Thread(target=lambda: first.append(pay(client, "key-2", 500)))
        slow.start()
        server.charging.wait(timeout=5)  # key-2 is claimed and its charge is in progress
        print("duplicate while in flight   ->", pay(client, "key-2", 500))
        server.gate.set()
        slow.join(timeout=5)
        print("the in-flight request       ->", first[0])
        print("key-2 replayed afterwards   ->", pay(client, "key-2", 500))

        now[0] += 3601  # an hour later the stored keys have expired
        print("key-1 after it expired      ->", pay(client, "key-1", 1000))
        charges = len(client.get("/payments").json()["payments"])
        print(f"charges in the ledger: {charges}, for {posts[0]} POST requests")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["server", "client"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    if args.mode == "server":
        server = PaymentsServer((args.host, args.port), IdempotencyStore())
        print(f"serving POST /payments on http://{args.host}:{args.port} (Ctrl-C to stop)")
        with server, contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    elif args.mode == "client":
        key = str(uuid.uuid4())
        with httpx.Client(base_url=f"http://{args.host}:{args.port}", timeout=5) as client:
            print(f"Idempotency-Key: {key}")
            print("first send ->", pay(client, key, 1000))
            print("resend     ->", pay(client, key, 1000))
    else:
        demo()


if __name__ == "__main__":
    main()
