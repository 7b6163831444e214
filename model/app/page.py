"""The teaching app: a SolaraViz page to watch the balance shift, and to play Kazakhstan.

Mesa's roles are kept apart: ``model.py`` and ``agents.py`` hold the dynamics,
``teaching.py`` turns the app's controls into a run and computes the debrief, and this module
only draws. Mesa's :func:`~mesa.visualization.SolaraViz` provides the controls (step, play,
reset) and the model parameters (scenario, play mode, seed, runs, Kazakhstan's utility
weights, the scenario's shock intensities), which Mesa's Reset hands to
:class:`~multivector.app.teaching.TeachingModel` by keyword; the page adds the scenario's
description, the charts (a fan of every run with one highlighted, drawn here because Mesa's
plot components draw one series per measure), the relations heatmap, the event log, the play
panel and the debrief.

Every browser session renders its own :func:`Page`, which creates its own
:class:`~multivector.app.teaching.TeachingModel`: stepping or resetting in one tab never moves
another.
Run it with :func:`serve` (``multivector teach``) or ``python -m multivector.app.page``.
"""

import argparse
import html
import io
import os
import threading

from multivector.viz.style import POLE_COLOURS, use_agg

use_agg()

import numpy as np  # noqa: E402
import PIL.Image  # noqa: E402
import solara  # noqa: E402
from matplotlib import colormaps  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from mesa.visualization import SolaraViz  # noqa: E402
from mesa.visualization.utils import force_update, update_counter  # noqa: E402

from multivector.actors import ACTOR_NAMES, ACTORS, INDEX, POLES  # noqa: E402
from multivector.app.teaching import (  # noqa: E402
    SHOCK_PREFIX,
    WEIGHTS,
    Debrief,
    DeciderSummary,
    Outcome,
    TeachingModel,
    debrief,
    outcome,
    plain,
    scenario_files,
    scenario_label,
    shock_label,
    summarise,
)
from multivector.calendar import month_fraction, month_index, month_label, month_year  # noqa: E402
from multivector.inputs.library import Decision  # noqa: E402
from multivector.keys import is_reaction, split_key  # noqa: E402

TITLE = "Multivector: Kazakhstan between Russia, China and the US"
DPI = 110
RELATION_COLOURS = colormaps["RdBu"]
LOG_ROWS = 60
"""Most recent decisions shown in the event log."""
CSS = """
.mv-table { border-collapse: collapse; width: 100%; font-size: 13px; }
.mv-table th { text-align: left; border-bottom: 2px solid #999; padding: 4px 6px;
  position: sticky; top: 0; background: #fafafa; }
.mv-table td { border-bottom: 1px solid #ddd; padding: 4px 6px; vertical-align: top; }
.mv-table tr.mv-kaz td { background: #f4f8fc; }
.mv-scroll { max-height: 440px; overflow-y: auto; }
.mv-chosen { font-weight: 700; }
.mv-muted { color: #666; }
.mv-help { font-size: 13px; color: #444; }
.mv-help ul { padding-left: 18px; margin-bottom: 6px; }
.mv-help p { margin-bottom: 4px; }
.mv-status, .mv-summary { font-size: 15px; line-height: 1.5; }
.mv-question { font-size: 18px; font-weight: 600; }
.mv-choice-title { font-size: 17px; font-weight: 600; margin-bottom: 4px; }
.mv-heat { border-collapse: collapse; font-size: 13px; margin: 4px 0; width: 100%; }
.mv-heat th { font-weight: 600; padding: 3px 5px; text-align: center; }
.mv-heat tbody th { text-align: right; white-space: nowrap; }
.mv-heat td { text-align: center; padding: 9px 4px; border: 1px solid #fff;
  font-variant-numeric: tabular-nums; }
.mv-heat td.mv-self { background: #eee; }
.mv-heat th.mv-corner { font-weight: 400; color: #666; font-size: 11px; text-align: left; }
.mv-heat-title { font-weight: 600; font-size: 14px; }
.mv-heat-key { display: flex; align-items: center; gap: 8px; font-size: 12px; color: #444; }
.mv-heat-bar { display: inline-block; width: 180px; height: 12px; border-radius: 2px; }
.mv-match { color: #1e8449; font-weight: 700; }
.mv-miss { color: #b03a2e; font-weight: 700; }
"""


# --- text -------------------------------------------------------------------------------------


def esc(value: object) -> str:
    """HTML-escaped text."""
    return html.escape(str(value))


