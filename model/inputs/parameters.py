"""The parameter file: utility weights, choice precision, structural and dynamics parameters."""

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import Field

from multivector.actors import ACTORS, INDEX, ActorCode
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

        """
        data = self.spec.model_dump()
        for dotted, value in changes.items():
            *head, last = dotted.split("__")
            node = data
            for key in head:
                node = node.setdefault(key, {})
            node[last] = value
        spec = validate(self.path, data, ParameterFile)
        digest = hashlib.sha256(spec.model_dump_json().encode()).hexdigest()
        return Parameters.from_spec(spec, self.path, digest)


def parameter_keyword(dotted: str) -> str:
    """A dotted parameter name as a keyword of :meth:`Parameters.with_values`."""
    return dotted.replace(".", "__")


def load_parameters(path: Path | None = None) -> Parameters:
    """Load and validate a parameter file (:func:`default_parameter_file` when None)."""
    path = Path(path) if path is not None else default_parameter_file()
    data, raw = read_toml_bytes(path)
    spec = validate(path, data, ParameterFile)
    return Parameters.from_spec(spec, path, hashlib.sha256(raw).hexdigest())
