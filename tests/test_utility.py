"""Each utility term and the vote coupling, against values worked by hand.

The matrices are asymmetric and have non-zero diagonals, so reading a column where a row is
meant (``relation[:, :, actor]``), a flipped sign, a dropped term, or the decider's own stake
counted as partner approval each change a number below.
"""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from multivector.core.utility import (
    AUTONOMY,
    CONSISTENCY,
    HABIT,
    MATERIAL,
    MOOD,
    PARTNER,
    PRESTIGE,
    PRINCIPLE,
    STAKE,
    coupling_row,
    utility_terms,
)
from multivector.inputs.library import Decision, plain_agreement
from multivector.inputs.parameters import TERMS

HISTORY = Path(__file__).resolve().parent.parent / "scenarios" / "history_2014_2026.toml"

# dependence D[i, j]: how much i depends on j (row i is i's shares)
D = np.array(
    [
        [0.05, 0.40, 0.10, 0.20, 0.15, 0.10],
        [0.30, 0.05, 0.20, 0.25, 0.10, 0.10],
        [0.30, 0.20, 0.10, 0.20, 0.10, 0.10],
        [0.10, 0.45, 0.30, 0.05, 0.05, 0.05],
        [0.20, 0.40, 0.20, 0.10, 0.05, 0.05],
        [0.20, 0.20, 0.20, 0.20, 0.15, 0.05],
    ]
)
# relation R[i, j]: how warmly i regards j
R = np.array(
    [
        [0.8, 0.6, -0.7, 0.1, 0.3, -0.2],
        [0.4, 0.9, -0.5, 0.7, 0.6, -0.8],
        [0.5, -0.4, 0.9, 0.2, -0.6, 0.3],
        [0.3, 0.8, -0.1, 0.7, 0.4, -0.3],
        [0.7, 0.9, 0.8, 0.2, 0.6, -0.5],
        [-0.4, -0.9, 0.6, 0.1, -0.3, 0.5],
    ]
)
# public mood M[i, j]: how warmly i's public regards j
M = np.array(
    [
        [0.5, 0.4, -0.3, 0.2, 0.1, 0.0],
        [0.2, 0.6, -0.6, 0.5, 0.5, -0.7],
        [0.6, -0.2, 0.7, 0.1, 0.4, -0.5],
        [0.1, 0.7, 0.5, 0.8, 0.3, -0.2],
        [0.6, 0.8, 0.9, 0.1, 0.4, -0.4],
        [-0.2, -0.8, 0.3, 0.2, -0.1, 0.6],
    ]
)
# exogenous approval: actors 0, 2 and 4 have a stake; actor 1's row is not a stake and must
# be ignored
APPROVAL = np.array(
    [
        [1.0, -1.0, 0.5],
        [0.3, 0.3, -0.6],
        [0.5, 0.0, -1.0],
        [0.0, 0.0, 0.0],
        [-1.0, 0.5, 1.0],
        [0.0, 0.0, 0.0],
    ]
)
STAKES = np.array([True, False, True, False, True, False])
PRINCIPLES = np.array(
    [
        [0.1, -0.1, 0.0],
        [0.2, -0.2, 0.0],
        [0.4, -0.4, 0.0],
        [-0.3, 0.3, 0.0],
        [0.5, -0.5, 0.0],
        [0.6, -0.6, 0.0],
    ]
)
FEATURES = np.array(
    [
        [1.0, -1.0, 0.0],  # direction
        [0.2, -0.1, 0.6],  # autonomy
        [0.0, 0.3, -0.2],  # prestige
        [-0.5, 0.1, 0.25],  # material
    ]
)


def _decision(players=(2,), stake=STAKES, approval=APPROVAL) -> Decision:
    return Decision(
        key="test/decision",
        episode="test",
        month=24200,
        kind="summit",
        title="A decision built by hand",
        deciders=tuple(players),
        players=tuple(players),
        options=("a", "b", "c"),
        features=FEATURES,
        principle=PRINCIPLES,
        approval=approval,
        stake=stake,
        agreement=plain_agreement(3),
        effects=((), (), ()),
        observed={},
        when=None,
        thread="test-thread",
        certainty="checked",
    )


