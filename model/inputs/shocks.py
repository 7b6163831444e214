"""Shocks: what a scenario does to the world, compiled into episodes the model already poses.

A scenario names a shock by kind and fills in its roles (who sanctions whom, who proposes which
venue); the matching template in ``model/data/shocks.toml`` says, in terms of those roles, what
the shock does on onset, each month while it lasts, and when it ends: structural effects, and
decisions put to the states concerned. Compiling binds the roles to actors, scales the stakes by
the shock's intensity and yields ordinary :class:`~multivector.inputs.schema.Episode` records,
so a shock runs through exactly the code the documented episodes run through.

A shock is scheduled (it happens at its date in every replicate), happens with a
``probability`` at its date, or has a monthly ``hazard`` from its date until ``until``; a
stochastic shock's occurrence is drawn from each replicate's own stream.
"""

import dataclasses
import hashlib
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from multivector.actors import ActorCode
from multivector.calendar import month_label, parse_month
from multivector.errors import InputError
from multivector.inputs.parameters import DATA
from multivector.inputs.schema import (
    DateText,
    Episode,
    FieldProblem,
    Identifier,
    IssueTag,
    OptionFeatures,
    OptionName,
    Strict,
    Unit,
    check_date,
    load_with_bytes,
)
from multivector.keys import decision_key, is_qualified

TEMPLATES = DATA / "shocks.toml"
Intensity = Annotated[float, Field(ge=0.0, le=2.0)]
Chance = Annotated[float, Field(gt=0.0, le=1.0)]
Months = Annotated[int, Field(ge=1, le=240)]
Label = Annotated[str, Field(min_length=1, max_length=80)]


# --- shocks as scenario files write them --------------------------------------------------


class ShockBase(Strict):
    """Fields every shock has.

    Attributes:
        name: Identifier of the shock; its decisions are keyed ``name/decision``.
        date: When it happens (or, for a hazard, the first month it can happen).
        title: A title for tables and figures (the template's, filled in, if empty).
        intensity: Scales the stakes: material values, approvals and effects (1 = as in the
            template, 0 = no force, 2 = twice).
        probability: The chance it happens at ``date`` (scheduled with certainty if neither
            this nor ``hazard`` is given).
        hazard: The monthly chance it happens, from ``date`` until ``until``, at most once.
        until: Last month a hazard can fire (the scenario's end if empty).
        duration_months: How long it lasts (for kinds with an ongoing or ending phase).
    """

    ROLES: ClassVar[tuple[str, ...]] = ()

    name: Identifier
    date: DateText
    title: str = ""
    intensity: Intensity = 1.0
    probability: Chance | None = None
    hazard: Chance | None = None
    until: DateText | None = None
    duration_months: Months | None = None

    # checked field by field, so a bad month is reported as shock[0](name).date (or .until),
    # not against the shock as a whole by the model-level check below
    _date = field_validator("date")(check_date)

    @field_validator("until")
    @classmethod
    def _until(cls, value: DateText | None) -> DateText | None:
        return None if value is None else check_date(value)

    @model_validator(mode="after")
    def _timing(self) -> "ShockBase":
        first = parse_month(self.date)
        if self.probability is not None and self.hazard is not None:
            raise FieldProblem("hazard", "give probability or hazard, not both")
        if self.until is not None:
            if self.hazard is None:
                raise FieldProblem("until", "applies to a hazard only")
            if parse_month(self.until) < first:
                raise FieldProblem("until", "is before date")
        roles = self.roles()
        seen: dict[str, str] = {}
        for role, actors in roles.items():
            if len(set(actors)) != len(actors):
                raise FieldProblem(role, "lists an actor twice")
            for actor in actors:
                if actor in seen:
                    raise FieldProblem(role, f"{actor} is both {seen[actor]} and {role}")
                seen[actor] = role
        return self

    @property
    def first_month(self) -> int:
        """The shock's date as a month index."""
        return parse_month(self.date)

    def roles(self) -> dict[str, list[str]]:
        """The actors bound to each role of the kind (an empty list for an unfilled role)."""
        bound = {}
        for role in self.ROLES:
            value = getattr(self, role)
            bound[role] = [] if value is None else [value] if isinstance(value, str) else value
        return bound

    def labels(self) -> dict[str, str]:
        """Text fields a template title may quote (``{route}``, ``{scope}``...)."""
        return {
            k: v for k, v in self.model_dump().items() if isinstance(v, str) and k not in ("title",)
        }


