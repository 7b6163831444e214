"""The Multivector model: six states, monthly steps, documented episodes at their dates.

One model instance advances a batch of replicates at once: every state array carries a leading
replicate axis, and every random number is drawn from a stream keyed by (seed, replicate), so
replicate k of a large batch makes exactly the choices it makes when run alone. An interactive
run is a batch of one.
"""

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import mesa
import numpy as np

from multivector.actors import ACTORS, INDEX, N_ACTORS
from multivector.calendar import RECORD_START
from multivector.core.agents import StateAgent
from multivector.core.choice import draw, logit, solve_equilibrium, tremble
from multivector.core.observation import DecisionRecord, Recorder
from multivector.core.streams import uniforms
from multivector.core.world import World
from multivector.errors import InputError
from multivector.inputs.library import (
    Decision,
    Effect,
    Library,
    Plan,
    compile_plan,
    compile_reaction,
    compile_vote,
    library_for,
)
from multivector.inputs.parameters import Parameters
from multivector.inputs.scenario import Scenario, default_scenario, scenario_parameters
from multivector.inputs.shocks import ShockBase, TiedChoice, compile_shock, tied_choice, window
from multivector.inputs.structure import build_structure, load_structure, shares, without_ties
from multivector.keys import episode_of


def order_plans(plans: list[Plan]) -> list[Plan]:
    """Order a month's episodes so that each comes after any episode its conditions name.

    Plans arrive in date order; an episode whose ``when`` refers to a decision of a later one
    in the same month is moved behind it.
    """
    ordered: list[Plan] = []
    pending = list(plans)
    while pending:
        episodes_left = {p.episode for p in pending}
        for plan in pending:
            needs = {
                episode_of(d.when.key)
                for d in plan.decisions
                if d.when is not None and episode_of(d.when.key) != plan.episode
            }
            if not needs & episodes_left:
                ordered.append(plan)
                pending.remove(plan)
                break
        else:  # a cycle cannot be resolved: keep the date order
            ordered.extend(pending)
            break
    return ordered


@dataclass(frozen=True)
class ScheduledShock:
    """A scenario shock compiled to plans, with when and how often it can occur.

    Attributes:
        shock: The shock as written.
        first: First month it can occur.
        last: Last month it can occur (the same as ``first`` unless it has a hazard).
        onset: What happens when it occurs.
        during: Effects applied in every month it lasts.
        ending: What happens when it ends.
        holds: Relations and moods held away from their structural level while it lasts.
    """

    shock: ShockBase
    first: int
    last: int
    onset: Plan
    during: Plan | None
    ending: Plan | None
    holds: tuple[Effect, ...] = ()

    def occurs(self, month: int, seed: int, replicate_ids: np.ndarray) -> np.ndarray | None:
        """Replicates where the shock occurs this month (before any already-fired check).

        Scheduled: all replicates at its date. With a probability: a share of them at its
        date. With a hazard: a share of them in every month of its window. The draw comes
        from each replicate's own stream under a key of the shock's own, so adding a shock
        leaves every other random number of the run unchanged (common random numbers).
        """
        if not self.first <= month <= self.last:
            return None
        chance = self.shock.probability or self.shock.hazard
        if chance is None:
            return np.ones(len(replicate_ids), dtype=bool)
        u = uniforms(seed, replicate_ids, f"shock:{self.shock.name}@{month}", 0)
        return u < chance


