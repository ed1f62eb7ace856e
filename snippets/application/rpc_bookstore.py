# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "grpcio~=1.85",
#     "grpcio-tools~=1.85",
# ]
# ///
"""The bookstore as a gRPC service: a protobuf schema, unary and streaming calls, deadlines.

The service and its messages are declared in a protobuf schema that this file carries (the
BOOKSTORE_PROTO string: a copy of this one file is all a reader needs); the message classes and
stubs are built from it at run time with grpc.protos_and_services (needs grpcio-tools), so no
generated code is kept. The server (grpcio, HTTP/2 on 127.0.0.1)
answers unary calls, a server-streaming ListBooks, a GetAuthorPage made for one screen, and a
WatchReviews stream that runs until the client's deadline ends it with DEADLINE_EXCEEDED. Bad
input gets a gRPC status code: NOT_FOUND, INVALID_ARGUMENT, ALREADY_EXISTS. Each open stream
holds one of the server's 8 worker threads, so streams have a limit of their own (4 at once,
RESOURCE_EXHAUSTED beyond) and a longest life: they never starve the unary calls.

Run: python rpc_bookstore.py                   (a demo on 127.0.0.1, a port the OS chose)
     python rpc_bookstore.py server --port 50051 (serve until Ctrl-C)
     python rpc_bookstore.py client --port 50051 (call that server)
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent import futures
from contextlib import suppress
from pathlib import Path

import grpc

MAX_WORKERS = 8  # threads that run handlers: each call, unary or stream, holds one while it runs
MAX_WATCHERS = 4  # WatchReviews streams at once: the other workers stay free for unary calls
MAX_WATCH = 300.0  # seconds a stream lasts at most, deadline or not (then the client asks again)
MAX_RPCS = 64  # calls running or queued for a worker; more get RESOURCE_EXHAUSTED at once


# --8<-- [start:proto]
BOOKSTORE_PROTO = """\
// The bookstore as a gRPC service: rpc_bookstore.py compiles this at run time.
syntax = "proto3";

package bookstore;

// --8<-- [start:service]
service Bookstore {
  // Unary calls: one request message, one response message.
  rpc GetAuthor(GetAuthorRequest) returns (Author);
  rpc CreateBook(CreateBookRequest) returns (Book);
  rpc AddReview(AddReviewRequest) returns (Review);
  // Made for one screen: the RPC answer to under- and over-fetching.
  rpc GetAuthorPage(GetAuthorRequest) returns (AuthorPage);
  // Server streaming: one request, a stream of responses.
  rpc ListBooks(ListBooksRequest) returns (stream Book);
  // A book's reviews, then each new one, until the client's deadline.
  rpc WatchReviews(WatchReviewsRequest) returns (stream Review);
}
// --8<-- [end:service]

// --8<-- [start:messages]
message Author {
  int32 id = 1;  // numbers, not names, go on the wire
  string name = 2;
  int32 born = 3;
  string country = 4;
  string bio = 5;
}

message Book {
  int32 id = 1;
  int32 author_id = 2;
  string isbn = 3;
  string title = 4;
  int32 year = 5;
  int32 pages = 6;
  string summary = 7;
}

message Review {
  int32 id = 1;
  int32 book_id = 2;
  string reviewer = 3;
  int32 rating = 4;
  string text = 5;
}

message AuthorPage {
  message ReviewLine {
    string reviewer = 1;
    int32 rating = 2;
  }
  message BookLine {
    string title = 1;
    int32 year = 2;
    repeated ReviewLine reviews = 3;
  }
  string name = 1;
  repeated BookLine books = 2;
}
// --8<-- [end:messages]

message GetAuthorRequest {
  int32 id = 1;
}

message ListBooksRequest {
  int32 author_id = 1;
}

message CreateBookRequest {
  int32 author_id = 1;
  string isbn = 2;
  string title = 3;
  int32 year = 4;
}

message AddReviewRequest {
  int32 book_id = 1;
  string reviewer = 2;
  int32 rating = 3;
  string text = 4;
}

