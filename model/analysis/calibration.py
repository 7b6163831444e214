"""Calibration: fit the utility weights and choice precision to the documented choices.

The data are the choices the episode library documents. The likelihood of a parameter vector is
the probability the model gives each documented choice at the state the record itself produced
(a replay of the record: documented choices imposed, undocumented ones acting through their
expected consequences). The fit maximises that likelihood times a weak Gaussian prior centred on
the documented defaults (scipy's L-BFGS-B), and keeps a Laplace approximation of the posterior
(the posterior precision from per-episode scores) so runs can draw parameters from it.

Every evaluation is one batched replay: the replicate axis carries parameter vectors, so a
finite-difference gradient (2n + 1 vectors) costs one model run.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from multivector.actors import ACTORS, INDEX
from multivector.core.model import MultivectorModel
from multivector.inputs.library import Library, load_library
from multivector.inputs.parameters import DOCUMENTED_DEFAULTS, Parameters, load_parameters
from multivector.inputs.scenario import Scenario
from multivector.inputs.uncertainty import DESIGNS, Free, design, parameter_sets
from multivector.runs.replay import history_scenario, replay_record

STEP = 1e-5
"""Finite-difference step in parameter space."""
PROBABILITY_FLOOR = 1e-12


@dataclass(frozen=True)
class Observation:
    """One documented choice: a decider's recorded option in a decision.

    Attributes:
        record: Position of the decision in the replay's records.
        row: The decider's row in the record.
        choice: The recorded option.
        episode: Episode id (the unit left out in cross-validation).
        decision: Decision key.
        actor: Decider code.
        options: Option names.
        is_vote: Whether it is a UN vote.
        russia: Russia's recorded option in the same vote, if any.
    """

    record: int
    row: int
    choice: int
    episode: str
    decision: str
    actor: str
    options: tuple[str, ...]
    is_vote: bool
    russia: int | None


@dataclass
class Replay:
    """Batched replays of the documented record for parameter vectors of one design."""

    free: list[Free]
    prior: Parameters
    library: Library
    scenario: Scenario = field(default_factory=history_scenario)
    observations: list[Observation] = field(init=False)
    evaluations: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        model = self.run(np.array([[f.prior_mean for f in self.free]]))
        self.observations = observations(model)

    def run(self, points: np.ndarray) -> MultivectorModel:
        """Replay the record once with one parameter vector per replicate."""
        self.evaluations += len(points)
        sets = parameter_sets(self.free, points, self.prior)
        return replay_record(self.prior, self.library, sets, scenario=self.scenario)

    def probabilities(self, points: np.ndarray) -> list[np.ndarray]:
        """Each documented choice's option probabilities at each point: (K, O) per observation."""
        records = self.run(points).recorder.decisions
        return [records[o.record].probabilities[:, o.row] for o in self.observations]

    def log_likelihoods(self, points: np.ndarray) -> np.ndarray:
        """Log-probability of each documented choice at each point, shape (K, N)."""
        probabilities = self.probabilities(points)
        chosen = [p[:, o.choice] for p, o in zip(probabilities, self.observations, strict=True)]
        return np.log(np.maximum(np.stack(chosen, axis=1), PROBABILITY_FLOOR))

    def prior_log_density(self, points: np.ndarray) -> np.ndarray:
        """Log prior density (up to a constant) at each point, shape (K,)."""
        mean = np.array([f.prior_mean for f in self.free])
        sd = np.array([f.prior_sd for f in self.free])
        return -0.5 * (((points - mean) / sd) ** 2).sum(axis=1)


def observations(model: MultivectorModel) -> list[Observation]:
    """The documented choices of a replay, in the order they were made."""
    found = []
    for position, record in enumerate(model.recorder.decisions):
        decision = record.decision
        russia = decision.observed.get(INDEX["RUS"])
        for row, actor in enumerate(decision.deciders):
            if actor in decision.observed:
                found.append(
                    Observation(
                        record=position,
                        row=row,
                        choice=decision.observed[actor],
                        episode=decision.episode,
                        decision=decision.key,
                        actor=ACTORS[actor],
                        options=decision.options,
                        is_vote=decision.kind == "un_vote",
                        russia=russia if actor != INDEX["RUS"] else None,
                    )
                )
    return found


@dataclass(frozen=True)
class Fit:
    """A maximum a posteriori fit.

    Attributes:
        estimate: The parameter vector.
        log_posterior: Log-likelihood plus log prior at the estimate.
        log_likelihood: Log-likelihood of the fitted choices at the estimate.
        iterations: Optimiser iterations.
    """

    estimate: np.ndarray
    log_posterior: float
    log_likelihood: float
    iterations: int


