"""Scenario discovery: under which ranges of a sweep's inputs does an outcome happen?

A sweep gives the distribution of outcomes; discovery asks the analyst's next question: which
combinations of shock intensities, probabilities and utility weights make Kazakhstan join the
sanctions, or leave its alignment toward Russia below 0.5? The rows are a sweep's samples (or
its runs), the inputs are what the samples varied (and the calibration draws, if any), and a
row is a case of interest when the outcome holds there. Two methods from EMA Workbench find the
region of the input space where the cases concentrate:

- PRIM (Friedman and Fisher 1999; Bryant and Lempert 2010) peels the input space one thin
  slice at a time, giving a trade-off between coverage (the share of all cases of interest that
  fall in the box) and density (the share of the box's rows that are cases of interest). A box
  is chosen on that trade-off and its restrictions are tested with quasi-p-values.
- CART (a scikit-learn decision tree, wrapped by EMA Workbench) splits the inputs into leaves;
  each leaf is a box, described as rules.

Beside either, extra-trees feature scores say which inputs matter at all.

Everything is read with pyarrow and held as numpy arrays: a 100,000-run sweep is discovered
without a Python object per row.
"""

import ast
import math
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from multivector.analysis.sweep_results import SweepReader
from multivector.errors import InputError
from multivector.inputs.uncertainty import draw_target

METHODS = ("prim", "cart")
PER = ("sample", "replicate")
DEFAULT_THRESHOLD = 0.5
"""A sample is a case of interest when the outcome happens in at least this share of its
replicates (why: "more likely than not", the reading an analyst gives a forecast)."""
SIGNIFICANCE = 0.05
"""Restrictions of the chosen PRIM box whose quasi-p-values all exceed this are dropped (why:
Bryant and Lempert 2010 drop restrictions not significant at the 5% level)."""
PEEL_ALPHA = 0.05
"""Share of the box's rows PRIM peels per step (EMA Workbench's default, Friedman and Fisher's
recommendation of 0.05 to 0.1)."""
PASTE_ALPHA = 0.05
"""Share of rows PRIM pastes back per step (EMA Workbench's default)."""
MASS_MIN = 0.05
"""The smallest box PRIM or a CART leaf may be: 5% of the rows (EMA Workbench's default)."""
FEATURE_TREES = 100
"""Trees of the extra-trees feature scoring (EMA Workbench's default)."""
OPERATORS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_COMPARE = {
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
    "==": pc.equal,
    "!=": pc.not_equal,
}
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
DRAW_LABELS = {
    "precision": "drawn log precision (all states)",
    "tremble": "drawn tremble",
}


@contextmanager
def _quiet() -> Iterator[None]:
    """EMA Workbench's own deprecation warnings (from pandas) are not the user's to act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="ema_workbench")
        yield


def _ema() -> Any:
    """EMA Workbench's analysis modules (its import warns of optional extras we do not use)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import cart, feature_scoring, prim
        from ema_workbench.analysis.scenario_discovery_util import RuleInductionType
    return prim, cart, feature_scoring, RuleInductionType


# --- the condition ------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One comparison of a runs column with a number: ``alignment_RUS < 0.5``."""

    column: str
    operator: str
    value: float

    def __str__(self) -> str:
        return f"{self.column} {self.operator} {self.value:g}"


@dataclass(frozen=True)
class Condition:
    """An end-state condition: comparisons joined by ``and`` / ``or`` (no other syntax).

    Attributes:
        text: The condition as written.
        tree: Nested ``("and" | "or", [parts])`` tuples with :class:`Comparison` leaves.
    """

    text: str
    tree: Any

    @property
    def columns(self) -> list[str]:
        """The runs columns the condition reads, in order of appearance."""
        found: list[str] = []

        def walk(node: Any) -> None:
            if isinstance(node, Comparison):
                if node.column not in found:
                    found.append(node.column)
            else:
                for part in node[1]:
                    walk(part)

        walk(self.tree)
        return found

    def evaluate(self, table: pa.Table) -> pa.Array:
        """The condition on every row of ``table`` (which holds its columns)."""

        def walk(node: Any) -> Any:
            if isinstance(node, Comparison):
                return _COMPARE[node.operator](table.column(node.column), node.value)
            parts = [walk(part) for part in node[1]]
            combine = pc.and_ if node[0] == "and" else pc.or_
            result = parts[0]
            for part in parts[1:]:
                result = combine(result, part)
            return result

        return walk(self.tree)


