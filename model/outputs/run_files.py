"""The files a run writes: trajectories.parquet, choices.parquet and summary.json."""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from multivector.actors import ACTORS, INDEX
from multivector.analysis.summary import summarise
from multivector.calendar import month_label
from multivector.core.observation import POLE_INDEX, balance
from multivector.files import FileSet, staged
from multivector.runs.runner import Run

PARTNERS = [a for a in ACTORS if a != "KAZ"]


def provenance(run: Run) -> dict[str, Any]:
    """What produced a result: scenario, seed, replicates, versions and hashes."""
    return run.provenance.run_record(run.seed, run.replicates, run.months)


def _metadata(meta: dict[str, Any]) -> dict[bytes, bytes]:
    return {b"multivector": json.dumps(meta, sort_keys=True).encode()}


def trajectories_table(run: Run, meta: dict[str, Any]) -> pa.Table:
    """One row per replicate and month: alignment, balance, dependence, mood and transit."""
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
    for metric, values in (
        ("dependence", run.dependence()),
        ("mood", run.mood()),
        ("transit", run.transit()),
    ):
        by_replicate = values.transpose(1, 0, 2)
        for code in PARTNERS:
            columns[f"{metric}_{code}"] = by_replicate[:, :, INDEX[code]].ravel()
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
            options = np.array(decision.options, dtype=object)
            posed = np.flatnonzero(record.posed)
            n = len(posed)
            for d, actor in enumerate(decision.deciders):
                observed = decision.observed.get(actor)
                probs = record.probabilities[posed, d]
                chosen = record.choices[posed, d].astype(np.int64)
                rows["replicate"] += ids[posed].astype(int).tolist()
                rows["episode"] += [decision.episode] * n
                rows["decision"] += [decision.key] * n
                rows["month"] += [month_label(record.month)] * n
                rows["kind"] += [decision.kind] * n
                rows["decider"] += [ACTORS[actor]] * n
                rows["options"] += [list(decision.options)] * n
                rows["probabilities"] += probs.tolist()
                rows["chosen"] += options[chosen].tolist()
                rows["observed"] += [None if observed is None else decision.options[observed]] * n
                rows["p_chosen"] += probs[np.arange(n), chosen].tolist()
                rows["p_observed"] += (
                    [None] * n if observed is None else probs[:, observed].tolist()
                )
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


def write_outputs(run: Run, out: Path, files: FileSet | None = None) -> dict[str, Any]:
    """Write trajectories.parquet, choices.parquet and summary.json into ``out``.

    The files are staged (:mod:`multivector.files`): with ``files`` they join that set, to appear
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
