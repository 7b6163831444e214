"""The Python API: run, compare, sweep, calibrate and predict from a notebook or a script.

The ``multivector`` command line is written on these functions, so a result obtained here is
the one the command prints and writes. Bad input raises
:class:`~multivector.errors.InputError`, whose message is the command's one-line error.

Example::

    import multivector as mv

    history = mv.run("scenarios/history_2014_2026.toml", replicates=50, seed=7)
    history.trajectories  # one row per replicate and month (pandas)
    history.summary["alignment_by_year"]
    history.fan_chart()  # a matplotlib figure
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from multivector.analysis.discovery import Discovery
    from multivector.inputs.experiment import Design
    from multivector.inputs.parameters import Parameters
    from multivector.inputs.scenario import Scenario
    from multivector.runs.compare import Comparison
    from multivector.runs.runner import Run, RunEstimate
    from multivector.runs.sweep import Report


def load_scenario(scenario: "str | Path | Scenario") -> "Scenario":
    """The scenario itself, read and validated from its file if a path is given."""
    from multivector.inputs.scenario import Scenario
    from multivector.inputs.scenario import load_scenario as read

    return scenario if isinstance(scenario, Scenario) else read(Path(scenario))


def load_parameters(parameters: "str | Path | Parameters | None") -> "Parameters":
    """A parameter file (the calibrated one if None), read and validated."""
    from multivector.inputs.parameters import Parameters
    from multivector.inputs.parameters import load_parameters as read

    if isinstance(parameters, Parameters):
        return parameters
    return read(None if parameters is None else Path(parameters))


# --- runs ---------------------------------------------------------------------------------

RESULTS = Path("results")
"""Where results go unless a folder is given (relative to the working directory)."""


def run_folder(scenario: "Scenario", out: str | Path | None = None) -> Path:
    """A run's output folder: ``out``, or ``results/<scenario name>/``."""
    return Path(out) if out is not None else RESULTS / scenario.name


def sweep_folder(design: "Design", out: str | Path | None = None) -> Path:
    """A sweep's results folder: ``out``, or ``results/sweeps/<experiment name>/``."""
    return Path(out) if out is not None else RESULTS / "sweeps" / design.experiment.name


class RunResult:
    """A scenario's replicates, with its tables, summary and figure.

    Attributes:
        run: The run itself (:class:`~multivector.runs.runner.Run`).
    """

    def __init__(self, run: "Run") -> None:
        self.run = run

    def __repr__(self) -> str:
        return (
            f"RunResult({self.run.scenario.name!r}, replicates={self.run.replicates}, "
            f"seed={self.run.seed})"
        )

    @cached_property
    def provenance(self) -> dict[str, Any]:
        """What produced the run: scenario, seed, replicates, versions and input hashes."""
        from multivector.outputs.run_files import provenance

        return provenance(self.run)

    @cached_property
    def trajectories(self) -> "pd.DataFrame":
        """Kazakhstan's alignment and dependence per replicate and month (trajectories.parquet)."""
        from multivector.outputs.run_files import trajectories_table

        return trajectories_table(self.run, self.provenance).to_pandas()

    @cached_property
    def choices(self) -> "pd.DataFrame":
        """Every decision each replicate posed, with probabilities and choices (choices.parquet)."""
        from multivector.outputs.run_files import choices_table

        return choices_table(self.run, self.provenance).to_pandas()

    @cached_property
    def summary(self) -> dict[str, Any]:
        """Every figure ``multivector run`` prints, as in summary.json."""
        from multivector.analysis.summary import summarise

        return summarise(self.run, self.provenance)

    def fan_chart(self) -> "Figure":
        """Kazakhstan's alignment toward Russia, China and the US as a fan chart."""
        from multivector.viz.plotting import fan_figure

        return fan_figure(self.run)

    def write(self, out: str | Path | None = None) -> Path:
        """Write the run's tables, summary.json, alignment.png and agreement.png.

        trajectories.parquet, choices.parquet, summary.json and the two figures appear
        together or not at all.

        Args:
            out: The folder (default: ``results/<scenario name>/``).

        Returns:
            The folder.
        """
        from multivector.files import claimed, staged
        from multivector.outputs.run_files import write_outputs
        from multivector.viz.plotting import agreement_chart, fan_chart

        folder = run_folder(self.run.scenario, out)
        with claimed(folder), staged(complete=folder) as files:
            summary = write_outputs(self.run, folder, files)
            fan_chart(self.run, files.path(folder / "alignment.png"))
            agreement_chart(summary, files.path(folder / "agreement.png"))
        self.__dict__.setdefault("summary", summary)
        return folder


