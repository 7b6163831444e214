"""The state agents: Kazakhstan, Russia, the United States, China, Belarus and Ukraine.

Each agent reads its rows of the model's state arrays (its relation to every other state and its
public's mood toward them) and evaluates its options with the utility function. Relations relax
toward their structural level in one step for all states (``World.relax``). Arrays carry a
leading replicate axis, so one agent stands for the same state in every replicate the model
advances.
"""

from typing import TYPE_CHECKING

import mesa
import numpy as np

from multivector.actors import ACTOR_NAMES, INDEX
from multivector.core.utility import (
    coupling_row,
    stacked_coupling,
    stacked_terms,
    utility_terms,
)
from multivector.inputs.library import Decision

if TYPE_CHECKING:
    from multivector.core.model import MultivectorModel


class StateAgent(mesa.Agent):
    """A state actor.

    Attributes:
        code: Actor code (``KAZ``...).
        index: Position in the model's arrays.
        label: Full name.
    """

    model: "MultivectorModel"

    def __init__(self, model: "MultivectorModel", code: str) -> None:
        super().__init__(model)
        self.code = code
        self.index = INDEX[code]
        self.label = ACTOR_NAMES[code]

    @property
    def weights(self) -> np.ndarray:
        """This state's utility weights per replicate, shape (R, T) in the order of TERMS."""
        return self.model.weights[:, self.index]

    @property
    def precision(self) -> np.ndarray:
        """This state's choice precision per replicate, shape (R,)."""
        return self.model.precision[:, self.index]

    @property
    def relation(self) -> np.ndarray:
        """How warmly this state regards each other state, shape (R, 6)."""
        return self.model.world.relation[:, self.index, :]

    def utilities(self, decision: Decision) -> np.ndarray:
        """Utility of each option that does not depend on others' simultaneous choices.

        Returns:
            Shape (R, O).
        """
        world = self.model.world
        terms = utility_terms(
            decision,
            self.index,
            world.relation,
            world.mood,
            self.model.dependence_now(),
            world.consistent(decision, self.index),
        )
        return np.einsum("rot,rt->ro", terms, self.weights)

    def coupling(self, decision: Decision) -> np.ndarray:
        """Weight on agreeing with each other player of a simultaneous decision, shape (R, P)."""
        world = self.model.world
        return coupling_row(
            decision,
            self.index,
            self.weights,
            world.relation,
            self.model.dependence_now(),
        )

    def stacked_utilities(self, decisions: list[Decision]) -> np.ndarray:
        """:meth:`utilities` of several decisions posed at this state, shape (V, R, O)."""
        world = self.model.world
        consistent = np.stack([world.consistent(d, self.index) for d in decisions])
        terms = stacked_terms(
            decisions,
            self.index,
            world.relation,
            world.mood,
            self.model.dependence_now(),
            consistent,
        )
        return np.einsum("vrot,rt->vro", terms, self.weights)

    def stacked_coupling(self, decisions: list[Decision]) -> np.ndarray:
        """:meth:`coupling` of several decisions with the same players, shape (V, R, P)."""
        world = self.model.world
        return stacked_coupling(
            decisions, self.index, self.weights, world.relation, self.model.dependence_now()
        )