class MultivectorModel(mesa.Model):
    """Kazakhstan's multi-vector balancing among Russia, China, the US, Belarus and Ukraine.

    Args:
        scenario: What to run; the documented record 2014-2024 if None.
        replicates: How many replicates to advance (the scenario's count if None).
        rng: The seed (the scenario's if None). Each replicate's stream is keyed by
            (seed, replicate).
        parameters: Utility weights and dynamics (the scenario's file, else the defaults).
        library: The episode library (the shipped one if None).
        replicate_ids: Which replicate numbers this instance advances (``0..replicates-1`` if
            None); lets a sweep split a batch into chunks that give identical results.
        keep_relations: Record all relations every month (for the teaching app).
        replay: Replay the documented record instead of simulating: documented choices are
            imposed and undocumented ones act through their expected consequences, so each
            documented choice is scored at the state the record itself produced (calibration).
        parameter_sets: Per-replicate utility weights (R, 6, T) and precisions (R, 6), so one
            run can evaluate many parameter sets (calibration, parameter uncertainty); the
            parameter file's values in every replicate if None.
        forecast_from: In a replay, the month from which documented choices are no longer
            imposed: from then on every choice is forecast, none observed (out-of-time
            validation, ``predict`` on a table of votes).
        record: Which of Kazakhstan's public mood and transit shares to record each month
            besides its alignment and dependence (both for a run's trajectories).
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        replicates: int | None = None,
        rng: int | None = None,
        parameters: Parameters | None = None,
        library: Library | None = None,
        replicate_ids: np.ndarray | None = None,
        keep_relations: bool = False,
        replay: bool = False,
        parameter_sets: tuple[np.ndarray, np.ndarray] | None = None,
        forecast_from: int | None = None,
        record: tuple[str, ...] = ("mood", "transit"),
    ) -> None:
        self.scenario_spec = scenario or default_scenario()
        self.seed = int(self.scenario_spec.seed if rng is None else rng)
        super().__init__(rng=self.seed)
        if replicate_ids is None:
            count = self.scenario_spec.replicates if replicates is None else replicates
            replicate_ids = np.arange(count)
        self.replicate_ids = np.asarray(replicate_ids, dtype=np.int64)
        self.parameters = parameters or scenario_parameters(self.scenario_spec)
        self.library = library or library_for(self.scenario_spec.episodes)
        self.replay = replay
        self.forecast_from = forecast_from
        self.weights, self.precision = self._parameter_sets(parameter_sets)
        self.first_month = self.scenario_spec.first_month
        self.last_month = self.scenario_spec.last_month
        self.month = self.first_month

        dropped = [tie.key() for tie in self.scenario_spec.record.drop_ties]
        self.structure = build_structure(
            self.first_month,
            self.last_month,
            without_ties(load_structure(), dropped) if dropped else None,
        )
        self.dependence_total = self.structure.dependence_total(self.parameters)
        self.dependence = shares(self.dependence_total)
        self.baseline = self.structure.baseline_relation(self.parameters)
        self.plans = self._schedule()
        self.votes_due = self._schedule_votes()
        self.shocks = self._schedule_shocks()
        self.reactions_due: dict[int, list[tuple[Decision, np.ndarray]]] = defaultdict(list)
        self.plans_due: dict[int, list[tuple[Plan, np.ndarray]]] = defaultdict(list)
        self.releases_due: dict[int, list[tuple[tuple[Effect, ...], np.ndarray]]] = defaultdict(
            list
        )
        self.fired = {s.shock.name: np.zeros(self.replicates, dtype=bool) for s in self.shocks}
        self.documented_reactions = self._documented_reactions()

        self._dependence_cache: tuple[tuple[int, int, int] | None, np.ndarray] = (None, np.empty(0))
        self.states = {code: StateAgent(self, code) for code in ACTORS}
        self.world = self._starting_world(parameter_sets)
        self.recorder = Recorder(keep_relations=keep_relations, extras=record)
        self.choices: dict[str, tuple[tuple[int, ...], np.ndarray, tuple[str, ...]]] = {}
        self.imposed: dict[tuple[str, int], str] = {}
        self.running = True

    # --- set-up ---------------------------------------------------------------------------

    def _parameter_sets(
        self, parameter_sets: tuple[np.ndarray, np.ndarray] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Utility weights (R, 6, T) and precisions (R, 6) for every replicate."""
        shape = (self.replicates, *self.parameters.weights.shape)
        if parameter_sets is None:
            return (
                np.broadcast_to(self.parameters.weights, shape),
                np.broadcast_to(self.parameters.precision, shape[:2]),
            )
        weights, precision = (np.asarray(a, dtype=float) for a in parameter_sets)
        if weights.shape != shape or precision.shape != shape[:2]:
            raise ValueError(f"parameter sets must have shapes {shape} and {shape[:2]}")
        return weights, precision

    def _schedule(self) -> dict[int, list[Plan]]:
        """Compile the documented episodes inside the run's span, by month."""
        plans: dict[int, list[Plan]] = defaultdict(list)
        until = self.scenario_spec.record_until
        skip = set(self.scenario_spec.record.exclude)
        stance = self.structure.stance
        for episode in self.library.episodes.values():
            plan_month = compile_plan(episode, stance, []).month
            if episode.id in skip or not self.first_month <= plan_month <= until:
                continue
            members = self.structure.members(("unsc_permanent", "unsc_elected"), plan_month)
            family = self.library.families.get(episode.id, "")
            plans[plan_month].append(compile_plan(episode, stance, members, family))
        return {month: order_plans(found) for month, found in plans.items()}

    def _schedule_votes(self) -> dict[int, list[Decision]]:
        """Compile the recorded General Assembly votes inside the span, by month.

        Posed only where the scenario asks for them (``record.votes``; the replay of the record
        always does): the routine agenda adds a thousand votes to a decade.
        """
        votes: dict[int, list[Decision]] = defaultdict(list)
        if not self.scenario_spec.record.votes:
            return votes
        until = self.scenario_spec.record_until
        skip = set(self.scenario_spec.record.exclude)
        everyone = list(range(N_ACTORS))
        for posed in self.library.recorded:
            decision = compile_vote(
                posed.episode, self.structure.stance, everyone, posed.family, routine=True
            )
            if posed.episode.id not in skip and self.first_month <= decision.month <= until:
                votes[decision.month].append(decision)
        return votes

    def _schedule_shocks(self) -> list[ScheduledShock]:
        """Compile the scenario's shocks into plans.

        An offer tied to another shock's choice comes after it (its condition needs that
        choice made), and its value is added to the material stake of the option it rewards.
        """
        stance = self.structure.stance
        scheduled = []
        shocks = sorted(self.scenario_spec.shock, key=lambda s: tied_choice(s) is not None)
        ties = []  # (the choice rewarded, the offer's value)
        for shock in shocks:
            compiled = compile_shock(shock)
            tie = tied_choice(shock)
            if tie is not None:
                ties.append((tie, compiled.incentive))
            first, last = window(shock, self.last_month)
            members = self.structure.members(("unsc_permanent", "unsc_elected"), first)
            members = sorted({*members, *(INDEX[code] for code in compiled.seats)})
            plans = [
                compile_plan(episode, stance, members) if episode is not None else None
                for episode in (compiled.onset, compiled.during, compiled.ending)
            ]
            holds = tuple(
                Effect(h["kind"], INDEX[h["actor"]], INDEX[h["toward"]], h["delta"])
                for h in compiled.holds
            )
            scheduled.append(ScheduledShock(shock, first, last, *plans, holds=holds))
        for tie, value in ties:
            scheduled = [
                dataclasses.replace(s, onset=rewarded(s.onset, tie, value)) for s in scheduled
            ]
        return scheduled

    def _starting_world(self, parameter_sets: tuple[np.ndarray, np.ndarray] | None) -> World:
        """The structural relations of the first month, or the state the record produced.

        With ``start_from = "record"`` the documented record from 2014 up to the month before
        the start is replayed (documented choices imposed, as in calibration) and the run
        starts from the relations, moods, dependence shifts and choice threads it left.
        """
        if self.scenario_spec.start_from == "structural":
            return World.start(self.baseline[0], self.replicates)
        warm_up = replace_span(self.scenario_spec, RECORD_START, self.first_month - 1)
        replay = MultivectorModel(
            warm_up,
            replicates=1 if parameter_sets is None else None,
            replicate_ids=None if parameter_sets is None else self.replicate_ids,
            rng=self.seed,
            parameters=self.parameters,
            library=self.library,
            replay=True,
            parameter_sets=parameter_sets,
        ).run()
        return replay.world.broadcast(self.replicates)

    def _documented_reactions(self) -> set[tuple[str, int, int]]:
        """(decision key, target, reactor) triples whose reaction the library documents.

        A shock's own follow-ups count as documented: they replace the generic answer.
        """
        found = set()
        shock_plans = [p for s in self.shocks for p in (s.onset, s.ending) if p is not None]
        for plans in [*self.plans.values(), shock_plans]:
            for plan in plans:
                for decision in plan.decisions:
                    if decision.when is not None:
                        when = decision.when
                        found.update((when.key, when.actor, d) for d in decision.deciders)
        return found

    # --- time -----------------------------------------------------------------------------

    @property
    def replicates(self) -> int:
        """Number of replicates advanced together."""
        return len(self.replicate_ids)

    @property
    def position(self) -> int:
        """Index of the current month in the structural arrays."""
        return self.month - self.first_month

    def dependence_now(self) -> np.ndarray:
        """Each actor's dependence shares on each partner this month, shape (R, 6, 6).

        Cargo rerouted (a transit shift) changes the transit component in its own units, with
        the transit weight; lasting shifts of dependence (a partner's share diverted) then
        apply to the shares, which are renormalised: dependence taken from one partner is
        spread over the others.
        """
        key = (self.position, self.world.dependence_version, id(self.world))
        if self._dependence_cache[0] != key:  # unchanged within a month unless a route moved
            structural = self.dependence[self.position]
            if self.world.transit_shift.any():
                rerouted = self.transit_now() - self.structure.transit[self.position]
                weight = self.parameters.spec.dependence.transit
                structural = shares(self.dependence_total[self.position] + weight * rerouted)
            shifted = np.maximum(structural + self.world.dependence_shift, 0)
            self._dependence_cache = (key, shares(shifted))
        return self._dependence_cache[1]

    def transit_now(self) -> np.ndarray:
        """Share of each actor's exports crossing each partner this month, (R, 6, 6).

        The structural share plus the cargo lasting shocks have rerouted, within [0, 1].
        """
        return np.clip(self.structure.transit[self.position] + self.world.transit_shift, 0, 1)

    def baseline_now(self) -> np.ndarray:
        """The structural relations this month, shape (6, 6)."""
        return self.baseline[self.position]

    def step(self) -> None:
        """Advance one month: relax, pose this month's episodes and reactions, observe."""
        self.month = self.first_month + self.steps - 1
        if self.steps > 1:
            dynamics = self.parameters.spec.dynamics
            self.world.relax(self.baseline_now(), dynamics.relaxation, dynamics.mood_relaxation)
        for plan in self.plans.get(self.month, []):
            self.enact(plan)
        self.shocks_occur()
        self.pose_votes(self.votes_due.get(self.month, []))
        for plan, mask in self.plans_due.pop(self.month, []):
            self.enact(plan, mask)
        for holds, mask in self.releases_due.pop(self.month, []):
            for effect in holds:
                self.world.hold(effect, -mask.astype(float))
        for decision, mask in self.reactions_due.pop(self.month, []):
            self.pose(decision, mask)
        self.recorder.observe(
            self.month,
            self.world.relation,
            self.dependence_now(),
            self.baseline_now(),
            mood=self.world.mood,
            transit=self.transit_now(),
        )
        if self.month >= self.last_month:
            self.running = False

    def run(self) -> "MultivectorModel":
        """Run every month of the scenario."""
        while self.running:
            self.step()
        return self

    def decision_slots(self) -> int:
        """The decider-choices one replicate can record.

        Each decider of each decision the run can pose: the episodes, the recorded votes, every
        month of a lasting shock. Counted from the schedule, before any month runs, to estimate
        what a run will cost.
        """
        scheduled = [p for plans in self.plans.values() for p in plans]
        slots = sum(len(d.deciders) for p in scheduled for d in p.decisions)
        slots += sum(len(d.deciders) for votes in self.votes_due.values() for d in votes)
        for shock in self.shocks:
            months = shock.last - shock.first + 1
            for plan, times in ((shock.onset, 1), (shock.during, months), (shock.ending, 1)):
                if plan is not None:
                    slots += times * sum(len(d.deciders) for d in plan.decisions)
        return slots

    # --- episodes -------------------------------------------------------------------------

    def impose(self, key: str, actor: str, option: str) -> None:
        """Make ``actor``'s choice in decision ``key`` by hand, in every replicate.

        The model still computes and records the probabilities it would have given each
        option (the teaching app shows them beside the student's choice). The option must be
        one of the decision's; posing the decision raises ValueError otherwise.
        """
        self.imposed[key, INDEX[actor]] = option

    def upcoming(self, actor: str = "KAZ") -> list[Decision]:
        """The decisions ``actor`` takes next month without conditions (for a player to make)."""
        month = self.month + 1 if self.steps else self.first_month
        return [
            d
            for plan in self.plans.get(month, [])
            for d in plan.decisions
            if INDEX[actor] in d.deciders and d.when is None
        ]

    def enact(self, plan: Plan, where: np.ndarray | None = None) -> None:
        """Apply an episode's exogenous effects, then pose its decisions in order.

        Args:
            plan: The episode.
            where: Replicates where it happens (all if None).
        """
        where = np.ones(self.replicates, dtype=bool) if where is None else where
        for effect in plan.effects:
            self.world.apply(effect, where.astype(float))
        for decision in plan.decisions:
            self.pose(decision, self.condition(decision) & where)

    def shocks_occur(self) -> None:
        """Set off the shocks that occur this month and schedule their continuation and end."""
        for scheduled in self.shocks:
            occurs = scheduled.occurs(self.month, self.seed, self.replicate_ids)
            if occurs is None:
                continue
            fired = self.fired[scheduled.shock.name]
            occurs &= ~fired
            tie = tied_choice(scheduled.shock)
            if tie is not None:  # an incentive is made only where its choice was made
                recipient = INDEX[scheduled.shock.roles()["recipient"][0]]
                occurs &= self.chose(tie.decision, recipient, [tie.option])
            fired |= occurs
            if not occurs.any():
                continue
            self.enact(scheduled.onset, occurs)
            duration = scheduled.shock.duration_months or 0
            if scheduled.holds and duration:  # held from now until the shock ends
                for effect in scheduled.holds:
                    self.world.hold(effect, occurs.astype(float))
                self.releases_due[self.month + duration].append((scheduled.holds, occurs))
            if scheduled.during is not None:
                for later in range(1, duration):
                    self.plans_due[self.month + later].append((scheduled.during, occurs))
            if scheduled.ending is not None:
                self.plans_due[self.month + duration].append((scheduled.ending, occurs))

    def condition(self, decision: Decision) -> np.ndarray:
        """Replicates where the decision's ``when`` holds (all if it has none)."""
        if decision.when is None:
            return np.ones(self.replicates, dtype=bool)
        when = decision.when
        return self.chose(when.key, when.actor, when.options)

    def chose(self, key: str, actor: int, options: Iterable[str]) -> np.ndarray:
        """Replicates where ``actor``'s latest choice in decision ``key`` is one of ``options``.

        False everywhere if the decision was not posed in this run or ``actor`` does not take it.
        """
        if key not in self.choices or actor not in self.choices[key][0]:
            return np.zeros(self.replicates, dtype=bool)
        deciders, chosen, names = self.choices[key]
        wanted = [k for k, name in enumerate(names) if name in options]
        return np.isin(chosen[:, deciders.index(actor)], wanted)

    def probabilities(self, decision: Decision) -> tuple[np.ndarray, int]:
        """Choice probabilities of every player, shape (R, P, O), and equilibrium iterations."""
        base, coupling, precision = self.game(decision)
        if not decision.simultaneous:
            return self.trembling(logit(base, precision)), 1
        solved, iterations = self.equilibrium([decision], base, coupling, precision)
        return self.trembling(solved), iterations

    def game(self, decision: Decision) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Players' own utilities (R, P, O), coupling (R, P, P) and precisions (R, P)."""
        players = [self.states[ACTORS[p]] for p in decision.players]
        base = np.stack([agent.utilities(decision) for agent in players], axis=1)
        precision = np.stack([agent.precision for agent in players], axis=1)
        if not decision.simultaneous:
            return base, None, precision
        coupling = np.stack([agent.coupling(decision) for agent in players], axis=1)
        return base, coupling, precision

    def equilibrium(
        self,
        decisions: list[Decision],
        base: np.ndarray,
        coupling: np.ndarray,
        precision: np.ndarray,
    ) -> tuple[np.ndarray, int]:
        """Solve the vote game (or several stacked along the replicate axis) as one batch."""
        choice = self.parameters.spec.choice
        try:
            solved = solve_equilibrium(
                base,
                coupling,
                precision,
                agreement=decisions[0].agreement,
                damping=choice.equilibrium_damping,
                tolerance=choice.equilibrium_tolerance,
                max_iterations=choice.equilibrium_max_iterations,
                strict=not self.replay,
            )
        except RuntimeError as error:  # the parameters make the vote game unstable
            raise InputError(
                self.parameters.path,
                "choice",
                f"{error} for {decisions[0].key}; lower the precision or the partner weight, "
                "or raise equilibrium_max_iterations",
            ) from None
        return solved.probabilities, solved.iterations

    def trembling(self, probabilities: np.ndarray) -> np.ndarray:
        """Choice probabilities with the parameter file's tremble mixed in."""
        return tremble(probabilities, self.parameters.spec.choice.tremble)

    def pose_votes(self, decisions: list[Decision]) -> None:
        """Pose a month's routine votes together: their games are solved as one batch.

        They are posed at the same state (the month's relations) and settle in the order they
        were recorded. Stacking a month's votes along the replicate axis solves a hundred
        December votes in one call instead of a hundred.
        """
        if not decisions:
            return
        n, shape = self.replicates, (len(decisions) * self.replicates,)
        players = [self.states[ACTORS[p]] for p in decisions[0].players]
        base = np.stack([agent.stacked_utilities(decisions) for agent in players], axis=2)
        coupling = np.stack([agent.stacked_coupling(decisions) for agent in players], axis=2)
        precision = np.stack([agent.precision for agent in players], axis=1)
        solved, iterations = self.equilibrium(
            decisions,
            base.reshape(*shape, *base.shape[2:]),
            coupling.reshape(*shape, *coupling.shape[2:]),
            np.tile(precision, (len(decisions), 1)),
        )
        solved = self.trembling(solved)
        everywhere = np.ones(n, dtype=bool)
        for v, decision in enumerate(decisions):
            self.settle(decision, solved[v * n : (v + 1) * n], everywhere, iterations)

    def documented(self, decision: Decision) -> dict[int, int]:
        """The documented choices a replay imposes (none from ``forecast_from`` on)."""
        if not self.replay or (self.forecast_from is not None and self.month >= self.forecast_from):
            return {}
        return decision.observed

    def pose(self, decision: Decision, mask: np.ndarray) -> None:
        """Put a decision to its players where ``mask`` holds, choose, apply consequences.

        In a simulation every player draws its choice from its own random stream. In a replay
        of the record, documented choices are imposed (the decision is posed whatever its
        condition, since the record says it was), and a player whose choice is not documented
        acts through the expected consequences of its choice probabilities; its most likely
        option stands in for conditions that refer to it. Generic reactions to documented
        choices are posed in a replay too (with expected consequences, as nobody documents
        them), so the calibration sees the same mechanisms a simulation does.
        """
        if self.replay and decision.observed:  # documented, or forecast where it is documented
            mask = np.ones(self.replicates, dtype=bool)
        probabilities, iterations = self.probabilities(decision)
        self.settle(decision, probabilities, mask, iterations)

    def settle(
        self, decision: Decision, probabilities: np.ndarray, mask: np.ndarray, iterations: int
    ) -> None:
        """Choose (or impose the record), apply the consequences and record the decision."""
        n_options = len(decision.options)
        documented = self.documented(decision)
        if self.replay:
            chosen = probabilities.argmax(axis=-1)
            weights = probabilities.copy()
            for p, player in enumerate(decision.players):
                if player in documented:
                    chosen[:, p] = documented[player]
                    weights[:, p] = np.eye(n_options)[documented[player]]
        else:
            chosen = np.empty((self.replicates, len(decision.players)), dtype=np.int64)
            draw_key = f"{decision.key}@{self.month}"
            for p, player in enumerate(decision.players):
                u = uniforms(self.seed, self.replicate_ids, draw_key, player)
                chosen[:, p] = draw(probabilities[:, p], u)
                if (decision.key, player) in self.imposed:  # a player's choice made by hand
                    chosen[:, p] = decision.options.index(self.imposed[decision.key, player])
            weights = np.eye(n_options)[chosen]
        chosen = np.where(mask[:, None], chosen, -1)
        self.consequences(decision, weights * mask[:, None, None], chosen)
        rows = [decision.players.index(d) for d in decision.deciders]
        kept = np.where(mask[:, None, None], probabilities[:, rows], np.nan)
        record = DecisionRecord(decision, self.month, mask, kept, chosen[:, rows], iterations)
        self.recorder.decisions.append(record)
        self.remember_choices(decision, chosen[:, rows])

    def remember_choices(self, decision: Decision, chosen: np.ndarray) -> None:
        """Keep the latest choice of each decider on a decision, for later conditions.

        A decision posed again (a shock with a hazard fires in other replicates later) keeps
        the earlier choices where it was not posed this time.
        """
        if decision.key in self.choices:
            earlier = self.choices[decision.key][1]
            chosen = np.where(chosen >= 0, chosen, earlier)
        self.choices[decision.key] = (decision.deciders, chosen, decision.options)

    def approval_of(self, decision: Decision, weights: np.ndarray, decider: int) -> np.ndarray:
        """Each actor's approval of a decider's choice, shape (R, 6).

        Exogenous where the actor has a stake; for the other players of a simultaneous
        decision, how far their own choice agrees with it; zero otherwise. ``weights`` holds
        each player's choice as a distribution over options, shape (R, P, O): one-hot for a
        choice made, probabilities for an expected one, zero where not posed.
        """
        mine = weights[:, decision.players.index(decider)]
        approval = np.zeros((self.replicates, N_ACTORS))
        for q, other in enumerate(decision.players):
            if other != decider and not decision.stake[other]:
                approval[:, other] = np.einsum(
                    "ro,op,rp->r", mine, decision.agreement, weights[:, q]
                )
        stakes = np.flatnonzero(decision.stake)
        approval[:, stakes] = mine @ decision.approval[stakes].T
        approval[:, decider] = 0.0
        return approval

    def consequences(self, decision: Decision, weights: np.ndarray, chosen: np.ndarray) -> None:
        """Relations respond to each decider's choice; effects apply; reactions are scheduled.

        Args:
            decision: The decision.
            weights: Each player's choice as a distribution over options, (R, P, O); zero
                rows where the decision was not posed.
            chosen: Each player's choice (or most likely option), (R, P); -1 where not posed.
        """
        dynamics = self.parameters.spec.dynamics
        documented = self.documented(decision)
        # a routine vote moves relations by a share of what a salient choice does (docs/ODD.md)
        salience = dynamics.routine_vote_salience if decision.routine else 1.0
        for decider in decision.deciders:
            p = decision.players.index(decider)
            if salience > 0:
                approval = self.approval_of(decision, weights, decider)
                for other in range(N_ACTORS):
                    if other != decider:
                        self.world.respond(
                            other, decider, approval[:, other], salience * dynamics.response
                        )
                        self.world.respond(
                            decider, other, approval[:, other], salience * dynamics.self_signal
                        )
            for k, effects in enumerate(decision.effects):
                for effect in effects:
                    self.world.apply(effect, weights[:, p, k])
            if self.replay and decider not in documented:
                continue  # an expected choice is not remembered and provokes no answer
            self.world.remember(decision, decider, chosen[:, p])
            if not decision.routine:  # the routine agenda provokes no answers
                self.schedule_reactions(decision, decider, approval, chosen[:, p] >= 0)

    def schedule_reactions(
        self, decision: Decision, decider: int, approval: np.ndarray, mask: np.ndarray
    ) -> None:
        """Pose follow-ups where a reactor strongly disapproves of a choice.

        Reactions are not themselves reacted to, and a reaction the library documents for this
        decision replaces the generic one.
        """
        if decision.is_reaction:
            return
        delay = self.parameters.spec.dynamics.reaction_delay_months
        for template in self.library.reactions:
            for code in template.reactors:
                reactor = ACTORS.index(code)
                documented = (decision.key, decider, reactor) in self.documented_reactions
                if reactor == decider or documented:
                    continue
                if not decision.stake[reactor]:
                    continue  # only a stated stake provokes a reaction
                triggered = mask & (approval[:, reactor] <= template.threshold)
                if triggered.any():
                    reaction = compile_reaction(
                        template,
                        decision,
                        reactor,
                        decider,
                        self.structure.stance,
                        month=self.month + delay,
                    )
                    self.reactions_due[self.month + delay].append((reaction, triggered))


def rewarded(plan: Plan, tie: TiedChoice, value: float) -> Plan:
    """A plan whose decision ``tie.decision`` carries ``value`` more material on ``tie.option``.

    Its decider weighs the offer tied to that choice as part of the choice's material stake.
    """
    decisions = []
    for decision in plan.decisions:
        if decision.key == tie.decision:
            features = decision.features.copy()
            k = decision.options.index(tie.option)
            features[3, k] = min(1.0, features[3, k] + value)
            decision = dataclasses.replace(decision, features=features)
        decisions.append(decision)
    return dataclasses.replace(plan, decisions=tuple(decisions))


def replace_span(scenario: Scenario, start: str, last_month: int) -> Scenario:
    """The scenario's record and parameters over another span, without shocks (a warm-up)."""
    from multivector.calendar import month_label

    return scenario.model_copy(
        update={
            "start": start,
            "end": month_label(last_month),
            "start_from": "structural",
            "shock": [],
            "record": scenario.record.model_copy(update={"until": None}),
        }
    )
