import pytest

from tests.support import load_snippet

gr = load_snippet("regionalization/global_routing.py")
regions = load_snippet("regionalization/regions.py")
ALL = list(gr.REGIONS)


def user(city, resolver_site=None, kind="ISP", rank=0):
    home = gr.Place(city, gr.CITIES[city][:2])
    if resolver_site is None:
        return gr.User(home, home, kind, rank)
    return gr.User(home, gr.Place(resolver_site, gr.PUBLIC_RESOLVER_SITES[resolver_site]), kind,
                   rank)


def test_the_physics_is_the_chapters():
    """Copied from regions.py, not imported: the copy must still agree with it."""
    assert gr.REGIONS == regions.REGIONS
    assert gr.FIBRE_KM_PER_MS == regions.FIBRE_KM_PER_MS == 200
    for a, b in [((51.5, -0.1), (40.7, -74.0)), ((-33.9, 151.2), (38.9, -77.4))]:
        assert gr.great_circle_km(a, b) == pytest.approx(regions.great_circle_km(a, b))
    assert gr.great_circle_km((51.5, -0.1), (40.7, -74.0)) == pytest.approx(5570, abs=20)


def test_a_round_trip_is_the_floor_times_a_fixed_factor_per_path():
    london = gr.Place("London", gr.CITIES["London"][:2])
    floor = regions.min_rtt_ms(regions.great_circle_km(london.where, gr.REGIONS["us-east"]))
    rtt = gr.rtt_ms(london, "us-east")
    assert gr.PATH_FACTOR[0] * floor <= rtt <= gr.PATH_FACTOR[1] * floor
    gr.rtt_ms.cache_clear()
    assert gr.rtt_ms(london, "us-east") == rtt  # the same on every call, and every run


def test_users_are_seeded_and_spread_as_the_weights_say():
    users = gr.make_users(4000, seed=1)
    assert users == gr.make_users(4000, seed=1) != gr.make_users(4000, seed=2)
    share = sum(u.home.name == "London" for u in users) / len(users)
    assert share == pytest.approx(gr.CITIES["London"][2] / 100, abs=0.02)
    public = [u for u in users if u.kind != "ISP"]
    assert len(public) / len(users) == pytest.approx(0.30, abs=0.03)
    assert all(u.resolver == u.home for u in users if u.kind == "ISP")
    assert all(u.resolver.name in gr.PUBLIC_RESOLVER_SITES for u in public)
    assert sum(u.bgp_rank for u in users) / len(users) == pytest.approx(0.2, abs=0.03)


def test_geodns_answers_for_the_resolver_and_ecs_for_the_user():
    """A Sao Paulo user of a public resolver whose nearest site is in Virginia."""
    far = user("Sao Paulo", "Ashburn", "public, no ECS")
    with_ecs = user("Sao Paulo", "Ashburn", "public, ECS")
    assert gr.geodns(far, ALL) == gr.geodns(with_ecs, ALL) == "us-east"  # the resolver's place
    assert gr.geodns_ecs(with_ecs, ALL) == "sa-east"  # ECS: the user's place
    assert gr.geodns_ecs(far, ALL) == "us-east"  # no ECS sent: nothing to go on
    assert gr.geodns(user("Sao Paulo"), ALL) == "sa-east"  # an ISP resolver is nearby


def test_latency_based_dns_picks_the_lowest_round_trip_not_the_shortest_distance():
    users = gr.make_users(2000)
    for u in users:
        seen = u.home if u.sends_ecs else u.resolver
        chosen = gr.latency_dns(u, ALL)
        assert gr.rtt_ms(seen, chosen) == min(gr.rtt_ms(seen, r) for r in ALL)
    # somewhere the nearest region by distance is not the fastest: there the two disagree
    differ = [u for u in users if gr.latency_dns(u, ALL) != gr.geodns_ecs(u, ALL)]
    assert differ
    for u in differ:
        seen = u.home if u.sends_ecs else u.resolver
        assert gr.rtt_ms(seen, gr.latency_dns(u, ALL)) < gr.rtt_ms(seen, gr.geodns_ecs(u, ALL))


def test_anycast_ignores_the_resolver_and_follows_bgp():
    best = user("Sydney", "Singapore", "public, no ECS", rank=0)
    detour = user("Sydney", "Singapore", "public, no ECS", rank=1)
    assert gr.anycast(best, ALL) == "ap-sydney"  # the resolver's place plays no part
    second = sorted(ALL, key=lambda r: gr.rtt_ms(detour.home, r))[1]
    assert gr.anycast(detour, ALL) == second
    assert gr.anycast(detour, ["eu-west"]) == "eu-west"  # one site left: everyone goes there


