"""The episode library: documented episodes compiled into decisions the model can pose."""

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from multivector.actors import ACTORS, INDEX, N_ACTORS
from multivector.calendar import month_label, parse_month
from multivector.errors import InputError
from multivector.inputs.parameters import DATA
from multivector.inputs.schema import (
    ISSUE_TAGS,
    Episode,
    EpisodeFile,
    Option,
    ReactionFile,
    ReactionOption,
    ReactionTemplate,
    load,
)
from multivector.inputs.votes import PosedVote, load_posing, load_record, posing_files
from multivector.keys import decision_key, is_reaction, qualified, reaction_key

EPISODES = DATA / "episodes"
REACTIONS = DATA / "reactions.toml"

VOTE_OPTIONS: tuple[str, ...] = ("yes", "no", "abstain")
# Approval of a vote by its sponsors and its target (yes, no, abstain).
SPONSOR_APPROVAL = np.array([1.0, -1.0, -0.5])
TARGET_APPROVAL = np.array([-1.0, 1.0, -0.5])
# How far two votes agree: identical 1, yes against no -1, a vote against an abstention -0.5.
VOTE_AGREEMENT = np.array([[1.0, -1.0, -0.5], [-1.0, 1.0, -0.5], [-0.5, -0.5, 1.0]])


@dataclass(frozen=True)
class Effect:
    """A structural change: ``kind`` of ``actor`` toward ``toward`` moves by ``delta``."""

    kind: str
    actor: int
    toward: int
    delta: float


@dataclass(frozen=True)
class Condition:
    """Pose a decision only where ``actor`` chose one of ``options`` in decision ``key``."""

    key: str
    actor: int
    options: frozenset[str]


@dataclass(frozen=True)
class Decision:
    """A decision compiled to arrays.

    Attributes:
        key: ``episode-id/decision-name``.
        episode: The episode id.
        month: Month index when it is posed.
        kind: The episode kind.
        title: Episode title.
        deciders: Actors whose choices are recorded.
        players: Actors who take part in the equilibrium (deciders, plus the non-members of the
            Security Council whose shadow positions express their approval of a vote).
        options: Option names.
        features: Per option: direction, autonomy, prestige, material; shape (4, O).
        principle: Fit of each option with each actor's declared norms; shape (6, O).
        approval: Exogenous approval of each option by each actor; shape (6, O).
        stake: Which actors' approval is exogenous; shape (6,).
        agreement: Agreement score between two players' choices; shape (O, O).
        effects: Per option, the structural effects when it is chosen.
        observed: Documented choice (option index) by decider index.
        when: Condition for posing the decision, if any.
        thread: Issue thread for the consistency term.
        certainty: ``checked`` or ``unverified``.
        routine: Whether it is a routine recorded vote (from the votes table, not the library).
        family: The resolution family of a vote (``""`` where none applies).
        simultaneous: Whether several players choose at once (solved as an equilibrium).

    """

    key: str
    episode: str
    month: int
    kind: str
    title: str
    deciders: tuple[int, ...]
    players: tuple[int, ...]
    options: tuple[str, ...]
    features: np.ndarray
    principle: np.ndarray
    approval: np.ndarray
    stake: np.ndarray
    agreement: np.ndarray
    effects: tuple[tuple[Effect, ...], ...]
    observed: dict[int, int]
    when: Condition | None
    thread: str
    certainty: str
    routine: bool = False
    family: str = ""
    simultaneous: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "simultaneous", len(self.players) > 1)

    @property
    def date(self) -> str:
        """The month as ``YYYY-MM``."""
        return month_label(self.month)

    @property
    def is_reaction(self) -> bool:
        """Whether this is a reaction to another decision (its key holds ``>``)."""
        return is_reaction(self.key)


def _principle(issues: Iterable[str], direction: np.ndarray, stance: np.ndarray) -> np.ndarray:
    """Each actor's declared stance on the issues (mean over tags) times each option's direction."""
    tags = [ISSUE_TAGS.index(t) for t in issues]
    if not tags:
        return np.zeros((N_ACTORS, len(direction)))
    return stance[:, tags].mean(axis=1)[:, None] * direction[None, :]


def _effects(raw: Iterable) -> tuple[Effect, ...]:
    return tuple(Effect(e.kind, INDEX[e.actor], INDEX[e.toward], e.delta) for e in raw)


