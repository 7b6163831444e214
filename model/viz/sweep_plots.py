"""Figures of a sweep: fans over time, end-state distributions, decisions, Sobol indices, scatters.

Every figure reads the Parquet dataset a sweep wrote (``runs/``, ``decisions/``, ``outcomes/``
and ``samples.parquet``) with pyarrow aggregations, so a sweep of 100,000 runs is summarised
without loading every row into Python objects.
"""

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc

from multivector.actors import ACTOR_NAMES, POLES
from multivector.analysis.sweep_results import SweepReader
from multivector.calendar import month_fraction, parse_month
from multivector.errors import InputError
from multivector.files import FileSet, staged
from multivector.viz.style import (
    FIRST_ORDER_COLOUR,
    POINT_COLOUR,
    POLE_COLOURS,
    TOTAL_ORDER_COLOUR,
    TREND_COLOUR,
    pyplot,
)

QUANTILES = [0.05, 0.25, 0.5, 0.75, 0.95]
METRIC_LABELS = {
    **{f"alignment_{p}": f"alignment toward {ACTOR_NAMES[p]}" for p in POLES},
    "balance": "balance (0 one-sided .. 1 even)",
}


def _figure(rows: int, cols: int, size: tuple[float, float]) -> tuple[Any, Any]:
    plt = pyplot()

    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False)
    return fig, axes


def _save(fig: Any, path: Path, files: FileSet) -> Path:
    """Stage the figure as ``path`` in ``files``; returns ``path``."""
    import matplotlib.pyplot as plt

    fig.savefig(files.path(path), dpi=110)
    plt.close(fig)
    return path


def _finish(fig: Any, axes: Any, used: int, title: str, path: Path, files: FileSet) -> Path:
    """Hide unused panels, title the figure and save it."""
    for ax in list(axes.flat)[used:]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return _save(fig, path, files)


def fan_charts(results: SweepReader, out: Path, files: FileSet) -> list[Path]:
    """Kazakhstan's alignment over time per scenario: median, 50% and 90% bands."""
    if "alignment_RUS" not in results.metrics:
        return []  # the sweep kept no alignment
    runs = results.table("runs", ["scenario", "month", *(f"alignment_{p}" for p in POLES)])
    options = pc.TDigestOptions(q=QUANTILES)
    drawn = []
    for scenario in results.scenarios:
        subset = runs.filter(pc.field("scenario") == scenario)
        grouped = subset.group_by("month", use_threads=False).aggregate(
            [(f"alignment_{p}", "tdigest", options) for p in POLES]
        )
        months = grouped.column("month").to_pylist()
        if len(months) < 2:
            continue
        order = np.argsort(months)
        x = np.array([month_fraction(parse_month(months[k])) for k in order])
        fig, axes = _figure(1, 1, (12, 6.5))
        ax = axes[0, 0]
        for pole in POLES:
            q = np.array(grouped.column(f"alignment_{pole}_tdigest").to_pylist())[order]
            colour = POLE_COLOURS[pole]
            ax.fill_between(x, q[:, 0], q[:, 4], color=colour, alpha=0.13, linewidth=0)
            ax.fill_between(x, q[:, 1], q[:, 3], color=colour, alpha=0.3, linewidth=0)
            ax.plot(x, q[:, 2], color=colour, linewidth=2, label=f"toward {ACTOR_NAMES[pole]}")
        ax.axhline(0, color="0.3", linewidth=0.8)
        ax.set_ylim(-1, 1)
        ax.set_xlabel("Year")
        ax.set_ylabel("Kazakhstan's alignment (relation)\n-1 hostile · 0 neutral · +1 close")
        ax.set_title(
            f"Kazakhstan's alignment over time — {scenario}\n{results.subtitle}\n"
            "median line, 50% and 90% bands over every sample and replicate",
            loc="left",
            fontsize=11,
        )
        ax.legend(loc="lower left", title="median")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        drawn.append(_save(fig, out / f"fan_{scenario}.png", files))
    return drawn