def percent(value: float) -> str:
    """A probability as a whole percentage ("-" when undefined)."""
    return "-" if value is None or not np.isfinite(value) else f"{value:.0%}"


def option_list(options: tuple[str, ...], values: np.ndarray, bold: str | None = None) -> str:
    """``yes 12% · no 3% · abstain 85%`` with one option in bold."""
    items = []
    for name, value in zip(options, values, strict=True):
        text = f"{esc(plain(name))}&nbsp;{percent(value)}"
        items.append(f'<span class="mv-chosen">{text}</span>' if name == bold else text)
    return " · ".join(items)


def note(body: str, css: str = "") -> None:
    """A paragraph of HTML (Solara's Markdown would fetch a maths renderer from the web)."""
    solara.HTML(tag="div", unsafe_innerHTML=body, classes=[css] if css else [])


def who(code: str) -> str:
    """An actor's full name."""
    return ACTOR_NAMES[code]


# --- figures ----------------------------------------------------------------------------------


def png(figure: Figure) -> bytes:
    """A figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def years_axis(ax, first: int, last: int, most: int = 12) -> None:
    """An x axis over the run's span: calendar years (at most ``most`` ticks), or months."""
    ax.set_xlim(first / 12, (last + 1) / 12)
    span = last - first + 1
    if span >= 36:
        step = int(np.ceil(span / 12 / most))
        ticks = np.arange(np.ceil(first / 12), (last + 1) / 12 + 1e-9, step)
        ax.set_xticks(ticks, [str(int(t)) for t in ticks])
        return
    every = 1 if span <= 6 else 2 if span <= 12 else 3 if span <= 18 else 6
    months = [m for m in range(first, last + 1) if m % every == 0] or [first]
    ax.set_xticks([m / 12 for m in months], [month_label(m) for m in months])


class FanChart:
    """Kazakhstan's alignment toward Russia, China and the US: every run, one highlighted.

    The axes, labels and legend are drawn once per run; each update restores them and draws
    only the lines (blitting), which makes a step about three times cheaper, so a class of 30
    can share one server.
    """

    def __init__(self, model: TeachingModel) -> None:
        self.model = model
        self.lock = threading.Lock()
        self.figure = Figure(figsize=(6.2, 4.0))
        self.canvas = FigureCanvasAgg(self.figure)
        self.figure.subplots_adjust(left=0.12, right=0.965, top=0.87, bottom=0.2)
        ax = self.ax = self.figure.subplots()
        for code in POLES:
            ax.plot([], [], color=POLE_COLOURS[code], lw=2.4, label=who(code))
        kaz = sorted(
            month
            for month, plans in model.plans.items()
            if any(INDEX["KAZ"] in d.deciders for plan in plans for d in plan.decisions)
        )
        if kaz:
            ax.plot(
                [month_fraction(m) for m in kaz],
                np.full(len(kaz), -0.96),
                "|",
                color="#333",
                ms=8,
                label="Kazakhstan decides (documented episode)",
            )
        years_axis(ax, model.first_month, model.last_month)
        ax.set_ylim(-1, 1)
        ax.axhline(0, color="#999", lw=0.6)
        ax.set_ylabel("relation (\u22121 hostile, +1 close)", fontsize=10)
        ax.tick_params(labelsize=10)
        ax.set_title(
            "Kazakhstan's alignment toward the three poles\n"
            f"{model.replicates} runs (thin lines), the highlighted run in bold",
            fontsize=11.5,
        )
        ax.grid(alpha=0.25)
        self.figure.legend(
            loc="lower center", fontsize=9.5, ncol=2, frameon=False, columnspacing=1.2
        )
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.figure.bbox)

    def render(self, highlight: int) -> bytes:
        """The chart as PNG bytes, up to the model's latest month."""
        model, ax = self.model, self.ax
        months = np.asarray(model.recorder.months)
        with self.lock:
            self.canvas.restore_region(self.background)
            artists = []
            if len(months):
                x = np.array([month_fraction(m) for m in months])
                alignment = model.recorder.alignment_array()
                for code in POLES:
                    values = alignment[:, :, INDEX[code]].T  # (R, M)
                    colour = POLE_COLOURS[code]
                    if len(x) > 1:
                        segments = np.stack([np.broadcast_to(x, values.shape), values], axis=-1)
                        alpha = max(0.03, min(0.25, 6.0 / len(values)))
                        fan = LineCollection(segments, colors=colour, alpha=alpha, lw=0.8)
                        artists.append(ax.add_collection(fan, autolim=False))
                    artists.extend(ax.plot(x, values[highlight], color=colour, lw=2.4))
                artists.append(ax.axvline(x[-1], color="#555", lw=0.8, ls=":"))
            else:
                artists.append(
                    ax.text(
                        0.5,
                        0.5,
                        "Press Step or \u25b6 to start",
                        transform=ax.transAxes,
                        ha="center",
                        va="center",
                        fontsize=13,
                        color="#666",
                    )
                )
            for artist in artists:
                ax.draw_artist(artist)
            for artist in artists:
                artist.remove()
            pixels = np.asarray(self.canvas.buffer_rgba())[..., :3]
            buffer = io.BytesIO()
            PIL.Image.fromarray(pixels).save(buffer, format="png", compress_level=1)
            return buffer.getvalue()


