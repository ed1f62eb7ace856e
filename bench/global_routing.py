"""The figure of the "Reaching the nearest region" page: failover time against DNS TTL, and the
round trip each routing policy gives.

A seeded simulation, the one snippets/regionalization/global_routing.py runs (loaded from it):
2000 users in ten cities, five regions, round trips from great-circle distances at the speed of
light in fibre times a seeded factor per path. For each DNS TTL it fails us-east and measures
the time until every affected user reaches a healthy region: active-active behind latency-based
DNS when every resolver honours the TTL, the same when 9% of resolvers hold answers for 600 s,
active-passive (everyone on us-east, a standby to promote), and anycast (no TTL: the route is
withdrawn and BGP converges). Health-check, convergence and standby times are the program's
stated assumptions; nothing here is measured on a network.

Run: python bench/global_routing.py
Writes bench/results/global_routing.txt and bench/figures/global_routing.svg.
python bench/global_routing.py --plot-only redraws the figure from the results file.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import matplotlib

from docs_tools import figure_cli, plots

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "global_routing.txt"
PLOT = ROOT / "bench" / "figures" / "global_routing.svg"
TTLS = [5, 10, 30, 60, 120, 300, 600, 1800, 3600]  # seconds
FAILED = "us-east"
SETUPS = {  # name in the results -> (setup, share of resolvers that hold answers longer)
    "DNS, TTL honoured": ("dns", 0.0),
    "DNS, 9% hold 600 s": ("dns", 0.09),
    "active-passive": ("active-passive", 0.09),
    "anycast": ("anycast", 0.0),
}

# The model is the tested program itself, loaded by its path: a program stands alone for its
# readers, and a benchmark of the site runs the very code the tests check (as the contention
# notebook does).
def load_program(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("global_routing_program", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


model = load_program(ROOT / "snippets" / "regionalization" / "global_routing.py")
User = model.User
CITIES, REGIONS, RESOLVERS = model.CITIES, model.REGIONS, model.RESOLVERS
DETECTED_S, BGP_CONVERGENCE_S = model.DETECTED_S, model.BGP_CONVERGENCE_S
HELD_BY_VIOLATORS_S, STANDBY_READY_S = model.HELD_BY_VIOLATORS_S, model.STANDBY_READY_S
SEED, WITHDRAWN_S = model.SEED, model.WITHDRAWN_S
make_users, latency_table = model.make_users, model.latency_table
failover_times, percentile = model.failover_times, model.percentile


def table(users: list[User]) -> str:
    lines = [
        f"{len(users)} users in {len(CITIES)} cities, {len(REGIONS)} regions, "
        f"random.Random({SEED}); {FAILED} fails at t = 0, marked down at {DETECTED_S} s",
        f"resolvers holding answers longer than the TTL keep them {HELD_BY_VIOLATORS_S} s; "
        f"anycast: withdrawn at {WITHDRAWN_S} s, BGP converges in {BGP_CONVERGENCE_S[0]} to "
        f"{BGP_CONVERGENCE_S[1]} s; standby ready at {DETECTED_S + STANDBY_READY_S} s",
        "",
        f"{'policy':<26} {'median ms':>9} {'p95 ms':>7}",
    ]
    for row in latency_table(users):
        lines.append(f"{row['policy']:<26} {row['median']:>9.1f} {row['p95']:>7.1f}")
    lines += ["", f"{'setup':<20} {'ttl s':>6} {'moved %':>7} {'median s':>8} {'p95 s':>6} "
              f"{'last s':>6}"]
    for name, (setup, violators) in SETUPS.items():
        for ttl in TTLS:
            times = failover_times(users, FAILED, setup, ttl, violators)
            lines.append(f"{name:<20} {ttl:>6} {100 * len(times) / len(users):>7.1f} "
                         f"{percentile(times, 50):>8.1f} {percentile(times, 95):>6.1f} "
                         f"{max(times):>6.1f}")
    return "\n".join(lines) + "\n"


def parse(text: str) -> dict[str, list[dict]]:
    """The two tables of a results file that ``table`` wrote."""
    rows: dict[str, list[dict]] = {"latency": [], "failover": []}
    table_ = None
    for line in text.splitlines():
        if line.startswith(("policy ", "setup ")):
            table_ = "latency" if line.startswith("policy") else "failover"
        elif table_ == "latency" and line.strip():
            policy, median, p95 = line.rsplit(None, 2)
            rows["latency"].append({"policy": policy, "median": float(median),
                                    "p95": float(p95)})
        elif table_ == "failover" and line.strip():
            setup, ttl, moved, median, p95, last = line.rsplit(None, 5)
            rows["failover"].append({"setup": setup, "ttl": int(ttl), "moved": float(moved),
                                     "median": float(median), "p95": float(p95),
                                     "last": float(last)})
    return rows


def plot(rows: dict[str, list[dict]], path: Path = PLOT) -> None:
    plots.apply_style()
    fig = plt.figure(figsize=(4.9, 7.4), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[3, 2])  # each with its own margins
    failover, latency = top.subplots(), bottom.subplots()
    markers = {"DNS, TTL honoured": "o", "DNS, 9% hold 600 s": "s", "active-passive": "^",
               "anycast": "D"}
    for colour, name in enumerate(SETUPS):
        points = [row for row in rows["failover"] if row["setup"] == name]
        failover.plot([row["ttl"] for row in points], [row["p95"] for row in points],
                      marker=markers[name], color=f"C{colour}", label=name)
    failover.set_xscale("log")
    failover.set_yscale("log")
    plots.plain_numbers(failover.xaxis)
    plots.plain_numbers(failover.yaxis)
    failover.set_ylim(20, 300_000)  # room for the legend above the points
    failover.set_xlabel("DNS TTL (s, log scale)")
    failover.set_ylabel("p95 failover time (s, log)")
    failover.set_title(f"{FAILED} fails: when 95% of its\nusers reach a healthy region")
    failover.grid(axis="y")
    failover.legend(loc="upper left")
    names = [row["policy"] for row in rows["latency"]]
    y = range(len(names))
    latency.barh([i - 0.2 for i in y], [row["median"] for row in rows["latency"]], 0.4,
                 color="C0", label="median")
    latency.barh([i + 0.2 for i in y], [row["p95"] for row in rows["latency"]], 0.4,
                 color="C1", label="p95")
    latency.set_yticks(list(y), [name.replace(" (", "\n(").replace(", ", ",\n")
                                 for name in names])
    latency.invert_yaxis()
    latency.set_xlabel("round trip to the region chosen (ms)")
    latency.legend(loc="lower right")
    honoured = {row["ttl"]: row["p95"] for row in rows["failover"]
                if row["setup"] == "DNS, TTL honoured"}
    held = {row["ttl"]: row["p95"] for row in rows["failover"]
            if row["setup"] == "DNS, 9% hold 600 s"}
    anycast_p95 = next(row["p95"] for row in rows["failover"] if row["setup"] == "anycast")
    by_policy = ", ".join(f"{row['policy']} {row['median']:.0f} and {row['p95']:.0f} ms"
                          for row in rows["latency"])
    plots.save(fig, path, "Two charts from a seeded simulation. Top: the time until 95% of a "
               "failed region's users reach a healthy one, against the DNS TTL on log scales. "
               f"When every resolver honours the TTL it grows with it, from {honoured[5]:.0f} s "
               f"at 5 s to {honoured[3600]:.0f} s at an hour; when 9% of resolvers hold answers "
               f"for 600 s it stays near {held[60]:.0f} s for every TTL up to 600 s; "
               "active-passive adds the standby's start-up; anycast does not depend on the TTL "
               f"({anycast_p95:.0f} s). Bottom: median and p95 round trip per routing policy: "
               f"{by_policy}.")
    plt.close(fig)


def results_text() -> str:
    """The results table, simulated now."""
    return table(make_users())


if __name__ == "__main__":
    figure_cli.run(__doc__, RESULTS, results_text, parse, plot, measures="simulate")
