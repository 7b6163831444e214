"""Teaching sessions: the model as the teaching app runs it, playing Kazakhstan, the debrief.

Nothing here draws or talks to a browser (``model/app/page.py`` does that). This module turns the
app's controls (a scenario file, a seed typed as text, sliders for Kazakhstan's utility weights
and the shocks' intensities) into a :class:`TeachingModel`, which is a
:class:`~multivector.core.model.MultivectorModel` and runs the model's own dynamics; lets a
student make Kazakhstan's choice at each documented episode (:meth:`TeachingModel.choose`);
summarises what the model recorded (:func:`summarise`, :func:`outcome`); and computes the
debrief that sets the student's path against the documented record and the model's
distribution (:func:`debrief`).

Each browser session holds its own :class:`TeachingModel`; instances share nothing mutable.
"""

import hashlib
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from multivector.actors import ACTOR_NAMES, ACTORS, INDEX, KAZAKHSTAN, POLES
from multivector.calendar import month_label
from multivector.core.model import MultivectorModel
from multivector.core.observation import DecisionRecord
from multivector.inputs.library import Decision
from multivector.inputs.parameters import TERMS, Parameters, parameter_keyword
from multivector.inputs.scenario import Scenario, load_scenario, scenario_parameters
from multivector.inputs.shocks import ShockBase, compile_shock
from multivector.keys import is_reaction_to

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"  # the repository's scenarios/
"""The shipped scenario files (beside the package in a source checkout)."""
DEFAULT_SCENARIO = "history_2014_2026.toml"
TEACHING_REPLICATES = 100
"""Replicates a class sees by default: enough for a fan, fast enough to step at once."""
SHOCK_PREFIX = "shock:"
"""Keyword prefix of a shock's intensity: ``shock:russian-blockade-2025=1.0``."""

WEIGHTS: dict[str, str] = {
    "autonomy": "keeping out of any one bloc's basket",
    "partner": "pleasing the partners it depends on",
    "material": "material gain",
    "principle": "fit with its declared principles",
}
"""Kazakhstan's utility weights the app offers as sliders, with what each term rewards."""
POLE_NAMES = {code: ACTOR_NAMES[code] for code in POLES}


# --- building a run from the app's controls ------------------------------------------------


def scenario_files() -> list[str]:
    """The scenario files the app offers, the documented record first."""
    names = sorted(p.name for p in SCENARIO_DIR.glob("*.toml"))
    if DEFAULT_SCENARIO in names:
        names.remove(DEFAULT_SCENARIO)
    return [DEFAULT_SCENARIO, *names]


def scenario_label(name: str) -> str:
    """A scenario file's name as the app lists it: ``russian transit blockade 2025``."""
    return name.removesuffix(".toml").replace("_", " ")


def scenario_file_of(text: str) -> str:
    """The file behind a scenario label (or the file name itself)."""
    text = text.strip()
    return text if text.endswith(".toml") else text.replace(" ", "_") + ".toml"


@cache
def scenario_for(name: str) -> Scenario:
    """Load a scenario file by name or label (the whole record if it is not shipped)."""
    name = scenario_file_of(name)
    if name == DEFAULT_SCENARIO and not (SCENARIO_DIR / name).is_file():
        from multivector.inputs.scenario import default_scenario

        return default_scenario().model_copy(update={"seed": 7})
    return load_scenario(SCENARIO_DIR / name)


def parse_seed(text: object, default: int) -> int:
    """The seed typed in the app: a whole number, or any other text hashed to one.

    A text box hands over a string; an empty one keeps the scenario's seed, and text that is
    not a number still gives a fixed seed, so a typo never stops a class.
    """
    value = str(text if text is not None else "").strip()
    if not value:
        return int(default)
    if value.isdigit() and int(value) < 2**63:
        return int(value)
    return int.from_bytes(hashlib.sha256(value.encode()).digest()[:4], "big")


def kazakh_weight(parameters: Parameters, term: str) -> float:
    """Kazakhstan's weight on a utility term (its own if calibrated, else the shared one)."""
    return float(parameters.weights[KAZAKHSTAN, TERMS.index(term)])


def with_intensities(scenario: Scenario, intensities: Mapping[str, float]) -> Scenario:
    """The scenario with some shocks' intensities replaced, by shock name (others unknown)."""
    shocks = [
        shock
        if intensities.get(shock.name) is None
        else shock.model_copy(
            update={"intensity": float(np.clip(intensities[shock.name], 0.0, 2.0))}
        )
        for shock in scenario.shock
    ]
    return scenario.model_copy(update={"shock": shocks})


