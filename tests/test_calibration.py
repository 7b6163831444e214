"""Calibration: the fit recovers known weights; validation and baselines are honest."""

from dataclasses import replace

import numpy as np
import pytest

from multivector.actors import ACTORS, INDEX
from multivector.analysis.calibration import (
    BASELINES,
    Observation,
    Replay,
    fit,
    information,
    laplace_covariance,
    most_frequent,
    validate,
    with_russia,
)
from multivector.core.model import MultivectorModel
from multivector.inputs.library import VOTE_OPTIONS, load_library
from multivector.inputs.parameters import DOCUMENTED_DEFAULTS, load_parameters
from multivector.inputs.uncertainty import Free, parameter_sets

TRUE = {"precision": np.log(2.5), "stake": 2.2, "autonomy": 1.6, "principle": 1.3}


@pytest.fixture(scope="module")
def prior():
    return load_parameters(DOCUMENTED_DEFAULTS)


def _free(prior):
    shared = prior.spec.weights.model_dump()
    free = [Free("precision", None, None, float(np.log(prior.spec.choice.precision)), 1.0)]
    return free + [Free(t, None, t, shared[t], 2.0) for t in ("stake", "autonomy", "principle")]


def synthetic_library(prior, free, truth, seed):
    """The library with every decider's choice replaced by a draw from the model at ``truth``.

    Generic reactions are left out so the simulated path is the one the replay rebuilds.
    """
    library = replace(load_library(), reactions=())
    from multivector.runs.replay import history_scenario

    model = MultivectorModel(
        history_scenario(),
        replicates=1,
        rng=seed,
        parameters=prior,
        library=library,
        parameter_sets=parameter_sets(free, truth[None], prior),
    ).run()
    chosen = {}
    for record in model.recorder.decisions:
        if record.posed[0]:
            names = record.decision.options
            chosen[record.decision.key] = {
                code: names[record.choices[0, row]]
                for row, code in enumerate(record.decision.deciders)
            }
    episodes = {}
    for episode in library.episodes.values():
        if episode.kind == "un_vote":
            votes = {ACTORS[i]: v for i, v in chosen.get(f"{episode.id}/vote", {}).items()}
            episodes[episode.id] = episode.model_copy(update={"observed": votes})
        else:
            decisions = []
            for d in episode.decision:
                made = chosen.get(f"{episode.id}/{d.name}", {})
                observed = {ACTORS[i]: v for i, v in made.items()}
                decisions.append(d.model_copy(update={"observed": observed}))
            episodes[episode.id] = episode.model_copy(update={"decision": decisions})
    return replace(library, episodes=episodes)


def test_fit_recovers_known_weights(prior):
    free = _free(prior)
    truth = np.array([TRUE[f.name] for f in free])
    estimates = []
    for seed in (1, 2):
        library = synthetic_library(prior, free, truth, seed)
        replay = Replay(free, prior, library)
        assert len(replay.observations) > 100
        result = fit(replay)
        sd = np.sqrt(np.diag(laplace_covariance(information(replay, result.estimate))))
        # every true value inside the 99.7% Laplace interval
        assert (np.abs(result.estimate - truth) < 3 * sd).all(), (result.estimate, truth, sd)
        # the fit is at least as likely as the truth
        at_truth = replay.log_likelihoods(truth[None])[0].sum()
        assert result.log_likelihood >= at_truth - 1e-6
        estimates.append(result.estimate)
    # averaged over two histories, closer to the truth than the prior means are
    prior_means = np.array([f.prior_mean for f in free])
    mean = np.mean(estimates, axis=0)
    assert np.abs(mean - truth).sum() < np.abs(prior_means - truth).sum()


def _obs(actor, choice, russia=None, options=VOTE_OPTIONS, episode="e"):
    return Observation(0, 0, choice, episode, episode + "/vote", actor, options, True, russia)


def test_most_frequent_baseline_is_add_one_smoothed():
    training = [_obs("KAZ", 2), _obs("KAZ", 2), _obs("KAZ", 1), _obs("RUS", 0)]
    p = most_frequent(_obs("KAZ", 0), training)
    assert np.allclose(p, np.array([1, 2, 3]) / 6)


