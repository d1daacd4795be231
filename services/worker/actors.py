"""The dramatiq actors: thin wrappers around :mod:`services.worker.consumer`.

Actors are declared on a given broker (no global broker at import time), so
the API process, ``accords worker`` and ``accords dev`` each build their own.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import dramatiq
import structlog
from dramatiq.broker import Broker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.worker import runtime
from services.worker.consumer import process_event
from shared.broker import DEAD_LETTER, EVENTS_QUEUE, PROCESS_EVENT, mark_dispatched, mark_settled
from shared.clock import utcnow
from shared.models import DeadLetter

log = structlog.get_logger("accords.worker")

# A failing event is retried with exponential backoff (1 s, 2 s, ... capped
# at 60 s: about 10 minutes in all), then dead-lettered; never an endless loop.
MAX_RETRIES = 12
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 60_000


async def record_dead_letter(
    sessionmaker: async_sessionmaker[AsyncSession],
    message: dict[str, Any],
    retry_info: dict[str, Any],
) -> DeadLetter:
    """Keep a message that failed every retry where operators can see it."""
    options = message.get("options") or {}
    args = message.get("args") or []
    event_id = None
    if message.get("actor_name") == PROCESS_EVENT and args:
        try:
            event_id = uuid.UUID(str(args[0]))
        except ValueError:
            event_id = None
    async with sessionmaker() as session:
        letter = DeadLetter(
            actor_name=str(message.get("actor_name", "?")),
            event_id=event_id,
            message_id=str(message.get("message_id", "")),
            retries=int(retry_info.get("retries", options.get("retries", 0)) or 0),
            error=options.get("traceback"),
            message=message,
            failed_at=utcnow(),
        )
        session.add(letter)
        if event_id is not None:
            # Dead is settled: the relay must not hand it out again.
            await mark_dispatched(session, [event_id])
            await mark_settled(session, [event_id])
        await session.commit()
    log.error("event_dead_lettered", event_id=str(event_id), message_id=letter.message_id)
    return letter


def declare_actors(
    broker: Broker,
    *,
    max_retries: int = MAX_RETRIES,
    min_backoff: int = MIN_BACKOFF_MS,
    max_backoff: int = MAX_BACKOFF_MS,
) -> None:
    """Declare ``events.process`` and ``events.dead_letter`` on ``broker``."""

    async def process(event_id: str) -> None:
        pipeline = runtime.current()
        if pipeline.batcher is not None:
            await pipeline.batcher.process(uuid.UUID(event_id))
        else:
            await process_event(
                pipeline.sessionmaker, uuid.UUID(event_id), publisher=pipeline.publisher
            )

    async def dead_letter(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
        pipeline = runtime.current()
        await record_dead_letter(pipeline.sessionmaker, message, retry_info)
        args = message.get("args") or []
        if pipeline.publisher is not None and args:
            with contextlib.suppress(ValueError):
                pipeline.publisher.settled(uuid.UUID(str(args[0])))

    dramatiq.actor(
        process,
        broker=broker,
        actor_name=PROCESS_EVENT,
        queue_name=EVENTS_QUEUE,
        max_retries=max_retries,
        min_backoff=min_backoff,
        max_backoff=max_backoff,
        on_retry_exhausted=DEAD_LETTER,
    )
    dramatiq.actor(
        dead_letter,
        broker=broker,
        actor_name=DEAD_LETTER,
        queue_name=EVENTS_QUEUE,
        max_retries=max_retries,
        min_backoff=min_backoff,
        max_backoff=max_backoff,
    )
