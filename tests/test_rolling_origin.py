"""Rolling origin: the fit never sees the year it forecasts; baselines and reliability by hand."""

import dataclasses

import numpy as np
import pytest

from multivector.analysis import calibration
from multivector.analysis.calibration import (
    BASELINES,
    Fit,
    Observation,
    frequency,
    origin_replay,
    persistence,
    reliability,
)
from multivector.calendar import month_index
from multivector.inputs.library import load_library
from multivector.inputs.parameters import DOCUMENTED_DEFAULTS, load_parameters
from multivector.inputs.uncertainty import design

VOTE = ("yes", "no", "abstain")
FLIP = {"yes": "no", "no": "yes", "abstain": "yes"}


@pytest.fixture(scope="module")
def prior():
    return load_parameters(DOCUMENTED_DEFAULTS)


@pytest.fixture(scope="module")
def free(prior):
    return design("shared", prior)


def _at_prior_means(replay) -> np.ndarray:
    return np.array([f.prior_mean for f in replay.free])


@pytest.fixture
def no_optimiser(monkeypatch):
    """Replace the fit by one that records what it was given and returns the prior means."""
    calls = []

    def recording_fit(replay, include=None, start=None):
        calls.append((list(replay.observations), np.array(include, dtype=bool)))
        return Fit(_at_prior_means(replay), 0.0, 0.0, 0)

    monkeypatch.setattr(calibration, "fit", recording_fit)
    return calls


# --- the split ----------------------------------------------------------------------------


def test_the_fit_never_sees_a_choice_it_is_scored_on(no_optimiser, free, prior):
    year, estimate, tested, probabilities, training = calibration._forecast_origin(
        free, prior, load_library(), 2023
    )
    assert year == 2023
    assert len(no_optimiser) == 1
    seen, include = no_optimiser[0]
    assert len(include) == len(seen)
    first = month_index(2023, 1)
    included = [o for o, keep in zip(seen, include, strict=True) if keep]
    assert included and tested
    assert all(o.month < first for o in included)
    assert all(o.year == 2023 for o in tested)
    assert set(included).isdisjoint(tested)
    # every choice of the year is forecast, and one probability vector per choice
    assert len(tested) == sum(o.year == 2023 for o in seen)
    assert len(probabilities) == len(tested)
    assert all(p.shape == (len(o.options),) for p, o in zip(probabilities, tested, strict=True))
    # the baselines are trained on exactly what the fit saw
    assert training == included
    assert all(o.month < first for o in training)
    assert np.array_equal(estimate, np.array([f.prior_mean for f in free]))


def test_the_baselines_of_an_origin_train_on_its_past_only(no_optimiser, free, prior, monkeypatch):
    trained_on = []

    def probe(observation, training):
        trained_on.append(list(training))
        return np.full(len(observation.options), 1.0 / len(observation.options))

    monkeypatch.setitem(BASELINES, "probe", probe)
    out = calibration.rolling_origin(free, prior, load_library(), years=(2023,))
    first = month_index(2023, 1)
    assert trained_on and len(trained_on) == len(out.observations)
    assert all(o.month < first for training in trained_on for o in training)
    assert all(o.year == 2023 for o in out.observations)
    assert out.trained[2023] == len(trained_on[0])
    assert all(training == trained_on[0] for training in trained_on)
    assert set(trained_on[0]).isdisjoint(out.observations)


# --- the forecast of a year does not see the year -------------------------------------------


def _flip_kaz(library, year):
    """The library with Kazakhstan's recorded routine votes of ``year`` changed."""
    recorded, flipped = [], 0
    for posed in library.recorded:
        if posed.row.date.year == year and "KAZ" in posed.episode.observed:
            observed = dict(posed.episode.observed)
            observed["KAZ"] = FLIP[observed["KAZ"]]
            episode = posed.episode.model_copy(update={"observed": observed})
            posed = dataclasses.replace(posed, episode=episode)
            flipped += 1
        recorded.append(posed)
    assert flipped > 0
    return dataclasses.replace(library, recorded=tuple(recorded)), flipped


@pytest.fixture(scope="module")
def forecasts_2022(free, prior):
    """The 2022 origin's replay and its probabilities, on the library and two altered ones."""
    library = load_library()
    out = {}
    for label, altered, flipped in [
        ("record", library, 0),
        *[(f"flip {y}", *_flip_kaz(library, y)) for y in (2022, 2021)],
    ]:
        replay = origin_replay(free, prior, altered, 2022)
        out[label] = (replay, replay.probabilities(_at_prior_means(replay)[None]), flipped)
    return out


def test_the_forecast_of_a_year_ignores_that_years_recorded_votes(forecasts_2022):
    replay, probabilities, _ = forecasts_2022["record"]
    other, other_probabilities, flipped = forecasts_2022["flip 2022"]
    assert len(other.observations) == len(replay.observations)
    year = [i for i, o in enumerate(replay.observations) if o.year == 2022]
    assert year
    changed = 0
    for i in year:
        a, b = replay.observations[i], other.observations[i]
        assert (a.decision, a.actor) == (b.decision, b.actor)
        changed += a.choice != b.choice
        assert np.array_equal(probabilities[i], other_probabilities[i]), a.decision
    # the altered record did reach the replay: every flipped vote is a changed 2022 choice
    assert changed == flipped


