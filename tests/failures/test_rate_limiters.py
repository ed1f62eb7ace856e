import asyncio
import base64
import json
import random
import re
import sys

import httpx
import pytest

from tests.support import DOCS, SNIPPETS, load_snippet, read_to_close, serving

rl = load_snippet("failures/rate_limiters.py")


def run(limiter, times, key="c"):
    return [limiter.allow(key, t) for t in times]


def allowed(decisions):
    return [d.allowed for d in decisions]


# --- Each algorithm against hand-computed expectations -------------------------------------------

def test_fixed_window_counts_per_calendar_window():
    limiter = rl.FixedWindow(3, 1)
    d = run(limiter, [0.0, 0.25, 0.5, 0.75])
    assert allowed(d) == [True, True, True, False]
    assert [x.remaining for x in d] == [2, 1, 0, 0]
    assert [x.reset_after for x in d] == [1.0, 0.75, 0.5, 0.25]  # the window ends at 1 s
    assert d[3].retry_after == 0.25 and d[0].retry_after == 0.0
    again = limiter.allow("c", 1.0)  # a new window: the whole quota is back
    assert again.allowed and again.remaining == 2 and limiter.numbers_kept("c") == 2


def test_fixed_window_lets_twice_the_limit_through_around_a_boundary():
    limiter = rl.FixedWindow(3, 1)
    burst = [0.875, 0.875, 0.875, 1.0, 1.0, 1.0, 1.125]
    assert allowed(run(limiter, burst)) == [True] * 6 + [False]
    # six requests in a quarter of a second, under a limit of three per second
    assert rl.most_in_any_window([t for t in burst[:6]], 1) == 6


def test_sliding_window_log_is_exact_at_the_same_boundary():
    limiter = rl.SlidingWindowLog(3, 1)
    d = run(limiter, [0.875, 0.875, 0.875, 1.0, 1.125])
    assert allowed(d) == [True, True, True, False, False]
    assert d[4].retry_after == 0.75  # when the requests of 0.875 s leave the window
    assert d[2].reset_after == 1.0 and limiter.numbers_kept("c") == 3
    later = run(limiter, [1.875, 1.875, 1.875, 1.875])  # exactly one window later: they left
    assert allowed(later) == [True, True, True, False]
    assert limiter.clients["c"] == (1.875, 1.875, 1.875)


def test_sliding_window_log_keeps_one_number_per_request_in_the_window():
    limiter = rl.SlidingWindowLog(100, 10)
    run(limiter, [i / 10 for i in range(50)])
    assert limiter.numbers_kept("c") == 50  # memory grows with the limit, not fixed


def test_sliding_window_counter_weights_the_previous_window():
    # 8 requests in [0, 1); at 1.25 s three quarters of that window are still inside the
    # sliding window: 8 * 0.75 = 6, so 4 more fit under a limit of 10, not 10.
    limiter = rl.SlidingWindowCounter(10, 1)
    run(limiter, [0.5] * 8)
    d = run(limiter, [1.25] * 5)
    assert allowed(d) == [True] * 4 + [False]
    assert [x.remaining for x in d] == [3, 2, 1, 0, 0]
    # the fifth fits when 8 * weight + 4 + 1 <= 10: weight 0.625, at 1.375 s
    assert d[4].retry_after == 0.125 and d[3].reset_after == 0.125
    assert limiter.allow("c", 1.375).allowed
    assert limiter.clients["c"] == (1.0, 5, 8) and limiter.numbers_kept("c") == 3


def test_sliding_window_counter_is_an_approximation_both_ways():
    exact, counter = rl.SlidingWindowLog(10, 1), rl.SlidingWindowCounter(10, 1)
    # the previous window's 8 came at its start: gone from the exact window by 1.25 s
    early = [0.0] * 8 + [1.25] * 10
    assert sum(allowed(run(exact, early, "early"))) == 18
    assert sum(allowed(run(counter, early, "early"))) == 8 + 4  # too strict by 6
    # ...or at its end: still inside the exact window at 1.25 s
    late = [0.875] * 8 + [1.25] * 10
    assert sum(allowed(run(exact, late, "late"))) == 8 + 2
    assert sum(allowed(run(counter, late, "late"))) == 8 + 4  # too lenient by 2