def parse_condition(text: str, source: str = "--where") -> Condition:
    """Parse ``alignment_RUS < 0.5 and balance >= 0.8`` into a :class:`Condition`.

    The text is parsed by Python's own parser and only comparisons of a column name with a
    number, chained comparisons (``0.2 < balance < 0.6``), ``and``, ``or`` and parentheses are
    accepted: nothing the user writes is evaluated as code.

    Raises:
        InputError: Naming ``source`` and what is wrong.
    """
    if not text.strip():
        raise InputError(source, "", "is empty: write a condition such as 'alignment_RUS < 0.5'")
    try:
        expression = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise InputError(
            source, "", f"{text!r} is not a condition such as 'alignment_RUS < 0.5'"
        ) from None
    return Condition(text.strip(), _node(expression, text, source))


def _node(node: ast.AST, text: str, source: str) -> Any:
    if isinstance(node, ast.BoolOp):
        joiner = "and" if isinstance(node.op, ast.And) else "or"
        return (joiner, [_node(value, text, source) for value in node.values])
    if isinstance(node, ast.Compare):
        operands = [node.left, *node.comparators]
        parts = []
        for left, operator, right in zip(operands, node.ops, operands[1:], strict=False):
            parts.append(_comparison(left, operator, right, text, source))
        return parts[0] if len(parts) == 1 else ("and", parts)
    raise InputError(
        source,
        "",
        f"{text!r}: only comparisons of a column with a number, joined by 'and' or 'or', "
        "are allowed (e.g. 'alignment_RUS < 0.5 and balance > 0.8')",
    )


def _comparison(left: ast.AST, operator: ast.cmpop, right: ast.AST, text: str, source: str) -> Any:
    symbol = OPERATORS.get(type(operator))
    if symbol is None:
        raise InputError(source, "", f"{text!r}: use <, <=, >, >=, == or != to compare")
    if isinstance(left, ast.Name) and _number(right) is not None:
        return Comparison(left.id, symbol, _number(right))
    if isinstance(right, ast.Name) and _number(left) is not None:
        return Comparison(right.id, _FLIPPED[symbol], _number(left))
    raise InputError(source, "", f"{text!r}: each comparison needs one column name and one number")


def _number(node: ast.AST) -> float | None:
    """A numeric literal, possibly negated; None for anything else."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _number(node.operand)
        if inner is None:
            return None
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        value = float(node.value)
        return value if math.isfinite(value) else None
    return None


# --- what is discovered -------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What makes a row a case of interest.

    Attributes:
        outcome: An outcome the experiment defines (``[[outcome]]``), or None.
        condition: An end-state condition on the runs table, or None.
        per: ``"sample"`` (a row per sample, a case when the share of its replicates reaches
            ``threshold``) or ``"replicate"`` (a row per run, a case when it happened there).
        threshold: The share for ``per = "sample"``.
        month: The month a condition is read in (``YYYY-MM``; None: the last kept month).
    """

    outcome: str | None = None
    condition: Condition | None = None
    per: str = "sample"
    threshold: float = DEFAULT_THRESHOLD
    month: str | None = None

    @property
    def name(self) -> str:
        """The outcome's name or the condition as written."""
        return self.outcome if self.outcome is not None else self.condition.text

    def describe(self, month: str | None) -> str:
        """One sentence a figure title or a table caption can carry."""
        what = (
            f"outcome {self.outcome}"
            if self.outcome is not None
            else f"{self.condition.text} in {month}"
        )
        if self.per == "replicate":
            return f"runs in which {what}"
        return f"samples with {what} in at least {self.threshold:.0%} of replicates"