def test_control_changing_the_year_before_does_move_the_forecast(forecasts_2022):
    replay, probabilities, _ = forecasts_2022["record"]
    other, other_probabilities, flipped = forecasts_2022["flip 2021"]
    changed = sum(
        a.choice != b.choice for a, b in zip(replay.observations, other.observations, strict=True)
    )
    assert changed == flipped
    year = [i for i, o in enumerate(replay.observations) if o.year == 2022]
    moved = max(float(np.abs(probabilities[i] - other_probabilities[i]).max()) for i in year)
    assert moved > 1e-6, "the 2022 forecast does not depend on the imposed 2021 votes"


# --- baselines by hand --------------------------------------------------------------------


def vote(actor, choice, family="", month=0, china=None, russia=None, options=VOTE):
    return Observation(
        record=month,
        row=0,
        choice=options.index(choice),
        episode=f"e{month}",
        decision=f"e{month}/vote",
        actor=actor,
        options=options,
        is_vote=options == VOTE,
        russia=None if russia is None else options.index(russia),
        china=None if china is None else options.index(china),
        month=month,
        category="routine",
        family=family,
    )


TRAINING = [
    vote("KAZ", "yes", "f1", 0, china="yes"),
    vote("KAZ", "yes", "f1", 1, china="no"),
    vote("KAZ", "no", "f2", 2, china="no"),
    vote("KAZ", "no", "f2", 3),
    vote("KAZ", "abstain", "f1", 4, china="abstain"),
    vote("RUS", "no", "f1", 5, china="no"),
    vote("RUS", "no", "f3", 6, china="no"),
]
"""KAZ: 2 yes, 2 no, 1 abstain; it repeated itself twice in three returns to a family (f1 yes
after yes, f2 no after no, f1 abstain after yes); it voted with China in 3 of its 4 votes where
China's vote is known."""


def test_persistence_backs_the_last_choice_in_the_family():
    p = persistence(vote("KAZ", "yes", "f1", 9), TRAINING)
    rate = (2 + 1) / (3 + 2)
    assert p == pytest.approx([(1 - rate) / 2, (1 - rate) / 2, rate])
    assert int(np.argmax(p)) == VOTE.index("abstain")  # f1's last choice, not KAZ's usual one


def test_persistence_falls_back_to_frequency_for_a_new_family():
    target = vote("KAZ", "yes", "f9", 9)
    p = persistence(target, TRAINING)
    assert p == pytest.approx(frequency(target, TRAINING))
    assert p == pytest.approx(np.array([3.0, 3.0, 2.0]) / 8)  # add-one counts of KAZ alone
    # another actor's last choice in f1 is not Kazakhstan's
    assert persistence(vote("KAZ", "yes", "f3", 9), TRAINING) == pytest.approx(p)


def test_vote_with_china_follows_chinas_vote():
    rule = BASELINES["vote_with_china"]
    rate = (3 + 1) / (4 + 2)
    for china in VOTE:
        p = rule(vote("KAZ", "yes", "f1", 9, china=china), TRAINING)
        assert int(np.argmax(p)) == VOTE.index(china)
        assert p[VOTE.index(china)] == pytest.approx(rate)
        assert p.sum() == pytest.approx(1.0)
    unknown = vote("KAZ", "yes", "f1", 9)
    assert rule(unknown, TRAINING) == pytest.approx(frequency(unknown, TRAINING))


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_every_baseline_is_a_distribution(name):
    rule = BASELINES[name]
    targets = [
        vote("KAZ", "yes", "f1", 9, china="no", russia="abstain"),
        vote("KAZ", "no", "f9", 9),
        vote("CHN", "abstain", "f1", 9, russia="no"),
        vote("USA", "yes", "", 9),
        vote("KAZ", "b", "thread", 9, options=("a", "b")),
    ]
    for target in targets:
        for training in (TRAINING, []):
            p = np.asarray(rule(target, training))
            assert p.shape == (len(target.options),)
            assert (p >= 0).all() and p.sum() == pytest.approx(1.0), (name, target)


# --- reliability by hand ------------------------------------------------------------------


def test_reliability_bins_count_and_average_by_hand():
    probabilities = [
        np.array([0.04, 0.11, 0.85]),
        np.array([0.12, 0.13, 0.75]),
        np.array([0.0, 0.0, 1.0]),
    ]
    chosen = [vote("KAZ", "abstain"), vote("KAZ", "yes"), vote("KAZ", "abstain")]
    table = reliability(probabilities, chosen)
    assert len(table) == 10
    assert [row["bin"] for row in table] == [
        [round(k / 10, 2), round((k + 1) / 10, 2)] for k in range(10)
    ]
    expected = {
        0: (3, (0.04 + 0.0 + 0.0) / 3, 0.0),  # 0.04, and the two zeros (none chosen)
        1: (3, (0.11 + 0.12 + 0.13) / 3, 1 / 3),  # 0.12 was chosen
        7: (1, 0.75, 0.0),
        8: (1, 0.85, 1.0),
        9: (1, 1.0, 1.0),  # a certain forecast falls in the top bin
    }
    assert sum(row["forecasts"] for row in table) == 9
    for k, row in enumerate(table):
        if k in expected:
            count, mean, observed = expected[k]
            assert row["forecasts"] == count, k
            assert row["mean_forecast"] == pytest.approx(mean, abs=1e-4), k
            assert row["observed"] == pytest.approx(observed, abs=1e-4), k
        else:
            assert (row["forecasts"], row["mean_forecast"], row["observed"]) == (0, None, None)
