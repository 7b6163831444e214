"""The equilibrium solver's parts against independent references: the Jacobian against finite
differences, the Newton step, the index test on a coordination game's unstable equilibrium,
the damped iteration against a plain re-implementation of its documented rule, the root
finder, the solve-each-distinct-game-once path, and the inverse-CDF draw."""

import numpy as np
import pytest

from multivector.core.choice import (
    MIN_STEP,
    WINDOW,
    _iterate,
    _jacobian,
    _newton_step,
    _root,
    _stable,
    draw,
    logit,
    solve_equilibrium,
)

# a UN vote's agreement: same vote 1, yes against no -1, a vote against an abstention -0.5
VOTE = np.array([[1.0, -1.0, -0.5], [-1.0, 1.0, -0.5], [-0.5, -0.5, 1.0]])


def respond(base, coupling, precision, profile, agreement=None):
    """Reference best response of one replicate: logit of base + coupling-weighted agreement."""
    players, options = base.shape
    out = np.empty_like(profile)
    for p in range(players):
        utility = base[p].copy()
        for q in range(players):
            for o in range(options):
                if agreement is None:
                    utility[o] += coupling[p, q] * (2.0 * profile[q, o] - 1.0)
                else:
                    utility[o] += coupling[p, q] * sum(
                        agreement[o, k] * profile[q, k] for k in range(options)
                    )
        weights = np.exp(precision[p] * (utility - utility.max()))
        out[p] = weights / weights.sum()
    return out


def game(seed, players=3, options=3, scale=1.0):
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 0.5, (players, options))
    coupling = rng.uniform(-1, 1, (players, players)) * scale
    np.fill_diagonal(coupling, 0.0)
    precision = rng.uniform(0.5, 2.0, players)
    return base, coupling, precision


# --- Jacobian and Newton step ---------------------------------------------------------------


@pytest.mark.parametrize("agreement", [None, VOTE])
def test_jacobian_matches_finite_differences_in_reduced_coordinates(agreement):
    slope = 2.0 * np.eye(3) if agreement is None else agreement
    for seed in range(4):
        base, coupling, precision = game(seed)
        profile = np.random.default_rng(seed + 10).dirichlet(np.ones(3), size=3)

        def gap(reduced, base=base, coupling=coupling, precision=precision):
            p = reduced.reshape(3, 2)
            full = np.concatenate([p, 1.0 - p.sum(axis=1, keepdims=True)], axis=1)
            return (respond(base, coupling, precision, full, agreement) - full)[:, :2].ravel()

        x0, h = profile[:, :2].ravel(), 1e-6
        numeric = np.column_stack(
            [(gap(x0 + h * e) - gap(x0 - h * e)) / (2 * h) for e in np.eye(6)]
        )
        response = respond(base, coupling, precision, profile, agreement)
        analytic = _jacobian(response[None], precision[None], coupling[None], slope)[0]
        assert np.allclose(analytic, numeric, atol=1e-7), seed


def test_newton_step_solves_the_reduced_system_and_keeps_each_player_on_the_simplex():
    rng = np.random.default_rng(3)
    jacobian = rng.normal(size=(2, 6, 6)) - 3 * np.eye(6)
    gap = rng.normal(size=(2, 3, 3))
    gap -= gap.mean(axis=-1, keepdims=True)
    step = _newton_step(jacobian, gap)
    assert step.shape == (2, 3, 3)
    assert np.allclose(step.sum(axis=-1), 0.0)
    for r in range(2):
        assert np.allclose(jacobian[r] @ step[r, :, :2].ravel(), -gap[r, :, :2].ravel())


# --- the index test -------------------------------------------------------------------------


def coordination(strength=3.0):
    """Two players who want to match, indifferent between two options: at high precision
    (0.5, 0.5) is an unstable equilibrium between two stable ones."""
    base = np.zeros((1, 2, 2))
    coupling = np.array([[[0.0, strength], [strength, 0.0]]])
    return base, coupling, np.array([[1.0, 1.0]])


