"""The recorded UN General Assembly votes: the table, its validation, and how each vote is posed.

The record (``data/votes/unga_votes_2014_2024.csv``, copied from ``shared/facts/unga_votes``)
holds every recorded plenary vote of the six states in 2014-2024. Each row is posed to the
model as a UN vote: a resolution family (``data/votes/families.toml``) gives the sponsors, the
target and the issues of recurring texts; a vote no family covers enters through the issue tags
its Voeten codes, UNBIS subjects or title give (``data/votes/issue_codes.toml``). A user's file
of votes in the same columns (``multivector predict VOTES.csv``) is read by the same code.
"""

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from multivector.actors import ACTORS, ActorCode
from multivector.calendar import replay_problem
from multivector.errors import InputError
from multivector.inputs.parameters import DATA
from multivector.inputs.schema import (
    Episode,
    FieldProblem,
    IssueTag,
    Strict,
    Unit,
    load,
    read_input_bytes,
)

VOTES = DATA / "votes"
RECORD_FILE = VOTES / "unga_votes_2014_2024.csv"
FAMILIES = VOTES / "families.toml"
ISSUE_CODES = VOTES / "issue_codes.toml"
HELD_BACK = dt.date(2025, 1, 1)
"""Votes from this date on are held back to test forecasts; the shipped record stops before."""

COLUMNS = (
    "date",
    "session",
    "resolution",
    "source_id",
    "source",
    "vote_kind",
    "title_or_description",
    "issues",
    "subjects",
    "important_vote",
    "yes_total",
    "no_total",
    "abstain_total",
)
"""The columns a votes file must have (the six state columns are optional)."""
VOTE_CODES = {"Y": "yes", "N": "no", "A": "abstain"}
VoteCode = Literal["Y", "N", "A", "X", ""]
VoeteCode = Literal["me", "nu", "di", "hr", "co", "ec"]


class VoteRow(BaseModel):
    """One row of a votes file (columns as in ``shared/facts/unga_votes/README.md``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    date: dt.date
    session: str = Field(min_length=1)
    resolution: str
    source_id: str = Field(min_length=1)
    source: str
    vote_kind: Literal["resolution/whole", "amendment", "paragraph"]
    title_or_description: str = Field(min_length=1)
    issues: tuple[VoeteCode, ...] = ()
    subjects: tuple[str, ...] = ()
    important_vote: Annotated[int, Field(ge=0, le=1)] | None = None
    yes_total: Annotated[int, Field(ge=0, le=200)] | None = None
    no_total: Annotated[int, Field(ge=0, le=200)] | None = None
    abstain_total: Annotated[int, Field(ge=0, le=200)] | None = None
    KAZ: VoteCode = ""
    RUS: VoteCode = ""
    USA: VoteCode = ""
    CHN: VoteCode = ""
    BLR: VoteCode = ""
    UKR: VoteCode = ""

    @field_validator("issues", mode="before")
    @classmethod
    def _codes(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(c.strip() for c in value.split("|") if c.strip())
        return value

    @field_validator("subjects", mode="before")
    @classmethod
    def _subjects(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(s.strip() for s in value.split("|") if s.strip())
        return value

    @field_validator("yes_total", "no_total", "abstain_total", "important_vote", mode="before")
    @classmethod
    def _blank_number(cls, value: object) -> object:
        return None if value == "" else value

    def observed(self) -> dict[str, str]:
        """The recorded votes of the six (absent, not voting and unlisted states left out)."""
        return {a: VOTE_CODES[getattr(self, a)] for a in ACTORS if getattr(self, a) in VOTE_CODES}


def read_votes(path: Path, *, record: bool = False) -> list[VoteRow]:
    """Read and validate a votes file; the first problem becomes a one-line :class:`InputError`.

    Args:
        path: A CSV file with the columns of the shared votes file.
        record: Whether this is the project's own record (which must stop before 2025: later
            votes are held back to test the forecasts, and must not enter the project's data).
    """
    data = read_input_bytes(path)  # a regular file of a sane size, or a one-line refusal
    try:
        text = data.decode("utf-8-sig")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(path, "header", f"missing column(s) {', '.join(missing)}")
        raw = list(reader)
    except (UnicodeDecodeError, csv.Error) as error:
        raise InputError(path, "", f"cannot be read as CSV ({error})") from None
    if not raw:
        raise InputError(path, "", "holds no votes")
    rows, seen = [], set()
    for line, values in enumerate(raw, start=2):  # line 1 is the header
        try:
            row = VoteRow.model_validate(values)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(p) for p in first["loc"][:1])
            where = f"line {line} ({values.get('source_id') or '?'}).{field}"
            problem = first["msg"].removeprefix("Value error, ")
            raise InputError(path, where, f"{problem} (got {values.get(field)!r})") from None
        if row.source_id in seen:
            raise InputError(path, f"line {line}.source_id", f"'{row.source_id}' repeats")
        if record and row.date >= HELD_BACK:
            raise InputError(
                path, f"line {line}.date", "votes from 2025 on are held back from the record"
            )
        # a vote is posed in the record's replay: one outside it would never be posed (before
        # the record) or could not be reached (after the longest run)
        outside = replay_problem(row.date)
        if outside is not None:
            raise InputError(path, f"line {line} ({row.source_id}).date", outside)
        seen.add(row.source_id)
        rows.append(row)
    return rows


# --- how a vote is posed ------------------------------------------------------------------


class Family(Strict):
    """A resolution family: recurring texts with known sponsors, target and issues."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    match: list[Annotated[str, Field(min_length=3)]] = []
    resolutions: list[Annotated[str, Field(pattern=r"^A/RES/")]] = []
    """Symbols of texts whose row does not name them (Voeten's 2016-2017 rows give the agenda
    item, not the title)."""
    exclude: list[str] = []
    sponsors: list[ActorCode] = []
    target: ActorCode | None = None
    issues: list[IssueTag] = []
    approval: dict[ActorCode, dict[Literal["yes", "no", "abstain"], Unit]] = {}
    source: str = Field(min_length=1)
    why: str = Field(min_length=1)

    @model_validator(mode="after")
    def _matches_something(self) -> "Family":
        if not self.match and not self.resolutions:
            raise ValueError("a family needs match strings or resolution symbols")
        # a vote's sponsors are a set of approvals: a repeated one would silently count once
        if len(set(self.sponsors)) != len(self.sponsors):
            raise FieldProblem("sponsors", "lists an actor twice")
        return self

    def covers(self, row: "VoteRow") -> bool:
        """Whether the row is one of this family's texts (its symbol, or title substrings)."""
        if row.resolution in self.resolutions:
            return True
        text = row.title_or_description.casefold()
        if any(e.casefold() in text for e in self.exclude):
            return False
        return any(m.casefold() in text for m in self.match)


