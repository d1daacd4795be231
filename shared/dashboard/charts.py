"""Geometry of the small SVG charts the pages draw (pure; the template draws)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

BAR_HEIGHT = 22
BAR_GAP = 8
LABEL_WIDTH = 130
CHART_WIDTH = 340


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: int
    y: int
    width: int
    height: int
    css: str


def health_bars(by_health: Iterable[tuple[str, int]]) -> list[Bar]:
    """One horizontal bar per health, scaled to the largest count."""
    items = list(by_health)
    largest = max((count for _, count in items), default=0) or 1
    span = CHART_WIDTH - LABEL_WIDTH - 40
    return [
        Bar(
            label=health,
            value=count,
            x=LABEL_WIDTH,
            y=index * (BAR_HEIGHT + BAR_GAP),
            width=round(span * count / largest),
            height=BAR_HEIGHT,
            css=f"health-{health}",
        )
        for index, (health, count) in enumerate(items)
    ]


def month_bars(due_dates: Iterable[dt.date], *, height: int = 100) -> list[Bar]:
    """Vertical bars: milestones due per month, from the first month to the last."""
    months = Counter(due.replace(day=1) for due in due_dates)
    if not months:
        return []
    first, last = min(months), max(months)
    series = []
    month = first
    while month <= last and len(series) < 24:
        series.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    largest = max(months.values())
    width = 28
    return [
        Bar(
            label=month.strftime("%b %Y"),
            value=months.get(month, 0),
            x=index * (width + 6),
            y=height - round(height * months.get(month, 0) / largest),
            width=width,
            height=round(height * months.get(month, 0) / largest),
            css="due",
        )
        for index, month in enumerate(series)
    ]
