"""The calibration report: figures and tables written to ``results/calibration/``."""

from pathlib import Path
from typing import Any

import numpy as np

from multivector.actors import ACTOR_NAMES
from multivector.analysis.calibration import Calibrated, standard_errors
from multivector.files import staged
from multivector.viz.style import ACTOR_COLOURS, pyplot


def calibration_summary(calibrated: Calibrated, parameter_file: Path, sha256: str) -> dict:
    """Everything ``multivector calibrate --json`` prints."""
    figures = calibrated.validation.summary(len(calibrated.free))
    sd = standard_errors(calibrated)
    return {
        **figures,
        "design": calibrated.design,
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
    obs = validation.observations
    n = len(obs)
    fig, ax = plt.subplots(figsize=(10, 0.16 * n + 1.8))
    y = np.arange(n)[::-1]
    for i, o in enumerate(obs):
        colour = ACTOR_COLOURS[o.actor]
        inside = validation.in_sample[i][o.choice]
        held = validation.held_out[i][o.choice]
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


def reliability(probabilities: list[np.ndarray], obs: list, bins: int = 10) -> list[dict]:
    """Binned predicted probability of every option against how often it was chosen."""
    predicted = np.concatenate(probabilities)
    happened = np.concatenate([np.eye(len(o.options))[o.choice] for o in obs])
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(predicted, edges) - 1, 0, bins - 1)
    rows = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            rows.append(
                {
                    "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                    "mean_predicted": float(predicted[inside].mean()),
                    "observed_share": float(happened[inside].mean()),
                    "options": int(inside.sum()),
                }
            )
    return rows


def plot_reliability(calibrated: Calibrated, path: Path) -> Path:
    """Reliability diagram: predicted probability of each option against its observed share."""
    plt = pyplot()

    validation = calibrated.validation
    fig, ax = plt.subplots(figsize=(6.5, 6.5))
    ax.plot([0, 1], [0, 1], color="0.5", linestyle="--", label="perfectly calibrated")
    for name, values, style in (
        ("in-sample", validation.in_sample, "o-"),
        ("held out (leave one episode out)", validation.held_out, "s-"),
    ):
        rows = reliability(values, validation.observations)
        x = [r["mean_predicted"] for r in rows]
        y = [r["observed_share"] for r in rows]
        ax.plot(x, y, style, label=name, markersize=5)
        if name.startswith("held"):
            for r in rows:
                ax.annotate(
                    str(r["options"]),
                    (r["mean_predicted"], r["observed_share"]),
                    textcoords="offset points",
                    xytext=(5, -10),
                    fontsize=7,
                    color="0.3",
                )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("Predicted probability of an option (bin mean)")
    ax.set_ylabel("Share of those options actually chosen")
    ax.set_title("Reliability of the calibrated model\n(numbers: options in each held-out bin)")
    ax.legend(loc="upper left", fontsize=9)
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


def _row(name: str, block: dict) -> str:
    return f"| {name} | {block['log_loss']:.3f} | {block['accuracy']:.3f} |"


def markdown(summary: dict, calibrated: Calibrated) -> str:
    """The report's text: tables of fit, validation, baselines and estimates."""
    lines = [
        "# Calibration report",
        "",
        f"Fitted on {summary['decisions']} documented choices in {summary['episodes']} episodes "
        f"with {summary['parameters']} free parameters ({summary['design']} design). "
        f"Parameter file `{summary['parameter_file']}` (sha256 `{summary['sha256'][:16]}…`), "
        f"library version `{summary['library_sha256'][:16]}…`.",
        "",
        "Log-loss is the mean of -ln P(recorded choice); accuracy the share of recorded choices "
        "that were the model's most likely option. *Leave one episode out*: each episode's "
        "choices are scored by a model refitted without that episode. The baselines are fitted "
        "on exactly the same training choices.",
        "",
        "## All decisions",
        "",
        "| model | log-loss | accuracy |",
        "|---|---|---|",
        _row("calibrated, in-sample", summary["in_sample"]),
        _row("calibrated, leave one episode out", summary["leave_one_episode_out"]),
        *(_row(f"baseline: {k}", v) for k, v in summary["baselines"].items()),
        "",
        "## By decider (leave one episode out against the baselines)",
        "",
        "| decider | decisions | in-sample | held out | " + " | ".join(summary["baselines"]) + " |",
        "|---|---|---|---|" + "---|" * len(summary["baselines"]),
    ]
    for actor, block in summary["by_actor"].items():
        cells = [f"{v['log_loss']:.3f}" for v in block["baselines"].values()]
        lines.append(
            f"| {actor} | {block['decisions']} | {block['in_sample']['log_loss']:.3f} | "
            f"{block['leave_one_episode_out']['log_loss']:.3f} | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "(log-loss; lower is better)",
        "",
        "## Designs compared",
        "",
        "| design | free parameters | in-sample log-loss | held-out log-loss | held-out accuracy |",
        "|---|---|---|---|---|",
    ]
    for name, block in summary["designs"].items():
        lines.append(
            f"| {name} | {block['parameters']} | {block['in_sample']['log_loss']:.3f} | "
            f"{block['leave_one_episode_out']['log_loss']:.3f} | "
            f"{block['leave_one_episode_out']['accuracy']:.3f} |"
        )
    lines += [
        "",
        f"The design with the lower held-out log-loss is kept: **{summary['design']}**.",
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
    validation = calibrated.validation
    worst = sorted(
        range(len(validation.observations)),
        key=lambda i: validation.held_out[i][validation.observations[i].choice],
    )[:12]
    lines += [
        "",
        "`precision` is the log of the shared choice precision; `KAZ.*` are Kazakhstan's offsets "
        "from the shared values (on the log scale for precision). The partner weight is fixed "
        "at 1 as the unit of utility.",
        "",
        "## The documented choices the model finds hardest (held out)",
        "",
        "| decision | decider | recorded | P held out | P in-sample |",
        "|---|---|---|---|---|",
    ]
    for i in worst:
        o = validation.observations[i]
        lines.append(
            f"| {o.decision} | {o.actor} | {o.options[o.choice]} | "
            f"{validation.held_out[i][o.choice]:.3f} | {validation.in_sample[i][o.choice]:.3f} |"
        )
    rows = reliability(validation.held_out, validation.observations)
    lines += [
        "",
        "## Reliability (held out)",
        "",
        "| predicted bin | mean predicted | observed share | options |",
        "|---|---|---|---|",
        *(
            f"| {r['bin']} | {r['mean_predicted']:.3f} | {r['observed_share']:.3f} | "
            f"{r['options']} |"
            for r in rows
        ),
        "",
        "## Figures",
        "",
        "- `choice_probabilities.png`: the probability given to each documented choice, "
        "in-sample and held out.",
        "- `reliability.png`: reliability diagram.",
        "- `weights.png`: estimates with 95% intervals beside the prior means.",
        "",
    ]
    return "\n".join(lines)


def write_report(summary: dict, calibrated: Calibrated, folder: Path) -> list[Path]:
    """Write report.md and the three figures into ``folder``, staged together."""
    figures = {
        "choice_probabilities.png": plot_choice_probabilities,
        "reliability.png": plot_reliability,
        "weights.png": plot_weights,
    }
    with staged() as files:
        written = [files.text(folder / "report.md", markdown(summary, calibrated))]
        for name, plot in figures.items():
            plot(calibrated, files.path(folder / name))
            written.append(folder / name)
    return written
