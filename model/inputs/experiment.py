"""Experiment files: which scenarios to sweep, which inputs to vary, how to sample them.

An experiment names scenarios and inputs (shock fields such as ``shock.<name>.intensity``,
parameters such as ``actor.KAZ.autonomy``, or draws from the calibration's uncertainty), a
sampler (grid, Latin hypercube, Sobol, random) and how many replicates each sample gets. The
samples are a deterministic function of the file: the same file gives the same samples.
"""

import hashlib
import itertools
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from multivector.errors import InputError
from multivector.inputs.parameters import TERMS, Parameters, parameter_keyword
from multivector.inputs.scenario import Scenario, load_scenario, scenario_parameters
from multivector.inputs.schema import FieldProblem, Identifier, Strict, load_with_bytes

MAX_RUNS = 10_000_000
ExperimentName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=80)]
Target = Annotated[str, Field(pattern=r"^[a-z_]+(\.[A-Za-z0-9_-]+)+$")]
SHOCK_FIELDS = ("intensity", "probability", "hazard", "duration_months")
WEIGHT_FIELDS = (*TERMS, "precision")


class Input(Strict):
    """One input to vary.

    Attributes:
        target: ``shock.<name>.<field>`` (intensity, probability, hazard, duration_months) of a
            shock in every scenario that has it, or a dotted parameter name as in a scenario's
            ``[overrides]`` (``weights.autonomy``, ``actor.KAZ.material``, ``dynamics.response``).
        label: How figures name it (the target if empty).
        distribution: How values are spread over the unit interval the sampler draws.
        low: Lower bound (uniform, loguniform, triangular) or none.
        high: Upper bound.
        mode: Mode of a triangular distribution.
        mean: Mean of a normal distribution.
        sd: Standard deviation of a normal distribution.
        values: The values of a ``choice`` input.
        levels: Points of a grid between low and high (grid sampler).
    """

    target: Target
    label: str = ""
    distribution: Literal["uniform", "loguniform", "normal", "triangular", "choice"] = "uniform"
    low: float | None = None
    high: float | None = None
    mode: float | None = None
    mean: float | None = None
    sd: Annotated[float, Field(gt=0.0)] | None = None
    values: list[float] = []
    levels: Annotated[int, Field(ge=2, le=1000)] = 5

    @model_validator(mode="after")
    def _shape(self) -> "Input":
        needs = {
            "uniform": ("low", "high"),
            "loguniform": ("low", "high"),
            "triangular": ("low", "high", "mode"),
            "normal": ("mean", "sd"),
            "choice": ("values",),
        }[self.distribution]
        for field in needs:
            if getattr(self, field) in (None, []):
                raise FieldProblem(field, f"a {self.distribution} input needs {field}")
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise FieldProblem("high", "must be above low")
        if self.distribution == "loguniform" and (self.low or 0) <= 0:
            raise FieldProblem("low", "a loguniform input needs low > 0")
        if self.distribution == "triangular" and not (self.low <= self.mode <= self.high):
            raise FieldProblem("mode", "must lie between low and high")
        return self

    @property
    def name(self) -> str:
        """The input as figures and tables name it."""
        return self.label or self.target

    @property
    def is_shock(self) -> bool:
        """Whether it changes a shock rather than a parameter."""
        return self.target.startswith("shock.")

    @property
    def is_weight(self) -> bool:
        """Whether it only changes utility weights or precisions (batched per replicate)."""
        parts = self.target.split(".")
        if parts[0] == "weights":
            return parts[1] in TERMS
        if parts[0] == "actor":
            return len(parts) == 3 and parts[2] in WEIGHT_FIELDS
        return self.target == "choice.precision"

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Map points of the unit interval to the input's values."""
        from scipy import stats

        if self.distribution == "uniform":
            return self.low + u * (self.high - self.low)
        if self.distribution == "loguniform":
            return np.exp(np.log(self.low) + u * (np.log(self.high) - np.log(self.low)))
        if self.distribution == "normal":
            return stats.norm.ppf(np.clip(u, 1e-12, 1 - 1e-12), self.mean, self.sd)
        if self.distribution == "triangular":
            c = (self.mode - self.low) / (self.high - self.low)
            return stats.triang.ppf(u, c, loc=self.low, scale=self.high - self.low)
        index = np.minimum((u * len(self.values)).astype(int), len(self.values) - 1)
        return np.asarray(self.values, dtype=float)[index]

    def grid_points(self) -> int:
        """How many grid points the input has (counted, not built)."""
        return len(self.values) if self.distribution == "choice" else self.levels

    def grid(self) -> np.ndarray:
        """The input's grid points."""
        if self.distribution == "choice":
            return np.asarray(self.values, dtype=float)
        if self.distribution == "normal":
            return self.from_unit(np.linspace(0.05, 0.95, self.levels))
        return self.from_unit(np.linspace(0.0, 1.0, self.levels))


