"""Structural inputs by month: trade shares, transit, ties, and what they imply.

The raw facts live in ``model/data/structure/*.toml``. This module turns them into arrays indexed
(month, actor, partner) for the months a run spans, and combines them with the parameter file
into the two quantities the dynamics use: each actor's dependence on each partner, and the
baseline (structural) relation that relations relax toward.
"""

from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import get_args

import numpy as np

from multivector.actors import INDEX, N_ACTORS
from multivector.calendar import parse_month
from multivector.inputs.parameters import DATA, Parameters
from multivector.inputs.schema import (
    ISSUE_TAGS,
    NormsFile,
    PopulationFile,
    TieKind,
    TiesFile,
    TradeFile,
    TransitFile,
    load,
)

STRUCTURE = DATA / "structure"

GREAT_POWER_TIES = ("unsc_permanent",)
ALLIANCE_TIES = ("csto", "alliance")


@dataclass(frozen=True)
class StructuralData:
    """The validated structural files."""

    trade: TradeFile
    transit: TransitFile
    ties: TiesFile
    population: PopulationFile
    norms: NormsFile


def without_ties(
    data: StructuralData, dropped: list[tuple[str, tuple[str, ...], int]]
) -> StructuralData:
    """The structural data without some ties, each named by (kind, actors, start month)."""
    kept = [
        tie
        for tie in data.ties.tie
        if (tie.kind, tuple(tie.actors), parse_month(tie.start)) not in set(dropped)
    ]
    return replace(data, ties=data.ties.model_copy(update={"tie": kept}))


@cache
def load_structure(folder: Path = STRUCTURE) -> StructuralData:
    """Load and validate the five structural files (cached: they are read-only)."""
    return StructuralData(
        trade=load(folder / "trade.toml", TradeFile),
        transit=load(folder / "transit.toml", TransitFile),
        ties=load(folder / "ties.toml", TiesFile),
        population=load(folder / "population.toml", PopulationFile),
        norms=load(folder / "norms.toml", NormsFile),
    )


def _interpolate_by_year(points: dict[int, float], months: np.ndarray) -> np.ndarray:
    """Linear interpolation between mid-year values, the nearest value held outside."""
    years = np.array(sorted(points), dtype=float)
    values = np.array([points[int(y)] for y in years])
    return np.interp(months / 12.0, years + 0.5, values)


@dataclass(frozen=True)
class Structure:
    """Structural arrays for a span of months.

    Attributes:
        months: Month indices covered, shape (M,).
        trade_share: Share of actor i's trade that is with partner j, shape (M, 6, 6).
        transit: Share of actor i's exports crossing partner j, shape (M, 6, 6).
        ties: Indicator arrays by tie kind, each shape (M, 6, 6) (1 where both are members).
        great_power: 1 where the actor holds a permanent UNSC seat, shape (M, 6).
        kin: Share of actor i's population that is partner j's kin, shape (6, 6).
        stance: Declared stance of each actor on each issue tag, shape (6, tags).
        issue_tags: The tag order of ``stance``'s last axis.

    """

    months: np.ndarray
    trade_share: np.ndarray
    transit: np.ndarray
    ties: dict[str, np.ndarray]
    great_power: np.ndarray
    kin: np.ndarray
    stance: np.ndarray
    issue_tags: tuple[str, ...]

    def at(self, month: int) -> int:
        """Position of a month in the arrays, clamped to the span."""
        return int(np.clip(month - self.months[0], 0, len(self.months) - 1))

    def members(self, kinds: tuple[str, ...], month: int) -> list[int]:
        """Actors that hold any of the given (self-)ties at a month, e.g. UNSC seats."""
        position = self.at(month)
        held = sum(np.diagonal(self.ties[k][position]) for k in kinds)
        return [i for i in range(N_ACTORS) if held[i] > 0]

    def dependence(self, parameters: Parameters) -> np.ndarray:
        """How much each actor depends on each partner, shape (M, 6, 6), rows summing to one.

        Each actor's share of dependence on each partner, from a weighted sum of the trade
        share, the transit share, an alliance with a great power, shared membership of the
        Eurasian Economic Union, a strategic partnership, and the partner being a great power.
        """
        return shares(self.dependence_total(parameters))

    def dependence_total(self, parameters: Parameters) -> np.ndarray:
        """The weighted sum behind :meth:`dependence`, before it is made shares, (M, 6, 6).

        Kept so that a lasting change of one component (cargo rerouted away from a transit
        state) can be added to it in its own units.
        """
        d = parameters.spec.dependence
        power = self.great_power[:, None, :]
        allied = np.clip(sum(self.ties[k] for k in ALLIANCE_TIES), 0, 1)
        total = (
            d.trade * self.trade_share
            + d.transit * self.transit
            + d.alliance * allied * power
            + d.union * self.ties["eaeu"]
            + d.partnership * self.ties["strategic_partnership"]
            + d.great_power * np.broadcast_to(power, self.trade_share.shape)
        )
        return _zero_diagonal(total)

    def baseline_relation(self, parameters: Parameters) -> np.ndarray:
        """Structural relation each actor would hold toward each partner, in (-1, 1).

        ``tanh`` of a weighted sum of alliance, union, partnership, armed conflict, sanctions
        (in either direction), the trade share and the share of the population that is the
        partner's kin.
        """
        r = parameters.spec.relation
        allied = np.clip(sum(self.ties[k] for k in ALLIANCE_TIES), 0, 1)
        sanctions = np.clip(self.ties["sanctions"] + self.ties["sanctions"].swapaxes(1, 2), 0, 1)
        conflict = np.clip(self.ties["armed_conflict"], 0, 1)
        score = (
            r.base
            + r.alliance * allied
            + r.union * self.ties["eaeu"]
            + r.partnership * self.ties["strategic_partnership"]
            + r.conflict * conflict
            + r.sanctions * sanctions
            + r.trade * self.trade_share
            + r.kin * self.kin
        )
        return _zero_diagonal(np.tanh(score))


