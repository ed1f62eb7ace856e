import random
from datetime import UTC, datetime

import pytest

from tests.support import load_snippet

retry = load_snippet("failures/retry.py")


def schedule(strategy, seed=1, count=8, base=0.1, cap=2.0):
    delays = retry.Backoff(strategy, base=base, cap=cap).delays(random.Random(seed))
    return [next(delays) for _ in range(count)]


def test_exponential_doubles_up_to_the_cap():
    assert schedule("exponential") == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0]


@pytest.mark.parametrize("seed", range(20))
def test_full_jitter_stays_under_the_exponential_ceiling(seed):
    for delay, ceiling in zip(schedule("full", seed), schedule("exponential"), strict=True):
        assert 0 <= delay <= ceiling


@pytest.mark.parametrize("seed", range(20))
def test_equal_jitter_keeps_at_least_half(seed):
    for delay, ceiling in zip(schedule("equal", seed), schedule("exponential"), strict=True):
        assert ceiling / 2 <= delay <= ceiling


@pytest.mark.parametrize("seed", range(20))
def test_decorrelated_jitter_grows_from_the_previous_delay(seed):
    previous = 0.1
    for delay in schedule("decorrelated", seed, count=30):
        assert 0.1 <= delay <= min(2.0, previous * 3)
        previous = delay


def test_jitter_formulas_exactly():
    rng = random.Random(3)
    draws = [rng.random() for _ in range(3)]
    full = schedule("full", seed=3, count=3)
    assert full == pytest.approx([0.1 * draws[0], 0.2 * draws[1], 0.4 * draws[2]])
    equal = schedule("equal", seed=3, count=2)
    assert equal == pytest.approx([0.05 + 0.05 * draws[0], 0.1 + 0.1 * draws[1]])
    first = 0.1 + (0.3 - 0.1) * draws[0]
    second = 0.1 + (first * 3 - 0.1) * draws[1]
    assert schedule("decorrelated", seed=3, count=2) == pytest.approx([first, second])


def test_same_seed_same_schedule_and_jitter_spreads_clients():
    assert schedule("full", seed=5) == schedule("full", seed=5)
    first_waits = {round(schedule("full", seed=s, count=1)[0], 6) for s in range(50)}
    assert len(first_waits) == 50  # fifty clients no longer retry at the same instant


@pytest.mark.parametrize(("options", "message"), [
    (dict(strategy="linear"), "unknown strategy"),
    (dict(base=0), "0 < base <= cap"),
    (dict(base=3, cap=2), "0 < base <= cap"),
])
def test_bad_backoff_is_refused(options, message):
    with pytest.raises(ValueError, match=message):
        retry.Backoff(**options)


@pytest.mark.parametrize(("error", "expected"), [
    (retry.DependencyError("x", status=503), True),
    (retry.DependencyError("x", status=429), True),
    (retry.DependencyError("x", status=408), True),
    (retry.DependencyError("x"), True),
    (retry.DependencyError("x", status=400), False),
    (retry.DependencyError("x", status=409), False),
    (ConnectionResetError(), True),
    (TimeoutError(), True),
    (ValueError(), False),
])
def test_which_errors_are_retryable(error, expected):
    assert retry.is_retryable(error) is expected


def test_retry_after_seconds_and_http_date():
    assert retry.parse_retry_after("120") == 120.0
    # RFC 9110, 10.2.3, gives these two examples: "Fri, 31 Dec 1999 23:59:59 GMT" and "120".
    now = datetime(1999, 12, 31, 23, 58, 59, tzinfo=UTC)
    assert retry.parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT", now) == 60.0
    later = datetime(2000, 1, 1, tzinfo=UTC)
    assert retry.parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT", later) == 0.0
    assert retry.parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT") == 0.0  # long past


@pytest.mark.parametrize("value", ["", "soon", "-5", "1.5"])
def test_malformed_retry_after_is_refused(value):
    with pytest.raises(ValueError, match="neither seconds nor an HTTP-date"):
        retry.parse_retry_after(value)


def make_policy(clock, **options):
    return retry.RetryPolicy(retry.Backoff("full", base=0.1, cap=2.0),
                             rng=random.Random(7), clock=clock, **options)


def test_retries_until_success_sleeping_the_schedule():
    clock = retry.VirtualClock()
    unavailable = retry.DependencyError("503", status=503)
    call = retry.scripted([unavailable, unavailable, "ok"])
    seen = []
    result = retry.retry_call(call, make_policy(clock), sleep=clock.sleep,
                              on_retry=lambda n, e, d: seen.append((n, d)))
    assert result == "ok" and call.count == 3
    expected = schedule("full", seed=7, count=2)
    assert seen == [(1, expected[0]), (2, expected[1])]
    assert clock.now == pytest.approx(sum(expected))