def end_state(results: SweepReader, out: Path, files: FileSet) -> Path:
    """Distributions of the last kept month's alignment and balance, per scenario."""
    last = results.last_month
    metrics = results.metrics
    runs = results.table("runs", ["scenario", *metrics], filter=pc.field("month") == last)
    fig, axes = _figure(1, len(metrics), (4.2 * len(metrics), 5.8))
    names = results.scenarios
    for ax, metric in zip(axes[0], metrics, strict=True):
        data = [runs.filter(pc.field("scenario") == s).column(metric).to_numpy() for s in names]
        parts = ax.violinplot(data, showmedians=True, widths=0.8)
        colour = POLE_COLOURS.get(metric.removeprefix("alignment_"), "0.4")
        for body in parts["bodies"]:
            body.set_facecolor(colour)
            body.set_alpha(0.45)
        ax.set_xticks(range(1, len(names) + 1), [n.replace("_", "\n") for n in names], fontsize=8)
        ax.set_title(METRIC_LABELS[metric], fontsize=10)
        ax.set_ylabel("relation (-1..+1)" if metric != "balance" else "balance index (0..1)")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(
        f"End state ({last}): distribution over every sample and replicate\n{results.subtitle}",
        fontsize=11,
    )
    fig.tight_layout()
    return _save(fig, out / "end_state.png", files)


