"""Edges of the observation layer: balance over a batch, kept relations, pairs that never
co-vote, and agreement against a hand-written reference."""

import warnings
from itertools import combinations

import numpy as np

from multivector.actors import ACTORS, KAZAKHSTAN
from multivector.core.observation import Recorder, agreement_scores, balance


def test_balance_is_computed_per_alignment_in_a_batch():
    alignment = np.array(
        [
            [0.0, 0.0, 0.0],  # even: 1
            [1.0, -1.0, 0.0],  # fully with one, fully against another: 0
            [0.9, 0.5, 0.7],  # spread 0.4: 0.8
            [-0.2, 0.4, 0.1],  # spread 0.6: 0.7
        ]
    )
    expected = [1.0 - (max(row) - min(row)) / 2.0 for row in alignment.tolist()]
    assert np.allclose(balance(alignment), expected)
    assert np.allclose(balance(alignment), [1.0, 0.0, 0.8, 0.7])
    # a (months, replicates, 3) stack: each entry on its own
    stacked = np.stack([alignment, alignment[::-1]])
    assert np.allclose(balance(stacked), [expected, expected[::-1]])


def _state(rng, replicates=3):
    return rng.uniform(-1, 1, (replicates, 6, 6)), rng.uniform(0, 1, (replicates, 6, 6))


def test_the_recorder_keeps_copies_of_the_relations_only_when_asked():
    rng = np.random.default_rng(4)
    kept, plain = Recorder(keep_relations=True), Recorder()
    states = [_state(rng) for _ in range(3)]
    for month, (relation, dependence) in enumerate(states, start=100):
        structural = np.full((6, 6), 0.1)
        extra = {"mood": relation, "transit": dependence}
        kept.observe(month, relation, dependence, structural, **extra)
        plain.observe(month, relation, dependence, structural, **extra)
        relation[:] = 0.0  # the caller's arrays change in place next month
        dependence[:] = 0.0
    rng = np.random.default_rng(4)
    originals = [_state(rng) for _ in range(3)]
    assert kept.months == [100, 101, 102] and plain.relations == []
    for k, (relation, dependence) in enumerate(originals):
        assert np.array_equal(kept.relations[k], relation)
        for recorder in (kept, plain):
            assert np.array_equal(recorder.alignment_array()[k], relation[:, KAZAKHSTAN, :])
            assert np.array_equal(recorder.dependence_array()[k], dependence[:, KAZAKHSTAN, :])


def reference_agreement(a: list[float], b: list[float]) -> tuple[float, float, int]:
    """UN agreement and S-score over the votes both cast (NaN = absent)."""
    both = [(x, y) for x, y in zip(a, b, strict=True) if x == x and y == y]
    if not both:
        return float("nan"), float("nan"), 0
    distance = sum(abs(x - y) for x, y in both) / len(both)
    return 1.0 - distance, 1.0 - 2.0 * distance, len(both)


def test_agreement_matches_the_reference_and_pairs_without_common_votes_are_nan_quietly():
    nan = np.nan
    positions = np.full((2, 4, len(ACTORS)), nan)
    positions[0, :, 0] = [1.0, 0.5, 0.0, 1.0]
    positions[0, :, 1] = [1.0, 0.0, 0.0, nan]
    positions[0, :2, 2] = [0.5, 0.5]
    positions[0, 2:, 3] = [1.0, 0.0]  # never votes when actor 2 does
    positions[1, :, 0] = [0.0, 0.0, 1.0, 0.5]
    positions[1, :, 4] = [1.0, 1.0, 1.0, 1.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 0/0 for a pair with no common vote is not a warning
        scores = agreement_scores(positions)
    assert len(scores) == 15
    for a, b in combinations(range(len(ACTORS)), 2):
        pair = scores[f"{ACTORS[a]}-{ACTORS[b]}"]
        for r in range(2):
            agreement, s_score, votes = reference_agreement(
                positions[r, :, a].tolist(), positions[r, :, b].tolist()
            )
            assert pair["votes"][r] == votes
            assert np.allclose(pair["agreement"][r], agreement, equal_nan=True), (a, b, r)
            assert np.allclose(pair["s_score"][r], s_score, equal_nan=True), (a, b, r)
    assert np.isnan(scores[f"{ACTORS[2]}-{ACTORS[3]}"]["agreement"][0])
    assert np.isclose(scores[f"{ACTORS[0]}-{ACTORS[1]}"]["agreement"][0], 1 - 0.5 / 3)