@dataclass
class Rows:
    """The rows of a discovery: inputs, cases of interest and per-sample shares.

    Attributes:
        x: One column per input (float), one row per sample or run.
        y: Whether each row is a case of interest.
        sample_x: The inputs per sample (the rows of the per-sample view).
        share: Per sample, the share of replicates in which the outcome held.
        labels: Each input's label (its ``label`` in the experiment, else its target).
        month: The month a condition was read in (None for an outcome).
    """

    x: pd.DataFrame
    y: np.ndarray
    sample_x: pd.DataFrame
    share: np.ndarray
    labels: dict[str, str]
    month: str | None = None


def load_rows(reader: SweepReader, target: Target, scenario: str | None = None) -> Rows:
    """Read the rows of a discovery from a finished sweep.

    Args:
        reader: The sweep's results.
        target: What makes a row a case of interest.
        scenario: The scenario to read (needed when the sweep ran more than one).

    Raises:
        InputError: A missing outcome or column, a month not kept, a sweep that varies
            nothing, or no case of interest (or nothing else).
    """
    folder = reader.folder
    chosen = _scenario(reader, scenario)
    sample_x, labels = _inputs(reader, chosen)
    month = None
    if target.outcome is not None:
        samples, happened, replicates = _outcome_counts(reader, target.outcome, chosen)
    else:
        month = target.month or reader.last_month
        samples, happened, replicates = _condition_counts(reader, target.condition, chosen, month)
    order = np.argsort(samples)
    samples, happened, replicates = samples[order], happened[order], replicates[order]
    sample_x = sample_x.loc[samples].reset_index(drop=True)
    share = happened / replicates
    if target.per == "sample":
        x, y = sample_x, share >= target.threshold - 1e-12
    else:
        # the runs of a sample share its inputs, so which of them happened does not matter to a
        # box: each sample gives `happened` cases of interest and `replicates - happened` others
        rows = np.repeat(np.arange(len(samples)), replicates)
        x = sample_x.iloc[rows].reset_index(drop=True)
        first = np.repeat(np.cumsum(replicates) - replicates, replicates)
        y = (np.arange(len(rows)) - first) < np.repeat(happened, replicates)
    cases = int(np.sum(y))
    if cases == 0 or cases == len(y):
        which = "no" if cases == 0 else "every"
        hint = "lower --threshold" if cases == 0 else "raise --threshold"
        advice = f"; {hint}" if target.per == "sample" else ""
        raise InputError(
            folder,
            "--where" if target.condition is not None else "--outcome",
            f"{which} {'sample' if target.per == 'sample' else 'run'} is a case of interest "
            f"({target.describe(month)}): nothing to tell apart{advice}",
        )
    return Rows(x=x, y=np.asarray(y, dtype=bool), sample_x=sample_x, share=share,
                labels=labels, month=month)  # fmt: skip


def _scenario(reader: SweepReader, scenario: str | None) -> str:
    names = reader.scenarios
    if scenario is None:
        if len(names) > 1:
            raise InputError(
                reader.folder,
                "--scenario",
                f"the sweep ran {len(names)} scenarios: choose one of {', '.join(names)}",
            )
        return names[0]
    if scenario not in names:
        raise InputError(
            reader.folder, "--scenario", f"no scenario {scenario!r}: {', '.join(names)}"
        )
    return scenario


