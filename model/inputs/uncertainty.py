"""Parameter uncertainty: the fit's free parameters and draws from a calibration.

A calibrated parameter file records its free parameters (a design), their estimate and the
Laplace covariance; :func:`draw_parameters` draws per-sample weights and precisions from that
Gaussian, for a calibration's validation, an experiment's ``calibration_draws`` and
``predict``. Used by calibration, experiments and predictions alike, so it lives with the
inputs, below all three.
"""

from dataclasses import dataclass

import numpy as np

from multivector.actors import ACTORS, INDEX
from multivector.errors import InputError
from multivector.inputs.parameters import DOCUMENTED_DEFAULTS, TERMS, Parameters, load_parameters


@dataclass(frozen=True)
class Free:
    """A free parameter of the fit.

    Attributes:
        name: ``precision``, a term (``autonomy``), an actor's offset (``KAZ.autonomy``,
            ``KAZ.precision``), or ``tremble`` (the share of choices made as if at random).
        actor: The actor an offset applies to, or None for a shared parameter.
        term: The utility term, or None for the (log) precision.
        prior_mean: Mean of the Gaussian prior (from the documented defaults).
        prior_sd: Its standard deviation (weak).
    """

    name: str
    actor: str | None
    term: str | None
    prior_mean: float
    prior_sd: float

    @property
    def bounds(self) -> tuple[float, float]:
        """Range searched by the optimiser.

        Every utility term is defined so that more of it is better for the decider, so a
        shared weight is non-negative (a negative material weight would make a costly
        punishment attractive); the ranges also keep the vote games well behaved.
        """
        if self.name == TREMBLE:
            return (0.0, 0.3)
        if self.term is None:  # log precision or its offset
            return (np.log(0.3), np.log(15.0)) if self.actor is None else (-1.0, 1.0)
        return (0.0, 6.0) if self.actor is None else (-4.0, 4.0)


SHARED_TERMS = tuple(t for t in TERMS if t != "partner")
"""Weights fitted for all actors together; ``partner`` is fixed at its default as the unit of
utility (the weights and the precision are otherwise not separately identified)."""
KAZAKH_OFFSETS = ("autonomy", "principle", "precision")
"""Kazakhstan-specific offsets: the focal actor, with most documented decisions."""
DESIGNS = ("shared", "shared+KAZ", "actors")
"""``actors`` adds a precision offset for every actor, shrunk toward the shared precision by a
tight prior (sd 0.5 on the log scale), and the tremble: the two ways the fit can make the
probabilities less sharp where the record says they are too sharp (docs/ODD.md)."""
TREMBLE = "tremble"
ACTOR_PRECISION_SD = 0.5
TREMBLE_PRIOR = (0.05, 0.1)
"""Prior mean and sd of the tremble (why: a few percent of votes in the record go against every
systematic pattern, e.g. a state's lone vote on one paragraph)."""


def design(name: str, prior: Parameters) -> list[Free]:
    """The free parameters of a design, with priors centred on the documented defaults."""
    spec = prior.spec
    shared = spec.weights.model_dump()
    free = [Free("precision", None, None, float(np.log(spec.choice.precision)), 1.0)]
    free += [Free(t, None, t, shared[t], 2.0) for t in SHARED_TERMS]
    if name == "actors":
        override = spec.actor.get("KAZ")
        for term in KAZAKH_OFFSETS[:2]:
            value = getattr(override, term) if override else None
            mean = 0.0 if value is None else value - shared[term]
            free.append(Free(f"KAZ.{term}", "KAZ", term, mean, 1.0))
        free += [Free(f"{a}.precision", a, None, 0.0, ACTOR_PRECISION_SD) for a in ACTORS]
        free.append(Free(TREMBLE, None, None, *TREMBLE_PRIOR))
    elif name == "shared+KAZ":
        override = spec.actor.get("KAZ")
        for term in KAZAKH_OFFSETS:
            if term == "precision":
                value = override.precision if override and override.precision else None
                mean = 0.0 if value is None else float(np.log(value / spec.choice.precision))
                free.append(Free("KAZ.precision", "KAZ", None, mean, 1.0))
            else:
                value = getattr(override, term) if override else None
                mean = 0.0 if value is None else value - shared[term]
                free.append(Free(f"KAZ.{term}", "KAZ", term, mean, 1.0))
    elif name != "shared":
        raise ValueError(f"unknown design {name}")
    return free


