"""Scenario files: what to run, over which months, from which state, with which shocks."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from multivector.actors import ActorCode
from multivector.calendar import (
    MAX_SPAN_MONTHS,
    RECORD_END,
    RECORD_START,
    month_label,
    parse_month,
)
from multivector.errors import InputError
from multivector.inputs.provenance import Source
from multivector.inputs.schema import (
    DateText,
    FieldProblem,
    Identifier,
    Strict,
    TieKind,
    check_date,
    load_with_bytes,
    read_toml,
)
from multivector.inputs.shocks import Shock, ShockBase, compile_shock, tied_choice, window
from multivector.keys import decision_key

if TYPE_CHECKING:
    from multivector.inputs.parameters import Parameters

MAX_REPLICATES = 1_000_000
ScenarioName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=80)]
OverrideName = Annotated[str, Field(pattern=r"^[a-z_]+(\.[A-Za-z_]+)+$")]


class TieRef(Strict):
    """A row of ``structure/ties.toml``, named by its kind, actors and start."""

    kind: TieKind
    actors: list[ActorCode] = Field(min_length=1)
    start: DateText

    _start = field_validator("start")(check_date)

    def key(self) -> tuple[str, tuple[str, ...], int]:
        """How the row is matched."""
        return self.kind, tuple(self.actors), parse_month(self.start)


class Record(Strict):
    """Which documented episodes and structural ties the scenario keeps."""

    until: DateText | None = None
    votes: bool = False
    """Pose every recorded General Assembly vote of the span too (the routine agenda)."""
    exclude: list[Identifier] = []
    drop_ties: list[TieRef] = []

    @field_validator("until")
    @classmethod
    def _until(cls, value: DateText | None) -> DateText | None:
        return None if value is None else check_date(value)


class Scenario(Strict):
    """A scenario file (see ``docs/scenarios.md``)."""

    name: ScenarioName
    question: str = Field(min_length=1)
    description: str = ""
    start: DateText
    end: DateText
    replicates: Annotated[int, Field(ge=1, le=MAX_REPLICATES)] = 200
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0
    start_from: Literal["structural", "record"] = "structural"
    parameters: str | None = None
    overrides: dict[OverrideName, int | float] = {}
    episodes: list[str] = []
    record: Record = Record()
    shock: list[Shock] = []

    _source: Source | None = PrivateAttr(default=None)
    _dates = field_validator("start", "end")(check_date)

    @property
    def source(self) -> Source | None:
        """The file the scenario was read from, hashed as parsed (None if built in code).

        Copies keep it: a baseline framed to a scenario's months is the same file.
        """
        return self._source

    def with_source(self, source: Source) -> "Scenario":
        """A copy recorded as read from ``source``."""
        copy = self.model_copy()
        copy._source = source
        return copy

    @model_validator(mode="after")
    def _span(self) -> "Scenario":
        first, last = parse_month(self.start), parse_month(self.end)
        if last < first:
            raise FieldProblem("end", "is before start")
        if last - first > MAX_SPAN_MONTHS:
            raise FieldProblem("end", f"the span is longer than {MAX_SPAN_MONTHS // 12} years")
        if self.record.until is not None and parse_month(self.record.until) > last:
            raise FieldProblem("record.until", "is after end")
        if self.start_from == "record" and first <= parse_month(RECORD_START):
            raise FieldProblem("start_from", f"'record' needs a start after {RECORD_START}")
        return self

    @property
    def first_month(self) -> int:
        """The first month simulated."""
        return parse_month(self.start)

    @property
    def last_month(self) -> int:
        """The last month simulated."""
        return parse_month(self.end)

    def outside_span(self, month: int) -> str | None:
        """Why ``month`` cannot be used in this scenario, or None if it is inside the span."""
        if self.first_month <= month <= self.last_month:
            return None
        return (
            f"{month_label(month)} is outside the scenario's span "
            f"{month_label(self.first_month)} to {month_label(self.last_month)}"
        )

    @property
    def record_until(self) -> int:
        """The last month whose documented episodes are replayed."""
        return parse_month(self.record.until) if self.record.until else self.last_month


def _relative(path: Path, value: str, field: str) -> str:
    """A TOML file named in a scenario file, resolved against the scenario's folder.

    The file must be one the model can read: a problem with the file as a whole (missing, a
    folder, not a regular file, unreadable, empty, not TOML) is the scenario's, so it names the
    scenario file and ``field``, then the file; a problem inside a readable TOML file names that
    file (where it must be fixed), when the file is loaded.

    Raises:
        InputError: Naming ``path`` and ``field`` for a file-level problem.
    """
    if "\0" in value:  # no file is called that, and the OS would refuse to open it
        raise InputError(path, field, "contains a NUL character")
    resolved = Path(value)
    if not resolved.is_absolute():
        resolved = path.parent / resolved
    if resolved.is_dir():
        raise InputError(path, field, f"{resolved} is a directory, not a file")
    if not resolved.exists():
        raise InputError(path, field, f"no such file: {resolved}")
    try:
        read_toml(resolved)
    except InputError as error:
        if error.field:  # e.g. nested too deeply: a problem at a place inside the file
            raise
        raise InputError(path, field, f"{resolved}: {error.problem}") from None
    return str(resolved)


def _entries(path: Path, files: list[str]) -> list[str]:
    """The scenario's ``episodes`` entries resolved and checked, each file named once."""
    resolved: list[str] = []
    for position, file in enumerate(files):
        entry = _relative(path, file, f"episodes[{position}]")
        same = [k for k, other in enumerate(resolved) if Path(other).samefile(entry)]
        if same:
            # loaded twice, the file's episodes would clash with themselves
            raise InputError(
                path, f"episodes[{position}]", f"{entry} is already listed as episodes[{same[0]}]"
            )
        resolved.append(entry)
    return resolved