def test_sliding_window_counter_refused_for_the_rest_of_the_window_waits_into_the_next():
    limiter = rl.SlidingWindowCounter(4, 1)
    d = run(limiter, [0.5] * 5)
    # this window is full: in the next, 4 * (1 - e) + 1 <= 4 when e >= 0.25, at 1.25 s
    assert d[4].retry_after == 0.75
    assert not limiter.allow("c", 1.125).allowed and limiter.allow("c", 1.25).allowed
    assert limiter.allow("other", 3.0).allowed  # a gap of two windows forgets both counts
    run(limiter, [5.5] * 4)
    assert limiter.allow("c", 7.0).allowed and limiter.clients["c"] == (7.0, 1, 0)


def test_token_bucket_allows_a_burst_then_the_refill_rate():
    limiter = rl.TokenBucket(4, 2)  # 4 tokens, 2 a second
    d = run(limiter, [0.0] * 5)
    assert allowed(d) == [True] * 4 + [False]
    assert [x.remaining for x in d] == [3, 2, 1, 0, 0]
    assert [x.reset_after for x in d] == [0.5] * 5  # the next token, every time
    assert d[4].retry_after == 0.5
    assert allowed(run(limiter, [0.5, 0.75])) == [True, False]
    assert limiter.allow("c", 0.75).retry_after == 0.25
    assert limiter.allow("c", 100.0).remaining == 3  # the bucket never holds more than 4
    assert limiter.numbers_kept("c") == 2


def test_token_bucket_passes_nearly_twice_its_policy_in_the_first_window():
    """q=5;w=10 reads as 5 per 10 s; a full bucket of 5 refilled every 2 s passes 9 in the
    first 10 s, as the page says."""
    limiter = rl.TokenBucket(5, 10)
    assert sum(allowed(run(limiter, [n / 2 for n in range(20)]))) == 9


def test_token_bucket_burst_is_its_own_setting():
    limiter = rl.TokenBucket(4, 2, burst=1)
    assert allowed(run(limiter, [0.0, 0.0, 0.5, 0.5, 1.0])) == [True, False, True, False, True]


def test_token_bucket_takes_float_rounding_in_its_stride():
    limiter = rl.TokenBucket(5, 1)  # a token every 0.2 s, and 1.2 - 1.0 is 0.19999999999999996
    assert allowed(run(limiter, [1.0] * 6 + [1.2])) == [True] * 5 + [False, True]


def test_leaky_bucket_queues_a_burst_and_lets_it_out_at_the_rate():
    limiter = rl.LeakyBucket(4, 2)  # one out every 0.5 s, at most 4 in the bucket
    d = run(limiter, [0.0] * 5)
    assert allowed(d) == [True] * 4 + [False]
    assert [x.delay for x in d] == [0.0, 0.5, 1.0, 1.5, 0.0]
    assert [x.remaining for x in d] == [3, 2, 1, 0, 0]
    assert d[4].retry_after == 0.5 and d[3].reset_after == 0.5
    assert limiter.numbers_kept("c") == 1 and limiter.clients["c"] == (2.0,)
    late = limiter.allow("c", 0.5)
    assert late.allowed and late.delay == 1.5  # behind the three still queued
    assert limiter.allow("c", 10.0).delay == 0.0  # the queue drained long ago


def test_leaky_bucket_capacity_is_its_own_setting():
    limiter = rl.LeakyBucket(4, 2, capacity=2)
    assert allowed(run(limiter, [0.0, 0.0, 0.0])) == [True, True, False]


@pytest.mark.parametrize("seed", range(5))
def test_token_bucket_and_leaky_bucket_let_the_same_requests_through(seed):
    """Two views of one rule: the token bucket passes a burst at once, the leaky bucket
    spreads it out, but both admit exactly the same requests."""
    trace = sorted(round(random.Random(seed).uniform(0, 5), 3) for _ in range(60))
    token = run(rl.TokenBucket(5, 1), trace)
    leaky = run(rl.LeakyBucket(5, 1), trace)
    assert allowed(token) == allowed(leaky)
    assert any(d.delay for d in leaky) and not any(d.delay for d in token)


@pytest.mark.parametrize("cls", list(rl.ALGORITHMS.values()), ids=lambda c: c.name)
def test_every_algorithm_tells_a_refused_client_exactly_when_to_come_back(cls):
    rng = random.Random(3)
    limiter = cls(5, 2)
    t = 0.0
    for _ in range(300):
        t = round(t + rng.choice([0.0, 0.0, 0.05, 0.3, 1.1]), 3)
        decision = limiter.allow("c", t)
        assert 0 <= decision.remaining < 5
        if not decision.allowed:
            assert decision.retry_after > 0
            assert decision.reset_after == decision.retry_after  # r=0: t is the retry time
            probe = cls(5, 2)  # the same state, to try just before and at the time given
            probe.clients["c"] = limiter.clients["c"]
            assert not probe.allow("c", t + decision.retry_after - 0.001).allowed
            probe.clients["c"] = limiter.clients["c"]
            assert probe.allow("c", t + decision.retry_after).allowed


