"""Figures of a scenario discovery: the trade-off, the box's limits, a pairs scatter, the scores.

Each figure reads a :class:`multivector.analysis.discovery.Discovery` and draws into a staged
file, so the figures and ``discovery.json`` appear together.
"""

from pathlib import Path
from typing import Any

import numpy as np

from multivector.analysis.discovery import Discovery
from multivector.files import FileSet
from multivector.viz.style import FIRST_ORDER_COLOUR, POINT_COLOUR, TREND_COLOUR, pyplot

BOX_COLOUR = TREND_COLOUR
"""The chosen box, wherever it is drawn."""


def _title(discovery: Discovery, what: str) -> str:
    target = discovery.target.describe(discovery.rows.month)
    return f"{what}\n{discovery.method.upper()}: {target}"


def _save(fig: Any, path: Path, files: FileSet) -> Path:
    fig.savefig(files.path(path), dpi=120, format="png")
    pyplot().close(fig)
    return path


def tradeoff(discovery: Discovery, path: Path, files: FileSet) -> Path:
    """PRIM's peeling trajectory: density against coverage, coloured by restricted inputs."""
    plt = pyplot()
    steps = discovery.trajectory
    fig, ax = plt.subplots(figsize=(7.0, 5.0))
    coverage = [s["coverage"] for s in steps]
    density = [s["density"] for s in steps]
    dims = [s["restricted_inputs"] for s in steps]
    points = ax.scatter(coverage, density, c=dims, cmap="viridis", s=22, zorder=2)
    ax.plot(coverage, density, color="#999999", linewidth=0.8, zorder=1)
    box = discovery.box
    marked = f"reported box: coverage {box.coverage:.2f}, density {box.density:.2f}"
    ax.scatter([box.coverage], [box.density], marker="*", s=260, color=BOX_COLOUR, zorder=3,
               label=marked)  # fmt: skip
    base = discovery.cases / len(discovery.rows.y)
    ax.axhline(base, color="#777777", linestyle=":", linewidth=1, label=f"base rate {base:.2f}")
    ax.set_xlabel("coverage: share of all cases of interest inside the box")
    ax.set_ylabel("density: share of the box's rows that are cases")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    colour_bar = fig.colorbar(points, ax=ax)
    colour_bar.set_label("restricted inputs")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(_title(discovery, "Peeling trajectory (coverage against density)"), fontsize=9)
    fig.tight_layout()
    return _save(fig, path, files)


def box_limits(discovery: Discovery, path: Path, files: FileSet) -> Path:
    """The reported box on each input it restricts, within the input's sampled range."""
    plt = pyplot()
    limits = discovery.box.limits
    fig, ax = plt.subplots(figsize=(8.0, 1.2 + 0.55 * max(len(limits), 1)))
    for row, limit in enumerate(limits):
        span = limit.maximum - limit.minimum
        low = (limit.low - limit.minimum) / span
        high = (limit.high - limit.minimum) / span
        ax.plot([0, 1], [row, row], color="#cccccc", linewidth=6, solid_capstyle="butt")
        ax.plot([low, high], [row, row], color=BOX_COLOUR, linewidth=6, solid_capstyle="butt")
        ax.text(-0.02, row, f"{limit.minimum:.3g}", ha="right", va="center", fontsize=8)
        ax.text(1.02, row, f"{limit.maximum:.3g}", ha="left", va="center", fontsize=8)
        ax.text(low, row + 0.28, _side(limit.low, limit.qp_low), ha="center", fontsize=8)
        ax.text(high, row + 0.28, _side(limit.high, limit.qp_high), ha="center", fontsize=8)
    ax.set_yticks(range(len(limits)), [limit.label for limit in limits], fontsize=8)
    ax.set_ylim(-0.6, max(len(limits), 1) - 0.3)
    ax.set_xlim(-0.12, 1.12)
    ax.set_xticks([])
    if not limits:
        ax.text(0.5, 0, "the box restricts no input", ha="center", va="center")
    box = discovery.box
    what = (
        f"Box limits (grey: sampled range; red: the box). Coverage {box.coverage:.2f}, "
        f"density {box.density:.2f}, mass {box.mass:.2f}"
    )
    ax.set_title(_title(discovery, what), fontsize=9)
    for spine in ("top", "right", "left", "bottom"):
        ax.spines[spine].set_visible(False)
    fig.tight_layout()
    return _save(fig, path, files)


def _side(value: float, qp: float | None) -> str:
    """A limit's value, with its quasi-p-value where that side is restricted."""
    if qp is None:
        return f"{value:.3g}"
    return f"{value:.3g} (qp {qp:.1g})" if qp >= 0.001 else f"{value:.3g} (qp<0.001)"


