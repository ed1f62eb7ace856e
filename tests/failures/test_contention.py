import pytest

from tests.support import load_snippet

sim = load_snippet("failures/contention.py")


def test_one_client_makes_one_call():
    for strategy in sim.STRATEGIES:
        assert sim.simulate(strategy, 1) == sim.Outcome(1, 1, 1.0)


@pytest.mark.parametrize("clients", [2, 5, 17])
def test_no_backoff_is_one_winner_per_round(clients):
    # Everyone retries at once: each round one write wins and all others conflict.
    outcome = sim.simulate("none", clients)
    assert outcome.calls == clients * (clients + 1) // 2
    assert outcome.finish_time == clients


@pytest.mark.parametrize("clients", [2, 5, 17])
def test_exponential_without_jitter_stays_in_lock_step(clients):
    outcome = sim.simulate("exponential", clients)
    assert outcome.calls == clients * (clients + 1) // 2  # same collisions, just later
    assert outcome.finish_time > sim.simulate("none", clients).finish_time


@pytest.mark.parametrize("strategy", sim.STRATEGIES)
@pytest.mark.parametrize("clients", [3, 12, 30])
def test_everyone_finishes_and_writes_are_serialised(strategy, clients):
    outcome = sim.simulate(strategy, clients, seed=4)
    assert outcome.calls >= clients
    assert outcome.finish_time >= clients  # each write must read after the previous one landed


@pytest.mark.parametrize("strategy", ["full", "equal", "decorrelated"])
def test_jitter_cuts_the_work_to_under_a_third(strategy):
    calls, _ = sim.average(strategy, 50)
    none_calls, _ = sim.average("none", 50)
    assert calls < none_calls / 3


def test_seeded_runs_repeat_and_seeds_differ():
    assert sim.simulate("full", 20, seed=3) == sim.simulate("full", 20, seed=3)
    assert sim.simulate("full", 20, seed=3) != sim.simulate("full", 20, seed=4)


def test_backoff_waits():
    import random

    rng = random.Random(0)
    assert [next(sim.backoff("exponential", rng, base=1, cap=5)) for _ in range(1)] == [1]
    waits = sim.backoff("exponential", rng, base=1, cap=5)
    assert [next(waits) for _ in range(5)] == [1, 2, 4, 5, 5]
    waits = sim.backoff("none", rng)
    assert [next(waits) for _ in range(3)] == [0, 0, 0]
    waits = sim.backoff("equal", rng, base=1, cap=8)
    for ceiling in [1, 2, 4, 8, 8]:
        assert ceiling / 2 <= next(waits) <= ceiling


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="unknown strategy 'linear'"):
        sim.simulate("linear", 2)


def test_table_has_a_row_per_client_count():
    lines = sim.table([2, 3], seeds=1, run=lambda strategy, clients, seeds: (clients, 1.0))
    assert len(lines) == 4
    assert lines[2].split() == ["2"] + ["2", "1"] * len(sim.STRATEGIES)


@pytest.mark.parametrize("strategy", sim.STRATEGIES)
def test_backoff_stays_capped_past_the_1024th_wait(strategy):
    # base * 2**n overflows a float at n = 1024: the 1025th wait must not crash.
    import random

    waits = sim.backoff(strategy, random.Random(1), base=1.0, cap=1000.0)
    schedule = [next(waits) for _ in range(2000)]
    assert all(0 <= wait <= 1000.0 for wait in schedule)
    if strategy == "exponential":
        assert schedule[10:] == [1000.0] * 1990  # 2**10 = 1024 > 1000: capped from the 11th
