"""Scenario files: what to run, over which months, with which seed and how many replicates."""

from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from model.calendar import parse_month
from model.errors import InputError
from model.schema import DateText, Identifier, Strict, load

MAX_REPLICATES = 1_000_000
ScenarioName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=80)]


class Record(Strict):
    """Which documented episodes the scenario replays."""

    until: DateText | None = None
    exclude: list[Identifier] = []


class Scenario(Strict):
    """A scenario file (see ``docs/scenarios.md``)."""

    name: ScenarioName
    question: str = Field(min_length=1)
    description: str = ""
    start: DateText
    end: DateText
    replicates: Annotated[int, Field(ge=1, le=MAX_REPLICATES)] = 200
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0
    parameters: str | None = None
    record: Record = Record()

    @model_validator(mode="after")
    def _span(self) -> "Scenario":
        first, last = parse_month(self.start), parse_month(self.end)
        if last < first:
            raise ValueError("end is before start")
        if last - first > 12 * 60:
            raise ValueError("the span is longer than 60 years")
        if self.record.until is not None and parse_month(self.record.until) > last:
            raise ValueError("record.until is after end")
        return self

    @property
    def first_month(self) -> int:
        """The first month simulated."""
        return parse_month(self.start)

    @property
    def last_month(self) -> int:
        """The last month simulated."""
        return parse_month(self.end)

    @property
    def record_until(self) -> int:
        """The last month whose documented episodes are replayed."""
        return parse_month(self.record.until) if self.record.until else self.last_month


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file.

    A relative ``parameters`` path is taken relative to the scenario file's folder, and must
    exist; episodes named in ``record.exclude`` must be in the library.
    """
    path = Path(path)
    scenario = load(path, Scenario)
    if scenario.parameters is not None:
        parameters = Path(scenario.parameters)
        if not parameters.is_absolute():
            parameters = path.parent / parameters
        if not parameters.is_file():
            raise InputError(path, "parameters", f"no such file: {parameters}")
        scenario = scenario.model_copy(update={"parameters": str(parameters)})
    if scenario.record.exclude:
        from model.library import load_library

        known = load_library().episodes
        for position, episode in enumerate(scenario.record.exclude):
            if episode not in known:
                raise InputError(
                    path, f"record.exclude[{position}]", f"no episode '{episode}' in the library"
                )
    return scenario


def default_scenario() -> Scenario:
    """The documented record 2014-2024, for interactive use without a file."""
    return Scenario(
        name="history_2014_2024",
        question="How did Kazakhstan balance between Russia, China and the US, 2014-2024?",
        start="2014-01",
        end="2024-12",
        seed=0,
    )
