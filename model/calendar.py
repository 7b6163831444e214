"""Months as integers, the model's unit of time."""

import datetime as dt
import re

RECORD_START = "2014-01"
"""The first month of the documented record."""
RECORD_END = "2026-03"
"""The last month of the documented record."""
MAX_SPAN_MONTHS = 12 * 60
"""The longest run, in months from its first month: a scenario's ``end`` is at most 60 years
after its ``start``, so the record's replay (from ``RECORD_START``) reaches ``LAST_MONTH``."""

_MONTH = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")


def month_index(year: int, month: int) -> int:
    """Count months from year 0 so that consecutive months differ by one."""
    return year * 12 + (month - 1)


def parse_month(value: str | dt.date) -> int:
    """Parse ``YYYY-MM``, ``YYYY-MM-DD`` or a TOML date into a month index.

    Raises:
        ValueError: If the text is not a real calendar date.

    """
    if isinstance(value, dt.date):
        return month_index(value.year, value.month)
    match = _MONTH.match(str(value).strip())
    if not match:
        raise ValueError(f"'{value}' is not a date of the form YYYY-MM or YYYY-MM-DD")
    year, month, day = int(match[1]), int(match[2]), match[3]
    if not 1 <= month <= 12:
        raise ValueError(f"'{value}' has month {month}, not 1-12")
    if day is not None:
        try:
            dt.date(year, month, int(day))
        except ValueError:
            raise ValueError(f"'{value}' is not a real date") from None
    return month_index(year, month)


def month_label(index: int) -> str:
    """Format a month index as ``YYYY-MM``."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_year(index: int) -> int:
    """The calendar year of a month index."""
    return index // 12


def year_ends(months: list[int]) -> list[int]:
    """Positions of the last month of each calendar year in an ordered list of months."""
    return [
        k
        for k, month in enumerate(months)
        if k == len(months) - 1 or month_year(months[k + 1]) != month_year(month)
    ]


def month_fraction(index: int) -> float:
    """A month index as a decimal year (mid-month), for plotting."""
    return index / 12 + 1 / 24


LAST_MONTH = month_label(parse_month(RECORD_START) + MAX_SPAN_MONTHS)
"""The last month the model can run to (2074-01): the record's replay, which every prediction
runs from ``RECORD_START``, is a scenario and so spans at most ``MAX_SPAN_MONTHS``."""


def replay_problem(value: str | dt.date) -> str | None:
    """Why the record's replay cannot reach the month of ``value``, or None if it can.

    A prediction replays the record from its first month to the date asked about, so the date
    must lie between ``RECORD_START`` and ``LAST_MONTH``.

    Raises:
        ValueError: If ``value`` is not a date (see :func:`parse_month`).
    """
    month = parse_month(value)
    if month < parse_month(RECORD_START):
        return f"{value} is before {RECORD_START}, where the record starts"
    if month > parse_month(LAST_MONTH):
        return (
            f"{value} is after the last month the model can run to, {LAST_MONTH} "
            f"({MAX_SPAN_MONTHS // 12} years from the record's start, {RECORD_START})"
        )
    return None