class FamilyFile(Strict):
    """``votes/families.toml``."""

    family: list[Family] = Field(min_length=1)


class CodeRule(Strict):
    """Issue tags for one of Voeten's issue codes."""

    code: VoeteCode
    issues: list[IssueTag] = Field(min_length=1)
    why: str = Field(min_length=1)


class TextRule(Strict):
    """Issue tags for a UNBIS subject term or a title containing ``contains``."""

    contains: str = Field(min_length=3)
    issues: list[IssueTag] = Field(min_length=1)
    why: str = Field(min_length=1)


class IssueCodeFile(Strict):
    """``votes/issue_codes.toml``: tags for the votes no family covers."""

    code: list[CodeRule] = []
    subject: list[TextRule] = []
    title: list[TextRule] = []


@dataclass(frozen=True)
class PosedVote:
    """A recorded vote as the model poses it.

    Attributes:
        row: The row it came from.
        family: The resolution family (``""`` where none covers it).
        episode: The vote as a library episode (``kind = "un_vote"``, body UNGA).
    """

    row: VoteRow
    family: str
    episode: Episode


def episode_id(source_id: str) -> str:
    """A library id for a vote's source key (``rcid:5309`` becomes ``unga-rcid-5309``)."""
    return "unga-" + re.sub(r"[^a-z0-9]+", "-", source_id.casefold()).strip("-")


@dataclass(frozen=True)
class Posing:
    """The rules that pose a vote: families first, then issue codes, subjects and title words."""

    families: tuple[Family, ...]
    codes: IssueCodeFile

    def family_of(self, row: VoteRow) -> Family | None:
        """The first family covering the row's title, if any."""
        return next((f for f in self.families if f.covers(row)), None)

    def issues_of(self, row: VoteRow) -> list[str]:
        """Issue tags from Voeten's codes, the UNBIS subjects and, failing both, the title."""
        tags = [t for rule in self.codes.code if rule.code in row.issues for t in rule.issues]
        subjects = [s.casefold() for s in row.subjects]
        tags += [
            t
            for rule in self.codes.subject
            if any(rule.contains.casefold() in s for s in subjects)
            for t in rule.issues
        ]
        if not tags:
            title = row.title_or_description.casefold()
            tags = [
                t
                for rule in self.codes.title
                if rule.contains.casefold() in title
                for t in rule.issues
            ]
        return list(dict.fromkeys(tags))

    def pose(self, row: VoteRow, observed: bool = True) -> PosedVote:
        """The row as a UN vote episode (with its recorded votes unless ``observed`` is False)."""
        family = self.family_of(row)
        issues = family.issues if family and family.issues else self.issues_of(row)
        episode = Episode(
            id=episode_id(row.source_id),
            date=row.date,
            kind="un_vote",
            title=row.title_or_description,
            issues=issues,
            sources=[f"{row.source} {row.source_id}"],
            body="UNGA",
            sponsors=family.sponsors if family else [],
            target=family.target if family else None,
            resolution=row.resolution or None,
            approval=family.approval if family else {},
            observed=row.observed() if observed else {},
        )
        return PosedVote(row, family.name if family else "", episode)


@cache
def load_posing() -> Posing:
    """The shipped posing rules."""
    return Posing(
        tuple(load(FAMILIES, FamilyFile).family),
        load(ISSUE_CODES, IssueCodeFile),
    )


@cache
def load_record() -> tuple[VoteRow, ...]:
    """The shipped record of recorded General Assembly votes, 2014-2024."""
    return tuple(read_votes(RECORD_FILE, record=True))


def posing_files() -> list[Path]:
    """The data files that decide how the record is posed (hashed into the library version)."""
    return [RECORD_FILE, FAMILIES, ISSUE_CODES]
