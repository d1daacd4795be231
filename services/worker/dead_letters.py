"""Dead letters: events that failed every retry, for an operator to inspect and replay.

A replay does not talk to the broker: it marks the event undispatched again,
so the relay of any running worker publishes it within a few seconds. The
consumers then skip the handlers that already ran for it (``processed_events``)
and run the one that failed; if it fails every retry again, a new dead letter
is written.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import utcnow
from shared.models import DeadLetter, OutboxEvent


@dataclass(frozen=True)
class DeadLetterView:
    id: uuid.UUID
    failed_at: dt.datetime
    actor_name: str
    event_id: uuid.UUID | None
    event_type: str | None
    retries: int
    reason: str
    replayed_at: dt.datetime | None


def failure_reason(traceback: str | None) -> str:
    """The exception line of a stored traceback (its last non-empty line)."""
    lines = [line.strip() for line in (traceback or "").splitlines() if line.strip()]
    return lines[-1] if lines else "(no traceback kept)"


async def list_dead_letters(
    session: AsyncSession, *, include_replayed: bool = False, limit: int = 100
) -> list[DeadLetterView]:
    """Dead letters, newest first; replayed ones only when asked."""
    query = (
        select(DeadLetter, OutboxEvent.type)
        .outerjoin(OutboxEvent, OutboxEvent.id == DeadLetter.event_id)
        .order_by(DeadLetter.failed_at.desc(), DeadLetter.id.desc())
        .limit(limit)
    )
    if not include_replayed:
        query = query.where(DeadLetter.replayed_at.is_(None))
    return [
        DeadLetterView(
            id=letter.id,
            failed_at=letter.failed_at,
            actor_name=letter.actor_name,
            event_id=letter.event_id,
            event_type=event_type,
            retries=letter.retries,
            reason=failure_reason(letter.error),
            replayed_at=letter.replayed_at,
        )
        for letter, event_type in (await session.execute(query)).all()
    ]


@dataclass(frozen=True)
class ReplayResult:
    replayed: list[uuid.UUID]
    # Dead letters that cannot be replayed, with why.
    refused: dict[uuid.UUID, str]


async def replay_dead_letters(
    session: AsyncSession, letter_ids: list[uuid.UUID] | None = None
) -> ReplayResult:
    """Hand the events of these dead letters (every unreplayed one when None)
    to the relay again. The caller commits."""
    query = select(DeadLetter).with_for_update()
    if letter_ids is None:
        query = query.where(DeadLetter.replayed_at.is_(None))
    else:
        query = query.where(DeadLetter.id.in_(letter_ids))
    letters = {letter.id: letter for letter in (await session.scalars(query)).all()}
    refused = {
        letter_id: "no such dead letter"
        for letter_id in letter_ids or []
        if letter_id not in letters
    }
    wanted = [letter.event_id for letter in letters.values() if letter.event_id is not None]
    known = set(
        (await session.scalars(select(OutboxEvent.id).where(OutboxEvent.id.in_(wanted)))).all()
    )
    replayed: list[uuid.UUID] = []
    now = utcnow()
    for letter in letters.values():
        if letter.replayed_at is not None:
            refused[letter.id] = f"already replayed at {letter.replayed_at.isoformat()}"
        elif letter.event_id is None:
            refused[letter.id] = "it carries no event to replay"
        elif letter.event_id not in known:
            refused[letter.id] = "its event is no longer in the outbox"
        else:
            letter.replayed_at = now
            replayed.append(letter.id)
    events = [letters[letter_id].event_id for letter_id in replayed]
    if events:
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id.in_(events))
            .values(dispatched_at=None)
            .execution_options(synchronize_session=False)
        )
    await session.flush()
    return ReplayResult(replayed=sorted(replayed), refused=refused)