@pytest.mark.parametrize("cls", list(rl.ALGORITHMS.values()), ids=lambda c: c.name)
def test_clients_are_limited_separately_and_memory_is_bounded(cls):
    limiter = cls(1, 10, max_clients=2)
    assert limiter.allow("a", 0).allowed and not limiter.allow("a", 0).allowed
    assert limiter.allow("b", 0).allowed  # b has its own quota
    limiter.allow("c", 0)  # a third client: the least recently seen one, a, is forgotten
    assert set(limiter.clients) == {"b", "c"} and limiter.numbers_kept("a") == 0
    assert limiter.allow("a", 0).allowed


def test_a_limiter_needs_a_limit_and_a_window():
    with pytest.raises(ValueError):
        rl.TokenBucket(0, 1)
    with pytest.raises(ValueError):
        rl.FixedWindow(1, 0)
    with pytest.raises(NotImplementedError):
        rl.Limiter(1, 1).allow("c", 0)


# --- The side-by-side demo ------------------------------------------------------------------------

def test_the_comparison_shows_what_the_page_says(capsys):
    outcomes = {o.limiter.name: o for o in rl.compare()}
    out = capsys.readouterr().out
    most = {name: rl.most_in_any_window(o.passed, 1) for name, o in outcomes.items()}
    assert most["fixed window"] == 10  # twice the limit, at the boundary
    assert most["sliding window log"] == most["leaky bucket"] == 5
    assert most["sliding window counter"] == 6 and most["token bucket"] == 7
    exact = set(outcomes["sliding window log"].passed)
    estimate = set(outcomes["sliding window counter"].passed)
    assert (len(estimate - exact), len(exact - estimate)) == (2, 1)  # 3 disagreements
    kept = {name: o.most_numbers for name, o in outcomes.items()}
    assert kept == {"fixed window": 2, "sliding window log": 5, "sliding window counter": 3,
                    "token bucket": 2, "leaky bucket": 1}
    assert outcomes["token bucket"].refused == outcomes["leaky bucket"].refused
    leaky, longest = outcomes["leaky bucket"].limiter, outcomes["leaky bucket"].longest_wait
    most = (leaky.capacity - 1) * leaky.interval  # 0.8 s: the last place in a full queue
    assert longest <= most + 1e-9 and round(longest, 1) == round(most, 1)
    assert "10 let through between 0.9 s and 1.1 s, 2 times the limit" in out


def test_the_page_shows_the_transcript_in_two_parts_split_where_it_should_be():
    transcript = (SNIPPETS / "failures" / "rate_limiters.txt").read_text().splitlines()
    page = (DOCS / "failures" / "rate-limiting.md").read_text()
    first, second = re.findall(r'--8<-- "failures/rate_limiters\.txt:(\d+):(\d*)"', page)
    assert first[0] == "1" and second[1] == ""
    assert transcript[int(first[1])] == "" and int(second[0]) == int(first[1]) + 2
    assert transcript[int(second[0]) - 1].startswith("HTTP on 127.0.0.1")


def test_the_trace_is_seeded_and_bursty():
    trace = rl.bursty_trace()
    assert trace == rl.bursty_trace() and trace == sorted(trace)
    assert rl.most_in_any_window(trace, 0.2) >= 12  # the burst across 1 s


def test_strip_and_most_in_any_window():
    assert rl.strip([0.05, 0.05, 0.95, 1.0, 1.99] + [0.5] * 12, 2) == "|2....+...1|1........1|"
    assert rl.most_in_any_window([0.0, 0.5, 1.0, 1.2], 1) == 3  # [0.5, 1.5)
    assert rl.most_in_any_window([], 1) == 0


# --- The response fields: Structured Fields, as the draft defines them ---------------------------

