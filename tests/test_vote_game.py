"""The vote game checked against an independent solution.

The reference solution here is written from the model's definition alone: player p's utility
of option o is ``base[p, o] + sum_q C[p, q] sum_o' agreement[o, o'] P_q(o')``, choice is logit
with precision lambda_p, and the equilibrium is the one reached by following the logit
equilibrium from zero precision (where every player mixes uniformly) up to the full precision
in many small steps, each solved by scipy's root finder from the step before.
"""

from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import root

import multivector.core.model as model_module
from multivector.actors import ACTORS, N_ACTORS
from multivector.core.choice import solve_equilibrium
from multivector.core.model import MultivectorModel
from multivector.inputs.library import VOTE_AGREEMENT
from multivector.inputs.scenario import load_scenario

HISTORY = Path(__file__).resolve().parent.parent / "scenarios" / "history_2014_2026.toml"

# the order of the utility terms, written out here rather than imported
PARTNER, STAKE, PRINCIPLE, AUTONOMY, PRESTIGE, MATERIAL, MOOD, CONSISTENCY = range(8)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _utilities(base, coupling, agreement, profile):
    # expected[q, o]: how far option o agrees, on average, with what q does
    expected = np.array(
        [[agreement[o] @ profile[q] for o in range(profile.shape[1])] for q in range(len(profile))]
    )
    return base + coupling @ expected


def reference_equilibrium(base, coupling, precision, agreement, steps=200):
    """One game's logit equilibrium on the principal branch, shape (P, O)."""
    players, options = base.shape
    profile = np.full((players, options), 1.0 / options)  # exact at zero precision

    for t in np.linspace(0.0, 1.0, steps + 1)[1:]:

        def gap(x, t=t):
            p = x.reshape(players, options)
            u = _utilities(base, coupling, agreement, p)
            return (_softmax(t * precision[:, None] * u) - p).ravel()

        solution = root(gap, profile.ravel(), method="hybr", tol=1e-14)
        step = np.abs(solution.x.reshape(players, options) - profile).max()
        assert step < 0.05, "the reference path jumped: a fold, pick another game"
        profile = solution.x.reshape(players, options)
    # a few plain Newton steps with a finite-difference Jacobian polish the last root
    for _ in range(3):
        g = gap(profile.ravel(), 1.0)
        h = 1e-7
        jac = np.column_stack(
            [(gap(profile.ravel() + h * e, 1.0) - g) / h for e in np.eye(players * options)]
        )
        profile = profile - np.linalg.lstsq(jac, g, rcond=None)[0].reshape(profile.shape)
    residual = np.abs(gap(profile.ravel(), 1.0)).max()
    assert residual < 1e-13
    assert np.allclose(profile.sum(axis=1), 1.0, atol=1e-12) and (profile > 0).all()
    return profile


def _asymmetric_three_player_game():
    base = np.array(
        [
            [0.4, -0.2, 0.1],
            [-0.3, 0.5, 0.0],
            [0.2, 0.1, -0.4],
        ]
    )
    # C[p, q] != C[q, p]: player 0 wants to agree with 1, who wants to disagree with 0
    coupling = np.array(
        [
            [0.0, 0.6, -0.2],
            [-0.5, 0.0, 0.3],
            [0.1, 0.7, 0.0],
        ]
    )
    precision = np.array([2.0, 3.0, 1.5])
    return base, coupling, precision


def test_three_player_game_matches_the_independent_solution():
    base, coupling, precision = _asymmetric_three_player_game()
    plain = 2.0 * np.eye(3) - 1.0  # 1 for the same option, -1 for any other
    expected = reference_equilibrium(base, coupling, precision, plain)
    # the game really depends on who values whom: the transposed coupling ends elsewhere
    transposed = reference_equilibrium(base, coupling.T, precision, plain)
    assert np.abs(transposed - expected).max() > 1e-2
    # the default agreement (None) is the plain one
    for agreement in (None, plain):
        solved = solve_equilibrium(base[None], coupling[None], precision[None], agreement=agreement)
        assert np.abs(solved.probabilities[0] - expected).max() < 1e-8


def _six_player_vote(seed: int):
    rng = np.random.default_rng(seed)
    base = rng.normal(scale=0.5, size=(6, 3))
    # the model's coupling scale: partner weight times dependence share times relation
    coupling = 1.7 * rng.dirichlet(np.ones(6), size=6) * rng.uniform(-1, 1, size=(6, 6))
    coupling[np.arange(6), np.arange(6)] = 0.0
    coupling[:, [1, 2]] = 0.0  # two players have an exogenous stake: nobody plays against them
    precision = rng.uniform(3.0, 6.0, size=6)
    return base, coupling, precision


