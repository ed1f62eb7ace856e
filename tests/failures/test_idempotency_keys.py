import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support import load_snippet

idem = load_snippet("failures/idempotency_keys.py")

PAYMENT = {"amount": 1000, "currency": "EUR"}


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def server(clock):
    with idem.running(store=idem.IdempotencyStore(ttl=60, clock=clock)) as server:
        yield server


@pytest.fixture
def client(server):
    with httpx.Client(base_url=f"http://127.0.0.1:{server.server_address[1]}",
                      timeout=10) as client:
        yield client


def post(client, key, body=PAYMENT):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post("/payments", json=body, headers=headers)


def test_first_request_charges_and_replay_returns_the_stored_response(server, client):
    first = post(client, "k1")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = post(client, "k1")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() == {"id": "pay_1", "amount": 1000, "currency": "EUR",
                                            "status": "succeeded"}
    assert len(server.ledger) == 1


def test_equivalent_bodies_are_the_same_request(server, client):
    post(client, "k1", {"currency": "eur", "amount": 1000})
    assert post(client, "k1", {"amount": 1000, "currency": "EUR"}).headers.get(
        "Idempotent-Replayed") == "true"
    assert len(server.ledger) == 1


def test_same_key_different_body_is_rejected(server, client):
    post(client, "k1")
    response = post(client, "k1", {"amount": 1, "currency": "EUR"})
    assert response.status_code == 422 and "another body" in response.json()["error"]
    assert len(server.ledger) == 1


def test_different_keys_are_different_payments(server, client):
    assert post(client, "a").json()["id"] == "pay_1"
    assert post(client, "b").json()["id"] == "pay_2"


def test_concurrent_duplicates_charge_once_and_the_rest_are_refused(server, client):
    server.gate = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as first_pool:
        first = first_pool.submit(post, client, "dup")
        assert server.charging.wait(timeout=10)
        with ThreadPoolExecutor(max_workers=8) as pool:
            duplicates = list(pool.map(lambda _: post(client, "dup"), range(16)))
        server.gate.set()
        winner = first.result(timeout=10)
    assert winner.status_code == 201
    assert [r.status_code for r in duplicates] == [409] * 16
    assert all(r.headers["Retry-After"] == "1" for r in duplicates)
    assert len(server.ledger) == 1
    assert post(client, "dup").json() == winner.json()  # after it finished: a replay


def test_a_race_of_simultaneous_duplicates_charges_once(server):
    # No gate: 12 clients with their own connections send the same key at once.
    start = threading.Barrier(12)
    url = f"http://127.0.0.1:{server.server_address[1]}"

    def send(_):
        with httpx.Client(base_url=url, timeout=10) as own:
            start.wait(timeout=10)
            return post(own, "race").status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(send, range(12)))
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}
    assert len(server.ledger) == 1


def test_keys_expire_after_the_ttl(server, client, clock):
    post(client, "k1")
    clock.now = 59.9
    assert post(client, "k1").headers.get("Idempotent-Replayed") == "true"
    clock.now = 60.0
    fresh = post(client, "k1")
    assert fresh.status_code == 201 and fresh.json()["id"] == "pay_2"
    assert "Idempotent-Replayed" not in fresh.headers


def test_a_failed_charge_releases_the_key_so_a_retry_runs(server, client, monkeypatch):
    real_charge = server.charge
    monkeypatch.setattr(server, "charge", lambda payment: 1 / 0)
    failed = post(client, "k1")
    assert failed.status_code == 500 and "retry with the same key" in failed.json()["error"]
    monkeypatch.setattr(server, "charge", real_charge)
    assert post(client, "k1").status_code == 201
    assert len(server.ledger) == 1


@pytest.mark.parametrize(("key", "body", "status", "message"), [
    (None, PAYMENT, 400, "Idempotency-Key header"),
    ("x" * 256, PAYMENT, 400, "Idempotency-Key header"),
    ("k", [1, 2], 400, "expected a JSON object"),
    ("k", {"amount": -5, "currency": "EUR"}, 400, "positive integer"),
    ("k", {"amount": 10.5, "currency": "EUR"}, 400, "positive integer"),
    ("k", {"amount": True, "currency": "EUR"}, 400, "positive integer"),
    ("k", {"amount": 5, "currency": "EURO"}, 400, "3-letter code"),
    ("k", {"amount": 5}, 400, "3-letter code"),
])
def test_bad_requests_get_a_clear_error_and_charge_nothing(server, client, key, body, status,
                                                           message):
    response = post(client, key, body)
    assert response.status_code == status and message in response.json()["error"]
    assert server.ledger == []