def _check_ties(path: Path, scenario: Scenario) -> None:
    """Every tie in ``record.drop_ties`` must be a row of the structural ties file."""
    from multivector.inputs.structure import load_structure

    rows = {(t.kind, tuple(t.actors), parse_month(t.start)) for t in load_structure().ties.tie}
    for position, tie in enumerate(scenario.record.drop_ties):
        if tie.key() not in rows:
            raise InputError(
                path,
                f"record.drop_ties[{position}]",
                f"no {tie.kind} tie of {'+'.join(tie.actors)} starting {month_label(tie.key()[2])} "
                "in structure/ties.toml",
            )


def _check_shocks(path: Path, scenario: Scenario, known: set[str]) -> None:
    """Shock names are unique and new, dates inside the span, and every shock compiles."""
    seen: set[str] = set()
    for position, shock in enumerate(scenario.shock):
        where = f"shock[{position}]({shock.name})"
        if shock.name in seen or shock.name in known:
            raise InputError(path, where + ".name", f"'{shock.name}' is already used")
        seen.add(shock.name)
        first, last = window(shock, scenario.last_month)
        for field, month in (("date", first), ("until", last)):
            outside = scenario.outside_span(month)
            if outside is not None:
                raise InputError(path, f"{where}.{field}", outside)
        try:
            compile_shock(shock)
        except FieldProblem as problem:
            raise InputError(path, f"{where}.{problem.field}", str(problem)) from None
        except ValueError as error:
            problem = str(error).splitlines()
            raise InputError(path, where, f"cannot be compiled: {' '.join(problem)}") from None
    for position, shock in enumerate(scenario.shock):
        _check_tie(path, f"shock[{position}]({shock.name}).tied_to", scenario, shock)


def _check_tie(path: Path, where: str, scenario: Scenario, shock: ShockBase) -> None:
    """An offer tied to a choice must name another shock's decision its recipient takes."""
    tie = tied_choice(shock)
    if tie is None:
        return
    recipient = shock.roles()["recipient"][0]
    for other in scenario.shock:
        if other is shock or tied_choice(other) is not None:
            continue
        for decision in compile_shock(other).onset.decision:
            if decision_key(other.name, decision.name) != tie.decision:
                continue
            if recipient not in decision.deciders:
                raise InputError(path, where + ".decision", f"{recipient} does not decide it")
            options = [o.name for o in decision.option]
            if tie.option not in options:
                raise InputError(path, where + ".option", f"'{tie.option}' not among {options}")
            if other.hazard is not None or other.first_month > shock.first_month:
                raise InputError(
                    path, where + ".decision", "the offer comes before the choice it rewards"
                )
            return
    raise InputError(
        path, where + ".decision", f"no untied shock of the scenario poses '{tie.decision}'"
    )


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file.

    Relative ``parameters`` and ``episodes`` paths are taken relative to the scenario file's
    folder and must be readable TOML files (a file that is not is reported against the scenario's
    field), each episode file listed once; the episode files must be valid; episodes named in
    ``record.exclude`` must be in the library, each once; shocks must fall inside the span and
    compile; parameter overrides must name real parameters (:func:`overridable
    <multivector.inputs.parameters.overridable>`) with valid values.
    """
    from multivector.inputs.library import library_for

    path = Path(path)
    scenario, raw = load_with_bytes(path, Scenario)
    update: dict[str, object] = {}
    if scenario.parameters is not None:
        update["parameters"] = _relative(path, scenario.parameters, "parameters")
    update["episodes"] = _entries(path, scenario.episodes)
    scenario = scenario.model_copy(update=update).with_source(Source.of(path, raw))
    known = library_for(scenario.episodes).episodes
    excluded: set[str] = set()
    for position, episode in enumerate(scenario.record.exclude):
        if episode not in known:
            raise InputError(
                path, f"record.exclude[{position}]", f"no episode '{episode}' in the library"
            )
        if episode in excluded:  # the exclusions are a set: a repeat would count once
            raise InputError(path, f"record.exclude[{position}]", f"'{episode}' is listed twice")
        excluded.add(episode)
    _check_ties(path, scenario)
    _check_shocks(path, scenario, set(known))
    scenario_parameters(scenario, path)
    return scenario


def scenario_parameters(scenario: Scenario, path: Path | None = None) -> "Parameters":
    """The scenario's parameter file with its overrides applied.

    Args:
        scenario: The scenario.
        path: The scenario file, named in the error if an override is invalid.
    """
    from multivector.inputs.parameters import load_parameters, parameter_keyword

    parameters = load_parameters(Path(scenario.parameters) if scenario.parameters else None)
    for name, value in scenario.overrides.items():
        try:
            parameters = parameters.with_values(**{parameter_keyword(name): value})
        except InputError as error:  # not a parameter (parameters.overridable), or a bad value
            raise InputError(path or scenario.name, f'overrides."{name}"', error.problem) from None
    return parameters


def default_scenario() -> Scenario:
    """The documented record to its last month, for interactive use without a file."""
    return Scenario(
        name="history_2014_2026",
        question="How did Kazakhstan balance between Russia, China and the US, 2014-2026?",
        start=RECORD_START,
        end=RECORD_END,
        seed=0,
    )
