# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "tenacity~=9.2",
# ]
# ///
"""The retry policy of retry.py written with tenacity, the library you would use in production.

Same rules: capped exponential backoff with full, equal or decorrelated jitter (or none), at most
``max_attempts`` calls, an overall deadline, only retryable errors retried, and a server's
Retry-After honoured. tenacity's own jittered waits draw from the global ``random`` module, so
this file adds small wait classes that take a seeded ``random.Random``: with the same seed they
sleep exactly what retry.py sleeps (the tests check it). tenacity takes the sleep function as a
parameter; the deadline check takes a clock, so nothing here has to wait for real in a test.

Run: python retry_tenacity.py
(no network needed: it prints the schedules and retries a scripted dependency on a virtual clock)
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

T = TypeVar("T")


class DependencyError(Exception):
    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


RETRYABLE_STATUSES = {408, 429, 502, 503, 504}  # transient by definition
RETRYABLE_WITH_RETRY_AFTER = {409, 500}  # only when the server says when to come back


def is_retryable(error: BaseException) -> bool:
    if isinstance(error, DependencyError):
        if error.status is None or error.status in RETRYABLE_STATUSES:
            return True
        return error.status in RETRYABLE_WITH_RETRY_AFTER and error.retry_after is not None
    return isinstance(error, ConnectionError | TimeoutError)


# --8<-- [start:waits]
class wait_full_jitter(wait_base):
    """uniform(0, min(cap, base * 2**n)); like tenacity's wait_random_exponential, but seeded."""

    def __init__(self, base: float, cap: float, rng: random.Random):
        self.base, self.cap, self.rng = base, cap, rng

    def ceiling(self, retry_state: RetryCallState) -> float:
        n = retry_state.attempt_number - 1  # attempt 1 failed: this is retry n = 0
        try:
            return min(self.cap, self.base * 2**n)
        except OverflowError:  # from n = 1024 on, as tenacity's own wait_exponential does
            return self.cap

    def __call__(self, retry_state: RetryCallState) -> float:
        return self.rng.uniform(0, self.ceiling(retry_state))


class wait_equal_jitter(wait_full_jitter):
    def __call__(self, retry_state: RetryCallState) -> float:
        ceiling = self.ceiling(retry_state)
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


class wait_decorrelated_jitter(wait_full_jitter):
    def __call__(self, retry_state: RetryCallState) -> float:
        if retry_state.attempt_number == 1:
            self.previous = self.base  # one wait object per retried call (see policy())
        self.previous = min(self.cap, self.rng.uniform(self.base, self.previous * 3))
        return self.previous


class wait_retry_after(wait_base):
    """At least as long as the server's Retry-After, if the error carries one."""

    def __init__(self, backoff: wait_base):
        self.backoff = backoff

    def __call__(self, retry_state: RetryCallState) -> float:
        delay = self.backoff(retry_state)
        retry_after = getattr(retry_state.outcome.exception(), "retry_after", None)
        return delay if retry_after is None else max(delay, retry_after)


class stop_before_deadline(stop_base):
    """Stop if the next sleep would end after the deadline (tenacity's stop_before_delay,
    with a clock that can be injected)."""

    def __init__(self, deadline: float, clock: Callable[[], float]):
        self.deadline, self.clock, self.started = deadline, clock, clock()

    def __call__(self, retry_state: RetryCallState) -> bool:
        elapsed = self.clock() - self.started
        return elapsed + (retry_state.upcoming_sleep or 0) > self.deadline
# --8<-- [end:waits]


# --8<-- [start:policy]
def policy(
    strategy: str = "full",
    base: float = 0.1,
    cap: float = 10.0,
    max_attempts: int = 4,
    deadline: float | None = None,
    rng: random.Random | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> dict:
    """The keyword arguments for Retrying / AsyncRetrying; build one per retried call."""
    rng = rng or random.Random()
    waits = {
        "exponential": wait_exponential(multiplier=base, max=cap),  # base * 2**n, capped
        "full": wait_full_jitter(base, cap, rng),
        "equal": wait_equal_jitter(base, cap, rng),
        "decorrelated": wait_decorrelated_jitter(base, cap, rng),
    }
    stop = stop_after_attempt(max_attempts)
    if deadline is not None:
        stop = stop | stop_before_deadline(deadline, clock)
    return dict(
        wait=wait_retry_after(waits[strategy]),
        stop=stop,
        retry=retry_if_exception(is_retryable),
        reraise=True,  # give up with the last error itself, not tenacity's RetryError
    )


def retry_call(call: Callable[[], T], sleep: Callable[[float], None] = time.sleep,
               **options) -> T:
    return Retrying(sleep=sleep, **policy(**options))(call)


async def retry_call_async(call: Callable[[], Awaitable[T]],
                           sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                           **options) -> T:
    return await AsyncRetrying(sleep=sleep, **policy(**options))(call)
# --8<-- [end:policy]


def scripted(outcomes: list[Exception | str]) -> Callable[[], str]:
    """A dependency that fails or answers in the order given."""

    def call() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return call


def demo() -> None:
    print("tenacity sleep schedules, base 0.1 s, cap 2 s, seed 7 (the same as retry.py):")
    for strategy in ("exponential", "full", "equal", "decorrelated"):
        slept: list[float] = []
        call = scripted([DependencyError("503", status=503)] * 7 + ["ok"])
        retry_call(call, sleep=slept.append, strategy=strategy, base=0.1, cap=2.0,
                   max_attempts=8, rng=random.Random(7))
        print(f"  {strategy:<13}" + " ".join(f"{delay:5.2f}" for delay in slept))

    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    call = scripted([DependencyError("429", status=429, retry_after=3.0),
                     DependencyError("503", status=503), "paid"])
    result = retry_call(call, sleep=sleep, rng=random.Random(7), clock=lambda: now[0],
                        deadline=10.0, base=0.1, cap=2.0)
    print(f"429 (Retry-After: 3), 503, then {result!r} at {now[0]:.2f} s on a virtual clock")
    try:
        retry_call(scripted([DependencyError("400 Bad Request", status=400)]), sleep=sleep)
    except DependencyError as error:
        print(f"a 400 is not retried: {error}")


if __name__ == "__main__":
    demo()
