# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "httpx~=0.28",
# ]
# ///
"""HTTP semantics that matter in system design, with http.server and httpx.

Shows, on a tiny item-and-order service built on the standard library's ``http.server``, what
RFC 9110 means by safe and idempotent methods and the headers a design leans on: ``ETag`` and
``If-None-Match`` (a 304 costs no body), ``Cache-Control``, ``Idempotency-Key`` (a retried POST
does not order twice), ``Retry-After`` (the server says when to come back), and ``Connection``
(keep-alive reuses one TCP connection; ``close`` opens one per request). The client is ``httpx``.
A chunked request body, which ``http.server`` cannot read, is refused with 411 Length Required
rather than left on the connection to be read as the next request.

Run: python http_semantics.py                      (demo: server and client on 127.0.0.1)
     python http_semantics.py server --port 8080   (serve until Ctrl-C)
     python http_semantics.py client --port 8080   (run the client's requests against it)
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

MAX_BODY = 64 * 1024


def is_number(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts "²", which int() then refuses."""
    return text.isascii() and text.isdecimal()


class Store:
    """The server's state, shared by all connections (hence the lock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: dict[str, dict] = {"1": {"id": "1", "name": "kettle", "price": 30}}
        self.orders: list[dict] = []
        self.replies: dict[str, tuple[str, int, dict, bytes]] = {}  # Idempotency-Key -> reply
        self.connections = 0
        self.busy_left = 0  # how many more requests to /report get 503 + Retry-After


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # persistent connections, as a real server
    # Send small writes at once (TCP_NODELAY). With Nagle's algorithm on (http.server's default),
    # a keep-alive response written in two pieces can wait for a delayed ACK (tens of ms).
    disable_nagle_algorithm = True
    server: ThreadingHTTPServer
    timeout = 5  # a connection idle this long is closed
    default_request_version = "HTTP/1.0"  # an unreadable request line still gets a status line

    @property
    def store(self) -> Store:
        return self.server.store  # type: ignore[attr-defined]

    def setup(self) -> None:
        super().setup()
        with self.store.lock:
            self.store.connections += 1  # one Handler per TCP connection

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass  # keep the demo's output to what the client sees

    def send(self, status: int, body: object = None, headers: dict | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def refuse(self, status: int, error: str, headers: dict | None = None) -> None:
        """Answer before reading the body: the unread body would be taken for the next request,
        so the connection is closed (http.server closes it when it sends Connection: close)."""
        self.send(status, {"error": error}, {**(headers or {}), "Connection": "close"})

    def parse_request(self) -> bool:
        """http.server's parsing, then the framing it leaves to us (RFC 9112 section 6): it never
        decodes a chunked body, so one is refused rather than left to be read as a request."""
        if not super().parse_request():
            return False
        if "Transfer-Encoding" in self.headers:
            self.refuse(411, "send the body with a Content-Length: chunked bodies are not read")
            return False
        if len(self.headers.get_all("Content-Length", [])) > 1:
            self.refuse(400, "more than one Content-Length")
            return False
        return True

    def read_json(self) -> dict | None:
        length = self.headers.get("Content-Length", "0")
        if not is_number(length) or len(length) > 9 or int(length) > MAX_BODY:
            self.refuse(400, f"Content-Length must be 0..{MAX_BODY}")
            return None
        try:
            body = json.loads(self.rfile.read(int(length)) or b"{}")
        except (ValueError, RecursionError) as error:  # not JSON, not UTF-8, or nested too deep
            reason = error.msg if isinstance(error, json.JSONDecodeError) else "unreadable"
            self.send(400, {"error": f"body is not JSON: {reason}"})
            return None
        if not isinstance(body, dict):
            self.send(400, {"error": "body must be a JSON object"})
            return None
        return body

    # --8<-- [start:get]
    def do_GET(self) -> None:  # safe: changes nothing, so caches and retries are free
        if self.path == "/report":
            with self.store.lock:
                busy, self.store.busy_left = self.store.busy_left > 0, self.store.busy_left - 1
            if busy:  # overloaded: say when to come back instead of letting clients hammer
                return self.send(503, {"error": "busy"}, {"Retry-After": "1"})
            return self.send(200, {"orders": len(self.store.orders)})
        item = self.item()
        if item is None:
            return None
        etag = '"' + hashlib.sha256(json.dumps(item).encode()).hexdigest()[:16] + '"'
        headers = {"ETag": etag, "Cache-Control": "max-age=60"}
        tags = [tag.strip() for tag in self.headers.get("If-None-Match", "").split(",")]
        if etag in tags or "*" in tags:  # RFC 9110 13.1.2: a list of ETags, or "*"
            return self.send(304, None, headers)  # "your copy is still good": no body sent
        return self.send(200, item, headers)
    # --8<-- [end:get]

    do_HEAD = do_GET

    def item(self) -> dict | None:
        prefix, _, item_id = self.path.rpartition("/")
        if prefix != "/items":
            self.send(404, {"error": f"no resource at {self.path}"})
            return None
        if item_id not in self.store.items:
            self.send(404, {"error": f"no item {item_id}"})
            return None
        return self.store.items[item_id]

    def do_PUT(self) -> None:  # idempotent: the same PUT twice leaves the same state
        prefix, _, item_id = self.path.rpartition("/")
        if prefix != "/items":
            return self.refuse(405, "PUT /items/<id>", {"Allow": "GET, HEAD, POST"})
        body = self.read_json()
        if body is not None:
            with self.store.lock:
                created = item_id not in self.store.items
                self.store.items[item_id] = {**body, "id": item_id}
            self.send(201 if created else 200, self.store.items[item_id])

    def do_DELETE(self) -> None:  # idempotent too: the second DELETE finds nothing, same state
        if self.item() is not None:
            with self.store.lock:
                self.store.items.pop(self.path.rpartition("/")[2], None)
            self.send(204)

    # --8<-- [start:post]
    def do_POST(self) -> None:  # neither safe nor idempotent: each POST may create something
        if self.path != "/orders":
            return self.refuse(405, "POST /orders", {"Allow": "GET, HEAD, PUT, DELETE"})
        body = self.read_json()
        if body is None:
            return None
        key = self.headers.get("Idempotency-Key")
        fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        with self.store.lock:  # check-and-create under one lock: two retries cannot both create
            if key in self.store.replies:
                seen, status, headers, reply = self.store.replies[key]
                if seen != fingerprint:
                    return self.send(422, {"error": "Idempotency-Key reused with another body"})
                return self.send(status, json.loads(reply), headers)  # replay, do not redo
            order = {"id": len(self.store.orders) + 1, **body}
            self.store.orders.append(order)
            headers = {"Location": f"/orders/{order['id']}"}
            if key:
                self.store.replies[key] = (fingerprint, 201, headers, json.dumps(order).encode())
        return self.send(201, order, headers)
    # --8<-- [end:post]


class Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with two defaults changed for clients that misbehave."""

    request_queue_size = 128  # the listen backlog: socketserver's 5 drops a burst's SYNs

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)  # a bug of ours: print it
        # a client that reset the connection or stalled is not an error of the server's


