import socket
import threading

import httpx
import pytest

from tests.support import load_snippet

rest = load_snippet("application/rest_bookstore.py")


@pytest.fixture
def base_url():
    with rest.running(rest.make_server()) as url:
        yield url


@pytest.fixture
def client(base_url):
    with httpx.Client(base_url=base_url, timeout=5) as client:
        yield client


def problem(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == response.status_code
    assert body["title"] == response.reason_phrase
    return body["detail"]


def test_get_author_has_an_etag(client):
    response = client.get("/authors/1")
    assert response.status_code == 200
    assert response.json()["name"] == "Ursula K. Le Guin"
    assert response.headers["etag"] == rest.etag(response.json())


def test_if_none_match_gives_304_without_a_body(client):
    tag = client.get("/authors/2").headers["etag"]
    response = client.get("/authors/2", headers={"If-None-Match": tag})
    assert response.status_code == 304
    assert response.content == b""
    assert client.get("/authors/2", headers={"If-None-Match": '"other"'}).status_code == 200


def test_create_gives_201_with_location_of_the_new_resource(client):
    response = client.post("/authors", json={"name": "N. K. Jemisin", "born": 1972})
    assert response.status_code == 201
    location = response.headers["location"]
    assert location == "/authors/4"
    fetched = client.get(location)
    assert fetched.json() == response.json()
    assert fetched.headers["etag"] == response.headers["etag"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"born": 1972}, "non-empty string 'name'"),
        ({"name": ""}, "non-empty string 'name'"),
        (["a list"], "non-empty string 'name'"),
        ({"name": "X", "born": "1972"}, "'born' must be an integer"),
        ({"name": "X", "born": True}, "'born' must be an integer"),
    ],
)
def test_invalid_author_is_400(client, body, message):
    response = client.post("/authors", json=body)
    assert response.status_code == 400
    assert message in problem(response)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"{not json", "Expecting property name"), (b"\xff\xfe\xfa", "not UTF-8")],
)
def test_malformed_body_is_400_and_the_connection_stays_usable(client, content, message):
    response = client.post("/authors", content=content)
    assert response.status_code == 400
    assert message in problem(response)
    assert client.get("/authors/1").status_code == 200  # same keep-alive connection


def test_put_needs_if_match_and_fails_on_a_stale_etag(client):
    read = client.get("/authors/3")
    tag = read.headers["etag"]
    new = {"name": "Octavia E. Butler", "born": 1947, "country": "US"}
    missing = client.put("/authors/3", json=new)
    assert missing.status_code == 428
    ok = client.put("/authors/3", json=new, headers={"If-Match": tag})
    assert ok.status_code == 200
    assert ok.json()["country"] == "US"
    assert ok.headers["etag"] != tag
    stale = client.put("/authors/3", json={"name": "lost update"}, headers={"If-Match": tag})
    assert stale.status_code == 412
    assert stale.headers["etag"] == ok.headers["etag"]  # the current one, to re-read
    assert client.get("/authors/3").json()["name"] == "Octavia E. Butler"


def test_concurrent_writers_one_wins_the_other_gets_412(base_url):
    tag = httpx.get(f"{base_url}/authors/2", timeout=5).headers["etag"]
    results = []
    barrier = threading.Barrier(2)

    def writer(name):
        with httpx.Client(base_url=base_url, timeout=5) as c:
            barrier.wait(timeout=5)
            results.append(c.put("/authors/2", json={"name": name}, headers={"If-Match": tag}))

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(r.status_code for r in results) == [200, 412]


def test_delete_is_204_then_404_and_409_while_books_remain(client):
    assert client.delete("/authors/1").status_code == 409
    created = client.post("/authors", json={"name": "Temp"}).headers["location"]
    deleted = client.delete(created)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert client.delete(created).status_code == 404
    assert "author 4 does not exist" in problem(client.get(created))


def test_books_create_conflict_and_unknown_author(client):
    ok = client.post("/books", json={"title": "Parable of the Sower", "isbn": "9781538732182",
                                     "authorId": 3, "year": 1993})
    assert ok.status_code == 201
    assert ok.headers["location"] == "/books/6"
    assert client.get("/books/6").json()["title"] == "Parable of the Sower"
    again = client.post("/books", json={"title": "Dup", "isbn": "9781538732182", "authorId": 3})
    assert again.status_code == 409
    unknown = client.post("/books", json={"title": "X", "isbn": "1", "authorId": 99})
    assert unknown.status_code == 404
    assert "author 99 does not exist" in problem(unknown)
    bad = client.post("/books", json={"title": "X"})
    assert bad.status_code == 400
    boolean = client.post("/books", json={"title": "X", "isbn": "2", "authorId": True})
    assert boolean.status_code == 400


def test_nested_collections_and_unknown_parents(client):
    assert [b["id"] for b in client.get("/authors/1/books").json()["items"]] == [1, 2, 3]
    assert [r["reviewer"] for r in client.get("/books/1/reviews").json()["items"]] == ["ana", "ben"]
    assert client.get("/books/5/reviews").json()["items"] == []
    assert client.get("/authors/9/books").status_code == 404
    assert client.get("/books/9/reviews").status_code == 404
    assert client.get("/nowhere").status_code == 404


