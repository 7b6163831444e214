import numpy as np
from scipy import stats

from model.streams import uniforms


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
