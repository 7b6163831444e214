"""The calibration report: figures and tables written to ``results/calibration/``."""

from pathlib import Path
from typing import Any

import numpy as np

from multivector.actors import ACTOR_NAMES
from multivector.analysis.calibration import (
    CATEGORIES,
    Calibrated,
    reliability,
    standard_errors,
)
from multivector.calendar import month_label
from multivector.files import staged
from multivector.viz.style import ACTOR_COLOURS, pyplot


def calibration_summary(calibrated: Calibrated, parameter_file: Path, sha256: str) -> dict:
    """Everything ``multivector calibrate --json`` prints."""
    sd = standard_errors(calibrated)
    observed = calibrated.replay.observations
    return {
        "design": calibrated.design,
        "parameters": len(calibrated.free),
        "decisions": len(observed),
        "episodes": len({o.episode for o in observed}),
        "by_category": {c: sum(o.category == c for o in observed) for c in CATEGORIES},
        "fitted_before": None if calibrated.until is None else month_label(calibrated.until),
        "in_sample": calibrated.alternatives[calibrated.design]["in_sample"],
        "rolling_origin": None
        if calibrated.out_of_time is None
        else calibrated.out_of_time.summary(),
        "leave_one_episode_out": None
        if calibrated.validation is None
        else calibrated.validation.summary(len(calibrated.free)),
        "designs": calibrated.alternatives,
        "parameter_file": str(parameter_file),
        "sha256": sha256,
        "library_sha256": calibrated.replay.library.sha256,
        "estimates": {
            f.name: {
                "estimate": round(float(x), 4),
                "sd": round(float(s), 4),
                "prior_mean": round(f.prior_mean, 4),
                "prior_sd": f.prior_sd,
            }
            for f, x, s in zip(calibrated.free, calibrated.fit.estimate, sd, strict=True)
        },
    }


def _fig(plt: Any, path: Path, fig: Any) -> Path:
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_choice_probabilities(calibrated: Calibrated, path: Path) -> Path:
    """The probability given to each documented choice, in-sample and held out, by decision."""
    plt = pyplot()

    validation = calibrated.validation
    assert validation is not None
    library = [i for i, h in enumerate(validation.held_out) if h is not None]
    obs = [validation.observations[i] for i in library]
    n = len(obs)
    fig, ax = plt.subplots(figsize=(10, 0.16 * n + 1.8))
    y = np.arange(n)[::-1]
    for i, o in enumerate(obs):
        colour = ACTOR_COLOURS[o.actor]
        inside = validation.in_sample[library[i]][o.choice]
        held = validation.held_out[library[i]][o.choice]
        ax.plot([inside, held], [y[i], y[i]], color="0.8", linewidth=0.8, zorder=1)
        ax.scatter(inside, y[i], color=colour, s=18, zorder=2)
        ax.scatter(held, y[i], facecolor="white", edgecolor=colour, s=18, zorder=3)
        uniform = 1 / len(o.options)
        ax.plot([uniform, uniform], [y[i] - 0.4, y[i] + 0.4], color="0.5", linewidth=0.6)
    labels = [f"{o.decision.split('/')[0][:34]} · {o.actor} · {o.options[o.choice]}" for o in obs]
    ax.set_yticks(y, labels, fontsize=6.5)
    ax.set_ylim(-1, n)
    ax.set_xlim(0, 1)
    ax.set_xlabel("Probability the model gave the recorded choice")
    ax.set_title(
        "Probability of each documented choice: filled = fitted on all episodes (in-sample),\n"
        "hollow = episode left out of the fit; grey tick = uniform chance; colour = decider",
        fontsize=10,
        loc="left",
    )
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=c, label=ACTOR_NAMES[a])
        for a, c in ACTOR_COLOURS.items()
        if any(o.actor == a for o in obs)
    ]
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="decider"
    )
    ax.grid(axis="x", alpha=0.3)
    return _fig(plt, path, fig)