def symmetric_stable_point(strength):
    """The equilibrium both players lean the same way, found by bisection on one number."""
    lo, hi = 0.5 + 1e-9, 1.0
    for _ in range(200):
        p = (lo + hi) / 2
        f = 1.0 / (1.0 + np.exp(-2.0 * strength * (2.0 * p - 1.0))) - p
        lo, hi = (p, hi) if f > 0 else (lo, p)
    return (lo + hi) / 2


def test_stable_tells_the_unstable_middle_from_the_stable_sides():
    base, coupling, precision = coordination(3.0)
    slope = 2.0 * np.eye(2)
    middle = np.full((1, 2, 2), 0.5)
    p = symmetric_stable_point(3.0)
    side = np.array([[[p, 1 - p], [p, 1 - p]]])
    assert not _stable(middle, base, coupling, precision, None, slope)[0]
    assert _stable(side, base, coupling, precision, None, slope)[0]
    # weakly coupled, the middle is the only equilibrium, and stable
    weak = coupling * 0.1
    assert _stable(middle, base, weak, precision, None, slope)[0]
    both = _stable(
        np.concatenate([middle, side]),
        np.concatenate([base, base]),
        np.concatenate([coupling, coupling]),
        np.concatenate([precision, precision]),
        None,
        slope,
    )
    assert both.tolist() == [False, True]


def test_the_solver_does_not_stop_at_the_unstable_equilibrium():
    """Started exactly at the unstable middle, Newton converges at once; the index test sends
    the replicate on, and it ends at the stable equilibrium the principal branch leads to."""
    base, coupling, precision = coordination(3.0)
    base = base + np.array([[[0.01, 0.0], [0.01, 0.0]]])  # a slight lean toward option 0
    result = solve_equilibrium(base, coupling, precision)
    p = result.probabilities[0]
    assert p[0, 0] > 0.99 and p[1, 0] > 0.99
    assert np.allclose(respond(base[0], coupling[0], precision[0], p), p, atol=1e-10)


def test_a_given_start_is_followed_even_for_a_batch_of_identical_games():
    """From the other stable equilibrium the solver stays there: the start is not replaced by
    the principal branch's, also when every replicate poses the same game."""
    base, coupling, precision = coordination(3.0)
    base = base + np.array([[[0.01, 0.0], [0.01, 0.0]]])
    other = 1.0 - symmetric_stable_point(3.0)
    start = np.array([[[other, 1 - other], [other, 1 - other]]])
    for replicates in (1, 4):
        result = solve_equilibrium(
            np.repeat(base, replicates, 0),
            np.repeat(coupling, replicates, 0),
            np.repeat(precision, replicates, 0),
            start=np.repeat(start, replicates, 0),
        )
        assert (result.probabilities[:, :, 0] < 0.01).all(), replicates


# --- the solver's bookkeeping ---------------------------------------------------------------


def test_without_coupling_the_equilibrium_is_the_logit_response_in_one_step():
    base, _, precision = game(5)
    result = solve_equilibrium(base[None], np.zeros((1, 3, 3)), precision[None])
    assert np.allclose(result.probabilities[0], logit(base, precision[:, None][:, 0]))
    assert result.iterations == 1 and result.residual < 1e-15


def test_iterations_add_up_over_stages():
    base, coupling, precision = game(6, scale=0.5)
    staged = solve_equilibrium(base[None], coupling[None], precision[None], stages=(0.5, 1.0))
    first = solve_equilibrium(
        base[None], coupling[None], 0.5 * precision[None], tolerance=1e-5, strict=False
    )
    second = solve_equilibrium(
        base[None], coupling[None], precision[None], start=first.probabilities, stages=(1.0,)
    )
    assert staged.iterations == first.iterations + second.iterations
    assert staged.iterations > second.iterations
    assert np.allclose(staged.probabilities, second.probabilities, atol=1e-10)


