# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "httpx~=0.28",
# ]
# ///
"""A REST API for a small bookstore: resources, methods, status codes, ETags and pagination.

Authors, books and reviews are resources with their own URLs. The server (http.server's
ThreadingHTTPServer, HTTP/1.1 keep-alive) answers with the status codes of RFC 9110: 201 with a
Location header for a created resource, 204 for a deletion, 400 for a malformed body, 404 for an
unknown resource, 409 for a conflict, 412 when an If-Match precondition fails and 428 when it is
missing. Errors are RFC 9457 problem details. Lists are paginated with a cursor and a Link header.
The client (httpx) counts requests and response bytes, to show under- and over-fetching: one
screen (an author, their books and each book's reviews) costs several requests.

Run: python rest_bookstore.py                   (a demo on 127.0.0.1, a port the OS chose)
     python rest_bookstore.py server --port 8080 (serve until Ctrl-C)
     python rest_bookstore.py client --port 8080 (fetch the author page from that server)
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import httpx

# The same small bookstore as graphql_bookstore.py and rpc_bookstore.py (copied: snippets
# never import each other).
SEED = {
    "authors": [
        {"id": 1, "name": "Ursula K. Le Guin", "born": 1929, "country": "United States",
         "bio": "Wrote novels, stories and essays; known for the Earthsea books and for "
                "The Left Hand of Darkness and The Dispossessed."},
        {"id": 2, "name": "Terry Pratchett", "born": 1948, "country": "United Kingdom",
         "bio": "Wrote the 41 Discworld novels, comic fantasy that is also sharp satire."},
        {"id": 3, "name": "Octavia E. Butler", "born": 1947, "country": "United States",
         "bio": "Science fiction writer; the first to receive a MacArthur Fellowship."},
    ],
    "books": [
        {"id": 1, "authorId": 1, "isbn": "9780547773742", "title": "A Wizard of Earthsea",
         "year": 1968, "pages": 183,
         "summary": "A young wizard lets loose a shadow and must hunt it across the sea."},
        {"id": 2, "authorId": 1, "isbn": "9780441478125", "title": "The Left Hand of Darkness",
         "year": 1969, "pages": 304,
         "summary": "An envoy to a planet whose people have no fixed sex."},
        {"id": 3, "authorId": 1, "isbn": "9780061054884", "title": "The Dispossessed",
         "year": 1974, "pages": 387,
         "summary": "A physicist crosses from an anarchist moon to its capitalist planet."},
        {"id": 4, "authorId": 2, "isbn": "9780062225672", "title": "Guards! Guards!",
         "year": 1989, "pages": 416,
         "summary": "The Night Watch of Ankh-Morpork against a summoned dragon."},
        {"id": 5, "authorId": 3, "isbn": "9780807083697", "title": "Kindred",
         "year": 1979, "pages": 264,
         "summary": "A writer in 1976 is pulled back to an antebellum plantation."},
    ],
    "reviews": [
        {"id": 1, "bookId": 1, "reviewer": "ana", "rating": 5, "text": "Spare and deep."},
        {"id": 2, "bookId": 1, "reviewer": "ben", "rating": 4, "text": "A quiet classic."},
        {"id": 3, "bookId": 2, "reviewer": "chen", "rating": 5, "text": "Changed how I read."},
        {"id": 4, "bookId": 3, "reviewer": "ana", "rating": 4, "text": "Patient and humane."},
        {"id": 5, "bookId": 4, "reviewer": "dev", "rating": 5, "text": "Funny and kind."},
    ],
}

MAX_BODY = 64 * 1024  # a request body larger than this gets 413
MAX_PAGE = 50


def is_number(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts "²", which int() then refuses."""
    return text.isascii() and text.isdecimal()


