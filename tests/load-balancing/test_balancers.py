import os
import subprocess
import sys
from collections import Counter

import pytest

from tests.support import ROOT, load_snippet

lb = load_snippet("load-balancing/balancers.py")

SERVERS = ["a", "b", "c"]


def picks(balancer, n, key=""):
    return [balancer.pick(key) for _ in range(n)]


def test_round_robin_takes_each_server_in_turn():
    assert picks(lb.RoundRobin(SERVERS), 7) == ["a", "b", "c", "a", "b", "c", "a"]


def test_weighted_round_robin_gives_each_server_its_share_smoothly():
    balancer = lb.WeightedRoundRobin({"a": 5, "b": 1, "c": 1})
    first = picks(balancer, 7)
    assert first == ["a", "a", "b", "a", "c", "a", "a"]  # NGINX's smooth order for 5:1:1
    assert Counter(picks(balancer, 700)) == {"a": 500, "b": 100, "c": 100}


@pytest.mark.parametrize("weights", [{}, {"a": 0}, {"a": 2, "b": -1}])
def test_weights_must_be_positive(weights):
    with pytest.raises(ValueError, match="at least 1"):
        lb.WeightedRoundRobin(weights)


def test_random_is_seeded_and_roughly_uniform():
    assert picks(lb.Random(SERVERS, seed=3), 20) == picks(lb.Random(SERVERS, seed=3), 20)
    assert picks(lb.Random(SERVERS, seed=3), 20) != picks(lb.Random(SERVERS, seed=4), 20)
    counts = Counter(picks(lb.Random(SERVERS, seed=1), 30_000))
    assert all(9_500 < counts[s] < 10_500 for s in SERVERS), counts


def test_least_connections_follows_requests_in_flight():
    balancer = lb.LeastConnections(SERVERS)
    assert picks(balancer, 3) == ["a", "b", "c"]  # all busy with one each
    balancer.release("b")
    assert balancer.pick() == "b"  # b is the only one with nothing in flight... now it has one
    balancer.release("a")
    balancer.release("c")
    assert balancer.in_flight == {"a": 0, "b": 1, "c": 0}
    assert picks(balancer, 3) == ["a", "c", "a"]  # a and c tie at 0; then every server has 1
    assert balancer.in_flight == {"a": 2, "b": 1, "c": 1}


def test_least_connections_refuses_a_release_without_a_request():
    with pytest.raises(ValueError, match="without a request in flight"):
        lb.LeastConnections(SERVERS).release("a")


def test_least_response_time_prefers_the_fast_server():
    now = 0.0
    balancer = lb.LeastResponseTime(["fast", "slow"], clock=lambda: now)
    assert balancer.pick() == "fast"
    assert balancer.pick() == "slow"  # fast has a request running, slow has none
    now = 1.0
    balancer.release("fast")  # took 1 s
    now = 5.0
    balancer.release("slow")  # took 5 s
    assert balancer.average == {"fast": 1.0, "slow": 5.0}
    # fast is picked while (its average x (in flight + 1)) is below slow's 5 s x 1
    assert picks(balancer, 4) == ["fast", "fast", "fast", "fast"]
    assert balancer.pick() == "slow"  # fast: 1 x 5 ties slow: 5 x 1; fewer in flight wins


def test_least_response_time_counts_a_long_running_request():
    now = 0.0
    balancer = lb.LeastResponseTime(["a", "b"], clock=lambda: now)
    balancer.pick()  # a, and it never finishes
    balancer.pick()  # b
    now = 1.0
    balancer.release("b")
    now = 10.0  # a has been busy for 10 s: it is not "unmeasured, so fast"
    assert balancer.pick() == "b"


def test_least_response_time_average_moves_by_the_smoothing_factor():
    now = 0.0
    balancer = lb.LeastResponseTime(["a"], clock=lambda: now, smoothing=0.5)
    for took in (4.0, 2.0, 2.0):
        start = now
        balancer.pick()
        now = start + took
        balancer.release("a")
    assert balancer.average["a"] == pytest.approx(2.5)  # 4, then 3, then 2.5


def test_ip_hash_is_stable_per_client_and_spreads_clients():
    balancer = lb.IPHash(SERVERS)
    clients = [f"10.1.{i // 256}.{i % 256}" for i in range(3000)]
    first = [balancer.pick(ip) for ip in clients]
    assert [lb.IPHash(SERVERS).pick(ip) for ip in clients] == first  # another balancer agrees
    counts = Counter(first)
    assert all(900 < counts[s] < 1100 for s in SERVERS), counts


def test_ip_hash_is_the_same_in_another_process():
    # Python's own hash() of a str is salted per process; IP hash must not use it
    code = "import sys; sys.path.insert(0, '.'); from tests.support import ROOT, load_snippet; " \
        "print(load_snippet('load-balancing/balancers.py').stable_hash('10.0.0.1'))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=ROOT, check=True, timeout=30).stdout
    assert int(out) == lb.stable_hash("10.0.0.1")


KEYS = [f"key-{n}" for n in range(20_000)]


def test_modulo_hashing_moves_most_keys_when_a_server_joins():
    moved = lb.moved(
        lambda k: lb.stable_hash(k) % 4, lambda k: lb.stable_hash(k) % 5, KEYS
    )
    assert 0.77 < moved < 0.83  # theory: 1 - 1/5 = 80% (a key stays only if h%4 == h%5)