@pytest.mark.parametrize("agreement", [None, VOTE])
def test_distinct_games_are_solved_once_with_the_same_result_as_alone(agreement):
    games = [game(s, scale=1.5) for s in (7, 8)]
    order = [0, 1, 0, 0, 1, 0]  # two distinct games among six replicates
    base = np.stack([games[k][0] for k in order])
    coupling = np.stack([games[k][1] for k in order])
    precision = np.stack([games[k][2] for k in order])
    batch = solve_equilibrium(base, coupling, precision, agreement=agreement)
    alone = [
        solve_equilibrium(g[0][None], g[1][None], g[2][None], agreement=agreement) for g in games
    ]
    assert batch.probabilities.shape == (6, 3, 3)
    for r, k in enumerate(order):
        assert np.array_equal(batch.probabilities[r], alone[k].probabilities[0]), r
        p = batch.probabilities[r]
        assert np.allclose(respond(base[r], coupling[r], precision[r], p, agreement), p, atol=1e-10)
    # the six replicates cost what the two distinct games cost as a batch of two
    pair = solve_equilibrium(base[:2], coupling[:2], precision[:2], agreement=agreement)
    assert np.array_equal(pair.probabilities, batch.probabilities[:2])
    assert isinstance(batch.iterations, int) and batch.iterations == pair.iterations
    assert batch.iterations >= max(a.iterations for a in alone)
    assert isinstance(batch.residual, float) and batch.residual < 1e-10
    # the distinct games are solved with the caller's options, not the defaults
    options = {"agreement": agreement, "tolerance": 1e-8, "stages": (0.5, 1.0)}
    loose = solve_equilibrium(base, coupling, precision, **options)
    loose_pair = solve_equilibrium(base[:2], coupling[:2], precision[:2], **options)
    assert np.array_equal(loose.probabilities[:2], loose_pair.probabilities)
    assert loose.iterations == loose_pair.iterations != batch.iterations


# --- damped iteration and root finder -------------------------------------------------------


def reference_iterate(base, coupling, precision, profile, damping, tolerance, max_iterations):
    """The documented damped iteration for one replicate: P <- (1 - a) P + a logit(U(P)), and
    every WINDOW iterations, if the change is no smaller than a window ago, a is halved (not
    below MIN_STEP)."""
    step, checkpoint = damping, np.inf
    for iteration in range(1, max_iterations + 1):
        response = respond(base, coupling, precision, profile)
        change = np.abs(response - profile).max()
        profile = (1.0 - step) * profile + step * response
        if iteration % WINDOW == 0:
            if change >= checkpoint:
                step = max(step / 2.0, MIN_STEP)
            checkpoint = change
        if change < tolerance:
            return profile, iteration
    return profile, None


def anti_coordination():
    """Two players who want to differ: undamped, their simultaneous responses oscillate."""
    base = np.zeros((2, 2))
    coupling = np.array([[0.0, -2.5], [-2.5, 0.0]])
    return base, coupling, np.array([1.0, 1.0])


def test_the_damped_iteration_halves_its_step_when_it_cycles():
    base, coupling, precision = anti_coordination()
    start = np.array([[0.7, 0.3], [0.7, 0.3]])
    expected, count = reference_iterate(base, coupling, precision, start, 1.0, 1e-12, 2000)
    assert count is not None and count > 2 * WINDOW  # it needed at least two halvings
    # a batch of three replicates (more replicates than players), one started elsewhere
    starts = np.stack([start, np.array([[0.2, 0.8], [0.6, 0.4]]), start])
    n = len(starts)
    profile, iterations, residual = _iterate(
        np.stack([base] * n),
        np.stack([coupling] * n),
        np.stack([precision] * n),
        None,
        starts,
        1.0,
        1e-12,
        2000,
    )
    assert np.allclose(profile[0], expected, atol=1e-12) and np.allclose(profile[2], expected)
    other, other_count = reference_iterate(base, coupling, precision, starts[1], 1.0, 1e-12, 2000)
    assert np.allclose(profile[1], other, atol=1e-12)
    assert iterations == max(count, other_count)
    assert 0.0 <= residual < 1e-12


