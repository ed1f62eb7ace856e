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
bench/figures/http_connection_reuse.svg)
python bench/http_connection_reuse.py --plot-only redraws the figure from the results file,
measuring nothing.
"""

from __future__ import annotations

import contextlib
import re
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

from docs_tools import figure_cli, plots

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROUNDS = 200
NAGLE_ROUNDS = 40  # each of these waits for a delayed ACK: keep the run short
WARMUP = 20
RTT_MS = 50.0
HERE = Path(__file__).resolve().parent
TABLE = HERE / "results" / "http_connection_reuse.txt"
FIGURE = HERE / "figures" / "http_connection_reuse.svg"


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


def run_cases() -> list[dict]:
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
        rows.append({"case": name, "median": statistics.median(times),
                     "p90": statistics.quantiles(times, n=10)[-1],
                     "connections": server.connections, "rtts": rtts})
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        f"{'case':<24} {'median':>7} {'p90':>7} {'TCP':>6} {'RTTs':>5} {'at 50 ms RTT':>13}",
        f"{'':<24} {'(ms)':>7} {'(ms)':>7} {'conns':>6} {'':>5} {'':>13}",
        "-" * 67,
    ]
    for row in rows:
        lines.append(
            f"{row['case']:<24} {row['median']:7.2f} {row['p90']:7.2f} {row['connections']:>6} "
            f"{row['rtts']:>5} {row['rtts'] * RTT_MS:>10.0f} ms"
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
    return "\n".join(lines) + "\n"


def parse(text: str) -> list[dict]:
    """The rows of a results file that ``table`` wrote, in the table's order."""
    rows = []
    for line in text.splitlines():
        match = re.fullmatch(r"(HTTPS?, [\w ,-]+?)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+)"
                             r"\s+\d+ ms", line)
        if match:
            case, median, p90, connections, rtts = match.groups()
            rows.append({"case": case, "median": float(median), "p90": float(p90),
                         "connections": int(connections), "rtts": int(rtts)})
    return rows


def plot(rows: list[dict], path: Path = FIGURE) -> None:
    """Measured time per GET (log scale), then the round trips' cost at 50 ms each."""
    plots.apply_style()
    fig, (loopback, remote) = plt.subplots(
        2, 1, figsize=(4.9, 7.4), gridspec_kw={"height_ratios": [len(rows), len(rows) - 1]})
    y = range(len(rows))
    loopback.barh([i - 0.2 for i in y], [row["median"] for row in rows], 0.4, label="median")
    loopback.barh([i + 0.2 for i in y], [row["p90"] for row in rows], 0.4, label="p90")
    loopback.set_xscale("log")  # the Nagle row is two orders of magnitude off the others
    plots.plain_numbers(loopback.xaxis)
    loopback.set_xlim(0.1, 100)
    loopback.set_xlabel("ms per GET, loopback (log scale)")
    loopback.set_yticks(list(y), [row["case"].replace(", ", "\n", 1) for row in rows])
    loopback.legend(loc="lower left", bbox_to_anchor=(0, 1), ncol=2, frameon=False,
                    borderaxespad=0.2)  # above the bars, never on them
    # Nagle's wait is a delayed ACK, not a round trip: the computed panel leaves it out
    counted = [row for row in rows if "Nagle" not in row["case"]]
    remote.barh(range(len(counted)), [row["rtts"] * RTT_MS for row in counted], 0.6, color="C2")
    remote.set_xlabel(f"ms to the response at {RTT_MS:.0f} ms RTT, computed")
    remote.set_yticks(range(len(counted)), [row["case"].replace(", ", "\n", 1)
                                            for row in counted])
    remote.set_xticks([RTT_MS * n for n in range(max(row["rtts"] for row in counted) + 1)])
    for axis in (loopback, remote):
        axis.invert_yaxis()
    fig.suptitle("One GET: reused or new connection")
    fig.tight_layout()
    medians = ", ".join(f"{row['case']} {row['median']:.2f} ms" for row in rows)
    remote_ms = ", ".join(f"{row['case']} {row['rtts'] * RTT_MS:.0f} ms" for row in counted)
    plots.save(fig, path, "Two horizontal bar charts of one GET. Measured on loopback, median "
               f"and p90 on a log scale; the medians: {medians}. Computed from the round trips "
               f"at {RTT_MS:.0f} ms each: {remote_ms}.")
    plt.close(fig)


def results_text() -> str:
    """The results table, measured now."""
    return table(run_cases())


if __name__ == "__main__":
    figure_cli.run(__doc__, TABLE, results_text, parse, plot)
