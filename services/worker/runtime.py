"""What a worker process runs besides actors: its engine, publisher, relay and sweep.

:class:`PipelineRuntime` is a dramatiq middleware: when the worker boots it
builds the engine on dramatiq's asyncio event loop (where async actors run)
and starts the relay and sweep loops there; at shutdown it stops them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.broker import Broker
from dramatiq.middleware import Middleware
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.worker import handlers
from services.worker.consumer import EventBatcher
from services.worker.mail import MailPump
from services.worker.pump import DeliveryPump
from services.worker.relay import run_relay
from services.worker.stopping import stop_loops
from services.worker.sweep import run_sweep
from shared.broker import OutboxPublisher
from shared.db import create_engine, create_sessionmaker
from shared.settings import Settings

# An idle worker's first event waits this long for others to share its
# transaction (a batch of one costs about three times as much per event as
# one of eight).
BATCH_LINGER_SECONDS = 0.01

log = structlog.get_logger("accords.worker")

_current: PipelineRuntime | None = None


def current() -> PipelineRuntime:
    """The runtime of this worker process (set once the worker booted)."""
    if _current is None or _current.sessionmaker is None:
        raise RuntimeError("the pipeline runtime has not started in this process")
    return _current


class PipelineRuntime(Middleware):
    def __init__(
        self,
        settings: Settings,
        *,
        publisher: OutboxPublisher | None = None,
        relay: bool = True,
        sweep: bool = True,
    ) -> None:
        self.settings = settings
        self.publisher = publisher
        self.run_relay = relay
        self.run_sweep = sweep
        self.engine: AsyncEngine | None = None
        self.sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self.batcher: EventBatcher | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping: asyncio.Event | None = None
        self.mail_pump: MailPump | None = None
        self.delivery_pump: DeliveryPump | None = None

    def before_worker_boot(self, broker: Broker, worker: Any) -> None:
        # Runs after the AsyncIO middleware's (added earlier) started the event
        # loop, and before any worker thread takes a message.
        global _current
        handlers.register_handlers()
        # Each worker thread holds one message until its batch commits.
        capacity = getattr(worker, "worker_threads", None)
        get_event_loop_thread().run_coroutine(self._start(broker, capacity))
        _current = self

    def before_worker_shutdown(self, broker: Broker, worker: Any) -> None:
        # Dramatiq calls this before it stops its worker threads: the loops stop
        # here, so nothing new starts, but actors may still be mid-transaction.
        thread = get_event_loop_thread()
        if thread is not None and thread.loop.is_running():
            thread.run_coroutine(self._stop_loops())

    def after_worker_shutdown(self, broker: Broker, worker: Any) -> None:
        # The worker threads have finished their messages, so no connection is
        # checked out mid-transaction any more (on SQLite one would keep the
        # write lock). Runs before the AsyncIO middleware's (added earlier;
        # dramatiq calls "after" hooks in reverse order) stops the event loop.
        thread = get_event_loop_thread()
        if thread is not None and thread.loop.is_running():
            thread.run_coroutine(self._dispose())

    async def _start(self, broker: Broker, capacity: int | None = None) -> None:
        # No pre-ping: on asyncpg it costs three round trips (BEGIN, ping,
        # ROLLBACK) per checkout, several per event. A connection that died
        # fails its statement instead; SQLAlchemy then drops the pool's dead
        # connections, and the message is retried (relay and pump retry on
        # their next pass).
        self.engine = create_engine(self.settings, pool_pre_ping=False)
        self.sessionmaker = create_sessionmaker(self.engine)
        if self.publisher is None:
            self.publisher = OutboxPublisher(broker, self.sessionmaker)
        elif self.publisher.sessionmaker is None:
            self.publisher.sessionmaker = self.sessionmaker
        self.batcher = EventBatcher(
            self.sessionmaker, self.publisher, capacity=capacity, linger=BATCH_LINGER_SECONDS
        )
        self._stopping = stopping = asyncio.Event()
        if self.run_relay:
            relay = run_relay(
                self.sessionmaker,
                self.publisher,
                redelivery_seconds=self.settings.broker_redelivery_seconds,
                stopping=stopping,
            )
            self._tasks.append(asyncio.create_task(relay))
        if self.run_sweep:
            sweep = run_sweep(self.sessionmaker, self.settings, self.publisher, stopping)
            self._tasks.append(asyncio.create_task(sweep))
        # Webhook deliveries are driven by the database (services/worker/pump.py).
        self.delivery_pump = DeliveryPump(self.sessionmaker, self.settings)
        self._tasks.append(asyncio.create_task(self.delivery_pump.run()))
        self.mail_pump = MailPump(self.sessionmaker, self.settings)
        self._tasks.append(asyncio.create_task(self.mail_pump.run()))
        log.info("pipeline_started", relay=self.run_relay, sweep=self.run_sweep)

    async def _stop_loops(self) -> None:
        # Between passes, not mid-write (services/worker/stopping.py).
        for pump in (self.mail_pump, self.delivery_pump):
            if pump is not None:
                pump.stop()
        if self._stopping is not None:
            await stop_loops(self._tasks, self._stopping)
        self._tasks.clear()

    async def _dispose(self) -> None:
        await self._stop_loops()  # if the worker never reached before_worker_shutdown
        if self.engine is not None:
            await self.engine.dispose()
