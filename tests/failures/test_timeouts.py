import random

import pytest

from tests.support import load_snippet

t = load_snippet("failures/timeouts.py")


def test_nearest_rank_percentile_matches_the_textbook_example():
    # The nearest-rank method on 15, 20, 35, 40, 50: p30 = 20, p40 = 20, p50 = 35, p100 = 50.
    values = [15, 20, 35, 40, 50]
    assert [t.percentile(values, p) for p in (5, 30, 40, 50, 100)] == [15, 20, 20, 35, 50]


@pytest.mark.parametrize(("values", "p"), [([], 50), ([1.0], 0), ([1.0], 101)])
def test_bad_percentile_arguments(values, p):
    with pytest.raises(ValueError, match="0 < p <= 100"):
        t.percentile(values, p)


def test_timeout_is_the_percentile_plus_headroom():
    latencies = list(range(1, 1001))
    assert t.choose_timeout(latencies) == pytest.approx(999 * 1.2)
    assert t.choose_timeout(latencies, p=50, headroom=1) == 500


def test_timed_out_share():
    assert t.timed_out_share([10, 20, 30, 40], 25) == 0.5
    assert t.timed_out_share([10, 20], 20) == 0.0


def test_sample_has_a_fast_body_and_a_slow_tail():
    latencies = t.sample_latencies(20_000, random.Random(1))
    assert 15 < t.percentile(latencies, 50) < 25
    slow = t.timed_out_share(latencies, 100)
    assert 0.005 < slow < 0.02  # about 1% take the slow path
    timeout = t.choose_timeout(latencies)
    assert t.timed_out_share(t.sample_latencies(20_000, random.Random(2)), timeout) < 0.002