def test_the_damped_iteration_uses_the_agreement_and_the_root_finder_finishes_it():
    base, coupling, precision = game(9, scale=2.0)
    start = np.full((1, 3, 3), 1 / 3)
    profile, iterations, residual = _iterate(
        base[None], coupling[None], precision[None], VOTE, start, 0.5, 1e-12, 3
    )
    assert iterations == 3  # not converged in three steps: the root finder took over
    p = profile[0]
    assert np.abs(respond(base, coupling, precision, p, VOTE) - p).max() < 1e-12
    assert residual < 1e-12
    converged, _, _ = _iterate(
        base[None], coupling[None], precision[None], VOTE, start, 0.5, 1e-13, 5000
    )
    assert np.allclose(converged, profile, atol=1e-11)


def test_the_root_finder_reaches_machine_precision_with_a_nearly_impossible_option():
    base = np.array([[0.0, 0.5, -30.0], [0.2, 0.0, -30.0]])  # option 2: probability ~1e-14
    coupling = np.array([[0.0, 1.5], [1.5, 0.0]])
    precision = np.array([1.0, 1.0])
    start = np.array([[0.4, 0.6, 0.0], [0.5, 0.5, 0.0]])
    solution, gap = _root(base, coupling, precision, None, start)
    exact = np.abs(respond(base, coupling, precision, solution) - solution).max()
    assert gap == pytest.approx(exact, abs=1e-15)
    assert gap < 1e-13
    assert solution[:, 2].max() < 1e-9 and solution.min() >= 0.0


# --- the draw -------------------------------------------------------------------------------


def test_draw_is_the_inverse_cdf_and_never_runs_past_the_last_option():
    probabilities = np.array([[0.2, 0.5, 0.3], [0.2, 0.5, 0.3], [0.2, 0.5, 0.3], [0.3, 0.3, 0.3]])
    uniforms = np.array([0.1, 0.69, 0.71, 0.95])  # the last row's total is 0.9 < u
    assert draw(probabilities, uniforms).tolist() == [0, 1, 2, 2]


def test_stable_with_an_odd_number_of_reduced_coordinates():
    """Three players, two options: det(I - K) over three coordinates, whose sign flips with
    the matrix's sign (with two coordinates it would not)."""
    strength = 3.0
    base = np.zeros((1, 3, 2))
    coupling = np.full((1, 3, 3), strength / 2)
    coupling[0][np.diag_indices(3)] = 0.0
    precision = np.ones((1, 3))
    slope = 2.0 * np.eye(2)
    middle = np.full((1, 3, 2), 0.5)
    assert not _stable(middle, base, coupling, precision, None, slope)[0]
    assert _stable(middle, base, coupling * 0.1, precision, None, slope)[0]


def test_draw_never_picks_an_option_of_probability_zero():
    # u = 0 is a possible draw (probability 2^-53); the first option here cannot be chosen
    probabilities = np.array([[0.0, 1.0, 0.0], [0.0, 0.25, 0.75], [0.5, 0.5, 0.0]])
    assert draw(probabilities, np.array([0.0, 0.0, 0.5])).tolist() == [1, 1, 1]


def test_the_reported_residual_is_the_distance_to_the_best_response():
    base, coupling, precision = game(21)
    # a loose tolerance stops the solver short of the fixed point, so the distance is not zero
    solved = solve_equilibrium(
        base[None], coupling[None], precision[None], tolerance=1e-3, strict=False
    )
    profile = solved.probabilities[0]
    distance = float(np.abs(respond(base, coupling, precision, profile) - profile).max())
    assert distance > 0.0
    assert solved.residual == pytest.approx(distance, rel=1e-9, abs=1e-15)
