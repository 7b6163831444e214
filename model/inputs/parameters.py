"""The parameter file: utility weights, choice precision, structural and dynamics parameters."""

import difflib
import hashlib
import types
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Union, get_args, get_origin

import numpy as np
from pydantic import BaseModel, Field

from multivector.actors import ACTORS, INDEX, ActorCode
from multivector.errors import InputError
from multivector.inputs.schema import Strict, read_toml_bytes, validate

DATA = Path(__file__).resolve().parent.parent / "data"  # the package folder's data/
DOCUMENTED_DEFAULTS = DATA / "parameters" / "defaults.toml"
CALIBRATED = DATA / "parameters" / "calibrated.toml"


def default_parameter_file() -> Path:
    """The parameter file commands use by default: calibrated if it exists, else defaults."""
    return CALIBRATED if CALIBRATED.is_file() else DOCUMENTED_DEFAULTS


TERMS: tuple[str, ...] = (
    "partner",
    "stake",
    "principle",
    "autonomy",
    "prestige",
    "material",
    "mood",
    "consistency",
    "habit",
)
"""The utility terms, in the order of the last axis of every feature array."""

Weight = Annotated[float, Field(ge=-20.0, le=20.0)]
Positive = Annotated[float, Field(ge=0.0, le=50.0)]
Rate = Annotated[float, Field(ge=0.0, le=1.0)]


class Weights(Strict):
    """Weights of the utility terms (see ``model/core/utility.py``)."""

    partner: Weight
    stake: Weight
    principle: Weight
    autonomy: Weight
    prestige: Weight
    material: Weight
    mood: Weight
    consistency: Weight
    habit: Weight


class WeightOverrides(Strict):
    """Actor-specific weights; a term left out takes the shared weight."""

    partner: Weight | None = None
    stake: Weight | None = None
    principle: Weight | None = None
    autonomy: Weight | None = None
    prestige: Weight | None = None
    material: Weight | None = None
    mood: Weight | None = None
    consistency: Weight | None = None
    habit: Weight | None = None
    precision: Positive | None = None


class Choice(Strict):
    """Random-utility choice: P(o) is proportional to exp(precision * U(o))."""

    precision: Positive
    equilibrium_tolerance: Annotated[float, Field(gt=0.0, le=1e-3)] = 1e-12
    equilibrium_damping: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    equilibrium_max_iterations: Annotated[int, Field(ge=10, le=1_000_000)] = 20000
    tremble: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0
    """Share of choices made as if at random (a trembling hand): ``(1 - t) P + t / options``."""


class Dependence(Strict):
    """How a decider's dependence on a partner is built from structural ties."""

    trade: Positive
    transit: Positive
    alliance: Positive
    union: Positive
    partnership: Positive
    great_power: Positive


class Relation(Strict):
    """Structural (baseline) relation: tanh of a weighted sum of ties."""

    base: Weight
    alliance: Weight
    union: Weight
    partnership: Weight
    conflict: Weight
    sanctions: Weight
    trade: Weight
    kin: Weight


class Dynamics(Strict):
    """How relations and moods respond to choices and relax between episodes."""

    response: Rate
    self_signal: Rate
    relaxation: Rate
    mood_relaxation: Rate
    reaction_delay_months: Annotated[int, Field(ge=0, le=24)]
    routine_vote_salience: Rate = 0.0
    """How far a routine recorded vote moves relations, as a share of a salient choice's move."""


class Calibration(Strict):
    """How a calibrated parameter file was fitted, and the uncertainty of its estimates."""

    method: str
    design: str
    library_sha256: str
    prior_file: str
    prior_sha256: str
    free: list[str]
    estimate: list[float]
    covariance: list[list[float]]
    decisions: int
    episodes: int
    log_likelihood: float
    log_posterior: float
    fitted_before: str | None = None


class ParameterFile(Strict):
    """The whole parameter file."""

    description: str
    provenance: str
    choice: Choice
    weights: Weights
    actor: dict[ActorCode, WeightOverrides] = {}
    dependence: Dependence
    relation: Relation
    dynamics: Dynamics
    calibration: Calibration | None = None