def parse_sf_list(value: str) -> list[tuple[object, dict[str, object]]]:
    """A strict parser for an RFC 9651 List of Items with Parameters (sections 4.2.1 to 4.2.3):
    bare items may be Strings, Integers, Tokens or Byte Sequences. Raises ValueError."""
    members, i = [], 0

    def bare_item() -> object:
        nonlocal i
        if value[i:i + 1] == '"':
            i += 1
            out = ""
            while value[i:i + 1] != '"':
                char = value[i:i + 1]
                if not char or not 0x20 <= ord(char) <= 0x7E:
                    raise ValueError("bad String")
                if char == "\\":
                    i += 1
                    char = value[i:i + 1]
                    if char not in ('"', "\\"):
                        raise ValueError("bad escape")
                out += char
                i += 1
            i += 1
            return out
        if match := re.compile(r"-?\d{1,15}(?![\d.])").match(value, i):
            i = match.end()
            return int(match[0])
        if value[i:i + 1] == ":":
            end = value.index(":", i + 1)
            data = base64.b64decode(value[i + 1:end], validate=True)
            i = end + 1
            return data
        if match := re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*").match(value, i):
            i = match.end()
            return ("token", match[0])
        raise ValueError(f"no bare item at {i}")

    while True:
        item = bare_item()
        params = {}
        while value[i:i + 1] == ";":
            i += 1
            while value[i:i + 1] == " ":
                i += 1
            match = re.compile(r"[a-z*][a-z0-9_\-.*]*").match(value, i)
            if not match:
                raise ValueError("bad parameter key")
            i = match.end()
            params[match[0]] = True
            if value[i:i + 1] == "=":
                i += 1
                params[match[0]] = bare_item()
        members.append((item, params))
        while value[i:i + 1] in (" ", "\t") and i < len(value):
            i += 1
        if i == len(value):
            return members
        if value[i] != ",":
            raise ValueError(f"expected a comma at {i}")
        i += 1
        while value[i:i + 1] in (" ", "\t"):
            i += 1
        if i == len(value):
            raise ValueError("trailing comma")


def test_the_parser_accepts_the_drafts_examples_and_refuses_junk():
    assert parse_sf_list('"burst";q=100;w=60,"daily";q=1000;w=86400') == [
        ("burst", {"q": 100, "w": 60}), ("daily", {"q": 1000, "w": 86400})]
    assert parse_sf_list('"peruser";q=100;w=60;pk=:cHsdsRa894==:') == [
        ("peruser", {"q": 100, "w": 60, "pk": base64.b64decode("cHsdsRa894==")})]
    assert parse_sf_list("default;r=1") == [(("token", "default"), {"r": 1})]
    for junk in ('"a";q=1,', '"a";Q=1', '"a', '"a";q=1.5x', '"a" "b"', '"a";q=1;w=\x01'):
        with pytest.raises(ValueError):
            parse_sf_list(junk)


def check_fields(fields: list[tuple[str, str]], limit: int, window: int) -> dict:
    """The fields as draft-ietf-httpapi-ratelimit-headers-11 defines them; returns r and t."""
    named = dict(fields)
    [(policy, quota)] = parse_sf_list(named["RateLimit-Policy"])
    assert isinstance(policy, str)  # 3: the Item value MUST be a String
    assert quota == {"q": limit, "w": window}  # 3.1.1 q: non-negative Integer; 3.1.3 w: > 0
    [(name, service)] = parse_sf_list(named["RateLimit"])
    assert name == policy and set(service) <= {"r", "t"} and "r" in service  # 4.1: r REQUIRED
    assert all(isinstance(v, int) and v >= 0 for v in service.values())  # 4.1.1, 4.1.2
    if "Retry-After" in named:
        assert re.fullmatch(r"[1-9]\d*", named["Retry-After"])  # RFC 9110 delay-seconds
        # 6: Retry-After SHOULD NOT point earlier than the end of the effective window
        assert int(named["Retry-After"]) >= service.get("t", 0)
    return service


def test_fields_have_the_exact_syntax_of_the_draft():
    limiter = rl.TokenBucket(5, 10)
    d = run(limiter, [0.0] * 6)
    assert rl.rate_limit_fields(limiter, d[0]) == [
        ("RateLimit-Policy", '"default";q=5;w=10'), ("RateLimit", '"default";r=4;t=2')]
    assert rl.rate_limit_fields(limiter, d[5], "per-key") == [
        ("RateLimit-Policy", '"per-key";q=5;w=10'), ("RateLimit", '"per-key";r=0;t=2'),
        ("Retry-After", "2")]


