"""Contention benchmark for the Handling failures chapter: bigger N than the notebook page runs.

N clients race to write one record with compare-and-set; after a conflict each backs off with
one of five strategies (none, capped exponential, full, equal and decorrelated jitter). This is
the same discrete-event simulation as snippets/failures/contention.py (copied, not imported, as
bench scripts do): a virtual clock, so no real waiting, and seeded randomness, so the table is
the same on every run. Time is in units of one attempt's work.

Run: .venv/bin/python bench/failures_contention.py
Writes bench/results/failures_contention.txt and bench/figures/failures_contention.svg.
.venv/bin/python bench/failures_contention.py --plot-only redraws the figure from the results
file, simulating nothing.
"""

from __future__ import annotations

import heapq
import random
import statistics
from pathlib import Path

import matplotlib

from docs_tools import figure_cli, plots

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "failures_contention.txt"
PLOT = ROOT / "bench" / "figures" / "failures_contention.svg"
STRATEGIES = ("none", "exponential", "full", "equal", "decorrelated")
COUNTS = [10, 25, 50, 100, 200, 400]
SEEDS = 5


def backoff(strategy, rng, base=1.0, cap=1000.0):
    previous, n = base, 0
    while True:
        ceiling = min(cap, base * 2**n)
        if strategy == "none":
            delay = 0.0
        elif strategy == "exponential":
            delay = ceiling
        elif strategy == "full":
            delay = rng.uniform(0, ceiling)
        elif strategy == "equal":
            delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
        else:
            delay = min(cap, rng.uniform(base, previous * 3))
        previous, n = delay, n + 1
        yield delay


def simulate(strategy, clients, seed, work=1.0):
    rng = random.Random(seed)
    waits = {c: backoff(strategy, rng) for c in range(clients)}
    version = calls = order = 0
    finish = 0.0
    events = [(0.0, c, "read", c, -1) for c in range(clients)]
    order = clients
    heapq.heapify(events)
    while events:
        now, _, kind, client, read = heapq.heappop(events)
        if kind == "read":
            calls += 1
            heapq.heappush(events, (now + work, order, "write", client, version))
        elif read == version:
            version += 1
            finish = now
            continue
        else:
            heapq.heappush(events, (now + next(waits[client]), order, "read", client, -1))
        order += 1
    return calls, finish


def run() -> dict[tuple[str, int], tuple[float, float]]:
    """(strategy, clients) -> (mean calls, mean time until all are done) over SEEDS runs."""
    results = {}
    for strategy in STRATEGIES:
        for clients in COUNTS:
            runs = [simulate(strategy, clients, seed) for seed in range(SEEDS)]
            results[strategy, clients] = (statistics.fmean(r[0] for r in runs),
                                          statistics.fmean(r[1] for r in runs))
    return results


def table(results: dict[tuple[str, int], tuple[float, float]]) -> str:
    lines = [f"mean of {SEEDS} seeded runs per cell; time in units of one attempt's work",
             f"{'clients':>7}  " + "  ".join(f"{s:>17}" for s in STRATEGIES),
             f"{'':>7}  " + "  ".join(f"{'calls':>8} {'time':>8}" for _ in STRATEGIES)]
    for clients in COUNTS:
        lines.append(f"{clients:>7}  " + "  ".join(
            f"{results[s, clients][0]:8.0f} {results[s, clients][1]:8.0f}" for s in STRATEGIES))
    return "\n".join(lines) + "\n"


def parse(text: str) -> dict[tuple[str, int], tuple[float, float]]:
    """What ``table`` wrote, read back: (strategy, clients) -> (calls, time)."""
    lines = text.splitlines()
    strategies = lines[1].split()[1:]
    results = {}
    for line in lines[3:]:
        clients, *cells = (int(cell) for cell in line.split())
        for strategy, calls, time in zip(strategies, cells[::2], cells[1::2], strict=True):
            results[strategy, clients] = (float(calls), float(time))
    return results


MARKERS = {"none": "o", "exponential": "s", "full": "^", "equal": "D", "decorrelated": "v"}


def plot(results: dict[tuple[str, int], tuple[float, float]], path: Path = PLOT) -> None:
    """Calls made, then time until all are done, against the number of clients (log-log)."""
    plots.apply_style()
    strategies = list(dict.fromkeys(strategy for strategy, _ in results))
    counts = sorted({clients for _, clients in results})
    figure, (work_axis, time_axis) = plt.subplots(2, 1, figsize=(4.9, 7.6), sharex=True)
    for strategy in strategies:
        style = {"marker": MARKERS.get(strategy, "o"), "label": strategy}
        if strategy in ("none", "exponential"):  # the same calls: big dots under small squares
            style |= {"markersize": 10} if strategy == "none" else {"linestyle": "--"}
        work_axis.plot(counts, [results[strategy, n][0] for n in counts], **style)
        time_axis.plot(counts, [results[strategy, n][1] for n in counts], **style)
    for axis, label in ((work_axis, "calls made (work)"),
                        (time_axis, "time until all are done\n(units of one attempt)")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        plots.plain_numbers(axis.xaxis)
        plots.plain_numbers(axis.yaxis)
        axis.set_xticks(counts)
        axis.set_ylabel(label)
        axis.grid(True, which="major")
    time_axis.set_xlabel("clients competing (log scale)")
    figure.legend(*work_axis.get_legend_handles_labels(), loc="upper center", ncol=3,
                  frameon=False, handlelength=1.8, columnspacing=1)  # above the data
    figure.tight_layout(rect=(0, 0, 1, 0.91))
    largest = counts[-1]
    by_calls = sorted(strategies, key=lambda strategy: results[strategy, largest][0])
    by_time = sorted(strategies, key=lambda strategy: results[strategy, largest][1])
    plots.save(figure, path, "Two line charts on log-log axes, against the number of clients "
               f"from {counts[0]} to {largest}, one line per backoff strategy. Calls made: at "
               f"{largest} clients, from fewest to most, " + ", ".join(
                   f"{s} {results[s, largest][0]:.0f}" for s in by_calls) + "; none and "
               "exponential make the same calls at every size. Time until all are done, from "
               "shortest to longest: " + ", ".join(
                   f"{s} {results[s, largest][1]:.0f}" for s in by_time) + ".")
    plt.close(figure)


def results_text() -> str:
    """The results table, simulated now."""
    return table(run())


if __name__ == "__main__":
    figure_cli.run(__doc__, RESULTS, results_text, parse, plot, measures="simulate")