class ChoiceCondition(Strict):
    """A decider chose one of some options in a decision (by key ``shock-or-episode/decision``)."""

    decision: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9-]*$")
    actor: Literal["KAZ", "RUS", "USA", "CHN", "BLR", "UKR"]
    chose: list[str] = Field(min_length=1)


class Outcome(Strict):
    """A named event per replicate: every listed choice was made (e.g. the venue moved)."""

    name: Identifier
    all: list[ChoiceCondition] = Field(min_length=1)


class Keep(Strict):
    """Which outputs a sweep keeps.

    Attributes:
        months: ``all`` months, each ``december``, or only the ``last``.
        metrics: Columns of the runs table.
        decisions: Decision keys whose per-sample probabilities are kept (default: every
            decision Kazakhstan takes, documented or from a shock; reactions excluded).
    """

    months: Literal["all", "december", "last"] = "december"
    metrics: list[Literal["alignment", "balance", "dependence", "mood", "transit"]] = [
        "alignment",
        "balance",
    ]
    decisions: list[str] | None = None


class Experiment(Strict):
    """An experiment file (see ``docs/experiments.md``)."""

    name: ExperimentName
    question: str = Field(min_length=1)
    description: str = ""
    scenarios: list[str] = Field(min_length=1)
    sampler: Literal["grid", "lhs", "sobol", "random"] = "lhs"
    samples: Annotated[int, Field(ge=1, le=1_000_000)] = 32
    replicates: Annotated[int, Field(ge=1, le=1_000_000)] = 50
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0
    calibration_draws: bool = False
    chunk_runs: Annotated[int, Field(ge=1, le=1_000_000)] = 2000
    input: list[Input] = []
    outcome: list[Outcome] = []
    keep: Keep = Keep()

    @model_validator(mode="after")
    def _design(self) -> "Experiment":
        if not self.input and not self.calibration_draws and self.samples > 1:
            raise FieldProblem("input", "nothing varies: add an input or set samples = 1")
        if self.sampler == "sobol" and (not self.input or self.calibration_draws):
            raise FieldProblem("sampler", "sobol needs inputs and no calibration draws")
        if self.sampler == "sobol" and any(i.distribution == "choice" for i in self.input):
            raise FieldProblem("sampler", "sobol cannot vary a choice input")
        targets = [i.target for i in self.input]
        if len(set(targets)) != len(targets):
            raise FieldProblem("input", "an input target is listed twice")
        return self