def _inputs(reader: SweepReader, scenario: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Per sample, every input that varies (and every calibration draw no input replaces)."""
    samples = reader.samples.to_pandas().set_index("sample").sort_index()
    labels = {spec["target"]: spec.get("label") or spec["target"] for spec in reader.inputs}
    columns = {name: samples[name].astype(float) for name in samples.columns}
    if reader.draws is not None:
        draws = reader.draws.filter(pc.field("scenario") == scenario).to_pandas()
        draws = draws.set_index("sample").sort_index()
        for name in draws.columns.drop("scenario"):
            if draw_target(name) in labels:
                continue  # an input replaces this draw in every sample
            column = f"draw.{name}"
            columns[column] = draws[name].astype(float)
            labels[column] = _draw_label(name)
    frame = pd.DataFrame(columns, index=samples.index)
    varying = [c for c in frame.columns if frame[c].nunique() > 1]
    if not varying:
        raise InputError(
            reader.folder,
            "",
            "the sweep varies no input: nothing to discover (docs/experiments.md)",
        )
    return frame[varying], {c: labels[c] for c in varying}


def _draw_label(name: str) -> str:
    if name in DRAW_LABELS:
        return DRAW_LABELS[name]
    if "." in name:
        actor, term = name.split(".", 1)
        what = "log precision offset" if term == "precision" else f"{term} weight offset"
        return f"drawn {actor} {what}"
    return f"drawn {name} weight (all states)"


def _outcome_counts(
    reader: SweepReader, outcome: str, scenario: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    names = reader.manifest.get("outcomes") or []
    if outcome not in names:
        known = f"its outcomes are {', '.join(names)}" if names else "it defines no outcomes"
        raise InputError(
            reader.folder,
            "--outcome",
            f"no outcome {outcome!r} in this sweep: {known} (or use --where)",
        )
    table = reader.table(
        "outcomes",
        ["sample", "happened", "replicates"],
        filter=(pc.field("scenario") == scenario) & (pc.field("outcome") == outcome),
    )
    return _per_sample(table)


def _per_sample(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Samples, and per sample the sums of ``happened`` and ``replicates`` over its rows."""
    grouped = table.group_by("sample", use_threads=False).aggregate(
        [("happened", "sum"), ("replicates", "sum")]
    )
    return (
        grouped.column("sample").to_numpy().astype(np.int64),
        grouped.column("happened_sum").to_numpy().astype(np.int64),
        grouped.column("replicates_sum").to_numpy().astype(np.int64),
    )


def _condition_counts(
    reader: SweepReader, condition: Condition, scenario: str, month: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import pyarrow.dataset as ds

    with reader._reading(reader.folder / "runs"):
        schema = ds.dataset(reader.folder / "runs", format="parquet").schema
    kept = [n for n in schema.names if n not in ("scenario", "sample", "replicate", "month")]
    for column in condition.columns:
        if column not in kept:
            raise InputError(
                reader.folder,
                "--where",
                f"no column {column!r} in the sweep's runs: it kept {', '.join(kept)} "
                "([keep] metrics, docs/experiments.md section 6)",
            )
    runs = reader.table(
        "runs",
        ["sample", *condition.columns],
        filter=(pc.field("scenario") == scenario) & (pc.field("month") == month),
    )
    if runs.num_rows == 0:
        raise InputError(
            reader.folder,
            "--month",
            f"{month} is not a month the sweep kept (the last is {reader.last_month}; "
            "[keep] months, docs/experiments.md section 6)",
        )
    held = pc.fill_null(condition.evaluate(runs), False)
    # one row per run: it happened or not, in one replicate
    ones = pa.array(np.ones(runs.num_rows, dtype=np.int64))
    happened = pc.cast(held, pa.int64())
    return _per_sample(
        pa.table({"sample": runs.column("sample"), "happened": happened, "replicates": ones})
    )


# --- results ------------------------------------------------------------------------------


@dataclass
class Limit:
    """A box's range on one input, in the input's own units."""

    input: str
    label: str
    low: float
    high: float
    minimum: float
    maximum: float
    restricted: list[str]
    qp_low: float | None = None
    qp_high: float | None = None

    @property
    def kept(self) -> float:
        """The share of the input's sampled range the box keeps."""
        span = self.maximum - self.minimum
        return (self.high - self.low) / span if span > 0 else 1.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "input": self.input,
            "label": self.label,
            "low": self.low,
            "high": self.high,
            "sampled_min": self.minimum,
            "sampled_max": self.maximum,
            "restricted": self.restricted,
            "share_of_range": round(self.kept, 4),
            "quasi_p_low": self.qp_low,
            "quasi_p_high": self.qp_high,
        }


@dataclass
class Box:
    """A box: its statistics and its limits on the inputs it restricts."""

    coverage: float
    density: float
    mass: float
    rows: int
    cases: int
    limits: list[Limit]
    id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "id": self.id,
            "coverage": round(self.coverage, 4),
            "density": round(self.density, 4),
            "mass": round(self.mass, 4),
            "rows": self.rows,
            "cases": self.cases,
            "restricted_inputs": len(self.limits),
            "limits": [limit.as_dict() for limit in self.limits],
        }

    def contains(self, x: pd.DataFrame) -> np.ndarray:
        """Which rows of ``x`` lie in the box."""
        inside = np.ones(len(x), dtype=bool)
        for limit in self.limits:
            values = x[limit.input].to_numpy()
            inside &= (values >= limit.low) & (values <= limit.high)
        return inside