def test_malformed_json_and_oversize_body(server, client):
    response = client.post("/payments", content=b"{not json", headers={"Idempotency-Key": "k"})
    assert response.status_code == 400 and "bad payment" in response.json()["error"]
    response = client.post("/payments", content=b"x" * (idem.MAX_BODY + 1),
                           headers={"Idempotency-Key": "k"})
    assert response.status_code == 413
    assert server.ledger == []


@pytest.mark.parametrize(
    ("length", "status"),
    [(b"-1", 400), (b"-5", 400), (b"abc", 400), (b"+12", 400), (b"\xb2", 400),
     (b"9" * 5000, 413), (b"99999999999", 413)],
)
def test_a_content_length_that_is_not_a_plain_number_is_refused_at_once(server, client,
                                                                           length, status):
    """-1 reached rfile.read(-1), which reads until the client stops sending: no body limit at
    all (228 MiB and rising); -5, abc and 5000 digits raised, and the client got no reply."""
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=5) as sock:
        sock.sendall(b"POST /payments HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k\r\n"
                     b"Content-Length: " + length + b"\r\n\r\n" + b"[1," * 5000)  # still open
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 %d " % status) and b"Connection: close" in answer
    assert post(client, "k").status_code == 201  # the key was not taken by the bad request
    assert [p["id"] for p in server.ledger] == ["pay_1"]


def test_unknown_paths(client):
    assert client.get("/nothing").status_code == 404
    assert client.post("/nothing", json={}).status_code == 404
    assert client.get("/payments").json() == {"payments": []}


def test_a_client_that_vanishes_mid_request_harms_no_one(server, client):
    port = server.server_address[1]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as rude:
        rude.sendall(b"POST /payments HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                     b"Idempotency-Key: k\r\n\r\n{\"amount\"")
    assert post(client, "other").status_code == 201  # another client is served meanwhile
    assert [p["id"] for p in server.ledger] == ["pay_1"]


def test_validate_directly():
    assert idem.validate({"amount": 1, "currency": "usd"}) == {"amount": 1, "currency": "USD"}


def test_store_release_of_an_unknown_key_is_harmless():
    store = idem.IdempotencyStore()
    store.release("never-claimed")
    assert store.claim("k", "f") == ("new", None)
    assert store.claim("k", "f") == ("in-flight", None)


def test_cli_client_against_a_running_server(server, monkeypatch, capsys):
    port = str(server.server_address[1])
    monkeypatch.setattr(sys, "argv", ["idempotency_keys.py", "client", "--port", port])
    idem.main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "first send -> 201 pay_1"
    assert lines[2] == "resend     -> 201 pay_1 (replayed)"


def test_cli_server_serves_until_interrupted(monkeypatch, capsys):
    def interrupted(self, poll_interval=0.5):
        raise KeyboardInterrupt

    monkeypatch.setattr(idem.PaymentsServer, "serve_forever", interrupted)
    monkeypatch.setattr(sys, "argv", ["idempotency_keys.py", "server", "--port", "0"])
    idem.main()
    assert "serving POST /payments" in capsys.readouterr().out


def test_a_silent_connection_is_closed_by_the_server(monkeypatch):
    """Idle, or a request head that never ends: http.server's per-read timeout cuts it off
    (without one, each such connection held a thread for ever)."""
    assert 0 < idem.PaymentsHandler.timeout <= 60  # the default
    monkeypatch.setattr(idem.PaymentsHandler, "timeout", 0.1)
    with idem.running() as server:
        for sent in (b"", b"GET / HTTP/1.1\r\nHost: x\r\n"):
            with socket.create_connection(("127.0.0.1", server.server_address[1])) as sock:
                sock.settimeout(5)
                sock.sendall(sent)
                assert sock.recv(100) == b""  # closed by the server, well before 5 s
