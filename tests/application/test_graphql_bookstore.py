import socket
import threading

import httpx
import pytest

from tests.support import load_snippet

gql = load_snippet("application/graphql_bookstore.py")
rest = load_snippet("application/rest_bookstore.py")


@pytest.fixture
def url():
    with gql.running(gql.make_server()) as url:
        yield url


@pytest.fixture
def client():
    with httpx.Client(timeout=5) as client:
        yield client


def ask(schema_and_store, query, **variables):
    schema, store = schema_and_store
    return gql.run_query(schema, store, {"query": query, "variables": variables})


@pytest.fixture
def local():
    return gql.make_schema(), gql.Store()


def test_author_page_in_one_request_matches_the_rest_screen(url, client):
    meter = gql.Meter()
    body = gql.graphql(client, url, gql.AUTHOR_PAGE, meter, id="1")
    assert "errors" not in body
    assert meter.requests == 1
    with rest.running(rest.make_server()) as base, httpx.Client(base_url=base, timeout=5) as c:
        rest_meter = rest.Meter()
        view = rest.screen_view(rest.fetch_author_page(c, 1, rest_meter))
    author = body["data"]["author"]
    assert author == view  # the same screen, field for field
    assert rest_meter.requests == 5
    assert meter.body_bytes < rest_meter.body_bytes
    assert meter.head_bytes + meter.body_bytes < rest_meter.head_bytes + rest_meter.body_bytes


def test_nested_resolvers_in_both_directions(local):
    data = ask(local, '{ book(id: "4") { title author { name } reviews { text book { id } } } }')
    assert data == {"data": {"book": {
        "title": "Guards! Guards!", "author": {"name": "Terry Pratchett"},
        "reviews": [{"text": "Funny and kind.", "book": {"id": "4"}}]}}}


def test_list_argument_with_default(local):
    assert len(ask(local, "{ authors { id } }")["data"]["authors"]) == 3
    assert ask(local, "{ authors(first: 1) { name } }")["data"] == {
        "authors": [{"name": "Ursula K. Le Guin"}]}


@pytest.mark.parametrize("bad_id", ["x", "\u00b2", "-1"])
def test_an_id_that_is_not_a_number_is_a_field_error(local, bad_id):
    body = ask(local, "query Q($id: ID!) { book(id: $id) { title } }", id=bad_id)
    assert body["data"] == {"book": None}
    assert body["errors"][0]["message"] == f"book id must be a number, not {bad_id!r}"


def test_missing_object_is_null_without_an_error(local):
    assert ask(local, '{ author(id: "99") { name } }') == {"data": {"author": None}}


def test_resolver_error_gives_partial_data_with_a_path(local):
    body = ask(local, '{ author(id: 1) { name } book(id: "x") { title } }')
    assert body["data"] == {"author": {"name": "Ursula K. Le Guin"}, "book": None}
    [error] = body["errors"]
    assert error["path"] == ["book"]
    assert error["locations"] == [{"line": 1, "column": 26}]
    assert "book id must be a number" in error["message"]


def test_mutation_adds_a_review_that_queries_then_see(local):
    body = ask(local, 'mutation { addReview(bookId: 5, reviewer: "eve", rating: 5, text: "Yes") '
                      "{ id rating book { title } } }")
    assert body == {"data": {"addReview": {"id": "6", "rating": 5, "book": {"title": "Kindred"}}}}
    reviews = ask(local, "{ book(id: 5) { reviews { reviewer } } }")["data"]["book"]["reviews"]
    assert reviews == [{"reviewer": "eve"}]


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        ('addReview(bookId: 1, reviewer: "x", rating: 0)', "rating must be 1 to 5, not 0"),
        ('addReview(bookId: 77, reviewer: "x", rating: 3)', "book 77 does not exist"),
    ],
)
def test_bad_mutation_is_an_error_and_changes_nothing(local, mutation, message):
    body = ask(local, f"mutation {{ {mutation} {{ id }} }}")
    assert body["data"] is None  # addReview is non-null, so the error nulls its parent
    assert body["errors"][0]["message"] == message
    assert len(local[1].data["reviews"]) == 5


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{ author(id: 1) { name }", "Syntax Error: Expected Name, found <EOF>."),
        ("{ book(id: 1) { isbnn } }", "Cannot query field 'isbnn' on type 'Book'."),
        ("{ author { name } }", "of type 'ID!' is required"),
        ("{ author(id: 1) }", "must have a selection of subfields"),
    ],
)
def test_invalid_queries_are_rejected_before_running(local, query, message):
    body = ask(local, query)
    assert "data" not in body  # nothing ran
    assert message in body["errors"][0]["message"]
    assert body["errors"][0]["locations"]