@dataclass
class Discovery:
    """What discovery found.

    Attributes:
        method: ``"prim"`` or ``"cart"``.
        target: What made a row a case of interest.
        rows: The rows analysed.
        box: The chosen box (PRIM's, or CART's leaf of interest with the most cases).
        trajectory: PRIM's peeling and pasting trade-off, one dict per box (empty for CART).
        dropped: Restrictions dropped from the chosen PRIM box as not significant.
        leaves: CART's leaves as boxes, the leaves of interest first (empty for PRIM).
        scores: Extra-trees feature scores, per input, highest first.
        settings: The method's settings, recorded for reproduction.
    """

    method: str
    target: Target
    rows: Rows
    box: Box
    trajectory: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    leaves: list[Box] = field(default_factory=list)
    scores: list[tuple[str, float]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def cases(self) -> int:
        """Cases of interest among the rows."""
        return int(np.sum(self.rows.y))

    def most_restricted(self, count: int = 2) -> list[str]:
        """The inputs the box narrows most, topped up with the best-scored others."""
        ranked = [limit.input for limit in sorted(self.box.limits, key=lambda lim: lim.kept)]
        for name, _ in self.scores:
            if name not in ranked:
                ranked.append(name)
        return ranked[:count]

    def as_dict(self) -> dict[str, Any]:
        """Everything discovery found, JSON-ready."""
        target = self.target
        return {
            "method": self.method,
            "target": {
                "outcome": target.outcome,
                "where": None if target.condition is None else target.condition.text,
                "month": self.rows.month,
                "per": target.per,
                "threshold": target.threshold if target.per == "sample" else None,
                "description": target.describe(self.rows.month),
            },
            "rows": len(self.rows.y),
            "cases": self.cases,
            "base_rate": round(self.cases / len(self.rows.y), 4),
            "inputs": [
                {"input": name, "label": self.rows.labels[name]} for name in self.rows.x.columns
            ],
            "box": self.box.as_dict(),
            "dropped_restrictions": self.dropped,
            "tradeoff": self.trajectory,
            "leaves": [leaf.as_dict() for leaf in self.leaves],
            "feature_scores": [
                {"input": name, "label": self.rows.labels[name], "score": round(score, 4)}
                for name, score in self.scores
            ],
            "settings": self.settings,
        }


# --- the methods --------------------------------------------------------------------------


def discover(
    rows: Rows, target: Target, method: str = "prim", *, box: int | None = None, seed: int = 0
) -> Discovery:
    """Find where the cases of interest concentrate, with PRIM or CART, and score the inputs.

    Args:
        rows: The rows (:func:`load_rows`).
        target: What made a row a case of interest (recorded with the result).
        method: ``"prim"`` or ``"cart"``.
        box: PRIM only: the box on the trade-off to report (default: the one that best balances
            coverage and density, their harmonic mean).
        seed: Seed of the feature scoring's trees.
    """
    if method not in METHODS:
        raise InputError("--method", "", f"{method!r}: choose {' or '.join(METHODS)}")
    found = _prim(rows, target, box) if method == "prim" else _cart(rows, target)
    found.scores = feature_scores(rows, seed)
    found.settings |= {"feature_scoring": f"extra trees ({FEATURE_TREES}), seed {seed}"}
    return found


def _limits(
    rows: Rows, lims: pd.DataFrame, initial: pd.DataFrame, qp: dict[str, list[float]] | None
) -> list[Limit]:
    """The restricted inputs of a box, in the inputs' order."""
    found = []
    for name in rows.x.columns:
        low, high = float(lims.loc[0, name]), float(lims.loc[1, name])
        minimum, maximum = float(initial.loc[0, name]), float(initial.loc[1, name])
        restricted = [side for side, moved in (("low", low > minimum), ("high", high < maximum))
                      if moved]  # fmt: skip
        if not restricted:
            continue
        sides = (qp or {}).get(name, [-1.0, -1.0])
        found.append(
            Limit(
                input=name,
                label=rows.labels[name],
                low=max(low, minimum),
                high=min(high, maximum),
                minimum=minimum,
                maximum=maximum,
                restricted=restricted,
                qp_low=None if sides[0] < 0 else float(sides[0]),
                qp_high=None if sides[1] < 0 else float(sides[1]),
            )
        )
    return found


def _initial(rows: Rows) -> pd.DataFrame:
    """The box of all rows: each input's sampled range."""
    return pd.DataFrame([rows.x.min(), rows.x.max()]).reset_index(drop=True)


def _prim(rows: Rows, target: Target, chosen: int | None) -> Discovery:
    prim, _, _, _ = _ema()
    with _quiet():
        algorithm = prim.Prim(
            rows.x, rows.y, peel_alpha=PEEL_ALPHA, paste_alpha=PASTE_ALPHA, mass_min=MASS_MIN
        )
        found = algorithm.find_box()
    trajectory = found.peeling_trajectory
    boxes = len(trajectory)
    coverage = trajectory["coverage"].to_numpy(float)
    density = trajectory["density"].to_numpy(float)
    if chosen is None:
        balance = 2 * coverage * density / np.maximum(coverage + density, 1e-12)
        # the first box is every row: it says nothing, so it is chosen only if it is all PRIM found
        chosen = int(np.argmax(balance[1:])) + 1 if boxes > 1 else 0
        rule = "the box with the highest harmonic mean of coverage and density"
    elif not 0 <= chosen < boxes:
        raise InputError("--box", "", f"{chosen} is not on the trade-off: choose 0 to {boxes - 1}")
    else:
        rule = f"box {chosen}, chosen by the user"
    with _quiet():
        found.select(chosen)
        dropped = _drop_insignificant(found)
    current = found._cur_box  # the chosen box, or the last made by dropping a restriction
    stats = found.peeling_trajectory.iloc[current]
    limits = _limits(rows, found.box_lims[current], _initial(rows), found.p_values[current])
    result = Box(
        coverage=float(stats["coverage"]),
        density=float(stats["density"]),
        mass=float(stats["mass"]),
        rows=int(stats["n"]),
        cases=int(stats["k"]),
        limits=limits,
        id=chosen,
    )
    steps = [
        {
            "id": int(row.id),
            "coverage": round(float(row.coverage), 4),
            "density": round(float(row.density), 4),
            "mass": round(float(row.mass), 4),
            "restricted_inputs": int(row.res_dim),
        }
        for row in trajectory.iloc[:boxes].itertuples()
    ]
    return Discovery(
        method="prim",
        target=target,
        rows=rows,
        box=result,
        trajectory=steps,
        dropped=dropped,
        settings={
            "peel_alpha": PEEL_ALPHA,
            "paste_alpha": PASTE_ALPHA,
            "mass_min": MASS_MIN,
            "box": rule,
            "significance": SIGNIFICANCE,
        },
    )


def _drop_insignificant(found: Any) -> list[str]:
    """Drop, one at a time and weakest first, restrictions not significant at 5%."""
    dropped = []
    while True:
        qp = found.p_values[found._cur_box]
        weak = {
            name: min(p for p in sides if p >= 0)
            for name, sides in qp.items()
            if any(p >= 0 for p in sides) and all(p < 0 or p > SIGNIFICANCE for p in sides)
        }
        if not weak:
            return dropped
        name = max(weak, key=weak.get)
        found.drop_restriction(name)
        dropped.append(name)


def _cart(rows: Rows, target: Target) -> Discovery:
    _, cart, _, _ = _ema()
    with _quiet():
        algorithm = cart.CART(rows.x, rows.y, mass_min=MASS_MIN)
        algorithm.build_tree()
        boxes = algorithm.boxes
    initial = _initial(rows)
    total = int(np.sum(rows.y))
    leaves = []
    for lims in boxes:
        leaf = Box(coverage=0.0, density=0.0, mass=0.0, rows=0, cases=0,
                   limits=_limits(rows, lims, initial, None))  # fmt: skip
        inside = leaf.contains(rows.x)
        leaf.rows, leaf.cases = int(inside.sum()), int(rows.y[inside].sum())
        leaf.coverage = leaf.cases / total
        leaf.density = leaf.cases / max(leaf.rows, 1)
        leaf.mass = leaf.rows / len(rows.y)
        leaves.append(leaf)
    leaves.sort(key=lambda leaf: (-(leaf.density >= 0.5), -leaf.cases, -leaf.density))
    for number, leaf in enumerate(leaves):
        leaf.id = number
    interesting = [leaf for leaf in leaves if leaf.density >= 0.5]
    best = interesting[0] if interesting else max(leaves, key=lambda leaf: leaf.density)
    return Discovery(
        method="cart",
        target=target,
        rows=rows,
        box=best,
        leaves=leaves,
        settings={
            "mass_min": MASS_MIN,
            "box": "the leaf of interest (density at least 0.5) holding the most cases",
        },
    )


def feature_scores(rows: Rows, seed: int = 0) -> list[tuple[str, float]]:
    """Which inputs matter to the outcome at all: extra-trees scores, highest first.

    Scored on the per-sample share of replicates in which the outcome held (a regression), so
    that the scores measure what moves the outcome, whichever rows PRIM or CART used.
    """
    _, _, scoring, kind = _ema()
    x = rows.sample_x
    with _quiet():
        scores, _ = scoring.get_ex_feature_scores(
            x,
            rows.share,
            mode=kind.REGRESSION,
            nr_trees=FEATURE_TREES,
            max_features=max(1, round(x.shape[1] / 3)),
            random_state=seed,
        )
    return [(str(name), float(score)) for name, score in scores.iloc[:, 0].items()]


def slug(target: Target, method: str) -> str:
    """A folder name for a discovery: ``kaz-joins-sanctions-prim-per-sample``."""
    words = {"<=": "le", ">=": "ge", "<": "lt", ">": "gt", "==": "eq", "!=": "ne"}
    name = target.name
    for symbol, word in words.items():
        name = name.replace(symbol, f" {word} ")
    name = re.sub(r"[^A-Za-z0-9_.]+", "-", name).strip("-").lower()[:80]
    return f"{name}-{method}-per-{target.per}"
