"""The ``multivector`` command line.

Heavy libraries (numpy, pandas, matplotlib, mesa) are imported inside the commands, so
``multivector --help`` answers at once.
"""

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

try:  # typer 0.29 vendors click; earlier versions use click itself
    from typer._click import exceptions as usage
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as usage

if TYPE_CHECKING:
    from multivector.api import RunResult
    from multivector.inputs.scenario import Scenario


class OneLineErrors(TyperGroup):
    """Typer's command group, with usage errors printed as one line.

    Typer prints a bad option as a usage line and a boxed message over five or six lines; a
    script reading stderr, and a user, want the one line every other error gives:
    ``error: Invalid value for '--replicates': 0 is not in the range 1<=x<=1000000.``
    """

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """Run the command line; in standalone mode, exit with its code."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except usage.NoArgsIsHelpError as error:
            error.show()  # no arguments: the help itself, as before
            sys.exit(error.exit_code)
        except usage.ClickException as error:
            sys.exit(_usage_error(error))
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _usage_error(error: usage.ClickException) -> int:
    """Print a usage error as one line naming the command's help; returns the exit code."""
    from multivector.errors import printable

    message = printable(" ".join(error.format_message().split()))
    context = getattr(error, "ctx", None)
    if context is not None:
        message += f" (see '{context.command_path} --help')"
    typer.echo(f"error: {message}", err=True)
    return error.exit_code


app = typer.Typer(
    cls=OneLineErrors,
    name="multivector",
    help="Agent-based simulation of Kazakhstan's multi-vector foreign policy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ReplicatesOption = Annotated[
    int | None, typer.Option(min=1, max=1_000_000, help="Replicates (default: scenario's).")
]
SeedOption = Annotated[
    int | None, typer.Option(min=0, max=2**63 - 1, help="Seed (default: scenario's).")
]

LONG_RUN = 20_000
"""Replicate-months above which a progress bar is shown."""


def fail(message: str) -> NoReturn:
    """Print a one-line error to stderr and exit with code 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


@app.callback()
def main() -> None:
    """Agent-based simulation of Kazakhstan's multi-vector foreign policy."""


def _execute(scenario: "Scenario", replicates: int | None, seed: int | None) -> "RunResult":
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from multivector import api

    count = scenario.replicates if replicates is None else replicates
    months = scenario.last_month - scenario.first_month + 1
    columns = (TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True, disable=count * months < LONG_RUN) as bar:
        task = bar.add_task(f"{scenario.name}: {count} replicates", total=count * months)
        return api.run(
            scenario,
            replicates=replicates,
            seed=seed,
            progress=lambda done: bar.advance(task, done),
        )


def _print_summary(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"[bold]{summary['scenario']['name']}[/bold]: {summary['scenario']['question']}\n"
        f"seed {summary['seed']}, {summary['replicates']} replicates, "
        f"parameters {summary['parameters']['file']} ({summary['parameters']['sha256'][:12]}), "
        f"multivector {summary['package_version']}"
    )
    years = Table(title="Kazakhstan's alignment each December: median [90% interval]")
    years.add_column("year")
    for pole in ("RUS", "CHN", "USA"):
        years.add_column(f"toward {pole}", justify="right")
    years.add_column("balance", justify="right")
    for row in summary["alignment_by_year"]:
        cells = [
            f"{row[k]['median']:+.2f} [{row[k]['p05']:+.2f}, {row[k]['p95']:+.2f}]"
            for k in ("RUS", "CHN", "USA")
        ]
        b = row["balance"]
        years.add_row(
            str(row["year"]), *cells, f"{b['median']:.2f} [{b['p05']:.2f}, {b['p95']:.2f}]"
        )
    console.print(years)
    episodes = Table(title="Kazakhstan's decisions: option probabilities (mean over replicates)")
    for column in ("month", "decision", "probabilities", "observed", "posed"):
        episodes.add_column(column, overflow="fold")
    for row in summary["kazakhstan_decisions"]:
        probs = "  ".join(f"{o} {p:.2f}" for o, p in row["probabilities"].items())
        observed = row["observed"] or "-"
        if row["observed"] is not None:
            mark = "✓" if row["model_mode"] == row["observed"] else "✗"
            observed = f"{observed} {mark}"
        episodes.add_row(
            row["month"], row["decision"], probs, observed, f"{row['posed_share']:.0%}"
        )
    console.print(episodes)
    fit = summary["fit_to_record"]
    if fit.get("decisions"):
        console.print(
            f"Documented Kazakh choices: {fit['decisions']}; mean probability given to them "
            f"{fit['mean_probability_of_observed']:.2f}; log-loss {fit['log_loss']:.3f}; "
            f"modal choice matches {fit['modal_choice_matches']}/{fit['decisions']}"
        )
    patterns = Table(title="Documented patterns (checks passed on this run)")
    for column in ("pattern", "passed", "failed checks"):
        patterns.add_column(column, overflow="fold")
    for pattern in summary["patterns"]:
        failed = [c["check"] for c in pattern["checks"] if c["passed"] is False]
        patterns.add_row(
            pattern["id"], f"{pattern['passed']}/{pattern['judged']}", "; ".join(failed) or "-"
        )
    console.print(patterns)
    votes = summary["un_votes"]
    pairs = [p for p in votes if p.startswith("KAZ-") and "s_score" in votes[p]]
    if pairs:
        scores = Table(title="UN votes: Kazakhstan's S-score with each state (model vs record)")
        for column in ("pair", "votes", "S-score median [90%]", "recorded S-score"):
            scores.add_column(column)
        for pair in pairs:
            s = votes[pair]["s_score"]
            recorded = votes[pair].get("observed_s_score")
            scores.add_row(
                pair,
                str(votes[pair]["votes"]),
                f"{s['median']:+.2f} [{s['p05']:+.2f}, {s['p95']:+.2f}]",
                "-" if recorded is None else f"{recorded:+.2f}",
            )
        console.print(scores)
    _print_agreement_by_year(summary["un_votes_by_year"])
    _print_face_validity(summary["face_validity"])