def shares(total: np.ndarray) -> np.ndarray:
    """Each row of non-negative weights as shares summing to one (all zero stays zero).

    Dependence is kept as shares so that the partner term is a weighted average of approvals,
    whatever the scale of the weights.
    """
    return total / np.maximum(total.sum(axis=-1, keepdims=True), 1e-12)


def _zero_diagonal(array: np.ndarray) -> np.ndarray:
    out = array.copy()
    idx = np.arange(N_ACTORS)
    out[..., idx, idx] = 0.0
    return out


def build_structure(first: int, last: int, data: StructuralData | None = None) -> Structure:
    """Compile the structural files into arrays for months ``first`` to ``last`` inclusive."""
    data = data or load_structure()
    months = np.arange(first, last + 1)
    n = len(months)

    totals: dict[int, dict[int, float]] = {}
    for row in data.trade.total:
        totals.setdefault(INDEX[row.actor], {})[row.year] = row.usd_bn
    flows: dict[tuple[int, int], dict[int, float]] = {}
    for row in data.trade.flow:
        for a, b in ((row.a, row.b), (row.b, row.a)):
            flows.setdefault((INDEX[a], INDEX[b]), {})[row.year] = row.usd_bn
    trade_share = np.zeros((n, N_ACTORS, N_ACTORS))
    for (i, j), points in flows.items():
        if i in totals:
            share = _interpolate_by_year(points, months) / _interpolate_by_year(totals[i], months)
            trade_share[:, i, j] = np.clip(share, 0.0, 1.0)

    transit = np.zeros((n, N_ACTORS, N_ACTORS))
    routes: dict[tuple[int, int], dict[int, float]] = {}
    for row in data.transit.transit:
        routes.setdefault((INDEX[row.actor], INDEX[row.via]), {})[row.year] = row.share
    for (i, j), points in routes.items():
        transit[:, i, j] = _interpolate_by_year(points, months)

    kinds = get_args(TieKind)
    ties = {k: np.zeros((n, N_ACTORS, N_ACTORS)) for k in kinds}
    for tie in data.ties.tie:
        start = parse_month(tie.start)
        end = parse_month(tie.end) if tie.end is not None else 10**9
        active = ((months >= start) & (months <= end)).astype(float)[:, None]
        members = [INDEX[a] for a in tie.actors]
        if tie.kind == "sanctions":  # directed: imposer -> target
            pairs = [(members[0], t) for t in members[1:]]
        else:
            pairs = [(a, b) for a in members for b in members]  # includes (a, a): membership
        for a, b in pairs:
            ties[tie.kind][:, a, b] = np.maximum(ties[tie.kind][:, a, b], active[:, 0])
    great_power = np.stack([np.diagonal(ties[k], axis1=1, axis2=2) for k in GREAT_POWER_TIES])
    great_power = great_power.max(axis=0)

    tags = ISSUE_TAGS
    stance = np.zeros((N_ACTORS, len(tags)))
    for row in data.norms.stance:
        stance[INDEX[row.actor], tags.index(row.issue)] = row.stance

    kin = np.zeros((N_ACTORS, N_ACTORS))
    latest: dict[tuple[int, int], int] = {}
    for row in data.population.minority:  # the latest recorded year wins
        pair = (INDEX[row.actor], INDEX[row.kin])
        if row.year >= latest.get(pair, -1):
            latest[pair] = row.year
            kin[pair] = row.share

    return Structure(months, trade_share, transit, ties, great_power, kin, stance, tags)