@pytest.mark.parametrize("n", [3, 4, 8])
def test_ring_moves_about_one_nth_of_keys_and_only_to_the_new_server(n):
    servers = [f"s{i}" for i in range(n)]
    ring = lb.HashRing(servers)
    before = {key: ring.pick(key) for key in KEYS}
    ring.add("new")
    after = {key: ring.pick(key) for key in KEYS}
    moved = [key for key in KEYS if before[key] != after[key]]
    assert {after[key] for key in moved} == {"new"}  # nothing moves between old servers
    share = len(moved) / len(KEYS)
    assert abs(share - 1 / (n + 1)) < 0.05, share


def test_ring_removal_moves_only_the_removed_servers_keys():
    ring = lb.HashRing(["a", "b", "c", "d"])
    before = {key: ring.pick(key) for key in KEYS}
    ring.remove("c")
    for key in KEYS:
        if before[key] != "c":
            assert ring.pick(key) == before[key]
        else:
            assert ring.pick(key) != "c"


def test_ring_spreads_keys_evenly_with_virtual_nodes():
    ring, single = lb.HashRing(["a", "b", "c", "d"]), lb.HashRing(["a", "b", "c", "d"], vnodes=1)
    counts = Counter(ring.pick(key) for key in KEYS)
    assert all(0.8 * 5000 < counts[s] < 1.2 * 5000 for s in "abcd"), counts
    lumpy = Counter(single.pick(key) for key in KEYS)
    assert max(lumpy.values()) > max(counts.values())  # one point per server: uneven arcs


def test_ring_wraps_around_and_rejects_misuse():
    ring = lb.HashRing(["a"], vnodes=3)
    assert {ring.pick(key) for key in KEYS[:100]} == {"a"}
    ring.release("a")  # stateless: nothing happens
    with pytest.raises(ValueError, match="already on the ring"):
        ring.add("a")
    ring.remove("a")
    with pytest.raises(LookupError, match="no servers"):
        ring.pick("k")


def test_ring_key_past_the_last_point_goes_to_the_first():
    ring = lb.HashRing(["a", "b"], vnodes=2)
    last_point = ring.points[-1][0]
    key = next(k for k in KEYS if lb.stable_hash(k) > last_point)
    assert ring.pick(key) == ring.points[0][1]


def test_simulation_least_connections_beats_round_robin_on_uneven_work():
    rr_picks, rr_mean = lb.simulate(lambda clock: lb.RoundRobin(lb.SERVERS))
    lc_picks, lc_mean = lb.simulate(lambda clock: lb.LeastConnections(lb.SERVERS))
    lrt_picks, lrt_mean = lb.simulate(lambda clock: lb.LeastResponseTime(lb.SERVERS, clock))
    assert rr_picks == ["b1", "b2", "b3"] * 4
    assert lc_mean < rr_mean and lrt_mean < rr_mean
    assert lrt_picks.count("b3") <= 1  # it learns that b3 is slow
    assert len(lc_picks) == len(lb.REQUESTS)


def test_two_choices_is_seeded_and_shares_the_balancer_interface():
    servers = [f"s{n}" for n in range(10)]
    first = lb.PowerOfTwoChoices(servers, seed=5)
    assert picks(first, 50) == picks(lb.PowerOfTwoChoices(servers, seed=5), 50)
    assert picks(first, 50) != picks(lb.PowerOfTwoChoices(servers, seed=6), 50)
    balancer = lb.PowerOfTwoChoices(SERVERS, seed=1)
    server = balancer.pick("any key")  # pick(key) like every other balancer; the key is unused
    assert balancer.in_flight[server] == 1
    balancer.release(server)
    assert balancer.in_flight == dict.fromkeys(SERVERS, 0)
    with pytest.raises(ValueError, match="without a request in flight"):
        balancer.release(server)
    assert picks(lb.PowerOfTwoChoices(["only"]), 3) == ["only"] * 3  # one server: no choice


def test_two_choices_takes_the_less_loaded_of_the_two_it_draws():
    balancer = lb.PowerOfTwoChoices(["a", "b"], seed=0)  # two servers: it always sees both
    assert sorted(picks(balancer, 2)) == ["a", "b"]
    balancer.release("a")
    assert picks(balancer, 1) == ["a"]  # a has 0 in flight, b has 1
    busy = lb.PowerOfTwoChoices(SERVERS, seed=2)
    busy.in_flight["a"] = 1000
    # any two distinct servers include b or c, which is always less loaded than a
    assert "a" not in picks(busy, 200)
    assert busy.in_flight["b"] + busy.in_flight["c"] == 200


def test_two_choices_keeps_the_fullest_server_far_below_random_choice():
    # n requests that never finish on n servers: balls into bins (Azar et al., 1994).
    # One random choice: the fullest holds about ln n / ln ln n (Gonnet: about 5.7 for n = 1000);
    # the better of two: ln ln n / ln 2 + O(1), about 2.8 + O(1).
    servers = [f"s{n}" for n in range(1000)]
    for seed in range(3):
        random_choice = lb.Random(servers, seed=seed)
        counts = Counter(picks(random_choice, len(servers)))
        two = lb.PowerOfTwoChoices(servers, seed=seed)
        picks(two, len(servers))
        assert max(two.in_flight.values()) <= 4 < max(counts.values()), seed


def test_demo_shows_two_choices_between_random_and_least_connections():
    _, random_mean = lb.simulate(lambda clock: lb.Random(lb.SERVERS, seed=7))
    _, two_mean = lb.simulate(lambda clock: lb.PowerOfTwoChoices(lb.SERVERS, seed=7))
    _, lc_mean = lb.simulate(lambda clock: lb.LeastConnections(lb.SERVERS))
    assert lc_mean < two_mean < random_mean