def test_stops_after_max_attempts_with_the_last_error_as_cause():
    clock = retry.VirtualClock()
    last = retry.DependencyError("last", status=503)
    call = retry.scripted([retry.DependencyError("503", status=503)] * 3 + [last, "late"])
    with pytest.raises(retry.GiveUp, match="after 4 attempts") as info:
        retry.retry_call(call, make_policy(clock), sleep=clock.sleep)
    assert info.value.__cause__ is last and call.count == 4


def test_not_retryable_error_fails_at_once():
    clock = retry.VirtualClock()
    call = retry.scripted([retry.DependencyError("400", status=400), "never"])
    with pytest.raises(retry.GiveUp, match="not retryable"):
        retry.retry_call(call, make_policy(clock), sleep=clock.sleep)
    assert call.count == 1 and clock.now == 0


def test_retry_after_is_honoured_when_longer_than_the_backoff():
    clock = retry.VirtualClock()
    call = retry.scripted([retry.DependencyError("429", status=429, retry_after=3), "ok"])
    assert retry.retry_call(call, make_policy(clock), sleep=clock.sleep) == "ok"
    assert clock.now == 3


def test_deadline_stops_before_a_sleep_that_would_miss_it():
    clock = retry.VirtualClock()
    call = retry.scripted([retry.DependencyError("429", status=429, retry_after=30), "ok"])
    with pytest.raises(retry.GiveUp, match="5 s deadline"):
        retry.retry_call(call, make_policy(clock, deadline=5), sleep=clock.sleep)
    assert clock.now == 0 and call.count == 1


def test_deadline_counts_time_spent_in_calls():
    clock = retry.VirtualClock()

    starts = []

    def slow_failure():
        starts.append(clock.now)
        clock.sleep(0.45)  # each attempt takes 0.45 s before it fails
        raise TimeoutError("read timed out")

    with pytest.raises(retry.GiveUp, match="deadline"):
        retry.retry_call(slow_failure, make_policy(clock, deadline=1.0, max_attempts=10),
                         sleep=clock.sleep)
    assert len(starts) == 3  # at 0, 0.48 and 0.96 s; a fourth would start after 1.4 s
    assert all(start <= 1.0 for start in starts)


def test_budget_stops_retries_when_most_calls_fail_and_refills_on_success():
    budget = retry.RetryBudget(max_tokens=4, ratio=0.5)
    for _ in range(2):
        budget.record_failure()
    assert not budget.can_retry()
    budget.record_success()
    assert budget.can_retry()
    for _ in range(10):
        budget.record_failure()
    assert budget.tokens == 0
    for _ in range(20):
        budget.record_success()
    assert budget.tokens == 4


def test_budget_exhausted_gives_up():
    budget = retry.RetryBudget(max_tokens=2, ratio=0.1)
    clock = retry.VirtualClock()
    call = retry.scripted([retry.DependencyError("503", status=503), "ok"])
    with pytest.raises(retry.GiveUp, match="budget"):
        retry.retry_call(call, make_policy(clock, budget=budget), sleep=clock.sleep)
    ok = retry.scripted(["ok"])
    assert retry.retry_call(ok, make_policy(clock, budget=budget), sleep=clock.sleep) == "ok"
    assert budget.tokens == pytest.approx(1.1)


def test_default_policy_uses_real_randomness_and_clock():
    policy = retry.RetryPolicy(retry.Backoff("full", base=0.001, cap=0.001))
    call = retry.scripted([TimeoutError(), "ok"])
    assert retry.retry_call(call, policy, sleep=lambda s: None) == "ok"


async def test_async_retry_same_schedule_as_sync():
    clock = retry.VirtualClock()
    outcomes = [retry.DependencyError("503", status=503)] * 3 + ["ok"]
    pending = list(outcomes)

    async def call():
        outcome = pending.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    seen = []
    result = await retry.retry_call_async(call, make_policy(clock), sleep=clock.async_sleep,
                                          on_retry=lambda n, e, d: seen.append(d))
    assert result == "ok" and seen == schedule("full", seed=7, count=3)


async def test_async_gives_up_and_default_sleep_works():
    policy = retry.RetryPolicy(retry.Backoff("exponential", base=0.001, cap=0.001),
                               max_attempts=2)

    async def down():
        raise ConnectionRefusedError("refused")

    with pytest.raises(retry.GiveUp, match="after 2 attempts"):
        await retry.retry_call_async(down, policy)


@pytest.mark.parametrize(("layers", "attempts", "calls"), [(1, 3, 3), (2, 3, 9), (3, 3, 27),
                                                           (3, 2, 8)])
def test_retrying_at_every_layer_multiplies_calls(layers, attempts, calls):
    assert retry.layered_calls(layers, attempts) == calls