def colour_of(value: float) -> tuple[str, str]:
    """Background and text colour of a relation in the heatmap (red hostile, blue close)."""
    red, green, blue, _ = RELATION_COLOURS((value + 1) / 2)
    text = "white" if abs(value) > 0.55 else "black"
    return f"#{int(red * 255):02x}{int(green * 255):02x}{int(blue * 255):02x}", text


def heatmap_html(model: TeachingModel, highlight: int, mean: bool) -> str:
    """Every state's relation toward every other this month, as a coloured table."""
    relations = model.recorder.relations[-1] if model.recorder.relations else model.world.relation
    matrix = relations.mean(axis=0) if mean else relations[highlight]
    when = month_label(model.month) if model.steps else f"the start ({month_label(model.month)})"
    scope = f"mean of {model.replicates} runs" if mean else f"run {highlight + 1}"
    head = "".join(f"<th>{who(c)}</th>" for c in ACTORS)
    rows = []
    for i, row_actor in enumerate(ACTORS):
        cells = []
        for j in range(len(ACTORS)):
            if i == j:
                cells.append('<td class="mv-self"></td>')
                continue
            background, text = colour_of(float(matrix[i, j]))
            cells.append(
                f'<td style="background:{background};color:{text}">{matrix[i, j]:+.2f}</td>'
            )
        rows.append(f"<tr><th>{who(row_actor)}</th>{''.join(cells)}</tr>")
    stops = ", ".join(colour_of(v)[0] for v in np.linspace(-1, 1, 9))
    return (
        f'<div class="mv-heat-title">In {when}, {scope}</div>'
        '<table class="mv-heat"><thead><tr><th class="mv-corner">relation of \u2193 '
        f"toward \u2192</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f'<div class="mv-heat-key"><span>\u22121 hostile</span>'
        f'<span class="mv-heat-bar" style="background:linear-gradient(to right, {stops})">'
        "</span><span>+1 close</span></div>"
    )


def debrief_figure(result: Debrief) -> bytes:
    """The student's run against Astana's choices and against the model's own Kazakhstan."""
    figure = Figure(figsize=(11, 3.6), layout="constrained")
    figure.get_layout_engine().set(wspace=0.06)  # keep one panel's last year off the next's
    axes = figure.subplots(1, len(POLES), sharey=True)
    x = np.array([month_fraction(m) for m in result.months])
    for k, (ax, code) in enumerate(zip(axes, POLES, strict=True)):
        if len(x):
            low, high = np.percentile(result.model_run[..., k], [5, 95], axis=1)
            ax.fill_between(x, low, high, color="#bbb", alpha=0.6, label="model's Kazakhstan (90%)")
            ax.plot(
                x,
                np.median(result.documented[..., k], axis=1),
                color="black",
                ls="--",
                lw=1.6,
                label="Astana's choices (median)",
            )
            ax.plot(
                x,
                np.median(result.student[..., k], axis=1),
                color=POLE_COLOURS[code],
                lw=2.4,
                label="your choices (median)",
            )
            for row in result.chosen:
                ax.axvline(month_fraction(row.month), color="#777", lw=0.5, alpha=0.6)
            years_axis(ax, int(result.months[0]), int(result.months[-1]), most=5)
        ax.set_ylim(-1, 1)
        ax.axhline(0, color="#999", lw=0.6)
        ax.grid(alpha=0.25)
        ax.set_title(f"toward {who(code)}", fontsize=11)
        ax.tick_params(labelsize=9)
        ax.tick_params(axis="x", labelrotation=30 if len(x) < 36 else 0)
        if k == 0:
            ax.set_ylabel("Kazakhstan's relation\n(\u22121 hostile, +1 close)", fontsize=9)
    handles = [
        Patch(color="#bbb", alpha=0.6, label="the model choosing for Kazakhstan (90% of runs)"),
        Line2D(
            [], [], color="black", ls="--", lw=1.6, label="Astana's documented choices (median)"
        ),
        Line2D([], [], color="#555", lw=2.4, label="your choices (median, in the pole's colour)"),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=9)
    return png(figure)


