"""Pure rendering of calendar items into an RFC 5545 ``VCALENDAR`` (with ``icalendar``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from icalendar import Calendar, Event

PRODUCT_ID = "-//Accords//Agreement reminders//EN"


@dataclass(frozen=True)
class CalendarItem:
    """One all-day entry: a milestone due date, an engagement, an expiry or a report due date."""

    uid: str
    # Follows the resource's ``version``: calendar clients replace an entry
    # only when its SEQUENCE grows.
    sequence: int
    summary: str
    description: str
    starts_on: dt.date
    ends_on: dt.date | None = None
    cancelled: bool = False
    url: str | None = None
    modified_at: dt.datetime | None = None


def render_calendar(name: str, items: Iterable[CalendarItem], *, now: dt.datetime) -> bytes:
    """The feed's bytes; ``now`` becomes every entry's DTSTAMP (when the feed was generated)."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    for item in items:
        calendar.add_component(_event(item, now))
    return calendar.to_ical()


def _event(item: CalendarItem, now: dt.datetime) -> Event:
    event = Event()
    event.add("uid", item.uid)
    event.add("dtstamp", now)
    event.add("sequence", item.sequence)
    event.add("summary", item.summary)
    event.add("description", item.description)
    # All-day: DTSTART is a DATE and DTEND the (exclusive) day after the last one.
    event.add("dtstart", item.starts_on)
    last_day = item.ends_on if item.ends_on and item.ends_on >= item.starts_on else item.starts_on
    event.add("dtend", last_day + dt.timedelta(days=1))
    event.add("transp", "TRANSPARENT")
    event.add("status", "CANCELLED" if item.cancelled else "CONFIRMED")
    if item.url:
        event.add("url", item.url)
    if item.modified_at:
        event.add("last-modified", item.modified_at)
    return event
