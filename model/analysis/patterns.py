"""The documented patterns the model must reproduce, checked on a run.

The checks live in ``model/data/patterns.toml``; every run reports them in ``summary.json``.
"""

from functools import cache
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from multivector.actors import INDEX, ActorCode
from multivector.calendar import parse_month
from multivector.core.observation import POLE_INDEX, balance
from multivector.inputs.parameters import DATA
from multivector.inputs.schema import DateText, Strict, load
from multivector.runs.runner import Run

PATTERNS = DATA / "patterns.toml"


class ChoiceCheck(Strict):
    """The decider's modal choice across replicates is ``expect``."""

    kind: Literal["choice"]
    decision: str
    decider: ActorCode
    expect: str


class TrendCheck(Strict):
    """The median of a trajectory column moves in ``direction`` between two months."""

    kind: Literal["trend"]
    metric: str = Field(
        pattern=r"^(alignment|dependence|mood|transit)_(RUS|USA|CHN|BLR|UKR)$|^balance$"
    )
    start: DateText = Field(alias="from")
    end: DateText = Field(alias="to")
    direction: Literal["up", "down"]


class AnswersCheck(Strict):
    """Among the reactor's answers, ``rather`` options outnumber ``than`` options."""

    kind: Literal["answers"]
    reactor: ActorCode
    rather: list[str] = Field(min_length=1)
    than: list[str] = Field(min_length=1)


Check = Annotated[ChoiceCheck | TrendCheck | AnswersCheck, Field(discriminator="kind")]


class Pattern(Strict):
    """A documented regularity and the checks that show it."""

    id: str
    statement: str
    checks: list[Check] = Field(min_length=1)


class PatternFile(Strict):
    """``patterns.toml``."""

    pattern: list[Pattern] = Field(min_length=1)


@cache
def load_patterns() -> tuple[Pattern, ...]:
    """The shipped pattern checks."""
    return tuple(load(PATTERNS, PatternFile).pattern)


def _choice(run: Run, check: ChoiceCheck) -> dict[str, Any]:
    for found in run.decisions():
        decision = found.decision
        if decision.key != check.decision:
            continue
        row = decision.deciders.index(INDEX[check.decider])
        made = found.choices[found.posed, row]
        if made.size == 0:
            break
        shares = np.bincount(made, minlength=len(decision.options)) / made.size
        modal = decision.options[int(np.argmax(shares))]
        return {
            "check": f"{check.decider} in {check.decision}: mostly {check.expect}",
            "share": round(float(shares[decision.options.index(check.expect)]), 3),
            "modal": modal,
            "passed": modal == check.expect,
        }
    return {"check": f"{check.decider} in {check.decision}", "passed": None, "absent": True}


def _series(run: Run, metric: str) -> np.ndarray:
    if metric == "balance":
        return balance(run.alignment()[:, :, POLE_INDEX])
    kind, code = metric.split("_")
    series = {
        "alignment": run.alignment,
        "dependence": run.dependence,
        "mood": run.mood,
        "transit": run.transit,
    }
    return series[kind]()[:, :, INDEX[code]]


def _trend(run: Run, check: TrendCheck) -> dict[str, Any]:
    months = list(run.months)
    first, last = parse_month(check.start), parse_month(check.end)
    label = f"{check.metric} {check.direction} from {check.start} to {check.end}"
    if first not in months or last not in months:
        return {"check": label, "passed": None, "absent": True}
    series = _series(run, check.metric)
    before = float(np.median(series[months.index(first)]))
    after = float(np.median(series[months.index(last)]))
    moved = after - before
    return {
        "check": label,
        "from": round(before, 4),
        "to": round(after, 4),
        "passed": bool(moved < 0 if check.direction == "down" else moved > 0),
    }


def _answers(run: Run, check: AnswersCheck) -> dict[str, Any]:
    rather = than = 0
    reactor = INDEX[check.reactor]
    for found in run.decisions():
        decision = found.decision
        if reactor not in decision.deciders:
            continue
        names = np.array(decision.options)
        if not set(names) & (set(check.than) | set(check.rather)):
            continue
        made = names[found.choices[found.posed, decision.deciders.index(reactor)]]
        rather += int(np.isin(made, check.rather).sum())
        than += int(np.isin(made, check.than).sum())
    label = (
        f"{check.reactor} answers with {'/'.join(check.rather)} rather than {'/'.join(check.than)}"
    )
    if rather + than == 0:
        return {"check": label, "passed": None, "absent": True}
    return {"check": label, "rather": rather, "than": than, "passed": rather > than}


def evaluate(run: Run) -> list[dict[str, Any]]:
    """Every pattern with the figures of each check on this run."""
    out = []
    for pattern in load_patterns():
        results = []
        for check in pattern.checks:
            if isinstance(check, ChoiceCheck):
                results.append(_choice(run, check))
            elif isinstance(check, TrendCheck):
                results.append(_trend(run, check))
            else:
                results.append(_answers(run, check))
        judged = [r["passed"] for r in results if r["passed"] is not None]
        out.append(
            {
                "id": pattern.id,
                "statement": pattern.statement,
                "checks": results,
                "passed": sum(judged),
                "judged": len(judged),
            }
        )
    return out
