"""The look every figure shares: one colour per actor, accent colours, the Agg back-end.

Run figures, drift charts, sweep figures, the calibration report and the teaching app all
read their colours here, so an actor has the same colour everywhere.
"""

from typing import Any

from multivector.actors import POLES

ACTOR_COLOURS: dict[str, str] = {
    "KAZ": "#138d75",
    "RUS": "#c0392b",
    "USA": "#2e64b5",
    "CHN": "#d68910",
    "BLR": "#7d3c98",
    "UKR": "#2c3e50",
}
"""One colour per actor."""

POLE_COLOURS: dict[str, str] = {pole: ACTOR_COLOURS[pole] for pole in POLES}
"""The three poles' colours, in the order of :data:`multivector.actors.POLES`."""

FIRST_ORDER_COLOUR = "#5d8aa8"
"""First-order Sobol indices."""
TOTAL_ORDER_COLOUR = "#c06c3e"
"""Total Sobol indices."""
POINT_COLOUR = "#4a6fa5"
"""Points of a scatter plot."""
TREND_COLOUR = "#b03a2e"
"""A binned mean drawn over a scatter plot."""


def use_agg() -> None:
    """Draw without a display: select matplotlib's Agg back-end (before pyplot is imported)."""
    import matplotlib

    matplotlib.use("Agg")


def pyplot() -> Any:
    """Matplotlib's pyplot on the Agg back-end."""
    use_agg()
    import matplotlib.pyplot as plt

    return plt
