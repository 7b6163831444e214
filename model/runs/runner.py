"""Run a scenario: one model instance per chunk of replicates, the same code for 1 or 100,000."""

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from multivector.core.model import MultivectorModel
from multivector.core.observation import DecisionRecord, Recorder
from multivector.errors import InputError
from multivector.files import human_bytes
from multivector.inputs.costs import load_costs
from multivector.inputs.library import Decision, Library, library_for
from multivector.inputs.parameters import Parameters
from multivector.inputs.provenance import Provenance
from multivector.inputs.scenario import Scenario, scenario_parameters

CHUNK = 2000
"""Replicates advanced by one model instance: large enough to vectorise, small enough to stream."""


@dataclass(frozen=True)
class PosedDecision:
    """A decision posed in a run, its records joined over every replicate.

    Attributes:
        decision: The decision.
        month: The month it was posed in.
        posed: Whether it was posed, per replicate, shape (R,).
        probabilities: Option probabilities per replicate and decider, shape (R, D, O) (NaN in
            a chunk of replicates where it was not posed at all).
        choices: The option chosen per replicate and decider, shape (R, D) (-1 likewise).
    """

    decision: Decision
    month: int
    posed: np.ndarray
    probabilities: np.ndarray
    choices: np.ndarray


@dataclass(frozen=True)
class Run:
    """The outcome of a scenario run.

    Attributes:
        scenario: The scenario run.
        seed: The seed used.
        replicates: Replicate count.
        parameters: The parameters used.
        library: The episode library used.
        chunks: The recorders of each chunk of replicates, in replicate order.
        replicate_ids: Replicate numbers of each chunk.
    """

    scenario: Scenario
    seed: int
    replicates: int
    parameters: Parameters
    library: Library
    chunks: tuple[Recorder, ...]
    replicate_ids: tuple[np.ndarray, ...]

    @property
    def months(self) -> list[int]:
        """Months recorded."""
        return self.chunks[0].months

    @cached_property
    def provenance(self) -> Provenance:
        """The run's inputs as they were loaded (files hashed when read, not after the run)."""
        return Provenance(self.scenario, self.parameters, self.library.sha256)

    def alignment(self) -> np.ndarray:
        """Kazakhstan's alignment toward every state, shape (M, R, 6), all chunks."""
        return self._alignment

    def dependence(self) -> np.ndarray:
        """Kazakhstan's dependence shares on every state, shape (M, R, 6), all chunks."""
        return self._dependence

    def mood(self) -> np.ndarray:
        """Kazakh public mood toward every state, shape (M, R, 6), all chunks."""
        return np.concatenate([c.mood_array() for c in self.chunks], axis=1)

    def transit(self) -> np.ndarray:
        """Share of Kazakh exports crossing every state, shape (M, R, 6), all chunks."""
        return np.concatenate([c.transit_array() for c in self.chunks], axis=1)

    def structural(self) -> np.ndarray:
        """Kazakhstan's structural relation toward every state each month, shape (M, 6)."""
        return self.chunks[0].structural_array()

    def decisions(self) -> list[PosedDecision]:
        """Every decision posed in any chunk, with its records joined over all replicates.

        A reaction is recorded only in the chunks where something triggered it, so records
        are matched by decision key and month, not by position.

        Returns:
            The decisions in the order first posed.
        """
        return self._decisions

    # joined once and kept: summaries, patterns and figures all read them
    @cached_property
    def _alignment(self) -> np.ndarray:
        return np.concatenate([c.alignment_array() for c in self.chunks], axis=1)

    @cached_property
    def _dependence(self) -> np.ndarray:
        return np.concatenate([c.dependence_array() for c in self.chunks], axis=1)

    @cached_property
    def _decisions(self) -> list[PosedDecision]:
        order: dict[tuple[str, int], Decision] = {}
        found: dict[tuple[str, int], dict[int, DecisionRecord]] = {}
        for position, recorder in enumerate(self.chunks):
            for record in recorder.decisions:
                key = (record.decision.key, record.month)
                order.setdefault(key, record.decision)
                found.setdefault(key, {})[position] = record
        joined = []
        for key, decision in order.items():
            posed, probabilities, choices = [], [], []
            shape = (len(decision.deciders), len(decision.options))
            for position, ids in enumerate(self.replicate_ids):
                record = found[key].get(position)
                if record is None:  # not posed anywhere in this chunk
                    posed.append(np.zeros(len(ids), dtype=bool))
                    probabilities.append(np.full((len(ids), *shape), np.nan))
                    choices.append(np.full((len(ids), shape[0]), -1))
                else:
                    posed.append(record.posed)
                    probabilities.append(record.probabilities)
                    choices.append(record.choices)
            joined.append(
                PosedDecision(
                    decision,
                    key[1],
                    np.concatenate(posed),
                    np.concatenate(probabilities),
                    np.concatenate(choices),
                )
            )
        return joined