def plot_reliability(calibrated: Calibrated, path: Path) -> Path:
    """Reliability diagram of the out-of-time forecasts: forecast probability against outcome."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6.5, 6.5))
    ax.plot([0, 1], [0, 1], color="0.5", linestyle="--", label="perfectly calibrated")
    ax.fill_between([0, 1], [-0.1, 0.9], [0.1, 1.1], color="0.9", label="within 0.1")
    series = []
    if calibrated.out_of_time is not None:
        oot = calibrated.out_of_time
        series.append(("out of time (rolling origin)", oot.forecasts, oot.observations, "o-"))
    if calibrated.validation is not None:
        v = calibrated.validation
        held = [i for i, h in enumerate(v.held_out) if h is not None]
        series.append(
            (
                "library, leave one episode out",
                [v.held_out[i] for i in held],
                [v.observations[i] for i in held],
                "s--",
            )
        )
    for name, values, observed, style in series:
        rows = [r for r in reliability(values, observed) if r["forecasts"]]
        x = [r["mean_forecast"] for r in rows]
        y = [r["observed"] for r in rows]
        ax.plot(x, y, style, label=name, markersize=5)
        if name.startswith("out of time"):
            for r in rows:
                ax.annotate(
                    str(r["forecasts"]),
                    (r["mean_forecast"], r["observed"]),
                    textcoords="offset points",
                    xytext=(5, -10),
                    fontsize=7,
                    color="0.3",
                )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("Forecast probability of an option (bin mean)")
    ax.set_ylabel("Share of those options actually chosen")
    ax.set_title("Reliability of the forecasts\n(numbers: forecasts in each out-of-time bin)")
    ax.legend(loc="upper left", fontsize=9)
    ax.grid(alpha=0.3)
    return _fig(plt, path, fig)


def plot_by_year(calibrated: Calibrated, path: Path) -> Path:
    """Out-of-time log-loss by origin year: the model beside the baselines."""
    plt = pyplot()

    assert calibrated.out_of_time is not None
    years = calibrated.out_of_time.summary()["by_year"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    names = [k for k in next(iter(years.values())) if k not in ("choices", "trained_on")]
    for name in names:
        x = [int(y) for y in years]
        values = [years[y][name]["log_loss"] for y in years]
        style = {"linewidth": 2.4, "color": ACTOR_COLOURS["KAZ"]} if name == "model" else {}
        ax.plot(x, values, "o-", label=name.replace("_", " "), markersize=4, **style)
    ax.set_xlabel("Origin year (fitted on everything before it, forecast that year)")
    ax.set_ylabel("Log-loss (lower is better)")
    ax.set_title("Rolling-origin forecasts of every documented choice and recorded vote")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    return _fig(plt, path, fig)


def plot_weights(calibrated: Calibrated, path: Path) -> Path:
    """Estimated parameters with 95% Laplace intervals, beside their prior means."""
    plt = pyplot()

    names = [f.name if f.term else f"log {f.name}" for f in calibrated.free]
    estimate = calibrated.fit.estimate
    sd = standard_errors(calibrated)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.5))
    y = np.arange(len(names))[::-1]
    ax.errorbar(
        estimate,
        y,
        xerr=1.96 * sd,
        fmt="o",
        color=ACTOR_COLOURS["KAZ"],
        capsize=3,
        label="estimate, 95% interval",
    )
    ax.scatter(
        [f.prior_mean for f in calibrated.free],
        y,
        marker="|",
        s=120,
        color="0.3",
        label="prior mean (documented default)",
    )
    ax.axvline(0, color="0.6", linewidth=0.8)
    ax.set_yticks(y, names)
    ax.set_xlabel("Value (utility weight, or log precision / its Kazakh offset)")
    ax.set_title(
        f"Calibrated parameters ({calibrated.design} design; partner weight = 1 is the unit)",
        fontsize=10,
        loc="left",
    )
    ax.legend(fontsize=8, loc="best")
    ax.grid(axis="x", alpha=0.3)
    return _fig(plt, path, fig)


def _cells(block: dict, names: list[str]) -> str:
    return " | ".join(
        f"{block[n]['log_loss']:.3f} / {block[n]['brier']:.3f} / {block[n]['accuracy']:.2f}"
        for n in names
    )


def _table(title: str, rows: list[tuple[str, dict]], names: list[str]) -> list[str]:
    head = "| " + title + " | choices | " + " | ".join(n.replace("_", " ") for n in names) + " |"
    lines = [head, "|---|---|" + "---|" * len(names)]
    lines += [f"| {label} | {b['choices']} | {_cells(b, names)} |" for label, b in rows]
    return lines


def markdown(summary: dict, calibrated: Calibrated) -> str:
    """The report's text: out-of-time tables, reliability, leave-one-out and estimates."""
    lines = [
        "# Calibration report",
        "",
        f"Fitted on {summary['decisions']} documented choices ({summary['by_category']}) in "
        f"{summary['episodes']} episodes and votes, with {summary['parameters']} free parameters "
        f"({summary['design']} design)"
        + (f", on choices before {summary['fitted_before']}" if summary["fitted_before"] else "")
        + f". Parameter file `{summary['parameter_file']}` (sha256 `{summary['sha256'][:16]}…`), "
        f"library version `{summary['library_sha256'][:16]}…`. In-sample log-loss "
        f"{summary['in_sample']['log_loss']:.3f}.",
        "",
    ]
    oot = summary["rolling_origin"]
    if oot is not None:
        names = [k for k in oot["all"] if k != "choices"]
        lines += [
            "## Out of time (rolling origin)",
            "",
            f"For each origin year Y in {oot['origins'][0]}-{oot['origins'][-1]} the model is "
            "fitted on every choice before Y and forecasts every documented choice and recorded "
            "vote of Y jointly, with no one's choice in Y observed. The baselines are fitted on "
            "the same past. Cells: log-loss / Brier score / accuracy (lower, lower, higher is "
            "better). *persistence* repeats the actor's choice the last time the resolution "
            "family (an episode's issue thread) came up; *vote with Russia / China* follows "
            "that state's recorded vote in the same vote, which no advance forecast can know.",
            "",
            *_table("", [("all", oot["all"])], names),
            "",
            *_table("actor", list(oot["by_actor"].items()), names),
            "",
            *_table("category", list(oot["by_category"].items()), names),
            "",
            *_table("Kazakhstan", list(oot["KAZ_by_category"].items()), names),
            "",
            *_table("origin year", list(oot["by_year"].items()), names),
            "",
            "### Reliability of the out-of-time forecasts",
            "",
            "Every option of every forecast choice is one forecast.",
            "",
            "| forecast bin | forecasts | mean forecast | observed share | gap |",
            "|---|---|---|---|---|",
        ]
        for r in oot["reliability"]:
            if r["forecasts"]:
                gap = r["observed"] - r["mean_forecast"]
                lines.append(
                    f"| {r['bin'][0]:.1f}-{r['bin'][1]:.1f} | {r['forecasts']} | "
                    f"{r['mean_forecast']:.3f} | {r['observed']:.3f} | {gap:+.3f} |"
                )
        lines.append("")
    loo = summary["leave_one_episode_out"]
    if loo is not None:
        names = ["in_sample", "leave_one_episode_out", *loo["baselines"]]
        lines += [
            "## Leave one episode out (the library's episodes)",
            "",
            f"Each of the library's episodes is refitted without its {loo['held_out_choices']} "
            "choices in all (the routine votes stay in every fit) and scored at the refitted "
            "vector; the baselines see the same training choices.",
            "",
            *_table("", [("all", loo["all"])], names),
            "",
            *_table("actor", list(loo["by_actor"].items()), names),
            "",
            *_table("category", list(loo["by_category"].items()), names),
            "",
        ]
    lines += [
        "## Designs compared",
        "",
        "| design | free parameters | in-sample log-loss | rolling-origin log-loss |",
        "|---|---|---|---|",
    ]
    for name, block in summary["designs"].items():
        rolling = block.get("rolling_origin")
        lines.append(
            f"| {name} | {block['parameters']} | {block['in_sample']['log_loss']:.3f} | "
            + (f"{rolling['log_loss']:.3f} |" if rolling else "- |")
        )
    lines += [
        "",
        f"Kept: **{summary['design']}** (lowest rolling-origin log-loss).",
        "",
        "## Estimates (Laplace approximation)",
        "",
        "| parameter | estimate | sd | prior mean | prior sd |",
        "|---|---|---|---|---|",
    ]
    for name, e in summary["estimates"].items():
        lines.append(
            f"| {name} | {e['estimate']:+.3f} | {e['sd']:.3f} | {e['prior_mean']:+.3f} | "
            f"{e['prior_sd']:.1f} |"
        )
    lines += [
        "",
        "`precision` is the log of the shared choice precision; `XXX.precision` an actor's "
        "offset from it on the log scale; `KAZ.*` Kazakhstan's offsets from the shared weights; "
        "`tremble` the share of choices made as if at random. The partner weight is fixed at 1 "
        "as the unit of utility.",
        "",
        "## Figures",
        "",
        "- `reliability.png`: reliability diagram of the out-of-time forecasts.",
        "- `by_year.png`: out-of-time log-loss by origin year, beside the baselines.",
        "- `choice_probabilities.png`: the probability given to each of the library's "
        "documented choices, in-sample and left out.",
        "- `weights.png`: estimates with 95% intervals beside the prior means.",
        "",
    ]
    return "\n".join(lines)


def write_report(summary: dict, calibrated: Calibrated, folder: Path) -> list[Path]:
    """Write report.md and the figures into ``folder``, staged together."""
    figures: dict[str, Any] = {"weights.png": plot_weights}
    if calibrated.out_of_time is not None or calibrated.validation is not None:
        figures["reliability.png"] = plot_reliability
    if calibrated.out_of_time is not None:
        figures["by_year.png"] = plot_by_year
    if calibrated.validation is not None:
        figures["choice_probabilities.png"] = plot_choice_probabilities
    with staged() as files:
        written = [files.text(folder / "report.md", markdown(summary, calibrated))]
        for name, plot in figures.items():
            plot(calibrated, files.path(folder / name))
            written.append(folder / name)
    return written
