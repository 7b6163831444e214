"""Face validity: does the history move toward and away from each pole when the record does?

The documented periods of warming and cooling live in ``model/data/periods.toml``. For each,
the model's change is Kazakhstan's alignment toward the pole at the period's last month minus
the month before its first. Relations also relax toward their structural level every month,
whatever happens, so a change that is only that drift says nothing about the record: the check
takes away, replicate by replicate, the change relaxation alone would have made from the same
start toward the structural level of the month before the period, and the period agrees when
the median of what remains (the push of the period's episodes and structural changes) has the
record's sign. Every run that covers a period reports it in ``summary.json``.
"""

from functools import cache
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from multivector.actors import INDEX
from multivector.calendar import parse_month
from multivector.core.world import relaxed
from multivector.inputs.parameters import DATA
from multivector.inputs.schema import DateText, Strict, check_date, load
from multivector.runs.runner import Run

PERIODS = DATA / "periods.toml"


class Period(Strict):
    """A documented stretch of months in which Kazakhstan moved toward or away from a pole."""

    id: str = Field(pattern=r"^[a-z0-9-]+$")
    pole: Literal["RUS", "CHN", "USA"]
    start: DateText
    end: DateText
    direction: Literal["warming", "cooling"]
    record: str = Field(min_length=1)
    sources: list[str] = Field(min_length=1)

    _dates = field_validator("start", "end")(check_date)

    @property
    def months(self) -> tuple[int, int]:
        """The month before the period and its last month."""
        return parse_month(self.start) - 1, parse_month(self.end)


class PeriodFile(Strict):
    """``periods.toml``."""

    period: list[Period] = Field(min_length=1)


@cache
def load_periods() -> tuple[Period, ...]:
    """The shipped periods, in file order."""
    return tuple(load(PERIODS, PeriodFile).period)


def period_change(run: Run, period: Period) -> tuple[np.ndarray, np.ndarray] | None:
    """Each replicate's change toward the pole over ``period``, and relaxation's part of it.

    Returns:
        The change, and the change relaxation alone would have made from the same start (both
        shape (R,)); None if the run does not cover the period.
    """
    months = list(run.months)
    before, last = period.months
    if before not in months or last not in months:
        return None
    pole = INDEX[period.pole]
    first, end = months.index(before), months.index(last)
    alignment = run.alignment()[:, :, pole]
    # toward the structural level as it stood before the period: a tie or trade series that
    # changes within the period is part of the record, and the model's move with it counts
    level = run.structural()[first, pole]
    rate = run.parameters.spec.dynamics.relaxation
    start = alignment[first]
    drift = start.copy()
    for _ in range(first + 1, end + 1):
        drift = relaxed(drift, level, rate)
    return alignment[end] - start, drift - start


def evaluate(run: Run, periods: tuple[Period, ...] | None = None) -> dict[str, Any]:
    """The face-validity table of a run: one row per period it covers, and the agreement.

    Args:
        run: A finished run.
        periods: The periods to check (the shipped ones if None).

    Returns:
        ``{"periods": [...], "agreeing": n, "judged": m, "agreement": n / m}``; a row has the
        period's id, pole, months and recorded direction, the model's median change, the median
        change relaxation alone would make, the median push of the episodes (change minus
        relaxation, replicate by replicate), and the share of replicates pushed the recorded way.
    """
    rows = []
    for period in load_periods() if periods is None else periods:
        found = period_change(run, period)
        if found is None:
            continue
        change, drift = found
        sign = 1.0 if period.direction == "warming" else -1.0
        push = change - drift
        rows.append(
            {
                "id": period.id,
                "pole": period.pole,
                "start": str(period.start),
                "end": str(period.end),
                "record": period.direction,
                "model_median_change": round(float(np.median(change)), 4),
                "relaxation_alone": round(float(np.median(drift)), 4),
                "episodes_push": round(float(np.median(push)), 4),
                "share_pushed_as_recorded": round(float(np.mean(sign * push > 0)), 3),
                "agrees": bool(sign * np.median(push) > 0),
            }
        )
    agreeing = sum(r["agrees"] for r in rows)
    return {
        "periods": rows,
        "agreeing": agreeing,
        "judged": len(rows),
        "agreement": round(agreeing / len(rows), 3) if rows else None,
    }
