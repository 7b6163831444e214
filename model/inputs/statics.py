"""Comparative-statics files: which lever should move which choice or state, and which way.

A row names a scenario, a lever (a shock field such as ``shock.<name>.intensity`` or a
parameter such as ``dependence.transit``, written as in an experiment), two or more values of
it, and what it should move: a decider's probability of an option, or a state metric at a
month. It says which way the outcome should go between the lowest and the highest value, and by
at least how much, with the source of that expectation. ``multivector statics`` measures every
row on paired runs; ``tests/test_statics.py`` asserts each one.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from multivector.actors import ActorCode
from multivector.calendar import parse_month
from multivector.errors import InputError
from multivector.inputs.experiment import Target, check_lever, known_decisions, with_lever
from multivector.inputs.parameters import Parameters
from multivector.inputs.scenario import Scenario, load_scenario, scenario_parameters
from multivector.inputs.schema import (
    DateText,
    FieldProblem,
    Identifier,
    OptionName,
    Strict,
    check_date,
    load_with_bytes,
)

Metric = Annotated[
    str, Field(pattern=r"^(alignment|dependence|mood|transit)_(RUS|USA|CHN|BLR|UKR)$|^balance$")
]


class ChoiceMeasure(Strict):
    """A decider's mean probability of one option, over the replicates where it was posed.

    A decision posed in several months (a shock with a hazard) is pooled over them.
    """

    decision: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9-]*$")]
    actor: ActorCode
    option: OptionName


class StateMeasure(Strict):
    """The mean over replicates of a state metric (``transit_RUS``...) at the end of a month."""

    metric: Metric
    month: DateText

    @model_validator(mode="after")
    def _month(self) -> "StateMeasure":
        check_date(self.month)
        return self


class StaticsRow(Strict):
    """One comparative static.

    Attributes:
        id: The row's name.
        kind: The shock kind whose lever it is, or ``parameter``.
        scenario: The scenario file, relative to the statics file.
        lever: What is varied, as an experiment's input target.
        label: The lever in words.
        values: The lever's values, increasing.
        choice: A choice probability to measure, or
        state: a state metric to measure.
        expect: Whether the outcome rises or falls from the lowest to the highest value.
        min_change: The least absolute change between the lowest and the highest value.
        mechanism: What in the model makes the lever act.
        source: Why the record, the seeds or the literature expect this direction and size.
    """

    id: Identifier
    kind: str = Field(min_length=1)
    scenario: str = Field(min_length=1)
    lever: Target
    label: str = Field(min_length=1)
    values: list[float] = Field(min_length=2)
    choice: ChoiceMeasure | None = None
    state: StateMeasure | None = None
    expect: Literal["rises", "falls"]
    min_change: Annotated[float, Field(gt=0.0, le=1.0)]
    mechanism: str = Field(min_length=1)
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _shape(self) -> "StaticsRow":
        if (self.choice is None) == (self.state is None):
            raise FieldProblem("choice", "give exactly one of choice and state")
        if any(b <= a for a, b in zip(self.values, self.values[1:], strict=False)):
            raise FieldProblem("values", "must increase")
        return self

    @property
    def outcome(self) -> str:
        """The outcome in words."""
        if self.choice is not None:
            return f"P({self.choice.actor} {self.choice.option}) in {self.choice.decision}"
        assert self.state is not None
        return f"{self.state.metric} at {self.state.month}"


class StaticsFile(Strict):
    """A comparative-statics file (``experiments/statics.toml``)."""

    question: str = Field(min_length=1)
    replicates: Annotated[int, Field(ge=10, le=100_000)] = 200
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0
    row: list[StaticsRow] = Field(min_length=1)


@dataclass(frozen=True)
class Statics:
    """A loaded statics file: its rows with their scenarios loaded and checked.

    Attributes:
        spec: The validated file.
        path: Where it was read from.
        sha256: Hash of the file's bytes.
        scenarios: Each row's scenario, by row id.
    """

    spec: StaticsFile
    path: Path
    sha256: str
    scenarios: dict[str, Scenario]

    def lever_at(self, row: StaticsRow, value: float) -> tuple[Scenario, Parameters]:
        """The row's scenario and parameters with its lever set to ``value``."""
        scenario = self.scenarios[row.id]
        return with_lever(scenario, scenario_parameters(scenario), row.lever, value)


def _check_row(
    path: Path,
    position: int,
    row: StaticsRow,
    scenario: Scenario,
    known: dict[str, tuple[tuple[str, ...], tuple[str, ...]]],
) -> None:
    """The lever must reach the scenario at every value; the outcome must exist in it.

    ``known`` is every decision the scenario can pose (:func:`known_decisions`).
    """
    where = f"row[{position}]({row.id})"
    for value in row.values:
        try:
            check_lever(scenario, row.lever, value)
        except FieldProblem as problem:
            problem_text = f"{row.lever} = {value:g}: {problem}"
            raise InputError(path, f"{where}.lever", problem_text) from None
    if row.choice is not None:
        choice = row.choice
        if choice.decision not in known:
            raise InputError(
                path, f"{where}.choice.decision", f"no decision '{choice.decision}' in the scenario"
            )
        deciders, options = known[choice.decision]
        if choice.actor not in deciders:
            raise InputError(path, f"{where}.choice.actor", f"{choice.actor} does not decide it")
        if choice.option not in options:
            raise InputError(
                path, f"{where}.choice.option", f"'{choice.option}' not among {sorted(options)}"
            )
    if row.state is not None:
        outside = scenario.outside_span(parse_month(row.state.month))
        if outside is not None:
            raise InputError(path, f"{where}.state.month", outside)


def load_statics(path: Path) -> Statics:
    """Read and check a statics file; every row's scenario, lever and outcome are checked."""
    path = Path(path)
    spec, raw = load_with_bytes(path, StaticsFile)
    ids = [row.id for row in spec.row]
    if len(set(ids)) != len(ids):
        raise InputError(path, "row", "two rows share an id")
    scenarios: dict[str, Scenario] = {}
    loaded: dict[Path, tuple[Scenario, dict]] = {}  # rows share scenarios: each read once
    for position, row in enumerate(spec.row):
        file = Path(row.scenario)
        file = file if file.is_absolute() else path.parent / file
        if not file.is_file():
            raise InputError(path, f"row[{position}]({row.id}).scenario", f"no such file: {file}")
        if file not in loaded:
            scenario = load_scenario(file)
            loaded[file] = (scenario, known_decisions([scenario]))
        scenarios[row.id] = loaded[file][0]
        _check_row(path, position, row, *loaded[file])
    return Statics(spec, path, hashlib.sha256(raw).hexdigest(), scenarios)
