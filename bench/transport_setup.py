"""Time to first byte on a new connection: TCP, TCP + TLS 1.3, QUIC and QUIC 0-RTT, on loopback.

For each transport, a client opens a new connection to an echo server on 127.0.0.1, sends a
16-byte request and waits for the first byte of the reply; the median of ROUNDS runs is printed.
Then, on one open connection, the median time of a request after set-up. Loopback has no real
latency, so the last column computes what each costs over a 50 ms round trip from the number of
round trips each protocol needs by design (RFC 9293, RFC 8446, RFC 9000/9001).

Run: python bench/transport_setup.py
(a few seconds; writes bench/results/transport_setup.txt and bench/figures/transport_setup.svg)
python bench/transport_setup.py --plot-only redraws the figure from the results file, measuring
nothing.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import statistics
import time
from pathlib import Path

import matplotlib
import trustme
from aioquic.asyncio import connect, serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.tls import SessionTicket
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from docs_tools import figure_cli, plots

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROUNDS = 20
RTT_MS = 50.0
REQUEST = b"GET /first-byte\n"  # 16 bytes
HERE = Path(__file__).resolve().parent
TABLE = HERE / "results" / "transport_setup.txt"
FIGURE = HERE / "figures" / "transport_setup.svg"

# Round trips before the first byte of the reply can arrive, by protocol design:
# (set-up round trips, then 1 for the request and its reply)
SETUP_RTTS = {
    "TCP": 1,  # SYN / SYN-ACK; the request rides with the final ACK
    "TCP + TLS 1.3": 2,  # TCP handshake, then ClientHello / ServerHello..Finished
    "QUIC (new)": 1,  # transport and TLS 1.3 handshakes in the same packets
    "QUIC 0-RTT (resumed)": 0,  # the request goes in the first flight
}


async def echo_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def measure_tcp(tls: bool, ca: trustme.CA) -> tuple[list[float], list[float]]:
    server_ctx = client_ctx = None
    if tls:
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_ctx)
        client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, and trusts nothing yet
        ca.configure_trust(client_ctx)  # ...but our authority
    server = await asyncio.start_server(echo_once, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    new, reuse = [], []
    async with server:
        for _ in range(ROUNDS):
            start = time.perf_counter()
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=client_ctx, server_hostname="localhost" if tls else None)
            writer.write(REQUEST)
            await reader.read(1)
            new.append(time.perf_counter() - start)
            await reader.readexactly(len(REQUEST) - 1)
            for _ in range(ROUNDS):  # requests on the open connection
                start = time.perf_counter()
                writer.write(REQUEST)
                await reader.readexactly(len(REQUEST))
                reuse.append(time.perf_counter() - start)
            writer.close()
            await writer.wait_closed()
    return new, reuse


async def measure_quic(ca: trustme.CA, zero_rtt: bool) -> tuple[list[float], list[float]]:
    issued = ca.issue_cert("localhost", "127.0.0.1")
    server_cfg = QuicConfiguration(is_client=False, alpn_protocols=["echo"])
    server_cfg.certificate = x509.load_pem_x509_certificate(issued.cert_chain_pems[0].bytes())
    server_cfg.private_key = load_pem_private_key(issued.private_key_pem.bytes(), None)
    tickets: dict[bytes, SessionTicket] = {}
    tasks: set[asyncio.Task[None]] = set()

    def on_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(echo_once(reader, writer))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = await serve("127.0.0.1", 0, configuration=server_cfg, stream_handler=on_stream,
                         session_ticket_handler=lambda t: tickets.__setitem__(t.ticket, t),
                         session_ticket_fetcher=lambda label: tickets.pop(label, None))
    port = server._transport.get_extra_info("sockname")[1]  # aioquic has no public accessor
    new, reuse = [], []
    received: list[SessionTicket] = []
    try:
        for _ in range(ROUNDS):
            cfg = QuicConfiguration(is_client=True, alpn_protocols=["echo"],
                                    server_name="localhost", cadata=ca.cert_pem.bytes())
            if zero_rtt:
                cfg.session_ticket = received.pop() if received else None
            start = time.perf_counter()
            async with connect("127.0.0.1", port, configuration=cfg,
                               session_ticket_handler=received.append,
                               wait_connected=not (zero_rtt and cfg.session_ticket)) as client:
                reader, writer = await client.create_stream()
                writer.write(REQUEST)
                await reader.read(1)
                elapsed = time.perf_counter() - start
                if not zero_rtt or cfg.session_ticket:  # the first 0-RTT run only gets a ticket
                    new.append(elapsed)
                writer.write_eof()
                await reader.read()
                for _ in range(ROUNDS if not zero_rtt else 0):
                    reader, writer = await client.create_stream()
                    start = time.perf_counter()
                    writer.write(REQUEST)
                    writer.write_eof()
                    await reader.read()
                    reuse.append(time.perf_counter() - start)
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return new, reuse


async def measure() -> dict[str, tuple[float, float | None]]:
    ca = trustme.CA()
    results = {}
    for name, job in [("TCP", measure_tcp(False, ca)), ("TCP + TLS 1.3", measure_tcp(True, ca)),
                      ("QUIC (new)", measure_quic(ca, False)),
                      ("QUIC 0-RTT (resumed)", measure_quic(ca, True))]:
        new, reuse = await job
        results[name] = (median_ms(new), median_ms(reuse) if reuse else None)
    return results


def table(results: dict[str, tuple[float, float | None]]) -> str:
    header = (f"{'transport':<21}{'set-up':>7}{'RTTs to':>10}{'at 50 ms':>10}"
              f"{'loopback':>10}{'loopback':>11}")
    header2 = f"{'':<21}{'RTTs':>7}{'1st byte':>10}{'RTT':>10}{'new conn':>10}{'open conn':>11}"
    lines = [header, header2, "-" * len(header)]
    for name, (new_ms, reuse_ms) in results.items():
        rtts = SETUP_RTTS[name] + 1
        reuse = f"{reuse_ms:.3f} ms" if reuse_ms is not None else "-"
        lines.append(f"{name:<21}{SETUP_RTTS[name]:>7}{rtts:>10}{rtts * RTT_MS:>7.0f} ms"
                     f"{new_ms:>7.2f} ms{reuse:>11}")
    lines += [
        "",
        f"loopback new conn: median of {ROUNDS} new connections, from connect to the first",
        "  byte of the reply to a 16-byte request (set-up included);",
        f"loopback open conn: median of {ROUNDS}x{ROUNDS} requests on open connections;",
        "  Python asyncio, stdlib ssl, aioquic, on 127.0.0.1.",
        f"at 50 ms RTT: round trips to the first byte x {RTT_MS:.0f} ms, calculated, not measured.",
    ]
    return "\n".join(lines) + "\n"


def parse(text: str) -> dict[str, tuple[float, float | None]]:
    """What ``table`` wrote, read back: transport -> (new connection ms, open connection ms)."""
    results = {}
    for line in text.splitlines():
        name = next((name for name in SETUP_RTTS if line.startswith(f"{name}  ")), None)
        if name:
            new_ms, reuse = re.fullmatch(r"\s*\d+\s+\d+\s+\d+ ms\s+([\d.]+) ms\s+(-|[\d.]+ ms)",
                                         line[len(name):]).groups()
            results[name] = (float(new_ms), None if reuse == "-" else float(reuse[:-3]))
    return results


def plot(results: dict[str, tuple[float, float | None]], path: Path = FIGURE) -> None:
    """Time to first byte: measured on loopback, then computed for a 50 ms round trip."""
    plots.apply_style()
    names = list(results)
    labels = [name.replace(" (", "\n(") for name in names]
    fig, (loopback, remote) = plt.subplots(2, 1, figsize=(4.9, 6.4))
    loopback.barh(labels, [results[n][0] for n in names], 0.6)
    loopback.set_xlabel("ms, loopback, measured (median)")
    remote.barh(labels, [(SETUP_RTTS[n] + 1) * RTT_MS for n in names], 0.6, color="C1")
    remote.set_xlabel(f"ms at a {RTT_MS:.0f} ms round trip, computed")
    for axis, digits in ((loopback, "%.2f"), (remote, "%.0f")):  # as the table prints them
        axis.invert_yaxis()
        axis.bar_label(axis.containers[0], fmt=digits, padding=3)
        axis.margins(x=0.22)  # room for the labels
    fig.suptitle("Time to the first byte of the reply,\nnew connection")
    fig.tight_layout()
    measured = ", ".join(f"{name} {results[name][0]:.2f} ms" for name in names)
    computed = ", ".join(f"{name} {(SETUP_RTTS[name] + 1) * RTT_MS:.0f} ms" for name in names)
    plots.save(fig, path, "Two horizontal bar charts of the time to the first byte on a new "
               f"connection. Measured on loopback, the median: {measured}. Computed from the "
               f"protocols' round trips at {RTT_MS:.0f} ms each: {computed}.")
    plt.close(fig)


def results_text() -> str:
    """The results table, measured now."""
    return table(asyncio.run(measure()))


if __name__ == "__main__":
    figure_cli.run(__doc__, TABLE, results_text, parse, plot)