class Sanctions(ShockBase):
    """One state sanctions another, and may press third countries to comply."""

    ROLES = ("imposer", "target", "secondary")
    kind: Literal["sanctions"]
    imposer: ActorCode
    target: ActorCode
    scope: Literal["trade", "finance", "energy", "technology", "broad"] = "broad"
    secondary: list[ActorCode] = []


class VenueProposal(ShockBase):
    """A state proposes moving a conflict's talks to a new host."""

    ROLES = ("proposer", "host", "incumbent", "parties")
    kind: Literal["venue_proposal"]
    proposer: ActorCode
    conflict: Label
    host: ActorCode
    incumbent: ActorCode | None = None
    parties: list[ActorCode] = []


class UnVote(ShockBase):
    """A resolution put to the General Assembly or the Security Council."""

    ROLES = ("sponsors", "target", "seats")
    kind: Literal["un_vote"]
    body: Literal["UNGA", "UNSC"]
    sponsors: list[ActorCode] = Field(min_length=1)
    target: ActorCode | None = None
    issues: list[IssueTag] = Field(min_length=1)
    seats: list[ActorCode] = []

    @model_validator(mode="after")
    def _seats(self) -> "UnVote":
        if self.seats and self.body != "UNSC":
            raise FieldProblem("seats", "apply to a UNSC vote only")
        # the council's members are a set: a repeated seat would silently count once
        if len(set(self.seats)) != len(self.seats):
            raise FieldProblem("seats", f"lists an actor twice: {self.seats}")
        return self

    def roles(self) -> dict[str, list[str]]:
        """Sponsors and target must differ; seat holders may also sponsor."""
        bound = super().roles()
        bound.pop("seats")
        return bound


class TransitRestriction(ShockBase):
    """A transit state restricts another's goods crossing its territory."""

    ROLES = ("restrictor", "restricted", "alternatives")
    kind: Literal["transit_restriction"]
    restrictor: ActorCode
    restricted: ActorCode
    route: Label
    alternatives: list[ActorCode] = []


class TransitRequest(ShockBase):
    """A state asks another to let its goods (or troops) cross."""

    ROLES = ("requester", "host", "opponents")
    kind: Literal["transit_request"]
    requester: ActorCode
    host: ActorCode
    purpose: Literal["commercial", "humanitarian", "military"] = "commercial"
    opponents: list[ActorCode] = []


class VisaPolicy(ShockBase):
    """A state eases entry for another's citizens; a union partner may object."""

    ROLES = ("grantor", "beneficiaries", "objectors")
    kind: Literal["visa_policy"]
    grantor: ActorCode
    beneficiaries: list[ActorCode] = Field(min_length=1)
    objectors: list[ActorCode] = []


class PipelineDisruption(ShockBase):
    """An export pipeline through a transit state stops."""

    ROLES = ("operator", "affected", "alternatives")
    kind: Literal["pipeline_disruption"]
    operator: ActorCode
    affected: ActorCode
    route: Label
    alternatives: list[ActorCode] = []


class CorridorAgreement(ShockBase):
    """A partner offers a route that bypasses a state the member depends on."""

    ROLES = ("partner", "member", "bypassed")
    kind: Literal["corridor_agreement"]
    partner: ActorCode
    member: ActorCode
    bypassed: ActorCode
    route: Label


class TiedChoice(Strict):
    """The choice an offer rewards: an option of another shock's decision.

    Attributes:
        decision: The decision's key, ``shock-name/decision-name``.
        option: The option the offer is made for.
    """

    decision: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9-]*$")]
    option: OptionName


