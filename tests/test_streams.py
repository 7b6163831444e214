import numpy as np
import pytest
from scipy import stats

from multivector.core.streams import uniforms


def test_replicate_draws_do_not_depend_on_the_batch():
    batch = uniforms(7, np.arange(1000), "unga-68-262/vote@24170", 0)
    alone = uniforms(7, np.array([613]), "unga-68-262/vote@24170", 0)
    assert alone[0] == batch[613]
    shuffled = np.random.default_rng(0).permutation(1000)
    assert np.array_equal(uniforms(7, shuffled, "unga-68-262/vote@24170", 0), batch[shuffled])


def test_streams_differ_by_seed_key_and_player():
    ids = np.arange(2000)
    a = uniforms(7, ids, "k", 0)
    for other in (uniforms(8, ids, "k", 0), uniforms(7, ids, "k2", 0), uniforms(7, ids, "k", 1)):
        assert abs(np.corrcoef(a, other)[0, 1]) < 0.1
        assert not np.array_equal(a, other)


def test_draws_are_uniform_on_the_unit_interval():
    u = uniforms(123, np.arange(200_000), "any/decision@1", 3)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 1e-4
    # consecutive replicates are not correlated
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01


KEY = "unga-68-262-crimea/vote@24170"


@pytest.mark.parametrize("width", [16, 32, 40, 48])
def test_replicates_a_power_of_two_apart_draw_different_numbers(width):
    """Replicate ids are used whole: r and r + 2**w share no draw (w = 16, 32, ...)."""
    r = np.arange(5000, dtype=np.int64) * 7919  # spread over 0 .. 4e7
    a = uniforms(5, r, KEY, 0)
    b = uniforms(5, r + 2**width, KEY, 0)
    assert not np.any(a == b)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.1


def test_consecutive_ids_at_large_offsets_give_no_repeated_draw():
    """200,000 consecutive ids around 2**16, 2**32 and 2**40 (and from 0): all draws distinct."""
    windows = [np.arange(0, 200_000)] + [
        np.arange(2**w - 100_000, 2**w + 100_000) for w in (16, 32, 40)
    ]
    ids = np.unique(np.concatenate(windows))
    u = uniforms(11, ids, KEY, 2)
    assert len(ids) > 600_000
    assert len(np.unique(u)) == len(u)
    for window in windows[1:]:
        # still uniform and uncorrelated from one replicate to the next
        w = uniforms(11, window, KEY, 2)
        assert stats.kstest(w, "uniform").pvalue > 1e-4
        assert abs(np.corrcoef(w[:-1], w[1:])[0, 1]) < 0.01


def test_every_decision_month_and_player_has_its_own_stream():
    """Different ``key@month`` strings and players give different numbers for every replicate."""
    ids = np.arange(500)
    decisions = ("unga-68-262-crimea/vote", "eaeu-2014/join", "k")
    keys = [f"{d}@{m}" for d in decisions for m in (24168, 24169, 24170, 24290)]
    keys += ["unga-68-262-crimea/vote", "unga-68-262-crimea/vote@", "@24170", ""]
    streams = np.stack([uniforms(3, ids, k, p) for k in keys for p in range(6)])
    assert len(np.unique(streams)) == streams.size  # no number repeats anywhere
    correlation = np.corrcoef(streams)
    off_diagonal = correlation[~np.eye(len(streams), dtype=bool)]
    assert np.abs(off_diagonal).max() < 0.25
    # the same key, month and player always give the same numbers
    assert np.array_equal(uniforms(3, ids, keys[1], 4), streams[1 * 6 + 4])


def test_neighbouring_and_distant_seeds_share_no_draw():
    ids = np.arange(1000)
    a = uniforms(0, ids, KEY, 0)
    for seed in (1, 2**32, 2**62, 2**63 - 1):
        assert not np.any(uniforms(seed, ids, KEY, 0) == a), seed
