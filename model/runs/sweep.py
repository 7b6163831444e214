"""Sweeps: an experiment's runs in chunks, on a local process pool or a Dask cluster.

The experiment is cut into tasks (a scenario and a range of samples). A task runs the model on
every replicate of its samples and returns three tables; the coordinating process writes each
task's tables as Parquet files under temporary names and renames them when all three are
written, with a record of their sizes, digests and row counts renamed last, so a finished chunk
is never lost and an unfinished one never half-counted. A resumed sweep checks every kept
chunk against its record and runs again any that differ (a file cut short by a full disk or
changed since). A task is a pure function of the experiment and its own sample range, and
every replicate draws from its own stream, so the dataset is the same whatever the worker
count, the chunk size, or whether the tasks ran locally or on Dask.

The folder is checked (writable, with room for the estimated dataset) and locked before any
work, so a bad ``--out`` is refused at once and two sweeps never write into the same folder.
"""

import json
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from multivector.actors import ACTORS, INDEX, KAZAKHSTAN, POLES
from multivector.calendar import month_label, year_ends
from multivector.core.model import MultivectorModel
from multivector.core.observation import POLE_INDEX, Recorder, balance
from multivector.errors import InputError
from multivector.files import (
    COMPLETE,
    LOCK_NAME,
    STAGED_GLOB,
    FileSet,
    check_output_folder,
    file_record,
    folder_lock,
    remove_staged,
    staged,
    staged_name,
    write_json,
)
from multivector.inputs.experiment import Design
from multivector.inputs.provenance import Provenance
from multivector.inputs.shocks import templates_sha256
from multivector.keys import is_reaction
from multivector.version import __version__

TABLES = ("runs", "decisions", "outcomes")
RETRIES = 2
"""How often a failed task is tried again before it is reported."""


@dataclass(frozen=True)
class Task:
    """A scenario and a range of samples, run as one unit and written as one chunk."""

    scenario: int
    first: int
    last: int  # exclusive
    replicate_first: int = 0
    replicate_last: int = 0  # exclusive

    @property
    def name(self) -> str:
        """The chunk's file name stem."""
        return f"part-{self.scenario:03d}-{self.first:07d}-{self.replicate_first:07d}"

    @property
    def replicates(self) -> np.ndarray:
        """The replicate numbers each of its samples runs."""
        return np.arange(self.replicate_first, self.replicate_last)

    @property
    def runs(self) -> int:
        """Runs in the task."""
        return (self.last - self.first) * (self.replicate_last - self.replicate_first)


REPLICATE_BLOCK = 1000
"""Replicates summarised together in the decisions and outcomes tables. Fixed, so that those
tables do not depend on how the sweep was cut into chunks."""


