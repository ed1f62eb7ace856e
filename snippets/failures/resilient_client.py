# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "httpx~=0.28",
#     "pybreaker~=1.4",
#     "tenacity~=9.2",
# ]
# ///
"""All together: a timeout, retries with jittered backoff and a circuit breaker, around one call.

A flaky dependency runs on loopback (healthy, slow or down, as the demo scripts it). The client
calls it with httpx and a timeout on every attempt; tenacity retries what the site's one retry
policy calls retryable (no answer; 408, 429, 502, 503, 504; 409 or 500 only with Retry-After) up to
3 attempts with full-jitter backoff, and gives any other error status back at once; every attempt
goes through a pybreaker circuit breaker, which opens after 5 failures in a row. While it is open,
calls fail fast without reaching the dependency (and are not retried); after the reset timeout one
trial call goes through, and its success closes the breaker again. The transcript counts the calls
that reached the dependency.

Run: python resilient_client.py
     python resilient_client.py server --port 8081 [--mode down|broken]
     python resilient_client.py client --port 8081
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pybreaker
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base


class FlakyServer(ThreadingHTTPServer):
    """GET / answers 200, 503 while ``mode`` is "down", 501 while "broken" (a permanent answer);
    "slow-once" stalls one response."""

    daemon_threads = True
    request_queue_size = 128  # the listen backlog: socketserver's 5 drops a burst's SYNs

    def __init__(self, address: tuple[str, int], mode: str = "ok"):
        super().__init__(address, FlakyHandler)
        self.mode = mode
        self.hits = 0
        self.release = threading.Event()  # a stalled response waits for this (or 5 s)

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)  # a bug of ours: print it
        # a client that reset the connection or stalled is not an error of the server's


class FlakyHandler(BaseHTTPRequestHandler):
    server: FlakyServer
    timeout = 10  # seconds a connection may stay silent (idle, or half-sent): then it is closed
    default_request_version = "HTTP/1.0"  # an unreadable request line still gets a status line

    def log_message(self, format: str, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.server.hits += 1
        mode = self.server.mode
        if mode == "slow-once":
            self.server.mode = "ok"
            self.server.release.wait(timeout=5)  # far longer than the client's timeout
        status, body = {"down": (503, b"unavailable"),
                        "broken": (501, b"not implemented")}.get(mode, (200, b"ok"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # a client that timed out has gone away
            if self.command != "HEAD":
                self.wfile.write(body)

    do_HEAD = do_GET  # the same answer, without the body (RFC 9110 section 9.3.2)


@contextlib.contextmanager
def running(mode: str = "ok", port: int = 0) -> Iterator[FlakyServer]:
    server = FlakyServer(("127.0.0.1", port), mode)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class Unavailable(Exception):
    """The dependency answered with a status worth retrying."""


class Rejected(Exception):
    """The dependency gave a final answer (501, 505, a 4xx, a 409 or 500 without Retry-After):
    retrying would get the same. A 4xx is the caller's fault, so it does not count against the
    dependency in the breaker; a 5xx does."""

    def __init__(self, status: int):
        super().__init__(f"{status} from the dependency: a final answer, not retried")
        self.status = status


# The site's one retry policy (failures/timeouts-and-retries, and retry.py, which explain it)
RETRYABLE_STATUSES = {408, 429, 502, 503, 504}
RETRYABLE_WITH_RETRY_AFTER = {409, 500}


def failure_for(response: httpx.Response) -> Exception | None:
    status = response.status_code
    if status < 400:
        return None
    if status in RETRYABLE_STATUSES or (
            status in RETRYABLE_WITH_RETRY_AFTER and "retry-after" in response.headers):
        return Unavailable(f"{status} from the dependency")
    return Rejected(status)


class wait_full_jitter(wait_base):
    """uniform(0, min(cap, base * 2**n)) from a seeded random.Random (see retry_tenacity.py)."""

    def __init__(self, base: float, cap: float, rng: random.Random):
        self.base, self.cap, self.rng = base, cap, rng

    def __call__(self, retry_state: RetryCallState) -> float:
        return self.rng.uniform(0, min(self.cap, self.base * 2 ** (retry_state.attempt_number - 1)))


# --8<-- [start:client]
def is_retryable(error: BaseException) -> bool:
    # An open breaker is an answer ("don't"), not a fault: retrying it would defeat it.
    return isinstance(error, httpx.TimeoutException | httpx.TransportError | Unavailable)


class ResilientClient:
    def __init__(self, base_url: str, timeout: float = 0.5, attempts: int = 3,
                 breaker: pybreaker.CircuitBreaker | None = None, rng: random.Random | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 on_attempt: Callable[[str], None] = lambda event: None):
        self.http = httpx.Client(base_url=base_url, timeout=timeout)  # per attempt
        self.breaker = breaker or pybreaker.CircuitBreaker(
            fail_max=5, reset_timeout=30,
            exclude=[lambda error: isinstance(error, Rejected) and error.status < 500])
        self.attempts = attempts
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.on_attempt = on_attempt

    def _attempt(self, path: str) -> str:
        response = self.http.get(path)
        failure = failure_for(response)
        if failure is not None:
            raise failure
        return response.text

    def get(self, path: str = "/") -> str:
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_full_jitter(0.02, 0.2, self.rng),
            retry=retry_if_exception(is_retryable),
            sleep=self.sleep,
            before_sleep=self._log,
            reraise=True,
        )
        return retrying(self.breaker.call, self._attempt, path)

    def _log(self, state: RetryCallState) -> None:
        error = state.outcome.exception()
        self.on_attempt(f"attempt {state.attempt_number}: {describe(error)}, "
                        f"retry in {state.upcoming_sleep:.3f} s")

    def close(self) -> None:
        self.http.close()
# --8<-- [end:client]


def describe(error: BaseException) -> str:
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    if isinstance(error, pybreaker.CircuitBreakerError):
        return "circuit open, failed fast"
    return str(error)


class PrintStateChanges(pybreaker.CircuitBreakerListener):
    def __init__(self, log: Callable[[str], None]):
        self.log = log

    def state_change(self, breaker, old, new) -> None:
        self.log(f"breaker: {old.name} -> {new.name}")


def demo() -> None:
    reset_timeout = 0.3
    breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=reset_timeout,
                                       listeners=[PrintStateChanges(lambda m: print("    " + m))])
    with running() as server:
        client = ResilientClient(f"http://127.0.0.1:{server.server_address[1]}", timeout=0.5,
                                 breaker=breaker, rng=random.Random(3),
                                 on_attempt=lambda event: print("    " + event))
        print("a flaky dependency on 127.0.0.1 (a port the OS chose); per attempt: 0.5 s timeout;")
        print("3 attempts with full jitter; breaker opens after 5 failures, resets after 0.3 s")

        def request(number: int) -> None:
            before = server.hits
            try:
                outcome = f"-> {client.get()}"
            except (httpx.HTTPError, Unavailable, pybreaker.CircuitBreakerError) as error:
                outcome = f"-> failed: {describe(error)}"
            print(f"  request {number} {outcome}   [calls that reached it: {server.hits - before}, "
                  f"breaker {breaker.current_state}]")

        print("healthy:")
        request(1)
        print("one response stalls:")
        server.mode = "slow-once"
        request(2)
        print("the dependency goes down (503):")
        server.mode = "down"
        for number in range(3, 7):
            request(number)
        print(f"{reset_timeout} s later the dependency is back:")
        server.mode = "ok"
        time.sleep(reset_timeout)  # the demo lets the reset timeout pass
        request(7)
        request(8)
        print(f"the dependency saw {server.hits} calls for 8 requests")
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", choices=["server", "client"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--mode", choices=["ok", "down", "broken", "slow-once"], default="ok")
    args = parser.parse_args()
    if args.role == "server":
        server = FlakyServer((args.host, args.port), args.mode)
        print(f"flaky dependency ({args.mode}) on http://{args.host}:{args.port} (Ctrl-C to stop)")
        with server, contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    elif args.role == "client":
        client = ResilientClient(f"http://{args.host}:{args.port}", on_attempt=print)
        try:
            print(client.get())
        except (httpx.HTTPError, Unavailable, pybreaker.CircuitBreakerError) as error:
            print(f"failed: {describe(error)}")
        finally:
            client.close()
    else:
        demo()


if __name__ == "__main__":
    main()
