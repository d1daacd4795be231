"""The time of the system: now and today, always in UTC.

Every "now" and "today" of the domain comes from here, so what day it is
is decided in one place (the UTC calendar day, whatever the server's zone).
"""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Now, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    """Today's date in UTC."""
    return utcnow().date()
