"""The measured memory and disk cost of a run's replicates (``data/costs.toml``)."""

from functools import cache
from pathlib import Path

from pydantic import Field

from multivector.inputs.parameters import DATA
from multivector.inputs.schema import Strict, load

COSTS = DATA / "costs.toml"


class Cost(Strict):
    """A fixed cost plus a cost per replicate-month and per decision slot, in bytes."""

    base_bytes: int = Field(ge=0)
    per_replicate_month: float = Field(ge=0)
    per_decision_slot: float = Field(ge=0)
    why: str = Field(min_length=1)

    def of(self, replicates: int, months: int, slots: int) -> int:
        """Bytes for ``replicates`` replicates of ``months`` months and ``slots`` slots each."""
        per_replicate = self.per_replicate_month * months + self.per_decision_slot * slots
        return int(self.base_bytes + replicates * per_replicate)


class Costs(Strict):
    """``data/costs.toml``: what a replicate costs in memory and on disk."""

    measured: str = Field(min_length=1)
    memory: Cost
    disk: Cost


@cache
def load_costs(path: Path = COSTS) -> Costs:
    """The measured costs (read once)."""
    return load(path, Costs)
