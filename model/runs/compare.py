"""Paired runs of a scenario against a baseline: the drift a shock causes.

Both runs use the same seed and replicate numbers, and every random number is keyed by (seed,
replicate, decision, month, player), so a decision posed in both runs draws the same number in
both (common random numbers). Before the first shock the two runs are identical replicate by
replicate; afterwards their difference is the shock's effect on that replicate, not noise.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from multivector.actors import INDEX, POLES
from multivector.calendar import month_label, parse_month
from multivector.inputs.provenance import Source
from multivector.inputs.scenario import Scenario
from multivector.inputs.shocks import compile_shock
from multivector.runs.runner import Run, run_scenario


@dataclass(frozen=True)
class Event:
    """Something the scenario changes, as marked on the drift chart."""

    month: int
    label: str
    last: int | None = None  # the end of a hazard's window or of a lasting shock

    def as_dict(self) -> dict[str, Any]:
        """The event for drift.json."""
        out: dict[str, Any] = {"month": month_label(self.month), "label": self.label}
        if self.last is not None:
            out["window_end"] = month_label(self.last)
        return out


@dataclass(frozen=True)
class Comparison:
    """A baseline and a scenario run on the same replicates.

    Attributes:
        baseline: The baseline run (over the scenario's months).
        scenario: The scenario run.
        baseline_file: The baseline's file.
        scenario_file: The scenario's file.
    """

    baseline: Run
    scenario: Run
    baseline_file: Path
    scenario_file: Path

    @property
    def months(self) -> list[int]:
        """Months compared."""
        return self.scenario.months

    def drift(self) -> np.ndarray:
        """Scenario minus baseline alignment of Kazakhstan toward each pole, (M, R, 3)."""
        poles = [INDEX[p] for p in POLES]
        return self.scenario.alignment()[..., poles] - self.baseline.alignment()[..., poles]

    def events(self) -> list[Event]:
        """The scenario's shocks, and the episodes and ties it leaves out, in date order."""
        spec = self.scenario.scenario
        found = []
        for shock in spec.shock:
            chance = (
                f" (p={shock.probability:g})"
                if shock.probability
                else f" (hazard {shock.hazard:g}/month)"
                if shock.hazard
                else ""
            )
            last = None
            if shock.hazard is not None:
                last = parse_month(shock.until) if shock.until else spec.last_month
            elif shock.duration_months is not None:
                last = min(shock.first_month + shock.duration_months, spec.last_month)
            title = compile_shock(shock).onset.title
            found.append(Event(shock.first_month, f"{shock.name}{chance}: {title}", last))
        for episode in spec.record.exclude:
            if episode in self.scenario.library.episodes:
                month = parse_month(self.scenario.library.episodes[episode].date)
                if spec.first_month <= month <= spec.last_month:
                    title = self.scenario.library.episodes[episode].title
                    found.append(Event(month, f"without {episode}: {title}"))
        for tie in spec.record.drop_ties:
            month = tie.key()[2]
            actors = "+".join(tie.actors)
            found.append(Event(max(month, spec.first_month), f"without tie: {tie.kind} {actors}"))
        return sorted(found, key=lambda e: e.month)


def framed(baseline: Scenario, scenario: Scenario) -> Scenario:
    """The baseline over the scenario's months and from the scenario's starting point.

    Everything else (its record, exclusions, shocks, parameters and overrides) stays the
    baseline's own, so the comparison isolates what the scenario changes.
    """
    return baseline.model_copy(
        update={"start": scenario.start, "end": scenario.end, "start_from": scenario.start_from}
    )


def compare(
    baseline: Scenario,
    scenario: Scenario,
    *,
    baseline_file: Path,
    scenario_file: Path,
    replicates: int | None = None,
    seed: int | None = None,
) -> Comparison:
    """Run a baseline and a scenario on the same seed and replicates.

    Args:
        baseline: The baseline scenario.
        scenario: The scenario with its shocks.
        baseline_file: The baseline's file (recorded if the baseline was not read from one).
        scenario_file: The scenario's file (recorded if the scenario was not read from one).
        replicates: Replicate count (the scenario's if None).
        seed: Seed (the scenario's if None).
    """
    replicates = scenario.replicates if replicates is None else replicates
    seed = scenario.seed if seed is None else seed
    # a scenario built in code is recorded as its file, hashed now, before the runs
    if baseline.source is None:
        baseline = baseline.with_source(Source.read(baseline_file))
    if scenario.source is None:
        scenario = scenario.with_source(Source.read(scenario_file))
    runs = [
        run_scenario(spec, replicates=replicates, seed=seed)
        for spec in (framed(baseline, scenario), scenario)
    ]
    return Comparison(runs[0], runs[1], Path(baseline_file), Path(scenario_file))
