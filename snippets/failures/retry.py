# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""Retries done right: capped exponential backoff with jitter, a deadline, retryable errors only.

Shows the four backoff policies of the AWS Builders' Library article "Timeouts, retries, and
backoff with jitter" (capped exponential, full jitter, equal jitter, decorrelated jitter), and a
retry helper, sync and async, that stops after a number of attempts or an overall deadline,
retries only errors that are safe to retry (no answer, 408, 429, 502, 503, 504; 409 and 500 only
with a Retry-After; never 501, 505 or another 4xx), honours a server's Retry-After (RFC 9110,
10.2.3) and spends from a retry budget so that retries cannot multiply the load on a dependency
that is down.
Randomness, clock and sleep are parameters, so the demo and the tests are exact.

Run: python retry.py
(no network needed: it prints backoff schedules, then retries calls against a scripted
dependency on a virtual clock)
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

T = TypeVar("T")


# --8<-- [start:backoff]
@dataclass(frozen=True)
class Backoff:
    """How long to wait before retry number n (n = 0 for the first retry), in seconds."""

    strategy: str = "full"  # "exponential" (no jitter), "full", "equal" or "decorrelated"
    base: float = 0.1
    cap: float = 10.0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}, expected one of {STRATEGIES}")
        if not 0 < self.base <= self.cap:
            raise ValueError("need 0 < base <= cap")

    def delays(self, rng: random.Random) -> Iterator[float]:
        previous = self.base
        n = 0
        while True:
            ceiling = min(self.cap, self.base * 2**n)
            if ceiling < self.cap:
                n += 1  # once at the cap, stop doubling: base * 2**1024 would overflow a float
            if self.strategy == "exponential":
                delay = ceiling  # every client waits exactly as long: they stay in step
            elif self.strategy == "full":
                delay = rng.uniform(0, ceiling)  # anywhere from 0 to the exponential ceiling
            elif self.strategy == "equal":
                delay = ceiling / 2 + rng.uniform(0, ceiling / 2)  # at least half of it
            else:  # decorrelated: grows from the previous delay, not from n
                delay = min(self.cap, rng.uniform(self.base, previous * 3))
            previous = delay
            yield delay


STRATEGIES = ("exponential", "full", "equal", "decorrelated")
# --8<-- [end:backoff]


# --8<-- [start:errors]
class DependencyError(Exception):
    """A failed call; ``status`` is the HTTP status if there was a response."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after  # seconds the server asked us to wait, if it did


# Transient by definition (RFC 9110, 15.5.9 and 15.6.3-15.6.5; RFC 6585, 4): the request timed
# out, was throttled, or a gateway or the server is briefly unable to answer.
RETRYABLE_STATUSES = {408, 429, 502, 503, 504}
# Usually not transient: a conflict with the resource's state, or a bug that fails the same way
# again. Retried only when the server says when to come back (Retry-After), as an idempotency
# server does with 409 for a key whose first request is still in flight.
RETRYABLE_WITH_RETRY_AFTER = {409, 500}


def is_retryable(error: BaseException) -> bool:
    if isinstance(error, DependencyError):
        if error.status is None or error.status in RETRYABLE_STATUSES:
            return True
        return error.status in RETRYABLE_WITH_RETRY_AFTER and error.retry_after is not None
    return isinstance(error, ConnectionError | TimeoutError)  # no answer: try again


def parse_retry_after(value: str, now: datetime | None = None) -> float:
    """RFC 9110 10.2.3: Retry-After is delay-seconds or an HTTP-date; returns seconds to wait."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise ValueError(f"Retry-After {value!r} is neither seconds nor an HTTP-date") from None
    now = now or datetime.now(when.tzinfo)
    return max(0.0, (when - now).total_seconds())
# --8<-- [end:errors]


# --8<-- [start:budget]
class RetryBudget:
    """Token bucket for retries, as in gRPC's retry throttling (gRFC A6).

    A failure takes a token, a success gives back ``ratio`` of one. Retries are allowed only
    while more than half of the tokens are left, so when a dependency is down for everyone,
    clients soon stop retrying and send it about one call per request, not ``max_attempts``.
    """

    def __init__(self, max_tokens: float = 10, ratio: float = 0.1):
        self.max_tokens = max_tokens
        self.ratio = ratio
        self.tokens = max_tokens

    def record_failure(self) -> None:
        self.tokens = max(0.0, self.tokens - 1)

    def record_success(self) -> None:
        self.tokens = min(self.max_tokens, self.tokens + self.ratio)

    def can_retry(self) -> bool:
        return self.tokens > self.max_tokens / 2
# --8<-- [end:budget]


class GiveUp(Exception):
    """Retrying stopped; the last error is the ``__cause__``."""


# --8<-- [start:retry]
@dataclass
class RetryPolicy:
    backoff: Backoff
    max_attempts: int = 4  # the first call plus three retries
    deadline: float | None = None  # seconds for all attempts and waits together
    retryable: Callable[[BaseException], bool] = is_retryable
    budget: RetryBudget | None = None
    rng: random.Random | None = None  # inject a seeded one for exact schedules
    clock: Callable[[], float] = time.monotonic

    def plan(self) -> _Plan:
        return _Plan(self, self.backoff.delays(self.rng or random.Random()), self.clock())