def parameter_sets(
    free: list[Free], points: np.ndarray, prior: Parameters
) -> tuple[np.ndarray, np.ndarray]:
    """Turn parameter vectors (K, n) into per-replicate weights (K, 6, T) and precisions (K, 6)."""
    k = len(points)
    weights = np.repeat(prior.weights[None].copy(), k, axis=0)
    # the prior file's actor overrides are replaced by the fitted shared value plus offset
    weights[:] = np.array([prior.spec.weights.model_dump()[t] for t in TERMS])
    log_precision = np.zeros((k, len(ACTORS)))
    for column, parameter in enumerate(free):
        value = points[:, column]
        if parameter.name == TREMBLE:
            continue  # not a weight: mixed into the choice probabilities (tremble_share)
        if parameter.actor is None and parameter.term is None:
            log_precision += value[:, None]
        elif parameter.actor is None:
            weights[:, :, TERMS.index(parameter.term)] = value[:, None]
    for column, parameter in enumerate(free):  # offsets after shared values
        value = points[:, column]
        if parameter.actor is not None and parameter.term is None:
            log_precision[:, INDEX[parameter.actor]] += value
        elif parameter.actor is not None:
            weights[:, INDEX[parameter.actor], TERMS.index(parameter.term)] += value
    return weights, np.exp(log_precision)


def tremble_share(free: list[Free], points: np.ndarray) -> np.ndarray:
    """The tremble of each parameter vector, shape (K,); zero where the design has none."""
    for column, parameter in enumerate(free):
        if parameter.name == TREMBLE:
            return np.clip(points[:, column], 0.0, 0.5)
    return np.zeros(len(points))


def draw_points(parameters: Parameters, count: int, seed: int) -> tuple[list[Free], np.ndarray]:
    """Draw the calibration's free parameters from its estimate and covariance.

    Args:
        parameters: A calibrated parameter file (with a ``calibration`` table).
        count: Number of draws.
        seed: Seed of the draws.

    Returns:
        The free parameters and the drawn points (count, n), in the calibration's own scale
        (log precision, weights, offsets).
    """
    calibration = parameters.spec.calibration
    if calibration is None:
        raise ValueError(f"{parameters.path} holds no calibration to draw from")
    prior = load_parameters(DOCUMENTED_DEFAULTS)
    free = design(calibration.design, prior)
    if [f.name for f in free] != list(calibration.free):
        raise InputError(
            parameters.path,
            "calibration.free",
            f"names {len(calibration.free)} parameters, but the {calibration.design} design now "
            f"has {len(free)} ({', '.join(f.name for f in free)}); rerun multivector calibrate",
        )
    rng = np.random.default_rng(seed)
    points = rng.multivariate_normal(
        np.array(calibration.estimate), np.array(calibration.covariance), size=count
    )
    return free, points


def draw_parameters(parameters: Parameters, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw per-replicate weights and precisions from a calibrated file's uncertainty.

    Args:
        parameters: A calibrated parameter file (with a ``calibration`` table).
        count: Number of draws.
        seed: Seed of the draws.

    Returns:
        Weights (count, 6, T) and precisions (count, 6).
    """
    free, points = draw_points(parameters, count, seed)
    return parameter_sets(free, points, load_parameters(DOCUMENTED_DEFAULTS))


def draw_target(name: str) -> str:
    """The experiment input (or override) that sets the same value as the draw named ``name``.

    An input with this target replaces the draw in a sweep (``KAZ.autonomy`` is replaced by
    ``actor.KAZ.autonomy``), so discovery leaves that draw out.
    """
    if name == TREMBLE:
        return "choice.tremble"
    actor, _, term = name.rpartition(".")
    if not actor:
        return "choice.precision" if term == "precision" else f"weights.{term}"
    return f"actor.{actor}.{term}"


def point_parameters(parameters: Parameters) -> tuple[np.ndarray, np.ndarray]:
    """The parameter file's own weights and precision as a batch of one."""
    return parameters.weights[None].copy(), parameters.precision[None].copy()
