# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "pybreaker~=1.4",
# ]
# ///
"""A circuit breaker from scratch: closed, open, half-open, with an injectable clock.

Closed, it lets calls through and watches them: it opens after ``failure_threshold`` failures
in a row, or when the failure rate over the last ``window`` calls reaches ``failure_rate``
(once at least ``minimum_calls`` are recorded). Open, it fails fast with CircuitOpenError and
does not call the dependency at all. After ``reset_timeout`` seconds it goes half-open and lets
at most ``half_open_calls`` trial calls through: if they all succeed it closes, if one fails it
opens again. Business errors (``excluded``, such as "card declined") are answers, not faults, and
never count. A call that ends without an answer counts as a failure, whatever ended it: an
error, or a cancellation (an ``asyncio.timeout`` around ``call_async`` cancels the call, and
``CancelledError`` is not an ``Exception``), so a trial cut short still ends its trial. An outcome
counts only in the state period its call started in: a slow call from before the breaker opened
does not judge the trial. Listeners hear every state change; ``call`` and ``call_async`` share
one state.

Run: python circuit_breaker.py
(no network needed: it drives a breaker on a virtual clock, then pybreaker, the library)
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pybreaker  # only for the comparison at the end of the demo

T = TypeVar("T")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitOpenError(Exception):
    """Failed fast: the breaker is open (or half-open with all trial calls taken)."""


# --8<-- [start:breaker]
class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = 5,  # consecutive failures that open the circuit
        failure_rate: float = 0.5,  # ...or this failure rate over the window
        window: int = 20,  # the last N calls the rate is computed over
        minimum_calls: int = 10,  # no rate judgement on fewer calls than this
        reset_timeout: float = 30.0,  # seconds open before trying again
        half_open_calls: int = 1,  # trial calls allowed while half-open
        excluded: tuple[type[BaseException], ...] = (),  # business errors: not failures
        clock: Callable[[], float] = time.monotonic,
    ):
        self.failure_threshold = failure_threshold
        self.failure_rate = failure_rate
        self.minimum_calls = minimum_calls
        self.reset_timeout = reset_timeout
        self.half_open_calls = half_open_calls
        self.excluded = excluded
        self.clock = clock
        self.listeners: list[Callable[[str, str], None]] = []
        self.state = CLOSED
        self.outcomes: deque[bool] = deque(maxlen=window)  # True = failure
        self.consecutive_failures = 0
        self.opened_at = 0.0
        self.trials = 0  # trial calls let through in this half-open period
        self.trial_successes = 0
        self.period = 0  # counts state changes: an outcome counts only in its call's period

    def _change(self, new: str) -> None:
        old, self.state = self.state, new
        if new == OPEN:
            self.opened_at = self.clock()
        self.outcomes.clear()
        self.consecutive_failures = self.trials = self.trial_successes = 0
        self.period += 1
        for listener in self.listeners:
            listener(old, new)

    def _before_call(self) -> int:
        if self.state == OPEN:
            if self.clock() - self.opened_at < self.reset_timeout:
                raise CircuitOpenError("circuit open: failing fast")
            self._change(HALF_OPEN)
        if self.state == HALF_OPEN:
            if self.trials >= self.half_open_calls:
                raise CircuitOpenError("circuit half-open: trial calls already in flight")
            self.trials += 1
        return self.period

    def _on_success(self) -> None:
        if self.state == HALF_OPEN:
            self.trial_successes += 1
            if self.trial_successes >= self.half_open_calls:
                self._change(CLOSED)  # every trial call succeeded: the dependency is back
            return
        self.consecutive_failures = 0
        self.outcomes.append(False)

    def _on_failure(self) -> None:
        if self.state == HALF_OPEN:
            self._change(OPEN)  # still broken: another full reset timeout
            return
        self.consecutive_failures += 1
        self.outcomes.append(True)
        rate_tripped = (len(self.outcomes) >= self.minimum_calls
                        and sum(self.outcomes) / len(self.outcomes) >= self.failure_rate)
        if self.consecutive_failures >= self.failure_threshold or rate_tripped:
            self._change(OPEN)

    def _after_call(self, period: int, error: BaseException | None) -> None:
        if period != self.period:
            return  # the state changed while the call ran: its outcome is about another period
        if error is None or isinstance(error, self.excluded):
            self._on_success()  # an answer, even if the answer was "no"
        else:
            self._on_failure()  # an error, or a call cut short: no answer came

    def call(self, function: Callable[..., T], *args, **kwargs) -> T:
        period = self._before_call()
        try:
            result = function(*args, **kwargs)
        except BaseException as error:  # KeyboardInterrupt too: the call ended without an answer
            self._after_call(period, error)
            raise
        self._after_call(period, None)
        return result

    async def call_async(self, function: Callable[..., Awaitable[T]], *args, **kwargs) -> T:
        period = self._before_call()
        try:
            result = await function(*args, **kwargs)
        except BaseException as error:  # CancelledError too: an outer timeout cut the call short
            self._after_call(period, error)
            raise
        self._after_call(period, None)
        return result
# --8<-- [end:breaker]


class CardDeclined(Exception):
    """A business answer from a healthy payment service: not a reason to open the circuit."""


def demo() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=10, half_open_calls=2,
                             excluded=(CardDeclined,), clock=lambda: now[0])
    changes: list[str] = []
    breaker.listeners.append(lambda old, new: changes.append(f"{old} -> {new}"))
    reached = 0

    def dependency(outcome: str) -> str:
        nonlocal reached
        reached += 1
        if outcome == "fail":
            raise ConnectionError("connection refused")
        if outcome == "declined":
            raise CardDeclined("card declined")
        return "ok"

    def attempt(outcome: str) -> None:
        try:
            result = breaker.call(dependency, outcome)
        except (ConnectionError, CardDeclined, CircuitOpenError) as error:
            result = f"{type(error).__name__}: {error}"
        moved = f"   [{', '.join(changes)}]" if changes else ""
        changes.clear()
        print(f"  t={now[0]:>2g}s  {outcome:<8} -> {result}{moved}")

    print("our breaker: 3 failures in a row open it; reset after 10 s; 2 trial calls")
    for outcome in ["ok", "declined", "declined", "fail", "fail", "fail", "ok", "ok"]:
        attempt(outcome)
    print(f"  the dependency was reached {reached} times for 8 calls")
    now[0] = 10.0
    for outcome in ["ok", "fail"]:
        attempt(outcome)
    now[0] = 20.0
    for outcome in ["ok", "ok", "ok"]:
        attempt(outcome)

    library = pybreaker.CircuitBreaker(fail_max=3, reset_timeout=10, exclude=[CardDeclined])
    print("pybreaker with fail_max=3 (its default is 5, reset_timeout 60 s):")
    for outcome in ["ok", "declined", "fail", "fail", "fail", "ok"]:
        try:
            result = library.call(dependency, outcome)
        except (pybreaker.CircuitBreakerError, ConnectionError, CardDeclined) as error:
            result = type(error).__name__
        print(f"  {outcome:<8} -> {result:<19} state {library.current_state}")


if __name__ == "__main__":
    demo()
