"""Figures: fan charts of Kazakhstan's alignment toward the three poles, and of its drift."""

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from multivector.actors import ACTOR_NAMES, INDEX, KAZAKHSTAN, POLES
from multivector.calendar import month_fraction, month_label
from multivector.runs.runner import Run
from multivector.viz.style import POLE_COLOURS, pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from multivector.runs.compare import Comparison

STRIP_LEVELS = 10
MIN_GAP_YEARS = 0.2


@dataclass(frozen=True)
class Mark:
    """A documented episode Kazakhstan decided, as marked on the chart."""

    year: float
    month: str
    title: str
    is_vote: bool
    observed: str | None


def episode_marks(run: Run) -> list[Mark]:
    """The documented episodes Kazakhstan decided in the run, in date order."""
    seen: dict[str, Mark] = {}
    for found in run.decisions():
        decision, month = found.decision, found.month
        if decision.is_reaction or decision.routine or decision.episode in seen:
            continue  # the routine agenda's thousand votes are not marked
        if KAZAKHSTAN not in decision.deciders:
            continue
        observed = decision.observed.get(KAZAKHSTAN)
        seen[decision.episode] = Mark(
            month_fraction(month),
            month_label(month),
            decision.title,
            decision.kind == "un_vote",
            None if observed is None else decision.options[observed],
        )
    return sorted(seen.values(), key=lambda m: m.year)


def _levels(years: list[float]) -> list[int]:
    """Stagger markers over a few heights so that close dates do not overlap."""
    last = [-np.inf] * STRIP_LEVELS
    levels = []
    for year in years:
        free = [k for k in range(STRIP_LEVELS) if year - last[k] >= MIN_GAP_YEARS]
        level = free[0] if free else int(np.argmin(last))
        last[level] = year
        levels.append(level)
    return levels


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def event_years(comparison: "Comparison") -> list[tuple[float, float | None, str]]:
    """Events as decimal years for plotting: (start, window end or None, label)."""
    return [
        (
            month_fraction(e.month),
            month_fraction(e.last) if e.last is not None else None,
            e.label,
        )
        for e in comparison.events()
    ]


def fan_chart(run: Run, path: Path) -> Path:
    """Draw :func:`fan_figure` into a PNG file at ``path``."""
    fig = fan_figure(run)
    fig.savefig(path, dpi=120)
    pyplot().close(fig)
    return path


KEY_LINES = 55
"""Episodes the fan chart's key lists in one column at 7 pt; a longer record takes two."""


