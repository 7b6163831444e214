import numpy as np

import multivector.core.choice as choice
from multivector.core.choice import draw, equilibrium_utilities, logit, solve_equilibrium


def test_probabilities_sum_to_one_and_rise_with_utility():
    rng = np.random.default_rng(1)
    utilities = rng.normal(size=(500, 4))
    p = logit(utilities, 2.5)
    assert np.allclose(p.sum(axis=-1), 1.0, atol=1e-12)
    assert (p > 0).all()
    # within each row, a higher utility always means a higher probability
    order = np.argsort(utilities, axis=1)
    assert (np.diff(np.take_along_axis(p, order, axis=1), axis=1) > 0).all()
    # raising one option's utility raises its probability and lowers every other
    bumped = utilities.copy()
    bumped[:, 0] += 0.3
    q = logit(bumped, 2.5)
    assert (q[:, 0] > p[:, 0]).all() and (q[:, 1:] < p[:, 1:]).all()


def test_very_high_precision_gives_the_argmax():
    utilities = np.array([[0.1, 0.5, 0.3], [2.0, -1.0, 1.99], [-3.0, -2.0, -2.5]])
    p = logit(utilities, 1e6)
    assert np.array_equal(p.argmax(axis=1), utilities.argmax(axis=1))
    assert np.allclose(p.max(axis=1), 1.0)


def test_zero_precision_is_uniform():
    p = logit(np.array([[5.0, -5.0, 0.0]]), 0.0)
    assert np.allclose(p, 1 / 3)


def test_draw_follows_the_probabilities():
    p = np.tile([0.2, 0.5, 0.3], (200_000, 1))
    u = np.random.default_rng(3).random(200_000)
    shares = np.bincount(draw(p, u), minlength=3) / len(u)
    assert np.allclose(shares, [0.2, 0.5, 0.3], atol=0.005)
    assert draw(np.array([[0.0, 1.0]]), np.array([0.999999]))[0] == 1


def _game(seed: int, reps: int = 50, players: int = 6, options: int = 3):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(reps, players, options))
    # the model's couplings: dependence shares (a row sums to one) times relations in [-1, 1]
    coupling = rng.dirichlet(np.ones(players), size=(reps, players)) * rng.uniform(
        -1, 1, size=(reps, players, players)
    )
    coupling[:, np.arange(players), np.arange(players)] = 0.0
    precision = np.broadcast_to(rng.uniform(1.0, 4.0, size=players), (reps, players))
    return base, coupling, precision


def test_equilibrium_is_a_fixed_point():
    base, coupling, precision = _game(5)
    solved = solve_equilibrium(base, coupling, precision)
    response = logit(equilibrium_utilities(base, coupling, solved.probabilities), precision)
    assert np.abs(response - solved.probabilities).max() < 1e-10
    assert np.allclose(solved.probabilities.sum(axis=-1), 1.0)


def test_equilibrium_is_unique_from_any_start():
    # within the model's range of couplings the game is a contraction: one fixed point
    base, coupling, precision = _game(8)
    reference = solve_equilibrium(base, coupling, precision).probabilities
    rng = np.random.default_rng(9)
    for _ in range(5):
        start = rng.dirichlet(np.ones(3), size=base.shape[:2])
        other = solve_equilibrium(base, coupling, precision, start=start).probabilities
        assert np.abs(other - reference).max() < 1e-9


def test_equilibrium_without_coupling_is_plain_logit():
    base, coupling, precision = _game(2)
    solved = solve_equilibrium(base, np.zeros_like(coupling), precision)
    assert np.allclose(solved.probabilities, logit(base, precision), atol=1e-12)


def _reference(base, coupling, precision, agreement=None, steps=100):
    """Independent equilibria, (R, P, O): the logit equilibrium traced from zero precision.

    Written from the definition alone: u_p(o) = base[p, o] + sum_q C[p, q] E_q[agree(o, .)],
    each small step of the precision solved by scipy's root finder from the step before.
    """
    from scipy.optimize import root

    options = base.shape[-1]
    agree = 2.0 * np.eye(options) - 1.0 if agreement is None else agreement
    solutions = []
    for b, c, lam in zip(base, coupling, precision, strict=True):
        profile = np.full(b.shape, 1.0 / options)

        def gap(x, t, b=b, c=c, lam=lam):
            p = x.reshape(b.shape)
            u = b + c @ (p @ agree.T)
            e = np.exp(t * lam[:, None] * u)
            return (e / e.sum(axis=1, keepdims=True) - p).ravel()

        for t in np.linspace(0.0, 1.0, steps + 1)[1:]:
            x = root(gap, profile.ravel(), args=(t,), method="hybr", tol=1e-14).x
            assert np.abs(x - profile.ravel()).max() < 0.1  # no jump to another branch
            profile = x.reshape(b.shape)
        assert np.abs(gap(profile.ravel(), 1.0)).max() < 1e-12
        solutions.append(profile)
    return np.stack(solutions)


def _distance(base, coupling, precision, profile, agreement=None):
    response = logit(equilibrium_utilities(base, coupling, profile, agreement), precision)
    return np.abs(response - profile).max()


