import asyncio

import pybreaker
import pytest

from tests.support import load_snippet

cb = load_snippet("failures/circuit_breaker.py")


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Dependency:
    """Fails while ``down`` is true; counts the calls that reached it."""

    def __init__(self):
        self.down = False
        self.calls = 0

    def __call__(self, value="ok"):
        self.calls += 1
        if self.down:
            raise ConnectionError("refused")
        return value


def make(clock=None, **options):
    breaker = cb.CircuitBreaker(clock=clock or Clock(), **options)
    changes = []
    breaker.listeners.append(lambda old, new: changes.append((old, new)))
    return breaker, changes


def fail(breaker, dependency, times):
    for _ in range(times):
        with pytest.raises(ConnectionError):
            breaker.call(dependency)


def test_consecutive_failures_open_and_then_it_fails_fast():
    breaker, changes = make(failure_threshold=3)
    dependency = Dependency()
    dependency.down = True
    fail(breaker, dependency, 2)
    assert breaker.state == cb.CLOSED
    fail(breaker, dependency, 1)
    assert breaker.state == cb.OPEN and changes == [(cb.CLOSED, cb.OPEN)]
    for _ in range(5):
        with pytest.raises(cb.CircuitOpenError, match="failing fast"):
            breaker.call(dependency)
    assert dependency.calls == 3  # the open breaker shed all five


def test_a_success_resets_the_consecutive_count():
    breaker, _ = make(failure_threshold=3, minimum_calls=100)
    dependency = Dependency()
    for _ in range(4):
        dependency.down = True
        fail(breaker, dependency, 2)
        dependency.down = False
        assert breaker.call(dependency) == "ok"
    assert breaker.state == cb.CLOSED


def test_failure_rate_over_the_window_opens():
    breaker, _ = make(failure_threshold=100, failure_rate=0.5, window=10, minimum_calls=10)
    dependency = Dependency()
    for index in range(9):  # alternate: never two failures in a row
        dependency.down = index % 2 == 0
        if dependency.down:
            fail(breaker, dependency, 1)
        else:
            breaker.call(dependency)
    assert breaker.state == cb.CLOSED  # 5 of 9 failed, but fewer than minimum_calls
    dependency.down = True
    fail(breaker, dependency, 1)  # the 10th call: 6 of 10 failed, 60%
    assert breaker.state == cb.OPEN


def test_rate_below_threshold_stays_closed_and_old_calls_leave_the_window():
    breaker, _ = make(failure_threshold=100, failure_rate=0.5, window=4, minimum_calls=4)
    dependency = Dependency()
    dependency.down = True
    fail(breaker, dependency, 1)
    dependency.down = False
    for _ in range(10):
        breaker.call(dependency)
    dependency.down = True
    fail(breaker, dependency, 1)  # window now 3 ok + 1 failure = 25%
    assert breaker.state == cb.CLOSED


def test_half_open_after_reset_timeout_closes_after_all_trials_succeed():
    clock = Clock()
    breaker, changes = make(clock, failure_threshold=1, reset_timeout=30, half_open_calls=2)
    dependency = Dependency()
    dependency.down = True
    fail(breaker, dependency, 1)
    clock.now = 29.9
    with pytest.raises(cb.CircuitOpenError):
        breaker.call(dependency)
    clock.now = 30
    dependency.down = False
    assert breaker.call(dependency) == "ok"
    assert breaker.state == cb.HALF_OPEN
    assert breaker.call(dependency) == "ok"
    assert breaker.state == cb.CLOSED
    assert changes == [(cb.CLOSED, cb.OPEN), (cb.OPEN, cb.HALF_OPEN), (cb.HALF_OPEN, cb.CLOSED)]


def test_a_failed_trial_reopens_for_a_full_timeout():
    clock = Clock()
    breaker, changes = make(clock, failure_threshold=1, reset_timeout=10)
    dependency = Dependency()
    dependency.down = True
    fail(breaker, dependency, 1)
    clock.now = 10
    fail(breaker, dependency, 1)
    assert breaker.state == cb.OPEN and breaker.opened_at == 10
    clock.now = 19
    with pytest.raises(cb.CircuitOpenError):
        breaker.call(dependency)
    assert changes[-1] == (cb.HALF_OPEN, cb.OPEN)


async def test_half_open_limits_concurrent_trial_calls():
    clock = Clock()
    breaker, _ = make(clock, failure_threshold=1, reset_timeout=5, half_open_calls=1)
    with pytest.raises(ConnectionError):
        breaker.call(_refuse)
    clock.now = 5
    release = asyncio.Event()
    reached = []

    async def slow_trial():
        reached.append(1)
        await release.wait()
        return "recovered"

    trial = asyncio.create_task(breaker.call_async(slow_trial))
    await asyncio.sleep(0)  # let the trial start and take the only permit
    assert reached == [1] and breaker.state == cb.HALF_OPEN
    with pytest.raises(cb.CircuitOpenError, match="trial calls already in flight"):
        await breaker.call_async(slow_trial)
    release.set()
    assert await asyncio.wait_for(trial, 5) == "recovered"
    assert breaker.state == cb.CLOSED and reached == [1]


def _refuse():
    raise ConnectionError("refused")


async def _hang():
    await asyncio.Event().wait()  # a dependency that never answers