def run_scenario(
    scenario: Scenario,
    *,
    replicates: int | None = None,
    seed: int | None = None,
    parameters: Parameters | None = None,
    library: Library | None = None,
    chunk: int = CHUNK,
    progress: Callable[[int], None] | None = None,
) -> Run:
    """Run a scenario's replicates in chunks and collect what they record.

    Args:
        scenario: The scenario.
        replicates: Override of the scenario's replicate count.
        seed: Override of the scenario's seed.
        parameters: Override of the scenario's parameter file.
        library: The episode library (the shipped one if None).
        chunk: Replicates per model instance.
        progress: Called with the number of replicate-months just completed.

    Raises:
        ValueError: If ``replicates`` is below one (a scenario file cannot say so; the CLI
            checks its option; this guards callers of the Python API).
    """
    replicates = scenario.replicates if replicates is None else replicates
    if replicates < 1:
        raise ValueError(f"replicates must be at least 1, not {replicates}")
    seed = scenario.seed if seed is None else seed
    library = library or library_for(scenario.episodes)
    if parameters is None:
        parameters = scenario_parameters(scenario)
    chunks, ids = [], []
    for first in range(0, replicates, chunk):
        replicate_ids = np.arange(first, min(first + chunk, replicates))
        model = MultivectorModel(
            scenario,
            rng=seed,
            parameters=parameters,
            library=library,
            replicate_ids=replicate_ids,
        )
        while model.running:
            model.step()
            if progress is not None:
                progress(len(replicate_ids))
        chunks.append(model.recorder)
        ids.append(replicate_ids)
    return Run(scenario, seed, replicates, parameters, library, tuple(chunks), tuple(ids))


# --- what a run will cost, before it starts -----------------------------------------------


@dataclass(frozen=True)
class RunEstimate:
    """A run's size and its expected memory and disk cost (``data/costs.toml``).

    Attributes:
        replicates: Replicates.
        months: Months per replicate.
        slots: Decider-choices one replicate can record.
        memory_bytes: Expected peak memory of the run and its files being built.
        disk_bytes: Expected size of its output folder.
    """

    replicates: int
    months: int
    slots: int
    memory_bytes: int
    disk_bytes: int

    def paired(self) -> "RunEstimate":
        """A comparison's cost: this run and its baseline's over the same months, both held."""
        return dataclasses.replace(self, memory_bytes=2 * self.memory_bytes)

    def fits(self, available: int, what: str, field: str) -> None:
        """Refuse, in one line with the figures, a run that needs more memory than ``available``.

        Args:
            available: Bytes of memory the run may use.
            what: The file the replicate count comes from (the scenario, or the command).
            field: The field or option that set it.
        """
        if self.memory_bytes <= available:
            return
        costs = load_costs().memory
        per_replicate = costs.of(1, self.months, self.slots) - costs.base_bytes
        most = max(0, (available - costs.base_bytes) // max(per_replicate, 1))
        raise InputError(
            what,
            field,
            f"{self.replicates:,} replicates of {self.months} months need about "
            f"{human_bytes(self.memory_bytes)} of memory ({human_bytes(per_replicate)} each); "
            f"{human_bytes(available)} is available: use at most {most:,} replicates, or a sweep",
        )


def estimate_run(
    scenario: Scenario,
    *,
    replicates: int | None = None,
    parameters: Parameters | None = None,
    library: Library | None = None,
) -> RunEstimate:
    """What a run will cost, counted from its schedule (a model of one replicate, not run)."""
    replicates = scenario.replicates if replicates is None else replicates
    model = MultivectorModel(scenario, replicates=1, parameters=parameters, library=library)
    months = model.last_month - model.first_month + 1
    slots = model.decision_slots()
    costs = load_costs()
    return RunEstimate(
        replicates,
        months,
        slots,
        costs.memory.of(replicates, months, slots),
        costs.disk.of(replicates, months, slots),
    )


def available_memory() -> int:
    """Bytes of memory available to a new run now (``MemAvailable``, else physical memory)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
