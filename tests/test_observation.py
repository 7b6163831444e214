import numpy as np

from model.actors import INDEX
from model.observation import agreement_scores, balance


def _positions(votes: dict[str, list[float]]) -> np.ndarray:
    n = len(next(iter(votes.values())))
    positions = np.full((1, n, 6), np.nan)
    for code, values in votes.items():
        positions[0, :, INDEX[code]] = values
    return positions


def test_identical_votes_agree_fully_and_opposite_votes_not_at_all():
    scores = agreement_scores(
        _positions({"KAZ": [1, 0, 0.5], "RUS": [1, 0, 0.5], "USA": [0, 1, 0.5]})
    )
    assert scores["KAZ-RUS"]["agreement"][0] == 1.0
    assert scores["KAZ-RUS"]["s_score"][0] == 1.0
    # yes/no twice and one shared abstention: distances 1, 1, 0 -> mean 2/3
    assert np.isclose(scores["KAZ-USA"]["agreement"][0], 1 / 3)
    assert np.isclose(scores["KAZ-USA"]["s_score"][0], -1 / 3)
    assert scores["KAZ-USA"]["votes"][0] == 3


def test_abstention_against_a_vote_counts_half():
    scores = agreement_scores(_positions({"KAZ": [0.5, 0.5], "RUS": [0, 1]}))
    assert np.isclose(scores["KAZ-RUS"]["agreement"][0], 0.5)
    assert np.isclose(scores["KAZ-RUS"]["s_score"][0], 0.0)


def test_votes_only_count_where_both_voted():
    scores = agreement_scores(_positions({"KAZ": [1, 1, np.nan], "UKR": [1, np.nan, 0]}))
    assert scores["KAZ-UKR"]["votes"][0] == 1
    assert scores["KAZ-UKR"]["agreement"][0] == 1.0
    assert np.isnan(scores["CHN-BLR"]["agreement"][0])


def test_balance_is_one_when_even_and_zero_when_polarised():
    assert balance(np.array([0.4, 0.4, 0.4])) == 1.0
    assert balance(np.array([1.0, 0.0, -1.0])) == 0.0
    assert np.isclose(balance(np.array([0.8, 0.2, 0.5])), 0.7)
