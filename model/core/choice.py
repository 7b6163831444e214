"""Random-utility choice: the logit rule and the logit quantal-response equilibrium."""

from dataclasses import dataclass

import numpy as np

WINDOW = 50
"""Iterations between checks that a replicate's equilibrium iteration is making progress."""
MIN_STEP = 0.01
HOMOTOPY = (1.0,)
"""Fractions of the precision the equilibrium is traced through (the principal branch). Vote
games at calibrated parameters can have three equilibria. Newton's method, started from the
players' responses to their own utilities, solves each replicate at full precision directly
when it converges there to an equilibrium of the principal branch's index; where it does not
(its first step is long, it stalls, leaves the simplex, contracts too slowly or finds an
unstable equilibrium), that replicate's path from zero precision is halved, up to four times,
so hard replicates follow a path as fine as 1/16 of the precision while easy ones take one.
Checked against the eight-stage damped iteration used before: on every vote of the replayed
record for 400 parameter draws from the calibration's uncertainty and 400 at three times its
spread, and on 30,000 simulated votes, both give the same equilibrium to 1e-6 from the same
inputs, except one of the 12,000 replayed equilibria, where the principal branch ends in a fold
and the two land on different equilibria beyond it."""
STAGE_TOLERANCE = 1e-5
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
    Palfrey 1995), so the equilibrium selected moves smoothly with the parameters even where
    the full-precision game has several (see ``HOMOTOPY``). Each stage is solved by Newton's
    method on ``logit(precision U(P)) - P = 0`` until the distance to the best response,
    ``max |logit(U(P)) - P|``, is below ``tolerance`` (looser on the way); a replicate where
    Newton's method fails has its stage halved, and after four halvings the damped iteration
    ``P <- (1 - a) P + a logit(precision U(P))`` (then a root finder) finishes it. Each
    replicate's path depends only on its own numbers, so its equilibrium is the same to the bit
    alone or in any batch.

    Args:
        base: Utilities that do not depend on the others' choices, shape (R, P, O).
        coupling: Weight player p puts on agreeing with player q, shape (R, P, P), zero diagonal.
        precision: Choice precision of each player, shape (R, P).
        agreement: Agreement between two options, shape (O, O); see
            :func:`equilibrium_utilities`.
        damping: Initial step size of the damped fixed-point iteration.
        tolerance: Convergence threshold at full precision.
        max_iterations: Iterations per stage before the root finder takes over.
        start: Initial profile; each player's logit response to its own utilities if None.
        stages: Fractions of the precision to pass through, ending with 1.
        strict: Raise if a replicate is still not converged after the root finder; if False,
            keep its closest profile (calibration explores extreme parameters, far from the
            optimum, where this can happen).

    Returns:
        The equilibrium. ``iterations`` bounds what any replicate needed: the most any
        replicate took in each stage, summed over the stages and their halvings.

    Raises:
        RuntimeError: If ``strict`` and some replicate does not converge.
    """
    # the logit response to the players' own utilities is the equilibrium without coupling
    if start is None and base.shape[0] > 1:
        # replicates that have not diverged yet pose the same game: solve each game once
        key = np.concatenate(
            [base.reshape(len(base), -1), coupling.reshape(len(base), -1), precision], axis=1
        )
        _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
        if len(first) <= DISTINCT_SHARE * len(base):
            solved = solve_equilibrium(
                base[first],
                coupling[first],
                precision[first],
                agreement=agreement,
                damping=damping,
                tolerance=tolerance,
                max_iterations=max_iterations,
                stages=stages,
                strict=strict,
            )
            return Equilibrium(
                solved.probabilities[inverse.reshape(-1)], solved.iterations, solved.residual
            )
    if start is None:
        # the logit response to the players' own utilities, then to each other's: one
        # fixed-point step from the game without coupling, a start near the principal branch
        alone = logit(base, precision * stages[0])
        utilities = equilibrium_utilities(base, coupling, alone, agreement)
        profile = logit(utilities, precision * stages[0])
    else:
        profile = start.copy()
    problem = _Problem(base, coupling, precision, agreement, damping, max_iterations)
    everyone = np.arange(base.shape[0])
    total, reached = 0, 0.0
    for fraction in stages:
        loose = tolerance if fraction == stages[-1] else max(tolerance, STAGE_TOLERANCE)
        total += problem.advance(profile, everyone, reached, fraction, loose, REFINEMENTS)
        reached = fraction
    gap = logit(equilibrium_utilities(base, coupling, profile, agreement), precision) - profile
    residual = float(np.abs(gap).max()) if gap.size else 0.0
    if strict and residual > ROOT_TOLERANCE:
        raise RuntimeError(f"the equilibrium did not converge (distance {residual:.1e})")
    return Equilibrium(profile, total, residual)


NEWTON_STEPS = 12
"""Newton iterations per stage before a replicate's stage is split in two (after
:data:`REFINEMENTS` splits, the damped iteration finishes it)."""
REFINEMENTS = 4
"""How often a stage is halved for a replicate before the damped iteration finishes it."""
FIRST_STEP = 0.3
"""Longest first Newton step (largest change of a probability) accepted without halving."""
DISTINCT_SHARE = 0.5
"""Solve only the distinct games when at most this share of the replicates differ."""
SIGN_STEP = 1e-3
"""Newton steps shorter than this are taken close enough to read the equilibrium's index."""
CONTRACTION = 0.25
"""Largest ratio of Newton's second step to its first before a stage is halved."""


