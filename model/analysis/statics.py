"""Measure comparative statics: does each lever move what it should, the way it should?

Every row of a statics file (:mod:`multivector.inputs.statics`) is run at each of its lever's
values on the same seed and replicates (common random numbers), so the differences between
the values come from the lever, not from noise. Runs shared by several rows are made once.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from multivector.actors import INDEX
from multivector.calendar import parse_month
from multivector.core.observation import POLE_INDEX, balance
from multivector.inputs.statics import Statics, StaticsRow
from multivector.runs.runner import Run, run_scenario
from multivector.version import __version__

TOLERANCE = 0.005
"""How far one step between neighbouring values may go against the expected direction."""


@dataclass(frozen=True)
class Measured:
    """A row measured: the outcome at each value of its lever, and the verdict."""

    row: StaticsRow
    outcomes: tuple[float, ...]
    posed: tuple[float, ...]

    @property
    def change(self) -> float:
        """Outcome at the highest value minus the outcome at the lowest."""
        return self.outcomes[-1] - self.outcomes[0]

    @property
    def monotone(self) -> bool:
        """No step between neighbouring values goes against the expected direction."""
        sign = 1.0 if self.row.expect == "rises" else -1.0
        steps = np.diff(self.outcomes) * sign
        return bool(np.all(steps >= -TOLERANCE))

    @property
    def passed(self) -> bool:
        """The outcome moved the expected way, by at least the row's minimum, step by step."""
        if not np.all(np.isfinite(self.outcomes)):
            return False
        sign = 1.0 if self.row.expect == "rises" else -1.0
        return self.change * sign >= self.row.min_change and self.monotone

    def as_dict(self, statics: Statics) -> dict[str, Any]:
        """The row and its measurement, for JSON, with its scenario file and hash."""
        row = self.row
        source = statics.scenarios[row.id].source
        return {
            "id": row.id,
            "kind": row.kind,
            "scenario": source.file if source else row.scenario,
            "scenario_sha256": source.sha256 if source else None,
            "lever": row.lever,
            "label": row.label,
            "outcome": row.outcome,
            "values": row.values,
            "measured": [round(x, 4) for x in self.outcomes],
            "posed_share": [round(x, 4) for x in self.posed],
            "change": round(self.change, 4),
            "expect": row.expect,
            "min_change": row.min_change,
            "monotone": self.monotone,
            "passed": self.passed,
            "mechanism": row.mechanism,
            "source": row.source,
        }


RunCache = dict[tuple[str, str, float, int, int], Run]
"""Runs by (scenario name, lever, value, replicates, seed), shared between rows."""


def _run(statics: Statics, row: StaticsRow, value: float, replicates: int, cache: RunCache) -> Run:
    scenario = statics.scenarios[row.id]
    key = (scenario.name, row.lever, value, replicates, statics.spec.seed)
    if key not in cache:
        varied, parameters = statics.lever_at(row, value)
        cache[key] = run_scenario(
            varied, replicates=replicates, seed=statics.spec.seed, parameters=parameters
        )
    return cache[key]


def choice_outcome(run: Run, row: StaticsRow) -> tuple[float, float]:
    """Mean probability of the row's option where posed (pooled over months), and posed share."""
    choice = row.choice
    assert choice is not None
    actor = INDEX[choice.actor]
    posed_any = np.zeros(run.replicates, dtype=bool)
    total, count = 0.0, 0
    for found in run.decisions():
        decision = found.decision
        if decision.key != choice.decision or actor not in decision.deciders:
            continue
        d = decision.deciders.index(actor)
        k = decision.options.index(choice.option)
        posed = found.posed & ~posed_any  # each replicate counts once, where first posed
        total += float(found.probabilities[posed, d, k].sum())
        count += int(posed.sum())
        posed_any |= found.posed
    mean = total / count if count else float("nan")
    return mean, float(posed_any.mean())


def state_outcome(run: Run, row: StaticsRow) -> float:
    """Mean over replicates of the row's metric at the end of its month."""
    state = row.state
    assert state is not None
    position = run.months.index(parse_month(state.month))
    if state.metric == "balance":
        return float(balance(run.alignment()[position][:, POLE_INDEX]).mean())
    kind, code = state.metric.split("_")
    series: dict[str, Callable[[], np.ndarray]] = {
        "alignment": run.alignment,
        "dependence": run.dependence,
        "mood": run.mood,
        "transit": run.transit,
    }
    return float(series[kind]()[position][:, INDEX[code]].mean())


def measure_row(
    statics: Statics,
    row: StaticsRow,
    *,
    replicates: int | None = None,
    cache: RunCache | None = None,
) -> Measured:
    """Run a row at each of its lever's values and measure its outcome."""
    replicates = replicates or statics.spec.replicates
    cache = {} if cache is None else cache
    outcomes, posed = [], []
    for value in row.values:
        run = _run(statics, row, value, replicates, cache)
        if row.choice is not None:
            mean, share = choice_outcome(run, row)
        else:
            mean, share = state_outcome(run, row), 1.0
        outcomes.append(mean)
        posed.append(share)
    return Measured(row, tuple(outcomes), tuple(posed))


def measure(
    statics: Statics,
    *,
    replicates: int | None = None,
    only: list[str] | None = None,
    progress: Callable[[StaticsRow], None] | None = None,
) -> dict[str, Any]:
    """Measure every row (or the rows named in ``only``); the report ``statics --json`` prints."""
    cache: RunCache = {}
    rows = [row for row in statics.spec.row if not only or row.id in only]
    measured = []
    for row in rows:
        measured.append(measure_row(statics, row, replicates=replicates, cache=cache))
        if progress is not None:
            progress(row)
    return {
        "file": str(statics.path),
        "sha256": statics.sha256,
        "question": statics.spec.question,
        "seed": statics.spec.seed,
        "replicates": replicates or statics.spec.replicates,
        "package_version": __version__,
        "pairing": "common random numbers: every value of a lever runs the same seed and "
        "replicate numbers",
        "rows": [m.as_dict(statics) for m in measured],
        "passed": sum(m.passed for m in measured),
        "total": len(measured),
    }
