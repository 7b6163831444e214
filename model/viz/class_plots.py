"""A class session's figures: the class's alignment paths and the class's choices.

Drawn from plain arrays and lists (the app layer gathers them from the class store), so the
instructor's page and ``multivector class-export`` draw the same figures.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from multivector.actors import ACTOR_NAMES, POLES
from multivector.calendar import month_fraction
from multivector.viz.style import POLE_COLOURS

MOST_DECISIONS = 40
"""Decisions drawn in the choices figure (the latest ones the class chose in); the CSV has all."""
OPTION_COLOURS = ["#2e86c1", "#e67e22", "#27ae60", "#8e44ad", "#c0392b", "#7f8c8d"]


def class_paths_figure(data: dict[str, Any]) -> Figure:
    """Each student's median alignment path over the model's own 90% fan, per pole.

    Args:
        data: ``months`` (M,), ``fan`` (M, R, 3) the model's run, ``students`` a list of
            (months, (M_i, 3)) paths, and ``title``.
    """
    months = np.asarray(data["months"])
    fan = np.asarray(data["fan"])
    figure = Figure(figsize=(11, 3.8), layout="constrained")
    axes = figure.subplots(1, len(POLES), sharey=True)
    x = np.array([month_fraction(int(m)) for m in months])
    for k, (ax, code) in enumerate(zip(axes, POLES, strict=True)):
        if len(x):
            low, high = np.percentile(fan[..., k], [5, 95], axis=1)
            ax.fill_between(x, low, high, color="#bbb", alpha=0.6)
            ax.plot(x, np.median(fan[..., k], axis=1), color="#555", lw=1.2, ls="--")
        for student_months, path in data["students"]:
            if len(student_months):
                xs = [month_fraction(int(m)) for m in student_months]
                ax.plot(xs, path[:, k], color=POLE_COLOURS[code], lw=1.1, alpha=0.7)
        ax.set_ylim(-1, 1)
        ax.axhline(0, color="#999", lw=0.6)
        ax.grid(alpha=0.25)
        ax.set_title(f"toward {ACTOR_NAMES[code]}", fontsize=11)
        ax.tick_params(labelsize=9)
        if k == 0:
            ax.set_ylabel("Kazakhstan's relation\n(\u22121 hostile, +1 close)", fontsize=9)
    figure.suptitle(data["title"], fontsize=11.5)
    handles = [
        Patch(color="#bbb", alpha=0.6, label="the model choosing for Kazakhstan (90% of runs)"),
        Line2D([], [], color="#555", ls="--", lw=1.2, label="the model's median"),
        Line2D([], [], color="#444", lw=1.1, label="each student's run (median, pole's colour)"),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=9)
    return figure


def class_choices_figure(tallies: Sequence[dict[str, Any]]) -> Figure:
    """Per decision: the class's shares beside the model's probabilities, Astana's marked.

    Args:
        tallies: Each decision the class chose in: ``label``, ``options``, ``shares`` (the
            class), ``chosen`` (students), ``model`` (the model's probabilities, or None) and
            ``recorded`` (Astana's choice, or None).
    """
    shown = list(tallies)[-MOST_DECISIONS:]
    rows = max(1, len(shown))
    figure = Figure(figsize=(11, 1.2 + 0.62 * rows), layout="constrained")
    ax = figure.subplots()
    if not shown:
        ax.text(0.5, 0.5, "No student has chosen yet", ha="center", va="center", color="#666")
        ax.set_axis_off()
        return figure
    labels = []
    for row, tally in enumerate(shown):
        y = rows - 1 - row
        bars = [("class", tally["shares"], y + 0.17), ("model", tally["model"], y - 0.17)]
        for _, values, level in bars:
            if values is None:
                continue
            left = 0.0
            for k, value in enumerate(values):
                if np.isfinite(value) and value > 0:
                    colour = OPTION_COLOURS[k % len(OPTION_COLOURS)]
                    ax.barh(level, value, left=left, height=0.3, color=colour, edgecolor="white")
                    if value >= 0.12:
                        ax.text(
                            left + value / 2,
                            level,
                            tally["options"][k].replace("_", " "),
                            ha="center",
                            va="center",
                            fontsize=7,
                            color="white",
                        )
                    left += value
        recorded = tally["recorded"]
        mark = f" \u2192 Astana: {recorded.replace('_', ' ')}" if recorded else ""
        labels.append((y, f"{tally['label'][:60]}{mark}\nclass (n={tally['chosen']}) / model"))
    ax.set_yticks([y for y, _ in labels], [text for _, text in labels], fontsize=7.5)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.6, rows - 0.4)
    ax.set_xlabel("share of the class (upper bar) and the model's probability (lower bar)")
    ax.grid(axis="x", alpha=0.25)
    figure.suptitle("What the class chose, what the model expected, what Astana did", fontsize=11)
    return figure