def _terms(actor: int, decision: Decision | None = None, consistent=None) -> np.ndarray:
    decision = decision or _decision()
    if consistent is None:
        consistent = np.array([[False, True, False]])
    return utility_terms(decision, actor, R[None], M[None], D[None], consistent)[0]


def test_partner_term_of_a_decider_with_its_own_stake():
    # decider 2; the stakes of 0 and 4 count, its own (2) and the non-stake row 1 do not:
    # D[2,0] R[2,0] A[0] + D[2,4] R[2,4] A[4] = 0.3 * 0.5 * A[0] + 0.1 * -0.6 * A[4]
    expected = [
        0.3 * 0.5 * 1.0 + 0.1 * -0.6 * -1.0,  # 0.21
        0.3 * 0.5 * -1.0 + 0.1 * -0.6 * 0.5,  # -0.18
        0.3 * 0.5 * 0.5 + 0.1 * -0.6 * 1.0,  # 0.015
    ]
    assert np.allclose(_terms(2)[:, PARTNER], expected, atol=1e-12)
    assert np.allclose(expected, [0.21, -0.18, 0.015], atol=1e-12)


def test_partner_term_of_a_decider_without_a_stake():
    # decider 3 has no stake: all three stakeholders count
    # D[3,0] R[3,0] = 0.1 * 0.3, D[3,2] R[3,2] = 0.3 * -0.1, D[3,4] R[3,4] = 0.05 * 0.4
    expected = [
        0.03 * 1.0 + -0.03 * 0.5 + 0.02 * -1.0,  # -0.005
        0.03 * -1.0 + -0.03 * 0.0 + 0.02 * 0.5,  # -0.02
        0.03 * 0.5 + -0.03 * -1.0 + 0.02 * 1.0,  # 0.065
    ]
    assert np.allclose(_terms(3)[:, PARTNER], expected, atol=1e-12)
    assert _terms(3)[:, STAKE].tolist() == [0.0, 0.0, 0.0]


def test_stake_term_is_the_deciders_own_approval():
    assert np.allclose(_terms(2)[:, STAKE], [0.5, 0.0, -1.0], atol=1e-15)
    assert np.allclose(_terms(4)[:, STAKE], [-1.0, 0.5, 1.0], atol=1e-15)
    # a decider's own stake moves its stake term and nothing that weighs the others
    without_own = _decision(stake=np.array([True, False, False, False, True, False]))
    t = _terms(2, without_own)
    assert t[:, STAKE].tolist() == [0.0, 0.0, 0.0]
    assert np.allclose(t[:, PARTNER], _terms(2)[:, PARTNER], atol=1e-15)
    assert np.allclose(t[:, MOOD], _terms(2)[:, MOOD], atol=1e-15)


def test_mood_term_is_the_publics_warmth_toward_the_stakeholders():
    # decider 2: (M[2,0] A[0] + M[2,4] A[4]) / 5 = (0.6 A[0] + 0.4 A[4]) / 5
    expected = [
        (0.6 * 1.0 + 0.4 * -1.0) / 5,  # 0.04
        (0.6 * -1.0 + 0.4 * 0.5) / 5,  # -0.08
        (0.6 * 0.5 + 0.4 * 1.0) / 5,  # 0.14
    ]
    assert np.allclose(_terms(2)[:, MOOD], expected, atol=1e-12)
    # decider 3: (M[3,0] A[0] + M[3,2] A[2] + M[3,4] A[4]) / 5 = (0.1, 0.5, 0.3) . A / 5
    expected = [
        (0.1 * 1.0 + 0.5 * 0.5 + 0.3 * -1.0) / 5,  # 0.01
        (0.1 * -1.0 + 0.5 * 0.0 + 0.3 * 0.5) / 5,  # 0.01
        (0.1 * 0.5 + 0.5 * -1.0 + 0.3 * 1.0) / 5,  # -0.03
    ]
    assert np.allclose(_terms(3)[:, MOOD], expected, atol=1e-12)


