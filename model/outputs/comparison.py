"""drift.json and drift.png of a paired comparison, written together."""

from pathlib import Path
from typing import Any

from multivector.analysis.drift import drift_summary
from multivector.files import claimed, staged
from multivector.runs.compare import Comparison
from multivector.viz.plotting import drift_chart


def write_comparison(comparison: Comparison, out: Path) -> dict[str, Any]:
    """Write drift.json and drift.png into ``out`` (staged together) and return the summary.

    The folder is locked while written and marked complete (``complete.json``) last.
    """
    summary = drift_summary(comparison)
    with claimed(out), staged(complete=out) as files:
        files.json(out / "drift.json", summary)
        drift_chart(comparison, files.path(out / "drift.png"))
    return summary