def pairs(discovery: Discovery, path: Path, files: FileSet) -> Path:
    """The samples on the two inputs the box narrows most, coloured by the outcome's share."""
    plt = pyplot()
    first, second = (discovery.most_restricted(2) + [None])[:2]
    x = discovery.rows.sample_x
    fig, ax = plt.subplots(figsize=(7.0, 5.5))
    along = x[first].to_numpy()
    across = x[second].to_numpy() if second else np.zeros(len(x))
    # per sample, the cases of interest are outlined; per replicate every sample holds some
    cases = discovery.rows.y if discovery.target.per == "sample" else np.zeros(len(x), bool)
    points = ax.scatter(along, across, c=discovery.rows.share, cmap="viridis", vmin=0, vmax=1,
                        s=np.where(cases, 26, 14), edgecolors=np.where(cases, "black", "none"),
                        linewidths=0.6)  # fmt: skip
    colour_bar = fig.colorbar(points, ax=ax)
    colour_bar.set_label("share of the sample's replicates in which it held")
    limits = {limit.input: limit for limit in discovery.box.limits}

    def span(name: str | None, values: np.ndarray) -> tuple[float, float]:
        if name in limits:
            return limits[name].low, limits[name].high
        return float(values.min()), float(values.max())

    (x0, x1), (y0, y1) = span(first, along), span(second, across)
    ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=BOX_COLOUR,
                               linewidth=2, label="the reported box"))  # fmt: skip
    ax.set_xlabel(discovery.rows.labels[first])
    ax.set_ylabel(discovery.rows.labels[second] if second else "")
    ax.legend(loc="upper right", fontsize=8)
    what = "The two inputs the box narrows most, one point per sample"
    if discovery.target.per == "sample":
        what += " (outlined: cases of interest)"
    ax.set_title(_title(discovery, what),
                 fontsize=9)  # fmt: skip
    fig.tight_layout()
    return _save(fig, path, files)


def scores(discovery: Discovery, path: Path, files: FileSet) -> Path:
    """Extra-trees feature scores: which inputs move the outcome's share at all."""
    plt = pyplot()
    ranked = discovery.scores
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.4 * len(ranked)))
    labels = [discovery.rows.labels[name] for name, _ in ranked][::-1]
    values = [score for _, score in ranked][::-1]
    restricted = {limit.input for limit in discovery.box.limits}
    colours = [BOX_COLOUR if name in restricted else FIRST_ORDER_COLOUR for name, _ in ranked][::-1]
    ax.barh(range(len(values)), values, color=colours)
    ax.set_yticks(range(len(values)), labels, fontsize=8)
    ax.set_xlabel("feature score (extra trees; the scores sum to 1)")
    ax.axvline(1 / max(len(ranked), 1), color="#777777", linestyle=":", linewidth=1)
    ax.set_title(
        _title(
            discovery, "Which inputs matter (red: restricted by the box; dotted: an even share)"
        ),
        fontsize=9,
    )
    fig.tight_layout()
    return _save(fig, path, files)


def leaves(discovery: Discovery, path: Path, files: FileSet) -> Path:
    """CART's leaves: density against mass, the leaves of interest marked."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 5.0))
    for leaf in discovery.leaves:
        colour = BOX_COLOUR if leaf is discovery.box else POINT_COLOUR
        ax.scatter([leaf.coverage], [leaf.density], s=40 + 400 * leaf.mass, color=colour,
                   alpha=0.7)  # fmt: skip
        ax.annotate(str(leaf.id), (leaf.coverage, leaf.density), fontsize=7,
                    xytext=(4, 4), textcoords="offset points")  # fmt: skip
    ax.axhline(0.5, color="#777777", linestyle=":", linewidth=1, label="density 0.5")
    ax.set_xlabel("coverage: share of all cases of interest in the leaf")
    ax.set_ylabel("density: share of the leaf's rows that are cases")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(_title(discovery, "CART leaves (area: mass; red: the reported leaf)"),
                 fontsize=9)  # fmt: skip
    fig.tight_layout()
    return _save(fig, path, files)


def discovery_figures(discovery: Discovery, out: Path, files: FileSet) -> list[Path]:
    """Every figure of a discovery, staged in ``files``."""
    drawn = []
    if discovery.method == "prim":
        drawn.append(tradeoff(discovery, out / "tradeoff.png", files))
    else:
        drawn.append(leaves(discovery, out / "leaves.png", files))
    drawn.append(box_limits(discovery, out / "box_limits.png", files))
    drawn.append(pairs(discovery, out / "pairs.png", files))
    drawn.append(scores(discovery, out / "feature_scores.png", files))
    return drawn
