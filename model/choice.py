"""Random-utility choice: the logit rule and the logit quantal-response equilibrium."""

from dataclasses import dataclass

import numpy as np

WINDOW = 50
"""Iterations between checks that a replicate's equilibrium iteration is making progress."""
MIN_STEP = 0.01
HOMOTOPY = (0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0)
"""Fractions of the precision the equilibrium is traced through (the principal branch). Vote
games at calibrated parameters can have three equilibria; eight stages follow the same branch
as twenty or forty (checked on the 2017-02-28 Security Council vote), four do not."""
STAGE_TOLERANCE = 1e-8
ROOT_TOLERANCE = 1e-10
"""Largest distance to the best response accepted from the root finder."""


def logit(utilities: np.ndarray, precision: np.ndarray | float) -> np.ndarray:
    """Multinomial logit over the last axis: P(o) is proportional to exp(precision * U(o)).

    Args:
        utilities: Array (..., O).
        precision: Scalar or array broadcastable to ``utilities[..., 0]``.

    Returns:
        Probabilities of the same shape, summing to one over the last axis.

    """
    scaled = np.asarray(precision)[..., None] * utilities
    scaled = scaled - scaled.max(axis=-1, keepdims=True)  # stable: largest exponent is 0
    weights = np.exp(scaled)
    return weights / weights.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Equilibrium:
    """A solved quantal-response equilibrium.

    Attributes:
        probabilities: Choice probabilities, shape (R, P, O).
        iterations: Iterations used.
        residual: Largest change in the last iteration.

    """

    probabilities: np.ndarray
    iterations: int
    residual: float


def equilibrium_utilities(
    base: np.ndarray,
    coupling: np.ndarray,
    probabilities: np.ndarray,
    agreement: np.ndarray | None = None,
) -> np.ndarray:
    """Utilities given the other players' choice probabilities.

    Player p's utility of option o adds ``sum_q coupling[p, q] * E_q[agreement(o, o_q)]``:
    its expected agreement with each player it values. With the default agreement (1 for the
    same option, -1 for any other) the expectation is ``2 P_q(o) - 1``; a UN vote's agreement
    counts a vote against an abstention as -0.5.

    Args:
        base: Utilities that do not depend on the others, shape (R, P, O).
        coupling: Weight player p puts on agreeing with player q, shape (R, P, P).
        probabilities: The others' choice probabilities, shape (R, P, O).
        agreement: Agreement between two options, shape (O, O); identity-based if None.
    """
    expected = 2.0 * probabilities - 1.0 if agreement is None else probabilities @ agreement.T
    return base + np.einsum("rpq,rqo->rpo", coupling, expected)


def solve_equilibrium(
    base: np.ndarray,
    coupling: np.ndarray,
    precision: np.ndarray,
    *,
    agreement: np.ndarray | None = None,
    damping: float = 0.5,
    tolerance: float = 1e-12,
    max_iterations: int = 2000,
    start: np.ndarray | None = None,
    stages: tuple[float, ...] = HOMOTOPY,
    strict: bool = True,
) -> Equilibrium:
    """Solve the logit quantal-response equilibrium of a simultaneous decision.

    Follows the principal branch of the logit equilibrium correspondence (McKelvey and
    Palfrey 1995): the game is solved at rising fractions of the precision (``stages``), each
    stage starting from the last, so the equilibrium selected moves smoothly with the
    parameters even where the full-precision game has several. Within a stage the damped
    iteration ``P <- (1 - a) P + a logit(precision U(P))`` runs per replicate until its distance
    to its best response, ``max |logit(U(P)) - P|``, is below ``tolerance`` (looser on the way);
    a replicate that does not get closer over a window halves its step, and one that still has
    not converged is finished by a root finder. Each replicate's path depends only on its own
    numbers, so its equilibrium is the same to the bit alone or in any batch.

    Args:
        base: Utilities that do not depend on the others' choices, shape (R, P, O).
        coupling: Weight player p puts on agreeing with player q, shape (R, P, P), zero diagonal.
        precision: Choice precision of each player, shape (R, P).
        agreement: Agreement between two options, shape (O, O); see
            :func:`equilibrium_utilities`.
        damping: Initial step size of the damped fixed-point iteration.
        tolerance: Convergence threshold at full precision.
        max_iterations: Iterations per stage before the root finder takes over.
        start: Initial profile; uniform if None.
        stages: Fractions of the precision to pass through, ending with 1.
        strict: Raise if a replicate is still not converged after the root finder; if False,
            keep its closest profile (calibration explores extreme parameters, far from the
            optimum, where this can happen).

    Returns:
        The equilibrium (``iterations`` is the most any replicate needed, over all stages).

    Raises:
        RuntimeError: If ``strict`` and some replicate does not converge.
    """
    n_options = base.shape[-1]
    profile = np.full(base.shape, 1.0 / n_options) if start is None else start.copy()
    total, residual = 0, 0.0
    for fraction in stages:
        loose = tolerance if fraction == stages[-1] else max(tolerance, STAGE_TOLERANCE)
        profile, iterations, residual = _iterate(
            base,
            coupling,
            precision * fraction,
            agreement,
            profile,
            damping,
            loose,
            max_iterations,
        )
        total += iterations
    return Equilibrium(profile, total, residual)