# --- components ---------------------------------------------------------------------------


def model_params(model: TeachingModel) -> dict:
    """SolaraViz's model parameters, starting from the values the current run was built with.

    Mesa's Reset builds a new :class:`TeachingModel` from them: the scenario, play mode,
    seed, runs, Kazakhstan's weights and one intensity slider per shock of the current
    scenario (named after the shock, so that a slider left over from another scenario is
    ignored).
    """
    settings = model.settings
    params: dict = {
        "scenario_file": {
            "type": "Select",
            "value": scenario_label(model.scenario_file),
            "values": [scenario_label(name) for name in scenario_files()],
            "label": "Scenario",
        },
        "play": {"type": "Checkbox", "value": model.play, "label": "Play as Kazakhstan"},
        "seed": {"type": "InputText", "value": settings["seed"], "label": "Seed (a whole number)"},
        "replicates": {
            "type": "SliderInt",
            "value": settings["replicates"],
            "min": 10,
            "max": 300,
            "step": 10,
            "label": "Runs in the fan",
        },
    }
    for term in WEIGHTS:
        params[term] = {
            "type": "SliderFloat",
            "value": float(settings[term]),
            "min": 0.0,
            "max": 3.0,
            "step": 0.1,
            "label": f"Weight: {term} (\u00d7)",
        }
    for k, shock in enumerate(model.scenario_spec.shock):
        params[SHOCK_PREFIX + shock.name] = {
            "type": "SliderFloat",
            "value": float(shock.intensity),
            "min": 0.0,
            "max": 2.0,
            "step": 0.1,
            "label": f"Shock {k + 1} intensity",
        }
    return params


@solara.component
def ScenarioCard(model: TeachingModel) -> None:
    """What the current scenario asks, its shocks, and what the weights mean."""
    shocks = "".join(
        f"<li><b>Shock {k + 1}</b> ({esc(shock.date)}): {esc(shock_label(shock))}</li>"
        for k, shock in enumerate(model.scenario_spec.shock)
    )
    weights = "".join(f"<li><b>{t}</b>: {esc(m)}</li>" for t, m in WEIGHTS.items())
    with solara.Card("This run", classes=["mv-scenario"]):
        note(
            f"<p><b>{esc(scenario_label(model.scenario_file))}</b>: "
            f"<i>{esc(model.scenario_spec.question)}</i></p>"
            + (f"<p>Shocks:</p><ul>{shocks}</ul>" if shocks else "<p>No shocks.</p>")
            + "<p>To change the scenario, play mode, seed or a slider under <i>Model "
            "Parameters</i>, set it, then press <b>Reset</b>: that starts a new run.</p>",
            "mv-help",
        )
        with solara.Details("What the weights mean"):
            note(
                "<p>Kazakhstan's utility weights, as multiples of the calibrated ones "
                f"(\u00d71 as calibrated, \u00d70 ignores it):</p><ul>{weights}</ul>",
                "mv-help",
            )