@dataclass(frozen=True)
class Design:
    """A loaded experiment: its scenarios and the sampled input values.

    Attributes:
        experiment: The validated file.
        path: Where it was read from.
        sha256: Hash of the file's bytes.
        scenarios: The scenarios, loaded and checked.
        scenario_files: Their paths.
        values: Input values per sample, shape (samples, inputs).
    """

    experiment: Experiment
    path: Path
    sha256: str
    scenarios: tuple[Scenario, ...]
    scenario_files: tuple[Path, ...]
    values: np.ndarray

    @property
    def samples(self) -> int:
        """Number of samples."""
        return len(self.values)

    @property
    def runs(self) -> int:
        """Runs in all: scenarios x samples x replicates."""
        return len(self.scenarios) * self.samples * self.experiment.replicates

    @property
    def batched(self) -> bool:
        """Whether every input is a utility weight or precision (one model per chunk)."""
        return all(i.is_weight for i in self.experiment.input)

    @cached_property
    def base_parameters(self) -> tuple[Parameters, ...]:
        """Each scenario's parameters with its own overrides."""
        return tuple(scenario_parameters(s) for s in self.scenarios)

    @cached_property
    def file_parameters(self) -> tuple[Parameters, ...]:
        """Each scenario's parameter file as written, without its overrides."""
        from multivector.inputs.parameters import load_parameters

        return tuple(
            load_parameters(Path(s.parameters) if s.parameters else None) for s in self.scenarios
        )

    @cached_property
    def calibration_sets(self) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        """Per scenario, weights (samples, 6, T) and precisions drawn from the calibration."""
        from multivector.inputs.uncertainty import draw_parameters

        return tuple(
            draw_parameters(base, self.samples, self.experiment.seed)
            for base in self.base_parameters
        )

    def sample_scenario(self, scenario: Scenario, sample: int) -> Scenario:
        """The scenario with a sample's shock inputs applied."""
        for i, spec in enumerate(self.experiment.input):
            if spec.is_shock:
                scenario = with_shock_value(scenario, spec.target, self.values[sample, i])
        return scenario

    def sample_parameters(self, base: Parameters, sample: int) -> Parameters:
        """The parameters with a sample's parameter inputs applied."""
        changes = {
            parameter_keyword(spec.target): _number(self.values[sample, i])
            for i, spec in enumerate(self.experiment.input)
            if not spec.is_shock
        }
        return base.with_values(**changes) if changes else base

    def describe(self) -> dict[str, Any]:
        """The design as the manifest records it."""
        return {
            "sampler": self.experiment.sampler,
            "samples": self.samples,
            "replicates": self.experiment.replicates,
            "inputs": [i.model_dump(exclude_defaults=True) for i in self.experiment.input],
            "calibration_draws": self.experiment.calibration_draws,
        }


def with_shock_value(scenario: Scenario, target: str, value: float) -> Scenario:
    """The scenario with ``shock.<name>.<field>`` set to ``value`` (a duration as whole months)."""
    _, name, field = target.split(".")
    number: Any = int(value) if field == "duration_months" else float(value)
    shocks = [
        shock.model_copy(update={field: number}) if shock.name == name else shock
        for shock in scenario.shock
    ]
    return scenario.model_copy(update={"shock": shocks})


def with_lever(
    scenario: Scenario, parameters: Parameters, target: str, value: float
) -> tuple[Scenario, Parameters]:
    """A scenario and its parameters with one input (a shock field or a parameter) set."""
    if target.startswith("shock."):
        return with_shock_value(scenario, target, value), parameters
    return scenario, parameters.with_values(**{parameter_keyword(target): _number(value)})


def check_lever(
    scenario: Scenario, target: str, value: float, parameters: Parameters | None = None
) -> None:
    """Raise FieldProblem unless ``target`` reaches the scenario and ``value`` is valid there.

    ``parameters`` are the scenario's (read from its file if None).
    """
    if not target.startswith("shock."):
        base = parameters or scenario_parameters(scenario)
        try:
            base.with_values(**{parameter_keyword(target): _number(value)})
        except InputError as error:
            raise FieldProblem("lever", error.problem) from None
        except (AttributeError, TypeError):
            raise FieldProblem("lever", "not a parameter") from None
        return
    parts = target.split(".")
    if len(parts) != 3 or parts[2] not in SHOCK_FIELDS:
        raise FieldProblem("lever", f"a shock input is shock.<name>.<{'|'.join(SHOCK_FIELDS)}>")
    found = [s for s in scenario.shock if s.name == parts[1]]
    if not found:
        raise FieldProblem("lever", f"the scenario has no shock named '{parts[1]}'")
    number: Any = int(value) if parts[2] == "duration_months" else value
    try:
        type(found[0]).model_validate(found[0].model_dump() | {parts[2]: number})
    except ValidationError as error:
        raise FieldProblem("lever", error.errors()[0]["msg"]) from None