def compile_vote(
    episode: Episode,
    stance: np.ndarray,
    members: list[int],
    family: str = "",
    routine: bool = False,
) -> Decision:
    """Compile a UN vote: options, approvals and features are derived from sponsors and target.

    Args:
        episode: The vote.
        stance: Declared stances, shape (6, issue tags).
        members: Who votes (the Security Council's members, or all six in the Assembly).
        family: Its resolution family, if any: the family is its consistency thread.
        routine: Whether it is a routine recorded vote rather than a library episode.
    """
    month = parse_month(episode.date)
    approval = np.zeros((N_ACTORS, 3))
    stake = np.zeros(N_ACTORS, dtype=bool)
    for code in episode.sponsors:
        approval[INDEX[code]], stake[INDEX[code]] = SPONSOR_APPROVAL, True
    if episode.target is not None:
        approval[INDEX[episode.target]], stake[INDEX[episode.target]] = TARGET_APPROVAL, True
    for code, values in episode.approval.items():
        approval[INDEX[code]] = [
            values.get(o, approval[INDEX[code], k]) for k, o in enumerate(VOTE_OPTIONS)
        ]
        stake[INDEX[code]] = True
    direction = np.array([1.0, -1.0, 0.0])
    # abstaining keeps a state out of a bloc's basket only where a bloc has a stake: on a text
    # with no sponsor, target or stated stake among the six there is no basket to stay out of
    autonomy = np.array([0.0, 0.0, 1.0]) if stake.any() else np.zeros(3)
    features = np.stack([direction, autonomy, np.zeros(3), np.zeros(3)])
    return Decision(
        key=f"{episode.id}/vote",
        episode=episode.id,
        month=month,
        kind=episode.kind,
        title=episode.title,
        deciders=tuple(members),
        players=tuple(range(N_ACTORS)),
        options=VOTE_OPTIONS,
        features=features,
        principle=_principle(episode.issues, direction, stance),
        approval=approval,
        stake=stake,
        agreement=VOTE_AGREEMENT,
        effects=((), (), ()),
        observed={INDEX[a]: VOTE_OPTIONS.index(v) for a, v in episode.observed.items()},
        when=None,
        thread=f"family:{family}" if family else vote_thread(episode),
        certainty=episode.certainty,
        routine=routine,
        family=family,
    )


def vote_thread(episode: Episode) -> str:
    """Consistency thread of a vote: its issue, its sponsors and its target.

    "yes" on a Western text and "yes" on a Russian text on the same issue are different
    positions, so votes are only compared with votes on texts from the same camp.
    """
    issue = episode.issues[0] if episode.issues else episode.id
    camp = "+".join(sorted(episode.sponsors)) or "none"
    return f"{issue}|{camp}>{episode.target or 'none'}"


def plain_agreement(n_options: int) -> np.ndarray:
    """Agreement between two choices among distinct options: 1 if the same, -1 otherwise."""
    return np.where(np.eye(n_options) > 0, 1.0, -1.0)


def option_features(
    options: Sequence[Option | ReactionOption],
) -> tuple[tuple[str, ...], np.ndarray]:
    """Option names and their features (direction, autonomy, prestige, material), shape (4, O)."""
    names = tuple(o.name for o in options)
    features = np.array([[o.direction, o.autonomy, o.prestige, o.material] for o in options]).T
    return names, features


def compile_episode(episode: Episode, stance: np.ndarray) -> list[Decision]:
    """Compile a non-vote episode into its decisions, in the order written."""
    month = parse_month(episode.date)
    decisions = []
    for spec in episode.decision:
        names, features = option_features(spec.option)
        approval = np.zeros((N_ACTORS, len(names)))
        stake = np.zeros(N_ACTORS, dtype=bool)
        for k, option in enumerate(spec.option):
            for code, value in option.approval.items():
                approval[INDEX[code], k] = value
                stake[INDEX[code]] = True
        when = None
        if spec.when is not None:
            key = qualified(spec.when.decision, episode.id)
            when = Condition(key, INDEX[spec.when.actor], frozenset(spec.when.chose))
        deciders = tuple(INDEX[a] for a in spec.deciders)
        decisions.append(
            Decision(
                key=decision_key(episode.id, spec.name),
                episode=episode.id,
                month=month,
                kind=episode.kind,
                title=episode.title,
                deciders=deciders,
                players=deciders,
                options=names,
                features=features,
                principle=_principle(episode.issues, features[0], stance),
                approval=approval,
                stake=stake,
                agreement=plain_agreement(len(names)),
                effects=tuple(_effects(o.effects) for o in spec.option),
                observed={INDEX[a]: names.index(v) for a, v in spec.observed.items()},
                when=when,
                thread=spec.thread or (episode.issues[0] if episode.issues else episode.id),
                certainty=episode.certainty,
            )
        )
    return decisions


