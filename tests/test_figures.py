"""Figures typed into a page match the benchmark output they quote (bench/results/).

Re-running a benchmark rewrites its results file; this test then points at every page cell that
still shows the old figure, so a page never quotes a number no script printed.
"""

from __future__ import annotations

import re

from tests.support import DOCS, ROOT

RESULTS = ROOT / "bench" / "results"


def table_rows(markdown: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in markdown.splitlines()
        if line.startswith("| [")
    ]


def test_realtime_comparison_quotes_the_delivery_benchmark():
    measured = {}
    for line in (RESULTS / "realtime_delivery.txt").read_text().splitlines():
        match = re.match(r"(short polling|long polling|SSE|WebSocket)\s+([\d.\s]+)$", line)
        if match:
            measured[match.group(1).lower()] = match.group(2).split()
    assert len(measured) == 4, "the results table has one row per method"

    rows = table_rows((DOCS / "realtime" / "index.md").read_text())
    assert len(rows) == 4
    for row in rows:
        method = re.match(r"\[([^\]]+)\]", row[0]).group(1).lower()
        median, p99, per_message, requests, _connections = measured[method]
        assert [row[5], row[6], row[9], row[10]] == [median, p99, per_message, requests], method