message WatchReviewsRequest {
  int32 book_id = 1;
}
"""
# --8<-- [end:proto]


# --8<-- [start:load]
def load_protos(schema: str = BOOKSTORE_PROTO):
    """Build the message classes and the stub/servicer from the schema. protos_and_services
    reads a .proto file from sys.path: write it to a temporary folder for the call."""
    with tempfile.TemporaryDirectory(prefix="bookstore-proto-") as folder:
        (Path(folder) / "bookstore.proto").write_text(schema, encoding="utf-8")
        sys.path.insert(0, folder)
        try:
            return grpc.protos_and_services("bookstore.proto")
        finally:
            sys.path.remove(folder)


pb, services = load_protos()  # pb.Author, pb.Book, ...; services.BookstoreStub, ...
# --8<-- [end:load]

# The same small bookstore as rest_bookstore.py and graphql_bookstore.py (copied: snippets
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


def author_message(row: dict) -> pb.Author:
    return pb.Author(id=row["id"], name=row["name"], born=row["born"], country=row["country"],
                     bio=row["bio"])


def book_message(row: dict) -> pb.Book:
    return pb.Book(id=row["id"], author_id=row["authorId"], isbn=row["isbn"], title=row["title"],
                   year=row["year"], pages=row["pages"], summary=row["summary"])


def review_message(row: dict) -> pb.Review:
    return pb.Review(id=row["id"], book_id=row["bookId"], reviewer=row["reviewer"],
                     rating=row["rating"], text=row["text"])


# --8<-- [start:servicer]
class Bookstore(services.BookstoreServicer):
    def __init__(self, max_watchers: int = MAX_WATCHERS, max_watch: float = MAX_WATCH) -> None:
        self.data = copy.deepcopy(SEED)
        self.changed = threading.Condition()  # guards data; notified when a review is added
        self.watch_slots = threading.BoundedSemaphore(max_watchers)
        self.max_watchers, self.max_watch = max_watchers, max_watch

    def find(self, kind: str, item_id: int, context: grpc.ServicerContext) -> dict:
        if item_id <= 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{kind[:-1]} id must be positive")
        for row in self.data[kind]:
            if row["id"] == item_id:
                return row
        context.abort(grpc.StatusCode.NOT_FOUND, f"{kind[:-1]} {item_id} does not exist")

    def GetAuthor(self, request, context):
        with self.changed:
            return author_message(self.find("authors", request.id, context))

    def ListBooks(self, request, context):  # server streaming: yield one message at a time
        with self.changed:
            self.find("authors", request.author_id, context)
            rows = [b for b in self.data["books"] if b["authorId"] == request.author_id]
        for row in rows:
            yield book_message(row)

    def GetAuthorPage(self, request, context):
        with self.changed:
            author = self.find("authors", request.id, context)
            page = pb.AuthorPage(name=author["name"])
            for book in (b for b in self.data["books"] if b["authorId"] == author["id"]):
                line = page.books.add(title=book["title"], year=book["year"])
                for review in (r for r in self.data["reviews"] if r["bookId"] == book["id"]):
                    line.reviews.add(reviewer=review["reviewer"], rating=review["rating"])
            return page

    def CreateBook(self, request, context):
        with self.changed:
            self.find("authors", request.author_id, context)
            if any(b["isbn"] == request.isbn for b in self.data["books"]):
                context.abort(grpc.StatusCode.ALREADY_EXISTS, f"ISBN {request.isbn} exists")
            row = {"id": len(self.data["books"]) + 1, "authorId": request.author_id,
                   "isbn": request.isbn, "title": request.title, "year": request.year,
                   "pages": 0, "summary": ""}
            self.data["books"].append(row)
            return book_message(row)

    def AddReview(self, request, context):
        if not 1 <= request.rating <= 5:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"rating must be 1 to 5, not {request.rating}")
        with self.changed:
            self.find("books", request.book_id, context)
            row = {"id": len(self.data["reviews"]) + 1, "bookId": request.book_id,
                   "reviewer": request.reviewer, "rating": request.rating, "text": request.text}
            self.data["reviews"].append(row)
            self.changed.notify_all()  # wake every WatchReviews stream
            return review_message(row)
# --8<-- [end:servicer]

    # --8<-- [start:watch]
    def WatchReviews(self, request, context):
        """Send the reviews there are, then each new one, until the call ends.

        The call ends when the client's deadline passes or it cancels: gRPC then runs the
        callback, which wakes this thread so that it returns at once. A stream holds a worker
        thread all along: there are only max_watchers slots (the other workers serve unary
        calls), and a stream ends after max_watch seconds even if the client set no deadline.
        """
        with self.changed:
            self.find("books", request.book_id, context)
        # --8<-- [start:slots]
        if not self.watch_slots.acquire(blocking=False):  # refuse at once, never queue
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"{self.max_watchers} streams are open already: retry later")
        try:
            context.add_callback(self.wake_watchers)
            yield from self.watch(request.book_id, context, time.monotonic() + self.max_watch)
        finally:
            self.watch_slots.release()
        # --8<-- [end:slots]

    def watch(self, book_id: int, context: grpc.ServicerContext, ends_at: float):
        sent = 0
        while (left := ends_at - time.monotonic()) > 0:
            with self.changed:
                rows = [r for r in self.data["reviews"] if r["bookId"] == book_id]
                if len(rows) == sent:
                    if not context.is_active():
                        return
                    self.changed.wait(timeout=min(left, 5))  # woken by AddReview or the end
                    continue
            for row in rows[sent:]:
                yield review_message(row)
            sent = len(rows)

    def wake_watchers(self) -> None:
        with self.changed:
            self.changed.notify_all()
    # --8<-- [end:watch]


def make_server(host: str = "127.0.0.1", port: int = 0,
                bookstore: Bookstore | None = None) -> tuple[grpc.Server, int]:
    """A started server with its own copy of the data, and the port it is bound to."""
    # so_reuseport 0: a second server on a busy port fails (RuntimeError) instead of sharing it
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=MAX_WORKERS),
                         options=[("grpc.so_reuseport", 0)], maximum_concurrent_rpcs=MAX_RPCS)
    services.add_BookstoreServicer_to_server(bookstore or Bookstore(), server)
    bound = server.add_insecure_port(f"{host}:{port}")  # port 0: the OS chooses; we get it back
    server.start()
    return server, bound


def compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def page_as_json(page: pb.AuthorPage) -> bytes:
    """The same fields as compact JSON, to compare sizes with the REST and GraphQL demos."""
    return compact({"name": page.name, "books": [
        {"title": b.title, "year": b.year,
         "reviews": [{"reviewer": r.reviewer, "rating": r.rating} for r in b.reviews]}
        for b in page.books]})


def call(name: str, function: Callable[[], object]) -> None:
    """Make one call and print the status code it ended with."""
    try:
        function()
        print(f"  {name:<30} OK")
    except grpc.RpcError as error:
        print(f"  {name:<30} {error.code().name:<17} {error.details()}")


# --8<-- [start:client]
def run_calls(stub) -> None:
    author = stub.GetAuthor(pb.GetAuthorRequest(id=1), timeout=5)
    print(f"GetAuthor(1): {author.name}, born {author.born}")
    books = stub.ListBooks(pb.ListBooksRequest(author_id=1), timeout=5)  # an iterator
    print("ListBooks(1), a server stream:", " / ".join(book.title for book in books))

    page = stub.GetAuthorPage(pb.GetAuthorRequest(id=1), timeout=5)
    print(f"GetAuthorPage(1), one call made for the screen: {page.name}")
    for book in page.books:
        ratings = ", ".join(f"{r.reviewer} {r.rating}" for r in book.reviews)
        print(f"  {book.title} ({book.year}): {ratings}")
    print(f"  cost: 1 call, {page.ByteSize()} bytes of protobuf "
          f"(the same fields as compact JSON: {len(page_as_json(page))} bytes)")
# --8<-- [end:client]


# --8<-- [start:errors]
def show_status_codes(stub) -> None:
    print("status codes:")
    call("GetAuthor(99)", lambda: stub.GetAuthor(pb.GetAuthorRequest(id=99), timeout=5))
    call("GetAuthor(0)", lambda: stub.GetAuthor(pb.GetAuthorRequest(id=0), timeout=5))
    call("ListBooks(42)", lambda: list(stub.ListBooks(pb.ListBooksRequest(author_id=42),
                                                       timeout=5)))
    call("AddReview(rating 9)", lambda: stub.AddReview(
        pb.AddReviewRequest(book_id=1, reviewer="eve", rating=9), timeout=5))
    call("CreateBook(an existing ISBN)", lambda: stub.CreateBook(
        pb.CreateBookRequest(author_id=1, isbn="9780547773742", title="Copy"), timeout=5))
# --8<-- [end:errors]


# --8<-- [start:deadline]
def watch_until_deadline(stub, deadline: float = 2.0) -> None:
    print(f"WatchReviews(book 1) with a {deadline:g} s deadline:")
    stream = stub.WatchReviews(pb.WatchReviewsRequest(book_id=1), timeout=deadline)
    try:
        for count, review in enumerate(stream, start=1):
            print(f"  review {review.id}: {review.reviewer} {review.rating}")
            if count == 2:  # both old reviews are in: add one while we watch
                stub.AddReview(pb.AddReviewRequest(book_id=1, reviewer="eve", rating=3,
                                                   text="Slow start."), timeout=5)
    except grpc.RpcError as error:
        print(f"  the stream ended: {error.code().name}")  # the details text varies
# --8<-- [end:deadline]


def run_client(target: str) -> None:
    with grpc.insecure_channel(target) as channel:
        run_calls(services.BookstoreStub(channel))


def demo() -> None:
    print("gRPC bookstore on 127.0.0.1 (a port the OS chose), stubs built from bookstore.proto")
    server, port = make_server()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = services.BookstoreStub(channel)
            run_calls(stub)
            show_status_codes(stub)
            watch_until_deadline(stub)
    finally:
        server.stop(grace=None).wait(timeout=5)


def main(argv: list[str] | None = None,
         on_ready: Callable[[grpc.Server, int], None] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["demo", "server", "client"], default="demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=50051)
    args = parser.parse_args(argv)
    if args.mode == "server":
        server, port = make_server(args.host, args.port)
        print(f"serving the Bookstore service on {args.host}:{port}")
        try:
            if on_ready:
                on_ready(server, port)  # the tests use this to find the port and stop the server
            with suppress(KeyboardInterrupt):  # Ctrl-C ends serving
                server.wait_for_termination()
        finally:
            server.stop(grace=None).wait(timeout=5)
    elif args.mode == "client":
        run_client(f"{args.host}:{args.port}")
    else:
        demo()


if __name__ == "__main__":
    main()