@pytest.mark.parametrize("policy", list(gr.POLICIES.values()))
def test_every_policy_answers_only_with_a_healthy_region(policy):
    for u in gr.make_users(300, seed=3):
        for healthy in (ALL, [r for r in ALL if r != "us-east"], ["ap-sydney"]):
            assert policy(u, healthy) in healthy


def test_latency_table_orders_the_policies_as_the_page_says():
    rows = {row["policy"]: row for row in gr.latency_table(gr.make_users())}
    one, geo, ecs, lat, any_ = rows.values()
    assert one["median"] > geo["median"] >= ecs["median"] >= lat["median"]
    assert lat["off"] < ecs["off"] < geo["off"] < one["off"]
    assert ecs["by_kind"]["public, ECS"] < geo["by_kind"]["public, ECS"]  # ECS helps its users
    assert ecs["by_kind"]["public, no ECS"] == geo["by_kind"]["public, no ECS"]  # only them
    assert geo["by_kind"]["ISP"] == ecs["by_kind"]["ISP"]
    assert any_["off"] == pytest.approx(100 * gr.ANYCAST_SUBOPTIMAL, abs=3)


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert gr.percentile(values, 50) == 50 and gr.percentile(values, 95) == 95
    assert gr.percentile([7], 95) == 7
    assert gr.percentile([3, 1, 2], 100) == 3


def test_dns_failover_takes_detection_plus_at_most_the_ttl():
    users = gr.make_users()
    times = gr.failover_times(users, "us-east", "dns", ttl=60, violators=0)
    moved = [u for u in users if gr.latency_dns(u, ALL) == "us-east"]
    assert len(times) == len(moved) > 0
    assert all(gr.DETECTED_S <= t <= gr.DETECTED_S + 60 for t in times)
    assert gr.percentile(times, 50) == pytest.approx(gr.DETECTED_S + 30, abs=5)


def test_resolvers_that_hold_answers_set_the_tail_not_the_median():
    users = gr.make_users()
    honest = gr.failover_times(users, "us-east", "dns", ttl=60, violators=0)
    mixed = gr.failover_times(users, "us-east", "dns", ttl=60, violators=gr.TTL_VIOLATORS)
    assert max(mixed) > gr.DETECTED_S + 60  # some users wait for the violators' 600 s
    assert max(mixed) <= gr.DETECTED_S + gr.HELD_BY_VIOLATORS_S
    assert gr.percentile(mixed, 95) > 3 * gr.percentile(honest, 95)
    assert gr.percentile(mixed, 50) < 1.2 * gr.percentile(honest, 50)


def test_a_longer_ttl_means_a_slower_failover():
    users = gr.make_users()
    medians = [gr.percentile(gr.failover_times(users, "eu-west", "dns", ttl), 50)
               for ttl in (10, 60, 300, 3600)]
    assert medians == sorted(medians)


def test_anycast_failover_is_withdrawal_plus_convergence_whatever_the_ttl():
    users = gr.make_users()
    times = gr.failover_times(users, "us-east", "anycast", ttl=3600)
    low, high = gr.BGP_CONVERGENCE_S
    assert all(gr.WITHDRAWN_S + low <= t <= gr.WITHDRAWN_S + high for t in times)
    assert len(times) == sum(gr.anycast(u, ALL) == "us-east" for u in users)
    assert times == gr.failover_times(users, "us-east", "anycast", ttl=10)


def test_active_passive_moves_everyone_and_waits_for_the_standby():
    users = gr.make_users()
    times = gr.failover_times(users, "us-east", "active-passive", ttl=60)
    assert len(times) == len(users)
    assert min(times) >= gr.DETECTED_S + gr.STANDBY_READY_S
    active = gr.failover_times(users, "us-east", "dns", ttl=60)
    assert len(active) < len(users) / 2  # active-active: only the failed region's users move


def test_failover_is_deterministic():
    users = gr.make_users()
    assert gr.failover_times(users, "eu-west", "dns", 60) == gr.failover_times(
        users, "eu-west", "dns", 60)


def test_other_scenarios_from_the_command_line(capsys):
    gr.main(["--ttl", "300", "--fail", "eu-west", "--seed", "3"])
    out = capsys.readouterr().out
    assert "eu-west fails at t = 0" in out and "DNS, TTL 300 s, every resolver honours it" in out
    assert "seed 3" in out


@pytest.mark.parametrize("argv", [["--ttl", "-1"], ["--ttl", "100000"], ["--fail", "mars"],
                                  ["--ttl", "soon"]])
def test_bad_arguments_get_a_clear_error(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        gr.main(argv)
    assert exit_.value.code == 2
    assert "error:" in capsys.readouterr().err
