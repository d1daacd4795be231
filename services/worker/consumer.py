"""Consuming one outbox event: run every handler that wants it, once each."""

from __future__ import annotations

import datetime as dt
import uuid

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.worker.broker import OutboxPublisher, mark_dispatched
from services.worker.dispatch import handlers_for
from shared.events import new_event_ids
from shared.models import OutboxEvent, ProcessedEvent

log = structlog.get_logger("accords.worker")


async def process_event(
    sessionmaker: async_sessionmaker[AsyncSession],
    event_id: uuid.UUID,
    *,
    publisher: OutboxPublisher | None = None,
) -> list[str]:
    """Run the handlers of one event; returns the names of those that ran now.

    Each handler runs in its own transaction, which also writes its
    ``processed_events`` row: a handler that already ran for this event is
    skipped, and one that fails (the message is retried) leaves no trace.
    Events a handler records are published after its commit.
    """
    async with sessionmaker() as session:
        event = await session.get(OutboxEvent, event_id)
        if event is None:
            log.warning("event_not_found", event_id=str(event_id))
            return []
        already = set(
            (
                await session.scalars(
                    select(ProcessedEvent.consumer).where(ProcessedEvent.event_id == event_id)
                )
            ).all()
        )
        await session.commit()
    ran = []
    for handler in handlers_for(event.type):
        if handler.name in already:
            continue
        async with sessionmaker() as session:
            record = ProcessedEvent(consumer=handler.name, event_id=event_id)
            session.add(record)
            try:
                # The row first: a concurrent delivery of the same event waits
                # on it, then fails here and leaves the work to this one.
                await session.flush()
            except IntegrityError:
                await session.rollback()
                continue
            await handler.run(session, event)
            # When the handler's work became visible (benchmarks read it).
            record.processed_at = dt.datetime.now(dt.UTC)
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()
                continue
            recorded = new_event_ids(session)
        ran.append(handler.name)
        if recorded and publisher is not None:
            await publisher.publish_committed(recorded)
    if publisher is not None and not publisher.durable:
        # In-process queue: the event counts as dispatched once consumed.
        async with sessionmaker() as session:
            await mark_dispatched(session, [event_id])
            await session.commit()
        publisher.settled(event_id)
    return ran