class PartnershipOffer(ShockBase):
    """An offer of investment or technology (withdrawn after ``duration_months`` if given).

    With ``tied_to`` the offer is an incentive: it is made only where the recipient chose the
    rewarded option, and the recipient weighs the package as part of that option's material
    stake, so a larger offer (a higher intensity) makes the rewarded choice likelier.
    """

    ROLES = ("offerer", "recipient", "rivals")
    kind: Literal["partnership_offer"]
    offerer: ActorCode
    recipient: ActorCode
    domain: Literal["investment", "technology"] = "investment"
    rivals: list[ActorCode] = []
    tied_to: TiedChoice | None = None


def tied_choice(shock: ShockBase) -> TiedChoice | None:
    """The choice a shock's offer is tied to, if it is an incentive."""
    return getattr(shock, "tied_to", None)


class MediaCampaign(ShockBase):
    """A sustained campaign in one state's media against another."""

    ROLES = ("source", "target")
    kind: Literal["media_campaign"]
    source: ActorCode
    target: ActorCode
    theme: Label = "sovereignty"


class Protest(ShockBase):
    """Domestic protest in one state against another's policy or presence."""

    ROLES = ("country", "against")
    kind: Literal["protest"]
    country: ActorCode
    against: ActorCode
    cause: Label = "a grievance"


class SecurityCrisis(ShockBase):
    """Unrest or a threat in one state, which may call on its allies for help."""

    ROLES = ("country", "allies", "observers")
    kind: Literal["security_crisis"]
    country: ActorCode
    allies: list[ActorCode] = Field(min_length=1)
    observers: list[ActorCode] = []


