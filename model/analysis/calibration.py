"""Calibration: fit the utility weights and choice precision to the documented choices.

The data are the choices the episode library documents and every recorded General Assembly
vote of the six (the routine agenda). The likelihood of a parameter vector is
the probability the model gives each documented choice at the state the record itself produced
(a replay of the record: documented choices imposed, undocumented ones acting through their
expected consequences). The fit maximises that likelihood times a weak Gaussian prior centred on
the documented defaults (scipy's L-BFGS-B), and keeps a Laplace approximation of the posterior
(the posterior precision from per-episode scores) so runs can draw parameters from it.

Every evaluation is one batched replay: the replicate axis carries parameter vectors, so a
finite-difference gradient (2n + 1 vectors) costs one model run.

The headline validation is out of time, by rolling origin: for each origin year Y the fit sees
only the choices before Y, and every choice of year Y is forecast jointly with none observed
(a replay whose documented choices stop being imposed in January of Y), beside baselines fitted
on the same past. Leave-one-episode-out over the library's episodes is the second figure.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from multivector.actors import ACTORS, INDEX
from multivector.calendar import RECORD_END, month_index, parse_month
from multivector.core.choice import tremble
from multivector.core.model import MultivectorModel
from multivector.inputs.library import Library, load_library
from multivector.inputs.parameters import DOCUMENTED_DEFAULTS, Parameters, load_parameters
from multivector.inputs.scenario import Scenario
from multivector.inputs.uncertainty import DESIGNS, Free, design, parameter_sets, tremble_share
from multivector.runs.replay import history_scenario, replay_record

STEP = 1e-5
"""Finite-difference step in parameter space."""
PROBABILITY_FLOOR = 1e-12
OPTIMISER = {"maxiter": 300, "ftol": 2e-6, "gtol": 1e-3}
"""L-BFGS-B's stopping rule: a relative change of the log-posterior below 2e-6 (about 0.007 on
the whole record, whose log-posterior is near -3,700) ends the fit. Measured on the whole record
(6,138 choices): ``ftol = 1e-8`` took 243 iterations and ten minutes. A refit from that optimum
under this rule stopped after 14 iterations, and the shipped fit (with the habit weight and the
stake-conditional autonomy, so not the same model) takes a few minutes: what keeps the rolling
origin affordable. The cost of stopping earlier has not been measured on one model."""


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
        russia: Russia's recorded option in the same vote, if any (not for Russia itself).
        china: China's recorded option in the same vote, if any (not for China itself).
        month: Month index of the decision.
        category: ``routine`` (a recorded vote outside the library), ``salient`` (a library
            vote) or ``episode`` (any other documented choice).
        family: The vote's resolution family, or the episode's issue thread, for persistence.
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
    china: int | None = None
    month: int = 0
    category: str = "episode"
    family: str = ""

    @property
    def year(self) -> int:
        """Calendar year of the decision."""
        return self.month // 12


CATEGORIES = ("routine", "salient", "episode")


@dataclass
class Replay:
    """Batched replays of the documented record for parameter vectors of one design."""

    free: list[Free]
    prior: Parameters
    library: Library
    scenario: Scenario = field(default_factory=history_scenario)
    forecast_from: int | None = None
    observations: list[Observation] = field(init=False)
    evaluations: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        # the tremble is a free parameter mixed in after the replay (one code path: the model's
        # own tremble function), so the replay itself runs without one
        self.untrembled = self.prior.with_values(choice__tremble=0.0)
        model = self.run(np.array([[f.prior_mean for f in self.free]]))
        self.observations = observations(model)

    def run(self, points: np.ndarray) -> MultivectorModel:
        """Replay the record once with one parameter vector per replicate."""
        self.evaluations += len(points)
        sets = parameter_sets(self.free, points, self.prior)
        return replay_record(
            self.untrembled,
            self.library,
            sets,
            scenario=self.scenario,
            forecast_from=self.forecast_from,
        )

    def probabilities(self, points: np.ndarray) -> list[np.ndarray]:
        """Each documented choice's option probabilities at each point: (K, O) per observation."""
        records = self.run(points).recorder.decisions
        share = tremble_share(self.free, points)
        return [
            tremble(records[o.record].probabilities[:, o.row], share) for o in self.observations
        ]

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
        china = decision.observed.get(INDEX["CHN"])
        is_vote = decision.kind == "un_vote"
        category = "routine" if decision.routine else "salient" if is_vote else "episode"
        for row, actor in enumerate(decision.deciders):
            if actor in decision.observed and not np.isnan(record.probabilities[0, row]).any():
                found.append(
                    Observation(
                        record=position,
                        row=row,
                        choice=decision.observed[actor],
                        episode=decision.episode,
                        decision=decision.key,
                        actor=ACTORS[actor],
                        options=decision.options,
                        is_vote=is_vote,
                        russia=russia if actor != INDEX["RUS"] else None,
                        china=china if actor != INDEX["CHN"] else None,
                        month=record.month,
                        category=category,
                        family=decision.family if is_vote else decision.thread,
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
        objective, start, jac=True, method="L-BFGS-B", bounds=bounds, options=OPTIMISER
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
    """Mean log-loss, Brier score and accuracy of probability vectors for documented choices.

    The Brier score is the squared distance between the forecast and the one-hot outcome,
    summed over the options and averaged over the choices.
    """
    if not observations:
        return {"log_loss": float("nan"), "brier": float("nan"), "accuracy": float("nan")}
    pairs = list(zip(probabilities, observations, strict=True))
    losses = [-np.log(max(p[o.choice], PROBABILITY_FLOOR)) for p, o in pairs]
    brier = [float(((p - np.eye(len(p))[o.choice]) ** 2).sum()) for p, o in pairs]
    hits = [int(np.argmax(p)) == o.choice for p, o in pairs]
    return {
        "log_loss": round(float(np.mean(losses)), 4),
        "brier": round(float(np.mean(brier)), 4),
        "accuracy": round(float(np.mean(hits)), 4),
    }


def frequency(observation: Observation, training: list[Observation]) -> np.ndarray:
    """The actor's choice frequencies (add-one smoothed) among this decision's options."""
    counts = Counter(o.options[o.choice] for o in training if o.actor == observation.actor)
    weights = np.array([counts[name] + 1.0 for name in observation.options])
    return weights / weights.sum()


def _follow(observation: Observation, option: int, rate: float) -> np.ndarray:
    """``rate`` on one option, the rest spread evenly over the others."""
    others = len(observation.options) - 1
    p = np.full(len(observation.options), (1.0 - rate) / others)
    p[option] = rate
    return p


def _with(partner: str) -> Callable[[Observation, list[Observation]], np.ndarray]:
    """Vote with ``partner`` where its vote is recorded; elsewhere the actor's frequency.

    The partner's recorded vote gets the rate at which the actor voted with it in the training
    votes (add-one smoothed); the rest is spread evenly. The partner's vote is the one of the
    same vote, so this baseline knows something no forecast made in advance could.
    """

    def rule(observation: Observation, training: list[Observation]) -> np.ndarray:
        option = getattr(observation, partner)
        if not observation.is_vote or option is None:
            return frequency(observation, training)
        votes = [
            o for o in training if o.actor == observation.actor and getattr(o, partner) is not None
        ]
        hit = (sum(o.choice == getattr(o, partner) for o in votes) + 1.0) / (len(votes) + 2.0)
        return _follow(observation, option, hit)

    return rule


def persistence(observation: Observation, training: list[Observation]) -> np.ndarray:
    """The actor's choice the last time its family came up, else its frequency.

    The family is a vote's resolution family (an episode's issue thread). The last choice gets
    the rate at which the actor repeated itself in the training families (add-one smoothed).
    """
    mine = [o for o in training if o.actor == observation.actor and o.family]
    last: dict[str, Observation] = {}
    repeats = trials = 0
    for o in mine:  # in the order they were made
        before = last.get(o.family)
        if before is not None and before.options == o.options:
            trials += 1
            repeats += before.choice == o.choice
        last[o.family] = o
    before = last.get(observation.family) if observation.family else None
    if before is None or before.options != observation.options:
        return frequency(observation, training)
    return _follow(observation, before.choice, (repeats + 1.0) / (trials + 2.0))


BASELINES: dict[str, Callable[[Observation, list[Observation]], np.ndarray]] = {
    "uniform": lambda o, _: np.full(len(o.options), 1.0 / len(o.options)),
    "frequency": frequency,
    "persistence": persistence,
    "vote_with_russia": _with("russia"),
    "vote_with_china": _with("china"),
}


def block_figures(
    select: list[int],
    observations: list[Observation],
    columns: dict[str, list[np.ndarray]],
) -> dict:
    """Scores of each column of forecasts on the selected choices."""
    chosen = [observations[i] for i in select]
    figures: dict = {"choices": len(select)}
    for name, values in columns.items():
        figures[name] = score([values[i] for i in select], chosen)
    return figures


def breakdown(
    observations: list[Observation], columns: dict[str, list[np.ndarray]]
) -> dict[str, dict]:
    """Figures overall, by actor, by category, and Kazakhstan's by category."""
    every = list(range(len(observations)))

    def where(test: Callable[[Observation], bool]) -> list[int]:
        return [i for i in every if test(observations[i])]

    out: dict[str, dict] = {"all": block_figures(every, observations, columns)}
    out["by_actor"] = {
        a: block_figures(where(lambda o, a=a: o.actor == a), observations, columns)
        for a in ACTORS
        if any(o.actor == a for o in observations)
    }
    out["by_category"] = {
        c: block_figures(where(lambda o, c=c: o.category == c), observations, columns)
        for c in CATEGORIES
        if any(o.category == c for o in observations)
    }
    out["KAZ_by_category"] = {
        c: block_figures(
            where(lambda o, c=c: o.category == c and o.actor == "KAZ"), observations, columns
        )
        for c in CATEGORIES
        if any(o.category == c and o.actor == "KAZ" for o in observations)
    }
    return out


def reliability(
    probabilities: list[np.ndarray], observations: list[Observation], bins: int = 10
) -> list[dict]:
    """A reliability table: every option's forecast probability against whether it was chosen.

    Each (choice, option) pair is one forecast; bins are tenths of probability. A bin's
    ``observed`` is the share of its forecasts whose option was chosen.
    """
    forecast = np.concatenate(probabilities)
    outcome = np.concatenate(
        [np.eye(len(p))[o.choice] for p, o in zip(probabilities, observations, strict=True)]
    )
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(forecast, edges[1:-1]), 0, bins - 1)
    table = []
    for b in range(bins):
        inside = which == b
        table.append(
            {
                "bin": [round(float(edges[b]), 2), round(float(edges[b + 1]), 2)],
                "forecasts": int(inside.sum()),
                "mean_forecast": round(float(forecast[inside].mean()), 4) if inside.any() else None,
                "observed": round(float(outcome[inside].mean()), 4) if inside.any() else None,
            }
        )
    return table


# --- out of time: rolling origin ----------------------------------------------------------

ORIGINS = tuple(range(2016, parse_month(RECORD_END) // 12 + 1))
"""Origin years of the rolling-origin validation (each fitted on everything before it), to the
record's last year (2026: its first quarter)."""


@dataclass
class OutOfTime:
    """Rolling-origin forecasts: for each origin year, the year's choices forecast jointly.

    Attributes:
        observations: The forecast choices (every documented choice of every origin year).
        forecasts: The model's probabilities for each, from the fit before its year.
        baselines: Each baseline's probabilities, fitted on the same past.
        estimates: The fitted vector of each origin year.
        trained: Number of choices each origin's fit saw.
    """

    observations: list[Observation]
    forecasts: list[np.ndarray]
    baselines: dict[str, list[np.ndarray]]
    estimates: dict[int, np.ndarray]
    trained: dict[int, int]

    def summary(self) -> dict:
        """Figures in the form ``multivector calibrate --json`` prints."""
        columns = {"model": self.forecasts, **self.baselines}
        figures = breakdown(self.observations, columns)
        figures["by_year"] = {
            str(year): block_figures(
                [i for i, o in enumerate(self.observations) if o.year == year],
                self.observations,
                columns,
            )
            | {"trained_on": self.trained[year]}
            for year in self.estimates
        }
        return {
            "origins": [int(y) for y in self.estimates],
            **figures,
            "reliability": reliability(self.forecasts, self.observations),
        }


def origin_replay(free: list[Free], prior: Parameters, library: Library, year: int) -> Replay:
    """The replay for one origin: the record to the end of ``year``, forecast from its January."""
    return Replay(
        free,
        prior,
        library,
        scenario=history_scenario(min(month_index(year, 12), parse_month(RECORD_END))),
        forecast_from=month_index(year, 1),
    )


def _forecast_origin(
    free: list[Free],
    prior: Parameters,
    library: Library,
    year: int,
    start: np.ndarray | None = None,
) -> tuple[int, np.ndarray, list[Observation], list[np.ndarray], list[Observation]]:
    """Fit on the choices before ``year``; forecast the year's choices with none observed.

    Args:
        free: The design's free parameters.
        prior: The documented defaults.
        library: The episode library.
        year: The origin year.
        start: Where the fit starts (a fit made on data before an earlier origin, or the prior
            means if None): the start never carries information from ``year`` on.
    """
    replay = origin_replay(free, prior, library, year)
    first = month_index(year, 1)
    past = np.array([o.month < first for o in replay.observations])
    estimate = fit(replay, include=past, start=start).estimate
    probabilities = replay.probabilities(estimate[None])
    tested = [i for i, o in enumerate(replay.observations) if o.year == year]
    training = [o for o, p in zip(replay.observations, past, strict=True) if p]
    return (
        year,
        estimate,
        [replay.observations[i] for i in tested],
        [probabilities[i][0] for i in tested],
        training,
    )


def _forecast_chain(
    free: list[Free], prior: Parameters, library: Library, years: tuple[int, ...]
) -> list[tuple]:
    """Origins in date order, each fit starting from the previous origin's estimate."""
    results, start = [], None
    for year in years:
        results.append(_forecast_origin(free, prior, library, year, start))
        start = results[-1][1]
    return results


def rolling_origin(
    free: list[Free],
    prior: Parameters,
    library: Library,
    years: tuple[int, ...] = ORIGINS,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> OutOfTime:
    """Rolling-origin validation: fit before each origin year, forecast that year.

    The origins are split into two chains of alternate years (2016, 2018, ... and 2017,
    2019, ...), run side by side on two workers; within a chain each fit starts from the
    previous origin's estimate, which saw only earlier data, so no fit starts from information
    it may not use. The chains are fixed by the years, not the workers, so the result does not
    depend on ``workers``.
    """
    chains = [years[k::2] for k in range(2) if years[k::2]]
    done: list[tuple] = []
    for chain_results in _map(
        _forecast_chain, [(free, prior, library, c) for c in chains], progress, workers
    ):
        done += chain_results
    observed: list[Observation] = []
    forecasts: list[np.ndarray] = []
    baselines: dict[str, list[np.ndarray]] = {name: [] for name in BASELINES}
    estimates, trained = {}, {}
    for year, estimate, tested, probabilities, training in sorted(done, key=lambda r: r[0]):
        estimates[year], trained[year] = estimate, len(training)
        observed += tested
        forecasts += probabilities
        for name, rule in BASELINES.items():
            baselines[name] += [rule(o, training) for o in tested]
    return OutOfTime(observed, forecasts, baselines, estimates, trained)


def _map(
    function: Callable,
    arguments: list[tuple],
    progress: Callable[[int, int], None] | None,
    workers: int,
) -> list:
    """``function`` over argument tuples, in order, on ``workers`` processes."""
    results: list = [None] * len(arguments)
    if workers > 1 and len(arguments) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # spawn: forking a process that has started threads (BLAS, the progress bar) can deadlock
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {pool.submit(function, *a): k for k, a in enumerate(arguments)}
            for done, future in enumerate(as_completed(futures), start=1):
                results[futures[future]] = future.result()
                if progress is not None:
                    progress(done, len(arguments))
    else:
        for done, a in enumerate(arguments, start=1):
            results[done - 1] = function(*a)
            if progress is not None:
                progress(done, len(arguments))
    return results


# --- leave one episode out -----------------------------------------------------------------


@dataclass
class Validation:
    """Probabilities for every documented choice: in-sample, held out, and the baselines.

    Leave-one-episode-out folds run over the library's episodes (salient votes and other
    episodes); the routine votes are always in the training set, so ``held_out`` is None for
    them.
    """

    observations: list[Observation]
    in_sample: list[np.ndarray]
    held_out: list[np.ndarray | None]
    baselines: dict[str, list[np.ndarray | None]]
    fold_estimates: dict[str, np.ndarray]

    def summary(self, parameters: int) -> dict:
        """Figures in the form ``multivector calibrate --json`` prints."""
        folds = [i for i, h in enumerate(self.held_out) if h is not None]
        every = list(range(len(self.observations)))
        held = [self.observations[i] for i in folds]
        columns: dict[str, list] = {
            "in_sample": [self.in_sample[i] for i in folds],
            "leave_one_episode_out": [self.held_out[i] for i in folds],
            **{n: [v[i] for i in folds] for n, v in self.baselines.items()},
        }
        figures = breakdown(held, columns)
        return {
            "decisions": len(every),
            "episodes": len({o.episode for o in self.observations}),
            "parameters": parameters,
            "in_sample": score(self.in_sample, self.observations),
            "held_out_choices": len(folds),
            "leave_one_episode_out": figures["all"]["leave_one_episode_out"],
            "baselines": {n: figures["all"][n] for n in self.baselines},
            "all": figures["all"],
            "by_actor": figures["by_actor"],
            "by_category": figures["by_category"],
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
    """Leave-one-episode-out cross-validation over the library's episodes, beside baselines.

    For each library episode, the design is refitted without that episode's documented choices
    (starting from the full fit), and the held-out choices are scored at the refitted vector.
    The baselines are fitted on exactly the same training choices. Folds are independent and
    deterministic, so the result does not depend on ``workers``.
    """
    obs = replay.observations
    episodes = list(dict.fromkeys(o.episode for o in obs if o.category != "routine"))
    tests = {e: np.array([o.episode == e for o in obs]) for e in episodes}
    in_sample = [p[0] for p in replay.probabilities(full.estimate[None])]
    held_out: list = [None] * len(obs)
    baselines: dict[str, list] = {name: [None] * len(obs) for name in BASELINES}
    results = _map(
        _refit_fold, [(replay, tests[e], full.estimate) for e in episodes], progress, workers
    )
    estimates = {}
    for episode, (estimate, probabilities) in zip(episodes, results, strict=True):
        estimates[episode] = estimate
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
    validation: Validation | None
    out_of_time: OutOfTime | None
    replay: Replay
    alternatives: dict[str, dict]
    until: int | None = None


def calibrate(
    prior: Parameters | None = None,
    library: Library | None = None,
    designs: tuple[str, ...] = DESIGNS[-1:],
    progress: Callable[[str, int, int], None] | None = None,
    workers: int = 1,
    until: int | None = None,
    origins: tuple[int, ...] | None = ORIGINS,
    leave_one_out: bool = True,
) -> Calibrated:
    """Fit each design, validate it out of time, and keep the one that forecasts best.

    Args:
        prior: The documented defaults (prior means, fixed parameters).
        library: The episode library.
        designs: Designs to compare (by rolling-origin log-loss, else in-sample).
        progress: Called with (stage, steps done, steps).
        workers: Processes for the origins and folds.
        until: Fit only on choices before this month (the replay stops the month before).
        origins: Rolling-origin years (those before ``until`` are kept); None for none.
        leave_one_out: Also run leave-one-episode-out over the library's episodes.
    """
    prior = prior or load_parameters(DOCUMENTED_DEFAULTS)
    library = library or load_library()
    scenario = history_scenario(None if until is None else until - 1)
    years = tuple(y for y in (origins or ()) if until is None or month_index(y, 12) < until)
    best: Calibrated | None = None
    best_loss = np.inf
    alternatives = {}
    for name in designs:

        def report(stage: str, n: str = name) -> Callable[[int, int], None] | None:
            return None if progress is None else lambda d, t: progress(f"{stage}: {n}", d, t)

        free = design(name, prior)
        replay = Replay(free, prior, library, scenario=scenario)
        full = fit(replay)
        covariance = laplace_covariance(information(replay, full.estimate))
        out_of_time = (
            rolling_origin(free, prior, library, years, report("rolling origin"), workers)
            if years
            else None
        )
        validation = (
            validate(replay, full, report("leave one episode out"), workers)
            if leave_one_out
            else None
        )
        in_sample = score(
            [p[0] for p in replay.probabilities(full.estimate[None])], replay.observations
        )
        alternatives[name] = {"parameters": len(free), "in_sample": in_sample}
        loss = in_sample["log_loss"]
        if out_of_time is not None:
            alternatives[name]["rolling_origin"] = out_of_time.summary()["all"]["model"]
            loss = alternatives[name]["rolling_origin"]["log_loss"]
        candidate = Calibrated(
            name, free, full, covariance, validation, out_of_time, replay, alternatives, until
        )
        if best is None or loss < best_loss:
            best, best_loss = candidate, loss
    assert best is not None
    return best


def standard_errors(calibrated: Calibrated) -> np.ndarray:
    """Posterior standard deviations of the free parameters (Laplace)."""
    return np.sqrt(np.diag(calibrated.covariance))
