"""The figures a run reports (summary.json and the printed tables), and the statistics they share.

Reads a run; draws and writes nothing.
"""

from typing import Any

import numpy as np

from multivector.actors import ACTORS, INDEX, KAZAKHSTAN, POLES
from multivector.analysis import face_validity, patterns
from multivector.calendar import month_label, month_year, year_ends
from multivector.core.observation import (
    POLE_INDEX,
    VOTE_POSITION,
    DecisionRecord,
    agreement_scores,
    balance,
    vote_matrix,
)
from multivector.runs.runner import Run

QUANTILES = (0.05, 0.5, 0.95)
"""The quantiles reported: the 90% interval and the median."""


def quantiles(values: np.ndarray) -> dict[str, float]:
    """Median and 90% interval (5th and 95th percentiles), rounded to four decimals."""
    low, median, high = np.quantile(values, QUANTILES)
    return {
        "median": round(float(median), 4),
        "p05": round(float(low), 4),
        "p95": round(float(high), 4),
    }


def yearly_alignment(run: Run) -> list[dict[str, Any]]:
    """Per year (December), Kazakhstan's alignment toward each pole and its balance."""
    alignment = run.alignment()
    rows = []
    for position in year_ends(run.months):
        month = run.months[position]
        row: dict[str, Any] = {"year": month_year(month), "month": month_label(month)}
        for pole in POLES:
            row[pole] = quantiles(alignment[position, :, INDEX[pole]])
        row["balance"] = quantiles(balance(alignment[position][:, POLE_INDEX]))
        rows.append(row)
    return rows


def kazakhstan_decisions(run: Run) -> list[dict[str, Any]]:
    """At each library decision of Kazakhstan's: mean option probabilities and the record.

    The routine recorded votes are summarised by the agreement scores instead.
    """
    out = []
    for found in run.decisions():
        decision, posed, probabilities = found.decision, found.posed, found.probabilities
        if KAZAKHSTAN not in decision.deciders or decision.is_reaction or decision.routine:
            continue
        d = decision.deciders.index(KAZAKHSTAN)
        observed = decision.observed.get(KAZAKHSTAN)
        if posed.any():
            mean = probabilities[posed, d].mean(axis=0)
            mode = decision.options[int(np.argmax(mean))]
        else:
            mean, mode = np.full(len(decision.options), np.nan), None
        out.append(
            {
                "episode": decision.episode,
                "decision": decision.key,
                "month": month_label(found.month),
                "title": decision.title,
                "posed_share": round(float(posed.mean()), 4),
                "probabilities": {
                    o: round(float(p), 4) for o, p in zip(decision.options, mean, strict=True)
                },
                "observed": None if observed is None else decision.options[observed],
                "model_mode": mode,
            }
        )
    return out


def cast_positions(records: list[DecisionRecord], replicates: int) -> np.ndarray:
    """The run's vote positions, kept only where the record shows the state voting.

    In a documented vote a state the record lists as absent (or does not list) is left out of
    the model's scores too, so model and record are compared on the same votes.
    """
    positions = vote_matrix(records, replicates)
    for v, record in enumerate(records):
        observed = record.decision.observed
        if observed:
            missing = [a for a in range(len(ACTORS)) if a not in observed]
            positions[:, v, missing] = np.nan
    return positions


def recorded_positions(records: list[DecisionRecord]) -> np.ndarray:
    """The record's own positions in the same votes, shape (1, votes, 6)."""
    positions = np.full((1, len(records), len(ACTORS)), np.nan)
    for v, record in enumerate(records):
        decision = record.decision
        for actor, option in decision.observed.items():
            positions[0, v, actor] = VOTE_POSITION[decision.options[option]]
    return positions


def _scores(run: Run, select: Any = None) -> tuple[dict, dict]:
    """Per-replicate scores of the run's votes (those ``select`` keeps) and the record's."""
    per_chunk = []
    for chunk, ids in zip(run.chunks, run.replicate_ids, strict=True):
        records = [r for r in chunk.votes() if select is None or select(r)]
        per_chunk.append(agreement_scores(cast_positions(records, len(ids))))
    records = [r for r in run.chunks[0].votes() if select is None or select(r)]
    observed = agreement_scores(recorded_positions(records))
    merged = {
        pair: {
            measure: np.concatenate([c[pair][measure] for c in per_chunk])
            for measure in ("agreement", "s_score", "votes")
        }
        for pair in per_chunk[0]
    }
    return merged, observed


def _entry(model: dict[str, np.ndarray], record: dict[str, np.ndarray]) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    for measure in ("agreement", "s_score"):
        values = model[measure][~np.isnan(model[measure])]
        if len(values):
            entry[measure] = quantiles(values)
        if not np.isnan(record[measure][0]):
            entry[f"observed_{measure}"] = round(float(record[measure][0]), 4)
    entry["votes"] = int(np.median(model["votes"]))
    return entry


def vote_scores(run: Run) -> dict[str, Any]:
    """Median and 90% interval of agreement and S-score per pair, beside the record's.

    Over every UN vote of the run: the library's salient votes and, where the scenario poses
    them (``record.votes``), every recorded General Assembly vote.
    """
    model, record = _scores(run)
    return {pair: _entry(model[pair], record[pair]) for pair in model}


def vote_scores_by_year(run: Run) -> dict[str, dict[str, Any]]:
    """Agreement and S-scores per pair and year, beside the record's in the same votes."""
    years = sorted({month_year(r.month) for r in run.chunks[0].votes()})
    out: dict[str, dict[str, Any]] = {}
    for year in years:
        model, record = _scores(run, lambda r, y=year: month_year(r.month) == y)
        for pair in model:
            out.setdefault(pair, {})[str(year)] = _entry(model[pair], record[pair])
    return out


def fit_to_record(decisions: list[dict[str, Any]]) -> dict[str, Any]:
    """How well the run's probabilities match Kazakhstan's documented choices."""
    documented = [d for d in decisions if d["observed"] is not None and d["posed_share"] > 0]
    if not documented:
        return {"decisions": 0}
    p = np.array([max(d["probabilities"][d["observed"]], 1e-12) for d in documented])
    hits = [d["model_mode"] == d["observed"] for d in documented]
    return {
        "decisions": len(documented),
        "mean_probability_of_observed": round(float(p.mean()), 4),
        "log_loss": round(float(-np.log(p).mean()), 4),
        "modal_choice_matches": int(sum(hits)),
    }


def summarise(run: Run, meta: dict[str, Any]) -> dict[str, Any]:
    """The figures a run reports (also printed by ``multivector run``)."""
    decisions = kazakhstan_decisions(run)
    return {
        **meta,
        "alignment_by_year": yearly_alignment(run),
        "kazakhstan_decisions": decisions,
        "fit_to_record": fit_to_record(decisions),
        "un_votes": vote_scores(run),
        "un_votes_by_year": vote_scores_by_year(run),
        "patterns": patterns.evaluate(run),
        "face_validity": face_validity.evaluate(run),
    }