@solara.component
def Status(model: TeachingModel) -> None:
    """The scenario's question, the month, and what the run is waiting for."""
    update_counter.get()
    done = model.steps
    month = month_label(model.month) if done else "not started"
    mode = "Play as Kazakhstan" if model.play else "Watch"
    if not model.running:
        state = "The run has ended."
    elif model.play and model.pending():
        state = f"Waiting for your choice for {month_label(model.next_month)}."
    else:
        state = f"Next: {month_label(model.next_month)}."
    weights = " \u00b7 ".join(
        f"{t} {model.weights_in_force[t]:.2f} (\u00d7{model.settings[t]:.1f})" for t in WEIGHTS
    )
    shocks = "".join(
        f" \u00b7 shock {k + 1} intensity {shock.intensity:.1f}"
        for k, shock in enumerate(model.scenario_spec.shock)
    )
    body = (
        f'<div class="mv-question">{esc(model.scenario_spec.question)}</div>'
        f"<div>Month <b>{month}</b> \u00b7 {done} of {model.months_total} months \u00b7 "
        f"{model.replicates} runs \u00b7 seed {model.seed} \u00b7 mode: {mode} \u00b7 "
        f"{esc(state)}</div>"
        f'<div class="mv-muted">In force: Kazakhstan\'s weights {weights}{shocks}</div>'
    )
    solara.HTML(
        tag="div",
        unsafe_innerHTML=body,
        classes=["mv-status"],
        attributes={
            "data-steps": str(done),
            "data-month": month,
            "data-waiting": "yes" if model.play and model.pending() else "no",
            "data-turns": str(len(model.turns)),
            "data-autonomy": f"{model.settings['autonomy']:.2f}",  # the multiplier
        },
    )