def fit(replay: Replay, include: np.ndarray | None = None, start: np.ndarray | None = None) -> Fit:
    """Maximise the posterior over the documented choices selected by ``include``.

    Args:
        replay: The batched replay of one design.
        include: Boolean mask over ``replay.observations`` (all if None).
        start: Starting vector (the prior means if None).
    """
    n = len(replay.free)
    include = np.ones(len(replay.observations), dtype=bool) if include is None else include
    start = np.array([f.prior_mean for f in replay.free]) if start is None else start
    stencil = np.vstack([np.zeros(n), STEP * np.eye(n), -STEP * np.eye(n)])

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        points = theta[None, :] + stencil
        values = -(replay.log_likelihoods(points)[:, include].sum(axis=1))
        values -= replay.prior_log_density(points)
        gradient = (values[1 : n + 1] - values[n + 1 :]) / (2 * STEP)
        return float(values[0]), gradient

    bounds = [f.bounds for f in replay.free]
    start = np.clip(start, [b[0] for b in bounds], [b[1] for b in bounds])
    result = minimize(
        objective, start, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 500}
    )
    estimate = result.x
    loglik = float(replay.log_likelihoods(estimate[None])[0, include].sum())
    return Fit(estimate, float(-result.fun), loglik, int(result.nit))


def information(replay: Replay, estimate: np.ndarray) -> np.ndarray:
    """Posterior precision at ``estimate``: outer product of per-episode scores plus the prior.

    The observed information is estimated by the outer product of each episode's score (the
    gradient of its log-likelihood; Berndt, Hall, Hall and Hausman 1974), with episodes as the
    independent units. A finite-difference Hessian is unreliable here: a vote game can have
    several equilibria, and the principal branch the model follows can jump at a fold, which
    an optimum may sit on. Each score element takes the forward or backward difference,
    whichever is smaller in size, so a jump on one side does not pass for a slope.
    """
    n = len(estimate)
    points = np.vstack([estimate, estimate + STEP * np.eye(n), estimate - STEP * np.eye(n)])
    values = replay.log_likelihoods(points)  # (2n + 1, N)
    forward = (values[1 : n + 1] - values[0]) / STEP
    backward = (values[0] - values[n + 1 :]) / STEP
    gradient = np.where(np.abs(forward) <= np.abs(backward), forward, backward)  # (n, N)
    episodes = list(dict.fromkeys(o.episode for o in replay.observations))
    scores = np.stack(
        [gradient[:, [o.episode == e for o in replay.observations]].sum(axis=1) for e in episodes]
    )
    prior = np.diag(1.0 / np.array([f.prior_sd for f in replay.free]) ** 2)
    return scores.T @ scores + prior


def laplace_covariance(matrix: np.ndarray) -> np.ndarray:
    """Posterior covariance from the posterior precision (symmetrised, inverted)."""
    return np.linalg.inv((matrix + matrix.T) / 2)


# --- scoring ------------------------------------------------------------------------------


def score(probabilities: list[np.ndarray], observations: list[Observation]) -> dict[str, float]:
    """Mean log-loss and accuracy of probability vectors for the documented choices."""
    if not observations:
        return {"log_loss": float("nan"), "accuracy": float("nan")}
    losses = [
        -np.log(max(p[o.choice], PROBABILITY_FLOOR))
        for p, o in zip(probabilities, observations, strict=True)
    ]
    hits = [int(np.argmax(p)) == o.choice for p, o in zip(probabilities, observations, strict=True)]
    return {
        "log_loss": round(float(np.mean(losses)), 4),
        "accuracy": round(float(np.mean(hits)), 4),
    }


def most_frequent(observation: Observation, training: list[Observation]) -> np.ndarray:
    """The actor's most frequent choices (add-one smoothed) among this decision's options."""
    counts = Counter(o.options[o.choice] for o in training if o.actor == observation.actor)
    weights = np.array([counts[name] + 1.0 for name in observation.options])
    return weights / weights.sum()


def with_russia(observation: Observation, training: list[Observation]) -> np.ndarray:
    """Vote with Russia where Russia's vote is recorded; elsewhere the most frequent choice.

    Russia's recorded vote gets the rate at which the actor voted with Russia in the training
    votes (add-one smoothed); the rest is spread evenly.
    """
    if not observation.is_vote or observation.russia is None:
        return most_frequent(observation, training)
    votes = [o for o in training if o.actor == observation.actor and o.russia is not None]
    hit = (sum(o.choice == o.russia for o in votes) + 1.0) / (len(votes) + 2.0)
    others = len(observation.options) - 1
    p = np.full(len(observation.options), (1.0 - hit) / others)
    p[observation.russia] = hit
    return p


BASELINES: dict[str, Callable[[Observation, list[Observation]], np.ndarray]] = {
    "uniform": lambda o, _: np.full(len(o.options), 1.0 / len(o.options)),
    "most_frequent": most_frequent,
    "vote_with_russia": with_russia,
}


