"""The power of two choices: balls into bins, and balancers that act on stale load counts.

Part 1, balls into bins. Throw n balls into n bins, each ball into one bin chosen at random, and
the fullest bin ends with about ln n / ln ln n balls; let each ball choose two bins at random and
go to the less full one, and the fullest bin holds only about ln ln n / ln 2 (Azar, Broder,
Karlin and Upfal, "Balanced Allocations", STOC 1994 and SIAM J. Computing 29(1), 1999,
https://doi.org/10.1137/S0097539795288490; Mitzenmacher, "The Power of Two Choices in Randomized
Load Balancing", PhD thesis, UC Berkeley, 1996,
https://www.eecs.harvard.edu/~michaelm/postscripts/mythesis.pdf). Both are first-order
terms: the first is (1 + o(1)) ln n / ln ln n, and Gonnet's sharper Γ⁻¹(n) - 3/2 (quoted by Azar
et al.) is printed beside it; the second holds up to an additive O(1). The two choices are
independent, as in the paper, so they may be the same bin.

Part 2, stale information. BACKENDS servers; one request arrives per tick and stays for a
random (exponential) time, MEAN_LOAD requests per backend on average. k balancers take the
requests in turn. Each keeps a view of every backend's requests in flight, copied from the
true counts every REFRESH ticks (all at once, like a shared dashboard), and adds its own picks
to it in between; it never sees the others' picks or the requests that finished. Each picks
at random, the least loaded in its view (ties at random), or the less loaded of two random
backends in its view. The table gives the busiest backend's requests in flight, averaged over
every tick after a warm-up, and over SEEDS seeded runs. (Mitzenmacher studies this setting in
"How Useful Is Old Information?", IEEE TPDS 11(1), 2000.)

Everything is seeded: the results are the same on every run and every machine.

Run: python bench/load_balancing_choices.py
(about half a minute; writes bench/results/load_balancing_choices.txt and
bench/figures/load_balancing_choices.svg)
python bench/load_balancing_choices.py --plot-only redraws the figure from the results file,
simulating nothing.
"""

from __future__ import annotations

import heapq
import math
import random
import re
import statistics
from pathlib import Path

import matplotlib

from docs_tools import figure_cli, plots

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "load_balancing_choices.txt"
PLOT = ROOT / "bench" / "figures" / "load_balancing_choices.svg"

SIZES = [100, 1_000, 10_000, 100_000, 1_000_000]  # n balls into n bins
BALLS_PER_SIZE = 1_000_000  # as many runs as make this many balls, and at least MIN_RUNS
MIN_RUNS = 10

BACKENDS = 20
MEAN_LOAD = 10  # requests in flight per backend, on average
REFRESH = 100  # ticks (requests) between two refreshes of every balancer's view
BALANCERS = [1, 2, 5, 10, 20, 50]
TICKS = 20_000
WARMUP = 2_000
SEEDS = 3
STRATEGIES = ("random", "least loaded", "two choices")


def max_load(n: int, choices: int, rng: random.Random) -> int:
    """n balls into n bins, each into the least full of ``choices`` random bins."""
    bins = [0] * n
    draw = rng.randrange
    for _ in range(n):
        best = draw(n)
        for _ in range(choices - 1):
            other = draw(n)
            if bins[other] < bins[best]:
                best = other
        bins[best] += 1
    return max(bins)


def inverse_gamma(n: float) -> float:
    """The x > 2 with Γ(x) = n, by bisection (Γ increases there)."""
    low, high = 2.0, 2.0
    while math.lgamma(high) < math.log(n):
        high *= 2
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if math.lgamma(middle) < math.log(n) else (low, middle)
    return low


def theory(n: int) -> dict[str, float]:
    return {"one": math.log(n) / math.log(math.log(n)),
            "gonnet": inverse_gamma(n) - 1.5,
            "two": math.log(math.log(n)) / math.log(2)}


