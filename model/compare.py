"""Paired comparison of a scenario against a baseline: the drift a shock causes.

Both runs use the same seed and replicate numbers, and every random number is keyed by (seed,
replicate, decision, month, player), so a decision posed in both runs draws the same number in
both (common random numbers). Before the first shock the two runs are identical replicate by
replicate; afterwards their difference is the shock's effect on that replicate, not noise.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model import __version__
from model.actors import ACTORS, INDEX, POLES
from model.calendar import month_label, month_year, parse_month, year_ends
from model.files import staged
from model.provenance import Source
from model.runner import Run, run_scenario
from model.scenario import Scenario
from model.shocks import compile_shock
from model.summary import quantiles

MOVED = 12
"""How many of the decisions whose probabilities moved most are reported."""


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


# --- summaries ----------------------------------------------------------------------------


def _stats(values: np.ndarray) -> dict[str, float]:
    return quantiles(values) | {
        "mean": round(float(values.mean()), 4),
        "share_changed": round(float(np.mean(np.abs(values) > 1e-9)), 4),
    }


def drift_by_year(comparison: Comparison) -> list[dict[str, Any]]:
    """Per year (its last month in the span): the drift toward each pole across replicates."""
    drift = comparison.drift()
    months = comparison.months
    rows = []
    for position in year_ends(months):
        month = months[position]
        row: dict[str, Any] = {"year": month_year(month), "month": month_label(month)}
        for p, pole in enumerate(POLES):
            row[pole] = _stats(drift[position, :, p])
        rows.append(row)
    return rows


def _mean_probabilities(
    run: Run,
) -> dict[tuple[str, int], tuple[Any, np.ndarray, np.ndarray]]:
    """Per (decision key, month): the decision, the share posed, the mean probabilities."""
    out = {}
    for found in run.decisions():
        posed, probabilities = found.posed, found.probabilities
        mean = (
            probabilities[posed].mean(axis=0)
            if posed.any()
            else np.full(probabilities.shape[1:], np.nan)
        )
        out[(found.decision.key, found.month)] = (found.decision, posed.mean(), mean)
    return out


def _decision_row(decision: Any, month: int, before: Any, after: Any) -> dict[str, Any]:
    """A decision's probabilities in the two runs, per decider."""
    deciders = []
    for d, actor in enumerate(decision.deciders):
        row: dict[str, Any] = {"decider": ACTORS[actor]}
        for label, found in (("baseline", before), ("scenario", after)):
            if found is None or np.isnan(found[2][d]).all():
                row[label] = None
            else:
                row[label] = {
                    o: round(float(p), 4)
                    for o, p in zip(decision.options, found[2][d], strict=True)
                }
        deciders.append(row)
    return {
        "decision": decision.key,
        "title": decision.title,
        "month": month_label(month),
        "posed_share": {
            "baseline": round(float(before[1]), 4) if before else 0.0,
            "scenario": round(float(after[1]), 4) if after else 0.0,
        },
        "deciders": deciders,
    }


def moved_decisions(comparison: Comparison) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The decisions whose choice probabilities moved most, and the scenario's own decisions.

    The movement of a decision posed in both runs is the largest total-variation distance,
    over its deciders, between the mean option probabilities in the two runs (0 unchanged,
    1 a certain choice turned into another).
    """
    before = _mean_probabilities(comparison.baseline)
    after = _mean_probabilities(comparison.scenario)
    moved = []
    for key, found in after.items():
        if key not in before or np.isnan(found[2]).all() or np.isnan(before[key][2]).all():
            continue
        distance = 0.5 * np.abs(found[2] - before[key][2]).sum(axis=-1)
        shift = float(np.nanmax(distance))
        if shift > 1e-6:
            row = _decision_row(found[0], key[1], before[key], found)
            moved.append((shift, row | {"movement": round(shift, 4)}))
    moved.sort(key=lambda item: -item[0])
    return [row for _, row in moved[:MOVED]], scenario_decisions(comparison.scenario)


def scenario_decisions(run: Run) -> list[dict[str, Any]]:
    """The decisions the scenario's shocks pose, pooled over the months they were posed in.

    A shock with a hazard poses its decisions in different months in different replicates;
    each replicate counts once, in the month it was posed.
    """
    shock_names = {s.name for s in run.scenario.shock}
    pooled: dict[str, list[Any]] = {}
    for found in run.decisions():
        decision, posed = found.decision, found.posed
        if not any(decision.episode in (name, f"{name}-end") for name in shock_names):
            continue
        entry = pooled.setdefault(decision.key, [decision, found.month, np.zeros_like(posed), 0.0])
        entry[2] = entry[2] | posed
        entry[3] = entry[3] + np.where(posed[:, None, None], found.probabilities, 0.0).sum(axis=0)
    rows = []
    for decision, month, posed, total in pooled.values():
        mean = total / max(int(posed.sum()), 1)
        row = _decision_row(decision, month, None, (decision, posed.mean(), mean))
        rows.append(row | {"first_month": row.pop("month")})
    return rows


def drift_summary(comparison: Comparison) -> dict[str, Any]:
    """Everything drift.json holds."""
    drift = comparison.drift()
    medians = np.median(drift, axis=1)  # (M, 3)
    m, p = np.unravel_index(np.abs(medians).argmax(), medians.shape)
    moved, own = moved_decisions(comparison)
    return {
        "baseline": comparison.baseline.provenance.comparison_entry(),
        "scenario": comparison.scenario.provenance.comparison_entry(),
        "seed": comparison.scenario.seed,
        "replicates": comparison.scenario.replicates,
        "package_version": __version__,
        "pairing": "common random numbers: same seed and replicate numbers, draws keyed by "
        "(seed, replicate, decision, month, player)",
        "span": {
            "start": month_label(comparison.months[0]),
            "end": month_label(comparison.months[-1]),
        },
        "events": [e.as_dict() for e in comparison.events()],
        "drift_unit": "alignment (relation of Kazakhstan toward the pole, -1..1): scenario "
        "minus baseline, per replicate",
        "drift_by_year": drift_by_year(comparison),
        "largest_median_drift": {
            "pole": POLES[p],
            "month": month_label(comparison.months[m]),
            "median": round(float(medians[m, p]), 4),
        },
        "moved_decisions": moved,
        "scenario_decisions": own,
    }


def write_comparison(comparison: Comparison, out: Path) -> dict[str, Any]:
    """Write drift.json and drift.png into ``out`` (staged together) and return the summary."""
    from model.plotting import drift_chart

    summary = drift_summary(comparison)
    with staged() as files:
        files.json(out / "drift.json", summary)
        drift_chart(comparison, files.path(out / "drift.png"))
    return summary
