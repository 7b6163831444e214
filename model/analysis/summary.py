"""The figures a run reports (summary.json and the printed tables), and the statistics they share.

Reads a run; draws and writes nothing.
"""

from typing import Any

import numpy as np

from multivector.actors import ACTORS, INDEX, KAZAKHSTAN, POLES
from multivector.analysis.patterns import evaluate
from multivector.calendar import month_label, month_year, parse_month, year_ends
from multivector.core.observation import (
    POLE_INDEX,
    VOTE_POSITION,
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
    """At each documented decision of Kazakhstan's: mean option probabilities and the record."""
    out = []
    for found in run.decisions():
        decision, posed, probabilities = found.decision, found.posed, found.probabilities
        if KAZAKHSTAN not in decision.deciders or decision.is_reaction:
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


def observed_vote_scores(run: Run) -> dict[str, dict[str, float]]:
    """Agreement and S-scores on the recorded historical votes inside the run's span."""
    months = set(run.months)
    votes = [
        e
        for e in run.library.votes
        if parse_month(e.date) in months and e.id not in run.scenario.record.exclude
    ]
    positions = np.full((1, len(votes), len(ACTORS)), np.nan)
    for v, episode in enumerate(votes):
        for code, vote in episode.observed.items():
            positions[0, v, INDEX[code]] = VOTE_POSITION[vote]
    scores = agreement_scores(positions)
    return {
        pair: {k: round(float(v[0]), 4) for k, v in values.items() if not np.isnan(v[0])}
        for pair, values in scores.items()
    }


def vote_scores(run: Run) -> dict[str, Any]:
    """Median and 90% interval of agreement and S-score per pair, beside the historical record."""
    per_chunk = [
        agreement_scores(vote_matrix(c.votes(), len(ids)))
        for c, ids in zip(run.chunks, run.replicate_ids, strict=True)
    ]
    observed = observed_vote_scores(run)
    out: dict[str, Any] = {}
    for pair in per_chunk[0]:
        entry: dict[str, Any] = {}
        for measure in ("agreement", "s_score"):
            values = np.concatenate([c[pair][measure] for c in per_chunk])
            values = values[~np.isnan(values)]
            if len(values):
                entry[measure] = quantiles(values)
                if measure in observed.get(pair, {}):
                    entry[f"observed_{measure}"] = observed[pair][measure]
        entry["votes"] = int(np.median(np.concatenate([c[pair]["votes"] for c in per_chunk])))
        out[pair] = entry
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
        "patterns": evaluate(run),
    }
