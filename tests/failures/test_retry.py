import random
import threading
from datetime import UTC, datetime

import httpx
import pytest

from tests.support import load_snippet

retry = load_snippet("failures/retry.py")
idem = load_snippet("failures/idempotency_keys.py")  # the server the helper must work with


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
    (retry.DependencyError("x", status=502), True),
    (retry.DependencyError("x", status=504), True),
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


@pytest.mark.parametrize(("status", "retry_after", "expected"), [
    # A conflict or an internal error is retried only when the server says when to come back.
    (409, None, False), (409, 1.0, True),
    (500, None, False), (500, 5.0, True),
    # Permanent: the server does not support the method or the HTTP version (RFC 9110, 15.6.2
    # and 15.6.6); a Retry-After cannot make them work. Nor does it fix a client error.
    (501, None, False), (501, 5.0, False),
    (505, None, False), (505, 5.0, False),
    (400, 1.0, False), (404, 1.0, False), (422, 1.0, False),
    # Transient by definition, with or without a Retry-After.
    (502, None, True), (503, 2.0, True), (504, None, True), (429, 3.0, True),
])
def test_retry_policy_by_status_and_retry_after(status, retry_after, expected):
    error = retry.DependencyError(str(status), status=status, retry_after=retry_after)
    assert retry.is_retryable(error) is expected


def raise_for_status(response: httpx.Response) -> httpx.Response:
    """An error response as the helper's DependencyError, with its Retry-After in seconds."""
    if response.status_code >= 400:
        value = response.headers.get("Retry-After")
        raise retry.DependencyError(
            f"{response.status_code} {response.json()['error']}", status=response.status_code,
            retry_after=None if value is None else retry.parse_retry_after(value))
    return response


@pytest.fixture
def payments():
    """The site's idempotency server on loopback, and an httpx client for it."""
    with idem.running() as server, httpx.Client(
        base_url=f"http://127.0.0.1:{server.server_address[1]}", timeout=5
    ) as client:
        yield server, client


def test_the_helper_waits_out_a_key_in_flight_on_the_idempotency_server(payments):
    """The site's retry helper against the site's idempotency server, over loopback.

    A first POST is held in the charge; the duplicate gets 409 with Retry-After: 1, the helper
    waits (its injected sleep lets the first charge finish), and the retry gets the stored
    response: one charge, the same payment for both.
    """
    server, client = payments
    payment = {"amount": 1000, "currency": "EUR"}
    server.gate = threading.Event()  # the bank is slow: the first charge waits for this
    first: list[httpx.Response] = []
    holder = threading.Thread(target=lambda: first.append(
        client.post("/payments", json=payment, headers={"Idempotency-Key": "k1"})))
    holder.start()
    try:
        assert server.charging.wait(timeout=5)  # k1 is claimed and its charge is in progress
        statuses: list[int] = []

        def pay() -> httpx.Response:
            response = client.post("/payments", json=payment, headers={"Idempotency-Key": "k1"})
            statuses.append(response.status_code)
            return raise_for_status(response)

        clock = retry.VirtualClock()
        waits: list[float] = []

        def wait(seconds: float) -> None:  # while the helper waits, the first charge completes
            waits.append(seconds)
            clock.sleep(seconds)
            server.gate.set()
            holder.join(timeout=5)

        policy = retry.RetryPolicy(retry.Backoff("full", base=0.1, cap=2.0), deadline=10,
                                   rng=random.Random(7), clock=clock)
        response = retry.retry_call(pay, policy, sleep=wait)
    finally:
        server.gate.set()
        holder.join(timeout=5)
    assert statuses == [409, 201]
    assert len(waits) == 1 and waits[0] >= 1.0  # Retry-After: 1 was honoured
    assert response.headers["Idempotent-Replayed"] == "true"
    assert first[0].status_code == 201 and response.json() == first[0].json()
    assert len(server.ledger) == 1


def test_the_helper_gives_up_at_once_on_a_client_error_from_the_server(payments):
    """The same key with another body is a client bug: 422, not retried."""
    server, client = payments
    client.post("/payments", json={"amount": 1000, "currency": "EUR"},
                headers={"Idempotency-Key": "k1"})
    statuses: list[int] = []

    def pay_another_amount() -> httpx.Response:
        response = client.post("/payments", json={"amount": 2000, "currency": "EUR"},
                               headers={"Idempotency-Key": "k1"})
        statuses.append(response.status_code)
        return raise_for_status(response)

    policy = retry.RetryPolicy(retry.Backoff("full"), rng=random.Random(7))
    with pytest.raises(retry.GiveUp, match="not retryable: 422"):
        retry.retry_call(pay_another_amount, policy, sleep=lambda seconds: None)
    assert statuses == [422] and len(server.ledger) == 1


@pytest.mark.parametrize("strategy", retry.STRATEGIES)
def test_delays_stay_capped_far_past_the_1024th(strategy):
    # base * 2**n overflows a float at n = 1024: the 1025th delay must not crash.
    delays = retry.Backoff(strategy, base=0.1, cap=2.0).delays(random.Random(3))
    schedule = [next(delays) for _ in range(3000)]
    assert all(0 <= delay <= 2.0 for delay in schedule)
    if strategy == "exponential":
        assert schedule[1024:] == [2.0] * (3000 - 1024)


def test_a_huge_attempt_limit_gives_up_at_the_deadline():
    clock = retry.VirtualClock()
    calls = []

    def down() -> None:
        calls.append(clock.now)
        raise retry.DependencyError("503", status=503)

    policy = retry.RetryPolicy(retry.Backoff("full", base=0.01, cap=0.01), max_attempts=10**9,
                               deadline=30.0, rng=random.Random(7), clock=clock)
    with pytest.raises(retry.GiveUp, match="30 s deadline"):
        retry.retry_call(down, policy, sleep=clock.sleep)
    assert len(calls) > 1025  # well past the delay that used to overflow
    assert calls[-1] <= 30.0 and clock.now <= 30.0


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
