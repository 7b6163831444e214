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

A_j(o) is actor j's approval of the option: exogenous where the episode gives it (j's
stake), and in a simultaneous decision ``2 P_j(o) - 1`` for the other players, j's expected
agreement, which :mod:`multivector.core.choice` solves as a quantal-response equilibrium. Choice is
logit: P_i(o) is proportional to exp(lambda_i U_i(o)).
"""

import numpy as np

from multivector.actors import N_ACTORS
from multivector.inputs.library import Decision
from multivector.inputs.parameters import TERMS

PARTNER, STAKE, PRINCIPLE, AUTONOMY, PRESTIGE, MATERIAL, MOOD, CONSISTENCY = range(len(TERMS))


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
    n_rep, n_opt = consistent.shape
    stake = decision.stake.copy()
    stake[actor] = False  # one's own stake is its own term, not partner approval
    approval = decision.approval * stake[:, None]  # (6, O)
    ties = dependence[:, actor, :] * relation[:, actor, :]  # (R, 6)
    terms = np.zeros((n_rep, n_opt, len(TERMS)))
    terms[:, :, PARTNER] = ties @ approval
    terms[:, :, MOOD] = mood[:, actor, :] @ approval / (N_ACTORS - 1)
    if decision.stake[actor]:
        terms[:, :, STAKE] = decision.approval[actor]
    terms[:, :, PRINCIPLE] = decision.principle[actor]
    terms[:, :, AUTONOMY] = decision.features[1]
    terms[:, :, PRESTIGE] = decision.features[2]
    terms[:, :, MATERIAL] = decision.features[3]
    terms[:, :, CONSISTENCY] = consistent
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
    players = list(decision.players)
    value = weights[:, PARTNER, None] * dependence[:, actor, players] * relation[:, actor, players]
    excluded = decision.stake[players] | (np.array(players) == actor)
    return np.where(excluded[None, :], 0.0, value)