@contextlib.contextmanager
def running_server(host: str = "127.0.0.1", port: int = 0) -> Iterator[ThreadingHTTPServer]:
    server = Server((host, port), Handler)
    server.store = Store()  # type: ignore[attr-defined]
    server.daemon_threads = False  # so server_close() waits for every connection to be closed
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --8<-- [start:retry_after]
def get_honouring_retry_after(
    client: httpx.Client, url: str, attempts: int = 3, max_wait: float = 1.0
) -> tuple[httpx.Response, list[str]]:
    """GET; on 503 or 429 wait what Retry-After says (capped), then try again."""
    waits = []
    for _ in range(attempts):
        response = client.get(url)
        if response.status_code not in (429, 503) or "Retry-After" not in response.headers:
            break
        waits.append(response.headers["Retry-After"])
        time.sleep(min(float(response.headers["Retry-After"]), max_wait))
    return response, waits
# --8<-- [end:retry_after]


def run_client(base_url: str, max_wait: float = 1.0) -> None:
    with httpx.Client(base_url=base_url, timeout=5) as client:
        first = client.get("/items/1")
        print(f"GET /items/1 -> {first.status_code}, {len(first.content)} bytes, "
              f"Cache-Control: {first.headers['Cache-Control']}")
        again = client.get("/items/1", headers={"If-None-Match": first.headers["ETag"]})
        print(f"GET again with If-None-Match: <its ETag> -> {again.status_code}, "
              f"{len(again.content)} bytes")

        for attempt in (1, 2):
            put = client.put("/items/2", json={"name": "mug", "price": 8})
            print(f"PUT /items/2 (attempt {attempt}) -> {put.status_code} {put.json()}")
        for attempt in (1, 2):
            print(f"DELETE /items/2 (attempt {attempt}) -> {client.delete('/items/2').status_code}")

        order = {"item": "1", "quantity": 1}
        key = {"Idempotency-Key": "order-7f3a"}
        for attempt in (1, 2):
            post = client.post("/orders", json=order, headers=key)
            print(f"POST /orders, same Idempotency-Key (attempt {attempt}) -> {post.status_code} "
                  f"Location: {post.headers['Location']}")
        other = client.post("/orders", json={"item": "1", "quantity": 5}, headers=key)
        print(f"POST /orders, same key, another body -> {other.status_code} {other.json()}")
        for attempt in (1, 2):
            post = client.post("/orders", json=order)
            print(f"POST /orders, no key (attempt {attempt}) -> {post.status_code} "
                  f"Location: {post.headers['Location']}")

        report, waits = get_honouring_retry_after(client, "/report", max_wait=max_wait)
        print(f"GET /report -> 503 with Retry-After {', '.join(waits) or '(none)'}, then "
              f"{report.status_code} {report.json()}")


def count_connections(base_url: str, server: ThreadingHTTPServer, close: bool) -> int:
    store: Store = server.store  # type: ignore[attr-defined]
    before = store.connections
    headers = {"Connection": "close"} if close else {}
    with httpx.Client(base_url=base_url, timeout=5, headers=headers) as client:
        for _ in range(10):
            client.get("/items/1").raise_for_status()
    return store.connections - before


def demo() -> None:
    with running_server() as server:
        store: Store = server.store  # type: ignore[attr-defined]
        store.busy_left = 1
        base_url = f"http://127.0.0.1:{server.server_address[1]}"
        print("item and order service on a port the OS chose; httpx client:")
        run_client(base_url, max_wait=0.05)  # the demo caps the wait to keep it quick
        print(f"orders the server holds: {len(store.orders)} "
              "(1 from the two keyed attempts, 2 from the two without a key)")
        print(f"10 GETs with keep-alive: {count_connections(base_url, server, False)} "
              "TCP connection(s)")
        print(f"10 GETs with Connection: close: {count_connections(base_url, server, True)} "
              "TCP connection(s)")


def wait_for_ctrl_c() -> None:
    threading.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["demo", "server", "client"], default="demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    if args.mode == "server":
        with running_server(args.host, args.port) as server:
            print(f"serving on http://{args.host}:{server.server_address[1]}, Ctrl-C to stop")
            with contextlib.suppress(KeyboardInterrupt):
                wait_for_ctrl_c()
    elif args.mode == "client":
        run_client(f"http://{args.host}:{args.port}")
    else:
        demo()


if __name__ == "__main__":
    main()