def test_option_terms_are_the_deciders_principle_and_the_option_features():
    for actor in (2, 3):
        t = _terms(actor)
        assert np.array_equal(t[:, PRINCIPLE], PRINCIPLES[actor])
        assert t[:, AUTONOMY].tolist() == [0.2, -0.1, 0.6]
        assert t[:, PRESTIGE].tolist() == [0.0, 0.3, -0.2]
        assert t[:, MATERIAL].tolist() == [-0.5, 0.1, 0.25]
        assert t[:, CONSISTENCY].tolist() == [0.0, 1.0, 0.0]
    assert _terms(2, consistent=np.array([[True, False, False]]))[:, CONSISTENCY].tolist() == [
        1.0,
        0.0,
        0.0,
    ]


def test_a_routine_vote_repeats_by_habit_not_consistency():
    # the same decision as a routine recorded vote: the repeat indicator moves to the habit term
    routine = _terms(2, decision=replace(_decision(), routine=True))
    ordinary = _terms(2)
    assert routine[:, HABIT].tolist() == [0.0, 1.0, 0.0]
    assert routine[:, CONSISTENCY].tolist() == [0.0, 0.0, 0.0]
    assert ordinary[:, HABIT].tolist() == [0.0, 0.0, 0.0]
    others = [t for t in range(len(TERMS)) if t not in (HABIT, CONSISTENCY)]
    assert np.array_equal(routine[:, others], ordinary[:, others])


def test_terms_read_each_replicates_own_state():
    # replicate 1 has the transposed matrices: its terms are those of the transposed world
    consistent = np.array([[False, True, False], [True, False, False]])
    both = utility_terms(
        _decision(), 3, np.stack([R, R.T]), np.stack([M, M.T]), np.stack([D, D.T]), consistent
    )
    assert both.shape == (2, 3, len(TERMS))
    # in the transposed world decider 3 reads column 3: D[0,3] R[0,3] = 0.2 * 0.1, D[2,3] R[2,3]
    # = 0.2 * 0.2, D[4,3] R[4,3] = 0.1 * 0.2
    partner = [
        0.02 * 1.0 + 0.04 * 0.5 + 0.02 * -1.0,
        0.02 * -1.0 + 0.04 * 0.0 + 0.02 * 0.5,
        0.02 * 0.5 + 0.04 * -1.0 + 0.02 * 1.0,
    ]
    mood = [
        (0.2 * 1.0 + 0.1 * 0.5 + 0.1 * -1.0) / 5,
        (0.2 * -1.0 + 0.1 * 0.0 + 0.1 * 0.5) / 5,
        (0.2 * 0.5 + 0.1 * -1.0 + 0.1 * 1.0) / 5,
    ]
    assert np.allclose(both[0], _terms(3), atol=1e-15)
    assert np.allclose(both[1, :, PARTNER], partner, atol=1e-12)
    assert np.allclose(both[1, :, MOOD], mood, atol=1e-12)
    assert both[1, :, CONSISTENCY].tolist() == [1.0, 0.0, 0.0]


def test_terms_match_the_formula_for_every_decider_in_random_worlds():
    rng = np.random.default_rng(12)
    reps = 4
    relation = rng.uniform(-1, 1, size=(reps, 6, 6))
    mood = rng.uniform(-1, 1, size=(reps, 6, 6))
    dependence = rng.dirichlet(np.ones(6), size=(reps, 6))
    approval = rng.uniform(-1, 1, size=(6, 3))
    stake = np.array([False, True, True, False, True, False])
    decision = _decision(stake=stake, approval=approval)
    consistent = rng.random((reps, 3)) < 0.4
    for actor in range(6):
        terms = utility_terms(decision, actor, relation, mood, dependence, consistent)
        for r in range(reps):
            for o in range(3):
                others = [j for j in range(6) if stake[j] and j != actor]
                partner = sum(
                    dependence[r, actor, j] * relation[r, actor, j] * approval[j, o] for j in others
                )
                public = sum(mood[r, actor, j] * approval[j, o] for j in others) / 5
                own = approval[actor, o] if stake[actor] else 0.0
                assert terms[r, o, PARTNER] == pytest.approx(partner, abs=1e-12)
                assert terms[r, o, MOOD] == pytest.approx(public, abs=1e-12)
                assert terms[r, o, STAKE] == pytest.approx(own, abs=1e-15)
                assert terms[r, o, CONSISTENCY] == float(consistent[r, o])