def log_html(model: TeachingModel, highlight: int, kazakhstan_only: bool) -> str:
    """The event log: every decision posed, newest first."""
    rows = []
    kazakhstan = INDEX["KAZ"]
    for record in reversed(model.recorder.decisions):
        if kazakhstan_only and kazakhstan not in record.decision.deciders:
            continue
        for part in summarise(record, highlight):
            if kazakhstan_only and part.actor != "KAZ":
                continue
            if not part.posed:
                continue
            rows.append(log_row(record.decision, part, model.replicates))
            if len(rows) >= LOG_ROWS:
                break
        if len(rows) >= LOG_ROWS:
            break
    if not rows:
        return '<p class="mv-muted">No decision yet: step the model.</p>'
    head = (
        "<tr><th>Month</th><th>Decision</th><th>Who</th><th>Model's probabilities</th>"
        f"<th>Chosen in run {highlight + 1}</th><th>Across runs</th><th>Record</th></tr>"
    )
    return (
        '<div class="mv-scroll"><table class="mv-table">'
        f"<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def step_name(decision: Decision | str) -> str:
    """Which of an episode's decisions this is (by decision or key); empty for votes, answers."""
    key = decision if isinstance(decision, str) else decision.key
    name = split_key(key)[1]
    return "" if is_reaction(key) or name == "vote" else plain(name.replace("-", " "))


def decision_label(decision: Decision) -> str:
    """The episode's title and which of its decisions this is."""
    name = step_name(decision)
    return plain(decision.title) + (f" ({name})" if name else "")


def log_row(decision: Decision, part: DeciderSummary, replicates: int) -> str:
    """One decider's row in the event log."""
    name = step_name(decision)
    name = f" <span class='mv-muted'>({esc(name)})</span>" if name else ""
    share = (
        ""
        if part.posed == replicates
        else f"<br><span class='mv-muted'>posed in {part.posed} of {replicates} runs</span>"
    )
    history = esc(plain(part.history)) if part.history else '<span class="mv-muted">-</span>'
    chosen = (
        esc(plain(part.highlighted))
        if part.highlighted
        else '<span class="mv-muted">not posed</span>'
    )
    css = ' class="mv-kaz"' if part.actor == "KAZ" else ""
    return (
        f"<tr{css}><td>{month_label(part.record.month)}</td>"
        f"<td>{esc(plain(decision.title))}{name}{share}</td>"
        f"<td>{who(part.actor)}</td>"
        f"<td>{option_list(decision.options, part.probabilities, part.highlighted)}</td>"
        f"<td>{chosen}</td>"
        f"<td>{option_list(decision.options, part.shares)}</td>"
        f"<td>{history}</td></tr>"
    )


@solara.component
def EventLog(model: TeachingModel, highlight: int) -> None:
    """Each decision with the model's option probabilities and the choice made."""
    update_counter.get()
    scope = solara.use_reactive("Kazakhstan")
    body = log_html(model, highlight, scope.value == "Kazakhstan")
    with solara.Card("Event log: decisions, the model's probabilities and the choices made"):
        solara.ToggleButtonsSingle(value=scope, values=["Kazakhstan", "All states"], dense=True)
        solara.HTML(tag="div", unsafe_innerHTML=body, classes=["mv-log"])
        note(
            "<i>Model's probabilities</i>: the chance the model gave each option (mean over "
            "the runs where the decision came up); the bold one was chosen in the highlighted "
            "run. <i>Across runs</i>: how often each option was chosen. <i>Record</i>: what "
            "the state did.",
            "mv-muted",
        )


def outcome_html(result: Outcome) -> str:
    """What the student's last choice led to."""
    mine = result.kazakhstan
    lines = [
        f'<div class="mv-choice-title">{esc(plain(mine.record.decision.title))} '
        f"({month_label(mine.record.month)})</div>",
        f"<div>Your choice: <b>{esc(plain(mine.highlighted or '-'))}</b>. "
        + (
            f"In history Astana chose <b>{esc(plain(mine.history))}</b>."
            if mine.history
            else "The record has no documented choice."
        )
        + "</div>",
        "<div>The model's probabilities: "
        + option_list(mine.options, mine.probabilities, mine.highlighted)
        + "</div>",
    ]
    same = [o for o in result.others if o.record is mine.record]
    later = [o for o in result.others if o.record is not mine.record]
    if same:
        items = "".join(
            f"<li>{who(o.actor)}: {option_list(o.options, o.shares)}</li>" for o in same
        )
        lines.append(f"<div>The others in the same decision (share of runs):<ul>{items}</ul></div>")
    if later:
        items = "".join(
            f"<li>{who(o.actor)} \u2013 {esc(decision_label(o.record.decision))}: "
            f"{option_list(o.options, o.shares)}"
            + (
                f" <span class='mv-muted'>(came up in {o.posed} of "
                f"{len(o.record.choices)} runs)</span>"
                if o.posed < len(o.record.choices)
                else ""
            )
            + "</li>"
            for o in later
        )
        lines.append(f"<div>Reactions (share of runs):<ul>{items}</ul></div>")
    else:
        lines.append('<div class="mv-muted">No reaction yet (answers come a month later).</div>')
    shift = ", ".join(
        f"{who(code)} {result.before[k]:+.2f} \u2192 {result.now[k]:+.2f}"
        for k, code in enumerate(POLES)
    )
    lines.append(
        f"<div>Kazakhstan's median alignment, the month before the choice \u2192 now: {shift}</div>"
    )
    return "".join(lines)


@solara.component
def PlayPanel(model: TeachingModel, highlight: int, stepping: bool = True) -> None:
    """Play mode: the student makes Kazakhstan's choice at each documented episode.

    Args:
        model: The student's run.
        highlight: The highlighted run.
        stepping: Whether Mesa's Step and play controls are on the page (a class session's
            student page has only this panel's).
    """
    update_counter.get()
    pending = model.pending()
    years = list(range(month_year(model.next_month) + 1, month_year(model.last_month) + 1))
    until = solara.use_reactive(None)
    problem = solara.use_reactive("")

    def choose(key: str, option: str | None) -> None:
        with model.lock:
            if not any(d.key == key for d in model.pending()):
                return  # a double click, or the run moved on
            try:
                model.decide(key, option)  # the month is played once decided
            except ValueError as error:  # a class store refused it (another tab chose)
                problem.set(str(error))
        force_update()

    def run_on() -> None:
        model.run_to_next_choice()
        force_update()

    def skip() -> None:
        if until.value in years:
            model.let_model_decide_until(month_index(until.value, 1))
            force_update()

    with solara.Columns([1, 1]):
        with solara.Card("Your move, Astana", classes=["mv-play"]):
            if pending:
                decision = pending[0]
                solara.HTML(
                    tag="div",
                    unsafe_innerHTML=(
                        f'<div class="mv-choice-title">{esc(plain(decision.title))}</div>'
                        f"<div>{month_label(model.next_month)} \u00b7 decision "
                        f"{len(model.kazakh_decisions_ahead()) - len(pending) + 1} of "
                        f"{len(model.kazakh_decisions_ahead())} this month"
                        + (f" \u00b7 {esc(step_name(decision))}" if step_name(decision) else "")
                        + "</div>"
                        "<div class='mv-muted'>What Astana did, and what the model expected, "
                        "is shown once you have chosen.</div>"
                    ),
                )
                with solara.Row(style={"flex-wrap": "wrap"}):
                    for option in decision.options:
                        solara.Button(
                            plain(option),
                            color="primary",
                            on_click=lambda o=option, k=decision.key: choose(k, o),
                            classes=["mv-option"],
                        )
                    solara.Button(
                        "Let the model decide",
                        outlined=True,
                        on_click=lambda k=decision.key: choose(k, None),
                        classes=["mv-delegate"],
                    )
            elif model.running:
                note(
                    f"No documented decision for Kazakhstan in {month_label(model.next_month)}. "
                    + ("Press <b>Step</b> or \u25b6, or run" if stepping else "Run")
                    + " on to the next one."
                )
                solara.Button(
                    "Run to the next decision",
                    color="primary",
                    on_click=run_on,
                    classes=["mv-run-on"],
                )
            else:
                note(
                    "The run has ended: read your debrief below."
                    if stepping
                    else "The run has ended."
                )
            if problem.value:
                note(esc(problem.value), "mv-miss mv-problem")
            if model.running and years:
                with solara.Row(style={"align-items": "center"}):
                    solara.Select(
                        "Skip to January of",
                        values=years,
                        value=until.value if until.value in years else None,
                        on_value=until.set,
                        classes=["mv-skip-year"],
                        style={"max-width": "260px"},
                    )
                    solara.Button(
                        "Skip ahead (the model decides)",
                        outlined=True,
                        on_click=skip,
                        disabled=until.value not in years,
                        classes=["mv-skip"],
                    )
        with solara.Card("What happened after your last choice", classes=["mv-outcome"]):
            played = [t for t in model.turns if t.student and t.month <= model.month]
            result = outcome(model, played[-1].key, highlight) if model.steps and played else None
            waiting = [t for t in model.turns if t.month > model.month or not model.steps]
            if waiting:
                items = "".join(
                    f"<li>{esc(plain(split_key(t.key)[1].replace('-', ' ')))}: "
                    f"<b>{esc(plain(t.student or 'left to the model'))}</b></li>"
                    for t in waiting
                )
                note(
                    f"Your choices for {month_label(model.next_month)} so far (revealed "
                    f"against history once the month is played):<ul>{items}</ul>"
                )
            if result is not None:
                solara.HTML(tag="div", unsafe_innerHTML=outcome_html(result))
            elif not waiting:
                note("Make a choice to see the others' reactions.")


def debrief_html(result: Debrief) -> str:
    """The debrief table: each decision, the student's choice, Astana's, the model's odds."""
    rows = []
    for row in result.chosen:
        name = (
            f" <span class='mv-muted'>({esc(step_name(row.key))})</span>"
            if step_name(row.key)
            else ""
        )
        mark = ""
        if row.as_history is True:
            mark = ' <span class="mv-match">= Astana</span>'
        elif row.as_history is False:
            mark = ' <span class="mv-miss">\u2260 Astana</span>'
        student = (
            f"{esc(plain(row.student))} ({percent(row.probability(row.student))}){mark}"
            if row.student
            else '<span class="mv-muted">left to the model</span>'
        )
        history = (
            f"{esc(plain(row.history))} ({percent(row.probability(row.history))})"
            if row.history
            else '<span class="mv-muted">not documented</span>'
        )
        rows.append(
            f"<tr><td>{row.date}</td><td>{esc(plain(row.title))}{name}</td><td>{student}</td>"
            f"<td>{history}</td>"
            f"<td>{option_list(row.options, np.array(row.probabilities))}</td></tr>"
        )
    head = (
        "<tr><th>Month</th><th>Decision</th><th>Your choice (model's probability)</th>"
        "<th>Astana's choice (model's probability)</th><th>The model's distribution</th></tr>"
    )
    left = len(result.rows) - len(result.chosen)
    return (
        f"<p class='mv-summary'>{esc(result.summary())}</p>"
        + (
            f"<p class='mv-muted'>{left} decision{'s' if left != 1 else ''} you left to the "
            "model are not listed.</p>"
            if left
            else ""
        )
        + '<div><table class="mv-table">'
        f"<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


@solara.component
def DebriefCard(model: TeachingModel, opened: bool | None = None) -> None:
    """The debrief, at the end of the run or when the student asks for it.

    Args:
        model: The student's run.
        opened: In a class session, whether the teacher has opened the debrief for all
            (None: no class; the student opens it, or the run's end does).
    """
    update_counter.get()
    asked = solara.use_reactive(False)
    show = bool(opened) if opened is not None else asked.value or not model.running
    key = (id(model), model.steps, len(model.turns), show)
    result = solara.use_memo(lambda: debrief(model) if show else None, dependencies=list(key))
    image = solara.use_memo(
        lambda: debrief_figure(result) if result is not None else None, dependencies=[result]
    )
    with solara.Card("Debrief: your path against history and the model", classes=["mv-debrief"]):
        if result is None and opened is not None:
            note("Your teacher opens the debrief for the whole class.", "mv-muted")
            return
        if result is None:
            solara.Button(
                "Show my debrief so far",
                outlined=True,
                on_click=lambda: asked.set(True),
                classes=["mv-show-debrief"],
            )
            return
        solara.HTML(tag="div", unsafe_innerHTML=debrief_html(result))
        solara.Image(image, width="100%")
        note(
            "Grey band: the model choosing for Kazakhstan (90% of runs). Dashed: the same runs "
            "with Astana's documented choices where you chose. Colour: your choices. All three "
            "share the seed, so the gaps are the effect of the choices alone."
        )


@solara.component
def Dashboard(
    model: TeachingModel, stepping: bool = True, debrief_opened: bool | None = None
) -> None:
    """The main area: status, play panel, charts, event log and debrief.

    Args:
        model: The session's run.
        stepping: Whether Mesa's controls (Step, play) are on the page.
        debrief_opened: In a class session, whether the teacher has opened the debrief.
    """
    update_counter.get()  # re-render when Mesa's controls step or reset the model
    highlight = solara.use_reactive(0)
    heat = solara.use_reactive("Mean of all runs")
    run = min(highlight.value, model.replicates - 1)
    mean = heat.value == "Mean of all runs"
    steps = model.steps
    chart = solara.use_memo(lambda: FanChart(model), dependencies=[model])
    fan = solara.use_memo(lambda: chart.render(run), dependencies=[chart, steps, run])
    heatmap = solara.use_memo(
        lambda: heatmap_html(model, run, mean), dependencies=[model, steps, run, mean]
    )
    solara.Style(CSS)
    with solara.Column(style={"padding": "8px 16px 48px 16px"}):
        Status(model)
        if model.play:
            PlayPanel(model, run, stepping)
        with solara.Columns([5, 4]):
            with solara.Card("Alignment over time", classes=["mv-fan"]):
                solara.Image(fan, width="100%")
                solara.SliderInt(
                    "Highlighted run",
                    value=run + 1,
                    min=1,
                    max=model.replicates,
                    on_value=lambda v: highlight.set(v - 1),
                )
            with solara.Card("Relations among the six states", classes=["mv-heatmap"]):
                solara.HTML(tag="div", unsafe_innerHTML=heatmap, classes=["mv-heat-box"])
                solara.ToggleButtonsSingle(
                    value=heat, values=["Mean of all runs", "Highlighted run"], dense=True
                )
        EventLog(model, run)
        if model.play:
            DebriefCard(model, debrief_opened)


@solara.component
def Page() -> None:
    """The app: one model per browser session, Mesa's controls, and the dashboard."""
    initial = solara.use_memo(TeachingModel, dependencies=[])
    model = solara.use_reactive(initial)  # this session's own run; Mesa's Reset replaces it
    current = model.value
    with solara.Sidebar():
        ScenarioCard(current)
    SolaraViz(
        model,
        components=[],
        model_params=model_params(current),
        name=TITLE,
        play_interval=150,
    )
    Dashboard(current)


page = Page


# --- serving ----------------------------------------------------------------------------------


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    app: str = "multivector.app.page:Page",
    what: str = "teaching app",
) -> None:
    """Serve the app with Solara's server until interrupted (blocking).

    Args:
        host: Address to bind (loopback by default; ``0.0.0.0`` opens it to a classroom).
        port: Port.
        app: The page to serve (the class sessions' page is ``multivector.app.class_page``).
        what: What is served, as the start-up line names it.
    """
    import uvicorn
    from solara.server import settings

    os.environ["SOLARA_APP"] = app
    os.environ["SERVER_NAME"] = host
    os.environ["SERVER_PORT"] = str(port)
    settings.telemetry.mixpanel_enable = False  # no calls home from a classroom
    settings.main.mode = "production"
    settings.theme.show_banner = False  # Solara's badge would sit on top of the event log
    settings.kernel.cull_timeout = "1h"  # a closed laptop's session is kept an hour, not a day
    print(f"Multivector {what} on http://{host}:{port}  (Ctrl+C to stop)", flush=True)
    uvicorn.run("solara.server.starlette:app", host=host, port=port, log_level="warning")


def main(argv: list[str] | None = None) -> None:
    """``python -m multivector.app.page [--host H] [--port P]``."""
    parser = argparse.ArgumentParser(description="Serve the Multivector teaching app.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
