"""The outbox relay: feed positions for committed events, and re-publishing.

Two jobs, run every :data:`RELAY_INTERVAL_SECONDS` in every worker process:

- :func:`assign_positions` numbers committed events for ``GET /v1/events``.
  Only one relay numbers at a time (PostgreSQL advisory lock; SQLite: the
  write lock every transaction takes), and only rows its transaction sees
  committed, in id order. A transaction committing late gets a position after
  everything already numbered, so a reader paging by position never skips it.
- :func:`republish` hands the broker any event still undispatched after
  :data:`REDELIVERY_DELAY_SECONDS` (the API crashed between commit and
  publish, or the broker was down). ``FOR UPDATE SKIP LOCKED`` lets several
  relays share the backlog without publishing a row twice at once.
- :func:`redeliver_unsettled` (Redis only, which may lose what it accepted):
  hands over again an event dispatched ``redelivery_seconds`` ago that no
  consumer settled yet, and restarts its clock. Consumers absorb duplicates.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import structlog
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.worker.stopping import pause
from shared.broker import OutboxPublisher, mark_dispatched
from shared.clock import utcnow
from shared.models import OutboxEvent

log = structlog.get_logger("accords.worker")

RELAY_INTERVAL_SECONDS = 0.25
REDELIVERY_DELAY_SECONDS = 2.0
POSITION_BATCH = 1000
REPUBLISH_BATCH = 500
# pg_try_advisory_xact_lock key of the position numbering ("accords" + 1).
POSITION_LOCK_KEY = 0x6163636F726473_01


async def assign_positions(session: AsyncSession, *, batch: int = POSITION_BATCH) -> int:
    """Number up to ``batch`` committed, unnumbered events; returns how many. Flushes only."""
    if session.bind.dialect.name == "postgresql":
        locked = await session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": POSITION_LOCK_KEY}
        )
        if not locked:
            return 0  # another relay is numbering right now
    result = await session.execute(_NUMBER_PENDING, {"batch": batch})
    return len(result.all())


# Built once: the oldest unnumbered events (up to ``batch``) numbered after the
# last position, in id order, in one statement.
_PENDING = (
    select(OutboxEvent.id)
    .where(OutboxEvent.position.is_(None))
    .order_by(OutboxEvent.id)
    .limit(bindparam("batch"))
    .subquery("pending")
)
_LAST_POSITION = select(func.coalesce(func.max(OutboxEvent.position), 0)).scalar_subquery()
_NUMBERED = select(
    _PENDING.c.id,
    (func.row_number().over(order_by=_PENDING.c.id) + _LAST_POSITION).label("position"),
).subquery("numbered")
_NUMBER_PENDING = (
    update(OutboxEvent)
    .where(OutboxEvent.id == _NUMBERED.c.id)
    .values(position=_NUMBERED.c.position)
    .returning(OutboxEvent.id)
    .execution_options(synchronize_session=False)
)


async def republish(
    session: AsyncSession,
    publisher: OutboxPublisher,
    *,
    delay_seconds: float = REDELIVERY_DELAY_SECONDS,
    batch: int = REPUBLISH_BATCH,
) -> int:
    """Publish events left undispatched for ``delay_seconds``; returns how many went out."""
    cutoff = utcnow() - dt.timedelta(seconds=delay_seconds)
    query = (
        select(OutboxEvent.id)
        .where(OutboxEvent.dispatched_at.is_(None), OutboxEvent.occurred_at < cutoff)
        .order_by(OutboxEvent.id)
        .limit(batch)
    )
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    event_ids = [
        event_id
        for event_id in (await session.scalars(query)).all()
        if event_id not in publisher.in_flight
    ]
    if not event_ids:
        return 0
    published = await publisher.publish_async(event_ids)
    if publisher.durable:
        await mark_dispatched(session, published)
    if published:
        log.info("outbox_republished", events=len(published))
    return len(published)


async def redeliver_unsettled(
    session: AsyncSession,
    publisher: OutboxPublisher,
    *,
    redelivery_seconds: float,
    batch: int = REPUBLISH_BATCH,
) -> int:
    """Publish again events dispatched that long ago and not settled; returns how many."""
    now = dt.datetime.now(dt.UTC)
    cutoff = now - dt.timedelta(seconds=redelivery_seconds)
    query = (
        select(OutboxEvent.id)
        .where(
            OutboxEvent.settled_at.is_(None),
            OutboxEvent.dispatched_at.is_not(None),
            OutboxEvent.dispatched_at < cutoff,
        )
        .order_by(OutboxEvent.dispatched_at)
        .limit(batch)
    )
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    event_ids = list((await session.scalars(query)).all())
    if not event_ids:
        return 0
    published = await publisher.publish_async(event_ids)
    if published:
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id.in_(published))
            .values(dispatched_at=now)
            .execution_options(synchronize_session=False)
        )
        log.info("outbox_redelivered", events=len(published))
    return len(published)


async def relay_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    publisher: OutboxPublisher,
    *,
    redelivery_seconds: float | None = None,
) -> tuple[int, int]:
    """One relay pass: number what is committed, then re-publish what is stuck.

    With ``redelivery_seconds`` (a broker that loses messages), also hand
    over again what was dispatched that long ago and is still unsettled.
    """
    numbered = 0
    while True:
        async with sessionmaker() as session:
            count = await assign_positions(session)
            await session.commit()
        numbered += count
        if count < POSITION_BATCH:
            break
    async with sessionmaker() as session:
        published = await republish(session, publisher)
        await session.commit()
    if redelivery_seconds is not None:
        async with sessionmaker() as session:
            published += await redeliver_unsettled(
                session, publisher, redelivery_seconds=redelivery_seconds
            )
            await session.commit()
    return numbered, published


async def run_relay(
    sessionmaker: async_sessionmaker[AsyncSession],
    publisher: OutboxPublisher,
    *,
    interval: float = RELAY_INTERVAL_SECONDS,
    redelivery_seconds: float | None = None,
    stopping: asyncio.Event | None = None,
) -> None:
    """Relay until ``stopping`` is set (it returns after the pass under way)
    or until cancelled; errors are logged and the next pass retries.

    Unsettled events are looked for every quarter of ``redelivery_seconds``
    (when the broker loses messages), not on every pass.
    """
    loop = asyncio.get_running_loop()
    next_redelivery = loop.time()
    stopping = stopping or asyncio.Event()
    while not stopping.is_set():
        redeliver = None
        due = redelivery_seconds is not None and loop.time() >= next_redelivery
        if due and publisher.redelivers:
            redeliver = redelivery_seconds
            next_redelivery = loop.time() + (redelivery_seconds or 0) / 4
        try:
            await relay_once(sessionmaker, publisher, redelivery_seconds=redeliver)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("relay_pass_failed", exc_info=True)
        await pause(stopping, interval)