@pytest.mark.parametrize("cls", list(rl.ALGORITHMS.values()), ids=lambda c: c.name)
def test_every_algorithm_produces_valid_fields(cls):
    limiter = cls(3, 2)
    for t in [0.0, 0.0, 0.1, 0.1, 0.3, 1.9, 2.05, 2.5, 7.0]:
        decision = limiter.allow("c", t)
        service = check_fields(rl.rate_limit_fields(limiter, decision), 3, 2)
        assert service["r"] == decision.remaining


def test_seconds_are_rounded_up():
    assert [rl.whole_seconds(s) for s in (0.25, 1.0, 2.0000000001, 2.01)] == [1, 1, 2, 3]
    soon = rl.Decision(False, 0, 0.0000000001, 0.0000000001)
    assert dict(rl.rate_limit_fields(rl.FixedWindow(1, 1), soon))["Retry-After"] == "1"


# --- The middleware on a real server --------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class CountingHandler:
    def __init__(self):
        self.calls = 0

    async def __call__(self, request):
        self.calls += 1
        return await rl.hello(request)


def fields_of(response: httpx.Response) -> list[tuple[str, str]]:
    names = {"ratelimit-policy": "RateLimit-Policy", "ratelimit": "RateLimit",
             "retry-after": "Retry-After"}
    return [(names[name], value) for name, value in response.headers.items() if name in names]


def client_for(port, **headers):
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5, trust_env=False,
                             headers=headers)


async def test_over_the_limit_gets_429_and_the_handler_never_sees_it():
    clock, handler = Clock(), CountingHandler()
    server = rl.RateLimitedServer(rl.TokenBucket(2, 10), handler, clock=clock)
    async with serving(server) as port, client_for(port, **{"X-API-Key": "k1"}) as client:
        first, second, third = [await client.get("/") for _ in range(3)]
        assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
        assert handler.calls == 2
        assert first.json() == {"hello": "key:k1"}
        assert first.headers["ratelimit-policy"] == '"default";q=2;w=10'
        assert first.headers["ratelimit"] == '"default";r=1;t=5'
        assert third.headers["retry-after"] == "5" and "retry-after" not in second.headers
        assert third.headers["content-type"] == "application/problem+json"
        assert third.json() == {"type": rl.QUOTA_EXCEEDED, "title": "Too Many Requests",
                                "status": 429, "violated-policies": ["default"]}
        for response in (first, second, third):
            check_fields(fields_of(response), 2, 10)
        clock.now = 5.0  # as long as Retry-After said
        assert (await client.get("/")).status_code == 200 and handler.calls == 3


async def test_clients_are_told_apart_by_key_or_address():
    server = rl.RateLimitedServer(rl.FixedWindow(1, 60), clock=Clock())
    async with serving(server) as port, client_for(port) as client:
        assert (await client.get("/")).json() == {"hello": "ip:127.0.0.1"}
        assert (await client.get("/")).status_code == 429  # the same address
        assert (await client.get("/", headers={"X-API-Key": "a"})).status_code == 200
        assert (await client.get("/", headers={"X-API-Key": "b"})).status_code == 200
        assert (await client.get("/", headers={"X-API-Key": "a"})).status_code == 429


async def test_head_is_limited_like_get_without_a_body():
    server = rl.RateLimitedServer(rl.FixedWindow(1, 60), clock=Clock())
    async with serving(server) as port, client_for(port) as client:
        ok, refused = await client.head("/"), await client.head("/")
        assert (ok.status_code, refused.status_code) == (200, 429)
        assert ok.content == refused.content == b"" and refused.headers["retry-after"] == "60"
        missing = await client.get("/nowhere", headers={"X-API-Key": "z"})
        assert missing.status_code == 404 and "ratelimit" in missing.headers  # counted too