@dataclass(frozen=True)
class _Problem:
    """One simultaneous decision's equilibrium problem, for every replicate."""

    base: np.ndarray
    coupling: np.ndarray
    precision: np.ndarray
    agreement: np.ndarray | None
    damping: float
    max_iterations: int

    def advance(
        self,
        profile: np.ndarray,
        rows: np.ndarray,
        start: float,
        end: float,
        tolerance: float,
        refinements: int,
    ) -> int:
        """Move ``rows`` of ``profile`` (in place) from the equilibrium at ``start`` to ``end``.

        Newton's method from the last equilibrium; a replicate where it does not converge has
        the stage split in two and tries again, and after ``refinements`` splits the damped
        iteration finishes it. Returns the most iterations any replicate used.
        """
        before = profile[rows].copy()
        solved, unsolved, iterations = _newton(
            self.base[rows],
            self.coupling[rows],
            self.precision[rows] * end,
            self.agreement,
            _agreement_slope(self.agreement, self.base.shape[-1]),
            before,
            tolerance,
        )
        profile[rows] = solved
        if unsolved.size == 0:
            return iterations
        retry = rows[unsolved]
        profile[retry] = before[unsolved]  # start again from the last equilibrium
        if refinements == 0:
            profile[retry], more, _ = _iterate(
                self.base[retry],
                self.coupling[retry],
                self.precision[retry] * end,
                self.agreement,
                profile[retry],
                self.damping,
                tolerance,
                self.max_iterations,
            )
            return iterations + more
        middle = (start + end) / 2.0
        loose = max(tolerance, STAGE_TOLERANCE)
        more = self.advance(profile, retry, start, middle, loose, refinements - 1)
        more += self.advance(profile, retry, middle, end, tolerance, refinements - 1)
        return iterations + more


def _agreement_slope(agreement: np.ndarray | None, n_options: int) -> np.ndarray:
    """How the expected agreement with a player moves with its probabilities, (O, O)."""
    return 2.0 * np.eye(n_options) if agreement is None else np.asarray(agreement, dtype=float)


def _jacobian(
    response: np.ndarray, precision: np.ndarray, coupling: np.ndarray, slope: np.ndarray
) -> np.ndarray:
    """Jacobian of ``logit(precision U(P)) - P`` on the simplex, per replicate.

    Player p's logit responds to its utilities as ``precision (diag(s) - s s^T)``, and its
    utilities to player q's probabilities as ``coupling[p, q] * slope``; so block (p, q) is
    ``coupling[p, q] * precision_p * s_o (slope[o, :] - s @ slope)``, minus the identity.
    Each player's probabilities sum to one, so the system is written in the first O - 1
    probabilities of each player (the last one moves by minus their sum): shape
    (R, P (O-1), P (O-1)).
    """
    replicates, players, options = response.shape
    mean_slope = (response.reshape(-1, options) @ slope).reshape(response.shape)
    through = (precision[..., None, None] * response[..., :, None]) * (
        slope - mean_slope[..., None, :]
    )  # (R, P, O, O)
    # in the reduced coordinates: rows for the first O-1 options, columns o' minus the last
    reduced = through[:, :, :-1, :-1] - through[:, :, :-1, -1:]
    jacobian = coupling[:, :, None, :, None] * reduced[:, :, :, None, :]
    size = players * (options - 1)
    jacobian = jacobian.reshape(replicates, size, size)
    diagonal = np.arange(size)
    jacobian[:, diagonal, diagonal] -= 1.0
    return jacobian