def test_bad_variable_is_a_request_error_without_data(local):
    body = ask(local, "query Q($id: ID!) { author(id: $id) { name } }", id=[1])
    assert "data" not in body
    assert "Variable '$id' has invalid value" in body["errors"][0]["message"]


def nested(levels: int) -> str:
    """author { books { author { books ... { id } } } } with `levels` levels of fields."""
    fields = ["author(id: 1)"] + ["books", "author"] * levels
    inner = "id"
    for name in reversed(fields[: levels - 1]):
        inner = f"{name} {{ {inner} }}"
    return f"{{ {inner} }}"


def test_depth_limit_allows_the_limit_and_rejects_one_more(local):
    assert "errors" not in ask(local, nested(gql.MAX_DEPTH))
    body = ask(local, nested(gql.MAX_DEPTH + 1))
    assert body == {"errors": [{"message": "the operation is 6 levels deep, the limit is 5",
                                "locations": [{"line": 1, "column": 1}]}]}


def test_depth_counts_through_fragments_and_inline_fragments(local):
    query = """
    query Sneaky { author(id: 1) { ...AB } }
    fragment AB on Author { books { ... on Book { author { books { reviews { rating } } } } } }
    """
    assert "operation Sneaky is 6 levels deep" in ask(local, query)["errors"][0]["message"]


def test_cyclic_fragments_are_rejected_not_looped(local):
    query = """
    { author(id: 1) { ...A } }
    fragment A on Author { books { author { ...B } } }
    fragment B on Author { ...A }
    """
    messages = [e["message"] for e in ask(local, query)["errors"]]
    assert any("Cannot spread fragment 'A' within itself" in m for m in messages)


def fragment_bomb(levels: int) -> str:
    """Each fragment spreads the next twice: about 60 bytes a level, 2**levels fields in all."""
    fragments = [f"fragment F{n} on Author {{ books {{ author {{ ...F{n + 1} ...F{n + 1} }} }} }}"
                 for n in range(levels)]
    return " ".join(["{ author(id: 1) { ...F0 } }", *fragments,
                     f"fragment F{levels} on Author {{ name }}"])


def test_each_fragment_is_measured_once_however_often_it_is_spread(local, monkeypatch):
    walks = []
    depth = gql.DepthLimitRule.depth

    def counted(self, selection_set, fragments):
        walks.append(selection_set)
        return depth(self, selection_set, fragments)

    monkeypatch.setattr(gql.DepthLimitRule, "depth", counted)
    body = ask(local, fragment_bomb(14))
    assert "the operation is 30 levels deep" in body["errors"][0]["message"]
    assert len(walks) < 100  # walked again at each spread, it would be 2**15 selection sets


def test_a_fragment_bomb_is_refused_at_once_over_http(url, client):
    query = fragment_bomb(22)  # 1.4 kB; walked naively, 2**23 selection sets (seconds of CPU)
    response = client.post(url, json={"query": query}, timeout=5)
    messages = [error["message"] for error in response.json()["errors"]]
    assert messages == ["the operation is 46 levels deep, the limit is 5",
                        f"the operation asks for {3 * 2 ** 22 - 1} fields, the limit is 200"]
    assert client.post(url, json={"query": "{ authors { id } }"}).status_code == 200


