"""Calibration scoring by hand: log-loss with the probability floor, the Brier score, accuracy
by argmax, four decimals, the empty case, and the per-actor blocks of ``Validation.summary``."""

import math

import numpy as np
import pytest

from multivector.analysis.calibration import PROBABILITY_FLOOR, Observation, Validation, score
from multivector.inputs.library import VOTE_OPTIONS


def obs(actor: str, choice: int, episode: str = "e", options=VOTE_OPTIONS) -> Observation:
    return Observation(0, 0, choice, episode, episode + "/vote", actor, options, True, None)


def reference(probabilities: list[list[float]], choices: list[int]) -> dict[str, float]:
    """Mean -log(max(p, floor)), mean squared distance to the outcome summed over options, and
    the share of choices that are the first most likely option."""
    if not choices:
        return {"log_loss": math.nan, "brier": math.nan, "accuracy": math.nan}
    pairs = list(zip(probabilities, choices, strict=True))
    losses = [-math.log(max(p[c], 1e-12)) for p, c in pairs]
    brier = [sum((q - (k == c)) ** 2 for k, q in enumerate(p)) for p, c in pairs]
    hits = [p.index(max(p)) == c for p, c in pairs]
    return {
        "log_loss": round(sum(losses) / len(losses), 4),
        "brier": round(sum(brier) / len(brier), 4),
        "accuracy": round(sum(hits) / len(hits), 4),
    }


def test_log_loss_and_accuracy_by_hand():
    probabilities = [[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.6, 0.3, 0.1]]
    choices = [0, 2, 1]
    # -(ln 0.7 + ln 0.3 + ln 0.3) / 3 = 0.92147...; one hit in three; Brier
    # ((0.09 + 0.04 + 0.01) + (0.04 + 0.25 + 0.49) + (0.36 + 0.49 + 0.01)) / 3 = 0.59333...
    result = score([np.array(p) for p in probabilities], [obs("KAZ", c) for c in choices])
    assert result == {"log_loss": 0.9215, "brier": 0.5933, "accuracy": 0.3333}
    assert result == reference(probabilities, choices)


def test_rounding_is_to_four_places():
    probabilities = [[0.123456, 0.876544], [0.5, 0.5]]
    result = score([np.array(p) for p in probabilities], [obs("KAZ", 0, options=("a", "b"))] * 2)
    exact = -(math.log(0.123456) + math.log(0.5)) / 2  # 1.39196...
    assert result["log_loss"] == round(exact, 4) and result["log_loss"] != exact
    # the tie [0.5, 0.5] goes to the first option, which was chosen: 1 hit of 2
    assert result["accuracy"] == 0.5


def test_a_zero_probability_costs_the_floor_not_infinity():
    result = score([np.array([1.0, 0.0, 0.0])], [obs("KAZ", 1)])
    assert PROBABILITY_FLOOR == 1e-12
    assert result == {"log_loss": round(-math.log(1e-12), 4), "brier": 2.0, "accuracy": 0.0}
    assert result["log_loss"] == 27.631


def test_a_tie_for_most_likely_is_won_by_the_first_option():
    result = score([np.array([0.4, 0.4, 0.2])] * 2, [obs("KAZ", 1), obs("KAZ", 0)])
    assert result["accuracy"] == 0.5


def test_no_choices_score_nan():
    result = score([], [])
    assert set(result) == {"log_loss", "brier", "accuracy"}
    assert math.isnan(result["log_loss"]) and math.isnan(result["accuracy"])


def test_probabilities_and_choices_must_pair_up():
    with pytest.raises(ValueError):
        score([np.array([0.5, 0.5, 0.0])] * 2, [obs("KAZ", 0)])
    with pytest.raises(ValueError):
        score([np.array([0.5, 0.5, 0.0])], [obs("KAZ", 0)] * 2)


def test_summary_blocks_count_and_score_each_actor():
    observations = [
        obs("KAZ", 0, "a"),
        obs("KAZ", 1, "a"),
        obs("RUS", 1, "b"),
        obs("KAZ", 2, "c"),
        obs("CHN", 0, "c"),
    ]
    choices = [o.choice for o in observations]
    in_sample = [
        [0.6, 0.3, 0.1],
        [0.2, 0.7, 0.1],
        [0.3, 0.3, 0.4],
        [0.1, 0.1, 0.8],
        [0.5, 0.4, 0.1],
    ]
    held_out = [
        [0.3, 0.4, 0.3],
        [0.1, 0.2, 0.7],
        [0.0, 1.0, 0.0],
        [0.2, 0.2, 0.6],
        [0.2, 0.7, 0.1],
    ]
    uniform = [[1 / 3] * 3] * 5
    other = [[0.9, 0.05, 0.05]] * 5
    validation = Validation(
        observations,
        [np.array(p) for p in in_sample],
        [np.array(p) for p in held_out],
        {"uniform": [np.array(p) for p in uniform], "other": [np.array(p) for p in other]},
        {"a": np.array([1.0])},
    )
    summary = validation.summary(3)

    def expected(select):
        pick = lambda values: [values[i] for i in select]  # noqa: E731
        return {
            "choices": len(select),
            "in_sample": reference(pick(in_sample), pick(choices)),
            "leave_one_episode_out": reference(pick(held_out), pick(choices)),
            "uniform": reference(pick(uniform), pick(choices)),
            "other": reference(pick(other), pick(choices)),
        }

    everything = expected(range(5))
    assert summary["decisions"] == 5 and summary["held_out_choices"] == 5
    assert summary["episodes"] == 3 and summary["parameters"] == 3
    assert summary["in_sample"] == everything["in_sample"]
    assert summary["leave_one_episode_out"] == everything["leave_one_episode_out"]
    assert summary["baselines"] == {"uniform": everything["uniform"], "other": everything["other"]}
    assert summary["by_actor"] == {
        "KAZ": expected([0, 1, 3]),
        "RUS": expected([2]),
        "CHN": expected([4]),
    }
    assert list(summary["by_actor"]) == ["KAZ", "RUS", "CHN"]  # actors absent get no block
    # a check of the reference itself on one block: RUS held out at p = 1 for its choice
    assert summary["by_actor"]["RUS"]["leave_one_episode_out"] == {
        "log_loss": 0.0,
        "brier": 0.0,
        "accuracy": 1.0,
    }
    assert summary["baselines"]["uniform"]["log_loss"] == round(math.log(3), 4)
