"""One HTTPS request, step by step, on loopback: the timeline of fundamentals/one_request.py.

Starts the program's site once (its DNS server, L4 balancer and two TLS 1.3 backends, on
127.0.0.1) and runs its client ROUNDS times, after WARMUP rounds not kept. Each round is a
fresh client (an empty DNS cache, no TLS session) making the program's three requests: one on a
new connection (DNS query, TCP connect, full TLS handshake), one on the same connection (none of
those), and, after closing it, one on a new connection that finds the name in the resolver's
cache and resumes the TLS session with a ticket. Each step is timed by the client
(time.perf_counter); the table gives the median of each step, and a case's total is the sum of
its steps' medians. Every round checks that the steps did what they should (a query, then none;
the same connection; a resumed session), so the times are those of the right steps.

Loopback has no propagation delay, so the second table counts the round trips each step needs on
a real network and multiplies them by a 50 ms round trip (the site's usual figure, as in
bench/transport_setup.py): calculated, not measured.

Run: python bench/one_request.py
(a few seconds; writes bench/results/one_request.txt and bench/figures/one_request.svg)
python bench/one_request.py --plot-only redraws the figure from the results file, measuring
nothing.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import statistics
import sys
from pathlib import Path

import matplotlib

from docs_tools import figure_cli, plots

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROUNDS = 200
WARMUP = 20
RTT_MS = 50.0
HERE = Path(__file__).resolve().parent
PROGRAM = HERE.parent / "snippets" / "fundamentals" / "one_request.py"
TABLE = HERE / "results" / "one_request.txt"
FIGURE = HERE / "figures" / "one_request.svg"

CASES = ["new connection", "same connection", "new, TLS resumed"]
STEPS = ["DNS", "TCP connect", "TLS handshake", "request", "first byte", "last byte"]
HEADINGS = ["DNS", "TCP", "TLS", "request", "1st byte", "last byte"]
# Round trips each step waits for on a real network, by the protocols' design: DNS one to a
# resolver that has the name cached (none from the client's own cache); TCP's SYN, SYN-ACK
# (RFC 9293); TLS 1.3's ClientHello to the server's Finished, resumed or not (RFC 8446: only
# 0-RTT saves it); the request is one way, its answer comes back in the first byte's round
# trip; the 8 KiB answer fits TCP's first window (10 segments, RFC 6928): no extra round trip.
ROUND_TRIPS = {
    "new connection": [1, 1, 1, 0, 1, 0],
    "same connection": [0, 0, 0, 0, 1, 0],
    "new, TLS resumed": [0, 1, 1, 0, 1, 0],
}


def load_program():
    spec = importlib.util.spec_from_file_location("one_request", PROGRAM)
    module = importlib.util.module_from_spec(spec)
    sys.modules["one_request"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def one_round(one, site) -> dict[str, dict[str, float]]:
    """The program's three requests, from a fresh client: each case's step durations (ms)."""
    browser = one.Browser(one.make_resolver("127.0.0.1", site.dns_port),
                          one.client_context(site.root_pem), site.port)
    queries = len(site.dns.queries)
    try:
        new = browser.get("https://www.shop.example/cart")
        same = browser.get("https://www.shop.example/checkout")
        browser.close()
        resumed = browser.get("https://www.shop.example/")
    finally:
        browser.close()
    # the steps were the ones the case stands for
    assert new.new_connection and not new.dns_from_cache and not new.resumed
    assert not same.new_connection and same.body.split(b":")[0] == new.body.split(b":")[0]
    assert resumed.new_connection and resumed.dns_from_cache and resumed.resumed
    assert len(site.dns.queries) == queries + 1
    return {case: {step: (end - start) * 1000 for step, (start, end) in fetch.steps.items()}
            for case, fetch in zip(CASES, (new, same, resumed), strict=True)}


def measure() -> dict[str, dict[str, float | None]]:
    one = load_program()
    samples = {case: {step: [] for step in STEPS} for case in CASES}
    with one.running_site(one.local_root_ca()) as site:
        for n in range(WARMUP + ROUNDS):
            durations = one_round(one, site)
            if n >= WARMUP:
                for case, steps in durations.items():
                    for step, ms in steps.items():
                        samples[case][step].append(ms)
    return {case: {step: statistics.median(times) if times else None
                   for step, times in steps.items()}
            for case, steps in samples.items()}


def row(name: str, cells: list[str], total: str) -> str:
    return f"{name:<17}" + "".join(f"{cell:>10}" for cell in cells) + f"{total:>10}"


def table(results: dict[str, dict[str, float | None]]) -> str:
    lines = [
        f"One HTTPS request, step by step, on loopback (127.0.0.1): median of {ROUNDS} rounds "
        f"after {WARMUP}",
        f"{platform.system()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        "dnspython stub resolver, asyncio L4 balancer,",
        "http.server backends, TLS 1.3 with the stdlib ssl module; an 8192-byte answer",
        "",
        "measured, ms (a total is the sum of its steps' medians):",
        row("case", HEADINGS, "total"),
    ]
    for case, steps in results.items():
        cells = [f"{ms:.3f}" if ms is not None else "-" for ms in steps.values()]
        total = sum(ms for ms in steps.values() if ms is not None)
        lines.append(row(case, cells, f"{total:.3f}"))
    lines += ["", f"round trips on a real network, and their cost at {RTT_MS:.0f} ms each "
              "(calculated, not measured):", row("case", HEADINGS, "total")]
    for case, trips in ROUND_TRIPS.items():
        lines.append(row(case, [str(n) for n in trips], f"{sum(trips) * RTT_MS:.0f} ms"))
    return "\n".join(lines) + "\n"


def parse(text: str) -> dict[str, dict[str, float | None]]:
    """The measured table, read back: case -> step -> median ms (None where skipped)."""
    results = {}
    measured = text.split("round trips on a real network")[0]
    for line in measured.splitlines():
        case = next((case for case in CASES if line.startswith(case)), None)
        if case:
            cells = line[len(case):].split()[:-1]  # the total is recomputed, not read
            results[case] = {step: None if cell == "-" else float(cell)
                             for step, cell in zip(STEPS, cells, strict=True)}
    return results


def bars(axis, widths: dict[str, list[float]], unit: str, digits: str) -> None:
    """Each case a row of its steps, one after the other on a shared time axis."""
    for y, steps in enumerate(widths.values()):
        start = 0.0
        for index, width in enumerate(steps):
            if width:
                axis.broken_barh([(start, width)], (y - 0.3, 0.6), color=f"C{index}",
                                 label=STEPS[index] if y == 0 else None)
            start += width
        axis.annotate(f"{start:{digits}} {unit}", (start, y), xytext=(4, 0),
                      textcoords="offset points", va="center")
    axis.set_yticks(range(len(widths)), [case.replace(", ", ",\n") for case in widths])
    axis.set_ylim(len(widths) - 0.5, -0.5)
    axis.set_xlim(0, max(sum(steps) for steps in widths.values()) * 1.3)  # room for the totals


def plot(results: dict[str, dict[str, float | None]], path: Path = FIGURE) -> None:
    plots.apply_style()
    fig, (loopback, remote) = plt.subplots(2, 1, figsize=(4.9, 6.6))
    measured = {case: [ms or 0.0 for ms in steps.values()] for case, steps in results.items()}
    bars(loopback, measured, "ms", ".2f")
    loopback.set_xlabel("ms on loopback, measured (medians)")
    bars(remote, {case: [n * RTT_MS for n in trips] for case, trips in ROUND_TRIPS.items()},
         "ms", ".0f")
    remote.set_xlabel(f"ms at a {RTT_MS:.0f} ms round trip, calculated")
    remote.set_xticks([RTT_MS * n for n in range(5)])
    handles, labels = loopback.get_legend_handles_labels()
    order = [0, 3, 1, 4, 2, 5]  # matplotlib fills a legend column by column: read it by rows
    fig.legend([handles[i] for i in order], [labels[i] for i in order], loc="lower center",
               ncol=3, frameon=False, columnspacing=1.0, handlelength=1.2)
    fig.suptitle("One HTTPS request, step by step")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    totals = ", ".join(f"{case} {sum(steps):.2f} ms" for case, steps in measured.items())
    remote_totals = ", ".join(f"{case} {sum(trips) * RTT_MS:.0f} ms"
                              for case, trips in ROUND_TRIPS.items())
    plots.save(fig, path, "Two timelines of one HTTPS request, one bar per case, each bar its "
               "steps in order: DNS, TCP connect, TLS handshake, request, first byte, last byte. "
               f"Measured on loopback, the sums of the steps' medians: {totals}; the TLS "
               f"handshake is the longest step. Calculated at a {RTT_MS:.0f} ms round trip: "
               f"{remote_totals}.")
    plt.close(fig)


def results_text() -> str:
    """The results table, measured now."""
    return table(measure())


if __name__ == "__main__":
    figure_cli.run(__doc__, TABLE, results_text, parse, plot)
