"""The model's endogenous state, as arrays with a leading replicate axis."""

from dataclasses import dataclass, field

import numpy as np

from multivector.inputs.library import Decision, Effect


def bounded_step(value: np.ndarray, push: np.ndarray) -> np.ndarray:
    """Move values in [-1, 1] by ``push`` with diminishing returns toward the bound.

    ``v + p (1 - v)`` for a positive push and ``v + p (1 + v)`` for a negative one, so a value
    never leaves [-1, 1] while |push| <= 1.
    """
    return value + push * (1.0 - np.sign(push) * value)


def relaxed(value: np.ndarray, baseline: np.ndarray, rate: float) -> np.ndarray:
    """One month's pull of relations (or moods) part of the way back to the structural level.

    Also what the face-validity check takes away from a period's change, so that it judges the
    episodes' push and not this drift.
    """
    return value + rate * (baseline - value)


def held_relaxed(
    value: np.ndarray, baseline: np.ndarray, held: np.ndarray, rate: float
) -> np.ndarray:
    """:func:`relaxed`, where lasting shocks hold some pairs away from the structural level.

    A held pair relaxes toward the structural level moved by the held amount, and only in the
    held direction: a relation held down (a blockade) may fall further but does not heal while
    the hold lasts; one held up does not cool. Unheld pairs relax as usual.
    """
    if not held.any():
        return relaxed(value, baseline, rate)
    moved = relaxed(value, baseline + held, rate)
    moved = np.where(held < 0, np.minimum(moved, value), moved)
    return np.where(held > 0, np.maximum(moved, value), moved)


@dataclass
class World:
    """Relations, moods, dependence and transit shifts, held levels and choice records.

    Attributes:
        relation: How warmly actor i regards actor j, shape (R, 6, 6), in [-1, 1].
        mood: How warmly actor i's public regards actor j, shape (R, 6, 6), in [-1, 1].
        dependence_shift: Lasting change of i's dependence on j (routes diverted), (R, 6, 6).
        transit_shift: Lasting change of the share of i's exports crossing j (cargo rerouted),
            (R, 6, 6); it enters dependence through the transit weight.
        held_relation: While a lasting shock holds (a blockade, a campaign), the amount by
            which the level i's relation toward j relaxes to is moved, (R, 6, 6).
        held_mood: The same for public mood, (R, 6, 6).
        last_choice: By issue thread, each actor's last option label (an index into
            ``labels``), shape (R, 6); -1 where it has not chosen on that thread.
        labels: Option labels seen so far, for the consistency term.
    """

    relation: np.ndarray
    mood: np.ndarray
    dependence_shift: np.ndarray
    transit_shift: np.ndarray
    held_relation: np.ndarray
    held_mood: np.ndarray
    last_choice: dict[str, np.ndarray] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    dependence_version: int = 0  # counts changes of dependence or transit shifts, for caches

    @classmethod
    def start(cls, baseline: np.ndarray, replicates: int) -> "World":
        """Every replicate starts at the structural relations; publics share them."""
        relation = np.repeat(baseline[None], replicates, axis=0)
        zeros = [np.zeros_like(relation) for _ in range(4)]
        return cls(relation, relation.copy(), *zeros)

    def broadcast(self, replicates: int) -> "World":
        """A copy with as many replicates (from one replicate, or as many as it has)."""

        def spread(array: np.ndarray) -> np.ndarray:
            if array.shape[0] == replicates:
                return array.copy()
            return np.repeat(array[:1], replicates, axis=0)

        return World(
            spread(self.relation),
            spread(self.mood),
            spread(self.dependence_shift),
            spread(self.transit_shift),
            spread(self.held_relation),
            spread(self.held_mood),
            {thread: spread(last) for thread, last in self.last_choice.items()},
            dict(self.labels),
        )

    @property
    def replicates(self) -> int:
        """Number of replicates advanced together."""
        return self.relation.shape[0]

    def label(self, name: str) -> int:
        """Index of an option label (assigned on first sight)."""
        return self.labels.setdefault(name, len(self.labels))

    def consistent(self, decision: Decision, actor: int) -> np.ndarray:
        """Whether each option repeats the actor's last choice on the thread, shape (R, O)."""
        last = self.last_choice.get(decision.thread)
        if last is None:
            return np.zeros((self.replicates, len(decision.options)), dtype=bool)
        codes = np.array([self.label(o) for o in decision.options])
        return last[:, actor, None] == codes[None, :]

    def remember(self, decision: Decision, actor: int, chosen: np.ndarray) -> None:
        """Record the actor's choice on the decision's thread where it chose (chosen >= 0)."""
        last = self.last_choice.setdefault(
            decision.thread, np.full((self.replicates, self.relation.shape[1]), -1)
        )
        codes = np.array([self.label(o) for o in decision.options])
        made = chosen >= 0
        last[made, actor] = codes[chosen[made]]

    def respond(self, observer: int, actor: int, approval: np.ndarray, rate: float) -> None:
        """``observer``'s warmth toward ``actor`` moves with its approval of a choice."""
        self.relation[:, observer, actor] = bounded_step(
            self.relation[:, observer, actor], rate * approval
        )

    def relax(self, baseline: np.ndarray, rate: float, mood_rate: float) -> None:
        """Pull every relation and public mood part of the way back to the structural level.

        Where a lasting shock holds a pair, its level is moved by the held amount and the pair
        does not relax back past its current value (:func:`held_relaxed`), so a blockade's
        damage does not heal while the blockade lasts. One array operation for all six states
        (it was one per state agent: a tenth of a run's time, measured in benchmarks/README.md).
        """
        self.relation = held_relaxed(self.relation, baseline, self.held_relation, rate)
        self.mood = held_relaxed(self.mood, baseline, self.held_mood, mood_rate)

    def hold(self, effect: Effect, weight: np.ndarray) -> None:
        """Move (a negative ``weight`` releases) the level a relation or mood relaxes to.

        Args:
            effect: A relation or mood effect; its delta is the held amount.
            weight: Per replicate, 1 where the shock holds, -1 where it ends, 0 elsewhere.
        """
        held = self.held_mood if effect.kind == "mood" else self.held_relation
        held[:, effect.actor, effect.toward] += effect.delta * weight

    def apply(self, effect: Effect, weight: np.ndarray) -> None:
        """Apply a structural effect, scaled per replicate by ``weight``.

        The weight is 0 where the effect did not happen, 1 where it did, and a probability for
        an expected choice.
        """
        a, b = effect.actor, effect.toward
        change = effect.delta * weight
        if effect.kind in ("dependence", "transit"):
            shift = self.dependence_shift if effect.kind == "dependence" else self.transit_shift
            shift[:, a, b] += change
            self.dependence_version += 1
            return
        target = self.mood if effect.kind == "mood" else self.relation
        target[:, a, b] = np.clip(target[:, a, b] + change, -1.0, 1.0)
