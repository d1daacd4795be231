"""The dramatiq broker from ``ACCORDS_BROKER_URL``, and publishing committed events.

- ``amqp://`` (production default): RabbitMQ with publisher confirms, so a
  publish returns only once RabbitMQ has the (persistent) message.
- ``redis://``: Redis.
- empty: an in-process broker, consumed by worker threads of the same
  process (``accords dev``, tests). Its queue dies with the process, so an
  event counts as dispatched only once consumed (see :class:`OutboxPublisher`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
import uuid
from collections.abc import Coroutine, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dramatiq
import structlog
from dramatiq.broker import Broker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO
from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.models import OutboxEvent
from shared.statements import run_statement

log = structlog.get_logger("accords.worker")

EVENTS_QUEUE = "accords.events"
PROCESS_EVENT = "events.process"
DEAD_LETTER = "events.dead_letter"

# After a failed publish, leave the broker alone this long: the relay
# re-publishes what was missed, and requests do not queue up behind a dead broker.
PUBLISH_BACKOFF_SECONDS = 2.0
PUBLISH_THREADS = 4
# One message carries the ids of up to this many events: the events committed
# while a publish waits for the broker's confirm go out together, so a busy
# API spends one publish (and the broker and worker one message) on many.
MAX_EVENTS_PER_MESSAGE = 100
# A hand-over waits this long for more requests' events before it publishes
# (bench.pipeline at '200/s', serve x 2: 10 ms and 50 ms for the marking below
# gave 12.2-12.5 ms of CPU per change and 153-156 changes/s sent; 50 ms and
# 500 ms, 11.3-11.4 ms and 169-170/s). A rollup or webhook comes that much
# later; the API's own answers do not wait for it.
PUBLISH_LINGER_SECONDS = 0.05
# After a request's commit its published events are marked dispatched a moment
# later, so that one UPDATE marks those of many requests (the relay only looks
# at events left undispatched for REDELIVERY_DELAY_SECONDS, 2 s).
MARK_LINGER_SECONDS = 0.5
REDIS_HEARTBEAT_TIMEOUT_MS = 15_000
REDIS_MAINTENANCE_CHANCE = 50_000  # per million commands


def build_broker(broker_url: str) -> Broker:
    """The broker for ``broker_url`` (empty: in-process), with the asyncio middleware."""
    if broker_url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker: Broker = RabbitmqBroker(url=broker_url, confirm_delivery=True)
    elif broker_url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        # A dead worker's unacknowledged messages go back to the queue once its
        # heartbeat is this old; the maintenance that does it runs on about 5%
        # of commands (dramatiq's defaults, 60 s and 0.1%, left them stranded
        # for minutes after a kill -9).
        broker = RedisBroker(
            url=broker_url,
            heartbeat_timeout=REDIS_HEARTBEAT_TIMEOUT_MS,
            maintenance_chance=REDIS_MAINTENANCE_CHANCE,
        )
    elif not broker_url:
        broker = StubBroker()
    else:
        raise ValueError(
            f"ACCORDS_BROKER_URL must be amqp://, redis:// or empty, not {broker_url!r}"
        )
    broker.add_middleware(AsyncIO())
    broker.declare_queue(EVENTS_QUEUE)
    return broker


def is_durable(broker: Broker) -> bool:
    """Whether a message the broker accepted survives this process."""
    return not isinstance(broker, StubBroker)


def loses_messages(broker: Broker) -> bool:
    """Whether a message the broker accepted may vanish (Redis restarted without
    persistence, or with less than every write on disk): such events are
    handed over again until a consumer settles them (``settled_at``)."""
    from dramatiq.brokers.redis import RedisBroker

    return isinstance(broker, RedisBroker)


def events_message(event_ids: Sequence[uuid.UUID]) -> dramatiq.Message:
    """The ``events.process`` message for these events (its args are their ids)."""
    return dramatiq.Message(
        queue_name=EVENTS_QUEUE,
        actor_name=PROCESS_EVENT,
        args=tuple(str(event_id) for event_id in event_ids),
        kwargs={},
        options={},
    )


def message_event_ids(message: dict[str, Any]) -> list[uuid.UUID]:
    """The ids of the events an ``events.process`` message carries (encoded form)."""
    if message.get("actor_name") != PROCESS_EVENT:
        return []
    ids = []
    for arg in message.get("args") or []:
        try:
            ids.append(uuid.UUID(str(arg)))
        except ValueError:
            continue
    return ids


class OutboxPublisher:
    """Hands committed events to the broker and records that it did.

    With a durable broker the row is marked dispatched once the broker
    confirmed the message. With the in-process broker the consumer marks it
    once processed, and :attr:`in_flight` keeps the relay from publishing an
    event a second time while it waits in the in-memory queue.
    """

    def __init__(
        self, broker: Broker, sessionmaker: async_sessionmaker[AsyncSession] | None = None
    ) -> None:
        self.broker = broker
        self.sessionmaker = sessionmaker
        self.durable = is_durable(broker)
        self.redelivers = loses_messages(broker)
        self.in_flight: set[uuid.UUID] = set()
        self._lock = threading.Lock()
        # Publishing blocks until the broker confirms each message; a few
        # threads (each with its own connection: dramatiq keeps them per
        # thread) keep that wait from queueing every request's events behind
        # one another.
        self._executor = ThreadPoolExecutor(
            max_workers=PUBLISH_THREADS, thread_name_prefix="accords-publish"
        )
        self._failed_at = 0.0
        self._pending: set[asyncio.Task[None]] = set()
        # Published ids waiting to be marked dispatched, and whether a caller
        # is marking right now (it takes everything that piles up meanwhile).
        self._unmarked: list[uuid.UUID] = []
        self._marking = False
        # Committed ids waiting for the running hand-over (see after_commit).
        self._queued: list[uuid.UUID] = []
        self._handing_over = False

    # --- publishing (blocking) ----------------------------------------------

    def publish(self, event_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
        """Publish the events, up to :data:`MAX_EVENTS_PER_MESSAGE` per message;
        returns the ids the broker accepted. Never raises."""
        wanted = list(dict.fromkeys(event_ids))
        if not self.durable:
            with self._lock:
                wanted = [event_id for event_id in wanted if event_id not in self.in_flight]
                self.in_flight.update(wanted)
        published: list[uuid.UUID] = []
        for start in range(0, len(wanted), MAX_EVENTS_PER_MESSAGE):
            chunk = wanted[start : start + MAX_EVENTS_PER_MESSAGE]
            try:
                self.broker.enqueue(events_message(chunk))
            except Exception as exc:
                for event_id in wanted[start:]:
                    self.settled(event_id)
                self._failed_at = time.monotonic()
                log.warning("event_publish_failed", events=len(wanted) - start, error=repr(exc))
                break
            published += chunk
        return published

    async def publish_async(self, event_ids: list[uuid.UUID]) -> list[uuid.UUID]:
        """:meth:`publish` on the publishing thread (the one holding the connection)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.publish, event_ids)

    async def publish_singly(self, event_ids: list[uuid.UUID]) -> None:
        """One message for each event (on the publishing thread); raises if the
        broker refuses one. For the events of a message that failed: each is
        then retried, and dead-lettered, on its own (they are in flight already)."""

        def enqueue_each() -> None:
            for event_id in event_ids:
                self.broker.enqueue(events_message([event_id]))

        await asyncio.get_running_loop().run_in_executor(self._executor, enqueue_each)

    def settled(self, event_id: uuid.UUID) -> None:
        """The in-process queue no longer holds this event (processed or dead)."""
        with self._lock:
            self.in_flight.discard(event_id)

    def broker_recently_failed(self) -> bool:
        return time.monotonic() - self._failed_at < PUBLISH_BACKOFF_SECONDS

    # --- after commit (async) -----------------------------------------------

    async def publish_committed(self, event_ids: list[uuid.UUID]) -> None:
        """Publish events just committed, then mark them dispatched (durable brokers)."""
        published = await self._hand_to_broker(event_ids)
        if published and self._marks_dispatched:
            await self._mark_dispatched(published)

    async def _hand_to_broker(self, event_ids: list[uuid.UUID]) -> list[uuid.UUID]:
        """Publish, unless a durable broker failed a moment ago (the relay will)."""
        if not event_ids or (self.durable and self.broker_recently_failed()):
            return []
        return await self.publish_async(event_ids)

    @property
    def _marks_dispatched(self) -> bool:
        """Whether this publisher marks what it published (a durable broker's
        confirm; the in-process queue's consumer marks once processed)."""
        return self.durable and self.sessionmaker is not None

    async def _mark_dispatched(self, event_ids: list[uuid.UUID], *, linger: float = 0.0) -> None:
        """Mark published events dispatched, many requests' events per transaction.

        While one caller lingers or its UPDATE runs, the ids of the others pile
        up and go in its next one. An id left unmarked (failure, crash) only
        makes the relay publish it again, which consumers absorb.
        """
        sessionmaker = self.sessionmaker
        assert sessionmaker is not None
        self._unmarked.extend(event_ids)
        if self._marking:
            return
        self._marking = True
        try:
            if linger:
                await asyncio.sleep(linger)
            while self._unmarked:
                batch, self._unmarked = self._unmarked, []
                async with sessionmaker() as session:
                    await mark_dispatched(session, batch)
                    await session.commit()
        finally:
            self._marking = False

    async def after_commit(self, event_ids: list[uuid.UUID]) -> None:
        """For ``app.state.after_commit``: publish in the background, not in the
        response path.

        One hand-over runs at a time: the events other requests commit while it
        waits for the broker's confirm go out together in its next message.
        """
        self._queued.extend(event_ids)
        if not self._handing_over:
            self._handing_over = True
            self._background(self._hand_over())

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _hand_over(self) -> None:
        try:
            await asyncio.sleep(PUBLISH_LINGER_SECONDS)
            while self._queued:
                batch, self._queued = self._queued, []
                await self._publish_quietly(batch)
        finally:
            self._handing_over = False

    async def _publish_quietly(self, event_ids: list[uuid.UUID]) -> None:
        # Committed events are safe in the outbox: whatever fails here, the
        # relay publishes them.
        try:
            published = await self._hand_to_broker(event_ids)
        except Exception:
            log.warning("event_handoff_failed", events=len(event_ids), exc_info=True)
            return
        if published and self._marks_dispatched:
            # Not waited for: the next hand-over need not wait for the marking.
            self._background(self._mark_quietly(published))

    async def _mark_quietly(self, event_ids: list[uuid.UUID]) -> None:
        try:
            await self._mark_dispatched(event_ids, linger=MARK_LINGER_SECONDS)
        except Exception:
            log.warning("event_handoff_failed", events=len(event_ids), exc_info=True)

    async def drain(self) -> None:
        """Wait for background publishes and markings (at shutdown)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.broker.close()


def _marking(column: Any) -> Any:
    """The UPDATE that stamps ``column`` of the events ``ids`` not stamped yet:
    built once."""
    return (
        update(OutboxEvent)
        .where(OutboxEvent.id.in_(bindparam("ids", expanding=True)), column.is_(None))
        .values({column: bindparam("now", type_=column.type)})
    )


_MARK_DISPATCHED = _marking(OutboxEvent.dispatched_at)
_MARK_SETTLED = _marking(OutboxEvent.settled_at)


async def mark_dispatched(session: AsyncSession, event_ids: Iterable[uuid.UUID]) -> None:
    ids = list(event_ids)
    if ids:
        await run_statement(session, _MARK_DISPATCHED, {"ids": ids, "now": dt.datetime.now(dt.UTC)})


async def mark_settled(session: AsyncSession, event_ids: Iterable[uuid.UUID]) -> None:
    """Consumed (or dead-lettered): a broker that loses messages need not get it again."""
    ids = list(event_ids)
    if ids:
        await run_statement(session, _MARK_SETTLED, {"ids": ids, "now": dt.datetime.now(dt.UTC)})