@dataclass
class _Plan:
    """The state of one retried call: decides, after each failure, whether and how long to wait."""

    policy: RetryPolicy
    delays: Iterator[float]
    started: float
    attempt: int = 1

    def next_delay(self, error: Exception) -> float:
        policy = self.policy
        if policy.budget:
            policy.budget.record_failure()
        if not policy.retryable(error):
            raise GiveUp(f"not retryable: {error}") from error
        if self.attempt >= policy.max_attempts:
            raise GiveUp(f"gave up after {self.attempt} attempts") from error
        if policy.budget and not policy.budget.can_retry():
            raise GiveUp("retry budget exhausted") from error
        delay = next(self.delays)
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            delay = max(delay, retry_after)  # the server knows when it can take us again
        if policy.deadline is not None:
            elapsed = policy.clock() - self.started
            if elapsed + delay > policy.deadline:
                message = f"the next try would miss the {policy.deadline:g} s deadline"
                raise GiveUp(message) from error
        self.attempt += 1
        return delay

    def succeeded(self) -> None:
        if self.policy.budget:
            self.policy.budget.record_success()


def retry_call(
    call: Callable[[], T],
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, Exception, float], None] | None = None,
) -> T:
    plan = policy.plan()
    while True:
        try:
            result = call()
        except Exception as error:
            delay = plan.next_delay(error)
            if on_retry:
                on_retry(plan.attempt - 1, error, delay)
            sleep(delay)
        else:
            plan.succeeded()
            return result


async def retry_call_async(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_retry: Callable[[int, Exception, float], None] | None = None,
) -> T:
    plan = policy.plan()
    while True:
        try:
            result = await call()
        except Exception as error:
            delay = plan.next_delay(error)
            if on_retry:
                on_retry(plan.attempt - 1, error, delay)
            await sleep(delay)
        else:
            plan.succeeded()
            return result
# --8<-- [end:retry]


class VirtualClock:
    """A clock that only moves when something sleeps: exact, and no real waiting."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.now += seconds


def scripted(outcomes: list[Exception | str]) -> Callable[[], str]:
    """A dependency that fails or answers in the order given, and counts its calls."""

    def call() -> str:
        call.count += 1
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    call.count = 0
    return call


# --8<-- [start:layers]
def layered_calls(layers: int, attempts: int) -> int:
    """How many calls reach the bottom when every layer of a stack retries a failing dependency."""
    count = 0

    def bottom() -> None:
        nonlocal count
        count += 1
        raise DependencyError("down", status=503)

    call: Callable[[], None] = bottom
    for _ in range(layers):
        call = _retrying(call, attempts)
    with contextlib.suppress(GiveUp):
        call()
    return count


def _retrying(inner: Callable[[], None], attempts: int) -> Callable[[], None]:
    policy = RetryPolicy(Backoff("exponential", base=0.01), max_attempts=attempts,
                         retryable=lambda error: True)

    def outer() -> None:
        retry_call(inner, policy, sleep=lambda seconds: None)  # no real waiting in the demo

    return outer
# --8<-- [end:layers]


def demo() -> None:
    print("backoff schedules, base 0.1 s, cap 2 s, seed 7 (seconds before retry 1..7):")
    for strategy in STRATEGIES:
        delays = Backoff(strategy, base=0.1, cap=2.0).delays(random.Random(7))
        print(f"  {strategy:<13}" + " ".join(f"{next(delays):5.2f}" for _ in range(7)))

    def log(attempt: int, error: Exception, delay: float) -> None:
        print(f"    attempt {attempt} failed ({error}), waiting {delay:.2f} s")

    def run(title: str, outcomes: list[Exception | str], **options) -> None:
        clock = VirtualClock()
        policy = RetryPolicy(Backoff("full", base=0.1, cap=2.0), rng=random.Random(7),
                             clock=clock, **options)
        call = scripted(outcomes)
        print(title)
        try:
            result = retry_call(call, policy, sleep=clock.sleep, on_retry=log)
            print(f"  -> {result!r} after {call.count} calls, {clock.now:.2f} s")
        except GiveUp as stop:
            print(f"  -> gave up: {stop} ({call.count} calls, {clock.now:.2f} s)")

    unavailable = DependencyError("503 Service Unavailable", status=503)
    run("two 503s, then an answer:", [unavailable, unavailable, "paid"])
    run("a 400 is the caller's fault, retrying cannot help:",
        [DependencyError("400 Bad Request", status=400), "never"])
    run("a 429 with Retry-After: 3 is honoured:",
        [DependencyError("429 Too Many Requests", status=429, retry_after=3.0), "paid"])
    run("a 409 with Retry-After: 1 (the same key still in flight) is retried:",
        [DependencyError("409 Conflict", status=409, retry_after=1.0), "paid"])
    run("a 409 without Retry-After is a real conflict, not retried:",
        [DependencyError("409 Conflict", status=409), "never"])
    run("a 501 is permanent: the next try cannot fix it:",
        [DependencyError("501 Not Implemented", status=501), "never"])
    run("down for good, max 4 attempts:", [unavailable] * 5)
    run("down for good, 0.3 s deadline:", [unavailable] * 5, deadline=0.3)

    budget = RetryBudget(max_tokens=10, ratio=0.1)
    calls = 0
    for _ in range(20):  # 20 requests while the dependency is down
        call = scripted([unavailable] * 4)
        policy = RetryPolicy(Backoff("full"), rng=random.Random(7), budget=budget)
        try:
            retry_call(call, policy, sleep=lambda seconds: None)
        except GiveUp:
            calls += call.count
    print(f"20 requests to a dead dependency with a retry budget: {calls} calls, not {20 * 4}")

    print("a failing dependency under 3 attempts per layer:")
    for layers in (1, 2, 3, 4):
        print(f"  {layers} layer(s) retrying -> {layered_calls(layers, 3):3} calls at the bottom")


if __name__ == "__main__":
    demo()
