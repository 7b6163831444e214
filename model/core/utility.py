"""The utility function: what each option is worth to a decider, term by term.

For decider i and option o (arrays carry a leading replicate axis r):

    U_i(o) = w_partner     * sum_j  D_ij R_ij A_j(o)     partner approval, weighted by
                                                          dependence D and relation R
           + w_stake       * A_i(o)                       the decider's own stake (sponsor,
                                                          target, party directly concerned)
           + w_principle   * s_i . d(o)                   fit with i's declared norms:
                                                          stance on the episode's issues
                                                          times the option's direction
           + w_autonomy    * autonomy(o)                  staying out of any one bloc's basket
           + w_prestige    * prestige(o)                  a mediator's or host's standing
           + w_material    * material(o)                  trade, investment, transit, exposure
           + w_mood        * mean_j M_ij A_j(o)           domestic mood: the public's warmth M
                                                          toward those who approve
           + w_consistency * [o = i's last choice on this issue thread]
           + w_habit       * [o = i's last vote on this resolution family]   (routine votes,
                                                          instead of consistency)

A_j(o) is actor j's approval of the option: exogenous where the episode gives it (j's
stake), and in a simultaneous decision ``2 P_j(o) - 1`` for the other players, j's expected
agreement, which :mod:`multivector.core.choice` solves as a quantal-response equilibrium. Choice is
logit: P_i(o) is proportional to exp(lambda_i U_i(o)).
"""

import numpy as np

from multivector.actors import N_ACTORS
from multivector.inputs.library import Decision
from multivector.inputs.parameters import TERMS

PARTNER, STAKE, PRINCIPLE, AUTONOMY, PRESTIGE, MATERIAL, MOOD, CONSISTENCY, HABIT = range(
    len(TERMS)
)


def utility_terms(
    decision: Decision,
    actor: int,
    relation: np.ndarray,
    mood: np.ndarray,
    dependence: np.ndarray,
    consistent: np.ndarray,
) -> np.ndarray:
    """The exogenous utility terms of each option for one decider.

    Args:
        decision: The decision posed.
        actor: The decider's index.
        relation: Relations, shape (R, 6, 6): how warmly i regards j.
        mood: Public mood, shape (R, 6, 6).
        dependence: Dependence, shape (R, 6, 6).
        consistent: Whether each option repeats the decider's last choice on the thread,
            shape (R, O).

    Returns:
        Terms in the order of :data:`multivector.inputs.parameters.TERMS`, shape (R, O, T).

    """
    return stacked_terms([decision], actor, relation, mood, dependence, consistent[None])[0]


def stacked_terms(
    decisions: list[Decision],
    actor: int,
    relation: np.ndarray,
    mood: np.ndarray,
    dependence: np.ndarray,
    consistent: np.ndarray,
) -> np.ndarray:
    """:func:`utility_terms` for several decisions with the same options, posed at one state.

    A month's routine votes are evaluated together this way (one array operation per term).

    Args:
        decisions: Decisions with the same number of options.
        actor: The decider's index.
        relation: Relations, shape (R, 6, 6).
        mood: Public mood, shape (R, 6, 6).
        dependence: Dependence, shape (R, 6, 6).
        consistent: Per decision, whether each option repeats the decider's last choice on
            its thread, shape (V, R, O).

    Returns:
        Shape (V, R, O, T).
    """
    n_votes, n_rep, n_opt = consistent.shape
    stake = np.stack([d.stake for d in decisions])  # (V, 6)
    approval = np.stack([d.approval for d in decisions])  # (V, 6, O)
    others = stake.copy()
    others[:, actor] = False  # one's own stake is its own term, not partner approval
    partner_approval = approval * others[:, :, None]
    ties = dependence[:, actor, :] * relation[:, actor, :]  # (R, 6)
    terms = np.zeros((n_votes, n_rep, n_opt, len(TERMS)))
    terms[..., PARTNER] = np.einsum("rj,vjo->vro", ties, partner_approval)
    terms[..., MOOD] = np.einsum("rj,vjo->vro", mood[:, actor, :], partner_approval) / (
        N_ACTORS - 1
    )
    terms[..., STAKE] = np.where(stake[:, actor, None], approval[:, actor], 0.0)[:, None, :]
    terms[..., PRINCIPLE] = np.stack([d.principle[actor] for d in decisions])[:, None, :]
    features = np.stack([d.features for d in decisions])  # (V, 4, O)
    terms[..., AUTONOMY] = features[:, None, 1]
    terms[..., PRESTIGE] = features[:, None, 2]
    terms[..., MATERIAL] = features[:, None, 3]
    routine = np.array([d.routine for d in decisions])[:, None, None]
    terms[..., CONSISTENCY] = np.where(routine, 0.0, consistent)
    terms[..., HABIT] = np.where(routine, consistent, 0.0)
    return terms


def coupling_row(
    decision: Decision,
    actor: int,
    weights: np.ndarray,
    relation: np.ndarray,
    dependence: np.ndarray,
) -> np.ndarray:
    """How much the decider values agreeing with each other player of a simultaneous decision.

    Players with an exogenous stake are left out: their approval is already in the terms.
    Only the partner term couples the players: the public's mood answers the visible stakes of
    a decision (its sponsors and target), not the other voters' simultaneous choices, and
    leaving it out keeps the vote games close to having a single equilibrium.

    Args:
        decision: The decision posed.
        actor: The decider's index.
        weights: The decider's utility weights per replicate, shape (R, T).
        relation: Relations, shape (R, 6, 6).
        dependence: Dependence shares, shape (R, 6, 6).

    Returns:
        Shape (R, P) over ``decision.players``; zero for the decider itself.

    """
    return stacked_coupling([decision], actor, weights, relation, dependence)[0]


def stacked_coupling(
    decisions: list[Decision],
    actor: int,
    weights: np.ndarray,
    relation: np.ndarray,
    dependence: np.ndarray,
) -> np.ndarray:
    """:func:`coupling_row` for several decisions with the same players, shape (V, R, P)."""
    players = list(decisions[0].players)
    value = weights[:, PARTNER, None] * dependence[:, actor, players] * relation[:, actor, players]
    stake = np.stack([d.stake[players] for d in decisions])  # (V, P)
    excluded = stake | (np.array(players) == actor)[None, :]
    return np.where(excluded[:, None, :], 0.0, value[None])
