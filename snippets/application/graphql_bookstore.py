# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "graphql-core~=3.3",
#     "httpx~=0.28",
# ]
# ///
"""The bookstore as a GraphQL API: one query fetches exactly the fields a screen needs.

The schema is written in GraphQL SDL and built with graphql-core; resolvers read the same small
in-memory data as rest_bookstore.py. The server answers POST /graphql over HTTP (http.server's
ThreadingHTTPServer). Each request is parsed, validated (the specification's rules plus a depth
limit written here as a ValidationRule) and executed. Errors are reported the GraphQL way: a
"errors" list with a message, locations and a path, next to whatever "data" could be computed.
The client (httpx) counts requests and response bytes for the same screen as the REST demo.

Run: python graphql_bookstore.py                   (a demo on 127.0.0.1, a port the OS chose)
     python graphql_bookstore.py server --port 8080 (serve until Ctrl-C)
     python graphql_bookstore.py client --port 8080 (fetch the author page from that server)
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    build_schema,
    execute,
    parse,
    specified_rules,
    validate,
)

# The same small bookstore as rest_bookstore.py and rpc_bookstore.py (copied: snippets never
# import each other).
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

MAX_BODY = 64 * 1024
MAX_TOKENS = 2000  # the parser stops beyond this many tokens (a long query is a costly one)
MAX_DEPTH = 5  # author { books { reviews { book { title } } } } is as deep as we allow
MAX_FIELDS = 200  # fields one operation may ask for, each fragment counted where it is spread

# --8<-- [start:schema]
SDL = """
type Query {
  author(id: ID!): Author
  authors(first: Int = 10): [Author!]!
  book(id: ID!): Book
}

type Mutation {
  addReview(bookId: ID!, reviewer: String!, rating: Int!, text: String): Review!
}

type Author {
  id: ID!
  name: String!
  born: Int
  country: String
  bio: String
  books: [Book!]!
}

type Book {
  id: ID!
  isbn: String!
  title: String!
  year: Int
  pages: Int
  summary: String
  author: Author!
  reviews: [Review!]!
}

type Review {
  id: ID!
  reviewer: String!
  rating: Int!
  text: String
  book: Book!
}
"""
# --8<-- [end:schema]


def is_number(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts "²", which int() then refuses."""
    return text.isascii() and text.isdecimal()


def compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


# --8<-- [start:resolvers]
class Store:
    def __init__(self) -> None:
        self.data = copy.deepcopy(SEED)
        self.lock = threading.Lock()

    def find(self, kind: str, item_id: object) -> dict | None:
        if not is_number(str(item_id)):
            raise GraphQLError(f"{kind[:-1]} id must be a number, not {item_id!r}")
        return next((x for x in self.data[kind] if x["id"] == int(item_id)), None)


def make_schema() -> GraphQLSchema:
    """The SDL, with a resolver on every field that is not a plain key of the dicts."""
    schema = build_schema(SDL)

    def resolve(type_name: str, field_name: str):
        def attach(function):
            schema.type_map[type_name].fields[field_name].resolve = function  # type: ignore
            return function
        return attach

    @resolve("Query", "author")
    def author(_root, info, id):
        return info.context.find("authors", id)  # None is a fine answer: the field is nullable

    @resolve("Query", "authors")
    def authors(_root, info, first):
        return info.context.data["authors"][:first]

    @resolve("Query", "book")
    def book(_root, info, id):
        return info.context.find("books", id)

    @resolve("Author", "books")
    def author_books(author, info):
        return [b for b in info.context.data["books"] if b["authorId"] == author["id"]]

    @resolve("Book", "author")
    def book_author(book, info):
        return info.context.find("authors", book["authorId"])

    @resolve("Book", "reviews")
    def book_reviews(book, info):
        return [r for r in info.context.data["reviews"] if r["bookId"] == book["id"]]

    @resolve("Review", "book")
    def review_book(review, info):
        return info.context.find("books", review["bookId"])

    @resolve("Mutation", "addReview")
    def add_review(_root, info, bookId, reviewer, rating, text=None):
        if not 1 <= rating <= 5:
            raise GraphQLError(f"rating must be 1 to 5, not {rating}")
        if info.context.find("books", bookId) is None:
            raise GraphQLError(f"book {bookId} does not exist")
        reviews = info.context.data["reviews"]
        review = {"id": len(reviews) + 1, "bookId": int(bookId), "reviewer": reviewer,
                  "rating": rating, "text": text}
        reviews.append(review)
        return review

    return schema
# --8<-- [end:resolvers]