async def test_the_leaky_bucket_holds_a_request_for_its_turn():
    waits = []

    async def sleep(seconds):
        waits.append(seconds)

    server = rl.RateLimitedServer(rl.LeakyBucket(2, 1), clock=Clock(), sleep=sleep)
    async with serving(server) as port, client_for(port) as client:
        statuses = [(await client.get("/")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429] and waits == [0.5]

@pytest.mark.parametrize(("request_bytes", "status", "error"), [
    (b"GET / HTTP/1.1\r\nX-API-Key: no spaces\r\n\r\n", 400, "X-API-Key must be"),
    (b"GET / HTTP/1.1\r\nX-API-Key: " + b"k" * 65 + b"\r\n\r\n", 400, "X-API-Key must be"),
    (b"GET / HTTP/1.0\r\n\r\n", 505, "only HTTP/1.1"),
    (b"GET / HTTP/x\r\n\r\n", 400, "only HTTP/1.1"),
    (b"GET /\x01 HTTP/1.1\r\n\r\n", 400, "control character"),
    (b"GET nowhere HTTP/1.1\r\n\r\n", 400, "malformed request line"),
    (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400, "malformed header line"),
    (b"GET / HTTP/1.1\r\n" + b"A: b\r\n" * 65 + b"\r\n", 431, "more than 64 header fields"),
    (b"GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431, "request head over"),
    (b"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", 400, "non-ASCII"),
    (b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 400, "a GET has no body"),
    (b"DELETE / HTTP/1.1\r\n\r\n", 501, "only GET and HEAD"),
    (b"GET / HTTP/1.1\r\nHost: x", 400, "truncated request head"),
])
async def test_bad_requests_get_a_clear_error_and_others_are_unharmed(request_bytes, status,
                                                                       error):
    server = rl.RateLimitedServer(rl.TokenBucket(100, 1), clock=Clock())
    async with serving(server) as port, client_for(port, **{"X-API-Key": "good"}) as client:
        assert (await client.get("/")).status_code == 200  # a connection kept alive
        if request_bytes.endswith(b"Host: x"):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request_bytes)
            writer.write_eof()
            async with asyncio.timeout(5):
                answer = await reader.read()
            writer.close()
            await writer.wait_closed()
        else:
            answer = await read_to_close(port, request_bytes)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(f"HTTP/1.1 {status} ".encode()) and b"Connection: close" in head
        assert error in json.loads(body)["error"]
        assert (await client.get("/")).status_code == 200  # on the same kept-alive connection
        assert server.limiter.numbers_kept("key:good") == 2


async def test_an_idle_connection_is_closed_and_close_ends_open_ones(monkeypatch):
    monkeypatch.setattr(rl, "IDLE_TIMEOUT", 0.05)
    server = rl.RateLimitedServer(rl.TokenBucket(5, 1))
    async with serving(server) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\n")  # and never the rest
        async with asyncio.timeout(5):
            assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()
    monkeypatch.setattr(rl, "IDLE_TIMEOUT", 30)
    server = rl.RateLimitedServer(rl.TokenBucket(5, 1))
    port = await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\n\r\n")
    await reader.readuntil(b"\r\n\r\n")
    await server.close()  # ends the kept-alive connection at once, not after 30 s
    async with asyncio.timeout(5):
        await reader.read()
    writer.close()
    await writer.wait_closed()
    assert not server.connections


def test_a_server_needs_a_whole_window_and_a_plain_policy_name():
    with pytest.raises(ValueError, match="whole seconds"):
        rl.RateLimitedServer(rl.TokenBucket(5, 0.5))
    with pytest.raises(ValueError, match="policy name"):
        rl.RateLimitedServer(rl.TokenBucket(5, 1), policy='bad"name')


async def test_the_client_waits_out_a_429(capsys):
    clock = Clock()
    server = rl.RateLimitedServer(rl.TokenBucket(1, 60), clock=clock)
    async with serving(server) as port:
        await rl.client("127.0.0.1", port, "me", 2, max_wait=0)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == '#1: 200  RateLimit: "default";r=0;t=60'
    assert out[1] == '#2: 429  RateLimit: "default";r=0;t=60  Retry-After: 60'
    assert out[2] == "    waiting 0 s, as Retry-After asks"


async def test_serve_runs_until_cancelled(capsys, monkeypatch):
    started, start = asyncio.Event(), rl.RateLimitedServer.start

    async def start_and_tell(self, *args):
        port = await start(self, *args)
        started.set()
        return port

    monkeypatch.setattr(rl.RateLimitedServer, "start", start_and_tell)
    task = asyncio.create_task(rl.serve("127.0.0.1", 0, "sliding-log", 3, 10))
    await asyncio.wait_for(started.wait(), 5)
    assert "behind a sliding window log of 3 requests per 10 s" in capsys.readouterr().out
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize("role", ["server", "client"])
def test_main_parses_the_command_line(role, monkeypatch):
    called = {}

    async def fake(*args):
        called[role] = args

    monkeypatch.setattr(rl, "serve" if role == "server" else "client", fake)
    monkeypatch.setattr(sys, "argv", ["rate_limiters.py", role, "--port", "8123"])
    rl.main()
    assert called[role][:2] == ("127.0.0.1", 8123)
