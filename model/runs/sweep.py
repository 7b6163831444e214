"""Sweeps: an experiment's runs in chunks, on a local process pool or a Dask cluster.

The experiment is cut into tasks (a scenario and a range of samples). A task runs the model on
every replicate of its samples and returns three tables; the coordinating process writes each
task's tables as Parquet files under temporary names and renames them when all three are
written, so a finished chunk is never lost and an unfinished one never half-counted. A task is
a pure function of the experiment and its own sample range, and every replicate draws from its
own stream, so the dataset is the same whatever the worker count, the chunk size, or whether
the tasks ran locally or on Dask.
"""

import json
import os
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from multivector.actors import ACTORS, INDEX, KAZAKHSTAN, POLES
from multivector.calendar import month_label, year_ends
from multivector.core.model import MultivectorModel
from multivector.core.observation import POLE_INDEX, Recorder, balance
from multivector.errors import InputError
from multivector.files import STAGED_GLOB, remove_staged, staged, write_text
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


def done(out: Path, task: Task) -> bool:
    """Whether a task's three chunk files are all in place."""
    return all((out / t / f"{task.name}.parquet").is_file() for t in TABLES)


def write_chunk(out: Path, task: Task, tables: dict[str, pa.Table]) -> None:
    """Write a task's tables, staged together, so a chunk is whole or absent."""
    with staged() as files:
        for table_name in TABLES:
            path = out / table_name / f"{task.name}.parquet"
            files.parquet(path, tables[table_name], compression="zstd")


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


def prepare(out: Path, design: Design, chunk_runs: int, tasks: list[Task], resume: bool) -> None:
    """Create the results folder, or check that it holds the same experiment when resuming."""
    wanted = manifest(design, chunk_runs, tasks)
    existing = out / "manifest.json"
    if out.exists() and not out.is_dir():
        raise InputError(out, "", "is not a folder")
    if existing.is_file():
        if not resume:
            raise InputError(out, "", "already holds sweep results: use --resume or another --out")
        found = json.loads(existing.read_text())
        for key in (
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
        ):
            if _comparable(found.get(key)) != _comparable(wanted.get(key)):
                raise InputError(
                    existing, key, "differs from this experiment: resume only the same sweep"
                )
        remove_staged(out, f"*/{STAGED_GLOB}")  # a chunk being written when the sweep was killed
        return
    if out.exists() and any(out.iterdir()) and not resume:
        raise InputError(out, "", "is not empty: choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    with staged() as files:
        files.parquet(out / "samples.parquet", _samples_table(design))
        files.json(out / "manifest.json", wanted)


# --- executing ---------------------------------------------------------------------------


@dataclass
class Report:
    """How a sweep went."""

    chunks: int
    already_done: int
    ran: int
    failed: list[tuple[str, str]]
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """For the CLI's JSON output and complete.json."""
        return {
            "chunks": self.chunks,
            "already_done": self.already_done,
            "ran": self.ran,
            "failed": [{"chunk": c, "error": e} for c, e in self.failed],
            "seconds": round(self.seconds, 2),
        }


_WORKER_DESIGN: Design | None = None


def _init_worker(design: Design) -> None:
    global _WORKER_DESIGN
    _WORKER_DESIGN = design


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
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(design,)
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

    Args:
        design: The loaded experiment.
        out: Results folder.
        workers: Local worker processes (0: one per core).
        scheduler: A Dask scheduler address (``tcp://host:port``) instead of local workers.
        resume: Continue a sweep in ``out``, skipping the chunks already written.
        chunk_runs: Runs per chunk (the experiment's own if None).
        progress: Called with (runs done, runs in all) after each chunk.
    """
    start = time.perf_counter()
    if chunk_runs is None and resume:
        chunk_runs = resumed_chunk_runs(out)
    chunk_runs = chunk_runs or design.experiment.chunk_runs
    tasks = plan_tasks(design, chunk_runs)
    client = _connect(scheduler) if scheduler else None  # before anything is written
    prepare(out, design, chunk_runs, tasks, resume)
    todo = [t for t in tasks if not done(out, t)]
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
    report = Report(
        len(tasks),
        len(tasks) - len(todo),
        len(todo) - len(failed),
        failed,
        time.perf_counter() - start,
    )
    if not failed:
        write_text(
            out / "complete.json", json.dumps({"chunks": len(tasks), "runs": design.runs}) + "\n"
        )
    return report