@dataclass
class Validation:
    """Probabilities for every documented choice: in-sample, held out, and the baselines."""

    observations: list[Observation]
    in_sample: list[np.ndarray]
    held_out: list[np.ndarray]
    baselines: dict[str, list[np.ndarray]]
    fold_estimates: dict[str, np.ndarray]

    def summary(self, parameters: int) -> dict:
        """Figures in the form ``multivector calibrate --json`` prints."""

        def block(select: list[int]) -> dict:
            chosen = [self.observations[i] for i in select]
            return {
                "decisions": len(select),
                "in_sample": score([self.in_sample[i] for i in select], chosen),
                "leave_one_episode_out": score([self.held_out[i] for i in select], chosen),
                "baselines": {
                    name: score([values[i] for i in select], chosen)
                    for name, values in self.baselines.items()
                },
            }

        everything = block(list(range(len(self.observations))))
        by_actor = {
            actor: block([i for i, o in enumerate(self.observations) if o.actor == actor])
            for actor in ACTORS
            if any(o.actor == actor for o in self.observations)
        }
        return {
            "decisions": everything["decisions"],
            "episodes": len({o.episode for o in self.observations}),
            "parameters": parameters,
            "in_sample": everything["in_sample"],
            "leave_one_episode_out": everything["leave_one_episode_out"],
            "baselines": everything["baselines"],
            "by_actor": by_actor,
        }


def _refit_fold(replay: Replay, test: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, list]:
    """Refit without the test choices; return the estimate and every choice's probabilities."""
    refit = fit(replay, include=~test, start=start)
    return refit.estimate, [p[0] for p in replay.probabilities(refit.estimate[None])]


def validate(
    replay: Replay,
    full: Fit,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> Validation:
    """Leave-one-episode-out cross-validation of a design, beside the baselines.

    For each episode, the design is refitted without that episode's documented choices
    (starting from the full fit), and the held-out choices are scored at the refitted vector.
    The baselines are fitted on exactly the same training choices. Folds are independent and
    deterministic, so the result does not depend on ``workers``.
    """
    obs = replay.observations
    episodes = list(dict.fromkeys(o.episode for o in obs))
    tests = {e: np.array([o.episode == e for o in obs]) for e in episodes}
    in_sample = [p[0] for p in replay.probabilities(full.estimate[None])]
    held_out: list = [None] * len(obs)
    baselines: dict[str, list] = {name: [None] * len(obs) for name in BASELINES}
    estimates = {}
    results: dict[str, tuple[np.ndarray, list]] = {}
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # spawn: forking a process that has started threads (BLAS, the progress bar) can deadlock
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {
                pool.submit(_refit_fold, replay, tests[e], full.estimate): e for e in episodes
            }
            for done, future in enumerate(as_completed(futures), start=1):
                results[futures[future]] = future.result()
                if progress is not None:
                    progress(done, len(episodes))
    else:
        for done, episode in enumerate(episodes, start=1):
            results[episode] = _refit_fold(replay, tests[episode], full.estimate)
            if progress is not None:
                progress(done, len(episodes))
    for episode in episodes:
        estimates[episode], probabilities = results[episode]
        test = tests[episode]
        training = [o for o, t in zip(obs, test, strict=True) if not t]
        for i in np.flatnonzero(test):
            held_out[i] = probabilities[i]
            for name, rule in BASELINES.items():
                baselines[name][i] = rule(obs[i], training)
    return Validation(obs, in_sample, held_out, baselines, estimates)


@dataclass(frozen=True)
class Calibrated:
    """The outcome of a calibration run."""

    design: str
    free: list[Free]
    fit: Fit
    covariance: np.ndarray
    validation: Validation
    replay: Replay
    alternatives: dict[str, dict]


def calibrate(
    prior: Parameters | None = None,
    library: Library | None = None,
    designs: tuple[str, ...] = DESIGNS,
    progress: Callable[[str, int, int], None] | None = None,
    workers: int = 1,
) -> Calibrated:
    """Fit each design, cross-validate it, and keep the one with the lower held-out log-loss.

    Args:
        prior: The documented defaults (prior means, fixed parameters).
        library: The episode library.
        designs: Designs to compare.
        progress: Called with (design, folds done, folds).
        workers: Processes for the cross-validation folds.
    """
    prior = prior or load_parameters(DOCUMENTED_DEFAULTS)
    library = library or load_library()
    best: Calibrated | None = None
    alternatives = {}
    for name in designs:
        free = design(name, prior)
        replay = Replay(free, prior, library)
        full = fit(replay)
        covariance = laplace_covariance(information(replay, full.estimate))
        validation = validate(
            replay,
            full,
            None if progress is None else lambda d, t, n=name: progress(n, d, t),
            workers=workers,
        )
        figures = validation.summary(len(free))
        alternatives[name] = {
            "parameters": len(free),
            "in_sample": figures["in_sample"],
            "leave_one_episode_out": figures["leave_one_episode_out"],
        }
        candidate = Calibrated(name, free, full, covariance, validation, replay, alternatives)
        if best is None or (
            figures["leave_one_episode_out"]["log_loss"]
            < best.validation.summary(len(best.free))["leave_one_episode_out"]["log_loss"]
        ):
            best = candidate
    assert best is not None
    return best


def standard_errors(calibrated: Calibrated) -> np.ndarray:
    """Posterior standard deviations of the free parameters (Laplace)."""
    return np.sqrt(np.diag(calibrated.covariance))
