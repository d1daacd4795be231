"""The rollup handler: any change under an agreement recomputes its rollups.

Loading, computing and storing are :mod:`shared.rollups.store`; this module
only decides, per event, whether a recompute is still needed.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.worker.dispatch import Handler
from shared.models import OutboxEvent
from shared.rollups.store import RecomputeLog, lock_agreement, recompute_locked, recompute_log

# Events that cannot change a rollup (some are the pipeline's own notices).
NO_ROLLUP_CHANGE = frozenset(
    {
        "agreement.health_changed",
        "agreement.expiring",
        "agreement.dormant",
        # Reports move rollups only through the indicator.measured events of an acceptance.
        "report.opened",
        "report.updated",
        "report.submitted",
        "report.accepted",
        "report.returned",
        "report.due",
        "report.overdue",
    }
)


def changes_a_rollup(event: OutboxEvent) -> bool:
    return event.aggregate_type == "agreement" and event.type not in NO_ROLLUP_CHANGE


async def recompute_on_event(
    session: AsyncSession, event: OutboxEvent, *, log: RecomputeLog | None = None
) -> bool:
    """Recompute the rollups of the event's agreement unless already done.

    Returns whether it recomputed.
    """
    if not changes_a_rollup(event):
        return False
    log = log or recompute_log
    # The event is committed (this transaction read it), and so is its change.
    known_at = log.now()
    await lock_agreement(session, event.aggregate_id)
    if log.covers(event.aggregate_id, known_at):
        # A recompute of this agreement whose reads began after now has
        # committed: it saw this change (rollups come from source rows), and
        # recorded health_changed if the health moved. Nothing left to do.
        return False
    await recompute_locked(session, event.aggregate_id, log=log)
    return True


async def _handle(session: AsyncSession, event: OutboxEvent) -> None:
    await recompute_on_event(session, event)


# The consumer name of its processed_events rows: keep it stable.
HANDLER = Handler(name="rollups", prefixes=("",), run=_handle, when=changes_a_rollup)
