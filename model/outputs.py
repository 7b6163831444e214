"""Tables and the summary a run writes: trajectories, choices, summary.json."""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from model.actors import ACTORS, INDEX, KAZAKHSTAN, POLES
from model.calendar import month_label, month_year, parse_month, year_ends
from model.files import FileSet, staged
from model.observation import (
    POLE_INDEX,
    VOTE_POSITION,
    agreement_scores,
    balance,
    vote_matrix,
)
from model.patterns import evaluate
from model.runner import Run
from model.summary import quantiles

PARTNERS = [a for a in ACTORS if a != "KAZ"]


def provenance(run: Run) -> dict[str, Any]:
    """What produced a result: scenario, seed, replicates, versions and hashes."""
    return run.provenance.run_record(run.seed, run.replicates, run.months)


def _metadata(meta: dict[str, Any]) -> dict[bytes, bytes]:
    return {b"multivector": json.dumps(meta, sort_keys=True).encode()}


def trajectories_table(run: Run, meta: dict[str, Any]) -> pa.Table:
    """One row per replicate and month: Kazakhstan's alignment, dependence and balance."""
    alignment = run.alignment()  # (M, R, 6)
    n_months, n_rep, _ = alignment.shape
    by_replicate = alignment.transpose(1, 0, 2)  # (R, M, 6), replicate-major rows
    columns: dict[str, Any] = {
        "replicate": np.repeat(np.concatenate(run.replicate_ids), n_months).astype(np.int32),
        "month": pa.array([month_label(m) for m in run.months] * n_rep),
    }
    for code in PARTNERS:
        columns[f"alignment_{code}"] = by_replicate[:, :, INDEX[code]].ravel()
    columns["balance"] = balance(by_replicate[:, :, POLE_INDEX]).ravel()
    dependence = run.dependence().transpose(1, 0, 2)
    for code in PARTNERS:
        columns[f"dependence_{code}"] = dependence[:, :, INDEX[code]].ravel()
    table = pa.table(columns)
    return table.replace_schema_metadata(_metadata(meta))


def choices_table(run: Run, meta: dict[str, Any]) -> pa.Table:
    """One row per replicate, decision and decider where the decision was posed."""
    rows: dict[str, list] = {
        key: []
        for key in [
            "replicate",
            "episode",
            "decision",
            "month",
            "kind",
            "decider",
            "options",
            "probabilities",
            "chosen",
            "observed",
            "p_chosen",
            "p_observed",
        ]
    }
    for recorder, ids in zip(run.chunks, run.replicate_ids, strict=True):
        for record in recorder.decisions:
            decision = record.decision
            for d, actor in enumerate(decision.deciders):
                observed = decision.observed.get(actor)
                for r in np.flatnonzero(record.posed):
                    probs = record.probabilities[r, d]
                    chosen = int(record.choices[r, d])
                    rows["replicate"].append(int(ids[r]))
                    rows["episode"].append(decision.episode)
                    rows["decision"].append(decision.key)
                    rows["month"].append(month_label(record.month))
                    rows["kind"].append(decision.kind)
                    rows["decider"].append(ACTORS[actor])
                    rows["options"].append(list(decision.options))
                    rows["probabilities"].append(probs.tolist())
                    rows["chosen"].append(decision.options[chosen])
                    rows["observed"].append(
                        None if observed is None else decision.options[observed]
                    )
                    rows["p_chosen"].append(float(probs[chosen]))
                    rows["p_observed"].append(None if observed is None else float(probs[observed]))
    schema = pa.schema(
        [
            ("replicate", pa.int32()),
            ("episode", pa.string()),
            ("decision", pa.string()),
            ("month", pa.string()),
            ("kind", pa.string()),
            ("decider", pa.string()),
            ("options", pa.list_(pa.string())),
            ("probabilities", pa.list_(pa.float64())),
            ("chosen", pa.string()),
            ("observed", pa.string()),
            ("p_chosen", pa.float64()),
            ("p_observed", pa.float64()),
        ],
        metadata=_metadata(meta),
    )
    table = pa.table(rows, schema=schema)
    order = np.lexsort((np.arange(table.num_rows), table["replicate"].to_numpy()))
    return table.take(order)


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


def write_outputs(run: Run, out: Path, files: FileSet | None = None) -> dict[str, Any]:
    """Write trajectories.parquet, choices.parquet and summary.json into ``out``.

    The files are staged (:mod:`model.files`): with ``files`` they join that set, to appear
    with whatever else the caller stages; without, they appear together when written.

    Returns:
        The summary.
    """
    if files is None:
        with staged() as own:
            return write_outputs(run, out, own)
    meta = provenance(run)
    summary = summarise(run, meta)
    files.parquet(out / "trajectories.parquet", trajectories_table(run, meta), compression="zstd")
    files.parquet(out / "choices.parquet", choices_table(run, meta), compression="zstd")
    files.json(out / "summary.json", summary)
    return summary
