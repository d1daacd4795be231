"""Consuming outbox events: run every handler that wants an event, once each.

:class:`EventBatcher` takes the events a worker holds at once together
(:func:`process_events_together`: one transaction for all their handlers);
:func:`process_event` is the one-transaction-per-handler path a failed batch
falls back to.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from typing import Any

import structlog
from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.worker.dispatch import Handler, handlers_applying_to, registered_handlers
from shared.broker import OutboxPublisher, mark_dispatched, mark_settled
from shared.clock import utcnow
from shared.db import dialect_name, insert_for, insert_of
from shared.events import new_event_ids
from shared.models import OutboxEvent, ProcessedEvent
from shared.statements import run_statement

log = structlog.get_logger("accords.worker")


async def load_event(
    session: AsyncSession, event_id: uuid.UUID
) -> tuple[OutboxEvent | None, set[str]]:
    """The event and the consumers that already processed it, in one query.

    The event is not in the session (see :func:`load_events`).
    """
    events, already = await load_events(session, [event_id])
    return events.get(event_id), already.get(event_id, set())


# The events, each with the consumers that processed it: built once. The ids
# bound both sides, so each is read through its index whatever the planner
# believes of the tables' sizes (a young, fast-growing processed_events, its
# statistics behind, was read whole for a hash join: ~1 ms a call).
_EVENT_COLUMNS = tuple(column.key for column in OutboxEvent.__table__.columns)
_IDS = bindparam("ids", expanding=True)
_EVENTS_WITH_CONSUMERS = (
    select(*OutboxEvent.__table__.columns, ProcessedEvent.consumer)
    .outerjoin(
        ProcessedEvent,
        and_(ProcessedEvent.event_id == OutboxEvent.id, ProcessedEvent.event_id.in_(_IDS)),
    )
    .where(OutboxEvent.id.in_(_IDS))
)


async def load_events(
    session: AsyncSession, event_ids: list[uuid.UUID]
) -> tuple[dict[uuid.UUID, OutboxEvent], dict[uuid.UUID, set[str]]]:
    """The events that exist among ``event_ids``, and the consumers that already
    processed each, in one query.

    Each event is a new object outside the session, read by handlers only:
    a rollback of the handler transaction that read it leaves it usable for
    the next handlers.
    """
    events: dict[uuid.UUID, OutboxEvent] = {}
    already: dict[uuid.UUID, set[str]] = {}
    for row in await run_statement(session, _EVENTS_WITH_CONSUMERS, {"ids": event_ids}):
        if row.id not in events:
            events[row.id] = OutboxEvent(**{name: getattr(row, name) for name in _EVENT_COLUMNS})
        if row.consumer is not None:
            already.setdefault(row.id, set()).add(row.consumer)
    return events, already


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
        insert_for(session)(ProcessedEvent)
        .values(consumer=handler.name, event_id=event.id, processed_at=utcnow())
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
    elif publisher is not None and publisher.redelivers:
        async with sessionmaker() as session:
            await mark_settled(session, [event_id])
            await session.commit()
    return ran


# --- group commit -------------------------------------------------------------


class BatchAbandoned(Exception):
    """A batch could not be committed as a whole: its events go one by one."""


async def process_events_together(
    sessionmaker: async_sessionmaker[AsyncSession],
    event_ids: list[uuid.UUID],
    *,
    publisher: OutboxPublisher | None = None,
) -> None:
    """Run the handlers of several events, all in one transaction.

    The same work as :func:`process_event` for each, with one commit: the
    transaction that reads the events runs every handler for all of them
    (each handler once, on the list of events it applies to), writes all
    their ``processed_events`` rows in one statement and commits. Raises
    (leaving nothing written) when any part fails or a concurrent delivery
    got there first; the caller then processes the events one by one, each
    handler in its own transaction, which fails the bad one alone.
    Events run in (aggregate, id) order, so two batches take per-aggregate
    locks in the same order and cannot deadlock each other.
    """
    async with sessionmaker() as session:
        events, already = await load_events(session, event_ids)
        if len(events) < len(set(event_ids)):
            raise BatchAbandoned("an event is missing")
        ordered = sorted(events.values(), key=lambda event: (str(event.aggregate_id), event.id))
        plan: list[tuple[Handler, list[OutboxEvent]]] = []
        for handler in _all_handlers(ordered):
            todo = [
                event
                for event in ordered
                if handler.applies_to(event) and handler.name not in already.get(event.id, ())
            ]
            if todo:
                plan.append((handler, todo))
        for handler, todo in plan:
            await handler.run_all(session, todo)
        await _record_processed(session, plan)
        await session.commit()
        recorded = new_event_ids(session)
    if recorded and publisher is not None:
        await publisher.publish_committed(recorded)
    if publisher is not None and not publisher.durable:
        async with sessionmaker() as session:
            await mark_dispatched(session, list(events))
            await session.commit()
        for event_id in events:
            publisher.settled(event_id)
    elif publisher is not None and publisher.redelivers:
        async with sessionmaker() as session:
            await mark_settled(session, list(events))
            await session.commit()


def _all_handlers(events: list[OutboxEvent]) -> list[Handler]:
    """Handlers wanted by any of the events, in registration order."""
    seen: dict[str, Handler] = {}
    for event in events:
        for handler in handlers_applying_to(event):
            seen.setdefault(handler.name, handler)
    return [handler for handler in registered_handlers() if handler.name in seen]


async def _record_processed(
    session: AsyncSession, plan: list[tuple[Handler, list[OutboxEvent]]]
) -> None:
    """The ``processed_events`` rows of a batch's work, in one statement.

    Stamped with when the work was done (benchmarks read it); a row that
    exists already (a concurrent delivery committed first) abandons the batch.
    """
    if not plan:
        return
    await session.flush()
    now = utcnow()
    pairs = [(handler.name, event.id) for handler, events in plan for event in events]
    params: dict[str, Any] = {"processed_at": now}
    for number, (consumer, event_id) in enumerate(pairs):
        params[f"consumer_{number}"] = consumer
        params[f"event_id_{number}"] = event_id
    statement = _processed_statement(dialect_name(session), len(pairs))
    inserted = await run_statement(session, statement, params)
    if len(inserted) < len(pairs):
        await session.rollback()
        raise BatchAbandoned("a concurrent delivery processed an event of the batch")


@functools.lru_cache(maxsize=64)
def _processed_statement(dialect: str, count: int) -> Any:
    """The INSERT of ``count`` processed_events rows that returns those it wrote,
    built once per count."""
    insert = insert_of(dialect)
    table = ProcessedEvent.__table__
    return (
        insert(table)
        .values(
            [
                {
                    "consumer": bindparam(f"consumer_{number}", type_=table.c.consumer.type),
                    "event_id": bindparam(f"event_id_{number}", type_=table.c.event_id.type),
                    "processed_at": bindparam("processed_at", type_=table.c.processed_at.type),
                }
                for number in range(count)
            ]
        )
        .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
        .returning(table.c.event_id)
    )


class EventBatcher:
    """Group commit for the events a worker process is handed at the same time.

    Each actor call waits here with its message's events; events arriving
    while a batch runs are taken together by the next one, so a busy worker
    spends one transaction per batch rather than several per event. An idle
    one starts after ``linger`` seconds (at once without), or as soon as
    ``capacity`` events wait. The actor returns, and its message is
    acknowledged, only after the batch committed; a batch that fails is redone
    event by event, so one bad event fails (and is retried) alone.

    ``capacity``: about as many events as the worker holds at once (its
    threads: each actor call holds one message, often of one event, until its
    batch commits). Another batch (up to
    ``max_batches`` at once) starts while one runs only when the events
    waiting make a fair share of that capacity (4 of 8 threads for 2
    batches): while one batch waits on the database the other runs, and
    neither is made small. (Starting the second at once made batches of one
    or two, and at 100 events/s on two cores the worker fell behind; starting
    it once every thread held an event kept a first split such as 1 and 7
    for good.) Without a capacity, one batch at a time.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        publisher: OutboxPublisher | None,
        *,
        max_batches: int = 2,
        capacity: int | None = None,
        linger: float = 0.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.publisher = publisher
        self.max_batches = max_batches
        self.capacity = capacity
        self.linger = linger
        self._waiting: list[tuple[uuid.UUID, asyncio.Future[bool]]] = []
        self._running: set[asyncio.Task[None]] = set()
        self._lingering: asyncio.TimerHandle | None = None

    async def process(self, event_id: uuid.UUID) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._waiting.append((event_id, future))
        if self._running or not self.linger or self._full():
            self._start()
        elif self._lingering is None:
            # Idle: the first event waits a moment for others to share its batch.
            self._lingering = loop.call_later(self.linger, self._linger_over)
        if not await future:
            await process_event(self.sessionmaker, event_id, publisher=self.publisher)

    def _may_start(self) -> bool:
        if not self._waiting or len(self._running) >= self.max_batches:
            return False
        if not self._running:
            return True
        # As large as a fair share of what the worker can hold at once.
        return self.capacity is not None and len(self._waiting) * self.max_batches >= self.capacity

    def _full(self) -> bool:
        return self.capacity is not None and len(self._waiting) >= self.capacity

    def _linger_over(self) -> None:
        self._lingering = None
        self._start()

    def _start(self) -> None:
        if self._lingering is not None:
            self._lingering.cancel()
            self._lingering = None
        while self._may_start():
            batch, self._waiting = self._waiting, []
            task = asyncio.create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._start()

    async def _run(self, batch: list[tuple[uuid.UUID, asyncio.Future[bool]]]) -> None:
        if len(batch) == 1:
            # Alone: processed here (so it holds its slot like any batch), in one
            # transaction for all its handlers, or failing that one per handler.
            [(event_id, future)] = batch
            try:
                await self._process_alone(event_id)
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(True)
            finally:
                if not future.done():  # cancelled
                    future.cancel()
            return
        done = False
        try:
            await process_events_together(
                self.sessionmaker, [event_id for event_id, _ in batch], publisher=self.publisher
            )
            done = True
        except Exception as exc:
            log.info("event_batch_redone_singly", events=len(batch), reason=repr(exc))
        finally:
            for _, future in batch:
                if not future.done():
                    future.set_result(done)

    async def _process_alone(self, event_id: uuid.UUID) -> None:
        try:
            await process_events_together(self.sessionmaker, [event_id], publisher=self.publisher)
        except Exception as exc:
            log.info("event_redone_handler_by_handler", reason=repr(exc))
            await process_event(self.sessionmaker, event_id, publisher=self.publisher)