def test_vote_with_russia_baseline():
    training = [_obs("KAZ", 1, russia=1), _obs("KAZ", 2, russia=1), _obs("KAZ", 1, russia=1)]
    p = with_russia(_obs("KAZ", 0, russia=1), training)
    assert np.isclose(p[1], 3 / 5) and np.isclose(p.sum(), 1)
    assert np.isclose(p[0], p[2])
    # no Russian vote recorded: falls back to the most frequent choice
    fallback = with_russia(_obs("KAZ", 0), training)
    assert np.allclose(fallback, most_frequent(_obs("KAZ", 0), training))


@pytest.fixture(scope="module")
def precision_only(prior):
    """A one-parameter design, cross-validated: small enough to run in the test suite."""
    free = [Free("precision", None, None, float(np.log(prior.spec.choice.precision)), 1.0)]
    replay = Replay(free, prior, load_library())
    full = fit(replay)
    return free, replay, full, validate(replay, full, workers=2)


@pytest.mark.slow
def test_leave_one_episode_out_scores_every_choice_once(precision_only):
    free, replay, _, validation = precision_only
    summary = validation.summary(len(free))
    obs = replay.observations
    assert summary["decisions"] == len(obs) and summary["parameters"] == 1
    assert summary["episodes"] == len({o.episode for o in obs})
    expected_uniform = float(np.mean([np.log(len(o.options)) for o in obs]))
    assert np.isclose(summary["baselines"]["uniform"]["log_loss"], expected_uniform, atol=1e-4)
    assert set(summary["baselines"]) == set(BASELINES)
    assert summary["by_actor"]["KAZ"]["decisions"] == sum(o.actor == "KAZ" for o in obs)
    # held-out probabilities come from refits without the episode: they differ from in-sample
    pairs = zip(validation.in_sample, validation.held_out, strict=True)
    assert any(not np.allclose(a, b) for a, b in pairs)
    for block in (summary["in_sample"], summary["leave_one_episode_out"]):
        assert 0 < block["log_loss"] < 5 and 0 <= block["accuracy"] <= 1
    assert INDEX["KAZ"] == 0


