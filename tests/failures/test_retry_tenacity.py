import random

import pytest

from tests.support import load_snippet

ten = load_snippet("failures/retry_tenacity.py")
retry = load_snippet("failures/retry.py")

STRATEGIES = ["exponential", "full", "equal", "decorrelated"]


def failures_then_ok(module, count, **error):
    return module.scripted([module.DependencyError("down", **error) for _ in range(count)] + ["ok"])


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("seed", [0, 7, 42])
def test_tenacity_sleeps_exactly_what_retry_py_sleeps(strategy, seed):
    ours: list[float] = []
    policy = retry.RetryPolicy(retry.Backoff(strategy, base=0.1, cap=2.0), max_attempts=10,
                               rng=random.Random(seed))
    retry.retry_call(failures_then_ok(retry, 9, status=503), policy, sleep=ours.append)
    theirs: list[float] = []
    ten.retry_call(failures_then_ok(ten, 9, status=503), sleep=theirs.append, strategy=strategy,
                   base=0.1, cap=2.0, max_attempts=10, rng=random.Random(seed))
    assert len(theirs) == 9
    assert theirs == pytest.approx(ours, rel=1e-12)


def test_gives_up_after_max_attempts_with_the_last_error():
    slept: list[float] = []
    call = failures_then_ok(ten, 5, status=503)
    with pytest.raises(ten.DependencyError, match="down"):
        ten.retry_call(call, sleep=slept.append, max_attempts=4, rng=random.Random(1))
    assert len(slept) == 3


def test_not_retryable_is_raised_at_once():
    slept: list[float] = []
    with pytest.raises(ten.DependencyError):
        ten.retry_call(failures_then_ok(ten, 1, status=404), sleep=slept.append)
    assert slept == []


def test_retry_after_and_deadline_like_retry_py():
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    call = failures_then_ok(ten, 1, status=429, retry_after=3.0)
    assert ten.retry_call(call, sleep=sleep, clock=lambda: now[0], deadline=5.0) == "ok"
    assert now[0] == 3.0
    call = failures_then_ok(ten, 1, status=429, retry_after=30.0)
    with pytest.raises(ten.DependencyError):
        ten.retry_call(call, sleep=sleep, clock=lambda: now[0], deadline=5.0)
    assert now[0] == 3.0  # it did not sleep the 30 s it could not afford


@pytest.mark.parametrize(("error", "expected"), [
    (ConnectionResetError(), True), (TimeoutError(), True), (KeyError(), False),
    (ten.DependencyError("x"), True), (ten.DependencyError("x", status=422), False),
])
def test_same_retryable_errors(error, expected):
    assert ten.is_retryable(error) is expected


async def test_async_version_same_schedule():
    slept: list[float] = []

    async def record(seconds):
        slept.append(seconds)

    pending = [ten.DependencyError("down", status=502)] * 3

    async def call():
        if pending:
            raise pending.pop()
        return "ok"

    assert await ten.retry_call_async(call, sleep=record, strategy="decorrelated",
                                      rng=random.Random(9)) == "ok"
    expected = retry.Backoff("decorrelated").delays(random.Random(9))
    assert slept == [next(expected) for _ in range(3)]


async def test_async_default_sleep():
    pending = [TimeoutError()]

    async def call():
        if pending:
            raise pending.pop()
        return "ok"

    assert await ten.retry_call_async(call, base=0.001, cap=0.001) == "ok"


def test_default_sleep_and_rng():
    assert ten.retry_call(failures_then_ok(ten, 1), base=0.001, cap=0.001) == "ok"