@dataclass(frozen=True)
class Plan:
    """An episode ready to pose: its exogenous effects, then its decisions in order."""

    episode: str
    month: int
    effects: tuple[Effect, ...]
    decisions: tuple[Decision, ...]


def compile_plan(
    episode: Episode, stance: np.ndarray, members: list[int], family: str = ""
) -> Plan:
    """Compile one episode; ``members`` are the Security Council's members at its date."""
    if episode.kind == "un_vote":
        electorate = members if episode.body == "UNSC" else list(range(N_ACTORS))
        decisions = [compile_vote(episode, stance, electorate, family)]
    else:
        decisions = compile_episode(episode, stance)
    return Plan(episode.id, parse_month(episode.date), _effects(episode.effects), tuple(decisions))


def compile_reaction(
    template: ReactionTemplate,
    trigger: Decision,
    reactor: int,
    target: int,
    stance: np.ndarray,
    *,
    month: int,
) -> Decision:
    """A follow-up decision: ``reactor`` answers ``target``'s choice in ``trigger``."""
    names, features = option_features(template.option)
    approval = np.zeros((N_ACTORS, len(names)))
    approval[target] = [o.target_approval for o in template.option]
    stake = np.zeros(N_ACTORS, dtype=bool)
    stake[target] = True
    side = {"target": target, "reactor": reactor}
    effects = tuple(
        tuple(Effect(e.kind, side[e.actor], side[e.toward], e.delta) for e in o.effects)
        for o in template.option
    )
    return Decision(
        key=reaction_key(
            trigger.key, f"{template.name}-{ACTORS[reactor].lower()}-to-{ACTORS[target].lower()}"
        ),
        episode=trigger.episode,
        month=month,
        kind=template.kind,
        title=f"{template.title} ({ACTORS[reactor]} answers {ACTORS[target]})",
        deciders=(reactor,),
        players=(reactor,),
        options=names,
        features=features,
        principle=_principle(template.issues, features[0], stance),
        approval=approval,
        stake=stake,
        agreement=plain_agreement(len(names)),
        effects=effects,
        observed={},
        when=None,
        thread=f"reaction-{template.name}",
        certainty="unverified",
    )


@dataclass(frozen=True)
class Library:
    """The documented episodes, their compiled decisions and the reaction templates.

    Attributes:
        episodes: Validated episodes by id, in date order.
        sources: File each episode came from, by id.
        reactions: Templates for follow-up reactions.
        sha256: Hash over every library, votes and structural data file (the library version).
        recorded: The recorded General Assembly votes the library does not hold as episodes,
            posed as routine votes, in date order.
        families: Resolution family of the library's own votes, by episode id.

    """

    episodes: dict[str, Episode]
    sources: dict[str, Path]
    reactions: tuple[ReactionTemplate, ...]
    sha256: str
    recorded: tuple[PosedVote, ...] = ()
    families: dict[str, str] = field(default_factory=dict)

    @property
    def votes(self) -> list[Episode]:
        """The UN votes, in date order."""
        return [e for e in self.episodes.values() if e.kind == "un_vote"]