@pytest.mark.slow
def test_folds_do_not_depend_on_the_worker_count(precision_only):
    _, replay, full, validation = precision_only
    serial = validate(replay, full, workers=1)
    for a, b in zip(serial.held_out, validation.held_out, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.slow
def test_report_has_its_tables_and_figures(precision_only, prior, tmp_path):
    from multivector.analysis.calibration import Calibrated
    from multivector.outputs.report import calibration_summary, write_report

    free, replay, full, validation = precision_only
    covariance = laplace_covariance(information(replay, full.estimate))
    calibrated = Calibrated(
        "shared",
        free,
        full,
        covariance,
        validation,
        replay,
        {
            "shared": {
                "parameters": 1,
                "in_sample": validation.summary(1)["in_sample"],
                "leave_one_episode_out": validation.summary(1)["leave_one_episode_out"],
            }
        },
    )
    summary = calibration_summary(calibrated, tmp_path / "calibrated.toml", "0" * 64)
    written = write_report(summary, calibrated, tmp_path)
    text = (tmp_path / "report.md").read_text()
    for heading in ("## All decisions", "## By decider", "## Estimates", "## Reliability"):
        assert heading in text
    assert f"{summary['leave_one_episode_out']['log_loss']:.3f}" in text
    for path in written[1:]:
        assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 20_000
    assert summary["estimates"]["precision"]["sd"] > 0


class _FakeReplay:
    """A replay stand-in: given observations; probabilities encode the estimate they come from."""

    def __init__(self, observations):
        self.observations = observations

    def probabilities(self, points):
        k = float(points[0, 0])
        return [np.array([[k + 1.0, 1.0, 1.0]]) / (k + 3.0) for _ in self.observations]


def test_baselines_and_refits_never_see_the_held_out_episode(monkeypatch):
    """Leave-one-episode-out: each held-out choice is scored by baselines fitted on the other
    episodes alone (counted by hand here) and by a refit told to leave that episode out.

    KAZ votes yes only in the episode "odd" (twice), so any rule trained with it would give yes
    more weight than the other episodes justify.
    """
    from types import SimpleNamespace

    import multivector.analysis.calibration as calibration

    obs = [
        _obs("KAZ", 0, russia=0, episode="odd"),  # yes, with Russia
        Observation(1, 0, 0, "odd", "odd/second", "KAZ", VOTE_OPTIONS, True, 0),
        _obs("KAZ", 2, russia=1, episode="e1"),  # abstain; Russia no
        _obs("RUS", 1, episode="e1"),
        _obs("KAZ", 2, russia=1, episode="e2"),  # abstain; Russia no
        _obs("KAZ", 2, episode="e3"),  # abstain; Russia's vote not recorded
        _obs("KAZ", 1, russia=1, episode="e4"),  # no, with Russia
    ]
    episodes = ["odd", "e1", "e2", "e3", "e4"]
    fits = {}

    def fake_fit(replay, include=None, start=None):
        held = {o.episode for o, kept in zip(replay.observations, include, strict=True) if not kept}
        assert len(held) == 1
        [episode] = held
        fits[episode] = include.copy()
        return SimpleNamespace(estimate=np.array([float(episodes.index(episode) + 1)]))

    monkeypatch.setattr(calibration, "fit", fake_fit)
    validation = validate(_FakeReplay(obs), SimpleNamespace(estimate=np.array([0.0])), workers=1)

    # each refit left out exactly its own episode's choices, and scored only those
    for episode in episodes:
        assert list(fits[episode]) == [o.episode != episode for o in obs], episode
    for i, o in enumerate(obs):
        k = episodes.index(o.episode) + 1
        assert np.allclose(validation.held_out[i], np.array([k + 1, 1, 1]) / (k + 3)), i
        assert np.allclose(validation.in_sample[i], np.array([1, 1, 1]) / 3), i

    # most frequent, add-one smoothed over yes/no/abstain, from KAZ's choices elsewhere:
    #   odd: no 1, abstain 3 (e1 e2 e3; e4)      -> (1, 2, 4) / 7   [with odd: (3, 2, 4) / 9]
    #   e4: yes 2 (odd), abstain 3                -> (3, 1, 4) / 8
    #   e1: yes 2, abstain 2 (e2 e3), no 1        -> (3, 2, 3) / 8
    frequent = validation.baselines["most_frequent"]
    assert np.allclose(frequent[0], np.array([1, 2, 4]) / 7)
    assert np.allclose(frequent[1], np.array([1, 2, 4]) / 7)
    assert np.allclose(frequent[6], np.array([3, 1, 4]) / 8)
    assert np.allclose(frequent[2], np.array([3, 2, 3]) / 8)
    # RUS has no other choice recorded: uniform after smoothing
    assert np.allclose(frequent[3], np.full(3, 1 / 3))

    # vote with Russia: KAZ's votes elsewhere where Russia's is recorded, and how many matched
    #   odd: e1 e2 e4, one match (e4)             -> (1 + 1) / (3 + 2) = 2/5 on Russia's yes
    #   e4: odd x2 e1 e2, two matches (odd)       -> (2 + 1) / (4 + 2) = 1/2 on Russia's no
    russia = validation.baselines["vote_with_russia"]
    assert np.allclose(russia[0], [2 / 5, 3 / 10, 3 / 10])
    assert np.allclose(russia[6], [1 / 4, 1 / 2, 1 / 4])
    # e3: Russia's vote not recorded, so the most frequent choice elsewhere
    #   (yes 2, no 1, abstain 2)                  -> (3, 2, 3) / 8
    assert np.allclose(russia[5], np.array([3, 2, 3]) / 8)
    assert all(np.allclose(p, 1 / 3) for p in validation.baselines["uniform"])


@pytest.mark.slow
def test_held_out_baselines_of_the_record_use_the_other_episodes_only(precision_only):
    """On the real record: each held-out most-frequent baseline is the add-one smoothed count of
    the decider's choices in the other episodes."""
    _, replay, _, validation = precision_only
    obs = replay.observations
    for i, o in enumerate(obs):
        counts = dict.fromkeys(o.options, 1.0)
        for other in obs:
            if other.actor == o.actor and other.episode != o.episode:
                name = other.options[other.choice]
                if name in counts:
                    counts[name] += 1.0
        expected = np.array([counts[name] for name in o.options])
        assert np.allclose(validation.baselines["most_frequent"][i], expected / expected.sum()), o