def estimate(
    scenario: "str | Path | Scenario",
    *,
    replicates: int | None = None,
    parameters: "str | Path | Parameters | None" = None,
) -> "RunEstimate":
    """What a run will cost in memory and on disk, before it starts (``data/costs.toml``).

    Args:
        scenario: A scenario file or a loaded scenario.
        replicates: Replicates (the scenario's own if None).
        parameters: A parameter file (the scenario's if None).
    """
    from multivector.runs.runner import estimate_run

    chosen = None if parameters is None else load_parameters(parameters)
    return estimate_run(load_scenario(scenario), replicates=replicates, parameters=chosen)


def refuse_unless_fits(
    cost: "RunEstimate", scenario: "Scenario", replicates: int | None = None
) -> None:
    """Raise an :class:`~multivector.errors.InputError` if a run cannot fit in memory now.

    Args:
        cost: The run's estimate (:func:`estimate`).
        scenario: The scenario (its file is named in the error).
        replicates: The replicates asked for in place of the scenario's (named so if given).
    """
    from multivector.runs.runner import available_memory

    where = scenario.source.file if scenario.source is not None else scenario.name
    cost.fits(available_memory(), where, "replicates" if replicates is None else "--replicates")


def run(
    scenario: "str | Path | Scenario",
    *,
    replicates: int | None = None,
    seed: int | None = None,
    parameters: "str | Path | Parameters | None" = None,
    progress: Callable[[int], None] | None = None,
) -> RunResult:
    """Run a scenario's replicates.

    Args:
        scenario: A scenario file or a loaded scenario.
        replicates: Replicates (the scenario's own if None).
        seed: Seed (the scenario's own if None).
        parameters: A parameter file (the scenario's if None).
        progress: Called with the number of replicate-months just completed.
    """
    from multivector.runs.runner import run_scenario

    loaded = load_scenario(scenario)
    chosen = None if parameters is None else load_parameters(parameters)
    refuse_unless_fits(
        estimate(loaded, replicates=replicates, parameters=chosen), loaded, replicates
    )
    result = run_scenario(
        loaded, replicates=replicates, seed=seed, parameters=chosen, progress=progress
    )
    return RunResult(result)


# --- comparisons --------------------------------------------------------------------------


class ComparisonResult:
    """A scenario against its baseline on common random numbers, with its drift.

    Attributes:
        comparison: The two runs (:class:`~multivector.runs.compare.Comparison`).
    """

    def __init__(self, comparison: "Comparison") -> None:
        self.comparison = comparison

    def __repr__(self) -> str:
        return (
            f"ComparisonResult({self.comparison.scenario.scenario.name!r} against "
            f"{self.comparison.baseline.scenario.name!r})"
        )

    @cached_property
    def summary(self) -> dict[str, Any]:
        """Everything drift.json holds."""
        from multivector.analysis.drift import drift_summary

        return drift_summary(self.comparison)

    @property
    def drift(self) -> "pd.DataFrame":
        """Drift per year and pole (scenario minus baseline): median, 90% interval, mean."""
        import pandas as pd

        rows = [
            {"year": row["year"], "month": row["month"], "pole": pole, **row[pole]}
            for row in self.summary["drift_by_year"]
            for pole in ("RUS", "CHN", "USA")
        ]
        return pd.DataFrame(rows)

    def figure(self) -> "Figure":
        """The drift toward each pole as a fan chart, with the scenario's events marked."""
        from multivector.viz.plotting import drift_figure

        return drift_figure(self.comparison)

    def write(self, out: str | Path) -> Path:
        """Write drift.json and drift.png into ``out`` (together or not at all)."""
        from multivector.outputs.comparison import write_comparison

        folder = Path(out)
        self.__dict__.setdefault("summary", write_comparison(self.comparison, folder))
        return folder