def test_six_player_vote_matches_the_independent_solution():
    games = [_six_player_vote(seed) for seed in (3, 4)]
    expected = np.stack([reference_equilibrium(*g, VOTE_AGREEMENT) for g in games])
    transposed = np.stack(
        [reference_equilibrium(b, c.T, lam, VOTE_AGREEMENT) for b, c, lam in games]
    )
    assert np.abs(transposed - expected).max() > 1e-2
    base, coupling, precision = (np.stack(parts) for parts in zip(*games, strict=True))
    solved = solve_equilibrium(base, coupling, precision, agreement=VOTE_AGREEMENT)
    assert np.abs(solved.probabilities - expected).max() < 1e-8
    # each replicate alone gives the same equilibrium
    for r in range(2):
        alone = solve_equilibrium(
            base[r : r + 1], coupling[r : r + 1], precision[r : r + 1], agreement=VOTE_AGREEMENT
        )
        assert np.abs(alone.probabilities[0] - expected[r]).max() < 1e-8


# --- the vote game the model itself builds ------------------------------------------------


def _model_before(key: str):
    """A model of the documented history advanced to the month before vote ``key``."""
    model = MultivectorModel(load_scenario(HISTORY), rng=7, replicate_ids=np.arange(3))
    decision = next(
        d
        for plans in model.plans.values()
        for plan in plans
        for d in plan.decisions
        if d.key == key
    )
    while model.month < decision.month - 1:
        model.step()
    return model, decision


def _hand_built_game(model, decision):
    """Base utilities, coupling and precision of the vote, from the model's state by hand."""
    world = model.world
    relation, mood = world.relation, world.mood
    dependence = model.dependence_now()
    players = list(decision.players)
    n_rep, n_opt = relation.shape[0], len(decision.options)
    base = np.zeros((n_rep, len(players), n_opt))
    coupling = np.zeros((n_rep, len(players), len(players)))
    for r in range(n_rep):
        for a, p in enumerate(players):
            w = model.weights[r, p]
            consistent = world.consistent(decision, p)[r]
            for o in range(n_opt):
                partner = sum(
                    dependence[r, p, j] * relation[r, p, j] * decision.approval[j, o]
                    for j in range(N_ACTORS)
                    if decision.stake[j] and j != p
                )
                public = sum(
                    mood[r, p, j] * decision.approval[j, o]
                    for j in range(N_ACTORS)
                    if decision.stake[j] and j != p
                ) / (N_ACTORS - 1)
                own = decision.approval[p, o] if decision.stake[p] else 0.0
                base[r, a, o] = (
                    w[PARTNER] * partner
                    + w[STAKE] * own
                    + w[PRINCIPLE] * decision.principle[p, o]
                    + w[AUTONOMY] * decision.features[1, o]
                    + w[PRESTIGE] * decision.features[2, o]
                    + w[MATERIAL] * decision.features[3, o]
                    + w[MOOD] * public
                    + w[CONSISTENCY] * float(consistent[o])
                )
            for b, q in enumerate(players):
                if q != p and not decision.stake[q]:
                    # what p puts on agreeing with q
                    coupling[r, a, b] = w[PARTNER] * dependence[r, p, q] * relation[r, p, q]
    precision = model.precision[:, players]
    return base, coupling, precision


@pytest.mark.parametrize(
    "key", ["unsc-2017-02-28-syria-cw-sanctions/vote", "unga-72-190-crimea-rights/vote"]
)
def test_model_vote_game_is_the_hand_built_game(key, monkeypatch):
    model, decision = _model_before(key)
    assert decision.players == tuple(range(N_ACTORS))
    base, coupling, precision = _hand_built_game(model, decision)
    # the game is coupled, and not symmetrically
    assert np.abs(coupling).max() > 0.05
    assert np.abs(coupling - coupling.transpose(0, 2, 1)).max() > 0.05

    seen = {}
    solver = model_module.solve_equilibrium

    def spy(base, coupling, precision, **options):
        seen.update(base=base, coupling=coupling, precision=precision, **options)
        return solver(base, coupling, precision, **options)

    monkeypatch.setattr(model_module, "solve_equilibrium", spy)
    probabilities, _ = model.probabilities(decision)

    # row p of the coupling is what p puts on agreeing with each q
    assert np.abs(seen["coupling"] - coupling).max() < 1e-12
    assert np.abs(seen["base"] - base).max() < 1e-12
    assert np.array_equal(seen["precision"], precision)
    assert np.array_equal(seen["agreement"], VOTE_AGREEMENT)
    # the choice probabilities mix the parameter file's tremble into the equilibrium
    share = model.parameters.spec.choice.tremble
    for r in range(base.shape[0]):
        expected = reference_equilibrium(base[r], coupling[r], precision[r], VOTE_AGREEMENT)
        expected = (1.0 - share) * expected + share / 3.0
        assert np.abs(probabilities[r] - expected).max() < 1e-8, (key, r, ACTORS)