def balls_into_bins() -> list[dict]:
    rows = []
    for n in SIZES:
        runs = max(MIN_RUNS, BALLS_PER_SIZE // n)
        one = [max_load(n, 1, random.Random(f"one {n} {run}")) for run in range(runs)]
        two = [max_load(n, 2, random.Random(f"two {n} {run}")) for run in range(runs)]
        rows.append({"n": n, "runs": runs, "one": statistics.fmean(one), "one_low": min(one),
                     "one_high": max(one), "two": statistics.fmean(two), "two_low": min(two),
                     "two_high": max(two)})
    return rows


def stale_run(strategy: str, balancers: int, seed: int) -> float:
    """The busiest backend's requests in flight, averaged over the ticks after WARMUP."""
    rng = random.Random(f"{strategy} {balancers} {seed}")
    backends = range(BACKENDS)
    load = [0] * BACKENDS  # the truth
    views = [[0] * BACKENDS for _ in range(balancers)]  # what each balancer believes
    finishing: list[tuple[float, int]] = []  # (tick it ends, backend)
    busiest = []
    for tick in range(TICKS):
        while finishing and finishing[0][0] <= tick:
            load[heapq.heappop(finishing)[1]] -= 1
        if tick % REFRESH == 0:
            for view in views:
                view[:] = load
        view = views[tick % balancers]
        if strategy == "random":
            backend = rng.randrange(BACKENDS)
        elif strategy == "least loaded":
            fewest = min(view)
            backend = rng.choice([b for b in backends if view[b] == fewest])
        else:
            first, second = rng.sample(backends, 2)
            backend = first if view[first] <= view[second] else second
        view[backend] += 1  # a balancer knows what it sent itself
        load[backend] += 1
        heapq.heappush(finishing, (tick + rng.expovariate(1 / (BACKENDS * MEAN_LOAD)), backend))
        if tick >= WARMUP:
            busiest.append(max(load))
    return statistics.fmean(busiest)


def stale_information() -> list[dict]:
    return [{"balancers": k, **{strategy: statistics.fmean(stale_run(strategy, k, seed)
                                                         for seed in range(SEEDS))
                                for strategy in STRATEGIES}}
            for k in BALANCERS]


def table(bins: list[dict], stale: list[dict]) -> str:
    lines = [
        "n balls into n bins: the fullest bin's load, mean [lowest-highest] of the seeded runs",
        f"{'n':>9} {'runs':>6} {'one choice':>16} {'ln n/lnln n':>12} {'Gonnet':>7} "
        f"{'two choices':>16} {'lnln n/ln 2':>12}",
    ]
    for row in bins:
        expected = theory(row["n"])
        one = f"{row['one']:.2f} [{row['one_low']}-{row['one_high']}]"
        two = f"{row['two']:.2f} [{row['two_low']}-{row['two_high']}]"
        lines.append(f"{row['n']:>9,} {row['runs']:>6,} {one:>16} {expected['one']:>12.2f} "
                     f"{expected['gonnet']:>7.2f} {two:>16} {expected['two']:>12.2f}")
    lines += [
        "Gonnet: the sharper one-choice value, inverse gamma(n) - 3/2",
        "",
        f"stale counts: {BACKENDS} backends, {MEAN_LOAD} requests in flight on each on average,",
        f"every balancer's view refreshed every {REFRESH} requests; the busiest backend's",
        f"requests in flight, mean over {TICKS - WARMUP} ticks and {SEEDS} seeds",
        f"{'balancers':>9} " + " ".join(f"{strategy:>12}" for strategy in STRATEGIES),
    ]
    for row in stale:
        lines.append(f"{row['balancers']:>9} "
                     + " ".join(f"{row[strategy]:>12.1f}" for strategy in STRATEGIES))
    return "\n".join(lines) + "\n"


def parse(text: str) -> dict[str, list[dict]]:
    """What ``table`` wrote, read back: {"bins": rows of part 1, "stale": rows of part 2}."""
    bins, stale = [], []
    number = r"(\d+(?:\.\d+)?)"
    spread = rf"{number} \[(\d+)-(\d+)\]"
    for line in text.splitlines():
        match = re.fullmatch(rf"\s*([\d,]+)\s+([\d,]+)\s+{spread}\s+{number}\s+{number}\s+{spread}"
                             rf"\s+{number}", line)
        if match:
            n, runs, one, one_low, one_high, _, _, two, two_low, two_high, _ = match.groups()
            bins.append({"n": int(n.replace(",", "")), "runs": int(runs.replace(",", "")),
                         "one": float(one),
                         "one_low": int(one_low), "one_high": int(one_high), "two": float(two),
                         "two_low": int(two_low), "two_high": int(two_high)})
        match = re.fullmatch(r"\s*(\d+)" + rf"\s+{number}" * len(STRATEGIES), line)
        if match:
            k, *loads = match.groups()
            stale.append({"balancers": int(k),
                          **{s: float(load) for s, load in zip(STRATEGIES, loads, strict=True)}})
    return {"bins": bins, "stale": stale}


def plot(results: dict[str, list[dict]], path: Path = PLOT) -> None:
    """Max load against n (log x), then the busiest backend against the number of balancers."""
    plots.apply_style()
    bins, stale = results["bins"], results["stale"]
    fig, (growth, herd) = plt.subplots(2, 1, figsize=(4.9, 8.4))
    sizes = [row["n"] for row in bins]
    curve = [round(10 ** (exponent / 10)) for exponent in range(20, 61)]  # 100 .. 10^6
    growth.plot(sizes, [row["one"] for row in bins], "o-", color="C0", label="one choice")
    growth.plot(curve, [theory(n)["one"] for n in curve], ":", color="C0",
                label="ln n / ln ln n")
    growth.plot(curve, [theory(n)["gonnet"] for n in curve], "--", color="C0",
                label="Gonnet's sharper one")
    growth.plot(sizes, [row["two"] for row in bins], "s-", color="C1", label="two choices")
    growth.plot(curve, [theory(n)["two"] for n in curve], ":", color="C1",
                label="ln ln n / ln 2")
    growth.set_xscale("log")
    plots.plain_numbers(growth.xaxis)
    growth.set_xticks(sizes, [f"{n:,}" for n in sizes])
    growth.set_ylim(0, None)
    growth.set_xlabel("n balls into n bins (log scale)")
    growth.set_ylabel("balls in the fullest bin")
    growth.legend(loc="lower left", bbox_to_anchor=(0, 1.02), ncol=2, frameon=False,
                  borderaxespad=0, handlelength=1.8, columnspacing=1)  # above the data
    growth.grid(True)
    counts = [row["balancers"] for row in stale]
    for strategy, marker in zip(STRATEGIES, "o^s", strict=True):
        herd.plot(counts, [row[strategy] for row in stale], marker=marker, label=strategy,
                  color={"random": "C2", "least loaded": "C3", "two choices": "C1"}[strategy])
    herd.axhline(MEAN_LOAD, color="C5", linestyle=":", label="the average")
    herd.set_xscale("log")
    plots.plain_numbers(herd.xaxis)
    herd.set_xticks(counts)
    herd.set_ylim(0, None)
    herd.set_xlabel(f"balancers sharing {BACKENDS} backends (log scale)")
    herd.set_ylabel("requests in flight\non the busiest backend")
    herd.legend(loc="lower left", bbox_to_anchor=(0, 1.02), ncol=2, frameon=False,
                borderaxespad=0, handlelength=1.8, columnspacing=1)
    herd.grid(True)
    fig.tight_layout(h_pad=2)
    first, last = bins[0], bins[-1]
    few, many = stale[0], stale[-1]
    plots.save(fig, path, "Two line charts. First, n balls into n bins, n from "
               f"{first['n']:,} to {last['n']:,} on a log scale: with one random choice the "
               f"fullest bin grows from {first['one']:.1f} to {last['one']:.1f} balls, above the "
               "ln n / ln ln n curve and on Gonnet's sharper one; with the better of two "
               f"choices from {first['two']:.1f} to {last['two']:.1f}, close to the "
               "ln ln n / ln 2 curve. Second, requests in flight on the busiest of "
               f"{BACKENDS} backends when balancers act on counts refreshed every {REFRESH} "
               f"requests: least loaded goes from {few['least loaded']:.1f} with "
               f"{few['balancers']} balancer to {many['least loaded']:.1f} with "
               f"{many['balancers']}, two choices from {few['two choices']:.1f} to "
               f"{many['two choices']:.1f}, random stays near {many['random']:.0f}; the average "
               f"is {MEAN_LOAD}.")
    plt.close(fig)


def results_text() -> str:
    """The results table, simulated now."""
    return table(balls_into_bins(), stale_information())


if __name__ == "__main__":
    figure_cli.run(__doc__, RESULTS, results_text, parse, plot, measures="simulate")
