"""Leave-one-episode-out validation on a replay with an analytic likelihood: the folds are the
maximum a posteriori fits of the other episodes (found here independently), progress is
reported once per fold, and ``workers > 1`` runs the folds in freshly started processes with
the same result.

The stand-in replay is defined at module level so the worker processes can unpickle it; it
gives option o of choice k the logit probability ``exp(theta x_ko) / sum_o' exp(theta x_ko')``.
"""

import os

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import multivector.analysis.calibration as calibration
from multivector.analysis.calibration import Free, Observation, Replay, validate

OPTIONS = ("yes", "no", "abstain")
# (episode, actor, choice, features x_k)
CHOICES = [
    ("e1", "KAZ", 0, (1.0, 0.0, 0.2)),
    ("e1", "RUS", 1, (0.0, 0.8, 0.3)),
    ("e2", "KAZ", 2, (0.5, 0.0, 0.9)),
    ("e2", "KAZ", 0, (0.2, 1.0, 0.0)),
    ("e3", "CHN", 1, (0.3, 0.6, 0.0)),
    ("e3", "KAZ", 0, (0.9, 0.1, 0.4)),
]
PRIOR_MEAN, PRIOR_SD = 1.0, 1.0
FORK_GUARD = {"test_process": None}
"""Set by a test to its own pid; a forked worker would inherit it, a spawned one does not."""


class AnalyticReplay:
    """What :func:`multivector.analysis.calibration.fit` and :func:`validate` use of a replay."""

    def __init__(self):
        self.free = [Free("autonomy", None, "autonomy", PRIOR_MEAN, PRIOR_SD)]
        self.observations = [
            Observation(k, 0, c, e, f"{e}/vote", a, OPTIONS, True, None)
            for k, (e, a, c, _) in enumerate(CHOICES)
        ]
        self.features = [np.array(x) for *_, x in CHOICES]

    def probabilities(self, points):
        test_process = FORK_GUARD["test_process"]
        if test_process is not None and os.getpid() != test_process:
            raise RuntimeError("a fold ran in a fork of the test process, not a fresh one")
        out = []
        for x in self.features:
            logits = points[:, :1] * x[None, :]
            weights = np.exp(logits - logits.max(axis=1, keepdims=True))
            out.append(weights / weights.sum(axis=1, keepdims=True))
        return out

    log_likelihoods = Replay.log_likelihoods
    prior_log_density = Replay.prior_log_density


def softmax(theta: float, x) -> list[float]:
    weights = [float(np.exp(theta * v)) for v in x]
    return [w / sum(weights) for w in weights]


def reference_map(training: list[int]) -> float:
    """The posterior mode of theta from the given choices, in the optimiser's bounds (0, 6)."""

    def negative_log_posterior(theta):
        loglik = sum(np.log(softmax(theta, CHOICES[k][3])[CHOICES[k][2]]) for k in training)
        return -loglik + 0.5 * ((theta - PRIOR_MEAN) / PRIOR_SD) ** 2

    return minimize_scalar(negative_log_posterior, bounds=(0.0, 6.0), method="bounded").x


class Recorder:
    def __init__(self):
        self.fits, self.progress = [], []

    def fit(self, replay, include=None, start=None):
        self.fits.append((include.copy(), None if start is None else start.copy()))
        return REAL_FIT(replay, include=include, start=start)

    def report(self, done, total):
        self.progress.append((done, total))


REAL_FIT = calibration.fit
EPISODES = ["e1", "e2", "e3"]


@pytest.fixture(scope="module")
def replay_and_full():
    replay = AnalyticReplay()
    full = REAL_FIT(replay)
    assert np.isclose(full.estimate[0], reference_map(list(range(len(CHOICES)))), atol=1e-4)
    return replay, full


# function scope: mutmut credits a call to validate to the test that makes it, so each test
# that reads the serial validation runs it itself (it takes milliseconds on the stand-in)
@pytest.fixture
def serial(replay_and_full):
    replay, full = replay_and_full
    recorder = Recorder()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(calibration, "fit", recorder.fit)
        validation = validate(replay, full, progress=recorder.report)  # workers defaults to 1
    return recorder, validation


def test_each_fold_is_the_posterior_mode_without_its_episode(replay_and_full, serial):
    replay, full = replay_and_full
    recorder, validation = serial
    assert validation.observations is replay.observations
    assert list(validation.fold_estimates) == EPISODES
    for episode in EPISODES:
        training = [k for k, c in enumerate(CHOICES) if c[0] != episode]
        mode = reference_map(training)
        assert np.isclose(validation.fold_estimates[episode][0], mode, atol=1e-4), episode
        for k, choice in enumerate(CHOICES):
            if choice[0] == episode:
                assert np.allclose(validation.held_out[k], softmax(mode, choice[3]), atol=1e-4)
    for k, choice in enumerate(CHOICES):
        assert np.allclose(validation.in_sample[k], softmax(full.estimate[0], choice[3]))
    # the fold modes differ from each other and from the full fit: the test can see a mix-up
    modes = [validation.fold_estimates[e][0] for e in EPISODES] + [full.estimate[0]]
    assert min(np.diff(sorted(modes))) > 0.01


def test_serial_folds_run_here_start_from_the_full_fit_and_report_progress(replay_and_full, serial):
    _, full = replay_and_full
    recorder, _ = serial
    assert len(recorder.fits) == len(EPISODES)  # the default is one worker: this process
    for (include, start), episode in zip(recorder.fits, EPISODES, strict=True):
        assert list(include) == [c[0] != episode for c in CHOICES]
        assert start is not None and np.array_equal(start, full.estimate)
    assert recorder.progress == [(1, 3), (2, 3), (3, 3)]


def test_worker_processes_are_fresh_and_give_the_serial_result(
    replay_and_full, serial, monkeypatch
):
    replay, full = replay_and_full
    _, expected = serial
    recorder = Recorder()
    monkeypatch.setattr(calibration, "fit", recorder.fit)
    monkeypatch.setitem(FORK_GUARD, "test_process", os.getpid())
    validation = validate(replay, full, progress=recorder.report, workers=2)
    assert recorder.fits == []  # no fold was fitted in this process
    assert sorted(recorder.progress) == [(1, 3), (2, 3), (3, 3)]
    assert [d for d, _ in recorder.progress] == [1, 2, 3]
    assert list(validation.fold_estimates) == EPISODES
    for episode in EPISODES:
        assert np.array_equal(validation.fold_estimates[episode], expected.fold_estimates[episode])
    for a, b in zip(validation.held_out, expected.held_out, strict=True):
        assert np.array_equal(a, b)
    for name, values in expected.baselines.items():
        for a, b in zip(validation.baselines[name], values, strict=True):
            assert np.array_equal(a, b)