def _number(value: float) -> int | float:
    """A whole number as an int (a count parameter takes no 2.0), anything else as a float."""
    return int(value) if float(value).is_integer() else float(value)


def sample_values(experiment: Experiment) -> np.ndarray:
    """Input values per sample, shape (samples, inputs), from the sampler and the seed.

    Durations are rounded to whole months here, so the values recorded are the values run.
    """
    values = _unit_values(experiment)
    for k, spec in enumerate(experiment.input):
        if spec.target.endswith(".duration_months"):
            values[:, k] = np.round(values[:, k])
    return values


def sample_count(experiment: Experiment) -> int:
    """How many samples the design has, counted without drawing or building them.

    A grid's size is the product of its inputs' points (which can be astronomically large), so
    it is checked against the limit before ``itertools.product`` would build it.
    """
    inputs = experiment.input
    if not inputs:
        return experiment.samples
    if experiment.sampler == "grid":
        return math.prod(i.grid_points() for i in inputs)
    if experiment.sampler == "sobol":
        return max(1, experiment.samples // (2 * len(inputs) + 2)) * (2 * len(inputs) + 2)
    return experiment.samples


def _unit_values(experiment: Experiment) -> np.ndarray:
    """Input values per sample before rounding."""
    inputs = experiment.input
    if not inputs:
        return np.zeros((experiment.samples, 0))
    d = len(inputs)
    if experiment.sampler == "grid":
        points = list(itertools.product(*(i.grid() for i in inputs)))
        return np.array(points, dtype=float)
    if experiment.sampler == "sobol":
        from SALib.sample import sobol

        problem = salib_problem(experiment)
        # Saltelli's scheme: N (2d + 2) points for first, second and total order indices
        n = max(1, experiment.samples // (2 * d + 2))
        unit = sobol.sample(problem, n, calc_second_order=True, seed=experiment.seed)
        return np.column_stack([i.from_unit(unit[:, k]) for k, i in enumerate(inputs)])
    if experiment.sampler == "lhs":
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=d, seed=experiment.seed).random(experiment.samples)
    else:
        unit = np.random.default_rng(experiment.seed).random((experiment.samples, d))
    return np.column_stack([i.from_unit(unit[:, k]) for k, i in enumerate(inputs)])


def salib_problem(experiment: Experiment) -> dict[str, Any]:
    """The SALib problem of a Sobol design: the inputs on the unit interval."""
    d = len(experiment.input)
    return {"num_vars": d, "names": [i.name for i in experiment.input], "bounds": [[0, 1]] * d}


def _check_targets(path: Path, design: Design) -> None:
    """Every input must reach something: a shock in some scenario, or a real parameter."""
    for position, spec in enumerate(design.experiment.input):
        where = f"input[{position}].target"
        if spec.is_shock:
            parts = spec.target.split(".")
            if len(parts) != 3 or parts[2] not in SHOCK_FIELDS:
                raise InputError(
                    path, where, f"a shock input is shock.<name>.<{'|'.join(SHOCK_FIELDS)}>"
                )
            if not any(s.name == parts[1] for sc in design.scenarios for s in sc.shock):
                raise InputError(path, where, f"no scenario has a shock named '{parts[1]}'")
            continue
        for base in design.base_parameters:
            try:
                value = _number(design.values[0, position]) if design.samples else 0.0
                base.with_values(**{parameter_keyword(spec.target): value})
            except InputError as error:
                if "valid integer" in error.problem:
                    continue  # a count parameter: its values are checked one by one below
                raise InputError(path, where, error.problem) from None
            except (AttributeError, TypeError):
                raise InputError(path, where, "not a parameter") from None


def _check_values(path: Path, design: Design) -> None:
    """Each input's smallest and largest value must be valid where it lands."""
    for position, spec in enumerate(design.experiment.input):
        column = design.values[:, position]
        for sample in sorted({int(column.argmin()), int(column.argmax())}):
            value = _number(column[sample])
            where = f"input[{position}]({spec.name})"
            for scenario, base in zip(design.scenarios, design.base_parameters, strict=True):
                if spec.is_shock and not any(
                    s.name == spec.target.split(".")[1] for s in scenario.shock
                ):
                    continue  # a shock input reaches the scenarios that have the shock
                try:
                    check_lever(scenario, spec.target, value, base)
                except FieldProblem as problem:
                    raise InputError(path, where, f"value {value:g}: {problem}") from None


def known_decisions(
    scenarios: "tuple[Scenario, ...] | list[Scenario]",
) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Every decision the scenarios can pose, by key: its deciders and its options."""
    from multivector.inputs.library import decision_table, library_for
    from multivector.inputs.shocks import compile_shock

    known: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for scenario in scenarios:
        episodes = list(library_for(scenario.episodes).episodes.values())
        for shock in scenario.shock:
            compiled = compile_shock(shock)
            episodes += [e for e in (compiled.onset, compiled.ending) if e is not None]
        known.update(decision_table(episodes))
    return known


def _check_decisions(path: Path, design: Design) -> None:
    """Outcomes and kept decisions must name decisions, deciders and options that exist."""
    known = known_decisions(design.scenarios)
    for k, outcome in enumerate(design.experiment.outcome):
        for c, condition in enumerate(outcome.all):
            where = f"outcome[{k}]({outcome.name}).all[{c}]"
            if condition.decision not in known:
                raise InputError(
                    path,
                    f"{where}.decision",
                    f"no decision '{condition.decision}' in the scenarios",
                )
            deciders, options = known[condition.decision]
            if condition.actor not in deciders:
                raise InputError(path, f"{where}.actor", f"{condition.actor} does not decide it")
            unknown = sorted(set(condition.chose) - set(options))
            if unknown:
                raise InputError(path, f"{where}.chose", f"{unknown} not among {sorted(options)}")
    for k, key in enumerate(design.experiment.keep.decisions or []):
        if key not in known:
            raise InputError(path, f"keep.decisions[{k}]", f"no decision '{key}' in the scenarios")


def load_experiment(path: Path) -> Design:
    """Read, validate and sample an experiment file; every sample is checked before any run."""
    path = Path(path)
    experiment, raw = load_with_bytes(path, Experiment)
    files = []
    for position, name in enumerate(experiment.scenarios):
        file = Path(name) if Path(name).is_absolute() else path.parent / name
        if not file.is_file():
            raise InputError(path, f"scenarios[{position}]", f"no such file: {file}")
        files.append(file)
    scenarios = tuple(load_scenario(f) for f in files)
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise InputError(path, "scenarios", "two scenarios share a name")
    runs = len(scenarios) * sample_count(experiment) * experiment.replicates
    if runs > MAX_RUNS:
        field = "input" if experiment.sampler == "grid" else "samples"
        raise InputError(
            path,
            field,
            f"{runs:,} runs is more than {MAX_RUNS:,} (scenarios x samples x replicates)",
        )
    values = sample_values(experiment)
    design = Design(
        experiment,
        path,
        hashlib.sha256(raw).hexdigest(),
        scenarios,
        tuple(files),
        values,
    )
    _check_targets(path, design)
    _check_values(path, design)
    _check_decisions(path, design)
    if experiment.calibration_draws:
        for base in design.base_parameters:
            if base.spec.calibration is None:
                raise InputError(
                    path, "calibration_draws", f"{base.path.name} holds no calibration to draw from"
                )
    return design
