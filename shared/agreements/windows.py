"""The time windows over agreements that the sweep announces and the Attention page shows.

Written once, as SQL conditions, so that what the dashboard lists is what the
sweep sends: live agreements expiring within a window, and signed or active
agreements without activity for a number of days (the rollup's
``last_activity_at``, else the agreement's own ``updated_at``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func

from shared.lifecycle import AGREEMENT_DORMANCY_STATUSES, AGREEMENT_LIVE_STATUSES
from shared.models import Agreement, AgreementRollup

# When the agreement last saw activity (a query using it joins the rollup: see with_activity).
LAST_ACTIVITY = func.coalesce(AgreementRollup.last_activity_at, Agreement.updated_at)


def expiring_between(first: dt.date, last: dt.date) -> ColumnElement[bool]:
    """A live agreement whose ``expires_on`` falls from ``first`` to ``last`` (both included)."""
    return and_(
        Agreement.status.in_(AGREEMENT_LIVE_STATUSES), Agreement.expires_on.between(first, last)
    )


def with_activity(query: Select[Any]) -> Select[Any]:
    """``query`` (over agreements) joined to what :data:`LAST_ACTIVITY` reads."""
    return query.outerjoin(AgreementRollup, AgreementRollup.agreement_id == Agreement.id)


def dormant_on(today: dt.date, dormancy_days: int) -> ColumnElement[bool]:
    """A signed or active agreement with no activity in the ``dormancy_days`` before ``today``."""
    cutoff = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC) - dt.timedelta(days=dormancy_days)
    return and_(Agreement.status.in_(AGREEMENT_DORMANCY_STATUSES), cutoff > LAST_ACTIVITY)
