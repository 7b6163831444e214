"""What the model reports: alignment, balance, decisions, UN agreement and S-scores."""

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from multivector.actors import ACTORS, INDEX, KAZAKHSTAN, POLES
from multivector.inputs.library import Decision

POLE_INDEX = np.array([INDEX[p] for p in POLES])
# Vote positions for the S-score: yes 1, abstain 0.5, no 0 (Signorino and Ritter 1999).
VOTE_POSITION = {"yes": 1.0, "abstain": 0.5, "no": 0.0}


def balance(alignment: np.ndarray) -> np.ndarray:
    """How evenly Kazakhstan spreads its alignment over the three poles, in [0, 1].

    ``1 - (max - min) / 2`` over the alignments toward Russia, China and the US: 1 when it
    regards all three equally, 0 when it is fully with one and fully against another.

    Args:
        alignment: Shape (..., 3), alignments in [-1, 1] toward the poles.
    """
    return 1.0 - (alignment.max(axis=-1) - alignment.min(axis=-1)) / 2.0


@dataclass(frozen=True)
class DecisionRecord:
    """One decision as posed in a run.

    Attributes:
        decision: The compiled decision.
        month: Month posed.
        posed: Replicates where it was posed, shape (R,).
        probabilities: Each decider's option probabilities, shape (R, D, O); NaN where not posed.
        choices: Each decider's choice, shape (R, D); -1 where not posed.
        iterations: Equilibrium iterations (1 for a single decider).
    """

    decision: Decision
    month: int
    posed: np.ndarray
    probabilities: np.ndarray
    choices: np.ndarray
    iterations: int = 1


@dataclass
class Recorder:
    """Collects the monthly state and every decision of a run.

    Attributes:
        months: Months recorded, in order.
        alignment: Kazakhstan's relation toward each state each month, shape (M, R, 6).
        dependence: Kazakhstan's dependence shares on each state each month, (M, R, 6).
        mood: Kazakh public mood toward each state each month, (M, R, 6), if kept.
        transit: Share of Kazakh exports crossing each state each month, (M, R, 6), if kept.
        extras: Which of ``mood`` and ``transit`` to keep (a sweep keeps only the metrics
            its experiment asks for: each costs as much memory as the alignment).
        relations: All relations each month, shape (M, R, 6, 6), if kept.
        decisions: Every decision posed, in order.
        structural: Kazakhstan's structural relation toward each state each month, (M, 6):
            the level its relations relax toward.
    """

    keep_relations: bool = False
    extras: tuple[str, ...] = ("mood", "transit")
    months: list[int] = field(default_factory=list)
    alignment: list[np.ndarray] = field(default_factory=list)
    dependence: list[np.ndarray] = field(default_factory=list)
    mood: list[np.ndarray] = field(default_factory=list)
    transit: list[np.ndarray] = field(default_factory=list)
    relations: list[np.ndarray] = field(default_factory=list)
    decisions: list[DecisionRecord] = field(default_factory=list)
    structural: list[np.ndarray] = field(default_factory=list)

    def observe(
        self,
        month: int,
        relation: np.ndarray,
        dependence: np.ndarray,
        structural: np.ndarray,
        *,
        mood: np.ndarray,
        transit: np.ndarray,
    ) -> None:
        """Record the state at the end of a month (``structural``: that month's (6, 6) level).

        ``relation``, ``dependence``, ``mood`` and ``transit`` have shape (R, 6, 6).
        """
        self.months.append(month)
        self.structural.append(structural[KAZAKHSTAN].copy())
        self.alignment.append(relation[:, KAZAKHSTAN, :].copy())
        self.dependence.append(dependence[:, KAZAKHSTAN, :].copy())
        if "mood" in self.extras:
            self.mood.append(mood[:, KAZAKHSTAN, :].copy())
        if "transit" in self.extras:
            self.transit.append(transit[:, KAZAKHSTAN, :].copy())
        if self.keep_relations:
            self.relations.append(relation.copy())

    def alignment_array(self) -> np.ndarray:
        """Kazakhstan's alignment toward every state, shape (M, R, 6)."""
        return np.stack(self.alignment)

    def structural_array(self) -> np.ndarray:
        """Kazakhstan's structural relation toward every state, shape (M, 6)."""
        return np.stack(self.structural)

    def dependence_array(self) -> np.ndarray:
        """Kazakhstan's dependence shares on every state, shape (M, R, 6)."""
        return np.stack(self.dependence)

    def mood_array(self) -> np.ndarray:
        """Kazakh public mood toward every state, shape (M, R, 6)."""
        return np.stack(self.mood)

    def transit_array(self) -> np.ndarray:
        """Share of Kazakh exports crossing every state, shape (M, R, 6)."""
        return np.stack(self.transit)

    def votes(self) -> list[DecisionRecord]:
        """The UN votes cast in the run."""
        return [r for r in self.decisions if r.decision.kind == "un_vote"]


def vote_matrix(records: list[DecisionRecord], replicates: int) -> np.ndarray:
    """Vote positions (yes 1, abstain 0.5, no 0; NaN absent), shape (R, votes, 6)."""
    positions = np.full((replicates, len(records), len(ACTORS)), np.nan)
    for v, record in enumerate(records):
        codes = np.array([VOTE_POSITION[o] for o in record.decision.options])
        for d, actor in enumerate(record.decision.deciders):
            chosen = record.choices[:, d]
            positions[chosen >= 0, v, actor] = codes[chosen[chosen >= 0]]
    return positions


def agreement_scores(positions: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """UN-style agreement and S-scores between every pair of actors, per replicate.

    Agreement (as in UN voting studies): 1 for an identical vote, 0.5 where one abstains and
    the other votes, 0 for yes against no, averaged over the votes both cast. The S-score
    (Signorino and Ritter): ``1 - 2 d`` where d is the mean absolute distance between the two
    positions on the yes 1 / abstain 0.5 / no 0 scale, whose maximum distance is 1.

    Args:
        positions: From :func:`vote_matrix`, shape (R, votes, 6).

    Returns:
        ``{"A-B": {"agreement": (R,), "s_score": (R,), "votes": (R,)}}`` for each pair.
    """
    out: dict[str, dict[str, np.ndarray]] = {}
    for a, b in combinations(range(len(ACTORS)), 2):
        distance = np.abs(positions[:, :, a] - positions[:, :, b])  # NaN where one is absent
        both = ~np.isnan(distance)
        count = both.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_distance = np.where(both, distance, 0.0).sum(axis=1) / count
        out[f"{ACTORS[a]}-{ACTORS[b]}"] = {
            "agreement": 1.0 - mean_distance,
            "s_score": 1.0 - 2.0 * mean_distance,
            "votes": count,
        }
    return out
