"""Validated formats of the model's data files, as pydantic models.

Every model forbids unknown fields, so a misspelt key is an error rather than silently ignored.
The formats are documented for users in ``docs/episodes.md``.
"""

import datetime as dt
import difflib
import io
import os
import stat
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from multivector.actors import ActorCode
from multivector.calendar import parse_month
from multivector.errors import InputError

Identifier = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
OptionName = Annotated[str, Field(pattern=r"^[a-z][a-z_]*$")]
Unit = Annotated[float, Field(ge=-1.0, le=1.0)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
DateText = str | dt.date

IssueTag = Literal[
    "territorial_integrity",
    "non_recognition",
    "country_human_rights",
    "punitive_measure",
    "unilateral_sanctions",
    "chemical_weapons",
    "use_of_force",
    "humanitarian",
    "mediation",
    "sovereignty",
    "eurasian_integration",
    "western_cooperation",
    "china_cooperation",
    "trade_liberalisation",
    "route_diversification",
    "regime_security",
    "information_sovereignty",
    "sanctions_compliance",
    # the General Assembly's routine agenda (the recorded votes, model/data/votes/)
    "palestine",
    "nuclear_weapons",
    "disarmament",
    "decolonisation",
    "development",
    "human_rights",
    "international_order",
]
ISSUE_TAGS: tuple[str, ...] = get_args(IssueTag)
"""The issue tags in their fixed order (the stance array's last axis)."""

EpisodeKind = Literal[
    "un_vote",
    "venue_proposal",
    "mediation",
    "transit_request",
    "transit_restriction",
    "sanctions",
    "visa_policy",
    "trade_agreement",
    "membership",
    "corridor_agreement",
    "pipeline_disruption",
    "partnership_offer",
    "media_campaign",
    "protest",
    "security_crisis",
    "recognition",
    "statement",
    "summit",
]
Certainty = Literal["checked", "unverified"]


class FieldProblem(ValueError):
    """A model-level check that can name the field at fault (reported as part of the path).

    Args:
        field: The field, relative to the model that raises it.
        problem: What is wrong.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(problem)


class Strict(BaseModel):
    """Base for every file format: unknown fields are errors."""

    # strict: a TOML true is not a count, a string is not a number
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def check_date(value: DateText) -> DateText:
    """Validator: the value must be a real calendar month or day (kept as written)."""
    parse_month(value)
    return value


class Effect(Strict):
    """A structural consequence: a change of mood, relation, dependence or transit share.

    ``transit`` is a lasting change of the share of the actor's exports that crosses
    ``toward``'s territory (cargo rerouted); it enters dependence through the transit weight.
    """

    kind: Literal["mood", "relation", "dependence", "transit"]
    actor: ActorCode
    toward: ActorCode
    delta: Unit

    @model_validator(mode="after")
    def _distinct(self) -> "Effect":
        if self.actor == self.toward:
            raise ValueError("actor and toward must differ")
        return self


class OptionFeatures(Strict):
    """What an option means to its decider: the features of the utility function."""

    name: OptionName
    direction: Unit = 0.0
    autonomy: Share = 0.0
    prestige: Share = 0.0
    material: Unit = 0.0


class Option(OptionFeatures):
    """One option of a decision and what it means to each actor."""

    approval: dict[ActorCode, Unit] = {}
    effects: list[Effect] = []


class Condition(Strict):
    """Pose a decision only where an actor made one of some choices in an earlier decision."""

    decision: str
    actor: ActorCode
    chose: list[OptionName] = Field(min_length=1)


class Decision(Strict):
    """A choice put to one or more deciders among the same options."""

    name: Identifier
    deciders: list[ActorCode] = Field(min_length=1)
    option: list[Option] = Field(min_length=2)
    observed: dict[ActorCode, OptionName] = {}
    when: Condition | None = None
    thread: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "Decision":
        names = [o.name for o in self.option]
        if len(set(names)) != len(names):
            raise ValueError(f"option names repeat: {names}")
        if len(set(self.deciders)) != len(self.deciders):
            raise ValueError("a decider is listed twice")
        for actor, choice in self.observed.items():
            if actor not in self.deciders:
                raise ValueError(f"observed choice of {actor}, who is not a decider")
            if choice not in names:
                raise ValueError(f"observed choice '{choice}' of {actor} is not one of {names}")
        return self


class Episode(Strict):
    """A documented (or hypothetical) episode: a dated set of decisions with sources."""

    id: Identifier
    date: DateText
    kind: EpisodeKind
    title: str = Field(min_length=1)
    summary: str = ""
    issues: list[IssueTag] = []
    sources: list[str] = Field(min_length=1)
    certainty: Certainty = "checked"
    effects: list[Effect] = []
    # UN votes
    body: Literal["UNGA", "UNSC"] | None = None
    sponsors: list[ActorCode] = []
    target: ActorCode | None = None
    resolution: str | None = None
    tally: str | None = None
    observed: dict[ActorCode, Literal["yes", "no", "abstain"]] = {}
    approval: dict[ActorCode, dict[Literal["yes", "no", "abstain"], Unit]] = {}
    # everything else
    decision: list[Decision] = []

    _date = field_validator("date")(check_date)

    @model_validator(mode="after")
    def _shape(self) -> "Episode":
        if self.kind == "un_vote":
            if self.body is None:
                raise ValueError("a un_vote needs body (UNGA or UNSC)")
            if self.decision:
                raise ValueError("a un_vote takes no decision tables (its options are derived)")
        else:
            vote_fields = ("body", "target", "resolution", "tally")
            used = [f for f in vote_fields if getattr(self, f) is not None]
            used += [f for f in ("sponsors", "observed", "approval") if getattr(self, f)]
            if used:
                raise ValueError(f"{', '.join(used)} belong to un_vote episodes only")
            if not self.decision and not self.effects:
                raise ValueError("an episode needs at least one decision or effect")
            names = [d.name for d in self.decision]
            if len(set(names)) != len(names):
                raise ValueError(f"decision names repeat: {names}")
        return self


class EpisodeFile(Strict):
    """A file of episodes."""

    episode: list[Episode] = Field(min_length=1)


class ReactionEffect(Strict):
    """An effect of a reaction, between the reactor and the actor it reacts to (the target)."""

    kind: Literal["mood", "relation", "dependence"]
    actor: Literal["target", "reactor"]
    toward: Literal["target", "reactor"]
    delta: Unit

    @model_validator(mode="after")
    def _distinct(self) -> "ReactionEffect":
        if self.actor == self.toward:
            raise ValueError("actor and toward must differ")
        return self


class ReactionOption(OptionFeatures):
    """An option of a reaction; approvals and effects are relative to the target."""

    target_approval: Unit = 0.0
    effects: list[ReactionEffect] = []


class ReactionTemplate(Strict):
    """A follow-up the model poses itself when a reactor strongly disapproves of a choice."""

    name: Identifier
    kind: EpisodeKind
    reactors: list[ActorCode] = Field(min_length=1)
    threshold: Annotated[float, Field(ge=-1.0, lt=0.0)]
    title: str
    summary: str = ""
    issues: list[IssueTag] = []
    option: list[ReactionOption] = Field(min_length=2)
    sources: list[str] = Field(min_length=1)


class ReactionFile(Strict):
    """Templates for follow-up reactions."""

    reaction: list[ReactionTemplate] = Field(min_length=1)


# --- structural data ---------------------------------------------------------------------


class Sourced(Strict):
    """A row that carries its source."""

    source: str = Field(min_length=1)
    certainty: Certainty = "checked"


class TradeFlow(Sourced):
    """Trade turnover between two actors in one year."""

    a: ActorCode
    b: ActorCode
    year: Annotated[int, Field(ge=1990, le=2100)]
    usd_bn: Annotated[float, Field(ge=0.0)]


class TradeTotal(Sourced):
    """An actor's total goods trade turnover with the world in one year."""

    actor: ActorCode
    year: Annotated[int, Field(ge=1990, le=2100)]
    usd_bn: Annotated[float, Field(gt=0.0)]


class TradeFile(Strict):
    """``structure/trade.toml``."""

    flow: list[TradeFlow] = Field(min_length=1)
    total: list[TradeTotal] = Field(min_length=1)


class Transit(Sourced):
    """The share of an actor's exports crossing another's territory."""

    actor: ActorCode
    via: ActorCode
    year: Annotated[int, Field(ge=1990, le=2100)]
    share: Share


class TransitFile(Strict):
    """``structure/transit.toml``."""

    transit: list[Transit] = Field(min_length=1)


TieKind = Literal[
    "eaeu",
    "csto",
    "cis",
    "sco",
    "wto",
    "unsc_elected",
    "unsc_permanent",
    "alliance",
    "strategic_partnership",
    "armed_conflict",
    "sanctions",
    "brics",
    "friendship_treaty",
]


class Tie(Sourced):
    """A membership, alliance, partnership, conflict or sanctions regime, with its dates."""

    kind: TieKind
    actors: list[ActorCode] = Field(min_length=1)
    start: DateText
    end: DateText | None = None

    _start = field_validator("start")(check_date)

    @field_validator("end")
    @classmethod
    def _end(cls, value: DateText | None) -> DateText | None:
        return None if value is None else check_date(value)


class TiesFile(Strict):
    """``structure/ties.toml``."""

    tie: list[Tie] = Field(min_length=1)


class Minority(Sourced):
    """The share of an actor's population that is ethnically or linguistically another's kin."""

    actor: ActorCode
    kin: ActorCode
    share: Share
    year: Annotated[int, Field(ge=1900, le=2100)]


class PopulationFile(Strict):
    """``structure/population.toml``."""

    minority: list[Minority] = Field(min_length=1)


class Stance(Sourced):
    """An actor's declared stance on an issue tag."""

    actor: ActorCode
    issue: IssueTag
    stance: Unit
    quote: str = ""


class NormsFile(Strict):
    """``structure/norms.toml``."""

    stance: list[Stance] = Field(min_length=1)


# --- loading -----------------------------------------------------------------------------


MAX_INPUT_BYTES = 16_000_000
"""The largest input file read. The largest shipped one, the 2014-2024 votes table, is 268 kB;
a scenario or episode file is a few kB. A limit 60 times the largest keeps a mistaken path
(a log, a disk image, ``/proc/kcore``) from being read into memory."""

MAX_DEPTH = 24
"""The deepest nesting of tables and arrays an input may have. The deepest shipped file
(an episode's decision, option, approval) nests 5 deep; TOML's reader recurses once per level
and fails near a thousand with a ``RecursionError``."""


def read_input_bytes(path: Path, limit: int = MAX_INPUT_BYTES) -> bytes:
    """Read an input file's bytes, refusing what is not a regular file of a sane size.

    A FIFO would block reading forever and ``/dev/zero`` never ends, so the file's type and
    size are checked before reading (on the open descriptor, opened without blocking, so it
    cannot be swapped for a FIFO in between) and at most ``limit + 1`` bytes are read.

    Raises:
        InputError: Naming the file: missing, a folder, not a regular file, too large, or
            unreadable.
    """
    path = Path(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise InputError(path, "", "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "", "is a directory, not a file") from None
    except OSError as error:
        raise InputError(path, "", f"cannot be read: {error.strerror or error}") from None
    status = os.fstat(descriptor)
    problem = None
    if stat.S_ISDIR(status.st_mode):
        problem = "is a directory, not a file"
    elif not stat.S_ISREG(status.st_mode):
        problem = "is not a regular file (a FIFO, device or socket)"
    elif status.st_size > limit:
        problem = f"is {status.st_size:,} bytes; input files are limited to {limit:,}"
    if problem is not None:
        os.close(descriptor)
        raise InputError(path, "", problem)
    with os.fdopen(descriptor, "rb") as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as error:
            raise InputError(path, "", f"cannot be read: {error.strerror or error}") from None
    if len(data) > limit:  # a file that reports a small size and keeps growing
        raise InputError(path, "", f"is more than {limit:,} bytes; input files are limited to it")
    return data


def nesting_problem(data: Any, limit: int = MAX_DEPTH) -> str | None:
    """The dotted path of the first value nested deeper than ``limit``, or None.

    Iterative, so a deep value cannot exhaust the stack while it is being measured.
    """
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        node, where, depth = stack.pop()
        if depth > limit:
            return where or "(top level)"
        if isinstance(node, dict):
            stack.extend(
                (value, f"{where}.{key}" if where else str(key), depth + 1)
                for key, value in node.items()
            )
        elif isinstance(node, list):
            stack.extend((value, f"{where}[{k}]", depth + 1) for k, value in enumerate(node))
    return None


def read_toml_bytes(path: Path) -> tuple[dict[str, Any], bytes]:
    """Read a TOML file and the bytes it was parsed from (to hash exactly what was used).

    Every way reading can fail becomes an :class:`InputError`.
    """
    data = read_input_bytes(path)
    try:
        # decoded as read_text would: a byte-order mark tolerated, universal newlines
        text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig").read()
    except UnicodeDecodeError as error:
        raise InputError(path, "", f"cannot be read: {error}") from None
    if not text.strip():
        raise InputError(path, "", "is empty")
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputError(path, "", f"TOML syntax error: {error}") from None
    except RecursionError:
        raise InputError(
            path, "", f"nested too deeply: tables and arrays may nest at most {MAX_DEPTH} deep"
        ) from None
    where = nesting_problem(parsed)
    if where is not None:
        raise InputError(path, where, f"nested too deeply (more than {MAX_DEPTH} levels)")
    return parsed, data


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file, turning every way it can fail into an :class:`InputError`."""
    return read_toml_bytes(path)[0]


def field_path(location: tuple[int | str, ...], data: Any) -> str:
    """Render a pydantic error location as ``episode[3](unga-68-262).decision[0].option``.

    Where an element of a list has an ``id`` or ``name``, it is shown so the user can find it.
    """
    parts: list[str] = []
    node = data
    for key in location:
        if isinstance(key, int):
            label = f"[{key}]"
            if isinstance(node, list) and key < len(node) and isinstance(node[key], dict):
                ident = node[key].get("id") or node[key].get("name")
                if isinstance(ident, str):
                    label += f"({ident})"
            parts.append(label)
            node = node[key] if isinstance(node, list) and key < len(node) else None
        else:
            if key.startswith(("function-after", "function-before", "literal", "union")):
                continue
            if isinstance(node, dict) and node.get("kind") == key:
                continue  # the tag pydantic adds for a discriminated union (a shock's kind)
            if parts and not isinstance(node, dict):
                continue  # a union member's type name (``str``, ``date``), not a field
            parts.append(("." if parts else "") + key)
            node = node.get(key) if isinstance(node, dict) else None
    return "".join(parts)


def _suggestion(unknown: tuple[int | str, ...], errors: list[Any]) -> str:
    """``; did you mean 'title'?`` where a missing field beside an unknown one is spelt alike."""
    missing = [
        str(e["loc"][-1])
        for e in errors
        if e["type"] == "missing" and tuple(e["loc"][:-1]) == tuple(unknown[:-1])
    ]
    close = difflib.get_close_matches(str(unknown[-1]), missing, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def validate[M: BaseModel](path: Path, data: dict[str, Any], schema: type[M]) -> M:
    """Validate parsed TOML against a schema; the first problem becomes an :class:`InputError`."""
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        errors = error.errors()
        # a misspelt key is both unknown and leaves its field missing: name the misspelling
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        where = field_path(tuple(first["loc"]), data)
        message = first["msg"]
        cause = first.get("ctx", {}).get("error")
        if isinstance(cause, FieldProblem):
            where = f"{where}.{cause.field}" if where else cause.field
            message = str(cause)
        where = where or "(top level)"
        message = message.removeprefix("Value error, ")
        if first["type"] == "union_tag_invalid":
            ctx = first["ctx"]
            where = f"{where}.{ctx['discriminator'].strip(chr(39))}"
            message = f"unknown kind '{ctx['tag']}'; expected one of {ctx['expected_tags']}"
        elif first["type"] == "extra_forbidden":
            message = "unknown field" + _suggestion(first["loc"], errors)
        elif first["type"] == "missing":
            message = "missing required field"
        raise InputError(path, where, message) from None


def load[M: BaseModel](path: Path, schema: type[M]) -> M:
    """Read and validate a TOML file in one step."""
    return validate(path, read_toml(path), schema)


def load_with_bytes[M: BaseModel](path: Path, schema: type[M]) -> tuple[M, bytes]:
    """Read and validate a TOML file; also return the bytes it was parsed from."""
    data, raw = read_toml_bytes(path)
    return validate(path, data, schema), raw