def _file_of(scenario: "str | Path | Scenario") -> Path:
    if isinstance(scenario, str | Path):
        return Path(scenario)
    if scenario.source is None:
        raise ValueError(f"scenario {scenario.name!r} was built in code: pass its file instead")
    return Path(scenario.source.file)


def compare(
    baseline: "str | Path | Scenario",
    scenario: "str | Path | Scenario",
    *,
    replicates: int | None = None,
    seed: int | None = None,
) -> ComparisonResult:
    """Run a scenario and its baseline on the same seed and replicates.

    Args:
        baseline: The baseline scenario (its file, or loaded from one).
        scenario: The scenario with its shocks.
        replicates: Replicates (the scenario's own if None).
        seed: Seed (the scenario's own if None).
    """
    from multivector.runs.compare import compare as paired

    comparison = paired(
        load_scenario(baseline),
        load_scenario(scenario),
        baseline_file=_file_of(baseline),
        scenario_file=_file_of(scenario),
        replicates=replicates,
        seed=seed,
    )
    return ComparisonResult(comparison)


# --- sweeps -------------------------------------------------------------------------------


@dataclass
class SweepResults:
    """A sweep's results folder, read as pandas tables.

    Attributes:
        folder: The folder ``sweep`` wrote.
        report: How the sweep that produced it went (None when opened from disk).
    """

    folder: Path
    report: "Report | None" = None

    @cached_property
    def _reader(self) -> Any:
        from multivector.analysis.sweep_results import SweepReader

        return SweepReader(self.folder)

    @property
    def complete(self) -> bool:
        """Whether every chunk was written."""
        return (self.folder / "complete.json").is_file()

    @property
    def manifest(self) -> dict[str, Any]:
        """The experiment, its seeds, input hashes and versions (manifest.json)."""
        return self._reader.manifest

    @property
    def samples(self) -> "pd.DataFrame":
        """One row per sample: the inputs each sample set."""
        return self._reader.samples.to_pandas()

    def table(self, name: str) -> "pd.DataFrame":
        """One of the datasets: ``runs``, ``decisions`` or ``outcomes``."""
        if name not in ("runs", "decisions", "outcomes"):
            raise ValueError(f"no table {name!r}: runs, decisions or outcomes")
        return self._reader.table(name).to_pandas()

    def plot(self, out: str | Path | None = None) -> dict[str, Any]:
        """Draw the sweep's figures into ``out`` (default: ``<folder>/figures``)."""
        from multivector.viz.sweep_plots import plot_sweep

        return plot_sweep(self.folder, Path(out) if out else self.folder / "figures")


def open_sweep(folder: str | Path) -> SweepResults:
    """Open a finished sweep's results folder."""
    results = SweepResults(Path(folder))
    results.manifest  # noqa: B018 - fails at once on a folder that is not a finished sweep
    return results


def load_experiment(experiment: "str | Path | Design") -> "Design":
    """The experiment's design, read and validated from its file if a path is given."""
    from multivector.inputs.experiment import Design
    from multivector.inputs.experiment import load_experiment as read

    return experiment if isinstance(experiment, Design) else read(Path(experiment))


