"""Multivector: an agent-based model of Kazakhstan's multi-vector foreign policy.

Read top to bottom, the package is the data flow; each layer imports only the layers below it
(an import-linter contract in ``pyproject.toml``, checked in CI):

- ``cli``, ``app``: the ``multivector`` command and the teaching app.
- ``api``: the Python API below (``import multivector as mv``), which the command line uses.
- ``outputs``: files out (Parquet, JSON, TOML, Markdown), each set written whole or not at all.
- ``viz``: figures, with one palette.
- ``analysis``: numbers from runs: summaries, drift, patterns, calibration, predictions,
  scenario discovery over sweeps.
- ``runs``: many replicates: scenario runs, paired comparisons, sweeps (local or Dask).
- ``core``: the dynamics of one batch of replicates: ``utility`` (the utility function, term
  by term), ``choice`` (logit and the vote equilibrium), ``streams``, ``world``, ``agents``,
  ``model`` (the Mesa model) and ``observation``.
- ``inputs``: validated file formats and what they compile to.
- ``actors``, ``calendar``, ``errors``, ``files``, ``keys``, ``version``: the vocabulary every
  layer shares.

The API's names are imported on first use, so ``import multivector.core.choice`` stays light.
"""

from typing import TYPE_CHECKING, Any

from multivector.version import __version__

API = (
    "run",
    "compare",
    "sweep",
    "open_sweep",
    "calibrate",
    "predict",
    "episodes",
    "statics",
    "discover",
    "RunResult",
    "ComparisonResult",
    "SweepResults",
    "DiscoveryResult",
)

if TYPE_CHECKING:
    from multivector.api import (  # noqa: F401
        ComparisonResult,
        DiscoveryResult,
        RunResult,
        SweepResults,
        calibrate,
        compare,
        discover,
        episodes,
        open_sweep,
        predict,
        run,
        statics,
        sweep,
    )


def __getattr__(name: str) -> Any:
    """The API's names, imported from :mod:`multivector.api` on first use."""
    if name in API:
        from multivector import api

        return getattr(api, name)
    raise AttributeError(f"module 'multivector' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *API])


__all__ = ["__version__", *API]
