"""The figure at the top of the Backoff and jitter page: five clients call at once, and retry.

Five clients call one resource at t = 0. The resource serves one call at a time, for 1 s each,
and refuses a call that arrives while it is busy (a refusal takes no time). A refused client
waits, then calls again, until it has been served: without jitter it waits base·2ⁿ before retry
n, with full jitter uniform(0, base·2ⁿ), both capped. It is a simulation on a virtual clock with
a seeded random generator, so the schedule is the same on every run and every machine.

Run: python bench/backoff_timeline.py
Writes bench/results/backoff_timeline.txt and bench/figures/backoff_timeline.svg.
python bench/backoff_timeline.py --plot-only redraws the figure from the results file.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import matplotlib

from docs_tools import figure_cli, plots

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MultipleLocator  # noqa: E402

CLIENTS = 5
SERVICE = 1.0  # seconds the resource spends on one call
BASE = 1.0  # seconds: the wait before the first retry, without jitter
CAP = 10.0  # seconds: no wait is longer (retry.py's default)
SEED = 7
STRATEGIES = {"exponential": "no jitter", "full": "full jitter"}
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "backoff_timeline.txt"
PLOT = ROOT / "bench" / "figures" / "backoff_timeline.svg"


def delays(strategy: str, rng: random.Random, base: float = BASE,
           cap: float = CAP) -> Iterator[float]:
    """The wait before retry n = 0, 1, 2..., in seconds, without jitter or with full jitter."""
    # The two formulas are copied from Backoff.delays in snippets/failures/retry.py, not
    # imported: a bench script stands alone, as bench/failures_contention.py does.
    n = 0
    while True:
        ceiling = min(cap, base * 2**n)
        if ceiling < cap:
            n += 1  # once at the cap, stop doubling (as retry.py does)
        if strategy == "exponential":
            yield ceiling  # every client waits exactly as long: they stay in step
        else:
            yield rng.uniform(0, ceiling)  # anywhere from 0 to the exponential ceiling


def simulate(strategy: str, seed: int = SEED, clients: int = CLIENTS) -> list[dict]:
    """Every attempt, in the order the resource sees them: client (1..clients), attempt (1...),
    time (s) and outcome ("served" or "refused")."""
    rng = random.Random(seed)
    waits = {client: delays(strategy, rng) for client in range(1, clients + 1)}
    pending = [(0.0, client, 1) for client in range(1, clients + 1)]  # (time, client, attempt)
    free_at = 0.0  # the resource is busy until then
    attempts = []
    while pending:
        pending.sort()  # the earliest call first; at the same instant, the lower client number
        time, client, attempt = pending.pop(0)
        if time >= free_at:
            free_at = time + SERVICE
            attempts.append({"client": client, "attempt": attempt, "time": time,
                             "outcome": "served"})
        else:
            attempts.append({"client": client, "attempt": attempt, "time": time,
                             "outcome": "refused"})
            pending.append((time + next(waits[client]), client, attempt + 1))
    return attempts


def table(schedules: dict[str, list[dict]]) -> str:
    lines = [
        f"{CLIENTS} clients call at t = 0; the resource serves one call at a time for "
        f"{SERVICE:g} s and refuses calls that arrive while it is busy",
        f"wait before retry n (n = 0, 1, 2...): no jitter min(cap, base*2^n), full jitter "
        f"uniform(0, min(cap, base*2^n)); base {BASE:g} s, cap {CAP:g} s, random.Random({SEED})",
        "",
    ]
    for strategy, attempts in schedules.items():
        refused = sum(a["outcome"] == "refused" for a in attempts)
        done = max(a["time"] for a in attempts if a["outcome"] == "served") + SERVICE
        lines.append(f"{STRATEGIES[strategy]}: {len(attempts)} calls, {refused} refused, "
                     f"all served by {done:.3f} s")
    lines += ["", f"{'strategy':<12} {'client':>6} {'attempt':>7} {'time s':>7}  outcome"]
    for strategy, attempts in schedules.items():
        for a in attempts:
            lines.append(f"{STRATEGIES[strategy]:<12} {a['client']:>6} {a['attempt']:>7} "
                         f"{a['time']:>7.3f}  {a['outcome']}")
    return "\n".join(lines) + "\n"


def parse(text: str) -> dict[str, list[dict]]:
    """The schedules of a results file that ``table`` wrote, by strategy."""
    schedules: dict[str, list[dict]] = {strategy: [] for strategy in STRATEGIES}
    names = {name: strategy for strategy, name in STRATEGIES.items()}
    for line in text.splitlines():
        parts = line.rsplit(None, 4)
        if len(parts) == 5 and parts[0] in names and parts[4] in ("served", "refused"):
            name, client, attempt, time, outcome = parts
            schedules[names[name]].append({"client": int(client), "attempt": int(attempt),
                                           "time": float(time), "outcome": outcome})
    return schedules


def words(numbers: list[float]) -> str:
    """1, 3 and 7"""
    text = [f"{number:g}" for number in numbers]
    return ", ".join(text[:-1]) + " and " + text[-1] if len(text) > 1 else "".join(text)


def plot(schedules: dict[str, list[dict]], path: Path = PLOT) -> None:
    plots.apply_style()
    end = max(a["time"] for attempts in schedules.values() for a in attempts) + SERVICE
    fig, panels = plt.subplots(len(schedules), 1, figsize=(5, 6.4), sharex=True)
    summary = []
    for axis, (strategy, attempts) in zip(panels, schedules.items(), strict=True):
        served = [a for a in attempts if a["outcome"] == "served"]
        refused = [a for a in attempts if a["outcome"] == "refused"]
        # a served call holds the resource for SERVICE seconds: a bar on its client's row
        axis.barh([a["client"] for a in served], SERVICE, left=[a["time"] for a in served],
                  height=0.5, color="C0", label="served (1 s)")
        axis.plot([a["time"] for a in refused], [a["client"] for a in refused], "x",
                  color="C1", markersize=8, markeredgewidth=1.5, label="refused")
        axis.set_title(f"{STRATEGIES[strategy]}: {len(attempts)} calls, {len(refused)} refused")
        axis.set_yticks(range(1, CLIENTS + 1))
        axis.set_ylim(CLIENTS + 0.7, 0.3)
        axis.set_ylabel("client")
        axis.set_xlim(-0.3, end + 0.3)
        axis.xaxis.set_major_locator(MultipleLocator(2))
        axis.grid(axis="x")
        retries = Counter(a["time"] for a in attempts if a["attempt"] > 1)
        together = sorted(time for time, count in retries.items() if count > 1)
        summary.append(
            f"{STRATEGIES[strategy].capitalize()}: {len(attempts)} calls, {len(refused)} of them "
            "refused, " + (f"the refused clients call again together at {words(together)} s"
                           if together else "no two retries at the same instant")
            + f", everyone served by {max(a['time'] for a in served) + SERVICE:.3g} s")
    fig.legend(*panels[0].get_legend_handles_labels(), loc="upper center", ncol=2)
    panels[-1].set_xlabel("time (s)")
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    plots.save(fig, path, "Two timelines with one row per client: five clients call a resource "
               "that serves one call at a time for 1 s; a bar is a served call, a cross a "
               "refused one. " + ". ".join(summary) + ".")
    plt.close(fig)


def results_text() -> str:
    """The results table, simulated now."""
    return table({strategy: simulate(strategy) for strategy in STRATEGIES})


if __name__ == "__main__":
    figure_cli.run(__doc__, RESULTS, results_text, parse, plot, measures="simulate")
