import pytest

from tests.support import load_snippet

regions = load_snippet("regionalization/regions.py")


def test_distance_of_a_quarter_meridian():
    # Equator to pole along a meridian is a quarter of the circumference.
    quarter = regions.great_circle_km((0, 0), (90, 0))
    assert quarter == pytest.approx(2 * 3.141592653589793 * 6371 / 4)


def test_distance_is_symmetric_and_zero_to_itself():
    london, sydney = regions.CITIES["London"], regions.CITIES["Sydney"]
    assert regions.great_circle_km(london, london) == 0
    assert regions.great_circle_km(london, sydney) == pytest.approx(
        regions.great_circle_km(sydney, london)
    )
    assert 16_900 < regions.great_circle_km(london, sydney) < 17_100  # about 17,000 km


def test_min_rtt_is_there_and_back_at_200_km_per_ms():
    assert regions.min_rtt_ms(1000) == 10.0


def test_nearest_region():
    assert regions.nearest_region(regions.CITIES["London"]) == "eu-west"
    assert regions.nearest_region(regions.CITIES["Tokyo"]) == "ap-southeast"


def test_reads_are_routed_to_the_home_region():
    store = regions.PartitionedStore(directory={}, data={})
    assert store.sign_up("ben", "London", "Ben's profile") == "eu-west"
    home, profile, near = store.read("ben", "London")
    assert (home, profile) == ("eu-west", "Ben's profile")
    _, _, far = store.read("ben", "Sydney")
    assert near < 10 < 150 < far
    assert store.data == {"eu-west": {"ben": "Ben's profile"}}


def test_unknown_user():
    store = regions.PartitionedStore(directory={}, data={})
    with pytest.raises(KeyError, match="unknown user 'nobody'"):
        store.read("nobody", "London")