def _hash_files(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def repeated_entry(episode: Episode) -> tuple[str, str] | None:
    """The first list of an episode that names something twice, as (field, problem), or None.

    Compiling would silently count a repeated sponsor once (approvals are set per actor) and a
    repeated ``when.chose`` option once (a set), and would weigh a repeated issue tag twice in
    the principle term; each is a slip in the file, so it is refused.
    (A decision's ``deciders`` are checked by the schema itself.)
    """
    lists: list[tuple[str, Sequence[str]]] = [
        ("sponsors", episode.sponsors),
        ("issues", episode.issues),
    ]
    lists += [
        (f"decision[{k}]({d.name}).when.chose", d.when.chose)
        for k, d in enumerate(episode.decision)
        if d.when is not None
    ]
    for field_name, values in lists:
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            return field_name, f"lists {', '.join(twice)} twice"
    return None


def check_repeats(path: Path, episodes: Iterable[Episode]) -> None:
    """Refuse an episode file whose lists name something twice (:func:`repeated_entry`).

    Raises:
        InputError: Naming the file and ``episode[k](id).<field>``.
    """
    for position, episode in enumerate(episodes):
        found = repeated_entry(episode)
        if found is not None:
            raise InputError(path, f"episode[{position}]({episode.id}).{found[0]}", found[1])


def load_episode_files(paths: Iterable[Path]) -> dict[str, tuple[Episode, Path]]:
    """Load episode files, checking ids are unique across them and references resolve."""
    found: dict[str, tuple[Episode, Path]] = {}
    for path in paths:
        episodes = load(path, EpisodeFile).episode
        check_repeats(path, episodes)
        for position, episode in enumerate(episodes):
            if episode.id in found:
                raise InputError(
                    path,
                    f"episode[{position}].id",
                    f"'{episode.id}' is already used in {found[episode.id][1].name}",
                )
            found[episode.id] = (episode, path)
    check_references(found)
    return found


def decision_table(
    episodes: Iterable[Episode],
) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Every decision the episodes pose, by key: its deciders and its option names."""
    decisions: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for episode in episodes:
        if episode.kind == "un_vote":
            decisions[decision_key(episode.id, "vote")] = (ACTORS, VOTE_OPTIONS)
        for d in episode.decision:
            decisions[decision_key(episode.id, d.name)] = (
                tuple(d.deciders),
                tuple(o.name for o in d.option),
            )
    return decisions


def check_references(found: dict[str, tuple[Episode, Path]]) -> None:
    """Every ``when`` must name an existing decision, one of its deciders and its options."""
    decisions = decision_table(episode for episode, _ in found.values())
    for episode, path in found.values():
        for position, d in enumerate(episode.decision):
            if d.when is None:
                continue
            where = f"episode({episode.id}).decision[{position}]({d.name}).when"
            key = qualified(d.when.decision, episode.id)
            if key not in decisions:
                raise InputError(path, where + ".decision", f"no decision '{key}' in the library")
            deciders, options = decisions[key]
            if d.when.actor not in deciders:
                raise InputError(path, where + ".actor", f"{d.when.actor} does not decide '{key}'")
            unknown = [c for c in d.when.chose if c not in options]
            if unknown:
                raise InputError(path, where + ".chose", f"{unknown} not options of '{key}'")


def date_key(value: object) -> tuple[int, int]:
    """Sort key of a date: month, then day (a date given to the month sorts first)."""
    text = str(value)
    return parse_month(text), int(text[8:10]) if len(text) >= 10 else 0


def library_files() -> list[Path]:
    """The shipped episode files."""
    return sorted(EPISODES.glob("*.toml"))


@cache
def load_library(extra: tuple[Path, ...] = ()) -> Library:
    """Load the shipped library (plus any extra episode files), validated and date-ordered."""
    found = load_episode_files([*library_files(), *extra])
    ordered = sorted(found.values(), key=lambda item: date_key(item[0].date))
    reactions = load(REACTIONS, ReactionFile).reaction
    data_files = [
        *library_files(),
        *extra,
        REACTIONS,
        *sorted((DATA / "structure").glob("*.toml")),
        *posing_files(),
    ]
    episodes = {e.id: e for e, _ in ordered}
    recorded, families = recorded_votes(episodes)
    return Library(
        episodes=episodes,
        sources={e.id: p for e, p in ordered},
        reactions=tuple(reactions),
        sha256=_hash_files(data_files),
        recorded=recorded,
        families=families,
    )


def recorded_votes(episodes: dict[str, Episode]) -> tuple[tuple[PosedVote, ...], dict[str, str]]:
    """The record's votes posed as routine votes, and the families of the library's own votes.

    A recorded vote the library documents as an episode (same resolution symbol) is left to the
    library, which holds it as a salient vote; it lends the episode its family.
    """
    posing = load_posing()
    by_resolution = {e.resolution: e.id for e in episodes.values() if e.resolution}
    recorded, families = [], {}
    for row in load_record():
        posed = posing.pose(row)
        if row.resolution and row.resolution in by_resolution:
            families[by_resolution[row.resolution]] = posed.family
        elif posed.episode.id not in episodes:
            recorded.append(posed)
    return tuple(recorded), families


def library_for(episode_files: Iterable[str | Path]) -> Library:
    """The shipped library plus a scenario's extra episode files (loaded once, then cached)."""
    return load_library(tuple(Path(f) for f in episode_files))
