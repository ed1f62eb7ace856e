# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "httpx~=0.28",
#     "trustme~=1.2",
# ]
# ///
"""HTTPS on loopback: a certificate authority made at run time, and a client that verifies.

Shows what "HTTP supports TLS" really means: HTTPS is HTTP sent inside a TLS connection (RFC 9110
section 4.2.2, RFC 8446). The server proves who it is with a certificate signed by a certificate
authority (CA) the client trusts; the client checks the signature chain and that the name it
asked for is in the certificate. Here ``trustme`` makes a throwaway CA, the server is
``http.server`` with TLS, and the client is ``httpx`` verifying against that CA. Verification is
never turned off: a client without the CA, or asking for another name, is refused.

Run: python http_tls.py                       (demo: server and clients on 127.0.0.1)
     python http_tls.py server --port 8443    (writes ca.pem next to it; serve until Ctrl-C)
     python http_tls.py client --port 8443    (trusts ca.pem, then GETs https://127.0.0.1:8443/)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import trustme

HANDSHAKE_TIMEOUT = 5.0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Send small writes at once (TCP_NODELAY). With Nagle's algorithm on (http.server's default),
    # a keep-alive response written in two pieces can wait for a delayed ACK (tens of ms).
    disable_nagle_algorithm = True
    timeout = 5
    default_request_version = "HTTP/1.0"  # an unreadable request line still gets a status line

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        tls: ssl.SSLSocket = self.connection  # type: ignore[assignment]
        body = json.dumps({"path": self.path, "tls": tls.version()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Strict-Transport-Security", "max-age=31536000")  # RFC 6797: HTTPS only
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET  # the same answer, without the body (RFC 9110 section 9.3.2)


# --8<-- [start:server]
class TLSServer(ThreadingHTTPServer):
    """http.server, with the TLS handshake done in each connection's own thread.

    Wrapping the listening socket instead would run every handshake in the accepting thread,
    where one slow or broken client would hold up all the others.
    """

    daemon_threads = False  # server_close() waits for the connections to finish
    request_queue_size = 128  # the listen backlog: socketserver's 5 drops a burst's SYNs

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext) -> None:
        super().__init__(address, Handler)
        self.context = context
        self.failed_handshakes = 0
        self.lock = threading.Lock()

    def finish_request(self, request: socket.socket, client_address) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            with self.lock:
                self.failed_handshakes += 1  # a client that refused us, or is not speaking TLS
            return
        with tls:
            self.RequestHandlerClass(tls, client_address, self)

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError | ssl.SSLError):
            super().handle_error(request, client_address)  # a bug of ours: print it


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    ca.issue_cert(*names).configure_cert(context)  # the certificate, signed by the CA, and its key
    return context
# --8<-- [end:server]


# --8<-- [start:client]
def client_context(ca_pem: str | None) -> ssl.SSLContext:
    """The system's trust store, plus our CA if given. Hostname checking stays on."""
    context = ssl.create_default_context()  # CERT_REQUIRED, check_hostname=True
    if ca_pem:
        context.load_verify_locations(cadata=ca_pem)
    return context


def fetch(url: str, context: ssl.SSLContext) -> str:
    with httpx.Client(verify=context, timeout=5) as client:
        response = client.get(url)
        return f"{response.status_code} {response.json()}"
# --8<-- [end:client]


def plain_http(port: int) -> str:
    """Plain HTTP to a TLS port: the server's handshake fails and it drops the connection."""
    with httpx.Client(timeout=5) as client:
        try:
            response = client.get(f"http://127.0.0.1:{port}/")
        except httpx.HTTPError:  # ReadError or RemoteProtocolError, depending on timing
            return "no HTTP answer, the server dropped the connection"
    return f"answered {response.status_code}: this port does not speak TLS"


def why_refused(error: BaseException) -> str:
    """The certificate check that failed, from the ssl error httpx wraps."""
    while error is not None:
        if isinstance(error, ssl.SSLCertVerificationError):
            return f"{error.reason}: {error.verify_message}"
        error = error.__cause__ or error.__context__
    return "no certificate error found"


@contextlib.contextmanager
def running_server(context: ssl.SSLContext, host: str = "127.0.0.1", port: int = 0
                   ) -> Iterator[TLSServer]:
    server = TLSServer((host, port), context)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def demo() -> None:
    ca = trustme.CA()  # a fresh CA, made in memory for this run only
    ca_pem = ca.cert_pem.bytes().decode()
    with running_server(server_context(ca, "localhost", "127.0.0.1")) as server:
        url = f"https://127.0.0.1:{server.server_address[1]}/hello"
        print("HTTPS server with a certificate for localhost and 127.0.0.1, on a port the OS chose")
        print(f"client trusting our CA:       {fetch(url, client_context(ca_pem))}")
        try:
            fetch(url, client_context(None))
        except httpx.ConnectError as error:
            print(f"client without our CA:        refused, {why_refused(error)}")
        other_ca = trustme.CA()
        try:
            fetch(url, client_context(other_ca.cert_pem.bytes().decode()))
        except httpx.ConnectError as error:
            print(f"client trusting another CA:   refused, {why_refused(error)}")
        print(f"a client that forgot TLS:     {plain_http(server.server_address[1])}")
        print(f"and a verified client again:  {fetch(url, client_context(ca_pem))}")
    # Read after the server has closed: every connection's thread has finished by then.
    print(f"handshakes that server saw fail: {server.failed_handshakes}, and it kept serving")
    with running_server(server_context(ca, "api.example.test")) as server:
        url = f"https://127.0.0.1:{server.server_address[1]}/hello"
        try:
            fetch(url, client_context(ca_pem))
        except httpx.ConnectError as error:
            print(f"certificate for another name: refused, {why_refused(error)}")
        with httpx.Client(verify=client_context(ca_pem), timeout=5) as client:
            # Talk to the server by the name in its certificate, while connecting to 127.0.0.1.
            response = client.get(url, extensions={"sni_hostname": "api.example.test"})
            print(f"same CA, asking for api.example.test: {response.status_code} {response.json()}")


def wait_for_ctrl_c() -> None:
    threading.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["demo", "server", "client"], default="demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--ca", default="ca.pem", help="where the server writes its CA")
    args = parser.parse_args()
    if args.mode == "server":
        ca = trustme.CA()
        Path(args.ca).write_bytes(ca.cert_pem.bytes())
        with running_server(server_context(ca, "localhost", args.host), args.host, args.port):
            print(f"serving https://{args.host}:{args.port}/ (CA in {args.ca}), Ctrl-C to stop")
            with contextlib.suppress(KeyboardInterrupt):
                wait_for_ctrl_c()
    elif args.mode == "client":
        ca_pem = Path(args.ca).read_text()
        print(fetch(f"https://{args.host}:{args.port}/", client_context(ca_pem)))
    else:
        demo()


if __name__ == "__main__":
    main()