_CODES = re.compile(r"\b(" + "|".join(ACTORS) + r")\b")


def plain(text: str) -> str:
    """Actor codes spelt out and option names with spaces, for people."""
    return _CODES.sub(lambda m: ACTOR_NAMES[m[1]], text).replace("_", " ")


def shock_label(shock: ShockBase) -> str:
    """A shock as a reader would name it: its title, or its template's, spelt out."""
    title = shock.title
    if not title:
        onset = compile_shock(shock).onset
        title = onset.title if onset is not None else shock.name
    return plain(title)


# --- the model a session runs ---------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """A decision of Kazakhstan's in play mode.

    Attributes:
        key: The decision's key.
        month: Month it is posed.
        title: The episode's title.
        options: Its options.
        student: The option the student chose (None: the student let the model decide).
        history: What Kazakhstan did according to the record (None: not documented).
    """

    key: str
    month: int
    title: str
    options: tuple[str, ...]
    student: str | None
    history: str | None


class TeachingModel(MultivectorModel):
    """A :class:`MultivectorModel` built from the teaching app's controls.

    The dynamics are the model's own; this class only translates the controls and, in play
    mode, holds each month back until the student has made Kazakhstan's choices for it.

    Mesa's Reset rebuilds the model from the app's parameters by keyword, so every control is
    a keyword here, including one slider per shock of the chosen scenario, named
    ``shock:<name>``. Intensities of shocks the scenario does not have (left over from a
    scenario chosen before) are ignored.

    Args:
        scenario_file: Name of a file in ``scenarios/``, or its label in the app.
        seed: The seed as typed (see :func:`parse_seed`); the scenario's if empty.
        replicates: Replicates in the fan.
        autonomy: Multiplier of Kazakhstan's weight on autonomy in the scenario's parameter
            file (1: as calibrated, 0: ignores it, 2: twice).
        partner: Multiplier of its weight on its partners' approval.
        material: Multiplier of its weight on material gain.
        principle: Multiplier of its weight on its declared principles.
        play: Play mode: the student makes Kazakhstan's choices at documented episodes.
        scenario: Ignored: Mesa's Reset passes its own ``mesa.experimental`` scenario object;
            the run is defined by ``scenario_file`` and the other controls.
        **intensities: ``shock:<name>`` = intensity (0-2) of a shock of the scenario.
    """

    def __init__(
        self,
        *,
        scenario_file: str = DEFAULT_SCENARIO,
        seed: str | int | None = None,
        replicates: int = TEACHING_REPLICATES,
        autonomy: float = 1.0,
        partner: float = 1.0,
        material: float = 1.0,
        principle: float = 1.0,
        play: bool = False,
        scenario: object = None,
        **intensities: float,
    ) -> None:
        unknown = [key for key in intensities if not key.startswith(SHOCK_PREFIX)]
        if unknown:
            raise TypeError(f"unexpected keyword arguments {unknown}")
        scenario_file = scenario_file_of(scenario_file)
        written = scenario_for(scenario_file)
        scenario = with_intensities(
            written, {k.removeprefix(SHOCK_PREFIX): v for k, v in intensities.items()}
        )
        written_parameters = parameters = scenario_parameters(written)
        scales = {"autonomy": autonomy, "partner": partner, "material": material}
        scales["principle"] = principle
        changes = {
            parameter_keyword(f"actor.KAZ.{term}"): kazakh_weight(written_parameters, term)
            * float(scale)
            for term, scale in scales.items()
            if float(scale) != 1.0
        }
        if changes:
            parameters = parameters.with_values(**changes)
        super().__init__(
            scenario,
            replicates=max(1, int(replicates)),
            rng=parse_seed(seed, written.seed),
            parameters=parameters,
            keep_relations=True,
        )
        self.scenario_file = scenario_file
        self.play = bool(play)
        self.turns: list[Turn] = []
        self.waiting = False
        self.lock = threading.RLock()
        self.settings: dict[str, object] = {
            "scenario_file": scenario_file,
            "seed": str(self.seed),
            "replicates": self.replicates,
            **{term: float(scale) for term, scale in scales.items()},
            "play": self.play,
            **{SHOCK_PREFIX + shock.name: shock.intensity for shock in scenario.shock},
        }
        """The values this run was built with (the app's sliders start from them)."""
        self.weights_in_force = {term: kazakh_weight(parameters, term) for term in WEIGHTS}
        """Kazakhstan's weights on the terms the app offers, after the multipliers."""
        self.on_choice: Callable[[Turn], None] | None = None
        """Called with each choice before it takes effect (a class session stores it there)."""
        self.on_step: Callable[[], None] | None = None
        """Called after each month is simulated (a class session records the path)."""
        self._advance = self.step  # Mesa's step: advance time, then MultivectorModel.step
        self.step = self._step_when_ready

    # --- time -----------------------------------------------------------------------------

    def _step_when_ready(self) -> None:
        """Advance one month, unless the student still has to choose for it (play mode)."""
        with self.lock:
            if not self.running:
                return
            self.waiting = bool(self.pending())
            if not self.waiting:
                self._advance()
                if self.on_step is not None:
                    self.on_step()

    def run_to_next_choice(self) -> None:
        """Step until the student has a choice to make or the run ends."""
        with self.lock:
            while self.running and not self.pending():
                self.step()

    def let_model_decide_until(self, month: int) -> None:
        """Leave Kazakhstan's choices to the model until ``month``, then run to the next one.

        For a class that wants to play a later period (2022) without choosing at every
        episode before it.
        """
        with self.lock:
            while self.running and self.next_month < month:
                for decision in self.pending():
                    self.choose(decision.key, None)
                self.step()
            self.run_to_next_choice()

    @property
    def next_month(self) -> int:
        """The month the next step simulates."""
        return self.month + 1 if self.steps else self.first_month

    @property
    def months_total(self) -> int:
        """Months in the run."""
        return self.last_month - self.first_month + 1

    # --- play mode ------------------------------------------------------------------------

    def kazakh_decisions_ahead(self) -> list[Decision]:
        """Kazakhstan's unconditional decisions next month: documented ones and certain shocks.

        A shock with a probability or a hazard happens only in some replicates, so it is left
        to the model; so are decisions posed only if an earlier choice went one way.
        """
        month = self.next_month
        ahead = list(self.upcoming("KAZ"))
        for scheduled in self.shocks:
            certain = scheduled.shock.probability is None and scheduled.shock.hazard is None
            if certain and scheduled.first == month:
                ahead.extend(
                    d
                    for d in scheduled.onset.decisions
                    if KAZAKHSTAN in d.deciders and d.when is None
                )
        return ahead

    def pending(self) -> list[Decision]:
        """The decisions the student still has to make before the next month (play mode)."""
        if not self.play or not self.running:
            return []
        done = {turn.key for turn in self.turns}
        return [d for d in self.kazakh_decisions_ahead() if d.key not in done]

    def choose(self, key: str, option: str | None) -> Turn:
        """Make Kazakhstan's choice in an upcoming decision (None lets the model decide).

        The choice is handed to :attr:`on_choice` (if set) before it takes effect, so a store
        that refuses it (a second tab already chose) leaves the run as it was.

        Raises:
            ValueError: If the decision is not one of the pending ones, or the option not one
                of its options.
        """
        with self.lock:
            decision = next((d for d in self.pending() if d.key == key), None)
            if decision is None:
                raise ValueError(f"'{key}' is not a decision Kazakhstan faces next")
            if option is not None and option not in decision.options:
                raise ValueError(f"'{option}' is not an option of '{key}': {decision.options}")
            documented = decision.observed.get(KAZAKHSTAN)
            turn = Turn(
                key=key,
                month=self.next_month,
                title=decision.title,
                options=decision.options,
                student=option,
                history=None if documented is None else decision.options[documented],
            )
            if self.on_choice is not None:
                self.on_choice(turn)  # stored first: a choice that cannot be kept is not made
            if option is not None:
                self.impose(key, "KAZ", option)
            self.turns.append(turn)
            self.waiting = bool(self.pending())
            return turn

    def decide(self, key: str, option: str | None) -> Turn:
        """The student's move: :meth:`choose`, then play the month once it is decided.

        Raises:
            ValueError: As :meth:`choose` does (and whatever :attr:`on_choice` raises).
        """
        with self.lock:
            turn = self.choose(key, option)
            if not self.pending():
                self.step()
            return turn


# --- what the model recorded, summarised -----------------------------------------------------


@dataclass(frozen=True)
class DeciderSummary:
    """One decider's part in a posed decision.

    Attributes:
        record: The decision as recorded.
        actor: The decider's code.
        posed: Replicates where it was posed.
        probabilities: The model's probability of each option, mean over those replicates.
        shares: Share of those replicates choosing each option.
        highlighted: The option chosen in the highlighted replicate (None if not posed there).
        history: The documented choice (None if not documented).
    """

    record: DecisionRecord
    actor: str
    posed: int
    probabilities: np.ndarray
    shares: np.ndarray
    highlighted: str | None
    history: str | None

    @property
    def options(self) -> tuple[str, ...]:
        """The decision's options."""
        return self.record.decision.options

    @property
    def odds(self) -> tuple[float, ...]:
        """The model's probability of each option, as plain floats (for tables and files)."""
        return tuple(float(p) for p in self.probabilities)


def summarise(record: DecisionRecord, highlight: int = 0) -> list[DeciderSummary]:
    """Each decider's probabilities and choices in a recorded decision."""
    decision = record.decision
    n_options = len(decision.options)
    found = []
    for d, actor in enumerate(decision.deciders):
        posed = record.choices[:, d] >= 0
        count = int(posed.sum())
        if count:
            probabilities = record.probabilities[posed, d].mean(axis=0)
            shares = np.bincount(record.choices[posed, d], minlength=n_options) / count
        else:
            probabilities = shares = np.full(n_options, np.nan)
        chosen = int(record.choices[highlight, d]) if highlight < len(record.choices) else -1
        documented = decision.observed.get(actor)
        found.append(
            DeciderSummary(
                record=record,
                actor=ACTORS[actor],
                posed=count,
                probabilities=probabilities,
                shares=shares,
                highlighted=decision.options[chosen] if chosen >= 0 else None,
                history=None if documented is None else decision.options[documented],
            )
        )
    return found


def kazakh_part(record: DecisionRecord) -> DeciderSummary:
    """Kazakhstan's part in a recorded decision it takes."""
    return next(p for p in summarise(record) if p.actor == "KAZ")


def records_of(model: MultivectorModel, key: str) -> list[DecisionRecord]:
    """The recorded decisions with this key, in order."""
    return [r for r in model.recorder.decisions if r.decision.key == key]


@dataclass(frozen=True)
class Outcome:
    """What followed a decision of Kazakhstan's: the others' choices and the shift it caused.

    Attributes:
        key: The decision.
        kazakhstan: Kazakhstan's part in it.
        others: The other deciders of the same episode that month, and every reaction to the
            decision posed so far (in some replicates).
        before: Median alignment toward Russia, China and the US the month before.
        after: The same at the end of the month it was taken.
        now: The same in the latest month.
    """

    key: str
    kazakhstan: DeciderSummary
    others: list[DeciderSummary]
    before: np.ndarray
    after: np.ndarray
    now: np.ndarray


def outcome(model: MultivectorModel, key: str, highlight: int = 0) -> Outcome | None:
    """The others' reactions to a decision of Kazakhstan's and the shift in its alignment."""
    records = records_of(model, key)
    if not records:
        return None
    record = records[0]
    parts = summarise(record, highlight)
    mine = next(p for p in parts if p.actor == "KAZ")
    others = [p for p in parts if p.actor != "KAZ"]
    episode = record.decision.episode
    for later in model.recorder.decisions:
        if later is record:
            continue
        same_episode = later.decision.episode == episode and later.month == record.month
        reaction = is_reaction_to(later.decision.key, key)
        if same_episode or reaction:
            others.extend(p for p in summarise(later, highlight) if p.actor != "KAZ" or reaction)
    alignment = model.recorder.alignment_array()[..., [INDEX[p] for p in POLES]]
    at = model.recorder.months.index(record.month)
    before = alignment[at - 1] if at > 0 else alignment[at]
    return Outcome(
        key=key,
        kazakhstan=mine,
        others=others,
        before=np.median(before, axis=0),
        after=np.median(alignment[at], axis=0),
        now=np.median(alignment[-1], axis=0),
    )


# --- the debrief ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DebriefRow:
    """One decision the student faced.

    Attributes:
        month: When.
        key: The decision.
        title: The episode's title.
        options: Its options.
        probabilities: The model's probability of each option at that point of the student's
            run (mean over replicates).
        student: The student's choice (None: left to the model).
        history: The documented choice (None: not documented).
    """

    month: int
    key: str
    title: str
    options: tuple[str, ...]
    probabilities: tuple[float, ...]
    student: str | None
    history: str | None

    @property
    def date(self) -> str:
        """The month as ``YYYY-MM``."""
        return month_label(self.month)

    def probability(self, option: str | None) -> float:
        """The model's probability of an option (NaN for None)."""
        return self.probabilities[self.options.index(option)] if option else float("nan")

    @property
    def as_history(self) -> bool | None:
        """Whether the student chose as Astana did (None if either is missing)."""
        if self.student is None or self.history is None:
            return None
        return self.student == self.history


@dataclass(frozen=True)
class Debrief:
    """The student's path against the record and against the model's distribution.

    Attributes:
        rows: The decisions the student faced, in order.
        months: Months simulated so far.
        student: Kazakhstan's alignment toward Russia, China and the US in the student's run,
            shape (M, R, 3).
        documented: The same run with Astana's documented choices in place of the student's,
            (M, R, 3).
        model_run: The same run with the model choosing for Kazakhstan throughout, (M, R, 3).
    """

    rows: list[DebriefRow]
    months: np.ndarray
    student: np.ndarray
    documented: np.ndarray
    model_run: np.ndarray

    @property
    def chosen(self) -> list[DebriefRow]:
        """Rows where the student made the choice."""
        return [r for r in self.rows if r.student is not None]

    @property
    def comparable(self) -> list[DebriefRow]:
        """Rows where both the student and the record made a choice."""
        return [r for r in self.chosen if r.history is not None]

    @property
    def agreed(self) -> int:
        """Decisions where the student chose as Astana did."""
        return sum(bool(r.as_history) for r in self.comparable)

    @property
    def mean_p_student(self) -> float:
        """Mean probability the model gave the student's choices."""
        values = [r.probability(r.student) for r in self.chosen]
        return float(np.mean(values)) if values else float("nan")

    @property
    def mean_p_history(self) -> float:
        """Mean probability the model gave Astana's documented choices (same decisions)."""
        values = [r.probability(r.history) for r in self.comparable]
        return float(np.mean(values)) if values else float("nan")

    def final(self, run: str) -> np.ndarray:
        """Median alignment toward Russia, China and the US in the latest month of a run."""
        values = getattr(self, run)
        return np.median(values[-1], axis=0) if len(values) else np.full(len(POLES), np.nan)

    def summary(self) -> str:
        """The debrief in a few sentences."""
        if not self.rows:
            return "You have not faced a decision yet."
        text = []
        comparable = self.comparable
        if comparable:
            text.append(
                f"You chose as Astana did in {self.agreed} of {len(comparable)} documented "
                "decisions."
            )
        if self.chosen:
            text.append(
                f"The model gave your choices an average probability of "
                f"{self.mean_p_student:.0%}"
                + (f", and Astana's {self.mean_p_history:.0%}." if comparable else ".")
            )
        if len(self.months):
            when = month_label(int(self.months[-1]))
            mine, theirs = self.final("student"), self.final("documented")
            shifts = ", ".join(
                f"{POLE_NAMES[p]} {mine[k]:+.2f} (Astana's choices: {theirs[k]:+.2f})"
                for k, p in enumerate(POLES)
            )
            text.append(f"In {when} your Kazakhstan's median alignment was: {shifts}.")
        return " ".join(text)


def _run_alongside(model: TeachingModel, impose: dict[str, str]) -> np.ndarray:
    """The session's run again, to the same month, with other choices for Kazakhstan.

    Same scenario, parameters, seed and replicates, so common random numbers make the
    difference the effect of Kazakhstan's choices alone. Returns the alignment toward Russia,
    China and the US, shape (M, R, 3).
    """
    other = MultivectorModel(
        model.scenario_spec,
        replicates=model.replicates,
        rng=model.seed,
        parameters=model.parameters,
        library=model.library,
    )
    for key, option in impose.items():
        other.impose(key, "KAZ", option)
    for _ in range(model.steps):
        other.step()
    if not model.steps:
        return np.empty((0, model.replicates, len(POLES)))
    return other.recorder.alignment_array()[..., [INDEX[p] for p in POLES]]


def debrief(model: TeachingModel) -> Debrief:
    """The student's choices so far beside the record's and the model's probabilities.

    For every decision the student faced and the model has already posed: the model's
    probability of each option (mean over replicates, at the state the student's own earlier
    choices produced), the student's choice and the documented one. And three runs to the
    current month on the same seed: the student's, one with Astana's documented choices in
    place of the student's, and one where the model chooses for Kazakhstan throughout.
    """
    rows = []
    for turn in model.turns:
        records = records_of(model, turn.key)
        if not records:
            continue  # chosen for a month not yet simulated
        rows.append(
            DebriefRow(
                month=records[0].month,
                key=turn.key,
                title=turn.title,
                options=turn.options,
                probabilities=kazakh_part(records[0]).odds,
                student=turn.student,
                history=turn.history,
            )
        )
    poles = [INDEX[p] for p in POLES]
    student = (
        model.recorder.alignment_array()[..., poles]
        if model.steps
        else np.empty((0, model.replicates, len(POLES)))
    )
    documented = {t.key: t.history for t in model.turns if t.student and t.history}
    return Debrief(
        rows=rows,
        months=np.asarray(model.recorder.months),
        student=student,
        documented=_run_alongside(model, documented),
        model_run=_run_alongside(model, {}),
    )