def test_the_field_count_limit_allows_the_limit_and_rejects_one_more(local):
    def aliases(count: int) -> str:
        return "{ " + " ".join(f"a{n}: authors(first: 1) {{ id }}" for n in range(count)) + " }"

    assert "errors" not in ask(local, aliases(gql.MAX_FIELDS // 2))
    body = ask(local, aliases(gql.MAX_FIELDS // 2 + 1))
    assert body["errors"][0]["message"] == "the operation asks for 202 fields, the limit is 200"


def test_a_query_too_long_or_too_nested_to_parse_is_refused(url, client):
    too_long = "{ " + "authors { id } " * 1000 + "}"
    message = client.post(url, json={"query": too_long}).json()["errors"][0]["message"]
    assert message == "Syntax Error: Document contains more than 2000 tokens. Parsing aborted."
    message = client.post(url, json={"query": "{ a" * 900}).json()["errors"][0]["message"]
    assert message == "Syntax Error: Document is nested too deeply. Parsing aborted."


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "body is not JSON: Expecting property name"),
        (b'{"query": "\xff"}', "body is not JSON: not UTF-8"),
        (b'["query"]', "a JSON object with a string 'query'"),
        (b'{"query": 1}', "a JSON object with a string 'query'"),
        (b'{"query": "{ authors { id } }", "variables": [1]}', "'variables' must be a JSON object"),
    ],
)
def test_not_a_graphql_request_is_http_400(url, client, body, message):
    response = client.post(url, content=body)
    assert response.status_code == 400
    assert message in response.json()["errors"][0]["message"]
    assert client.post(url, json={"query": "{ authors { id } }"}).status_code == 200


def test_graphql_errors_are_http_200(url, client):
    response = client.post(url, json={"query": "{ nope }"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["message"] == "Cannot query field 'nope' on type 'Query'."


def test_get_is_405_and_other_paths_404(url, client):
    response = client.get(url)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert client.post(url.replace("/graphql", "/other"), json={}).status_code == 404


def raw_exchange(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").removesuffix("/graphql").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "head",
    [
        b"Content-Length: 9999999",
        b"Transfer-Encoding: chunked",
        b"Content-Length: x",
        "Content-Length: \u00b2".encode("latin-1"),
    ],
)
def test_unknown_or_oversize_length_is_400_and_closes(url, client, head):
    reply = raw_exchange(url, b"POST /graphql HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n\r\n{}")
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert b"Connection: close" in reply
    assert b"at most 65536 bytes" in reply
    # another client, meanwhile, is served as usual
    assert "errors" not in gql.graphql(client, url, "{ authors { id } }")


def test_concurrent_clients_each_get_their_answer(url):
    results = {}

    def fetch(author_id):
        with httpx.Client(timeout=5) as c:
            query = "query Q($id: ID!) { author(id: $id) { name } }"
            results[author_id] = gql.graphql(c, url, query, id=author_id)

    threads = [threading.Thread(target=fetch, args=(str(i),)) for i in (1, 2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results["2"]["data"]["author"]["name"] == "Terry Pratchett"
    assert len(results) == 3


def test_demo_output(capsys):
    gql.main([])
    out = capsys.readouterr().out
    assert "cost: 1 request" in out
    assert "operation Deep is 6 levels deep" in out
    assert "HTTP 400" in out


def test_server_and_client_modes(capsys):
    def on_ready(server):
        port = server.server_address[1]

        def talk_then_stop():
            try:
                gql.main(["client", "--port", str(port)])
            finally:
                server.shutdown()

        threading.Thread(target=talk_then_stop).start()

    gql.main(["server", "--port", "0"], on_ready=on_ready)
    out = capsys.readouterr().out
    assert "serving GraphQL on http://127.0.0.1:" in out
    assert "author page for Ursula K. Le Guin" in out


def test_server_mode_stops_on_ctrl_c(capsys):
    def interrupt():
        raise KeyboardInterrupt

    def on_ready(server):
        server.serve_forever = interrupt

    gql.main(["server", "--port", "0"], on_ready=on_ready)
    assert "serving GraphQL" in capsys.readouterr().out
