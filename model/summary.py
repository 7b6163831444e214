"""Statistics the summaries share: a median with its 90% interval, rounded for JSON."""

import numpy as np

QUANTILES = (0.05, 0.5, 0.95)
"""The quantiles reported: the 90% interval and the median."""


def quantiles(values: np.ndarray) -> dict[str, float]:
    """Median and 90% interval (5th and 95th percentiles), rounded to four decimals."""
    low, median, high = np.quantile(values, QUANTILES)
    return {
        "median": round(float(median), 4),
        "p05": round(float(low), 4),
        "p95": round(float(high), 4),
    }