@dataclass(frozen=True)
class Parameters:
    """A loaded parameter file with its compiled arrays.

    Attributes:
        path: Where it was read from.
        sha256: Hash of the file's bytes, recorded in every output.
        spec: The validated contents.
        weights: Array (actor, term) of utility weights.
        precision: Array (actor,) of choice precisions.

    """

    path: Path
    sha256: str
    spec: ParameterFile
    weights: np.ndarray
    precision: np.ndarray

    @classmethod
    def from_spec(cls, spec: ParameterFile, path: Path, sha256: str) -> "Parameters":
        """Compile a validated specification into per-actor arrays."""
        shared = spec.weights.model_dump()
        weights = np.array([[shared[t] for t in TERMS] for _ in ACTORS], dtype=float)
        precision = np.full(len(ACTORS), spec.choice.precision)
        for code, override in spec.actor.items():
            for term, value in override.model_dump(exclude_none=True).items():
                if term == "precision":
                    precision[INDEX[code]] = value
                else:
                    weights[INDEX[code], TERMS.index(term)] = value
        weights.setflags(write=False)
        precision.setflags(write=False)
        return cls(path, sha256, spec, weights, precision)

    def with_values(self, **changes: float) -> "Parameters":
        """A copy with some values replaced, by dotted name (``weights.autonomy=1.2``).

        Args:
            **changes: Dotted parameter names (with ``__`` for the dot) and new values.

        Raises:
            InputError: If a name is not a parameter (:func:`overridable`) or a value is
                invalid for it, naming the parameter file.

        """
        data = self.spec.model_dump()
        for dotted, value in changes.items():
            problem = override_problem(dotted.replace("__", "."))
            if problem is not None:
                raise InputError(self.path, dotted.replace("__", "."), problem)
            *head, last = dotted.split("__")
            node = data
            for key in head:
                node = node.setdefault(key, {})
            node[last] = value
        spec = validate(self.path, data, ParameterFile)
        digest = hashlib.sha256(spec.model_dump_json().encode()).hexdigest()
        return Parameters.from_spec(spec, self.path, digest)


OVERRIDABLE_SECTIONS: tuple[str, ...] = (
    "choice",
    "weights",
    "actor",
    "dependence",
    "relation",
    "dynamics",
)
"""The tables of the parameter file whose numbers a scenario or an experiment may set; the
``calibration`` table records how the file was fitted and is not a parameter."""


def _is_number(annotation: object) -> bool:
    """Whether a field's type is a number (``float``, ``int``, or one of them or None)."""
    if get_origin(annotation) is Annotated:  # a constrained number (``Weight | None``)
        return _is_number(get_args(annotation)[0])
    if annotation in (int, float):
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        return bool(members) and all(_is_number(a) for a in members)
    return False


def _numbers(table: type[BaseModel]) -> list[str]:
    """The numeric fields of a table of the parameter file."""
    return [name for name, info in table.model_fields.items() if _is_number(info.annotation)]


@cache
def overridable() -> tuple[str, ...]:
    """Every dotted name an override may set: each number of the parameter tables.

    ``actor.<CODE>.<term>`` sets one actor's weight or precision (:class:`WeightOverrides`).
    """
    names: list[str] = []
    for section in OVERRIDABLE_SECTIONS:
        if section == "actor":
            names += [
                f"actor.{code}.{term}" for code in ACTORS for term in _numbers(WeightOverrides)
            ]
            continue
        table = ParameterFile.model_fields[section].annotation
        assert isinstance(table, type) and issubclass(table, BaseModel)
        names += [f"{section}.{name}" for name in _numbers(table)]
    return tuple(names)


def override_problem(dotted: str) -> str | None:
    """Why ``dotted`` cannot be overridden (it is not a number of the parameter file), or None.

    Without this check an override of ``calibration.decisions`` would be written into the
    file's record of its fit, validate, and the run would go ahead as if it mattered.

    The problem reads like the schema's own: ``unknown field`` for a name missing from a
    parameter table (``weights.charisma``), ``not a parameter`` for anything else, with the
    closest real name where one is spelt alike.
    """
    names = overridable()
    if dotted in names:
        return None
    if any(dotted.startswith(name + ".") for name in names):
        return "not a parameter"  # it runs on through a number (choice.precision.x)
    close = difflib.get_close_matches(dotted, names, n=1, cutoff=0.8)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    if "." in dotted and dotted.split(".")[0] in OVERRIDABLE_SECTIONS:
        return f"unknown field{hint}"
    tables = [s + (".<ACTOR>" if s == "actor" else "") for s in OVERRIDABLE_SECTIONS]
    return (
        f"not a parameter; an override sets a number in {', '.join(tables[:-1])} or "
        f"{tables[-1]}{hint}"
    )


def parameter_keyword(dotted: str) -> str:
    """A dotted parameter name as a keyword of :meth:`Parameters.with_values`."""
    return dotted.replace(".", "__")


def load_parameters(path: Path | None = None) -> Parameters:
    """Load and validate a parameter file (:func:`default_parameter_file` when None)."""
    path = Path(path) if path is not None else default_parameter_file()
    data, raw = read_toml_bytes(path)
    spec = validate(path, data, ParameterFile)
    return Parameters.from_spec(spec, path, hashlib.sha256(raw).hexdigest())