def _newton_step(jacobian: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """Solve the reduced Newton system and return the step for every probability."""
    replicates, players, options = gap.shape
    reduced = np.linalg.solve(jacobian, -gap[:, :, :-1].reshape(replicates, -1, 1))
    reduced = reduced.reshape(replicates, players, options - 1)
    return np.concatenate([reduced, -reduced.sum(axis=-1, keepdims=True)], axis=-1)


def _newton(
    base: np.ndarray,
    coupling: np.ndarray,
    precision: np.ndarray,
    agreement: np.ndarray | None,
    slope: np.ndarray,
    profile: np.ndarray,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Newton's method on ``logit(precision U(P)) - P = 0``, per replicate.

    Starting from the previous stage's equilibrium, Newton converges in a few steps on the
    same branch. A replicate whose step would leave the simplex, or whose distance to its best
    response does not shrink, stops and is returned in ``unsolved``. The batched linear solves
    treat each replicate's system separately, so a replicate's path is its own.

    Returns:
        The profiles, the replicates left unsolved, and the most Newton steps taken.
    """
    profile = profile.copy()
    replicates = base.shape[0]
    active = np.arange(replicates)
    unsolved: list[np.ndarray] = []
    last_distance = np.full(replicates, np.inf)
    first_step = np.zeros(replicates)
    index_sign = np.full(replicates, np.nan)
    steps = 0
    for step in range(1, NEWTON_STEPS + 1):
        steps = step
        current = profile[active]
        lam = precision[active]
        utilities = equilibrium_utilities(base[active], coupling[active], current, agreement)
        response = logit(utilities, lam)
        gap = response - current
        distance = np.abs(gap).max(axis=(1, 2))
        converged = distance < tolerance
        stalled = ~converged & (distance >= last_distance[active])
        unsolved.append(active[stalled])
        going = ~converged & ~stalled
        active, current, response, gap, lam, distance = (
            a[going] for a in (active, current, response, gap, lam, distance)
        )
        if active.size == 0:
            break
        jacobian = _jacobian(response, lam, coupling[active], slope)
        delta = _newton_step(jacobian, gap)
        moved = current + delta
        size_now = np.abs(delta).max(axis=(1, 2))
        # near the solution the Jacobian's determinant has the equilibrium's sign: record it
        # here rather than build the Jacobian again once converged
        close = size_now < SIGN_STEP
        if close.any():
            signs, _ = np.linalg.slogdet(-jacobian[close])
            index_sign[active[close]] = signs
        outside = (moved < -1e-12).any(axis=(1, 2)) | ~np.isfinite(moved).all(axis=(1, 2))
        # Newton on the right branch contracts fast; a second step more than CONTRACTION of
        # the first means the start lies outside this equilibrium's basin (Deuflhard's test)
        if step == 1:
            outside |= size_now > FIRST_STEP  # a long first step may cross into another basin
        if step == 2:
            outside |= size_now > CONTRACTION * first_step[active]
        unsolved.append(active[outside])
        keep = ~outside
        active, moved, distance = active[keep], moved[keep], distance[keep]
        profile[active] = np.clip(moved, 0.0, 1.0)
        last_distance[active] = distance
        if step == 1:
            first_step[active] = size_now[keep]
    else:
        unsolved.append(active)
    unsolved_rows = np.unique(np.concatenate(unsolved))
    solved = np.setdiff1d(np.arange(replicates), unsolved_rows)
    unknown = solved[np.isnan(index_sign[solved])]  # converged before any small step
    if unknown.size:
        index_sign[unknown] = np.where(
            _stable(
                profile[unknown],
                base[unknown],
                coupling[unknown],
                precision[unknown],
                agreement,
                slope,
            ),
            1.0,
            -1.0,
        )
    unstable = solved[index_sign[solved] <= 0]
    return profile, np.union1d(unsolved_rows, unstable), steps


def _stable(
    profile: np.ndarray,
    base: np.ndarray,
    coupling: np.ndarray,
    precision: np.ndarray,
    agreement: np.ndarray | None,
    slope: np.ndarray,
) -> np.ndarray:
    """Whether each equilibrium has the index of the principal branch, det(I - K) > 0.

    K is the response map's Jacobian. At zero precision K = 0, and along the principal branch
    det(I - K) stays positive; an unstable equilibrium between two stable ones (which Newton's
    method can find, and the damped iteration cannot) has it negative.
    """
    if profile.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    response = logit(equilibrium_utilities(base, coupling, profile, agreement), precision)
    sign, _ = np.linalg.slogdet(-_jacobian(response, precision, coupling, slope))
    return sign > 0


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
    # option k takes [F(k-1), F(k)): an option of probability zero is never drawn, even at u = 0
    chosen = (cumulative <= uniforms[:, None]).sum(axis=-1)
    return np.minimum(chosen, probabilities.shape[-1] - 1)


def tremble(probabilities: np.ndarray, share: float | np.ndarray) -> np.ndarray:
    """Mix a share of uniform choice into choice probabilities (a trembling hand).

    ``(1 - share) P + share / O``: with probability ``share`` the decider acts as if at random,
    which bounds every option's probability away from zero and one. The calibration fits the
    share on the record (``docs/ODD.md``, "Honest probabilities").

    Args:
        probabilities: Array (..., O) summing to one over the last axis.
        share: Scalar, or an array broadcastable to ``probabilities[..., 0]``.
    """
    share = np.asarray(share, dtype=float)[..., None]
    if not np.any(share):
        return probabilities
    return (1.0 - share) * probabilities + share / probabilities.shape[-1]
