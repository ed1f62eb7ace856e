import random
import threading

import httpx
import pytest

from tests.support import load_snippet

ten = load_snippet("failures/retry_tenacity.py")
retry = load_snippet("failures/retry.py")
idem = load_snippet("failures/idempotency_keys.py")

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


def test_same_policy_as_retry_py_for_every_status():
    for status in range(100, 600):
        for retry_after in (None, 1.0):
            ours = retry.DependencyError("x", status=status, retry_after=retry_after)
            theirs = ten.DependencyError("x", status=status, retry_after=retry_after)
            assert ten.is_retryable(theirs) is retry.is_retryable(ours), (status, retry_after)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_waits_stay_capped_past_the_1024th_retry(strategy):
    # base * 2**n overflows a float at n = 1024: the 1025th wait must not crash.
    slept: list[float] = []
    call = failures_then_ok(ten, 1100, status=503)
    assert ten.retry_call(call, sleep=slept.append, strategy=strategy, base=0.1, cap=2.0,
                          max_attempts=1101, rng=random.Random(5)) == "ok"
    assert len(slept) == 1100 and all(0 <= wait <= 2.0 for wait in slept)


def test_tenacity_helper_waits_out_a_key_in_flight_on_the_idempotency_server():
    """As in test_retry.py: 409 with Retry-After: 1 is retried, and gets the stored response."""
    payment = {"amount": 500, "currency": "EUR"}
    with idem.running() as server, httpx.Client(
        base_url=f"http://127.0.0.1:{server.server_address[1]}", timeout=5
    ) as client:
        server.gate = threading.Event()
        first: list[httpx.Response] = []
        holder = threading.Thread(target=lambda: first.append(
            client.post("/payments", json=payment, headers={"Idempotency-Key": "k9"})))
        holder.start()
        try:
            assert server.charging.wait(timeout=5)

            def pay() -> httpx.Response:
                response = client.post("/payments", json=payment,
                                       headers={"Idempotency-Key": "k9"})
                if response.status_code >= 400:
                    value = response.headers.get("Retry-After")
                    raise ten.DependencyError(
                        str(response.status_code), status=response.status_code,
                        retry_after=None if value is None else float(value))
                return response

            waits: list[float] = []

            def wait(seconds: float) -> None:
                waits.append(seconds)
                server.gate.set()
                holder.join(timeout=5)

            response = ten.retry_call(pay, sleep=wait, rng=random.Random(7))
        finally:
            server.gate.set()
            holder.join(timeout=5)
        assert len(waits) == 1 and waits[0] >= 1.0
        assert response.headers["Idempotent-Replayed"] == "true"
        assert response.json() == first[0].json() and len(server.ledger) == 1


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
