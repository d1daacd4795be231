"""Consuming one outbox event: run every handler that wants it, once each."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.worker.broker import OutboxPublisher, mark_dispatched
from services.worker.dispatch import Handler, handlers_applying_to
from shared.events import new_event_ids
from shared.models import OutboxEvent, ProcessedEvent

log = structlog.get_logger("accords.worker")


async def load_event(
    session: AsyncSession, event_id: uuid.UUID
) -> tuple[OutboxEvent | None, set[str]]:
    """The event and the consumers that already processed it, in one query.

    The event is detached from the session, so a rollback of the handler
    transaction that read it leaves it usable for the next handlers.
    """
    rows = (
        await session.execute(
            select(OutboxEvent, ProcessedEvent.consumer)
            .outerjoin(ProcessedEvent, ProcessedEvent.event_id == OutboxEvent.id)
            .where(OutboxEvent.id == event_id)
        )
    ).all()
    if not rows:
        return None, set()
    event = rows[0][0]
    session.expunge(event)
    return event, {row.consumer for row in rows if row.consumer is not None}


def _insert(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def run_handler(
    session: AsyncSession,
    handler: Handler,
    event: OutboxEvent,
    publisher: OutboxPublisher | None,
) -> bool:
    """Run one handler in the session's transaction and commit; False if it was done already.

    The ``processed_events`` row is written last, stamped with when the
    handler's work was done (benchmarks read it), in the same statement that
    finds a concurrent delivery of the same event: whichever transaction
    inserts it second gets no row back and rolls its work back. (Handlers
    are idempotent: the second one, serialised behind the first on the rows
    or locks they share, finds the work done.)
    """
    await handler.run(session, event)
    await session.flush()
    inserted = await session.scalar(
        _insert(session)(ProcessedEvent)
        .values(consumer=handler.name, event_id=event.id, processed_at=dt.datetime.now(dt.UTC))
        .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
        .returning(ProcessedEvent.consumer)
    )
    if inserted is None:
        await session.rollback()
        return False
    await session.commit()
    recorded = new_event_ids(session)
    if recorded and publisher is not None:
        await publisher.publish_committed(recorded)
    return True


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
    The first handler's transaction is the one that read the event.
    Events a handler records are published after its commit.
    """
    ran: list[str] = []
    async with sessionmaker() as session:
        event, already = await load_event(session, event_id)
        if event is None:
            log.warning("event_not_found", event_id=str(event_id))
            return []
        todo = [handler for handler in handlers_applying_to(event) if handler.name not in already]
        if not todo:
            await session.commit()
        elif await run_handler(session, todo[0], event, publisher):
            ran.append(todo[0].name)
    for handler in todo[1:]:
        async with sessionmaker() as session:
            if await run_handler(session, handler, event, publisher):
                ran.append(handler.name)
    if publisher is not None and not publisher.durable:
        # In-process queue: the event counts as dispatched once consumed.
        async with sessionmaker() as session:
            await mark_dispatched(session, [event_id])
            await session.commit()
        publisher.settled(event_id)
    return ran