def compact(value: object) -> bytes:
    """JSON without spaces: the bytes counted are payload, not indentation."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class HTTPProblem(Exception):
    """An error answered as RFC 9457 problem details: a status, a sentence, maybe headers."""

    def __init__(self, status: HTTPStatus, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


# --8<-- [start:store]
@dataclass
class Store:
    """The bookstore's data, behind one lock (the handler threads share it)."""

    data: dict = field(default_factory=lambda: copy.deepcopy(SEED))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def find(self, kind: str, item_id: int) -> dict:
        for item in self.data[kind]:
            if item["id"] == item_id:
                return item
        raise HTTPProblem(HTTPStatus.NOT_FOUND, f"{kind[:-1]} {item_id} does not exist")

    def next_id(self, kind: str) -> int:
        return max((item["id"] for item in self.data[kind]), default=0) + 1


def etag(representation: dict) -> str:
    """A strong validator: changes whenever the representation changes (RFC 9110, 8.8.3)."""
    return '"' + hashlib.sha256(compact(representation)).hexdigest()[:16] + '"'
# --8<-- [end:store]


def author_fields(body: object) -> dict:
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
        raise HTTPProblem(HTTPStatus.BAD_REQUEST, "an author needs a non-empty string 'name'")
    born = body.get("born")
    if born is not None and (isinstance(born, bool) or not isinstance(born, int)):
        raise HTTPProblem(HTTPStatus.BAD_REQUEST, "'born' must be an integer year")
    return {"name": body["name"], "born": born, "country": body.get("country", ""),
            "bio": body.get("bio", "")}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every response has a Content-Length
    # http.server sends the head and the body in two writes: with Nagle's algorithm on, the
    # body waits for the ACK of the head, which the client delays (~40 ms). Send at once.
    disable_nagle_algorithm = True
    timeout = 10  # an idle keep-alive connection is closed after this many seconds
    default_request_version = "HTTP/1.0"  # an unreadable request line still gets a status line
    store: Store  # set on the subclass that make_server builds
    body = b""

    def version_string(self) -> str:
        return "bookstore-rest"  # no Python version in the Server header

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: the demo prints its own transcript

    # --8<-- [start:routes]
    ROUTES: list[tuple[str, str, str]] = [  # (method, path pattern, handler method)
        ("GET", r"/authors", "list_authors"),
        ("POST", r"/authors", "create_author"),
        ("GET", r"/authors/([0-9]+)", "get_author"),
        ("PUT", r"/authors/([0-9]+)", "replace_author"),
        ("DELETE", r"/authors/([0-9]+)", "delete_author"),
        ("GET", r"/authors/([0-9]+)/books", "author_books"),
        ("POST", r"/books", "create_book"),
        ("GET", r"/books/([0-9]+)", "get_book"),
        ("GET", r"/books/([0-9]+)/reviews", "book_reviews"),
    ]

    def dispatch(self) -> None:
        path, _, query = self.path.partition("?")
        command = "GET" if self.command == "HEAD" else self.command  # HEAD: GET without a body
        allowed = []
        try:
            self.body = self.read_body()
            for method, pattern, name in self.ROUTES:
                match = re.fullmatch(pattern, path)
                if match and method == command:
                    args = [int(group) for group in match.groups()]
                    with self.store.lock:
                        getattr(self, name)(*args, query=query)
                    return
                if match:
                    allowed += [method, "HEAD"] if method == "GET" else [method]
            if allowed:
                raise HTTPProblem(HTTPStatus.METHOD_NOT_ALLOWED,
                                  f"{self.command} is not allowed on {path}",
                                  {"Allow": ", ".join(allowed)})
            raise HTTPProblem(HTTPStatus.NOT_FOUND, f"no resource at {path}")
        except HTTPProblem as problem:
            self.send_problem(problem)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = dispatch
    # --8<-- [end:routes]

    # --8<-- [start:helpers]
    def read_body(self) -> bytes:
        """Read the whole body before anything else, so no stray bytes stay on the connection."""
        if "Transfer-Encoding" in self.headers:
            self.close_connection = True  # http.server does not decode chunked bodies
            raise HTTPProblem(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length, not chunks")
        length = self.headers.get("Content-Length", "0")
        if not is_number(length) or len(self.headers.get_all("Content-Length", [])) > 1:
            self.close_connection = True  # we cannot tell where the body ends: stop here
            raise HTTPProblem(HTTPStatus.BAD_REQUEST, f"bad Content-Length {length[:20]!r}")
        if len(length) > 9 or int(length) > MAX_BODY:  # (int() refuses over 4300 digits)
            self.close_connection = True  # do not read (or leave) a huge body on the socket
            raise HTTPProblem(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                              f"body of {length[:20]} bytes, the limit is {MAX_BODY}")
        return self.rfile.read(int(length))

    def read_json(self) -> object:
        try:
            return json.loads(self.body)
        except ValueError as error:  # JSONDecodeError, or UnicodeDecodeError for bad UTF-8
            reason = error.msg if isinstance(error, json.JSONDecodeError) else "not UTF-8"
            raise HTTPProblem(HTTPStatus.BAD_REQUEST, f"body is not JSON: {reason}") from None
        except RecursionError:  # [[[[... deeper than the parser's stack
            raise HTTPProblem(HTTPStatus.BAD_REQUEST, "body is nested too deeply") from None

    def send_json(self, status: HTTPStatus, body: object | None,
                  headers: dict[str, str] | None = None) -> None:
        payload = b"" if body is None else compact(body)
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def send_problem(self, problem: HTTPProblem) -> None:
        body = {"type": "about:blank", "title": problem.status.phrase,
                "status": problem.status.value, "detail": problem.detail}
        payload = compact(body)
        self.send_response(problem.status)
        self.send_header("Content-Type", "application/problem+json")
        for name, value in problem.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
    # --8<-- [end:helpers]

    # --8<-- [start:pagination]
    def list_authors(self, query: str) -> None:
        params = dict(parse_qsl(query))
        limit, after = params.get("limit", "10"), params.get("after", "0")
        if not (is_number(limit) and is_number(after) and 1 <= int(limit) <= MAX_PAGE):
            raise HTTPProblem(HTTPStatus.BAD_REQUEST,
                              f"limit must be 1..{MAX_PAGE} and after an author id")
        rest = [a for a in self.store.data["authors"] if a["id"] > int(after)]
        page = rest[: int(limit)]
        body: dict = {"items": page, "next": None}
        headers = {}
        if len(rest) > len(page):  # the cursor is the last id seen: stable under inserts
            body["next"] = f"/authors?limit={limit}&after={page[-1]['id']}"
            headers["Link"] = f'<{body["next"]}>; rel="next"'  # RFC 8288
        self.send_json(HTTPStatus.OK, body, headers)
    # --8<-- [end:pagination]

    # --8<-- [start:authors]
    def create_author(self, query: str) -> None:
        author = {"id": self.store.next_id("authors"), **author_fields(self.read_json())}
        self.store.data["authors"].append(author)
        self.send_json(HTTPStatus.CREATED, author,
                       {"Location": f"/authors/{author['id']}", "ETag": etag(author)})

    def get_author(self, author_id: int, query: str) -> None:
        author = self.store.find("authors", author_id)
        if self.headers.get("If-None-Match") == etag(author):
            self.send_json(HTTPStatus.NOT_MODIFIED, None, {"ETag": etag(author)})
            return
        self.send_json(HTTPStatus.OK, author, {"ETag": etag(author)})

    def replace_author(self, author_id: int, query: str) -> None:
        author = self.store.find("authors", author_id)
        expected = self.headers.get("If-Match")
        if expected is None:
            raise HTTPProblem(HTTPStatus.PRECONDITION_REQUIRED,
                              "send If-Match: the ETag you read (no lost updates)")
        if expected != etag(author):
            raise HTTPProblem(HTTPStatus.PRECONDITION_FAILED,
                              f"author {author_id} changed since you read it",
                              {"ETag": etag(author)})
        author.update(author_fields(self.read_json()))
        self.send_json(HTTPStatus.OK, author, {"ETag": etag(author)})

    def delete_author(self, author_id: int, query: str) -> None:
        author = self.store.find("authors", author_id)
        books = [b for b in self.store.data["books"] if b["authorId"] == author_id]
        if books:
            raise HTTPProblem(HTTPStatus.CONFLICT,
                              f"author {author_id} still has {len(books)} books")
        self.store.data["authors"].remove(author)
        self.send_json(HTTPStatus.NO_CONTENT, None)
    # --8<-- [end:authors]

    def author_books(self, author_id: int, query: str) -> None:
        self.store.find("authors", author_id)
        books = [b for b in self.store.data["books"] if b["authorId"] == author_id]
        self.send_json(HTTPStatus.OK, {"items": books})

    def create_book(self, query: str) -> None:
        body = self.read_json()
        if not (isinstance(body, dict) and isinstance(body.get("title"), str)
                and isinstance(body.get("isbn"), str) and type(body.get("authorId")) is int):
            raise HTTPProblem(HTTPStatus.BAD_REQUEST,
                              "a book needs string 'title' and 'isbn' and integer 'authorId'")
        if any(b["isbn"] == body["isbn"] for b in self.store.data["books"]):
            raise HTTPProblem(HTTPStatus.CONFLICT, f"a book with ISBN {body['isbn']} exists")
        self.store.find("authors", body["authorId"])
        book = {"id": self.store.next_id("books"), "authorId": body["authorId"],
                "isbn": body["isbn"], "title": body["title"], "year": body.get("year"),
                "pages": body.get("pages"), "summary": body.get("summary", "")}
        self.store.data["books"].append(book)
        self.send_json(HTTPStatus.CREATED, book, {"Location": f"/books/{book['id']}"})

    def get_book(self, book_id: int, query: str) -> None:
        self.send_json(HTTPStatus.OK, self.store.find("books", book_id))

    def book_reviews(self, book_id: int, query: str) -> None:
        self.store.find("books", book_id)
        reviews = [r for r in self.store.data["reviews"] if r["bookId"] == book_id]
        self.send_json(HTTPStatus.OK, {"items": reviews})


class Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with two defaults changed for clients that misbehave."""

    request_queue_size = 128  # the listen backlog: socketserver's 5 drops a burst's SYNs

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)  # a bug of ours: print it
        # a client that reset the connection or stalled is not an error of the server's


def make_server(host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A server with its own fresh copy of the data; port 0 lets the OS choose."""
    handler = type("BookstoreHandler", (Handler,), {"store": Store()})
    return Server((host, port), handler)


@contextmanager
def running(server: ThreadingHTTPServer) -> Iterator[str]:
    """Serve in a background thread; yield the base URL; shut down and close on exit."""
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --8<-- [start:client]
@dataclass
class Meter:
    """Counts what a client pays: requests, and response bytes (status line + headers + body)."""

    requests: int = 0
    head_bytes: int = 0
    body_bytes: int = 0

    def record(self, response: httpx.Response) -> None:
        status_line = f"{response.http_version} {response.status_code} {response.reason_phrase}"
        headers = sum(len(name) + len(value) + 4 for name, value in response.headers.raw)
        self.requests += 1
        self.head_bytes += len(status_line) + 2 + headers + 2  # CRLFs, and the blank line
        self.body_bytes += len(response.content)


def fetch_author_page(client: httpx.Client, author_id: int, meter: Meter) -> dict:
    """One screen: the author, their books, each book's reviews. REST needs 2 + N requests."""

    def get(url: str) -> dict:
        response = client.get(url)
        meter.record(response)
        response.raise_for_status()
        return response.json()

    author = get(f"/authors/{author_id}")
    books = get(f"/authors/{author_id}/books")["items"]
    for book in books:  # the N in "N + 1": one more request per book
        book["reviews"] = get(f"/books/{book['id']}/reviews")["items"]
    return {"author": author, "books": books}
# --8<-- [end:client]


def screen_view(page: dict) -> dict:
    """Only the fields the screen shows: what a client that could choose would ask for."""
    return {
        "name": page["author"]["name"],
        "books": [
            {"title": book["title"], "year": book["year"],
             "reviews": [{"reviewer": r["reviewer"], "rating": r["rating"]}
                         for r in book["reviews"]]}
            for book in page["books"]
        ],
    }


def print_author_page(client: httpx.Client) -> None:
    meter = Meter()
    page = fetch_author_page(client, 1, meter)
    view = screen_view(page)
    print(f"author page for {view['name']}: {len(view['books'])} books, "
          f"{sum(len(b['reviews']) for b in view['books'])} reviews")
    for book in view["books"]:
        ratings = ", ".join(f"{r['reviewer']} {r['rating']}" for r in book["reviews"])
        print(f"  {book['title']} ({book['year']}): {ratings}")
    used = len(compact(view))
    print(f"  cost: {meter.requests} requests (under-fetching: 1 + 1 + one per book)")
    print(f"        {meter.head_bytes + meter.body_bytes} response bytes "
          f"= {meter.head_bytes} head + {meter.body_bytes} body")
    print(f"  the screen shows {used} of the {meter.body_bytes} body bytes "
          f"(over-fetching: {meter.body_bytes - used} never shown)")


def show(response: httpx.Response, note: str = "") -> None:
    request = response.request
    target = request.url.raw_path.decode()
    detail = note
    if not detail and response.headers.get("content-type") == "application/problem+json":
        detail = response.json()["detail"]
    print(f"  {request.method:<6} {target:<24} {response.status_code} "
          f"{response.reason_phrase:<21} {detail}".rstrip())


def walkthrough(client: httpx.Client) -> None:
    print("methods and status codes:")
    first = client.get("/authors", params={"limit": 2})
    show(first, f"Link: {first.headers['link']}")
    second = client.get(first.json()["next"])
    show(second, f"{len(second.json()['items'])} more, no next page")
    created = client.post("/authors", json={"name": "N. K. Jemisin", "born": 1972})
    show(created, f"Location: {created.headers['location']}")
    url = created.headers["location"]
    tag = created.headers["etag"]
    show(client.get(url, headers={"If-None-Match": tag}), "your cached copy is current")
    update = {"name": "N. K. Jemisin", "born": 1972, "country": "United States"}
    show(client.put(url, json=update), "")
    updated = client.put(url, json=update, headers={"If-Match": tag})
    show(updated, "If-Match matched: new ETag")
    show(client.put(url, json=update, headers={"If-Match": tag}), "")
    show(client.delete("/authors/1"))
    show(client.delete(url), "deleted, no body")
    show(client.get(url))
    show(client.post("/books", json={"title": "Copy", "isbn": "9780547773742", "authorId": 1}))
    show(client.post("/authors", content=b"{not json", headers={"content-type": "x"}))
    patched = client.patch("/authors/2", json={})
    show(patched, f"Allow: {patched.headers['allow']}")


def run_client(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=5) as client:
        print_author_page(client)


def demo() -> None:
    print("REST bookstore on 127.0.0.1 (a port the OS chose)")
    with running(make_server()) as base_url, httpx.Client(base_url=base_url, timeout=5) as client:
        print_author_page(client)
        walkthrough(client)


def main(argv: list[str] | None = None,
         on_ready: Callable[[ThreadingHTTPServer], None] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["demo", "server", "client"], default="demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    if args.mode == "server":
        with make_server(args.host, args.port) as server:
            print(f"serving the bookstore on http://{args.host}:{server.server_address[1]}")
            if on_ready:
                on_ready(server)  # the tests use this to find the port and stop the server
            with suppress(KeyboardInterrupt):  # Ctrl-C ends serving quietly
                server.serve_forever()
    elif args.mode == "client":
        run_client(f"http://{args.host}:{args.port}")
    else:
        demo()


if __name__ == "__main__":
    main()
