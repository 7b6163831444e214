"""The drift a scenario causes against its baseline: per year, per decision, for drift.json.

Reads a :class:`multivector.runs.compare.Comparison` (two runs on common random numbers); draws and
writes nothing.
"""

from typing import Any

import numpy as np

from multivector.actors import ACTORS, INDEX, POLES
from multivector.analysis.summary import quantiles
from multivector.calendar import month_label, month_year, year_ends
from multivector.runs.compare import Comparison
from multivector.runs.runner import Run
from multivector.version import __version__

MOVED = 12
"""How many of the decisions whose probabilities moved most are reported."""


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


def _medians(run: Run, position: int) -> dict[str, float]:
    """Median alignment toward, and transit share through, each pole at one month."""
    alignment, transit = run.alignment()[position], run.transit()[position]
    out = {}
    for pole in POLES:
        out[f"alignment_{pole}"] = round(float(np.median(alignment[:, INDEX[pole]])), 4)
    for pole in POLES:
        out[f"transit_{pole}"] = round(float(np.median(transit[:, INDEX[pole]])), 4)
    return out


def lasting_shock_paths(comparison: Comparison) -> list[dict[str, Any]]:
    """For each scheduled shock that lasts: the state before, during and after it.

    Per month from the one before onset to the month it ends (or the span's end, if it lasts
    beyond it), then the span's last month:
    the median alignment toward each pole and share of exports crossing it, in both runs.
    This is where a blockade's grip shows: whether alignment heals while it lasts and whether
    the cargo it rerouted stays rerouted.
    """
    months = comparison.months
    rows = []
    for shock in comparison.scenario.scenario.shock:
        scheduled = shock.hazard is None and shock.probability is None
        if shock.duration_months is None or not scheduled:
            continue  # a chance shock's medians would mix replicates with and without it
        first = shock.first_month - months[0]
        end = first + shock.duration_months  # the month it ends (maybe after the span)
        last = min(end, len(months) - 1)
        positions = [*range(max(first - 1, 0), last + 1), len(months) - 1]
        path = []
        for position in dict.fromkeys(positions):
            phase = "before" if position < first else "during" if position < end else "ends"
            if position > end:
                phase = "after"
            path.append(
                {
                    "month": month_label(months[position]),
                    "phase": phase,
                    "baseline": _medians(comparison.baseline, position),
                    "scenario": _medians(comparison.scenario, position),
                }
            )
        rows.append({"shock": shock.name, "duration_months": shock.duration_months, "path": path})
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
        "lasting_shocks": lasting_shock_paths(comparison),
        "moved_decisions": moved,
        "scenario_decisions": own,
    }
