import socket
import sys
import threading

import httpx
import pytest

from tests.support import load_snippet

hs = load_snippet("application/http_semantics.py")


@pytest.fixture
def service():
    with hs.running_server() as server:
        base_url = f"http://127.0.0.1:{server.server_address[1]}"
        with httpx.Client(base_url=base_url, timeout=5) as client:
            yield server, client


def test_get_sends_an_etag_and_a_matching_if_none_match_gets_304_without_body(service):
    _, client = service
    first = client.get("/items/1")
    assert first.status_code == 200 and first.json()["name"] == "kettle"
    assert first.headers["Cache-Control"] == "max-age=60"
    etag = first.headers["ETag"]
    again = client.get("/items/1", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    stale = client.get("/items/1", headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200
    in_a_list = client.get("/items/1", headers={"If-None-Match": f'"old", {etag}'})
    assert in_a_list.status_code == 304
    assert client.get("/items/1", headers={"If-None-Match": "*"}).status_code == 304


def test_the_etag_changes_when_the_item_changes(service):
    _, client = service
    before = client.get("/items/1").headers["ETag"]
    client.put("/items/1", json={"name": "kettle", "price": 35}).raise_for_status()
    after = client.get("/items/1", headers={"If-None-Match": before})
    assert after.status_code == 200 and after.headers["ETag"] != before


def test_head_has_headers_and_no_body(service):
    _, client = service
    head = client.head("/items/1")
    assert head.status_code == 200 and head.content == b"" and "ETag" in head.headers


def test_put_is_idempotent_and_delete_leaves_the_same_state(service):
    server, client = service
    assert client.put("/items/9", json={"name": "pan"}).status_code == 201
    assert client.put("/items/9", json={"name": "pan"}).status_code == 200
    assert server.store.items["9"] == {"name": "pan", "id": "9"}
    assert client.delete("/items/9").status_code == 204
    assert client.delete("/items/9").status_code == 404
    assert "9" not in server.store.items


def test_idempotency_key_makes_a_retried_post_create_once(service):
    server, client = service
    key = {"Idempotency-Key": "k1"}
    replies = [client.post("/orders", json={"item": "1"}, headers=key) for _ in range(3)]
    assert {r.status_code for r in replies} == {201}
    assert {r.headers["Location"] for r in replies} == {"/orders/1"}
    assert len(server.store.orders) == 1
    reused = client.post("/orders", json={"item": "2"}, headers=key)
    assert reused.status_code == 422 and "another body" in reused.json()["error"]
    client.post("/orders", json={"item": "1"})
    client.post("/orders", json={"item": "1"})
    assert len(server.store.orders) == 3


def test_concurrent_retries_with_one_key_create_one_order(service):
    server, _ = service
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    statuses = []

    def post():
        with httpx.Client(base_url=base_url, timeout=5) as client:
            reply = client.post("/orders", json={"x": 1}, headers={"Idempotency-Key": "same"})
            statuses.append(reply.status_code)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [201] * 8 and len(server.store.orders) == 1


def test_retry_after_is_honoured(service, monkeypatch):
    server, client = service
    server.store.busy_left = 2
    waited = []
    monkeypatch.setattr(hs.time, "sleep", waited.append)
    response, waits = hs.get_honouring_retry_after(client, "/report", max_wait=0.5)
    assert response.status_code == 200 and waits == ["1", "1"] and waited == [0.5, 0.5]


def test_retry_after_gives_up_after_the_attempts(service, monkeypatch):
    server, client = service
    server.store.busy_left = 5
    monkeypatch.setattr(hs.time, "sleep", lambda seconds: None)
    response, waits = hs.get_honouring_retry_after(client, "/report", attempts=2)
    assert response.status_code == 503 and len(waits) == 2


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("GET", "/nothing", None, 404, "no resource at /nothing"),
        ("GET", "/items/42", None, 404, "no item 42"),
        ("PUT", "/orders", b"{}", 405, "PUT /items/<id>"),
        ("POST", "/items/1", b"{}", 405, "POST /orders"),
        ("POST", "/orders", b"{not json", 400, "body is not JSON"),
        ("POST", "/orders", b"[1, 2]", 400, "must be a JSON object"),
    ],
)
def test_bad_requests_get_clear_errors(service, method, path, body, status, error):
    _, client = service
    response = client.request(method, path, content=body)
    assert response.status_code == status and error in response.json()["error"]
    assert client.get("/items/1").status_code == 200  # the same connection still works


def test_oversize_body_is_refused_and_the_connection_closed(service):
    _, client = service
    response = client.post("/orders", content=b"x" * (hs.MAX_BODY + 1))
    assert response.status_code == 400 and response.headers.get("Connection") == "close"
    assert client.get("/items/1").status_code == 200  # httpx opens a new connection


def test_keep_alive_reuses_one_connection_and_close_does_not(service):
    server, _ = service
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    assert hs.count_connections(base_url, server, close=False) == 1
    assert hs.count_connections(base_url, server, close=True) == 10


def test_client_command(monkeypatch, capsys):
    with hs.running_server() as server:
        server.store.busy_left = 1
        monkeypatch.setattr(hs.time, "sleep", lambda seconds: None)
        port = str(server.server_address[1])
        monkeypatch.setattr(sys, "argv", ["http_semantics.py", "client", "--port", port])
        hs.main()
    out = capsys.readouterr().out
    assert "GET again with If-None-Match: <its ETag> -> 304, 0 bytes" in out
    assert "GET /report -> 503 with Retry-After 1, then 200 {'orders': 3}" in out


def test_server_command_serves_until_ctrl_c(monkeypatch, capsys):
    def interrupt():
        raise KeyboardInterrupt

    monkeypatch.setattr(hs, "wait_for_ctrl_c", interrupt)
    monkeypatch.setattr(sys, "argv", ["http_semantics.py", "server", "--port", "0"])
    hs.main()
    assert "serving on http://127.0.0.1:" in capsys.readouterr().out


def test_a_chunked_body_is_refused_and_never_read_as_the_next_request(service):
    """http.server does not decode chunked bodies: before, the POST got a 201 for an empty
    order and the chunks were parsed as the next request on the connection."""
    server, client = service
    port = server.server_address[1]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST /orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"d\r\n{\"item\": \"1\"}\r\n0\r\n\r\n"
                     b"GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 411 Length Required\r\n")
    assert answer.count(b"HTTP/1.1 ") == 1 and b"Connection: close" in answer  # then closed
    assert server.store.orders == []
    body = client.post("/orders", content=iter([b'{"item": "1"}']))  # httpx sends chunks
    assert body.status_code == 411 and "Content-Length" in body.json()["error"]
    assert client.post("/orders", json={"item": "1"}).status_code == 201


def test_a_content_length_of_5000_digits_or_json_nested_too_deep_is_a_400(service):
    server, client = service
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=5) as sock:
        sock.sendall(b"PUT /items/9 HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000
                     + b"\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400 ")
    deep = client.put("/items/9", content=b"[" * 9000)
    assert deep.status_code == 400 and "not JSON" in deep.json()["error"]
