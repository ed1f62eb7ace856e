"""Evidence for the draining page: requests lost in rolling restarts, by how a backend stops.

Runs snippets/load-balancing/draining.py's own rolling restart (`python draining.py restart
--strategy S --rounds R`) in a child process for each way of stopping a backend, with the
balancer retrying failed GETs and with it retrying nothing (`--no-retry`). Each round starts three
backends behind the balancer (health checks every 20 ms; out of rotation after 2 failed, back
after 2 passed), starts a stream of REQUESTS requests from 4 clients on kept-alive connections
(each a GET or a POST, by a coin seeded with the round number, back to back), and
replaces the backends one at a time:

- kill: the backend dies at once (SIGKILL, a crash): every connection is reset;
- stop at once: a graceful shutdown that does not wait for the balancer (stop accepting, close
  the idle connections, finish the requests in flight), as a server does on SIGTERM without a
  pre-stop delay;
- drain: fail the health check, wait until the balancer has taken the backend out, then stop as
  above, still answering for a moment what was already on its way.

Counts the requests that failed (any answer of 400 or more) in all the rounds.

Run: python bench/draining.py                (about 2 minutes)
Writes bench/results/draining.txt and bench/figures/draining.svg.
python bench/draining.py --plot-only redraws the figure from the results file.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import matplotlib

from docs_tools import figure_cli, plots

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROUNDS = 20
REQUESTS = 600  # per round: about half GET, half POST
STRATEGIES = {"kill": "kill", "stop at once": "stop", "drain": "drain"}
RETRIES = {"GETs retried": [], "no retries": ["--no-retry"]}
ROOT = Path(__file__).resolve().parent.parent
SNIPPET = ROOT / "snippets" / "load-balancing" / "draining.py"
RESULTS = ROOT / "bench" / "results" / "draining.txt"
PLOT = ROOT / "bench" / "figures" / "draining.svg"
ROUND = re.compile(r"round \d+: \w+: sent (\d+), GET failed (\d+), POST failed (\d+)")


def measure(strategy: str, flags: list[str]) -> dict:
    """All the rounds of one strategy, in one child process; their counts added up."""
    done = subprocess.run(
        [sys.executable, str(SNIPPET), "restart", "--strategy", strategy, "--rounds",
         str(ROUNDS), "--requests", str(REQUESTS), *flags],
        capture_output=True, text=True, timeout=900, check=True)
    rounds = [tuple(map(int, match.groups())) for match in ROUND.finditer(done.stdout)]
    assert len(rounds) == ROUNDS, done.stdout + done.stderr
    return {"sent": sum(r[0] for r in rounds), "get": sum(r[1] for r in rounds),
            "post": sum(r[2] for r in rounds)}


def table(rows: list[dict]) -> str:
    lines = [
        f"{ROUNDS} rolling restarts of 3 backends per row, each during a stream of {REQUESTS} "
        "requests (GET or POST by a seeded coin) from 4 clients on kept-alive connections",
        f"loopback on {platform.system()} ({platform.machine()}, {os.cpu_count()} cores), Python "
        f"{platform.python_version()}",
        "failed: answered 400 or more (the balancer's 502 when a backend lost the request)",
        "",
        f"{'strategy':<13} {'balancer':<13} {'sent':>6} {'GET failed':>10} {'POST failed':>11}",
    ]
    for row in rows:
        lines.append(f"{row['strategy']:<13} {row['retries']:<13} {row['sent']:>6} "
                     f"{row['get']:>10} {row['post']:>11}")
    return "\n".join(lines) + "\n"


def parse(text: str) -> list[dict]:
    """The rows of a results file that ``table`` wrote."""
    rows = []
    for line in text.splitlines():
        for strategy in STRATEGIES:
            for retries in RETRIES:
                if line.startswith(f"{strategy:<13} {retries:<13} "):
                    sent, get, post = map(int, line[28:].split())
                    rows.append({"strategy": strategy, "retries": retries, "sent": sent,
                                 "get": get, "post": post})
    return rows


def plot(rows: list[dict], path: Path = PLOT) -> None:
    plots.apply_style()
    fig, panels = plt.subplots(2, 1, figsize=(4.9, 5.6), sharex=True)
    names = list(STRATEGIES)
    y = range(len(names))
    for panel, retries in zip(panels, RETRIES, strict=True):
        mine = {row["strategy"]: row for row in rows if row["retries"] == retries}
        gets = [mine[name]["get"] for name in names]
        posts = [mine[name]["post"] for name in names]
        panel.barh([i - 0.2 for i in y], gets, 0.4, color="C0", label="GET")
        panel.barh([i + 0.2 for i in y], posts, 0.4, color="C1", label="POST")
        for i, (get, post) in enumerate(zip(gets, posts, strict=True)):
            panel.text(get, i - 0.2, f" {get}", va="center")
            panel.text(post, i + 0.2, f" {post}", va="center")
        panel.set_yticks(list(y), names)
        panel.invert_yaxis()
        panel.set_title(f"balancer: {retries}")
    panels[0].legend(loc="lower right")
    panels[1].set_xlabel(f"failed requests in {ROUNDS} rolling restarts")
    right = max(max(row["get"], row["post"]) for row in rows)
    panels[1].set_xlim(0, right * 1.25 + 1)
    fig.tight_layout()
    plots.save(fig, path, "Two horizontal bar charts of failed GETs and POSTs in rolling "
               "restarts, by how each backend stopped: killed, stopped at once, or drained. "
               "With the balancer retrying GETs, killing loses POSTs only, stopping at once "
               "loses fewer, and draining loses none. Without retries, killing and stopping at "
               "once lose GETs too; draining still loses none.")
    plt.close(fig)


def results_text() -> str:
    """The results table, measured now."""
    rows = []
    for retries, flags in RETRIES.items():
        for strategy, option in STRATEGIES.items():
            rows.append({"strategy": strategy, "retries": retries, **measure(option, flags)})
            print(rows[-1], flush=True)
    return table(rows)


if __name__ == "__main__":
    figure_cli.run(__doc__, RESULTS, results_text, parse, plot)