def test_root_finder_finishes_what_the_iteration_cannot():
    base, coupling, precision = _game(4, reps=4)
    expected = _reference(base, coupling, precision)
    # three damped steps from the uncoupled responses are far from the equilibrium
    start = logit(base, precision)
    profile, iterations, residual = choice._iterate(
        base, coupling, precision, None, start, 0.5, 1e-12, 3
    )
    assert iterations == 3
    plain = start.copy()
    for _ in range(3):
        plain = 0.5 * plain + 0.5 * logit(equilibrium_utilities(base, coupling, plain), precision)
    assert _distance(base, coupling, precision, plain) > 1e-3
    # ... so the root finder finished every replicate
    assert residual < 1e-10
    assert _distance(base, coupling, precision, profile) < 1e-10
    assert np.abs(profile - expected).max() < 1e-9


def test_root_finder_solves_from_a_poor_start():
    base, coupling, precision = _game(6, reps=3)
    agreement = np.array([[1.0, -1.0, -0.5], [-1.0, 1.0, -0.5], [-0.5, -0.5, 1.0]])
    expected = _reference(base, coupling, precision, agreement)
    for r in range(3):
        # every player starts almost certain of its least favoured option
        start = np.full(base.shape[1:], 0.01)
        start[np.arange(base.shape[1]), base[r].argmin(axis=1)] = 0.98
        assert np.abs(start - expected[r]).max() > 0.3
        profile, gap = choice._root(base[r], coupling[r], precision[r], agreement, start)
        assert gap < 1e-10
        one = (base[r : r + 1], coupling[r : r + 1], precision[r : r + 1])
        assert _distance(*one, profile[None], agreement) < 1e-10
        assert np.abs(profile - expected[r]).max() < 1e-9


def test_damped_iteration_takes_damped_steps():
    base, coupling, precision = _game(7, reps=5)
    start = np.full(base.shape, 1.0 / 3.0)
    damping, tolerance = 0.3, 1e-4
    profile, iterations, _ = choice._iterate(
        base, coupling, precision, None, start, damping, tolerance, 1000
    )
    # the same iteration written out: each replicate stops once its best response moves
    # less than the tolerance (that last step is still taken)
    expected = start.copy()
    steps = []
    for r in range(len(base)):
        p, count = start[r : r + 1].copy(), 0
        while count < 1000:
            count += 1
            response = logit(
                equilibrium_utilities(base[r : r + 1], coupling[r : r + 1], p),
                precision[r : r + 1],
            )
            change = np.abs(response - p).max()
            p = (1.0 - damping) * p + damping * response
            if change < tolerance:
                break
        expected[r], steps = p[0], [*steps, count]
    assert max(steps) < choice.WINDOW  # the step size is never halved here
    assert iterations == max(steps)
    assert np.abs(profile - expected).max() < 1e-14


def test_damped_iteration_alone_reaches_the_equilibrium():
    base, coupling, precision = _game(4, reps=4)
    expected = _reference(base, coupling, precision)
    start = np.full(base.shape, 1.0 / 3.0)
    profile, iterations, residual = choice._iterate(
        base, coupling, precision, None, start, 0.5, 1e-13, 5000
    )
    assert iterations < 5000  # converged without the root finder
    assert residual < 1e-13
    assert np.abs(profile - expected).max() < 1e-9


def test_without_newton_the_iteration_and_root_finder_still_solve(monkeypatch):
    base, coupling, precision = _game(4, reps=4)
    expected = _reference(base, coupling, precision)
    # one Newton step never converges: every stage is halved four times, then the damped
    # iteration (ten steps) and the root finder must finish it
    monkeypatch.setattr(choice, "NEWTON_STEPS", 1)
    calls = []
    finder = choice._root

    def spy(*args):
        calls.append(1)
        return finder(*args)

    monkeypatch.setattr(choice, "_root", spy)
    solved = solve_equilibrium(base, coupling, precision, max_iterations=10)
    assert len(calls) >= len(base)
    assert solved.residual < 1e-10
    assert np.abs(solved.probabilities - expected).max() < 1e-9


def test_equilibrium_follows_the_principal_branch():
    # a coordination game with two strict equilibria at high precision: both players prefer
    # to agree, and each slightly prefers option 0 on its own
    base = np.array([[[0.1, 0.0], [0.1, 0.0]]])
    coupling = np.array([[[0.0, 3.0], [3.0, 0.0]]])
    precision = np.array([[4.0, 4.0]])
    agreement = np.array([[1.0, -1.0], [-1.0, 1.0]])
    solved = solve_equilibrium(base, coupling, precision, agreement=agreement)
    # the branch traced from low precision keeps the option favoured on its own
    assert (solved.probabilities[0, :, 0] > 0.99).all()
    # started at the other equilibrium without tracing, the iteration stays there
    other = solve_equilibrium(
        base,
        coupling,
        precision,
        agreement=agreement,
        start=np.array([[[0.0, 1.0], [0.0, 1.0]]]),
        stages=(1.0,),
    )
    assert (other.probabilities[0, :, 1] > 0.99).all()