def sweep(
    experiment: "str | Path | Design",
    *,
    out: str | Path | None = None,
    workers: int = 0,
    scheduler: str | None = None,
    resume: bool = False,
    chunk_runs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SweepResults:
    """Run an experiment's samples and replicates into a Parquet dataset, chunk by chunk.

    Args:
        experiment: An experiment file or a loaded design.
        out: Results folder (default: ``results/sweeps/<name>/``).
        workers: Local worker processes (0: one per core).
        scheduler: A Dask scheduler address (``tcp://host:port``) instead of local workers.
        resume: Continue a sweep in ``out``, keeping its finished chunks.
        chunk_runs: Runs per chunk (the experiment's own if None).
        progress: Called with (runs done, runs in all) after each chunk.

    Returns:
        The results; ``report`` says which chunks ran, and ``complete`` whether all did.
    """
    from multivector.runs.sweep import sweep as run_sweep

    design = load_experiment(experiment)
    folder = sweep_folder(design, out)
    report = run_sweep(
        design,
        folder,
        workers=workers,
        scheduler=scheduler,
        resume=resume,
        chunk_runs=chunk_runs,
        progress=progress,
    )
    return SweepResults(folder, report)


@dataclass
class DiscoveryResult:
    """A scenario discovery over a finished sweep (PRIM or CART, with feature scores).

    Attributes:
        discovery: What was found (:class:`multivector.analysis.discovery.Discovery`).
        reader: The sweep it read.
    """

    discovery: "Discovery"
    reader: Any

    @property
    def summary(self) -> dict[str, Any]:
        """The findings and their provenance, as ``discovery.json`` holds them (no figures)."""
        from multivector.outputs.discovery import discovery_record

        return discovery_record(self.discovery, self.reader)

    @property
    def box(self) -> "pd.DataFrame":
        """The reported box: one row per restricted input, in the input's units."""
        import pandas as pd

        return pd.DataFrame([limit.as_dict() for limit in self.discovery.box.limits])

    def default_folder(self) -> Path:
        """``<results>/discovery/<target>-<method>-per-<unit>/``."""
        from multivector.analysis.discovery import slug

        found = self.discovery
        return self.reader.folder / "discovery" / slug(found.target, found.method)

    def write(self, out: str | Path | None = None) -> dict[str, Any]:
        """Write discovery.json and the figures (default folder: :meth:`default_folder`)."""
        from multivector.outputs.discovery import write_discovery

        folder = Path(out) if out is not None else self.default_folder()
        return write_discovery(self.discovery, self.reader, folder)


def discover(
    results: str | Path,
    *,
    outcome: str | None = None,
    where: str | None = None,
    method: str = "prim",
    per: str = "sample",
    threshold: float | None = None,
    month: str | None = None,
    scenario: str | None = None,
    box: int | None = None,
) -> DiscoveryResult:
    """Scenario discovery: under which ranges of a sweep's inputs does an outcome happen?

    Args:
        results: A finished sweep's results folder.
        outcome: An outcome the experiment defines (``[[outcome]]``); or give ``where``.
        where: An end-state condition on the runs table, e.g. ``"alignment_RUS < 0.5"``.
        method: ``"prim"`` or ``"cart"``.
        per: ``"sample"``: a row per sample, a case of interest when the outcome holds in at
            least ``threshold`` of its replicates; ``"replicate"``: a row per run.
        threshold: The share for ``per="sample"`` (default 0.5).
        month: The month ``where`` is read in (``YYYY-MM``; default: the last kept month).
        scenario: The scenario, when the sweep ran several.
        box: PRIM: the box on the trade-off to report (default: best harmonic mean of
            coverage and density).

    Raises:
        InputError: Bad arguments, or a folder that is not a finished sweep.
    """
    from multivector.analysis.discovery import (
        DEFAULT_THRESHOLD,
        PER,
        Target,
        load_rows,
        parse_condition,
    )
    from multivector.analysis.discovery import discover as find
    from multivector.analysis.sweep_results import SweepReader
    from multivector.calendar import month_label, parse_month
    from multivector.errors import InputError

    if (outcome is None) == (where is None):
        raise InputError("discover", "", "give either --outcome NAME or --where CONDITION")
    if per not in PER:
        raise InputError("--per", "", f"{per!r}: choose {' or '.join(PER)}")
    if threshold is not None and per != "sample":
        raise InputError("--threshold", "", "applies to --per sample only")
    if threshold is not None and not 0 < threshold <= 1:
        raise InputError("--threshold", "", f"{threshold:g} is not a share above 0, at most 1")
    if month is not None and where is None:
        raise InputError("--month", "", "applies to --where only (outcomes count whole runs)")
    if month is not None:
        try:
            month = month_label(parse_month(month))
        except ValueError:
            raise InputError("--month", "", f"{month!r} is not a month YYYY-MM") from None
    condition = parse_condition(where) if where is not None else None
    target = Target(
        outcome=outcome,
        condition=condition,
        per=per,
        threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
        month=month,
    )
    reader = SweepReader(Path(results))
    rows = load_rows(reader, target, scenario)
    return DiscoveryResult(
        find(rows, target, method, box=box, seed=reader.manifest["seed"]), reader
    )


# --- calibration and prediction -----------------------------------------------------------


def calibrate(
    *,
    out: str | Path | None = None,
    report: str | Path | None = "results/calibration",
    workers: int = 2,
    progress: Callable[[str, int, int], None] | None = None,
    until: str | None = None,
    leave_one_out: bool = True,
    designs: tuple[str, ...] | None = None,
    rolling_origin: bool = True,
) -> dict[str, Any]:
    """Fit the utility weights and precision to the documented choices, and validate them.

    Writes the calibrated parameter file (by default the one every run uses) and, unless
    ``report`` is None, the report with its figures. The headline validation is out of time
    (rolling origin, 2016-2026); leave-one-episode-out over the library is the second figure.

    Args:
        out: The calibrated file to write (default: the shipped calibrated file).
        report: Folder for report.md and its figures.
        workers: Processes for the origins and folds.
        progress: Called with (stage, steps done, steps in all).
        until: Fit only on choices before this month (``YYYY-MM``), for a file to forecast
            later votes with; the rolling origins are those before it.
        leave_one_out: Also cross-validate leave one episode out.
        rolling_origin: Validate out of time (rolling origin); without it only the fit.
        designs: Designs to compare (the ``actors`` design if None).

    Returns:
        The figures ``multivector calibrate --json`` prints.
    """
    import hashlib

    from multivector.analysis.calibration import ORIGINS
    from multivector.analysis.calibration import calibrate as fit_and_validate
    from multivector.calendar import parse_month
    from multivector.errors import InputError
    from multivector.inputs.library import load_library
    from multivector.inputs.parameters import CALIBRATED, DOCUMENTED_DEFAULTS
    from multivector.inputs.uncertainty import DESIGNS
    from multivector.outputs.calibrated import calibrated_file_text, write_calibrated
    from multivector.outputs.report import calibration_summary, write_report

    target = Path(out) if out is not None else CALIBRATED
    prior = load_parameters(DOCUMENTED_DEFAULTS)
    library = load_library()
    try:
        before = None if until is None else parse_month(until)
    except ValueError as error:
        raise InputError("--until", "", str(error)) from None
    unknown = [d for d in designs or () if d not in DESIGNS]
    if unknown:
        raise InputError("--design", "", f"unknown design(s) {unknown}; expected {list(DESIGNS)}")
    calibrated = fit_and_validate(
        prior,
        library,
        designs=tuple(designs) if designs else DESIGNS[-1:],
        progress=progress,
        workers=workers,
        until=before,
        origins=ORIGINS if rolling_origin else None,
        leave_one_out=leave_one_out,
    )
    text = calibrated_file_text(calibrated, prior, library)
    write_calibrated(text, target)
    summary = calibration_summary(calibrated, target, hashlib.sha256(text.encode()).hexdigest())
    if report is not None:
        write_report(summary, calibrated, Path(report))
    return summary


@dataclass(frozen=True)
class Forecast:
    """Each decider's option probabilities for a set of decisions.

    Attributes:
        parameters: The parameter file used.
        decisions: One entry per decision and decider, as ``--json`` prints them.
        file: The episode file forecast (None for the documented record).
        draws: Parameter draws behind the 90% intervals.
        seed: Seed of the draws.
        score: For a votes file that names the six states' votes: log-loss, Brier score and
            accuracy per actor beside the baselines (``--score``).
    """

    parameters: "Parameters"
    decisions: list[dict[str, Any]]
    file: Path | None = None
    draws: int = 0
    seed: int = 0
    score: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON ``multivector predict`` (or ``episodes``) prints."""
        parameters = {"file": self.parameters.path.name, "sha256": self.parameters.sha256}
        if self.file is None:
            return {"parameters": parameters, "decisions": self.decisions}
        out = {
            "file": str(self.file),
            "parameters": parameters,
            "draws": self.draws,
            "seed": self.seed,
            "decisions": self.decisions,
        }
        if self.score is not None:
            out["score"] = self.score
        return out

    @property
    def table(self) -> "pd.DataFrame":
        """One row per decision and decider, a column ``p_<option>`` per option."""
        import pandas as pd

        rows = []
        for entry in self.decisions:
            row = {k: v for k, v in entry.items() if k not in ("probabilities", "interval_90")}
            row |= {f"p_{o}": p for o, p in entry["probabilities"].items()}
            rows.append(row)
        return pd.DataFrame(rows)


def predict(
    file: str | Path,
    *,
    parameters: "str | Path | Parameters | None" = None,
    draws: int = 200,
    seed: int = 0,
    score: bool = False,
) -> Forecast:
    """Forecast each decider's choice for episodes (TOML) or UN votes (CSV) written in a file.

    Args:
        file: Episodes in the library's format (TOML, see docs/episodes.md), or votes in the
            columns of the shared votes file (CSV; the six state columns, if present, are not
            used by the forecast).
        parameters: A parameter file (the calibrated one if None).
        draws: Parameter draws from the calibration's uncertainty for the 90% intervals.
        seed: Seed of the draws.
        score: For a votes file: score the forecast against the state columns, per actor,
            beside the baselines fitted on the record before the file's first month.
    """
    from multivector.analysis.prediction import forecast_file, score_votes

    loaded = load_parameters(parameters)
    path = Path(file)
    found, model, votes = forecast_file(path, loaded, draws=draws, seed=seed)
    used = draws if loaded.spec.calibration is not None else 0
    scored = None
    if score:
        if not votes:
            from multivector.errors import InputError

            raise InputError(path, "", "--score needs a votes file (CSV) naming recorded votes")
        scored = score_votes(found, votes, model, path)
    return Forecast(loaded, [p.as_dict() for p in found], path, used, seed, scored)


def episodes(*, parameters: "str | Path | Parameters | None" = None) -> Forecast:
    """Every documented decision: each decider's probabilities beside the recorded choice."""
    from multivector.analysis.prediction import predictions
    from multivector.inputs.library import load_library
    from multivector.runs.replay import replay_record

    loaded = load_parameters(parameters)
    rows = [p.as_dict() for p in predictions(replay_record(loaded, load_library()))]
    return Forecast(loaded, rows)


# --- comparative statics ------------------------------------------------------------------


def statics(
    file: str | Path = "experiments/statics.toml",
    *,
    replicates: int | None = None,
    only: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure a comparative-statics file: does each lever move its outcome the way it should?

    Args:
        file: The statics file (``experiments/statics.toml``, docs/scenarios.md).
        replicates: Replicates per lever value (the file's if None).
        only: Measure only the rows with these ids.
        progress: Called with each row's id once it is measured.

    Returns:
        The report ``multivector statics --json`` prints: per row the lever's values, the
        measured outcome at each, the change, and whether it passed.

    Raises:
        InputError: If the file, a row's scenario, lever or outcome is invalid, or ``only``
            names a row the file does not have.
    """
    from multivector.analysis.statics import measure
    from multivector.errors import InputError
    from multivector.inputs.statics import load_statics

    loaded = load_statics(Path(file))
    known = {row.id for row in loaded.spec.row}
    for position, name in enumerate(only or []):
        if name not in known:
            raise InputError(Path(file), f"only[{position}]", f"no row '{name}' in the file")
    report = None if progress is None else (lambda row: progress(row.id))
    return measure(loaded, replicates=replicates, only=only, progress=report)
