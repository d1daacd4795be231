"""Reporting periods (SPEC section 11): pure date arithmetic, no I/O.

A schedule's periods follow each other without gap or overlap: period ``n``
starts ``n`` times the frequency's months after ``first_period_start`` and
ends the day before period ``n + 1`` starts.

Month-end starts: every period starts on the day of month of
``first_period_start``, clamped to the last day of shorter months, and each
start is computed from the first one (never from the previous period), so a
clamped month does not shift the rest: 31 January -> 30 April -> 31 July ->
31 October; 29 February 2024 (annual) -> 28 February 2025 ... -> 29 February
2028.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Frequency = Literal["quarterly", "semiannual", "annual"]
MONTHS: dict[str, int] = {"quarterly": 3, "semiannual": 6, "annual": 12}


@dataclass(frozen=True)
class Period:
    index: int
    start: dt.date
    end: dt.date

    def due_on(self, due_days: int) -> dt.date:
        """When the period's report is due: its last day plus ``due_days``."""
        return self.end + dt.timedelta(days=due_days)


def add_months(anchor: dt.date, months: int) -> dt.date:
    """``anchor`` moved by ``months``, its day clamped to the target month's length."""
    month_index = anchor.year * 12 + (anchor.month - 1) + months
    year, month = divmod(month_index, 12)
    month += 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return dt.date(year, month, day)


def period_start(frequency: str, first_period_start: dt.date, index: int) -> dt.date:
    return add_months(first_period_start, MONTHS[frequency] * index)


def period(frequency: str, first_period_start: dt.date, index: int) -> Period:
    """Period number ``index`` (0 is the first) of a schedule."""
    start = period_start(frequency, first_period_start, index)
    following = period_start(frequency, first_period_start, index + 1)
    return Period(index=index, start=start, end=following - dt.timedelta(days=1))


def started_periods(
    frequency: str, first_period_start: dt.date, today: dt.date, *, after: dt.date | None = None
) -> Iterator[Period]:
    """The periods that have started by ``today``, oldest first; with ``after``,
    only those starting after that date."""
    index = 0
    if after is not None and after >= first_period_start:
        # Skip straight to about the right period rather than walking from the first.
        months = (
            (after.year - first_period_start.year) * 12 + after.month - first_period_start.month
        )
        index = max(0, months // MONTHS[frequency] - 1)
    while True:
        current = period(frequency, first_period_start, index)
        if current.start > today:
            return
        if after is None or current.start > after:
            yield current
        index += 1