Shock = Annotated[
    Sanctions
    | VenueProposal
    | UnVote
    | TransitRestriction
    | TransitRequest
    | VisaPolicy
    | PipelineDisruption
    | CorridorAgreement
    | PartnershipOffer
    | MediaCampaign
    | Protest
    | SecurityCrisis,
    Field(discriminator="kind"),
]
SHOCK_KINDS: dict[str, type[ShockBase]] = {
    cls.model_fields["kind"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in ShockBase.__subclasses__()
}
"""Every shock kind, by the name a scenario file uses."""


# --- templates (model/data/shocks.toml) ---------------------------------------------------


class RoleEffect(Strict):
    """A structural effect between two roles (``transit``: cargo rerouted, lasting)."""

    kind: Literal["mood", "relation", "dependence", "transit"]
    actor: str
    toward: str
    delta: Unit


class RoleHold(Strict):
    """A relation or mood held away from its structural level while a lasting shock lasts."""

    kind: Literal["mood", "relation"]
    actor: str
    toward: str
    delta: Unit


class FixedStakes(Strict):
    """Stakes of an option that do not grow with the shock's intensity.

    Intensity measures how hard the shock's initiator presses (penalties, pressure, the size
    of an offer). What an option is worth apart from that (the trade a circumvention keeps,
    the target's gratitude) is written here and added unscaled.
    """

    material: Unit = 0.0
    approval: dict[str, Unit] = {}


class RoleOption(OptionFeatures):
    """An option whose approvals and effects are written in roles.

    Attributes:
        approval: Approvals by role, scaled by the intensity.
        fixed: Stakes not scaled by the intensity.
        monthly_material: Material value per month the shock lasts, scaled by the intensity;
            the decider weighs it over the shock's ``duration_months`` (one month if none), so
            a longer blockade costs more to sit out.
        effects: Structural effects when the option is chosen, scaled by the intensity.
    """

    approval: dict[str, Unit] = {}
    fixed: FixedStakes = FixedStakes()
    monthly_material: Unit = 0.0
    effects: list[RoleEffect] = []


class RoleCondition(Strict):
    """Pose a decision only where a role made one of some choices in an earlier decision."""

    decision: str
    actor: str
    chose: list[OptionName] = Field(min_length=1)


class RoleDecision(Strict):
    """A decision written in roles; ``for_each`` repeats it for every actor of a list role."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9{}][a-z0-9{}-]*$")]
    deciders: list[str] = Field(min_length=1)
    for_each: str | None = None
    option: list[RoleOption] = Field(min_length=2)
    when: RoleCondition | None = None


class Phase(Strict):
    """What happens at one moment of a shock: effects, then decisions in order."""

    effects: list[RoleEffect] = []
    decision: list[RoleDecision] = []


class ShockTemplate(Strict):
    """What a kind of shock does, in terms of its roles.

    Attributes:
        kind: The shock kind.
        title: Title with ``{role}`` and ``{field}`` placeholders.
        issues: Issue tags (the principle term).
        sources: Where the template's reasoning comes from.
        factors: Multipliers of the intensity by the value of a shock field (``scope``).
        onset: What happens when the shock occurs.
        during: Effects in every month the shock lasts (needs ``duration_months``).
        holds: Relations and moods held away from their structural level from onset to end
            (needs ``duration_months``): they do not relax back while the shock lasts.
        ending: What happens when it ends.
    """

    kind: str
    title: str = Field(min_length=1)
    summary: str = ""
    issues: list[IssueTag] = []
    sources: list[str] = Field(min_length=1)
    factors: dict[str, dict[str, Annotated[float, Field(ge=0.0, le=3.0)]]] = {}
    onset: Phase
    during: list[RoleEffect] = []
    holds: list[RoleHold] = []
    ending: Phase = Phase()


class ShockTemplateFile(Strict):
    """``model/data/shocks.toml``."""

    template: list[ShockTemplate] = Field(min_length=1)


def _check_template(template: ShockTemplate, position: int) -> None:
    """Every role a template names must be a role of its kind; raise InputError otherwise."""
    where = f"template[{position}]({template.kind})"
    if template.kind not in SHOCK_KINDS:
        raise InputError(TEMPLATES, where + ".kind", f"unknown shock kind '{template.kind}'")
    roles = set(SHOCK_KINDS[template.kind].ROLES)
    fields = set(SHOCK_KINDS[template.kind].model_fields)
    for name in template.factors:
        if name not in fields:
            raise InputError(TEMPLATES, f"{where}.factors.{name}", "not a field of the kind")

    def check(role: str, field: str) -> None:
        if role not in roles:
            raise InputError(TEMPLATES, f"{where}.{field}", f"'{role}' is not a role of the kind")

    effects = [
        *template.onset.effects,
        *template.during,
        *template.holds,
        *template.ending.effects,
    ]
    for phase in (template.onset, template.ending):
        for decision in phase.decision:
            for role in decision.deciders:
                check(role, f"decision({decision.name}).deciders")
            if decision.for_each is not None:
                check(decision.for_each, f"decision({decision.name}).for_each")
            if decision.when is not None:
                check(decision.when.actor, f"decision({decision.name}).when.actor")
            for option in decision.option:
                for role in [*option.approval, *option.fixed.approval]:
                    check(role, f"decision({decision.name}).option({option.name}).approval")
                effects.extend(option.effects)
    for effect in effects:
        check(effect.actor, "effects.actor")
        check(effect.toward, "effects.toward")


def load_templates(path: Path = TEMPLATES) -> dict[str, ShockTemplate]:
    """Load and check the shock templates, one per kind."""
    return _templates(path)[0]


def templates_sha256(path: Path = TEMPLATES) -> str:
    """The hash of the template file's bytes, as parsed by :func:`load_templates`."""
    return _templates(path)[1]


@cache
def _templates(path: Path) -> tuple[dict[str, ShockTemplate], str]:
    templates: dict[str, ShockTemplate] = {}
    loaded, raw = load_with_bytes(path, ShockTemplateFile)
    for position, template in enumerate(loaded.template):
        _check_template(template, position)
        if template.kind in templates:
            raise InputError(path, f"template[{position}].kind", "a second template of the kind")
        templates[template.kind] = template
    missing = sorted(set(SHOCK_KINDS) - set(templates) - {"un_vote"})
    if missing:
        raise InputError(path, "template", f"no template for {', '.join(missing)}")
    return templates, hashlib.sha256(raw).hexdigest()


# --- compiling a shock --------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledShock:
    """A shock ready to schedule.

    Attributes:
        shock: The shock as written.
        onset: The episode posed when it occurs.
        during: An effects-only episode applied in each month it lasts, if any.
        ending: The episode posed when it ends, if any.
        seats: Extra Security Council members for a UN vote.
        holds: Bound holds (``kind``, ``actor``, ``toward``, ``delta``) while it lasts.
        incentive: For an offer tied to a choice, its value to the recipient: the largest
            material stake among its first decision's options.
    """

    shock: ShockBase
    onset: Episode
    during: Episode | None
    ending: Episode | None
    seats: tuple[str, ...] = ()
    holds: tuple[dict, ...] = ()
    incentive: float = 0.0


class _Binder:
    """Binds roles to actors and scales stakes for one shock."""

    def __init__(self, shock: ShockBase, template: ShockTemplate) -> None:
        self.shock = shock
        self.template = template
        self.roles = shock.roles()
        self.scale = shock.intensity
        for field, table in template.factors.items():
            self.scale *= table.get(str(getattr(shock, field)), 1.0)

    def scaled(self, value: float, fixed: float = 0.0) -> float:
        return max(-1.0, min(1.0, value * self.scale + fixed))

    def effects(
        self, raw: list[RoleEffect] | list[RoleHold], bound: dict[str, list[str]]
    ) -> list[dict]:
        return [
            {"kind": e.kind, "actor": a, "toward": b, "delta": self.scaled(e.delta)}
            for e in raw
            for a in bound[e.actor]
            for b in bound[e.toward]
            if a != b
        ]

    def option(self, option: RoleOption, bound: dict[str, list[str]]) -> dict:
        fixed = option.fixed
        approval = {
            actor: self.scaled(option.approval.get(role, 0.0), fixed.approval.get(role, 0.0))
            for role in {**option.approval, **fixed.approval}
            for actor in bound[role]
        }
        months = self.shock.duration_months or 1
        material = option.material + option.monthly_material * months
        return {
            "name": option.name,
            "direction": option.direction,
            "autonomy": option.autonomy,
            "prestige": option.prestige,
            "material": self.scaled(material, fixed.material),
            "approval": approval,
            "effects": self.effects(option.effects, bound),
        }

    def decisions(self, raw: RoleDecision, prefix: str) -> list[dict]:
        """One decision, or one per actor of its ``for_each`` role; none if a role is empty."""
        instances = (
            [{raw.for_each: [actor]} for actor in self.roles[raw.for_each]]
            if raw.for_each
            else [{}]
        )
        out = []
        for extra in instances:
            bound = {**self.roles, **extra}
            names = {role: actors[0].lower() for role, actors in bound.items() if actors}
            deciders = [a for role in raw.deciders for a in bound[role]]
            if not deciders:
                continue
            decision = {
                "name": raw.name.format_map(names),
                "deciders": deciders,
                "option": [self.option(o, bound) for o in raw.option],
            }
            if raw.when is not None:
                actors = bound[raw.when.actor]
                if not actors:
                    continue
                ref = raw.when.decision.format_map(names)
                decision["when"] = {
                    "decision": ref if is_qualified(ref) else f"{prefix}{ref}",
                    "actor": actors[0],
                    "chose": raw.when.chose,
                }
            out.append(decision)
        return out

    def episode(self, suffix: str, phase: Phase, effects: list[RoleEffect]) -> Episode | None:
        shock, template = self.shock, self.template
        # an ending's conditions refer to the onset's decisions by their full key
        prefix = decision_key(shock.name, "") if suffix else ""
        decisions = [d for raw in phase.decision for d in self.decisions(raw, prefix)]
        bound_effects = self.effects(effects, self.roles)
        if not decisions and not bound_effects:
            return None
        names = {role: "+".join(actors) or "-" for role, actors in self.roles.items()}
        title = shock.title or template.title.format_map({**shock.labels(), **names})
        return Episode(
            id=shock.name + suffix,
            date=shock.date,
            kind=template.kind,
            title=title + {"": "", "-during": " (continuing)", "-end": " (ends)"}[suffix],
            summary=template.summary,
            issues=template.issues,
            sources=[*template.sources, "scenario shock (hypothetical)"],
            certainty="unverified",
            effects=bound_effects,
            decision=decisions,
        )


def compile_vote_shock(shock: UnVote) -> Episode:
    """A UN vote shock is an ordinary vote episode; intensity scales its sponsors' lobbying."""
    approval = {}
    if shock.intensity != 1.0:
        for code in shock.sponsors:
            approval[code] = {
                "yes": min(1.0, shock.intensity),
                "no": -min(1.0, shock.intensity),
                "abstain": -0.5 * min(1.0, shock.intensity),
            }
    return Episode(
        id=shock.name,
        date=shock.date,
        kind="un_vote",
        title=shock.title or f"{shock.body} draft by {'+'.join(shock.sponsors)}",
        issues=shock.issues,
        sources=["scenario shock (hypothetical)"],
        certainty="unverified",
        body=shock.body,
        sponsors=shock.sponsors,
        target=shock.target,
        approval=approval,
    )


@dataclass(frozen=True)
class _Written:
    """A shock as the cache key of its compilation: its kind and fields as written."""

    kind: type
    text: str
    shock: ShockBase = dataclasses.field(compare=False, hash=False)


def compile_shock(shock: ShockBase) -> CompiledShock:
    """Bind a shock's roles into the episodes it poses.

    A shock is compiled once: loading a scenario compiles its shocks to check them, and the
    runs, the comparison's events and the teaching app reuse the result (shocks with the same
    kind and fields share it).
    """
    return _compile(_Written(type(shock), shock.model_dump_json(), shock))


@lru_cache(maxsize=1024)
def _compile(written: _Written) -> CompiledShock:
    shock = written.shock
    kind = shock.kind  # type: ignore[attr-defined]
    template = load_templates().get(kind)
    lasting = template is not None and bool(
        template.during or template.holds or template.ending.effects or template.ending.decision
    )
    if shock.duration_months is not None and not lasting:
        raise FieldProblem("duration_months", f"a {kind} shock has no ongoing or ending phase")
    if isinstance(shock, UnVote):
        return CompiledShock(shock, compile_vote_shock(shock), None, None, tuple(shock.seats))
    assert template is not None  # every other kind has a template (checked on loading)
    binder = _Binder(shock, template)
    onset = binder.episode("", template.onset, template.onset.effects)
    lasting = shock.duration_months is not None
    during = binder.episode("-during", Phase(), template.during) if lasting else None
    ending = binder.episode("-end", template.ending, template.ending.effects) if lasting else None
    if onset is None:
        raise ValueError("with these roles the shock poses no decision and has no effect")
    holds = tuple(binder.effects(template.holds, binder.roles)) if lasting else ()
    incentive = 0.0
    if tied_choice(shock) is not None and onset.decision:
        incentive = max(0.0, *(o.material for o in onset.decision[0].option))
    return CompiledShock(shock, onset, during, ending, holds=holds, incentive=incentive)


def window(shock: ShockBase, last_month: int) -> tuple[int, int]:
    """First and last month a shock can occur."""
    first = shock.first_month
    if shock.hazard is None:
        return first, first
    return first, parse_month(shock.until) if shock.until is not None else last_month


def describe(shock: ShockBase) -> dict[str, object]:
    """A shock as recorded in outputs."""
    return {
        "name": shock.name,
        "kind": shock.kind,  # type: ignore[attr-defined]
        "date": month_label(shock.first_month),
        "intensity": shock.intensity,
        "probability": shock.probability,
        "hazard": shock.hazard,
        "duration_months": shock.duration_months,
        "roles": shock.roles(),
    }