def _iterate(
    base: np.ndarray,
    coupling: np.ndarray,
    precision: np.ndarray,
    agreement: np.ndarray | None,
    profile: np.ndarray,
    damping: float,
    tolerance: float,
    max_iterations: int,
) -> tuple[np.ndarray, int, float]:
    """Damped fixed-point iteration at one precision, per replicate; see solve_equilibrium."""
    profile = profile.copy()
    active = np.arange(base.shape[0])
    step = np.full(base.shape[0], damping)
    checkpoint = np.full(base.shape[0], np.inf)
    residual = 0.0
    iteration = 0
    for iteration in range(1, max_iterations + 1):
        current = profile[active]
        utilities = equilibrium_utilities(base[active], coupling[active], current, agreement)
        response = logit(utilities, precision[active])
        change = np.abs(response - current).max(axis=(1, 2))
        rate = step[active][:, None, None]
        profile[active] = (1.0 - rate) * current + rate * response
        if iteration % WINDOW == 0:
            # no closer to its best response than a window ago: cycling, so halve the step
            stalled = change >= checkpoint[active]
            step[active[stalled]] = np.maximum(step[active[stalled]] / 2.0, MIN_STEP)
            checkpoint[active] = change
        residual = float(change.max())
        active = active[change >= tolerance]
        if active.size == 0:
            return profile, iteration, residual
    worst = 0.0
    for r in active:  # rare: finish with a root finder on this replicate alone
        profile[r], gap = _root(base[r], coupling[r], precision[r], agreement, profile[r])
        worst = max(worst, gap)
    return profile, iteration, worst


def _root(
    base: np.ndarray,
    coupling: np.ndarray,
    precision: np.ndarray,
    agreement: np.ndarray | None,
    start: np.ndarray,
) -> tuple[np.ndarray, float]:
    """Solve one replicate's fixed point with scipy's hybrid Powell method.

    Returns:
        The better of the root finder's profile and ``start``, and its distance to its best
        response.
    """
    from scipy.optimize import root

    shape = start.shape

    def gap(x: np.ndarray) -> np.ndarray:
        profile = x.reshape(shape)[None]
        response = logit(
            equilibrium_utilities(base[None], coupling[None], profile, agreement), precision[None]
        )
        return (response - profile).ravel()

    solution = root(gap, start.ravel(), method="hybr", tol=1e-14)
    candidates = [start.ravel()]
    if solution.x.min() > -1e-9:
        candidates.append(np.clip(solution.x, 0.0, 1.0))
    best = min(candidates, key=lambda x: float(np.abs(gap(x)).max()))
    return best.reshape(shape), float(np.abs(gap(best)).max())


def draw(probabilities: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw of one option per row.

    Args:
        probabilities: Shape (R, O).
        uniforms: Shape (R,), in [0, 1).

    Returns:
        Chosen option index per row, shape (R,).

    """
    cumulative = np.cumsum(probabilities, axis=-1)
    chosen = (cumulative < uniforms[:, None]).sum(axis=-1)
    return np.minimum(chosen, probabilities.shape[-1] - 1)
