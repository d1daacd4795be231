"""The dramatiq actors: thin wrappers around :mod:`services.worker.consumer`.

Actors are declared on a given broker (no global broker at import time), so
the API process, ``accords worker`` and ``accords dev`` each build their own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from typing import Any

import dramatiq
import structlog
from dramatiq.broker import Broker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.worker import runtime
from services.worker.consumer import process_event
from shared.broker import (
    DEAD_LETTER,
    EVENTS_QUEUE,
    PROCESS_EVENT,
    mark_dispatched,
    mark_settled,
    message_event_ids,
)
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
) -> list[DeadLetter]:
    """Keep a message that failed every retry where operators can see it: one
    dead letter for each event it carries (one without an event when it
    carries none)."""
    options = message.get("options") or {}
    event_ids = message_event_ids(message)
    async with sessionmaker() as session:
        letters = [
            DeadLetter(
                actor_name=str(message.get("actor_name", "?")),
                event_id=event_id,
                message_id=str(message.get("message_id", "")),
                retries=int(retry_info.get("retries", options.get("retries", 0)) or 0),
                error=options.get("traceback"),
                message=message,
                failed_at=utcnow(),
            )
            for event_id in event_ids or [None]
        ]
        session.add_all(letters)
        if event_ids:
            # Dead is settled: the relay must not hand them out again.
            await mark_dispatched(session, event_ids)
            await mark_settled(session, event_ids)
        await session.commit()
    for letter in letters:
        log.error(
            "event_dead_lettered", event_id=str(letter.event_id), message_id=letter.message_id
        )
    return letters


async def process_events(event_ids: list[uuid.UUID]) -> None:
    """Process the events of one message. Raises (the message is retried) when
    its only event fails; when one of several fails, each that failed is
    handed over again in a message of its own, retried and dead-lettered alone."""
    pipeline = runtime.current()
    if pipeline.batcher is not None:
        outcomes = await asyncio.gather(
            *(pipeline.batcher.process(event_id) for event_id in event_ids),
            return_exceptions=True,
        )
    else:
        outcomes = [
            await _outcome(
                process_event(pipeline.sessionmaker, event_id, publisher=pipeline.publisher)
            )
            for event_id in event_ids
        ]
    failures = {
        event_id: outcome
        for event_id, outcome in zip(event_ids, outcomes, strict=True)
        if isinstance(outcome, BaseException)
    }
    if not failures:
        return
    if len(event_ids) == 1 or pipeline.publisher is None:
        raise next(iter(failures.values()))
    log.warning("events_split_after_failure", events=len(event_ids), failed=len(failures))
    await pipeline.publisher.publish_singly(list(failures))


async def _outcome(work: Awaitable[object]) -> BaseException | None:
    """What ``work`` raised, or None (as ``gather(return_exceptions=True)`` gives it)."""
    try:
        await work
    except Exception as exc:
        return exc
    return None


def declare_actors(
    broker: Broker,
    *,
    max_retries: int = MAX_RETRIES,
    min_backoff: int = MIN_BACKOFF_MS,
    max_backoff: int = MAX_BACKOFF_MS,
) -> None:
    """Declare ``events.process`` and ``events.dead_letter`` on ``broker``."""

    async def process(*event_ids: str) -> None:
        await process_events([uuid.UUID(event_id) for event_id in event_ids])

    async def dead_letter(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
        pipeline = runtime.current()
        letters = await record_dead_letter(pipeline.sessionmaker, message, retry_info)
        if pipeline.publisher is not None:
            for letter in letters:
                if letter.event_id is not None:
                    pipeline.publisher.settled(letter.event_id)

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