def test_wrong_method_is_405_with_allow(client):
    response = client.patch("/authors/1", json={})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, PUT, DELETE"  # HEAD wherever GET is
    assert client.delete("/books").headers["allow"] == "POST"


def test_head_is_get_without_the_body(client):
    get, head = client.get("/authors/1"), client.head("/authors/1")
    assert head.status_code == 200 and head.content == b""
    for name in ("etag", "content-length", "content-type"):
        assert head.headers[name] == get.headers[name]
    missing = client.head("/authors/99")
    assert missing.status_code == 404 and missing.content == b""
    assert client.get("/authors/2").status_code == 200  # the connection was not desynchronised


def test_pagination_walks_every_author_once(client):
    seen, url = [], "/authors?limit=1"
    while url:
        response = client.get(url)
        body = response.json()
        seen += [a["id"] for a in body["items"]]
        if body["next"]:
            assert response.headers["link"] == f'<{body["next"]}>; rel="next"'
        else:
            assert "link" not in response.headers
        url = body["next"]
    assert seen == [1, 2, 3]


def test_a_cursor_is_stable_when_an_item_is_added(client):
    first = client.get("/authors", params={"limit": 2}).json()
    client.post("/authors", json={"name": "New"})
    rest_of_list = client.get(first["next"]).json()["items"]
    assert [a["id"] for a in rest_of_list] == [3, 4]  # nothing skipped, nothing repeated


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=51", "limit=x", "after=-1", "limit=%C2%B2", "after=%D9%A3"]
)
def test_bad_page_parameters_are_400(client, query):
    response = client.get(f"/authors?{query}")
    assert response.status_code == 400
    assert "limit must be" in problem(response)


def raw_exchange(base_url: str, request: bytes) -> bytes:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_oversize_body_is_413_and_the_connection_is_closed(base_url):
    reply = raw_exchange(
        base_url,
        b"POST /authors HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n{",
    )
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b"Connection: close" in reply
    assert b"the limit is 65536" in reply


@pytest.mark.parametrize("length", ["-5", "\u00b2", "1e3"])
def test_bad_content_length_is_400_and_closes(base_url, length):
    request = f"PUT /authors/1 HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n"
    reply = raw_exchange(base_url, request.encode("latin-1"))
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert f"bad Content-Length {length!r}".encode() in reply


def test_chunked_body_is_refused_and_closes(base_url):
    reply = raw_exchange(
        base_url,
        b"POST /authors HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\n{}\r\n0\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 411 ")
    assert reply.count(b"HTTP/1.1") == 1  # the chunks were not read as a second request


def test_an_error_before_the_body_is_used_leaves_the_connection_clean(client):
    assert client.post("/nowhere", json={"name": "x" * 1000}).status_code == 404
    assert client.get("/authors/1").status_code == 200


def test_a_bad_client_does_not_harm_another(base_url, client):
    assert client.get("/authors/1").status_code == 200
    raw_exchange(base_url, b"POST /authors HTTP/1.1\r\nContent-Length: 999999\r\n\r\n")
    assert client.get("/authors/1").status_code == 200


def test_author_page_costs_two_plus_n_requests(client):
    meter = rest.Meter()
    page = rest.fetch_author_page(client, 1, meter)
    assert meter.requests == 2 + len(page["books"]) == 5
    assert meter.body_bytes > len(rest.compact(rest.screen_view(page)))
    assert meter.head_bytes > 0


def test_meter_counts_the_exact_response_head(base_url):
    with httpx.Client(base_url=base_url, timeout=5) as c:
        meter = rest.Meter()
        response = c.get("/authors/2")
        meter.record(response)
    raw = raw_exchange(base_url, b"GET /authors/2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert meter.body_bytes == len(body)
    assert meter.head_bytes == len(head) + 4  # the head and its blank line


def test_demo_output(capsys):
    rest.main([])
    out = capsys.readouterr().out
    assert "cost: 5 requests" in out
    assert "201 Created               Location: /authors/4" in out
    assert "port" in out and ":80" not in out


def test_server_and_client_modes(capsys):
    def on_ready(server):
        port = server.server_address[1]

        def talk_then_stop():
            try:
                rest.main(["client", "--port", str(port)])
            finally:
                server.shutdown()

        threading.Thread(target=talk_then_stop).start()

    rest.main(["server", "--port", "0"], on_ready=on_ready)
    out = capsys.readouterr().out
    assert "serving the bookstore on http://127.0.0.1:" in out
    assert "cost: 5 requests" in out


def test_server_mode_stops_on_ctrl_c(capsys):
    def interrupt():
        raise KeyboardInterrupt

    def on_ready(server):
        server.serve_forever = interrupt  # as if the reader pressed Ctrl-C while serving

    rest.main(["server", "--port", "0"], on_ready=on_ready)  # returns quietly, socket closed
    assert "serving the bookstore" in capsys.readouterr().out