# --8<-- [start:depth]
class DepthLimitRule(ValidationRule):
    """Reject an operation whose fields nest deeper than MAX_DEPTH, before running anything.

    Author.books.author.books... is a cycle in the schema, so without a limit one small query
    can ask for an answer that grows exponentially with its depth.
    """

    def enter_operation_definition(self, node: OperationDefinitionNode, *_args) -> None:
        depth = self.depth(node.selection_set, {})
        if depth > MAX_DEPTH:
            name = f"operation {node.name.value}" if node.name else "the operation"
            self.report_error(GraphQLError(
                f"{name} is {depth} levels deep, the limit is {MAX_DEPTH}", node))

    def depth(self, selection_set: SelectionSetNode | None, fragments: dict[str, int]) -> int:
        deepest = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                deepest = max(deepest, 1 + self.depth(selection.selection_set, fragments))
            elif isinstance(selection, FragmentSpreadNode):
                deepest = max(deepest, measure_fragment(self, selection, fragments, self.depth))
            else:  # an inline fragment adds no level of its own
                deepest = max(deepest, self.depth(selection.selection_set, fragments))
        return deepest
# --8<-- [end:depth]


# --8<-- [start:cost]
def measure_fragment(rule: ValidationRule, spread: FragmentSpreadNode, known: dict[str, int],
                     measure: Callable[[SelectionSetNode, dict[str, int]], int]) -> int:
    """Measure a named fragment once, however often it is spread: walking it again at each
    spread would cost 2**n for n fragments that each spread the next one twice."""
    name = spread.name.value
    if name not in known:
        known[name] = 0  # while it is measured: a cycle adds nothing (NoFragmentCyclesRule)
        fragment = rule.context.get_fragment(name)
        known[name] = measure(fragment.selection_set, known) if fragment else 0
    return known[name]


class FieldCountRule(ValidationRule):
    """Reject an operation that asks for more than MAX_FIELDS fields in all.

    Depth alone is not enough: ten fields at each of five levels is 100,000 fields of answer.
    Fragments are expanded where they are spread, so the count is what execution would do.
    """

    def enter_operation_definition(self, node: OperationDefinitionNode, *_args) -> None:
        fields = self.count(node.selection_set, {})
        if fields > MAX_FIELDS:
            name = f"operation {node.name.value}" if node.name else "the operation"
            self.report_error(GraphQLError(
                f"{name} asks for {fields} fields, the limit is {MAX_FIELDS}", node))

    def count(self, selection_set: SelectionSetNode | None, fragments: dict[str, int]) -> int:
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += 1 + self.count(selection.selection_set, fragments)
            elif isinstance(selection, FragmentSpreadNode):
                total += measure_fragment(self, selection, fragments, self.count)
            else:
                total += self.count(selection.selection_set, fragments)
        return total
# --8<-- [end:cost]