def _print_face_validity(validity: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    if not validity["periods"]:
        return
    table = Table(
        title="Face validity: documented warming and cooling (model/data/periods.toml) beside "
        "the model's median change of alignment, and the episodes' push beyond relaxation"
    )
    table.add_column("period", no_wrap=True)
    table.add_column("months")
    table.add_column("record")
    for column in ("change", "push", "pushed so"):
        table.add_column(column, justify="right")
    for row in validity["periods"]:
        months = row["start"] if row["start"] == row["end"] else f"{row['start']}/{row['end']}"
        table.add_row(
            row["id"],
            months,
            f"{row['pole']} {row['record']}",
            f"{row['model_median_change']:+.3f}",
            f"{row['episodes_push']:+.3f} {'✓' if row['agrees'] else '✗'}",
            f"{row['share_pushed_as_recorded']:.0%}",
        )
    console = Console()
    console.print(table)
    console.print(
        f"Face validity: the episodes push Kazakhstan the recorded way in {validity['agreeing']} "
        f"of {validity['judged']} periods ({validity['agreement']:.0%})."
    )


def _print_agreement_by_year(by_year: dict[str, dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    pairs = [p for p in ("KAZ-RUS", "KAZ-CHN", "KAZ-USA") if p in by_year]
    years = sorted({y for p in pairs for y, e in by_year[p].items() if "agreement" in e})
    if not years:
        return
    table = Table(title="UN agreement by year: model median [90%] | record")
    table.add_column("year")
    table.add_column("votes", justify="right")
    for pair in pairs:
        table.add_column(pair, justify="right")
    for year in years:
        cells = []
        for pair in pairs:
            entry = by_year[pair].get(year, {})
            if "agreement" not in entry:
                cells.append("-")
                continue
            a = entry["agreement"]
            recorded = entry.get("observed_agreement")
            cells.append(
                f"{a['median']:.2f} [{a['p05']:.2f}-{a['p95']:.2f}] | "
                + ("-" if recorded is None else f"{recorded:.2f}")
            )
        votes = by_year[pairs[0]].get(year, {}).get("votes", 0)
        table.add_row(year, str(votes), *cells)
    Console().print(table)


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (TOML).")],
    replicates: ReplicatesOption = None,
    seed: SeedOption = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: results/<scenario name>/).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print summary.json to stdout.")] = False,
) -> None:
    """Run a scenario and write trajectories, choices, a summary and a fan chart."""
    from multivector import api
    from multivector.errors import InputError
    from multivector.files import claimed

    try:
        loaded = api.load_scenario(scenario)
        folder = api.run_folder(loaded, out)
        cost = api.estimate(loaded, replicates=replicates)
        api.refuse_unless_fits(cost, loaded, replicates)
        # the folder is checked (space for the estimate) and locked before the run, not after
        with claimed(folder, cost.disk_bytes):
            result = _execute(loaded, replicates, seed)
            result.write(folder)  # the files appear together, complete.json last
    except InputError as error:
        fail(str(error))
    except OSError as error:
        fail(f"{folder}: cannot write results: {error.strerror or error}")
    summary = result.summary
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        _print_summary(summary)
        typer.echo(
            f"wrote {folder}/: trajectories.parquet choices.parquet summary.json alignment.png "
            "agreement.png"
        )


@app.command()
def calibrate(
    out: Annotated[
        Path | None,
        typer.Option(help="Calibrated parameter file (default: the one runs use by default)."),
    ] = None,
    report: Annotated[Path, typer.Option(help="Folder for report.md and figures.")] = Path(
        "results/calibration"
    ),
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Processes for the origins and folds.")
    ] = 2,
    until: Annotated[
        str | None,
        typer.Option(help="Fit only on choices before this month (YYYY-MM), e.g. 2024-01."),
    ] = None,
    leave_one_out: Annotated[
        bool, typer.Option(help="Also cross-validate leave one episode out (the second figure).")
    ] = True,
    rolling_origin: Annotated[
        bool, typer.Option(help="Validate out of time, rolling origin 2016-2026 (the headline).")
    ] = True,
    design: Annotated[
        list[str] | None, typer.Option(help="Design(s) to compare (default: actors).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Fit the utility weights and precision to the record, and validate them out of time."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from multivector import api
    from multivector.errors import InputError
    from multivector.files import check_output_folder
    from multivector.inputs.parameters import CALIBRATED

    target = out or CALIBRATED
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    try:
        # both destinations checked before twenty minutes of fitting, not after
        check_output_folder(report)
        check_output_folder(target.parent)
        if target.is_dir():
            raise InputError(target, "", "is a folder: give the parameter file to write")
    except InputError as error:
        fail(str(error))
    try:
        with Progress(*columns, transient=True) as bar:
            tasks: dict[str, Any] = {}

            def advance(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done)

            summary = api.calibrate(
                out=target,
                report=report,
                workers=workers,
                progress=advance,
                until=until,
                leave_one_out=leave_one_out,
                designs=tuple(design) if design else None,
                rolling_origin=rolling_origin,
            )
    except InputError as error:
        fail(str(error))
    except OSError as error:
        fail(f"{error.filename or target}: cannot write: {error.strerror or error}")
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return
    _print_calibration(summary)
    typer.echo(f"wrote {target} and {report}/report.md")


def _print_calibration(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"Calibrated {summary['parameters']} parameters ({summary['design']}) on "
        f"{summary['decisions']} documented choices {summary['by_category']}; in-sample "
        f"log-loss {summary['in_sample']['log_loss']:.3f}"
    )

    def figures(title: str, rows: list[tuple[str, dict]], names: list[str]) -> None:
        table = Table(title=title)
        table.add_column("")
        table.add_column("n", justify="right")
        for name in names:
            table.add_column(name.replace("_", " "), justify="right")
        for label, block in rows:
            table.add_row(
                label,
                str(block["choices"]),
                *(f"{block[n]['log_loss']:.3f} ({block[n]['accuracy']:.2f})" for n in names),
            )
        console.print(table)

    oot = summary["rolling_origin"]
    if oot is not None:
        names = [k for k in oot["all"] if k != "choices"]
        rows = [
            ("all", oot["all"]),
            *oot["by_actor"].items(),
            *oot["by_category"].items(),
            *((f"KAZ {c}", b) for c, b in oot["KAZ_by_category"].items()),
        ]
        figures(
            f"Out of time (rolling origin {oot['origins'][0]}-{oot['origins'][-1]}): "
            "log-loss (accuracy)",
            rows,
            names,
        )
        bins = [r for r in oot["reliability"] if r["forecasts"]]
        console.print(
            "Reliability (forecast -> observed, n): "
            + "; ".join(
                f"{r['mean_forecast']:.2f} -> {r['observed']:.2f} ({r['forecasts']})" for r in bins
            )
        )
    loo = summary["leave_one_episode_out"]
    if loo is not None:
        names = ["in_sample", "leave_one_episode_out", *loo["baselines"]]
        figures(
            "Leave one library episode out: log-loss (accuracy)",
            [*loo["by_category"].items(), ("KAZ", loo["by_actor"]["KAZ"])],
            names,
        )
    estimates = Table(title="Estimates (Laplace sd)")
    for column in ("parameter", "estimate", "sd", "prior mean"):
        estimates.add_column(column)
    for name, e in summary["estimates"].items():
        estimates.add_row(
            name, f"{e['estimate']:+.3f}", f"{e['sd']:.3f}", f"{e['prior_mean']:+.3f}"
        )
    console.print(estimates)


def _print_predictions(rows: list[dict[str, Any]], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in ("month", "decision", "decider", "probabilities", "observed"):
        table.add_column(column, overflow="fold")
    for row in rows:
        interval = row.get("interval_90", {})
        probs = "  ".join(
            f"{o} {p:.2f}"
            + (f" [{interval[o][0]:.2f}-{interval[o][1]:.2f}]" if o in interval else "")
            for o, p in row["probabilities"].items()
        )
        observed = row.get("observed") or "-"
        if row.get("observed"):
            best = max(row["probabilities"], key=row["probabilities"].get)
            observed += " ✓" if best == row["observed"] else " ✗"
        table.add_row(row["month"], row["decision"], row["decider"], probs, observed)
    Console().print(table)


@app.command()
def episodes(
    parameters: Annotated[
        Path | None, typer.Option(help="Parameter file (default: the calibrated one).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every documented decision: each decider's predicted probabilities beside the record."""
    from multivector import api
    from multivector.errors import InputError

    try:
        forecast = api.episodes(parameters=parameters)
    except InputError as error:
        fail(str(error))
    if as_json:
        sys.stdout.write(json.dumps(forecast.as_dict(), indent=2) + "\n")
        return
    name = forecast.parameters.path.name
    _print_predictions(forecast.decisions, f"Documented decisions, replayed with {name}")


@app.command()
def predict(
    file: Annotated[
        Path,
        typer.Argument(
            help="Episodes in the library's format (TOML), or UN votes in the columns of the "
            "shared votes file (CSV)."
        ),
    ],
    parameters: Annotated[
        Path | None, typer.Option(help="Parameter file (default: the calibrated one).")
    ] = None,
    draws: Annotated[
        int, typer.Option(min=0, max=10_000, help="Parameter draws for the 90% interval.")
    ] = 200,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the parameter draws.")] = 0,
    score: Annotated[
        bool,
        typer.Option(
            "--score",
            help="Votes file: score the forecast against its recorded votes, per actor, beside "
            "the baselines fitted on the record before its first month.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Predict each decider's option probabilities for episodes or UN votes written in a file."""
    from multivector import api
    from multivector.errors import InputError

    try:
        forecast = api.predict(file, parameters=parameters, draws=draws, seed=seed, score=score)
    except InputError as error:
        fail(str(error))
    if as_json:
        sys.stdout.write(json.dumps(forecast.as_dict(), indent=2) + "\n")
        return
    name = forecast.parameters.path.name
    _print_predictions(forecast.decisions, f"Predicted for {file} with {name} (90% interval)")
    if forecast.score is not None:
        _print_score(forecast.score)


def _print_score(score: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    names = [k for k in score["all"] if k != "choices"]
    table = Table(
        title=f"Log-loss (Brier) per actor; baselines fitted before {score['trained_before']}"
    )
    table.add_column("actor")
    table.add_column("votes", justify="right")
    for name in names:
        table.add_column(name.replace("_", " "), justify="right")
    for label, block in [("all", score["all"]), *score["by_actor"].items()]:
        table.add_row(
            label,
            str(block["choices"]),
            *(f"{block[n]['log_loss']:.3f} ({block[n]['brier']:.3f})" for n in names),
        )
    Console().print(table)


def _print_drift(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    scenario, baseline = summary["scenario"], summary["baseline"]
    console.print(
        f"[bold]{scenario['name']}[/bold] against [bold]{baseline['name']}[/bold]: "
        f"{scenario['question']}\nseed {summary['seed']}, {summary['replicates']} paired "
        f"replicates, multivector {summary['package_version']}; events: "
        + ("; ".join(f"{e['month']} {e['label']}" for e in summary["events"]) or "none")
    )
    years = Table(title="Drift of Kazakhstan's alignment (scenario − baseline): median [90%]")
    years.add_column("year")
    for pole in ("RUS", "CHN", "USA"):
        years.add_column(f"toward {pole}", justify="right")
    for row in summary["drift_by_year"]:
        years.add_row(
            str(row["year"]),
            *(
                f"{row[p]['median']:+.3f} [{row[p]['p05']:+.2f},{row[p]['p95']:+.2f}]"
                for p in ("RUS", "CHN", "USA")
            ),
        )
    console.print(years)
    moved = Table(title="Decisions whose choice probabilities moved most (baseline → scenario)")
    for column in ("month", "decision", "decider", "probabilities", "moved"):
        moved.add_column(column, overflow="fold")
    for row in summary["moved_decisions"]:
        for decider in row["deciders"]:
            before, after = decider["baseline"], decider["scenario"]
            if before is None or after is None:
                continue
            probs = "  ".join(f"{o} {before[o]:.2f}→{after[o]:.2f}" for o in after)
            moved.add_row(
                row["month"], row["decision"], decider["decider"], probs, f"{row['movement']:.2f}"
            )
    console.print(moved)
    own = Table(title="The scenario's own decisions: option probabilities (mean where posed)")
    own.add_column("from")
    for column in ("decision", "decider", "probabilities", "posed"):
        own.add_column(column, overflow="fold")
    for row in summary["scenario_decisions"]:
        for decider in row["deciders"]:
            if decider["scenario"] is not None:
                probs = "  ".join(f"{o} {p:.2f}" for o, p in decider["scenario"].items())
                share = f"{row['posed_share']['scenario']:.0%}"
                own.add_row(row["first_month"], row["decision"], decider["decider"], probs, share)
    if summary["scenario_decisions"]:
        console.print(own)


@app.command()
def compare(
    baseline: Annotated[Path, typer.Argument(help="Baseline scenario file (TOML).")],
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario files to compare with it.")],
    replicates: ReplicatesOption = None,
    seed: SeedOption = None,
    out: Annotated[Path, typer.Option(help="Output folder; one subfolder per scenario.")] = Path(
        "results/compare"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print drift.json to stdout.")] = False,
) -> None:
    """Paired runs of scenarios against a baseline: the drift of Kazakhstan's alignment.

    Each scenario and the baseline run on the same seed and replicates over the scenario's
    months (common random numbers); writes drift.json and drift.png per scenario.
    """
    from multivector import api
    from multivector.errors import InputError
    from multivector.files import check_output_folder

    try:
        base = api.load_scenario(baseline)
        loaded = [api.load_scenario(path) for path in scenarios]
        for scenario in loaded:  # every pair checked before the first runs
            cost = api.estimate(scenario, replicates=replicates)
            api.refuse_unless_fits(cost.paired(), scenario, replicates)
            check_output_folder(out / scenario.name)
    except InputError as error:
        fail(str(error))
    summaries = []
    for scenario in loaded:
        try:
            comparison = api.compare(base, scenario, replicates=replicates, seed=seed)
            folder = comparison.write(out / scenario.name)
            summary = comparison.summary
        except InputError as error:
            fail(str(error))
        except OSError as error:
            fail(f"{out}: cannot write results: {error.strerror or error}")
        summaries.append(summary)
        if not as_json:
            _print_drift(summary)
            typer.echo(f"wrote {folder}/: drift.json drift.png")
    if as_json:
        payload = summaries[0] if len(summaries) == 1 else summaries
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")


def _print_statics(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Comparative statics: {report['passed']} of {report['total']} rows hold")
    for column in ("row (lever values: outcome)", "change", "expected", ""):
        table.add_column(column, overflow="fold")
    for row in report["rows"]:
        measured = zip(row["values"], row["measured"], strict=True)
        pairs = ", ".join(f"{v:g}: {m:.3f}" for v, m in measured)
        table.add_row(
            f"{row['id']}\n  {row['label']} -> {row['outcome']}\n  {pairs}",
            f"{row['change']:+.3f}",
            f"{row['expect']} >= {row['min_change']:g}",
            "✓" if row["passed"] else "✗",
        )
    Console().print(table)


@app.command()
def statics(
    file: Annotated[Path, typer.Argument(help="Statics file (TOML).")] = Path(
        "experiments/statics.toml"
    ),
    replicates: Annotated[
        int | None,
        typer.Option(min=10, max=100_000, help="Replicates per lever value (default: file's)."),
    ] = None,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Measure only this row (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Comparative statics: does every lever move the choice or state it should, and how far?

    Runs each row's scenario at each value of its lever on common random numbers. Exits 1 if a
    row does not hold (docs/scenarios.md, "Comparative statics").
    """
    from rich.progress import Progress

    from multivector import api
    from multivector.errors import InputError

    bar = Progress(transient=True, disable=as_json)
    task = bar.add_task("rows", total=None)
    started = []

    def advance(_: str) -> None:
        if not started:  # on the first row measured: a file refused prints nothing to stdout
            bar.start()
            started.append(True)
        bar.advance(task)

    try:
        report = api.statics(file, replicates=replicates, only=only, progress=advance)
    except InputError as error:
        fail(str(error))
    finally:
        if started:
            bar.stop()
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        _print_statics(report)
    if report["passed"] < report["total"]:
        raise typer.Exit(code=1)


@app.command()
def sweep(
    experiment: Annotated[Path, typer.Argument(help="Experiment file (TOML).")],
    workers: Annotated[
        int, typer.Option(min=0, max=512, help="Local worker processes (0: one per core).")
    ] = 0,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Dask scheduler address (tcp://HOST:PORT) instead of local workers."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Results folder (default: results/sweeps/<name>/).")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue a sweep, keeping its finished chunks.")
    ] = False,
    chunk_runs: Annotated[
        int | None, typer.Option(min=1, max=1_000_000, help="Runs per chunk (default: file's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Run an experiment's samples and replicates into a Parquet dataset, chunk by chunk."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from multivector import api
    from multivector.errors import InputError

    try:
        design = api.load_experiment(experiment)
    except InputError as error:
        fail(str(error))
    folder = api.sweep_folder(design, out)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    # refreshed by hand after each chunk: no refresh thread, so workers can be forked safely
    with Progress(*columns, transient=True, disable=as_json, auto_refresh=False) as bar:
        task = bar.add_task(design.experiment.name, total=design.runs)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done)
            bar.refresh()

        try:
            report = api.sweep(
                design,
                out=folder,
                workers=workers,
                scheduler=scheduler,
                resume=resume,
                chunk_runs=chunk_runs,
                progress=advance,
            ).report
        except InputError as error:
            fail(str(error))
        except KeyboardInterrupt:
            typer.echo(
                f"interrupted: finished chunks are kept in {folder}/; run again with --resume",
                err=True,
            )
            raise typer.Exit(code=130) from None
    summary = report.as_dict() | {"out": str(folder), "runs": design.runs}
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        scenarios = len(design.scenarios)
        typer.echo(
            f"{design.experiment.name}: {design.runs:,} runs ({scenarios} "
            f"scenario{'s' * (scenarios != 1)} x {design.samples} samples x "
            f"{design.experiment.replicates} replicates) in {report.seconds:.1f} s; chunks "
            f"{report.chunks} ({report.already_done} kept from before, {report.ran} run now"
            + (
                f", {report.rejected} of them rerun because they no longer matched their records"
                if report.rejected
                else ""
            )
            + "); "
            + ("wrote" if not report.failed else "incomplete results in")
            + f" {folder}/"
        )
    if report.failed:
        for chunk, error in report.failed:
            typer.echo(f"error: chunk {chunk} failed after retries: {error}", err=True)
        count = len(report.failed)
        typer.echo(
            f"run again with --resume to retry the {count} failed chunk{'s' * (count != 1)}",
            err=True,
        )
        raise typer.Exit(code=1)


@app.command()
def plot(
    results: Annotated[Path, typer.Argument(help="A sweep's results folder.")],
    out: Annotated[
        Path | None, typer.Option(help="Where to write figures (default: RESULTS/figures/).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was drawn as JSON.")] = False,
) -> None:
    """Draw a sweep's outcome distributions, sensitivity indices and input scatters."""
    from multivector import api
    from multivector.errors import InputError

    try:
        drawn = api.open_sweep(results).plot(out or results / "figures")
    except InputError as error:
        fail(str(error))
    if as_json:
        sys.stdout.write(json.dumps(drawn, indent=2) + "\n")
    else:
        for figure in drawn["figures"]:
            typer.echo(f"wrote {figure}")


@app.command()
def discover(
    results: Annotated[Path, typer.Argument(help="A finished sweep's results folder.")],
    outcome: Annotated[
        str | None, typer.Option(help="An outcome the experiment defines ([[outcome]]).")
    ] = None,
    where: Annotated[
        str | None,
        typer.Option(help="An end-state condition instead, e.g. 'alignment_RUS < 0.5'."),
    ] = None,
    method: Annotated[str, typer.Option(help="prim or cart.")] = "prim",
    per: Annotated[
        str, typer.Option(help="sample (a row per sample) or replicate (a row per run).")
    ] = "sample",
    threshold: Annotated[
        float | None,
        typer.Option(help="--per sample: the share of replicates that makes a case (0.5)."),
    ] = None,
    month: Annotated[
        str | None, typer.Option(help="--where: the month read (default: the last kept).")
    ] = None,
    scenario: Annotated[
        str | None, typer.Option(help="The scenario, when the sweep ran several.")
    ] = None,
    box: Annotated[
        int | None,
        typer.Option(min=0, help="PRIM: report this box of the trade-off instead."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Where to write (default: RESULTS/discovery/<target>-<method>-...)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Scenario discovery: which ranges of the sweep's inputs make an outcome happen."""
    from multivector import api
    from multivector.errors import InputError

    try:
        found = api.discover(
            results,
            outcome=outcome,
            where=where,
            method=method,
            per=per,
            threshold=threshold,
            month=month,
            scenario=scenario,
            box=box,
        )
        record = found.write(out)
    except InputError as error:
        fail(str(error))
    if as_json:
        sys.stdout.write(json.dumps(record, indent=2) + "\n")
    else:
        _print_discovery(record)


def _print_discovery(record: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    target, found = record["target"], record["box"]
    console.print(
        f"[bold]{record['sweep']['experiment']['name']}[/bold], {record['method'].upper()}: "
        f"{target['description']}\n{record['cases']:,} cases of interest in {record['rows']:,} "
        f"rows (base rate {record['base_rate']:.3f})"
    )
    title = (
        f"box{'' if found['id'] is None else ' ' + str(found['id'])}: coverage "
        f"{found['coverage']:.3f}, density {found['density']:.3f}, mass {found['mass']:.3f}"
    )
    table = Table(title=title, title_justify="left")
    for column in ("input", "box", "sampled range", "quasi-p"):
        table.add_column(column, justify="left" if column == "input" else "right")
    for limit in found["limits"]:
        table.add_row(
            limit["label"],
            _interval(limit),
            f"{limit['sampled_min']:.3g} to {limit['sampled_max']:.3g}",
            " / ".join(
                _quasi_p(limit[f"quasi_p_{side}"]) for side in ("low", "high")
                if side in limit["restricted"]
            ),
        )  # fmt: skip
    console.print(table)
    if not found["limits"]:
        console.print("the box restricts no input: no region does better than the base rate")
    if record["dropped_restrictions"]:
        names = {i["input"]: i["label"] for i in record["inputs"]}
        dropped = ", ".join(names[d] for d in record["dropped_restrictions"])
        console.print(f"dropped as not significant (quasi-p above 0.05): {dropped}")
    if record["leaves"]:
        rules = Table(title="CART leaves of interest (density at least 0.5)", title_justify="left")
        for column in ("leaf", "rule", "coverage", "density", "mass"):
            rules.add_column(column, justify="left" if column == "rule" else "right")
        for leaf in record["leaves"]:
            if leaf["density"] >= 0.5:
                rules.add_row(str(leaf["id"]), _rule(leaf["limits"]), f"{leaf['coverage']:.3f}",
                              f"{leaf['density']:.3f}", f"{leaf['mass']:.3f}")  # fmt: skip
        console.print(rules)
    scores = Table(title="feature scores (extra trees)", title_justify="left")
    scores.add_column("input")
    scores.add_column("score", justify="right")
    for entry in record["feature_scores"]:
        scores.add_row(entry["label"], f"{entry['score']:.3f}")
    console.print(scores)
    for figure in record["figures"]:
        typer.echo(f"wrote {figure}")  # one line each, never wrapped: scripts read the paths


def _interval(limit: dict[str, Any]) -> str:
    """A box's range on one input: ``0.59 to 1.93``, ``<= 0.705`` or ``>= 1.37``."""
    low, high = f"{limit['low']:.3g}", f"{limit['high']:.3g}"
    if limit["restricted"] == ["low"]:
        return f">= {low}"
    if limit["restricted"] == ["high"]:
        return f"<= {high}"
    return f"{low} to {high}"


def _quasi_p(value: float | None) -> str:
    if value is None:
        return "-"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _rule(limits: list[dict[str, Any]]) -> str:
    """A CART leaf as one rule: ``a <= 1.2 and b > 0.4``."""
    parts = []
    for limit in limits:
        if "low" in limit["restricted"]:
            parts.append(f"{limit['label']} > {limit['low']:.3g}")
        if "high" in limit["restricted"]:
            parts.append(f"{limit['label']} <= {limit['high']:.3g}")
    return " and ".join(parts) or "every row"


@app.command()
def teach(
    host: Annotated[
        str, typer.Option(help="Address to bind (0.0.0.0: the classroom network).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8765,
    class_name: Annotated[
        str | None,
        typer.Option(
            "--class", help="Start (or reopen) a class session of this name (needs --store)."
        ),
    ] = None,
    store: Annotated[
        Path | None,
        typer.Option(help="The class store (SQLite file): serve class sessions from it."),
    ] = None,
    scenario: Annotated[
        str | None, typer.Option(help="--class: the scenario in scenarios/ the class plays.")
    ] = None,
    seed: Annotated[
        str | None, typer.Option(help="--class: the seed (default: the scenario's).")
    ] = None,
    replicates: Annotated[
        int | None, typer.Option(help="--class: runs in each student's fan (10-300; 100).")
    ] = None,
) -> None:
    """Serve the teaching app, or a class session (--store, --class): docs/teaching.md."""
    if not is_loopback(host):
        typer.echo(
            f"warning: serving on {host}: anyone who can reach this machine on port {port} can "
            "open the app, without a password"
            + (" and join a class with its code" if store else "")
            + "; bind 127.0.0.1 (the default) unless a class on a trusted network needs it "
            "(docs/teaching.md)",
            err=True,
        )
    if store is None:
        if class_name is not None or scenario or seed or replicates is not None:
            fail("--class, --scenario, --seed and --replicates need --store FILE (the class store)")
        from multivector.app.page import serve

        serve(host=host, port=port)
        return
    address = f"http://{_reachable(host)}:{port}/"
    session = _open_class_store(store, class_name, scenario, seed, replicates, address)
    from multivector.app.class_page import serve_class
    from multivector.app.classroom import model_run

    if session is None:
        typer.echo(f"class sessions from {store}: students open {address}", err=True)
    else:  # the instructor's fan, computed before the class arrives
        model_run(session.scenario_file, session.seed, session.replicates)
    serve_class(store, host=host, port=port, address=address)


def _reachable(host: str) -> str:
    """The address to give students: the machine's own when bound to every interface."""
    import socket

    if host in ("0.0.0.0", "::", ""):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect(("192.0.2.1", 9))  # no packet is sent: this picks the LAN route
                return probe.getsockname()[0]
        except OSError:
            return socket.gethostname()
    return host


def _open_class_store(
    store: Path,
    class_name: str | None,
    scenario: str | None,
    seed: str | None,
    replicates: int | None,
    address: str,
) -> Any:
    """Open the store (and the class, if named) and print the join code and instructor link."""
    from multivector.app.classroom import ClassError, ClassStore, open_class
    from multivector.errors import InputError

    try:
        classes = ClassStore(store)
        if class_name is None:
            if scenario or seed or replicates is not None:
                fail("--scenario, --seed and --replicates set up a class: name it with --class")
            return None
        session, started = open_class(classes, class_name, scenario, seed, replicates)
    except InputError as error:
        fail(str(error))
    except ClassError as error:
        fail(f"{store}: {error}")
    typer.echo(
        f"{'started' if started else 'reopened'} class '{session.name}' in {store} "
        f"({session.scenario_file}, seed {session.seed}, {session.replicates} runs per student)"
    )
    typer.echo(f"join code: {session.code}   (students open {address} and enter it)")
    typer.echo(f"instructor link: {address}?teacher={session.token}   (keep it to yourself)")
    return session


@app.command("class-export")
def class_export(
    store: Annotated[Path, typer.Argument(help="The class store (SQLite file).")],
    code: Annotated[
        str | None, typer.Option(help="The class's join code (needed if the store has several).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Where to write (default: STORE-exports/CODE/ beside the store)."),
    ] = None,
) -> None:
    """Export a class session: choices.csv (a row per student and decision), class.json, figures."""
    from multivector.app.classroom import (
        ClassError,
        ClassStore,
        clean_code,
        export_class,
        export_folder,
    )
    from multivector.errors import InputError

    try:
        if not store.is_file():
            raise InputError(store, "", "does not exist: name the class store teach --store wrote")
        classes = ClassStore(store)
        found = classes.classes()
        listed = ", ".join(f"{c.code} ({c.name})" for c in found) or "none"
        if code is None:
            if len(found) != 1:
                raise InputError(store, "--code", f"name the class: the store holds {listed}")
            session = found[0]
        else:
            session = classes.class_by_code(clean_code(code))
            if session is None:
                raise InputError(store, "--code", f"no class has code {code}; it holds {listed}")
        written = export_class(classes, session, out or export_folder(classes, session))
    except InputError as error:
        fail(str(error))
    except ClassError as error:
        fail(f"{store}: --code: {error}")
    typer.echo(f"class '{session.name}' ({session.code}): wrote")
    for path in written:
        typer.echo(f"  {path}")


def is_loopback(host: str) -> bool:
    """Whether an address to bind reaches only this machine (``127.0.0.1``, ``::1``)."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to a public address
