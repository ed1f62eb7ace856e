import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
import trustme

from tests.support import load_snippet

ht = load_snippet("application/http_tls.py")


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture
def server(ca):
    with ht.running_server(ht.server_context(ca, "localhost", "127.0.0.1")) as srv:
        yield srv


def url(server, path="/x"):
    return f"https://127.0.0.1:{server.server_address[1]}{path}"


def test_a_client_trusting_the_ca_gets_a_verified_tls_1_3_answer(ca, server):
    assert ht.fetch(url(server), ht.client_context(ca.cert_pem.bytes().decode())) == (
        "200 {'path': '/x', 'tls': 'TLSv1.3'}"
    )


def test_the_client_context_never_disables_verification(ca):
    for context in (ht.client_context(None), ht.client_context(ca.cert_pem.bytes().decode())):
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_hsts_header_is_sent(ca, server):
    with httpx.Client(verify=ht.client_context(ca.cert_pem.bytes().decode())) as client:
        response = client.get(url(server))
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.parametrize("trust", ["none", "other"])
def test_clients_without_the_ca_are_refused(server, trust):
    ca_pem = None if trust == "none" else trustme.CA().cert_pem.bytes().decode()
    with pytest.raises(httpx.ConnectError) as caught:
        ht.fetch(url(server), ht.client_context(ca_pem))
    assert ht.why_refused(caught.value).startswith("CERTIFICATE_VERIFY_FAILED")


def test_a_certificate_for_another_name_is_refused(ca):
    with ht.running_server(ht.server_context(ca, "api.example.test")) as srv:
        with pytest.raises(httpx.ConnectError) as caught:
            ht.fetch(url(srv), ht.client_context(ca.cert_pem.bytes().decode()))
        assert "IP address mismatch" in ht.why_refused(caught.value)
        context = ht.client_context(ca.cert_pem.bytes().decode())
        with (
            socket.create_connection(srv.server_address, timeout=5) as raw,
            pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"),
        ):
            context.wrap_socket(raw, server_hostname="www.example.test")


def test_why_refused_without_a_certificate_error():
    assert ht.why_refused(ValueError("x")) == "no certificate error found"


def test_failed_handshakes_do_not_stop_the_server(ca):
    ca_pem = ca.cert_pem.bytes().decode()
    with ht.running_server(ht.server_context(ca, "127.0.0.1")) as srv:
        assert ht.plain_http(srv.server_address[1]) == (
            "no HTTP answer, the server dropped the connection"
        )
        with pytest.raises(httpx.ConnectError):
            ht.fetch(url(srv), ht.client_context(None))
        with socket.create_connection(srv.server_address, timeout=5) as silent:
            # a client that connected and says nothing, while another is served
            assert ht.fetch(url(srv), ht.client_context(ca_pem)).startswith("200")
            silent.close()
    assert srv.failed_handshakes == 3


def test_a_stalled_handshake_times_out(ca, monkeypatch):
    monkeypatch.setattr(ht, "HANDSHAKE_TIMEOUT", 0.2)
    with (
        ht.running_server(ht.server_context(ca, "127.0.0.1")) as srv,
        socket.create_connection(srv.server_address, timeout=5) as stalled,
    ):
        stalled.sendall(b"\x16\x03\x01")  # the start of a TLS record, then nothing
        assert stalled.recv(1) == b""  # the server gave up and closed
    assert srv.failed_handshakes == 1


class PlainHandler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass

    def do_GET(self):
        self.send_response(204)
        self.end_headers()


def test_plain_http_says_when_the_port_answers_without_tls():
    plain = HTTPServer(("127.0.0.1", 0), PlainHandler)
    thread = threading.Thread(target=plain.handle_request)
    thread.start()
    try:
        assert ht.plain_http(plain.server_address[1]) == (
            "answered 204: this port does not speak TLS"
        )
    finally:
        thread.join()
        plain.server_close()


def test_client_command(ca, server, monkeypatch, tmp_path, capsys):
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.cert_pem.bytes())
    port = str(server.server_address[1])
    argv = ["http_tls.py", "client", "--port", port, "--ca", str(ca_file)]
    monkeypatch.setattr(sys, "argv", argv)
    ht.main()
    assert capsys.readouterr().out == "200 {'path': '/', 'tls': 'TLSv1.3'}\n"


def test_server_command_writes_its_ca_and_serves_until_ctrl_c(monkeypatch, tmp_path, capsys):
    ca_file = tmp_path / "ca.pem"
    answers = []

    def ask_then_interrupt():
        port = int(capsys.readouterr().out.split(":")[2].split("/")[0])
        context = ht.client_context(ca_file.read_text())
        answers.append(ht.fetch(f"https://127.0.0.1:{port}/", context))
        raise KeyboardInterrupt

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    monkeypatch.setattr(ht, "wait_for_ctrl_c", ask_then_interrupt)
    argv = ["http_tls.py", "server", "--port", str(port), "--ca", str(ca_file)]
    monkeypatch.setattr(sys, "argv", argv)
    ht.main()
    assert answers == ["200 {'path': '/', 'tls': 'TLSv1.3'}"]