def plan_tasks(design: Design, chunk_runs: int) -> list[Task]:
    """Cut the experiment into tasks of about ``chunk_runs`` runs.

    Samples are grouped while a sample's replicates fit in a chunk; a sample with more
    replicates than that is split into ranges of whole replicate blocks.
    """
    replicates = design.experiment.replicates
    tasks = []
    for s in range(len(design.scenarios)):
        if replicates <= chunk_runs:
            per_task = max(1, chunk_runs // replicates)
            for first in range(0, design.samples, per_task):
                last = min(first + per_task, design.samples)
                tasks.append(Task(s, first, last, 0, replicates))
            continue
        span = max(1, chunk_runs // REPLICATE_BLOCK) * REPLICATE_BLOCK
        for sample in range(design.samples):
            for start in range(0, replicates, span):
                tasks.append(Task(s, sample, sample + 1, start, min(start + span, replicates)))
    return tasks


# --- running one task -----------------------------------------------------------------------


def _weight_arrays(design: Design, scenario: int, sample: int) -> tuple[np.ndarray, np.ndarray]:
    """A sample's utility weights (6, T) and precisions (6,)."""
    changed = design.sample_parameters(design.base_parameters[scenario], sample)
    if not design.experiment.calibration_draws:
        return changed.weights, changed.precision
    weights, precision = (a[sample].copy() for a in design.calibration_sets[scenario])
    # inputs and the scenario's overrides take precedence over the draw where they set a value
    written = design.file_parameters[scenario]
    moved_w = changed.weights != written.weights
    moved_p = changed.precision != written.precision
    weights[moved_w], precision[moved_p] = changed.weights[moved_w], changed.precision[moved_p]
    return weights, precision


def _blocks(design: Design, task: Task) -> Iterator[tuple[list[int], MultivectorModel]]:
    """Models to run for a task: one for all its samples if only weights vary, else one each."""
    replicates = len(task.replicates)
    scenario = design.scenarios[task.scenario]
    base = design.base_parameters[task.scenario]
    seed = design.experiment.seed
    samples = list(range(task.first, task.last))
    needs_sets = design.experiment.calibration_draws or bool(design.experiment.input)
    groups = [samples] if design.batched else [[s] for s in samples]
    for group in groups:
        sets = None
        if needs_sets and design.batched:
            arrays = [_weight_arrays(design, task.scenario, s) for s in group]
            sets = (
                np.repeat(np.stack([w for w, _ in arrays]), replicates, axis=0),
                np.repeat(np.stack([p for _, p in arrays]), replicates, axis=0),
            )
        elif design.experiment.calibration_draws:
            weights, precision = _weight_arrays(design, task.scenario, group[0])
            sets = (
                np.repeat(weights[None], replicates, axis=0),
                np.repeat(precision[None], replicates, axis=0),
            )
        parameters = base if design.batched else design.sample_parameters(base, group[0])
        spec = scenario if design.batched else design.sample_scenario(scenario, group[0])
        # every sample reuses replicate numbers 0..R-1: common random numbers across samples
        model = MultivectorModel(
            spec,
            rng=seed,
            parameters=parameters,
            replicate_ids=np.tile(task.replicates, len(group)),
            parameter_sets=sets,
            record=tuple(m for m in ("mood", "transit") if m in design.experiment.keep.metrics),
        )
        yield group, model.run()


def _kept_months(design: Design, months: list[int]) -> list[int]:
    """Positions of the months a sweep keeps."""
    keep = design.experiment.keep.months
    if keep == "all":
        return list(range(len(months)))
    if keep == "last":
        return [len(months) - 1]
    return year_ends(months)


def _runs_table(
    design: Design, task: Task, group: list[int], recorder: Recorder
) -> dict[str, np.ndarray]:
    replicates = len(task.replicates)
    kept = _kept_months(design, recorder.months)
    alignment = recorder.alignment_array()[kept]  # (M, R*, 6)
    m, total = alignment.shape[:2]
    columns: dict[str, Any] = {
        "scenario": pa.DictionaryArray.from_arrays(
            np.zeros(m * total, dtype=np.int32), [design.scenarios[task.scenario].name]
        ),
        "sample": np.tile(np.repeat(np.asarray(group, dtype=np.int32), replicates), m),
        "replicate": np.tile(task.replicates.astype(np.int32), m * len(group)),
        "month": pa.DictionaryArray.from_arrays(
            np.repeat(np.arange(len(kept), dtype=np.int32), total),
            [month_label(recorder.months[k]) for k in kept],
        ),
    }
    metrics = design.experiment.keep.metrics
    if "alignment" in metrics:
        for pole in POLES:
            columns[f"alignment_{pole}"] = alignment[..., INDEX[pole]].reshape(-1)
    if "balance" in metrics:
        columns["balance"] = balance(alignment[..., POLE_INDEX]).reshape(-1)
    arrays = {
        "dependence": recorder.dependence_array,
        "mood": recorder.mood_array,
        "transit": recorder.transit_array,
    }
    for metric, array in arrays.items():
        if metric in metrics:
            values = array()[kept]
            for code in ACTORS:
                if code != "KAZ":
                    columns[f"{metric}_{code}"] = values[..., INDEX[code]].reshape(-1)
    return columns


def _kept_decision(design: Design, key: str, deciders: tuple[int, ...]) -> bool:
    wanted = design.experiment.keep.decisions
    if wanted is not None:
        return key in wanted
    return KAZAKHSTAN in deciders and not is_reaction(key)


def _block_slices(task: Task) -> list[tuple[int, slice]]:
    """The replicate blocks a task's replicates fall in, as slices of its replicate axis."""
    out = []
    for start in range(task.replicate_first, task.replicate_last, REPLICATE_BLOCK):
        block = start // REPLICATE_BLOCK
        stop = min((block + 1) * REPLICATE_BLOCK, task.replicate_last)
        out.append((block, slice(start - task.replicate_first, stop - task.replicate_first)))
    return out


def _decision_rows(
    design: Design, task: Task, group: list[int], recorder: Recorder
) -> dict[str, list]:
    """Per sample and replicate block: each kept decision's option probabilities and choices.

    Rows hold sums and counts (summed probabilities, times chosen, replicates posed), so
    blocks combine exactly into per-sample figures.
    """
    replicates = len(task.replicates)
    scenario = design.scenarios[task.scenario].name
    rows: dict[str, list] = {name: [] for name in DECISION_SCHEMA.names}
    blocks = _block_slices(task)
    for record in recorder.decisions:
        decision = record.decision
        if not _kept_decision(design, decision.key, decision.deciders):
            continue
        posed = record.posed.reshape(len(group), replicates)
        probabilities = np.nan_to_num(
            record.probabilities.reshape(len(group), replicates, *record.probabilities.shape[1:])
        )
        choices = record.choices.reshape(len(group), replicates, -1)
        for g, sample in enumerate(group):
            for block, where in blocks:
                count = int(posed[g, where].sum())
                if count == 0:
                    continue  # rows only where posed, as a chunk records only what it posed
                sums = probabilities[g, where].sum(axis=0)  # (D, O)
                for d, actor in enumerate(decision.deciders):
                    chosen = np.bincount(
                        choices[g, where, d][choices[g, where, d] >= 0],
                        minlength=len(decision.options),
                    )
                    for o, option in enumerate(decision.options):
                        rows["scenario"].append(scenario)
                        rows["sample"].append(sample)
                        rows["block"].append(block)
                        rows["decision"].append(decision.key)
                        rows["month"].append(month_label(record.month))
                        rows["decider"].append(ACTORS[actor])
                        rows["option"].append(option)
                        rows["probability_sum"].append(float(sums[d, o]))
                        rows["chosen"].append(int(chosen[o]))
                        rows["posed"].append(count)
                        rows["replicates"].append(where.stop - where.start)
    return rows


def _outcome_rows(
    design: Design, task: Task, group: list[int], model: MultivectorModel
) -> dict[str, list]:
    """Per sample and replicate block: in how many replicates each outcome happened."""
    replicates = len(task.replicates)
    scenario = design.scenarios[task.scenario].name
    rows: dict[str, list] = {name: [] for name in OUTCOME_SCHEMA.names}
    for outcome in design.experiment.outcome:
        happened = np.ones(len(group) * replicates, dtype=bool)
        for condition in outcome.all:
            happened &= model.chose(condition.decision, INDEX[condition.actor], condition.chose)
        happened = happened.reshape(len(group), replicates)
        for g, sample in enumerate(group):
            for block, where in _block_slices(task):
                rows["scenario"].append(scenario)
                rows["sample"].append(sample)
                rows["block"].append(block)
                rows["outcome"].append(outcome.name)
                rows["happened"].append(int(happened[g, where].sum()))
                rows["replicates"].append(where.stop - where.start)
    return rows


def run_task(design: Design, task: Task) -> dict[str, pa.Table]:
    """Run one task and return its runs, decisions and outcomes tables."""
    parts: dict[str, list[pa.Table]] = {t: [] for t in TABLES}
    for group, model in _blocks(design, task):
        recorder = model.recorder
        runs = pa.table(_runs_table(design, task, group, recorder))
        # built as dictionaries (cheap), stored as plain strings (Parquet encodes them anyway)
        for column in ("scenario", "month"):
            decoded = runs.column(column).combine_chunks().dictionary_decode()
            runs = runs.set_column(runs.schema.get_field_index(column), column, decoded)
        parts["runs"].append(runs)
        parts["decisions"].append(
            pa.table(_decision_rows(design, task, group, recorder), schema=DECISION_SCHEMA)
        )
        parts["outcomes"].append(
            pa.table(_outcome_rows(design, task, group, model), schema=OUTCOME_SCHEMA)
        )
    return {t: pa.concat_tables(tables) for t, tables in parts.items()}


DECISION_SCHEMA = pa.schema(
    [
        ("scenario", pa.string()),
        ("sample", pa.int64()),
        ("block", pa.int64()),
        ("decision", pa.string()),
        ("month", pa.string()),
        ("decider", pa.string()),
        ("option", pa.string()),
        ("probability_sum", pa.float64()),
        ("chosen", pa.int64()),
        ("posed", pa.int64()),
        ("replicates", pa.int64()),
    ]
)
OUTCOME_SCHEMA = pa.schema(
    [
        ("scenario", pa.string()),
        ("sample", pa.int64()),
        ("block", pa.int64()),
        ("outcome", pa.string()),
        ("happened", pa.int64()),
        ("replicates", pa.int64()),
    ]
)


# --- the results folder ----------------------------------------------------------------------


def manifest(design: Design, chunk_runs: int, tasks: list[Task]) -> dict[str, Any]:
    """What produced the results: experiment and its hash, seeds, versions, the chunk plan."""
    library_sha256 = _library_sha(design)
    return {
        "experiment": {
            "name": design.experiment.name,
            "question": design.experiment.question,
            "file": str(design.path),
            "sha256": design.sha256,
        },
        "scenarios": [
            Provenance(s, p, library_sha256).manifest_entry()
            for s, p in zip(design.scenarios, design.base_parameters, strict=True)
        ],
        "seed": design.experiment.seed,
        "replicates_per_sample": design.experiment.replicates,
        "samples": design.samples,
        "runs": design.runs,
        "design": design.describe(),
        "outcomes": [o.name for o in design.experiment.outcome],
        "keep": design.experiment.keep.model_dump(),
        "package_version": __version__,
        "library_sha256": library_sha256,
        "shock_templates_sha256": templates_sha256(),
        "chunk_runs": chunk_runs,
        "chunks": len(tasks),
        "random_streams": "replicate r of every sample draws from the stream (seed, r): common "
        "random numbers across samples",
    }


def _library_sha(design: Design) -> str:
    from multivector.inputs.library import library_for

    extra = {f for s in design.scenarios for f in s.episodes}
    return library_for(sorted(extra)).sha256


def _samples_table(design: Design) -> pa.Table:
    columns: dict[str, Any] = {"sample": np.arange(design.samples, dtype=np.int64)}
    for k, spec in enumerate(design.experiment.input):
        columns[spec.target] = design.values[:, k]
    return pa.table(columns)


DRAWS = "draws.parquet"
"""The calibration draws of a sweep with ``calibration_draws``: per scenario and sample, the
free parameters drawn (so discovery and the reader can treat them as inputs)."""


def _draws_table(design: Design) -> pa.Table | None:
    """Per scenario and sample, each drawn free parameter; None without calibration draws."""
    from multivector.inputs.uncertainty import draw_points

    if not design.experiment.calibration_draws:
        return None
    pieces = []
    for number, base in enumerate(design.base_parameters):
        # the same draws as design.calibration_sets: same file, count and seed
        free, points = draw_points(base, design.samples, design.experiment.seed)
        columns: dict[str, Any] = {
            "scenario": pa.array([design.scenarios[number].name] * design.samples),
            "sample": np.arange(design.samples, dtype=np.int64),
        }
        columns |= {parameter.name: points[:, k] for k, parameter in enumerate(free)}
        pieces.append(pa.table(columns))
    return pa.concat_tables(pieces, promote_options="permissive")


def _stage_samples(files: FileSet, out: Path, design: Design) -> None:
    """Stage the samples table, and the calibration draws if the design has them."""
    files.parquet(out / "samples.parquet", _samples_table(design))
    draws = _draws_table(design)
    if draws is not None:
        files.parquet(out / DRAWS, draws)


CHUNK_RECORDS = "chunks"
"""The folder of chunk records: each chunk's three files with their size, sha256 and rows."""


def chunk_files(out: Path, task: Task) -> dict[str, Path]:
    """A task's three chunk files, by table."""
    return {t: out / t / f"{task.name}.parquet" for t in TABLES}


def chunk_record(out: Path, task: Task) -> Path:
    """Where a task's chunk record is kept."""
    return out / CHUNK_RECORDS / f"{task.name}.json"


def _relative(out: Path, path: Path) -> str:
    """A file's name in a results folder, as records list it (``runs/part-....parquet``)."""
    return path.relative_to(out).as_posix()


def write_chunk(out: Path, task: Task, tables: dict[str, pa.Table]) -> None:
    """Write a task's tables and their record, staged together, so a chunk is whole or absent.

    The record is staged last and so renamed into place last: a chunk with a record has all
    three files, each as the record describes it.
    """
    with staged() as files:
        entries = {}
        for table_name, path in chunk_files(out, task).items():
            files.parquet(path, tables[table_name], compression="zstd")
            # hashed under the staged name: the record describes exactly the bytes renamed
            entry = file_record(staged_name(path)) | {"rows": tables[table_name].num_rows}
            entries[_relative(out, path)] = entry
        files.json(chunk_record(out, task), {"chunk": task.name, "files": entries})


def file_problem(path: Path, entry: dict[str, Any], source: str, *, digest: bool) -> str | None:
    """How a file differs from what ``source`` records of it, or None if it matches.

    Sizes are always compared and a Parquet file's footer is read (with its row count, if
    recorded); the sha256 only if ``digest``, as it reads the whole file.
    """
    try:
        size = path.stat().st_size
    except OSError:
        return "is missing"
    if size != entry.get("bytes"):
        return f"is damaged (size differs from {source})"
    if path.suffix == ".parquet":
        try:
            rows = pq.read_metadata(path).num_rows
        except (OSError, pa.ArrowException):
            return "is damaged (its Parquet footer cannot be read)"
        if "rows" in entry and rows != entry["rows"]:
            return f"is damaged (row count differs from {source})"
    if digest and file_record(path)["sha256"] != entry.get("sha256"):
        return f"is damaged (sha256 differs from {source})"
    return None


def chunk_problem(out: Path, task: Task) -> str | None:
    """Why a kept chunk cannot be trusted, or None if its files match its record."""
    try:
        listed = _listing(json.loads(chunk_record(out, task).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return "its record is missing or unreadable"
    if set(listed) != {_relative(out, p) for p in chunk_files(out, task).values()}:
        return "its record lists other files"
    for name, entry in listed.items():
        problem = file_problem(out / name, entry, "its record", digest=True)
        if problem is not None:
            return f"{name} {problem}"
    return None


def _listing(record: Any) -> dict[str, dict[str, Any]]:
    """A record's ``files``: name to size, digest (and rows); TypeError if it is not one."""
    listed = {str(name): entry for name, entry in record["files"].items()}
    if not all(isinstance(entry, dict) for entry in listed.values()):
        raise TypeError("a file's entry is not a table")
    return listed


def present(out: Path, task: Task) -> bool:
    """Whether any of a task's chunk files or its record is in place."""
    paths = [*chunk_files(out, task).values(), chunk_record(out, task)]
    return any(path.exists() for path in paths)


def done(out: Path, task: Task) -> bool:
    """Whether a task's chunk is in place and matches its record."""
    return present(out, task) and chunk_problem(out, task) is None


def remove_chunk(out: Path, task: Task) -> None:
    """Delete a chunk's record and files (the record first: without it nothing is kept)."""
    chunk_record(out, task).unlink(missing_ok=True)
    for path in chunk_files(out, task).values():
        path.unlink(missing_ok=True)


def still_to_run(out: Path, tasks: list[Task]) -> tuple[list[Task], int]:
    """The tasks a sweep into ``out`` must run, and how many kept chunks failed verification.

    A chunk that is absent is run; one that is present but does not match its record (cut
    short, changed, or left without a record) is deleted and run again.
    """
    todo, rejected = [], 0
    for task in tasks:
        if not present(out, task):
            todo.append(task)
        elif chunk_problem(out, task) is not None:
            remove_chunk(out, task)
            todo.append(task)
            rejected += 1
    return todo, rejected


def write_complete(out: Path, design: Design, tasks: list[Task]) -> None:
    """Mark a sweep complete: every file of the dataset with its size and sha256.

    The chunks' entries come from their records (each verified on resume or written by this
    sweep), so only the manifest, the samples and draws tables are hashed here. The listing has the
    shape every results folder's ``complete.json`` has (``files``: name to bytes and sha256).
    """
    draws = [DRAWS] if design.experiment.calibration_draws else []
    tables = ("manifest.json", "samples.parquet", *draws)
    listed = {name: file_record(out / name) for name in tables}
    for task in tasks:
        record = json.loads(chunk_record(out, task).read_text())
        for name, entry in record["files"].items():
            listed[name] = {"bytes": entry["bytes"], "sha256": entry["sha256"]}
    write_json(out / COMPLETE, {"chunks": len(tasks), "runs": design.runs, "files": listed})


OPEN_CHECKS_DIGESTS = False
"""Whether opening a finished sweep hashes every file. Off: sizes and Parquet footers are
checked on every open, the sha256 by ``--resume`` only. Measured 2026-12-02 on the 150 files
(473 MB) of 100,000 runs of ``benchmarks/history_100k.toml``: sizes and footers 0.06 s (0.09 s
from disk); hashing 0.65-0.73 s with the files in the page cache and 1.0-1.15 s from disk
(evicted with ``posix_fadvise``), past the second an open may take; a sweep keeping mood and
transit too holds twice the bytes per run."""


def verify_results(folder: Path, *, digests: bool = OPEN_CHECKS_DIGESTS) -> dict[str, Any]:
    """Check a finished sweep's files against its ``complete.json`` before they are read.

    Returns:
        The parsed ``complete.json``.

    Raises:
        InputError: If the sweep is not complete, or a file is missing, damaged or unlisted;
            the message names the file and what to do.
    """
    marker = folder / COMPLETE
    if not marker.is_file():
        raise InputError(folder, "", "the sweep is not complete: run it again with --resume")
    try:
        found = json.loads(marker.read_text())
        listed = _listing(found)
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(
            marker, "", "lists no files (unreadable, or older): rerun the sweep with --resume"
        ) from None
    for name, entry in listed.items():
        problem = file_problem(folder / name, entry, COMPLETE, digest=digests)
        if problem is not None:
            raise InputError(folder, "", f"{_kind(name)} {name} {problem}: {_remedy(name)}")
    for path in _dataset_files(folder):
        if _relative(folder, path) not in listed:
            raise InputError(
                folder,
                "",
                f"chunk {_relative(folder, path)} is not listed in {COMPLETE}: remove it, "
                "or rerun the sweep into a new --out",
            )
    return found


def _dataset_files(folder: Path) -> list[Path]:
    """The Parquet files a reader of the dataset would read (hidden and staged ones it skips)."""
    found = (p for t in TABLES for p in (folder / t).glob("*.parquet"))
    return sorted(p for p in found if not p.name.startswith((".", "_")))


def _kind(name: str) -> str:
    return "chunk" if name.split("/")[0] in TABLES else "file"


def _remedy(name: str) -> str:
    # --resume rewrites chunks and the samples table, but cannot trust a damaged manifest
    if name == "manifest.json":
        return "run the sweep again into a new --out"
    return "rerun the sweep with --resume"


def _comparable(value: Any) -> Any:
    """A manifest entry without the file paths, which may be written differently on resume."""
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items() if k != "file"}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def resumed_chunk_runs(out: Path) -> int | None:
    """The chunk size of the sweep already in ``out``, if any."""
    existing = out / "manifest.json"
    try:
        return int(json.loads(existing.read_text())["chunk_runs"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


RESUMED_KEYS = (
    "experiment",
    "scenarios",
    "seed",
    "design",
    "package_version",
    "library_sha256",
    "shock_templates_sha256",
    "chunk_runs",
    "keep",
    "outcomes",
)
"""Manifest entries a resumed sweep must share with the sweep it continues."""


def prepare(out: Path, design: Design, chunk_runs: int, tasks: list[Task], resume: bool) -> None:
    """Create the results folder, or check that it holds the same experiment when resuming."""
    wanted = manifest(design, chunk_runs, tasks)
    existing = out / "manifest.json"
    if out.exists() and not out.is_dir():
        raise InputError(out, "", "is not a folder")
    if existing.is_file():
        if not resume:
            raise InputError(out, "", "already holds sweep results: use --resume or another --out")
        _check_same_sweep(existing, wanted)
        remove_staged(out)  # the samples and manifest, if killed while they were written
        remove_staged(out, f"*/{STAGED_GLOB}")  # a chunk being written when the sweep was killed
        # the samples are a function of the design: rewritten, so a damaged copy is repaired
        with staged() as files:
            _stage_samples(files, out, design)
        return
    if _holds_files(out) and not resume:
        raise InputError(out, "", "is not empty: choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    with staged() as files:
        _stage_samples(files, out, design)
        files.json(out / "manifest.json", wanted)


def _check_same_sweep(existing: Path, wanted: dict[str, Any]) -> None:
    """Refuse to resume a folder whose manifest is unreadable or names another sweep."""
    try:
        found = json.loads(existing.read_text())
    except (OSError, ValueError) as error:
        raise InputError(
            existing, "", f"cannot be read ({error}): run the sweep again into a new --out"
        ) from None
    if not isinstance(found, dict):
        raise InputError(existing, "", "is not a sweep's manifest: choose another --out")
    for key in RESUMED_KEYS:
        if _comparable(found.get(key)) != _comparable(wanted.get(key)):
            raise InputError(
                existing, key, "differs from this experiment: resume only the same sweep"
            )


def _holds_files(out: Path) -> bool:
    """Whether a folder holds anything but the lock this sweep holds on it."""
    return out.is_dir() and any(p.name != LOCK_NAME for p in out.iterdir())


# --- executing ---------------------------------------------------------------------------


@dataclass
class Report:
    """How a sweep went."""

    chunks: int
    already_done: int
    ran: int
    failed: list[tuple[str, str]]
    seconds: float
    rejected: int = 0
    """Kept chunks that failed verification on resume and were run again (counted in ran)."""

    def as_dict(self) -> dict[str, Any]:
        """For the CLI's JSON output."""
        return {
            "chunks": self.chunks,
            "already_done": self.already_done,
            "ran": self.ran,
            "rejected": self.rejected,
            "failed": [{"chunk": c, "error": e} for c, e in self.failed],
            "seconds": round(self.seconds, 2),
        }


_WORKER_DESIGN: Design | None = None

PR_SET_PDEATHSIG = 1
"""The prctl(2) option that names the signal a Linux process gets when its parent dies."""

PARENT_POLL_SECONDS = 0.5
"""How often a worker's watchdog checks that the sweep that started it is still alive."""


def _init_worker(design: Design, parent: int) -> None:
    global _WORKER_DESIGN
    _die_with_parent(parent)
    _WORKER_DESIGN = design


def _die_with_parent(parent: int) -> None:
    """Make this worker exit as soon as the sweep process ``parent`` dies, even by kill -9.

    An idle worker waits on the pool's queue, whose pipe a forked worker holds both ends of,
    so it would never see the parent go and would wait (or compute) forever. On Linux the
    kernel kills it (``PR_SET_PDEATHSIG``; the pool starts its workers from the thread that
    runs the sweep, which outlives the pool, so the signal does not come early); everywhere,
    and for a parent that died before that was set, a watchdog thread compares the parent's
    pid with the one the sweep recorded.
    """
    _kill_me_with_parent()
    if os.getppid() != parent:  # the parent is gone already: this worker was re-parented
        os._exit(1)
    threading.Thread(
        target=_watch_parent, args=(parent,), name="parent-watchdog", daemon=True
    ).start()


def _kill_me_with_parent() -> None:
    """Ask the Linux kernel to SIGKILL this process when its parent dies (elsewhere a no-op)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # no prctl to call: the watchdog thread still ends the worker


def _watch_parent(parent: int) -> None:
    """Exit the process once its parent is no longer ``parent`` (it died; we were adopted)."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)  # no clean-up: the results are the parent's to write, and it is gone


def _run_in_worker(task: Task) -> dict[str, pa.Table]:
    assert _WORKER_DESIGN is not None
    return run_task(_WORKER_DESIGN, task)


def _run_local(
    design: Design, tasks: list[Task], workers: int
) -> Iterator[tuple[Task, dict[str, pa.Table] | None, str | None]]:
    """Run tasks on a local process pool (or in this process for one worker)."""
    if workers <= 1:
        for task in tasks:
            yield from _attempts(lambda t=task: run_task(design, t), task)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context(_start_method())
    # the parent's pid recorded here, not in the worker: a worker that starts after the parent
    # died then sees a different parent at once
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(design, os.getpid())
    ) as pool:
        tries = dict.fromkeys(tasks, 0)
        with warnings.catch_warnings():
            # the only other threads are numpy's and Arrow's idle pools, which re-initialise
            # themselves in a forked child (both register at-fork handlers)
            warnings.filterwarnings("ignore", "This process .* is multi-threaded")
            pending = {pool.submit(_run_in_worker, t): t for t in tasks}
        try:
            while pending:
                future = next(as_completed(pending))
                task = pending.pop(future)
                try:
                    yield task, future.result(), None
                except Exception as error:  # noqa: BLE001 - any failure is retried, then reported
                    tries[task] += 1
                    if tries[task] <= RETRIES:
                        pending[pool.submit(_run_in_worker, task)] = task
                    else:
                        yield task, None, f"{type(error).__name__}: {error}"
        except BaseException:
            processes = list((getattr(pool, "_processes", None) or {}).values())
            manager = getattr(pool, "_executor_manager_thread", None)
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.kill()  # do not wait for running chunks on Ctrl-C
            if manager is not None:
                # the pool's thread sees the killed workers and closes its wake-up pipe; joined
                # here, so the interpreter's exit hook cannot write to that pipe as it closes
                # (CPython 3.12.1 races there and prints an EBADF traceback)
                manager.join(timeout=30)
            raise


def _start_method() -> str:
    """Fork where it is safe (POSIX, no other Python threads), else spawn.

    A forked worker starts at once with the model already imported; a spawned one imports
    numpy, pandas and Mesa again, which takes over a second. Forking a process that runs other
    Python threads (a progress display, a Dask client) can deadlock, so then they are spawned.
    """
    import multiprocessing
    import threading

    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return "fork"
    return "spawn"


def _attempts(
    call: Callable[[], dict[str, pa.Table]], task: Task
) -> Iterator[tuple[Task, dict[str, pa.Table] | None, str | None]]:
    error = ""
    for _ in range(RETRIES + 1):
        try:
            yield task, call(), None
            return
        except Exception as exc:  # noqa: BLE001 - any failure is retried, then reported
            error = f"{type(exc).__name__}: {exc}"
    yield task, None, error


def _connect(address: str) -> Any:
    """A Dask client for the scheduler at ``address``, or an input error naming it."""
    from distributed import Client

    try:
        return Client(address, timeout="20s")
    except (OSError, TimeoutError, ValueError) as error:
        problem = " ".join(str(error).split())
        raise InputError(address, "", f"cannot reach the Dask scheduler: {problem}") from None


def _run_dask(
    design: Design, tasks: list[Task], client: Any
) -> Iterator[tuple[Task, dict[str, pa.Table] | None, str | None]]:
    """Run tasks on a Dask distributed cluster: the same task function, as futures."""
    from distributed import as_completed

    with client:
        shared = client.scatter(design, broadcast=True)
        futures = {
            client.submit(
                run_task,
                shared,
                task,
                key=f"{task.name}-{design.sha256[:12]}",
                retries=RETRIES,
                pure=False,
            ): task
            for task in tasks
        }
        try:
            for future in as_completed(futures):
                task = futures[future]
                try:
                    yield task, future.result(), None
                except Exception as error:  # noqa: BLE001 - reported after the retries
                    yield task, None, f"{type(error).__name__}: {error}"
        except BaseException:
            client.cancel(list(futures))
            raise


def sweep(
    design: Design,
    out: Path,
    *,
    workers: int = 0,
    scheduler: str | None = None,
    resume: bool = False,
    chunk_runs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Run an experiment into ``out``.

    The folder is checked (a writable folder with room for the estimated dataset) before any
    work and locked for the whole sweep; on resume every kept chunk is verified against its
    record, and one that fails is run again.

    Args:
        design: The loaded experiment.
        out: Results folder.
        workers: Local worker processes (0: one per core).
        scheduler: A Dask scheduler address (``tcp://host:port``) instead of local workers.
        resume: Continue a sweep in ``out``, skipping the chunks already written.
        chunk_runs: Runs per chunk (the experiment's own if None).
        progress: Called with (runs done, runs in all) after each chunk.

    Raises:
        InputError: If ``out`` cannot take the results, another process is writing it, or it
            holds another sweep.
    """
    start = time.perf_counter()
    if chunk_runs is None and resume:
        chunk_runs = resumed_chunk_runs(out)
    chunk_runs = chunk_runs or design.experiment.chunk_runs
    tasks = plan_tasks(design, chunk_runs)
    check_output_folder(out, bytes_to_write(out, design, tasks))
    client = _connect(scheduler) if scheduler else None  # before anything is written
    try:
        with folder_lock(out):  # held until complete.json is written: one writer at a time
            prepare(out, design, chunk_runs, tasks, resume)
            report = _run_chunks(out, design, tasks, client, workers, progress)
    finally:
        if client is not None:
            client.close()  # if the lock was refused the tasks never ran to close it
    report.seconds = time.perf_counter() - start
    return report


def _run_chunks(
    out: Path,
    design: Design,
    tasks: list[Task],
    client: Any,
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> Report:
    """Run the tasks not yet (validly) in ``out`` and write their chunks, then complete.json."""
    (out / COMPLETE).unlink(missing_ok=True)  # a resumed sweep is incomplete until it finishes
    todo, rejected = still_to_run(out, tasks)
    runs_done = sum(t.runs for t in tasks if t not in todo)
    if progress:
        progress(runs_done, design.runs)
    workers = workers or os.cpu_count() or 1
    results = _run_dask(design, todo, client) if client else _run_local(design, todo, workers)
    failed = []
    try:
        for task, tables, error in results:
            if tables is None:
                failed.append((task.name, error or "unknown error"))
                continue
            write_chunk(out, task, tables)
            runs_done += task.runs
            if progress:
                progress(runs_done, design.runs)
    finally:
        # an interruption while a chunk is being written still stops the workers
        results.close()
    if not failed:
        write_complete(out, design, tasks)
    kept = len(tasks) - len(todo)
    return Report(len(tasks), kept, len(todo) - len(failed), failed, 0.0, rejected)


# --- the size of a sweep on disk -------------------------------------------------------------

BYTES_PER_VALUE = 4.0
"""Bytes on disk per metric value the runs table keeps (one run, one kept month, one metric
column), its id columns included. Measured 2026-12-02 (issue 16) on finished sweeps, dataset
bytes over kept values: ``benchmarks/history_100k.toml`` (every month, 9 columns: 472.4 MB of
runs tables for 118.8 million values, 3.98 bytes; the most, as every month differs) and
``experiments/sanctions_sweep.toml`` (Decembers, 19 columns: 0.82 bytes, end states that
repeat across replicates compress well). The larger figure, so the estimate errs high."""

BYTES_PER_CHUNK = 32_000
"""Bytes on disk per chunk beyond its values: its decisions and outcomes tables, Parquet
footers and record. Measured with :data:`BYTES_PER_VALUE`: 19.4 kB per chunk (history_100k,
one sample and 1,000-replicate blocks) and 31.5 kB (sanctions_sweep, 17 samples a chunk)."""

DISK_MARGIN = 1.25
"""Room asked for beyond the estimate: a sweep whose values compress less than measured."""


def value_columns(design: Design) -> int:
    """Metric columns the runs table holds (each kept metric has one per pole or actor)."""
    per_metric = {
        "alignment": len(POLES),
        "balance": 1,
        "dependence": len(ACTORS) - 1,
        "mood": len(ACTORS) - 1,
        "transit": len(ACTORS) - 1,
    }
    return sum(per_metric[m] for m in design.experiment.keep.metrics)


def kept_rows(design: Design) -> int:
    """Rows of the runs table: per run, one for each month it keeps."""
    rows = 0
    per_scenario = design.samples * design.experiment.replicates
    for scenario in design.scenarios:
        months = list(range(scenario.first_month, scenario.last_month + 1))
        rows += per_scenario * len(_kept_months(design, months))
    return rows


def estimated_bytes(design: Design, tasks: list[Task]) -> int:
    """About how many bytes the whole dataset takes on disk (see :data:`BYTES_PER_VALUE`)."""
    values = kept_rows(design) * max(1, value_columns(design))
    return int(DISK_MARGIN * (values * BYTES_PER_VALUE + len(tasks) * BYTES_PER_CHUNK))


def bytes_to_write(out: Path, design: Design, tasks: list[Task]) -> int:
    """About how many bytes a sweep into ``out`` still writes: the share of the runs not kept."""
    kept = sum(t.runs for t in tasks if present(out, t))
    return int(estimated_bytes(design, tasks) * (1 - kept / max(1, design.runs)))