def decision_distributions(
    results: SweepReader, out: Path, files: FileSet, top: int = 6
) -> Path | None:
    """For the key decisions, each option's mean probability across samples (box plots)."""
    frame = results.decision_means()
    if frame.empty:
        return None
    frame = frame[frame["decider"] == "KAZ"] if (frame["decider"] == "KAZ").any() else frame
    spread = (
        frame.groupby(["scenario", "decision", "option"])["mean_probability"]
        .agg(lambda v: np.nanmax(v) - np.nanmin(v) if v.notna().any() else 0.0)
        .groupby(level=[0, 1])
        .max()
        .sort_values(ascending=False)
    )
    chosen = list(spread.index[:top])
    cols = min(3, len(chosen))
    rows = (len(chosen) + cols - 1) // cols
    fig, axes = _figure(rows, cols, (5.2 * cols, 4.2 * rows))
    for ax, (scenario, decision) in zip(axes.flat, chosen, strict=False):
        part = frame[(frame["scenario"] == scenario) & (frame["decision"] == decision)]
        options = list(dict.fromkeys(part["option"]))
        data = [part[part["option"] == o]["mean_probability"].dropna().to_numpy() for o in options]
        ax.boxplot(data, tick_labels=[o.replace("_", "\n") for o in options], widths=0.6)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("probability (mean over replicates)")
        ax.set_title(f"{decision}\n({scenario}, decider {part['decider'].iloc[0]})", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    return _finish(
        fig,
        axes,
        len(chosen),
        "Choice probabilities at the key decisions: spread across samples\n" + results.subtitle,
        out / "decisions.png",
        files,
    )


def sobol_indices(
    results: SweepReader, out: Path, files: FileSet
) -> tuple[Path, dict[str, Any]] | None:
    """First-order and total Sobol indices with 95% intervals (SALib), for a Sobol design."""
    if results.manifest["design"]["sampler"] != "sobol" or not results.metrics:
        return None
    from SALib.analyze import sobol

    names = [i.get("label") or i["target"] for i in results.inputs]
    problem = {"num_vars": len(names), "names": names, "bounds": [[0, 1]] * len(names)}
    found: dict[str, Any] = {}
    metrics = results.metrics
    scenario = results.scenarios[0]
    means = results.sample_means(scenario)
    fig, axes = _figure(1, len(metrics), (4.6 * len(metrics), 0.45 * len(names) + 3.2))
    for ax, metric in zip(axes[0], metrics, strict=True):
        indices = sobol.analyze(
            problem, means[metric], calc_second_order=True, seed=results.manifest["seed"]
        )
        found[metric] = {
            name: {
                "S1": round(float(indices["S1"][k]), 4),
                "S1_conf": round(float(indices["S1_conf"][k]), 4),
                "ST": round(float(indices["ST"][k]), 4),
                "ST_conf": round(float(indices["ST_conf"][k]), 4),
            }
            for k, name in enumerate(names)
        }
        y = np.arange(len(names))
        ax.barh(
            y - 0.2,
            indices["S1"],
            0.4,
            xerr=indices["S1_conf"],
            label="first order S1",
            color=FIRST_ORDER_COLOUR,
            capsize=3,
        )
        ax.barh(
            y + 0.2,
            indices["ST"],
            0.4,
            xerr=indices["ST_conf"],
            label="total ST",
            color=TOTAL_ORDER_COLOUR,
            capsize=3,
        )
        ax.set_yticks(y, names if ax is axes[0, 0] else [""] * len(names), fontsize=9)
        ax.invert_yaxis()
        ax.axvline(0, color="0.3", linewidth=0.8)
        ax.set_xlim(-0.1, 1.1)
        ax.set_xlabel("share of output variance")
        ax.set_title(METRIC_LABELS[metric], fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[0, 0].legend(loc="lower right", fontsize=8)
    fig.suptitle(
        f"Sobol sensitivity of Kazakhstan's end state ({results.last_month}, mean over "
        f"replicates per sample), {scenario}; bars: 95% intervals\n{results.subtitle}",
        fontsize=11,
    )
    fig.tight_layout()
    sobol_json = {"scenario": scenario, "indices": found}
    files.json(out / "sobol.json", sobol_json)
    return _save(fig, out / "sobol.png", files), sobol_json


def input_scatter(results: SweepReader, out: Path, files: FileSet) -> Path | None:
    """End-state alignment (mean over replicates per sample) against each varied input."""
    inputs = results.inputs
    metrics = [m for m in results.metrics if m.startswith("alignment_")]
    if not inputs or not metrics:
        return None
    samples = results.samples
    cols = min(3, len(inputs))
    rows = (len(inputs) + cols - 1) // cols
    fig, axes = _figure(rows, cols, (5.2 * cols, 4.2 * rows))
    markers = ["o", "s", "^", "D"]
    for ax, spec in zip(axes.flat, inputs, strict=False):
        x_all = samples.column(spec["target"]).to_numpy()
        for k, scenario in enumerate(results.scenarios):
            means = results.sample_means(scenario)
            x = x_all[means["sample"]]
            for metric in metrics:
                pole = metric.removeprefix("alignment_")
                ax.scatter(
                    x,
                    means[metric],
                    s=12,
                    alpha=0.6,
                    color=POLE_COLOURS[pole],
                    marker=markers[k % 4],
                    label=f"{ACTOR_NAMES[pole]}" + (f" ({scenario})" if k else ""),
                )
        ax.set_xlabel(spec.get("label") or spec["target"])
        ax.set_ylabel("end-state alignment (relation, -1..+1)")
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=7, loc="best", title="toward")
    return _finish(
        fig,
        axes,
        len(inputs),
        f"Kazakhstan's end-state alignment ({results.last_month}, mean over replicates) "
        f"against each input\n{results.subtitle}",
        out / "scatter.png",
        files,
    )


def outcome_scatter(results: SweepReader, out: Path, files: FileSet) -> Path | None:
    """The share of replicates in which each outcome happened, against each input."""
    outcomes = results.outcome_shares
    if outcomes.empty or not results.inputs:
        return None
    names = sorted(set(outcomes["outcome"]))
    inputs = results.inputs
    fig, axes = _figure(len(names), len(inputs), (5.0 * len(inputs), 4.0 * len(names)))
    samples = results.samples
    for r, name in enumerate(names):
        part = outcomes[outcomes["outcome"] == name]
        for c, spec in enumerate(inputs):
            ax = axes[r, c]
            x = samples.column(spec["target"]).to_numpy()[part["sample"].to_numpy()]
            y = part["share"].to_numpy()
            ax.scatter(x, y, s=14, alpha=0.6, color=POINT_COLOUR)
            edges = np.unique(np.quantile(x, np.linspace(0, 1, 9)))
            if len(edges) > 2:
                bins = np.clip(np.digitize(x, edges[1:-1]), 0, len(edges) - 2)
                centres = [x[bins == b].mean() for b in range(len(edges) - 1) if (bins == b).any()]
                heights = [y[bins == b].mean() for b in range(len(edges) - 1) if (bins == b).any()]
                ax.plot(centres, heights, color=TREND_COLOUR, linewidth=2, label="binned mean")
                ax.legend(fontsize=8)
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlabel(spec.get("label") or spec["target"])
            ax.set_ylabel(f"P({name})\n(share of replicates)")
            ax.grid(alpha=0.3)
    fig.suptitle(f"Outcome probabilities against the inputs\n{results.subtitle}", fontsize=11)
    fig.tight_layout()
    return _save(fig, out / "outcomes.png", files)


def _cell_edges(points: np.ndarray) -> tuple[float, float]:
    """The outer edges of grid cells centred on the points."""
    step = (points[-1] - points[0]) / max(len(points) - 1, 1) or 1.0
    return points[0] - step / 2, points[-1] + step / 2


def grid_heatmaps(results: SweepReader, out: Path, files: FileSet) -> Path | None:
    """For a grid over two inputs: end-state alignment and outcome shares over the grid."""
    inputs = results.inputs
    if results.manifest["design"]["sampler"] != "grid" or len(inputs) != 2:
        return None
    scenario = results.scenarios[0]
    means = results.sample_means(scenario)
    x_all = results.samples.column(inputs[0]["target"]).to_numpy()
    y_all = results.samples.column(inputs[1]["target"]).to_numpy()
    xs, ys = np.unique(x_all), np.unique(y_all)
    panels: list[tuple[str, np.ndarray, str, tuple[float, float] | None]] = []
    for metric in [m for m in results.metrics if m.startswith("alignment_")]:
        panels.append((METRIC_LABELS[metric], means[metric], "RdBu", None))
    outcomes = results.outcome_shares
    outcomes = outcomes[outcomes["scenario"] == scenario]
    for name in sorted(set(outcomes["outcome"])):
        part = outcomes[outcomes["outcome"] == name]
        share = np.full(results.manifest["samples"], np.nan)
        share[part["sample"].to_numpy()] = part["share"].to_numpy()
        panels.append((f"P({name})", share[means["sample"]], "viridis", (0.0, 1.0)))
    cols = min(3, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = _figure(rows, cols, (4.8 * cols, 4.2 * rows))
    samples = means["sample"]
    for ax, (title, values, cmap, limits) in zip(axes.flat, panels, strict=False):
        grid = np.full((len(ys), len(xs)), np.nan)
        for k, sample in enumerate(samples):
            grid[np.searchsorted(ys, y_all[sample]), np.searchsorted(xs, x_all[sample])] = values[k]
        if limits is None:
            spread = max(
                abs(np.nanmax(grid) - np.nanmedian(grid)),
                abs(np.nanmin(grid) - np.nanmedian(grid)),
                1e-6,
            )
            limits = (np.nanmedian(grid) - spread, np.nanmedian(grid) + spread)
        image = ax.imshow(
            grid,
            origin="lower",
            aspect="auto",
            cmap=cmap,
            vmin=limits[0],
            vmax=limits[1],
            extent=(*_cell_edges(xs), *_cell_edges(ys)),
        )
        fig.colorbar(image, ax=ax, shrink=0.85)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(inputs[0].get("label") or inputs[0]["target"], fontsize=9)
        ax.set_ylabel(inputs[1].get("label") or inputs[1]["target"], fontsize=9)
    return _finish(
        fig,
        axes,
        len(panels),
        f"Over the grid ({scenario}): end-state alignment ({results.last_month}, mean over "
        f"replicates; relation -1..+1) and outcome probabilities\n{results.subtitle}",
        out / "grid.png",
        files,
    )


def plot_sweep(folder: Path, out: Path) -> dict[str, Any]:
    """Draw every figure a sweep supports into ``out``; return what was drawn."""
    results = SweepReader(folder)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(out, "", f"cannot create the folder: {error.strerror}") from None
    with staged() as files:  # every figure and sobol.json appear together
        figures: list[Path] = fan_charts(results, out, files)
        if results.metrics:
            figures.append(end_state(results, out, files))
        for extra in (
            decision_distributions(results, out, files),
            input_scatter(results, out, files),
            outcome_scatter(results, out, files),
            grid_heatmaps(results, out, files),
        ):
            if extra is not None:
                figures.append(extra)
        sobol = sobol_indices(results, out, files)
        if sobol is not None:
            figures.append(sobol[0])
    return {
        "results": str(folder),
        "figures": [str(f) for f in figures],
        "sobol": sobol[1] if sobol else None,
    }
