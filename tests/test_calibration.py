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
    frequency,
    information,
    laplace_covariance,
    persistence,
    validate,
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

    Generic reactions are left out so the simulated path is the one the replay rebuilds, and so
    are the routine recorded votes: the synthetic truth covers only the library's episodes, and
    routine votes would keep their real recorded choices (the fit would then not be recovering
    ``truth`` alone).
    """
    library = replace(load_library(), reactions=(), recorded=())
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


def _obs(actor, choice, russia=None, options=VOTE_OPTIONS, episode="e", **fields):
    return Observation(
        0, 0, choice, episode, episode + "/vote", actor, options, True, russia, **fields
    )


def test_frequency_baseline_is_add_one_smoothed():
    training = [_obs("KAZ", 2), _obs("KAZ", 2), _obs("KAZ", 1), _obs("RUS", 0)]
    p = frequency(_obs("KAZ", 0), training)
    assert np.allclose(p, np.array([1, 2, 3]) / 6)


def test_vote_with_russia_baseline():
    with_russia = BASELINES["vote_with_russia"]
    training = [_obs("KAZ", 1, russia=1), _obs("KAZ", 2, russia=1), _obs("KAZ", 1, russia=1)]
    p = with_russia(_obs("KAZ", 0, russia=1), training)
    assert np.isclose(p[1], 3 / 5) and np.isclose(p.sum(), 1)
    assert np.isclose(p[0], p[2])
    # no Russian vote recorded: falls back to the actor's choice frequencies
    fallback = with_russia(_obs("KAZ", 0), training)
    assert np.allclose(fallback, frequency(_obs("KAZ", 0), training))


def test_vote_with_china_baseline_follows_china_not_russia():
    with_china = BASELINES["vote_with_china"]
    # KAZ voted with China in 2 of 3 votes where China's vote is recorded (Russia's differs)
    training = [
        _obs("KAZ", 0, russia=1, china=0),
        _obs("KAZ", 2, russia=1, china=2),
        _obs("KAZ", 1, russia=1, china=2),
        _obs("KAZ", 1, russia=1),  # China's vote not recorded: not counted
    ]
    p = with_china(_obs("KAZ", 0, russia=1, china=2), training)
    assert np.allclose(p, [1 / 5, 1 / 5, 3 / 5])  # (2 + 1) / (3 + 2) on China's abstention
    fallback = with_china(_obs("KAZ", 0, russia=1), training)
    assert np.allclose(fallback, frequency(_obs("KAZ", 0), training))


def test_persistence_baseline_repeats_the_last_choice_of_the_family():
    yes_no = ("yes", "no")
    training = [
        _obs("KAZ", 1, family="f"),
        _obs("KAZ", 1, family="f"),  # a repeat
        _obs("KAZ", 2, family="f"),  # a change
        _obs("KAZ", 0, family="g"),
        _obs("KAZ", 0, family="g"),  # a repeat
        _obs("KAZ", 0, options=yes_no, family="k"),
        _obs("KAZ", 0, family="k"),  # other options than last time: not a trial
        _obs("KAZ", 0),  # no family: not a trial
        _obs("RUS", 0, family="f"),  # another actor's choice: not KAZ's last in f
    ]
    # KAZ repeated itself in 2 of 3 trials: (2 + 1) / (3 + 2) on its last choice in f, abstain
    p = persistence(_obs("KAZ", 0, family="f"), training)
    assert np.allclose(p, [1 / 5, 1 / 5, 3 / 5])
    # a family never seen, no family, or other options than last time: the frequencies
    for unseen in (
        _obs("KAZ", 0, family="h"),
        _obs("KAZ", 0),
        _obs("KAZ", 0, options=yes_no, family="g"),
    ):
        assert np.allclose(persistence(unseen, training), frequency(unseen, training))
    assert set(BASELINES) == {
        "uniform",
        "frequency",
        "persistence",
        "vote_with_russia",
        "vote_with_china",
    }


@pytest.fixture(scope="module")
def precision_only(prior):
    """A one-parameter design, cross-validated: small enough to run in the test suite.

    The library's own episodes only: the ~1,000 routine recorded votes would make every replay
    several times slower, and these tests are about the folds over the library's episodes.
    """
    free = [Free("precision", None, None, float(np.log(prior.spec.choice.precision)), 1.0)]
    replay = Replay(free, prior, replace(load_library(), recorded=()))
    full = fit(replay)
    return free, replay, full, validate(replay, full, workers=2)


@pytest.mark.slow
def test_leave_one_episode_out_scores_every_choice_once(precision_only):
    free, replay, _, validation = precision_only
    summary = validation.summary(len(free))
    obs = replay.observations
    assert summary["decisions"] == len(obs) and summary["parameters"] == 1
    assert summary["episodes"] == len({o.episode for o in obs})
    # no routine votes in this library: every choice is in some fold, held out exactly once
    assert {o.category for o in obs} == {"salient", "episode"}
    assert summary["held_out_choices"] == len(obs)
    assert all(h is not None for h in validation.held_out)
    assert list(validation.fold_estimates) == list(dict.fromkeys(o.episode for o in obs))
    expected_uniform = float(np.mean([np.log(len(o.options)) for o in obs]))
    assert np.isclose(summary["baselines"]["uniform"]["log_loss"], expected_uniform, atol=1e-4)
    assert set(summary["baselines"]) == set(BASELINES)
    assert summary["by_actor"]["KAZ"]["choices"] == sum(o.actor == "KAZ" for o in obs)
    for category, block in summary["by_category"].items():
        assert block["choices"] == sum(o.category == category for o in obs), category
    assert sum(b["choices"] for b in summary["by_category"].values()) == len(obs)
    # held-out probabilities come from refits without the episode: they differ from in-sample
    pairs = zip(validation.in_sample, validation.held_out, strict=True)
    assert any(not np.allclose(a, b) for a, b in pairs)
    for block in (summary["in_sample"], summary["leave_one_episode_out"]):
        assert 0 < block["log_loss"] < 5 and 0 <= block["accuracy"] <= 1
        assert 0 <= block["brier"] <= 2
    # the model beats the uniform baseline on the held-out choices
    assert (
        summary["leave_one_episode_out"]["log_loss"] < summary["baselines"]["uniform"]["log_loss"]
    )
    assert INDEX["KAZ"] == 0


@pytest.mark.slow
def test_folds_do_not_depend_on_the_worker_count(precision_only):
    _, replay, full, validation = precision_only
    serial = validate(replay, full, workers=1)
    for a, b in zip(serial.held_out, validation.held_out, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.slow
def test_report_has_its_tables_and_figures(precision_only, prior, tmp_path):
    from multivector.analysis.calibration import Calibrated, rolling_origin
    from multivector.outputs.report import calibration_summary, write_report

    free, replay, full, validation = precision_only
    covariance = laplace_covariance(information(replay, full.estimate))
    # one origin year keeps the out-of-time part short
    out_of_time = rolling_origin(free, prior, replay.library, (2016,))
    calibrated = Calibrated(
        "shared",
        free,
        full,
        covariance,
        validation,
        out_of_time,
        replay,
        {
            "shared": {
                "parameters": 1,
                "in_sample": validation.summary(1)["in_sample"],
                "rolling_origin": out_of_time.summary()["all"]["model"],
            }
        },
    )
    summary = calibration_summary(calibrated, tmp_path / "calibrated.toml", "0" * 64)
    written = write_report(summary, calibrated, tmp_path)
    text = (tmp_path / "report.md").read_text()
    for heading in (
        "## Out of time (rolling origin)",
        "### Reliability of the out-of-time forecasts",
        "## Leave one episode out (the library's episodes)",
        "## Designs compared",
        "## Estimates (Laplace approximation)",
        "## Figures",
    ):
        assert heading in text, heading
    assert summary["rolling_origin"]["origins"] == [2016]
    assert f"{summary['rolling_origin']['all']['model']['log_loss']:.3f}" in text
    # Kazakhstan's leave-one-out row: its held-out choices, in-sample then held-out cells
    kaz = summary["leave_one_episode_out"]["by_actor"]["KAZ"]
    cells = [
        f"{kaz[n]['log_loss']:.3f} / {kaz[n]['brier']:.3f} / {kaz[n]['accuracy']:.2f}"
        for n in ("in_sample", "leave_one_episode_out")
    ]
    assert f"| KAZ | {kaz['choices']} | {cells[0]} | {cells[1]} |" in text
    # the out-of-time forecasts are 2016's choices, fitted on those before it
    assert {o.year for o in out_of_time.observations} == {2016}
    assert out_of_time.trained[2016] == sum(o.year < 2016 for o in replay.observations)
    assert summary["decisions"] == len(replay.observations)
    assert summary["by_category"] == {
        "routine": 0,
        "salient": sum(o.category == "salient" for o in replay.observations),
        "episode": sum(o.category == "episode" for o in replay.observations),
    }
    names = {"weights.png", "reliability.png", "by_year.png", "choice_probabilities.png"}
    assert written[0] == tmp_path / "report.md" and {p.name for p in written[1:]} == names
    for path in written[1:]:
        assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 20_000, path
    assert summary["estimates"]["precision"]["sd"] > 0
    assert summary["fitted_before"] is None


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
    more weight than the other episodes justify. A routine recorded vote is never a fold: it is
    in every training set and is never held out.
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
        _obs("RUS", 1, episode="r", category="routine"),  # a routine vote: Russia no
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

    # one refit per library episode (none for the routine vote), each leaving out exactly its
    # own episode's choices and scored only on those
    assert list(fits) == episodes and list(validation.fold_estimates) == episodes
    for episode in episodes:
        assert list(fits[episode]) == [o.episode != episode for o in obs], episode
    assert validation.held_out[7] is None
    assert all(values[7] is None for values in validation.baselines.values())
    assert np.allclose(validation.in_sample[7], np.array([1, 1, 1]) / 3)
    for i, o in enumerate(obs[:7]):
        k = episodes.index(o.episode) + 1
        assert np.allclose(validation.held_out[i], np.array([k + 1, 1, 1]) / (k + 3)), i
        assert np.allclose(validation.in_sample[i], np.array([1, 1, 1]) / 3), i

    # frequency, add-one smoothed over yes/no/abstain, from KAZ's choices elsewhere:
    #   odd: no 1, abstain 3 (e1 e2 e3; e4)      -> (1, 2, 4) / 7   [with odd: (3, 2, 4) / 9]
    #   e4: yes 2 (odd), abstain 3                -> (3, 1, 4) / 8
    #   e1: yes 2, abstain 2 (e2 e3), no 1        -> (3, 2, 3) / 8
    frequent = validation.baselines["frequency"]
    assert np.allclose(frequent[0], np.array([1, 2, 4]) / 7)
    assert np.allclose(frequent[1], np.array([1, 2, 4]) / 7)
    assert np.allclose(frequent[6], np.array([3, 1, 4]) / 8)
    assert np.allclose(frequent[2], np.array([3, 2, 3]) / 8)
    # RUS's only other choice is the routine vote's no, which every fold trains on
    assert np.allclose(frequent[3], np.array([1, 2, 1]) / 4)

    # vote with Russia: KAZ's votes elsewhere where Russia's is recorded, and how many matched
    #   odd: e1 e2 e4, one match (e4)             -> (1 + 1) / (3 + 2) = 2/5 on Russia's yes
    #   e4: odd x2 e1 e2, two matches (odd)       -> (2 + 1) / (4 + 2) = 1/2 on Russia's no
    russia = validation.baselines["vote_with_russia"]
    assert np.allclose(russia[0], [2 / 5, 3 / 10, 3 / 10])
    assert np.allclose(russia[6], [1 / 4, 1 / 2, 1 / 4])
    # e3: Russia's vote not recorded, so the most frequent choice elsewhere
    #   (yes 2, no 1, abstain 2)                  -> (3, 2, 3) / 8
    assert np.allclose(russia[5], np.array([3, 2, 3]) / 8)
    assert all(np.allclose(p, 1 / 3) for p in validation.baselines["uniform"][:7])
    # no family and no Chinese vote recorded: persistence and vote-with-China fall back to the
    # same frequencies
    for name in ("persistence", "vote_with_china"):
        for i in range(7):
            assert np.allclose(validation.baselines[name][i], frequent[i]), (name, i)


@pytest.mark.slow
def test_held_out_baselines_of_the_record_use_the_other_episodes_only(precision_only):
    """On the real record: each held-out frequency baseline is the add-one smoothed count of
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
        assert np.allclose(validation.baselines["frequency"][i], expected / expected.sum()), o
