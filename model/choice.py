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
    base: np.ndarray, coupling: np.ndarray, probabilities: np.ndarray
) -> np.ndarray:
    """Utilities given the other players' choice probabilities.

    Player p's utility of option o adds ``sum_q coupling[p, q] * (2 P_q(o) - 1)``: the
    expected agreement with the players it values (+1 if q surely chooses o too, -1 if surely
    not).
    """
    return base + np.einsum("rpq,rqo->rpo", coupling, 2.0 * probabilities - 1.0)


def solve_equilibrium(
    base: np.ndarray,
    coupling: np.ndarray,
    precision: np.ndarray,
    *,
    damping: float = 0.5,
    tolerance: float = 1e-12,
    max_iterations: int = 2000,
    start: np.ndarray | None = None,
) -> Equilibrium:
    """Solve the logit quantal-response equilibrium of a simultaneous decision.

    Iterates ``P <- (1 - damping) P + damping * logit(precision * U(P))`` from the uniform
    profile (or ``start``) until no probability moves more than ``tolerance``.

    Args:
        base: Utilities that do not depend on the others' choices, shape (R, P, O).
        coupling: Weight player p puts on agreeing with player q, shape (R, P, P), zero diagonal.
        precision: Choice precision of each player, shape (P,).
        damping: Step size of the damped fixed-point iteration.
        tolerance: Convergence threshold on the largest probability change.
        max_iterations: Give up after this many iterations.
        start: Initial profile; uniform if None.

    Returns:
        The equilibrium.

    Raises:
        RuntimeError: If the iteration does not converge.

    """
    n_options = base.shape[-1]
    profile = np.full(base.shape, 1.0 / n_options) if start is None else start.copy()
    residual = np.inf
    for iteration in range(1, max_iterations + 1):
        response = logit(equilibrium_utilities(base, coupling, profile), precision[None, :])
        updated = (1.0 - damping) * profile + damping * response
        residual = float(np.abs(updated - profile).max())
        profile = updated
        if residual < tolerance:
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
