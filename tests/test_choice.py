import numpy as np

from model.choice import draw, equilibrium_utilities, logit, solve_equilibrium


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


def test_root_finder_finishes_what_the_iteration_cannot():
    base, coupling, precision = _game(4)
    # ten iterations per stage are far too few: the root finder must finish every replicate
    quick = solve_equilibrium(base, coupling, precision, max_iterations=10)
    response = logit(equilibrium_utilities(base, coupling, quick.probabilities), precision)
    assert np.abs(response - quick.probabilities).max() < 1e-10
    patient = solve_equilibrium(base, coupling, precision)
    assert np.abs(quick.probabilities - patient.probabilities).max() < 1e-9


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