def parse_body(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError as error:  # JSONDecodeError, or UnicodeDecodeError for bad UTF-8
        reason = error.msg if isinstance(error, json.JSONDecodeError) else "not UTF-8"
        raise ValueError(f"body is not JSON: {reason}") from None
    except RecursionError:  # [[[[... deeper than the parser's stack
        raise ValueError("body is not JSON: nested too deeply") from None


# --8<-- [start:execute]
def run_query(schema: GraphQLSchema, store: Store, request: object) -> dict:
    """One GraphQL request: parse, validate, execute. Returns the response's JSON object."""
    if not isinstance(request, dict) or not isinstance(request.get("query"), str):
        raise ValueError("the body must be a JSON object with a string 'query'")
    variables = request.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise ValueError("'variables' must be a JSON object")
    try:
        document = parse(request["query"], max_tokens=MAX_TOKENS)
    except GraphQLError as error:
        return {"errors": [error.formatted]}  # a syntax error: nothing was run
    errors = validate(schema, document, [*specified_rules, DepthLimitRule, FieldCountRule])
    if errors:
        return {"errors": [error.formatted for error in errors]}  # invalid: nothing was run
    with store.lock:
        result = execute(schema, document, context_value=store, variable_values=variables,
                         operation_name=request.get("operationName"))
    response = result.formatted  # {"data": ...} and, if any field failed, "errors"
    if result.data is None and result.errors and all(e.path is None for e in result.errors):
        del response["data"]  # a request error (bad variables): execution never began
    return response
# --8<-- [end:execute]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # http.server sends the head and the body in two writes: with Nagle's algorithm on, the
    # body waits for the ACK of the head, which the client delays (~40 ms). Send at once.
    disable_nagle_algorithm = True
    timeout = 10
    default_request_version = "HTTP/1.0"  # an unreadable request line still gets a status line
    schema: GraphQLSchema
    store: Store

    def version_string(self) -> str:
        return "bookstore-graphql"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def reply(self, status: HTTPStatus, body: dict, headers: dict[str, str] | None = None) -> None:
        payload = compact(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length", "")
        chunked = "Transfer-Encoding" in self.headers  # http.server does not decode chunks
        lengths = len(self.headers.get_all("Content-Length", []))
        if chunked or lengths > 1 or not is_number(length) or len(length) > 9 or (
                int(length) > MAX_BODY):
            self.close_connection = True  # the body's end is unknown, or it is too big to read
            self.reply(HTTPStatus.BAD_REQUEST, {"errors": [
                {"message": f"need a Content-Length of at most {MAX_BODY} bytes"}]},
                {"Connection": "close"})
            return
        raw = self.rfile.read(int(length))
        if self.path != "/graphql":
            self.reply(HTTPStatus.NOT_FOUND, {"errors": [{"message": "POST to /graphql"}]})
            return
        try:
            response = run_query(self.schema, self.store, parse_body(raw))
        except ValueError as error:  # not JSON, or not a GraphQL request: an HTTP-level 400
            self.reply(HTTPStatus.BAD_REQUEST, {"errors": [{"message": str(error)}]})
            return
        # application/json: 200 for every well-formed GraphQL request, errors or not
        self.reply(HTTPStatus.OK, response)

    def do_GET(self) -> None:
        self.reply(HTTPStatus.METHOD_NOT_ALLOWED,
                   {"errors": [{"message": "send queries with POST /graphql"}]},
                   {"Allow": "POST"})

    do_HEAD = do_GET  # the same answer, without the body (RFC 9110 section 9.3.2)


class Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with two defaults changed for clients that misbehave."""

    request_queue_size = 128  # the listen backlog: socketserver's 5 drops a burst's SYNs

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)  # a bug of ours: print it
        # a client that reset the connection or stalled is not an error of the server's


def make_server(host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    handler = type("GraphQLHandler", (Handler,), {"schema": make_schema(), "store": Store()})
    return Server((host, port), handler)


@contextmanager
def running(server: ThreadingHTTPServer) -> Iterator[str]:
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}/graphql"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


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
        self.head_bytes += len(status_line) + 2 + headers + 2
        self.body_bytes += len(response.content)


# --8<-- [start:client]
AUTHOR_PAGE = """
query AuthorPage($id: ID!) {
  author(id: $id) {
    name
    books { title year reviews { reviewer rating } }
  }
}
"""


def graphql(client: httpx.Client, url: str, query: str, meter: Meter | None = None,
            **variables: object) -> dict:
    response = client.post(url, json={"query": query, "variables": variables})
    if meter:
        meter.record(response)
    return response.json()
# --8<-- [end:client]


def print_author_page(client: httpx.Client, url: str) -> None:
    meter = Meter()
    author = graphql(client, url, AUTHOR_PAGE, meter, id="1")["data"]["author"]
    books = author["books"]
    print(f"author page for {author['name']}: {len(books)} books, "
          f"{sum(len(b['reviews']) for b in books)} reviews")
    for book in books:
        ratings = ", ".join(f"{r['reviewer']} {r['rating']}" for r in book["reviews"])
        print(f"  {book['title']} ({book['year']}): {ratings}")
    print(f"  cost: {meter.requests} request (the query names every field the screen shows)")
    print(f"        {meter.head_bytes + meter.body_bytes} response bytes "
          f"= {meter.head_bytes} head + {meter.body_bytes} body")


BAD_QUERIES = {
    "syntax error": "{ author(id: 1) { name }",
    "unknown field": "{ book(id: 1) { isbnn } }",
    "wrong variable type": ("query Q($id: ID!) { author(id: $id) { name } }", {"id": [1]}),
    "too deep": "query Deep { author(id: 1) { books { author { books { reviews { rating } } "
                "} } } }",
    "resolver error": '{ author(id: 1) { name } book(id: "x") { title } }',
    "bad mutation": 'mutation { addReview(bookId: 1, reviewer: "eve", rating: 9) { id } }',
}


def print_errors(client: httpx.Client, url: str) -> None:
    print("errors, the GraphQL way (HTTP 200, an 'errors' list, and the data that could be had):")
    for name, query in BAD_QUERIES.items():
        query, variables = query if isinstance(query, tuple) else (query, {})
        body = graphql(client, url, query, **variables)
        error = body["errors"][0]
        where = f" at {error['path']}" if "path" in error else ""
        print(f"  {name + ':':<20} {error['message']}{where}")
        if "data" in body:
            print(f"  {'':<20} data: {compact(body['data']).decode()}")
    response = client.post(url, content=b"{not json")
    print(f"  {'not JSON:':<20} HTTP {response.status_code}, "
          f"{response.json()['errors'][0]['message']}")


def run_client(url: str) -> None:
    with httpx.Client(timeout=5) as client:
        print_author_page(client, url)


def demo() -> None:
    print("GraphQL bookstore on 127.0.0.1 (a port the OS chose)")
    with running(make_server()) as url, httpx.Client(timeout=5) as client:
        print_author_page(client, url)
        print_errors(client, url)


def main(argv: list[str] | None = None,
         on_ready: Callable[[ThreadingHTTPServer], None] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["demo", "server", "client"], default="demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    if args.mode == "server":
        with make_server(args.host, args.port) as server:
            print(f"serving GraphQL on http://{args.host}:{server.server_address[1]}/graphql")
            if on_ready:
                on_ready(server)  # the tests use this to find the port and stop the server
            with suppress(KeyboardInterrupt):  # Ctrl-C ends serving quietly
                server.serve_forever()
    elif args.mode == "client":
        run_client(f"http://{args.host}:{args.port}/graphql")
    else:
        demo()


if __name__ == "__main__":
    main()