WEIGHTS = np.array([[1.5, 2.0, 0.7, 0.4, 0.3, 0.2, 0.9, 0.6, 0.8]])


def test_coupling_row_is_the_partner_weight_on_each_free_player():
    # players in a shuffled order; 0, 2 and 4 have a stake and are left out, as is the decider
    players = (1, 3, 5, 2, 0, 4)
    decision = _decision(players=players)
    row = coupling_row(decision, 3, WEIGHTS, R[None], D[None])[0]
    expected = [
        1.5 * 0.45 * 0.8,  # q = 1: w_partner D[3,1] R[3,1]
        0.0,  # q = 3: the decider itself
        1.5 * 0.05 * -0.3,  # q = 5: D[3,5] R[3,5]
        0.0,  # q = 2: stake
        0.0,  # q = 0: stake
        0.0,  # q = 4: stake
    ]
    assert np.allclose(row, expected, atol=1e-12)
    # decider 2 (a stakeholder itself) values the free players 1, 3 and 5 by its own row
    row = coupling_row(decision, 2, WEIGHTS, R[None], D[None])[0]
    expected = [1.5 * 0.2 * -0.4, 1.5 * 0.2 * 0.2, 1.5 * 0.1 * 0.3, 0.0, 0.0, 0.0]
    assert np.allclose(row, expected, atol=1e-12)


def test_coupling_row_without_stakes_excludes_only_the_decider():
    decision = _decision(
        players=(0, 1, 2, 3, 4, 5), stake=np.zeros(6, dtype=bool), approval=np.zeros((6, 3))
    )
    weights = np.stack([WEIGHTS[0], 2.0 * WEIGHTS[0]])  # partner weight 1.5, then 3.0
    rows = coupling_row(decision, 4, weights, np.stack([R, R.T]), np.stack([D, D.T]))
    first = [1.5 * 0.2 * 0.7, 1.5 * 0.4 * 0.9, 1.5 * 0.2 * 0.8, 1.5 * 0.1 * 0.2, 0.0]
    first.append(1.5 * 0.05 * -0.5)
    # replicate 1's world is transposed: decider 4 reads column 4 of D and R
    second = [3.0 * 0.15 * 0.3, 3.0 * 0.1 * 0.6, 3.0 * 0.1 * -0.6, 3.0 * 0.05 * 0.4, 0.0]
    second.append(3.0 * 0.15 * -0.3)
    assert np.allclose(rows, [first, second], atol=1e-12)


def test_agent_utilities_weigh_the_terms_by_the_agents_own_weights(history):
    from multivector.actors import ACTORS
    from multivector.core.model import MultivectorModel

    rng = np.random.default_rng(5)
    reps = 2
    weights = rng.uniform(-1.0, 2.0, size=(reps, 6, len(TERMS)))
    precision = rng.uniform(1.0, 3.0, size=(reps, 6))
    model = MultivectorModel(
        history, rng=7, replicate_ids=np.arange(reps), parameter_sets=(weights, precision)
    )
    for _ in range(3):
        model.step()
    decision = next(d for plans in model.plans.values() for p in plans for d in p.decisions)
    world = model.world
    dependence = model.dependence_now()
    for actor in range(6):
        agent = model.states[ACTORS[actor]]
        utilities = agent.utilities(decision)
        terms = utility_terms(
            decision,
            actor,
            world.relation,
            world.mood,
            dependence,
            world.consistent(decision, actor),
        )
        for r in range(reps):
            for o in range(len(decision.options)):
                expected = sum(terms[r, o, t] * weights[r, actor, t] for t in range(len(TERMS)))
                assert utilities[r, o] == pytest.approx(expected, abs=1e-12)
        # and the terms are of this model's state: the partner term by hand
        others = [j for j in range(6) if decision.stake[j] and j != actor]
        for r in range(reps):
            partner = [
                sum(
                    dependence[r, actor, j] * world.relation[r, actor, j] * decision.approval[j, o]
                    for j in others
                )
                for o in range(len(decision.options))
            ]
            assert np.allclose(terms[r, :, PARTNER], partner, atol=1e-12)
        assert np.allclose(agent.precision, precision[:, actor])