async def test_a_trial_cut_by_a_timeout_counts_as_a_failure_and_frees_the_slot():
    # asyncio.timeout cancels the call: call_async sees CancelledError, which is not an
    # Exception. The trial must still end: the breaker reopens, and after another reset
    # timeout a new trial is let through (before the fix, every later call was refused).
    clock = Clock()
    breaker, changes = make(clock, failure_threshold=1, reset_timeout=5, half_open_calls=1)
    with pytest.raises(ConnectionError):
        breaker.call(_refuse)
    clock.now = 5
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0):
            await breaker.call_async(_hang)
    assert breaker.state == cb.OPEN and breaker.opened_at == 5
    assert changes[-2:] == [(cb.OPEN, cb.HALF_OPEN), (cb.HALF_OPEN, cb.OPEN)]
    clock.now = 10

    async def recovered():
        return "ok"

    assert await breaker.call_async(recovered) == "ok"
    assert breaker.state == cb.CLOSED


async def test_calls_cut_by_a_timeout_count_as_failures_when_closed():
    breaker, _ = make(failure_threshold=2)
    for _ in range(2):
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0):
                await breaker.call_async(_hang)
    assert breaker.state == cb.OPEN


async def test_a_cancelled_task_counts_as_a_failure_too():
    clock = Clock()
    breaker, _ = make(clock, failure_threshold=1, reset_timeout=1, half_open_calls=1)
    with pytest.raises(ConnectionError):
        breaker.call(_refuse)
    clock.now = 1
    started = asyncio.Event()

    async def hang():
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(breaker.call_async(hang))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.state == cb.OPEN and breaker.trials == 0


def test_a_sync_call_interrupted_counts_as_a_failure_and_is_not_swallowed():
    breaker, _ = make(failure_threshold=1)

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        breaker.call(interrupted)
    assert breaker.state == cb.OPEN


async def test_a_call_from_an_earlier_state_does_not_judge_the_trial():
    # A slow call let through while closed ends after the breaker has opened and gone
    # half-open: its success says nothing about the trial, and must not close the breaker.
    clock = Clock()
    breaker, _ = make(clock, failure_threshold=1, reset_timeout=5, half_open_calls=1)

    def slow_call(started: asyncio.Event, release: asyncio.Event):
        async def slow():
            started.set()
            await release.wait()
            return "late"
        return slow

    old_started, old_release = asyncio.Event(), asyncio.Event()
    old = asyncio.create_task(breaker.call_async(slow_call(old_started, old_release)))
    await asyncio.wait_for(old_started.wait(), 5)
    with pytest.raises(ConnectionError):
        breaker.call(_refuse)  # opens the breaker
    clock.now = 5
    trial_started, trial_release = asyncio.Event(), asyncio.Event()
    trial = asyncio.create_task(breaker.call_async(slow_call(trial_started, trial_release)))
    await asyncio.wait_for(trial_started.wait(), 5)  # the trial holds the only slot
    assert breaker.state == cb.HALF_OPEN and breaker.trials == 1
    old_release.set()
    assert await asyncio.wait_for(old, 5) == "late"
    assert breaker.state == cb.HALF_OPEN  # the old call's success was not a trial
    trial_release.set()
    assert await asyncio.wait_for(trial, 5) == "late"
    assert breaker.state == cb.CLOSED


async def test_async_failures_count_the_same():
    breaker, _ = make(failure_threshold=2)

    async def down():
        raise TimeoutError("read timed out")

    for _ in range(2):
        with pytest.raises(TimeoutError):
            await breaker.call_async(down)
    with pytest.raises(cb.CircuitOpenError):
        await breaker.call_async(down)


def test_excluded_business_errors_never_open_it():
    breaker, changes = make(failure_threshold=2, excluded=(cb.CardDeclined,))

    def declined():
        raise cb.CardDeclined("no")

    for _ in range(10):
        with pytest.raises(cb.CardDeclined):
            breaker.call(declined)
    assert breaker.state == cb.CLOSED and changes == []


def test_excluded_error_in_half_open_counts_as_a_success():
    clock = Clock()
    breaker, _ = make(clock, failure_threshold=1, reset_timeout=1, excluded=(KeyError,))
    with pytest.raises(ConnectionError):
        breaker.call(_refuse)
    clock.now = 1

    def missing():
        raise KeyError("no such order")

    with pytest.raises(KeyError):
        breaker.call(missing)
    assert breaker.state == cb.CLOSED


def test_default_clock_is_monotonic():
    breaker = cb.CircuitBreaker(failure_threshold=1)
    with pytest.raises(ConnectionError):
        breaker.call(_refuse)
    with pytest.raises(cb.CircuitOpenError):
        breaker.call(_refuse)


def test_pybreaker_defaults_are_what_the_page_says():
    library = pybreaker.CircuitBreaker()
    assert library.fail_max == 5 and library.reset_timeout == 60
    assert library.success_threshold == 1


def test_pybreaker_opens_after_fail_max_like_ours():
    library = pybreaker.CircuitBreaker(fail_max=3)
    ours, _ = make(failure_threshold=3)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            library.call(_refuse)
        with pytest.raises(ConnectionError):
            ours.call(_refuse)
    with pytest.raises(pybreaker.CircuitBreakerError):
        library.call(_refuse)  # pybreaker raises its own error on the call that trips it
    with pytest.raises(ConnectionError):
        ours.call(_refuse)
    assert library.current_state == "open" and ours.state == cb.OPEN
