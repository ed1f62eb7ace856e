"""What HTTP keep-alive saves: a GET on a reused connection vs a new connection per request.

Serves a 13-byte response with the standard library's http.server on 127.0.0.1, plain and over
TLS 1.3 (a certificate from a CA made at run time with trustme, verified by the client), and
times ROUNDS GETs with httpx in four ways: one pooled client (keep-alive), and a new connection
per request (`Connection: close`), for HTTP and HTTPS. It prints the median and 90th percentile
per request and the TCP connections the server accepted. Loopback has almost no latency, so the
last column computes what each would cost over a 50 ms round trip from the round trips each one
waits for (TCP handshake 1, TLS 1.3 handshake 1, the request itself 1). A last row runs the
keep-alive case with http.server's default, Nagle's algorithm on, to show what that costs.

Run: python bench/http_connection_reuse.py
(about ten seconds; writes bench/results/http_connection_reuse.txt and
docs/application/img/http_connection_reuse.svg)
"""

from __future__ import annotations

import contextlib
import ssl
import statistics
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import matplotlib
import trustme

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROUNDS = 200
NAGLE_ROUNDS = 40  # each of these waits for a delayed ACK: keep the run short
WARMUP = 20
RTT_MS = 50.0
HERE = Path(__file__).resolve().parent
TABLE = HERE / "results" / "http_connection_reuse.txt"
FIGURE = HERE.parent / "docs" / "application" / "img" / "http_connection_reuse.svg"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5
    disable_nagle_algorithm = True  # TCP_NODELAY; http.server's default is False

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.lock:  # type: ignore[attr-defined]
            self.server.connections += 1  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        body = b"hello, world\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class NagleHandler(Handler):
    disable_nagle_algorithm = False  # http.server's default: see the "Nagle" row


class Server(ThreadingHTTPServer):
    daemon_threads = False

    def __init__(self, context: ssl.SSLContext | None, handler: type = Handler) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.context = context
        self.lock = threading.Lock()
        self.connections = 0

    def finish_request(self, request, client_address) -> None:
        if self.context is None:
            return super().finish_request(request, client_address)
        request.settimeout(5)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return None
        with tls:
            self.RequestHandlerClass(tls, client_address, self)
        return None


@contextlib.contextmanager
def serving(context: ssl.SSLContext | None, handler: type = Handler) -> Iterator[Server]:
    server = Server(context, handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def measure(url: str, verify: ssl.SSLContext | bool, close: bool, rounds: int) -> list[float]:
    headers = {"Connection": "close"} if close else {}
    times = []
    with httpx.Client(verify=verify, timeout=5, headers=headers) as client:
        for i in range(WARMUP + rounds):
            start = time.perf_counter()
            client.get(url).raise_for_status()
            if i >= WARMUP:
                times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    client_tls = ssl.create_default_context()
    ca.configure_trust(client_tls)

    cases = [  # name, TLS?, new connection per request?, round trips, handler, GETs
        ("HTTP, keep-alive", False, False, 1, Handler, ROUNDS),
        ("HTTP, new connection", False, True, 2, Handler, ROUNDS),
        ("HTTPS, keep-alive", True, False, 1, Handler, ROUNDS),
        ("HTTPS, new connection", True, True, 3, Handler, ROUNDS),
        ("HTTP, keep-alive, Nagle", False, False, 1, NagleHandler, NAGLE_ROUNDS),
    ]
    rows = []
    for name, tls, close, rtts, handler, rounds in cases:
        with serving(server_tls if tls else None, handler) as server:
            scheme = "https" if tls else "http"
            url = f"{scheme}://127.0.0.1:{server.server_address[1]}/"
            times = measure(url, client_tls if tls else True, close, rounds)
        p90 = statistics.quantiles(times, n=10)[-1]
        rows.append((name, statistics.median(times), p90, server.connections, rtts))

    lines = [
        f"{'case':<24} {'median':>7} {'p90':>7} {'TCP':>6} {'RTTs':>5} {'at 50 ms RTT':>13}",
        f"{'':<24} {'(ms)':>7} {'(ms)':>7} {'conns':>6} {'':>5} {'':>13}",
        "-" * 67,
    ]
    for name, median, p90, connections, rtts in rows:
        lines.append(
            f"{name:<24} {median:7.2f} {p90:7.2f} {connections:>6} {rtts:>5} "
            f"{rtts * RTT_MS:>10.0f} ms"
        )
    lines += [
        "",
        f"median and p90 of {ROUNDS} GETs ({NAGLE_ROUNDS} for the Nagle row) after {WARMUP}",
        "  warm-up GETs, one after another; TCP conns: connections the server accepted in the row,",
        "  warm-up included; httpx client, http.server (ThreadingHTTPServer) with TCP_NODELAY",
        "  except in the Nagle row, TLS 1.3 with the stdlib ssl module, on 127.0.0.1;",
        "RTTs: round trips before the response on a new or reused connection (TCP 1, TLS 1.3 1,",
        f"  request 1); at 50 ms RTT = RTTs x {RTT_MS:.0f} ms, calculated, not measured.",
    ]
    table = "\n".join(lines) + "\n"
    print(table, end="")
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    TABLE.write_text(table)

    plt.rcParams["svg.hashsalt"] = "networking-essentials"
    fig, ax = plt.subplots(figsize=(7, 3.2))
    names = [row[0] for row in rows]
    medians = [row[1] for row in rows]
    colors = ["#3f51b5", "#9fa8da", "#00897b", "#80cbc4", "#e53935"]
    bars = ax.barh(names[::-1], medians[::-1], color=colors[::-1])
    ax.bar_label(bars, labels=[f"{m:.2f} ms" for m in medians[::-1]], padding=3)
    ax.set_xlabel("ms")
    ax.set_xscale("log")  # the Nagle row is two orders of magnitude off the others
    ax.set_xlim(min(medians) / 2, max(medians) * 4)
    ax.set_title("Median time per GET on 127.0.0.1 (log scale)")
    fig.tight_layout()
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURE, format="svg", metadata={"Date": None})
    plt.close(fig)


if __name__ == "__main__":
    main()