def fan_figure(run: Run) -> "Figure":
    """Kazakhstan's alignment toward Russia, China and the US as a fan chart.

    Each pole gets its median line, a 50% band and a 90% band across replicates. The episodes
    Kazakhstan decided are numbered on a strip below (triangles for UN votes) and listed in a
    key with Kazakhstan's recorded choice.
    """
    plt = pyplot()

    alignment = run.alignment()  # (M, R, 6)
    x = np.array([month_fraction(m) for m in run.months])
    marks = episode_marks(run)
    # a long record (the history to 2026 has about 90 episodes) gets a key in two columns on a
    # wider figure, so that every line stays at a readable size
    columns = 1 if len(marks) <= KEY_LINES else 2
    fig = plt.figure(figsize=(16, 9) if columns == 1 else (20, 9))
    grid = fig.add_gridspec(
        2, 2, width_ratios=[2.35, columns], height_ratios=[3.3, 1.7], hspace=0.08
    )
    ax = fig.add_subplot(grid[0, 0])
    strip = fig.add_subplot(grid[1, 0], sharex=ax)
    key = fig.add_subplot(grid[:, 1])

    for pole in POLES:
        series = alignment[:, :, INDEX[pole]]
        q05, q25, q50, q75, q95 = np.quantile(series, [0.05, 0.25, 0.5, 0.75, 0.95], axis=1)
        colour = POLE_COLOURS[pole]
        ax.fill_between(x, q05, q95, color=colour, alpha=0.13, linewidth=0)
        ax.fill_between(x, q25, q75, color=colour, alpha=0.28, linewidth=0)
        ax.plot(x, q50, color=colour, linewidth=2.2, label=f"toward {ACTOR_NAMES[pole]}")
    for mark in marks:
        ax.axvline(mark.year, color="0.55", linewidth=0.5, alpha=0.45, zorder=0)
    ax.axhline(0, color="0.3", linewidth=0.8)
    ax.set_ylim(-1, 1)
    ax.set_ylabel("Kazakhstan's alignment (relation)\n-1 hostile · 0 neutral · +1 close")
    ax.set_title(
        f"Kazakhstan's alignment toward Russia, China and the US — scenario {run.scenario.name}\n"
        f"median line, 50% and 90% bands over {run.replicates} replicates (seed {run.seed})",
        fontsize=12,
        loc="left",
    )
    ax.legend(loc="lower left", fontsize=10, framealpha=0.9, title="Alignment (median)")
    ax.grid(axis="y", alpha=0.3)
    ax.tick_params(labelbottom=False)

    levels = _levels([m.year for m in marks])
    for number, (mark, level) in enumerate(zip(marks, levels, strict=True), start=1):
        height = 0.5 + level
        strip.vlines(mark.year, 0, height - 0.3, color="0.6", linewidth=0.6)
        strip.plot(
            [mark.year], [height - 0.3], marker="v" if mark.is_vote else "o", color="0.25", ms=3.5
        )
        strip.text(mark.year, height - 0.1, str(number), fontsize=7, ha="center", va="bottom")
    strip.set_ylim(0, STRIP_LEVELS + 0.3)
    strip.set_yticks([])
    strip.set_xlabel("Year")
    strip.text(
        0.0,
        1.02,
        "Episodes Kazakhstan decided (▼ UN vote, ● other); numbers refer to the key",
        transform=strip.transAxes,
        fontsize=8.5,
        va="bottom",
    )
    for side in ("top", "right", "left"):
        strip.spines[side].set_visible(False)
    strip.set_xlim(x[0] - 0.15, x[-1] + 0.15)

    key.axis("off")
    key.set_title("Key: episode (Kazakhstan's recorded choice)", fontsize=10, loc="left")
    title_width = 38 if columns == 1 else 34
    lines = [
        f"{n:>2}  {m.month}  {_shorten(m.title, title_width)}"
        + (f"  ({_shorten(m.observed.replace('_', ' '), 24)})" if m.observed else "")
        for n, m in enumerate(marks, start=1)
    ]
    per_column = -(-len(lines) // columns)
    size = 7.0 if columns == 1 else 6.0
    for column in range(columns):
        key.text(
            column / columns,
            1,
            "\n".join(lines[column * per_column : (column + 1) * per_column]),
            fontsize=size,
            family="monospace",
            va="top",
            transform=key.transAxes,
            linespacing=1.35,
        )
    fig.subplots_adjust(left=0.06, right=0.99, top=0.92, bottom=0.07, wspace=0.04)
    return fig


def drift_chart(comparison: "Comparison", path: Path) -> Path:
    """Draw :func:`drift_figure` into a PNG file at ``path``."""
    fig = drift_figure(comparison)
    fig.savefig(path, dpi=110, format="png")
    pyplot().close(fig)
    return path


def drift_figure(comparison: "Comparison") -> "Figure":
    """The paired drift of Kazakhstan's alignment toward each pole as a fan chart.

    One panel per pole: the median of the per-replicate drift (scenario minus baseline) with
    50% and 90% bands; each shock's date (and a hazard's window) is marked.
    """
    plt = pyplot()
    import matplotlib.patches
    import matplotlib.ticker

    drift = comparison.drift()  # (M, R, 3)
    x = np.array([month_fraction(m) for m in comparison.months])
    events = event_years(comparison)
    bands = np.quantile(drift, [0.05, 0.95], axis=1)  # (2, M, 3)
    limit = max(0.05, min(2.0, 1.15 * float(np.abs(bands).max())))
    # the runs are identical replicate by replicate before the first event: show two years of it
    first_event = min((start for start, _, _ in events), default=x[0])
    left = max(x[0], first_event - 2.0)
    fig, axes = plt.subplots(len(POLES), 1, figsize=(13, 9.5), sharex=True)
    for ax, (p, pole) in zip(axes, enumerate(POLES), strict=True):
        series = drift[:, :, p]
        q05, q25, q50, q75, q95 = np.quantile(series, [0.05, 0.25, 0.5, 0.75, 0.95], axis=1)
        colour = POLE_COLOURS[pole]
        ax.fill_between(x, q05, q95, color=colour, alpha=0.15, linewidth=0, label="90% interval")
        ax.fill_between(x, q25, q75, color=colour, alpha=0.35, linewidth=0, label="50% interval")
        ax.plot(x, q50, color=colour, linewidth=2.2, label="median")
        ax.axhline(0, color="0.3", linewidth=0.8)
        for start, end, _ in events:
            if end is not None:
                ax.axvspan(start, end, color="0.5", alpha=0.08, linewidth=0)
            ax.axvline(start, color="0.15", linestyle="--", linewidth=1.0)
        ax.set_ylim(-limit, limit)
        ax.set_ylabel(f"toward {ACTOR_NAMES[pole]}\n(alignment units)")
        ax.grid(axis="y", alpha=0.3)
    # numbers above the top panel, stacked where events fall close together
    previous, level, highest = -np.inf, 0, 0
    for number, (start, _, _) in enumerate(events, start=1):
        level = level + 1 if start - previous < 0.25 else 0
        highest = max(highest, level)
        previous = start
        axes[0].annotate(
            str(number),
            (start, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(0, 2 + 10 * level),
            textcoords="offset points",
            ha="center",
            fontsize=8.5,
            fontweight="bold",
        )
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(plt.Line2D([], [], color="0.15", linestyle="--", linewidth=1.0))
    labels.append("change (numbered, listed below)")
    if any(end is not None for _, end, _ in events):
        handles.append(matplotlib.patches.Patch(color="0.5", alpha=0.15))
        labels.append("while a shock lasts, or a hazard can fire")
    fig.legend(
        handles, labels, loc="upper right", fontsize=9, ncol=2, framealpha=0.9, borderaxespad=1.2
    )
    axes[-1].set_xlabel("Year")
    axes[-1].set_xlim(left - 0.1, x[-1] + 0.1)
    axes[-1].xaxis.set_major_locator(matplotlib.ticker.MultipleLocator(1.0))
    axes[-1].xaxis.set_minor_locator(matplotlib.ticker.MultipleLocator(0.25))
    axes[-1].xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%d"))
    scenario, baseline = comparison.scenario, comparison.baseline
    fig.suptitle(
        f"Drift of Kazakhstan's alignment: {scenario.scenario.name} minus "
        f"{baseline.scenario.name}\n"
        f"{scenario.replicates} paired replicates (common random numbers), seed {scenario.seed}\n"
        "drift = scenario − baseline alignment; alignment is the relation on a −1..+1 scale"
        + (
            "\nbefore the window shown the two runs are identical (drift exactly 0)"
            if left > x[0]
            else ""
        ),
        fontsize=11,
        x=0.06,
        ha="left",
    )
    lines = [f"{n}: {_shorten(label, 95)}" for n, (_, _, label) in enumerate(events, 1)]
    lines = lines or ["No shocks"]
    rows = (len(lines) + 1) // 2 if len(lines) > 4 else len(lines)
    fig.text(0.06, 0.012, _shorten(scenario.scenario.question, 150), fontsize=9, style="italic")
    for column in range(0, len(lines), rows):
        fig.text(
            0.06 + 0.47 * (column // rows),
            0.04,
            "\n".join(lines[column : column + rows]),
            fontsize=8.5 if len(lines) > 4 else 9,
            va="bottom",
        )
    bottom = 0.1 + 0.019 * rows
    top = 0.86 - (0.02 if left > x[0] else 0.0) - 0.012 * highest
    fig.subplots_adjust(left=0.09, right=0.98, top=top, bottom=bottom, hspace=0.08)
    return fig


AGREEMENT_PAIRS = ("KAZ-RUS", "KAZ-CHN", "KAZ-USA")


def agreement_chart(summary: dict, path: Path) -> Path:
    """Draw :func:`agreement_figure` into a PNG file at ``path``."""
    fig = agreement_figure(summary)
    fig.savefig(path, dpi=120)
    pyplot().close(fig)
    return path


def agreement_figure(summary: dict) -> "Figure":
    """Kazakhstan's yearly UN agreement with Russia, China and the US: model beside record.

    Args:
        summary: A run's summary (``un_votes_by_year``).
    """
    plt = pyplot()
    by_year = summary["un_votes_by_year"]
    fig, ax = plt.subplots(figsize=(9, 4.8))
    for pair in AGREEMENT_PAIRS:
        rows = {int(y): e for y, e in by_year.get(pair, {}).items() if "agreement" in e}
        if not rows:
            continue
        years = sorted(rows)
        colour = POLE_COLOURS[pair.split("-")[1]]
        median = [rows[y]["agreement"]["median"] for y in years]
        low = [rows[y]["agreement"]["p05"] for y in years]
        high = [rows[y]["agreement"]["p95"] for y in years]
        label = ACTOR_NAMES[pair.split("-")[1]]
        ax.fill_between(years, low, high, color=colour, alpha=0.18, linewidth=0)
        ax.plot(years, median, color=colour, linewidth=2, label=f"with {label}: model (90%)")
        recorded = [(y, rows[y].get("observed_agreement")) for y in years]
        recorded = [(y, v) for y, v in recorded if v is not None]
        if recorded:
            ax.plot(
                [y for y, _ in recorded],
                [v for _, v in recorded],
                "o--",
                color=colour,
                markerfacecolor="white",
                linewidth=1,
                label=f"with {label}: record",
            )
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Year")
    ax.set_ylabel("Agreement (same vote 1, one abstains 0.5, opposite 0)")
    ax.set_title("Kazakhstan's UN voting agreement by year: the run beside the record", loc="left")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, ncol=2, loc="lower left")
    else:  # a span after the last recorded vote (2024): nothing to draw
        ax.text(0.5, 0.5, "No recorded UN votes in this span", ha="center", transform=ax.transAxes)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
