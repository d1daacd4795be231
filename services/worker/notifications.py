"""The handler that turns events into notifications for people (SPEC 12).

The rows are written in the consumer's transaction, idempotently per event and
contact; the mail pump (services/worker/mail.py) sends them.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.worker import runtime
from services.worker.dispatch import batch_handler
from shared.db import utcnow
from shared.models import OutboxEvent
from shared.notifications.mailing import notify_events


async def write_notifications(session: AsyncSession, events: list[OutboxEvent]) -> None:
    """Write the notifications of a batch of events."""
    # The mail pump polls for due rows: these become visible when this commits.
    await notify_events(session, events, runtime.current().settings, now=utcnow())


HANDLER = batch_handler(write_notifications, "", name="notifications.write")
