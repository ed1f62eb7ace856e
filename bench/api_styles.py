"""One screen, three API styles: the author page through REST, GraphQL and gRPC, on loopback.

Starts the three bookstore servers of snippets/application as child processes
(`python <snippet>.py server --port 0`, the port read from the line each prints), fetches the
same screen (an author, their books and each book's reviews) ROUNDS times through each, and
prints the calls per screen, the response bytes, and the median and 90th percentile time per
screen. Loopback has almost no latency, so the last column computes what each would cost over a
50 ms round trip from the number of round trips the client waits for one after another.

Run: python bench/api_styles.py
(a few seconds; writes bench/results/api_styles.txt and bench/figures/api_styles.svg)
python bench/api_styles.py --plot-only redraws the figure from the results file, measuring nothing.
"""

from __future__ import annotations

import re
import select
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import httpx
import matplotlib

from docs_tools import figure_cli, plots

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROUNDS = 200
WARMUP = 20
RTT_MS = 50.0
HERE = Path(__file__).resolve().parent
SNIPPETS = HERE.parent / "snippets" / "application"
TABLE = HERE / "results" / "api_styles.txt"
FIGURE = HERE / "figures" / "api_styles.svg"

AUTHOR_PAGE = """
query AuthorPage($id: ID!) {
  author(id: $id) { name books { title year reviews { reviewer rating } } }
}
"""


