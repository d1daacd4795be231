"""The rollup handler: any change under an agreement recomputes its rollups.

Loading, computing and storing are :mod:`shared.rollups.store`; this module
only decides, per batch of events, which agreements still need a recompute.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.worker.dispatch import batch_handler
from shared.models import OutboxEvent
from shared.rollups.store import (
    RecomputeLog,
    lock_agreements,
    recompute_all_locked,
    recompute_log,
)

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
    return bool(await recompute_on_events(session, [event], log=log))


async def recompute_on_events(
    session: AsyncSession, events: list[OutboxEvent], *, log: RecomputeLog | None = None
) -> set[uuid.UUID]:
    """Recompute, once each, the rollups of the events' agreements that still need it.

    Returns the agreements it recomputed. Several events of one agreement
    cost one recompute: it reads after all of them committed.
    """
    agreement_ids = {event.aggregate_id for event in events if changes_a_rollup(event)}
    if not agreement_ids:
        return set()
    log = log or recompute_log
    # The events are committed (this transaction read them), and so are their changes.
    known_at = log.now()
    await lock_agreements(session, agreement_ids)
    # A recompute of an agreement whose reads began after now has committed:
    # it saw these changes (rollups come from source rows), and recorded
    # health_changed if the health moved. Nothing left to do for it.
    todo = {agreement for agreement in agreement_ids if not log.covers(agreement, known_at)}
    if todo:
        await recompute_all_locked(session, todo, log=log)
    return todo


async def _handle(session: AsyncSession, events: list[OutboxEvent]) -> None:
    await recompute_on_events(session, events)


# The consumer name of its processed_events rows: keep it stable.
HANDLER = batch_handler(_handle, "", name="rollups", when=changes_a_rollup)
