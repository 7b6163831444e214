"""Random-utility choice: the logit rule and the logit quantal-response equilibrium."""

from dataclasses import dataclass

import numpy as np


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
) -> Equilibrium:
    """Solve the logit quantal-response equilibrium of a simultaneous decision.

    Iterates ``P <- (1 - damping) P + damping * logit(precision * U(P))`` from the uniform
    profile (or ``start``). Each replicate stops as soon as none of its own probabilities moves
    more than ``tolerance``, so a replicate's equilibrium is the same to the bit whether it is
    solved alone or in a batch.

    Args:
        base: Utilities that do not depend on the others' choices, shape (R, P, O).
        coupling: Weight player p puts on agreeing with player q, shape (R, P, P), zero diagonal.
        precision: Choice precision of each player, shape (P,).
        agreement: Agreement between two options, shape (O, O); see
            :func:`equilibrium_utilities`.
        damping: Step size of the damped fixed-point iteration.
        tolerance: Convergence threshold on the largest probability change.
        max_iterations: Give up after this many iterations.
        start: Initial profile; uniform if None.

    Returns:
        The equilibrium (``iterations`` is the most any replicate needed).

    Raises:
        RuntimeError: If some replicate does not converge.
    """
    n_options = base.shape[-1]
    profile = np.full(base.shape, 1.0 / n_options) if start is None else start.copy()
    active = np.arange(base.shape[0])
    residual = 0.0
    for iteration in range(1, max_iterations + 1):
        current = profile[active]
        utilities = equilibrium_utilities(base[active], coupling[active], current, agreement)
        response = logit(utilities, precision[None, :])
        updated = (1.0 - damping) * current + damping * response
        change = np.abs(updated - current).max(axis=(1, 2))
        profile[active] = updated
        residual = float(change.max())
        active = active[change >= tolerance]
        if active.size == 0:
            return Equilibrium(profile, iteration, residual)
    raise RuntimeError(f"equilibrium did not converge: residual {residual:.2e}")


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
