"""bench/backoff_timeline.py: the simulated race behind the figure on the Backoff and jitter page.

Checks what the figure is meant to show (without jitter the refused clients come back at the
same instants, with full jitter they spread out, everyone is served in the end), that the
simulation is deterministic, and that the committed results file and figure are what the script
makes now.
"""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from itertools import pairwise

import pytest

from tests.support import ROOT

SCRIPT = ROOT / "bench" / "backoff_timeline.py"


@pytest.fixture(scope="module")
def timeline():
    spec = importlib.util.spec_from_file_location("backoff_timeline", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def retry_times(attempts: list[dict]) -> Counter:
    """How many retries (attempts after the first) arrive at each instant."""
    return Counter(a["time"] for a in attempts if a["attempt"] > 1)


def test_without_jitter_the_refused_clients_retry_together(timeline):
    attempts = timeline.simulate("exponential")
    # waits of 1, 2, 4, 8 s: every refused client is back at 1, 3, 7 and 15 s, together
    assert retry_times(attempts) == {1.0: 4, 3.0: 3, 7.0: 2, 15.0: 1}
    # each burst serves one client and refuses all the others: 5 + 4 + 3 + 2 + 1 calls
    assert len(attempts) == 15
    served_at = sorted(a["time"] for a in attempts if a["outcome"] == "served")
    assert served_at == [0.0, 1.0, 3.0, 7.0, 15.0]


def test_with_full_jitter_the_retries_spread_out(timeline):
    attempts = timeline.simulate("full")
    retries = retry_times(attempts)
    assert set(retries.values()) == {1}  # no two retries at the same instant
    assert max(retries) - min(retries) > 5  # spread over seconds, not a burst
    served_by = max(a["time"] for a in attempts if a["outcome"] == "served")
    assert served_by < 15.0  # the last client is served sooner than in lock-step


@pytest.mark.parametrize("strategy", ["exponential", "full"])
@pytest.mark.parametrize("seed", [0, 7, 12345])
def test_everyone_is_served_once_one_call_at_a_time(timeline, strategy, seed):
    attempts = timeline.simulate(strategy, seed)
    for client in range(1, timeline.CLIENTS + 1):
        own = [a for a in attempts if a["client"] == client]
        assert [a["attempt"] for a in own] == list(range(1, len(own) + 1))
        assert [a["outcome"] for a in own] == ["refused"] * (len(own) - 1) + ["served"]
        assert all(later["time"] >= earlier["time"] for earlier, later in pairwise(own))
    served = [a for a in attempts if a["outcome"] == "served"]
    starts = sorted(a["time"] for a in served)
    assert all(b - a >= timeline.SERVICE for a, b in pairwise(starts))  # one at a time
    for call in attempts:  # refused exactly when it lands while another call is being served
        busy = any(other is not call and other["time"] <= call["time"] < other["time"]
                   + timeline.SERVICE for other in served)
        assert (call["outcome"] == "refused") == busy, call


def test_the_same_seed_gives_the_same_schedule(timeline):
    assert timeline.simulate("full", 7) == timeline.simulate("full", 7)
    assert timeline.simulate("full", 7) != timeline.simulate("full", 8)
    assert timeline.simulate("exponential", 7) == timeline.simulate("exponential", 8)


def test_the_committed_results_are_what_the_script_makes(timeline):
    schedules = {strategy: timeline.simulate(strategy) for strategy in timeline.STRATEGIES}
    text = timeline.table(schedules)
    assert timeline.RESULTS.read_text() == text
    parsed = timeline.parse(text)
    for strategy, attempts in schedules.items():
        assert [{**a, "time": round(a["time"], 3)} for a in attempts] == parsed[strategy]


def test_the_committed_figure_is_plotted_from_the_results(timeline, tmp_path):
    drawn = tmp_path / "backoff_timeline.svg"
    timeline.plot(timeline.parse(timeline.RESULTS.read_text()), drawn)
    assert drawn.read_bytes() == timeline.PLOT.read_bytes()


def test_the_page_quotes_the_simulation(timeline):
    """The sentence under the figure gives when everyone has been served, both ways."""
    page = " ".join((ROOT / "docs" / "failures" / "backoff-and-jitter.md").read_text().split())
    text = timeline.RESULTS.read_text()
    done = {name: float(when) for name, when in
            re.findall(r"^(no jitter|full jitter): .* all served by ([\d.]+) s$", text, re.M)}
    assert f"served by {done['full jitter']:.3g} s instead of {done['no jitter']:.3g} s" in page