@contextmanager
def server(snippet: str) -> Iterator[int]:
    """Run `python <snippet> server --port 0` and yield the port it printed; stop it with ^C."""
    process = subprocess.Popen(
        [sys.executable, "-u", str(SNIPPETS / snippet), "server", "--port", "0"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        if not ready:
            raise TimeoutError(f"{snippet} did not start within 30 s")
        line = process.stdout.readline()
        yield int(re.search(r":(\d+)", line).group(1))
    finally:
        process.send_signal(signal.SIGINT)  # the servers stop cleanly on Ctrl-C
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        process.stdout.close()


def head_bytes(response: httpx.Response) -> int:
    status_line = f"{response.http_version} {response.status_code} {response.reason_phrase}"
    return len(status_line) + 2 + sum(len(k) + len(v) + 4 for k, v in response.headers.raw) + 2


def rest_page(client: httpx.Client) -> tuple[int, int]:
    """The REST client of rest_bookstore.py: 1 + 1 + one request per book, one after another."""
    calls = size = 0

    def get(url: str) -> dict:
        nonlocal calls, size
        response = client.get(url)
        response.raise_for_status()
        calls += 1
        size += head_bytes(response) + len(response.content)
        return response.json()

    get("/authors/1")
    for book in get("/authors/1/books")["items"]:
        get(f"/books/{book['id']}/reviews")
    return calls, size


def graphql_page(client: httpx.Client) -> tuple[int, int]:
    response = client.post("/graphql", json={"query": AUTHOR_PAGE, "variables": {"id": "1"}})
    response.raise_for_status()
    assert "errors" not in response.json()
    return 1, head_bytes(response) + len(response.content)


def load_protos():
    sys.path.insert(0, str(SNIPPETS))
    try:
        return grpc.protos_and_services("bookstore.proto")
    finally:
        sys.path.remove(str(SNIPPETS))


def time_pages(fetch: Callable[[], tuple[int, int]]) -> tuple[int, int, list[float]]:
    for _ in range(WARMUP):
        fetch()
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        calls, size = fetch()
        samples.append(time.perf_counter() - start)
    return calls, size, samples


def measure() -> dict[str, dict]:
    results = {}
    with server("rest_bookstore.py") as port, httpx.Client(
        base_url=f"http://127.0.0.1:{port}", timeout=5
    ) as client:
        calls, size, samples = time_pages(lambda: rest_page(client))
        # author and books could go in parallel, then all reviews: 2 round trips at best
        results["REST"] = dict(calls=calls, size=size, samples=samples, serial=calls, best=2)
    with server("graphql_bookstore.py") as port, httpx.Client(
        base_url=f"http://127.0.0.1:{port}", timeout=5
    ) as client:
        calls, size, samples = time_pages(lambda: graphql_page(client))
        results["GraphQL"] = dict(calls=calls, size=size, samples=samples, serial=1, best=1)
    pb, services = load_protos()
    with server("rpc_bookstore.py") as port, grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = services.BookstoreStub(ch)

        def grpc_page() -> tuple[int, int]:
            page = stub.GetAuthorPage(pb.GetAuthorRequest(id=1), timeout=5)
            return 1, page.ByteSize() + 5  # + gRPC's 5-byte message prefix; HTTP/2 not counted

        calls, size, samples = time_pages(grpc_page)
        results["gRPC"] = dict(calls=calls, size=size, samples=samples, serial=1, best=1)
    return results


def table(results: dict[str, dict]) -> str:
    lines = [
        f"The author page, {ROUNDS} times per style, on loopback (127.0.0.1), 2-core machine",
        f"{'style':<8} {'calls':>5} {'resp. bytes':>11} {'median ms':>9} {'p90 ms':>7} "
        f"{'at 50 ms RTT (serial / best)':>29}",
    ]
    for name, r in results.items():
        median = statistics.median(r["samples"]) * 1000
        p90 = statistics.quantiles(r["samples"], n=10)[-1] * 1000
        serial = r["serial"] * RTT_MS + median
        best = r["best"] * RTT_MS + median
        lines.append(f"{name:<8} {r['calls']:>5} {r['size']:>11} {median:>9.2f} {p90:>7.2f} "
                     f"{serial:>15.0f} / {best:.0f} ms")
    lines.append("resp. bytes: status line + headers + body for HTTP; for gRPC the protobuf")
    lines.append("message + its 5-byte prefix (HTTP/2 frames and compressed headers not counted)")
    return "\n".join(lines) + "\n"


def parse(text: str) -> list[dict]:
    """The rows of a results file that ``table`` wrote: one per style, in the table's order."""
    rows = []
    for line in text.splitlines():
        match = re.fullmatch(r"(\S+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+(\d+) / (\d+) ms",
                             line.strip())
        if match:
            style, calls, size, median, p90, serial, best = match.groups()
            rows.append({"style": style, "calls": int(calls), "size": int(size),
                         "median": float(median), "p90": float(p90), "serial": int(serial),
                         "best": int(best)})
    return rows


def plot(rows: list[dict], path: Path = FIGURE) -> None:
    """Two stacked bar charts: measured on loopback, then computed for a 50 ms round trip."""
    plots.apply_style()
    names = [row["style"] for row in rows]
    y = range(len(rows))
    fig, (loopback, remote) = plt.subplots(2, 1, figsize=(4.9, 5.6))
    loopback.barh([i - 0.2 for i in y], [row["median"] for row in rows], 0.4, label="median")
    loopback.barh([i + 0.2 for i in y], [row["p90"] for row in rows], 0.4, label="p90")
    loopback.set_xlabel("ms per screen on loopback, measured")
    remote.barh([i - 0.2 for i in y], [row["serial"] for row in rows], 0.4, color="C2",
                label="one call at a time")
    remote.barh([i + 0.2 for i in y], [row["best"] for row in rows], 0.4, color="C3",
                label="parallel where possible")
    remote.set_xlabel(f"ms per screen at a {RTT_MS:.0f} ms round trip, computed")
    for axis in (loopback, remote):
        axis.set_yticks(list(y), names)
        axis.invert_yaxis()
        # above the bars, never on them
        axis.legend(loc="lower left", bbox_to_anchor=(0, 1), ncol=2, frameon=False,
                    borderaxespad=0.2, handlelength=1.2, columnspacing=1)
    fig.suptitle("An author page with its books and reviews")
    fig.tight_layout()
    medians = ", ".join(f"{row['style']} {row['median']:.2f}" for row in rows)
    remote_ms = ", ".join(
        f"{row['style']} {row['serial']} ms"
        + (f" one call at a time and {row['best']} ms in parallel"
           if row["best"] != row["serial"] else "")
        for row in rows)
    plots.save(fig, path, "Two horizontal bar charts for the author page. Measured on loopback, "
               f"median milliseconds per screen: {medians}, each with its p90 beside it. "
               f"Computed for a {RTT_MS:.0f} ms round trip: {remote_ms}; the round trips, not "
               "the loopback times, decide.")
    plt.close(fig)


def results_text() -> str:
    """The results table, measured now."""
    return table(measure())


if __name__ == "__main__":
    figure_cli.run(__doc__, TABLE, results_text, parse, plot)
